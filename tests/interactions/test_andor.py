"""AND-OR extraction against the exact LP optimum and brute force.

Games are random functions and, for the solver's behaviour on the games it is built for, scores
of a trained network (digits MLP, salient 2x2 patches as players) on every masked input. The
published recipe is checked against a PyTorch transcription of the research code in
``test_published_recipe.py``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linprog

from jaxinter.analysis import salient_mask
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import and_or, and_or_joint, solve_lp
from jaxinter.interactions._admm import MOEBIUS_BIT, kron_apply
from jaxinter.interactions._andor import family_sources, worker_groups
from jaxinter.interactions._transforms import (
    moebius_kernel,
    or_inverse_kernel,
    zeta_kernel,
)


def _inputs(n):
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.float64)


def mlp_game(n, seed, act="tanh", width=32):
    """Scores of a random 2-layer MLP on all 2**n masked inputs (baseline 0)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    w1, b1 = rng.normal(size=(n, width)) * 2 / np.sqrt(n), 0.3 * rng.normal(size=width)
    w2 = rng.normal(size=width) / np.sqrt(width)
    f = np.tanh if act == "tanh" else (lambda z: np.maximum(z, 0))
    return 3 * f((_inputs(n) * x) @ w1 + b1) @ w2


def games(n, seed):
    """Random, MLP, OR-like (max) and threshold games: (5, 2**n)."""
    rng = np.random.default_rng(seed + 100)
    x = _inputs(n)
    return np.stack([
        rng.normal(size=2**n),
        mlp_game(n, seed, "tanh"),
        mlp_game(n, seed, "relu"),
        np.max(x * np.abs(rng.normal(size=n)), axis=1),
        (x.sum(1) >= n // 2) + 0.01 * rng.normal(size=2**n),
    ])


def lp_optimum(v, c_q=0.04, method="highs"):
    return np.array([solve_lp(g, c_q * abs(g[-1] - g[0]), method)[0] for g in v])


@pytest.mark.parametrize("n", [7, 13])  # dense chunks of 5 + 2 bits; fused pairs of bits
def test_kron_apply_matches_butterflies_and_adjoint(n):
    f, y = jax.random.normal(jax.random.key(0), (2, 3, 2**n))

    @jax.jit  # one compilation instead of one per eager operation
    def both(f, y):
        fwd, inv = kron_apply(f, n, MOEBIUS_BIT), kron_apply(f, n, np.linalg.inv(MOEBIUS_BIT))
        adjoint = kron_apply(y, n, MOEBIUS_BIT.T)  # superset-direction butterfly
        return fwd, inv, jnp.sum(fwd * y), jnp.sum(f * adjoint)

    fwd, inv, lhs, rhs = both(f, y)
    np.testing.assert_allclose(fwd, moebius_kernel(f, n), atol=1e-4)
    np.testing.assert_allclose(inv, zeta_kernel(f, n), atol=1e-4)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4)
    # one matrix per block of a stacked axis: (k, 2, 2) acting on f[..., j, :]
    stacked = kron_apply(f[:2], n, np.stack([MOEBIUS_BIT, np.linalg.inv(MOEBIUS_BIT)]))
    np.testing.assert_allclose(stacked[0], moebius_kernel(f[0], n), atol=1e-4)
    np.testing.assert_allclose(stacked[1], zeta_kernel(f[1], n), atol=1e-4)


def test_lp_matches_dense_formulation():
    """Sparse-butterfly LP == dense LP over all 2 * 2**n atoms (both empty OR/AND terms)."""
    n = 4
    eye = np.eye(2**n)
    dictionary = np.hstack([np.asarray(zeta_kernel(eye.T, n)).T,
                            np.asarray(or_inverse_kernel(eye.T, n)).T])
    for v in games(n, 0):
        kappa = 0.04 * abs(v[-1] - v[0])
        k = dictionary.shape[1]
        a_ub = np.vstack([np.hstack([dictionary, -dictionary]),
                          np.hstack([-dictionary, dictionary])])
        dense = linprog(np.ones(2 * k), A_ub=a_ub, b_ub=np.concatenate([v + kappa, kappa - v]),
                        bounds=[(0, None)] * (2 * k), method="highs").fun
        loss, q, _ = solve_lp(v, kappa)
        np.testing.assert_allclose(loss, dense, rtol=1e-7)
        assert np.all(np.abs(q) <= kappa)


