"""The training loop: :func:`train` fits a classifier with optax and logs, calls back, resumes.

It runs the pure :class:`Trainer` functions in jitted segments (``lax.scan`` over steps) and, after
every segment, evaluates the test split, calls the callback (e.g. a tracker) and saves a
checkpoint that a rerun resumes from.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen

from ..errors import (
    MAX_SEED,
    JaxinterInputError,
    array_spec,
    check_finite,
    check_int,
    check_int_list,
    check_number,
    check_real_array,
    check_seed,
)
from ..io import Progress, log
from ..models import apply_in_batches
from ._checkpoints import checkpoint_step, load_checkpoint, save_checkpoint
from ._population import init_population, train_population
from ._trainer import Trainer, TrainState, check_finite_loss, cross_entropy

Callback = Callable[[int, Any, dict], Any]


@functools.lru_cache(maxsize=16)
def _shared_trainer(model, optimizer, input_shape) -> Trainer:
    return Trainer(model, optimizer, input_shape)


def _trainer_for(model, optimizer, learning_rate, input_shape) -> Trainer:
    """A :class:`Trainer`, shared between :func:`train` calls with the same Linen model (equal
    configuration) and optimizer (the same object, or the default Adam of the same learning
    rate), so repeated runs (resumes, seeds, sweeps) reuse compiled programs."""
    optimizer = optimizer or _adam(learning_rate)
    shape = None if input_shape is None else tuple(input_shape)
    try:
        if isinstance(model, linen.Module):
            return _shared_trainer(model, optimizer, shape)
    except TypeError:  # an unhashable Linen module (e.g. a list attribute)
        pass
    return Trainer(model, optimizer, shape)


@functools.lru_cache(maxsize=16)
def _adam(learning_rate: float) -> optax.GradientTransformation:
    return optax.adam(learning_rate)


@dataclasses.dataclass
class TrainResult:
    """``variables``: Linen variables dict (or the trained NNX module); ``history``: one dict per
    logged segment (step, epoch, loss, accuracy, and test_loss/test_accuracy when test data is
    given); ``state``: the final :class:`TrainState`."""

    variables: Any
    history: list[dict]
    state: TrainState
    trainer: Trainer


def _data(data):
    if hasattr(data, "x_train"):
        return data.x_train, data.y_train, data.x_test, data.y_test
    if isinstance(data, tuple) and len(data) in (2, 4):
        return (*data, None, None)[:4]
    raise JaxinterInputError(
        "data: expected a jaxinter Dataset or a tuple (x_train, y_train[, x_test, y_test])"
    )


def _check_split(x, y, split: str, input_shape: tuple, num_classes: int):
    """Host-side checks of one split before anything is traced; returns (x, y) numpy."""
    check_real_array(x, f"data: x_{split}")
    array_spec(y, f"data: y_{split}")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or (input_shape and x.shape[1:] != tuple(input_shape)):
        raise JaxinterInputError(
            f"data: x_{split} has shape {x.shape}, the model expects (n, *{tuple(input_shape)})"
        )
    if y.shape != x.shape[:1]:
        raise JaxinterInputError(
            f"data: y_{split} has shape {y.shape}, expected one label per sample ({len(x)},)"
        )
    if not np.issubdtype(y.dtype, np.integer) or (
        y.size and (y.min() < 0 or y.max() >= num_classes)
    ):
        raise JaxinterInputError(
            f"data: y_{split} must hold integer classes 0..{num_classes - 1} (the model's "
            f"{num_classes} logits); got dtype {y.dtype}"
            + (f", values {y.min()}..{y.max()}" if y.size else "")
        )
    check_finite(x, f"data: x_{split}")
    return x.astype(np.float32), y.astype(np.int32)


def _evaluate_batched(trainer: Trainer, state: TrainState, x, y, chunk: int = 2048) -> dict:
    """Eval-mode loss and accuracy over all of (x, y), the logits computed in batches."""
    logits = apply_in_batches(trainer.logits, x, state, batch_size=chunk)
    return {"loss": float(cross_entropy(logits, y)),
            "accuracy": float(np.mean(logits.argmax(-1) == np.asarray(y)))}


def train(
    model,
    data,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    seed: int = 0,
    key: jax.Array | None = None,
    callback: Callback | None = None,
    every: int | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    input_shape=None,
) -> TrainResult:
    """Train a classifier with optax (Adam by default).

    Args:
      model: Linen module, NNX module, or factory ``rngs -> nnx.Module``.
      data: a :class:`jaxinter.data.Dataset` or ``(x_train, y_train[, x_test, y_test])``;
        x of shape (n, *input_shape), y (n,) integer classes below the model's number of logits.
      epochs: passes over the training set; ``epochs * (n_train // batch_size)`` steps in all.
      batch_size: examples per step.
      optimizer: an optax transformation; default ``optax.adam(learning_rate)``.
      learning_rate: Adam's learning rate when ``optimizer`` is None.
      seed: integer seed for the weights and the data order, used when ``key`` is None.
      key: PRNG key for the weights and the data order (wins over ``seed``).
      callback: ``callback(step, variables, metrics)`` after every ``every`` steps and at the
        end; ``variables`` as in :meth:`Trainer.variables`, ``metrics`` the history row. A
        tracker (:class:`jaxinter.analysis.Tracker`) is such a callback.
      every: steps between callbacks; default the callback's own ``every`` when it has one (a
        tracker), else one epoch.
      checkpoint: folder of Orbax checkpoints (:func:`save_checkpoint`); saved after every
        segment, and resumed from its latest step when it holds one (it must come from the
        same model, data size and batch size; it may have been written on other devices).
      progress: show the progress on stderr (``jaxinter.io.Progress``): a live bar over the
        steps with rate, ETA and the latest metrics on a terminal, else a line when training
        starts and one when it ends.
      input_shape: input shape without the batch axis; default ``model.input_shape``.

    Returns:
      :class:`TrainResult` with the trained variables, the logged history and the final state.

    Raises:
      JaxinterInputError: on bad data or options, before anything compiles.
      JaxinterTrainingError: when the loss becomes NaN or infinite, naming the step (checked
        on the per-step losses of each segment, which the scan computes anyway).
    """
    x, y, x_test, y_test = _data(data)
    _check_schedule(epochs, batch_size, every, len(x))
    if optimizer is None:
        check_number(learning_rate, "learning_rate", 0, low_open=True)
    if key is None:
        check_seed(seed)
    if callback is not None and not callable(callback):
        raise JaxinterInputError(f"callback: expected a function or a tracker, got {callback!r}")
    every = every if every is not None else getattr(callback, "every", None)
    trainer = _trainer_for(model, optimizer, learning_rate, input_shape)
    key = jax.random.key(seed) if key is None else key
    x, y, x_test, y_test = _checked_data(trainer, key, x, y, x_test, y_test)
    config = {"n_train": len(x), "batch_size": batch_size, "input_shape": x.shape[1:]}
    state, history = trainer.init(key), []
    if checkpoint is not None and checkpoint_step(checkpoint) is not None:
        state, history = load_checkpoint(checkpoint, state, config, name="checkpoint")
        log(f"[train] resumed from {checkpoint} at step {int(state.step)}")

    per_epoch = len(x) // batch_size
    total = epochs * per_epoch
    segment = every or per_epoch
    x, y = jnp.asarray(x), jnp.asarray(y)
    step = int(state.step)
    bar = Progress("train", total, unit="step", initial=step) if progress else None
    while step < total:
        n_steps = min(segment - step % segment, total - step)
        state, metrics = trainer.jitted_run(state, x, y, num_steps=n_steps, batch_size=batch_size)
        check_finite_loss(metrics["loss"], step)
        step += n_steps
        row = {"step": step, "epoch": step / per_epoch}
        row.update({k: float(jnp.mean(v)) for k, v in metrics.items()})
        if x_test is not None:
            test = _evaluate_batched(trainer, state, x_test, y_test)
            row.update({f"test_{k}": v for k, v in test.items()})
        history.append(row)
        if checkpoint is not None:
            save_checkpoint(checkpoint, state, history, config)
        if bar is not None:
            bar.update(n_steps, **{k: v for k, v in row.items() if k != "step"})
        if callback is not None:
            callback(step, trainer.variables(state), row)
    if bar is not None:
        bar.close()
    return TrainResult(trainer.variables(state), history, state, trainer)


def train_seeds(model, data, seeds, *, epochs: int = 10, batch_size: int = 128,
                learning_rate: float = 1e-3, input_shape=None, progress: bool = True) -> list:
    """``train(model, data, seed=s)`` for every seed, as one vmapped population.

    The members take the steps of :func:`train` (the same initial weights, data order and Adam
    updates), all in one program; batched matrix products may round differently, so the
    weights agree with separately trained ones to float32 rounding, not bit for bit, and a
    member's bits can depend on the population it is trained in.

    Args:
      model: Linen module, or factory ``rngs -> nnx.Module``.
      data: a :class:`jaxinter.data.Dataset` or ``(x_train, y_train[, x_test, y_test])``.
      seeds: distinct integer seeds, one model each.
      epochs, batch_size, learning_rate, input_shape: as in :func:`train`.
      progress: show the progress on stderr.

    Returns:
      The trained variables of each seed, in order (as ``TrainResult.variables``).
    """
    x, y, _, _ = _data(data)
    _check_schedule(epochs, batch_size, None, len(x))
    check_number(learning_rate, "learning_rate", 0, low_open=True)
    seeds = check_int_list(seeds, "seeds", 0, MAX_SEED, distinct=True)
    trainer = _trainer_for(model, None, learning_rate, input_shape)
    key = jax.random.key(seeds[0])
    x, y, _, _ = _checked_data(trainer, key, x, y, None, None)
    pop = init_population(trainer, y, seeds, [0.0], _num_classes(trainer, key, x.shape[1:]))
    pop, _ = train_population(pop, trainer, x, steps=epochs * (len(x) // batch_size),
                              batch_size=batch_size,
                              progress_desc=f"train {len(seeds)} seeds" if progress else None)
    return [trainer.variables(jax.tree.map(lambda leaf, i=i: leaf[i], pop.state))
            for i in range(len(seeds))]


def _check_schedule(epochs, batch_size, every, n: int) -> None:
    check_int(epochs, "epochs", 1)
    check_int(batch_size, "batch_size", 1, n)  # at most the n training samples
    check_int(every, "every", 1, optional=True)


def _checked_data(trainer: Trainer, key, x, y, x_test, y_test):
    """Both splits checked against the model on abstract values, before anything compiles."""
    shape = trainer.model_input_shape or tuple(np.shape(x)[1:])
    num_classes = _num_classes(trainer, key, shape)
    x, y = _check_split(x, y, "train", shape, num_classes)
    if x_test is not None:
        x_test, y_test = _check_split(x_test, y_test, "test", shape, num_classes)
    return x, y, x_test, y_test


def _num_classes(trainer: Trainer, key, input_shape) -> int:
    """The model's number of logits, from abstract values (nothing runs)."""
    spec = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    return jax.eval_shape(trainer.logits, jax.eval_shape(trainer.init, key), spec).shape[-1]
