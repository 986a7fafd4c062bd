"""Exact subset transforms in O(n 2**n): Moebius/zeta, OR interactions, Shapley-type indices.

All functions take arrays of shape ``(..., 2**n)`` with the subset axis last (bit i = player
i), keep the input dtype, work on any number of leading batch axes, and are jitted. Each
transform is a butterfly: for each player i, every subset S containing i is updated from S
without i. Nothing here builds a dense ``2**n x 2**n`` matrix or loops over ``3**n`` pairs.
The definitions are in docs/math/interactions.md.

Inputs are validated before tracing (power-of-two axis, supported n, floating dtype, finite
values). Pass ``check_values=False`` to skip the NaN/inf scan when calling on huge arrays whose
values are known to be finite; shape and dtype checks always run. The ``*_kernel`` functions
are the unchecked jitted butterflies, for callers that have validated their input.
"""

from __future__ import annotations

from functools import partial
from math import comb

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ..errors import JaxinterInputError, check_game, check_int
from ._subsets import complement_values, orders_np, subset_masks

# ---------------------------------------------------------------------------------------------
# butterflies


_BITS_PER_PASS = 3  # XLA:CPU fuses a concatenate of at most 8 operands, i.e. 3 bits


def _butterfly(f: jax.Array, n: int, update) -> jax.Array:
    """Apply ``(lo, hi) -> update(lo, hi)`` along each bit; lo = S without i, hi = S with i.

    Bits are handled ``_BITS_PER_PASS`` at a time: the 2**k slices of a group of k bits are
    updated as values and written back by one ``stack``, which XLA fuses into a single loop, so
    the array crosses memory ceil(n / 3) times instead of n times. The arithmetic (and thus the
    rounding) is exactly that of the one-bit-at-a-time butterfly.
    """
    shape = f.shape
    for i in range(0, n, _BITS_PER_PASS):
        k = min(_BITS_PER_PASS, n - i)
        g = f.reshape(shape[:-1] + (2 ** (n - i - k), 2**k, 2**i))
        pieces = [g[..., j, :] for j in range(2**k)]
        for b in range(k):
            for hi in range(2**k):
                if hi >> b & 1:
                    lo = hi ^ (1 << b)
                    pieces[lo], pieces[hi] = update(pieces[lo], pieces[hi])
        f = jnp.stack(pieces, axis=-2).reshape(shape)
    return f


@partial(jax.jit, static_argnums=1)
def moebius_kernel(u, n):
    """Unchecked ``moebius`` of ``u`` ``(..., 2**n)``: f(S) -= f(S without i) along every bit."""
    return _butterfly(u, n, lambda lo, hi: (lo, hi - lo))


@partial(jax.jit, static_argnums=1)
def zeta_kernel(m, n):
    """Unchecked ``zeta`` of ``m`` ``(..., 2**n)``: f(S) += f(S without i) along every bit."""
    return _butterfly(m, n, lambda lo, hi: (lo, hi + lo))


@partial(jax.jit, static_argnums=1)
def superset_sum_kernel(f, n):
    """Unchecked superset sums F(T) = sum over S containing T of f(S), ``(..., 2**n)``."""
    return _butterfly(f, n, lambda lo, hi: (lo + hi, hi))


def moebius(u, *, check_values: bool = True) -> jax.Array:
    """AND (Harsanyi) interactions of a game: its Moebius transform.

    I(S) = sum over T subset of S of (-1)^(|S| - |T|) u(T), for every S at once, in
    O(n 2**n). See docs/math/interactions.md#and-interactions.

    Args:
      u: ``(..., 2**n)`` game values, subset axis last.
      check_values: scan ``u`` for NaN and infinite values first.

    Returns:
      ``(..., 2**n)`` AND interactions, dtype of ``u``.
    """
    u, n = check_game(u, "u", check_values=check_values)
    return moebius_kernel(u, n)


def zeta(i_and, *, check_values: bool = True) -> jax.Array:
    """The game rebuilt from its AND interactions: the inverse of ``moebius``.

    u(T) = sum over S subset of T of I(S).

    Args:
      i_and: ``(..., 2**n)`` AND interactions.
      check_values: scan ``i_and`` for NaN and infinite values first.

    Returns:
      ``(..., 2**n)`` game values, dtype of ``i_and``.
    """
    i_and, n = check_game(i_and, "i_and", check_values=check_values)
    return zeta_kernel(i_and, n)


