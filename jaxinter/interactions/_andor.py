"""AND-OR extraction of games (..., 2**n): one entry point over three solvers.

``and_or(v, method=...)`` validates its input and dispatches to the ADMM solver with a
certified gap (:mod:`._admm`, the default), the exact linear program (:mod:`._andor_lp`) or the
published SGD recipe (:mod:`._andor_published`). The problem is stated in
docs/math/andor.md. With ``mesh=`` the games are split over the devices (``shard_map``); each
device flattens its own block and runs its own queue (docs/distributed.md).
"""

from __future__ import annotations

import os
import threading
from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ..distributed import default_mesh, pad_to_multiple, replicate, shard_rows, split_axis
from ..errors import JaxinterInputError, check_choice, check_game, check_int, check_number
from ._admm import admm_and_or, cold_games, warm_games
from ._andor_lp import and_or_lp
from ._andor_published import published
from ._andor_result import AndOrResult, error_bound_kernel
from ._transforms import moebius_kernel

METHODS = ("default", "lp", "published")
WARM_STARTS = (None, "from_first", "chained")


def and_or(v, *, c_q: float = 0.04, method: str = "default", steps: int | None = None,
           tol: float | None = None, init: AndOrResult | None = None, warm_start: str | None = None,
           slots: int | None = None, workers: int | None = None,
           rho: float = 10.0, beta: float = 0.5, relax: float = 1.8, check_every: int = 25,
           restarts: bool = True, lr: float = 1e-5, check_values: bool = True,
           mesh: Mesh | None = None, mesh_axis: str | None = None) -> AndOrResult:
    """Sparsest AND-OR decomposition of games v (..., 2**n) with |q| <= c_q |v(N) - v(empty)|.

    Args:
      v: (..., 2**n) games (subset axis last, any leading batch axes, floating dtype kept).
      c_q: bound of the error term q relative to |v(N) - v(empty)|.
      method: "default" (ADMM with exact Kronecker solves and a certified gap, see
        docs/math/andor.md), "lp" (exact, scipy HiGHS, one game at a time, n <= 12) or
        "published" (the published SGD recipe: momentum 0.9, learning rate ``lr`` decayed
        log-uniformly to lr / 10 over ``steps`` = 10,000 by default, q clipped before every
        step, final iterate).
      steps: "default": iteration budget per game, by default :func:`default_steps`; a game stops
        earlier once its certified relative gap (loss - lower bound) / loss is below ``tol``.
      tol: certified relative gap at which a game stops ("default"); by default
        :func:`default_tol`: 1e-3 up to n = 11 players, 9e-3 from n = 12 on (every game
        certified within 1%), where the last decade of the gap costs more than the first two.
      init: an :class:`AndOrResult` of related games with the same shape as v (the clean game of
        a noisy copy, the previous layer, the previous checkpoint): "default" starts from its
        games and multipliers (a warm start); "lp" and "published" ignore it.
      warm_start: "default": families of related games along the first axis of v (K, ...),
        solved in one call: None (every game cold), "from_first" (v[k], k >= 1, starts from
        the solution of v[0]: noisy copies after their clean game) or "chained" (v[k] from
        v[k - 1]: layers, checkpoints). Games run in queue order, so a game whose source has
        not finished when it enters a lane starts cold (with ``slots`` >= the games, as on
        accelerators by default, every game does). "lp" and "published" ignore it, and so
        does a solve on a mesh (a family's members may sit on other devices).
      slots: "default": games solved side by side; the others wait in a queue and enter as
        games finish, so a finished game costs nothing more. Default: all games on
        accelerators, ``2**(12 - n)`` (at least 1) on CPU.
      workers: "default": groups of games (at least ``slots`` each) solved side by side in
        threads, each with its own queue (whole warm-start families stay together). Default:
        the CPU cores this process may use on the CPU backend (XLA:CPU runs one solver program
        on one core), 1 on accelerators; always 1 when v is traced (``and_or`` inside ``jit``)
        or on a mesh.
      rho, beta, relax, check_every, restarts: "default": penalty on max-normalized games,
        weight of the game copy, over-relaxation, steps between checks (loss record,
        certificate, restart and stopping tests), and whether to restart from the running
        average when it certifies a smaller gap.
      lr: "published": learning rate.
      check_values: scan v for NaN and infinite values first (on device for arrays that live
        there).
      mesh: "default": a ``jax.sharding.Mesh`` to split the games over (along the first
        leading axis, padded to a multiple of the device count with copies of the last game,
        dropped after; one process or many). Each device flattens its own block, runs its own
        queue and stops on its own certificates; results equal the single-device ones to
        float32 rounding and stay split over the mesh (replicated when padding was needed).
        Without ``mesh`` inside ``jaxinter.distributed.using_mesh(mesh)``: solved on that mesh,
        returned replicated.
      mesh_axis: the mesh axis to split over (None: the mesh's only axis).

    Returns:
      An :class:`AndOrResult` whose arrays keep the batch axes of v.
    """
    check_int(workers, "workers", 1, optional=True)
    check_options(method=method, c_q=c_q, steps=steps, tol=tol, slots=slots, rho=rho,
                  beta=beta, relax=relax, check_every=check_every, restarts=restarts, lr=lr)
    v, n = check_game(v, "v", check_values=check_values)
    if init is not None:
        check_init(init, v.shape)
    check_choice(warm_start, "warm_start", WARM_STARTS)
    if warm_start is not None and v.ndim < 2:
        raise JaxinterInputError(
            f"warm_start: expected games (K, ..., 2**n) with a family axis, got shape {v.shape}")
    if mesh is not None:
        split_axis(mesh, mesh_axis)
    if method == "lp":
        return and_or_lp(v, error_bound_kernel(v, c_q))
    if method == "published":
        return published(v, error_bound_kernel(v, c_q), n=n, steps=int(steps or 10_000),
                         lr=float(lr))
    steps = int(steps or default_steps(n))
    check_every = int(min(check_every, steps))
    options = dict(c_q=float(c_q), slots=slots, n=n, rho=float(rho), beta=float(beta),
                   relax=float(relax), steps=steps - steps % check_every,
                   check_every=check_every, restarts=bool(restarts))
    tol = jnp.asarray(default_tol(n) if tol is None else tol, v.dtype)
    scope = default_mesh() if mesh is None else None
    if scope is not None:  # inside using_mesh: split the games, return the result whole
        return replicate(_solve_on_mesh(options, v, tol, init, *scope), scope[0])
    if mesh is None:
        return _solve_block(v, tol, init, warm_start=warm_start,
                            workers=solver_workers(v, workers), **options)
    return _solve_on_mesh(options, v, tol, init, mesh, mesh_axis)


