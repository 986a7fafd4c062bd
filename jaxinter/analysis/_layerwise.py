"""The layerwise change of knowledge (Cheng et al., ICML 2024).

One call from a captured model to the AND-OR interactions every layer encodes:

1. ``v_l(x_T)`` for every analysed sample, every layer l and all ``2**n`` masked inputs: the
   input is masked, goes through the network up to layer l and through that layer's linear
   probe (log-odds of the target class); the last "layer" is the network output
   (:func:`jaxinter.masking.masked_layer_scores`, one pass for all layers).
2. AND-OR interactions of each game (:func:`jaxinter.interactions.extract_interactions`,
   vmapped over samples and layers), kept unnormalized; :meth:`LayerwiseResult.normalized`
   divides layer l by ``E_x |v_l(N) - v_l(empty)|`` over the samples in the result.
3. Optionally the same for ``K`` noisy copies of each input (Gaussian, ``sigma`` in input
   units), giving the per-order stability of the salient interactions.

A :class:`LayerwiseResult` holds arrays ``(samples, layers, ...)``; the comparisons (emerged,
forgotten and shared interactions, completeness, redundancy, salient counts, sparsity curves)
are computed from it on demand, and :meth:`LayerwiseResult.aggregate` gathers them over the
samples in a :class:`LayerwiseAggregate`. Results of different sample or layer subsets merge
with :func:`merge_layerwise`; :func:`save_layerwise` / :func:`load_layerwise` write
``<name>.npz`` plus a ``<name>.json`` summary. Interaction types are stacked on an axis of
length 2 ordered as :data:`TYPES` (AND, OR).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import (
    JaxinterInputError,
    check_callable,
    check_finite,
    check_game,
    check_instance,
    check_int,
    check_int_list,
    check_key,
    check_labels,
    check_mapping,
    check_names,
    check_number,
    check_path,
    check_real_dtype,
    n_players_from_size,
)
from ..interactions import extract_interactions
from ..io import labeled, save_json, write_atomic
from ..masking import Players, masked_layer_scores, score_layer_names
from ..masking._players import check_samples
from ..models import apply_in_batches
from ._compare import (
    CHANGE_PARTS,
    KnowledgeChange,
    interaction_stability,
    knowledge_change,
    salient_iou,
)
from ._generalization import gaussian_perturbations
from ._metrics import (
    order_means,
    order_sums,
    safe_ratio,
    salient_mask,
    sparsity_curve,
    supported_mean,
)

TYPES = ("AND", "OR")


@flax.struct.dataclass
class LayerwiseAggregate:
    """What a :class:`LayerwiseResult` says over its samples, per layer, type and order.

    L layers (the output last), types ordered as :data:`TYPES`, orders 0..n; interactions are
    normalized per layer, salient sets per sample unless said otherwise.

    Attributes:
      scale: (L,) ``E_x |v_l(N) - v_l(empty)|``, the normalization of each layer.
      salient_per_sample: (L, 2) mean number of salient interactions per sample.
      salient_per_sample_layer_threshold: (L, 2) the same with the threshold taken from the
        largest interaction over all samples of the layer.
      salient_by_order: (L, 2, n + 1) mean number of salient interactions of order m.
      strength_by_order: (L, 2, n + 1) mean over samples of the sum of |I(S)| over the salient
        S of order m.
      strength_per_subset_by_order: (L, 2, n + 1) mean over samples and over all S of order m
        of |I(S)| (salient or not).
      change_by_order: (L, 2, 3, n + 1) overlap, forget and new (:data:`CHANGE_PARTS`) of each
        layer against the output, summed over samples.
      completeness_by_order, redundancy_by_order: (L, 2, n + 1) overlap / output strength and
        forget / layer strength, ratios of sums over samples; NaN where 0/0.
      completeness, redundancy: (L, 2) the same over all orders.
      stability_by_order: (L, 2, n + 1) mean stability of the salient S of order m over the
        samples where it is defined, or None without noise draws.
      stability_support_by_order: (L, 2, n + 1) number of those samples, or None.
      layer_names: the L layer names.
      ratio: the salient threshold as a fraction of the largest |I|.
      num_samples: number of samples aggregated.
    """

    frame_axes: ClassVar[dict] = {
        "salient_by_order": ("layer", "type", "order"),
        "strength_by_order": ("layer", "type", "order"),
        "strength_per_subset_by_order": ("layer", "type", "order"),
        "completeness_by_order": ("layer", "type", "order"),
        "redundancy_by_order": ("layer", "type", "order"),
        "stability_by_order": ("layer", "type", "order"),
        "stability_support_by_order": ("layer", "type", "order"),
        "scale": ("layer",), "salient_per_sample": ("layer", "type"),
        "salient_per_sample_layer_threshold": ("layer", "type"),
        "completeness": ("layer", "type"), "redundancy": ("layer", "type"),
        "change_by_order": ("layer", "type", "part", "order")}

    scale: jax.Array
    salient_per_sample: jax.Array
    salient_per_sample_layer_threshold: jax.Array
    salient_by_order: jax.Array
    strength_by_order: jax.Array
    strength_per_subset_by_order: jax.Array
    change_by_order: jax.Array
    completeness_by_order: jax.Array
    redundancy_by_order: jax.Array
    completeness: jax.Array
    redundancy: jax.Array
    stability_by_order: jax.Array | None
    stability_support_by_order: jax.Array | None
    layer_names: tuple[str, ...] = flax.struct.field(pytree_node=False)
    ratio: float = flax.struct.field(pytree_node=False)
    num_samples: int = flax.struct.field(pytree_node=False)

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"layer": self.layer_names, "part": CHANGE_PARTS}

    @property
    def n(self) -> int:
        return self.salient_by_order.shape[-1] - 1

    def summary(self) -> dict:
        """The aggregate as JSON-ready labeled arrays (:func:`jaxinter.io.labeled`).

        Returns:
          ``{"layers", "n", "samples", "ratio", "salient_total_per_sample"}`` (plain values:
          the total is the output's mean salient count, AND + OR) and one labeled array per
          attribute above (axes from ``layer``, ``type``, ``part``, ``order``), None omitted.
        """
        coords = {"layer": list(self.layer_names), "type": list(TYPES),
                  "part": list(CHANGE_PARTS), "order": list(range(self.n + 1))}
        out = {"layers": list(self.layer_names), "n": self.n, "samples": self.num_samples,
               "ratio": self.ratio,
               "salient_total_per_sample": float(self.salient_per_sample[-1].sum())}
        for name, (axes, description) in _AGGREGATE_AXES.items():
            value = getattr(self, name)
            if value is not None:
                out[name] = labeled(value, axes, {a: coords[a] for a in axes}, description)
        return out


_AGGREGATE_AXES = {
    "scale": (("layer",), "E_x |v_l(N) - v_l(empty)|, the normalization of each layer"),
    "salient_per_sample": (("layer", "type"), "mean salient interactions per sample"),
    "salient_per_sample_layer_threshold": (
        ("layer", "type"), "mean salient interactions per sample, threshold over all samples"),
    "salient_by_order": (("layer", "type", "order"), "mean salient interactions per sample"),
    "strength_by_order": (
        ("layer", "type", "order"), "sum of normalized |I(S)| over salient S, mean over samples"),
    "strength_per_subset_by_order": (
        ("layer", "type", "order"), "mean normalized |I(S)| over all S of the order and samples"),
    "change_by_order": (
        ("layer", "type", "part", "order"),
        "strength of each layer against the output, summed over samples"),
    "completeness_by_order": (("layer", "type", "order"), "overlap / strength of the output"),
    "redundancy_by_order": (("layer", "type", "order"), "forget / strength of the layer"),
    "completeness": (("layer", "type"), "overlap / strength of the output, all orders"),
    "redundancy": (("layer", "type"), "forget / strength of the layer, all orders"),
    "stability_by_order": (
        ("layer", "type", "order"), "|mean I| / std I under input noise, mean over salient S"),
    "stability_support_by_order": (
        ("layer", "type", "order"), "samples with a salient S of the order (stability)"),
}


@flax.struct.dataclass
class LayerwiseResult:
    """Per-layer interactions of a set of samples.

    Attributes:
      v: (S, L, 2**n) scores of every layer on every masked input.
      i_and, i_or: (S, L, 2**n) AND/OR interactions of v (singleton OR folded into AND,
        v(empty) in ``i_and[..., 0]``).
      stability: (S, L, 2, n + 1) per-sample stability by type and order (NaN where
        undefined), or None when no noise draws were made.
      sample_ids: (S,) ids of the samples (e.g. their index in the test set).
      layer_names: the L layer names, the network output last.
      ratio: the salient threshold (``tau = ratio * max |I|`` per sample and layer, both types).
    """

    frame_axes: ClassVar[dict] = {
        "v": ("sample", "layer", "subset"), "i_and": ("sample", "layer", "subset"),
        "i_or": ("sample", "layer", "subset"),
        "stability": ("sample", "layer", "type", "order"), "sample_ids": ("sample",)}

    v: jax.Array
    i_and: jax.Array
    i_or: jax.Array
    stability: jax.Array | None
    sample_ids: jax.Array
    layer_names: tuple[str, ...] = flax.struct.field(pytree_node=False)
    ratio: float = flax.struct.field(pytree_node=False, default=0.05)

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"layer": self.layer_names, "sample": np.asarray(self.sample_ids)}

    @property
    def n(self) -> int:
        return n_players_from_size(self.v.shape[-1], "v")

    @property
    def num_samples(self) -> int:
        return self.v.shape[0]

    def scale(self) -> jax.Array:
        """(L,) ``E_x |v_l(N) - v_l(empty)|`` over the samples of this result."""
        return jnp.mean(jnp.abs(self.v[..., -1] - self.v[..., 0]), axis=0)

    def interactions(self) -> jax.Array:
        """(S, L, 2, 2**n) unnormalized AND and OR interactions."""
        return jnp.stack([self.i_and, self.i_or], axis=-2)

    def normalized(self) -> jax.Array:
        """(S, L, 2, 2**n) interactions divided by each layer's :meth:`scale`."""
        scale = self.scale()
        scale = jnp.where(scale > 0, scale, 1)
        return self.interactions() / scale[:, None, None]

    def salient(self) -> jax.Array:
        """(S, L, 2, 2**n) bool salient sets (per sample and layer, threshold over both types)."""
        m_and, m_or = salient_mask(self.i_and, self.i_or, ratio=self.ratio)
        return jnp.stack([m_and, m_or], axis=-2)

    def change(self, reference: int = -1) -> KnowledgeChange:
        """Each layer against layer ``reference`` (the output): fields (S, L, 2, n + 1)."""
        i, sal = self.normalized(), self.salient()
        return knowledge_change(i, i[:, [reference]], sal, sal[:, [reference]])

    def salient_counts(self) -> jax.Array:
        """(S, L, 2, n + 1) number of salient interactions by type and order."""
        return order_sums(self.salient().astype(jnp.float32))

    def strength(self) -> jax.Array:
        """(S, L, 2, n + 1) sum of normalized |I(S)| over the salient S of each order."""
        return order_sums(jnp.where(self.salient(), jnp.abs(self.normalized()), 0))

    def strength_per_subset(self) -> jax.Array:
        """(S, L, 2, n + 1) mean normalized |I(S)| over all S of each order."""
        return order_means(jnp.abs(self.normalized()))

    def sparsity_curves(self) -> jax.Array:
        """(L, 2 (2**n - 1)) |I| / max |I| (both types, S nonempty) sorted descending, mean over
        samples."""
        return sparsity_curve(self.i_and, self.i_or, axis=0)

    def select(self, layers: Sequence[str] | None = None, samples=None) -> LayerwiseResult:
        """The sub-result of some layers (names) and/or samples (indices along axis 0)."""
        li = np.arange(len(self.layer_names)) if layers is None else np.array(
            [self.layer_names.index(k) for k in layers], dtype=np.int64)
        si = np.arange(self.num_samples) if samples is None else np.asarray(samples)
        pick = lambda a: None if a is None else a[si][:, li]  # noqa: E731
        return self.replace(v=pick(self.v), i_and=pick(self.i_and), i_or=pick(self.i_or),
                            stability=pick(self.stability), sample_ids=self.sample_ids[si],
                            layer_names=tuple(self.layer_names[i] for i in li))

    def aggregate(self) -> LayerwiseAggregate:
        """The comparisons with the output and the counts, aggregated over the samples."""
        return _aggregate(self)

    def summary(self) -> dict:
        """JSON-ready labeled summary over the samples: ``self.aggregate().summary()``."""
        return self.aggregate().summary()


@jax.jit
def _aggregate(result: LayerwiseResult) -> LayerwiseAggregate:
    change = result.change()
    counts = result.salient_counts()
    layer_masks = jnp.stack(salient_mask(result.i_and, result.i_or, result.ratio, axis=0), -2)
    parts = [getattr(change, part).sum(0) for part in CHANGE_PARTS]
    stability = None if result.stability is None else supported_mean(result.stability)
    return LayerwiseAggregate(
        scale=result.scale(),
        salient_per_sample=counts.sum(-1).mean(0),
        salient_per_sample_layer_threshold=layer_masks.sum(-1).mean(0),
        salient_by_order=counts.mean(0),
        strength_by_order=result.strength().mean(0),
        strength_per_subset_by_order=result.strength_per_subset().mean(0),
        change_by_order=jnp.stack(parts, axis=-2),
        completeness_by_order=change.completeness(axis=0),
        redundancy_by_order=change.redundancy(axis=0),
        completeness=safe_ratio(change.overlap.sum((0, -1)), change.all_ref.sum((0, -1))),
        redundancy=safe_ratio(change.forget.sum((0, -1)), change.all_l.sum((0, -1))),
        stability_by_order=None if stability is None else stability.mean,
        stability_support_by_order=None if stability is None else stability.support,
        layer_names=result.layer_names, ratio=result.ratio, num_samples=result.num_samples)


# ---------------------------------------------------------------------------------------------
# the pipeline


def correctly_classified(apply_fn: Callable, x, y, batch: int = 512) -> np.ndarray:
    """Indices of the samples whose argmax prediction equals the label (analyses use these).

    Args:
      apply_fn: (batch, *input_shape) -> logits, or -> (logits, features) for a captured model.
      x: (samples, *input_shape) inputs.
      y: (samples,) integer labels.
      batch: samples per forward pass.

    Returns:
      (k,) sorted int indices into ``x``.
    """
    check_callable(apply_fn, "apply_fn")
    shape, _ = check_real_dtype(x, "x")
    if len(shape) < 2 or not shape[0]:
        raise JaxinterInputError(f"x: expected shape (samples >= 1, *input_shape), got {shape}")
    check_finite(x, "x")
    y = check_labels(y, "y", num_samples=shape[0])
    check_int(batch, "batch", 1)

    def predict(xb):
        out = apply_fn(xb)
        return (out[0] if isinstance(out, tuple) else out).argmax(-1)

    return np.flatnonzero(apply_in_batches(predict, x, batch_size=batch) == np.asarray(y))


def noisy_copies(x, players: Players, target, key: jax.Array, sigma: float, draws: int):
    """K noisy copies of every sample, ``x + sigma * N(0, 1)`` (the baseline is not perturbed).

    Args:
      x: (S, *input_shape) inputs.
      players: the players of the samples (per-sample players are repeated).
      target: (S,) target classes.
      key: a ``jax.random`` key.
      sigma: noise standard deviation, in input units.
      draws: K, the number of copies.

    Returns:
      ``(x_noisy, players, target)``: (K * S, *input_shape) draw-major, with players and
      target repeated to match.
    """
    x = check_samples(x, players)
    check_key(key)
    check_int(draws, "draws", 1)
    target = check_labels(target, "target", num_samples=x.shape[0])
    noisy = gaussian_perturbations(key, x, sigma, draws)
    if players.per_sample:
        players = players.replace(assignment=jnp.tile(players.assignment, (draws, 1)))
    return noisy.reshape((-1,) + x.shape[1:]), players, jnp.tile(jnp.asarray(target), draws)


def layerwise_from_scores(
    v,
    layer_names: Sequence[str],
    *,
    v_noisy=None,
    sample_ids=None,
    ratio: float = 0.05,
    **extraction,
) -> LayerwiseResult:
    """Extract interactions (and stability) from precomputed layer scores.

    Args:
      v: (S, L, 2**n) scores of every layer on every masked input.
      layer_names: the L layer names, the output last.
      v_noisy: (K, S, L, 2**n) scores of K >= 2 noisy copies of the inputs, or None.
      sample_ids: (S,) ids of the samples (default 0..S-1).
      ratio: the salient threshold as a fraction of the largest |I|.
      **extraction: keyword arguments of
        :func:`jaxinter.interactions.extract_interactions` (``method``, ``c_q``...). With
        ``v_noisy``, AND-OR extraction warm-starts each noisy copy from its clean game's
        solution (``warm_start="from_first"``; pass ``warm_start=None`` for cold starts).

    Returns:
      A :class:`LayerwiseResult`, with stability when ``v_noisy`` is given.
    """
    if isinstance(layer_names, str) or not isinstance(layer_names, Sequence) or not all(
            isinstance(name, str) for name in layer_names):
        raise JaxinterInputError(f"layer_names: expected a list of names, got {layer_names!r}")
    check_number(ratio, "ratio", 0, 1, high_open=True)
    v, _ = check_game(v, "v")
    if v.ndim != 3 or v.shape[1] != len(layer_names):
        raise JaxinterInputError(
            f"v: expected (samples, {len(layer_names)} layers, 2**n), got shape {v.shape}"
        )
    sample_ids = np.arange(v.shape[0]) if sample_ids is None else np.asarray(sample_ids)
    games = v[None]
    if v_noisy is not None:
        v_noisy, _ = check_game(v_noisy, "v_noisy")
        if v_noisy.ndim != 4 or v_noisy.shape[1:] != v.shape:
            raise JaxinterInputError(
                f"v_noisy: expected (draws, *{v.shape}), got shape {v_noisy.shape}"
            )
        games = jnp.concatenate([games, v_noisy.astype(v.dtype)])  # one extraction call
        if extraction.get("kind", "andor") == "andor":  # noisy copies start from the clean game
            extraction = {"warm_start": "from_first", **extraction}
    i_and, i_or = extract_interactions(games, **extraction)
    stability = None if v_noisy is None else _stability_of_draws(v, i_and, i_or, ratio=float(ratio))
    return LayerwiseResult(v, i_and[0], i_or[0], stability, jnp.asarray(sample_ids),
                           tuple(layer_names), ratio)


@partial(jax.jit, static_argnames=("ratio",))
def _stability_of_draws(v, i_and, i_or, *, ratio) -> jax.Array:
    """Stability (S, L, 2, n + 1) of the noisy copies i_and[1:], i_or[1:] of the clean games'
    interactions i_and[0], i_or[0] ((1 + K, S, L, 2**n) each) on the clean salient sets: one
    program (the layer names play no part, so one compilation serves every layer)."""
    clean = LayerwiseResult(v, i_and[0], i_or[0], None, jnp.arange(len(v)),
                            tuple(map(str, range(v.shape[1]))), ratio)
    draws = jnp.stack([i_and[1:], i_or[1:]], axis=-2)  # (K, S, L, 2, 2**n)
    return interaction_stability(draws, clean.salient(), axis=0)


def _chosen_readouts(readouts: Mapping[str, Callable], layers: Sequence[str] | None) -> dict:
    if layers is None:
        return dict(readouts)
    unknown = [k for k in layers if k not in readouts]
    if unknown:
        raise JaxinterInputError(
            f"layers: expected names among {list(readouts)}, got {unknown} (no readout)")
    return {k: readouts[k] for k in layers}


def analyse_layers(
    captured_fn: Callable,
    readouts: Mapping[str, Callable],
    x,
    target,
    players: Players,
    baseline,
    *,
    layers: Sequence[str] | None = None,
    sample_ids=None,
    noise_draws: int = 0,
    sigma: float = 0.02,
    key: jax.Array | None = None,
    ratio: float = 0.05,
    chunk_size: int = 256,
    timings: dict | None = None,
    **extraction,
) -> LayerwiseResult:
    """Model -> per-layer interactions of every sample in ``x``.

    Args:
      captured_fn: x (batch, *input_shape) -> (logits, {layer: features}).
      readouts: layer name -> features -> logits (e.g. ``ProbeSet.readouts()``).
      x: (S, *input_shape) inputs (use correctly classified samples).
      target: (S,) labels.
      players, baseline: as in :func:`jaxinter.masking.masked_layer_scores`.
      layers: restricts the analysis to some of the readouts' layers (the output is always
        last).
      sample_ids: (S,) ids of the samples.
      noise_draws: K = 0, or K >= 2 noisy copies per sample for the stability (needs ``key``).
      sigma: the noise standard deviation, in input units.
      key: a ``jax.random`` key for the noise.
      ratio: the salient threshold as a fraction of the largest |I|.
      chunk_size: masked inputs per model call.
      timings: if given, receives seconds per stage ("masked evaluation", "extraction"), each
        stage blocked on before it is timed.
      **extraction: keyword arguments of :func:`jaxinter.interactions.extract_interactions`.

    Returns:
      A :class:`LayerwiseResult` over the chosen layers and the output.
    """
    readouts, timings = _check_layer_analysis(captured_fn, readouts, x, players, layers,
                                              sample_ids, noise_draws, sigma, key, ratio, timings)
    names = score_layer_names(captured_fn, readouts, players.input_shape)

    def scores(x, players, target, baseline):
        return masked_layer_scores(captured_fn, readouts, x, players, baseline, target,
                                   chunk_size=chunk_size)

    start = time.perf_counter()
    v, v_noisy = _clean_and_noisy_scores(scores, x, target, players, baseline, noise_draws,
                                         key, sigma)
    timings["masked evaluation"] = time.perf_counter() - start
    start = time.perf_counter()
    result = layerwise_from_scores(v, names, v_noisy=v_noisy, sample_ids=sample_ids, ratio=ratio,
                                   **extraction)
    jax.block_until_ready(result)
    timings["extraction"] = time.perf_counter() - start
    return result


def _check_layer_analysis(captured_fn, readouts, x, players, layers, sample_ids, noise_draws,
                          sigma, key, ratio, timings) -> tuple[dict, dict]:
    """Validate the arguments of :func:`analyse_layers`; the readouts of the chosen layers and
    the timings dict."""
    check_callable(captured_fn, "captured_fn")
    readouts = _chosen_readouts(check_mapping(readouts, "readouts", optional=False), layers)
    shape = check_samples(x, players).shape
    if sample_ids is not None and (len(check_int_list(sample_ids, "sample_ids", 0)),) != shape[:1]:
        raise JaxinterInputError(
            f"sample_ids: expected shape {shape[:1]} (one per sample), got {np.shape(sample_ids)}")
    if check_int(noise_draws, "noise_draws", 0) == 1:
        raise JaxinterInputError(f"noise_draws: expected 0 or at least 2, got {noise_draws}")
    check_number(sigma, "sigma", 0)
    if check_key(key, optional=True) is None and noise_draws:
        raise JaxinterInputError("key: expected a jax.random key when noise_draws > 0, got None")
    check_number(ratio, "ratio", 0, 1)
    return readouts, {} if timings is None else check_mapping(timings, "timings")


def _clean_and_noisy_scores(scores, x, target, players, baseline, noise_draws, key, sigma):
    """Per-layer scores ``v`` (S, L, 2**n) of the samples and, when ``noise_draws`` > 0, those
    of their noisy copies (K, S, L, 2**n) (else None), each blocked on."""
    v = jax.block_until_ready(scores(x, players, target, baseline))
    if not noise_draws:
        return v, None
    if jnp.ndim(baseline) == len(players.input_shape) + 1:  # per-sample baseline
        baseline = jnp.tile(baseline, (noise_draws,) + (1,) * len(players.input_shape))
    noisy = noisy_copies(x, players, target, key, sigma, noise_draws)
    v_noisy = jax.block_until_ready(scores(*noisy, baseline))
    return v, v_noisy.reshape((noise_draws,) + v.shape)


# ---------------------------------------------------------------------------------------------
# comparing models, merging, saving


def layerwise_iou(a: LayerwiseResult, b: LayerwiseResult, layer: str | None = None) -> jax.Array:
    """Per-order IoU of the salient sets of two models on the same samples and players.

    Args:
      a, b: results of the two models on the same samples (same n).
      layer: a layer present in both; default the output (the last layer).

    Returns:
      (S, 2, n + 1) IoU per sample, type and order; NaN where neither model has a salient S of
      that order (average with :func:`jaxinter.analysis.supported_mean`).
    """
    check_instance(a, "a", LayerwiseResult)
    check_instance(b, "b", LayerwiseResult)
    if layer is not None:
        check_names([layer], "layer", sorted(set(a.layer_names) & set(b.layer_names)))
    if a.v.shape[0] != b.v.shape[0] or a.n != b.n:
        raise JaxinterInputError(
            f"b: expected {a.num_samples} samples with n = {a.n}, got {b.num_samples}, n = {b.n}"
        )
    ka = -1 if layer is None else a.layer_names.index(layer)
    kb = -1 if layer is None else b.layer_names.index(layer)
    return salient_iou(a.salient()[:, ka], b.salient()[:, kb])


def _concatenate(results: Sequence[LayerwiseResult], axis: int, **changes) -> LayerwiseResult:
    cat = lambda k: jnp.concatenate([getattr(r, k) for r in results], axis=axis)  # noqa: E731
    stability = cat("stability") if results[0].stability is not None else None
    return results[0].replace(v=cat("v"), i_and=cat("i_and"), i_or=cat("i_or"),
                              stability=stability, **changes)


def merge_layerwise(results: Sequence[LayerwiseResult], axis: str = "samples") -> LayerwiseResult:
    """Concatenate results over samples (same layers) or over layers (same samples).

    Args:
      results: the results to merge, all with stability or all without.
      axis: "samples" or "layers".

    Returns:
      One :class:`LayerwiseResult`; normalization and salient sets are recomputed from it.
    """
    if isinstance(results, str) or not isinstance(results, Sequence):
        raise JaxinterInputError(
            f"results: expected a list of LayerwiseResult, got {results!r:.60}")
    for k, result in enumerate(results):
        check_instance(result, f"results[{k}]", LayerwiseResult)
    if not results:
        raise JaxinterInputError("results: expected at least one LayerwiseResult")
    first = results[0]
    has_stability = {r.stability is not None for r in results}
    if len(has_stability) > 1:
        raise JaxinterInputError("results: either all or none must carry stability")
    if axis == "samples":
        if any(r.layer_names != first.layer_names for r in results):
            raise JaxinterInputError("results: merging samples needs the same layers in each")
        ids = jnp.concatenate([r.sample_ids for r in results])
        return _concatenate(results, 0, sample_ids=ids)
    if axis == "layers":
        if any(not np.array_equal(r.sample_ids, first.sample_ids) for r in results):
            raise JaxinterInputError("results: merging layers needs the same samples in each")
        names = sum((r.layer_names for r in results), ())
        if len(set(names)) != len(names):
            raise JaxinterInputError(f"results: duplicate layer names {names}")
        return _concatenate(results, 1, layer_names=names)
    raise JaxinterInputError(f"axis: expected 'samples' or 'layers', got {axis!r}")


_ARRAYS = ("v", "i_and", "i_or", "stability", "sample_ids")


def save_layerwise(result: LayerwiseResult, path) -> Path:
    """Write ``path.npz`` (arrays) and ``path.json`` (metadata and :meth:`summary`).

    Args:
      result: the result to save.
      path: the file path without (or with) suffix.

    Returns:
      The path of the .npz file.
    """
    check_instance(result, "result", LayerwiseResult)
    path = check_path(path, "path", writable="file").with_suffix("")
    arrays = {k: np.asarray(getattr(result, k)) for k in _ARRAYS
              if getattr(result, k) is not None}
    npz = write_atomic(path.with_suffix(".npz"), lambda f: np.savez(f, **arrays))
    meta = {"layer_names": list(result.layer_names), "ratio": result.ratio}
    save_json(path.with_suffix(".json"), {**meta, "summary": result.summary()})
    return npz


def load_layerwise(path) -> LayerwiseResult:
    """Read a result written by :func:`save_layerwise` (``path`` with or without suffix)."""
    path = check_path(path, "path").with_suffix("")
    for suffix in (".json", ".npz"):
        check_path(path.with_suffix(suffix), "path", exists="file")
    meta = json.loads(path.with_suffix(".json").read_text())
    with np.load(path.with_suffix(".npz")) as data:
        arrays = {k: (jnp.asarray(data[k]) if k in data.files else None) for k in _ARRAYS}
    return LayerwiseResult(**arrays, layer_names=tuple(meta["layer_names"]), ratio=meta["ratio"])