N = 6  # default-set games: every extraction below uses N and STEPS, batch 6 or 1, so
STEPS = 4000  # the jit cache holds two compilations of the solver for the whole module


@pytest.fixture(scope="module")
def six_games():
    """(v (6, 2**N) float64, LP optima (6,), default extraction of the batch in float32)."""
    v = np.concatenate([games(N, 0), games(N, 1)[1:2]])
    return v, lp_optimum(v), and_or(jnp.asarray(v, jnp.float32), steps=STEPS)


def check_near_optimum(v, opt, res):
    """Within 1% of the LP optimum, never below it, certified bound below it, bounded q."""
    loss = np.asarray(res.loss, np.float64)
    assert np.all(loss <= 1.01 * opt), loss / opt - 1
    assert np.all(loss >= opt * (1 - 1e-4))  # float32 reconstruction of a feasible point
    bound = np.asarray(res.lower_bound, np.float64)
    assert np.all(bound <= opt * (1 + 1e-4))  # a certified lower bound
    assert np.all(res.gap >= -1e-4)
    hist = np.asarray(res.loss_history)
    assert np.all(np.diff(hist, axis=-1) <= 1e-6 * hist[..., :1])  # best-so-far is monotone
    np.testing.assert_allclose(hist[..., -1], loss, rtol=1e-4)  # the best is returned
    kappa = 0.04 * np.abs(v[:, -1] - v[:, 0])
    np.testing.assert_allclose(res.kappa, kappa, rtol=1e-5)
    assert np.all(np.abs(np.asarray(res.q)) <= np.asarray(res.kappa)[:, None])


def check_reconstruction(v, q, i_and, i_or, n, rtol):
    """v + q == zeta(I_and) + OR inverse(I_or), relative to max |v| per game."""
    recon = zeta_kernel(i_and, n) + or_inverse_kernel(i_or, n)
    scale = jnp.max(jnp.abs(v), -1, keepdims=True)
    assert float(jnp.max(jnp.abs(recon - (v + q)) / scale)) < rtol


def test_default_within_one_percent_of_lp(six_games):
    check_near_optimum(*six_games)
    # stopped by the certificate before the default budget at n = 6 (2000 steps), so this is
    # the default behaviour; STEPS matters only for the exact (c_q = 0) recovery below
    assert np.all(np.asarray(six_games[2].steps) < 2000)


def test_default_within_one_percent_of_lp_n8():
    n = 8
    v = np.concatenate([games(n, 0), games(n, 1)[1:3]])
    res = and_or(jnp.asarray(v, jnp.float32))
    check_near_optimum(v, lp_optimum(v), res)
    check_reconstruction(jnp.asarray(v, jnp.float32), res.q, res.i_and, res.i_or, n, 1e-5)


def test_lp_mode_and_published_semantics():
    v = games(N, 2)[1:3]
    opt = lp_optimum(v)
    lp = and_or(v.astype(np.float32), method="lp")
    np.testing.assert_allclose(lp.loss, opt, rtol=1e-5)
    pub = and_or(jnp.asarray(v, jnp.float32), method="published", steps=3000)
    hist = np.asarray(pub.loss_history)
    chex.assert_shape(hist, (2, 3000))
    assert np.all(hist[:, -1] < 0.8 * hist[:, 0])  # it decreases ...
    assert np.all(np.asarray(pub.loss) > opt * 1.001)  # ... but stays above the optimum
    assert np.all(np.abs(pub.q) <= pub.kappa[:, None])


def brute_reconstruction(i_and, i_or, n):
    """v(T) + q(T) from the definition: AND of subsets, OR empty, OR meeting T."""
    out = np.zeros(2**n)
    for t in range(2**n):
        for s in range(2**n):
            out[t] += i_and[s] * ((s & t) == s) + i_or[s] * (s == 0 or (s & t) != 0)
    return out


