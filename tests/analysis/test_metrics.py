"""Salient sets, per-order summaries and sparsity curves on hand-built interactions."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter.analysis import order_summary, salient_mask, sparsity_curve
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
