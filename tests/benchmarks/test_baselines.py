"""The benchmarks' timing harness and PyTorch baselines compute what they claim to.

A like-for-like speedup means something only if the baseline runs the same algorithm on the
same inputs: the batched PyTorch layerwise pipeline (``benchmarks/bench_layerwise.py``) is
checked here against the definitions (masks, transforms) and against jaxinter (the published
recipe, the layer comparison metrics), and ``rounds.time_rounds`` against its contract (first
calls alone, rotating rounds, the same statistic for every system, the budget).
"""

from __future__ import annotations

import time

import bench_layerwise as bl
import bench_separation as bs
import bruteforce as bf
import jax.numpy as jnp
import numpy as np
import pytest
import rounds
import torch

from jaxinter.analysis import LayerwiseResult, separation_statistics
from jaxinter.interactions import and_or
from jaxinter.masking import Players


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small torch operations: threads only wait on each other on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_time_rounds_first_calls_alone_then_rotating_rounds():
    calls = []

    def system(name, seconds=0.0):
        def call():
            calls.append(name)
            time.sleep(seconds)
            return name
        return call

    outputs = {}
    timings = rounds.time_rounds({"a": system("a"), "b": system("b"), "c": system("c", 0.03)},
                                 rounds=4, budget_s=0.05, outputs=outputs)
    # first calls one by one, then round r starts at the r-th system; "c" used its budget
    # after two rounds (2 x 0.03 s >= 0.05 s) and sits out the last two
    assert calls == list("abc") + list("abc") + list("bca") + list("ab") + list("ab")
    assert outputs == {"a": "a", "b": "b", "c": "c"}
    assert [timings[k].repeats for k in "abc"] == [4, 4, 2]
    for t in timings.values():  # one statistic for every system, from its own rounds
        assert t.median_s == pytest.approx(float(np.median(t.times_s)))
        assert t.min_s == min(t.times_s) and len(t.times_s) == t.repeats
    assert timings["c"].min_s >= 0.03 and timings["c"].first_s >= 0.03


def test_batched_masks_follow_the_patch_definition():
    n, rng = 4, np.random.default_rng(0)
    patch_ids = np.stack([rng.choice(81, n, replace=False) for _ in range(2)])
    masks = bl.batched_masks(patch_ids, n).numpy()  # (images, 2**n, 784)
    expected = np.ones_like(masks)
    for i, ids in enumerate(patch_ids):
        for s in range(2**n):
            for j, pid in enumerate(ids):
                if not s >> j & 1:  # player j absent: its 3x3 patch takes the baseline
                    r, c = divmod(int(pid), 9)
                    block = np.zeros((28, 28), bool)
                    block[3 * r:3 * r + 3, 3 * c:3 * c + 3] = True
                    expected[i, s, block.reshape(-1)] = 0
    np.testing.assert_array_equal(masks, expected)
    players = Players.patches((28, 28, 1), 3, patch_ids)
    for i in range(2):
        keep = players.keep_mask(jnp.arange(2**n), jnp.asarray(i))
        np.testing.assert_array_equal(np.asarray(keep).reshape(2**n, -1), masks[i] > 0)


def test_butterflies_match_the_definitions():
    n = 6
    w = np.random.default_rng(1).normal(size=(3, 2**n))
    t = torch.from_numpy(w)
    np.testing.assert_allclose(bl.moebius_butterfly(t, n).numpy(),
                               np.stack([bf.moebius(x) for x in w]), atol=1e-12)
    np.testing.assert_allclose(bl.or_butterfly(t, n).numpy(),
                               np.stack([bf.or_interactions(x) for x in w]), atol=1e-12)


def test_batched_published_recipe_is_jaxinters():
    """Same games, steps and learning rate: the same iterates up to float32 rounding."""
    n, steps, lr = 5, 120, 3e-3
    rng = np.random.default_rng(2)
    v = (rng.choice([-1.0, 1.0], (4, 2**n)) * rng.uniform(0.1, 1.0, (4, 2**n))).astype(
        np.float32)
    i_and, i_or, loss = bl.batched_published(torch.from_numpy(v), n, steps=steps, lr=lr)
    ref = and_or(jnp.asarray(v), method="published", steps=steps, lr=lr)
    half = 0.5 * v  # the loss at the start, g = q = 0, is not where the recipe ends
    start = (np.abs(np.stack([bf.moebius(x) for x in half])).sum(-1)
             + np.abs(np.stack([bf.or_interactions(x) for x in half])).sum(-1))
    assert np.all(loss.numpy() < 0.9 * start)
    np.testing.assert_allclose(loss.numpy(), np.asarray(ref.loss), rtol=1e-4)
    np.testing.assert_allclose(i_and.numpy(), np.asarray(ref.i_and), atol=1e-4)
    np.testing.assert_allclose(i_or.numpy(), np.asarray(ref.i_or), atol=1e-4)


def test_batched_metrics_are_jaxinters():
    samples, layers, n = 5, 3, 5
    rng = np.random.default_rng(3)
    v = rng.normal(size=(samples, layers, 2**n)).astype(np.float32)
    i_and = rng.normal(size=v.shape).astype(np.float32) * (rng.uniform(size=v.shape) < 0.3)
    i_or = rng.normal(size=v.shape).astype(np.float32) * (rng.uniform(size=v.shape) < 0.3)
    by_order, completeness, redundancy = bl.batched_metrics(
        *(torch.from_numpy(a) for a in (i_and, i_or, v)), n)
    result = LayerwiseResult(jnp.asarray(v), jnp.asarray(i_and), jnp.asarray(i_or), None,
                             jnp.arange(samples), ("h1", "h2", "out"), bl.RATIO)
    agg = result.aggregate()
    change = np.asarray(agg.change_by_order)  # (layer, type, part, order)
    assert change[:-1].sum() > 0 and np.any(change[:-1, :, 1] > 0)  # forget / new occur
    np.testing.assert_allclose(by_order.sum(0).numpy().transpose(0, 1, 3, 2), change,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(completeness.numpy(), np.asarray(agg.completeness), rtol=1e-5)
    np.testing.assert_allclose(redundancy.numpy(), np.asarray(agg.redundancy), rtol=1e-5)


def test_separation_baselines_compute_d():
    """The same algorithm in PyTorch (whole or streamed in chunks of 7 samples) and the dense
    pseudo-inverses give jaxinter's D (float64), also with fewer samples than features."""
    for n, p in ((300, 40), (120, 200)):
        x, y = bs.make_data(n, p)
        d = float(separation_statistics(x, y).fuzziness)
        assert d > 0
        np.testing.assert_allclose(bs.thin_torch(x, y), d, rtol=1e-10)
        np.testing.assert_allclose(bs.thin_torch(x, y, chunk_elements=7 * p), d, rtol=1e-10)
        np.testing.assert_allclose(bs.dense_numpy(x, y), d, rtol=1e-8)
        np.testing.assert_allclose(bs.dense_torch(x, y), d, rtol=1e-8)
