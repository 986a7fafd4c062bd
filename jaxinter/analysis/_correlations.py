"""Networks as maps between class-conditional cumulants (Fischer et al., PRR 4, 043143, 2022).

A dense network h_{l+1} = phi(h_l K_l + b_l) maps the class-conditional distribution of layer l to
that of layer l + 1. This module propagates mean and covariance through such a stack:

* linear layers exactly: mu -> mu K + b, Sigma -> K^T Sigma K (flax kernel convention, (in, out));
* the quadratic activation phi(z) = z + alpha z^2 exactly, given the kappa_ijj and kappa_iijj
  slices of its pre-activation, or under the Gaussian closure (those slices set to zero);
* ReLU and erf under the Gaussian closure in closed form (rectified Gaussian / bivariate-normal
  orthant formula, which reduces to the arc-cosine kernel at zero mean; erf(mu / sqrt(1 + 2 s^2))
  and the arcsine kernel, generalized to non-zero means). Both off-diagonal terms reduce to one
  smooth 1-d integral (Plackett's form) evaluated by Gauss-Legendre quadrature.

On top of these: per-layer prediction errors against measured activations, a breakdown of each
layer's output moments into parts from the input mean, the input covariance and the higher
cumulants, the Gaussian-surrogate experiment, and the XOR task. The activation functions
themselves are those of :func:`jaxinter.models.activation` (same names, same ``alpha``). Shapes:
a leading class axis (C, ...) is allowed everywhere; every function keeps the input dtype (use
``jax.enable_x64(True)`` for float64, as :func:`analyse_correlations` does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import erf, ndtr

from ..data import load_dataset
from ..errors import (
    JaxinterInputError,
    check_finite,
    check_floating,
    check_instance,
    check_int,
    check_key,
    check_labels,
    check_mapping,
    check_number,
    check_pytree,
    check_real_dtype,
    check_seed,
)
from ..models import ACTIVATIONS, MLP, QUADRATIC_ALPHA, NnxMLP, activation, nnx_to_linen
from ..models._common import check_activation
from ._cumulants import (
    Cumulants,
    check_class_samples,
    check_mixture,
    class_cumulants,
    class_cumulants_kernel,
    gaussian_factor,
    mixture_cumulants_kernel,
)

CLOSURE_ACTIVATIONS = ("linear", "relu", "erf", "quadratic")  # closed-form Gaussian closure
EXACT_ACTIVATIONS = ("linear", "quadratic")  # exact moment maps given kappa3 and kappa4
MEAN_PARTS = ("input mean", "input covariance", "cumulants >= 3")
COV_PARTS = ("mean and covariance (order <= 2)", "kappa3 term", "kappa4 term",
             "other cumulants >= 3")
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)
_GL_NODES, _GL_WEIGHTS = (_GL_NODES + 1) / 2, _GL_WEIGHTS / 2  # on [0, 1]


def _diag(cov):
    return jnp.diagonal(cov, axis1=-2, axis2=-1)


def _outer(a, b):
    return a[..., :, None] * b[..., None, :]


def _transpose(m):
    return jnp.swapaxes(m, -1, -2)


# ---------------------------------------------------------------------------------------------
# input checks (shapes and dtypes only, so they also run while an outer jit traces)


def check_moments(mean, cov, mean_name: str = "mean", cov_name: str = "cov"):
    """``(mean, cov)`` as float arrays; raises unless mean is (..., d) and cov (..., d, d) and
    (on concrete arrays; skipped under ``jit``) both are finite."""
    mean, cov = check_floating(mean, mean_name), check_floating(cov, cov_name)
    check_finite(mean, mean_name)
    check_finite(cov, cov_name)
    if mean.ndim < 1 or mean.shape[-1] < 1:
        raise JaxinterInputError(f"{mean_name}: expected shape (..., d) with d >= 1, got "
                                 f"{mean.shape}")
    if cov.shape != (*mean.shape, mean.shape[-1]):
        raise JaxinterInputError(
            f"{cov_name}: expected shape {(*mean.shape, mean.shape[-1])} for {mean_name} of "
            f"shape {mean.shape}, got {cov.shape}"
        )
    return mean, cov


def check_cumulant_slices(k3, k4, cov, names=("k3", "k4")):
    """``(k3, k4)`` as float arrays; raises unless both have the shape of ``cov`` (..., d, d)."""
    out = []
    for value, name in zip((k3, k4), names, strict=True):
        value = check_floating(value, name)
        check_finite(value, name)
        if value.shape != cov.shape:
            raise JaxinterInputError(
                f"{name}: expected the covariance's shape {cov.shape}, got {value.shape}"
            )
        out.append(value)
    return tuple(out)


def check_cumulants(cumulants, name: str) -> Cumulants:
    """Raise unless ``cumulants`` is a :class:`Cumulants` with consistent shapes."""
    if not isinstance(cumulants, Cumulants):
        raise JaxinterInputError(f"{name}: expected Cumulants, got {type(cumulants).__name__}")
    check_moments(cumulants.mean, cumulants.cov, f"{name}.mean", f"{name}.cov")
    check_cumulant_slices(cumulants.k3, cumulants.k4, cumulants.cov, (f"{name}.k3", f"{name}.k4"))
    return cumulants


# ---------------------------------------------------------------------------------------------
# moment maps of single layers


def linear_moments(mean, cov, kernel, bias):
    """Moments of z = h K + b for h of the given mean and covariance (exact).

    Args:
      mean: (..., N_in) mean of h.
      cov: (..., N_in, N_in) covariance of h.
      kernel: (N_in, N_out) (flax convention); bias: (N_out,).

    Returns:
      (mean (..., N_out), cov (..., N_out, N_out)) of z.
    """
    mean, cov = check_moments(mean, cov)
    kernel, bias = check_floating(kernel, "kernel"), check_floating(bias, "bias")
    check_finite(kernel, "kernel")
    check_finite(bias, "bias")
    if kernel.ndim != 2 or kernel.shape[0] != mean.shape[-1] or bias.shape != kernel.shape[1:]:
        raise JaxinterInputError(
            f"kernel, bias: expected shapes ({mean.shape[-1]}, N_out) and (N_out,), got "
            f"{kernel.shape} and {bias.shape}"
        )
    return mean @ kernel + bias, _transpose(kernel) @ cov @ kernel


def quadratic_moment_terms(mean, cov, k3, k4, alpha: float):
    """Parts of the exact moments of phi(z) = z + alpha z^2.

    mean_i = mu_i + alpha mu_i^2 + alpha Sigma_ii,
    cov_ij = a_i a_j Sigma_ij + 2 alpha^2 Sigma_ij^2 + alpha (a_i k3_ij + a_j k3_ji)
             + alpha^2 k4_ij,  a = 1 + 2 alpha mu.

    Args:
      mean: (..., N); cov, k3 (k3[i, j] = kappa_ijj), k4 (k4[i, j] = kappa_iijj): (..., N, N).
      alpha: the quadratic coefficient.

    Returns:
      (mean_from_mean, mean_from_cov) of shape (..., N), whose sum is the output mean, and
      (cov_order2, cov_k3, cov_k4) of shape (..., N, N), whose sum is the output covariance.
    """
    a = 1 + 2 * alpha * mean
    ak3 = a[..., :, None] * k3
    return (
        mean + alpha * mean**2,
        alpha * _diag(cov),
        _outer(a, a) * cov + 2 * alpha**2 * cov**2,
        alpha * (ak3 + _transpose(ak3)),
        alpha**2 * k4,
    )


def quadratic_moments(mean, cov, k3, k4, alpha: float = QUADRATIC_ALPHA):
    """Exact mean and covariance of z + alpha z^2 (see :func:`quadratic_moment_terms`).

    Args:
      mean: (..., N) mean of z; cov, k3, k4: (..., N, N) its covariance, kappa_ijj, kappa_iijj.
      alpha: the quadratic coefficient.

    Returns:
      (mean (..., N), cov (..., N, N)) of the output.
    """
    mean, cov = check_moments(mean, cov)
    k3, k4 = check_cumulant_slices(k3, k4, cov)
    check_number(alpha, "alpha")
    m_mean, m_cov, c2, c3, c4 = quadratic_moment_terms(mean, cov, k3, k4, alpha)
    return m_mean + m_cov, c2 + c3 + c4


def _plackett(x, y, sin_max):
    """int_0^{asin(sin_max)} exp(-(x^2 - 2 x y sin t + y^2) / (2 cos^2 t)) dt (broadcasting)."""
    theta_max = jnp.arcsin(jnp.clip(sin_max, -1.0, 1.0))
    t = theta_max[..., None] * _GL_NODES.astype(theta_max.dtype)
    s, c2 = jnp.sin(t), jnp.cos(t) ** 2
    x, y = x[..., None], y[..., None]
    # c2 is bounded away from 0 at the Gauss nodes, which never reach the end point pi/2
    f = jnp.exp(-(x * x - 2 * x * y * s + y * y) / (2 * c2))
    return theta_max * (f @ _GL_WEIGHTS.astype(f.dtype))


def _std(cov):
    var = jnp.clip(_diag(cov), 0.0)
    live = var > 0
    return jnp.sqrt(var), live, jnp.where(live, jnp.sqrt(jnp.where(live, var, 1.0)), 1.0)


def relu_gaussian_moments(mean, cov):
    """Mean and covariance of relu(z) for z ~ N(mean, cov) (Gaussian closure, closed form; jitted).

    Off-diagonal: E[relu(z_i) relu(z_j)] = (mu_i mu_j + rho s_i s_j) Phi2(h_i, h_j; rho)
      + mu_i s_j phi(h_j) Phi(g_ij) + mu_j s_i phi(h_i) Phi(g_ji)
      + s_i s_j sqrt(1 - rho^2) phi(h_i) phi(g_ji),
    with h = mu / s and g_ij = (h_i - rho h_j) / sqrt(1 - rho^2), which is the arc-cosine
    kernel at mu = 0. Zero-variance units are treated as constants.

    Args:
      mean: (..., N); cov: (..., N, N).

    Returns:
      (mean (..., N), cov (..., N, N)) of relu(z).
    """
    mean, cov = check_moments(mean, cov)
    return _closure_moments("relu", mean, cov, QUADRATIC_ALPHA)


def _relu_moments(mean, cov):
    s, live, s_safe = _std(cov)
    h = mean / s_safe
    pdf = jnp.exp(-h * h / 2) / jnp.sqrt(2 * jnp.pi)
    out_mean = jnp.where(live, mean * ndtr(h) + s * pdf, jax.nn.relu(mean))
    second = jnp.where(live, (mean**2 + s**2) * ndtr(h) + mean * s * pdf, 0.0)
    eps = 1e3 * jnp.finfo(cov.dtype).eps
    rho = jnp.clip(cov / _outer(s_safe, s_safe), -1 + eps, 1 - eps)
    r = jnp.sqrt(1 - rho**2)
    hi, hj = h[..., :, None], h[..., None, :]
    g_ij, g_ji = (hi - rho * hj) / r, (hj - rho * hi) / r
    phi2 = ndtr(hi) * ndtr(hj) + _plackett(hi, hj, rho) / (2 * jnp.pi)
    mi, mj = mean[..., :, None], mean[..., None, :]
    si, sj = s[..., :, None], s[..., None, :]
    pi_, pj = pdf[..., :, None], pdf[..., None, :]
    cross = (
        (mi * mj + rho * si * sj) * phi2 + mi * sj * pj * ndtr(g_ij) + mj * si * pi_ * ndtr(g_ji)
        + si * sj * r * pi_ * jnp.exp(-g_ji * g_ji / 2) / jnp.sqrt(2 * jnp.pi)
    )
    eye = jnp.eye(mean.shape[-1], dtype=bool)
    cov_out = jnp.where(eye, second[..., :, None] - _outer(out_mean, out_mean),
                        cross - _outer(out_mean, out_mean))
    return out_mean, jnp.where(_outer(live, live), cov_out, 0.0)


def erf_gaussian_moments(mean, cov):
    """Mean and covariance of erf(z) for z ~ N(mean, cov) (Gaussian closure; jitted).

    mean: erf(mu / sqrt(1 + 2 s^2)). cov_ij = (2/pi) int_0^{theta} exp(-(x_i^2 - 2 x_i x_j sin t
    + x_j^2) / (2 cos^2 t)) dt with x = mu sqrt(2 / (1 + 2 s^2)) and sin theta =
    2 Sigma_ij / sqrt((1 + 2 Sigma_ii)(1 + 2 Sigma_jj)) (Price's theorem); at mu = 0 this is the
    arcsine kernel (2/pi) asin(...). Valid on the diagonal too.

    Args:
      mean: (..., N); cov: (..., N, N).

    Returns:
      (mean (..., N), cov (..., N, N)) of erf(z).
    """
    mean, cov = check_moments(mean, cov)
    return _closure_moments("erf", mean, cov, QUADRATIC_ALPHA)


def _erf_moments(mean, cov):
    q = 1 + 2 * jnp.clip(_diag(cov), 0.0)
    x = mean * jnp.sqrt(2 / q)
    sin_max = 2 * cov / jnp.sqrt(_outer(q, q))
    return erf(mean / jnp.sqrt(q)), 2 / jnp.pi * _plackett(x[..., :, None], x[..., None, :],
                                                          sin_max)


@partial(jax.jit, static_argnums=(0, 3))
def _closure_moments(name: str, mean, cov, alpha: float):
    if name == "quadratic":
        zeros = jnp.zeros_like(cov)
        return quadratic_moments(mean, cov, zeros, zeros, alpha)
    if name == "relu":
        return _relu_moments(mean, cov)
    if name == "erf":
        return _erf_moments(mean, cov)
    return mean, cov


def gaussian_closure_moments(activation: str, mean, cov, alpha: float = QUADRATIC_ALPHA):
    """Mean and covariance of phi(z) for z ~ N(mean, cov) (jitted).

    Args:
      activation: one of :data:`CLOSURE_ACTIVATIONS` (``linear``, ``relu``, ``erf``,
        ``quadratic``).
      mean: (..., N); cov: (..., N, N).
      alpha: the quadratic coefficient (as in :func:`jaxinter.models.activation`).

    Returns:
      (mean (..., N), cov (..., N, N)) of phi(z).
    """
    check_activation(activation, alpha, CLOSURE_ACTIVATIONS)
    mean, cov = check_moments(mean, cov)
    return _closure_moments(activation, mean, cov, float(alpha))


# ---------------------------------------------------------------------------------------------
# dense stacks


@struct.dataclass
class DenseStack:
    """A dense network: hidden layers h_{l+1} = phi(h_l K_l + b_l), then linear logits.

    kernels: tuple of (N_l, N_{l+1}) arrays (flax convention), biases: tuple of (N_{l+1},);
    activation: a name of :data:`jaxinter.models.ACTIVATIONS`; alpha: its quadratic coefficient.
    Feature layers are numbered 0 (flattened input), 1..depth (hidden outputs), depth+1 (logits).
    """

    kernels: tuple
    biases: tuple
    activation: str = struct.field(pytree_node=False)
    alpha: float = struct.field(pytree_node=False, default=QUADRATIC_ALPHA)

    @property
    def depth(self) -> int:
        return len(self.kernels) - 1

    def astype(self, dtype) -> DenseStack:
        cast = partial(jnp.asarray, dtype=dtype)
        return self.replace(kernels=tuple(map(cast, self.kernels)),
                            biases=tuple(map(cast, self.biases)))

    def layer_names(self) -> list[str]:
        """Names of the feature layers, matching the MLP's sown ``hidden_i``."""
        return ["input", *(f"hidden_{l}" for l in range(1, self.depth + 1)), "logits"]


def check_stack(stack) -> DenseStack:
    """Raise unless ``stack`` is a :class:`DenseStack` of chained 2-d kernels and biases."""
    if not isinstance(stack, DenseStack):
        raise JaxinterInputError(f"stack: expected a DenseStack, got {type(stack).__name__}")
    check_activation(stack.activation, stack.alpha, ACTIVATIONS)
    shapes = [np.shape(k) for k in stack.kernels]
    chained = all(len(s) == 2 for s in shapes) and all(
        a[1] == b[0] for a, b in zip(shapes[:-1], shapes[1:], strict=True))
    biases = [np.shape(b) for b in stack.biases]
    if not shapes or not chained or biases != [s[1:] for s in shapes]:
        raise JaxinterInputError(
            "stack: expected kernels (N_l, N_{l+1}) chained layer to layer and biases "
            f"(N_{{l+1}},), got kernels {shapes} and biases {biases}"
        )
    return stack


def _widths(stack: DenseStack) -> list[int]:
    """Widths N_0..N_{depth+1} of the feature layers."""
    return [np.shape(k)[0] for k in stack.kernels] + [np.shape(stack.kernels[-1])[1]]


def _check_inputs(stack: DenseStack, x, name: str = "x"):
    """x (n, ...) flattened to (n, N_0) for the stack's input width N_0."""
    x = check_floating(x, name)
    check_finite(x, name)
    width = _widths(stack)[0]
    if x.ndim < 1 or int(np.prod(x.shape[1:])) != width:
        raise JaxinterInputError(
            f"{name}: expected (samples, ...) with {width} features per sample, got {x.shape}"
        )
    return x.reshape(x.shape[0], width)


def _layer(stack: DenseStack, l: int, h):
    """Feature layer l -> pre-activation and output of layer l + 1."""
    z = h @ stack.kernels[l] + stack.biases[l]
    return z, (z if l == stack.depth else activation(stack.activation, stack.alpha)(z))


@jax.jit
def _features(stack: DenseStack, h):
    features, pre = [h], []
    for l in range(stack.depth + 1):
        z, h = _layer(stack, l, h)
        pre.append(z)
        features.append(h)
    return features, pre


def stack_features(stack: DenseStack, x):
    """All feature layers and all pre-activations of inputs x (jitted).

    Args:
      stack: the network.
      x: (n, ...) inputs with N_0 features each.

    Returns:
      (features, preactivations): lists [input (n, N_0), hidden outputs..., logits] and
      [z_1, ..., logits].
    """
    check_stack(stack)
    return _features(stack, _check_inputs(stack, x))


@partial(jax.jit, static_argnums=1)
def _apply_from(stack: DenseStack, layer: int, h):
    for l in range(layer, stack.depth + 1):
        _, h = _layer(stack, l, h)
    return h


def apply_stack_from(stack: DenseStack, layer: int, h):
    """Run feature layer ``layer`` (n, N_layer) through the rest of the stack -> logits (n, K)."""
    check_stack(stack)
    check_int(layer, "layer", 0, stack.depth + 1)
    width = _widths(stack)[layer]
    h = check_floating(h, "h")
    check_finite(h, "h")
    if h.ndim != 2 or h.shape[1] != width:
        raise JaxinterInputError(f"h: expected shape (n, {width}), got {h.shape}")
    return _apply_from(stack, layer, h)


def dense_stack_from_mlp(model, variables=None) -> DenseStack:
    """The stack of a :class:`jaxinter.models.MLP` (Linen, with ``variables``) or NNX ``MLP``.

    Eval-mode batch norm (running statistics) is folded into the preceding kernel and bias.

    Args:
      model: a Linen ``MLP`` (then ``variables`` are its trained variables) or an NNX ``MLP``.
      variables: Linen variables ``{"params", "batch_stats"?}``; None for an NNX model.

    Returns:
      A :class:`DenseStack` with the model's activation and alpha.
    """
    check_instance(model, "model", (MLP, NnxMLP))
    if variables is None and isinstance(model, MLP):
        raise JaxinterInputError("variables: expected the variables of the Linen MLP, got None")
    if variables is None:
        variables = nnx_to_linen(model)
    check_pytree(check_mapping(variables, "variables", optional=False), "variables")
    if "params" not in variables:
        raise JaxinterInputError(f"variables: expected a 'params' entry, got {list(variables)}")
    dense = _numbered(variables["params"], "dense")
    bns, stats = _numbered(variables["params"], "bn"), _numbered(variables.get("batch_stats", {}),
                                                                  "bn")
    if sorted(dense) != list(range(1, model.depth + 1)):
        raise JaxinterInputError(f"variables: expected Dense layers 1..{model.depth}, "
                                 f"found {sorted(dense)}")
    kernels, biases = [], []
    for i in range(1, model.depth + 1):
        kernel, bias = jnp.asarray(dense[i]["kernel"]), jnp.asarray(dense[i]["bias"])
        if model.batchnorm and i < model.depth:
            scale = bns[i]["scale"] / jnp.sqrt(stats[i]["var"] + 1e-5)  # flax default epsilon
            kernel, bias = kernel * scale, (bias - stats[i]["mean"]) * scale + bns[i]["bias"]
        kernels.append(kernel)
        biases.append(bias)
    return DenseStack(tuple(kernels), tuple(biases), model.activation, float(model.alpha))


def _numbered(tree, prefix: str) -> dict:
    """Sub-dicts named ``prefix<i>`` or ``prefix_<i>``, keyed by the integer i."""
    found = (re.fullmatch(rf"{prefix}_?(\d+)", str(k)) for k in tree)
    return {int(m.group(1)): tree[m.group(0)] for m in found if m}


# ---------------------------------------------------------------------------------------------
# propagation through a stack


@struct.dataclass
class StackMoments:
    """Predicted moments of every feature layer l of a stack (input, hidden..., logits).

    means: tuple of (C, N_l) class means; covs: tuple of (C, N_l, N_l) class covariances.
    """

    means: tuple
    covs: tuple


@jax.jit
def _propagate(stack: DenseStack, mean, cov, higher) -> StackMoments:
    means, covs = [mean], [cov]
    for l in range(stack.depth + 1):
        mean, cov = linear_moments(mean, cov, stack.kernels[l], stack.biases[l])
        if l < stack.depth and higher is None:
            mean, cov = _closure_moments(stack.activation, mean, cov, stack.alpha)
        elif l < stack.depth and stack.activation == "quadratic":
            mean, cov = quadratic_moments(mean, cov, *higher[l], stack.alpha)
        means.append(mean)
        covs.append(cov)
    return StackMoments(tuple(means), tuple(covs))


def propagate_moments(stack: DenseStack, mean, cov, higher=None) -> StackMoments:
    """Predict every feature layer's class moments from those of the input (jitted).

    Args:
      stack: the network; its activation must be in :data:`CLOSURE_ACTIVATIONS` (or in
        :data:`EXACT_ACTIVATIONS` when ``higher`` is given).
      mean: (C, N_0) input class means; cov: (C, N_0, N_0) input class covariances (any
        leading axes instead of C work too).
      higher: None for the Gaussian closure at every nonlinearity (input statistics alone), or
        one (k3, k4) pair per hidden pre-activation, each (C, N_l, N_l) (e.g. measured), for
        the exact moments of a quadratic or linear stack.

    Returns:
      :class:`StackMoments` of the layers input, hidden_1..hidden_depth, logits.
    """
    check_stack(stack)
    mean_shape, _ = check_real_dtype(mean, "mean")
    if not mean_shape or mean_shape[-1] != _widths(stack)[0]:
        raise JaxinterInputError(
            f"mean: expected (..., {_widths(stack)[0]}) for the stack's input, got {mean_shape}")
    if higher is not None and (isinstance(higher, str) or not isinstance(higher, Sequence)):
        raise JaxinterInputError(f"higher: expected None or (k3, k4) pairs, got {higher!r:.60}")
    mean, cov = check_moments(mean, cov)
    if mean.shape[-1] != _widths(stack)[0]:
        raise JaxinterInputError(
            f"mean: expected (..., {_widths(stack)[0]}) for the stack's input, got {mean.shape}"
        )
    if higher is None:
        check_activation(stack.activation, stack.alpha, CLOSURE_ACTIVATIONS)
    else:
        higher = _check_higher(stack, higher, mean.shape[:-1])
    return _propagate(stack, mean, cov, higher)


def _check_higher(stack: DenseStack, higher, batch: tuple) -> tuple:
    """``higher`` as a tuple of (k3, k4) pairs of the shapes of the hidden pre-activations."""
    check_activation(stack.activation, stack.alpha, EXACT_ACTIVATIONS)
    if not isinstance(higher, Sequence) or len(higher) != stack.depth:
        raise JaxinterInputError(
            f"higher: expected {stack.depth} (k3, k4) pairs, one per hidden layer, got {higher!r}"
        )
    out = []
    for l, pair in enumerate(higher):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise JaxinterInputError(f"higher[{l}]: expected a pair (k3, k4), got {pair!r}")
        width = _widths(stack)[l + 1]
        like = jax.ShapeDtypeStruct((*batch, width, width), jnp.float32)
        out.append(check_cumulant_slices(*pair, like, (f"higher[{l}][0]", f"higher[{l}][1]")))
    return tuple(out)


@struct.dataclass
class StackCumulants:
    """Measured class cumulants of every layer of a stack.

    features: tuple of :class:`Cumulants` per feature layer (input, hidden..., logits), each with
    mean (C, N_l) and cov, k3, k4 (C, N_l, N_l); preactivations: the same per pre-activation
    z_1..z_depth, logits.
    """

    features: tuple
    preactivations: tuple


@partial(jax.jit, static_argnums=3)
def _measure_stack(stack: DenseStack, x, labels, num_classes: int):
    """(feature layers, :class:`StackCumulants`): the forward pass, then one loop over classes."""
    features, pre = _features(stack, x)
    cumulants = class_cumulants_kernel([*features, *pre], labels, num_classes)
    return features, StackCumulants(tuple(cumulants[:len(features)]),
                                    tuple(cumulants[len(features):]))


def stack_cumulants(stack: DenseStack, x, labels, num_classes: int) -> StackCumulants:
    """Sample class cumulants of every layer of ``stack`` on x, in :func:`wide_float`.

    Args:
      stack: the network.
      x: (n, ...) inputs with N_0 features each.
      labels: (n,) classes in ``0..num_classes - 1``, every class at least twice.
      num_classes: C.

    Returns:
      :class:`StackCumulants` of every feature layer and every pre-activation.
    """
    check_stack(stack)
    x, labels = check_class_samples(_check_inputs(stack, x), labels, num_classes)
    return _measure_stack(stack.astype(x.dtype), x, jnp.asarray(labels), num_classes)[1]


def relative_moment_error(pred, true):
    """||pred - true|| / ||true|| per class: (C, ...) -> (C,) (means (C, N), covs (C, N, N))."""
    pred, true = check_floating(pred, "pred"), check_floating(true, "true")
    check_finite(pred, "pred")
    check_finite(true, "true")
    if not true.ndim or not true.size:
        raise JaxinterInputError(f"true: expected shape (C >= 1, ...), got {true.shape}")
    if pred.shape != true.shape:
        raise JaxinterInputError(
            f"pred: expected the shape of true (C, ...), {true.shape}, got {pred.shape}")
    axes = tuple(range(1, true.ndim))
    num = jnp.sqrt(jnp.sum((pred - true) ** 2, axis=axes))
    return num / jnp.maximum(jnp.sqrt(jnp.sum(true**2, axis=axes)), jnp.finfo(true.dtype).tiny)


def moment_prediction_errors(pred: StackMoments, measured: StackCumulants):
    """Relative errors of predicted class means and covariances against measured ones.

    Args:
      pred: predicted moments of every feature layer.
      measured: measured cumulants of the same layers.

    Returns:
      (mean_error, cov_error), each (layers, C).
    """
    check_instance(pred, "pred", StackMoments)
    check_instance(measured, "measured", StackCumulants)
    pairs = list(zip(pred.means, pred.covs, measured.features, strict=True))
    mean_err = jnp.stack([relative_moment_error(m, true.mean) for m, _, true in pairs])
    cov_err = jnp.stack([relative_moment_error(c, true.cov) for _, c, true in pairs])
    return mean_err, cov_err


def local_closure_errors(stack: DenseStack, measured: StackCumulants):
    """One-layer Gaussian-closure errors: each hidden layer's output moments predicted from the
    *measured* mean and covariance of its pre-activation.

    Args:
      stack: the network (activation in :data:`CLOSURE_ACTIVATIONS`).
      measured: its measured cumulants.

    Returns:
      (mean_error, cov_error), each (depth, C), for hidden layers 1..depth.
    """
    check_stack(stack)
    check_instance(measured, "measured", StackCumulants)
    mean_err, cov_err = [], []
    for l in range(stack.depth):
        pre, post = measured.preactivations[l], measured.features[l + 1]
        m, c = gaussian_closure_moments(stack.activation, pre.mean, pre.cov, stack.alpha)
        mean_err.append(relative_moment_error(m, post.mean))
        cov_err.append(relative_moment_error(c, post.cov))
    return jnp.stack(mean_err), jnp.stack(cov_err)


# ---------------------------------------------------------------------------------------------
# breakdown into cumulant orders


@struct.dataclass
class CumulantBreakdown:
    """Parts of one hidden layer's output moments, per class.

    mean_parts: (C, 3, N) with names :data:`MEAN_PARTS`: phi(mu), Gaussian-closure mean -
    phi(mu), measured mean - Gaussian-closure mean. cov_parts: (C, 4, N, N) with names
    :data:`COV_PARTS`: Gaussian-closure covariance, the kappa3 and kappa4 terms (quadratic
    activation; zero otherwise), and the rest of the measured covariance (zero to rounding for
    the quadratic). The parts sum to the measured moments.
    """

    frame_axes: ClassVar[dict] = {
        "cov_parts": ("class", "cov_part", "unit_i", "unit_j"),
        "mean_parts": ("class", "mean_part", "unit_i")}

    mean_parts: jax.Array
    cov_parts: jax.Array

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"mean_part": MEAN_PARTS, "cov_part": COV_PARTS}

    def norms(self):
        """Euclidean / Frobenius norm of each part: (C, 3) and (C, 4)."""
        return (jnp.sqrt(jnp.sum(self.mean_parts**2, -1)),
                jnp.sqrt(jnp.sum(self.cov_parts**2, (-2, -1))))


