"""Subset conventions: bit i of an integer index means player i is present.

Index 0 is the empty set, ``2**n - 1`` the full set N. Every array over subsets has the subset
axis last, shape ``(..., 2**n)``. Masks and orders are built on device from integer bit
operations, so they can be generated inside ``jit`` for any chunk of subset indices. See
docs/conventions.md#subsets-are-bitmasks.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import (
    MAX_PLAYERS,
    JaxinterInputError,
    array_spec,
    check_int,
    check_subset_axis,
    value_range,
)


def subset_indices(n: int, start: int = 0, size: int | None = None) -> jax.Array:
    """A range of subset indices, e.g. one chunk of the ``2**n`` subsets.

    Args:
      n: number of players.
      start: first index.
      size: number of indices (default: up to ``2**n - 1``).

    Returns:
      ``(size,)`` int32 indices ``start .. start + size - 1``.
    """
    check_int(n, "n", 1, MAX_PLAYERS)
    check_int(start, "start", 0, 2**n - 1)
    check_int(size, "size", 1, 2**n - start, optional=True)
    size = 2**n - start if size is None else size
    return start + jnp.arange(size, dtype=jnp.int32)


def masks_of(indices: jax.Array, n: int, dtype=jnp.bool_) -> jax.Array:
    """Player-membership masks of subset indices.

    Args:
      indices: ``(...)`` integer subset indices.
      n: number of players.
      dtype: dtype of the masks.

    Returns:
      ``(..., n)`` masks; column i is bit i of the index (player i present).
    """
    indices = check_indices(indices, n)
    try:
        dtype = jnp.dtype(dtype)
    except TypeError as err:
        raise JaxinterInputError(f"dtype: expected a numpy dtype, got {dtype!r}") from err
    bits = (indices[..., None] >> jnp.arange(n, dtype=indices.dtype)) & 1
    return bits.astype(dtype)


def subset_masks(n: int, dtype=jnp.bool_) -> jax.Array:
    """Membership masks of all subsets.

    Args:
      n: number of players.
      dtype: dtype of the masks.

    Returns:
      ``(2**n, n)`` masks; entry ``[S, i]`` says whether player i is in S.
    """
    return masks_of(subset_indices(n), n, dtype)


def subset_orders(n: int) -> jax.Array:
    """The order ``|S|`` of every subset (the population count of its index).

    Args:
      n: number of players.

    Returns:
      ``(2**n,)`` int32 orders.
    """
    return jax.lax.population_count(subset_indices(n))  # n checked there


def orders_np(n: int) -> np.ndarray:
    """Host (numpy) version of ``subset_orders``, for static shapes and indexing.

    Args:
      n: number of players.

    Returns:
      ``(2**n,)`` int32 numpy orders.
    """
    check_int(n, "n", 1, MAX_PLAYERS)
    return np.bitwise_count(np.arange(2**n, dtype=np.int64)).astype(np.int32)


def check_indices(indices, n: int, name: str = "indices") -> jax.Array:
    """Integer subset indices in ``0..2**n - 1`` (any shape) as a jax array, for ``n`` players
    (checked too); the range is checked on concrete arrays."""
    check_int(n, "n", 1, MAX_PLAYERS)
    _, dtype = array_spec(indices, name)
    if dtype.kind not in "iu":
        raise JaxinterInputError(f"{name}: expected integer subset indices, got dtype {dtype}")
    indices = jnp.asarray(indices)
    if not isinstance(indices, jax.core.Tracer) and indices.size:
        low, high = value_range(indices)
        if low < 0 or high >= 2**n:
            raise JaxinterInputError(
                f"{name}: expected indices in 0..{2**n - 1} ({n} players), got {int(low)}.."
                f"{int(high)}")
    return indices


def complement(indices: jax.Array, n: int) -> jax.Array:
    """Indices of the complements ``N \\ S``.

    Args:
      indices: ``(...)`` integer subset indices S.
      n: number of players.

    Returns:
      ``(...)`` indices of ``N \\ S`` (``S ^ (2**n - 1)``).
    """
    indices = check_indices(indices, n)
    return indices ^ (2**n - 1)


def complement_values(values: jax.Array) -> jax.Array:
    """The complemented game ``S -> w(N \\ S)``.

    Since ``N \\ S`` has index ``2**n - 1 - S``, this is a reversal of the subset axis.

    Args:
      values: ``(..., 2**n)`` game w.

    Returns:
      ``(..., 2**n)`` array whose entry S is ``w(N \\ S)``.
    """
    check_subset_axis(values, "values")
    return values[..., ::-1]


def subset_index(players, n: int | None = None) -> int:
    """The index of the subset made of some players: ``subset_index([0, 2]) == 5``.

    Args:
      players: iterable of player ids.
      n: number of players, to check that every id is in ``0..n-1`` (optional).

    Returns:
      The integer index, bit i set for each player i.
    """
    n = check_int(n, "n", 1, MAX_PLAYERS, optional=True)
    if isinstance(players, str | bytes) or not isinstance(players, Iterable):
        raise JaxinterInputError(f"players: expected an iterable of player ids, got {players!r}")
    index = 0
    for p in players:
        check_int(p, "players", 0, None if n is None else n - 1)
        index |= 1 << int(p)
    return index


def players_of(index: int) -> tuple[int, ...]:
    """The players of a subset index: ``players_of(5) == (0, 2)``.

    Args:
      index: integer subset index.

    Returns:
      Sorted tuple of player ids.
    """
    index = check_int(index, "index", 0)
    return tuple(i for i in range(int(index).bit_length()) if (int(index) >> i) & 1)
