"""Output scores of a classifier for a target class.

Every score maps logits ``(..., classes)`` and integer targets ``(...)`` to ``(...)`` in the
logits' dtype. A single-logit binary model (``classes == 1``, p(y=1) = sigmoid(z)) is handled as
the two-class model with logits ``(0, z)``: the target's logit is ``+z`` for y = 1 and ``-z`` for
y = 0 (relative to the other class), so its log-odds are ``+/- z``.

The functions are pure and jit-able; shapes and dtypes are checked on tracers too, values
(finite logits, labels in range) only on concrete arrays.
Use ``get_score`` to look a score up by name ("log_odds", "logit", "probability"). See
docs/math/interactions.md#scores-of-a-classifier.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import (
    JaxinterInputError,
    array_spec,
    check_choice,
    check_finite,
    check_real_dtype,
    is_device_array,
    value_range,
)


def check_target(target, num_classes: int, name: str = "target") -> None:
    """Check that a concrete target holds integer labels in range (no-op on tracers).

    Args:
      target: integer class labels.
      num_classes: number of output logits (1 means a binary model with labels 0 and 1).
      name: argument name for the error message.

    Raises:
      JaxinterInputError: on a non-integer dtype or a label out of range.
    """
    _, dtype = array_spec(target, name)
    if not np.issubdtype(dtype, np.integer):
        raise JaxinterInputError(f"{name}: expected integer class labels, got dtype {dtype}")
    if isinstance(target, jax.core.Tracer):
        return
    t = target if is_device_array(target) else np.asarray(target)
    classes = max(num_classes, 2)  # a single logit is a binary model with labels 0/1
    low, high = value_range(t) if t.size else (0, 0)
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise JaxinterInputError(
            f"{name}: label {int(bad)} outside 0..{classes - 1} "
            f"(the model has {num_classes} output logit{'s' * (num_classes != 1)})"
        )


def _inputs(logits, target):
    """``(logits, target)`` as jax arrays, checked from their shapes and dtypes (and, when
    concrete, their values: finite logits, labels in range)."""
    shape, _ = check_real_dtype(logits, "logits")
    if not shape or not shape[-1]:
        raise JaxinterInputError(f"logits: expected shape (..., classes), got {shape}")
    check_target(target, shape[-1])
    target_shape, _ = array_spec(target, "target")
    try:
        if len(target_shape) != len(shape) - 1:
            raise ValueError
        jnp.broadcast_shapes(target_shape, shape[:-1])
    except ValueError as err:
        raise JaxinterInputError(
            f"target: expected the logits' batch shape {shape[:-1]}, got {target_shape}"
        ) from err
    logits = jnp.asarray(logits)
    check_finite(logits, "logits")
    return logits, jnp.asarray(target)


def _two_class(logits, target):
    """Single-logit binary model: the signed logit +z (y = 1) or -z (y = 0)."""
    z = logits[..., 0]
    return jnp.where(target == 1, z, -z)


def log_odds(logits, target) -> jax.Array:
    """Log-odds of the target class, the default score of a game.

    log p_y / (1 - p_y) = z_y - logsumexp over c != y of z_c, computed stably in the second
    form; a single logit z gives +z for y = 1 and -z for y = 0.

    Args:
      logits: ``(..., classes)`` logits z.
      target: ``(...)`` integer classes y.

    Returns:
      ``(...)`` scores in the logits' dtype.
    """
    logits, target = _inputs(logits, target)
    if logits.shape[-1] == 1:
        return _two_class(logits, target)
    others = jnp.arange(logits.shape[-1]) != target[..., None]
    z_y = jnp.take_along_axis(logits, target[..., None], axis=-1)[..., 0]
    return z_y - jax.nn.logsumexp(logits, axis=-1, where=others)


def logit(logits, target) -> jax.Array:
    """The raw logit z_y of the target class (+/- z for a single-logit binary model).

    Args:
      logits: ``(..., classes)`` logits.
      target: ``(...)`` integer classes.

    Returns:
      ``(...)`` scores in the logits' dtype.
    """
    logits, target = _inputs(logits, target)
    if logits.shape[-1] == 1:
        return _two_class(logits, target)
    return jnp.take_along_axis(logits, target[..., None], axis=-1)[..., 0]


def probability(logits, target) -> jax.Array:
    """Softmax probability of the target class (sigmoid(+/- z) for a single logit).

    Args:
      logits: ``(..., classes)`` logits.
      target: ``(...)`` integer classes.

    Returns:
      ``(...)`` probabilities in the logits' dtype.
    """
    logits, target = _inputs(logits, target)
    if logits.shape[-1] == 1:
        return jax.nn.sigmoid(_two_class(logits, target))
    return jnp.take_along_axis(jax.nn.softmax(logits, axis=-1), target[..., None], axis=-1)[..., 0]


SCORES: dict[str, Callable] = {"log_odds": log_odds, "logit": logit, "probability": probability}


def get_score(score: str | Callable) -> Callable:
    """A score function by name.

    Args:
      score: "log_odds", "logit", "probability", or a callable
        ``(logits, target) -> (...)``, which is returned as is.

    Returns:
      The score function.
    """
    if callable(score):
        return score
    return SCORES[check_choice(score, "score", sorted(SCORES))]
