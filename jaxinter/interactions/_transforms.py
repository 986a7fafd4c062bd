"""Exact subset transforms in O(n 2**n): Moebius/zeta, OR interactions, Shapley-type indices.

All functions take arrays of shape ``(..., 2**n)`` with the subset axis last (bit i = player
i), keep the input dtype, work on any number of leading batch axes, and are jitted. Each
transform is a butterfly: for each player i, every subset S containing i is updated from S
without i. Nothing here builds a dense ``2**n x 2**n`` matrix or loops over ``3**n`` pairs.
The definitions are in docs/math/interactions.md.

Every transform takes ``mesh=`` (a ``jax.sharding.Mesh``): ``shard="batch"`` splits the first
batch axis over the devices, ``shard="subsets"`` splits the subset axis of large games in
blocks (the butterfly runs on the layouts of ``._layouts``); results equal the single-device
ones bitwise (sums over subsets to rounding) and stay split. ``donate=True`` lets the result
reuse the input's memory (the input is deleted). See docs/distributed.md.

Inputs are validated before tracing (power-of-two axis, supported n, floating dtype, finite
values). Pass ``check_values=False`` to skip the NaN/inf scan when calling on huge arrays whose
values are known to be finite; shape and dtype checks always run. The ``*_kernel`` functions
are the unchecked jitted butterflies, for callers that have validated their input.
"""

from __future__ import annotations

from functools import cache, partial
from math import comb

import jax
import jax.numpy as jnp
import scipy.special
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ..distributed import pad_to_multiple, shard_rows, split_axis
from ..errors import (
    JaxinterInputError,
    check_bool,
    check_choice,
    check_game,
    check_int,
    device_scalars,
)
from ._layouts import SplitAxis, WholeAxis

# ---------------------------------------------------------------------------------------------
# the transforms, written once against a layout of the subset axis (whole or split)


def _moebius(f, layout):
    return layout.butterfly(f, lambda lo, hi: (lo, hi - lo))


def _zeta(f, layout):
    return layout.butterfly(f, lambda lo, hi: (lo, hi + lo))


def _superset_sums(f, layout):
    return layout.butterfly(f, lambda lo, hi: (lo + hi, hi))


def _or(w, layout):
    m = -_moebius(layout.complement(w), layout)
    return jnp.where(layout.is_empty_set(), w, m)


def _or_inverse(i_or, layout):
    # m'(S) = moebius of w(N \ .) : -I_or(S) for S nonempty, w(N) = sum of all I_or at S = empty.
    total = layout.total(jnp.sum(i_or, axis=-1))[..., None]
    return layout.complement(_zeta(jnp.where(layout.is_empty_set(), total, -i_or), layout))


@partial(jax.jit, static_argnums=1)
def moebius_kernel(u, n):
    """Unchecked ``moebius`` of ``u`` ``(..., 2**n)``: f(S) -= f(S without i) along every bit."""
    return _moebius(u, WholeAxis(n))


@partial(jax.jit, static_argnums=1)
def zeta_kernel(m, n):
    """Unchecked ``zeta`` of ``m`` ``(..., 2**n)``: f(S) += f(S without i) along every bit."""
    return _zeta(m, WholeAxis(n))


@partial(jax.jit, static_argnums=1)
def superset_sum_kernel(f, n):
    """Unchecked superset sums F(T) = sum over S containing T of f(S), ``(..., 2**n)``."""
    return _superset_sums(f, WholeAxis(n))


@partial(jax.jit, static_argnums=1)
def or_kernel(w, n):
    """Unchecked ``or_interactions`` of ``w`` ``(..., 2**n)``."""
    return _or(w, WholeAxis(n))


@partial(jax.jit, static_argnums=1)
def or_inverse_kernel(i_or, n):
    """Unchecked ``or_inverse`` of ``i_or`` ``(..., 2**n)``."""
    return _or_inverse(i_or, WholeAxis(n))


