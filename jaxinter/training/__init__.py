"""Training, apart from the models and the analyses: the optax loop, checkpoints, populations.

``train(model, data)`` fits a Flax Linen or NNX classifier with optax (jitted ``lax.scan`` over
steps, resumable checkpoints, callbacks such as trackers); :class:`Trainer` holds the pure step
functions behind it; :func:`init_population` and :func:`train_population` train a grid of
members (label-noise rates x seeds) in one vmapped program, measured by any tracker.
"""

from ._checkpoints import load_checkpoint, save_checkpoint
from ._population import (
    Population,
    PopulationTracker,
    init_population,
    population_run,
    train_population,
)
from ._train import TrainResult, train
from ._trainer import Trainer, TrainState, cross_entropy

__all__ = [
    "Population",
    "PopulationTracker",
    "TrainResult",
    "TrainState",
    "Trainer",
    "cross_entropy",
    "init_population",
    "load_checkpoint",
    "population_run",
    "save_checkpoint",
    "train",
    "train_population",
]
