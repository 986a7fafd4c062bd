"""The published AND-OR sparsification recipe, with its exact semantics, in optax.

As in the reference PyTorch code (Li & Zhang 2023 and follow-ups): parameters p (the split g)
and q start at 0; SGD with momentum 0.9 whose learning rate at step t is
lr * 10**(-t / (steps - 1)) (log-uniform from lr to lr / 10; the published default is
lr = 1e-5 with 10,000 steps); before every step q is clipped to [-kappa, kappa]; the loss
sum |I_and| + |I_or| is recorded at every step; the update is skipped on the last step and the
final iterate (not the best) is returned. Gradients of |x| use sign(x) (0 at 0) like torch.
Runs in ``lax.scan`` and is vmapped over games; it is here to reproduce published numbers:
it stays well above the optimum (see :func:`jaxinter.interactions.and_or`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax

from ._andor_result import l1_objective, make_result


def _one_game(v, kappa, *, n, steps, lr):
    schedule = optax.exponential_decay(lr, transition_steps=max(steps - 1, 1), decay_rate=0.1)
    opt = optax.sgd(schedule, momentum=0.9)
    params = {"g": jnp.zeros_like(v), "q": jnp.zeros_like(v)}

    def loss_fn(params):
        return l1_objective(v, params["q"], params["g"], n)[2]

    def step(carry, t):
        params, state = carry
        params = {**params, "q": optax.projections.projection_box(params["q"], -kappa, kappa)}
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, new_state = opt.update(grads, state, params)
        last = t == steps - 1
        params, state = jax.tree.map(
            lambda old, new: jnp.where(last, old, new),
            (params, state), (optax.apply_updates(params, updates), new_state))
        return (params, state), loss

    (params, _), history = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
    return params["q"], params["g"], history


@partial(jax.jit, static_argnames=("n", "steps", "lr"))
def published(v, kappa, *, n, steps, lr):
    """Published recipe for games v (..., 2**n) with bounds kappa (...) -> AndOrResult."""
    solve = partial(_one_game, n=n, steps=steps, lr=lr)
    flat_v, flat_k = v.reshape(-1, v.shape[-1]), kappa.reshape(-1)
    q, g, history = jax.vmap(solve)(flat_v, flat_k)
    batch = v.shape[:-1]
    nan = jnp.full(batch, jnp.nan, v.dtype)
    return make_result(v, q.reshape(v.shape), g.reshape(v.shape), kappa,
                   history.reshape(batch + (steps,)), nan, jnp.zeros(batch, v.dtype),
                   jnp.full(batch, steps, jnp.int32), n)