# ---------------------------------------------------------------------------------------------
# the public transforms: one device, or on a mesh the batch split or the subset axis split

SHARDS = ("batch", "subsets")


@cache
def _program(fn, n, donate, options, mesh=None, axis=None, shard=None, ndim=None,
             per_subset=True):
    """jit(fn) on one device, or jit(shard_map(fn)) for the layout of ``shard`` on ``mesh``;
    the argument donated if asked. Cached per static configuration."""
    donate_argnums = (0,) if donate else ()
    if mesh is None:
        return jax.jit(partial(fn, layout=WholeAxis(n), **dict(options)),
                       donate_argnums=donate_argnums)
    if shard == "batch":
        layout, spec = WholeAxis(n), P(axis)
        out = spec
    else:
        layout, spec = SplitAxis(n, axis, mesh.shape[axis]), P(*[None] * (ndim - 1), axis)
        out = spec if per_subset else P()
    body = partial(fn, layout=layout, **dict(options))
    return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=spec, out_specs=out),
                   donate_argnums=donate_argnums)


def _transform(fn, f, n, mesh, mesh_axis, shard, donate=False, *, per_subset=True,
               **options):
    """``fn(f, layout, **options)`` on one device or over a mesh: the first batch axis split
    (padded to a multiple of the device count, dropped after) or, with ``shard="subsets"``,
    the subset axis split in blocks of ``2**n / D`` (D a power of two with D**2 <= 2**n)."""
    check_bool(donate, "donate")
    check_choice(shard, "shard", SHARDS)
    options = tuple(sorted(options.items()))
    if mesh is None:
        return _program(fn, n, donate, options)(f)
    axis, devices = split_axis(mesh, mesh_axis)
    size = None
    if shard == "batch":
        if f.ndim < 2:
            raise JaxinterInputError(
                f"shard: expected a batch axis to split with shard='batch', got shape {f.shape}; "
                "use shard='subsets' to split one game")
        f, size = pad_to_multiple(f, devices)
        f = shard_rows(f, mesh, axis)
    else:
        if devices & (devices - 1) or devices**2 > 2**n:
            raise JaxinterInputError(
                f"shard: 'subsets' needs a power-of-two device count D with D**2 <= 2**n; got "
                f"D = {devices}, n = {n}")
        f = shard_rows(f, mesh, axis, dim=-1)
    out = _program(fn, n, donate, options, mesh, axis, shard, f.ndim, per_subset)(f)
    return out if size in (None, out.shape[0]) else out[:size]


def moebius(u, *, check_values: bool = True, mesh: Mesh | None = None,
            mesh_axis: str | None = None, shard: str = "batch",
            donate: bool = False) -> jax.Array:
    """AND (Harsanyi) interactions of a game: its Moebius transform.

    I(S) = sum over T subset of S of (-1)^(|S| - |T|) u(T), for every S at once, in
    O(n 2**n). See docs/math/interactions.md#and-interactions.

    Args:
      u: ``(..., 2**n)`` game values, subset axis last.
      check_values: scan ``u`` for NaN and infinite values first.
      mesh: a ``jax.sharding.Mesh`` to split the work over (docs/distributed.md).
      mesh_axis: the mesh axis to split over (None: the mesh's only axis).
      shard: with ``mesh``, "batch" splits the first batch axis; "subsets" splits the subset
        axis itself in blocks (one large game over several devices; a power-of-two device
        count D with D**2 <= 2**n). Results equal the single-device ones bitwise and stay
        split the same way (a batch that is not a multiple of the device count is padded,
        and the result, its padding dropped, comes back whole on every device).
      donate: let the result reuse the memory of ``u`` when ``u`` is a jax array (it is
        deleted): one game's worth of memory less, the path to one block per device with
        ``shard="subsets"`` (docs/distributed.md#memory-of-the-subset-split-transforms).

    Returns:
      ``(..., 2**n)`` AND interactions, dtype of ``u``.
    """
    u, n = check_game(u, "u", check_values=check_values)
    return _transform(_moebius, u, n, mesh, mesh_axis, shard, donate)