@partial(jax.jit, static_argnums=(0, 1))
def _breakdown(name: str, alpha: float, pre: Cumulants, post: Cumulants) -> CumulantBreakdown:
    phi = activation(name, alpha)
    g_mean, g_cov = _closure_moments(name, pre.mean, pre.cov, alpha)
    if name == "quadratic":
        *_, c3, c4 = quadratic_moment_terms(pre.mean, pre.cov, pre.k3, pre.k4, alpha)
    else:
        c3 = c4 = jnp.zeros_like(g_cov)
    mean_parts = jnp.stack([phi(pre.mean), g_mean - phi(pre.mean), post.mean - g_mean], -2)
    cov_parts = jnp.stack([g_cov, c3, c4, post.cov - g_cov - c3 - c4], -3)
    return CumulantBreakdown(mean_parts, cov_parts)


def cumulant_breakdown(
    activation: str, alpha: float, pre: Cumulants, post: Cumulants
) -> CumulantBreakdown:
    """Split the measured moments of phi(z) into parts by the cumulant order of z (jitted).

    Args:
      activation: one of :data:`CLOSURE_ACTIVATIONS`; alpha: its quadratic coefficient.
      pre: cumulants of z: mean (C, N), cov, k3, k4 (C, N, N).
      post: measured cumulants of phi(z), same shapes.

    Returns:
      :class:`CumulantBreakdown` of ``post``'s mean and covariance.
    """
    check_activation(activation, alpha, CLOSURE_ACTIVATIONS)
    check_cumulants(pre, "pre")
    check_cumulants(post, "post")
    if post.cov.shape != pre.cov.shape:
        raise JaxinterInputError(
            f"post: expected the shapes of pre, mean {pre.mean.shape} and cov {pre.cov.shape}, "
            f"got {post.mean.shape} and {post.cov.shape}"
        )
    return _breakdown(activation, float(alpha), pre, post)


