"""ADMM solver of the AND-OR extraction: exact Kronecker subproblems and a certified gap.

Problem (docs/math/andor.md). For a game v (..., 2**n) find the split g and the bounded error
q, |q| <= kappa with kappa = c_q |v(N) - v(empty)|, minimizing sum_S |I_and(S)| + |I_or(S)|,
where I_and = moebius(u_and), I_or = or_interactions(u_or), u_and = (v + q)/2 + g and
u_or = (v + q)/2 - g. In the two games a = u_and and b = u_or it reads

    min ||M a||_1 + ||O b||_1   subject to   a + b - v in [-kappa, kappa],

a linear program ("lp" mode solves it with HiGHS) that is badly conditioned: ||M|| grows like
1.618**n, so gradient methods on (g, q) stall 7-75% above the optimum.

Splitting. With the complemented OR game b~(T) = b(N \\ T), the OR interactions are -M b~
except at the empty set, where I_or(empty) = b~(N) = b(empty) is fixed to 0 (the empty and
singleton OR atoms duplicate AND atoms, so the optimum is unchanged). ADMM (Douglas-Rachford)
splits the games z = (a, b~) from two copies: the coefficients x = M~ z (L1 prox: a soft
threshold) and the games p = z (projection onto the box: exact, per subset pair
(a(T), b(T))). M is a Kronecker product of n 2x2 matrices, so M^T M + beta I is diagonal in the
Kronecker eigenbasis of one 2x2 factor and the z-step is an exact solve costing four Kronecker
butterflies, however badly M is conditioned (M~ replaces one row of M: a rank-2 Woodbury
correction). The complement b~ = R b reverses the OR game (:func:`complement_or`), so both
games are stored in natural order.

The iteration is the fixed-point map t -> T(t) of the state t = (x + u_x, p + u_p) (copies plus
scaled multipliers), over-relaxed by ``relax``. Defaults: rho 10 on max-normalized games, beta
0.5, relax 1.8, a check every 25 steps, at most 8000 * 1.75**((n - 8) / 2) steps, tol 1e-3
(9e-3 from n = 12; :func:`jaxinter.interactions.and_or` sets it and splits the games over the
CPU cores in threads, one solver program per core).
Levers (each measured on games of a trained network by benchmarks/bench_andor.py, whose
levers table in benchmarks/results/andor_details.md gives steps and time with each added):

- restarts to the average (as in PDLP): every check scores the current state and the running
  average since the last restart by their certified gap; the iteration restarts from the better
  one once that gap has fallen to 0.2 of its value at the previous restart (or to 0.8 and
  stopped improving, or after 36% of the steps so far). Half the steps at n = 8, a third fewer
  at n = 10 (with beta and relax retuned for it);
- a polished candidate (the primal side lagged: the best feasible loss was 3-5x farther from
  the optimum than the dual bound): every check also scores the games of the last step's
  solve, refined by two alternations of a least-squares fit to the thresholded coefficients
  (the z-step's solve with weight 32 on the games) and the box projection. It is never
  restarted from, so the iteration is unchanged and no game needs more steps; about 28% fewer
  steps at n = 10 and 12 (``POLISH_WEIGHT``, ``POLISH_ROUNDS``; tried and left out: restarted
  Halpern iteration, 35-80% more steps);
- per-game stopping: games wait in a queue and run in ``slots`` lanes; a lane whose game is
  certified (or out of steps) takes the next game, so a finished game costs nothing more
  (2x at n = 8 and 10, where the slowest game of a batch needs about twice the mean);
- warm starts: ``init`` (the result of a related game) seeds the games and the multipliers, and
  within one batch ``source`` makes a game start from another game's certified solution when
  that game has left the queue before it enters (``and_or(..., warm_start=...)``: one call, one
  compilation). The same game certifies again in a few hundred steps, but a related game saves
  little: 4% of the steps for noisy copies, 3% for the next layer, none (1% more) for the next
  checkpoint at n = 10: the iteration count is set by the tail of the convergence, not by the
  distance of the start;
- one compilation for many calls: cold and warm starts are one program (a cold start is
  :func:`cold_games`, no source is -1), and the caller pads the batch to a bucket of games
  (``count`` is traced; padding never enters a lane), so the calls of a ``jaxinter layerwise``
  extraction (each layer with its noisy copies, the second model's output) compile the solver
  once instead of twice (about 4 CPU seconds of XLA compilation at n = 8).

Tried and left out (no gain on these games): adaptive penalties (residual balancing, and the
best fixed penalty per game: at most 15%; at n = 10, against rho = 10, a fixed rho of 5 or 40
needs about 30% more steps (median) and 20 needs 9% fewer but leaves games uncertified at the
budget, its certificate lagging the primal),
Nesterov momentum with restarts, Anderson acceleration (safeguarded, also on top of the
restarts), diagonal Kronecker preconditioners, the best of several dual estimates for the bound
(the multipliers of both game copies, their mean, the coefficient multipliers mapped back:
7% fewer steps at n = 10 for 25% more work per check), and Kronecker products as large matrix
products with the bits rotated (slower than :func:`kron_apply` for every n from 8 to 14).

Certificate. Every projected copy p is feasible, so its objective is an upper bound, and the best
one seen is returned (the loss history is monotone). The multiplier of the box, scaled to dual
feasibility (||Z^T y||_inf <= 1 and the same for the OR atoms), gives a lower bound
v.y - kappa ||y||_1 on the optimum; a game stops when (loss - bound) / loss < ``tol``. Games
are normalized by max |v|, so games of any scale behave alike. Iterations run in the input dtype
(float32 by default); the certificate is a valid bound up to that dtype's rounding.

The linear pieces are written with :func:`kron_apply`, which applies a Kronecker product of 2x2
matrices as fused elementwise passes of two bits, leaving out zero terms. A step is two
rotations kron(U) (to the eigenbasis and back) and two Moebius butterflies (coefficients to
games and back: additions only) on the game pair. Combining each linear piece into one
product instead (four dense products per block, as the solver did before), or applying the
rotations as dense products over chunks of 5 bits, costs more per step at every n from 8 to 14
(the steps table of benchmarks/results/andor_details.md), though dense chunks compile faster.
The lowest 5 bits alone as one dense 32 x 32 product (contiguous, no transposes) make a step
16-19% cheaper, but with jaxlib 0.10.2 runs using it intermittently segfault inside XLA:CPU,
compiling later unrelated programs (YNNPACK fusions off or on): left out until a fixed jaxlib
(docs/math/andor.md).

Conventions: subset axis last, bit i = player i, any leading batch axes, dtype kept. After the
solve, singleton OR terms are folded into AND and I_or(empty) into I_and(empty), so
``i_and[..., 0] = v(empty) + q(empty)``; the unfolded interactions are kept in the result too.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._andor_result import make_result
from ._transforms import zeta_kernel

# ---------------------------------------------------------------------------------------------
# Kronecker butterflies


def _kron_power(m: np.ndarray, k: int) -> np.ndarray:
    """kron(m, ..., m) (k factors) of 2x2 matrices m (..., 2, 2); bit 0 is the inner index."""
    out = np.ones(m.shape[:-2] + (1, 1))
    for _ in range(k):
        out = np.einsum("...ij,...kl->...ikjl", m, out).reshape(
            m.shape[:-2] + (2 * out.shape[-2], 2 * out.shape[-1]))
    return out


def kron_apply(f: jax.Array, n: int, m) -> jax.Array:
    """Apply the Kronecker product of a 2x2 matrix ``m`` acting on every bit. (..., 2**n).

    For each bit i, (f[S without i], f[S with i]) -> m @ (f[S without i], f[S with i]); e.g.
    m = [[1, 0], [-1, 1]] is the Moebius transform and its transpose the superset-direction
    (adjoint) butterfly. ``m`` of shape (k, 2, 2) applies m[j] to f[..., j, :] (f of shape
    (..., k, 2**n)). Bits go two per pass, as sums over the four slices that XLA fuses into one
    loop; with one matrix, zero terms are left out and unit weights not multiplied, so a
    Moebius butterfly is additions only (in the solver's step on CPU, faster than dense
    products over chunks of 5 bits for every n from 8 to 14: benchmarks/bench_andor.py).
    """
    m = np.asarray(m, dtype=np.float64)
    shape = f.shape
    for done in range(0, n, 2):
        k = min(2, n - done)
        kron = _kron_power(m, k)
        g = f.reshape(shape[:-1] + (2 ** (n - done - k), 2**k, 2**done))
        pieces = [g[..., j, :] for j in range(2**k)]
        f = jnp.stack([_weighted_sum(kron[..., r, :], pieces) for r in range(2**k)],
                      axis=-2).reshape(shape)
    return f


def _weighted_sum(weights: np.ndarray, pieces: list[jax.Array]) -> jax.Array:
    """sum_c weights[..., c] * pieces[c]: weights (2**k,) of one matrix (zero terms left out,
    +-1 not multiplied) or (blocks, 2**k) of one matrix per block (pieces (..., blocks, a, b))."""
    dtype = pieces[0].dtype
    if weights.ndim > 1:
        return sum(jnp.asarray(w, dtype)[:, None, None] * piece
                   for w, piece in zip(weights.T, pieces, strict=True))
    terms = [piece if w == 1 else -piece if w == -1 else jnp.asarray(w, dtype) * piece
             for w, piece in zip(weights, pieces, strict=True) if w != 0]
    return sum(terms[1:], terms[0]) if terms else jnp.zeros_like(pieces[0])


MOEBIUS_BIT = np.array([[1.0, 0.0], [-1.0, 1.0]])  # one bit of the Moebius transform (hi -= lo)
_LAM, _U = np.linalg.eigh(MOEBIUS_BIT.T @ MOEBIUS_BIT)  # M^T M = kron(U) diag(kron(lam)) kron(U)^T
_SUPERSETS = np.array([[1.0, 1.0], [0.0, 1.0]])  # Z^T: sums over supersets
_SUBSETS = np.array([[1.0, 0.0], [1.0, 1.0]])  # Z: sums over subsets


class KronOperators(NamedTuple):
    """Constants of the exact z-step for n players and copy weight beta (host numpy arrays):
    the diagonal ``d`` of the solve in the Kronecker eigenbasis of M^T M and the rank-2
    Woodbury terms ``h``, ``small`` of the OR block (row 0 of M replaced by e_N^T)."""

    d: np.ndarray  # (2**n,)
    h: np.ndarray  # (2, 2**n)
    small: np.ndarray  # (2, 2)


def kron_operators(n: int, beta: float) -> KronOperators:
    """The :class:`KronOperators` of n players and copy weight beta."""
    size = (np.arange(2**n)[:, None] >> np.arange(n) & 1).sum(1)
    d = 1.0 / (_LAM[1] ** size * _LAM[0] ** (n - size) + beta)
    ends = np.zeros((2, 2**n))
    ends[0, 0] = ends[1, -1] = 1.0
    h = np.stack([_kron_numpy(e, n, _U.T) for e in ends])  # kron(U)^T e_0, kron(U)^T e_N
    small = np.linalg.inv(np.linalg.inv(np.diag([-1.0, 1.0])) + (h * d) @ h.T)
    return KronOperators(d=d, h=h, small=small)


def complement_or(f: jax.Array) -> jax.Array:
    """(a, b) -> (a, b~) of game pairs (..., 2, 2**n), b~(T) = b(N \\ T): the OR game reversed
    (its own inverse)."""
    return jnp.stack([f[..., 0, :], f[..., 1, ::-1]], axis=-2)


def _kron_numpy(f: np.ndarray, n: int, m: np.ndarray) -> np.ndarray:
    for i in range(n):
        g = f.reshape(2 ** (n - 1 - i), 2, 2**i)
        f = np.einsum("ij,ajb->aib", m, g).reshape(-1)
    return f


# ---------------------------------------------------------------------------------------------
# one game: the Douglas-Rachford map, the certificate, warm states


class _Game(NamedTuple):
    """One normalized game and the solver's constants, as traced arrays."""

    v: jax.Array  # (2**n,)
    kappa: jax.Array  # ()


