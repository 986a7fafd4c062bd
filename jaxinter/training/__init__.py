"""Training, apart from the models and the analyses: layer 2 of jaxinter.

- ``train(model, data)`` fits a Flax Linen or NNX classifier with optax (jitted ``lax.scan``
  over steps, progress, callbacks, resumable checkpoints) and returns a ``TrainResult``.
- ``Trainer`` is the pure step function behind it (``init``, ``step``, ``run``), with its
  state ``TrainState``; it is vmappable over a population of models (``population_run``).
- Checkpoints: ``save_checkpoint``, ``load_checkpoint``; the loss: ``cross_entropy``.

It builds on ``jaxinter.io``, ``jaxinter.data`` and ``jaxinter.models``. See
docs/models.md#training-jaxintertraining.
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
