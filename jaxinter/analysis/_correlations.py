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
cumulants, the Gaussian-surrogate experiment, and the XOR task. Shapes: a leading class axis
(C, ...) is allowed everywhere; every function keeps the input dtype (use
``jax.enable_x64(True)`` for float64, as :func:`analyse_correlations` does).
"""

from __future__ import annotations

import re
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import erf, ndtr

from ..errors import JaxinterInputError
from ..models._common import activation as model_activation
from ._cumulants import Cumulants, class_cumulants, gaussian_samples, mixture_cumulants, wide_float

ACTIVATIONS = ("linear", "relu", "erf", "tanh", "quadratic")
CLOSED_FORM = ("linear", "relu", "erf", "quadratic")  # activations with Gaussian-closure moments
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)
_GL_NODES, _GL_WEIGHTS = (_GL_NODES + 1) / 2, _GL_WEIGHTS / 2  # on [0, 1]


def _diag(cov):
    return jnp.diagonal(cov, axis1=-2, axis2=-1)


def _outer(a, b):
    return a[..., :, None] * b[..., None, :]


def _transpose(m):
    return jnp.swapaxes(m, -1, -2)


# ---------------------------------------------------------------------------------------------
# moment maps of single layers


def linear_moments(mean, cov, kernel, bias):
    """z = h K + b: mean (..., N_in) -> (..., N_out), cov (..., N_in, N_in) -> (..., N_out, N_out).
    """
    return mean @ kernel + bias, _transpose(kernel) @ cov @ kernel


def quadratic_terms(mean, cov, k3, k4, alpha):
    """Parts of the moments of phi(z) = z + alpha z^2 (exact; DESIGN 3.7).

    Returns (mean_from_mean, mean_from_cov, cov_order2, cov_k3, cov_k4); the output mean is the
    sum of the first two, the output covariance the sum of the last three:
    mean_i = mu_i + alpha mu_i^2 + alpha Sigma_ii,
    cov_ij = a_i a_j Sigma_ij + 2 alpha^2 Sigma_ij^2 + alpha (a_i k3_ij + a_j k3_ji)
             + alpha^2 k4_ij,  a = 1 + 2 alpha mu.
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


def quadratic_moments(mean, cov, k3, k4, alpha):
    """Exact mean and covariance of z + alpha z^2 from z's mean, cov, kappa_ijj, kappa_iijj."""
    m_mean, m_cov, c2, c3, c4 = quadratic_terms(mean, cov, k3, k4, alpha)
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
    """Mean and covariance of relu(z) for z ~ N(mean, cov) (Gaussian closure, closed form).

    Off-diagonal: E[relu(z_i) relu(z_j)] = (mu_i mu_j + rho s_i s_j) Phi2(h_i, h_j; rho)
      + mu_i s_j phi(h_j) Phi(g_ij) + mu_j s_i phi(h_i) Phi(g_ji)
      + s_i s_j sqrt(1 - rho^2) phi(h_i) phi(g_ji),
    with h = mu / s and g_ij = (h_i - rho h_j) / sqrt(1 - rho^2);
    which is the arc-cosine kernel at mu = 0. Zero-variance units are treated as constants.
    """
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
    n = mean.shape[-1]
    eye = jnp.eye(n, dtype=bool)
    both = _outer(live, live)
    cov_out = jnp.where(eye, second[..., :, None] - _outer(out_mean, out_mean),
                        cross - _outer(out_mean, out_mean))
    return out_mean, jnp.where(both, cov_out, 0.0)


def erf_gaussian_moments(mean, cov):
    """Mean and covariance of erf(z) for z ~ N(mean, cov) (Gaussian closure).

    mean: erf(mu / sqrt(1 + 2 s^2)). cov_ij = (2/pi) int_0^{theta} exp(-(x_i^2 - 2 x_i x_j sin t
    + x_j^2) / (2 cos^2 t)) dt with x = mu sqrt(2 / (1 + 2 s^2)) and sin theta =
    2 Sigma_ij / sqrt((1 + 2 Sigma_ii)(1 + 2 Sigma_jj)) (Price's theorem); at mu = 0 this is the
    arcsine kernel (2/pi) asin(...). Valid on the diagonal too.
    """
    q = 1 + 2 * jnp.clip(_diag(cov), 0.0)
    x = mean * jnp.sqrt(2 / q)
    sin_max = 2 * cov / jnp.sqrt(_outer(q, q))
    return erf(mean / jnp.sqrt(q)), 2 / jnp.pi * _plackett(x[..., :, None], x[..., None, :],
                                                          sin_max)