def _solve_block(v, tol, init, *, c_q, slots, warm_start, workers=1,
                 **options) -> AndOrResult:
    """ADMM on games v (..., 2**n): leading axes flattened, split into up to ``workers`` groups
    of at least ``slots`` games solved side by side in threads (whole families of warm-started
    games stay in one group), each padded to :func:`bucket_size` games (a local gather, also
    per shard), then restored. Besides the solver (one program per bucket), a call runs two
    small programs, :func:`group_inputs` and :func:`merge_groups`, compiled once per shape."""
    batch, n = v.shape[:-1], options["n"]
    games = int(np.prod(batch, dtype=int))
    source = family_sources(batch, warm_start)
    source = np.full(games, -1) if source is None else source
    slots = int(min(slots or default_slots(n, games), games))
    groups = worker_groups(games, int(np.prod(batch[1:], dtype=int)) if warm_start else games,
                           min(workers, games // slots))  # every group fills its lanes
    slots = min(slots, min(map(len, groups)))

    def solve(members):
        local = np.full(games, -1)
        local[members] = np.arange(len(members))
        rows = np.full(bucket_size(len(members), n), -1, np.int32)
        rows[:len(members)] = members
        group_source = np.full(len(rows), -1, np.int32)
        group_source[:len(members)] = np.where(source[members] >= 0, local[source[members]], -1)
        flat, kappa, start = group_inputs(v, init, rows, c_q=c_q)
        return admm_and_or(flat, kappa, tol, start, group_source, len(members), slots=slots,
                           **options)

    parts = [solve(groups[0])] if len(groups) == 1 else run_in_threads(
        [partial(solve, members) for members in groups])
    order = None if len(groups) == 1 else np.argsort(np.concatenate(groups))
    return merge_groups(parts, order, sizes=tuple(map(len, groups)), batch=tuple(batch))


@partial(jax.jit, static_argnames=("c_q",))
def group_inputs(v, init, rows, *, c_q):
    """Inputs of the solver for the games ``rows`` (bucket,) of v (..., 2**n), flattened (row
    -1: padding, zero games): (games (bucket, 2**n), bounds (bucket,), (starting games, dual)
    (bucket, 2, 2**n) each), the start cold (:func:`cold_games`) or from ``init``."""
    flat = v.reshape(-1, v.shape[-1])

    def take(x):  # rows of x (games, ...), zero for padding
        return jnp.where((rows >= 0).reshape((-1,) + (1,) * (x.ndim - 1)),
                         x[jnp.maximum(rows, 0)], 0)

    games = take(flat)
    if init is None:
        start = cold_games(games)
    else:
        start = warm_games(jax.tree.map(lambda x: take(x.reshape((len(flat),) + x.shape[
            v.ndim - 1:])), init), v.dtype)
    return games, error_bound_kernel(games, c_q), start


@partial(jax.jit, static_argnames=("sizes", "batch"))
def merge_groups(parts, order, *, sizes, batch) -> AndOrResult:
    """The results of the groups (their first ``sizes`` games each, the rest padding) in the
    order of the flat games (``order``: their positions in the concatenated groups; None: one
    group), with the batch axes ``batch`` restored."""
    merged = jax.tree.map(lambda *xs: jnp.concatenate(
        [x[:size] for x, size in zip(xs, sizes, strict=True)]), *parts)
    if order is not None:
        merged = jax.tree.map(lambda x: x[order], merged)
    return jax.tree.map(lambda x: x.reshape(batch + x.shape[1:]), merged)


def worker_groups(games: int, families: int, workers: int) -> list[np.ndarray]:
    """Flat game indices of ``workers`` groups (at most ``families``): game g belongs to family
    g % families (a warm-started family: the members of one index across the family axis), and
    whole families go to one group, consecutive families together."""
    count = max(1, min(workers, families))
    family = np.arange(games) % families
    group = family * count // families
    return [np.flatnonzero(group == k) for k in range(count)]


def run_in_threads(calls: list) -> list:
    """Results of the argument-free ``calls``, run side by side in daemon threads (XLA:CPU runs
    one solver program on one core, so groups of games in threads use the others) with the
    caller's x64, default device and matmul precision settings. The first exception raised by a
    call is raised here."""
    results, errors = [None] * len(calls), []
    x64, device = jax.config.jax_enable_x64, jax.config.jax_default_device
    precision = jax.config.jax_default_matmul_precision

    def run(i):
        try:  # the caller's thread-local settings (jax.enable_x64 and the like) in this thread
            with (jax.enable_x64(x64), jax.default_device(device),
                  jax.default_matmul_precision(precision)):
                results[i] = jax.block_until_ready(calls[i]())
        except BaseException as error:  # noqa: BLE001 (re-raised in the calling thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def bucket_size(games: int, n: int) -> int:
    """Games per compiled solver: the next power of two, at least 2**(16 - n) (about 2**16
    subsets in all), so calls with different numbers of games (layers and their noisy copies,
    another model's output) share one compilation."""
    return max(2 ** max(16 - n, 0), 1 << max(games - 1, 0).bit_length())


def family_sources(batch: tuple[int, ...], warm_start: str | None) -> np.ndarray | None:
    """(prod(batch),) flat index of the game each game starts from (-1: cold), or None.

    ``batch`` = (K, *rest): member k of a family starts from member 0 ("from_first") or from
    member k - 1 ("chained"), with the same indices in ``rest``.
    """
    if warm_start is None:
        return None
    rest = int(np.prod(batch[1:], dtype=int))
    member, index = np.divmod(np.arange(int(np.prod(batch, dtype=int))), rest)
    source = index if warm_start == "from_first" else (member - 1) * rest + index
    return np.where(member > 0, source, -1)


@cache
def _mesh_solver(mesh, axis, options):
    """jit(shard_map(_solve_block)) over ``axis`` of ``mesh``; one per static configuration."""
    solve = partial(_solve_block, warm_start=None, **dict(options))
    return jax.jit(jax.shard_map(solve, mesh=mesh, in_specs=(P(axis), P(), P(axis)),
                                 out_specs=P(axis)))


def _solve_on_mesh(options, v, tol, init, mesh, mesh_axis) -> AndOrResult:
    """``_solve_block`` with the games split along their first axis over a mesh axis
    (``shard_map``): each device solves its own games and stops on their certificates."""
    axis, devices = split_axis(mesh, mesh_axis)
    single = v.ndim == 1
    if single:
        v, init = v[None], jax.tree.map(lambda x: x[None], init)
    games = v.shape[0]
    v, init = (jax.tree.map(lambda x: shard_rows(pad_to_multiple(x, devices)[0], mesh, axis),
                            tree) for tree in (v, init))
    solver = _mesh_solver(mesh, axis, tuple(sorted(options.items())))
    result = solver(v, replicate(tol, mesh), init)
    if single:
        return jax.tree.map(lambda x: x[0], result)
    return result if games == v.shape[0] else jax.tree.map(lambda x: x[:games], result)


def check_options(*, method, c_q, steps, tol, slots, rho, beta, relax, check_every, restarts,
                  lr) -> None:
    """Validate the hyperparameters of :func:`and_or` (JaxinterInputError naming the first bad
    one)."""
    check_choice(method, "method", METHODS)
    check_number(c_q, "c_q", 0)
    check_int(steps, "steps", 1, optional=True)
    check_int(slots, "slots", 1, optional=True)
    check_int(check_every, "check_every", 1)
    check_number(tol, "tol", 0, low_open=True, optional=True)
    for name, value in (("rho", rho), ("beta", beta), ("lr", lr)):
        check_number(value, name, 0, low_open=True)
    check_number(relax, "relax", 0, 2, low_open=True, high_open=True)
    if not isinstance(restarts, bool):
        raise JaxinterInputError(f"restarts: expected True or False, got {restarts!r}")


def default_steps(n: int) -> int:
    """Default iteration budget of the "default" method: 8000 * 1.75**((n - 8) / 2), at least
    2000 (a cap: games stop at their certificate, at n = 14 after 4,000 to 27,000 steps)."""
    return max(2000, int(8000 * 1.75 ** ((n - 8) / 2)))


def default_tol(n: int) -> float:
    """Default certified relative gap of the "default" method: 1e-3 up to n = 11 players; from
    n = 12 on 9e-3, every game certified within 1% with room for the float32 rounding of the
    reported loss (about 1e-4 relative at n = 14). The steps to certify grow about 1.75x per
    two players, and the decade from 1e-2 to 1e-3 takes twice the steps of the first two."""
    return 1e-3 if n <= 11 else 9e-3


def default_slots(n: int, games: int) -> int:
    """Default number of lanes: every game at once on accelerators, 2**(12 - n) on CPU."""
    if jax.default_backend() != "cpu":
        return games
    return max(1, 2 ** max(12 - n, 0))


def solver_workers(v, workers: int | None) -> int:
    """Solver threads for games v: ``workers``, by default the CPU cores this process may use on
    the CPU backend and 1 on accelerators; always 1 for traced games (threads need arrays)."""
    if isinstance(v, jax.core.Tracer):
        return 1
    if workers is not None:
        return workers
    if jax.default_backend() != "cpu":
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def check_init(init, shape: tuple[int, ...]) -> None:
    """Raise unless ``init`` is an AndOrResult of games with the given shape (..., 2**n)."""
    if not isinstance(init, AndOrResult):
        raise JaxinterInputError(
            f"init: expected an AndOrResult of a previous extraction, got {type(init).__name__}")
    if tuple(init.i_and.shape) != tuple(shape) or tuple(init.dual.shape) != (
            tuple(shape[:-1]) + (2, shape[-1])):
        raise JaxinterInputError(
            f"init: expected a result for games of shape {tuple(shape)}, got one for "
            f"{tuple(init.i_and.shape)}")


KINDS = ("and", "andor")


def extract_interactions(v, kind: str = "andor", **options) -> tuple[jax.Array, jax.Array]:
    """(i_and, i_or) of games v (..., 2**n), both (..., 2**n); jittable.

    kind "andor": the AND-OR decomposition of :func:`and_or` with ``options`` (``method``,
    ``c_q``, ``steps`` ...). kind "and": plain AND (Harsanyi) interactions of v, the cheap
    setting, with i_or = 0 (no options).
    """
    check_choice(kind, "kind", KINDS)
    if kind == "andor":
        result = and_or(v, **options)
        return result.i_and, result.i_or
    if options:
        raise JaxinterInputError(f"options: kind 'and' takes none, got {sorted(options)}")
    v, n = check_game(v, "v")
    return moebius_kernel(v, n), jnp.zeros_like(v)
