"""Fast transforms against brute-force definitions, exact identities and Monte Carlo."""

from __future__ import annotations

import bruteforce as bf
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jaxinter as ji
from jaxinter.interactions import orders_np, subset_index

TOL64 = 1e-12


@st.composite
def games(draw, max_n: int = 10):
    """float64 games that cannot pass by accident: 1..max_n players, 0 or 2 batch axes (n <= 6),
    every value distinct and bounded away from zero (|u| in [0.1, 1], random signs).

    Values come from a numpy generator seeded by hypothesis (arrays of 2**10 drawn element by
    element would be slow and mostly shrink towards zeros). Every new shape costs a jit
    compilation, so the shapes are kept few; batching on its own is tested by
    :func:`test_batched_equals_one_at_a_time`.
    """
    n = draw(st.sampled_from(range(max_n, 0, -1)))  # uniform over n; integers() favours n = 1
    batch = draw(st.sampled_from([(), (2, 3)])) if n <= 6 else ()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = rng.choice([-1.0, 1.0], batch + (2**n,)) * rng.uniform(0.1, 1.0, batch + (2**n,))
    assert np.unique(u).size == u.size and np.abs(u).min() >= 0.1
    event(f"n = {n}")  # --hypothesis-show-statistics shows how often each n is drawn
    return u


fast = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@fast
@given(u=games())
def test_moebius_zeta_or_match_brute_force(x64, u):
    i_and = np.asarray(ji.moebius(u))
    np.testing.assert_allclose(i_and, bf.moebius(u), rtol=0, atol=TOL64)
    np.testing.assert_allclose(np.asarray(ji.zeta(u)), bf.zeta(u), rtol=0, atol=TOL64)
    i_or = np.asarray(ji.or_interactions(u))
    np.testing.assert_allclose(i_or, bf.or_interactions(u), rtol=0, atol=TOL64)
    # reconstruction for every subset, AND and OR
    np.testing.assert_allclose(np.asarray(ji.zeta(i_and)), u, rtol=0, atol=TOL64)
    np.testing.assert_allclose(np.asarray(ji.or_inverse(i_or)), u, rtol=0, atol=TOL64)
    # efficiency: sum_S I(S) = u(N)
    np.testing.assert_allclose(i_and.sum(-1), u[..., -1], rtol=0, atol=TOL64)


@fast
@given(i_or=games(max_n=8))  # the brute-force OR game is O(4**n)
def test_or_convention_and_inverse(x64, i_or):
    """w(T) = I_or(empty) + sum over nonempty S meeting T of I_or(S), and or_inverse gives w."""
    w = np.asarray(ji.or_inverse(i_or))
    np.testing.assert_allclose(w, bf.or_game(i_or), rtol=0, atol=TOL64)
    np.testing.assert_allclose(np.asarray(ji.or_interactions(w)), i_or, rtol=0, atol=TOL64)


@fast
@given(u=games())
def test_values_match_definitions(x64, u):
    np.testing.assert_allclose(ji.shapley_values(u), bf.shapley_values(u), rtol=0, atol=TOL64)
    np.testing.assert_allclose(ji.banzhaf_values(u), bf.banzhaf_values(u), rtol=0, atol=TOL64)


@fast
@given(u=games(max_n=6), order=st.integers(1, 6))  # brute-force indices cost O(n 4**n)
def test_indices_match_definitions(x64, u, order):
    n = u.shape[-1].bit_length() - 1
    order = min(order, n)
    for index, brute in [("SII", bf.sii), ("BII", bf.bii), ("STII", bf.stii), ("k-SII", bf.k_sii)]:
        got = np.asarray(ji.interaction_index(u, index, order))
        np.testing.assert_allclose(got, brute(u, order), rtol=0, atol=TOL64, err_msg=index)
    moebius = np.asarray(ji.interaction_index(u, "Moebius", order))
    expected = np.where(orders_np(n) <= order, bf.moebius(u), 0.0)
    np.testing.assert_allclose(moebius, expected, rtol=0, atol=TOL64)