def zeta(i_and, *, check_values: bool = True, mesh: Mesh | None = None,
         mesh_axis: str | None = None, shard: str = "batch", donate: bool = False) -> jax.Array:
    """The game rebuilt from its AND interactions: the inverse of ``moebius``.

    u(T) = sum over S subset of T of I(S).

    Args:
      i_and: ``(..., 2**n)`` AND interactions.
      check_values: scan ``i_and`` for NaN and infinite values first.
      mesh, mesh_axis, shard, donate: as in ``moebius``.

    Returns:
      ``(..., 2**n)`` game values, dtype of ``i_and``.
    """
    i_and, n = check_game(i_and, "i_and", check_values=check_values)
    return _transform(_zeta, i_and, n, mesh, mesh_axis, shard, donate)


def or_interactions(w, *, check_values: bool = True, mesh: Mesh | None = None,
                    mesh_axis: str | None = None, shard: str = "batch",
                    donate: bool = False) -> jax.Array:
    """OR interactions of a game.

    I_or(S) = -sum over T subset of S of (-1)^(|S| - |T|) w(N \\ T) for nonempty S, and
    I_or(empty) = w(empty), so that w(T) = I_or(empty) + the sum of I_or(S) over the nonempty
    S that meet T. See docs/math/interactions.md#or-interactions.

    Args:
      w: ``(..., 2**n)`` game values.
      check_values: scan ``w`` for NaN and infinite values first.
      mesh, mesh_axis, shard, donate: as in ``moebius``.

    Returns:
      ``(..., 2**n)`` OR interactions, dtype of ``w``.
    """
    w, n = check_game(w, "w", check_values=check_values)
    return _transform(_or, w, n, mesh, mesh_axis, shard, donate)


def or_inverse(i_or, *, check_values: bool = True, mesh: Mesh | None = None,
               mesh_axis: str | None = None, shard: str = "batch",
               donate: bool = False) -> jax.Array:
    """The game rebuilt from its OR interactions: the inverse of ``or_interactions``.

    Args:
      i_or: ``(..., 2**n)`` OR interactions.
      check_values: scan ``i_or`` for NaN and infinite values first.
      mesh, mesh_axis, shard, donate: as in ``moebius``; with ``shard="subsets"`` the sum of
        all interactions, w(N), adds the blocks' sums (``psum``), so the game equals the
        single-device one to rounding.

    Returns:
      ``(..., 2**n)`` game values w(T), dtype of ``i_or``.
    """
    i_or, n = check_game(i_or, "i_or", check_values=check_values)
    return _transform(_or_inverse, i_or, n, mesh, mesh_axis, shard, donate)


# ---------------------------------------------------------------------------------------------
# values and interaction indices from Moebius coefficients

_PLAYER_WEIGHTS = {
    "shapley": lambda s: 1.0 / s if s else 0.0,
    "banzhaf": lambda s: 2.0 ** (1 - s) if s else 0.0,
}


def _player_values(u, layout, kind):
    """phi_i = sum_{S containing i} m(S) w(|S|), m = moebius(u): a (2**n, n) mask contraction
    (per block, then summed over the blocks)."""
    m = _moebius(u, layout)
    w = layout.per_subset([_PLAYER_WEIGHTS[kind](s) for s in range(layout.n + 1)], m.dtype)
    return layout.total(jnp.einsum("...s,sn->...n", m * w, layout.masks(m.dtype),
                                   precision="highest"))


def _values(u, kind, check_values, mesh, mesh_axis, shard):
    u, n = check_game(u, "u", check_values=check_values)
    return _transform(_player_values, u, n, mesh, mesh_axis, shard, per_subset=False,
                      kind=kind)


