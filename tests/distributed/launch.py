"""Run ``worker.py`` scenarios in fresh interpreters (the device count is fixed when JAX
starts), one at a time or as several processes under ``jax.distributed``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("XLA_FLAGS", None)
    return env


def run_worker(folder: Path, scenario: str, *args, timeout: float = 600) -> tuple[dict, dict]:
    """Run one scenario; returns (arrays, facts)."""
    done = subprocess.run([sys.executable, str(WORKER), scenario, str(folder), *map(str, args)],
                          env=_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(np.load(folder / f"{scenario}.npz")), json.loads(
        (folder / f"{scenario}.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(folder: Path, count: int = 2, timeout: float = 600,
                  scenario: str = "processes") -> list[tuple[dict, dict]]:
    """``count`` worker processes under ``jax.distributed`` on localhost (gloo collectives)."""
    address = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, str(WORKER), scenario, str(folder), "1",
                               address, str(i)], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(count)]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        errors.append(err)
    if any(p.returncode for p in procs):
        if any("gloo" in e.lower() and "not" in e.lower() for e in errors):
            pytest.skip("gloo CPU collectives unavailable: " + errors[0][-500:])
        raise AssertionError("\n".join(e[-3000:] for e in errors))
    return [(dict(np.load(folder / f"{scenario}{i}.npz")),
             json.loads((folder / f"{scenario}{i}.json").read_text())) for i in range(count)]