def test_reconstruction_float32_and_brute_force(six_games):
    v, _, res = six_games
    v = jnp.asarray(v, jnp.float32)
    check_reconstruction(v, res.q, res.i_and, res.i_or, N, 1e-5)
    np.testing.assert_allclose(
        brute_reconstruction(np.asarray(res.i_and[1]), np.asarray(res.i_or[1]), N),
        np.asarray(v[1] + res.q[1]), rtol=1e-5, atol=1e-5)
    # folding: singleton and empty OR terms moved into AND, unfolded terms kept
    singletons = [0] + [1 << i for i in range(N)]
    assert np.all(np.asarray(res.i_or)[:, singletons] == 0)
    np.testing.assert_allclose(res.i_and[:, 0], v[:, 0] + res.q[:, 0], rtol=1e-5)
    i_and_u, i_or_u = res.unfolded()
    np.testing.assert_allclose(i_and_u + i_or_u, res.i_and + res.i_or, atol=1e-6)
    np.testing.assert_allclose(
        np.abs(i_and_u).sum(-1) + np.abs(i_or_u).sum(-1), res.loss, rtol=1e-5)
    check_reconstruction(v, res.q, i_and_u, i_or_u, N, 1e-5)


def test_reconstruction_float64(x64):
    v = jnp.asarray(games(N, 5))
    res = and_or(v, steps=STEPS)
    chex.assert_type([res.i_and, res.i_or, res.q, res.loss], jnp.float64)
    check_reconstruction(v, res.q, res.i_and, res.i_or, N, 1e-10)
    check_near_optimum(games(N, 5), lp_optimum(games(N, 5)), res)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_q_bound_and_scale_invariance(six_games, scale):
    v, _, ref = six_games
    res = and_or(jnp.asarray(v * scale, jnp.float32), steps=STEPS)
    assert np.all(np.abs(np.asarray(res.q)) <= np.asarray(res.kappa)[:, None])
    assert np.all(np.isfinite(np.asarray(res.loss)))
    np.testing.assert_allclose(np.asarray(res.loss) / scale, ref.loss, rtol=2e-3)
    zero = and_or(jnp.zeros(2**N), steps=STEPS)  # kappa = 0, all-zero game: stays finite
    assert np.all(np.asarray(zero.loss) == 0)


