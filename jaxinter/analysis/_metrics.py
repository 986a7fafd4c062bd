"""Salient interactions, per-order summaries, sparsity curves and means over samples.

Inputs are AND and OR interactions of shape (..., 2**n) (subset axis last, bit i = player i).
The empty set is never salient and never enters a threshold. Everything is pure jnp, batched
over leading axes and jit-able. NaN or infinite interactions raise ``JaxinterInputError``
(a value check on concrete arrays, skipped under ``jit``); ``supported_mean`` is the one
NaN-aware function: NaN marks an undefined per-sample value.
"""

from __future__ import annotations

from math import comb
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..errors import (
    JaxinterInputError,
    check_axis,
    check_bool_mask,
    check_floating,
    check_game,
    check_int,
    check_number,
    check_real_array,
    check_subset_axis,
)
from ..interactions import orders_np


def _pair(i_and, i_or):
    i_and, n = check_game(i_and, "i_and")
    i_or, _ = check_game(i_or, "i_or")
    if i_and.shape != i_or.shape:
        raise JaxinterInputError(f"i_or: expected shape {i_and.shape}, got {i_or.shape}")
    return i_and, i_or, n


def _strengths(i_and, i_or):
    """|I| with the empty set zeroed, stacked as (..., 2, 2**n) (AND, OR)."""
    return jnp.abs(jnp.stack([i_and, i_or], axis=-2)).at[..., 0].set(0)


def _threshold(strength, ratio, axis):
    """tau = ratio * max over S, types (and ``axis``): (..., 1, 1) broadcastable."""
    tau = ratio * jnp.max(strength, axis=(-2, -1), keepdims=True)
    if axis is not None:
        tau = jnp.max(tau, axis=axis, keepdims=True)
    return tau


def _batch_axis(axis: int | None, ndim: int) -> int | None:
    """``axis`` as a non-negative batch axis of an array of ``ndim`` dimensions (subset last)."""
    axis = check_axis(axis, "axis", ndim, optional=True)
    if axis == ndim - 1:
        raise JaxinterInputError("axis: must be a batch axis, not the subset (last) axis")
    return axis


def salient_mask(i_and, i_or, ratio: float = 0.05, axis: int | None = None):
    """Salient sets: ``|I(S)| > tau``, ``tau = ratio * max_S max(|I_and(S)|, |I_or(S)|)``.

    The empty set is never salient and does not enter the maximum.

    Args:
      i_and, i_or: (..., 2**n) AND and OR interactions of the same games.
      ratio: the threshold as a fraction of the largest interaction.
      axis: None for the maximum per game (per sample); a batch axis (e.g. the sample axis)
        to take it over that axis too (the per-layer variant).

    Returns:
      (mask_and, mask_or), booleans of shape (..., 2**n).
    """
    check_number(ratio, "ratio", 0, 1, high_open=True)
    i_and, i_or, _ = _pair(i_and, i_or)
    return _salient(i_and, i_or, ratio, _batch_axis(axis, i_and.ndim))


def _salient(i_and, i_or, ratio, axis):
    """:func:`salient_mask` of checked arguments."""
    s = _strengths(i_and, i_or)
    mask = s > _threshold(s, ratio, axis)
    return mask[..., 0, :], mask[..., 1, :]


@struct.dataclass
class OrderSummary:
    """Per-order summary of salient interactions; index -2 is the type (0 = AND, 1 = OR).

    Attributes:
      count: (..., 2, n + 1) number of salient S of order m.
      strength: (..., 2, n + 1) sum of |I(S)| over them.
      positive, negative: (..., 2, n + 1) sums of their positive parts and of their negative
        parts (as magnitudes).
      mean_order: (..., 2) mean order of the salient S (NaN if none).
      high_order_share: (..., 2) share of the salient strength at orders m > n / 2 (NaN if
        none).
    """

    frame_axes: ClassVar[dict] = {
        "count": ("type", "order"), "strength": ("type", "order"),
        "positive": ("type", "order"), "negative": ("type", "order"),
        "mean_order": ("type",), "high_order_share": ("type",)}

    count: jax.Array
    strength: jax.Array
    positive: jax.Array
    negative: jax.Array
    mean_order: jax.Array
    high_order_share: jax.Array


