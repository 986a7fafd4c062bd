"""Conversions between jaxinter's subset ordering and other libraries' orderings.

jaxinter: bit i of the index is player i (least-significant bit first).
shapiq: subsets ordered by size, then lexicographically by player tuple.
Published PyTorch research code: most-significant bit first (player 0 is the highest bit).
"""

from __future__ import annotations

import itertools

import numpy as np

from .subsets import subset_index


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
    n = values.shape[-1].bit_length() - 1
    return values[..., shapiq_order(n, max_order, min_order)]


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
    return values[..., msb_permutation(values.shape[-1].bit_length() - 1)]


from_msb = to_msb  # the bit reversal is its own inverse
