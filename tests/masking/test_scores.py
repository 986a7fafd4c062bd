"""Scores against direct numpy formulas (float64), the binary single-logit case, label checks."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter import JaxinterInputError
from jaxinter.masking import get_score, log_odds, logit, probability

RNG = np.random.default_rng(0)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_scores_match_numpy(x64):
    z = RNG.normal(size=(4, 5, 7)) * 3
    y = RNG.integers(0, 7, size=(4, 5))
    p = np.take_along_axis(_softmax(z), y[..., None], -1)[..., 0]
    for fn, expected in [
        (log_odds, np.log(p / (1 - p))),
        (logit, np.take_along_axis(z, y[..., None], -1)[..., 0]),
        (probability, p),
    ]:
        out = fn(jnp.asarray(z), jnp.asarray(y))
        chex.assert_shape(out, (4, 5))
        chex.assert_type(out, jnp.float64)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_log_odds_stable_for_huge_logits():
    # log(p / (1 - p)) underflows to inf here; the stable form stays exact: z_y - max_other
    # up to log(1 + sum exp(others - max)) with the other logits 200 apart.
    z = jnp.array([[1000.0, -1000.0, 800.0], [-500.0, 300.0, 100.0]], jnp.float32)
    y = jnp.array([0, 0])
    out = np.asarray(log_odds(z, y))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [200.0, -800.0], rtol=1e-6)


def test_single_logit_binary_model(x64):
    z = RNG.normal(size=(6, 1)) * 4
    y = np.array([0, 1, 1, 0, 1, 0])
    p1 = 1 / (1 + np.exp(-z[:, 0]))  # p(y = 1)
    p_y = np.where(y == 1, p1, 1 - p1)
    np.testing.assert_allclose(log_odds(z, y), np.log(p_y / (1 - p_y)), rtol=1e-10)
    np.testing.assert_allclose(probability(z, y), p_y, rtol=1e-12)
    # the same as the two-class model with logits (0, z)
    two = np.concatenate([np.zeros_like(z), z], axis=1)
    np.testing.assert_allclose(log_odds(z, y), log_odds(two, y), rtol=1e-12)
    np.testing.assert_allclose(logit(z, y), np.where(y == 1, z[:, 0], -z[:, 0]))


def test_scores_jit_and_grad():
    z = jnp.asarray(RNG.normal(size=(3, 4)), jnp.float32)
    y = jnp.array([1, 3, 0])
    np.testing.assert_allclose(jax.jit(log_odds)(z, y), log_odds(z, y), rtol=1e-6)
    g = jax.grad(lambda z: log_odds(z, y).sum())(z)
    # d/dz_y = 1, d/dz_c (c != y) = -softmax over the other classes; rows sum to 0
    np.testing.assert_allclose(g.sum(-1), 0, atol=1e-6)
    np.testing.assert_allclose(g[jnp.arange(3), y], 1, rtol=1e-6)


@pytest.mark.parametrize("fn", [log_odds, logit, probability])
def test_labels_out_of_range(fn):
    z = jnp.zeros((3, 4))
    with pytest.raises(JaxinterInputError, match="target: label 4 outside 0..3"):
        fn(z, jnp.array([0, 4, 1]))
    with pytest.raises(JaxinterInputError, match="label -1"):
        fn(z, np.array([0, -1, 1]))
    with pytest.raises(JaxinterInputError, match="integer class labels"):
        fn(z, jnp.array([0.0, 1.0, 2.0]))
    with pytest.raises(JaxinterInputError, match="outside 0..1"):
        fn(jnp.zeros((3, 1)), jnp.array([0, 2, 1]))


def test_get_score():
    assert get_score("log_odds") is log_odds
    custom = lambda z, y: z[..., 0]  # noqa: E731
    assert get_score(custom) is custom
    with pytest.raises(JaxinterInputError, match="score: expected one of"):
        get_score("margin")