POLISH_WEIGHT, POLISH_ROUNDS = 32.0, 2  # the polished candidate: weight of the games, rounds


class _Problem:
    """The pieces of the iteration for n players (pure functions of arrays)."""

    def __init__(self, n: int, rho: float, beta: float, relax: float, dtype):
        self.n, self.rho, self.beta, self.relax = n, rho, beta, relax
        self.operators = {weight: KronOperators(*(jnp.asarray(x, dtype) for x in
                                                  kron_operators(n, weight)))
                          for weight in {beta, POLISH_WEIGHT}}
        self.first = jnp.arange(2**n) == 0  # the empty set

    def coefficients(self, games):
        """x = M~ z of games (2, 2**n) = (a, b): (M a, M R b with entry 0 set to b(empty))."""
        coef = kron_apply(complement_or(games), self.n, MOEBIUS_BIT)
        return coef.at[1, 0].set(games[1, 0])

    def project(self, p, game: _Game):
        """Nearest games (a, b) with a + b - v in [-kappa, kappa] and b(empty) = 0."""
        v, kappa = game
        total = p[0] + p[1]
        total = v + jnp.clip(total - v, -kappa, kappa)
        half = 0.5 * (p[0] - p[1])
        a = jnp.where(self.first, v + jnp.clip(p[0] - v, -kappa, kappa), 0.5 * total + half)
        b = jnp.where(self.first, 0.0, 0.5 * total - half)
        return jnp.stack([a, b])

    def shrink(self, tx):
        """Soft threshold at 1 / rho: the L1 prox of the coefficient copies (2, 2**n)."""
        return jnp.sign(tx) * jnp.maximum(jnp.abs(tx) - 1.0 / self.rho, 0.0)

    def prox(self, t, game: _Game):
        """(x, p): soft threshold of the coefficient copy, projection of the game copy."""
        return self.shrink(t[:2]), self.project(t[2:], game)

    def solve(self, x, p, weight):
        """Games (a, b~) = argmin_z ||M~ z - x||^2 + weight ||z - p||^2 (exact; weight beta or
        POLISH_WEIGHT): kron(U)^T (M^T x + weight (p_a, p_b~)) scaled by the eigenvalues, the
        Woodbury correction of the OR block, and kron(U) back."""
        n, (d, h, small) = self.n, self.operators[weight]
        r = kron_apply(kron_apply(x, n, MOEBIUS_BIT.T) + weight * complement_or(p), n, _U.T)
        r = r.at[1].add(x[1, 0] * (h[1] - h[0]))  # M~^T x: row 0 of M~ is e_N^T
        e = d * r
        e = e.at[1].add(-d * (h.T @ (small @ (h @ e[1]))))  # Woodbury, OR block only
        return kron_apply(e, n, _U)

    def step(self, t, game: _Game):
        """One over-relaxed Douglas-Rachford step of the state t (4, 2**n) -> (new state,
        games z (2, 2**n) of its exact solve). Per step two rotations kron(U) and two Moebius
        butterflies (additions only) on the game pair."""
        x, p = self.prox(t, game)
        games = self.solve(2 * x - t[:2], 2 * p - t[2:], self.beta)  # (a, b~)
        z = complement_or(games)
        coef = kron_apply(games, self.n, MOEBIUS_BIT).at[1, 0].set(z[1, 0])
        return t + self.relax * jnp.concatenate([coef - x, z - p]), z

    def polish(self, t, z, game: _Game):
        """A feasible candidate near the games z of the last step: from q = project(z),
        ``POLISH_ROUNDS`` alternations of the exact fit argmin_g ||M~ g - shrink(t_x)||^2 +
        POLISH_WEIGHT ||g - q||^2 (the z-step's solve, weighted to the games) and q <- project(g).
        """
        x, q = self.shrink(t[:2]), self.project(z, game)
        for _ in range(POLISH_ROUNDS):
            q = self.project(complement_or(self.solve(x, q, POLISH_WEIGHT)), game)
        return q

    def loss(self, games):
        """sum |I_and| + |I_or| of feasible games (2, 2**n) (I_or(empty) = b(empty) = 0)."""
        coef = self.coefficients(games)
        return jnp.sum(jnp.abs(coef[0])) + jnp.sum(jnp.abs(coef[1, 1:]))

    def lower_bound(self, t, p, game: _Game):
        """Dual bound from the box multiplier y of the AND game copy, scaled to feasibility."""
        y = -self.rho * self.beta * (t[2] - p[0])
        up = kron_apply(y, self.n, _SUPERSETS)  # Z^T y: AND atoms
        down = kron_apply(y, self.n, _SUBSETS)
        w_t = up[0] - down[::-1]  # W^T y for nonempty S: OR atoms
        norm = jnp.maximum(jnp.max(jnp.abs(up)), jnp.max(jnp.abs(w_t[1:])))
        y = y / jnp.maximum(norm, 1.0)
        return jnp.dot(game.v, y) - game.kappa * jnp.sum(jnp.abs(y))

    def score(self, t, game: _Game):
        """(feasible games p, loss, lower bound) of the state t."""
        p = self.project(t[2:], game)
        return p, self.loss(p), self.lower_bound(t, p, game)

    def start(self, games, dual, game: _Game):
        """State t from games (2, 2**n) (projected) and coefficient multipliers (2, 2**n)."""
        p = self.project(games, game)
        u = dual / self.rho
        # multiplier of the game copy at a fixed point of the z-step: -M~^T u / beta
        back = complement_or(kron_apply(u, self.n, MOEBIUS_BIT.T))
        back = back.at[1, 0].add(u[1, 0]).at[1, -1].add(-u[1, 0])  # row 0 of M~ is e_N^T
        return jnp.concatenate([self.coefficients(p) + u, p - back / self.beta])

    def dual(self, t):
        """Coefficient multipliers rho (t_x - x) in [-1, 1] of the state t."""
        return self.rho * (t[:2] - self.shrink(t[:2]))


