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

from .errors import JaxinterInputError
from .progress import log
from .store import load_tree, save_json, save_tree

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

    def init(self, key):
        variables = self.model.init(key, jnp.zeros((1, *self.input_shape), jnp.float32))
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
        module = self.instance if self.factory is None else self.factory(rngs=nnx.Rngs(key))
        _, params, rest = nnx.split(module, nnx.Param, ...)
        return params, rest

    def apply(self, params, rest, x, train: bool):
        module = nnx.merge(self.train_def if train else self.eval_def, params, rest, copy=True)
        logits = module(x)
        return logits, nnx.state(module, nnx.Not(nnx.Param))

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
        """``num_steps`` steps under ``lax.scan`` -> (state, metrics with leading num_steps)."""
        n = x.shape[0]
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

    def variables(self, state: TrainState):
        """Linen variables dict, or the trained NNX module."""
        return self._fns.variables(state)


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


def _evaluate_batched(evaluate, state, x, y, chunk: int = 2048) -> dict:
    totals = {"loss": 0.0, "accuracy": 0.0}
    for start in range(0, len(x), chunk):
        m = evaluate(state, x[start : start + chunk], y[start : start + chunk])
        w = len(x[start : start + chunk])
        for k in totals:
            totals[k] += float(m[k]) * w
    return {k: v / len(x) for k, v in totals.items()}


def save_checkpoint(path, state: TrainState, history: list[dict]) -> Path:
    """Save ``state`` to ``path`` (.npz) and ``history`` next to it (.json)."""
    path = Path(path)
    save_json(path.with_suffix(".json"), {"history": history})
    return save_tree(path, state.replace(key=jax.random.key_data(state.key)))


def load_checkpoint(path, like: TrainState) -> tuple[TrainState, list[dict]]:
    """Load a checkpoint written by :func:`save_checkpoint` into the structure of ``like``."""
    import json

    path = Path(path)
    if not path.exists():
        raise JaxinterInputError(f"path: no checkpoint at {path}")
    raw = like.replace(key=jax.random.key_data(like.key))
    state = jax.tree.map(jnp.asarray, load_tree(path, raw))
    impl = jax.random.key_impl(like.key)
    state = state.replace(key=jax.random.wrap_key_data(state.key, impl=impl))
    history = json.loads(path.with_suffix(".json").read_text())["history"]
    return state, history


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
      data: a :class:`jaxinter.data.Dataset` or ``(x_train, y_train[, x_test, y_test])``.
      epochs, batch_size: ``epochs * (n_train // batch_size)`` steps in all.
      optimizer: an optax transformation; default ``optax.adam(learning_rate)``.
      seed / key: PRNG key (``key`` wins) for the weights and the data order.
      callback: ``callback(step, variables, metrics)`` after every ``every`` steps (default:
        every epoch); ``variables`` as in :meth:`Trainer.variables`, ``metrics`` the history row.
      checkpoint: .npz path; saved after every segment, and resumed from when it exists.
      progress: print one line per epoch (and per callback segment) to stderr.
    """
    x, y, x_test, y_test = _data(data)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)
    if epochs < 1 or batch_size < 1 or batch_size > len(x):
        raise JaxinterInputError(
            f"epochs/batch_size: need epochs >= 1 and 1 <= batch_size <= {len(x)} training "
            f"samples, got epochs={epochs}, batch_size={batch_size}"
        )
    if every is not None and every < 1:
        raise JaxinterInputError(f"every: expected a positive number of steps, got {every}")
    trainer = Trainer(model, optimizer or optax.adam(learning_rate), input_shape)
    key = jax.random.key(seed) if key is None else key
    state, history = trainer.init(key), []
    if checkpoint is not None and Path(checkpoint).exists():
        state, history = load_checkpoint(checkpoint, state)
        log(f"[train] resumed from {checkpoint} at step {int(state.step)}")

    per_epoch = len(x) // batch_size
    total = epochs * per_epoch
    segment = every or per_epoch
    run = jax.jit(trainer.run, static_argnames=("num_steps", "batch_size"))
    evaluate = jax.jit(trainer.evaluate)
    start = time.perf_counter()
    step = int(state.step)
    while step < total:
        n_steps = min(segment - step % segment, total - step)
        state, metrics = run(state, x, y, num_steps=n_steps, batch_size=batch_size)
        step += n_steps
        row = {"step": step, "epoch": step / per_epoch}
        row.update({k: float(jnp.mean(v)) for k, v in metrics.items()})
        if x_test is not None:
            test = _evaluate_batched(evaluate, state, np.asarray(x_test), np.asarray(y_test))
            row.update({f"test_{k}": v for k, v in test.items()})
        history.append(row)
        if checkpoint is not None:
            save_checkpoint(checkpoint, state, history)
        if progress and (callback is not None or step % per_epoch == 0 or step == total):
            shown = " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "epoch"))
            log(
                f"[train] epoch {row['epoch']:.2f}/{epochs} step {step}/{total} {shown} "
                f"{time.perf_counter() - start:.1f}s"
            )
        if callback is not None:
            callback(step, trainer.variables(state), row)
    return TrainResult(trainer.variables(state), history, state, trainer)


def population_run(trainer: Trainer, states: TrainState, x, y, num_steps: int, batch_size: int):
    """``trainer.run`` vmapped over a leading population axis of ``states`` (shared data)."""
    run = partial(trainer.run, num_steps=num_steps, batch_size=batch_size)
    return jax.vmap(run, in_axes=(0, None, None))(states, x, y)