def stack_breakdowns(stack: DenseStack, measured: StackCumulants) -> list[CumulantBreakdown]:
    """:func:`cumulant_breakdown` of every hidden layer 1..depth, from measured cumulants."""
    check_stack(stack)
    check_instance(measured, "measured", StackCumulants)
    return [cumulant_breakdown(stack.activation, stack.alpha, measured.preactivations[l],
                               measured.features[l + 1]) for l in range(stack.depth)]


# ---------------------------------------------------------------------------------------------
# Gaussian surrogates


def _class_draws(eps, means, factors, labels) -> jax.Array:
    """One draw per label from N(means[c], factors[c] factors[c]^T) of its class c: (n, N),
    from standard normal noise eps (n, N)."""
    noise = jnp.einsum("sj,cij->csi", eps, factors)  # (C, n, N): no (n, N, N) gather
    return means[labels] + noise[labels, jnp.arange(labels.shape[0])]


def class_gaussian_samples(key, cumulants: Cumulants, labels) -> jax.Array:
    """One sample per label from N(mean_c, cov_c) of its class c (jitted).

    Args:
      key: PRNG key.
      cumulants: class cumulants with mean (C, N) and cov (C, N, N).
      labels: (n,) classes.

    Returns:
      (n, N) samples (negative covariance eigenvalues clipped to 0).
    """
    check_key(key)
    check_instance(cumulants, "cumulants", Cumulants)
    labels = check_labels(labels, num_classes=cumulants.mean.shape[0])
    return _class_gaussian_samples(key, cumulants, jnp.asarray(labels))


