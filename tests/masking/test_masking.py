"""Masked evaluation against plain Python loops over subsets, chunk invariance, bad inputs."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter import JaxinterInputError
from jaxinter.masking import (
    Players,
    log_odds,
    logit,
    masked_layer_scores,
    masked_scores,
    probability,
    score_layer_names,
)

RNG = np.random.default_rng(2)
CLASSES = 4


def _mlp(shape, seed=0):
    """A random 2-layer MLP: x -> (logits, {"h1": ..., "h2": ...}), and its weights."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    w = [rng.normal(size=s) / np.sqrt(s[0]) for s in [(size, 8), (8, 6), (6, CLASSES)]]

    def captured(x):
        h1 = jnp.tanh(x.reshape(x.shape[0], -1) @ w[0].astype(x.dtype))
        h2 = jax.nn.relu(h1 @ w[1].astype(x.dtype) + 0.1)
        return h2 @ w[2].astype(x.dtype), {"h1": h1, "h2": h2}

    return captured, w


def _probes(seed=1):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(8, CLASSES)), rng.normal(size=(6, CLASSES))
    return {"h1": lambda f: f @ a.astype(f.dtype), "h2": lambda f: f @ b.astype(f.dtype)}


def _loop(fn, x, groups_per_sample, baseline, target, score=log_odds):
    """Reference: one masked input at a time, masks built from the group lists."""
    x = np.asarray(x)
    out = np.zeros((len(x), 2 ** len(groups_per_sample[0])))
    for s in range(len(x)):
        groups = groups_per_sample[s]
        b = np.broadcast_to(baseline, x.shape)[s]
        for subset in range(out.shape[1]):
            xt = x[s].reshape(-1).copy()
            for i, g in enumerate(groups):
                if not (subset >> i) & 1:
                    xt[g] = b.reshape(-1)[g]
            z = fn(jnp.asarray(xt.reshape((1,) + x.shape[1:])))
            out[s, subset] = score(z, jnp.asarray(target[s : s + 1]))[0]
    return out


@pytest.mark.parametrize("score", [log_odds, logit, probability])
def test_masked_scores_equal_loop(x64, score):
    captured, _ = _mlp((3, 3))
    apply = lambda x: captured(x)[0]  # noqa: E731
    x = RNG.normal(size=(3, 3, 3))
    groups = [[0, 4], [8], [2, 6, 1], [3]]  # 5 and 7 belong to no player
    baseline = RNG.normal(size=(3, 3))
    target = np.array([0, 3, 1])
    v = masked_scores(
        apply, x, Players.from_groups(groups, (3, 3)), baseline, target, 5, score=score.__name__
    )
    chex.assert_shape(v, (3, 16))
    chex.assert_type(v, jnp.float64)
    np.testing.assert_allclose(
        v, _loop(apply, x, [groups] * 3, baseline, target, score), rtol=1e-12, atol=1e-12
    )


def test_per_sample_players_and_baselines(x64):
    captured, _ = _mlp((4, 4, 1))
    apply = lambda x: captured(x)[0]  # noqa: E731
    x = RNG.uniform(size=(3, 4, 4, 1))
    ids = np.array([[0, 1, 3], [3, 2, 1], [0, 2, 3]])
    players = Players.patches((4, 4, 1), 2, ids)
    groups = [
        [list(np.flatnonzero(players.assignment[s] == i)) for i in range(3)] for s in range(3)
    ]
    baseline = RNG.uniform(size=(3, 4, 4, 1))  # one baseline per sample
    target = np.array([2, 0, 1])
    v = masked_scores(apply, x, players, baseline, target, chunk_size=7)
    np.testing.assert_allclose(v, _loop(apply, x, groups, baseline, target), rtol=1e-12)


