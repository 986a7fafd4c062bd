"""Comparing the interactions of two layers or two models (Cheng et al., ICML 2024).

Every function takes interaction arrays of shape ``(..., 2**n)`` (subset axis last, bit i =
player i) and boolean salient masks of the same shape, and returns per-order arrays of shape
``(..., n + 1)`` indexed by the order ``m = |S|``. Leading axes (samples, layers, types) are
kept, so one call handles every layer and both interaction types at once.

:func:`jaxinter.analysis.order_sums` does the per-order sums and
:func:`jaxinter.analysis.safe_ratio` the ratios. Undefined ratios (0/0: no salient interaction
of that order on either side) are NaN; average them over samples with
:func:`jaxinter.analysis.supported_mean`.
"""

from __future__ import annotations

from typing import ClassVar

import flax.struct
import jax
import jax.numpy as jnp

from ..errors import (
    JaxinterInputError,
    check_axis,
    check_bool_mask,
    check_game,
    n_players_from_size,
)
from ._metrics import order_sums, safe_ratio

STABILITY_CAP = 1e6  # stability of an interaction whose noisy draws never change
CHANGE_PARTS = ("overlap", "forget", "new")  # how a layer's strength relates to the reference


def shared_effect(i_l: jax.Array, i_ref: jax.Array) -> jax.Array:
    """The effect two interactions share: ``sign(I_l) min(|I_l|, |I_ref|)`` where the signs
    agree (both nonzero), else 0.

    Args:
      i_l, i_ref: interactions that broadcast together, e.g. (..., 2**n).

    Returns:
      The shared effect, of the broadcast shape.
    """
    i_l, _ = check_game(i_l, "i_l")
    i_ref, _ = check_game(i_ref, "i_ref")
    try:
        jnp.broadcast_shapes(i_l.shape, i_ref.shape)
    except ValueError as err:
        raise JaxinterInputError(
            f"i_ref: shape {i_ref.shape} does not broadcast with i_l {i_l.shape}") from err
    agree = jnp.sign(i_l) * jnp.sign(i_ref) > 0
    return jnp.where(agree, jnp.sign(i_l) * jnp.minimum(jnp.abs(i_l), jnp.abs(i_ref)), 0)


@flax.struct.dataclass
class KnowledgeChange:
    """Per-order strengths (sums of |I| over the subsets of each order) of two layers.

    ``all_l == overlap + forget`` and ``all_ref == overlap + new`` hold to rounding.

    Attributes:
      all_l: (..., n + 1) strength of the salient interactions of layer l.
      all_ref: (..., n + 1) that of the reference (the final layer L).
      overlap: (..., n + 1) their shared effect (:func:`shared_effect`).
      forget: (..., n + 1) what layer l encodes and L does not.
      new: (..., n + 1) what L encodes and l does not.
    """

    frame_axes: ClassVar[dict] = {
        "all_l": ("order",), "all_ref": ("order",), "overlap": ("order",),
        "forget": ("order",), "new": ("order",)}

    all_l: jax.Array
    all_ref: jax.Array
    overlap: jax.Array
    forget: jax.Array
    new: jax.Array

    def _sum(self, x, axis):
        return x if axis is None else jnp.sum(x, axis=axis)

    def completeness(self, axis=None) -> jax.Array:
        """``overlap / all_ref`` after summing both over ``axis`` (e.g. samples); NaN where 0/0:
        how much of the reference's knowledge layer l already has."""
        return safe_ratio(self._sum(self.overlap, axis), self._sum(self.all_ref, axis))

    def redundancy(self, axis=None) -> jax.Array:
        """``forget / all_l`` after summing both over ``axis``; NaN where 0/0: how much of
        what layer l encodes the reference no longer uses."""
        return safe_ratio(self._sum(self.forget, axis), self._sum(self.all_l, axis))


def _check_pair(a, b, name_a: str, name_b: str):
    a, _ = check_game(a, name_a)
    b, _ = check_game(b, name_b)
    if a.shape[-1] != b.shape[-1]:
        raise JaxinterInputError(
            f"{name_b}: subset axis {b.shape[-1]} does not match {name_a} ({a.shape[-1]})"
        )
    return a, b


