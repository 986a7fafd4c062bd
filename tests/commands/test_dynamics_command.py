"""``jaxinter dynamics``: the command writes what the library study computes."""

from __future__ import annotations

import json

import numpy as np

from jaxinter.cli import main
from jaxinter.io import labeled_array
from jaxinter.studies import DynamicsConfig, run_dynamics

ARGS = ["--dataset", "wine", "--players", "6", "--steps", "60", "--every", "20", "--probe", "6",
        "--method", "and"]


def test_cli_dynamics_small(tmp_path, capsys):
    out = tmp_path / "dyn"
    assert main(["dynamics", *ARGS, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_players"] == 6
    values, axes, coords = labeled_array(summary["similarity"])
    assert axes == ["noise_rate", "type", "order"]
    assert coords == {"noise_rate": [0.0, 0.2, 0.5], "type": ["AND", "OR"],
                      "order": list(range(7))}
    assert np.isnan(values[:, :, 0]).all()  # order 0 (v(empty)) is not compared
    top, _, _ = labeled_array(summary["shared_ratio_top_k"])
    assert np.isnan(top[:, :, 6]).all()  # C(6, 6) <= 3: uninformative
    _, axes, coords = labeled_array(summary["turn_step"])
    assert axes == ["noise_rate", "seed"] and coords["seed"] == [0, 1]  # 6 members
    for name in ("spectra_loss_gap", "noise_side_by_side", "generalization_by_order",
                 "detours_by_order", "sensitivity_by_order"):
        assert (out / f"{name}.png").stat().st_size > 10_000
    # the library call with the same settings reads the command's cache: same numbers
    config = DynamicsConfig(dataset="wine", players=6, steps=60, every=20, probe=6, method="and")
    assert summary["config"] == config.to_dict()
    capsys.readouterr()
    study = run_dynamics(config, out)
    assert "reused from the cache" in capsys.readouterr().err
    for key, array in (("similarity", study.similarity),
                       ("shared_ratio", study.shared.salient),
                       ("turn_step", study.turn_step),
                       ("final_test_loss", study.by_member(study.history.record.test_loss[-1]))):
        np.testing.assert_allclose(labeled_array(summary[key])[0], array, rtol=1e-6,
                                   err_msg=key)


def test_bad_settings_are_clean_errors(capsys, tmp_path):
    assert main(["dynamics", "--steps", "30", "--every", "20", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxinter dynamics: error: every: need at least 3 checkpoints")
    assert main(["dynamics", "--dataset", "mnist", "--out", str(tmp_path)]) == 2
    assert "error: data_path:" in capsys.readouterr().err
    assert not (tmp_path / "summary.json").exists()
