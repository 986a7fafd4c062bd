"""Shared benchmark harness: timing with compile separated from steady state, and result files.

Usage::

    from harness import Results, time_call

    results = Results("transforms", "Moebius transform, jaxinter vs baselines",
                      columns=["system", "n", "batch", "first_s", "median_s", "repeats"])
    t = time_call(lambda: ji.moebius(u), repeats=5)   # Timing(first_s, median_s, min_s, repeats)
    results.add(system="jaxinter", n=20, batch=1, **t.row())
    results.note("timings taken on a shared 2-core CPU")
    results.write()   # benchmarks/results/transforms.json and transforms.md

``time_call`` times the first call on its own (for jax it includes tracing and compilation)
and then reports the median and minimum of ``repeats`` further calls; ``cpu_time_call`` times
one call in wall and process CPU seconds (CPU time counts all threads and is far less sensitive
to other jobs on a shared machine), for benchmarks that interleave systems round by round.
``Results.section`` adds further tables to the same result files. Every call is followed by
``jax.block_until_ready`` on its result, so asynchronous dispatch is not mistaken for speed
(numpy and torch results pass through unchanged). ``environment()`` records the device, dtype
defaults, library versions and CPU; ``Results.write`` stores it with the rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jax

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VERSIONED = ("jax", "jaxlib", "numpy", "torch", "shapiq", "flax", "optax")


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds for the first call (compile + run) and for steady-state calls."""

    first_s: float
    median_s: float
    min_s: float
    repeats: int

    def row(self) -> dict:
        return dataclasses.asdict(self)


def time_call(fn: Callable[[], object], repeats: int = 5, budget_s: float | None = None) -> Timing:
    """Time ``fn()``: the first call alone, then the median of ``repeats`` calls.

    ``budget_s`` lowers ``repeats`` (to at least 1) so that the steady-state calls take about
    that long in total, judged from the first call; use it for slow baselines.
    """
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    if budget_s is not None:
        repeats = max(1, min(repeats, int(budget_s / max(first, 1e-9))))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return Timing(first, statistics.median(times), min(times), repeats)


def cpu_time_call(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, process CPU seconds, result) of one call of ``fn``, result made ready."""
    start, cpu = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, time.process_time() - cpu, out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    """Device, dtype default, library versions, CPU and host load of this process."""
    versions = {}
    for package in VERSIONED:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    device = jax.devices()[0]
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": f"{device.platform}: {device.device_kind}",
        "device_count": jax.device_count(),
        "x64_enabled": bool(jax.config.jax_enable_x64),
        "python": platform.python_version(),
        "versions": versions,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class Results:
    """Rows of one benchmark, written as ``<name>.json`` and a markdown table ``<name>.md``."""

    def __init__(self, name: str, title: str, columns: list[str], out_dir: Path = RESULTS_DIR):
        self.name, self.title, self.columns = name, title, list(columns)
        self.out_dir = Path(out_dir)
        self.rows: list[dict] = []
        self.notes: list[str] = []
        self.sections: list[Results] = []
        self.env = environment()

    def section(self, title: str, columns: list[str]) -> Results:
        """A further table (its own rows and notes) written into this result's files."""
        part = Results(self.name, title, columns, self.out_dir)
        self.sections.append(part)
        return part

    def add(self, **row) -> dict:
        """Append a row (missing columns are left blank in the table; extra keys go to JSON)."""
        self.rows.append(row)
        return row

    def note(self, text: str) -> None:
        """A line printed under the table (method, caveats, what was skipped and why)."""
        self.notes.append(text)

    def markdown(self) -> str:
        env = self.env
        lines = [
            f"# {self.title}",
            "",
            f"Device: {env['device']} ({env['cpu']}, {env['cpu_count']} cores); "
            f"jax {env['versions']['jax']}, numpy {env['versions']['numpy']}, "
            f"torch {env['versions']['torch']}, shapiq {env['versions']['shapiq']}; "
            f"{env['date']}.",
            "",
        ]
        if self.rows or not self.sections:
            lines += self._table()
        for part in self.sections:
            lines += ["", f"## {part.title}", "", *part._table()]
        return "\n".join(lines) + "\n"

    def _table(self) -> list[str]:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(_fmt(r.get(c)) for c in self.columns) + " |" for r in self.rows]
        if self.notes:
            lines += [""] + [f"- {text}" for text in self.notes]
        return lines

    def write(self) -> tuple[Path, Path]:
        """Write ``<out_dir>/<name>.json`` and ``<name>.md``; return both paths."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        json_path = self.out_dir / f"{self.name}.json"
        md_path = self.out_dir / f"{self.name}.md"
        payload = {"name": self.name, "title": self.title, "environment": self.env,
                   "columns": self.columns, "rows": self.rows, "notes": self.notes}
        if self.sections:
            payload["sections"] = [{"title": p.title, "columns": p.columns, "rows": p.rows,
                                    "notes": p.notes} for p in self.sections]
        json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        md_path.write_text(self.markdown())
        return json_path, md_path
