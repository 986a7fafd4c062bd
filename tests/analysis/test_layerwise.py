import json
from math import comb

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter import analysis as lw
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import subset_index
from jaxinter.io import is_labeled, labeled_array
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
    s = res.aggregate()
    np.testing.assert_allclose(s.completeness[:, 0], [2 / 3, 1, 1], atol=1e-5)
    np.testing.assert_allclose(s.redundancy[:, 0], [1 / 3, 0, 0], atol=1e-5)
    np.testing.assert_allclose(s.salient_per_sample[:, 0], [2, 2, 2])


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
    comp = np.asarray(res.aggregate().completeness)[1:]  # identical games: complete if defined
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
    stab = np.asarray(res.aggregate().stability_by_order)
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
    summary = json.loads((tmp_path / "run.json").read_text())["summary"]
    assert summary["layers"] == ["h1", "h2", "output"]
    values, axes, coords = labeled_array(summary["stability_by_order"])
    assert axes == ["layer", "type", "order"] and coords["layer"] == ["h1", "h2", "output"]
    np.testing.assert_allclose(values, stab, rtol=1e-6)


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


def _random_result(samples=5, layers=3, n=4, seed=0):
    """A LayerwiseResult of random sparse interactions and stabilities (NaN here and there)."""
    rng = np.random.default_rng(seed)
    shape = (samples, layers, 2**n)
    sparse = lambda: rng.laplace(size=shape) * (rng.random(shape) < 0.6)  # noqa: E731
    stability = rng.random((samples, layers, 2, n + 1)) * 10
    stability[rng.random(stability.shape) < 0.3] = np.nan
    arrays = [rng.normal(size=shape), sparse(), sparse(), stability]
    return lw.LayerwiseResult(*(jnp.asarray(a, jnp.float32) for a in arrays),
                              jnp.arange(samples), ("a", "b", "output"), 0.1)


def _brute_aggregate(res):
    """The aggregate from the definitions, with loops over samples, layers, types and subsets."""
    v = np.asarray(res.v, np.float64)
    i = np.stack([np.asarray(res.i_and, np.float64), np.asarray(res.i_or, np.float64)], -2)
    samples, layers, _, size = i.shape
    n = size.bit_length() - 1
    scale = np.abs(v[..., -1] - v[..., 0]).mean(0)
    i = i / scale[:, None, None]
    top = np.abs(i[..., 1:]).max(axis=(-2, -1))  # (samples, layers): the max of each game
    out = {k: np.zeros((layers, 2, n + 1)) for k in ("count", "count_layer", "strength",
                                                      "per_subset", "overlap", "forget", "new")}
    for s, l, k, S in np.ndindex(samples, layers, 2, size):
        m = bin(S).count("1")
        a = i[s, l, k, S] if S and abs(i[s, l, k, S]) > res.ratio * top[s, l] else 0.0
        r = i[s, -1, k, S] if S and abs(i[s, -1, k, S]) > res.ratio * top[s, -1] else 0.0
        shared = min(abs(a), abs(r)) if a * r > 0 else 0.0
        out["count"][l, k, m] += (a != 0) / samples
        layer_salient = S and abs(i[s, l, k, S]) > res.ratio * top[:, l].max()
        out["count_layer"][l, k, m] += layer_salient / samples
        out["strength"][l, k, m] += abs(a) / samples
        out["per_subset"][l, k, m] += abs(i[s, l, k, S]) / comb(n, m) / samples
        out["overlap"][l, k, m] += shared
        out["forget"][l, k, m] += abs(a) - shared
        out["new"][l, k, m] += abs(r) - shared
    return scale, out