@jax.jit
def _class_gaussian_samples(key, cumulants: Cumulants, labels) -> jax.Array:
    factors = jax.vmap(gaussian_factor)(cumulants.cov)
    eps = jax.random.normal(key, (labels.shape[0], cumulants.mean.shape[-1]),
                            cumulants.mean.dtype)
    return _class_draws(eps, cumulants.mean, factors, labels)


def _accuracy(logits, labels):
    return jnp.mean((jnp.argmax(logits, -1) == labels).astype(logits.dtype))


@partial(jax.jit, static_argnums=5)
def _surrogate_draws(stack: DenseStack, features, cumulants, labels, key, repeats: int):
    """(layers,) accuracy with each feature layer replaced by class-wise Gaussian draws.

    One normal draw per repeat covers every layer (one random-number program to compile)."""
    factors = [jax.vmap(gaussian_factor)(c.cov) for c in cumulants]
    splits = np.cumsum([c.mean.shape[-1] for c in cumulants])[:-1].tolist()

    def score(k):
        eps = jax.random.normal(k, (labels.shape[0], sum(f.shape[-1] for f in factors)),
                                features[0].dtype)
        return jnp.stack([
            _accuracy(_apply_from(stack, layer, _class_draws(e, c.mean, f, labels)), labels)
            for layer, (e, c, f) in enumerate(zip(jnp.split(eps, splits, axis=-1), cumulants,
                                                  factors, strict=True))])

    return jnp.mean(jax.lax.map(score, jax.random.split(key, repeats)), 0)


