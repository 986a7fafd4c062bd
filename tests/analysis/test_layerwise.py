import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter import analysis as lw
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import subset_index
from jaxinter.masking import Players


def _rule_net(x):
    """Hand-set Boolean rule network on 4 binary inputs.

    h1 = [x0 AND x1, x2], h2 = [x0 AND x1, x2 AND x3]; output z = 2 (x0 AND x1) + (x2 AND x3)
    as two-class logits (0, z), so the output log-odds are z. The probes read h1 and h2 the same
    way: layer h1 encodes {0,1} (strength 2) and {2} (strength 1); h2 and the output encode
    {0,1} (2) and {2,3} (1). From h1 to the output, {2} is forgotten and {2,3} emerges.
    """
    a01 = jax.nn.relu(x[:, 0] + x[:, 1] - 1)
    a23 = jax.nn.relu(x[:, 2] + x[:, 3] - 1)
    h1 = jnp.stack([a01, x[:, 2]], -1)
    h2 = jnp.stack([a01, a23], -1)
    return _two_class(h2), {"h1": h1, "h2": h2}


def _two_class(h):
    z = 2 * h[:, 0] + h[:, 1]
    return jnp.stack([jnp.zeros_like(z), z], -1)


READOUTS = {"h1": _two_class, "h2": _two_class}
PLAYERS = Players.features((4,))


def _analyse(x, **kwargs):
    target = np.ones(len(x), np.int32)
    return lw.analyse_layers(_rule_net, READOUTS, x, target, PLAYERS, jnp.zeros(4), **kwargs)


def _vec(pairs, n=4):
    out = np.zeros(2**n)
    for players, value in pairs:
        out[subset_index(players)] = value
    return out


def test_boolean_rule_network_emerged_and_forgotten_exact():
    res = _analyse(jnp.ones((1, 4)), method="lp", c_q=0.0)
    assert res.layer_names == ("h1", "h2", "output")
    chex.assert_shape(res.normalized(), (1, 3, 2, 16))
    i = np.asarray(res.normalized())
    # every layer moves v from 0 to 3: normalized AND interactions are these, OR are zero
    np.testing.assert_allclose(i[0, 0, 0], _vec([((0, 1), 2 / 3), ((2,), 1 / 3)]), atol=1e-5)
    for layer in (1, 2):
        np.testing.assert_allclose(i[0, layer, 0], _vec([((0, 1), 2 / 3), ((2, 3), 1 / 3)]),
                                   atol=1e-5)
    np.testing.assert_allclose(i[:, :, 1], 0, atol=1e-5)
    ch = res.change()
    and_h1 = lambda f: np.asarray(getattr(ch, f))[0, 0, 0]  # noqa: E731
    np.testing.assert_allclose(and_h1("forget"), [0, 1 / 3, 0, 0, 0], atol=1e-5)  # {2}
    np.testing.assert_allclose(and_h1("new"), [0, 0, 1 / 3, 0, 0], atol=1e-5)  # {2,3}
    np.testing.assert_allclose(and_h1("overlap"), [0, 0, 2 / 3, 0, 0], atol=1e-5)  # {0,1}
    s = res.summary()
    np.testing.assert_allclose(s["completeness"][:, 0], [2 / 3, 1, 1], atol=1e-5)
    np.testing.assert_allclose(s["redundancy"][:, 0], [1 / 3, 0, 0], atol=1e-5)
    np.testing.assert_allclose(s["salient_per_sample"][:, 0], [2, 2, 2])


def test_boolean_rule_network_default_extraction_keeps_the_sets():
    res = _analyse(jnp.ones((2, 4)))
    sal = np.asarray(res.salient())
    want_h1 = _vec([((0, 1), 1), ((2,), 1)]) > 0
    want_out = _vec([((0, 1), 1), ((2, 3), 1)]) > 0
    np.testing.assert_array_equal(sal[:, 0, 0], np.broadcast_to(want_h1, (2, 16)))
    np.testing.assert_array_equal(sal[:, 2, 0], np.broadcast_to(want_out, (2, 16)))
    assert not sal[:, :, 1].any()


