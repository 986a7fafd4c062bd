"""Sweep files: a grid of study configurations declared in TOML, expanded and validated.

A sweep file names the analyses to run and the values of their config fields::

    analyses = ["layerwise", "dynamics"]

    [grid]                 # axes crossed in every analysis whose config has the field
    dataset = ["digits"]

    [layerwise]            # fixed fields of LayerwiseConfig
    n = 6
    [layerwise.grid]       # axes of this analysis only
    seed = [0, 2, 4, 6]

    [dynamics]             # fixed fields of DynamicsConfig
    noise = [0.0, 0.2, 0.5]

Every configuration is the cartesian product of its axes (``[grid]`` axes first, in file
order, then the analysis' own), validated by its study config; an error names the key of the
file that holds the bad value
(``layerwise.grid.seed[2]: expected an integer in [0, 2147483646], got 'a'``).
A configuration's identity is a hash of its analysis and its whole config, so editing a grid
keeps the identity (and the folder, and the results) of every configuration that did not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from pathlib import Path

import jax

from ..errors import JaxinterInputError, check_path
from ..studies import (
    CorrelationsConfig,
    DynamicsConfig,
    LayerwiseConfig,
    SeparationConfig,
    population_options,
    run_correlations,
    run_dynamics,
    run_layerwise,
    run_separation,
)

ANALYSES = {  # name -> (config class, study function)
    "layerwise": (LayerwiseConfig, run_layerwise),
    "dynamics": (DynamicsConfig, run_dynamics),
    "separation": (SeparationConfig, run_separation),
    "correlations": (CorrelationsConfig, run_correlations),
}
TOP_KEYS = ("analyses", "grid", *ANALYSES)
# Vmapped over a population, convolutions become grouped convolutions, which XLA:CPU runs
# slower than the members one after another (the CNN on MNIST: 2.3 CPU-s per member and step
# in a population of 4, 0.8 alone), so on CPU these models train alone.
CONVOLUTIONAL = ("cnn", "resnet")


@dataclasses.dataclass(frozen=True)
class Configuration:
    """One study of a sweep.

    Attributes:
      analysis: one of ``ANALYSES``.
      config: the study's validated config (``LayerwiseConfig``, ...).
      axes: ``{field: value}`` of the grid axes that pick this configuration.
      id: stable identity, ``analysis-<12 hex digits>`` (a hash of the analysis and the whole
        config): the name of its folder.
    """

    analysis: str
    config: object
    axes: dict

    @property
    def id(self) -> str:
        text = json.dumps({"analysis": self.analysis, "config": self.config.to_dict()},
                          sort_keys=True)
        return f"{self.analysis}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def run(self, folder: Path | None = None):
        """Run the study (cached under ``folder/cache``) and return it."""
        return ANALYSES[self.analysis][1](self.config, folder)

    @property
    def population(self) -> str | None:
        """What the configurations whose models train as one population share (the training
        options of a layerwise study, as JSON), or None when its models train alone (other
        analyses, a user's model, a convolutional model on CPU)."""
        if self.analysis != "layerwise" or (self.config.model in CONVOLUTIONAL
                                            and jax.default_backend() == "cpu"):
            return None
        options = population_options(self.config)
        return None if options is None else json.dumps(options, sort_keys=True)



def check_configurations(configurations, name: str = "configurations", *,
                         nonempty: bool = False) -> None:
    """Raise unless ``configurations`` is a list (or tuple) of ``Configuration`` objects
    (non-empty when ``nonempty``)."""
    if (isinstance(configurations, str) or not isinstance(configurations, list | tuple)
            or not all(isinstance(c, Configuration) for c in configurations)
            or (nonempty and not configurations)):
        raise JaxinterInputError(
            f"{name}: expected a list of sweep Configuration objects, got {configurations!r:.60}")


@dataclasses.dataclass(frozen=True)
class Sweep:
    """An expanded sweep file.

    Attributes:
      analyses: the analyses, in file order.
      axes: ``{analysis: {field: values}}`` of every analysis' grid axes, in crossing order.
      configurations: every configuration, analyses in order, the last axis fastest.
    """

    analyses: tuple[str, ...]
    axes: dict
    configurations: tuple[Configuration, ...]

    def of(self, analysis: str) -> tuple[Configuration, ...]:
        """The configurations of one analysis."""
        return tuple(c for c in self.configurations if c.analysis == analysis)


def population_groups(configurations) -> list[tuple[Configuration, ...]]:
    """The configurations grouped by population: layerwise configurations equal but for their
    seeds (and other options their training ignores) train their models together; every other
    configuration is a group of its own. Groups in order of their first configuration."""
    check_configurations(configurations)
    groups: dict[str, list[Configuration]] = {}
    for c in configurations:
        groups.setdefault(c.population or c.id, []).append(c)
    return [tuple(g) for g in groups.values()]


def read_sweep(path: str | Path) -> Sweep:
    """Read, expand and validate a sweep file, before any work.

    Args:
      path: the TOML file.

    Returns:
      ``Sweep``.

    Raises:
      JaxinterInputError: for an unreadable file or a bad key or value, naming the key.
    """
    path = check_path(path, "path")
    try:
        with path.open("rb") as f:
            spec = tomllib.load(f)
    except OSError as err:
        raise JaxinterInputError(f"sweep file: expected a readable file, got {str(path)!r} "
                                 f"({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise JaxinterInputError(f"sweep file: expected TOML, got {path.name}: {err}") from None
    return expand_sweep(spec)


def expand_sweep(spec: dict) -> Sweep:
    """Expand and validate the content of a sweep file (the dict ``tomllib`` reads).

    Args:
      spec: ``{"analyses": [...], "grid": {...}, "<analysis>": {..., "grid": {...}}}``.

    Returns:
      ``Sweep``.

    Raises:
      JaxinterInputError: naming the key of the bad value.
    """
    if not isinstance(spec, dict):
        raise JaxinterInputError(f"sweep file: expected a table, got {spec!r}")
    for key in spec:
        if key not in TOP_KEYS:
            raise JaxinterInputError(f"{key}: expected one of the keys {list(TOP_KEYS)}, got "
                                     f"{key!r}")
    analyses = _analyses(spec.get("analyses"))
    shared = _axes(spec.get("grid", {}), "grid")
    fields = {a: _fields(a) for a in analyses}
    for field in shared:
        if not any(field in fields[a] for a in analyses):
            raise JaxinterInputError(
                f"grid.{field}: expected a field of the configs of {list(analyses)}, got "
                f"{field!r}")
    for name in ANALYSES:
        if name in spec and name not in analyses:
            raise JaxinterInputError(f"{name}: expected only tables of the analyses "
                                     f"{list(analyses)}; add {name!r} to analyses")
    axes, configurations = {}, []
    for analysis in analyses:
        sources, fixed, own = _analysis_table(spec.get(analysis, {}), analysis, fields[analysis])
        crossed = {f: (v, f"grid.{f}") for f, v in shared.items() if f in fields[analysis]}
        for field in own:
            if field in crossed or field in fixed:
                raise JaxinterInputError(
                    f"{analysis}.grid.{field}: expected a field declared once, got it also in "
                    f"{'[grid]' if field in crossed else f'[{analysis}]'}")
            crossed[field] = (own[field], f"{analysis}.grid.{field}")
        for field in fixed:
            if field in crossed:
                raise JaxinterInputError(
                    f"{analysis}.{field}: expected a field declared once, got it also in [grid]")
        axes[analysis] = {f: list(v) for f, (v, _) in crossed.items()}
        for index in itertools.product(*(range(len(v)) for v, _ in crossed.values())):
            picked = {f: (values[i], f"{where}[{i}]")
                      for (f, (values, where)), i in zip(crossed.items(), index, strict=True)}
            configurations.append(
                _configuration(analysis, fixed, sources, picked))
    ids = [c.id for c in configurations]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise JaxinterInputError(f"grid: expected distinct configurations, got {duplicates[0]} "
                                 f"more than once (an axis repeats a value)")
    return Sweep(analyses, axes, tuple(configurations))


def _analyses(value) -> tuple[str, ...]:
    if (not isinstance(value, list) or not value
            or any(not isinstance(v, str) or v not in ANALYSES for v in value)
            or len(set(value)) != len(value)):
        raise JaxinterInputError(f"analyses: expected a non-empty list of distinct names among "
                                 f"{list(ANALYSES)}, got {value!r}")
    return tuple(value)


def _fields(analysis: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(ANALYSES[analysis][0]))


def _axes(table, where: str) -> dict[str, list]:
    if not isinstance(table, dict):
        raise JaxinterInputError(f"{where}: expected a table of axes, got {table!r}")
    for field, values in table.items():
        if not isinstance(values, list) or not values:
            raise JaxinterInputError(f"{where}.{field}: expected a non-empty list of values, "
                                     f"got {values!r}")
    return dict(table)


def _analysis_table(table, analysis: str, fields: tuple[str, ...]):
    """(where each fixed field comes from, the fixed fields, the analysis' own axes)."""
    if not isinstance(table, dict):
        raise JaxinterInputError(f"{analysis}: expected a table of config fields, got {table!r}")
    fixed = {k: v for k, v in table.items() if k != "grid"}
    own = _axes(table.get("grid", {}), f"{analysis}.grid")
    for field in (*fixed, *own):
        if field not in fields:
            where = analysis if field in fixed else f"{analysis}.grid"
            raise JaxinterInputError(f"{where}.{field}: expected a field of "
                                     f"{ANALYSES[analysis][0].__name__} {list(fields)}, got "
                                     f"{field!r}")
    return {f: f"{analysis}.{f}" for f in fixed}, fixed, own


def _configuration(analysis: str, fixed: dict, sources: dict, picked: dict) -> Configuration:
    """The validated configuration; a config error is renamed after the key of its value."""
    values = {**fixed, **{f: v for f, (v, _) in picked.items()}}
    where = {**sources, **{f: w for f, (_, w) in picked.items()}}
    try:
        config = ANALYSES[analysis][0](**values)
    except JaxinterInputError as err:
        raise JaxinterInputError(_located(str(err), analysis, where)) from None
    return Configuration(analysis, config, {f: v for f, (v, _) in picked.items()})


def _located(message: str, analysis: str, where: dict[str, str]) -> str:
    """``message`` ("field[i]: expected ...") with the field replaced by its key in the file
    (``layerwise.grid.seed[2]``, ``dynamics.noise[1]``), or prefixed by the analysis."""
    match = re.match(r"(\w+)((?:\[\d+\])*): ", message)
    if match and match.group(1) in where:
        return where[match.group(1)] + match.group(2) + message[match.end() - 2:]
    return f"{analysis}: {message}"
