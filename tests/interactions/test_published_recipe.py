"""The published AND-OR recipe against a line-by-line PyTorch transcription of the research code.

The reference is written as the published code is: masks in its order (player 0 the most
significant bit), dense Harsanyi and OR matrices built from the definitions
(``tests/bruteforce.py``, sharing no code with jaxinter), ``torch.optim.SGD`` with momentum 0.9,
the learning rate set from ``np.logspace`` before every step, q clamped before every step, the
update skipped on the last step. torch is in the ``test`` extra, so this runs in CI.
"""

from __future__ import annotations

import bruteforce as bf
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxinter.interactions import and_or

C_Q = 0.04


def msb_to_lsb(n: int) -> np.ndarray:
    """perm with v_lsb = v_msb[perm]: bit i of the jaxinter index is mask column i."""
    weights = 2 ** np.arange(n - 1, -1, -1)  # column j of a published mask = bit n-1-j of row
    lsb_index = (bf.msb_masks(n) * 2 ** np.arange(n)).sum(1)
    order = np.empty(2**n, int)
    order[lsb_index] = bf.msb_masks(n) @ weights
    return order


def published_torch(v_msb: np.ndarray, steps: int, lr: float):
    """The research code's loop on one game in its own order: (losses, p, q, I_and, I_or)."""
    n = int(np.log2(v_msb.size))
    masks = bf.msb_masks(n)
    to_and = torch.tensor(bf.harsanyi_matrix(masks))
    to_or = torch.tensor(bf.or_matrix(masks))
    rewards = torch.tensor(v_msb)
    qbound = C_Q * abs(float(v_msb[-1] - v_msb[0]))  # last mask = all players, first = none
    p = torch.zeros_like(rewards, requires_grad=True)
    q = torch.zeros_like(rewards, requires_grad=True)
    optimizer = torch.optim.SGD([p, q], lr=0.0, momentum=0.9)
    eta_list = np.logspace(np.log10(lr), np.log10(lr) - 1, steps)
    losses = []
    for it in range(steps):
        q.data = torch.clamp(q.data, -qbound, qbound)
        i_and = to_and @ (0.5 * (rewards + q) + p)
        i_or = to_or @ (0.5 * (rewards + q) - p)
        loss = torch.sum(torch.abs(i_and)) + torch.sum(torch.abs(i_or))
        losses.append(loss.item())
        if it + 1 < steps:
            optimizer.param_groups[0]["lr"] = eta_list[it]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return (np.array(losses), p.detach().numpy(), q.detach().numpy(),
            i_and.detach().numpy(), i_or.detach().numpy())


def test_dense_matrices_from_definitions_invert_the_games():
    """The reference matrices themselves: AND reconstruction and the OR game from definitions."""
    n = 4
    masks = bf.msb_masks(n)
    u = np.random.default_rng(0).uniform(0.5, 1.5, 2**n)
    perm = msb_to_lsb(n)
    np.testing.assert_allclose(bf.harsanyi_matrix(masks) @ u[perm], bf.moebius(u)[perm], atol=1e-12)
    np.testing.assert_allclose(bf.or_matrix(masks) @ u[perm], bf.or_interactions(u)[perm],
                               atol=1e-12)


@pytest.mark.parametrize(("n", "steps", "lr"), [(4, 80, 1e-2), (6, 60, 2e-3)])
def test_published_recipe_matches_torch_transcription(n, steps, lr):
    """Every step's loss, the final p (= g) and q, and the folded interactions agree (to 1e-6:
    optax evaluates the learning-rate schedule in float32, so the rates differ by ~1e-8)."""
    rng = np.random.default_rng(n)
    v = rng.choice([-1, 1], 2**n) * rng.uniform(0.2, 2.0, 2**n)  # distinct, away from 0
    perm = msb_to_lsb(n)
    v_msb = np.empty_like(v)
    v_msb[perm] = v  # the published code's order
    losses, p, q, i_and, i_or = published_torch(v_msb, steps, lr)
    assert losses[-1] < 0.9 * losses[0]  # the loop moved
    with jax.enable_x64(True):
        res = and_or(jnp.asarray(v), method="published", steps=steps, lr=lr, c_q=C_Q)
        np.testing.assert_allclose(np.asarray(res.loss_history), losses, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(res.g), p[perm], atol=1e-6)
        np.testing.assert_allclose(np.asarray(res.q), q[perm], atol=1e-6)
        np.testing.assert_allclose(np.asarray(res.i_and_unfolded), i_and[perm], atol=1e-6)
        np.testing.assert_allclose(np.asarray(res.i_or_unfolded), i_or[perm], atol=1e-6)
        # the folded result moves the empty and singleton OR terms into AND (same atoms)
        low = np.array([bin(s).count("1") <= 1 for s in range(2**n)])
        want_and = np.where(low, i_and[perm] + i_or[perm], i_and[perm])
        np.testing.assert_allclose(np.asarray(res.i_and), want_and, atol=1e-6)
        np.testing.assert_allclose(np.asarray(res.i_or), np.where(low, 0, i_or[perm]), atol=1e-6)


def test_published_recipe_float32_follows_the_reference():
    """float32, the published default learning rate and many steps: within float32 rounding."""
    n, steps = 8, 2000
    rng = np.random.default_rng(1)
    v = rng.choice([-1, 1], 2**n) * rng.uniform(0.2, 2.0, 2**n)
    perm = msb_to_lsb(n)
    v_msb = np.empty_like(v)
    v_msb[perm] = v
    losses, *_ = published_torch(v_msb, steps, 1e-5)
    res = and_or(jnp.asarray(v, jnp.float32), method="published", steps=steps)
    np.testing.assert_allclose(np.asarray(res.loss_history), losses, rtol=1e-4)
