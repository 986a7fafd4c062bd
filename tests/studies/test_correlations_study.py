"""The correlations study: a tiny run end to end, its numbers against independent
recomputation, what the report and summary.json show, config validation, resuming."""

from __future__ import annotations

import json

import chex
import numpy as np
import pytest

from jaxinter.analysis import COV_PARTS, MEAN_PARTS
from jaxinter.commands.correlations import model_table, render_correlations
from jaxinter.errors import JaxinterInputError
from jaxinter.io import is_labeled, labeled_array, to_jsonable
from jaxinter.studies import CorrelationsConfig, CorrelationsStudy, run_correlations

# the same settings as the command test, so that a full run compiles them once
TINY = CorrelationsConfig(activations=("quadratic",), depth=2, width=8, epochs=1, repeats=1,
                          xor_epochs=2, xor_samples=5000)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("correlations")
    return run_correlations(TINY, folder), folder


def _numpy_forward(stack, x):
    """Feature layers of a quadratic stack in plain numpy float64."""
    h = [np.asarray(x, np.float64).reshape(len(x), -1)]
    for l, (k, b) in enumerate(zip(stack.kernels, stack.biases, strict=True)):
        z = h[-1] @ np.asarray(k, np.float64) + np.asarray(b, np.float64)
        h.append(z if l == stack.depth else z + stack.alpha * z * z)
    return h


def _class_moments(h, labels, num_classes):
    means = np.stack([h[labels == c].mean(0) for c in range(num_classes)])
    covs = np.stack([np.cov(h[labels == c].T, bias=True) for c in range(num_classes)])
    return means, covs


def test_study_numbers_against_independent_recomputation(tiny):
    from jaxinter.data import load_dataset

    study, _ = tiny
    assert isinstance(study, CorrelationsStudy)
    ds = load_dataset("digits", flat=True)
    stack, analysis = study.stacks["quadratic"], study.analyses["quadratic"]
    assert study.layers == ["input", "hidden_1", "logits"]
    h = _numpy_forward(stack, ds.x_test)
    assert float(analysis.accuracy) == np.mean(h[-1].argmax(-1) == ds.y_test)
    # the training loop's float32 evaluation of the same network: at most a rounding flip
    assert abs(study.trained_on_real_accuracy[0] - float(analysis.accuracy)) <= 2 / len(h[0])
    for l, feature in enumerate(h):
        means, covs = _class_moments(feature, ds.y_test, 10)
        np.testing.assert_allclose(analysis.measured.features[l].mean, means, rtol=1e-8,
                                   atol=1e-10)
        np.testing.assert_allclose(analysis.measured.features[l].cov, covs, rtol=1e-8,
                                   atol=1e-10)
    assert float(analysis.closure_mean_error[1].max()) < 1e-12  # exact for the first layer
    assert float(analysis.exact_cov_error.max()) < 1e-10
    chex.assert_shape([study.trained_on_real_accuracy, study.trained_on_surrogate_accuracy],
                      (1,))
    assert 0.0 < study.trained_on_surrogate_accuracy[0] <= 1.0


def test_xor_numbers_against_independent_recomputation(tiny):
    xor = tiny[0].xor
    c = xor.check
    chex.assert_shape([c.exact_mean, c.exact_var, c.mc_mean, c.mc_var], (2, 10))
    # Monte Carlo against the exact mixture moments, within 6 standard errors
    se_mean = np.sqrt(c.exact_var / TINY.xor_samples)
    assert np.all(np.abs(c.mc_mean - c.exact_mean) <= 6 * se_mean + 1e-12)
    np.testing.assert_allclose(c.closure_mean, c.exact_mean, atol=1e-12)
    assert c.closure_var[0, -2] > 2 * c.exact_var[0, -2]  # x1 + x2 is bimodal on class 0
    assert xor.unit_names[-2:] == ("x1 + x2", "x1 - x2")
    # separation of every layer from numpy moments of a numpy forward pass
    stack_h = _numpy_forward(xor.stack, xor.x)
    for l, h in enumerate(stack_h):
        means, covs = _class_moments(h, xor.labels, 2)
        avg = covs.mean(0)
        np.testing.assert_allclose(
            xor.separation[l], [np.sum((means[1] - means[0]) ** 2) / np.trace(avg),
                                np.linalg.norm(covs[1] - covs[0]) / np.linalg.norm(avg)],
            rtol=1e-8)


