"""Populations: many models of one :class:`Trainer` trained side by side in one vmapped program.

A population is a grid of members (label-noise rate x seed); every member has its own weights,
data order and (noisy) training labels, and all of them advance together through
:func:`population_run`, the trainer's ``lax.scan`` loop vmapped over the member axis. A tracker
(any object with the tracker interface of :mod:`jaxinter.analysis`, e.g. ``InteractionTracker``)
measures all members at its checkpoints; with a tracker folder the run resumes after an
interruption.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..data import add_label_noise
from ..errors import (
    MAX_SEED,
    JaxinterInputError,
    array_spec,
    check_finite,
    check_instance,
    check_int,
    check_int_list,
    check_labels,
    check_number,
    check_real_dtype,
    check_text,
)
from ..io import progress
from ._checkpoints import checkpoint_step, load_checkpoint, save_checkpoint
from ._trainer import Trainer, TrainState, check_finite_loss


@struct.dataclass
class Population:
    """P members trained side by side.

    state: :class:`TrainState` with a leading member axis (P) on every leaf.
    labels: (P, n_train) int32 training labels of each member (label noise applied).
    seed: (P,) each member's seed; noise: (P,) float32 its label-noise rate.
    """

    state: TrainState
    labels: jax.Array
    seed: jax.Array
    noise: jax.Array


class PopulationTracker(Protocol):
    """What :func:`train_population` needs of a tracker (``jaxinter.analysis.Tracker`` has it)."""

    every: int  # steps between records
    folder: Path | None  # where records (and the population checkpoint) are kept, or None

    def record_members(self, params: Any, labels: jax.Array) -> Any: ...  # leading member axis

    def save(self, step: int, record: Any) -> None: ...

    def steps(self) -> list[int]: ...

    def history(self) -> Any: ...


def population_run(trainer: Trainer, states: TrainState, x, y, num_steps: int, batch_size: int):
    """:meth:`Trainer.run` vmapped over a leading member axis of ``states``.

    Args:
      trainer: the :class:`Trainer` of every member.
      states: :class:`TrainState` with a leading member axis (P) on every leaf.
      x: (n, *input_shape) training inputs, shared by the members.
      y: (n,) labels shared by the members, or (P, n) one row of labels per member.
      num_steps, batch_size: static integers as in :meth:`Trainer.run`.

    Returns:
      (states, metrics) with the member axis first: metrics of shape (P, num_steps).
    """
    x = _check_members_inputs(trainer, states, x)
    members = jax.tree.leaves(states)[0].shape[:1]
    shape, _ = array_spec(y, "y")
    if shape not in ((x.shape[0],), (*members, x.shape[0])):
        raise JaxinterInputError(
            f"y: expected labels of shape ({x.shape[0]},) or ({members[0]}, {x.shape[0]}) "
            f"(one row per member), got {shape}")
    check_labels(jnp.reshape(y, -1) if len(shape) == 2 else y, "y")
    check_int(num_steps, "num_steps", 1)
    check_int(batch_size, "batch_size", 1, x.shape[0])
    y = jnp.asarray(y)
    run = partial(trainer.run, num_steps=num_steps, batch_size=batch_size)
    return jax.vmap(run, in_axes=(0, None, 0 if y.ndim == 2 else None))(states, x, y)


def _check_members_inputs(trainer, states, x, name: str = "x") -> jax.Array:
    """Check the trainer, the members' states and the shared inputs x (n >= 1, *input_shape)
    of a population run; x as a jax array."""
    check_instance(trainer, "trainer", Trainer)
    check_instance(states, "states", TrainState)
    shape, _ = check_real_dtype(x, name)
    expected = trainer.model_input_shape
    if len(shape) < 2 or not shape[0] or (expected and shape[1:] != expected):
        raise JaxinterInputError(
            f"{name}: expected shape (n >= 1, *{expected or 'input_shape'}), got {shape}")
    check_finite(x, name)
    return jnp.asarray(x)


@lru_cache(maxsize=8)
def _jitted_population_run(trainer: Trainer):
    """:func:`population_run` of one trainer, jitted once (trainers hash by identity)."""
    return jax.jit(partial(population_run, trainer), static_argnames=("num_steps", "batch_size"))


@lru_cache(maxsize=8)
def _jitted_population_init(trainer: Trainer):
    """``trainer.init`` vmapped over keys, jitted once per trainer (a new ``jit`` per call
    would compile again: seconds, more than training a small population)."""
    return jax.jit(jax.vmap(trainer.init))


def init_population(trainer: Trainer, y_train, seeds, noise_rates, num_classes: int) -> Population:
    """Members for every (noise rate, seed) pair, noise-major.

    Args:
      trainer: the :class:`Trainer` of every member.
      y_train: (n_train,) clean integer training labels.
      seeds: S integer seeds; member (r, s) starts from ``trainer.init(jax.random.key(s))``
        (weights and data order).
      noise_rates: R label-noise rates in [0, 1]; member (r, s) trains on
        ``data.add_label_noise(y_train, r, num_classes, seed=s)``.
      num_classes: number of classes of the labels.

    Returns:
      :class:`Population` of P = R * S members, member ``r * S + s`` for rate r and seed s.
    """
    check_instance(trainer, "trainer", Trainer)
    num_classes = check_int(num_classes, "num_classes", 1)
    y_train = check_labels(y_train, "y_train", num_classes=num_classes)
    seeds = check_int_list(seeds, "seeds", 0, MAX_SEED)
    if isinstance(noise_rates, str) or not isinstance(noise_rates, Sequence | np.ndarray) \
            or not len(noise_rates):
        raise JaxinterInputError(f"noise_rates: expected a non-empty list, got {noise_rates!r}")
    grid = [(check_number(r, f"noise_rates[{i}]", 0, 1), s)
            for i, r in enumerate(noise_rates) for s in seeds]
    seed = np.array([s for _, s in grid])
    labels = np.stack([add_label_noise(np.asarray(y_train), r, num_classes, seed=s)
                       for r, s in grid])
    return Population(
        state=_jitted_population_init(trainer)(jax.vmap(jax.random.key)(jnp.asarray(seed))),
        labels=jnp.asarray(labels, jnp.int32),
        seed=jnp.asarray(seed),
        noise=jnp.asarray([r for r, _ in grid], jnp.float32),
    )


def train_population(
    pop: Population, trainer: Trainer, x_train, *, steps: int, batch_size: int = 64,
    tracker: PopulationTracker | None = None, progress_desc: str | None = "population",
) -> tuple[Population, Any]:
    """Train every member to ``steps`` steps in one vmapped program, tracking every ``every``.

    Args:
      pop: the :class:`Population` (e.g. from :func:`init_population`, or partly trained).
      trainer: the :class:`Trainer` of every member.
      x_train: (n_train, *input_shape) training inputs, shared by the members.
      steps: total optimizer steps of every member.
      batch_size: minibatch size.
      tracker: records the members at step 0 and after every ``tracker.every`` steps through
        ``tracker.record_members(pop.state, pop.labels)``; its functions receive a member's
        :class:`TrainState` (e.g. ``InteractionTracker(trainer.logits, ...)``). With a tracker
        folder, the population is saved there with every record (the checkpoint folder
        ``population``, see :func:`save_checkpoint`), and a rerun with the same folder resumes
        from the last record.
      progress_desc: label of the progress lines on stderr; None for silence.

    Returns:
      (trained population, ``tracker.history()`` with record fields (T, P, ...), or None
      without a tracker).
    """
    check_instance(pop, "pop", Population)
    x_train = _check_members_inputs(trainer, pop.state, x_train, "x_train")
    if x_train.shape[0] != pop.labels.shape[-1]:
        raise JaxinterInputError(
            f"x_train: expected {pop.labels.shape[-1]} samples (one per label), got "
            f"{x_train.shape[0]}")
    check_int(steps, "steps", 1)
    check_int(batch_size, "batch_size", 1, x_train.shape[0])
    _check_tracker(tracker)
    check_text(progress_desc, "progress_desc", optional=True)
    run = _jitted_population_run(trainer)
    saved = None if tracker is None or tracker.folder is None else (
        Path(tracker.folder) / "population")
    if saved is not None and checkpoint_step(saved) is not None and tracker.steps():
        pop = load_checkpoint(saved, pop)[0]

    def track(pop: Population) -> None:
        step = int(pop.state.step[0])
        tracker.save(step, tracker.record_members(pop.state, pop.labels))
        if saved is not None:
            save_checkpoint(saved, pop, [], step=step)

    if tracker is not None and int(pop.state.step[0]) not in tracker.steps():
        track(pop)
    every = tracker.every if tracker is not None else steps
    todo = range(int(pop.state.step[0]), steps, every)
    for start in progress(todo, progress_desc) if progress_desc else todo:
        state, metrics = run(pop.state, x_train, pop.labels, num_steps=min(every, steps - start),
                             batch_size=batch_size)
        check_finite_loss(metrics["loss"], start)
        pop = pop.replace(state=state)
        if tracker is not None:
            track(pop)
    return pop, (None if tracker is None else tracker.history())


def _check_tracker(tracker) -> None:
    """Raise unless ``tracker`` is None or has what :class:`PopulationTracker` asks for."""
    needed = ("every", "folder", "record_members", "save", "steps", "history")
    if tracker is not None and not all(hasattr(tracker, k) for k in needed):
        raise JaxinterInputError(
            f"tracker: expected a tracker (jaxinter.analysis.InteractionTracker, ...) or None, "
            f"got {type(tracker).__name__}")
