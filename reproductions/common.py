"""What every reproduction shares: its command line, its result record, and table helpers.

A reproduction runs studies (``jaxinter.studies``) in a resumable folder under
``runs/reproductions/<paper>/<setting>`` (summary.json beside the study's cache), reduces each
study's summary to the findings the documentation states, and writes a record
``reproductions/results/<paper>_<setting>.json`` (and the study's summary beside it, as
``<paper>_<setting>.summary.json``):

    {"reproduction", "paper", "setting", "mode", "command", "config", "data", "seeds",
     "environment", "seconds", "comparisons": [{"finding", "paper", "ours", "agrees"}, ...],
     "findings": {...}}

``comparisons`` puts the paper's reference value beside ours for every finding the README and
docs quote. ``reproductions/render.py`` renders the README's and docs' tables from these
records; a test fails when they drift. ``--quick`` runs a small version (seconds to a minute on
digits or built-in data) that the default test suite runs and whose trends it asserts; quick
records go to the run folder only, never to ``reproductions/results``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "reproductions" / "results"
RUNS = ROOT / "runs" / "reproductions"
MNIST = ROOT.parent / "shared" / "data" / "mnist"

sys.path.insert(0, str(ROOT / "benchmarks"))
from harness import environment  # noqa: E402  (the benchmarks' record of device and versions)

from jaxinter.io import labeled_array, save_json  # noqa: E402


def values(summary: dict, *keys: str) -> np.ndarray:
    """The values of the labeled array ``summary[k0][k1]...`` (NaN for null)."""
    obj = summary
    for key in keys:
        obj = obj[key]
    return labeled_array(obj)[0]


def coords(summary: dict, *keys: str) -> dict[str, list]:
    """The axis labels of the labeled array ``summary[k0][k1]...``."""
    obj = summary
    for key in keys:
        obj = obj[key]
    return labeled_array(obj)[2]


def rounded(x, digits: int = 4):
    """JSON-friendly rounding of a number or an array (NaN -> None)."""
    arr = np.asarray(x, float)
    out = np.where(np.isfinite(arr), np.round(arr, digits), np.nan).tolist()
    if arr.ndim == 0:
        return out if np.isfinite(out) else None
    return np.where(np.isfinite(arr), np.array(out, object), None).tolist()


def comparison(finding: str, paper, ours, agrees: bool | None) -> dict:
    """One row of a record's comparisons: the paper's value beside ours."""
    return {"finding": finding, "paper": paper, "ours": ours,
            "agrees": None if agrees is None else bool(agrees)}


def record_path(paper: str, setting: str) -> Path:
    return RESULTS / f"{paper}_{setting}.json"


def load_record(paper: str, setting: str) -> dict | None:
    """The committed record of a full run, or None."""
    path = record_path(paper, setting)
    return json.loads(path.read_text()) if path.exists() else None


def summary_path(paper: str, setting: str) -> Path:
    return RESULTS / f"{paper}_{setting}.summary.json"


def write_record(record: dict, folder: Path, quick: bool) -> Path:
    """Write the record beside the study's summary.json; a full run also copies both to
    ``reproductions/results`` (the summary, so a test can recompute the findings from it)."""
    save_json(folder / "reproduction.json", record)
    if quick:
        return folder / "reproduction.json"
    paper, setting = record["paper"], record["setting"]
    summary_path(paper, setting).write_text((folder / "summary.json").read_text())
    return save_json(record_path(paper, setting), record)


def main(paper: str, settings: dict[str, Callable], description: str) -> int:
    """Command line of one paper's reproduction: ``python reproductions/<paper>.py SETTING``.

    Args:
      paper: the file's name (layerwise, dynamics, correlations, separation).
      settings: ``{setting: run(quick, data_path, folder) -> record}``.
      description: shown by ``--help``.
    """
    parser = argparse.ArgumentParser(prog=f"reproductions/{paper}.py", description=description)
    parser.add_argument("setting", choices=sorted(settings))
    parser.add_argument("--quick", action="store_true",
                        help="a small version (the one the test suite runs); not recorded")
    parser.add_argument("--data-path", default=str(MNIST), help="MNIST folder (IDX files)")
    parser.add_argument("--out", default=None, help=f"run folder (default {RUNS}/...)")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    folder = Path(args.out or RUNS / paper / f"{args.setting}_{mode}")
    record = run_setting(settings[args.setting], paper, args.setting, args.quick,
                         args.data_path, folder)
    print(json.dumps(record["comparisons"], indent=1))
    return 0


def run_setting(run: Callable, paper: str, setting: str, quick: bool, data_path, folder: Path
                ) -> dict:
    """Run one setting, time it and write its record; returns the record."""
    folder.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), time.process_time()
    record = run(quick, data_path, folder)
    mode = "quick" if quick else "full"
    command = f"python reproductions/{paper}.py {setting}" + (" --quick" if quick else "")
    if record["data"].get("dataset") == "mnist":
        command += " --data-path ../shared/data/mnist"
    record = {"reproduction": f"{paper}/{setting}", "paper": paper, "setting": setting,
              "mode": mode, "command": command, **record,
              "environment": environment(),
              "seconds": {"wall": round(time.perf_counter() - start, 1),
                          "cpu": round(time.process_time() - cpu, 1),
                          "note": "cached stages of an earlier run take no time"},
              "cpu_count": os.cpu_count()}
    write_record(record, folder, quick)
    return record


def table(header: list[str], rows: list[list]) -> str:
    """A markdown table; floats printed as given (format them before)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(x, digits: int = 2) -> str:
    """A number with fixed decimals, '-' for missing."""
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def provenance(record: dict) -> str:
    """The line under every generated table: command, date, device and versions, record."""
    env = record["environment"]
    return (f"(`{record['command']}`; {env['date'][:10]}, {env['device']} "
            f"({env['cpu_count']} cores), jax {env['versions']['jax']}, flax "
            f"{env['versions']['flax']}; record "
            f"`reproductions/results/{record['paper']}_{record['setting']}.json`)")