def test_identities_hold_on_a_random_network():
    key = jax.random.key(0)
    w1, w2, w3 = (jax.random.normal(k, s) for k, s in
                  zip(jax.random.split(key, 3), [(4, 16), (16, 16), (16, 3)], strict=True))

    def net(x):
        h1 = jnp.tanh(x @ w1)
        h2 = jnp.tanh(h1 @ w2)
        return h2 @ w3, {"h1": h1, "h2": h2}

    probes = {"h1": lambda f: f[:, :3], "h2": lambda f: f @ w3}
    x = jax.random.normal(jax.random.key(1), (2, 4))
    res = lw.analyse_layers(net, probes, x, np.zeros(2, np.int32), PLAYERS, jnp.zeros(4))
    ch = res.change()
    np.testing.assert_allclose(ch.all_l, ch.overlap + ch.forget, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ch.all_ref, ch.overlap + ch.new, rtol=1e-5, atol=1e-6)
    # h2 with the output's own readout equals the output layer
    np.testing.assert_allclose(res.v[:, 1], res.v[:, 2], rtol=1e-5, atol=1e-5)
    comp = res.summary()["completeness"][1:]  # identical games: complete where defined
    assert np.isfinite(comp[:, 0]).all()
    np.testing.assert_allclose(comp[np.isfinite(comp)], 1.0, atol=1e-4)
    # reconstruction: AND and OR interactions explain v up to the bounded error q
    from jaxinter.interactions import or_inverse, zeta
    recon = zeta(res.i_and) + or_inverse(res.i_or) - res.i_or[..., :1]
    kappa = 0.04 * np.abs(res.v[..., -1:] - res.v[..., :1])
    assert np.all(np.abs(recon - res.v) <= kappa + 1e-4)


def test_stability_noise_draws_and_merge_save_load(tmp_path):
    x = 0.5 + 0.5 * jax.random.uniform(jax.random.key(2), (3, 4))
    res = _analyse(x, noise_draws=2, sigma=0.02, key=jax.random.key(3))
    chex.assert_shape(res.stability, (3, 3, 2, 5))
    stab = np.asarray(res.summary()["stability_by_order"])
    # AND: h1 has salient orders 1 and 2, h2 and the output order 2 only
    assert np.isfinite(stab[0, 0, 1:3]).all() and (stab[0, 0, 1:3] > 0).all()
    assert np.isfinite(stab[1:, 0, 2]).all() and np.isnan(stab[1:, 0, 1]).all()
    # subsets of samples and layers merge back into the whole
    parts = [res.select(samples=[0, 1]), res.select(samples=[2])]
    whole = lw.merge_layerwise(parts, axis="samples")
    for k in ("v", "i_and", "i_or", "stability", "sample_ids"):
        np.testing.assert_array_equal(getattr(whole, k), getattr(res, k))
    by_layer = lw.merge_layerwise([res.select(layers=["h1"]), res.select(layers=["h2", "output"])],
                        axis="layers")
    assert by_layer.layer_names == res.layer_names
    np.testing.assert_array_equal(by_layer.i_and, res.i_and)
    # save / load round trip, summary included
    lw.save_layerwise(res, tmp_path / "run")
    back = lw.load_layerwise(tmp_path / "run")
    assert back.layer_names == res.layer_names and back.ratio == res.ratio
    for k in ("v", "i_and", "i_or", "stability", "sample_ids"):
        np.testing.assert_array_equal(getattr(back, k), getattr(res, k))
    import json
    summary = json.loads((tmp_path / "run.json").read_text())["summary"]
    assert summary["layers"] == ["h1", "h2", "output"]


