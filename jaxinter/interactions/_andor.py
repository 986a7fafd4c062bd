"""AND-OR extraction of games (..., 2**n): one entry point over three solvers.

``and_or(v, method=...)`` validates its input and dispatches to the ADMM solver with a
certified gap (:mod:`._admm`, the default), the exact linear program (:mod:`._andor_lp`) or the
published SGD recipe (:mod:`._andor_published`). The problem is stated in docs/math.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import JaxinterInputError, check_game, n_players_from_size
from ._admm import admm_and_or
from ._andor_lp import and_or_lp
from ._andor_published import published
from ._andor_result import AndOrResult, error_bound
from ._transforms import moebius_kernel

METHODS = ("default", "lp", "published")


def and_or(v, *, c_q: float = 0.04, method: str = "default", steps: int | None = None,
           tol: float = 1e-3, rho: float = 10.0, beta: float = 1.0, relax: float = 1.6,
           check_every: int = 25, lr: float = 1e-5) -> AndOrResult:
    """Sparsest AND-OR decomposition of games v (..., 2**n) with |q| <= c_q |v(N) - v(empty)|.

    method: "default" (ADMM with exact Kronecker solves, see the module docstring; stops when
    the certified relative gap is below ``tol`` for every game or after ``steps``, by default
    ``4000 + 2000 (n - 8)`` and at least 2000 (8000 at n = 10 brings MLP games within 1% of
    the LP optimum; 6000 left certified gaps up to 2%); knobs ``rho`` (penalty on normalized
    games), ``beta`` (copy-constraint weight), ``relax`` (over-relaxation), ``check_every``
    (steps between loss records and stopping tests)), "lp" (exact, scipy HiGHS, one game at a time,
    practical up to n of about 10) or "published" (SGD momentum 0.9, learning rate ``lr``
    decayed log-uniformly to lr / 10 over ``steps`` = 10,000 by default, q clipped before every
    step, final iterate; the published default lr is 1e-5).
    Returns an :class:`AndOrResult` whose arrays keep the batch axes of v.
    """
    v, n = check_game(v, "v")
    if method not in METHODS:
        raise JaxinterInputError(f"method: expected one of {METHODS}, got {method!r}")
    if not np.isfinite(c_q) or c_q < 0:
        raise JaxinterInputError(f"c_q: expected a finite number >= 0, got {c_q!r}")
    if steps is not None and (not isinstance(steps, int | np.integer) or steps < 1):
        raise JaxinterInputError(f"steps: expected a positive integer, got {steps!r}")
    kappa = error_bound(v, c_q)
    if method == "lp":
        return and_or_lp(v, kappa)
    if method == "published":
        return published(v, kappa, n=n, steps=int(steps or 10_000), lr=float(lr))
    for name, value in (("tol", tol), ("rho", rho), ("beta", beta)):
        if not value > 0:
            raise JaxinterInputError(f"{name}: expected a positive number, got {value!r}")
    if not 0 < relax < 2:
        raise JaxinterInputError(f"relax: expected a number in (0, 2), got {relax!r}")
    steps = int(steps or max(2000, 4000 + 2000 * (n - 8)))
    check_every = int(min(check_every, steps))
    batch = v.shape[:-1]
    flat = admm_and_or(v.reshape(-1, 2**n), kappa.reshape(-1), jnp.asarray(tol, v.dtype), n=n,
                    rho=float(rho), beta=float(beta), relax=float(relax),
                    steps=steps - steps % check_every, check_every=check_every)
    return jax.tree.map(lambda x: x.reshape(batch + x.shape[1:]), flat)


KINDS = ("and", "andor")


def extract_interactions(v, kind: str = "andor", **options) -> tuple[jax.Array, jax.Array]:
    """(i_and, i_or) of games v (..., 2**n), both (..., 2**n); jittable.

    kind "andor": the AND-OR decomposition of :func:`and_or` with ``options`` (``method``,
    ``c_q``, ``steps`` ...). kind "and": plain AND (Harsanyi) interactions of v, the cheap
    setting, with i_or = 0 (no options).
    """
    if kind == "andor":
        result = and_or(v, **options)
        return result.i_and, result.i_or
    if kind != "and":
        raise JaxinterInputError(f"kind: expected one of {KINDS}, got {kind!r}")
    if options:
        raise JaxinterInputError(f"options: kind 'and' takes none, got {sorted(options)}")
    n = n_players_from_size(v.shape[-1], "v")
    return moebius_kernel(v, n), jnp.zeros_like(v)
