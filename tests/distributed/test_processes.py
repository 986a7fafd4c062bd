"""Two processes on localhost under ``jax.distributed`` (gloo): the same games and
interactions as one process, and an Orbax round trip (written by 2 processes, read back by
them and by this single-device process)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from launch import run_processes
from worker import model, problems

import jaxinter as ji

P = problems()


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processes")
    return folder, run_processes(folder, 2)


@pytest.fixture(scope="module")
def one():
    """The same pipeline in this process, on one device: (scores, AND-OR result)."""
    apply_fn, _, _, players, _ = model(P)
    scores = ji.masked_scores(apply_fn, P["x"], players, P["baseline"], P["target"],
                              chunk_size=32)
    return scores, ji.and_or(scores, slots=1)


def test_two_processes_equal_one(two, one):
    _, results = two
    scores, ref = one
    for out, facts in results:
        assert facts["process_count"] == 2 and facts["devices"] == 2
        assert facts["scores_spec"] == "P('data',)" and facts["local_rows"] == 4
        np.testing.assert_array_equal(out["scores"], np.asarray(scores))
        # both certified within tol = 1e-3 of the optimum; the iterations differ by rounding
        np.testing.assert_allclose(out["loss"], np.asarray(ref.loss), rtol=1e-3)
        scale = np.abs(np.asarray(ref.i_and)).max()
        np.testing.assert_allclose(out["i_and"], np.asarray(ref.i_and), atol=1e-3 * scale)


def test_orbax_round_trip_across_process_counts(two, one):
    folder, results = two
    for out, facts in results:
        assert facts["restored_spec"] == "P('data',)"
        np.testing.assert_array_equal(out["restored_scores"], out["scores"])
        np.testing.assert_array_equal(out["restored_key"],
                                      np.asarray(jax.random.key_data(jax.random.key(7))))
    like = {"scores": np.zeros_like(results[0][0]["scores"]),
            "result": jax.tree.map(np.zeros_like, one[1]),
            "key": jax.random.key(0)}
    back = ji.io.restore_sharded(folder / "checkpoint", like)  # one process, one device
    np.testing.assert_array_equal(np.asarray(back["scores"]), results[0][0]["scores"])
    np.testing.assert_array_equal(np.asarray(back["result"].i_and), results[0][0]["i_and"])
    assert jax.random.key_impl(back["key"]) == jax.random.key_impl(jax.random.key(7))


def _numbers(tree, path=""):
    """{path: value} of every number in a summary.json tree (timings left out)."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() if key != "timings"
                for k, v in _numbers(sub, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree)
                for k, v in _numbers(sub, f"{path}[{i}]").items()}
    return {path: tree}


@pytest.mark.slow
def test_cli_command_over_two_processes(tmp_path):
    """``jaxinter layerwise`` with --coordinator/--num-processes/--process-id: both processes
    report exactly what one process reports (masked evaluation split over the processes)."""
    import json

    from worker import CLI_ARGS

    from jaxinter.cli import main

    results = run_processes(tmp_path, 2, timeout=1200, scenario="cli")
    assert [facts["status"] for _, facts in results] == [0, 0]
    assert main([*CLI_ARGS, "--out", str(tmp_path / "one")]) == 0
    one = _numbers(json.loads((tmp_path / "one" / "summary.json").read_text()))
    for folder in (tmp_path / "cli", tmp_path / "cli" / "processes" / "1"):
        two = _numbers(json.loads((folder / "summary.json").read_text()))
        assert two == one
