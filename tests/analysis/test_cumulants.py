"""Sample and mixture cumulants against brute-force full tensors and exact identities."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter.analysis import (
    Cumulants,
    class_cumulants,
    gaussian_factor,
    gaussian_samples,
    mixture_cumulants,
)
from jaxinter.errors import JaxinterInputError


def _brute_force(x: np.ndarray):
    """Full third and fourth cumulant tensors of one sample set (small N), sliced."""
    d = x - x.mean(0)
    n = len(x)
    cov = d.T @ d / n
    m3 = np.einsum("si,sj,sk->ijk", d, d, d) / n
    m4 = np.einsum("si,sj,sk,sl->ijkl", d, d, d, d) / n
    k4 = (m4 - np.einsum("ij,kl->ijkl", cov, cov) - np.einsum("ik,jl->ijkl", cov, cov)
          - np.einsum("il,jk->ijkl", cov, cov))
    idx = np.arange(x.shape[1])
    k3_ijj = m3[:, idx, idx]  # [i, j] = m3[i, j, j]
    k4_iijj = np.array([[k4[i, i, j, j] for j in idx] for i in idx])
    return x.mean(0), cov, k3_ijj, k4_iijj


def test_class_cumulants_match_full_tensors(x64):
    rng = np.random.default_rng(0)
    x = rng.exponential(size=(300, 5)) ** 1.5  # skewed, heavy-tailed
    labels = rng.integers(0, 3, 300)
    cum = class_cumulants(x, labels, 3)
    chex.assert_shape([cum.cov, cum.k3, cum.k4], (3, 5, 5))
    chex.assert_type([cum.mean, cum.cov, cum.k3, cum.k4], jnp.float64)
    for c in range(3):
        mean, cov, k3, k4 = _brute_force(x[labels == c])
        np.testing.assert_allclose(cum.mean[c], mean, rtol=1e-12)
        np.testing.assert_allclose(cum.cov[c], cov, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(cum.k3[c], k3, rtol=1e-10, atol=1e-11)
        np.testing.assert_allclose(cum.k4[c], k4, rtol=1e-10, atol=1e-10)
        assert cum.count[c] == np.sum(labels == c)


def test_constant_features_give_zeros_not_nan(x64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 4))
    x[:, 1] = 3.0  # constant pixel
    x[:, 3] = 0.0  # dead unit
    cum = class_cumulants(x, np.repeat([0, 1], 25), 2)
    for a in (cum.mean, cum.cov, cum.k3, cum.k4):
        assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(cum.cov[:, 1], 0.0)
    np.testing.assert_array_equal(cum.k4[:, :, 3], 0.0)
    np.testing.assert_allclose(cum.mean[:, 1], 3.0)


def test_float32_without_x64():
    cum = class_cumulants(np.ones((6, 2), np.float32) * np.arange(6)[:, None], np.arange(6) % 2, 2)
    chex.assert_type(cum.cov, jnp.float32)


@pytest.mark.parametrize(
    "x, labels, match",
    [
        (np.ones(5), np.zeros(5, int), "x: expected shape"),
        (np.ones((5, 2)), np.zeros(4, int), r"labels: expected one label per sample \(5\)"),
        (np.ones((5, 2)), np.full(5, 3), r"labels: label 3 outside 0..1"),
        (np.ones((5, 2)), np.array([0, 0, 0, 0, 1]), "at least 2"),
        (np.full((4, 2), np.nan), np.array([0, 0, 1, 1]), "NaN"),
        (np.ones((4, 2), int), np.array([0, 0, 1, 1]), "floating"),
    ],
)
def test_bad_input(x, labels, match):
    with pytest.raises(JaxinterInputError, match=match):
        class_cumulants(x, labels, 2)


def test_mixture_of_point_masses_equals_sample_cumulants(x64):
    """A mixture with zero-covariance components is its own (weighted) sample: exact."""
    rng = np.random.default_rng(2)
    points = rng.normal(size=(7, 3))
    mix = mixture_cumulants(np.full(7, 1 / 7), points, np.zeros((7, 3, 3)))
    cum = class_cumulants(points, np.zeros(7, int), 1)
    for a, b in zip(jax.tree.leaves(mix.replace(count=0)), jax.tree.leaves(cum.replace(count=0)),
                    strict=True):
        np.testing.assert_allclose(a, np.squeeze(b, 0), atol=1e-13)


def test_single_gaussian_has_no_higher_cumulants(x64):
    a = np.array([[2.0, 0.5], [0.5, 1.0]])
    mix = mixture_cumulants(np.ones(1), np.array([[1.0, -2.0]]), a[None])
    np.testing.assert_allclose(mix.cov, a)
    np.testing.assert_allclose(mix.k3, 0, atol=1e-15)
    np.testing.assert_allclose(mix.k4, 0, atol=1e-15)


def test_mixture_cumulants_against_monte_carlo(x64):
    w = np.array([0.3, 0.7])
    means = np.array([[1.0, 0.0, -1.0], [-0.5, 1.0, 0.5]])
    covs = np.stack([np.diag([0.2, 0.5, 0.1]), 0.3 * np.eye(3) + 0.1])
    mix = mixture_cumulants(w, means, covs)
    n = 400_000
    rng = np.random.default_rng(3)
    comp = rng.random(n) < w[1]
    x = np.where(comp[:, None], rng.multivariate_normal(means[1], covs[1], n),
                 rng.multivariate_normal(means[0], covs[0], n))
    cum = class_cumulants(x, np.zeros(n, int), 1)
    for field, tol in (("mean", 0.01), ("cov", 0.01), ("k3", 0.02), ("k4", 0.05)):
        np.testing.assert_allclose(getattr(mix, field), getattr(cum, field)[0], atol=tol)
    assert np.abs(mix.k4).max() > 0.1  # the test would see a missing term


def test_gaussian_samples_clip_negative_eigenvalues(x64):
    cov = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    cov[0, 0] -= 1e-9  # slightly indefinite and singular
    x = gaussian_samples(jax.random.key(0), jnp.array([1.0, 2.0, 3.0]), jnp.asarray(cov), 100_000)
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(np.cov(x.T, bias=True), cov, atol=0.02)
    np.testing.assert_allclose(x[:, 2], 3.0)
    np.testing.assert_allclose(x.mean(0), [1, 2, 3], atol=0.02)


def test_gaussian_drops_higher_cumulants(x64):
    cum = Cumulants(*(jnp.ones((2, 2)),) * 4, jnp.ones(()))
    g = cum.gaussian()
    np.testing.assert_array_equal(g.k3, 0)
    np.testing.assert_array_equal(g.cov, 1)


def test_kernel_on_a_list_equals_one_call_per_array(x64):
    """Several layers of the same samples share one loop over the classes, same numbers."""
    from jaxinter.analysis._cumulants import class_cumulants_kernel

    rng = np.random.default_rng(4)
    xs = [rng.exponential(size=(60, 3)), rng.normal(size=(60, 5))]
    labels = jnp.asarray(rng.integers(0, 2, 60))
    together = class_cumulants_kernel(xs, labels, 2)
    for x, cum in zip(xs, together, strict=True):
        alone = class_cumulants_kernel(jnp.asarray(x), labels, 2)
        for a, b in zip(jax.tree.leaves(cum), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_gaussian_factor_reproduces_the_covariance(x64):
    a = np.random.default_rng(5).normal(size=(4, 4))
    cov = a @ a.T
    cov[3, :] = cov[:, 3] = 0.0  # singular
    f = gaussian_factor(jnp.asarray(cov))
    np.testing.assert_allclose(f @ f.T, cov, atol=1e-12)
