"""The layerwise change of knowledge (Cheng et al., ICML 2024; DESIGN.md 3.5).

One call from a captured model to the AND-OR interactions every layer encodes:

1. ``v_l(x_T)`` for every analysed sample, every layer l and all ``2**n`` masked inputs: the
   input is masked, goes through the network up to layer l and through that layer's linear
   probe (log-odds of the target class); the last "layer" is the network output
   (:func:`jaxinter.masking.masked_layer_scores`, one pass for all layers).
2. AND-OR interactions of each game (:func:`jaxinter.andor.and_or`, vmapped over samples and
   layers), kept unnormalized; :meth:`LayerwiseResult.normalized` divides layer l by
   ``E_x |v_l(N) - v_l(empty)|`` over the samples in the result.
3. Optionally the same for ``K`` noisy copies of each input (Gaussian, ``sigma`` in input
   units), giving the per-order stability of the salient interactions.

A :class:`LayerwiseResult` holds arrays ``(samples, layers, ...)``; the comparisons (emerged,
forgotten and shared interactions, completeness, redundancy, salient counts, sparsity curves)
are computed from it on demand. Results of different sample or layer subsets merge with
:func:`merge_layerwise`; :func:`save_layerwise` / :func:`load_layerwise` write ``<name>.npz``
plus a ``<name>.json`` summary.
Interaction types are stacked on an axis of length 2 ordered as :data:`TYPES` (AND, OR).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import JaxinterInputError, check_floating, n_players_from_size
from ..interactions._andor import extract_interactions
from ..io._store import save_json
from ..masking._evaluate import masked_layer_scores, score_layer_names
from ..masking._players import Players
from ..models import apply_in_batches
from . import _compare as compare
from ._generalization import gaussian_perturbations
from ._metrics import nanmean0, order_sums, salient_mask, sparsity_curve

TYPES = ("and", "or")


@flax.struct.dataclass
class LayerwiseResult:
    """Per-layer interactions of a set of samples.

    v: (S, L, 2**n) scores of every layer on every masked input; i_and, i_or: (S, L, 2**n)
    AND/OR interactions of v (singleton OR folded into AND, v(empty) in i_and[..., 0]);
    stability: (S, L, 2, n + 1) per-sample stability by type and order (NaN where undefined)
    or None when no noise draws were made; sample_ids: (S,) ids of the samples (e.g. their
    index in the test set). layer_names: the L layer names, the network output last; ratio:
    the salient threshold (tau = ratio * max |I| per sample and layer, both types).
    """

    v: jax.Array
    i_and: jax.Array
    i_or: jax.Array
    stability: jax.Array | None
    sample_ids: jax.Array
    layer_names: tuple[str, ...] = flax.struct.field(pytree_node=False)
    ratio: float = flax.struct.field(pytree_node=False, default=0.05)

    @property
    def n(self) -> int:
        return n_players_from_size(self.v.shape[-1], "v")

    @property
    def num_samples(self) -> int:
        return self.v.shape[0]

    def scale(self) -> jax.Array:
        """(L,) E_x |v_l(N) - v_l(empty)| over the samples of this result."""
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

    def change(self, reference: int = -1) -> compare.KnowledgeChange:
        """Each layer against layer ``reference`` (the output): fields (S, L, 2, n + 1)."""
        i, sal = self.normalized(), self.salient()
        return compare.knowledge_change(i, i[:, [reference]], sal, sal[:, [reference]])

    def salient_counts(self) -> jax.Array:
        """(S, L, 2, n + 1) number of salient interactions by type and order."""
        return order_sums(self.salient().astype(jnp.float32))

    def strength(self) -> jax.Array:
        """(S, L, 2, n + 1) sum of normalized |I(S)| over the salient S of each order."""
        return order_sums(jnp.where(self.salient(), jnp.abs(self.normalized()), 0))

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

    def summary(self) -> dict:
        """Headline numbers (JSON-ready lists), aggregated over samples.

        Per layer and type: mean salient count (threshold per sample, and per layer: from the
        max over all samples of the layer), per-order mean salient count and strength,
        overlap/forget/new per order summed over samples (``change_by_order`` (L, 2, 3,
        n + 1)), completeness and redundancy per order (ratios of sums over samples) and in
        total, mean stability per order (nanmean over samples).
        """
        ch = self.change()
        counts = self.salient_counts()
        out = {
            "layers": list(self.layer_names),
            "n": self.n,
            "samples": self.num_samples,
            "ratio": self.ratio,
            "scale": np.asarray(self.scale()),
            "salient_per_sample": np.asarray(counts.sum(-1).mean(0)),  # (L, 2)
            "salient_total_per_sample": float(counts[:, -1].sum((-1, -2)).mean()),
            "salient_per_sample_layer_threshold": np.asarray(
                jnp.stack(salient_mask(self.i_and, self.i_or, self.ratio, axis=0), -2)
                .sum(-1).mean(0)),  # (L, 2), tau from the max over all samples of the layer
            "salient_by_order": np.asarray(counts.mean(0)),  # (L, 2, n+1)
            "strength_by_order": np.asarray(self.strength().mean(0)),
            "change_by_order": np.stack([np.asarray(f.sum(0)) for f in
                                         (ch.overlap, ch.forget, ch.new)], axis=-2),
            "completeness_by_order": np.asarray(ch.completeness(axis=0)),
            "redundancy_by_order": np.asarray(ch.redundancy(axis=0)),
            "completeness": np.asarray(compare.safe_ratio(ch.overlap.sum((0, -1)),
                                                          ch.all_ref.sum((0, -1)))),
            "redundancy": np.asarray(compare.safe_ratio(ch.forget.sum((0, -1)),
                                                        ch.all_l.sum((0, -1)))),
        }
        if self.stability is not None:
            out["stability_by_order"] = np.asarray(nanmean0(self.stability))
        return out


# ---------------------------------------------------------------------------------------------
# the pipeline


def correctly_classified(apply_fn: Callable, x, y, batch: int = 512) -> np.ndarray:
    """Indices of the samples whose argmax prediction equals the label (analyses use these).

    apply_fn: (batch, *input_shape) -> logits, or -> (logits, features) for a captured model.
    """
    def predict(xb):
        out = apply_fn(xb)
        return (out[0] if isinstance(out, tuple) else out).argmax(-1)

    return np.flatnonzero(apply_in_batches(predict, x, batch_size=batch) == np.asarray(y))


def noisy_copies(x, players: Players, target, key: jax.Array, sigma: float, draws: int):
    """K noisy copies of every sample: x (S, ...) -> (K * S, ...) draw-major, with players and
    target repeated to match (``x + sigma * N(0, 1)``; the baseline is not perturbed)."""
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

    v: (S, L, 2**n) scores; v_noisy: (K, S, L, 2**n) scores of K noisy copies, or None;
    extraction: keyword arguments of :func:`jaxinter.andor.and_or` (``method``, ``c_q``...).
    """
    v = check_floating(v, "v")
    if v.ndim != 3 or v.shape[1] != len(layer_names):
        raise JaxinterInputError(
            f"v: expected (samples, {len(layer_names)} layers, 2**n), got shape {v.shape}"
        )
    n_players_from_size(v.shape[-1], "v")
    sample_ids = np.arange(v.shape[0]) if sample_ids is None else np.asarray(sample_ids)
    games = v[None]
    if v_noisy is not None:
        v_noisy = check_floating(v_noisy, "v_noisy")
        if v_noisy.ndim != 4 or v_noisy.shape[1:] != v.shape:
            raise JaxinterInputError(
                f"v_noisy: expected (draws, *{v.shape}), got shape {v_noisy.shape}"
            )
        games = jnp.concatenate([games, v_noisy.astype(v.dtype)])  # one extraction call
    i_and, i_or = extract_interactions(games, **extraction)
    result = LayerwiseResult(v, i_and[0], i_or[0], None, jnp.asarray(sample_ids),
                             tuple(layer_names), ratio)
    if v_noisy is not None:
        draws = jnp.stack([i_and[1:], i_or[1:]], axis=-2)  # (K, S, L, 2, 2**n)
        stability = compare.interaction_stability(draws, result.salient(), axis=0)
        result = result.replace(stability=stability)
    return result


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

    captured_fn: x (batch, *input_shape) -> (logits, {layer: features}); readouts: layer name ->
    features -> logits (e.g. ``ProbeSet.readouts()``); x: (S, *input_shape); target: (S,)
    labels (use correctly classified samples); players, baseline: as in
    :func:`jaxinter.masking.masked_layer_scores`. ``layers`` restricts the analysis to some of
    the readouts' layers (the output is always last). ``noise_draws`` K > 1 adds stability
    (needs ``key``). ``timings``, if given, receives seconds per stage ("masked evaluation",
    "extraction") -- each stage is blocked on before it is timed.
    """
    if layers is not None:
        unknown = [k for k in layers if k not in readouts]
        if unknown:
            raise JaxinterInputError(f"layers: {unknown} have no readout; have {list(readouts)}")
        readouts = {k: readouts[k] for k in layers}
    if noise_draws == 1 or noise_draws < 0:
        raise JaxinterInputError(f"noise_draws: expected 0 or at least 2, got {noise_draws}")
    if noise_draws and key is None:
        raise JaxinterInputError("key: a jax.random key is required when noise_draws > 0")
    timings = {} if timings is None else timings
    names = score_layer_names(captured_fn, readouts, players.input_shape)

    def scores(x, players, target):
        return masked_layer_scores(captured_fn, readouts, x, players, baseline, target,
                                   chunk_size=chunk_size)

    start = time.perf_counter()
    v = jax.block_until_ready(scores(x, players, target))
    v_noisy = None
    if noise_draws:
        baseline_shape = jnp.shape(baseline)
        if len(baseline_shape) == len(players.input_shape) + 1:  # per-sample baseline
            baseline = jnp.tile(baseline, (noise_draws,) + (1,) * len(players.input_shape))
        noisy = noisy_copies(x, players, target, key, sigma, noise_draws)
        v_noisy = jax.block_until_ready(scores(*noisy)).reshape((noise_draws,) + v.shape)
    timings["masked evaluation"] = time.perf_counter() - start
    start = time.perf_counter()
    result = layerwise_from_scores(v, names, v_noisy=v_noisy, sample_ids=sample_ids, ratio=ratio,
                         **extraction)
    jax.block_until_ready(result)
    timings["extraction"] = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------
# comparing models, merging, saving


def layerwise_iou(a: LayerwiseResult, b: LayerwiseResult, layer: str | None = None) -> jax.Array:
    """(S, 2, n + 1) IoU of the salient sets of two models on the same samples and players,
    for one layer present in both (default: the output, the last layer)."""
    if a.v.shape[0] != b.v.shape[0] or a.n != b.n:
        raise JaxinterInputError(
            f"b: expected {a.num_samples} samples with n = {a.n}, got {b.num_samples}, n = {b.n}"
        )
    ka = -1 if layer is None else a.layer_names.index(layer)
    kb = -1 if layer is None else b.layer_names.index(layer)
    return compare.salient_iou(a.salient()[:, ka], b.salient()[:, kb])


def merge_layerwise(results: Sequence[LayerwiseResult], axis: str = "samples") -> LayerwiseResult:
    """Concatenate results over samples (same layers) or over layers (same samples)."""
    if not results:
        raise JaxinterInputError("results: expected at least one LayerwiseResult")
    first = results[0]
    has_stab = [r.stability is not None for r in results]
    if any(has_stab) and not all(has_stab):
        raise JaxinterInputError("results: either all or none must carry stability")
    if axis == "samples":
        if any(r.layer_names != first.layer_names for r in results):
            raise JaxinterInputError("results: merging samples needs the same layers in each")
        cat = lambda k: jnp.concatenate([getattr(r, k) for r in results], axis=0)  # noqa: E731
        return first.replace(v=cat("v"), i_and=cat("i_and"), i_or=cat("i_or"),
                             stability=cat("stability") if all(has_stab) else None,
                             sample_ids=cat("sample_ids"))
    if axis == "layers":
        if any(not np.array_equal(r.sample_ids, first.sample_ids) for r in results):
            raise JaxinterInputError("results: merging layers needs the same samples in each")
        cat = lambda k: jnp.concatenate([getattr(r, k) for r in results], axis=1)  # noqa: E731
        names = sum((r.layer_names for r in results), ())
        if len(set(names)) != len(names):
            raise JaxinterInputError(f"results: duplicate layer names {names}")
        return first.replace(v=cat("v"), i_and=cat("i_and"), i_or=cat("i_or"),
                             stability=cat("stability") if all(has_stab) else None,
                             layer_names=names)
    raise JaxinterInputError(f"axis: expected 'samples' or 'layers', got {axis!r}")


_ARRAYS = ("v", "i_and", "i_or", "stability", "sample_ids")


def save_layerwise(result: LayerwiseResult, path) -> Path:
    """Write ``path.npz`` (arrays) and ``path.json`` (metadata + :meth:`summary`)."""
    path = Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(getattr(result, k)) for k in _ARRAYS
              if getattr(result, k) is not None}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path.with_suffix(".npz"))
    meta = {"layer_names": list(result.layer_names), "ratio": result.ratio}
    save_json(path.with_suffix(".json"), {**meta, "summary": result.summary()})
    return path.with_suffix(".npz")


def load_layerwise(path) -> LayerwiseResult:
    """Read a result written by :func:`save_layerwise`."""
    path = Path(path).with_suffix("")
    meta = json.loads(path.with_suffix(".json").read_text())
    with np.load(path.with_suffix(".npz")) as data:
        arrays = {k: (jnp.asarray(data[k]) if k in data.files else None) for k in _ARRAYS}
    return LayerwiseResult(**arrays, layer_names=tuple(meta["layer_names"]), ratio=meta["ratio"])
