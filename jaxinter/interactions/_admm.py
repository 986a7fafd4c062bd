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
correction). The complement b~ = R b is a Kronecker product of bit flips, folded into the 2x2
factors of the OR block, so both games are stored in natural order.

The iteration is the fixed-point map t -> T(t) of the state t = (x + u_x, p + u_p) (copies plus
scaled multipliers), over-relaxed by ``relax``. Levers, each measured in benchmarks/bench_andor.py:

- restarts to the average (as in PDLP): every ``check_every`` steps the current state and the
  running average since the last restart are both scored by their certified gap; the iteration
  restarts from the better one once that gap has fallen to 0.2 of its value at the previous
  restart (or to 0.8 and stopped improving, or after 36% of the steps so far);
- per-game stopping: games wait in a queue and run in ``slots`` parallel lanes; a lane whose game
  is certified (or out of ``steps``) takes the next game, so a finished game costs nothing more;
- warm starts: ``init`` (the result of a related game) seeds the games and the multipliers.

Certificate. Every projected copy p is feasible, so its objective is an upper bound, and the best
one seen is returned (the loss history is monotone). The multiplier of the box, scaled to dual
feasibility (||Z^T y||_inf <= 1 and the same for the OR atoms), gives a lower bound
v.y - kappa ||y||_1 on the optimum; a game stops when (loss - bound) / loss < ``tol``. Games
are normalized by max |v|, so games of any scale behave alike. Iterations run in the input dtype
(float32 by default); the certificate is a valid bound up to that dtype's rounding.

The linear pieces are written with :func:`kron_apply`, which applies a Kronecker product of 2x2
matrices two bits per fused elementwise pass (on CPU 1.1x to 1.4x faster than dense matrix
products over chunks of 5 bits at n = 8 to 14; see the benchmark).

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