# ---------------------------------------------------------------------------------------------
# a lane of the queue: one game, restarted to the average, checked every ``check_every`` steps

_SUFFICIENT, _NECESSARY, _ARTIFICIAL = 0.2, 0.8, 0.36  # PDLP's restart criteria


class _Lane(NamedTuple):
    """State of one lane: the game it holds (index -1: idle) and its iteration."""

    index: jax.Array  # () int32 game index, -1 when idle
    game: _Game
    t: jax.Array  # (4, 2**n) state: coefficient copies (2) and game copies (2), plus multipliers
    total: jax.Array  # (4, 2**n) sum of the states since the last restart
    count: jax.Array  # () int32 steps since the last restart
    best: jax.Array  # (2, 2**n) best feasible games (a, b) seen
    best_loss: jax.Array  # ()
    bound: jax.Array  # () best lower bound seen
    gap_restart: jax.Array  # () relative gap of the point restarted from
    gap_last: jax.Array  # () relative gap of the previous candidate
    checks: jax.Array  # () int32 checks done
    residual: jax.Array  # () relative fixed-point residual of the last step
    history: jax.Array  # (max_checks,) best loss after each check (NaN: not yet)


def _relative_gap(loss, bound):
    return (loss - bound) / jnp.maximum(loss, jnp.finfo(loss.dtype).tiny)


