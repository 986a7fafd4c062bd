"""Timing several systems interleaved round by round, wall and CPU seconds, first call apart.

On a shared machine the load changes from minute to minute; timing system A for a while and
then system B compares A under one load with B under another. Here every system's first call
(for jax: tracing and compilation) is timed alone, then each round calls every system once, in
an order that rotates from round to round, so that every system sees the same mix of load::

    timings = time_rounds({"jaxinter": f, "torch": g}, rounds=5)
    timings["torch"].median_s / timings["jaxinter"].median_s

Every call is followed by ``jax.block_until_ready`` on its result. The same statistic (median
and minimum over the same rounds) is reported for every system; ``budget_s`` lets a slow
system sit out the later rounds once its calls have used that many seconds (its ``repeats``
says how many it ran).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable

import jax


@dataclasses.dataclass(frozen=True)
class RoundTiming:
    """Seconds of one system: first call alone, then per-round wall and process-CPU times."""

    first_s: float
    first_cpu_s: float
    median_s: float
    min_s: float
    cpu_median_s: float
    repeats: int
    times_s: tuple[float, ...]

    def row(self) -> dict:
        return dataclasses.asdict(self)


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, process CPU seconds of all threads, result) of one call, result ready."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - wall, time.process_time() - cpu, out


def time_rounds(systems: dict[str, Callable[[], object]], rounds: int = 5,
                budget_s: float | None = None, outputs: dict | None = None
                ) -> dict[str, RoundTiming]:
    """First calls one by one, then ``rounds`` interleaved rounds with a rotating order.

    ``outputs``, if given, receives each system's result (of its first call), for pipelines
    whose next stage needs it.
    """
    names = list(systems)
    first = {}
    for name in names:
        wall, cpu, out = timed(systems[name])
        first[name] = (wall, cpu)
        if outputs is not None:
            outputs[name] = out
    walls: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            if walls[name] and budget_s is not None and sum(walls[name]) >= budget_s:
                continue
            wall, cpu, _ = timed(systems[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {name: RoundTiming(first[name][0], first[name][1], statistics.median(walls[name]),
                              min(walls[name]), statistics.median(cpus[name]),
                              len(walls[name]), tuple(walls[name]))
            for name in names}


def load_average() -> list[float] | None:
    """The host's 1, 5 and 15 minute load averages (other jobs on a shared machine)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None
