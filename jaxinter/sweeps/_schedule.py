"""Running a sweep: a folder per configuration, a deterministic share per process, resumption.

Layout of the output folder::

    manifest.json                 the expanded grid: every configuration, its axes, config,
                                  folder, estimated cost, population and process
    configs/<analysis>-<hash>/    one folder per configuration, named by its identity
        cache/                    the study's per-stage cache (resumes inside a configuration)
        summary.json              written atomically last: the completion marker
    populations/<hash>/           the models of a population, trained once (its members'
                                  ids hashed), handed to each member's cache
    processes/<index>.json        each process' heartbeat (running / finished, time)

Every process expands the same sweep file, so all compute the same assignment (longest
estimated population groups first, each to the least loaded process) without talking to each
other; a process runs only its own configurations that have no ``summary.json`` yet. A group
(``population_groups``: layerwise configurations equal but for their seeds) goes whole to one
process, which first trains the models its unfinished members miss as one vmapped population,
so the population, and every result, is the same for any number of processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from ..errors import check_bool, check_instance, check_int, check_path
from ..io import Progress, log, save_json
from ..studies import train_layerwise_population
from ._cost import estimate_costs
from ._grid import Configuration, Sweep, check_configurations, population_groups

HEARTBEAT_SECONDS = 2.0  # how often a process stamps its heartbeat file
STALE_SECONDS = 20.0  # a process whose heartbeat is older is taken for dead
SUMMARY = "summary.json"


def configuration_folder(out: Path | str, configuration: Configuration) -> Path:
    """The folder of a configuration: ``out/configs/<id>``."""
    out = check_path(out, "out")
    check_instance(configuration, "configuration", Configuration)
    return Path(out) / "configs" / configuration.id


def is_done(out: Path | str, configuration: Configuration) -> bool:
    """Whether a configuration's ``summary.json`` (its completion marker) exists."""
    out = check_path(out, "out")
    check_instance(configuration, "configuration", Configuration)
    return (configuration_folder(out, configuration) / SUMMARY).exists()


def population_folder(out: Path | str, group) -> Path:
    """The folder of a population group's models: ``out/populations/<hash of the ids>``."""
    out = check_path(out, "out")
    check_configurations(group, "group", nonempty=True)
    ids = json.dumps(sorted(c.id for c in group))
    return Path(out) / "populations" / hashlib.sha256(ids.encode()).hexdigest()[:12]


def assign(configurations, process_count: int) -> list[int]:
    """The process of each configuration: population groups (``population_groups``) whole,
    longest estimated first, to the least loaded process.

    Args:
      configurations: the ``Configuration`` objects of a sweep.
      process_count: number of processes (>= 1).

    Returns:
      One process index per configuration, the same in every process.
    """
    check_configurations(configurations)
    check_int(process_count, "process_count", 1)
    seconds = dict(zip((c.id for c in configurations),
                       (k.seconds for k in estimate_costs(configurations)), strict=True))
    groups = [(sum(seconds[c.id] for c in g), g) for g in population_groups(configurations)]
    load, owner = [0.0] * process_count, {}
    for cost, group in sorted(groups, key=lambda g: (-g[0], g[1][0].id)):
        process = min(range(process_count), key=lambda p: (load[p], p))
        load[process] += cost
        owner.update((c.id, process) for c in group)
    return [owner[c.id] for c in configurations]


def write_manifest(sweep: Sweep, out: Path | str, process_count: int = 1) -> Path:
    """Write ``out/manifest.json``: every configuration of the sweep with its folder,
    axes, config, estimated cost and process.

    Args:
      sweep: the expanded ``Sweep``.
      out: the output folder.
      process_count: number of processes sharing the sweep.

    Returns:
      The manifest's path.
    """
    check_instance(sweep, "sweep", Sweep)
    out = check_path(out, "out", writable="dir")
    owners = assign(sweep.configurations, process_count)
    costs = estimate_costs(sweep.configurations)
    rows = [{"id": c.id, "analysis": c.analysis, "axes": c.axes,
             "folder": str(configuration_folder(".", c)), "process": p,
             "estimated_seconds": k.seconds, "population": k.population,
             "config": c.config.to_dict()}
            for c, p, k in zip(sweep.configurations, owners, costs, strict=True)]
    return save_json(Path(out) / "manifest.json", {
        "analyses": list(sweep.analyses), "axes": sweep.axes, "process_count": process_count,
        "configurations": rows})


def run_configuration(configuration: Configuration, out: Path | str) -> Path:
    """Run one configuration's study in its folder (resuming its cached stages) and write its
    ``summary.json``.

    Args:
      configuration: the configuration.
      out: the sweep's output folder.

    Returns:
      The path of its ``summary.json``.
    """
    check_instance(configuration, "configuration", Configuration)
    out = check_path(out, "out", writable="dir")
    folder = configuration_folder(out, configuration)
    start = time.perf_counter()
    study = configuration.run(folder)
    return save_json(folder / SUMMARY, {
        "id": configuration.id, "analysis": configuration.analysis,
        "axes": configuration.axes, "config": configuration.config.to_dict(),
        "seconds": time.perf_counter() - start, "summary": study.summary()})