def _lane_start(problem: _Problem, max_checks: int, index, game: _Game, games, dual) -> _Lane:
    t = problem.start(games, dual, game)
    p, loss, bound = problem.score(t, game)
    zero, inf = jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf, t.dtype)
    return _Lane(index, game, t, jnp.zeros_like(t), zero, p, loss, bound, inf, inf, zero,
                 jnp.zeros((), t.dtype), jnp.full(max_checks, jnp.nan, t.dtype))


def _lane_advance(problem: _Problem, check_every: int, restarts: bool, lane: _Lane) -> _Lane:
    """``check_every`` steps, then score the state and its average (restart candidates) and
    the polished games of the last step (a feasible point only: never restarted from, so the
    iteration is unchanged); keep the best; restart."""
    def body(carry, _):
        t, total, _, _ = carry
        new, z = problem.step(t, lane.game)
        return (new, total + new, t, z), None

    (t, total, before, z), _ = jax.lax.scan(
        body, (lane.t, lane.total, lane.t, jnp.zeros_like(lane.t[2:])), None,
        length=check_every)
    residual = jnp.linalg.norm(t - before) / jnp.maximum(jnp.linalg.norm(before), 1e-30)
    count = lane.count + check_every
    average = total / count
    candidates = jnp.stack([t, average])
    p, loss, bound = jax.vmap(problem.score, in_axes=(0, None))(candidates, lane.game)
    gap = _relative_gap(loss, bound)
    pick = jnp.argmin(gap)  # the candidate to restart from
    checks = lane.checks + 1
    restart = restarts & ((gap[pick] <= _SUFFICIENT * lane.gap_restart)
                          | ((gap[pick] <= _NECESSARY * lane.gap_restart)
                             & (gap[pick] > lane.gap_last))
                          | (count >= _ARTIFICIAL * checks * check_every))
    polished = problem.polish(t, z, lane.game)
    p = jnp.concatenate([p, polished[None]])
    loss = jnp.concatenate([loss, problem.loss(polished)[None]])
    best = jnp.argmin(loss)
    improved = loss[best] < lane.best_loss
    best_loss = jnp.minimum(loss[best], lane.best_loss)
    return lane._replace(
        t=jnp.where(restart, candidates[pick], t), total=jnp.where(restart, 0.0, total),
        count=jnp.where(restart, 0, count), best=jnp.where(improved, p[best], lane.best),
        best_loss=best_loss, bound=jnp.maximum(lane.bound, jnp.max(bound)),
        gap_restart=jnp.where(restart, gap[pick], lane.gap_restart),
        gap_last=jnp.where(restart, jnp.inf, gap[pick]), checks=checks, residual=residual,
        history=lane.history.at[checks - 1].set(best_loss, mode="drop"))


