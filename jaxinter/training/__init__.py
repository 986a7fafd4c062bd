"""Training, apart from the models and the analyses: the optax loop, checkpoints, populations.

``train(model, data)`` fits a Flax Linen or NNX classifier with optax (jitted ``lax.scan`` over
steps, resumable checkpoints, callbacks); :class:`Trainer` is the pure step function behind it,
vmappable over a population of models.
"""

from ._train import (
    Trainer,
    TrainResult,
    TrainState,
    cross_entropy,
    load_checkpoint,
    population_run,
    save_checkpoint,
    train,
)

__all__ = [
    "TrainResult",
    "TrainState",
    "Trainer",
    "cross_entropy",
    "load_checkpoint",
    "population_run",
    "save_checkpoint",
    "train",
]
