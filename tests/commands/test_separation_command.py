"""``jaxinter separation``: the command writes what the library study computes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxinter.analysis import fit_law
from jaxinter.cli import main
from jaxinter.io import labeled_array
from jaxinter.studies import SeparationConfig, run_separation


def test_cli_writes_report(tmp_path, capsys):
    out = tmp_path / "sep"
    assert main(["separation", "--depths", "2", "--width", "16", "--epochs", "2",
                 "--track-every", "1", "--controls", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rho, axes, coords = labeled_array(summary["law"]["rho"])
    assert axes == ["variant", "depth"]
    assert coords == {"variant": ["bn-relu", "no-bn", "bn-linear"], "depth": [2]}
    fuzziness, _, _ = labeled_array(summary["fuzziness"])
    r, _, _ = labeled_array(summary["law"]["pearson_r"])
    for v in range(3):
        law = fit_law(fuzziness[v, 0])
        np.testing.assert_allclose([rho[v, 0], r[v, 0]], [law.rho, law.pearson_r])
    epochs = labeled_array(summary["trajectory"]["rho"])[2]["checkpoint"]
    assert epochs == [0.0, 1.0, 2.0]
    for name in ("report.html", "law_bn-relu.png", "law_no-bn.png", "law_bn-linear.png",
                 "emergence_d2.png", "directions.png"):
        assert (out / name).stat().st_size > 0
    # the library call with the same settings reads the command's cache: same numbers
    config = SeparationConfig(depths=(2,), width=16, epochs=2, track_every=1, controls=True)
    assert summary["config"] == config.to_dict()
    capsys.readouterr()
    study = run_separation(config, out)
    assert capsys.readouterr().err.count("reused from the cache") == 3
    np.testing.assert_allclose(rho, study.grid(lambda run: run.final.law.rho))
    np.testing.assert_allclose(fuzziness, study.layer_grid(lambda run: run.final.law.fuzziness))


def test_bad_settings_are_clean_errors(capsys, tmp_path):
    assert main(["separation", "--depths", "3", "3", "--out", str(tmp_path)]) == 2
    assert "jaxinter separation: error: depths: expected distinct" in capsys.readouterr().err
    assert main(["separation", "--size", "8", "8", "--out", str(tmp_path)]) == 2
    assert "error: size, per_class: only for dataset 'mnist'" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduction_depth4_mnist(mnist_dir, tmp_path):
    """He & Su's setting at 4 hidden layers: the law holds after training (r < -0.99)."""
    out = tmp_path / "mnist"
    assert main(["separation", "--dataset", "mnist", "--data-path", str(mnist_dir), "--size",
                 "10", "10", "--per-class", "100", "--depths", "4", "--epochs", "300",
                 "--track-every", "50", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert labeled_array(summary["train_accuracy"])[0][0, 0] == 1.0
    assert labeled_array(summary["law"]["pearson_r"])[0][0, 0] < -0.99
    assert 0 < labeled_array(summary["law"]["rho"])[0][0, 0] < 1