def gaussian_closure_moments(activation: str, mean, cov, alpha: float = 0.0):
    """Mean and covariance of phi(z), z ~ N(mean, cov), for a closed-form activation."""
    if activation == "linear":
        return mean, cov
    if activation == "quadratic":
        zeros = jnp.zeros_like(cov)
        return quadratic_moments(mean, cov, zeros, zeros, alpha)
    if activation == "relu":
        return relu_gaussian_moments(mean, cov)
    if activation == "erf":
        return erf_gaussian_moments(mean, cov)
    raise JaxinterInputError(
        f"activation: Gaussian-closure moments exist for {CLOSED_FORM}, got {activation!r}"
    )


# ---------------------------------------------------------------------------------------------
# dense stacks


def activation_fn(activation: str, alpha: float = 0.0):
    """The elementwise nonlinearity of a stack (the models' :func:`jaxinter.models.activation`)."""
    return model_activation(activation, alpha)


@struct.dataclass
class DenseStack:
    """A dense network: hidden layers h_{l+1} = phi(h_l K_l + b_l), then linear logits.

    kernels: tuple of (N_l, N_{l+1}) arrays (flax convention), biases: tuple of (N_{l+1},).
    Feature layers are numbered 0 (flattened input), 1..depth (hidden outputs), depth+1 (logits).
    """

    kernels: tuple
    biases: tuple
    activation: str = struct.field(pytree_node=False)
    alpha: float = struct.field(pytree_node=False, default=0.0)

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


def _layer(stack: DenseStack, l: int, h):
    """Feature layer l -> pre-activation and output of layer l + 1."""
    z = h @ stack.kernels[l] + stack.biases[l]
    return z, (z if l == stack.depth else activation_fn(stack.activation, stack.alpha)(z))


@jax.jit
def stack_features(stack: DenseStack, x):
    """All feature layers and all pre-activations of x (n, ...): (features, preactivations).

    features: [input (n, N_0), hidden outputs..., logits]; preactivations: [z_1, ..., logits].
    """
    h = x.reshape(x.shape[0], -1)
    features, pre = [h], []
    for l in range(stack.depth + 1):
        z, h = _layer(stack, l, h)
        pre.append(z)
        features.append(h)
    return features, pre


@partial(jax.jit, static_argnums=1)
def apply_stack_from(stack: DenseStack, layer: int, h):
    """Run feature layer ``layer`` (n, N_layer) through the rest of the stack -> logits."""
    for l in range(layer, stack.depth + 1):
        _, h = _layer(stack, l, h)
    return h


def dense_stack_from_mlp(model, variables=None) -> DenseStack:
    """The stack of a :class:`jaxinter.models.MLP` (Linen, with ``variables``) or NNX ``MLP``.

    Eval-mode batch norm (running statistics) is folded into the preceding kernel and bias.
    """
    if variables is None:
        from ..models import nnx_to_linen

        variables = nnx_to_linen(model)
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
    return DenseStack(tuple(kernels), tuple(biases), model.activation,
                      float(model.alpha) if model.activation == "quadratic" else 0.0)


def _numbered(tree, prefix: str) -> dict:
    """Sub-dicts named ``prefix<i>`` or ``prefix_<i>``, keyed by the integer i."""
    found = (re.fullmatch(rf"{prefix}_?(\d+)", str(k)) for k in tree)
    return {int(m.group(1)): tree[m.group(0)] for m in found if m}


# ---------------------------------------------------------------------------------------------
# propagation through a stack


@struct.dataclass
class Moments:
    """Predicted class means (C, N_l) and covariances (C, N_l, N_l), one per feature layer."""

    means: tuple
    covs: tuple


@jax.jit
def propagate_moments(stack: DenseStack, mean, cov, higher=None) -> Moments:
    """Predict every feature layer's moments from the input mean (C, N_0) and cov (C, N_0, N_0).

    higher=None: Gaussian closure at every nonlinearity (input statistics alone). For the
    quadratic or linear activation, ``higher`` = tuple of (k3, k4) slices of every hidden
    pre-activation (e.g. measured) gives the exact moments instead.
    """
    means, covs = [mean], [cov]
    for l in range(stack.depth + 1):
        mean, cov = linear_moments(mean, cov, stack.kernels[l], stack.biases[l])
        if l < stack.depth:
            if higher is None:
                mean, cov = gaussian_closure_moments(stack.activation, mean, cov, stack.alpha)
            elif stack.activation == "quadratic":
                mean, cov = quadratic_moments(mean, cov, *higher[l], stack.alpha)
            elif stack.activation != "linear":
                raise JaxinterInputError(
                    "higher: exact propagation needs the quadratic or linear activation"
                )
        means.append(mean)
        covs.append(cov)
    return Moments(tuple(means), tuple(covs))