def run_sweep(sweep: Sweep, out: Path | str, process_index: int = 0, process_count: int = 1,
              wait: bool = True) -> list[Configuration]:
    """Run this process' share of a sweep; process 0 then waits for the others.

    Configurations already done (with a ``summary.json``) are skipped and the studies resume
    their cached stages, so rerunning an interrupted sweep computes only what is missing.

    Args:
      sweep: the expanded ``Sweep``.
      out: the output folder, shared by all processes.
      process_index: this process, in ``0..process_count - 1``.
      process_count: number of processes sharing the sweep.
      wait: whether process 0 waits until every configuration is done or its process is dead.

    Returns:
      The configurations still missing (empty when the sweep is complete; only process 0,
      when it waits, sees the others' work).
    """
    check_instance(sweep, "sweep", Sweep)
    out = check_path(out, "out", writable="dir")
    check_bool(wait, "wait")
    check_int(process_count, "process_count", 1)
    check_int(process_index, "process_index", 0, process_count - 1)
    out = Path(out)
    if process_index == 0:
        write_manifest(sweep, out, process_count)
    owners = assign(sweep.configurations, process_count)
    mine = [c for c, p in zip(sweep.configurations, owners, strict=True) if p == process_index]
    heartbeat = _Heartbeat(out, process_index)
    try:
        _run_share(sweep, mine, out)
    finally:
        heartbeat.stop()
    if process_index == 0 and wait:
        _wait_for_others(sweep, owners, out, heartbeat.started)
    return [c for c in sweep.configurations if not is_done(out, c)]


def train_populations(configurations, out: Path | str) -> None:
    """Train, per population group, the models its unfinished configurations miss as one
    population, kept in ``population_folder`` and handed to each configuration's cache.

    Args:
      configurations: the configurations of one process (whole population groups).
      out: the sweep's output folder.
    """
    check_configurations(configurations)
    out = check_path(out, "out", writable="dir")
    for group in population_groups(configurations):
        todo = [c for c in group if not is_done(out, c)]
        if todo and group[0].population is not None:
            start = time.perf_counter()
            seeds = train_layerwise_population([c.config for c in todo],
                                               [configuration_folder(out, c) for c in todo],
                                               population_folder(out, group))
            if seeds:
                log(f"[sweep] population of seeds {list(seeds)} for {len(todo)} "
                    f"configurations: {time.perf_counter() - start:.1f}s")


def _run_share(sweep: Sweep, mine: list[Configuration], out: Path) -> None:
    """Run the missing configurations of ``mine``, with progress and an ETA."""
    total = len(sweep.configurations)
    train_populations(mine, out)
    todo = [c for c in mine if not is_done(out, c)]
    estimated = {c.id: k.seconds for c, k in zip(sweep.configurations,
                                                  estimate_costs(sweep.configurations),
                                                  strict=True)}
    done_estimate, start = 0.0, time.perf_counter()
    done = sum(is_done(out, c) for c in sweep.configurations)
    log(f"[sweep] {done}/{total} configurations done; this process runs {len(todo)} of its "
        f"{len(mine)}")
    with Progress("sweep", total, unit="configuration", initial=done) as bar:
        for i, configuration in enumerate(todo):
            log(f"[sweep] {configuration.id} {configuration.axes}")
            run_configuration(configuration, out)
            done_estimate += estimated[configuration.id]
            rate = (time.perf_counter() - start) / done_estimate  # measured s per estimated s
            left = sum(estimated[c.id] for c in todo[i + 1:]) * rate
            done = sum(is_done(out, c) for c in sweep.configurations)
            bar.update(done - bar.done)
            log(f"[sweep] {done}/{total} configurations done; this process: ETA "
                f"{_duration(left)}")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _wait_for_others(sweep: Sweep, owners: list[int], out: Path, since: float) -> None:
    """Wait until every configuration is done, or every process owning a missing one has
    finished or stopped beating."""
    while True:
        missing = {p for c, p in zip(sweep.configurations, owners, strict=True)
                   if not is_done(out, c)}
        alive = {p for p in missing if _alive(out, p, since)}
        if not alive:
            if missing:
                log(f"[sweep] processes {sorted(missing)} stopped before finishing their "
                    f"configurations; rerun the same command to complete the sweep")
            return
        time.sleep(HEARTBEAT_SECONDS / 2)


def _alive(out: Path, index: int, since: float) -> bool:
    """Whether process ``index`` is still working on this run: its heartbeat is fresh and
    not finished (before its first beat, for up to ``STALE_SECONDS`` after ``since``)."""
    try:
        beat = json.loads((out / "processes" / f"{index}.json").read_text())
    except (OSError, ValueError):
        return time.time() - since < STALE_SECONDS
    if beat["time"] < since - STALE_SECONDS:  # a previous run's file
        return time.time() - since < STALE_SECONDS
    return beat["state"] == "running" and time.time() - beat["time"] < STALE_SECONDS


class _Heartbeat:
    """Stamps ``out/processes/<index>.json`` every few seconds until stopped."""

    def __init__(self, out: Path, index: int):
        self.path, self.started = out / "processes" / f"{index}.json", time.time()
        self._stop = threading.Event()
        self._beat("running")
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _beat(self, state: str) -> None:
        save_json(self.path, {"state": state, "time": time.time(), "pid": os.getpid(),
                              "host": socket.gethostname()})

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._beat("running")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._beat("finished")
