"""Separation fuzziness and the law of data separation (He & Su, PNAS 2023).

For features x_i in R^p with labels y_i in {0..K-1} (n samples, n_k in class k):

    SS_b = (1/n) sum_k n_k (m_k - m)(m_k - m)^T,   SS_w = (1/n) sum_i (x_i - m_{y_i})(...)^T,
    D = Tr(SS_w SS_b^+),

with m the sample-weighted global mean (the mean of all samples, so imbalanced classes are
handled). No p x p matrix is formed: the weighted class-mean matrix M (K, p), rows
sqrt(n_k / n)(m_k - m), has SS_b = M^T M; its thin SVD M = U S V^T gives SS_b^+ = V S^-2 V^T over
the kept directions (s_j > rtol * s_1), hence

    D = sum_j D_j,   D_j = w_j / s_j^2,   w_j = |R v_j|^2 / n = v_j^T SS_w v_j,

with R (n, p) the within-class residuals. Cost O(n p K) time, O(K p) extra memory: the samples
are streamed in chunks (two passes, ``lax.scan``), so a float32 input is never copied to float64.

Precision: the public functions compute in float64 whatever the global ``jax_enable_x64``
setting (they enter ``jax.enable_x64(True)`` internally) and return numpy float64 arrays, which
stay float64 after the call. The per-layer law: ln D_l = beta l + c over layers l = 0 (input),
1, ..., L (logits excluded), decay ratio rho = exp(beta), see :func:`fit_law`;
:func:`layer_separation` measures every captured layer of a model, and
:class:`SeparationTracker` records the law while the model trains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, struct

from ..errors import (
    MAX_CLASSES,
    JaxinterInputError,
    check_bool,
    check_finite,
    check_int,
    check_labels,
    check_mapping,
    check_number,
    check_real_array,
    check_real_dtype,
)
from ..masking import CapturedFn
from ..models import apply_in_batches
from ._tracking import Tracker

RTOL = 1e-6  # directions with s_j <= RTOL * s_1 are treated as zero
ATOL = 1e-12  # ... and those with s_j <= ATOL * RMS sample norm (class means equal to rounding)
CHUNK_ELEMENTS = 2**24  # samples are streamed in chunks of about this many float64 values


@struct.dataclass
class Separation:
    """Separation fuzziness of one feature set; numpy float64 leaves (a pytree).

    r = min(K, p) directions of the class-mean matrix M, sorted by decreasing s_j.

    fuzziness: () D = Tr(SS_w SS_b^+) (inf when all class means coincide: nothing to separate).
    per_direction: (r,) D_j = w_j / s_j^2, zero for dropped directions; sums to ``fuzziness``.
    within: (r,) w_j = v_j^T SS_w v_j, within-class variance along direction j.
    singular_values: (r,) s_j of M, so s_j^2 are the nonzero eigenvalues of SS_b.
    kept: (r,) bool, s_j > rtol * s_1 and s_j > 1e-12 * RMS sample norm (float64 rounding of the
        class means). At most K - 1 directions are kept.
    rank: () number of kept directions.
    condition: () s_1 / s_min over the kept directions (conditioning of the class-mean matrix).
    counts: (K,) samples per class.
    trace_within, trace_between: () Tr(SS_w), Tr(SS_b).
    """

    frame_axes: ClassVar[dict] = {
        "per_direction": ("direction",), "within": ("direction",),
        "singular_values": ("direction",), "kept": ("direction",), "fuzziness": (),
        "rank": (), "condition": (), "trace_within": (), "trace_between": (),
        "counts": ("class",)}

    fuzziness: np.ndarray
    per_direction: np.ndarray
    within: np.ndarray
    singular_values: np.ndarray
    kept: np.ndarray
    rank: np.ndarray
    condition: np.ndarray
    counts: np.ndarray
    trace_within: np.ndarray
    trace_between: np.ndarray


# ---------------------------------------------------------------------------------------------
# kernel (pure, jit- and vmap-able; computes in the dtype it is given)


def _chunked(x, labels, chunk: int, pad_label: int):
    """(n, p), (n,) -> (c, chunk, p), (c, chunk): zero rows with label ``pad_label`` appended."""
    n, p = x.shape
    c = -(-n // chunk)
    pad = c * chunk - n
    if pad:
        x = jnp.concatenate([x, jnp.zeros((pad, p), x.dtype)])
        labels = jnp.concatenate([labels, jnp.full((pad,), pad_label, labels.dtype)])
    return x.reshape(c, chunk, p), labels.reshape(c, chunk)


@partial(jax.jit, static_argnames=("num_classes", "chunk", "dtype"))
def _separation_kernel(x, labels, rtol, *, num_classes: int, chunk: int, dtype):
    """Separation statistics of x (n, p) with labels (n,) in [0, K); arrays, not validated."""
    n, p = x.shape
    xs, ys = _chunked(x, labels, chunk, pad_label=num_classes)  # padded rows: one_hot == 0

    def class_sums(carry, batch):
        xc, yc = batch
        onehot = jax.nn.one_hot(yc, num_classes, dtype=dtype)  # (chunk, K)
        return (carry[0] + onehot.T @ xc.astype(dtype), carry[1] + onehot.sum(0)), None

    zeros = (jnp.zeros((num_classes, p), dtype), jnp.zeros((num_classes,), dtype))
    (sums, counts), _ = jax.lax.scan(class_sums, zeros, (xs, ys))
    means = sums / jnp.maximum(counts, 1)[:, None]  # (K, p); empty classes get weight 0
    weights = counts / n
    centered = means - weights @ means  # sample-weighted global mean
    m = jnp.sqrt(weights)[:, None] * centered  # (K, p), SS_b = m.T @ m
    _, s, vt = jnp.linalg.svd(m, full_matrices=False)  # s: (r,), vt: (r, p)

    def residual_moments(carry, batch):
        xc, yc = batch
        valid = (yc < num_classes)[:, None]
        resid = jnp.where(valid, xc.astype(dtype) - means[jnp.minimum(yc, num_classes - 1)], 0)
        proj = resid @ vt.T  # (chunk, r)
        return (carry[0] + jnp.sum(proj**2, 0), carry[1] + jnp.sum(resid**2)), None

    zeros = (jnp.zeros(s.shape, dtype), jnp.zeros((), dtype))
    (proj_sq, resid_sq), _ = jax.lax.scan(residual_moments, zeros, (xs, ys))
    within = proj_sq / n
    # mean squared norm of the samples = Tr(SS_w) + Tr(SS_b) + |global mean|^2
    scale = jnp.sqrt(resid_sq / n + jnp.sum(s**2) + jnp.sum((weights @ means) ** 2))
    kept = (s > rtol * s[0]) & (s > ATOL * scale)
    per_direction = jnp.where(kept, within / jnp.where(kept, s, 1) ** 2, 0)
    rank = jnp.sum(kept)
    s_min = jnp.min(jnp.where(kept, s, jnp.inf))
    return Separation(
        fuzziness=jnp.where(rank > 0, jnp.sum(per_direction), jnp.inf),
        per_direction=per_direction,
        within=within,
        singular_values=s,
        kept=kept,
        rank=rank,
        condition=s[0] / s_min,
        counts=counts,
        trace_within=resid_sq / n,
        trace_between=jnp.sum(s**2),
    )


# ---------------------------------------------------------------------------------------------
# validation


def _check_features(features, name: str, check_values: bool) -> jax.Array:
    """(n, ...) real array -> (n, p) jax array (dtype kept)."""
    shape, _ = check_real_array(features, name)
    if len(shape) < 2 or not math.prod(shape):
        raise JaxinterInputError(
            f"{name}: expected shape (n_samples, ...features) with n_samples >= 1 and at least "
            f"one feature, got {shape}"
        )
    x = features if isinstance(features, jax.Array) else jnp.asarray(np.asarray(features))
    if check_values:
        check_finite(x, name)
    return x.reshape(x.shape[0], -1)


def _check_labels(labels, n: int, num_classes: int | None) -> tuple[np.ndarray, int]:
    """Labels -> (int32 numpy (n,), K); at least two classes must be present."""
    num_classes = check_int(num_classes, "num_classes", 1, MAX_CLASSES, optional=True)
    y = check_labels(labels, num_samples=n)
    k = int(y.max()) + 1 if num_classes is None else num_classes
    check_labels(y, num_classes=k)
    present = np.unique(y).size
    if present < 2:
        raise JaxinterInputError(
            f"labels: separation needs samples from at least two classes, got {present}"
        )
    return y.astype(np.int32), k


def _chunk_size(n: int, p: int, chunk_size: int | None) -> int:
    if check_int(chunk_size, "chunk_size", 1, optional=True) is not None:
        return min(int(chunk_size), n)
    return max(1, min(n, CHUNK_ELEMENTS // p))


def _to_numpy(result: Separation) -> Separation:
    return jax.tree.map(np.asarray, jax.device_get(result))


# ---------------------------------------------------------------------------------------------
# public API


def separation_statistics(
    features, labels, num_classes: int | None = None, *, rtol: float = RTOL,
    chunk_size: int | None = None, check_values: bool = True,
) -> Separation:
    """Separation statistics of one layer: D, its per-direction breakdown, conditioning.

    features: (n, ...) real array (flattened to (n, p)); labels: (n,) ints in [0, K).
    num_classes: K (default max(labels) + 1). rtol: relative singular-value cutoff.
    chunk_size: samples per streamed chunk (default: about 2**24 values per chunk).
    Computed in float64 regardless of ``jax_enable_x64``; returns numpy float64 leaves.
    """
    check_number(rtol, "rtol", 0, 1, low_open=True)
    check_bool(check_values, "check_values")
    with jax.enable_x64(True):  # also while converting: numpy float64 input stays float64
        x = _check_features(features, "features", check_values)
        y, k = _check_labels(labels, x.shape[0], num_classes)
        chunk = _chunk_size(*x.shape, chunk_size)
        result = _separation_kernel(
            x, jnp.asarray(y), jnp.float64(rtol), num_classes=k, chunk=chunk, dtype=jnp.float64
        )
        return _to_numpy(result)


def separation_fuzziness(features, labels, num_classes: int | None = None, **kwargs) -> float:
    """D = Tr(SS_w SS_b^+) of features (n, ...) with labels (n,), as a Python float (float64).

    Exact O(n p K) algorithm, no p x p matrix; see :func:`separation_statistics` for the options
    and the
    full result (per-direction breakdown, class-mean conditioning).
    """
    return float(separation_statistics(features, labels, num_classes, **kwargs).fuzziness)


def separation_by_layer(
    features: Mapping[str, jax.Array] | Sequence[jax.Array], labels,
    num_classes: int | None = None, *, rtol: float = RTOL, chunk_size: int | None = None,
    check_values: bool = True,
) -> dict:
    """:func:`separation_statistics` for every layer; layers of the same shape are vmapped together.

    features: dict name -> (n, ...) (or a list, keyed 0..L-1), all with the same n.
    Returns a dict with the same keys, in the same order, of :class:`Separation` results.
    """
    check_number(rtol, "rtol", 0, 1, low_open=True)
    check_bool(check_values, "check_values")
    if isinstance(features, str | bytes) or not isinstance(features, Mapping | Sequence):
        raise JaxinterInputError(f"features: expected a dict or list of layers, got {features!r}")
    items = list(features.items() if isinstance(features, Mapping) else enumerate(features))
    if not items:
        raise JaxinterInputError("features: expected at least one layer, got none")
    results = {}
    with jax.enable_x64(True):  # also while converting: numpy float64 input stays float64
        flat = {key: _check_features(v, f"features[{key!r}]", check_values) for key, v in items}
        n = {v.shape[0] for v in flat.values()}
        if len(n) != 1:
            raise JaxinterInputError(f"features: all layers must have the same samples, got {n}")
        y, k = _check_labels(labels, n.pop(), num_classes)
        groups: dict[tuple, list] = {}
        for key, v in flat.items():
            groups.setdefault((v.shape, v.dtype), []).append(key)
        for (shape, _), keys in groups.items():
            chunk = _chunk_size(*shape, chunk_size)
            batch = _separation_layers(
                tuple(flat[key] for key in keys), jnp.asarray(y), jnp.float64(rtol),
                num_classes=k, chunk=chunk, dtype=jnp.float64,
            )
            batch = _to_numpy(batch)
            for i, key in enumerate(keys):
                results[key] = jax.tree.map(lambda leaf, i=i: leaf[i], batch)
    return {key: results[key] for key, _ in items}


@partial(jax.jit, static_argnames=("num_classes", "chunk", "dtype"))
def _separation_layers(layers, labels, rtol, **static):
    """vmap of the kernel over a tuple of same-shape layers -> stacked Separation."""
    kernel = partial(_separation_kernel, **static)
    return jax.vmap(kernel, in_axes=(0, None, None))(jnp.stack(layers), labels, rtol)


# ---------------------------------------------------------------------------------------------
# the law: ln D_l = beta l + c


@struct.dataclass
class SeparationLaw:
    """Least-squares fit ln D_l = beta * l + c over layers l = layer_index; numpy leaves.

    fuzziness: (L+1,) D_l. log_fuzziness: (L+1,) ln D_l. layer_index: (L+1,) l (0 = input).
    beta, intercept: fitted slope and c. rho: exp(beta), the decay ratio per layer.
    pearson_r: correlation of (l, ln D_l); r2: coefficient of determination of the fit
    (equal to r^2 for this one-variable least-squares fit). ratios: (L,) D_{l+1} / D_l.
    ratio_spread: standard deviation of ln(D_{l+1} / D_l) (0 for an exact geometric law).
    residuals: (L+1,) ln D_l minus the fitted line.
    """

    frame_axes: ClassVar[dict] = {
        "fuzziness": ("layer",), "log_fuzziness": ("layer",), "layer_index": ("layer",),
        "residuals": ("layer",), "beta": (), "intercept": (), "rho": (), "pearson_r": (),
        "r2": (), "ratio_spread": (), "ratios": ("transition",)}

    fuzziness: np.ndarray
    log_fuzziness: np.ndarray
    layer_index: np.ndarray
    beta: np.ndarray
    intercept: np.ndarray
    rho: np.ndarray
    pearson_r: np.ndarray
    r2: np.ndarray
    ratios: np.ndarray
    ratio_spread: np.ndarray
    residuals: np.ndarray

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"layer": np.asarray(self.layer_index).astype(int)}

def fit_law(fuzziness, layer_index=None) -> SeparationLaw:
    """Fit ln D_l = beta l + c to D values (L+1,), layers 0..L unless ``layer_index`` is given."""
    check_real_dtype(fuzziness, "fuzziness")
    if layer_index is not None:
        check_real_array(layer_index, "layer_index")
    d = np.asarray(fuzziness, np.float64)
    if d.ndim != 1 or d.size < 2:
        raise JaxinterInputError(f"fuzziness: expected at least 2 layers (1-D), got {d.shape}")
    if not np.all(np.isfinite(d) & (d > 0)):
        raise JaxinterInputError(f"fuzziness: expected finite positive values, got {d}")
    l_idx = np.arange(d.size, dtype=np.float64) if layer_index is None else np.asarray(
        layer_index, np.float64)
    if l_idx.shape != d.shape:
        raise JaxinterInputError(f"layer_index: expected shape {d.shape}, got {l_idx.shape}")
    log_d = np.log(d)
    lc, dc = l_idx - l_idx.mean(), log_d - log_d.mean()
    beta = (lc @ dc) / (lc @ lc)
    intercept = log_d.mean() - beta * l_idx.mean()
    residuals = log_d - (beta * l_idx + intercept)
    ss_tot = dc @ dc
    r = np.clip((lc @ dc) / np.sqrt((lc @ lc) * ss_tot), -1, 1) if ss_tot > 0 else np.nan
    log_ratios = np.diff(log_d)
    return SeparationLaw(
        fuzziness=d, log_fuzziness=log_d, layer_index=l_idx, beta=np.float64(beta),
        intercept=np.float64(intercept), rho=np.exp(beta), pearson_r=np.float64(r),
        r2=np.float64(1 - residuals @ residuals / ss_tot) if ss_tot > 0 else np.float64(np.nan),
        ratios=np.exp(log_ratios),
        ratio_spread=np.float64(np.std(log_ratios)) if log_ratios.size > 1 else np.float64(0),
        residuals=residuals,
    )


def law_of_separation(
    features: Mapping[str, jax.Array], labels, num_classes: int | None = None, **kwargs
) -> tuple[dict, SeparationLaw]:
    """D for every layer of ``features`` (in order: input first, logits excluded) and the fit.

    Returns (dict name -> :class:`Separation`, :class:`SeparationLaw` over layers 0..L).
    """
    check_mapping(features, "features", optional=False)
    per_layer = separation_by_layer(features, labels, num_classes, **kwargs)
    return per_layer, fit_law([float(r.fuzziness) for r in per_layer.values()])




# ---------------------------------------------------------------------------------------------
# captured models


@struct.dataclass
class LayerSeparation:
    """Separation of every captured layer of a model and the fitted law; a pytree.

    names: layer names in network order, ``"input"`` first (layer index 0); logits excluded.
    per_layer: dict name -> :class:`Separation`. law: :class:`SeparationLaw` over ``names``.
    """

    frame_axes: ClassVar[dict] = {"law": ()}

    per_layer: dict
    law: SeparationLaw
    names: tuple[str, ...] = struct.field(pytree_node=False)

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"layer": self.names}

def _layer_features(captured, x):
    """Captured layers of x (``captured`` is traced, so new weights reuse the program)."""
    return captured(x)[1]


def collect_features(captured, x, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Run a :class:`jaxinter.masking.CapturedFn` over ``x`` (n, ...) in fixed-size batches.

    Returns an ordered dict name -> (n, ...) numpy array of every captured layer (not the
    logits), in network order.
    """
    _check_captured_input(captured, x)
    check_int(batch_size, "batch_size", 1)
    return apply_in_batches(_layer_features, x, captured, batch_size=batch_size)


