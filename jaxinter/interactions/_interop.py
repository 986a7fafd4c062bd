"""Conversions between jaxinter's subset ordering and other libraries' orderings.

- jaxinter: bit i of the index is player i (least-significant bit first).
- shapiq: subsets ordered by size, then lexicographically by player tuple.
- Published PyTorch research code: most-significant bit first (player 0 is the highest bit).

This is the only module that reorders subsets. Reordering accepts any numeric values (NaN
and infinities are moved like any other value) and works under ``jit`` (then it returns a
traced array instead of a numpy one); see
docs/conventions.md#other-libraries-orderings.
"""

from __future__ import annotations

import itertools
from math import comb

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import (
    MAX_PLAYERS,
    JaxinterInputError,
    array_spec,
    check_int,
    n_players_from_size,
)
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
    n = check_int(n, "n", 1, MAX_PLAYERS)
    max_order = n if max_order is None else check_int(max_order, "max_order", 0, n)
    check_int(min_order, "min_order", 0, max_order)
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
    values, n = _game_array(values)
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
    shape, dtype = array_spec(values, "values")
    n = check_int(n, "n", 1, MAX_PLAYERS)
    top = n if max_order is None else check_int(max_order, "max_order", 0, n)
    check_int(min_order, "min_order", 0, top)
    size = sum(comb(n, k) for k in range(min_order, top + 1))  # before listing the subsets
    if not shape or shape[-1] != size:
        raise JaxinterInputError(
            f"values: expected {size} entries on the last axis (n = {n}, orders "
            f"{min_order}..{top}), got shape {shape}"
        )
    order = shapiq_order(n, max_order, min_order)
    if isinstance(values, jax.core.Tracer):
        return jnp.zeros(shape[:-1] + (2**n,), dtype).at[..., order].set(values)
    out = np.zeros(shape[:-1] + (2**n,), dtype=dtype)
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
    n = check_int(n, "n", 1, MAX_PLAYERS)
    if not all(hasattr(interaction_values, k) for k in ("interaction_lookup", "values")):
        raise JaxinterInputError(
            f"interaction_values: expected a shapiq InteractionValues, got "
            f"{type(interaction_values).__name__}")
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
    n = check_int(n, "n", 1, MAX_PLAYERS)
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
    values, n = _game_array(values)
    return values[..., msb_permutation(n)]


def _game_array(values):
    """``(values, n)`` of games ``(..., 2**n)``, checked from the shape and dtype alone: numpy
    for concrete inputs, the tracer itself under ``jit`` (so that reordering works
    under ``jit``)."""
    shape, _ = array_spec(values, "values")
    if not shape:
        raise JaxinterInputError("values: expected shape (..., 2**n), got a scalar")
    n = n_players_from_size(shape[-1], "values")
    return (values if isinstance(values, jax.core.Tracer) else np.asarray(values)), n


from_msb = to_msb  # the bit reversal is its own inverse