@struct.dataclass
class MeasuredMoments:
    """Class-conditional cumulants of every feature layer and every pre-activation."""

    features: tuple  # Cumulants per feature layer (input, hidden..., logits)
    preactivations: tuple  # Cumulants per pre-activation (hidden..., logits)


def measure_moments(stack: DenseStack, x, labels, num_classes: int) -> MeasuredMoments:
    """Sample cumulants of every layer of ``stack`` on x (n, ...) with labels (n,)."""
    features, pre = stack_features(stack.astype(wide_float()), jnp.asarray(x, wide_float()))
    cum = partial(class_cumulants, labels=labels, num_classes=num_classes)
    return MeasuredMoments(tuple(map(cum, features)), tuple(map(cum, pre)))


def relative_error(pred, true):
    """||pred - true|| / ||true|| over the trailing axes of moments (1 for means, 2 for covs)."""
    axes = tuple(range(1, true.ndim))
    num = jnp.sqrt(jnp.sum((pred - true) ** 2, axis=axes))
    return num / jnp.maximum(jnp.sqrt(jnp.sum(true**2, axis=axes)), jnp.finfo(true.dtype).tiny)


def prediction_errors(pred: Moments, measured: MeasuredMoments):
    """Relative errors (layers, C) of predicted means and covariances against measured ones."""
    pairs = list(zip(pred.means, pred.covs, measured.features, strict=True))
    mean_err = jnp.stack([relative_error(m, true.mean) for m, _, true in pairs])
    cov_err = jnp.stack([relative_error(c, true.cov) for _, c, true in pairs])
    return mean_err, cov_err


# ---------------------------------------------------------------------------------------------
# breakdown into cumulant orders

MEAN_PARTS = ("input mean", "input covariance", "cumulants >= 3")
COV_PARTS = ("mean and covariance (order <= 2)", "kappa3 term", "kappa4 term",
             "other cumulants >= 3")


@struct.dataclass
class CumulantBreakdown:
    """Parts of one hidden layer's output moments, per class.

    mean_parts: (C, 3, N) with names MEAN_PARTS: phi(mu), Gaussian-closure mean - phi(mu),
    measured mean - Gaussian-closure mean. cov_parts: (C, 4, N, N) with names COV_PARTS:
    Gaussian-closure covariance, the kappa3 and kappa4 terms (quadratic activation; zero
    otherwise), and the rest of the measured covariance (zero to rounding for the quadratic).
    Each part sums to the measured moments.
    """

    mean_parts: jax.Array
    cov_parts: jax.Array

    def norms(self):
        """Euclidean / Frobenius norm of each part: (C, 3) and (C, 4)."""
        return (jnp.sqrt(jnp.sum(self.mean_parts**2, -1)),
                jnp.sqrt(jnp.sum(self.cov_parts**2, (-2, -1))))


@partial(jax.jit, static_argnums=(0, 1))
def cumulant_breakdown(
    activation: str, alpha: float, pre: Cumulants, post: Cumulants
) -> CumulantBreakdown:
    """Split the measured moments ``post`` of phi(z) given the cumulants ``pre`` of z."""
    phi = activation_fn(activation, alpha)
    g_mean, g_cov = gaussian_closure_moments(activation, pre.mean, pre.cov, alpha)
    if activation == "quadratic":
        _, _, _, c3, c4 = quadratic_terms(pre.mean, pre.cov, pre.k3, pre.k4, alpha)
    else:
        c3 = c4 = jnp.zeros_like(g_cov)
    mean_parts = jnp.stack([phi(pre.mean), g_mean - phi(pre.mean), post.mean - g_mean], 1)
    cov_parts = jnp.stack([g_cov, c3, c4, post.cov - g_cov - c3 - c4], 1)
    return CumulantBreakdown(mean_parts, cov_parts)


def layer_breakdowns(stack: DenseStack, measured: MeasuredMoments) -> list[CumulantBreakdown]:
    """Breakdown of every hidden layer (feature layers 1..depth), from measured cumulants."""
    return [cumulant_breakdown(stack.activation, stack.alpha, measured.preactivations[l],
                      measured.features[l + 1]) for l in range(stack.depth)]


# ---------------------------------------------------------------------------------------------
# Gaussian surrogates