def _check_captured_input(captured, x) -> tuple[int, ...]:
    """Raise unless ``captured`` is a CapturedFn and ``x`` a finite real (samples,
    *input_shape) array; returns the shape of ``x``."""
    if not isinstance(captured, CapturedFn):
        raise JaxinterInputError(
            f"captured: expected a jaxinter.masking.CapturedFn, got {type(captured).__name__}")
    shape, _ = check_real_array(x, "x")
    if shape[1:] != captured.input_shape or not shape[:1]:
        raise JaxinterInputError(
            f"x: expected shape (samples, *{captured.input_shape}), got {shape}")
    check_finite(x, "x")
    return shape


def layer_separation(
    captured, x, labels, num_classes: int | None = None, *, include_input: bool = True,
    batch_size: int = 512, **kwargs,
) -> LayerSeparation:
    """D for the input (layer 0) and every layer captured by ``captured``, and the law's fit.

    captured: :class:`jaxinter.masking.CapturedFn` (choose the layer set with ``capture(...,
    layers=...)``; the logits are never included). Batch-norm models run in eval mode (running
    statistics), as :func:`jaxinter.masking.capture` does. x: (n, *input_shape), labels: (n,):
    pass the training data to measure the law as He & Su do, test data to compare.
    ``kwargs`` go to :func:`separation_statistics` (rtol, chunk_size, check_values).
    """
    _check_layer_inputs(captured, x, labels, num_classes, include_input, batch_size, kwargs)
    feats = collect_features(captured, x, batch_size)
    if include_input:
        feats = {"input": np.asarray(x).reshape(len(x), -1), **feats}
    per_layer, law = law_of_separation(feats, labels, num_classes, **kwargs)
    return LayerSeparation(per_layer=per_layer, law=law, names=tuple(per_layer))


