"""The separation study end to end on two tiny models: the laws recomputed from the study's
per-layer values by plain least squares, the trajectory's last point against the final model,
the labeled summary and report read back, config validation, and a rerun from the cache."""

from __future__ import annotations

import json
import re

import chex
import numpy as np
import pytest

from jaxinter.commands.separation import HEADER, render_separation
from jaxinter.errors import JaxinterInputError
from jaxinter.io import labeled_array, to_jsonable
from jaxinter.studies import SeparationConfig, SeparationStudy, run_separation

CONFIG = SeparationConfig(depths=(2, 3), width=8, epochs=2, track_every=1)


@pytest.fixture(scope="module")
def study_and_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("separation")
    return run_separation(CONFIG, folder), folder


@pytest.fixture(scope="module")
def study(study_and_folder) -> SeparationStudy:
    return study_and_folder[0]


def _fit(d):
    """Least squares of ln D_l on l and the Pearson correlation, by numpy."""
    layers = np.arange(len(d))
    slope, _ = np.polyfit(layers, np.log(d), 1)
    return np.exp(slope), np.corrcoef(layers, np.log(d))[0, 1]


def test_runs_and_laws_match_independent_fits(study):
    assert [(r.variant, r.depth) for r in study.runs] == [("bn-relu", 2), ("bn-relu", 3)]
    assert study.n_measured == study.n_train == 1347
    for run in study.runs:
        d = np.array([float(run.final.per_layer[name].fuzziness)
                      for name in ("input", *[f"hidden_{i}" for i in range(1, run.depth + 1)])])
        assert run.final.names == ("input", *[f"hidden_{i}" for i in range(1, run.depth + 1)])
        np.testing.assert_allclose(run.final.law.fuzziness, d)
        rho, r = _fit(d)
        np.testing.assert_allclose([run.final.law.rho, run.final.law.pearson_r], [rho, r],
                                   rtol=1e-9)
        np.testing.assert_allclose(run.final.law.ratios, d[1:] / d[:-1], rtol=1e-12)
        np.testing.assert_allclose(run.hidden_only.rho, _fit(d[1:])[0], rtol=1e-9)
        other = run.other_split.law.fuzziness
        np.testing.assert_allclose(run.other_split.law.rho, _fit(other)[0], rtol=1e-9)
        assert not np.allclose(other, d)  # measured on the test split, not the train split


def test_trajectory_ends_at_the_final_model(study):
    for run in study.runs:
        np.testing.assert_allclose(run.epochs, [0, 1, 2])
        rec = run.trajectory.record
        chex.assert_shape([rec.fuzziness, rec.log_fuzziness], (3, run.depth + 1))
        np.testing.assert_allclose(rec.fuzziness[-1], run.final.law.fuzziness, rtol=1e-6)
        np.testing.assert_allclose(rec.pearson_r[-1], run.final.law.pearson_r, rtol=1e-6)
        np.testing.assert_allclose(rec.log_fuzziness, np.log(rec.fuzziness), rtol=1e-12)
        np.testing.assert_allclose(rec.fuzziness[:, 0], rec.fuzziness[0, 0])  # the input


def _read(entry):
    return labeled_array(json.loads(json.dumps(to_jsonable(entry))))


def test_summary_is_labeled_and_equals_the_study(study):
    summary = study.summary()
    json.dumps(to_jsonable(summary), allow_nan=False)
    values, axes, coords = _read(summary["law"]["rho"])
    assert axes == ["variant", "depth"] and coords == {"variant": ["bn-relu"], "depth": [2, 3]}
    np.testing.assert_allclose(values[0], [float(r.final.law.rho) for r in study.runs])
    values, axes, coords = _read(summary["fuzziness"])
    assert axes == ["variant", "depth", "layer"] and coords["layer"] == [0, 1, 2, 3]
    np.testing.assert_allclose(values[0, 0, :3], study.run("bn-relu", 2).final.law.fuzziness)
    assert np.isnan(values[0, 0, 3])  # the 2-hidden-layer model has no layer 3
    np.testing.assert_allclose(values[0, 1], study.run("bn-relu", 3).final.law.fuzziness)
    values, axes, coords = _read(summary["ratios"])
    assert coords["layer"] == [1, 2, 3]
    np.testing.assert_allclose(values[0, 1], study.run("bn-relu", 3).final.law.ratios)
    values, _, _ = _read(summary["hidden_only"]["pearson_r"])
    np.testing.assert_allclose(values[0], [float(r.hidden_only.pearson_r) for r in study.runs])
    assert summary["other_split"]["split"] == "test"
    values, _, _ = _read(summary["other_split"]["fuzziness"])
    np.testing.assert_allclose(values[0, 1], study.run("bn-relu", 3).other_split.law.fuzziness)
    values, axes, coords = _read(summary["trajectory"]["log_fuzziness"])
    assert axes == ["variant", "depth", "checkpoint", "layer"]
    assert coords["checkpoint"] == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(values[0, 1],
                               study.run("bn-relu", 3).trajectory.record.log_fuzziness)
    values, _, _ = _read(summary["train_accuracy"])
    np.testing.assert_allclose(values[0], [r.train_accuracy for r in study.runs])
    assert summary["config"] == CONFIG.to_dict()


