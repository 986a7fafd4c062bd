"""Property tests of the AND-OR extraction on non-degenerate games, n up to 10.

Each example is a pair of games drawn from a hypothesis-chosen seed: a random game (every value
distinct, |v| in [0.1, 1], random signs) and a planted one (a few AND and OR interactions of
size 0.5..2 on random subsets, plus distinct noise in [0.1, 0.2] on every value). Checked
against dense matrices built from the definitions (``tests/bruteforce.py``), a feasible point
whose objective bounds the optimum from above, and the exact LP optimum where HiGHS is fast.
"""

from __future__ import annotations

import bruteforce as bf
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jaxinter.interactions import and_or, solve_lp

C_Q, TOL = 0.04, 1e-3


def lsb_masks(n: int) -> np.ndarray:
    """(2**n, n) bool masks in jaxinter's order (bit i of the row index = player i)."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)


@st.composite
def game_pairs(draw, max_n: int = 10):
    """(games (2, 2**n) float64, feasible objective of the planted game) for n in 2..max_n."""
    n = draw(st.sampled_from(range(max_n, 1, -1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    event(f"n = {n}")
    random = rng.choice([-1.0, 1.0], 2**n) * rng.uniform(0.1, 1.0, 2**n)
    planted_and, planted_or = np.zeros(2**n), np.zeros(2**n)
    for planted in (planted_and, planted_or):
        where = rng.choice(2**n, size=min(4, 2**n), replace=False)
        planted[where] = rng.choice([-1.0, 1.0], where.size) * rng.uniform(0.5, 2.0, where.size)
    masks = lsb_masks(n)
    u_and = np.linalg.solve(bf.harsanyi_matrix(masks), planted_and)  # zeta of planted_and
    u_or = np.linalg.solve(bf.or_matrix(masks), planted_or)
    noise = rng.choice([-1.0, 1.0], 2**n) * rng.uniform(0.1, 0.2, 2**n)
    v = np.stack([random, u_and + u_or + noise])
    assert np.unique(v[1]).size == 2**n
    # (g, q) = (0.5 (u_and - u_or), 0) is feasible for the planted game: its objective
    feasible = (np.abs(bf.harsanyi_matrix(masks) @ (u_and + noise / 2)).sum()
                + np.abs(bf.or_matrix(masks) @ (u_or + noise / 2)).sum())
    return v, feasible


examples = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@examples
@given(pair=game_pairs())
def test_and_or_properties(pair):
    v, feasible = pair
    n = v.shape[-1].bit_length() - 1
    res = and_or(jnp.asarray(v, jnp.float32), c_q=C_Q, tol=TOL)
    masks = lsb_masks(n)
    to_and, to_or = bf.harsanyi_matrix(masks), bf.or_matrix(masks)
    q, g = np.asarray(res.q, np.float64), np.asarray(res.g, np.float64)
    scale = np.abs(v).max()
    # |q| <= kappa = c_q |v(N) - v(empty)| of the games solved (v rounded to float32: with
    # v(N) close to v(empty), that rounding alone moves kappa by more than 1e-5)
    v32 = np.asarray(v, np.float32).astype(np.float64)
    kappa = C_Q * np.abs(v32[:, -1] - v32[:, 0])
    np.testing.assert_allclose(res.kappa, kappa, rtol=1e-5)
    assert np.all(np.abs(q) <= kappa[:, None] * (1 + 1e-5))  # float32 rounding of kappa
    # the interactions are the definitions applied to u_and = (v + q) / 2 + g, u_or = ... - g
    half = 0.5 * (v + q)
    i_and_u, i_or_u = (half + g) @ to_and.T, (half - g) @ to_or.T
    atol = 2e-5 * scale * 2 ** (n / 2)
    np.testing.assert_allclose(res.i_and_unfolded, i_and_u, atol=atol)
    np.testing.assert_allclose(res.i_or_unfolded, i_or_u, atol=atol)
    loss = np.abs(i_and_u).sum(-1) + np.abs(i_or_u).sum(-1)
    np.testing.assert_allclose(res.loss, loss, rtol=1e-4)
    # folded: AND and OR together still rebuild v + q on every subset
    rebuilt = (np.linalg.solve(to_and, np.asarray(res.i_and, np.float64).T).T
               + np.linalg.solve(to_or, np.asarray(res.i_or, np.float64).T).T)
    np.testing.assert_allclose(rebuilt, v + q, atol=atol)
    assert np.all(np.asarray(res.i_or)[:, bf.popcount_array(n) <= 1] == 0)
    # certificate: lower bound <= loss; certified games are within tol of any feasible point
    lower, got = np.asarray(res.lower_bound), np.asarray(res.loss)
    assert np.all(lower <= got * (1 + 1e-5))
    assert lower[1] <= feasible * (1 + 1e-5)
    assert np.all(lower > 0)  # the bound says something (every game here has a nonzero optimum)
    certified = np.asarray(res.gap) <= TOL
    if certified[1]:
        assert got[1] <= feasible * (1 + TOL) + 1e-5 * scale
    if n <= 7:  # HiGHS takes well under a second here
        opt = np.array([solve_lp(game, C_Q * abs(game[-1] - game[0]))[0] for game in v])
        assert np.all(lower <= opt * (1 + 1e-5) + 1e-6)
        assert np.all(got >= opt * (1 - 1e-5) - 1e-6)
        assert np.all(got[certified] <= opt[certified] * (1 + TOL) * (1 + 1e-5) + 1e-6)