def _check_layer_inputs(captured, x, labels, num_classes, include_input, batch_size,
                        options: Mapping) -> None:
    """The arguments of :func:`layer_separation`, checked before any forward pass."""
    shape = _check_captured_input(captured, x)
    check_labels(labels, "labels", num_samples=shape[0], num_classes=num_classes)
    check_bool(include_input, "include_input")
    check_int(batch_size, "batch_size", 1)
    unknown = sorted(set(options) - {"rtol", "chunk_size", "check_values"})
    if unknown:
        raise JaxinterInputError(f"{unknown[0]}: not an option of separation_statistics")
    check_number(options.get("rtol", RTOL), "rtol", 0, 1, low_open=True)
    check_int(options.get("chunk_size"), "chunk_size", 1, optional=True)
    check_bool(options.get("check_values", True), "check_values")


@struct.dataclass
class SeparationRecord:
    """The law at one checkpoint; numpy float64 leaves.

    fuzziness, log_fuzziness: (L+1,) D_l and ln D_l, layer 0 = input; rho, pearson_r, r2,
    ratio_spread: () of the fit (:class:`SeparationLaw`).
    """

    frame_axes: ClassVar[dict] = {
        "fuzziness": ("layer",), "log_fuzziness": ("layer",), "rho": (), "pearson_r": (),
        "r2": (), "ratio_spread": ()}

    fuzziness: np.ndarray
    log_fuzziness: np.ndarray
    rho: np.ndarray
    pearson_r: np.ndarray
    r2: np.ndarray
    ratio_spread: np.ndarray


