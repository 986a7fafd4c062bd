"""Shared test fixtures.

Tests run in float32 by default and the CLI writes no compilation cache; tests that need
float64 use the ``x64`` fixture, which enables ``jax_enable_x64`` for the duration of the test
only.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import pytest

from jaxinter.cli import COMPILE_CACHE_ENV

os.environ[COMPILE_CACHE_ENV] = "off"  # the CLI's compilation cache stays out of the tests

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture
def mnist_dir() -> Path:
    """Folder of the real MNIST test set; skips the test cleanly when it is absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found at {MNIST_DIR}")
    return MNIST_DIR
