"""Optax training loop for Flax Linen and NNX classifiers, built from pure, vmappable pieces.

The pieces (all pure functions of explicit state, static shapes):

- ``trainer = Trainer(model, optimizer)``; ``state = trainer.init(key)`` -> :class:`TrainState`.
- ``trainer.step(state, (x, y)) -> (state, metrics)``: one optimizer step on one batch.
- ``trainer.run(state, x, y, num_steps, batch_size) -> (state, metrics of shape (num_steps,))``:
  ``lax.scan`` over steps; step t uses batch ``t % steps_per_epoch`` of a permutation of the
  data drawn from ``fold_in(state.key, t // steps_per_epoch)`` (the last partial batch of an
  epoch is dropped). Same key -> bit-identical training.

Population training vmaps these over seeds::

    states = jax.vmap(trainer.init)(jax.random.split(key, 8))
    run = jax.jit(jax.vmap(partial(trainer.run, num_steps=100, batch_size=64),
                           in_axes=(0, None, None)))
    states, metrics = run(states, x, y)

:func:`train` is the convenience loop around them: progress lines, test evaluation, callbacks
every ``every`` steps, and a checkpoint that a rerun resumes from.

Models: a Linen module (``model.init``/``apply``; batch norm via a ``train`` keyword and the
``batch_stats`` collection), an NNX module instance (trained from its current weights), or a
factory ``rngs -> nnx.Module`` (initialized from the key, so it can be vmapped over seeds).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen, nnx, struct

from ..errors import JaxinterInputError, check_finite
from ..io._progress import log
from ..io._report import to_jsonable
from ..io._store import load_tree, save_json, save_tree
from ..models import apply_in_batches

Callback = Callable[[int, Any, dict], Any]


@struct.dataclass
class TrainState:
    """Everything that changes during training; a pytree (vmap it for a population)."""

    step: jax.Array  # int32 scalar: optimizer steps taken
    params: Any
    model_state: Any  # non-parameter variables (batch statistics); {} when none
    opt_state: Any
    key: jax.Array  # data-order key: epoch e is shuffled with fold_in(key, e)


class _Linen:
    """init/apply of a Linen module with an ``input_shape`` attribute."""

    def __init__(self, model: linen.Module, input_shape):
        self.model, self.input_shape = model, input_shape
        # one compiled program instead of one small compile per eager initializer op
        self._init = jax.jit(lambda k: model.init(k, jnp.zeros((1, *input_shape), jnp.float32)))

    def init(self, key):
        variables = self._init(key)
        params = variables["params"]
        rest = {k: v for k, v in variables.items() if k not in ("params", "intermediates")}
        return params, rest

    def apply(self, params, rest, x, train: bool):
        variables = {"params": params, **rest}
        if not rest:  # no batch statistics: the model may not take a train argument
            return self.model.apply(variables, x), rest
        if not train:
            return self.model.apply(variables, x, train=False), rest
        return self.model.apply(variables, x, train=True, mutable=list(rest))

    @functools.cached_property
    def jitted_run(self) -> Callable:
        """``jit(run)``, compiled once per trainer and argument shapes."""
        return jax.jit(self.run, static_argnames=("num_steps", "batch_size"))

    def variables(self, state: TrainState):
        return {"params": state.params, **state.model_state}


class _Nnx:
    """init/apply of an NNX module (instance or factory ``rngs -> module``) through split/merge."""

    def __init__(self, model):
        self.factory = None if isinstance(model, nnx.Module) else model
        self.instance = model if isinstance(model, nnx.Module) else None
        abstract = nnx.eval_shape(lambda: self.factory(rngs=nnx.Rngs(0))) if self.factory else model
        self.input_shape = tuple(getattr(abstract, "input_shape", ()))

        def graphdef(training: bool):
            view = nnx.view(
                abstract,
                use_running_average=not training,
                deterministic=not training,
                raise_if_not_found=False,
            )
            return nnx.split(view, nnx.Param, ...)[0]

        self.train_def, self.eval_def = graphdef(True), graphdef(False)

    def init(self, key):
        if self.factory is None:  # an instance trains from its own weights
            return nnx.split(self.instance, nnx.Param, ...)[1:]
        return self._init_factory(key)

    @partial(jax.jit, static_argnums=0)  # hashed by identity: one compile per adapter
    def _init_factory(self, key):
        return nnx.split(self.factory(rngs=nnx.Rngs(key)), nnx.Param, ...)[1:]

    def apply(self, params, rest, x, train: bool):
        module = nnx.merge(self.train_def if train else self.eval_def, params, rest, copy=True)
        logits = module(x)
        return logits, nnx.state(module, nnx.Not(nnx.Param))

    @functools.cached_property
    def jitted_run(self) -> Callable:
        """``jit(run)``, compiled once per trainer and argument shapes."""
        return jax.jit(self.run, static_argnames=("num_steps", "batch_size"))

    def variables(self, state: TrainState):
        """The trained model as an NNX module (in training mode, like a freshly built one)."""
        return nnx.merge(self.train_def, state.params, state.model_state, copy=True)


def _adapter(model, input_shape):
    if isinstance(model, linen.Module):
        shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
        if shape is None:
            raise JaxinterInputError("input_shape: the Linen model has no input_shape attribute")
        return _Linen(model, tuple(shape))
    if isinstance(model, nnx.Module) or callable(model):
        return _Nnx(model)
    raise JaxinterInputError(
        f"model: expected a Linen module, an NNX module or a factory rngs -> NNX module, "
        f"got {type(model).__name__}"
    )


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """Pure training functions for one model and optax optimizer (see module docstring)."""

    model: Any
    optimizer: optax.GradientTransformation
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "_fns", _adapter(self.model, self.input_shape))

    def init(self, key: jax.Array) -> TrainState:
        """Initial state; ``key`` seeds both the weights and the data order."""
        init_key, data_key = jax.random.split(key)
        params, rest = self._fns.init(init_key)
        return TrainState(
            jnp.zeros((), jnp.int32), params, rest, self.optimizer.init(params), data_key
        )

    def step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        """One optimizer step on ``batch = (x (b, *input_shape), y (b,))``."""
        x, y = batch

        def loss_fn(params):
            logits, rest = self._fns.apply(params, state.model_state, x, True)
            return cross_entropy(logits, y), (logits, rest)

        (loss, (logits, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}
        return state.replace(
            step=state.step + 1, params=params, model_state=rest, opt_state=opt_state
        ), metrics

    def run(self, state: TrainState, x, y, num_steps: int, batch_size: int):
        """``num_steps`` steps under ``lax.scan`` -> (state, metrics with leading num_steps).

        x: (n, *input_shape); y: (n,) int labels; ``num_steps`` and ``batch_size`` are static.
        """
        n = x.shape[0]
        if y.shape != (n,):
            raise JaxinterInputError(f"y: expected shape ({n},) to match x, got {y.shape}")
        if not 1 <= batch_size <= n or num_steps < 1:
            raise JaxinterInputError(
                f"batch_size/num_steps: need 1 <= batch_size <= {n} samples and num_steps >= 1, "
                f"got batch_size={batch_size}, num_steps={num_steps}"
            )
        per_epoch = n // batch_size

        def body(state, _):
            epoch, i = state.step // per_epoch, state.step % per_epoch
            perm = jax.random.permutation(jax.random.fold_in(state.key, epoch), n)
            idx = jax.lax.dynamic_slice(perm, (i * batch_size,), (batch_size,))
            return self.step(state, (x[idx], y[idx]))

        return jax.lax.scan(body, state, None, length=num_steps)

    def logits(self, state: TrainState, x) -> jax.Array:
        """Eval-mode logits (running batch statistics)."""
        return self._fns.apply(state.params, state.model_state, x, False)[0]

    def evaluate(self, state: TrainState, x, y) -> dict:
        """Eval-mode mean loss and accuracy on (x, y)."""
        logits = self.logits(state, x)
        return {"loss": cross_entropy(logits, y), "accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}

    @functools.cached_property
    def jitted_run(self) -> Callable:
        """``jit(run)``, compiled once per trainer and argument shapes."""
        return jax.jit(self.run, static_argnames=("num_steps", "batch_size"))

    def variables(self, state: TrainState):
        """Linen variables dict, or the trained NNX module."""
        return self._fns.variables(state)



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


def save_checkpoint(path, state: TrainState, history: list[dict], config: dict | None = None):
    """Save ``state``, ``history`` and ``config`` atomically to one ``path`` (.npz).

    A readable copy of history and config goes next to it (.json); only the .npz is read back.
    """
    path = Path(path)
    meta = json.dumps(to_jsonable({"history": history, "config": config or {}}))
    save_tree(path, {"state": state, "meta": meta})
    save_json(path.with_suffix(".json"), json.loads(meta))
    return path


def load_checkpoint(path, like: TrainState, config: dict | None = None):
    """Load a checkpoint of :func:`save_checkpoint` into the structure of ``like``.

    Returns (state, history). Raises :class:`JaxinterInputError` when there is no checkpoint,
    when it was written for another model (other parameter names or shapes), or when its saved
    config differs from ``config`` on a shared key.
    """
    path = Path(path)
    if not path.exists():
        raise JaxinterInputError(f"checkpoint: no checkpoint at {path}")
    try:
        loaded = load_tree(path, {"state": like, "meta": ""})
    except (KeyError, OSError, ValueError) as err:
        raise JaxinterInputError(
            f"checkpoint: {path} was not written by save_checkpoint for this model ({err})"
        ) from err
    for (where, new), old in zip(
        jax.tree_util.tree_flatten_with_path(loaded["state"])[0], jax.tree.leaves(like), strict=True
    ):
        if new.shape != old.shape:
            raise JaxinterInputError(
                f"checkpoint: {path} holds {jax.tree_util.keystr(where)} of shape {new.shape}, "
                f"this model has {old.shape}"
            )
    meta = json.loads(str(loaded["meta"]))
    clash = {
        k: (meta["config"][k], v)
        for k, v in (config or {}).items()
        if k in meta["config"] and meta["config"][k] != to_jsonable(v)
    }
    if clash:
        raise JaxinterInputError(
            f"checkpoint: {path} was written with other settings (saved, now): {clash}; "
            "pass another checkpoint path to start afresh"
        )
    return jax.tree.map(jnp.asarray, loaded["state"]), meta["history"]


def _progress_line(row: dict, epochs: int, total: int, elapsed: float, done: int) -> str:
    shown = " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "epoch"))
    eta = elapsed / max(done, 1) * (total - row["step"])
    return (
        f"[train] epoch {row['epoch']:.2f}/{epochs} step {row['step']}/{total} {shown} "
        f"elapsed {elapsed:.1f}s eta {eta:.1f}s"
    )


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
    """Train a classifier with optax (Adam by default) and return a :class:`TrainResult`.

    Args:
      model: Linen module, NNX module, or factory ``rngs -> nnx.Module``.
      data: a :class:`jaxinter.data.Dataset` or ``(x_train, y_train[, x_test, y_test])``;
        x of shape (n, *input_shape), y integer classes below the model's number of logits.
      epochs, batch_size: ``epochs * (n_train // batch_size)`` steps in all.
      optimizer: an optax transformation; default ``optax.adam(learning_rate)``.
      seed / key: PRNG key (``key`` wins) for the weights and the data order.
      callback: ``callback(step, variables, metrics)`` after every ``every`` steps (default:
        every epoch); ``variables`` as in :meth:`Trainer.variables`, ``metrics`` the history row.
      checkpoint: .npz path; saved after every segment, and resumed from when it exists (it
        must come from the same model, data size and batch size).
      progress: print a line to stderr whenever an epoch ends (and after every callback
        segment), with the metrics, elapsed time and an estimate of the time left.
    """
    x, y, x_test, y_test = _data(data)
    if (
        not isinstance(epochs, int)
        or not isinstance(batch_size, int)
        or epochs < 1
        or not (1 <= batch_size <= len(x))
    ):
        raise JaxinterInputError(
            f"epochs/batch_size: need epochs >= 1 and 1 <= batch_size <= {len(x)} training "
            f"samples, got epochs={epochs!r}, batch_size={batch_size!r}"
        )
    if every is not None and (not isinstance(every, int) or every < 1):
        raise JaxinterInputError(f"every: expected a positive number of steps, got {every!r}")
    trainer = _trainer_for(model, optimizer, learning_rate, input_shape)
    key = jax.random.key(seed) if key is None else key
    # every check runs on abstract values, before anything is compiled
    shape = tuple(trainer._fns.input_shape) or tuple(np.shape(x)[1:])
    spec = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
    num_classes = jax.eval_shape(trainer.logits, jax.eval_shape(trainer.init, key), spec).shape[-1]
    x, y = _check_split(x, y, "train", shape, num_classes)
    if x_test is not None:
        x_test, y_test = _check_split(x_test, y_test, "test", shape, num_classes)
    config = {"n_train": len(x), "batch_size": batch_size, "input_shape": x.shape[1:]}
    state, history = trainer.init(key), []
    if checkpoint is not None and Path(checkpoint).exists():
        state, history = load_checkpoint(checkpoint, state, config)
        log(f"[train] resumed from {checkpoint} at step {int(state.step)}")

    per_epoch = len(x) // batch_size
    total = epochs * per_epoch
    segment = every or per_epoch
    run = trainer.jitted_run
    x, y = jnp.asarray(x), jnp.asarray(y)
    start, first = time.perf_counter(), int(state.step)
    step = first
    while step < total:
        n_steps = min(segment - step % segment, total - step)
        state, metrics = run(state, x, y, num_steps=n_steps, batch_size=batch_size)
        step += n_steps
        row = {"step": step, "epoch": step / per_epoch}
        row.update({k: float(jnp.mean(v)) for k, v in metrics.items()})
        if x_test is not None:
            row.update(
                {
                    f"test_{k}": v
                    for k, v in _evaluate_batched(trainer, state, x_test, y_test).items()
                }
            )
        history.append(row)
        if checkpoint is not None:
            save_checkpoint(checkpoint, state, history, config)
        epoch_ended = step // per_epoch > (step - n_steps) // per_epoch
        if progress and (callback is not None or epoch_ended or step == total):
            log(_progress_line(row, epochs, total, time.perf_counter() - start, step - first))
        if callback is not None:
            callback(step, trainer.variables(state), row)
    return TrainResult(trainer.variables(state), history, state, trainer)


def population_run(trainer: Trainer, states: TrainState, x, y, num_steps: int, batch_size: int):
    """``trainer.run`` vmapped over a leading population axis of ``states`` (shared data)."""
    run = partial(trainer.run, num_steps=num_steps, batch_size=batch_size)
    return jax.vmap(run, in_axes=(0, None, None))(states, x, y)