def test_chunk_size_invariance():
    """Output and per-layer scores, shared and per-sample players: any chunk gives the same."""
    captured, _ = _mlp((10,))
    apply = lambda x: captured(x)[0]  # noqa: E731
    x = jnp.asarray(RNG.normal(size=(3, 10)), jnp.float32)
    players = Players.from_groups([[i] for i in range(7)], (10,))
    target = jnp.array([0, 1, 2])
    ref = masked_scores(apply, x, players, jnp.zeros(10), target, chunk_size=3 * 128)
    for chunk in (1, 5, 100, 128, 1000):  # 384 rows: none divides evenly except 1 and 128
        v = masked_scores(apply, x, players, jnp.zeros(10), target, chunk_size=chunk)
        np.testing.assert_allclose(v, ref, rtol=2e-6, atol=2e-6)
    per_sample = Players.stack([Players.from_groups([[i], [i + 1, 9]], (10,)) for i in range(3)])
    layers = [
        masked_layer_scores(captured, _probes(), x, per_sample, x * 0.5, target, chunk_size=c)
        for c in (1, 5, 12)  # 12 = all rows in one chunk
    ]
    for v in layers[1:]:
        np.testing.assert_allclose(v, layers[0], rtol=2e-6, atol=2e-6)


def test_layer_scores_equal_manual_per_layer(x64):
    captured, _ = _mlp((6,))
    probes = _probes()
    x = RNG.normal(size=(2, 6))
    groups = [[0], [1, 2], [4], [5]]
    target = np.array([3, 1])
    players = Players.from_groups(groups, (6,))
    v = masked_layer_scores(captured, probes, x, players, 0.5 * np.ones(6), target, chunk_size=9)
    chex.assert_shape(v, (2, 3, 16))
    assert score_layer_names(captured, probes, (6,)) == ["h1", "h2", "output"]
    for layer, name in enumerate(["h1", "h2"]):
        fn = lambda x, name=name: probes[name](captured(x)[1][name])  # noqa: E731
        ref = _loop(fn, x, [groups] * 2, 0.5 * np.ones(6), target)
        np.testing.assert_allclose(v[:, layer], ref, rtol=1e-12, atol=1e-12)
    apply = lambda x: captured(x)[0]  # noqa: E731
    ref = _loop(apply, x, [groups] * 2, 0.5 * np.ones(6), target)
    np.testing.assert_allclose(v[:, 2], ref, rtol=1e-12, atol=1e-12)
    # the output-only path gives the same network scores
    out = masked_scores(apply, x, players, 0.5 * np.ones(6), target)
    np.testing.assert_allclose(out, v[:, 2], rtol=1e-12)
    # one readout for every layer (here: the first CLASSES units), network output excluded
    first = lambda f: f[:, :CLASSES]  # noqa: E731
    w = masked_layer_scores(
        captured, first, x, players, 0.5 * np.ones(6), target, 4, include_output=False
    )
    chex.assert_shape(w, (2, 2, 16))
    fn = lambda x: first(captured(x)[1]["h2"])  # noqa: E731
    np.testing.assert_allclose(
        w[:, 1], _loop(fn, x, [groups] * 2, 0.5 * np.ones(6), target), rtol=1e-12
    )


def test_unassigned_variables_keep_input_values():
    # logits are the inputs themselves: the logit of class c is x_c
    x = jnp.asarray(RNG.normal(size=(2, 4)), jnp.float32)
    players = Players.from_groups([[0], [2]], (4,))
    baseline = jnp.full(4, 7.0)
    for c in range(4):
        v = masked_scores(lambda x: x, x, players, baseline, jnp.array([c, c]), score="logit")
        present = [(np.arange(4) >> 0) & 1, None, (np.arange(4) >> 1) & 1, None][c]
        if present is None:  # no player: always the input value
            expected = np.broadcast_to(np.asarray(x[:, c : c + 1]), (2, 4))
        else:
            expected = np.where(present, np.asarray(x[:, c : c + 1]), 7.0)
        np.testing.assert_array_equal(v, expected)


