"""Players and baselines against independent constructions (slicing, loops over definitions)."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter import JaxinterInputError
from jaxinter.interactions import subset_indices
from jaxinter.masking import (
    Players,
    mean_baseline,
    patch_scores,
    salient_patch_ids,
    shift_baseline,
    token_baseline,
    zero_baseline,
)
from jaxinter.masking._players import check_baseline

RNG = np.random.default_rng(1)


def _dense_membership(groups, size):
    m = np.zeros((len(groups), size), bool)
    for i, g in enumerate(groups):
        m[i, g] = True
    return m


def test_from_groups_membership_and_keep_mask():
    groups = [[0, 5], [2], [7, 3, 1]]
    players = Players.from_groups(groups, (2, 4))
    assert players.n == 3 and players.input_shape == (2, 4) and not players.per_sample
    np.testing.assert_array_equal(players.assignment, [0, 2, 1, 2, -1, 0, -1, 2])
    member = _dense_membership(groups, 8)
    np.testing.assert_array_equal(players.membership(), member)
    keep = players.keep_mask(subset_indices(3))
    chex.assert_shape(keep, (8, 8))
    for s in range(8):
        present = [(s >> i) & 1 for i in range(3)]
        expected = ~member.any(0) | (np.array(present) @ member).astype(bool)
        np.testing.assert_array_equal(keep[s], expected)


def test_apply_keeps_unassigned_variables():
    players = Players.from_groups([[0], [2, 3]], (5,))
    x = jnp.arange(1.0, 6.0)
    b = -jnp.ones(5)
    out = players.apply(jnp.broadcast_to(x, (4, 5)), b, subset_indices(2))
    # indices 1 and 4 belong to no player: always the input value
    np.testing.assert_array_equal(
        out,
        [[-1, 2, -1, -1, 5], [1, 2, -1, -1, 5], [-1, 2, 3, 4, 5], [1, 2, 3, 4, 5]],
    )


@pytest.mark.parametrize(
    "groups, match",
    [
        ([[0, 1], [1, 2]], "players 0 and 1 overlap at flat index 1"),
        ([[0, 0]], "player 0 lists flat index 0 twice"),
        ([[0], []], "player 1 must be a non-empty list"),
        ([[0], [6]], "index 6 outside 0..5"),
        ([[-1]], "index -1 outside 0..5"),
        ([[0.5]], "non-integer"),
        ([], "non-empty list of lists"),
        (None, "non-empty list of lists"),
    ],
)
def test_bad_groups(groups, match):
    with pytest.raises(JaxinterInputError, match=match):
        Players.from_groups(groups, (2, 3))


def test_features_and_tokens():
    p = Players.features((4,), [3, 1])
    np.testing.assert_array_equal(p.assignment, [-1, 1, -1, 0])
    tokens = Players.tokens((5, 2, 3), [4, [0, 2]])
    member = np.asarray(tokens.membership()).reshape(2, 5, 6)
    np.testing.assert_array_equal(member.all(-1), [[0, 0, 0, 0, 1], [1, 0, 1, 0, 0]])
    np.testing.assert_array_equal(member.any(-1), member.all(-1))  # whole embeddings
    # masking a token replaces its whole embedding by the baseline embedding
    x = jnp.asarray(RNG.normal(size=(5, 2, 3)), jnp.float32)
    b = token_baseline(jnp.full((2, 3), 9.0), 5)
    out = tokens.apply(x[None], b, jnp.array([1]))  # player 0 (token 4) present only
    out, x = np.asarray(out[0]), np.asarray(x)
    np.testing.assert_array_equal(out[[0, 2]], 9.0)
    np.testing.assert_array_equal(out[[1, 3, 4]], x[[1, 3, 4]])
    with pytest.raises(JaxinterInputError, match="token 5 of player 0 outside 0..4"):
        Players.tokens((5, 2, 3), [5])


@pytest.mark.parametrize("shape, size", [((28, 28), 3), ((8, 8, 3), 2), ((9, 7), (2, 3))])
def test_patch_players_match_slicing(shape, size):
    ph, pw = (size, size) if np.isscalar(size) else size
    rows, cols = shape[0] // ph, shape[1] // pw
    ids = RNG.choice(rows * cols, size=5, replace=False)
    players = Players.patches(shape, size, ids)
    member = np.asarray(players.membership()).reshape((5,) + shape)
    for i, cell in enumerate(ids):
        r, c = divmod(int(cell), cols)
        expected = np.zeros(shape, bool)
        expected[r * ph : (r + 1) * ph, c * pw : (c + 1) * pw] = True
        np.testing.assert_array_equal(member[i], expected)


def test_per_sample_patches_and_stack():
    ids = np.array([[0, 80, 40], [1, 2, 3]])
    players = Players.patches((28, 28), 3, ids)
    assert players.per_sample and players.assignment.shape == (2, 784)
    stacked = Players.stack([Players.patches((28, 28), 3, row) for row in ids])
    np.testing.assert_array_equal(players.assignment, stacked.assignment)
    # the last row/column of a 28x28 image lies outside the 9x9 grid of 3x3 patches
    grid = np.asarray(players.assignment[0]).reshape(28, 28)
    assert (grid[27] == -1).all() and (grid[:, 27] == -1).all()
    # sample 1's keep mask uses sample 1's players
    keep = players.keep_mask(jnp.array([0b001, 0b001]), jnp.array([0, 1]))
    np.testing.assert_array_equal(keep[0], ~np.isin(np.asarray(players.assignment[0]), [1, 2]))
    np.testing.assert_array_equal(keep[1], ~np.isin(np.asarray(players.assignment[1]), [1, 2]))
    with pytest.raises(
        JaxinterInputError, match="entry 1 has n=1.*expected shared players with n=2"
    ):
        Players.stack([Players.patches((28, 28), 3, [0, 1]), Players.patches((28, 28), 3, [0])])


@pytest.mark.parametrize(
    "ids, match",
    [([0, 81], "cell ids must lie in 0..80"), ([2, 2], "listed twice"), ([], "expected")],
)
def test_bad_patch_ids(ids, match):
    with pytest.raises(JaxinterInputError, match=match):
        Players.patches((28, 28), 3, np.asarray(ids, dtype=int))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Players.patches((28, 28), (3, 3, 3), [0]), "patch_size: expected an int or"),
        (lambda: Players.patches((28, 28), 2.5, [0]), "patch_size: expected an int or"),
        (lambda: Players.features((40,)), r"n = 40 players is outside the supported range 1\.\.30"),
        (lambda: Players.patches((28, 28), 0, [0]), r"patch_size: expected 1\.\.28"),
        (lambda: Players.patches((28,), 3, [0]), r"input_shape: patches need \(H, W"),
        (lambda: Players.patches((28, 28), 3, [0.0]), "patch_ids: expected integers"),
        (lambda: Players.tokens((5, 2), []), "positions: expected a non-empty list"),
        (lambda: Players.tokens((5, 2), [0, [1, 0]]), "token 0 belongs to players 0 and 1"),
        (lambda: Players.tokens((5, 2), [0.5]), "positions: entry 0 must be ints"),
        (lambda: Players.tokens((5,), [0]), "token players need"),
        (lambda: Players.features(10), "input_shape: expected a non-empty list of integers"),
        (lambda: Players.from_groups([[0]], (0, 3)),
         r"input_shape\[0\]: expected an integer >= 1, got 0"),
        (lambda: token_baseline(jnp.zeros(3), 0), "num_tokens: expected an integer >= 1"),
        (lambda: shift_baseline(jnp.ones(3), jnp.nan), "delta: contains 1 NaN"),
        (lambda: mean_baseline(np.ones((3, 2), int)), "data: expected a real floating"),
        (lambda: Players.patches((4, 4), 2, [[0, 1], [1, 2]]).keep_mask(jnp.array([1])),
         "sample: required"),
    ],
)
def test_bad_player_and_baseline_arguments(make, match):
    with pytest.raises(JaxinterInputError, match=match):
        make()


def test_patch_scores_and_salient_ids():
    x = RNG.uniform(size=(3, 8, 8, 2))
    b = RNG.uniform(size=(8, 8, 2))
    for rule in ("deviation", "variance"):
        scores = patch_scores(x, 2, b, rule)
        chex.assert_shape(scores, (3, 16))
        for s in range(3):
            for cell in range(16):
                r, c = divmod(cell, 4)
                block = x[s, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
                base = b[2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
                ref = np.abs(block - base).mean() if rule == "deviation" else block.var()
                np.testing.assert_allclose(scores[s, cell], ref, rtol=1e-12)
    # bright squares on a dark background: the chosen cells are exactly the bright ones
    img = np.zeros((2, 28, 28))
    img[0, 3:6, 6:9] = 1.0  # cell (1, 2) = 11
    img[0, 12:15, 12:15] = 0.5  # cell (4, 4) = 40
    img[1, 24:27, 0:3] = 0.7  # cell (8, 0) = 72
    img[1, 0:3, 0:3] = 0.2  # cell 0
    np.testing.assert_array_equal(salient_patch_ids(img, 3, 2), [[11, 40], [0, 72]])
    with pytest.raises(JaxinterInputError, match=r"n: expected an integer in \[1, 81\]"):
        salient_patch_ids(img, 3, 82)
    with pytest.raises(JaxinterInputError, match="rule"):
        patch_scores(img, 3, rule="max")


def test_baselines():
    data = RNG.normal(size=(10, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(mean_baseline(data), data.mean(0), rtol=1e-6)
    np.testing.assert_array_equal(zero_baseline((3, 4)), np.zeros((3, 4)))
    delta = 0.3
    shifted = np.asarray(shift_baseline(data, delta))
    for v, s in zip(data.reshape(-1), shifted.reshape(-1), strict=True):
        # moved toward zero by min(|v|, delta), never across it
        expected = np.sign(v) * max(abs(v) - delta, 0.0)
        np.testing.assert_allclose(s, expected, rtol=1e-6, atol=1e-7)
    # per-feature delta broadcasts
    per = np.asarray(shift_baseline(data, np.linspace(0, 1, 4, dtype=np.float32)))
    np.testing.assert_array_equal(per[..., 0], data[..., 0])
    with pytest.raises(JaxinterInputError, match="delta: expected non-negative"):
        shift_baseline(data, -0.1)


def test_check_baseline():
    assert check_baseline(jnp.zeros((3, 4)), (3, 4), 5).shape == (3, 4)
    assert check_baseline(jnp.zeros((5, 3, 4)), (3, 4), 5).shape == (5, 3, 4)
    with pytest.raises(JaxinterInputError, match=r"baseline: expected shape \(3, 4\) or"):
        check_baseline(jnp.zeros((4, 3)), (3, 4), 5)
    with pytest.raises(JaxinterInputError, match="floating"):
        check_baseline(jnp.zeros((3, 4), jnp.int32), (3, 4), 5)
    with pytest.raises(JaxinterInputError, match="NaN"):
        check_baseline(jnp.full((3, 4), jnp.nan), (3, 4), 5)