def safe_ratio(num: jax.Array, den: jax.Array) -> jax.Array:
    """``num / den`` where ``den > 0``, NaN where the ratio is undefined (``den == 0``).

    Args:
      num, den: arrays that broadcast together.

    Returns:
      The floating ratio, of the broadcast shape.
    """
    num_shape, _ = check_real_array(num, "num")
    den_shape, _ = check_real_array(den, "den")
    try:
        np.broadcast_shapes(num_shape, den_shape)
    except ValueError as err:
        raise JaxinterInputError(
            f"den: shape {den_shape} does not broadcast with num {num_shape}") from err
    num, den = jnp.asarray(num), jnp.asarray(den)
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), jnp.nan)


def order_sums(x) -> jax.Array:
    """Sum of ``x`` over the subsets of each order.

    Args:
      x: (..., 2**n) values indexed by subset.

    Returns:
      (..., n + 1) where entry m sums ``x[..., S]`` over the S with ``|S| = m``.
    """
    check_subset_axis(x, "x")
    n = check_subset_axis(x, "x")
    onehot = jnp.asarray(orders_np(n)[:, None] == np.arange(n + 1), x.dtype)
    return jnp.einsum("...s,sm->...m", x, onehot, precision="highest")


def order_means(x) -> jax.Array:
    """Mean of ``x`` over the subsets of each order (e.g. the mean strength per subset).

    Args:
      x: (..., 2**n) values indexed by subset.

    Returns:
      (..., n + 1) where entry m is :func:`order_sums` divided by the ``C(n, m)`` subsets.
    """
    x, n = check_game(x, "x")
    return order_sums(x) / jnp.asarray([comb(n, m) for m in range(n + 1)], x.dtype)


def order_summary(i_and, i_or, ratio: float = 0.05, axis: int | None = None) -> OrderSummary:
    """Per-order counts, strength, signed parts, mean order and high-order share.

    Args:
      i_and, i_or: (..., 2**n) AND and OR interactions of the same games.
      ratio, axis: the salient threshold, as in :func:`salient_mask`.

    Returns:
      An :class:`OrderSummary` with leading axes ``...``.
    """
    check_number(ratio, "ratio", 0, 1, high_open=True)
    i_and, i_or, n = _pair(i_and, i_or)
    m_and, m_or = _salient(i_and, i_or, ratio, _batch_axis(axis, i_and.ndim))
    values = jnp.stack([i_and, i_or], axis=-2)
    mask = jnp.stack([m_and, m_or], axis=-2)
    sal = jnp.where(mask, values, 0)
    count = order_sums(mask.astype(values.dtype))
    strength = order_sums(jnp.abs(sal))
    positive = order_sums(jnp.maximum(sal, 0))
    negative = order_sums(jnp.maximum(-sal, 0))
    m = jnp.arange(n + 1, dtype=values.dtype)
    total_count, total = count.sum(-1), strength.sum(-1)
    mean_order = safe_ratio((count * m).sum(-1), total_count)
    share = safe_ratio(jnp.where(m > n / 2, strength, 0).sum(-1), total)
    return OrderSummary(count, strength, positive, negative, mean_order, share)


def sparsity_curve(i_and, i_or, axis: int | None = 0) -> jax.Array:
    """Normalized sparsity curve: |I(S)| / max |I| sorted descending, averaged over ``axis``.

    Args:
      i_and, i_or: (..., 2**n) AND and OR interactions; those of nonempty S are pooled.
      axis: the batch axis to average over (the sample axis, 0 by default), or None.

    Returns:
      (..., 2 (2**n - 1)) with ``axis`` removed.
    """
    i_and, i_or, _ = _pair(i_and, i_or)
    axis = None if i_and.ndim == 1 else _batch_axis(axis, i_and.ndim)  # 1-d: nothing to average
    s = _strengths(i_and, i_or)[..., 1:]
    s = s.reshape(s.shape[:-2] + (-1,))
    top = jnp.max(s, axis=-1, keepdims=True)
    curve = -jnp.sort(-s / jnp.where(top > 0, top, 1), axis=-1)
    if axis is None:
        return curve
    return jnp.mean(curve, axis=axis)


