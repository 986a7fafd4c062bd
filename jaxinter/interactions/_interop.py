"""Conversions between jaxinter's subset ordering and other libraries' orderings.

jaxinter: bit i of the index is player i (least-significant bit first).
shapiq: subsets ordered by size, then lexicographically by player tuple.
Published PyTorch research code: most-significant bit first (player 0 is the highest bit).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import JaxinterInputError, n_players_from_size
from ._subsets import subset_index


def shapiq_order(n: int, max_order: int | None = None, min_order: int = 0) -> np.ndarray:
    """Our subset index of each position in shapiq's ordering: (number of subsets,) int64."""
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
    """(..., 2**n) in our ordering -> (..., m) in shapiq's ordering (sizes min..max_order)."""
    values = np.asarray(values)
    n = n_players_from_size(values.shape[-1], "values")
    return values[..., shapiq_order(n, max_order, min_order)]


def from_shapiq(values, n: int, max_order: int | None = None, min_order: int = 0) -> np.ndarray:
    """Inverse of :func:`to_shapiq`: (..., m) in shapiq's ordering -> (..., 2**n), missing = 0."""
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
    """A shapiq ``InteractionValues`` object -> (2**n,) array in our ordering (missing = 0)."""
    out = np.zeros(2**n, dtype=np.float64)
    for players, position in interaction_values.interaction_lookup.items():
        out[subset_index(players)] = interaction_values.values[position]
    return out


def msb_permutation(n: int) -> np.ndarray:
    """Permutation between our ordering and MSB-first ordering (an involution).

    ``values_msb = values[..., msb_permutation(n)]`` and back the same way.
    """
    idx = np.arange(2**n, dtype=np.int64)
    rev = np.zeros_like(idx)
    for i in range(n):
        rev |= ((idx >> i) & 1) << (n - 1 - i)
    return rev


def to_msb(values) -> np.ndarray:
    """(..., 2**n) in our ordering -> MSB-first ordering of the published PyTorch code."""
    values = np.asarray(values)
    return values[..., msb_permutation(n_players_from_size(values.shape[-1], "values"))]


from_msb = to_msb  # the bit reversal is its own inverse