def test_aggregate_matches_the_definitions():
    res = _random_result()
    agg = res.aggregate()
    scale, want = _brute_aggregate(res)
    close = lambda got, ref: np.testing.assert_allclose(  # noqa: E731
        np.asarray(got, np.float64), ref, rtol=2e-5, atol=1e-6)
    close(agg.scale, scale)
    close(agg.salient_by_order, want["count"])
    close(agg.salient_per_sample, want["count"].sum(-1))
    close(agg.salient_per_sample_layer_threshold, want["count_layer"].sum(-1))
    close(agg.strength_by_order, want["strength"])
    close(agg.strength_per_subset_by_order, want["per_subset"])
    close(agg.change_by_order, np.stack([want["overlap"], want["forget"], want["new"]], -2))
    all_ref = want["overlap"] + want["new"]
    all_l = want["overlap"] + want["forget"]
    with np.errstate(invalid="ignore"):
        close(agg.completeness, want["overlap"].sum(-1) / all_ref.sum(-1))
        close(agg.redundancy, want["forget"].sum(-1) / all_l.sum(-1))
        close(agg.completeness_by_order, np.where(all_ref > 0, want["overlap"] / all_ref, np.nan))
        close(agg.redundancy_by_order, np.where(all_l > 0, want["forget"] / all_l, np.nan))
    stability = np.asarray(res.stability, np.float64)
    support = np.isfinite(stability).sum(0)
    np.testing.assert_array_equal(agg.stability_support_by_order, support)
    with np.errstate(invalid="ignore"):
        close(agg.stability_by_order, np.nansum(stability, 0) / support)
    assert agg.n == 4 and agg.num_samples == 5 and agg.layer_names == res.layer_names


def test_summary_is_labeled_and_round_trips():
    res = _random_result()
    agg = res.aggregate()
    summary = json.loads(json.dumps(res.summary()))  # JSON-ready
    assert summary["layers"] == ["a", "b", "output"] and summary["n"] == 4
    assert summary["samples"] == 5 and summary["ratio"] == 0.1
    np.testing.assert_allclose(summary["salient_total_per_sample"],
                               float(agg.salient_per_sample[-1].sum()), rtol=1e-6)
    want_axes = {"scale": ["layer"], "salient_per_sample": ["layer", "type"],
                 "change_by_order": ["layer", "type", "part", "order"],
                 "completeness_by_order": ["layer", "type", "order"]}
    labeled_keys = [k for k, v in summary.items() if is_labeled(v)]
    assert len(labeled_keys) == 13
    for key in labeled_keys:
        values, axes, coords = labeled_array(summary[key])
        assert axes == want_axes.get(key, axes) and set(coords) == set(axes)
        assert coords["layer"] == ["a", "b", "output"]
        if "type" in coords:
            assert coords["type"] == ["AND", "OR"]
        if "order" in coords:
            assert coords["order"] == [0, 1, 2, 3, 4]
        np.testing.assert_allclose(values, np.asarray(getattr(agg, key)), rtol=1e-6)
    assert labeled_array(summary["change_by_order"])[2]["part"] == ["overlap", "forget", "new"]
    no_noise = res.replace(stability=None).summary()
    assert "stability_by_order" not in no_noise and "stability_support_by_order" not in no_noise


def test_layerwise_iou_matches_python_sets():
    a, b = _random_result(seed=1), _random_result(seed=2)
    iou = np.asarray(lw.layerwise_iou(a, b, layer="b"))
    sal_a, sal_b = np.asarray(a.salient())[:, 1], np.asarray(b.salient())[:, 1]
    for s, k, m in np.ndindex(5, 2, 5):
        sets = [{S for S in range(16) if sal[s, k, S] and bin(S).count("1") == m}
                for sal in (sal_a, sal_b)]
        union = sets[0] | sets[1]
        want = len(sets[0] & sets[1]) / len(union) if union else np.nan
        np.testing.assert_allclose(iou[s, k, m], want, rtol=1e-6)


def test_stability_from_scores_matches_the_draws_of_each_layer():
    """layerwise_from_scores' jitted stability equals interaction_stability on the noisy draws
    (Harsanyi interactions computed here) and the clean salient sets, layer by layer."""
    from jaxinter.analysis import interaction_stability
    from jaxinter.interactions import moebius

    v = jax.random.normal(jax.random.key(0), (3, 2, 16))
    v_noisy = v + 0.05 * jax.random.normal(jax.random.key(1), (4, 3, 2, 16))
    res = lw.layerwise_from_scores(v, ["h1", "output"], v_noisy=v_noisy, kind="and")
    draws = jnp.stack([moebius(v_noisy), jnp.zeros_like(v_noisy)], axis=-2)
    expected = interaction_stability(draws, res.salient(), axis=0)
    np.testing.assert_allclose(res.stability, expected, rtol=1e-6)
    for j, name in enumerate(["h1", "output"]):
        alone = lw.layerwise_from_scores(v[:, j:j + 1], [name], v_noisy=v_noisy[:, :, j:j + 1],
                                         kind="and")
        np.testing.assert_allclose(alone.stability, res.stability[:, j:j + 1], rtol=1e-6)