def _surrogate_stage(stack, x, labels, num_classes, key, repeats):
    """(features, measured cumulants, real accuracy, surrogate accuracy), one program after the
    other: XLA:CPU can wedge when a loop runs next to independent work in one program."""
    features, measured = jax.block_until_ready(_measure_stack(stack, x, labels, num_classes))
    surrogate = jax.block_until_ready(
        _surrogate_draws(stack, features, measured.features, labels, key, repeats))
    return features, measured, _accuracy(features[-1], labels), surrogate


def gaussian_surrogate_accuracy(stack: DenseStack, x, labels, num_classes: int, key,
                                repeats: int = 3):
    """Accuracy when one feature layer is replaced by class-wise Gaussian surrogates.

    The surrogate of layer l keeps each class's mean and covariance of that layer on
    (x, labels) and is run through the rest of the stack.

    Args:
      stack: the network.
      x: (n, ...) inputs with N_0 features each; labels: (n,) classes, each at least twice.
      num_classes: C.
      key: PRNG key, split into one key per repeat (one normal draw covers every layer).
      repeats: surrogate draws per layer, averaged.

    Returns:
      (real accuracy (), surrogate accuracy (layers,)) for the layers input, hidden..., logits.
    """
    check_stack(stack)
    check_int(repeats, "repeats", 1)
    check_key(key)
    x, labels = check_class_samples(_check_inputs(stack, x), labels, num_classes)
    _, _, real, surrogate = _surrogate_stage(stack.astype(x.dtype), x, jnp.asarray(labels),
                                             num_classes, key, repeats)
    return real, surrogate


