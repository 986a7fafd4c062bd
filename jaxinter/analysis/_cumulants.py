"""Class-conditional cumulants of layer activations, up to the slices a quadratic layer needs.

For samples of class c with mean mu and centred samples D (n_c, N) the module computes

    cov[i, j] = sum_s D_si D_sj / n_c                         (N, N)
    k3[i, j]  = kappa_ijj  = D^T (D * D) / n_c                  (N, N)
    k4[i, j]  = kappa_iijj = (D * D)^T (D * D) / n_c - cov_ii cov_jj - 2 cov_ij^2   (N, N)

with the 1/n normalization, so that the moment maps of the correlation analysis are
exact identities on sample moments. Nothing of size N^3 or N^4 is formed; memory is
O(n N + N^2) per class (classes are processed one after the other with ``lax.map``).

Precision: the functions keep the widest float dtype JAX allows: float64 under
``jax.enable_x64(True)`` (what the correlation pipeline uses), float32 otherwise.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..errors import (
    MAX_CLASSES,
    JaxinterInputError,
    check_finite,
    check_floating,
    check_int,
    check_key,
    check_labels,
    check_real_dtype,
)


@struct.dataclass
class Cumulants:
    """Class-conditional cumulants; leading axis = class (or none for a single distribution).

    mean: (..., N); cov: (..., N, N); k3: (..., N, N) with k3[i, j] = kappa_ijj;
    k4: (..., N, N) with k4[i, j] = kappa_iijj; count: (...,) samples (or weight) per class.
    """

    frame_axes: ClassVar[dict] = {
        "cov": ("unit_i", "unit_j"), "k3": ("unit_i", "unit_j"), "k4": ("unit_i", "unit_j"),
        "mean": ("unit_i",), "count": ()}

    mean: jax.Array
    cov: jax.Array
    k3: jax.Array
    k4: jax.Array
    count: jax.Array

    def gaussian(self) -> Cumulants:
        """The same mean and covariance with the third and fourth cumulants set to zero."""
        return self.replace(k3=jnp.zeros_like(self.k3), k4=jnp.zeros_like(self.k4))


def wide_float():
    """float64 when ``jax_enable_x64`` is on, else float32."""
    return jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))


def _central_moments(d: jax.Array, w: jax.Array, n: jax.Array):
    """cov, kappa_ijj, E[d_i^2 d_j^2] of centred samples d (n, N) weighted by w (n,)."""
    dw = d * w[:, None]
    d2 = d * d
    cov = dw.T @ d / n
    k3 = dw.T @ d2 / n
    m4 = (d2 * w[:, None]).T @ d2 / n
    return cov, k3, m4


def fourth_cumulant_slice(m4: jax.Array, cov: jax.Array) -> jax.Array:
    """kappa_iijj = E[d_i^2 d_j^2] - cov_ii cov_jj - 2 cov_ij^2 (the Gaussian part removed)."""
    var = jnp.diagonal(cov, axis1=-2, axis2=-1)
    return m4 - var[..., :, None] * var[..., None, :] - 2 * cov**2


@partial(jax.jit, static_argnums=2)
def class_cumulants_kernel(x, labels: jax.Array, num_classes: int):
    """:func:`class_cumulants` of checked inputs (jitted; usable inside other jitted code).

    Args:
      x: (n, N) float samples, or a list of such arrays of the same n samples (e.g. the
        layers of a network), which then share one loop over the classes.
      labels: (n,) integer classes in ``0..num_classes - 1``, each class at least twice.
      num_classes: C (static).

    Returns:
      :class:`Cumulants` with a leading class axis of length C (a list of them for a list x).
    """

    def one_class(c):
        w = (labels == c).astype(jax.tree.leaves(x)[0].dtype)
        n = w.sum()

        def cumulants(h):
            mean = w @ h / n
            cov, k3, m4 = _central_moments(h - mean, w, n)
            return Cumulants(mean, cov, k3, fourth_cumulant_slice(m4, cov), n)

        return [cumulants(h) for h in x] if isinstance(x, list | tuple) else cumulants(x)

    return jax.lax.map(one_class, jnp.arange(num_classes))


def check_class_samples(x, labels, num_classes: int) -> tuple[jax.Array, np.ndarray]:
    """Checked class samples: x flattened to (n, N) in :func:`wide_float`, labels as host ints.

    Raises unless x is a finite float array (n, ...), labels (n,) are in ``0..num_classes - 1``
    and every class has at least two samples.
    """
    check_int(num_classes, "num_classes", 1, MAX_CLASSES)
    x = check_floating(x, "x")
    if x.ndim < 2 or not x.size:
        raise JaxinterInputError(f"x: expected shape (samples, features...), got {x.shape}")
    x = x.reshape(x.shape[0], -1).astype(wide_float())
    check_finite(x, "x")
    labels = check_labels(labels, num_samples=x.shape[0], num_classes=num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    if counts.min() < 2:
        raise JaxinterInputError(
            f"labels: every class needs at least 2 samples, counts are {counts.tolist()}"
        )
    return x, labels


def class_cumulants(x, labels, num_classes: int) -> Cumulants:
    """Per-class mean, covariance, kappa_ijj and kappa_iijj of samples.

    Constant features (zero variance) give zero rows, never NaN.

    Args:
      x: (n, ...) float samples, flattened to (n, N).
      labels: (n,) integer classes in ``0..num_classes - 1``; every class at least twice.
      num_classes: C.

    Returns:
      :class:`Cumulants` with mean (C, N), cov, k3, k4 (C, N, N) and count (C,), in
      :func:`wide_float`.
    """
    x, labels = check_class_samples(x, labels, num_classes)
    return class_cumulants_kernel(x, jnp.asarray(labels), num_classes)


def mixture_cumulants(weights, means, covs) -> Cumulants:
    """Exact cumulants of the Gaussian mixture sum_k weights_k N(means_k, covs_k).

    Used for exact values on the XOR task (a mixture of blobs).

    Args:
      weights: (K,) component weights summing to 1.
      means: (K, N) component means; covs: (K, N, N) component covariances.

    Returns:
      :class:`Cumulants` of one distribution (no class axis), in :func:`wide_float`.
    """
    return mixture_cumulants_kernel(*check_mixture(weights, means, covs))


def mixture_cumulants_kernel(weights, means, covs) -> Cumulants:
    """:func:`mixture_cumulants` of checked arrays (weights (K,), means (K, N), covs (K, N, N))."""
    mean = weights @ means
    delta = means - mean  # (K, N) offset of each component from the mixture mean
    s = covs
    sd = jnp.diagonal(s, axis1=-2, axis2=-1)  # (K, N)
    di, dj = delta[:, :, None], delta[:, None, :]
    # E[d_i d_j] etc. with d = delta + e, e ~ N(0, S): odd moments of e vanish.
    cov = jnp.einsum("k,kij->ij", weights, di * dj + s)
    k3 = jnp.einsum("k,kij->ij", weights, di * dj**2 + di * sd[:, None, :] + 2 * dj * s)
    m4 = jnp.einsum(
        "k,kij->ij",
        weights,
        di**2 * dj**2 + di**2 * sd[:, None, :] + dj**2 * sd[:, :, None] + 4 * di * dj * s
        + sd[:, :, None] * sd[:, None, :] + 2 * s**2,
    )
    return Cumulants(mean, cov, k3, fourth_cumulant_slice(m4, cov), jnp.asarray(1.0))


def check_mixture(weights, means, covs, batch: int = 0) -> tuple:
    """Weights (*B, K) >= 0 summing to 1, means (*B, K, N) and covs (*B, K, N, N) of Gaussian
    mixtures (``batch`` leading axes B), checked and converted to :func:`wide_float`."""
    arrays = []
    for value, name, ndim in ((weights, "weights", 1), (means, "means", 2), (covs, "covs", 3)):
        shape, _ = check_real_dtype(value, name)
        if len(shape) != batch + ndim:
            raise JaxinterInputError(f"{name}: expected {batch + ndim} axes, got shape {shape}")
        check_finite(value, name)
        arrays.append(jnp.asarray(value, wide_float()))
    weights, means, covs = arrays
    if not weights.size:
        raise JaxinterInputError(f"weights: expected at least one component, got {weights.shape}")
    if means.shape[:-1] != weights.shape or not means.shape[-1]:
        raise JaxinterInputError(
            f"means: expected (*{weights.shape}, N >= 1) for weights {weights.shape}, got "
            f"{means.shape}")
    if covs.shape != (*means.shape, means.shape[-1]):
        raise JaxinterInputError(
            f"covs: expected {(*means.shape, means.shape[-1])} for means {means.shape}, got "
            f"{covs.shape}")
    concrete = not isinstance(weights, jax.core.Tracer)
    if concrete and (bool(jnp.any(weights < 0))
                     or not bool(jnp.allclose(weights.sum(-1), 1, atol=1e-6))):
        raise JaxinterInputError(f"weights: expected >= 0 summing to 1, got {np.asarray(weights)}")
    return weights, means, covs


def gaussian_factor(cov) -> jax.Array:
    """A factor F (N, N) with F F^T = cov (N, N), negative eigenvalues clipped to 0 (eigh)."""
    shape, _ = check_real_dtype(cov, "cov")
    if len(shape) != 2 or shape[0] != shape[1] or not shape[0]:
        raise JaxinterInputError(f"cov: expected a square matrix (N >= 1, N), got shape {shape}")
    check_finite(cov, "cov")
    evals, evecs = jnp.linalg.eigh(cov)
    return evecs * jnp.sqrt(jnp.clip(evals, 0.0))[None, :]


def gaussian_samples(key, mean, cov, n: int) -> jax.Array:
    """Samples of a Gaussian (negative covariance eigenvalues clipped to 0).

    Args:
      key: PRNG key.
      mean: (N,); cov: (N, N).
      n: number of samples.

    Returns:
      (n, N) samples of N(mean, cov), in mean's dtype.
    """
    check_key(key)
    mean = check_floating(mean, "mean")
    check_finite(mean, "mean")
    if mean.ndim != 1 or not mean.shape[0]:
        raise JaxinterInputError(f"mean: expected shape (N >= 1,), got {mean.shape}")
    cov_shape, _ = check_real_dtype(cov, "cov")
    if cov_shape != (mean.shape[0],) * 2:
        raise JaxinterInputError(
            f"cov: expected shape {(mean.shape[0],) * 2} for mean of shape {mean.shape}, got "
            f"{cov_shape}")
    check_int(n, "n", 1)
    eps = jax.random.normal(key, (n, mean.shape[-1]), mean.dtype)
    return mean + eps @ gaussian_factor(cov).T
