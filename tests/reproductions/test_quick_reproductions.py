"""Short versions of the four reproductions (digits and built-in data), asserting the trends the
README and docs state, so that a regression in the science fails the default test suite.

Each test runs the script's ``--quick`` configuration through ``common.run_setting`` (as the
command line does) into a temporary folder, checks the record, recomputes some of the study's
numbers independently from its ``summary.json``, and asserts the trend.
"""

from __future__ import annotations

import json

import common
import correlations
import dynamics
import layerwise
import numpy as np
import pytest
import separation

from jaxinter.io import labeled_array


@pytest.fixture(autouse=True)
def no_results(tmp_path, monkeypatch):
    """Quick runs must never write to reproductions/results: point it at a folder to check."""
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    yield
    assert not (tmp_path / "results").exists()


def quick(module, name: str, setting: str, folder) -> tuple[dict, dict]:
    """(record, study summary) of a quick run, in ``folder``."""
    record = common.run_setting(module.run(setting), name, setting, True, None, folder)
    assert record["mode"] == "quick" and record["command"].endswith("--quick")
    assert json.loads((folder / "reproduction.json").read_text())["findings"] == json.loads(
        json.dumps(record["findings"]))
    for row in record["comparisons"]:
        assert set(row) == {"finding", "paper", "ours", "agrees"}
    return record, json.loads((folder / "summary.json").read_text())


def agrees(record: dict, start: str) -> bool:
    (row,) = [r for r in record["comparisons"] if r["finding"].startswith(start)]
    return row["agrees"]


def test_separation_law_holds_for_batchnorm_relu(tmp_path):
    record, summary = quick(separation, "separation", "digits", tmp_path)
    f = record["findings"]
    d, _, coords = labeled_array(summary["fuzziness"])
    for j, depth in enumerate(coords["depth"]):
        ln_d = np.log(d[0, j, : depth + 1])  # layers 0..depth of the BN-ReLU net
        r = np.corrcoef(np.arange(depth + 1), ln_d)[0, 1]  # the fit, recomputed
        np.testing.assert_allclose(f["pearson_r"][0][j], r, atol=1e-4)
        assert r <= -0.95, f"the law: r = {r} at depth {depth}"
        rho = np.exp(np.polyfit(np.arange(depth + 1), ln_d, 1)[0])
        np.testing.assert_allclose(f["rho"][0][j], rho, atol=1e-4)
    # the law emerges in training: at initialization ln D does not fall with depth
    assert np.all(np.array(f["r_at_init"][0]) > np.array(f["pearson_r"][0]) + 0.5)


def test_layerwise_trends_by_order_and_through_layers(tmp_path):
    record, summary = quick(layerwise, "layerwise", "digits", tmp_path)
    f = record["findings"]
    # strength, cross-seed IoU and stability fall with order (AND, output)
    for key in ("trend_strength", "trend_iou", "trend_stability"):
        assert f[key][0] is not None and f[key][0] <= -0.5, (key, f[key])
    assert agrees(record, "strength per subset falls")
    # completeness = overlap / (overlap + new) and redundancy = forget / (overlap + forget),
    # recomputed from the overlap / forget / new strengths of the summary
    change = labeled_array(summary["layerwise"]["change_by_order"])[0].sum(-1)  # (L, type, part)
    overlap, forget, new = change[..., 0], change[..., 1], change[..., 2]
    np.testing.assert_allclose(np.array(f["completeness"]).T, overlap / (overlap + new),
                               atol=1e-3)
    np.testing.assert_allclose(np.array(f["redundancy"]).T, forget / (overlap + forget),
                               atol=1e-3)
    # completeness rises through the hidden layers (AND and OR), the output is complete
    for kind in f["completeness"]:
        assert kind[-2] > kind[0] and kind[-1] == 1.0
    assert f["trend_completeness"][0] >= 0.5
    assert np.sum(f["salient_per_image"]) > np.sum(f["salient_per_image_layer_threshold"])


def test_dynamics_two_phases_and_label_noise(tmp_path):
    record, summary = quick(dynamics, "dynamics", "digits", tmp_path)
    f = record["findings"]
    assert f["two_phase_members"] == f["members"]
    # start / min / end of the mean order, recomputed from the per-checkpoint curve
    curve = labeled_array(summary["mean_order"])[0]  # (checkpoint, rate, seed)
    points = np.stack([curve[0], np.nanmin(curve, 0), curve[-1]], -1).mean(1)
    np.testing.assert_allclose(f["mean_order_points"], points, atol=1e-2)
    assert np.all(points[:, 1] < points[:, 0] - 0.3) and np.all(points[:, 2] > points[:, 1])
    # label noise raises high-order strength; similarity falls over low orders
    assert agrees(record, "label noise raises the final high-order share")
    assert agrees(record, "train-test similarity")


def test_correlations_surrogates_and_xor(tmp_path):
    record, summary = quick(correlations, "correlations", "digits", tmp_path)
    f = record["findings"]
    real = labeled_array(summary["models"]["accuracy"])[0]
    surrogate = labeled_array(summary["models"]["surrogate_accuracy"])[0]
    np.testing.assert_allclose(f["surrogate_loss_points"], 100 * (real[:, None] - surrogate),
                               atol=0.06)
    # hidden layers keep the accuracy; on 8x8 digits the input loses (almost) nothing
    assert np.max(np.array(f["surrogate_loss_points"])[:, 1:-1]) < 2.0
    assert np.max(np.array(f["surrogate_loss_points"])[:, 0]) < 1.0
    x = f["xor"]
    sep = np.array(x["separation"])
    assert sep[0, 0] < 0.01 and sep[-1, 0] > 5 and sep[1, 0] > 0.5  # into the mean
    assert x["surrogate_accuracy"][0] < x["surrogate_accuracy"][1] - 0.05  # the input loses
    ratio = np.array(x["closure_over_exact_var"])
    assert ratio.max() > 1.5 and np.any(np.abs(ratio - 1) < 0.1)  # bimodal units vs the rest
    np.testing.assert_allclose(x["mc_over_exact_var"], 1, atol=0.05)  # exact = Monte Carlo