def test_summary_is_labeled_and_equals_the_study(tiny):
    study, _ = tiny
    summary = json.loads(json.dumps(to_jsonable(study.summary()), allow_nan=False))
    assert CorrelationsConfig(**summary["config"]) == TINY
    models, analysis = summary["models"], study.analyses["quadratic"]
    values, axes, coords = labeled_array(models["surrogate_accuracy"])
    assert axes == ["activation", "layer"]
    assert coords == {"activation": ["quadratic"], "layer": study.layers}
    np.testing.assert_allclose(values[0], analysis.surrogate_accuracy)
    values, axes, coords = labeled_array(models["closure_cov_error"])
    assert axes == ["activation", "layer", "class"] and coords["class"] == list(range(10))
    np.testing.assert_allclose(values[0], analysis.closure_cov_error)
    values, axes, coords = labeled_array(models["local_mean_error"])
    assert coords["layer"] == ["hidden_1"]
    np.testing.assert_allclose(values[0], analysis.local_mean_error)
    for name, parts, share in (("mean_part_share", MEAN_PARTS, analysis.part_shares()[0]),
                               ("cov_part_share", COV_PARTS, analysis.part_shares()[1])):
        values, axes, coords = labeled_array(models[name])
        assert axes == ["activation", "layer", "part"] and coords["part"] == list(parts)
        np.testing.assert_allclose(values[0], share)
    np.testing.assert_allclose(labeled_array(models["trained_on_surrogate_accuracy"])[0],
                               study.trained_on_surrogate_accuracy)
    xor = summary["xor"]
    values, axes, coords = labeled_array(xor["first_layer"])
    assert axes == ["class", "unit", "quantity"] and coords["unit"] == list(study.xor.unit_names)
    np.testing.assert_allclose(values[..., 0], study.xor.check.exact_mean)
    np.testing.assert_allclose(values[..., 5], study.xor.check.k4_diag)
    values, axes, coords = labeled_array(xor["separation"])
    assert coords == {"layer": ["input", "hidden_1", "logits"], "moment": ["mean", "covariance"]}
    np.testing.assert_allclose(values, study.xor.separation)
    np.testing.assert_allclose(labeled_array(xor["closure_over_exact_var"])[0],
                               study.xor.check.closure_var / study.xor.check.exact_var)


def test_tanh_has_no_closure_and_the_summary_says_null(tiny):
    """An activation without closed-form moments gives null arrays of the same labeled shape."""
    from jaxinter.studies._correlations import analyses_summary

    analysis = tiny[0].analyses["quadratic"]
    tanh = analysis.replace(activation="tanh", closure=None, closure_mean_error=None,
                            closure_cov_error=None, local_mean_error=None, local_cov_error=None,
                            mean_part_norms=None, cov_part_norms=None, exact_cov_error=None)
    out = json.loads(json.dumps(to_jsonable(analyses_summary({"quadratic": analysis,
                                                              "tanh": tanh}))))
    for name, value in out.items():
        assert is_labeled(value), name
        values = labeled_array(value)[0]
        assert values.shape[0] == 2
        if name not in ("accuracy", "surrogate_accuracy"):
            assert np.all(np.isnan(values[1])) and not np.any(np.isnan(values[0])), name


def test_report_and_summary_file_show_the_study(tiny, tmp_path):
    study, _ = tiny
    report = render_correlations(study, tmp_path)
    assert report == tmp_path / "report.html"
    for name in ("summary.json", "surrogate_accuracy.png", "order_contributions.png",
                 "prediction_errors.png", "moments_quadratic.png", "xor.png"):
        assert (tmp_path / name).exists(), name
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(to_jsonable(study.summary()), allow_nan=False))
    analysis = study.analyses["quadratic"]
    table = model_table("digits quadratic", analysis, 0.5)
    for l, row in enumerate(table.rows):
        assert row[0] == analysis.layers[l]
        assert row[1] == analysis.surrogate_accuracy[l]
        assert row[2] == analysis.closure_mean_error[l].mean()
        assert row[-1] == analysis.exact_cov_error[l].mean()
    hidden = table.rows[1]
    assert hidden[4] == analysis.local_cov_error[0].mean()
    np.testing.assert_array_equal(hidden[5:8], analysis.part_shares()[0][0])
    html = report.read_text()
    assert f"{float(analysis.accuracy):.4f}" in html


