"""What a configuration costs, from its sizes alone (nothing is loaded or run).

The work of a study is counted in three units: training epochs (or steps) of its models,
masked model evaluations (samples x 2**n masked inputs, each through every captured layer) and
AND-OR extractions (one game of 2**n values each). The seconds are a rough guess from these
counts, calibrated on the small sweep on a loaded 2-core CPU; they order and balance the work
and give the dry run an order of magnitude, nothing more.
"""

from __future__ import annotations

import dataclasses

from ..errors import check_instance
from ._grid import Configuration

BUILT_IN_LAYERS = {"cnn": 5, "resnet": 5, "vit": 4}  # captured layers of the other models
# calibration: fixed seconds per study, seconds per training epoch (digits) or step, per
# thousand masked evaluations and per thousand game values extracted (2-core CPU)
FIXED_SECONDS = 20.0
EPOCH_SECONDS, STEP_SECONDS = 0.5, 0.01
EVALUATION_SECONDS, EXTRACTION_SECONDS = 0.02, 0.05


@dataclasses.dataclass(frozen=True)
class Cost:
    """The size of one configuration's work.

    Attributes:
      epochs: training epochs over all its models (0 when it counts steps).
      steps: training steps over all its models (populations count each member).
      evaluations: masked inputs evaluated (samples x 2**n x copies).
      extracted: game values extracted (games x 2**n).
      seconds: rough wall-clock estimate on a 2-core CPU.
    """

    epochs: int
    steps: int
    evaluations: int
    extracted: int
    seconds: float


def estimate_cost(configuration: Configuration) -> Cost:
    """The counted work of a configuration and a rough estimate of its seconds.

    Args:
      configuration: a ``Configuration`` of a sweep.

    Returns:
      ``Cost``.
    """
    check_instance(configuration, "configuration", Configuration)
    c = configuration.config
    epochs = steps = evaluations = extracted = 0
    if configuration.analysis == "layerwise":
        layers = c.depth if c.model == "mlp" else BUILT_IN_LAYERS.get(c.model, 5)
        copies = 1 + c.noise_draws
        epochs = 2 * c.epochs
        evaluations = c.samples * 2**c.n * (copies + 1)
        extracted = c.samples * 2**c.n * (layers * copies + 1)
    elif configuration.analysis == "dynamics":
        members = len(c.noise) * c.seeds
        steps = members * c.steps
        records = c.steps // c.every + 1
        evaluations = members * records * 2 * c.probe * 2**c.players
        extracted = evaluations * 2  # AND and OR parts
    elif configuration.analysis == "separation":
        epochs = len(c.variants) * len(c.depths) * c.epochs
    elif configuration.analysis == "correlations":
        epochs = len(c.activations) * c.epochs * (1 + c.repeats) + (c.xor_epochs if c.xor else 0)
    seconds = (FIXED_SECONDS + EPOCH_SECONDS * epochs + STEP_SECONDS * steps
               + EVALUATION_SECONDS * evaluations / 1e3 + EXTRACTION_SECONDS * extracted / 1e3)
    return Cost(epochs, steps, evaluations, extracted, seconds)
