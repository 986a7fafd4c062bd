"""A tiny sweep for the tests (seconds per configuration) and helpers to compare results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TINY = """
analyses = ["layerwise", "dynamics"]

[grid]
dataset = ["iris"]

[layerwise]
depth = 2
width = 8
epochs = 2
batch_size = 32
probe_steps = 10
n = 3
samples = 3
noise_draws = 0
examples = 1
extraction = "default"

[layerwise.grid]
seed = [0, 2, 4]

[dynamics]
players = 3
noise = [0.0, 0.3]
seeds = 2
steps = 30
every = 10
probe = 3
andor_steps = 10
width = 8
depth = 2
"""


def write_sweep(folder: Path, text: str = TINY) -> Path:
    """Write a sweep file into ``folder``; returns its path."""
    path = Path(folder) / "sweep.toml"
    path.write_text(text)
    return path


def without_timings(tree):
    """A summary with every measured duration left out (they differ between runs)."""
    if isinstance(tree, dict):
        return {k: without_timings(v) for k, v in tree.items()
                if "seconds" not in k and k != "timings"}
    if isinstance(tree, list):
        return [without_timings(v) for v in tree]
    return tree


def summaries(out: Path) -> dict:
    """``{configuration id: summary without timings}`` of a sweep folder."""
    return {p.parent.name: without_timings(json.loads(p.read_text()))
            for p in sorted(Path(out).glob("configs/*/summary.json"))}


def sweep_command(path: Path, out: Path, *extra: str) -> list[str]:
    """The command line of ``jaxinter sweep``."""
    return [sys.executable, "-m", "jaxinter", "sweep", str(path), "--out", str(out), *extra]


def start(command: list[str], log: Path) -> subprocess.Popen:
    """Start a command with the repository on the path, its output in ``log``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    handle = open(log, "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                            cwd=ROOT)