def test_a_second_run_reuses_every_trained_network(tiny, capsys):
    study, folder = tiny
    again = run_correlations(TINY, folder)
    err = capsys.readouterr().err
    for stage in ("model_quadratic", "surrogate_quadratic", "xor_model"):
        assert f"[correlations] {stage}: reused from the cache" in err
    np.testing.assert_array_equal(again.trained_on_surrogate_accuracy,
                                  study.trained_on_surrogate_accuracy)
    np.testing.assert_array_equal(again.analyses["quadratic"].closure_cov_error,
                                  study.analyses["quadratic"].closure_cov_error)


@pytest.mark.parametrize(
    "field, value",
    [
        ("dataset", "cifar"), ("data_path", "/data"), ("activations", ("gelu",)),
        ("activations", ()), ("activations", "relu"), ("activations", ("relu", "relu")),
        ("depth", 0), ("width", 1.5), ("alpha", float("nan")), ("alpha", "0.5"),
        ("epochs", True), ("repeats", 0), ("xor", "yes"), ("xor_epochs", 0),
        ("xor_samples", 1), ("seed", -1),
    ],
)
def test_config_rejects_bad_fields(field, value):
    with pytest.raises(JaxinterInputError, match=rf"^{field}: expected"):
        CorrelationsConfig(**{field: value})


def test_config_rejects_mnist_without_a_path_and_round_trips():
    with pytest.raises(JaxinterInputError, match=r"^data_path: expected a path for dataset"):
        CorrelationsConfig(dataset="mnist")
    from pathlib import Path

    config = CorrelationsConfig(dataset="mnist", data_path=Path("/data/mnist"),
                                activations=["relu", "erf"])
    assert config.data_path == "/data/mnist" and config.activations == ("relu", "erf")
    d = json.loads(json.dumps(config.to_dict()))
    assert CorrelationsConfig(**d) == config
    with pytest.raises(JaxinterInputError, match=r"^config: expected CorrelationsConfig"):
        run_correlations({"dataset": "digits"})


def test_every_model_and_xor_field_of_the_summary(tiny):
    """The accuracies, closure, local and exact errors the report shows, and the XOR variance
    ratios, equal to the analyses (the exact-vs-Monte-Carlo ratio recomputed from the table)."""
    study, _ = tiny
    summary = json.loads(json.dumps(to_jsonable(study.summary()), allow_nan=False))
    models, analysis = summary["models"], study.analyses["quadratic"]
    for name in ("accuracy", "closure_mean_error", "local_cov_error", "exact_cov_error"):
        np.testing.assert_allclose(labeled_array(models[name])[0][0],
                                   np.asarray(getattr(analysis, name), float), rtol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(labeled_array(models["trained_on_real_accuracy"])[0],
                               study.trained_on_real_accuracy)
    # the quadratic net's exact map reproduces every layer to rounding
    assert np.nanmax(labeled_array(models["exact_cov_error"])[0]) < 1e-6
    xor = summary["xor"]
    check = study.xor.check
    np.testing.assert_allclose(labeled_array(xor["mc_over_exact_var"])[0],
                               check.mc_var / check.exact_var, rtol=1e-6)
    table = labeled_array(xor["first_layer"])[0]
    np.testing.assert_allclose(table[..., 2] / table[..., 4], check.exact_var / check.mc_var,
                               rtol=1e-6)  # exact vs Monte Carlo columns, as the table shows
    np.testing.assert_allclose(labeled_array(xor["models"]["surrogate_accuracy"])[0][0],
                               study.xor.analysis.surrogate_accuracy, rtol=1e-6)