def _toy_game(dtype) -> np.ndarray:
    """u(T) of f = x1x2x3 + x2x3 + x3x4 + (x4 OR x5) at x = 1, b = 0 (player k -> bit k-1)."""
    t = np.arange(32)
    x1, x2, x3, x4, x5 = ((t >> i) & 1 for i in range(5))
    return (x1 * x2 * x3 + x2 * x3 + x3 * x4 + (x4 | x5)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_toy_function_and_interactions(x64, dtype):
    i_and = np.asarray(ji.moebius(_toy_game(dtype)))
    expected = np.zeros(32)
    for players, value in [((1, 2, 3), 1), ((2, 3), 1), ((3, 4), 1), ((4,), 1), ((5,), 1),
                           ((4, 5), -1)]:
        expected[subset_index([p - 1 for p in players])] = value
    np.testing.assert_array_equal(i_and, expected)  # small integers: exact in any float


def test_noise_variance_identity(x64):
    """Under iid N(0, s^2) noise on every u(T), Var I(S) = 2^{|S|} s^2 (Monte Carlo)."""
    n, draws, s = 6, 20_000, 0.3
    noise = s * jax.random.normal(jax.random.key(0), (draws, 2**n), jnp.float64)
    var = np.asarray(jnp.var(ji.moebius(noise), axis=0, ddof=1))
    expected = 2.0 ** orders_np(n) * s**2
    # the sample variance of Gaussians has relative std sqrt(2 / (draws - 1)); 5 sigma, 64 sets
    np.testing.assert_array_less(np.abs(var / expected - 1), 5 * np.sqrt(2 / (draws - 1)))
    # a wrong exponent (e.g. 2^{|S|-1} or |S|+1) would be off by >= 2x at |S| = 6
    assert abs(var[-1] / (64 * s**2) - 1) < 0.1


def test_batched_equals_one_at_a_time():
    u = jax.random.normal(jax.random.key(1), (3, 4, 2**7), jnp.float32)
    functions = [ji.moebius, ji.zeta, ji.or_interactions, ji.or_inverse]
    for f in functions:
        batched = np.asarray(f(u))
        single = np.stack([np.stack([np.asarray(f(u[a, b])) for b in range(4)]) for a in range(3)])
        np.testing.assert_array_equal(batched, single, err_msg=f.__name__)
    for f in [ji.shapley_values, ji.banzhaf_values,
              lambda v: ji.interaction_index(v, "k-SII", 3)]:
        batched = np.asarray(f(u))
        single = np.stack([np.stack([np.asarray(f(u[a, b])) for b in range(4)]) for a in range(3)])
        np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtype_and_shape_preserved(x64, dtype):
    n = 5
    u = jax.random.normal(jax.random.key(2), (2, 3, 2**n), dtype)
    for f in [ji.moebius, ji.zeta, ji.or_interactions, ji.or_inverse,
              lambda v: ji.interaction_index(v, "SII", 2)]:
        out = f(u)
        chex.assert_shape(out, (2, 3, 2**n))
        chex.assert_type(out, dtype)
    for f in [ji.shapley_values, ji.banzhaf_values]:
        out = f(u)
        chex.assert_shape(out, (2, 3, n))
        chex.assert_type(out, dtype)


def test_float32_close_to_float64(x64):
    u64 = np.random.default_rng(3).normal(size=(2, 2**12))
    i64 = np.asarray(ji.moebius(u64))
    i32 = np.asarray(ji.moebius(u64.astype(np.float32)))
    assert i32.dtype == np.float32
    err = np.abs(i32 - i64).max() / np.abs(i64).max()
    assert 0 < err < 1e-5  # rounding is visible, but small at n = 12


def test_usable_inside_jit_and_vmap():
    u = jax.random.normal(jax.random.key(4), (5, 2**6))
    jitted = jax.jit(jax.vmap(lambda v: ji.zeta(ji.moebius(v))))(u)
    np.testing.assert_allclose(jitted, u, atol=1e-5)


def test_diagnostics_measure_residuals(x64):
    u = np.random.default_rng(5).normal(size=(3, 2**8))
    exact = ji.transform_diagnostics(u)
    assert exact["reconstruction_residual"] < 1e-12 and exact["efficiency_gap"] < 1e-12
    i_and = np.array(ji.moebius(u))
    i_and[1, 7] += 1e-3  # a corrupted coefficient must show up in both diagnostics
    bad = ji.transform_diagnostics(u, i_and)
    np.testing.assert_allclose(bad["reconstruction_residual"], 1e-3, rtol=1e-6)
    np.testing.assert_allclose(bad["efficiency_gap"], 1e-3, rtol=1e-6)
    scale = np.abs(u).max()
    np.testing.assert_allclose(bad["relative_residual"], 1e-3 / scale, rtol=1e-6)


def test_shapley_efficiency_large_n():
    u = jax.random.normal(jax.random.key(6), (2, 2**14))
    phi = np.asarray(ji.shapley_values(u))
    np.testing.assert_allclose(phi.sum(-1), np.asarray(u[:, -1] - u[:, 0]), atol=1e-3)
