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

from ..errors import MAX_PLAYERS, JaxinterInputError, check_int


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


def complement(indices: jax.Array, n: int) -> jax.Array:
    """Indices of the complements ``N \\ S``.

    Args:
      indices: ``(...)`` integer subset indices S.
      n: number of players.

    Returns:
      ``(...)`` indices of ``N \\ S`` (``S ^ (2**n - 1)``).
    """
    return indices ^ (2**n - 1)


def complement_values(values: jax.Array) -> jax.Array:
    """The complemented game ``S -> w(N \\ S)``.

    Since ``N \\ S`` has index ``2**n - 1 - S``, this is a reversal of the subset axis.

    Args:
      values: ``(..., 2**n)`` game w.

    Returns:
      ``(..., 2**n)`` array whose entry S is ``w(N \\ S)``.
    """
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