def class_gaussian_samples(key, cumulants: Cumulants, labels) -> jax.Array:
    """One sample per label from N(mean_c, cov_c) of its class c: (n, N)."""
    keys = jax.random.split(key, cumulants.mean.shape[0])
    n = labels.shape[0]
    draws = jax.vmap(gaussian_samples, (0, 0, 0, None))(keys, cumulants.mean, cumulants.cov, n)
    return draws[labels, jnp.arange(n)]


def surrogate_accuracy(stack: DenseStack, x, labels, num_classes: int, key, repeats: int = 3):
    """Accuracy when feature layer l is replaced by class-wise Gaussian surrogates.

    Returns (real accuracy, (layers,) surrogate accuracy averaged over ``repeats`` draws) for
    every feature layer (input, hidden..., logits); the surrogate keeps each class's mean and
    covariance of that layer on (x, labels) and is run through the rest of the stack.
    """
    stack = stack.astype(wide_float())
    labels = jnp.asarray(labels)
    features, _ = stack_features(stack, jnp.asarray(x, wide_float()))
    real = jnp.mean(jnp.argmax(features[-1], -1) == labels)
    acc = []
    for layer, h in enumerate(features):
        cum = class_cumulants(h, labels, num_classes)
        runs = []
        for k in jax.random.split(jax.random.fold_in(key, layer), repeats):
            logits = apply_stack_from(stack, layer, class_gaussian_samples(k, cum, labels))
            runs.append(jnp.mean(jnp.argmax(logits, -1) == labels))
        acc.append(jnp.mean(jnp.stack(runs)))
    return real, jnp.stack(acc)


# ---------------------------------------------------------------------------------------------
# XOR


def xor_mixture(noise: float):
    """The XOR task as two Gaussian mixtures: blobs at (+-1, +-1) with std ``noise``.

    Class 0 = same signs ((1, 1), (-1, -1)), class 1 = opposite signs. Returns
    (weights (2, 2), means (2, 2, 2), covs (2, 2, 2, 2)) indexed [class, component, ...]; both
    class means are zero, so the class information is in the covariance.
    """
    means = np.array([[[1, 1], [-1, -1]], [[1, -1], [-1, 1]]], float)
    covs = np.broadcast_to(noise**2 * np.eye(2), (2, 2, 2, 2))
    return np.full((2, 2), 0.5), means, covs


def layer_mixture_cumulants(weights, means, covs, kernel, bias) -> Cumulants:
    """Exact class cumulants of z = x K + b when each class of x is a Gaussian mixture."""
    z_means, z_covs = linear_moments(jnp.asarray(means), jnp.asarray(covs), kernel, bias)
    return jax.vmap(mixture_cumulants)(jnp.asarray(weights), z_means, z_covs)


def xor_monte_carlo(n_per_class: int, noise: float, seed: int = 0):
    """Samples of :func:`jaxinter.data.load_dataset` ``("xor")``, n_per_class per class."""
    from ..data import load_dataset

    ds = load_dataset("xor", n_train=2 * n_per_class, n_test=4, std=noise, seed=seed)
    return ds.x_train, ds.y_train


def xor_closure_check(kernel, bias, alpha: float, noise: float, n_mc: int = 200_000,
                      seed: int = 0):
    """Exact, Gaussian-closure and Monte Carlo moments of a quadratic layer on the XOR task.

    Returns (C, N) arrays 'exact_mean'/'exact_var' (exact mixture cumulants through the exact
    quadratic map), 'closure_mean'/'closure_var' (same mean and covariance, kappa3 = kappa4 = 0)
    and 'mc_mean'/'mc_var' (``n_mc`` samples per class drawn by the XOR data loader), plus the
    exact pre-activation variance 'pre_var' and fourth-cumulant diagonal 'k4_diag'.
    """
    weights, means, covs = xor_mixture(noise)
    dtype = wide_float()
    kernel, bias = jnp.asarray(kernel, dtype), jnp.asarray(bias, dtype)
    pre = layer_mixture_cumulants(weights, means, covs, kernel, bias)
    ex_m, ex_c = quadratic_moments(pre.mean, pre.cov, pre.k3, pre.k4, alpha)
    cl_m, cl_c = gaussian_closure_moments("quadratic", pre.mean, pre.cov, alpha)
    x, y = xor_monte_carlo(n_mc, noise, seed)
    cum = class_cumulants(activation_fn("quadratic", alpha)(jnp.asarray(x, dtype) @ kernel + bias),
                          y, 2)
    return {
        "exact_mean": ex_m, "exact_var": _diag(ex_c), "closure_mean": cl_m,
        "closure_var": _diag(cl_c), "mc_mean": cum.mean, "mc_var": _diag(cum.cov),
        "pre_var": _diag(pre.cov), "k4_diag": _diag(pre.k4),
    }


