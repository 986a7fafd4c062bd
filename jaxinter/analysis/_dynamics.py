"""Training dynamics of interactions (Zhou et al.; arXiv 2405.10262, 2407.19198).

Analyses of a tracked history (checkpoint axis T):

- :func:`normalized_spectrum`, :func:`mean_order`, :func:`high_order_share`: the per-order
  strength distribution at each checkpoint, its strength-weighted mean order and the share above
  order n / 2 (orders >= 1; the empty set is not an interaction). Their input is a per-order
  strength that is already aggregated (``order_summary(...).strength`` summed over probe
  samples and over AND + OR, as the tracker stores it); ``order_summary``'s own ``mean_order``
  and ``high_order_share`` are per game and per type, and its mean order is count-weighted.
- :func:`detect_turn`: the turn from phase one (the order distribution collapses toward low
  orders) to phase two (the order rises again) as the minimum of a smoothed curve;
  :func:`gap_onset`: the checkpoint where the train-test loss gap starts its final rise;
  :func:`order_dynamics`: all of these for a tracked run in one call.
- :func:`trajectory_measures` and :func:`measures_by_order`: per-interaction detours (path length
  over net displacement), sign reversals and time to half of the final strength, aggregated per
  order over the interactions that are salient at the end; :func:`detours_by_model` does it for
  every model of a population, :func:`require_count` blanks orders with too few interactions.
- :class:`InteractionTracker`: the :class:`Tracker` that records the interactions of a probe
  set (and the losses) during training.

Every analysis is a pure jnp function of arrays with the checkpoint axis where documented and any
number of leading batch axes (models, seeds) elsewhere, so populations are analysed in one call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..errors import (
    JaxinterInputError,
    check_bool_mask,
    check_callable,
    check_choice,
    check_finite,
    check_floating,
    check_game,
    check_instance,
    check_int,
    check_int_list,
    check_labels,
    check_mapping,
    check_number,
    check_real_dtype,
)
from ..interactions import extract_interactions, orders_np
from ..masking import masked_layer_scores, masked_scores
from ..masking._players import check_baseline, check_samples
from ..training import cross_entropy
from ._metrics import order_summary, safe_ratio
from ._tracking import Tracker

# ---------------------------------------------------------------------------------------------
# order spectra over training


def normalized_spectrum(strength) -> jax.Array:
    """Share of the total strength held by each order: (..., n + 1) -> (..., n + 1).

    strength: per-order strength sum_{|S|=m} |I(S)| (e.g. from ``metrics.order_summary``).
    Order 0 (the empty set, v(empty)) is excluded and set to 0; rows with no strength are NaN.
    """
    s = check_floating(strength, "strength")
    if s.ndim < 1 or s.shape[-1] < 2:
        raise JaxinterInputError(
            f"strength: expected shape (..., n + 1) with n >= 1, got {s.shape}")
    check_finite(s, "strength")
    s = s.at[..., 0].set(0.0)
    total = s.sum(-1, keepdims=True)
    return safe_ratio(s, total)


def mean_order(strength) -> jax.Array:
    """Strength-weighted mean order over orders >= 1: (..., n + 1) -> (...)."""
    p = normalized_spectrum(strength)
    return (p * jnp.arange(p.shape[-1], dtype=p.dtype)).sum(-1)


def high_order_share(strength) -> jax.Array:
    """Share of the strength (orders >= 1) held by orders above n / 2: (..., n + 1) -> (...)."""
    p = normalized_spectrum(strength)
    n = p.shape[-1] - 1
    return (p * (jnp.arange(n + 1) > n / 2)).sum(-1)


def check_curve(x, name: str) -> jax.Array:
    """A curve over checkpoints: a real floating array (..., T) with T >= 1; NaN marks a
    checkpoint without a value and is allowed."""
    x = check_floating(x, name)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise JaxinterInputError(f"{name}: expected shape (..., checkpoints), got {x.shape}")
    return x


def smooth_curve(x, window: int) -> jax.Array:
    """Centred moving average along the last axis; windows shrink at the edges. (..., T).

    window: odd number of checkpoints (1 = no smoothing).
    """
    x = check_curve(x, "x")
    if check_int(window, "window", 1) % 2 == 0:
        raise JaxinterInputError(f"window: expected a positive odd int, got {window!r}")
    if window == 1:
        return x
    h = window // 2
    pad = [(0, 0)] * (x.ndim - 1) + [(h + 1, h)]
    cs = jnp.cumsum(jnp.pad(x, pad), -1)
    cnt = jnp.cumsum(jnp.pad(jnp.ones(x.shape[-1], x.dtype), (h + 1, h)))
    t = x.shape[-1]
    k = 2 * h + 1
    return (cs[..., k : k + t] - cs[..., :t]) / (cnt[k : k + t] - cnt[:t])


@struct.dataclass
class Turn:
    """Turn of a curve over training, e.g. the mean order (each field has the batch shape).

    index: checkpoint index of the smoothed minimum; drop: curve at the start minus at the
    turn (phase one); rise: curve at the end minus at the turn (phase two); two_phase: both
    exceed ``min_change``.
    """

    frame_axes: ClassVar[dict] = {"index": (), "drop": (), "rise": (), "two_phase": ()}

    index: jax.Array
    drop: jax.Array
    rise: jax.Array
    two_phase: jax.Array


def detect_turn(curve, window: int = 3, min_change: float = 0.05) -> Turn:
    """Turn from phase one (falling) to phase two (rising) of ``curve`` (..., T).

    The curve (mean order, high-order share, ...) is smoothed with a centred moving average of
    ``window`` checkpoints; the turn is its minimum. ``min_change`` is in the curve's units.
    NaN checkpoints (no strength at all) are never the turn; a curve that is NaN at its start or
    end has NaN drop or rise and is not two-phase.
    """
    check_number(min_change, "min_change", 0)
    c = smooth_curve(check_curve(curve, "curve"), window)
    if c.shape[-1] < 3:
        raise JaxinterInputError(f"curve: need at least 3 checkpoints, got {c.shape[-1]}")
    index = jnp.argmin(jnp.where(jnp.isnan(c), jnp.inf, c), -1)
    low = jnp.take_along_axis(c, index[..., None], -1)[..., 0]
    drop, rise = c[..., 0] - low, c[..., -1] - low
    return Turn(index, drop, rise, (drop > min_change) & (rise > min_change))


def gap_onset(train_loss, test_loss, window: int = 3, rise: float = 0.1) -> jax.Array:
    """Checkpoint index where the test - train loss gap starts its final rise. (..., T) -> (...).

    With g the smoothed gap and t* its maximum, the onset is the last t <= t* with
    g_t <= min(g[:t*+1]) + rise (g_{t*} - min g[:t*+1]): the start of the climb to the peak.
    """
    train_loss = check_floating(train_loss, "train_loss")
    test_loss = check_floating(test_loss, "test_loss")
    check_number(rise, "rise", 0)
    if train_loss.shape != test_loss.shape:
        raise JaxinterInputError(
            f"train_loss, test_loss: shapes differ ({train_loss.shape} vs {test_loss.shape})"
        )
    g = smooth_curve(test_loss - train_loss, window)
    t = jnp.arange(g.shape[-1])
    peak = jnp.argmax(g, -1)[..., None]
    before = t <= peak
    g_min = jnp.min(jnp.where(before, g, jnp.inf), -1, keepdims=True)
    g_max = jnp.take_along_axis(g, peak, -1)
    low = before & (g <= g_min + rise * (g_max - g_min))
    return jnp.max(jnp.where(low, t, -1), -1)


# ---------------------------------------------------------------------------------------------
# per-interaction trajectories


@struct.dataclass
class Trajectories:
    """Per-interaction measures of trajectories I_t(S), each (..., 2**n).

    path: sum_t |I_{t+1} - I_t|; net: |I_last - I_first|; reversals: sign changes counted
    between values with |I| above the noise floor (hysteresis: a value below it keeps the last
    sign); half_time: training fraction (step / last step, in [0, 1]) at which |I_t| first
    reaches half of |I_last|.
    """

    frame_axes: ClassVar[dict] = {
        "path": ("subset",), "net": ("subset",), "reversals": ("subset",),
        "half_time": ("subset",)}

    path: jax.Array
    net: jax.Array
    reversals: jax.Array
    half_time: jax.Array


@jax.jit
def _trajectories(traj, steps, floor):
    path = jnp.abs(jnp.diff(traj, axis=0)).sum(0)
    net = jnp.abs(traj[-1] - traj[0])

    def count(carry, i_t):
        last, n_rev = carry
        s = jnp.where(jnp.abs(i_t) > floor, jnp.sign(i_t), 0.0)
        flip = (s != 0) & (last != 0) & (s != last)
        return (jnp.where(s != 0, s, last), n_rev + flip), None

    zeros = jnp.zeros(traj.shape[1:], traj.dtype)
    (_, reversals), _ = jax.lax.scan(count, (zeros, zeros.astype(jnp.int32)), traj)
    reached = jnp.abs(traj) >= 0.5 * jnp.abs(traj[-1])
    first = jnp.argmax(reached, axis=0)
    frac = (steps - steps[0]) / jnp.maximum(steps[-1] - steps[0], 1)
    return Trajectories(path, net, reversals, frac[first].astype(traj.dtype))


def trajectory_measures(traj, steps=None, floor: float = 0.01) -> Trajectories:
    """Detour measures of interaction trajectories.

    traj: (T, ..., 2**n) interactions at T checkpoints (T >= 2); steps: (T,) training steps
    (default 0..T-1). ``floor`` is relative: values with |I| <= floor * max |I| of the whole
    trajectory of that sample count as zero for sign reversals (float noise does not flip).
    """
    traj, _ = check_game(traj, "traj")
    check_number(floor, "floor", 0)
    if traj.ndim < 2 or traj.shape[0] < 2:
        raise JaxinterInputError(f"traj: expected (T >= 2, ..., 2**n), got shape {traj.shape}")
    steps = np.arange(traj.shape[0]) if steps is None else np.asarray(
        check_int_list(steps, "steps", 0))
    if steps.shape != (traj.shape[0],) or np.any(np.diff(steps) <= 0):
        raise JaxinterInputError(
            f"steps: expected {traj.shape[0]} increasing checkpoint steps, got {steps}"
        )
    scale = jnp.max(jnp.abs(traj), axis=(0, traj.ndim - 1), keepdims=True)[0]
    return _trajectories(traj, jnp.asarray(steps, traj.dtype), floor * scale)


@struct.dataclass
class DetourSummary:
    """Per-order aggregates of :class:`Trajectories` over the selected interactions, (n + 1,).

    detour: median of path / net (NaN where net = 0 are skipped); detour_pooled: sum path /
    sum net; reversals: mean sign reversals; half_time: mean time to half final strength;
    count: number of interactions aggregated.
    """

    frame_axes: ClassVar[dict] = {
        "detour": ("order",), "detour_pooled": ("order",), "reversals": ("order",),
        "half_time": ("order",), "count": ("order",)}

    detour: jax.Array
    detour_pooled: jax.Array
    reversals: jax.Array
    half_time: jax.Array
    count: jax.Array


@partial(jax.jit, static_argnums=2)
def _by_order(m: Trajectories, select, n):
    sel = select.reshape(-1, select.shape[-1])
    onehot = jnp.asarray(np.eye(n + 1, dtype=bool)[orders_np(n)])  # (2**n, n + 1)
    w = sel[..., None] & onehot  # (rows, 2**n, n + 1)

    def per_order(x, reduce):
        x = jnp.broadcast_to(x.reshape(-1, x.shape[-1])[..., None], w.shape).astype(m.path.dtype)
        return reduce(jnp.where(w, x, jnp.nan), axis=(0, 1))

    count = w.sum((0, 1))
    ratio = safe_ratio(m.path, m.net)
    path_sum = per_order(m.path, jnp.nansum)
    net_sum = per_order(m.net, jnp.nansum)
    return DetourSummary(
        detour=per_order(ratio, jnp.nanmedian),
        detour_pooled=safe_ratio(path_sum, net_sum),
        reversals=per_order(m.reversals, jnp.nanmean),
        half_time=per_order(m.half_time, jnp.nanmean),
        count=count,
    )


def measures_by_order(measures: Trajectories, select) -> DetourSummary:
    """Aggregate per-interaction measures per order over ``select`` (boolean, same shape).

    Typically ``select`` is the salient set at the last checkpoint. Leading axes are pooled;
    vmap over a model axis for per-model summaries.
    """
    check_instance(measures, "measures", Trajectories)
    select = check_bool_mask(select, "select", like_shape=measures.path.shape, same_shape=True)
    _, n = check_game(measures.path, "measures.path", check_values=False)
    return _by_order(measures, select, n)


def require_count(summary, min_count: int):
    """Per-order aggregates over too few interactions, blanked.

    Args:
      summary: a per-order result with a ``count`` field (:class:`DetourSummary`,
        :class:`jaxinter.analysis.Sensitivity`), every field (..., n + 1).
      min_count: smallest number of aggregated interactions that is reported.

    Returns:
      the same result with every field but ``count`` NaN where ``count < min_count``.
    """
    if not dataclasses.is_dataclass(summary) or not hasattr(summary, "count"):
        raise JaxinterInputError(
            f"summary: expected a per-order result with a count field (DetourSummary, "
            f"Sensitivity), got {type(summary).__name__}")
    check_int(min_count, "min_count", 0)
    keep = jnp.asarray(summary.count) >= min_count
    return summary.replace(**{
        f.name: jnp.where(keep, getattr(summary, f.name), jnp.nan)
        for f in dataclasses.fields(summary) if f.name != "count"})


def detours_by_model(traj, select, steps=None, floor: float = 0.01,
                     min_count: int = 0) -> DetourSummary:
    """Per-order detours of the interaction trajectories of each of M models.

    Args:
      traj: (T, M, ..., 2**n) interactions of M models (e.g. a population's members) at T
        checkpoints.
      select: (M, ..., 2**n) boolean, the interactions aggregated in each model (typically the
        salient set at the last checkpoint).
      steps: (T,) increasing training steps (default 0..T-1).
      floor: relative noise floor of :func:`trajectory_measures`.
      min_count: orders with fewer selected interactions in a model are NaN (see
        :func:`require_count`).

    Returns:
      :class:`DetourSummary` with fields (M, n + 1): :func:`measures_by_order` of each model.
    """
    check_int(min_count, "min_count", 0)
    measures = trajectory_measures(traj, steps, floor)
    select = check_bool_mask(select, "select", like_shape=measures.path.shape, same_shape=True)
    if measures.path.ndim < 2:
        raise JaxinterInputError(f"traj: expected (T, M, ..., 2**n), got shape {traj.shape}")
    n = int(np.log2(measures.path.shape[-1]))
    summary = jax.vmap(lambda m, s: _by_order(m, s, n))(measures, select)
    return require_count(summary, min_count)


# ---------------------------------------------------------------------------------------------
# order spectra, turns and the loss gap of a tracked run


@struct.dataclass
class OrderDynamics:
    """The order spectrum over training, its turn, and the onset of the loss gap.

    T checkpoints first, then the batch axes (...) of the inputs (e.g. the members).

    spectrum: (T, ..., n + 1) share of the strength per order (:func:`normalized_spectrum`).
    mean_order: (T, ...) strength-weighted mean order (:func:`mean_order`).
    high_order_share: (T, ...) share of the strength above order n / 2.
    turn: :class:`Turn` of the mean order over training, fields (...).
    gap_onset: (...) checkpoint index where the test - train loss gap starts its final rise.
    """

    frame_axes: ClassVar[dict] = {
        "spectrum": ("checkpoint", ..., "order"), "mean_order": ("checkpoint", ...),
        "high_order_share": ("checkpoint", ...), "gap_onset": (), "turn": ()}

    spectrum: jax.Array
    mean_order: jax.Array
    high_order_share: jax.Array
    turn: Turn
    gap_onset: jax.Array


def order_dynamics(strength, train_loss, test_loss, window: int = 3, min_change: float = 0.05,
                   rise: float = 0.1) -> OrderDynamics:
    """Spectra, mean order, its turn and the loss-gap onset of a tracked run.

    Args:
      strength: (T, ..., n + 1) per-order strength at T >= 3 checkpoints (e.g. the tracker's
        ``strength_and + strength_or`` of the output layer).
      train_loss, test_loss: (T, ...) losses at the same checkpoints.
      window: odd smoothing window (checkpoints) of :func:`detect_turn` and :func:`gap_onset`.
      min_change: the turn's ``min_change``; rise: the gap onset's ``rise``.

    Returns:
      :class:`OrderDynamics`.
    """
    strength = check_floating(strength, "strength")
    if strength.ndim < 2 or not strength.size:
        raise JaxinterInputError(f"strength: expected (T, ..., n + 1), got {strength.shape}")
    for name, loss in (("train_loss", train_loss), ("test_loss", test_loss)):
        shape, _ = check_real_dtype(loss, name)
        if shape != strength.shape[:-1]:
            raise JaxinterInputError(f"{name}: expected shape {strength.shape[:-1]}, got {shape}")
    check_number(rise, "rise", 0)
    order = mean_order(strength)
    last = lambda a: jnp.moveaxis(jnp.asarray(a), 0, -1)  # noqa: E731  checkpoints last
    return OrderDynamics(
        spectrum=normalized_spectrum(strength),
        mean_order=order,
        high_order_share=high_order_share(strength),
        turn=detect_turn(last(order), window, min_change),
        gap_onset=gap_onset(last(train_loss), last(test_loss), window, rise),
    )


# ---------------------------------------------------------------------------------------------
# the interaction tracker


@struct.dataclass
class InteractionRecord:
    """Interactions of the probe set at one checkpoint (L = scored layers, output last).

    i_and, i_or: (samples, L, 2**n); strength_and, strength_or: (L, n + 1) per-order strength
    of the salient interactions summed over probe samples; train_loss, test_loss: () mean
    cross-entropy on the tracker's evaluation sets.
    """

    frame_axes: ClassVar[dict] = {
        "i_and": ("probe", "layer", "subset"), "i_or": ("probe", "layer", "subset"),
        "strength_and": ("layer", "order"), "strength_or": ("layer", "order"),
        "train_loss": (), "test_loss": ()}

    i_and: jax.Array
    i_or: jax.Array
    strength_and: jax.Array
    strength_or: jax.Array
    train_loss: jax.Array
    test_loss: jax.Array


def _frozen(mapping):
    """A mapping as a hashable tuple of items, in its order (readouts order the layers)."""
    return None if not mapping else tuple(mapping.items())


def _record_fn(apply_fn, readouts, method, andor_options, ratio, chunk_size,
               params, train_labels, data) -> InteractionRecord:
    """One :class:`InteractionRecord`: the static configuration, then params and traced data."""
    x, target, players, baseline, x_tr, _, x_te, y_te = data
    fn = partial(apply_fn, params)
    if readouts:
        v = masked_layer_scores(fn, dict(readouts), x, players, baseline, target, chunk_size)
    else:
        v = masked_scores(fn, x, players, baseline, target, chunk_size)[:, None]
    options = dict(andor_options or ()) if method == "andor" else {}
    i_and, i_or = extract_interactions(v, method, **options)
    strength = order_summary(i_and, i_or, ratio).strength.sum(0)  # (L, 2, n + 1)

    def loss(xx, yy):
        out = apply_fn(params, xx)
        return cross_entropy(out[0] if readouts else out, yy)

    return InteractionRecord(i_and, i_or, strength[..., 0, :], strength[..., 1, :],
                             loss(x_tr, train_labels), loss(x_te, y_te))


def _probe_set(x, target, players, baseline) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The probe samples, their classes and the baseline as jax arrays, checked."""
    x = check_samples(x, players)
    target = check_labels(target, "target", num_samples=x.shape[0])
    return x, jnp.asarray(target), check_baseline(baseline, players.input_shape, x.shape[0])


def _evaluation_set(pair, name: str) -> tuple[jax.Array, jax.Array]:
    """``(x, labels)`` of a loss evaluation set as jax arrays, checked."""
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise JaxinterInputError(f"{name}: expected a pair (x, labels), got {pair!r:.60}")
    shape, _ = check_real_dtype(pair[0], name)
    check_finite(pair[0], name)
    labels = check_labels(pair[1], name, num_samples=shape[0] if shape else None)
    return jnp.asarray(pair[0]), jnp.asarray(labels)


@lru_cache(maxsize=32)
def _recorders(*static):
    """Jitted record of one model and of P models (vmapped over params and labels)."""
    fn = partial(_record_fn, *static)
    return jax.jit(fn), jax.jit(jax.vmap(fn, in_axes=(0, 0, None)))


class InteractionTracker(Tracker):
    """A :class:`Tracker` of the interactions of a fixed probe set, and of the losses.

    Its record is pure and jittable (``traceable``): the probe and evaluation data enter the
    compiled function as arguments, so inside your ``jit`` they are traced values, not
    constants baked into the program; the function is compiled once per configuration and
    shared by trackers built alike (e.g. on resume).

    Args:
      apply_fn: ``(params, x) -> logits``, or ``(params, x) -> (logits, features)`` when
        ``readouts`` scores chosen layers too (e.g. ``CapturedFn.apply``).
      x: (samples, *input_shape) probe samples; target: (samples,) their classes.
      players, baseline: as in :func:`jaxinter.masking.masked_scores`.
      train, test: (x, labels) evaluation sets of the losses.
      every: steps between records.
      readouts: {layer name: fn(features) -> logits}, scored in this order before the output.
      method, andor_options: ``kind`` and options of
        :func:`jaxinter.interactions.extract_interactions` ("and" or "andor").
      ratio: salient threshold of the per-order strengths.
      chunk_size: masked inputs per evaluated chunk.
      folder: where records are written (see :class:`Tracker`); config: JSON-able settings of
        the run, part of the folder's stamp.
    """

    record_type = InteractionRecord
    traceable = True

    def __init__(
        self, apply_fn: Callable, x, target, players, baseline, *, train, test, every: int = 10,
        readouts: Mapping[str, Callable] | None = None, method: str = "and",
        andor_options: Mapping | None = None, ratio: float = 0.05, chunk_size: int = 1024,
        folder: Path | str | None = None, config: Mapping | None = None,
    ):
        check_callable(apply_fn, "apply_fn")
        check_choice(method, "method", ("and", "andor"))
        check_number(ratio, "ratio", 0, 1)
        check_int(chunk_size, "chunk_size", 1)
        for name, options in {"readouts": readouts, "andor_options": andor_options,
                              "config": config}.items():
            check_mapping(options, name)
        self.x, self.target, baseline = _probe_set(x, target, players, baseline)
        self.train, self.test = _evaluation_set(train, "train"), _evaluation_set(test, "test")
        self.andor_options = dict(andor_options or {})
        stamp = dict(config or {}, every=every, method=method, ratio=ratio,
                     andor_options=self.andor_options, n=players.n,
                     probe=np.asarray(self.x).sum().item())
        super().__init__(every, folder, stamp)
        self._data = (self.x, self.target, players, baseline, *self.train,
                      *self.test)
        static = (apply_fn, _frozen(readouts), method, _frozen(self.andor_options), ratio,
                  chunk_size)
        try:
            self._record, self._record_members = _recorders(*static)
        except TypeError:  # unhashable apply_fn or options: compile for this tracker only
            self._record, self._record_members = _recorders.__wrapped__(*static)

    def record(self, params, train_labels=None) -> InteractionRecord:
        """Interactions (probe scores of layers, output last), per-order strengths and losses.

        Args:
          params: what ``apply_fn`` takes.
          train_labels: (n_train,) labels of the train evaluation set instead of the given
            ones (e.g. a member's noisy labels in a population).

        Returns:
          :class:`InteractionRecord`.
        """
        labels = self.train[1] if train_labels is None else train_labels
        return self._record(params, labels, self._data)

    def record_members(self, params, labels=None) -> InteractionRecord:
        """:meth:`record` of P models: params and labels (P, n_train) carry a member axis, and
        so does every field of the result."""
        if labels is None:
            size = jax.tree.leaves(params)[0].shape[0]
            labels = jnp.broadcast_to(self.train[1], (size, *self.train[1].shape))
        return self._record_members(params, labels, self._data)
