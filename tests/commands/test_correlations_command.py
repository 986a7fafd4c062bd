"""``jaxinter correlations``: flags -> config -> study -> report; summary.json is labeled."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from jaxinter.cli import main
from jaxinter.commands import correlations as command
from jaxinter.io import labeled_array
from jaxinter.studies import CorrelationsConfig, run_correlations

# the same settings as the study test, so that a full run compiles them once
TINY = ["--activations", "quadratic", "--depth", "2", "--width", "8", "--epochs", "1",
        "--repeats", "1", "--xor-epochs", "2", "--xor-samples", "5000"]


def _parse(argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_writes_the_report_of_the_study(tmp_path):
    assert main(["correlations", "--out", str(tmp_path), *TINY]) == 0
    for name in ("report.html", "summary.json", "surrogate_accuracy.png",
                 "order_contributions.png", "prediction_errors.png", "moments_quadratic.png",
                 "xor.png"):
        assert (tmp_path / name).exists(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    config = command.config_from_args(_parse(["--out", str(tmp_path), *TINY]))
    assert summary["config"] == config.to_dict()
    # the library call on the same folder reuses the trained networks: the same study
    study = run_correlations(config, tmp_path)
    analysis = study.analyses["quadratic"]
    values, axes, coords = labeled_array(summary["models"]["closure_mean_error"])
    assert axes == ["activation", "layer", "class"]
    assert coords == {"activation": ["quadratic"], "layer": ["input", "hidden_1", "logits"],
                      "class": list(range(10))}
    np.testing.assert_array_equal(values[0], analysis.closure_mean_error)
    values, axes, coords = labeled_array(summary["models"]["surrogate_accuracy"])
    np.testing.assert_array_equal(values[0], analysis.surrogate_accuracy)
    values, axes, coords = labeled_array(summary["xor"]["separation"])
    assert axes == ["layer", "moment"]
    np.testing.assert_array_equal(values, study.xor.separation)


def test_parser_defaults_are_the_config_defaults():
    assert command.config_from_args(_parse([])) == CorrelationsConfig()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--alpha", "nan"], "alpha: expected a finite number"),
        (["--dataset", "mnist"], "data_path: expected a path for dataset 'mnist'"),
        (["--activations", "relu,relu"], "activations: expected distinct names"),
    ],
)
def test_bad_settings_fail_before_any_work(tmp_path, capsys, argv, message):
    assert main(["correlations", "--out", str(tmp_path / "never"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxinter correlations: error: {message}")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("flag, value", [("--activations", "gelu"), ("--xor-samples", "1"),
                                         ("--depth", "0")])
def test_bad_flags_are_usage_errors(capsys, flag, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["correlations", flag, value])
    assert exit_info.value.code == 2
    assert f"jaxinter correlations: error: argument {flag}" in capsys.readouterr().err
