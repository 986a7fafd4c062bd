"""Training checkpoints (Orbax) across device counts: written by one device and restored onto
4 forced CPU devices (split over them) and the run resumed there; written split over the 4
devices and restored on one."""

from __future__ import annotations

import chex
import jax
import numpy as np
import pytest
from launch import run_worker
from worker import problems, training

from jaxinter.training import load_checkpoint, train

P = problems()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(folder, one epoch here with a checkpoint, two epochs uninterrupted, the worker's)."""
    folder = tmp_path_factory.mktemp("train_checkpoint")
    model, data, options, _ = training(P)
    first = train(model, data, epochs=1, checkpoint=folder / "one", **options)
    full = train(model, data, epochs=2, **options)
    return folder, first, full, run_worker(folder, "train_checkpoint", 4)


def _leaves(state):
    return jax.tree.leaves(jax.tree.map(lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(
        x.dtype, jax.dtypes.prng_key) else x, state))


def test_one_device_checkpoint_restores_split_over_four(runs):
    _, first, _, (out, facts) = runs
    assert facts["device_count"] == 4 and facts["step"] == int(first.state.step) == 2
    assert facts["kernel_spec"] == "P('data',)" and facts["kernel_devices"] == 4
    leaves = _leaves(first.state)
    assert len(leaves) == len([k for k in out if k.startswith("loaded_")])
    for i, leaf in enumerate(leaves):
        np.testing.assert_array_equal(out[f"loaded_{i}"], np.asarray(leaf))


def test_four_device_checkpoint_restores_on_one(runs):
    folder, first, _, _ = runs
    state, history = load_checkpoint(folder / "four", training(P)[3], {"devices": 4})
    assert history == first.history
    for a, b in zip(_leaves(state), _leaves(first.state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.sharding.is_equivalent_to(b.sharding, a.ndim)  # onto this run's device


def test_interrupted_run_resumes_on_another_device_count(runs):
    _, _, full, (out, facts) = runs
    assert facts["resumed_steps"] == [row["step"] for row in full.history] == [2, 4]
    leaves = jax.tree.leaves(full.variables)
    for i, leaf in enumerate(leaves):
        chex.assert_trees_all_close(out[f"resumed_{i}"], np.asarray(leaf), rtol=1e-5, atol=1e-6)