# ---------------------------------------------------------------------------------------------
# the queue: games wait, lanes work, a certified game leaves and the next one enters


class _Outputs(NamedTuple):
    best: jax.Array  # (B, 2, 2**n)
    history: jax.Array  # (B, max_checks)
    bound: jax.Array  # (B,)
    dual: jax.Array  # (B, 2, 2**n)
    residual: jax.Array  # (B,)
    checks: jax.Array  # (B,) int32


def _solve_queue(problem: _Problem, v, kappa, tol, init, sources, count, *, slots,
                 check_every, max_checks, restarts):
    """Games v[:count] of v (B, 2**n) (normalized) through ``slots`` lanes -> :class:`_Outputs`.

    ``init``: (games (B, 2, 2**n), dual (B, 2, 2**n)) to start from. ``sources``: (source (B,)
    int32, ratio (B,)): game i starts from the solution of game source[i] >= 0 (scaled by
    ratio[i]) instead when that game has finished before i enters a lane. Games from ``count``
    on (a traced number) are padding: they never enter a lane and their outputs stay zero.
    """
    batch = v.shape[0]

    def start(index, outputs):
        i = jnp.clip(index, 0, batch - 1)
        source = jnp.maximum(sources[0][i], 0)
        ready = (sources[0][i] >= 0) & (outputs.checks[source] > 0)
        games = jnp.where(ready, outputs.best[source] * sources[1][i], init[0][i])
        dual = jnp.where(ready, outputs.dual[source], init[1][i])
        return _lane_start(problem, max_checks, jnp.where(index < count, index, -1),
                           _Game(v[i], kappa[i]), games, dual)

    outputs = _Outputs(jnp.zeros((batch, 2, v.shape[1]), v.dtype),
                       jnp.full((batch, max_checks), jnp.nan, v.dtype),
                       jnp.zeros(batch, v.dtype), jnp.zeros((batch, 2, v.shape[1]), v.dtype),
                       jnp.zeros(batch, v.dtype), jnp.zeros(batch, jnp.int32))
    advance = jax.vmap(partial(_lane_advance, problem, check_every, restarts))

    def refill(lanes, outputs, done, waiting):
        """The next waiting games enter the finished lanes (lanes past the queue go idle)."""
        fresh = jax.vmap(start, in_axes=(0, None))(
            jnp.where(done, waiting + jnp.cumsum(done) - 1, batch), outputs)
        return jax.tree.map(lambda new, old: jnp.where(
            done.reshape(done.shape + (1,) * (old.ndim - 1)), new, old), fresh, lanes)

    def record(outputs, lanes, done):
        """The results of the games of the finished lanes."""
        rows = jnp.where(done, lanes.index, batch)
        return outputs._replace(
            best=outputs.best.at[rows].set(lanes.best, mode="drop"),
            history=outputs.history.at[rows].set(lanes.history, mode="drop"),
            bound=outputs.bound.at[rows].set(lanes.bound, mode="drop"),
            dual=outputs.dual.at[rows].set(jax.vmap(problem.dual)(lanes.t), mode="drop"),
            residual=outputs.residual.at[rows].set(lanes.residual, mode="drop"),
            checks=outputs.checks.at[rows].set(lanes.checks, mode="drop"))

    def round_(carry):
        lanes, outputs, waiting, done = carry
        lanes = jax.lax.cond(jnp.any(done), partial(refill, outputs=outputs, done=done,
                                                    waiting=waiting), lambda lanes: lanes, lanes)
        waiting = jnp.minimum(waiting + jnp.sum(done), count)
        lanes = advance(lanes)
        active = lanes.index >= 0
        done = active & ((lanes.best_loss - lanes.bound <= tol * lanes.best_loss)
                         | (lanes.checks >= max_checks))
        outputs = jax.lax.cond(jnp.any(done), partial(record, lanes=lanes, done=done),
                               lambda outputs: outputs, outputs)
        return lanes, outputs, waiting, done

    def running(carry):
        lanes, _, waiting, done = carry
        return jnp.any(lanes.index >= 0) | (jnp.any(done) & (waiting < count))

    # idle lanes that all take a game in the first round
    idle = jax.tree.map(lambda s: jnp.full(s.shape, -1 if s.dtype == jnp.int32 else 0, s.dtype),
                        jax.eval_shape(jax.vmap(start, in_axes=(0, None)), jnp.arange(slots),
                                       outputs))
    carry = (idle, outputs, jnp.asarray(0), jnp.ones(slots, bool))
    return jax.lax.while_loop(running, round_, varying_like(carry, v))[1]