def knowledge_change(i_l, i_ref, salient_l, salient_ref) -> KnowledgeChange:
    """Emerged, forgotten and shared interactions of layer l against a reference layer.

    Coefficients outside each salient set are zeroed first, which makes the identities
    ``all_l = overlap + forget`` and ``all_ref = overlap + new`` exact.

    Args:
      i_l: (..., 2**n) interactions of layer l, of one type (AND or OR), normalized per layer.
      i_ref: (..., 2**n) those of the reference, e.g. (samples, 1, 2**n) against i_l
        (samples, layers, 2**n); the four arguments broadcast to one shape.
      salient_l, salient_ref: boolean salient masks of i_l and i_ref.

    Returns:
      A :class:`KnowledgeChange` whose fields have the broadcast shape with the subset axis
      replaced by the order axis (n + 1).
    """
    i_l, i_ref = _check_pair(i_l, i_ref, "i_l", "i_ref")
    salient_l = check_bool_mask(salient_l, "salient_l", like_shape=i_l.shape)
    salient_ref = check_bool_mask(salient_ref, "salient_ref", like_shape=i_ref.shape)
    return _knowledge_change(i_l, i_ref, salient_l, salient_ref)


@jax.jit
def _knowledge_change(i_l, i_ref, salient_l, salient_ref) -> KnowledgeChange:
    shape = jnp.broadcast_shapes(i_l.shape, i_ref.shape, salient_l.shape, salient_ref.shape)
    a = jnp.broadcast_to(jnp.where(salient_l, i_l, 0), shape)
    r = jnp.broadcast_to(jnp.where(salient_ref, i_ref, 0), shape)
    s = jnp.abs(shared_effect(a, r))
    return KnowledgeChange(
        all_l=order_sums(jnp.abs(a)),
        all_ref=order_sums(jnp.abs(r)),
        overlap=order_sums(s),
        forget=order_sums(jnp.abs(a) - s),
        new=order_sums(jnp.abs(r) - s),
    )


def salient_iou(mask_a, mask_b) -> jax.Array:
    """Per-order IoU of two salient sets, ``|A_m & B_m| / |A_m | B_m|`` over the subsets of
    order m.

    Args:
      mask_a, mask_b: (..., 2**n) boolean salient sets of two models (or layers) on the same
        games; they broadcast together.

    Returns:
      (..., n + 1) IoU by order; NaN where both sets are empty (always at order 0, the empty set
      is never salient). Average over samples with :func:`jaxinter.analysis.supported_mean`.
    """
    mask_a, mask_b = check_bool_mask(mask_a, "mask_a"), check_bool_mask(mask_b, "mask_b")
    n_players_from_size(mask_a.shape[-1], "mask_a")
    if mask_a.shape[-1] != mask_b.shape[-1]:
        raise JaxinterInputError(
            f"mask_b: subset axis {mask_b.shape[-1]} does not match mask_a ({mask_a.shape[-1]})"
        )
    return _salient_iou(mask_a, mask_b)


@jax.jit
def _salient_iou(mask_a, mask_b):
    inter = order_sums((mask_a & mask_b).astype(jnp.float32))
    union = order_sums((mask_a | mask_b).astype(jnp.float32))
    return safe_ratio(inter, union)


def interaction_stability(draws, salient, axis: int = 0) -> jax.Array:
    """Per-order stability of interactions under input noise.

    The stability of S is ``|mean_k I_k(S)| / std_k I_k(S)`` over the K draws (std with
    ddof = 1, floored at ``|mean| / STABILITY_CAP``: an S whose draws never change gets the cap
    ``1e6``), averaged over the salient S of each order.

    Args:
      draws: (..., 2**n) interactions of K >= 2 noisy copies of the inputs along ``axis``.
      salient: boolean noise-free salient set, shape of ``draws`` without ``axis``.
      axis: the draw axis (a batch axis).

    Returns:
      (..., n + 1) mean stability by order (``draws``' batch axes without ``axis``), NaN where
      no S of that order is salient.
    """
    draws, _ = check_game(draws, "draws")
    axis = check_axis(axis, "axis", draws.ndim)
    if axis == draws.ndim - 1:
        raise JaxinterInputError("axis: the draw axis cannot be the subset axis")
    if draws.shape[axis] < 2:
        raise JaxinterInputError(f"draws: need at least 2 draws along axis {axis}")
    like = jnp.moveaxis(draws, axis, 0)[0]
    salient = check_bool_mask(salient, "salient", like_shape=like.shape)
    return _stability(draws, salient, axis)


@jax.jit(static_argnums=2)
def _stability(draws, salient, axis):
    mean = jnp.mean(draws, axis=axis)
    std = jnp.std(draws, axis=axis, ddof=1)
    floor = STABILITY_CAP**-1 * jnp.abs(mean)
    ratio = jnp.abs(mean) / jnp.maximum(std, jnp.maximum(floor, jnp.finfo(draws.dtype).tiny))
    total = order_sums(jnp.where(salient, ratio, 0))
    count = order_sums(salient.astype(draws.dtype))
    return safe_ratio(total, count)
