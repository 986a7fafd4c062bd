"""A tiny sweep run once per session, the reference of the resumption and report tests."""

from __future__ import annotations

import tomllib

import pytest
from tiny_sweep import TINY

from jaxinter.sweeps import expand_sweep, run_sweep


@pytest.fixture(scope="session")
def tiny_sweep():
    return expand_sweep(tomllib.loads(TINY))


@pytest.fixture(scope="session")
def reference(tiny_sweep, tmp_path_factory):
    """The output folder of an uninterrupted run of the tiny sweep."""
    out = tmp_path_factory.mktemp("reference")
    assert run_sweep(tiny_sweep, out) == []
    return out