def varying_like(tree, x):
    """``tree`` marked as varying over the manual mesh axes ``x`` varies over (under
    ``shard_map``; the identity elsewhere), so that a loop carry built from constants has the
    type of the values the loop body computes from ``x``. No arithmetic: values are unchanged."""
    axes = jax.typeof(x).manual_axis_type.varying

    def vary(leaf):
        missing = tuple(a for a in axes if a not in jax.typeof(leaf).manual_axis_type.varying)
        return jax.lax.pcast(leaf, missing, to="varying") if missing else leaf

    return jax.tree.map(vary, tree)


def cold_games(v):
    """(games (B, 2, 2**n) = (v / 2, v / 2), dual 0) of flat games v (B, 2**n): a cold start."""
    return jnp.stack([0.5 * v, 0.5 * v], axis=-2), jnp.zeros(v.shape[:-1] + (2,) + v.shape[-1:],
                                                              v.dtype)


def warm_games(init, dtype):
    """(games (B, 2, 2**n) = (u_and, u_or), dual (B, 2, 2**n)) of flat previous results."""
    n = init.i_and_unfolded.shape[-1].bit_length() - 1
    a = zeta_kernel(init.i_and_unfolded, n)
    return jnp.stack([a, a - 2 * init.g], axis=-2).astype(dtype), init.dual.astype(dtype)


