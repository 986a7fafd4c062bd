"""Studies: the computation behind each command, as one documented Python call.

A study trains what it needs on a dataset, runs an analysis pipeline with resumable per-stage
caching, and returns a result dataclass whose ``summary()`` is the self-describing content of
``summary.json``. The command line only parses options into a study's config, calls the study
and renders its result; sweeps run many studies. Studies build on every lower layer (analysis,
masking, interactions, training, io, data, models) and never on plots or commands.
"""

from ._correlations import CorrelationsConfig, CorrelationsStudy, run_correlations
from ._selfcheck import SelfCheckConfig, SelfCheckStudy, run_selfcheck

__all__ = [
    "CorrelationsConfig",
    "CorrelationsStudy",
    "SelfCheckConfig",
    "SelfCheckStudy",
    "run_correlations",
    "run_selfcheck",
]
