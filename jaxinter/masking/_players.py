"""Players (groups of input variables) and baselines.

A player is a set of flat input variables (indices into ``x.reshape(-1)`` of one sample). The
masked input ``x_T`` keeps the variables of the players in T, sets the variables of every other
player to the baseline, and keeps variables that belong to no player at their input values
(docs/math/interactions.md#games-from-masked-inputs).

``Players`` stores an index map ``assignment`` of shape ``(input_size,)`` (shared players) or
``(samples, input_size)`` (per-sample players): the player id of each variable, -1 for none.
Masks are expanded on device from subset indices with ``jaxinter.interactions.masks_of``, so
``(chunk, input_size)`` masks never leave the device and no ``(2**n, input_size)`` table is
built.

Player kinds: tabular features (``Players.features``, or groups via ``Players.from_groups``),
image patches (``Players.patches``, with ``salient_patch_ids`` to pick the most salient
foreground patches of each sample), and token or embedding positions (``Players.tokens``,
masking a token replaces its whole embedding).

Baselines have shape ``input_shape`` (shared) or ``(samples, *input_shape)``: zero
(``zero_baseline``), dataset mean (``mean_baseline``), shift toward zero (``shift_baseline``),
a baseline embedding per token (``token_baseline``), or any user array of the right shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..errors import (
    MAX_PLAYERS,
    JaxinterInputError,
    check_finite,
    check_floating,
    check_int,
    check_int_list,
    check_real_array,
    check_real_dtype,
)
from ..interactions._subsets import masks_of


def _check_nonempty(items, name: str, what: str) -> None:
    """Raise unless ``items`` is a non-empty list/tuple/array (not a string)."""
    listlike = isinstance(items, Sequence | np.ndarray) and not isinstance(items, str | bytes)
    if not listlike or not len(items):
        raise JaxinterInputError(f"{name}: expected {what}, got {items!r}")


def _check_assignment(assignment: np.ndarray, n: int, name: str) -> None:
    """Every player 0..n-1 must own at least one variable (in every sample)."""
    if not 1 <= n <= MAX_PLAYERS:
        raise JaxinterInputError(
            f"{name}: n = {n} players is outside the supported range 1..{MAX_PLAYERS}"
        )
    rows = assignment.reshape(-1, assignment.shape[-1])
    for s, row in enumerate(rows):
        counts = np.bincount(row[row >= 0], minlength=n)
        if (counts == 0).any():
            where = f" of sample {s}" if assignment.ndim == 2 else ""
            raise JaxinterInputError(
                f"{name}: player {int(np.argmin(counts))}{where} owns no input variable"
            )


@struct.dataclass
class Players:
    """Players as an index map over flat input variables (a pytree; ``n`` and shape static).

    Build them with the constructors ``from_groups``, ``features``, ``patches``, ``tokens`` or
    ``stack`` rather than directly; every constructor checks that the players are non-empty
    and disjoint.

    Attributes:
      assignment: ``(input_size,)`` or ``(samples, input_size)`` int32, the player of each flat
        input variable (row-major over ``input_shape``), -1 for variables of no player.
      n: number of players (static).
      input_shape: shape of one sample (static).
    """

    assignment: jax.Array
    n: int = struct.field(pytree_node=False)
    input_shape: tuple[int, ...] = struct.field(pytree_node=False)

    # --- constructors ------------------------------------------------------------------------

    @classmethod
    def from_groups(cls, groups: Sequence[Sequence[int]], input_shape) -> Players:
        """Players from groups of flat input indices.

        Args:
          groups: ``groups[i]`` lists the flat indices (into ``x.reshape(-1)`` of one sample)
            of player i; groups must be non-empty and disjoint.
          input_shape: shape of one sample.

        Returns:
          Shared ``Players`` with ``n = len(groups)``.
        """
        shape = check_int_list(input_shape, "input_shape", 1)
        size = prod(shape)
        _check_nonempty(groups, "groups", "a non-empty list of lists of flat indices")
        assignment = np.full(size, -1, dtype=np.int32)
        for i, group in enumerate(groups):
            idx = np.asarray(group)
            if idx.ndim != 1 or idx.size == 0:
                raise JaxinterInputError(
                    f"groups: player {i} must be a non-empty list of flat indices, got {group!r}"
                )
            if not np.issubdtype(idx.dtype, np.integer):
                raise JaxinterInputError(
                    f"groups: player {i} has non-integer indices (dtype {idx.dtype})"
                )
            bad = idx[(idx < 0) | (idx >= size)]
            if bad.size:
                raise JaxinterInputError(
                    f"groups: player {i} has index {int(bad[0])} outside 0..{size - 1} "
                    f"(input_shape {shape})"
                )
            uniq, counts = np.unique(idx, return_counts=True)
            if (counts > 1).any():
                raise JaxinterInputError(
                    f"groups: player {i} lists flat index {int(uniq[counts > 1][0])} twice"
                )
            taken = idx[assignment[idx] >= 0]
            if taken.size:
                raise JaxinterInputError(
                    f"groups: players {int(assignment[taken[0]])} and {i} overlap at flat index "
                    f"{int(taken[0])}; players must be disjoint"
                )
            assignment[idx] = i
        _check_assignment(assignment, len(groups), "groups")
        return cls(jnp.asarray(assignment), len(groups), shape)

    @classmethod
    def features(cls, input_shape, features: Sequence[int] | None = None) -> Players:
        """One player per flat input variable, e.g. the features of tabular data.

        Args:
          input_shape: shape of one sample.
          features: flat indices of the variables that are players (default: all, in order);
            the others are always kept.

        Returns:
          Shared ``Players``.
        """
        size = prod(check_int_list(input_shape, "input_shape", 1))
        features = range(size) if features is None else check_int_list(
            features, "features", 0, size - 1, distinct=True)
        return cls.from_groups([[f] for f in features], input_shape)

    @classmethod
    def tokens(cls, input_shape, positions: Sequence[int | Sequence[int]]) -> Players:
        """Token players for inputs of shape ``(tokens, *embedding_shape)``.

        Args:
          input_shape: ``(tokens, *embedding_shape)``.
          positions: ``positions[i]`` is a token position (or a list of positions) whose whole
            embedding forms player i; masking replaces those embeddings by the baseline's.

        Returns:
          Shared ``Players`` with ``n = len(positions)``.
        """
        shape = check_int_list(input_shape, "input_shape", 1)
        if len(shape) < 2:
            raise JaxinterInputError(
                f"input_shape: token players need (tokens, embedding...), got {shape}"
            )
        width = prod(shape[1:])
        _check_nonempty(positions, "positions", "a non-empty list of token positions")
        groups, owner = [], {}
        for i, pos in enumerate(positions):
            pos = np.atleast_1d(np.asarray(pos))
            if not np.issubdtype(pos.dtype, np.integer) or pos.ndim != 1:
                raise JaxinterInputError(f"positions: entry {i} must be ints, got {pos!r}")
            bad = pos[(pos < 0) | (pos >= shape[0])]
            if bad.size:
                raise JaxinterInputError(
                    f"positions: token {int(bad[0])} of player {i} outside 0..{shape[0] - 1}"
                )
            for p in pos.tolist():
                if p in owner:
                    raise JaxinterInputError(
                        f"positions: token {p} belongs to players {owner[p]} and {i}; "
                        "players must be disjoint"
                    )
                owner[p] = i
            groups.append((pos[:, None] * width + np.arange(width)).reshape(-1))
        return cls.from_groups(groups, shape)

    @classmethod
    def patches(cls, input_shape, patch_size, patch_ids) -> Players:
        """Image patch players on a grid of ``ph x pw`` cells.

        The grid has ``H // ph`` rows and ``W // pw`` columns of patches (all channels); cells
        are numbered row-major. Border pixels outside the grid (e.g. the last row and column of
        a 28x28 image with 3x3 patches) belong to no player.

        Args:
          input_shape: ``(H, W)`` or ``(H, W, channels...)``.
          patch_size: int or ``(ph, pw)``.
          patch_ids: ``(n,)`` cell ids shared by all samples, or ``(samples, n)`` for
            per-sample players (e.g. from ``salient_patch_ids``); player i is the cell
            ``patch_ids[..., i]``.

        Returns:
          Shared or per-sample ``Players``.
        """
        shape = check_int_list(input_shape, "input_shape", 1)
        cell, (rows, cols) = _patch_cells(shape, patch_size)
        ids = np.asarray(patch_ids)
        if ids.ndim not in (1, 2) or ids.shape[-1] == 0:
            raise JaxinterInputError(
                f"patch_ids: expected (n,) or (samples, n) cell ids, got shape {ids.shape}"
            )
        if not np.issubdtype(ids.dtype, np.integer):
            raise JaxinterInputError(f"patch_ids: expected integers, got dtype {ids.dtype}")
        if ids.min() < 0 or ids.max() >= rows * cols:
            raise JaxinterInputError(
                f"patch_ids: cell ids must lie in 0..{rows * cols - 1} "
                f"(a {rows}x{cols} grid), got {int(ids.min())}..{int(ids.max())}"
            )
        ids2 = ids.reshape(-1, ids.shape[-1])
        if any(np.unique(row).size != row.size for row in ids2):
            raise JaxinterInputError("patch_ids: a patch is listed twice (players overlap)")
        n = ids.shape[-1]
        player_of_cell = np.full((ids2.shape[0], rows * cols + 1), -1, dtype=np.int32)
        np.put_along_axis(player_of_cell, ids2, np.arange(n, dtype=np.int32)[None], axis=1)
        assignment = player_of_cell[:, cell]  # cell -1 -> last column, which is -1
        assignment = assignment[0] if ids.ndim == 1 else assignment
        _check_assignment(assignment, n, "patch_ids")
        return cls(jnp.asarray(assignment), n, shape)

    @classmethod
    def stack(cls, players: Sequence[Players]) -> Players:
        """Per-sample players from one shared ``Players`` per sample.

        Args:
          players: shared ``Players``, one per sample, all with the same n and input shape.

        Returns:
          Per-sample ``Players`` (assignment ``(samples, input_size)``).
        """
        if not players:
            raise JaxinterInputError("players: expected a non-empty list of Players")
        first = players[0]
        for i, p in enumerate(players):
            if p.n != first.n or p.input_shape != first.input_shape or p.per_sample:
                raise JaxinterInputError(
                    f"players: entry {i} has n={p.n}, input_shape={p.input_shape}"
                    f"{' (per-sample)' if p.per_sample else ''}; expected shared players with "
                    f"n={first.n}, input_shape={first.input_shape}"
                )
        return cls(jnp.stack([p.assignment for p in players]), first.n, first.input_shape)

    # --- queries -----------------------------------------------------------------------------

    @property
    def input_size(self) -> int:
        """Number of variables of one sample (product of ``input_shape``)."""
        return prod(self.input_shape)

    @property
    def per_sample(self) -> bool:
        """True when each sample has its own players (assignment of shape (samples, size))."""
        return self.assignment.ndim == 2

    def membership(self) -> jax.Array:
        """Dense membership masks.

        Returns:
          ``(n, input_size)`` bool, or ``(samples, n, input_size)`` for per-sample players;
          entry ``[i, j]`` says whether variable j belongs to player i.
        """
        return self.assignment[..., None, :] == jnp.arange(self.n, dtype=jnp.int32)[:, None]

    def keep_mask(self, subsets: jax.Array, sample: jax.Array | None = None) -> jax.Array:
        """Which input variables each subset keeps.

        Args:
          subsets: ``(...)`` integer subset indices.
          sample: ``(...)`` sample index of each row (required for per-sample players).

        Returns:
          ``(..., input_size)`` bool, True where the input value is kept (players in the subset
          and variables of no player).
        """
        assignment = self.assignment
        if self.per_sample:
            if sample is None:
                raise JaxinterInputError("sample: required for per-sample players")
            assignment = assignment[sample]
        bits = masks_of(subsets, self.n)  # (..., n)
        idx = jnp.maximum(assignment, 0)
        if idx.ndim == 1:
            kept = jnp.take(bits, idx, axis=-1)
        else:
            kept = jnp.take_along_axis(bits, idx, axis=-1)
        return kept | (assignment < 0)

    def apply(self, x, baseline, subsets, sample=None) -> jax.Array:
        """The masked inputs ``x_T``.

        Args:
          x: ``(..., *input_shape)`` inputs, one per subset index.
          baseline: ``(..., *input_shape)`` (or broadcastable) baseline values.
          subsets: ``(...)`` integer subset indices T.
          sample: ``(...)`` sample index of each row (required for per-sample players).

        Returns:
          ``(..., *input_shape)``: x where kept, the baseline elsewhere.
        """
        lead = subsets.shape
        keep = self.keep_mask(subsets, sample).reshape(lead + self.input_shape)
        return jnp.where(keep, x, baseline)


# --- patches -------------------------------------------------------------------------------


def _patch_cells(shape: tuple[int, ...], patch_size) -> tuple[np.ndarray, tuple[int, int]]:
    """Flat (input_size,) grid-cell id of every variable (-1 outside the grid) and (rows, cols)."""
    if len(shape) < 2:
        raise JaxinterInputError(f"input_shape: patches need (H, W, ...), got {shape}")
    size = np.asarray(patch_size)
    size = np.repeat(size, 2) if size.ndim == 0 else size
    if size.shape != (2,) or not np.issubdtype(size.dtype, np.integer):
        raise JaxinterInputError(
            f"patch_size: expected an int or a pair of ints (height, width), got {patch_size!r}"
        )
    ph, pw = int(size[0]), int(size[1])
    if ph < 1 or pw < 1 or ph > shape[0] or pw > shape[1]:
        raise JaxinterInputError(
            f"patch_size: expected 1..{shape[0]} x 1..{shape[1]}, got {patch_size!r}"
        )
    rows, cols = shape[0] // ph, shape[1] // pw
    r = np.arange(shape[0]) // ph
    c = np.arange(shape[1]) // pw
    cell = np.where((r[:, None] < rows) & (c[None, :] < cols), r[:, None] * cols + c[None], -1)
    cell = np.broadcast_to(cell.reshape(cell.shape + (1,) * (len(shape) - 2)), shape)
    return cell.reshape(-1), (rows, cols)


def patch_scores(x, patch_size, baseline=None, rule: str = "deviation") -> np.ndarray:
    """Saliency of every grid cell of each sample.

    Args:
      x: ``(samples, H, W, ...)`` images.
      patch_size: int or ``(ph, pw)``, as in ``Players.patches``.
      baseline: ``input_shape`` or ``(samples, *input_shape)`` (default 0).
      rule: "deviation", the mean |x - baseline| over the cell (how much foreground the cell
        holds relative to what masking puts there), or "variance", the variance of the cell's
        values (texture, independent of the baseline).

    Returns:
      ``(samples, cells)`` float64 numpy scores, cells numbered row-major.
    """
    check_real_dtype(x, "x")
    x = np.asarray(x, dtype=np.float64)
    check_finite(x, "x")
    if x.ndim < 3 or not x.size:
        raise JaxinterInputError(f"x: expected (samples, H, W, ...), got shape {x.shape}")
    cell, (rows, cols) = _patch_cells(x.shape[1:], patch_size)
    flat = x.reshape(len(x), -1)
    # (input_size, cells): column k averages over cell k
    average = (cell[:, None] == np.arange(rows * cols)) / np.bincount(cell[cell >= 0])
    if rule == "variance":
        return (flat**2) @ average - (flat @ average) ** 2
    if rule != "deviation":
        raise JaxinterInputError(f"rule: expected 'deviation' or 'variance', got {rule!r}")
    if baseline is not None:
        check_baseline(baseline, x.shape[1:], len(x))
        flat = flat - np.asarray(baseline, dtype=np.float64).reshape(-1, flat.shape[1])
    return np.abs(flat) @ average


def salient_patch_ids(x, patch_size, n: int, baseline=None, rule: str = "deviation") -> np.ndarray:
    """The n most salient grid cells of each sample, for per-sample patch players.

    Cells are ranked by ``patch_scores`` (ties go to the lower cell id); pass the result to
    ``Players.patches``.

    Args:
      x: ``(samples, H, W, ...)`` images.
      patch_size: int or ``(ph, pw)``.
      n: number of cells (players) per sample.
      baseline: as in ``patch_scores``.
      rule: as in ``patch_scores``.

    Returns:
      ``(samples, n)`` int32 cell ids in ascending order.
    """
    scores = patch_scores(x, patch_size, baseline, rule)
    check_int(n, "n", 1, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    return np.sort(top, axis=1).astype(np.int32)


# --- baselines -----------------------------------------------------------------------------


def zero_baseline(input_shape, dtype=jnp.float32) -> jax.Array:
    """The all-zero baseline.

    Args:
      input_shape: shape of one sample.
      dtype: dtype of the baseline.

    Returns:
      Zeros of shape ``input_shape``.
    """
    return jnp.zeros(check_int_list(input_shape, "input_shape", 1), dtype)


def mean_baseline(data) -> jax.Array:
    """The dataset mean as a baseline.

    Args:
      data: ``(num, *input_shape)`` samples.

    Returns:
      ``input_shape`` mean over the samples.
    """
    data = check_floating(data, "data")
    if data.ndim < 2 or data.shape[0] == 0:
        raise JaxinterInputError(f"data: expected (num, *input_shape), got shape {data.shape}")
    check_finite(data, "data")
    return data.mean(axis=0)


def shift_baseline(x, delta) -> jax.Array:
    """A baseline that moves each value toward 0 by at most ``delta``.

    Values within ``delta`` of 0 become 0.

    Args:
      x: ``(..., *input_shape)`` inputs.
      delta: non-negative scalar or array broadcastable to x.

    Returns:
      Array of the shape of x.
    """
    x = check_floating(x, "x")
    check_finite(x, "x")
    check_real_array(delta, "delta")
    delta = jnp.asarray(delta, x.dtype)
    check_finite(delta, "delta")
    if bool(jnp.any(delta < 0)):
        raise JaxinterInputError("delta: expected non-negative values")
    return x - jnp.clip(x, -delta, delta)


def token_baseline(embedding, num_tokens: int) -> jax.Array:
    """The same baseline embedding at every token, for token players.

    Args:
      embedding: ``embedding_shape`` baseline of one token.
      num_tokens: number of tokens.

    Returns:
      ``(num_tokens, *embedding_shape)``.
    """
    embedding = check_floating(embedding, "embedding")
    if not embedding.size:
        raise JaxinterInputError(f"embedding: expected a non-empty array, got {embedding.shape}")
    check_finite(embedding, "embedding")
    check_int(num_tokens, "num_tokens", 1)
    return jnp.broadcast_to(embedding, (int(num_tokens),) + embedding.shape)


def check_samples(x, players, *, check_values: bool = True) -> jax.Array:
    """Validate inputs ``x`` for ``players``: shape ``(samples, *players.input_shape)``.

    Args:
      x: inputs, one sample per row.
      players: a ``Players`` (per-sample players need one row per sample).
      check_values: also refuse NaN and infinite values.

    Returns:
      ``x`` as a floating jax array.

    Raises:
      JaxinterInputError: naming ``players`` or ``x``.
    """
    if not isinstance(players, Players):
        raise JaxinterInputError(f"players: expected a jaxinter.Players, got {type(players)}")
    x = check_floating(x, "x")
    shape = players.input_shape
    if x.ndim != len(shape) + 1 or x.shape[1:] != shape or not x.shape[0]:
        raise JaxinterInputError(
            f"x: expected shape (samples, *{shape}) to match the players, got {x.shape}")
    if players.per_sample and players.assignment.shape[0] != x.shape[0]:
        raise JaxinterInputError(f"players: per-sample players for "
                                 f"{players.assignment.shape[0]} samples, but x has {x.shape[0]}")
    if check_values:
        check_finite(x, "x")
    return x


def check_baseline(baseline, input_shape, num_samples: int) -> jax.Array:
    """Validate a baseline of shape ``input_shape`` or ``(num_samples, *input_shape)``.

    Args:
      baseline: shared or per-sample baseline.
      input_shape: shape of one sample.
      num_samples: number of samples.

    Returns:
      The baseline as a floating jax array of one of those two shapes.

    Raises:
      JaxinterInputError: on a wrong shape, a non-floating dtype or non-finite values.
    """
    baseline = check_floating(baseline, "baseline")
    shape = tuple(input_shape)
    if baseline.shape not in (shape, (num_samples,) + shape):
        raise JaxinterInputError(
            f"baseline: expected shape {shape} or {(num_samples,) + shape}, got {baseline.shape}"
        )
    check_finite(baseline, "baseline")
    return baseline
