"""Salient interactions, per-order summaries and sparsity curves (DESIGN.md 3.4).

Inputs are AND and OR interactions of shape (..., 2**n) (subset axis last, bit i = player i).
The empty set is never salient and never enters a threshold. Everything is pure jnp, batched
over leading axes and jit-able.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..errors import JaxinterInputError, check_game
from ..interactions._subsets import orders_np


def _pair(i_and, i_or):
    i_and, n = check_game(i_and, "i_and", check_values=False)
    i_or, _ = check_game(i_or, "i_or", check_values=False)
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


def salient_mask(i_and, i_or, ratio: float = 0.05, axis: int | None = None):
    """Salient sets: |I(S)| > ratio * max_S max(|I_and(S)|, |I_or(S)|), S nonempty.

    i_and, i_or: (..., 2**n) -> (mask_and, mask_or), bool, same shape. The maximum is taken
    per game (per sample) by default; ``axis`` (e.g. the sample axis, not the subset axis) also
    takes it over that axis: the per-layer variant.
    """
    i_and, i_or, _ = _pair(i_and, i_or)
    if axis is not None and axis % i_and.ndim == i_and.ndim - 1:
        raise JaxinterInputError("axis: must be a batch axis, not the subset (last) axis")
    axis = None if axis is None else axis % i_and.ndim
    s = _strengths(i_and, i_or)
    mask = s > _threshold(s, ratio, axis)
    return mask[..., 0, :], mask[..., 1, :]


@struct.dataclass
class OrderSummary:
    """Per-order summary of salient interactions; index -2 is the type (0 = AND, 1 = OR).

    count, strength, positive, negative: (..., 2, n + 1) number of salient S of order m,
    sum of |I(S)| over them, and the sums of their positive parts and of their negative parts
    (as magnitudes). mean_order: (..., 2) mean order of the salient S (NaN if none).
    high_order_share: (..., 2) share of the salient strength at orders m > n / 2 (NaN if none).
    """

    count: jax.Array
    strength: jax.Array
    positive: jax.Array
    negative: jax.Array
    mean_order: jax.Array
    high_order_share: jax.Array


def safe_ratio(num: jax.Array, den: jax.Array) -> jax.Array:
    """``num / den`` where ``den > 0``, NaN where the ratio is undefined (``den == 0``)."""
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), jnp.nan)


def nanmean0(x) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (NaN where all are NaN), without warnings."""
    x = np.asarray(x, np.float64)
    ok = np.isfinite(x)
    count = ok.sum(0)
    total = np.where(ok, x, 0).sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def order_sums(x) -> jax.Array:
    """Sum of x (..., 2**n) over the subsets of each order -> (..., n + 1)."""
    n = x.shape[-1].bit_length() - 1
    onehot = jnp.asarray(orders_np(n)[:, None] == np.arange(n + 1), x.dtype)
    return jnp.einsum("...s,sm->...m", x, onehot, precision="highest")


def order_summary(i_and, i_or, ratio: float = 0.05, axis: int | None = None) -> OrderSummary:
    """Per-order counts, strength, signed parts, mean order and high-order share.

    i_and, i_or: (..., 2**n); salient sets as in :func:`salient_mask` (``ratio``, ``axis``).
    """
    i_and, i_or, n = _pair(i_and, i_or)
    m_and, m_or = salient_mask(i_and, i_or, ratio, axis)
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

    AND and OR interactions of nonempty S are pooled: (..., 2**n) -> (..., 2 (2**n - 1)) with
    ``axis`` (the sample axis, 0 by default; None for no averaging) removed.
    """
    i_and, i_or, _ = _pair(i_and, i_or)
    s = _strengths(i_and, i_or)[..., 1:]
    s = s.reshape(s.shape[:-2] + (-1,))
    top = jnp.max(s, axis=-1, keepdims=True)
    curve = -jnp.sort(-s / jnp.where(top > 0, top, 1), axis=-1)
    if axis is None or curve.ndim == 1:
        return curve
    axis = axis % i_and.ndim
    if axis == i_and.ndim - 1:
        raise JaxinterInputError("axis: must be a batch axis, not the subset (last) axis")
    return jnp.mean(curve, axis=axis)