def gaussian_surrogate_data(key, x, labels, num_classes: int) -> np.ndarray:
    """Replace every sample by a draw from its class's Gaussian (same mean and covariance).

    Args:
      key: PRNG key.
      x: (n, ...) samples; labels: (n,) classes, each at least twice.
      num_classes: C.

    Returns:
      float32 array of x's shape (statistics taken in float64), e.g. to train on.
    """
    check_key(key)
    check_real_dtype(x, "x")
    with jax.enable_x64(True):
        cum = class_cumulants(np.asarray(x, np.float64), labels, num_classes)
        draws = class_gaussian_samples(key, cum, jnp.asarray(labels))
    return np.asarray(draws, np.float32).reshape(np.shape(x))


# ---------------------------------------------------------------------------------------------
# XOR


def xor_mixture(noise: float):
    """The XOR task as two Gaussian mixtures of two blobs each.

    Class 0 = same signs ((1, 1), (-1, -1)), class 1 = opposite signs; both class means are
    zero, so the class information is in the covariance.

    Args:
      noise: standard deviation of every blob.

    Returns:
      (weights (2, 2), means (2, 2, 2), covs (2, 2, 2, 2)) indexed [class, component, ...].
    """
    check_number(noise, "noise", 0)
    means = np.array([[[1, 1], [-1, -1]], [[1, -1], [-1, 1]]], float)
    covs = np.broadcast_to(noise**2 * np.eye(2), (2, 2, 2, 2))
    return np.full((2, 2), 0.5), means, covs