class SeparationTracker(Tracker):
    """A :class:`Tracker` of the separation fuzziness of every layer and the law's fit.

    Its record runs on the host in float64 (``traceable = False``): inside your jitted step,
    :meth:`maybe_record` copies the weights out and they are measured at the next
    :meth:`history` or :meth:`flush`. As a callback: ``train(model, data, callback=tracker)``
    records every ``tracker.every`` steps; ``tracker(0, initial_variables)`` adds the
    initialization.

    Args:
      captured: a :class:`jaxinter.masking.CapturedFn` of the model (choose the layers with
        ``capture(..., layers=...)``); the variables given to :meth:`record` replace its own, so
        the feature program is compiled once.
      x: (n, *input_shape) samples; labels: (n,) their classes; num_classes: K (default
        max(labels) + 1).
      every: steps between records.
      include_input: also measure the input (layer 0).
      batch_size: samples per forward batch.
      folder, config: as for :class:`Tracker` (config: JSON-able settings, part of the stamp).
      **kwargs: options of :func:`separation_statistics` (rtol, chunk_size, check_values).
    """

    record_type = SeparationRecord
    traceable = False

    def __init__(self, captured, x, labels, num_classes: int | None = None, *, every: int = 10,
                 include_input: bool = True, batch_size: int = 512,
                 folder: Path | str | None = None, config: Mapping | None = None, **kwargs):
        _check_layer_inputs(captured, x, labels, num_classes, include_input, batch_size, kwargs)
        check_mapping(config, "config")
        self.captured, self.x, self.labels = captured, x, labels
        self.num_classes, self.kwargs = num_classes, kwargs
        self.include_input, self.batch_size = include_input, batch_size
        self.names = ("input",) * include_input + tuple(captured.names)
        stamp = dict(config or {}, every=every, names=self.names, num_classes=num_classes,
                     samples=int(np.shape(x)[0]), probe=float(np.asarray(x, np.float64).sum()),
                     options=kwargs)
        super().__init__(every, folder, stamp)

    def measure(self, variables) -> LayerSeparation:
        """:func:`layer_separation` of the model with ``variables``: every layer in full.

        Args:
          variables: Linen variables dict, an NNX module, or an NNX state of the structure of
            ``captured.variables``.
        """
        return layer_separation(_with_variables(self.captured, variables), self.x, self.labels,
                                self.num_classes, include_input=self.include_input,
                                batch_size=self.batch_size, **self.kwargs)

    def record(self, variables) -> SeparationRecord:
        """The law of the model with ``variables`` (as :meth:`measure` takes them)."""
        law = self.measure(variables).law
        return SeparationRecord(law.fuzziness, law.log_fuzziness, law.rho, law.pearson_r, law.r2,
                                law.ratio_spread)


def _with_variables(captured, variables):
    """``captured`` running new weights: Linen variables dict, NNX module or NNX state."""
    if isinstance(variables, nnx.Module):
        variables = nnx.state(variables)
    if isinstance(variables, Mapping) and isinstance(captured.variables, Mapping):
        variables = {k: variables[k] for k in captured.variables if k in variables}
    shapes = [np.shape(leaf) for leaf in jax.tree.leaves(variables)]
    expected = [np.shape(leaf) for leaf in jax.tree.leaves(captured.variables)]
    if shapes != expected:
        raise JaxinterInputError(f"variables: expected arrays of shapes {expected} (the captured "
                                 f"model's), got {shapes}"[:300])
    return captured.replace(variables=variables)