def test_batched_equals_per_game_and_deterministic(six_games):
    v = jnp.asarray(six_games[0], jnp.float32)
    batched = and_or(v.reshape(2, 3, 2**N), steps=STEPS, tol=1e-9)
    chex.assert_shape(batched.i_and, (2, 3, 2**N))
    chex.assert_shape(batched.loss_history, (2, 3, STEPS // 25))
    chex.assert_shape(batched.loss, (2, 3))
    for i in (1, 4):
        single = and_or(v[i], steps=STEPS, tol=1e-9)
        chex.assert_shape(single.i_and, (2**N,))
        # float32 round-off of batched vs single kernels, carried over 4000 iterations
        tol = 5e-4 * float(jnp.max(jnp.abs(v[i])))
        np.testing.assert_allclose(single.i_and, batched.i_and[i // 3, i % 3], atol=tol)
        np.testing.assert_allclose(single.q, batched.q[i // 3, i % 3], atol=tol)
        np.testing.assert_allclose(single.loss, batched.loss[i // 3, i % 3], rtol=1e-4)
    again = and_or(v.reshape(2, 3, 2**N), steps=STEPS, tol=1e-9)
    np.testing.assert_array_equal(again.i_and, batched.i_and)
    np.testing.assert_array_equal(again.q, batched.q)


def test_known_sparse_and_or_terms_are_recovered():
    """v = 0.5 + 3 AND{0,1} + 2 AND{2,3,4} - 1.5 OR{1,5} + OR{3,5} (n = 6, exact: c_q = 0)."""
    x = _inputs(N)
    v = (0.5 + 3 * x[:, 0] * x[:, 1] + 2 * x[:, 2] * x[:, 3] * x[:, 4]
         - 1.5 * np.maximum(x[:, 1], x[:, 5]) + np.maximum(x[:, 3], x[:, 5]))
    opt = solve_lp(v, 0.0)[0]
    np.testing.assert_allclose(opt, 0.5 + 3 + 2 + 1.5 + 1, rtol=1e-9)  # planted terms optimal
    res = and_or(jnp.asarray(v, jnp.float32), c_q=0.0, tol=1e-5, steps=STEPS)
    np.testing.assert_allclose(res.loss, opt, rtol=1e-3)
    m_and, m_or = salient_mask(res.i_and, res.i_or)
    assert set(np.flatnonzero(m_and)) == {0b11, 0b11100}
    assert set(np.flatnonzero(m_or)) == {0b100010, 0b101000}
    np.testing.assert_allclose(np.asarray(res.i_and)[[0, 0b11, 0b11100]], [0.5, 3, 2], atol=1e-3)
    np.testing.assert_allclose(np.asarray(res.i_or)[[0b100010, 0b101000]], [-1.5, 1], atol=1e-3)


def test_joint_extraction_shares_more_salient_interactions():
    n = N
    rng = np.random.default_rng(0)
    base = games(n, 8)[1:3]  # two samples
    noise = 0.05 * rng.normal(size=(3,) + base.shape)
    v = jnp.asarray(base[None] + noise, jnp.float32)  # (models, samples, 2**n)
    joint = and_or_joint(v, model_axis=0, sample_axis=1)
    sep = and_or(v, steps=STEPS)  # (3, 2) games: the six-game compilation

    def shared_fraction(i_and, i_or):
        m = np.concatenate(salient_mask(i_and, i_or), axis=-1)  # (models, samples, 2 * 2**n)
        return (m.all(0).sum(-1) / np.maximum(m.any(0).sum(-1), 1)).mean()

    chex.assert_shape(joint.i_and, (3, 2, 2**n))
    assert np.all(np.abs(np.asarray(joint.q)) <= 0.04 * np.abs(v[..., -1:] - v[..., :1]))
    specific = np.abs(np.asarray(joint.g - joint.g_shared[None]))
    assert np.all(specific <= 0.5 * np.mean(np.abs(v[..., -1] - v[..., 0]), 1)[:, None, None]
                  + 1e-6)
    assert shared_fraction(joint.i_and, joint.i_or) > shared_fraction(sep.i_and, sep.i_or) + 0.1
    recon = zeta_kernel(joint.i_and, n) + or_inverse_kernel(joint.i_or, n)
    np.testing.assert_allclose(recon, v + joint.q, atol=1e-4)


def test_bad_inputs():
    with pytest.raises(JaxinterInputError, match="v:"):
        and_or(jnp.zeros(6))
    with pytest.raises(JaxinterInputError, match="method"):
        and_or(jnp.zeros(8), method="adam")
    with pytest.raises(JaxinterInputError, match="c_q"):
        and_or(jnp.zeros(8), c_q=-1.0)
    with pytest.raises(JaxinterInputError, match="relax"):
        and_or(jnp.zeros(8), relax=2.5)
    with pytest.raises(JaxinterInputError, match="NaN"):
        and_or(jnp.array([0.0, jnp.nan]))
    with pytest.raises(JaxinterInputError, match="model_axis"):
        and_or_joint(jnp.zeros((2, 8)), model_axis=-1)
    with pytest.raises(JaxinterInputError, match="slots"):
        and_or(jnp.zeros(8), slots=0)


def test_init_is_validated():
    previous = and_or(jnp.ones((2, 8)), steps=100)
    with pytest.raises(JaxinterInputError, match="init: expected an AndOrResult"):
        and_or(jnp.ones((2, 8)), init=previous.i_and)
    with pytest.raises(JaxinterInputError, match=r"init: .*shape \(3, 8\)"):
        and_or(jnp.ones((3, 8)), init=previous)
    with pytest.raises(JaxinterInputError, match="init: "):
        and_or(jnp.ones((2, 16)), init=previous)  # another n
    # lp and published ignore a valid init
    lp = and_or(jnp.ones((2, 8)), method="lp", init=previous)
    np.testing.assert_array_equal(lp.dual, 0)


# ---------------------------------------------------------------------------------------------
# games of a trained network: certificate, warm starts, per-game stopping, n = 12 against the LP


@pytest.fixture(scope="module")
def network_games():
    """Scores of a trained digits MLP on all masked inputs: {n: (clean, noisy)} for n = 8, 12.

    clean: (6, 2**n) games of six correctly classified test images (players: their n most
    salient 2x2 patches, baseline 0); noisy: the same images with N(0, 0.02^2) pixel noise.
    """
    from jaxinter.data import load_dataset
    from jaxinter.masking import Players, masked_scores, salient_patch_ids
    from jaxinter.models import MLP
    from jaxinter.training import train

    ds = load_dataset("digits")
    model = MLP(ds.input_shape, ds.num_classes, depth=3, width=64)
    variables = train(model, ds, epochs=10, batch_size=64, seed=0, progress=False).variables
    apply = jax.jit(lambda x: model.apply(variables, x))
    right = np.flatnonzero(np.asarray(apply(jnp.asarray(ds.x_test))).argmax(-1) == ds.y_test)
    x, y = ds.x_test[right[:6]], ds.y_test[right[:6]]
    noise = 0.02 * np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    out = {}
    for n in (8, 12):
        players = Players.patches(ds.input_shape, 2, salient_patch_ids(x, 2, n))
        out[n] = tuple(np.asarray(masked_scores(apply, jnp.asarray(inputs), players,
                                                jnp.zeros(ds.input_shape), jnp.asarray(y)))
                       for inputs in (x, x + noise))
    return out


def test_trained_network_games_certified_against_lp(network_games):
    """n = 8: every certified game within tol of the LP optimum, the bound never above it."""
    clean, noisy = network_games[8]
    v = np.concatenate([clean, noisy])
    res = and_or(jnp.asarray(v, jnp.float32))
    opt = lp_optimum(v)
    check_near_optimum(v, opt, res)
    np.testing.assert_array_less(np.asarray(res.gap), 1.001e-3)  # all certified at tol
    assert np.all(np.asarray(res.loss, np.float64) <= opt * (1 + 1e-3) + 1e-6)
    dual = np.asarray(res.dual)
    chex.assert_shape(dual, (12, 2, 2**8))
    assert np.all(np.abs(dual) <= 1 + 1e-6) and np.any(np.abs(dual) > 0.5)


def test_warm_start_reaches_the_same_certified_optimum(network_games):
    """A warm start from a related game's result certifies the same optimum, within tol."""
    clean, noisy = (jnp.asarray(g, jnp.float32) for g in network_games[8])
    cold_clean = and_or(clean)
    cold = and_or(noisy)
    warm = and_or(noisy, init=cold_clean)  # noisy copies from the clean images' solutions
    for r in (cold, warm):
        assert np.all(np.asarray(r.gap) <= 1.001e-3)
    # both certified: each loss lies within tol of the optimum, so within tol of each other
    np.testing.assert_allclose(warm.loss, cold.loss, rtol=2e-3)
    assert np.all(np.asarray(warm.lower_bound) <= np.asarray(cold.loss) * (1 + 1e-5))
    # from its own certified result a game needs a fraction of a cold start's steps
    again = and_or(clean, init=cold_clean)
    assert np.all(np.asarray(again.gap) <= 1.001e-3)
    assert np.sum(again.steps) < 0.5 * np.sum(cold_clean.steps)
    np.testing.assert_allclose(again.loss, cold_clean.loss, rtol=2e-3)


def test_per_game_stopping_in_a_queue(network_games):
    """Games stop at their own certificate and keep their result; lanes change no answer."""
    clean, noisy = network_games[8]
    v = jnp.asarray(np.concatenate([clean, noisy]), jnp.float32)
    queued = and_or(v, slots=3, check_every=25)  # 12 games through 3 lanes
    steps = np.asarray(queued.steps)
    assert len(set(steps.tolist())) > 3  # games left the queue at different times
    assert np.all(np.asarray(queued.gap) <= 1.001e-3)
    hist = np.asarray(queued.loss_history)
    for i in range(len(v)):  # the record stops with the game: constant from its last check
        np.testing.assert_array_equal(hist[i, steps[i] // 25:], hist[i, steps[i] // 25 - 1])
        np.testing.assert_allclose(hist[i, -1], np.asarray(queued.loss)[i], rtol=1e-5)
    # alone, or all games in their own lanes at once: the same certified optimum (within tol;
    # the trajectories differ only by float32 rounding of differently batched products)
    for other in (and_or(v[steps.argmin()], check_every=25), and_or(v, slots=12)):
        both = np.asarray(queued.loss)[steps.argmin()] if other.loss.ndim == 0 else queued.loss
        np.testing.assert_allclose(other.loss, both, rtol=2e-3)
        assert np.all(np.asarray(other.gap) <= 1.001e-3)


def test_family_sources_index_the_member_before_or_the_first():
    got = np.asarray(family_sources((3, 2, 2), "chained"))
    want = [-1] * 4 + [0, 1, 2, 3, 4, 5, 6, 7]  # (k, i, j) starts from (k - 1, i, j)
    np.testing.assert_array_equal(got, want)
    got = np.asarray(family_sources((3, 2), "from_first"))
    np.testing.assert_array_equal(got, [-1, -1, 0, 1, 0, 1])  # (k, i) from (0, i)
    assert family_sources((3, 2), None) is None


def test_warm_start_within_a_batch_of_families(network_games):
    """Noisy copies after their clean games in one call (``warm_start``): each copy starts from
    its clean game's certified solution, and every game reaches the cold start's optimum."""
    clean, noisy = (jnp.asarray(g, jnp.float32) for g in network_games[8])
    family = jnp.stack([clean, noisy])  # (2, 6, 2**8): member 0 is the clean game
    cold = and_or(family, slots=3, workers=1)  # one queue: the order below is the queue's
    warm = and_or(family, slots=3, workers=1, warm_start="from_first")
    for r in (cold, warm):
        assert np.all(np.asarray(r.gap) <= 1.001e-3)
    np.testing.assert_allclose(warm.loss, cold.loss, rtol=2e-3)  # both within tol of optimum
    # copies of the first member certify again from its solution in a fraction of the steps
    repeated = and_or(jnp.stack([clean, clean, clean]), slots=3, workers=1,
                      warm_start="chained")
    steps = np.asarray(repeated.steps)
    assert steps[1:].sum() < 0.5 * 2 * steps[0].sum(), steps
    np.testing.assert_allclose(repeated.loss[1:], repeated.loss[:1].repeat(2, 0), rtol=2e-3)
    # with a lane per game every game enters at once, before any source finished: all cold,
    # so a copy runs exactly as its source does
    wide = and_or(jnp.stack([clean, clean]), slots=12, warm_start="from_first")
    np.testing.assert_array_equal(wide.steps[1], wide.steps[0])
    np.testing.assert_array_equal(wide.loss[1], wide.loss[0])


def test_threads_solve_each_game_as_one_queue_keep_families_and_settings(network_games):
    """``workers``: groups of games solved side by side in threads give every game the answer
    one queue gives it; a warm-start family never straddles two groups; the caller's x64
    setting reaches the threads (results stay float64)."""
    clean, noisy = (jnp.asarray(g, jnp.float32) for g in network_games[8])
    family = jnp.stack([clean, noisy])  # (2, 6, 2**8): family i = games i and 6 + i
    one = and_or(family, slots=2, workers=1)
    three = and_or(family, slots=2, workers=3)
    np.testing.assert_array_equal(three.steps, one.steps)
    np.testing.assert_allclose(three.loss, one.loss, rtol=1e-6)
    np.testing.assert_allclose(three.i_and, one.i_and, rtol=1e-5, atol=1e-6)
    groups = worker_groups(12, 6, 4)
    assert len(groups) == 4
    np.testing.assert_array_equal(np.sort(np.concatenate(groups)), np.arange(12))
    for members in groups:
        assert set(members.tolist()) == {g for m in members for g in (m % 6, m % 6 + 6)}
    assert [len(g) for g in worker_groups(5, 5, 8)] == [1] * 5  # no more groups than games
    warm = and_or(family, slots=2, workers=3, warm_start="from_first")
    assert np.all(np.asarray(warm.gap) <= 1.001e-3)
    np.testing.assert_allclose(warm.loss, one.loss, rtol=2e-3)
    with jax.enable_x64(True):
        wide = and_or(family.astype(jnp.float64), workers=2, steps=100)
        chex.assert_type([wide.i_and, wide.loss, wide.lower_bound], jnp.float64)


def test_calls_with_other_numbers_of_games_share_one_compilation(network_games):
    """Games are padded to a bucket (padding never runs): a cold call, a warm-start call and a
    call with other games and another count compile the solver once, and each game's answer
    is the one it gets alone."""
    from jaxinter.interactions._admm import admm_and_or
    from jaxinter.interactions._andor import bucket_size

    assert [bucket_size(g, 8) for g in (1, 40, 256, 257)] == [256, 256, 256, 512]
    assert [bucket_size(g, 16) for g in (1, 3, 4, 5)] == [1, 4, 4, 8]
    clean, noisy = (jnp.asarray(g, jnp.float32) for g in network_games[8])
    compiled = admm_and_or._cache_size()
    family = and_or(jnp.stack([clean, noisy]), slots=2, warm_start="from_first")  # 12 games
    alone = [and_or(clean[i:i + 2], slots=2) for i in (0, 2)]  # another count, cold
    assert admm_and_or._cache_size() - compiled <= 1  # (0 when an earlier test compiled it)
    for i, r in zip((0, 2), alone, strict=True):
        assert np.asarray(r.gap).max() <= 1.001e-3
        np.testing.assert_allclose(r.loss, family.loss[0, i:i + 2], rtol=1e-5)
        np.testing.assert_array_equal(r.steps, family.steps[0, i:i + 2])


def test_warm_start_is_validated():
    with pytest.raises(JaxinterInputError, match="warm_start: expected one of"):
        and_or(jnp.ones((2, 8)), warm_start="previous")
    with pytest.raises(JaxinterInputError, match="warm_start: .*family axis"):
        and_or(jnp.ones(8), warm_start="chained")


@pytest.mark.parametrize("restarts", [True, False])
def test_restarts_are_a_speedup_not_a_change_of_answer(six_games, restarts):
    v, opt, _ = six_games
    res = and_or(jnp.asarray(v, jnp.float32), steps=STEPS, restarts=restarts)
    check_near_optimum(v, opt, res)


def test_polished_candidate_is_feasible_and_beats_its_start(six_games):
    """The polished games the certificate may keep (never restarted from) are feasible (box
    and b(empty) = 0), so their loss is a valid upper bound (above the LP optimum), and they
    cost less in all than the projected z of the step they start from."""
    from jaxinter.interactions._admm import _Game, _Problem, cold_games

    v64, opt, _ = six_games
    scale = np.abs(v64).max(-1)
    v = jnp.asarray(v64 / scale[:, None], jnp.float32)
    game = _Game(v, 0.04 * jnp.abs(v[:, -1] - v[:, 0]))
    problem = _Problem(N, 10.0, 0.5, 1.8, jnp.float32)
    t = jax.vmap(problem.start)(*cold_games(v), game)
    for _ in range(200):
        t, z = jax.vmap(problem.step)(t, game)
    polished = jax.vmap(problem.polish)(t, z, game)
    a, b = np.asarray(polished[:, 0], np.float64), np.asarray(polished[:, 1], np.float64)
    kappa = np.asarray(game.kappa, np.float64)[:, None]
    assert np.all(np.abs(a + b - np.asarray(v, np.float64)) <= kappa * (1 + 1e-6) + 1e-7)
    assert np.all(b[:, 0] == 0)
    loss = np.asarray(jax.vmap(problem.loss)(polished))
    start = np.asarray(jax.vmap(problem.loss)(jax.vmap(problem.project)(z, game)))
    assert loss.sum() < start.sum(), (loss, start)  # not every game: a heuristic candidate
    assert np.all(loss * scale >= opt * (1 - 1e-4))


def test_default_tolerance_and_budget_by_player_count():
    """tol 1e-3 up to n = 11 and 9e-3 from n = 12 (within 1% with room for float32 rounding);
    the budget grows 1.75x per two players and never falls below 2000 steps."""
    from jaxinter.interactions._andor import default_steps, default_tol

    assert [default_tol(n) for n in (4, 10, 11, 12, 14)] == [1e-3, 1e-3, 1e-3, 9e-3, 9e-3]
    assert default_steps(2) == 2000 and default_steps(8) == 8000
    assert default_steps(12) == int(8000 * 1.75**2)


@pytest.mark.slow
def test_n12_trained_network_games_against_lp(network_games):
    """n = 12 (the paper's CIFAR-10 setting): within 1% of HiGHS, bound below it, certified."""
    clean, noisy = (g[:2].astype(np.float64) for g in network_games[12])
    res = and_or(jnp.asarray(clean, jnp.float32))
    check_near_optimum(clean, lp_optimum(clean, method="highs-ipm"), res)
    assert np.all(np.asarray(res.gap) <= 1e-2)
    warm = and_or(jnp.asarray(noisy, jnp.float32), init=res)  # certificate valid when warm
    check_near_optimum(noisy, lp_optimum(noisy, method="highs-ipm"), warm)
