"""Subset conventions: bit i of an integer index means player i is present.

Index 0 is the empty set, ``2**n - 1`` the full set N. Every array over subsets has the subset
axis last, shape ``(..., 2**n)``. Masks and orders are built on device from integer bit
operations, so they can be generated inside ``jit`` for any chunk of subset indices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import JaxinterInputError


def subset_indices(n: int, start: int = 0, size: int | None = None) -> jax.Array:
    """Integer subset indices ``start .. start + size - 1`` (all 2**n by default), int32."""
    size = 2**n - start if size is None else size
    return start + jnp.arange(size, dtype=jnp.int32)


def masks_of(indices: jax.Array, n: int, dtype=jnp.bool_) -> jax.Array:
    """Player-membership masks of subset indices: (...,) -> (..., n), bit i -> column i."""
    bits = (indices[..., None] >> jnp.arange(n, dtype=indices.dtype)) & 1
    return bits.astype(dtype)


def subset_masks(n: int, dtype=jnp.bool_) -> jax.Array:
    """(2**n, n) membership mask of every subset."""
    return masks_of(subset_indices(n), n, dtype)


def subset_orders(n: int) -> jax.Array:
    """(2**n,) int32 subset sizes |S| (popcount of the index)."""
    return jax.lax.population_count(subset_indices(n))


def orders_np(n: int) -> np.ndarray:
    """Host (numpy) version of :func:`subset_orders`, for static shapes and indexing."""
    return np.bitwise_count(np.arange(2**n, dtype=np.int64)).astype(np.int32)


def complement(indices: jax.Array, n: int) -> jax.Array:
    """Index of N \\ S for each index S."""
    return indices ^ (2**n - 1)


def complement_values(values: jax.Array) -> jax.Array:
    """Reorder a game so that entry S holds the old value at N \\ S, i.e. ``w(N \\ S)``.

    Since ``N \\ S`` has index ``2**n - 1 - S``, this is a reversal of the subset axis.
    """
    return values[..., ::-1]


def subset_index(players, n: int | None = None) -> int:
    """Index of the subset made of the given player ids (``n`` only checks the range)."""
    index = 0
    for p in players:
        if n is not None and not 0 <= p < n:
            raise JaxinterInputError(f"players: player {p} outside 0..{n - 1}")
        index |= 1 << int(p)
    return index


def players_of(index: int) -> tuple[int, ...]:
    """Sorted player ids of a subset index."""
    return tuple(i for i in range(int(index).bit_length()) if (int(index) >> i) & 1)