_BITS_PER_PASS = 2  # bits per fused elementwise pass of kron_apply

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
    (..., k, 2**n)). Bits go ``_BITS_PER_PASS`` at a time: each output slice of a group is an
    elementwise sum over the group's input slices, which XLA fuses into one loop per group
    (measured faster on CPU than dense matrix products over chunks of 5 bits, and than one
    pass per bit, for n = 8 to 14).
    """
    m = np.asarray(m, dtype=np.float64)
    shape = f.shape
    for done in range(0, n, _BITS_PER_PASS):
        k = min(_BITS_PER_PASS, n - done)
        kron = jnp.asarray(_kron_power(m, k)[..., None, None], f.dtype)  # (..., 2**k, 2**k, 1, 1)
        g = f.reshape(shape[:-1] + (2 ** (n - done - k), 2**k, 2**done))
        pieces = [g[..., j, :] for j in range(2**k)]
        f = jnp.stack([sum(kron[..., r, c, :, :] * pieces[c] for c in range(2**k))
                       for r in range(2**k)], axis=-2).reshape(shape)
    return f


MOEBIUS_BIT = np.array([[1.0, 0.0], [-1.0, 1.0]])  # one bit of the Moebius transform (hi -= lo)
_FLIP = np.array([[0.0, 1.0], [1.0, 0.0]])  # one bit of the complement T -> N \ T
_LAM, _U = np.linalg.eigh(MOEBIUS_BIT.T @ MOEBIUS_BIT)  # M^T M = kron(U) diag(kron(lam)) kron(U)^T
_SUPERSETS = np.array([[1.0, 1.0], [0.0, 1.0]])  # Z^T: sums over supersets
_SUBSETS = np.array([[1.0, 0.0], [1.0, 1.0]])  # Z: sums over subsets


class KronOperators(NamedTuple):
    """Constants of the ADMM step for n players and copy weight beta (host numpy arrays).

    Per block (AND game a, OR game b; b~ = R b): the 2x2 factors that take coefficients
    (``coef_in``) and games (``game_in``) to the eigenbasis and back (``game_out``, ``coef_out``),
    the diagonal ``d`` of the exact solve and the rank-2 Woodbury terms ``h``, ``small`` of the
    OR block (row 0 of M replaced by e_N^T).
    """

    coef_in: np.ndarray  # (2, 2, 2)
    game_in: np.ndarray
    game_out: np.ndarray
    coef_out: np.ndarray
    coef_of_game: np.ndarray  # (2, 2, 2): M a and M b~ = M R b
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
    pair = lambda a, b: np.stack([a, b])  # noqa: E731
    return KronOperators(
        coef_in=pair(_U.T @ MOEBIUS_BIT.T, _U.T @ MOEBIUS_BIT.T),
        game_in=pair(_U.T, _U.T @ _FLIP),
        game_out=pair(_U, _FLIP @ _U),
        coef_out=pair(MOEBIUS_BIT @ _U, MOEBIUS_BIT @ _U),
        coef_of_game=pair(MOEBIUS_BIT, MOEBIUS_BIT @ _FLIP),
        d=d, h=h, small=small)


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


class _Problem:
    """The pieces of the iteration for n players (pure functions of arrays)."""

    def __init__(self, n: int, rho: float, beta: float, relax: float, dtype):
        self.n, self.rho, self.beta, self.relax = n, rho, beta, relax
        self.ops = kron_operators(n, beta)
        self.d, self.h, self.small = (jnp.asarray(x, dtype) for x in
                                      (self.ops.d, self.ops.h, self.ops.small))
        self.first = jnp.arange(2**n) == 0  # the empty set

    def coefficients(self, games):
        """x = M~ z of games (2, 2**n) = (a, b): (M a, M R b with entry 0 set to b(empty))."""
        coef = kron_apply(games, self.n, self.ops.coef_of_game)
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

    def solve(self, x, p):
        """Eigen coordinates of argmin_z ||M~ z - x||^2 + beta ||z - p||^2 (exact)."""
        n, ops = self.n, self.ops
        r = kron_apply(x, n, ops.coef_in) + self.beta * kron_apply(p, n, ops.game_in)
        r = r.at[1].add(x[1, 0] * (self.h[1] - self.h[0]))  # M~^T x: row 0 of M~ is e_N^T
        e = self.d * r
        correction = self.small @ (self.h @ e[1])  # Woodbury, OR block only
        return e.at[1].add(-self.d * (self.h.T @ correction))

    def step(self, t, game: _Game):
        """One over-relaxed Douglas-Rachford step of the state t (4, 2**n)."""
        x, p = self.prox(t, game)
        e = self.solve(2 * x - t[:2], 2 * p - t[2:])
        z = kron_apply(e, self.n, self.ops.game_out)
        coef = kron_apply(e, self.n, self.ops.coef_out).at[1, 0].set(z[1, 0])
        return t + self.relax * jnp.concatenate([coef - x, z - p])

    def loss(self, games):
        """sum |I_and| + |I_or| of feasible games (2, 2**n) (I_or(empty) = b(empty) = 0)."""
        coef = kron_apply(games, self.n, self.ops.coef_of_game)
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
        back = kron_apply(u, self.n, np.swapaxes(self.ops.coef_of_game, -1, -2))
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


def _relative_gap(loss, bound):
    return (loss - bound) / jnp.maximum(loss, jnp.finfo(loss.dtype).tiny)


def _lane_start(problem: _Problem, index, game: _Game, games, dual) -> _Lane:
    t = problem.start(games, dual, game)
    p, loss, bound = problem.score(t, game)
    zero, inf = jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf, t.dtype)
    return _Lane(index, game, t, jnp.zeros_like(t), zero, p, loss, bound, inf, inf, zero,
                 jnp.zeros((), t.dtype))


def _lane_advance(problem: _Problem, check_every: int, restarts: bool, lane: _Lane) -> _Lane:
    """``check_every`` steps, then score the state and its average; keep the best; restart."""
    def body(carry, _):
        t, total = carry
        t = problem.step(t, lane.game)
        return (t, total + t), None

    (t, total), _ = jax.lax.scan(body, (lane.t, lane.total), None, length=check_every - 1)
    last = problem.step(t, lane.game)
    residual = jnp.linalg.norm(last - t) / jnp.maximum(jnp.linalg.norm(t), 1e-30)
    t, total = last, total + last
    count = lane.count + check_every
    average = total / count
    p_t, loss_t, bound_t = problem.score(t, lane.game)
    p_a, loss_a, bound_a = problem.score(average, lane.game)
    gap_t, gap_a = _relative_gap(loss_t, bound_t), _relative_gap(loss_a, bound_a)
    better = loss_a < loss_t
    loss, p = jnp.where(better, loss_a, loss_t), jnp.where(better, p_a, p_t)
    improved = loss < lane.best_loss
    gap = jnp.minimum(gap_t, gap_a)
    checks = lane.checks + 1
    restart = restarts & ((gap <= _SUFFICIENT * lane.gap_restart)
                          | ((gap <= _NECESSARY * lane.gap_restart) & (gap > lane.gap_last))
                          | (count >= _ARTIFICIAL * checks * check_every))
    t = jnp.where(restart & (gap_a < gap_t), average, t)
    return lane._replace(
        t=t, total=jnp.where(restart, 0.0, total), count=jnp.where(restart, 0, count),
        best=jnp.where(improved, p, lane.best), best_loss=jnp.minimum(loss, lane.best_loss),
        bound=jnp.maximum(lane.bound, jnp.maximum(bound_t, bound_a)),
        gap_restart=jnp.where(restart, gap, lane.gap_restart),
        gap_last=jnp.where(restart, jnp.inf, gap), checks=checks, residual=residual)


# ---------------------------------------------------------------------------------------------
# the queue: games wait, lanes work, a certified game leaves and the next one enters


class _Outputs(NamedTuple):
    best: jax.Array  # (B, 2, 2**n)
    history: jax.Array  # (B, max_checks)
    bound: jax.Array  # (B,)
    dual: jax.Array  # (B, 2, 2**n)
    residual: jax.Array  # (B,)
    checks: jax.Array  # (B,) int32


def _solve_queue(problem: _Problem, v, kappa, tol, init, *, slots, check_every, max_checks,
                 restarts):
    """All games v (B, 2**n) (normalized) through ``slots`` lanes -> :class:`_Outputs`."""
    batch = v.shape[0]

    def start(index):
        i = jnp.clip(index, 0, batch - 1)
        game = _Game(v[i], kappa[i])
        if init is None:
            games, dual = jnp.stack([0.5 * v[i], 0.5 * v[i]]), jnp.zeros((2, v.shape[1]), v.dtype)
        else:
            games, dual = init[0][i], init[1][i]
        return _lane_start(problem, jnp.where(index < batch, index, -1), game, games, dual)

    lanes = jax.vmap(start)(jnp.arange(slots))
    outputs = _Outputs(jnp.zeros((batch, 2, v.shape[1]), v.dtype),
                       jnp.full((batch, max_checks), jnp.nan, v.dtype),
                       jnp.zeros(batch, v.dtype), jnp.zeros((batch, 2, v.shape[1]), v.dtype),
                       jnp.zeros(batch, v.dtype), jnp.zeros(batch, jnp.int32))
    advance = jax.vmap(partial(_lane_advance, problem, check_every, restarts))

    def refill(lanes, done, waiting):
        """The next waiting games enter the finished lanes (lanes past the queue go idle)."""
        fresh = jax.vmap(start)(jnp.where(done, waiting + jnp.cumsum(done) - 1, batch))
        return jax.tree.map(lambda new, old: jnp.where(
            done.reshape(done.shape + (1,) * (old.ndim - 1)), new, old), fresh, lanes)

    def round_(carry):
        lanes, outputs, waiting = carry
        lanes = advance(lanes)
        active = lanes.index >= 0
        rows = jnp.where(active, lanes.index, batch)  # idle lanes write nowhere
        history = outputs.history.at[rows, lanes.checks - 1].set(lanes.best_loss, mode="drop")
        done = active & ((lanes.best_loss - lanes.bound <= tol * lanes.best_loss)
                         | (lanes.checks >= max_checks))
        rows = jnp.where(done, lanes.index, batch)
        outputs = _Outputs(outputs.best.at[rows].set(lanes.best, mode="drop"), history,
                           outputs.bound.at[rows].set(lanes.bound, mode="drop"),
                           outputs.dual.at[rows].set(jax.vmap(problem.dual)(lanes.t),
                                                     mode="drop"),
                           outputs.residual.at[rows].set(lanes.residual, mode="drop"),
                           outputs.checks.at[rows].set(lanes.checks, mode="drop"))
        lanes = jax.lax.cond(jnp.any(done), partial(refill, done=done, waiting=waiting),
                             lambda lanes: lanes, lanes)
        return lanes, outputs, waiting + jnp.sum(done)

    def running(carry):
        return jnp.any(carry[0].index >= 0)

    _, outputs, _ = jax.lax.while_loop(running, round_, (lanes, outputs, jnp.asarray(slots)))
    return outputs


def warm_games(init, dtype):
    """(games (B, 2, 2**n) = (u_and, u_or), dual (B, 2, 2**n)) of flat previous results."""
    from ._transforms import zeta_kernel

    n = init.i_and_unfolded.shape[-1].bit_length() - 1
    a = zeta_kernel(init.i_and_unfolded, n)
    return jnp.stack([a, a - 2 * init.g], axis=-2).astype(dtype), init.dual.astype(dtype)


@partial(jax.jit, static_argnames=("n", "rho", "beta", "relax", "steps", "check_every", "slots",
                                   "restarts"))
def admm_and_or(v, kappa, tol, init=None, *, n, rho, beta, relax, steps, check_every, slots,
                restarts=True):
    """Flat games v (B, 2**n), bounds kappa (B,) -> AndOrResult with batch axis B.

    ``init``: None or (games (B, 2, 2**n), dual (B, 2, 2**n)) of related games (a warm start).
    Batch axes are flattened by the caller and ``tol`` is traced, so games of any batch layout
    and any tolerance share one compilation per (B, n, steps, slots).
    """
    scale = jnp.max(jnp.abs(v), axis=-1)
    scale = jnp.where(scale > 0, scale, 1.0)
    if init is not None:
        init = (init[0] / scale[:, None, None], init[1])
    problem = _Problem(n, rho, beta, relax, v.dtype)
    out = _solve_queue(problem, v / scale[:, None], kappa / scale, tol, init, slots=slots,
                       check_every=check_every, max_checks=steps // check_every,
                       restarts=restarts)
    a, b = out.best[:, 0] * scale[:, None], out.best[:, 1] * scale[:, None]
    final = out.history[jnp.arange(v.shape[0]), out.checks - 1]
    history = jnp.where(jnp.isnan(out.history), final[:, None], out.history) * scale[:, None]
    return make_result(v, a + b - v, 0.5 * (a - b), kappa, history, out.bound * scale,
                       out.residual, out.checks * check_every, n, dual=out.dual)