def test_correctly_classified():
    x = jnp.array([[1.0, 1, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]])
    # logits (0, z): class 1 wins iff z > 0; z = 2 (x0 AND x1) + (x2 AND x3)
    np.testing.assert_array_equal(lw.correctly_classified(_rule_net, x, [1, 1, 0]), [0, 1])
    np.testing.assert_array_equal(lw.correctly_classified(_two_class, x[:, :2], [1, 0, 0]),
                                  [0, 2])


def test_model_iou_of_a_model_with_itself_is_one():
    x = jnp.ones((2, 4))
    res = _analyse(x)
    iou = np.asarray(lw.layerwise_iou(res, res))
    chex.assert_shape(iou, (2, 2, 5))
    assert np.all((iou == 1) | np.isnan(iou))
    np.testing.assert_allclose(iou[:, 0, 2], 1.0)  # AND: {0,1} and {2,3}
    other = np.asarray(lw.layerwise_iou(res, res.select(layers=["h1"]), layer=None))
    np.testing.assert_allclose(other[:, 0, 1], 0.0)  # {2} in h1, nothing of order 1 in out
    np.testing.assert_allclose(other[:, 0, 2], 0.5)  # {0,1} shared, {2,3} only in out


@pytest.mark.parametrize(
    "call",
    [
        lambda r: lw.merge_layerwise([r, r.select(layers=["h1"])], axis="samples"),
        lambda r: lw.merge_layerwise([r, r], axis="layers"),
        lambda r: lw.merge_layerwise([r], axis="types"),
        lambda r: lw.merge_layerwise([]),
        lambda r: lw.layerwise_from_scores(r.v, ["a"]),
        lambda r: _analyse(jnp.ones((1, 4)), noise_draws=2),
        lambda r: _analyse(jnp.ones((1, 4)), layers=["h7"]),
    ],
)
def test_bad_input_raises(call):
    res = _analyse(jnp.ones((1, 4)))
    with pytest.raises(JaxinterInputError):
        call(res)


FIGURES = ("sparsity", "change_and", "change_or", "completeness", "iou_by_order", "strength",
           "stability_by_order", "examples")


def test_cli_default_job_reduced_writes_every_figure_and_resumes(tmp_path, capsys):
    import json

    from jaxinter.cli import main

    out = tmp_path / "run"
    argv = ["layerwise", "--out", str(out), "--n", "3", "--samples", "3", "--epochs", "1",
            "--probe-steps", "20", "--noise-draws", "2", "--depth", "3", "--width", "16",
            "--examples", "2"]
    assert main(argv) == 0
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 3 and summary["samples"] == 3
    assert summary["layerwise"]["layers"] == ["hidden_1", "hidden_2", "output"]
    assert (out / "report.html").read_text().count("data:image/png;base64") == len(FIGURES)
    # an interrupted run: one finished layer is lost; the rerun recomputes only that layer
    cache = out / "cache"
    (cache / "layer_1.npz").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert main(argv) == 0
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert "layer_1.npz" in after
    assert all(after[k] == t for k, t in before.items())
    assert json.loads((out / "summary.json").read_text())["layerwise"] == summary["layerwise"]
    # another number of noise draws: models, probes and clean scores are reused; the noisy
    # scores and the layers (which hold the stability) are recomputed, as a fresh run would
    capsys.readouterr()
    i = argv.index("--noise-draws")
    argv3 = [*argv[:i + 1], "3", *argv[i + 2:]]
    assert main(argv3) == 0
    changed = {p.name for p in cache.glob("*.npz") if p.stat().st_mtime_ns != after[p.name]}
    assert changed == {"noise_scores.npz", "layer_0.npz", "layer_1.npz", "layer_2.npz"}
    assert "model_seed0: reused" in capsys.readouterr().err
    assert main([*argv3[:2], str(tmp_path / "fresh"), *argv3[3:]]) == 0
    resumed = json.loads((out / "summary.json").read_text())["layerwise"]
    assert resumed != summary["layerwise"]
    assert resumed == json.loads((tmp_path / "fresh" / "summary.json").read_text())["layerwise"]
