"""Conversions between jaxinter's subset ordering and other libraries' orderings.

- jaxinter: bit i of the index is player i (least-significant bit first).
- shapiq: subsets ordered by size, then lexicographically by player tuple.
- Published PyTorch research code: most-significant bit first (player 0 is the highest bit).

This is the only module that reorders subsets; see
docs/conventions.md#other-libraries-orderings.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import JaxinterInputError, n_players_from_size
from ._subsets import subset_index


def shapiq_order(n: int, max_order: int | None = None, min_order: int = 0) -> np.ndarray:
    """Our subset index of each position in shapiq's ordering.

    Args:
      n: number of players.
      max_order: largest subset size listed (default n).
      min_order: smallest subset size listed.

    Returns:
      ``(number of subsets,)`` int64 indices, by size, then lexicographically.
    """
    max_order = n if max_order is None else max_order
    return np.array(
        [
            subset_index(c)
            for k in range(min_order, max_order + 1)
            for c in itertools.combinations(range(n), k)
        ],
        dtype=np.int64,
    )


def to_shapiq(values, max_order: int | None = None, min_order: int = 0) -> np.ndarray:
    """Reorder values from our ordering to shapiq's.

    Args:
      values: ``(..., 2**n)`` values in our ordering.
      max_order: largest subset size kept (default n).
      min_order: smallest subset size kept.

    Returns:
      ``(..., m)`` numpy values of the subsets of sizes ``min_order..max_order`` in shapiq's
      ordering.
    """
    values = np.asarray(values)
    n = n_players_from_size(values.shape[-1], "values")
    return values[..., shapiq_order(n, max_order, min_order)]


def from_shapiq(values, n: int, max_order: int | None = None, min_order: int = 0) -> np.ndarray:
    """Reorder values from shapiq's ordering to ours: the inverse of ``to_shapiq``.

    Args:
      values: ``(..., m)`` values in shapiq's ordering of the subsets of sizes
        ``min_order..max_order``.
      n: number of players.
      max_order: largest subset size present (default n).
      min_order: smallest subset size present.

    Returns:
      ``(..., 2**n)`` numpy values in our ordering; subsets not present are 0.
    """
    values = np.asarray(values)
    order = shapiq_order(n, max_order, min_order)
    if values.shape[-1] != order.size:
        raise JaxinterInputError(
            f"values: expected {order.size} entries on the last axis (n = {n}, orders "
            f"{min_order}..{n if max_order is None else max_order}), got {values.shape[-1]}"
        )
    out = np.zeros(values.shape[:-1] + (2**n,), dtype=values.dtype)
    out[..., order] = values
    return out


def from_shapiq_values(interaction_values, n: int) -> np.ndarray:
    """A shapiq ``InteractionValues`` object as an array in our ordering.

    Args:
      interaction_values: shapiq ``InteractionValues`` (its ``interaction_lookup`` and
        ``values``).
      n: number of players.

    Returns:
      ``(2**n,)`` float64 numpy values; subsets not present are 0.
    """
    out = np.zeros(2**n, dtype=np.float64)
    for players, position in interaction_values.interaction_lookup.items():
        out[subset_index(players)] = interaction_values.values[position]
    return out


def msb_permutation(n: int) -> np.ndarray:
    """The permutation between our ordering and the most-significant-bit-first one.

    It reverses the n bits of each index, so it is its own inverse:
    ``values_msb = values[..., msb_permutation(n)]`` and back the same way.

    Args:
      n: number of players.

    Returns:
      ``(2**n,)`` int64 indices.
    """
    idx = np.arange(2**n, dtype=np.int64)
    rev = np.zeros_like(idx)
    for i in range(n):
        rev |= ((idx >> i) & 1) << (n - 1 - i)
    return rev


def to_msb(values) -> np.ndarray:
    """Reorder values to the MSB-first ordering of published PyTorch code (player 0 highest).

    The bit reversal is its own inverse, so ``from_msb`` is the same function.

    Args:
      values: ``(..., 2**n)`` values in one ordering.

    Returns:
      ``(..., 2**n)`` numpy values in the other ordering.
    """
    values = np.asarray(values)
    return values[..., msb_permutation(n_players_from_size(values.shape[-1], "values"))]


from_msb = to_msb  # the bit reversal is its own inverse
