"""Salient sets, per-order summaries, sparsity curves, means over samples and the strongest
interactions, on hand-built interactions and against loops over the definitions."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter.analysis import (
    order_means,
    order_summary,
    salient_mask,
    sparsity_curve,
    strongest_interactions,
    supported_mean,
)
from jaxinter.errors import JaxinterInputError

N = 3  # subsets 0..7; orders [0, 1, 1, 2, 1, 2, 2, 3]


def hand_built():
    i_and = jnp.array([[100.0, 1.0, 0.04, -0.5, 0.0, 0.0, 0.0, 2.0],
                       [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2]])
    i_or = jnp.array([[0.0, 0.0, 0.0, 0.2, 0.0, -1.5, 0.0, 0.0],
                      [0.0, 0.0, 0.0, 0.001, 0.0, 0.0, 0.0, 0.0]])
    return i_and, i_or


def test_salient_mask_per_sample_and_per_layer():
    i_and, i_or = hand_built()
    m_and, m_or = salient_mask(i_and, i_or)
    # sample 0: tau = 0.05 * 2 = 0.1 (the empty set's 100 is ignored)
    np.testing.assert_array_equal(m_and[0], [0, 1, 0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(m_or[0], [0, 0, 0, 1, 0, 1, 0, 0])
    # sample 1: tau = 0.01 -> only the 0.2 term
    np.testing.assert_array_equal(m_and[1], [0, 0, 0, 0, 0, 0, 0, 1])
    assert not np.any(m_or[1])
    # per layer (max over samples): tau = 0.1 for both samples
    l_and, _ = salient_mask(i_and, i_or, axis=0)
    np.testing.assert_array_equal(l_and[1], [0, 0, 0, 0, 0, 0, 0, 1])
    l_and, _ = salient_mask(i_and, i_or, ratio=0.2, axis=0)  # tau = 0.4
    np.testing.assert_array_equal(l_and[1], np.zeros(8))


def test_order_summary_known_answers():
    i_and, i_or = hand_built()
    s = order_summary(i_and, i_or)
    chex.assert_shape(s.count, (2, 2, N + 1))
    chex.assert_shape(s.mean_order, (2, 2))
    np.testing.assert_array_equal(s.count[0, 0], [0, 1, 1, 1])  # AND orders 1, 2, 3
    np.testing.assert_array_equal(s.count[0, 1], [0, 0, 2, 0])  # OR {0,1} and {0,2}
    np.testing.assert_allclose(s.strength[0, 0], [0, 1.0, 0.5, 2.0])
    np.testing.assert_allclose(s.positive[0, 0], [0, 1.0, 0, 2.0])
    np.testing.assert_allclose(s.negative[0, 0], [0, 0, 0.5, 0])
    np.testing.assert_allclose(s.negative[0, 1], [0, 0, 1.5, 0])
    np.testing.assert_allclose(s.mean_order[0], [2.0, 2.0])
    np.testing.assert_allclose(s.high_order_share[0], [2.5 / 3.5, 1.0])  # orders 2, 3 > 1.5
    assert np.isnan(s.mean_order[1, 1]) and np.isnan(s.high_order_share[1, 1])


def test_sparsity_curve():
    i_and, i_or = hand_built()
    curve = sparsity_curve(i_and, i_or, axis=None)
    chex.assert_shape(curve, (2, 2 * (2**N - 1)))
    np.testing.assert_allclose(curve[0, :4], [1.0, 0.75, 0.5, 0.25])
    assert np.all(np.diff(curve, axis=-1) <= 0)
    mean = sparsity_curve(i_and, i_or)
    np.testing.assert_allclose(mean, curve.mean(0))
    np.testing.assert_allclose(mean[0], 1.0)


def test_metric_inputs_are_checked():
    i_and, i_or = hand_built()
    with pytest.raises(JaxinterInputError, match="i_or"):
        salient_mask(i_and, i_or[:, :4])
    with pytest.raises(JaxinterInputError, match="axis"):
        salient_mask(i_and, i_or, axis=-1)


def test_order_means_average_over_the_subsets_of_each_order():
    x = np.random.default_rng(0).normal(size=(3, 32)).astype(np.float32)
    got = np.asarray(order_means(x))
    chex.assert_shape(got, (3, 6))
    orders = np.array([bin(s).count("1") for s in range(32)])
    want = np.stack([x[:, orders == m].mean(-1) for m in range(6)], -1)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert order_means(x.astype(np.float16)).dtype == jnp.float16


def test_supported_mean_ignores_undefined_samples():
    values = np.array([[1.0, np.nan, 4.0, np.nan],
                       [3.0, np.nan, np.nan, np.nan],
                       [5.0, 2.0, np.nan, np.inf]])
    res = supported_mean(values)
    np.testing.assert_allclose(res.mean, [3.0, 2.0, 4.0, np.nan])
    np.testing.assert_array_equal(res.support, [3, 1, 1, 0])
    assert res.num_samples == 3
    # at least max(min_count, min_fraction * samples) defined samples
    np.testing.assert_allclose(res.where_supported(min_count=1), [3.0, 2.0, 4.0, np.nan])
    np.testing.assert_allclose(res.where_supported(), [3.0] + [np.nan] * 3)
    many = supported_mean(np.tile(values, (20, 1)))  # 60 samples: 10% is 6
    np.testing.assert_array_equal(many.support, [60, 20, 20, 0])
    np.testing.assert_allclose(many.where_supported(min_fraction=0.5), [3.0] + [np.nan] * 3)
    np.testing.assert_allclose(supported_mean(values.T, axis=1).mean, res.mean)
    with pytest.raises(JaxinterInputError, match="axis"):
        supported_mean(values, axis=2)


def _python_strongest(values, salient, top):
    """(kind, subset, value) of the ``top`` salient entries of largest |value|, stable sort."""
    candidates = [(k, s, values[k, s]) for k in range(2) for s in np.flatnonzero(salient[k])]
    return sorted(candidates, key=lambda c: -abs(c[2]))[:top]


def test_strongest_interactions_match_a_python_sort():
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(size=(4, 3, 2, 16)), 1).astype(np.float32)  # with ties
    salient = rng.random(values.shape) < 0.3
    salient[0, 0] = False  # a game without salient interactions
    res = strongest_interactions(values, salient, top=5)
    chex.assert_shape([res.kind, res.subset, res.value, res.valid], (4, 3, 5))
    for g in np.ndindex(4, 3):
        want = _python_strongest(values[g], salient[g], 5)
        count = len(want)
        np.testing.assert_array_equal(res.valid[g], np.arange(5) < count)
        np.testing.assert_array_equal(res.kind[g][:count], [c[0] for c in want])
        np.testing.assert_array_equal(res.subset[g][:count], [c[1] for c in want])
        np.testing.assert_array_equal(res.value[g], [c[2] for c in want] + [0] * (5 - count))
    assert not res.valid[0, 0].any()
    everything = strongest_interactions(values[0, 1], np.ones((2, 16), bool), top=100)
    chex.assert_shape(everything.value, (32,))
    assert np.all(np.diff(np.abs(everything.value)) <= 0)
    none = strongest_interactions(values[:0], salient[:0], top=5)  # no games (examples = 0)
    chex.assert_shape([none.kind, none.subset, none.value, none.valid], (0, 3, 5))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: strongest_interactions(np.ones((3, 16)), np.ones((3, 16), bool), 2),
         "interactions"),
        (lambda: strongest_interactions(np.ones((2, 16)), np.ones((2, 8), bool), 2), "salient"),
        (lambda: strongest_interactions(np.ones((2, 16)), np.ones((2, 16)), 2), "salient"),
        (lambda: strongest_interactions(np.ones((2, 16)), np.ones((2, 16), bool), 0), "top"),
        (lambda: order_means(np.ones(8, int)), "x"),
    ],
)
def test_new_metric_inputs_are_checked(call, match):
    with pytest.raises(JaxinterInputError, match=match):
        call()
