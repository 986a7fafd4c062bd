"""Studies, the computation behind each command as one documented Python call: layer 4.

A study trains what it needs on a dataset, runs an analysis pipeline with resumable per-stage
caching, and returns a result dataclass whose ``summary()`` is the self-describing content of
``summary.json``. The command line only parses options into a study's config, calls the study
and renders its result; sweeps run many studies. Studies build on every lower layer (analysis,
masking, interactions, training, io, data, models) and never on plots or commands.
"""

from ._correlations import CorrelationsConfig, CorrelationsStudy, run_correlations
from ._dynamics import DynamicsConfig, DynamicsStudy, run_dynamics
from ._layerwise import (
    LayerwiseConfig,
    LayerwiseStudy,
    population_options,
    run_layerwise,
    train_layerwise_population,
)
from ._selfcheck import SelfCheckConfig, SelfCheckStudy, run_selfcheck
from ._separation import SeparationConfig, SeparationStudy, run_separation

__all__ = [
    "CorrelationsConfig",
    "CorrelationsStudy",
    "DynamicsConfig",
    "DynamicsStudy",
    "LayerwiseConfig",
    "LayerwiseStudy",
    "SelfCheckConfig",
    "SelfCheckStudy",
    "SeparationConfig",
    "SeparationStudy",
    "population_options",
    "run_correlations",
    "run_dynamics",
    "run_layerwise",
    "run_selfcheck",
    "run_separation",
    "train_layerwise_population",
]
