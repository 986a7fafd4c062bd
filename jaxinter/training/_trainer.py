"""Pure, vmappable training functions for Flax Linen and NNX classifiers.

- ``trainer = Trainer(model, optimizer)``; ``state = trainer.init(key)`` -> :class:`TrainState`.
- ``trainer.step(state, (x, y)) -> (state, metrics)``: one optimizer step on one batch.
- ``trainer.run(state, x, y, num_steps, batch_size) -> (state, metrics of shape (num_steps,))``:
  ``lax.scan`` over steps; step t uses batch ``t % steps_per_epoch`` of a permutation of the
  data drawn from ``fold_in(state.key, t // steps_per_epoch)`` (the last partial batch of an
  epoch is dropped). Same key -> bit-identical training.

Models: a Linen module (``model.init``/``apply``; batch norm via a ``train`` keyword and the
``batch_stats`` collection), an NNX module instance (trained from its current weights), or a
factory ``rngs -> nnx.Module`` (initialized from the key, so it can be vmapped over seeds).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen, nnx, struct

from ..errors import (
    JaxinterInputError,
    JaxinterTrainingError,
    check_finite,
    check_int,
    check_labels,
    check_real_dtype,
    check_shape,
)


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
        # values a model sows outside nnx.capture are not state to carry between steps
        return logits, nnx.state(module, nnx.Not(nnx.Any(nnx.Param, nnx.Intermediate)))

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
    """Mean softmax cross-entropy of integer labels.

    Args:
      logits: (batch, classes).
      labels: (batch,) integer classes.

    Returns:
      () the mean over the batch.
    """
    shape, _ = check_real_dtype(logits, "logits")
    if len(shape) != 2 or not shape[1]:
        raise JaxinterInputError(f"logits: expected shape (batch, classes), got {shape}")
    labels = check_labels(labels, num_samples=shape[0], num_classes=shape[1])
    check_finite(logits, "logits")
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def check_finite_loss(loss, first_step: int) -> None:
    """Raise when a segment's per-step losses are not all finite.

    Args:
      loss: ``(num_steps,)`` or ``(members, num_steps)`` losses of steps ``first_step + 1 ...``
        (the metrics of :meth:`Trainer.run`, already computed by the scan: no extra work).
      first_step: the step count before the segment.

    Raises:
      JaxinterTrainingError: naming the first step (and member) whose loss is NaN or infinite.
    """
    shape, _ = check_real_dtype(loss, "loss")
    if len(shape) not in (1, 2):
        raise JaxinterInputError(f"loss: expected shape (steps,) or (members, steps), got {shape}")
    check_int(first_step, "first_step", 0)
    loss = np.asarray(loss)
    rows = loss.reshape(-1, loss.shape[-1])  # (members, steps)
    bad = ~np.isfinite(rows)
    if not bad.any():
        return
    step = int(np.argmax(bad.any(0)))  # the first step where any member diverged
    member = int(np.argmax(bad[:, step]))
    where = f" (member {member})" if loss.ndim == 2 else ""
    raise JaxinterTrainingError(
        f"training: the loss is {rows[member, step]} at step {first_step + step + 1}{where}; "
        f"lower the learning rate or check the data"
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """Pure training functions for one model and optax optimizer (see the module docstring).

    Attributes:
      model: Linen module, NNX module, or factory ``rngs -> nnx.Module``.
      optimizer: the optax transformation.
      input_shape: input shape without the batch axis; default ``model.input_shape``.
    """

    model: Any
    optimizer: optax.GradientTransformation
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        if not isinstance(self.optimizer, optax.GradientTransformation):
            raise JaxinterInputError(
                f"optimizer: expected an optax transformation (optax.adam(1e-3)), got "
                f"{type(self.optimizer).__name__}")
        if self.input_shape is not None:
            check_shape(self.input_shape, "input_shape")
        object.__setattr__(self, "_fns", _adapter(self.model, self.input_shape))

    @property
    def model_input_shape(self) -> tuple[int, ...]:
        """The model's input shape without the batch axis (empty when the model does not say)."""
        return tuple(self._fns.input_shape)

    def init(self, key: jax.Array) -> TrainState:
        """Initial state; ``key`` seeds both the weights and the data order."""
        init_key, data_key = jax.random.split(key)
        params, rest = self._fns.init(init_key)
        return TrainState(
            jnp.zeros((), jnp.int32), params, rest, self.optimizer.init(params), data_key
        )

    def apply(self, state: TrainState, x, train: bool) -> tuple[jax.Array, Any]:
        """Logits of ``x`` (batch, *input_shape) and the updated non-parameter variables.

        ``train`` (static) selects training mode (batch statistics of the batch, updated) or
        eval mode (running statistics, unchanged).
        """
        return self._fns.apply(state.params, state.model_state, x, train)

    def step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        """One optimizer step on ``batch = (x (b, *input_shape), y (b,))``.

        Returns:
          (new state, {"loss": (), "accuracy": ()}) of the batch in training mode.
        """
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
        """``num_steps`` optimizer steps under ``lax.scan``.

        Args:
          state: the starting :class:`TrainState`.
          x: (n, *input_shape) training inputs.
          y: (n,) integer labels.
          num_steps, batch_size: static integers, 1 <= batch_size <= n.

        Returns:
          (final state, metrics dict of arrays with leading axis num_steps). The loop cannot
          raise inside ``jit``: check ``metrics["loss"]`` on the host with
          :func:`check_finite_loss` (as ``train`` and ``train_population`` do).
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
        """Eval-mode logits (running batch statistics): (batch, *input_shape) -> (batch, C)."""
        return self._fns.apply(state.params, state.model_state, x, False)[0]

    def evaluate(self, state: TrainState, x, y) -> dict:
        """Eval-mode mean loss and accuracy on (x (n, *input_shape), y (n,))."""
        logits = self.logits(state, x)
        return {"loss": cross_entropy(logits, y), "accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}

    @functools.cached_property
    def jitted_run(self) -> Callable:
        """``jit(run)``, compiled once per trainer and argument shapes."""
        return jax.jit(self.run, static_argnames=("num_steps", "batch_size"))

    def variables(self, state: TrainState):
        """Linen variables dict, or the trained NNX module."""
        return self._fns.variables(state)