def layer_mixture_cumulants(weights, means, covs, kernel, bias) -> Cumulants:
    """Exact class cumulants of z = x K + b when each class of x is a Gaussian mixture.

    Args:
      weights: (C, K) component weights; means: (C, K, N_in); covs: (C, K, N_in, N_in).
      kernel: (N_in, N_out); bias: (N_out,).

    Returns:
      :class:`Cumulants` of z with a leading class axis C.
    """
    weights, means, covs = check_mixture(weights, means, covs, batch=1)
    z_means, z_covs = linear_moments(means, covs, kernel, bias)
    return jax.vmap(mixture_cumulants_kernel)(weights, z_means, z_covs)


def xor_monte_carlo(n_per_class: int, noise: float, seed: int = 0):
    """Samples of the XOR data loader (:func:`jaxinter.data.load_dataset` ``("xor")``).

    Args:
      n_per_class: samples per class; noise: blob standard deviation; seed: the loader's seed.

    Returns:
      (x (2 n_per_class, 2), labels (2 n_per_class,)).
    """
    check_int(n_per_class, "n_per_class", 2)
    check_number(noise, "noise", 0)
    check_seed(seed)
    ds = load_dataset("xor", n_train=2 * n_per_class, n_test=4, std=noise, seed=seed)
    return ds.x_train, ds.y_train


@struct.dataclass
class XorClosureCheck:
    """Moments of a quadratic layer's units on the XOR task; every field is (2 classes, U units).

    exact_mean, exact_var: exact mixture cumulants through the exact quadratic map;
    closure_mean, closure_var: the same mean and covariance with kappa3 = kappa4 = 0;
    mc_mean, mc_var: Monte Carlo from samples of the XOR data loader;
    pre_var, k4_diag: exact variance and kappa_iiii of the pre-activation.
    """

    frame_axes: ClassVar[dict] = {
        "exact_mean": ("class", "unit"), "exact_var": ("class", "unit"),
        "closure_mean": ("class", "unit"), "closure_var": ("class", "unit"),
        "mc_mean": ("class", "unit"), "mc_var": ("class", "unit"),
        "pre_var": ("class", "unit"), "k4_diag": ("class", "unit")}

    exact_mean: jax.Array
    exact_var: jax.Array
    closure_mean: jax.Array
    closure_var: jax.Array
    mc_mean: jax.Array
    mc_var: jax.Array
    pre_var: jax.Array
    k4_diag: jax.Array


def xor_closure_check(kernel, bias, alpha: float, noise: float, n_mc: int = 200_000,
                      seed: int = 0) -> XorClosureCheck:
    """Exact, Gaussian-closure and Monte Carlo moments of a quadratic layer on the XOR task.

    Computed in float64.

    Args:
      kernel: (2, U) first-layer kernel; bias: (U,).
      alpha: the quadratic coefficient.
      noise: standard deviation of the four blobs.
      n_mc: Monte Carlo samples per class; seed: their seed.

    Returns:
      :class:`XorClosureCheck` with host arrays (2, U).
    """
    check_int(n_mc, "n_mc", 2)
    check_activation("quadratic", alpha)
    for value, name in ((kernel, "kernel"), (bias, "bias")):
        check_real_dtype(value, name)
        check_finite(value, name)
    x, y = xor_monte_carlo(n_mc, noise, seed)
    with jax.enable_x64(True):
        kernel, bias = jnp.asarray(kernel, jnp.float64), jnp.asarray(bias, jnp.float64)
        if kernel.ndim != 2 or kernel.shape[0] != 2 or bias.shape != kernel.shape[1:]:
            raise JaxinterInputError(
                f"kernel, bias: expected shapes (2, U) and (U,), got {kernel.shape} and "
                f"{bias.shape}")
        z = jnp.asarray(x, jnp.float64) @ kernel + bias
        cum = class_cumulants(activation("quadratic", alpha)(z), y, 2)
        check = _xor_moments(kernel, bias, float(alpha), float(noise), cum.mean, cum.cov)
        return jax.tree.map(np.asarray, check)


@partial(jax.jit, static_argnums=(2, 3))
def _xor_moments(kernel, bias, alpha: float, noise: float, mc_mean, mc_cov) -> XorClosureCheck:
    pre = layer_mixture_cumulants(*xor_mixture(noise), kernel, bias)
    ex_m, ex_c = quadratic_moments(pre.mean, pre.cov, pre.k3, pre.k4, alpha)
    cl_m, cl_c = _closure_moments("quadratic", pre.mean, pre.cov, alpha)
    return XorClosureCheck(ex_m, _diag(ex_c), cl_m, _diag(cl_c), mc_mean, _diag(mc_cov),
                           _diag(pre.cov), _diag(pre.k4))


def mean_cov_separation(cumulants: Cumulants):
    """How much class information sits in the mean vs. the covariance of a layer (jitted).

    mean: ||mu_c - mu_0||^2 / tr(mean cov); cov: ||Sigma_c - Sigma_0||_F / ||mean cov||_F,
    averaged over the classes c >= 1 (one term for two classes).

    Args:
      cumulants: class cumulants with mean (C, N) and cov (C, N, N), C >= 2.

    Returns:
      (mean separation (), covariance separation ()).
    """
    return _mean_cov_separation(check_instance(cumulants, "cumulants", Cumulants))


@jax.jit
def _mean_cov_separation(cumulants: Cumulants):
    cov_avg = jnp.mean(cumulants.cov, 0)
    dm = cumulants.mean[1:] - cumulants.mean[0]
    dc = cumulants.cov[1:] - cumulants.cov[0]
    tiny = jnp.finfo(cov_avg.dtype).tiny
    mean_sep = jnp.mean(jnp.sum(dm**2, -1)) / jnp.maximum(jnp.trace(cov_avg), tiny)
    cov_sep = jnp.mean(jnp.sqrt(jnp.sum(dc**2, (-2, -1)))) / jnp.maximum(
        jnp.sqrt(jnp.sum(cov_avg**2)), tiny)
    return mean_sep, cov_sep


