"""What a configuration costs, from its sizes alone (nothing is loaded or run).

The work of a study is counted in three units: training epochs (or steps) of its models,
masked model evaluations (samples x 2**n masked inputs, each through every captured layer) and
AND-OR extractions (one game of 2**n values each). The seconds are a rough guess from these
counts, calibrated on the small sweep on a loaded 2-core CPU; they order and balance the work
and give the dry run an order of magnitude, nothing more. A layerwise configuration whose
models train in a population (``population_groups``) counts its share of the population's
models, each at ``POPULATION_SHARE`` of the seconds of a model trained alone.
"""

from __future__ import annotations

import dataclasses

from ..errors import check_instance
from ._grid import Configuration, check_configurations, population_groups

BUILT_IN_LAYERS = {"cnn": 5, "resnet": 5, "vit": 4}  # captured layers of the other models
# calibration: fixed seconds per study, seconds per training epoch (digits) or step, per
# thousand masked evaluations and per thousand game values extracted (2-core CPU)
FIXED_SECONDS = 20.0
EPOCH_SECONDS, STEP_SECONDS = 0.5, 0.01
EVALUATION_SECONDS, EXTRACTION_SECONDS = 0.02, 0.05
POPULATION_SHARE = 0.75  # CPU-s of a population member / of a model trained alone (measured)


@dataclasses.dataclass(frozen=True)
class Cost:
    """The size of one configuration's work.

    Attributes:
      epochs: training epochs over all its models (0 when it counts steps).
      steps: training steps over all its models (populations count each member).
      evaluations: masked inputs evaluated (samples x 2**n x copies).
      extracted: game values extracted (games x 2**n).
      seconds: rough wall-clock estimate on a 2-core CPU.
      population: models trained in the population its models belong to (0: trained alone).
    """

    epochs: int
    steps: int
    evaluations: int
    extracted: int
    seconds: float
    population: int = 0


def estimate_costs(configurations) -> list[Cost]:
    """The cost of every configuration of a sweep, its share of a population's training
    included (``population_groups``).

    Args:
      configurations: the ``Configuration`` objects of a sweep.

    Returns:
      One ``Cost`` per configuration, in order.
    """
    check_configurations(configurations)
    costs = {}
    for group in population_groups(configurations):
        if group[0].population is None:
            costs[group[0].id] = estimate_cost(group[0])
            continue
        seeds = {s for c in group for s in (c.config.seed, c.config.seed + 1)}
        costs.update((c.id, estimate_cost(c, len(seeds), len(seeds) / len(group)))
                     for c in group)
    return [costs[c.id] for c in configurations]


def estimate_cost(configuration: Configuration, population: int = 0,
                  models: float = 2.0) -> Cost:
    """The counted work of a configuration and a rough estimate of its seconds.

    Args:
      configuration: a ``Configuration`` of a sweep.
      population: for a layerwise configuration, the number of models trained in its
        population (0: it trains its own two models alone).
      models: its share of the population's models (the population over its configurations).

    Returns:
      ``Cost``.
    """
    check_instance(configuration, "configuration", Configuration)
    c = configuration.config
    epochs = steps = evaluations = extracted = 0
    share = POPULATION_SHARE if population else 1.0
    if configuration.analysis == "layerwise":
        layers = c.depth if c.model == "mlp" else BUILT_IN_LAYERS.get(c.model, 5)
        copies = 1 + c.noise_draws
        epochs = (models if population else 2) * c.epochs
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
    seconds = (FIXED_SECONDS + EPOCH_SECONDS * epochs * share + STEP_SECONDS * steps
               + EVALUATION_SECONDS * evaluations / 1e3 + EXTRACTION_SECONDS * extracted / 1e3)
    return Cost(round(epochs), steps, evaluations, extracted, seconds, population)