@struct.dataclass
class SupportedMean:
    """Mean over samples of a quantity that is undefined (NaN) for some samples.

    Attributes:
      mean: (...) mean over the samples where the value is defined; NaN where none is.
      support: (...) number of samples where it is defined.
      num_samples: number of samples in all.
    """

    frame_axes: ClassVar[dict] = {"mean": (), "support": ()}

    mean: jax.Array
    support: jax.Array
    num_samples: int = struct.field(pytree_node=False)

    def where_supported(self, min_fraction: float = 0.1, min_count: int = 3) -> jax.Array:
        """``mean`` where at least ``max(min_count, min_fraction * num_samples)`` samples
        define it, NaN elsewhere (a mean of a handful of samples is noise)."""
        enough = self.support >= max(min_count, min_fraction * self.num_samples)
        return jnp.where(enough, self.mean, jnp.nan)


def supported_mean(values, axis: int = 0) -> SupportedMean:
    """Mean over the samples where a per-sample value is defined, with its support.

    Per-sample ratios such as the IoU of salient sets or the stability of an order are NaN
    where there is nothing to measure (no salient interaction of that order); this averages
    the others and counts them.

    Args:
      values: (..., samples, ...) floats, NaN (or infinite) where undefined.
      axis: the sample axis.

    Returns:
      A :class:`SupportedMean` whose arrays have the shape of ``values`` without ``axis``.
    """
    values = check_floating(values, "values")
    if values.ndim < 1 or not values.size:
        raise JaxinterInputError(f"values: expected (..., samples, ...), got shape {values.shape}")
    axis = check_axis(axis, "axis", values.ndim)
    defined = jnp.isfinite(values)
    support = defined.sum(axis)
    mean = safe_ratio(jnp.where(defined, values, 0).sum(axis), support)
    return SupportedMean(mean, support, values.shape[axis])


@struct.dataclass
class StrongestInteractions:
    """The strongest salient interactions of each game, strongest first.

    Attributes:
      kind: (..., k) int, the type of each: 0 = AND, 1 = OR.
      subset: (..., k) int, its subset S as a bitmask.
      value: (..., k) its interaction I(S) (0 in empty slots).
      valid: (..., k) bool, False in the slots past the game's number of salient interactions.
    """

    frame_axes: ClassVar[dict] = {
        "kind": ("rank",), "subset": ("rank",), "value": ("rank",), "valid": ("rank",)}

    kind: jax.Array
    subset: jax.Array
    value: jax.Array
    valid: jax.Array


def strongest_interactions(interactions, salient, top: int) -> StrongestInteractions:
    """The ``top`` salient interactions of largest magnitude, AND and OR together.

    Ties keep the order AND before OR, then increasing subset index.

    Args:
      interactions: (..., 2, 2**n) AND (index 0) and OR (index 1) interactions.
      salient: (..., 2, 2**n) bool salient sets (e.g. from :func:`salient_mask`).
      top: number of interactions to keep per game, k = min(top, 2 * 2**n).

    Returns:
      A :class:`StrongestInteractions` with arrays (..., k).
    """
    interactions, _ = check_game(interactions, "interactions")
    if interactions.ndim < 2 or interactions.shape[-2] != 2:
        raise JaxinterInputError(
            f"interactions: expected shape (..., 2, 2**n), got {interactions.shape}")
    salient = check_bool_mask(salient, "salient", like_shape=interactions.shape,
                              same_shape=True)
    check_int(top, "top", 1)
    flat = interactions.reshape(interactions.shape[:-2] + (2 * interactions.shape[-1],))
    flat_salient = salient.reshape(flat.shape)
    k = min(int(top), flat.shape[-1])
    _, index = jax.lax.top_k(jnp.where(flat_salient, jnp.abs(flat), -1), k)
    valid = jnp.take_along_axis(flat_salient, index, axis=-1)
    value = jnp.where(valid, jnp.take_along_axis(flat, index, axis=-1), 0)
    size = interactions.shape[-1]
    return StrongestInteractions(index // size, index % size, value, valid)
