"""Joint AND-OR extraction of several models explaining the same games.

Each model i gets its own split g_i = g_shared + g_i' (|g_i'| bounded) and error term q_i; the
loss sum_S max_i |I_i(S)| + alpha sum_{S,i} |I_i(S)| favours interactions that all models share
(docs/math/andor.md, "Several models at once").
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ..errors import JaxinterInputError, check_axis, check_game, check_int, check_number
from ._andor_result import fold, l1_objective


@struct.dataclass
class JointResult:
    """Joint AND-OR interactions of several models (model axis first after moving).

    i_and, i_or: (models, ..., 2**n) folded as in :class:`AndOrResult`; q, g: (models, ...,
    2**n) with g = g_shared + g_specific; g_shared: (..., 2**n); loss: (...) final joint
    objective; loss_history: (..., steps).
    """

    frame_axes: ClassVar[dict] = {
        "i_and": ("model", ..., "subset"), "i_or": ("model", ..., "subset"),
        "q": ("model", ..., "subset"), "g": ("model", ..., "subset"), "g_shared": ("subset",),
        "loss": (), "loss_history": ("check",)}

    i_and: jax.Array
    i_or: jax.Array
    q: jax.Array
    g: jax.Array
    g_shared: jax.Array
    loss: jax.Array
    loss_history: jax.Array


def joint_objective(i_and, i_or, alpha):
    """sum_S max_i |I_i(S)| + alpha sum_{S,i} |I_i(S)| over AND and OR; model axis 0 -> (...)."""
    check_game(i_and, "i_and", check_values=False)
    check_game(i_or, "i_or", check_values=False)
    check_number(alpha, "alpha", 0)
    total = 0.0
    for i in (i_and, i_or):
        a = jnp.abs(i)
        total = total + jnp.sum(jnp.max(a, 0), -1) + alpha * jnp.sum(a, (0, -1))
    return total


@partial(jax.jit, static_argnames=("n", "steps", "alpha", "lr"))
def _joint(v, kappa, bound, *, n, steps, alpha, lr):
    scale = jnp.max(jnp.abs(v), axis=(0, -1))
    scale = jnp.where(scale > 0, scale, 1.0)
    v_n, k_n, b_n = v / scale[..., None], kappa / scale, bound / scale

    def unpack(p):
        q = jnp.clip(p["q"], -k_n[..., None], k_n[..., None])
        g_i = jnp.clip(p["g_i"], -b_n[..., None], b_n[..., None])
        return q, p["g"][None] + g_i

    def loss_fn(p):
        q, g = unpack(p)
        i_and, i_or, _ = l1_objective(v_n, q, g, n)
        per_game = joint_objective(i_and, i_or, alpha)
        return jnp.sum(per_game), per_game

    schedule = optax.exponential_decay(lr, transition_steps=steps, decay_rate=0.01)
    opt = optax.adam(schedule)
    params = {"q": jnp.zeros_like(v_n), "g_i": jnp.zeros_like(v_n), "g": jnp.zeros_like(v_n[0])}

    def step(carry, _):
        params, state = carry
        (_, loss), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        q, g = unpack(params)  # keep the iterate inside the boxes (projected steps)
        params = {"q": q, "g_i": g - params["g"][None], "g": params["g"]}
        return (params, state), loss

    (params, _), history = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    q, g = unpack(params)
    history = jnp.moveaxis(history, 0, -1) * scale[..., None]
    return q * scale[..., None], g * scale[..., None], params["g"] * scale[..., None], history


def and_or_joint(v, *, model_axis: int = 0, sample_axis: int | None = None, c_q: float = 0.04,
                 c_g: float = 0.5, alpha: float = 0.1, steps: int = 3000,
                 lr: float = 0.02) -> JointResult:
    """Joint AND-OR extraction of several models explaining the same games (docs/math/andor.md).

    v: (..., 2**n) with the models along ``model_axis``. Each model i gets
    g_i = g_shared + g_i' with |g_i'| <= c_g E_x |v_i(N) - v_i(empty)| (mean over
    ``sample_axis`` of v if given, else per game) and |q_i| <= c_q |v_i(N) - v_i(empty)|; the
    loss sum_S max_i |I_i(S)| + alpha sum_{S,i} |I_i(S)| (AND and OR) is minimized with
    projected Adam steps (learning rate ``lr`` on max-normalized games, decayed 100x) in
    ``lax.scan``. Unlike :func:`and_or` this objective has no exactness certificate.
    Returns a :class:`JointResult` with the model axis first.
    """
    v, n = check_game(v, "v")
    if v.ndim < 2:
        raise JaxinterInputError("v: expected a model axis and a subset axis, got 1-d games")
    model_axis = check_axis(model_axis, "model_axis", v.ndim)
    sample_axis = check_axis(sample_axis, "sample_axis", v.ndim, optional=True)
    c_q, c_g, alpha = (check_number(x, k, 0) for x, k in ((c_q, "c_q"), (c_g, "c_g"),
                                                           (alpha, "alpha")))
    steps, lr = check_int(steps, "steps", 1), check_number(lr, "lr", 0, low_open=True)
    if model_axis == v.ndim - 1:
        raise JaxinterInputError("model_axis: must not be the subset (last) axis")
    spread = jnp.abs(v[..., -1] - v[..., 0])
    if sample_axis is not None:
        if sample_axis in (model_axis, v.ndim - 1):
            raise JaxinterInputError("sample_axis: must differ from model_axis and the subset axis")
        bound = c_g * jnp.broadcast_to(jnp.mean(spread, sample_axis, keepdims=True), spread.shape)
    else:
        bound = c_g * spread
    move = partial(jnp.moveaxis, source=model_axis, destination=0)
    v0, kappa = move(v), move(c_q * spread)
    q, g, g_shared, history = _joint(v0, kappa, move(bound), n=n,
                                     steps=int(steps), alpha=float(alpha), lr=float(lr))
    q = jnp.clip(q, -kappa[..., None], kappa[..., None])  # exact bound despite rounding
    i_and_u, i_or_u, _ = l1_objective(v0, q, g, n)
    loss = joint_objective(i_and_u, i_or_u, alpha)
    i_and, i_or = fold(i_and_u, i_or_u)
    return JointResult(i_and, i_or, q, g, g_shared, loss, history)