def test_report_shows_the_study(study, tmp_path):
    report = render_separation(study, tmp_path).read_text()
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(
        json.dumps(to_jsonable(study.summary())))
    cells = re.findall(r"<td>([^<]*)</td>", report)
    assert len(cells) == len(HEADER) * len(study.runs)
    for i, run in enumerate(study.runs):
        row = cells[i * len(HEADER):(i + 1) * len(HEADER)]
        assert row[:2] == [run.variant, str(run.depth)]
        assert row[2] == f"{float(run.final.law.rho):.4g}"
        assert row[3] == f"{float(run.final.law.pearson_r):.4g}"
        assert row[6] == f"{float(run.hidden_only.pearson_r):.4g}"
        assert row[8] == f"{float(run.other_split.law.pearson_r):.4g}"
    for name in ("law_bn-relu", "emergence_d2", "emergence_d3", "directions"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_rerun_is_served_from_the_cache(study_and_folder, capsys):
    study, folder = study_and_folder
    again = run_separation(CONFIG, folder)
    assert capsys.readouterr().err.count("reused from the cache") == 2
    for a, b in zip(again.runs, study.runs, strict=True):
        np.testing.assert_array_equal(a.final.law.fuzziness, b.final.law.fuzziness)
        np.testing.assert_array_equal(a.trajectory.record.rho, b.trajectory.record.rho)
        assert (a.train_accuracy, a.seconds) == (b.train_accuracy, b.seconds)


@pytest.mark.parametrize("change,field", [
    ({"dataset": "nope"}, "dataset"), ({"depths": (1,)}, "depths"), ({"depths": (2, 2)}, "depths"),
    ({"depths": ()}, "depths"), ({"size": (10, 10)}, "size"), ({"per_class": 5}, "size"),
    ({"width": 0}, "width"), ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"),
    ({"weight_decay": -1e-4}, "weight_decay"), ({"track_every": 0}, "track_every"),
    ({"controls": "yes"}, "controls"), ({"split": "val"}, "split"), ({"seed": -1}, "seed"),
    ({"dataset": "mnist", "size": (10,)}, "size"),
])
def test_config_rejects_bad_fields(change, field):
    with pytest.raises(JaxinterInputError, match=f"^{field}"):
        SeparationConfig(**change)


def test_config_round_trip():
    config = SeparationConfig(dataset="mnist", data_path="/data", size=[10, 10], per_class=100,
                              depths=[4, 8], controls=True)
    assert config.size == (10, 10) and config.depths == (4, 8)
    assert config.variants == ("bn-relu", "no-bn", "bn-linear")
    assert SeparationConfig(**json.loads(json.dumps(config.to_dict()))) == config


def test_every_summary_law_field_is_its_fit_recomputed(study):
    """r, R^2, rho and the ratio spread of every model on both splits and without the input,
    recomputed from the summary's own D_l by least squares; accuracies and losses as trained."""
    summary = study.summary()
    for key, split in (("law", "fuzziness"), ("other_split", "other_split")):
        d = _read(summary[split] if split == "fuzziness" else summary[split]["fuzziness"])[0]
        fields = summary[key]
        for j, depth in enumerate(study.config.depths):
            ln_d = np.log(d[0, j, : depth + 1])
            layer = np.arange(depth + 1)
            r = np.corrcoef(layer, ln_d)[0, 1]
            np.testing.assert_allclose(_read(fields["pearson_r"])[0][0, j], r, rtol=1e-6)
            np.testing.assert_allclose(_read(fields["r2"])[0][0, j], r**2, rtol=1e-6)
            np.testing.assert_allclose(_read(fields["rho"])[0][0, j],
                                       np.exp(np.polyfit(layer, ln_d, 1)[0]), rtol=1e-6)
            np.testing.assert_allclose(_read(fields["ratio_spread"])[0][0, j],
                                       np.std(np.diff(ln_d)), rtol=1e-6, atol=1e-12)
            if key == "law":  # the input left out: layers 1..d
                r_hidden = np.corrcoef(layer[1:], ln_d[1:])[0, 1]
                np.testing.assert_allclose(_read(summary["hidden_only"]["pearson_r"])[0][0, j],
                                           r_hidden, rtol=1e-6)
                np.testing.assert_allclose(_read(summary["hidden_only"]["r2"])[0][0, j],
                                           r_hidden**2, rtol=1e-6)
    for name in ("test_accuracy", "train_loss", "train_seconds"):
        attr = "seconds" if name == "train_seconds" else name
        np.testing.assert_allclose(_read(summary[name])[0][0],
                                   [getattr(r, attr) for r in study.runs], rtol=1e-6)
    for name in ("pearson_r", "rho"):
        values = _read(summary["trajectory"][name])[0]
        for j, run in enumerate(study.runs):
            np.testing.assert_allclose(values[0, j], getattr(run.trajectory.record, name),
                                       rtol=1e-6)
    assert summary["n_measured"] == study.n_measured == summary["n_train"]
