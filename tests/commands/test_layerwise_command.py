"""``jaxinter layerwise``: the reduced default job writes every figure and resumes from its
cache; the report and summary.json show the study's numbers; bad options fail before work."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from jaxinter.cli import build_parser, main
from jaxinter.commands.layerwise import config_from_args, render_layerwise
from jaxinter.io import labeled_array
from jaxinter.studies import LayerwiseConfig, run_layerwise

FIGURES = ("sparsity", "change_and", "change_or", "completeness", "iou_by_order", "strength",
           "stability_by_order", "examples")
REDUCED = ["--n", "3", "--samples", "3", "--epochs", "1", "--probe-steps", "20", "--depth", "3",
           "--width", "16", "--examples", "2"]


def test_cli_default_job_reduced_writes_every_figure_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["layerwise", "--out", str(out), *REDUCED, "--noise-draws", "2"]
    assert main(argv) == 0
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 3 and summary["samples"] == 3
    assert summary["layerwise"]["layers"] == ["hidden_1", "hidden_2", "output"]
    _, axes, coords = labeled_array(summary["layerwise"]["change_by_order"])
    assert axes == ["layer", "type", "part", "order"]
    assert coords["layer"] == ["hidden_1", "hidden_2", "output"]
    assert (out / "report.html").read_text().count("data:image/png;base64") == len(FIGURES)
    # an interrupted run: one finished layer is lost; the rerun recomputes only that layer
    cache = out / "cache"
    (cache / "layer_1.npz").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert main(argv) == 0
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert "layer_1.npz" in after
    assert all(after[k] == t for k, t in before.items())
    assert json.loads((out / "summary.json").read_text())["layerwise"] == summary["layerwise"]
    # another number of noise draws: models, probes and clean scores are reused; the noisy
    # scores and the layers (which hold the stability) are recomputed, as a fresh run would
    capsys.readouterr()
    argv3 = [*argv[:-1], "3"]
    assert main(argv3) == 0
    changed = {p.name for p in cache.glob("*.npz") if p.stat().st_mtime_ns != after[p.name]}
    assert changed == {"noise_scores.npz", "layer_0.npz", "layer_1.npz", "layer_2.npz"}
    assert "model_seed0: reused" in capsys.readouterr().err
    assert main([*argv3[:2], str(tmp_path / "fresh"), *argv3[3:]]) == 0
    resumed = json.loads((out / "summary.json").read_text())["layerwise"]
    assert resumed != summary["layerwise"]
    assert resumed == json.loads((tmp_path / "fresh" / "summary.json").read_text())["layerwise"]


def _tables(report: str) -> dict[str, list[list[str]]]:
    """The report's tables by caption, as rows of cell texts."""
    tables = {}
    for caption, body in re.findall(r"<caption>(.*?)</caption>.*?<tbody>(.*?)</tbody>", report):
        rows = re.findall(r"<tr>(.*?)</tr>", body)
        tables[html.unescape(caption)] = [
            [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", r)] for r in rows]
    return tables


def _cells(values) -> list[str]:
    return ["nan" if np.isnan(v) else f"{v:.4g}" for v in np.asarray(values, np.float64)]


def test_python_run_and_render_write_what_the_cli_writes(tmp_path):
    out = tmp_path / "cli"
    argv = ["layerwise", "--out", str(out), *REDUCED, "--noise-draws", "0",
            "--also-extraction", "lp"]
    assert main(argv) == 0
    config = config_from_args(build_parser().parse_args(argv))
    study = run_layerwise(config, out)  # every stage from the CLI's cache
    render_layerwise(study, tmp_path / "python")
    cli, python = (json.loads((tmp_path / d / "summary.json").read_text())
                   for d in ("cli", "python"))
    assert {k: v for k, v in cli.items() if k != "timings"} == {
        k: v for k, v in python.items() if k != "timings"}
    assert not (tmp_path / "python" / "stability_by_order.png").exists()  # no noise draws
    # the report's tables show the study's numbers
    tables = _tables((tmp_path / "python" / "report.html").read_text())
    agg = study.aggregate
    for i, row in enumerate(tables["Per layer (all orders)"]):
        assert row[0] == study.layer_names[i]
        assert row[1:] == _cells([study.layer_test_accuracy[i], *agg.salient_per_sample[i],
                                  *agg.completeness[i], *agg.redundancy[i]])
    for i, row in enumerate(tables["Salient interactions per sample"]):
        assert row[1:] == _cells([*agg.salient_per_sample[i],
                                  *study.also_aggregate.salient_per_sample[i]])
    examples = tables["Salient interactions"]
    assert len(examples) == len(study.example_rows())
    for row, want in zip(examples, study.example_rows(), strict=True):
        assert row[:2] == [str(want["sample"]), want["type"]]
        assert row[2] == " & ".join(map(str, want["players"]))
        assert row[3:] == [str(want["order"]), *_cells([want["value"]])]
    timings = tables["Timings"]
    assert [r[0] for r in timings] == list(study.timings)


def test_cli_defaults_are_the_config_defaults():
    assert config_from_args(build_parser().parse_args(["layerwise"])) == LayerwiseConfig()


@pytest.mark.parametrize(
    "flags, field",
    [(["--noise-draws", "1"], "noise_draws"), (["--ratio", "1.5"], "ratio"),
     (["--dataset", "iris", "--model", "cnn"], "model"), (["--sigma", "-1"], "sigma"),
     (["--dataset", "mnist"], "data_path")],
)
def test_bad_options_fail_before_any_work(tmp_path, capsys, flags, field):
    out = tmp_path / "never"
    assert main(["layerwise", "--out", str(out), *flags]) == 2
    assert capsys.readouterr().err.startswith(f"jaxinter layerwise: error: {field}: expected")
    assert not out.exists()
