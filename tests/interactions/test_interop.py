"""Agreement with shapiq's ExactComputer and the subset-order conversions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from shapiq import ExactComputer

import jaxinter as ji
from jaxinter.interactions import (
    from_msb,
    from_shapiq,
    from_shapiq_values,
    msb_permutation,
    shapiq_order,
    subset_index,
    to_msb,
    to_shapiq,
)


def _network_like_game(n: int, seed: int) -> np.ndarray:
    """A smooth, nonlinear game: a tiny random tanh network evaluated on the mask of S."""
    rng = np.random.default_rng(seed)
    masks = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    hidden = np.tanh(masks @ rng.normal(size=(n, 8)) + rng.normal(size=8))
    return hidden @ rng.normal(size=8)


def _shapiq(u: np.ndarray, n: int) -> ExactComputer:
    bits = 1 << np.arange(n)
    return ExactComputer(lambda coalitions: u[coalitions.astype(np.int64) @ bits], n_players=n)


@pytest.mark.parametrize("n", [6, 7, 8, 9, 10])
def test_against_shapiq_exact_computer(x64, n):
    u = _network_like_game(n, seed=n)
    computer = _shapiq(u, n)
    singletons = [1 << i for i in range(n)]

    def ref(index, order):
        return from_shapiq_values(computer(index, order), n)

    np.testing.assert_allclose(ji.moebius(u), ref("Moebius", n), atol=1e-10)
    np.testing.assert_allclose(ji.shapley_values(u), ref("SV", 1)[singletons], atol=1e-12)
    np.testing.assert_allclose(ji.banzhaf_values(u), ref("BV", 1)[singletons], atol=1e-12)
    for index in ["SII", "k-SII", "BII", "STII"]:
        for order in [2, 3]:
            np.testing.assert_allclose(
                ji.interaction_index(u, index, order),
                ref(index, order),
                atol=1e-10,
                err_msg=f"{index} order {order}",
            )


def test_shapiq_order_matches_shapiq_lookup():
    n = 5
    values = _shapiq(_network_like_game(n, 0), n)("Moebius", n)
    lookup = sorted(values.interaction_lookup.items(), key=lambda item: item[1])
    np.testing.assert_array_equal(shapiq_order(n), [subset_index(p) for p, _ in lookup])
    # to_shapiq puts our array into shapiq's positions, from_shapiq undoes it
    ours = from_shapiq_values(values, n)
    np.testing.assert_array_equal(to_shapiq(ours), values.values)
    np.testing.assert_array_equal(from_shapiq(values.values, n), ours)


def test_shapiq_order_by_size_then_lexicographic():
    n = 4
    players = [tuple(i for i in range(n) if s >> i & 1) for s in shapiq_order(n)]
    assert players == [c for k in range(n + 1) for c in itertools.combinations(range(n), k)]
    partial = shapiq_order(n, max_order=2, min_order=1)
    assert [bin(s).count("1") for s in partial] == [1] * 4 + [2] * 6


def test_shapiq_round_trips():
    v = np.random.default_rng(0).normal(size=(3, 2**6))
    np.testing.assert_array_equal(from_shapiq(to_shapiq(v), 6), v)
    low = to_shapiq(v, max_order=2)
    assert low.shape == (3, 1 + 6 + 15)
    back = from_shapiq(low, 6, max_order=2)
    np.testing.assert_array_equal(
        back[..., np.bitwise_count(np.arange(64)) <= 2],
        v[..., np.bitwise_count(np.arange(64)) <= 2],
    )
    assert not back[..., np.bitwise_count(np.arange(64)) > 2].any()


def test_msb_order_hand_example():
    # n = 3: player 0 is bit 0 for us and the highest bit (value 4) in MSB-first order
    v = np.arange(8)
    np.testing.assert_array_equal(to_msb(v), [0, 4, 2, 6, 1, 5, 3, 7])
    assert to_msb(v)[0b100] == v[subset_index([0])]
    assert to_msb(v)[0b011] == v[subset_index([1, 2])]


def test_msb_round_trip_and_involution():
    v = np.random.default_rng(1).normal(size=(2, 2**7))
    np.testing.assert_array_equal(from_msb(to_msb(v)), v)
    perm = msb_permutation(7)
    np.testing.assert_array_equal(perm[perm], np.arange(2**7))