def class_separation(cumulants: Cumulants):
    """How much two-class information sits in the mean vs. the covariance of a layer.

    mean: ||mu_1 - mu_0||^2 / tr(mean cov); cov: ||Sigma_1 - Sigma_0||_F / ||mean cov||_F.
    Works for C >= 2 by comparing every class with class 0 and averaging.
    """
    cov_avg = jnp.mean(cumulants.cov, 0)
    dm = cumulants.mean[1:] - cumulants.mean[0]
    dc = cumulants.cov[1:] - cumulants.cov[0]
    tiny = jnp.finfo(cov_avg.dtype).tiny
    mean_sep = jnp.mean(jnp.sum(dm**2, -1)) / jnp.maximum(jnp.trace(cov_avg), tiny)
    cov_sep = jnp.mean(jnp.sqrt(jnp.sum(dc**2, (-2, -1)))) / jnp.maximum(
        jnp.sqrt(jnp.sum(cov_avg**2)), tiny)
    return mean_sep, cov_sep


# ---------------------------------------------------------------------------------------------
# one call from a trained stack to every measurement


def local_closure_errors(stack: DenseStack, measured: MeasuredMoments):
    """One-layer Gaussian-closure errors (depth, C): each hidden layer's output moments
    predicted from the *measured* mean and covariance of its pre-activation."""
    mean_err, cov_err = [], []
    for l in range(stack.depth):
        pre, post = measured.preactivations[l], measured.features[l + 1]
        m, c = gaussian_closure_moments(stack.activation, pre.mean, pre.cov, stack.alpha)
        mean_err.append(relative_error(m, post.mean))
        cov_err.append(relative_error(c, post.cov))
    return jnp.stack(mean_err), jnp.stack(cov_err)


def analyse_correlations(
    stack: DenseStack, x, labels, num_classes: int, key, repeats: int = 3
) -> dict:
    """Every correlation-function measurement of a dense stack on (x, labels), in float64.

    Returns numpy arrays: ``layers`` names; ``accuracy`` (real) and ``surrogate_accuracy``
    (layers,); for closed-form activations ``closure_mean_error``/``closure_cov_error``
    (layers, C) of the prediction from the input statistics alone, ``local_mean_error``/
    ``local_cov_error`` (depth, C) of one-layer predictions, ``mean_part_norms`` (depth, C, 3)
    and ``cov_part_norms`` (depth, C, 4) (see :class:`CumulantBreakdown`); for the quadratic and
    linear
    activations ``exact_cov_error`` (layers, C) of the exact propagation (a rounding check).
    Also ``measured`` (:class:`MeasuredMoments`) and ``closure`` (:class:`Moments`) for plots.
    """
    with jax.enable_x64(True):
        stack = stack.astype(jnp.float64)
        x = jnp.asarray(x, jnp.float64).reshape(len(x), -1)
        measured = measure_moments(stack, x, labels, num_classes)
        real, surrogate = surrogate_accuracy(stack, x, labels, num_classes, key, repeats)
        out = {"accuracy": real, "surrogate_accuracy": surrogate, "measured": measured}
        inp = measured.features[0]
        if stack.activation in CLOSED_FORM:
            closure = propagate_moments(stack, inp.mean, inp.cov)
            out["closure"] = closure
            out["closure_mean_error"], out["closure_cov_error"] = prediction_errors(closure,
                                                                                    measured)
            out["local_mean_error"], out["local_cov_error"] = local_closure_errors(stack,
                                                                                   measured)
            norms = [b.norms() for b in layer_breakdowns(stack, measured)]
            out["mean_part_norms"] = jnp.stack([m for m, _ in norms])
            out["cov_part_norms"] = jnp.stack([c for _, c in norms])
        if stack.activation in ("quadratic", "linear"):
            higher = tuple((p.k3, p.k4) for p in measured.preactivations[:-1])
            exact = propagate_moments(stack, inp.mean, inp.cov, higher)
            out["exact_cov_error"] = prediction_errors(exact, measured)[1]
        return {"layers": stack.layer_names(), **jax.tree.map(np.asarray, out)}


def gaussian_surrogate_data(key, x, labels, num_classes: int) -> np.ndarray:
    """Replace every sample of x (n, ...) by a draw from its class's Gaussian (same mean and
    covariance, float64 statistics); returns float32 of x's shape, e.g. to train on."""
    with jax.enable_x64(True):
        cum = class_cumulants(np.asarray(x, np.float64), labels, num_classes)
        draws = class_gaussian_samples(key, cum, jnp.asarray(labels))
    return np.asarray(draws, np.float32).reshape(np.shape(x))
