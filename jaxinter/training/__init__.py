"""Training, apart from the models and the analyses: layer 2 of jaxinter.

- ``train(model, data)`` fits a Flax Linen or NNX classifier with optax (jitted ``lax.scan``
  over steps, progress, callbacks such as trackers, resumable checkpoints) and returns a
  ``TrainResult``.
- ``train_seeds(model, data, seeds)`` is ``train`` for every seed, as one vmapped population.
- ``Trainer`` holds the pure step functions behind it (``init``, ``step``, ``run``,
  ``apply``), with its state ``TrainState``.
- Populations: ``init_population`` and ``train_population`` train a grid of members
  (label-noise rates x seeds) in one vmapped program (``population_run``), measured by any
  tracker.
- Checkpoints (Orbax, restorable on any device count): ``save_checkpoint``,
  ``load_checkpoint``, ``checkpoint_step``; the loss: ``cross_entropy``;
  divergence: ``check_finite_loss`` (``JaxinterTrainingError`` naming the first step whose
  loss is NaN or infinite, raised by ``train`` and ``train_population``).

It builds on ``jaxinter.io``, ``jaxinter.data`` and ``jaxinter.models``. See
docs/models.md#training-jaxintertraining.
"""

from ._checkpoints import checkpoint_step, load_checkpoint, save_checkpoint
from ._population import (
    Population,
    PopulationTracker,
    init_population,
    population_run,
    train_population,
)
from ._train import TrainResult, train, train_seeds
from ._trainer import Trainer, TrainState, check_finite_loss, cross_entropy

__all__ = [
    "Population",
    "PopulationTracker",
    "TrainResult",
    "TrainState",
    "Trainer",
    "check_finite_loss",
    "checkpoint_step",
    "cross_entropy",
    "init_population",
    "load_checkpoint",
    "population_run",
    "save_checkpoint",
    "train",
    "train_population",
    "train_seeds",
]