@partial(jax.jit, static_argnums=1)
def or_kernel(w, n):
    """Unchecked ``or_interactions`` of ``w`` ``(..., 2**n)``."""
    m = -moebius_kernel(complement_values(w), n)
    return m.at[..., 0].set(w[..., 0])


def or_interactions(w, *, check_values: bool = True) -> jax.Array:
    """OR interactions of a game.

    I_or(S) = -sum over T subset of S of (-1)^(|S| - |T|) w(N \\ T) for nonempty S, and
    I_or(empty) = w(empty), so that w(T) = I_or(empty) + the sum of I_or(S) over the nonempty
    S that meet T. See docs/math/interactions.md#or-interactions.

    Args:
      w: ``(..., 2**n)`` game values.
      check_values: scan ``w`` for NaN and infinite values first.

    Returns:
      ``(..., 2**n)`` OR interactions, dtype of ``w``.
    """
    w, n = check_game(w, "w", check_values=check_values)
    return or_kernel(w, n)


@partial(jax.jit, static_argnums=1)
def or_inverse_kernel(i_or, n):
    """Unchecked ``or_inverse`` of ``i_or`` ``(..., 2**n)``."""
    # m'(S) = moebius of w(N \ .) : -I_or(S) for S nonempty, w(N) = sum of all I_or at S = empty.
    m = (-i_or).at[..., 0].set(jnp.sum(i_or, axis=-1))
    return complement_values(zeta_kernel(m, n))


def or_inverse(i_or, *, check_values: bool = True) -> jax.Array:
    """The game rebuilt from its OR interactions: the inverse of ``or_interactions``.

    Args:
      i_or: ``(..., 2**n)`` OR interactions.
      check_values: scan ``i_or`` for NaN and infinite values first.

    Returns:
      ``(..., 2**n)`` game values w(T), dtype of ``i_or``.
    """
    i_or, n = check_game(i_or, "i_or", check_values=check_values)
    return or_inverse_kernel(i_or, n)


# ---------------------------------------------------------------------------------------------
# values and interaction indices from Moebius coefficients


def _order_weights(n: int, weight, dtype) -> jax.Array:
    """(2**n,) array weight(|S|) as a constant of the given dtype."""
    table = np.array([weight(s) for s in range(n + 1)], dtype=np.float64)
    return jnp.asarray(table[orders_np(n)], dtype=dtype)


@partial(jax.jit, static_argnums=(1, 2))
def _player_sums(m, n, kind):
    """phi_i = sum_{S containing i} m(S) w(|S|): a (2**n, n) mask contraction."""
    if kind == "shapley":
        w = _order_weights(n, lambda s: 1.0 / s if s else 0.0, m.dtype)
    else:
        w = _order_weights(n, lambda s: 2.0 ** (1 - s) if s else 0.0, m.dtype)
    return jnp.einsum("...s,sn->...n", m * w, subset_masks(n, m.dtype), precision="highest")


def shapley_values(u, *, check_values: bool = True) -> jax.Array:
    """Shapley values of every player.

    phi_i = sum over S containing i of I(S) / |S|, with I the AND interactions of u; they sum
    to u(N) - u(empty). See docs/math/interactions.md#shapley-and-banzhaf-values.

    Args:
      u: ``(..., 2**n)`` game values.
      check_values: scan ``u`` for NaN and infinite values first.

    Returns:
      ``(..., n)`` values, dtype of ``u``.
    """
    u, n = check_game(u, "u", check_values=check_values)
    return _player_sums(moebius_kernel(u, n), n, "shapley")


def banzhaf_values(u, *, check_values: bool = True) -> jax.Array:
    """Banzhaf values of every player.

    beta_i = sum over S containing i of I(S) / 2^(|S| - 1), with I the AND interactions of u.

    Args:
      u: ``(..., 2**n)`` game values.
      check_values: scan ``u`` for NaN and infinite values first.

    Returns:
      ``(..., n)`` values, dtype of ``u``.
    """
    u, n = check_game(u, "u", check_values=check_values)
    return _player_sums(moebius_kernel(u, n), n, "banzhaf")