def test_larger_n_spot_checks():
    captured, _ = _mlp((12,))
    apply = lambda x: captured(x)[0]  # noqa: E731
    x = jnp.asarray(RNG.normal(size=(2, 12)), jnp.float32)
    players = Players.features((12,))
    target = jnp.array([1, 2])
    v = masked_scores(apply, x, players, jnp.zeros(12), target, chunk_size=1000)
    chex.assert_shape(v, (2, 4096))
    subsets = RNG.integers(0, 4096, size=20)
    keep = ((subsets[:, None] >> np.arange(12)) & 1).astype(bool)
    for s in range(2):
        z = apply(jnp.where(keep, x[s], 0.0))
        np.testing.assert_allclose(v[s, subsets], log_odds(z, jnp.full(20, target[s])), rtol=1e-5)


def test_bad_inputs():
    captured, _ = _mlp((6,))
    apply = lambda x: captured(x)[0]  # noqa: E731
    x = jnp.zeros((2, 6))
    p = Players.from_groups([[0], [1, 2]], (6,))
    t = jnp.array([0, 1])
    b = jnp.zeros(6)
    cases = [
        (dict(baseline=jnp.zeros(5)), r"baseline: expected shape \(6,\) or \(2, 6\)"),
        (dict(baseline=jnp.zeros((3, 6))), "baseline: expected shape"),
        (dict(target=jnp.array([0, 4])), "target: label 4 outside 0..3"),
        (dict(target=jnp.array([0])), r"target: expected shape \(2,\)"),
        (dict(x=jnp.zeros((2, 7))), r"x: expected shape \(samples, \*\(6,\)\)"),
        (dict(x=jnp.full((2, 6), jnp.nan)), "x: contains 12 NaN"),
        (dict(chunk_size=0), "chunk_size: expected an integer >= 1"),
        (dict(players=Players.stack([p] * 3)), "per-sample players for 3 samples"),
        (dict(score="margin"), "score: expected one of"),
        (dict(apply_fn=lambda x: x[:, 0]), r"apply_fn: expected logits of shape \(batch"),
    ]
    kwargs = dict(apply_fn=apply, x=x, players=p, baseline=b, target=t)
    for change, match in cases:
        with pytest.raises(JaxinterInputError, match=match):
            masked_scores(**{**kwargs, **change})
    with pytest.raises(JaxinterInputError, match=r"readouts: layers \['h3'\] are not captured"):
        masked_layer_scores(captured, {"h3": lambda f: f}, x, p, b, t)
    with pytest.raises(JaxinterInputError, match=r"readouts\['h1'\]: expected logits"):
        masked_layer_scores(captured, {"h1": lambda f: f[:, 0]}, x, p, b, t)
    with pytest.raises(JaxinterInputError, match=r"target: label 4 outside 0..3"):
        masked_layer_scores(captured, {"h1": lambda f: f[:, :4]}, x, p, b, jnp.array([0, 4]))
    with pytest.raises(JaxinterInputError, match="captured_fn: expected a function"):
        masked_layer_scores(apply, None, x, p, b, t)


def test_memory_check():
    apply = lambda x: x[:, :2]  # noqa: E731
    big = Players.features((30,))  # n = 30
    x = jnp.zeros((4, 30))
    with pytest.raises(JaxinterInputError, match=r"n = 30 players x 4 samples .* exceeds 2\*\*31"):
        masked_scores(apply, x, big, jnp.zeros(30), jnp.zeros(4, jnp.int32))
    with pytest.raises(JaxinterInputError, match=r"n = 30 players -> 2\*\*30 subsets x 1 samples"):
        masked_scores(apply, x[:1], big, jnp.zeros(30), jnp.zeros(1, jnp.int32), memory_limit=2**32)
    # a chunk that cannot fit is refused, naming chunk_size
    players = Players.features((20,))
    with pytest.raises(JaxinterInputError, match=r"chunk_size = 1048576 rows"):
        masked_scores(
            apply,
            jnp.zeros((1, 20)),
            players,
            jnp.zeros(20),
            jnp.zeros(1, jnp.int32),
            chunk_size=2**20,
            memory_limit=2**28,
        )


