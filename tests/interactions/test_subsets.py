"""Bitmask conventions: masks, orders, complements, index <-> players."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import (
    complement,
    complement_values,
    masks_of,
    orders_np,
    players_of,
    subset_index,
    subset_indices,
    subset_masks,
    subset_orders,
)


def test_masks_bit_i_is_player_i():
    n = 5
    m = subset_masks(n)
    chex.assert_shape(m, (2**n, n))
    chex.assert_type(m, jnp.bool_)
    expected = np.array([[(s >> i) & 1 for i in range(n)] for s in range(2**n)], dtype=bool)
    np.testing.assert_array_equal(m, expected)
    chex.assert_type(subset_masks(n, jnp.float32), jnp.float32)


def test_orders_are_popcounts():
    for n in [1, 4, 9]:
        expected = [bin(s).count("1") for s in range(2**n)]
        np.testing.assert_array_equal(subset_orders(n), expected)
        np.testing.assert_array_equal(orders_np(n), expected)


def test_chunk_of_indices_inside_jit():
    n, start, size = 8, 96, 32
    chunk = jax.jit(lambda s: masks_of(subset_indices(n, 0, size) + s, n))(start)
    np.testing.assert_array_equal(chunk, np.asarray(subset_masks(n))[start:start + size])
    np.testing.assert_array_equal(subset_indices(n, start, size), np.arange(start, start + size))


def test_complement():
    n = 6
    idx = subset_indices(n)
    comp = np.asarray(complement(idx, n))
    assert not (comp & np.asarray(idx)).any()
    np.testing.assert_array_equal(comp | np.asarray(idx), 2**n - 1)
    v = np.random.default_rng(0).normal(size=(2, 2**n))
    np.testing.assert_array_equal(complement_values(v), v[:, comp])


def test_subset_index_and_players_round_trip():
    assert subset_index([]) == 0
    assert subset_index([0, 2]) == 0b101
    for s in range(2**6):
        assert subset_index(players_of(s)) == s
    assert players_of(0b10010) == (1, 4)
    with pytest.raises(JaxinterInputError, match="players"):
        subset_index([0, 6], n=6)