def shapley_values(u, *, check_values: bool = True, mesh: Mesh | None = None,
                   mesh_axis: str | None = None, shard: str = "batch") -> jax.Array:
    """Shapley values of every player.

    phi_i = sum over S containing i of I(S) / |S|, with I the AND interactions of u; they sum
    to u(N) - u(empty). See docs/math/interactions.md#shapley-and-banzhaf-values.

    Args:
      u: ``(..., 2**n)`` game values.
      check_values: scan ``u`` for NaN and infinite values first.
      mesh, mesh_axis, shard: split the work over a mesh, as in ``moebius``; with
        ``shard="subsets"`` each device sums its block and the blocks are added (``psum``),
        so the values equal the single-device ones to rounding and are replicated.

    Returns:
      ``(..., n)`` values, dtype of ``u``.
    """
    return _values(u, "shapley", check_values, mesh, mesh_axis, shard)


def banzhaf_values(u, *, check_values: bool = True, mesh: Mesh | None = None,
                   mesh_axis: str | None = None, shard: str = "batch") -> jax.Array:
    """Banzhaf values of every player.

    beta_i = sum over S containing i of I(S) / 2^(|S| - 1), with I the AND interactions of u.

    Args:
      u: ``(..., 2**n)`` game values.
      check_values: scan ``u`` for NaN and infinite values first.
      mesh, mesh_axis, shard: as in ``shapley_values``.

    Returns:
      ``(..., n)`` values, dtype of ``u``.
    """
    return _values(u, "banzhaf", check_values, mesh, mesh_axis, shard)


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


def _index(u, layout, index, order):
    """The index of every subset of size <= order: one weighted superset sum per order t."""
    weight = _index_weight(index, order)
    m = _moebius(u, layout)
    size = layout.orders()
    out = jnp.zeros_like(m)
    for t in range(order + 1):
        # one weighted superset sum per target order t: O(order * n 2**n) in total
        w = layout.per_subset([weight(s, t) if s >= t else 0.0 for s in range(layout.n + 1)],
                              m.dtype)
        out = jnp.where(size == t, _superset_sums(m * w, layout), out)
    return out


def interaction_index(u, index: str = "SII", order: int = 2, *, check_values: bool = True,
                      mesh: Mesh | None = None, mesh_axis: str | None = None,
                      shard: str = "batch", donate: bool = False):
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
      mesh, mesh_axis, shard, donate: as in ``moebius``.

    Returns:
      ``(..., 2**n)`` index values; entries of subsets larger than ``order`` are 0.
    """
    u, n = check_game(u, "u", check_values=check_values)
    _index_weight(index, 0)  # validates the name
    check_int(order, "order", 1, n)
    return _transform(_index, u, n, mesh, mesh_axis, shard, donate, index=index,
                      order=int(order))


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
      See docs/precision.md. Computed where ``u`` lives (sharded arrays stay on their devices;
      only the three maxima reach the host).
    """
    u, n = check_game(u, "u")
    i_and = moebius_kernel(u, n) if i_and is None else check_game(i_and, "i_and")[0]
    if i_and.shape != u.shape:
        raise JaxinterInputError(f"i_and: expected shape {u.shape}, got {i_and.shape}")
    scale, residual, efficiency = (float(x) for x in device_scalars(_diagnostics(n), u, i_and))
    scale = scale or 1.0
    return {
        "reconstruction_residual": residual,
        "efficiency_gap": efficiency,
        "relative_residual": residual / scale,
        "relative_efficiency_gap": efficiency / scale,
    }


@cache
def _diagnostics(n):
    """(u, i_and) -> (max |u|, reconstruction residual, efficiency gap); one function per n, so
    repeated calls reuse the compiled reduction."""

    def scalars(u, i_and):
        residual = jnp.max(jnp.abs(zeta_kernel(i_and, n) - u))
        gap = jnp.max(jnp.abs(jnp.sum(i_and, axis=-1) - u[..., -1]))
        return jnp.max(jnp.abs(u)), residual, gap

    return scalars
