"""Input validation shared by every module: clear exceptions raised before tracing.

Every check names the argument and what was expected. Value checks (NaN/inf) run only on
concrete arrays; under ``jit`` the caller's wrapper has already run them outside the trace.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

MAX_PLAYERS = 30  # 2**30 float32 values are 4 GiB per game: the largest n we accept.


class JaxinterInputError(ValueError):
    """Bad input to a jaxinter function; the message names the argument."""


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def n_players_from_size(size: int, name: str, max_players: int = MAX_PLAYERS) -> int:
    """n such that ``size == 2**n``; raises if size is not a power of two or n is out of range."""
    if size < 1 or size & (size - 1):
        raise JaxinterInputError(
            f"{name}: the last (subset) axis must have length 2**n, got {size}"
        )
    n = size.bit_length() - 1
    if not 1 <= n <= max_players:
        raise JaxinterInputError(
            f"{name}: n = {n} players is outside the supported range 1..{max_players}"
        )
    return n


def check_floating(x, name: str):
    """Return ``x`` as a jax array; raise unless it has a real floating dtype."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise JaxinterInputError(
            f"{name}: expected a real floating-point array, got dtype {x.dtype}"
        )
    return x


def check_finite(x, name: str) -> None:
    """Raise if a concrete array holds NaN or infinite values (no-op on tracers).

    The scan runs in numpy so it also works while an outer ``jit`` is tracing.
    """
    if not _is_concrete(x):
        return
    finite = np.isfinite(np.asarray(x))
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise JaxinterInputError(f"{name}: contains {bad} NaN or infinite values")


def check_game(values, name: str = "values", *, check_values: bool = True):
    """Validate an array of game values of shape (..., 2**n); return (array, n)."""
    values = check_floating(values, name)
    if values.ndim < 1:
        raise JaxinterInputError(f"{name}: expected shape (..., 2**n), got a scalar")
    n = n_players_from_size(values.shape[-1], name)
    if check_values:
        check_finite(values, name)
    return values, n


def check_labels(labels, name: str = "labels", *, num_samples: int | None = None,
                 num_classes: int | None = None) -> np.ndarray:
    """Class labels as a host int32 array (n,); raises unless they are 1-d integers (booleans
    count as 0/1), ``num_samples`` long and in ``0..num_classes - 1`` when those are given."""
    y = np.asarray(labels)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise JaxinterInputError(
            f"{name}: expected a 1-d array of integer class labels, got shape {y.shape}, "
            f"dtype {y.dtype}"
        )
    if num_samples is not None and y.shape[0] != num_samples:
        raise JaxinterInputError(
            f"{name}: expected one label per sample ({num_samples}), got {y.shape[0]}"
        )
    if y.size and y.min() < 0:
        raise JaxinterInputError(f"{name}: class labels must be >= 0, got {int(y.min())}")
    if num_classes is not None and y.size and y.max() >= num_classes:
        raise JaxinterInputError(
            f"{name}: label {int(y.max())} outside 0..{num_classes - 1} ({num_classes} classes)"
        )
    return y.astype(np.int32)


def check_bool_mask(mask, name: str, *, like_shape: tuple[int, ...] | None = None,
                    same_shape: bool = False):
    """A boolean mask as a jax array; raises on another dtype, and unless its shape broadcasts
    with (or, with ``same_shape``, equals) ``like_shape`` when that is given."""
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise JaxinterInputError(f"{name}: expected a boolean mask, got dtype {mask.dtype}")
    if like_shape is not None:
        if same_shape and mask.shape != tuple(like_shape):
            raise JaxinterInputError(
                f"{name}: expected shape {tuple(like_shape)}, got {mask.shape}")
        try:
            jnp.broadcast_shapes(mask.shape, tuple(like_shape))
        except ValueError as err:
            raise JaxinterInputError(
                f"{name}: shape {mask.shape} does not broadcast with {tuple(like_shape)}"
            ) from err
    return mask