INDICES = ("SII", "k-SII", "BII", "STII", "Moebius")


def _index_weight(index: str, order: int):
    """w(s, t): weight of the Moebius coefficient of S (|S| = s) in the index of T (|T| = t)."""
    if index == "SII":
        return lambda s, t: 1.0 / (s - t + 1)
    if index == "BII":
        return lambda s, t: 0.5 ** (s - t)
    if index == "STII":
        return lambda s, t: (1.0 if s == t else 0.0) if t < order else 1.0 / comb(s, order)
    if index == "k-SII":
        # the empty set keeps u(empty) (shapiq's convention), so the values sum to u(N)
        bern = scipy.special.bernoulli(order)
        return lambda s, t: float(s == 0) if t == 0 else sum(
            bern[ell] * comb(s - t, ell) / (s - t - ell + 1)
            for ell in range(min(order - t, s - t) + 1)
        )
    if index == "Moebius":
        return lambda s, t: 1.0 if s == t else 0.0
    raise JaxinterInputError(f"index: expected one of {INDICES}, got {index!r}")


@partial(jax.jit, static_argnums=(1, 2, 3))
def _index_from_moebius(m, n, index, order):
    weight = _index_weight(index, order)
    size = orders_np(n)
    out = jnp.zeros_like(m)
    for t in range(order + 1):
        # one weighted superset sum per target order t: O(order * n 2**n) in total
        w = jnp.asarray([weight(s, t) if s >= t else 0.0 for s in range(n + 1)], m.dtype)
        out = jnp.where(jnp.asarray(size == t), superset_sum_kernel(m * w[size], n), out)
    return out


def interaction_index(u, index: str = "SII", order: int = 2, *, check_values: bool = True):
    """A Shapley-type interaction index of every subset of size at most ``order``.

    Each index is a weighted superset sum of the Moebius coefficients m,
    I(T) = sum over S containing T of w(|S|, |T|) m(S), computed with one butterfly per target
    order. See docs/math/interactions.md#interaction-indices for the weights.

    Args:
      u: ``(..., 2**n)`` game values.
      index: one of ``INDICES``: "SII" (Shapley interaction index), "k-SII"
        (Bernoulli-aggregated SII, efficient up to order k), "BII" (Banzhaf interaction),
        "STII" (Shapley-Taylor; below the top order it equals the Moebius coefficient) or
        "Moebius".
      order: largest subset size k, in ``1..n``.
      check_values: scan ``u`` for NaN and infinite values first.

    Returns:
      ``(..., 2**n)`` index values; entries of subsets larger than ``order`` are 0.
    """
    u, n = check_game(u, "u", check_values=check_values)
    _index_weight(index, 0)  # validates the name
    check_int(order, "order", 1, n)
    return _index_from_moebius(moebius_kernel(u, n), n, index, int(order))


# ---------------------------------------------------------------------------------------------
# diagnostics


def transform_diagnostics(u, i_and=None) -> dict:
    """How far float rounding has taken the AND interactions of ``u``, without float64.

    Args:
      u: ``(..., 2**n)`` game values.
      i_and: ``(..., 2**n)`` AND interactions to check (default: ``moebius(u)``).

    Returns:
      Dict of Python floats, maxima over the batch axes: ``reconstruction_residual``
      max |zeta(I)(T) - u(T)|, ``efficiency_gap`` |sum_S I(S) - u(N)|, and
      ``relative_residual``, ``relative_efficiency_gap``, the same divided by max |u|.
      See docs/precision.md.
    """
    u, n = check_game(u, "u")
    i_and = moebius_kernel(u, n) if i_and is None else check_game(i_and, "i_and")[0]
    if i_and.shape != u.shape:
        raise JaxinterInputError(f"i_and: expected shape {u.shape}, got {i_and.shape}")
    scale = float(jnp.max(jnp.abs(u))) or 1.0
    residual = float(jnp.max(jnp.abs(zeta_kernel(i_and, n) - u)))
    efficiency = float(jnp.max(jnp.abs(jnp.sum(i_and, axis=-1) - u[..., -1])))
    return {
        "reconstruction_residual": residual,
        "efficiency_gap": efficiency,
        "relative_residual": residual / scale,
        "relative_efficiency_gap": efficiency / scale,
    }