def test_memory_plan_counts_activations():
    """The per-row working memory includes the model's intermediates, not only its inputs.

    Reference: XLA's own memory analysis of the compiled model; the growth of its temporary
    buffers from 64 to 1024 rows is the per-row memory that chunking must bound.
    """

    w1, w2 = jnp.ones((20, 2048)), jnp.ones((2048, 2048))
    apply = lambda x: jnp.tanh(jnp.tanh(x @ w1) @ w2)[:, :3]  # noqa: E731

    def temp(rows):
        spec = jax.ShapeDtypeStruct((rows, 20), jnp.float32)
        return jax.jit(apply).lower(spec).compile().memory_analysis().temp_size_in_bytes

    per_row = (temp(1024) - temp(64)) / 960
    from jaxinter.masking._evaluate import row_bytes

    estimate = row_bytes(apply, (20,), jnp.float32, {})
    assert per_row <= estimate <= 3 * per_row, (per_row, estimate)
    # a chunk whose activations (2 x 8 KiB per row) exceed the limit is refused; inputs alone
    # (3 x 80 bytes per row) would have fit
    with pytest.raises(JaxinterInputError, match=r"chunk_size = 4096 rows x 0\.02 MiB"):
        masked_scores(apply, jnp.zeros((1, 20)), Players.features((20,)), jnp.zeros(20),
                      jnp.zeros(1, jnp.int32), chunk_size=4096, memory_limit=2**26)


def test_n20_streaming():
    """n = 20 (about a million masked inputs) through a chunk of 4096 rows."""
    captured, _ = _mlp((20,))
    apply = lambda x: captured(x)[0]  # noqa: E731
    x = jnp.asarray(RNG.normal(size=(1, 20)), jnp.float32)
    v = masked_scores(apply, x, Players.features((20,)), jnp.zeros(20), jnp.array([1]), 4096)
    subsets = RNG.integers(0, 2**20, size=30)
    keep = ((subsets[:, None] >> np.arange(20)) & 1).astype(bool)
    z = apply(jnp.where(keep, x[0], 0.0))
    np.testing.assert_allclose(v[0, subsets], log_odds(z, jnp.ones(30, jnp.int32)), rtol=1e-5)


def test_flax_capture_and_weights_are_traced():
    """A captured Flax model with probe readouts; new weights reuse the compiled kernel."""
    from jaxinter.masking import capture
    from jaxinter.models import MLP, init_variables

    model = MLP(input_shape=(2, 3), num_classes=3, depth=3, width=5)
    x = jnp.asarray(RNG.normal(size=(2, 2, 3)), jnp.float32)
    players = Players.patches((2, 3), 1, [0, 2, 4, 5])
    probe = jnp.asarray(RNG.normal(size=(5, 3)), jnp.float32)
    readouts = {"hidden_1": lambda f: f @ probe, "hidden_2": lambda f: f @ probe}
    groups = [[0], [2], [4], [5]]
    target = np.array([2, 0])
    sizes = []
    from jaxinter.masking._evaluate import masked_kernel

    first = capture(model, init_variables(model, jax.random.key(0)), r"hidden_\d")
    for seed in (0, 1):  # same captured function, new weights (e.g. a training checkpoint)
        captured = first.replace(variables=init_variables(model, jax.random.key(seed)))
        v = masked_layer_scores(captured, readouts, x, players, jnp.zeros((2, 3)), target)
        sizes.append(masked_kernel._cache_size())
        for layer, name in enumerate(["hidden_1", "hidden_2"]):
            fn = lambda x, c=captured, name=name: readouts[name](c(x)[1][name])  # noqa: E731
            ref = _loop(fn, x, [groups] * 2, np.zeros((2, 3)), target)
            np.testing.assert_allclose(v[:, layer], ref, rtol=1e-5, atol=1e-5)
        ref = _loop(lambda x, c=captured: c(x)[0], x, [groups] * 2, np.zeros((2, 3)), target)
        np.testing.assert_allclose(v[:, 2], ref, rtol=1e-5, atol=1e-5)
    assert sizes[0] == sizes[1]  # the second set of weights did not trigger a recompile
