"""The result of an AND-OR extraction and the objective every solver minimizes.

For games v (..., 2**n), a split g and an error term q with |q| <= kappa define
u_and = (v + q) / 2 + g and u_or = (v + q) / 2 - g; the objective is
sum_S |I_and(S)| + |I_or(S)| with I_and = moebius(u_and) and I_or = or_interactions(u_or)
(docs/math/andor.md). Every solver returns an :class:`AndOrResult`.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from ..errors import MAX_PLAYERS, JaxinterInputError, check_game, check_int, check_number
from ._subsets import orders_np
from ._transforms import moebius_kernel, or_kernel

# ---------------------------------------------------------------------------------------------
# result


@struct.dataclass
class AndOrResult:
    """AND-OR interactions of games v (..., 2**n) (pytree; leading axes = batch axes).

    i_and, i_or: (..., 2**n) folded (singleton and empty OR terms moved into AND, so
    ``i_and[..., 0] = v(empty) + q(empty)`` and ``i_or`` is 0 there and on singletons).
    i_and_unfolded, i_or_unfolded: (..., 2**n) moebius(u_and), or_interactions(u_or).
    q, g: (..., 2**n) error term (|q| <= kappa) and split. kappa: (...) error bound.
    loss: (...) final objective sum |I_and| + |I_or| (unfolded). loss_history: (..., k)
    objective of the iterate every ``check_every`` steps (the best so far for "default").
    lower_bound: (...) certified lower bound on the optimum ("default" and "lp"; NaN
    otherwise). residual: (...) relative fixed-point residual ||T(t) - t|| / ||t|| of the last
    ADMM step (0 for exact or primal methods). steps: (...) iterations run.
    dual: (..., 2, 2**n) the solver's multipliers of the AND coefficients and of the Moebius
    coefficients of the complemented OR game, in [-1, 1] ("default"; 0 otherwise); with the
    games (i_and_unfolded, g) it is what ``and_or(..., init=result)`` warm-starts from.
    """

    frame_axes: ClassVar[dict] = {
        "i_and": ("subset",), "i_or": ("subset",), "i_and_unfolded": ("subset",),
        "i_or_unfolded": ("subset",), "q": ("subset",), "g": ("subset",), "kappa": (),
        "loss": (), "lower_bound": (), "residual": (), "steps": (), "loss_history": ("check",)}

    i_and: jax.Array
    i_or: jax.Array
    i_and_unfolded: jax.Array
    i_or_unfolded: jax.Array
    q: jax.Array
    g: jax.Array
    kappa: jax.Array
    loss: jax.Array
    loss_history: jax.Array
    lower_bound: jax.Array
    residual: jax.Array
    steps: jax.Array
    dual: jax.Array

    def unfolded(self) -> tuple[jax.Array, jax.Array]:
        """(i_and, i_or) before folding singleton and empty OR terms into AND."""
        return self.i_and_unfolded, self.i_or_unfolded

    @property
    def gap(self) -> jax.Array:
        """(...) certified relative gap (loss - lower_bound) / loss."""
        tiny = jnp.finfo(self.loss.dtype).tiny
        return (self.loss - self.lower_bound) / jnp.maximum(self.loss, tiny)


def fold(i_and: jax.Array, i_or: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Move singleton and empty OR terms into AND (their atoms coincide). (..., 2**n) each."""
    i_and, _ = check_game(i_and, "i_and", check_values=False)
    i_or, _ = check_game(i_or, "i_or", check_values=False)
    if i_or.shape != i_and.shape:
        raise JaxinterInputError(
            f"i_or: expected the shape of i_and {i_and.shape}, got {i_or.shape}")
    n = i_and.shape[-1].bit_length() - 1
    move = jnp.asarray(orders_np(n) <= 1)
    return i_and + jnp.where(move, i_or, 0), jnp.where(move, 0, i_or)


def l1_objective(v, q, g, n):
    """(i_and, i_or, loss) of the split (g, q) of games v, all unfolded. loss: (...)."""
    v, n_v = check_game(v, "v", check_values=False)
    q, _ = check_game(q, "q", check_values=False)
    g, _ = check_game(g, "g", check_values=False)
    if check_int(n, "n", 1, MAX_PLAYERS) != n_v or q.shape != v.shape or g.shape != v.shape:
        raise JaxinterInputError(
            f"n: expected v, q, g of one shape (..., 2**n) with n = {n}, got {v.shape}, {q.shape}, "
            f"{g.shape}")
    half = 0.5 * (v + q)
    i_and, i_or = moebius_kernel(half + g, n), or_kernel(half - g, n)
    return i_and, i_or, jnp.sum(jnp.abs(i_and), -1) + jnp.sum(jnp.abs(i_or), -1)


def make_result(v, q, g, kappa, history, lower_bound, residual, steps, n,
                dual=None) -> AndOrResult:
    """AndOrResult of the split (g, q) of games v (..., 2**n); ``dual`` defaults to 0."""
    q = jnp.clip(q, -kappa[..., None], kappa[..., None])  # exact bound despite rounding
    i_and_u, i_or_u, loss = l1_objective(v, q, g, n)
    i_and, i_or = fold(i_and_u, i_or_u)
    if dual is None:
        dual = jnp.zeros(v.shape[:-1] + (2, v.shape[-1]), v.dtype)
    return AndOrResult(i_and, i_or, i_and_u, i_or_u, q, g, kappa, loss, history,
                       lower_bound, residual, steps, dual)


def error_bound(v: jax.Array, c_q: float) -> jax.Array:
    """kappa = c_q |v(N) - v(empty)| for games (..., 2**n) -> (...)."""
    check_number(c_q, "c_q", 0)
    v, _ = check_game(v, "v")
    return error_bound_kernel(v, c_q)


def error_bound_kernel(v: jax.Array, c_q: float) -> jax.Array:
    """Unchecked :func:`error_bound`, for callers that validated ``v`` and ``c_q``."""
    return c_q * jnp.abs(v[..., -1] - v[..., 0])
