"""Sweeps over many study configurations: layer 4.5, above the studies and plots.

- Sweep files: ``read_sweep`` (TOML) and ``expand_sweep`` (its dict) return a ``Sweep`` of
  validated ``Configuration`` objects (the cartesian product of the declared axes; errors name
  the key of the file); ``ANALYSES`` maps analysis names to study configs and functions.
- Populations: ``population_groups`` groups the layerwise configurations equal but for their
  seeds; ``train_populations`` trains each group's models as one vmapped population
  (``population_folder``) and hands them to the configurations' caches.
- Cost: ``estimate_cost`` counts a configuration's training, masked evaluations and extracted
  game values (``Cost``), with a rough seconds estimate; ``estimate_costs`` those of a sweep,
  knowing its populations.
- Running: ``run_sweep`` runs one process' share (``assign``: population groups whole) in a
  folder per configuration (``configuration_folder``, named by a hash of its config), resumable
  per configuration (``is_done``: its ``summary.json``) and per stage (the studies' caches);
  ``write_manifest``, ``run_configuration``; ``connect`` joins several processes.
- Results: ``load_sweep`` returns a ``SweepResult`` (tidy ``table``, ``spread`` across seeds
  as rows or as one labeled array, ``spread_array``, ``configurations``); ``spread_array`` and
  ``spread_rows`` convert between the two; ``REPORTED`` names what the comparative report
  shows; ``write_csv``.
"""

from ._cost import Cost, estimate_cost, estimate_costs
from ._grid import ANALYSES, Configuration, Sweep, expand_sweep, population_groups, read_sweep
from ._processes import connect
from ._results import (
    REPORTED,
    SPREAD_AXIS,
    STATISTICS,
    SweepResult,
    load_sweep,
    spread_array,
    spread_rows,
    write_csv,
)
from ._schedule import (
    assign,
    configuration_folder,
    is_done,
    population_folder,
    run_configuration,
    run_sweep,
    train_populations,
    write_manifest,
)

__all__ = [
    "ANALYSES",
    "REPORTED",
    "SPREAD_AXIS",
    "STATISTICS",
    "Configuration",
    "Cost",
    "Sweep",
    "SweepResult",
    "assign",
    "configuration_folder",
    "connect",
    "estimate_cost",
    "estimate_costs",
    "expand_sweep",
    "is_done",
    "load_sweep",
    "population_folder",
    "population_groups",
    "read_sweep",
    "run_configuration",
    "run_sweep",
    "spread_array",
    "spread_rows",
    "train_populations",
    "write_csv",
    "write_manifest",
]