def stack_mean_cov_separation(measured: StackCumulants) -> np.ndarray:
    """:func:`mean_cov_separation` of every feature layer, in float64.

    Returns:
      (layers, 2) host array: [mean separation, covariance separation] per layer.
    """
    check_instance(measured, "measured", StackCumulants)
    with jax.enable_x64(True):
        return np.array([[float(v) for v in mean_cov_separation(c)] for c in measured.features])


# ---------------------------------------------------------------------------------------------
# one call from a trained stack to every measurement


@struct.dataclass
class CorrelationAnalysis:
    """Every correlation-function measurement of a dense stack on one data set.

    L = depth + 2 feature layers (input, hidden_1..hidden_depth, logits), C classes.

    layers: the L layer names; activation: the stack's activation (static fields).
    accuracy: () real accuracy of the stack.
    surrogate_accuracy: (L,) accuracy with layer l replaced by class-wise Gaussian surrogates.
    measured: :class:`StackCumulants` of every layer.
    For activations in :data:`CLOSURE_ACTIVATIONS` (None otherwise):
    closure: :class:`StackMoments` predicted from the input statistics alone;
    closure_mean_error, closure_cov_error: (L, C) relative errors of that prediction;
    local_mean_error, local_cov_error: (depth, C) one-layer closure errors (hidden layers);
    mean_part_norms: (depth, C, 3) and cov_part_norms: (depth, C, 4) norms of the parts
    :data:`MEAN_PARTS` / :data:`COV_PARTS` of every hidden layer (:class:`CumulantBreakdown`).
    For activations in :data:`EXACT_ACTIVATIONS` (None otherwise):
    exact_cov_error: (L, C) error of the exact propagation with measured kappa3/kappa4 (a
    rounding check).
    """

    frame_axes: ClassVar[dict] = {
        "closure_mean_error": ("layer", "class"), "closure_cov_error": ("layer", "class"),
        "exact_cov_error": ("layer", "class"), "surrogate_accuracy": ("layer",),
        "accuracy": (), "local_mean_error": ("hidden_layer", "class"),
        "local_cov_error": ("hidden_layer", "class"),
        "mean_part_norms": ("hidden_layer", "class", "mean_part"),
        "cov_part_norms": ("hidden_layer", "class", "cov_part")}

    layers: tuple = struct.field(pytree_node=False)
    activation: str = struct.field(pytree_node=False)
    accuracy: jax.Array
    surrogate_accuracy: jax.Array
    measured: StackCumulants
    closure: StackMoments | None = None
    closure_mean_error: jax.Array | None = None
    closure_cov_error: jax.Array | None = None
    local_mean_error: jax.Array | None = None
    local_cov_error: jax.Array | None = None
    mean_part_norms: jax.Array | None = None
    cov_part_norms: jax.Array | None = None
    exact_cov_error: jax.Array | None = None

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"layer": self.layers, "hidden_layer": self.layers[1:-1],
                "mean_part": MEAN_PARTS, "cov_part": COV_PARTS}

    @property
    def has_closure(self) -> bool:
        """Whether the closure fields are set (activation in :data:`CLOSURE_ACTIVATIONS`)."""
        return self.closure is not None

    def part_shares(self):
        """Class-averaged share of each part's norm: (depth, 3) mean and (depth, 4) cov parts."""
        def share(norms):
            norms = np.asarray(norms)
            return (norms / np.maximum(norms.sum(-1, keepdims=True), 1e-300)).mean(1)

        return share(self.mean_part_norms), share(self.cov_part_norms)


def _closure_fields(stack: DenseStack, measured: StackCumulants) -> dict:
    inp = measured.features[0]
    closure = _propagate(stack, inp.mean, inp.cov, None)
    norms = [b.norms() for b in stack_breakdowns(stack, measured)]
    return dict(
        zip(("closure_mean_error", "closure_cov_error"),
            moment_prediction_errors(closure, measured), strict=True),
        **dict(zip(("local_mean_error", "local_cov_error"),
                   local_closure_errors(stack, measured), strict=True)),
        closure=closure,
        mean_part_norms=jnp.stack([m for m, _ in norms]),
        cov_part_norms=jnp.stack([c for _, c in norms]),
    )


@jax.jit
def _moment_stage(stack: DenseStack, measured: StackCumulants) -> dict:
    """Closure and exact-propagation fields of :class:`CorrelationAnalysis` (no loops)."""
    fields = {}
    if stack.activation in CLOSURE_ACTIVATIONS:
        fields.update(_closure_fields(stack, measured))
    if stack.activation in EXACT_ACTIVATIONS:
        inp = measured.features[0]
        higher = tuple((p.k3, p.k4) for p in measured.preactivations[:-1])
        exact = _propagate(stack, inp.mean, inp.cov, higher)
        fields["exact_cov_error"] = moment_prediction_errors(exact, measured)[1]
    return fields


def analyse_correlations(
    stack: DenseStack, x, labels, num_classes: int, key, repeats: int = 3
) -> CorrelationAnalysis:
    """Every correlation-function measurement of a dense stack on (x, labels), in float64.

    Three jitted programs run one after the other: measured cumulants of every layer; the
    Gaussian-surrogate accuracy; the closure prediction from the input statistics and its
    errors, the one-layer closure errors and the cumulant-order breakdown (closed-form
    activations) and the exact propagation (quadratic and linear).

    Args:
      stack: the network (e.g. from :func:`dense_stack_from_mlp`).
      x: (n, ...) inputs with N_0 features each; labels: (n,) classes, each at least twice.
      num_classes: C.
      key: PRNG key of the surrogate draws.
      repeats: surrogate draws per layer, averaged.

    Returns:
      :class:`CorrelationAnalysis` with host (numpy) arrays.
    """
    check_stack(stack)
    check_int(repeats, "repeats", 1)
    check_key(key)
    with jax.enable_x64(True):
        x, labels = check_class_samples(_check_inputs(stack, x), labels, num_classes)
        stack = stack.astype(jnp.float64)
        _, measured, real, surrogate = _surrogate_stage(stack, x.astype(jnp.float64),
                                                        jnp.asarray(labels), num_classes, key,
                                                        repeats)
        result = CorrelationAnalysis(tuple(stack.layer_names()), stack.activation, real,
                                     surrogate, measured, **_moment_stage(stack, measured))
        return jax.tree.map(np.asarray, result)
