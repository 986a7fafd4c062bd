"""Fixtures of the multi-device tests; ``launch.py`` and ``worker.py`` are importable from the
tests of this folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from launch import run_worker  # noqa: E402


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    """Scenario -> (arrays, facts) with 4 forced CPU devices, each run at most once."""
    folder, results = tmp_path_factory.mktemp("forced"), {}

    def get(scenario: str):
        if scenario not in results:
            results[scenario] = run_worker(folder, scenario, 4)
        return results[scenario]

    return get