@partial(jax.jit, static_argnames=("n", "rho", "beta", "relax", "steps", "check_every", "slots",
                                   "restarts"))
def admm_and_or(v, kappa, tol, init, source, count, *, n, rho, beta, relax, steps, check_every,
                slots, restarts=True):
    """Flat games v (B, 2**n), bounds kappa (B,) -> AndOrResult with batch axis B.

    ``init``: (games (B, 2, 2**n), dual (B, 2, 2**n)) to start from: :func:`cold_games` or
    those of related games (a warm start). ``source``: (B,) int32: game i starts from the
    solution of game source[i] < i (-1: none) instead if that game has finished when i enters a
    lane (a warm start within the batch). ``count``: the games are v[:count], the rest padding
    (left zero in the result). Batch axes are flattened and padded by the caller, and ``tol``
    and ``count`` are traced, so cold and warm games of any batch layout, number up to B and
    tolerance share one compilation per (B, n, steps, slots).
    """
    scale = jnp.max(jnp.abs(v), axis=-1)
    scale = jnp.where(scale > 0, scale, 1.0)
    init = (init[0] / scale[:, None, None], init[1])
    sources = (source, scale[jnp.maximum(source, 0)] / scale)
    problem = _Problem(n, rho, beta, relax, v.dtype)
    out = _solve_queue(problem, v / scale[:, None], kappa / scale, tol, init, sources, count,
                       slots=slots, check_every=check_every, max_checks=steps // check_every,
                       restarts=restarts)
    a, b = out.best[:, 0] * scale[:, None], out.best[:, 1] * scale[:, None]
    final = out.history[jnp.arange(v.shape[0]), out.checks - 1]
    history = jnp.where(jnp.isnan(out.history), final[:, None], out.history) * scale[:, None]
    return make_result(v, a + b - v, 0.5 * (a - b), kappa, history, out.bound * scale,
                       out.residual, out.checks * check_every, n, dual=out.dual)
