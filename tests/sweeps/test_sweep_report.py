"""The sweep's tidy tables and report: every number equals the configurations' summaries."""

from __future__ import annotations

import csv
import json
import math
import warnings

import chex
import numpy as np
from tiny_sweep import write_sweep

import jaxinter.plots.sweeps as sweep_plots
from jaxinter.cli import main
from jaxinter.commands.sweep import FIGURES, figure_rows, render_sweep
from jaxinter.io import is_labeled, labeled_array
from jaxinter.sweeps import (
    STATISTICS,
    configuration_folder,
    load_sweep,
    spread_array,
    spread_rows,
)


def _array(reference, configuration, path):
    summary = json.loads((configuration_folder(reference, configuration) / "summary.json")
                         .read_text())["summary"]
    for key in path.split("/"):
        summary = summary[key]
    values = np.array(summary["values"], dtype=object)
    return np.where(values == None, np.nan, values).astype(float), summary  # noqa: E711


def test_the_table_holds_every_number_of_every_summary(tiny_sweep, reference):
    result = load_sweep(reference)
    rows = result.table()
    for c in tiny_sweep.configurations:
        mine = [r for r in rows if r["configuration"] == c.id]
        assert all(r["analysis"] == c.analysis and r["dataset"] == "iris" for r in mine)
        values, labeled = _array(reference, c, "test_accuracy")
        picked = [r["value"] for r in mine if r["quantity"] == "test_accuracy"]
        np.testing.assert_array_equal(picked, values.ravel())
    count = 0
    for c in tiny_sweep.configurations:  # every labeled array, every element, once
        stack = [json.loads((configuration_folder(reference, c) / "summary.json").read_text())]
        while stack:
            node = stack.pop()
            if isinstance(node, dict) and {"axes", "coords", "values"} <= set(node):
                count += np.array(node["values"], dtype=object).size
            elif isinstance(node, dict):
                stack.extend(node.values())
    assert len(rows) == count


def test_spread_across_seed_configurations(tiny_sweep, reference):
    """IoU by order: mean and std over the layerwise configurations (one per seed pair)."""
    stacked = np.stack([_array(reference, c, "iou_by_order_output")[0]
                        for c in tiny_sweep.of("layerwise")])  # (seeds, type, order)
    rows = load_sweep(reference).spread("layerwise", "iou_by_order_output")
    assert len(rows) == stacked[0].size
    for r, (t, m) in zip(rows, np.ndindex(stacked.shape[1:]), strict=True):
        assert (r["type"], r["order"]) == (("AND", "OR")[t], m)
        finite = stacked[:, t, m][~np.isnan(stacked[:, t, m])]
        assert r["count"] == finite.size
        if finite.size:
            assert math.isclose(r["mean"], finite.mean(), rel_tol=1e-12)
        if finite.size > 1:
            assert math.isclose(r["std"], finite.std(ddof=1), rel_tol=1e-12, abs_tol=1e-15)


def test_spread_across_the_seeds_of_a_population(tiny_sweep, reference):
    """The dynamics spectrum at the last checkpoint: mean and std over the population's seed
    axis, per noise rate and order."""
    (c,) = tiny_sweep.of("dynamics")
    values, labeled = _array(reference, c, "spectrum")  # (checkpoint, noise_rate, seed, order)
    assert labeled["axes"] == ["checkpoint", "noise_rate", "seed", "order"]
    last = labeled["coords"]["checkpoint"][-1]
    rows = load_sweep(reference).spread("dynamics", "spectrum", where={"checkpoint": last})
    for r in rows:
        rate = labeled["coords"]["noise_rate"].index(r["noise_rate"])
        seeds = values[-1, rate, :, r["order"]]
        assert r["count"] == 2
        assert math.isclose(r["mean"], seeds.mean(), rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(r["std"], seeds.std(ddof=1), rel_tol=1e-12, abs_tol=1e-15)


def test_the_report_shows_the_spread_rows(reference, tmp_path):
    result = load_sweep(reference)
    report = render_sweep(result, tmp_path)
    assert report.exists() and "Sweep" in report.read_text()
    with (tmp_path / "spread.csv").open() as f:
        shown = list(csv.DictReader(f))
    shows = [f for f in FIGURES if f.analysis in ("layerwise", "dynamics")
             and f.quantity != "layerwise/stability_by_order"]  # no noise draws: no stability
    (stability,) = [f for f in FIGURES if f.quantity == "layerwise/stability_by_order"]
    assert not figure_rows(result, stability)
    expected = [r for f in shows for r in figure_rows(result, f)]
    assert len(shown) == len(expected)
    for s, e in zip(shown, expected, strict=True):
        assert s["count"] == str(e["count"])
        assert (s["mean"] == "nan") if math.isnan(e["mean"]) else math.isclose(
            float(s["mean"]), e["mean"], rel_tol=1e-12)
    shown_rows = report.read_text().count("<tr>")  # header + measured rows of each table
    measured = [r for f in shows for r in figure_rows(result, f) if r["count"]]
    configurations = len(result.configurations())
    assert shown_rows == len(measured) + len(shows) + configurations + 1
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(f"{f.analysis}_{f.quantity.replace('/', '_')}.png" for f in shows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["done"] == summary["configurations"] == 4 and summary["missing"] == []
    assert {(a, q) for a, arrays in summary["spread"].items() for q in arrays} == {
        (f.analysis, f.quantity) for f in shows}
    for f in shows:  # the labeled arrays hold exactly the rows of the report
        array = summary["spread"][f.analysis][f.quantity]
        assert is_labeled(array) and array["axes"][-1] == "statistic"
        assert array["coords"]["statistic"] == list(STATISTICS)
        _assert_rows_equal(spread_rows(array), figure_rows(result, f))


def test_the_labeled_spread_is_the_mean_across_seed_configurations(tiny_sweep, reference):
    """The report's labeled IoU array against numpy over the stacked summaries."""
    stacked = np.stack([_array(reference, c, "iou_by_order_output")[0]
                        for c in tiny_sweep.of("layerwise")])  # (seeds, type, order)
    array = load_sweep(reference).spread_array("layerwise", "iou_by_order_output")
    values, axes, coords = labeled_array(array)
    assert axes == ["dataset", "type", "order", "statistic"]
    assert coords["type"] == ["AND", "OR"] and coords["order"] == [0, 1, 2, 3]
    chex.assert_shape(values, (1, 2, 4, len(STATISTICS)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(values[0, ..., 0], np.nanmean(stacked, axis=0), rtol=1e-12)
        np.testing.assert_array_equal(values[0, ..., 2], (~np.isnan(stacked)).sum(0))


def test_spread_rows_round_trip():
    rows = [{"model": "mlp", "order": 1, "mean": 0.5, "std": 0.1, "count": 3, "min": 0.4,
             "max": 0.6},
            {"model": "cnn", "order": 2, "mean": 0.25, "std": math.nan, "count": 1,
             "min": 0.25, "max": 0.25}]
    array = json.loads(json.dumps(spread_array(rows, "a description")))
    assert array["axes"] == ["model", "order", "statistic"]
    assert array["coords"] == {"model": ["mlp", "cnn"], "order": [1, 2],
                               "statistic": list(STATISTICS)}
    values, _, _ = labeled_array(array)
    assert np.isnan(values[0, 1]).all() and np.isnan(values[1, 0]).all()  # no such rows
    _assert_rows_equal(spread_rows(array), rows)


def test_the_layers_of_two_models_keep_their_order():
    """The labels of an axis keep every model's order: the CNN's layers before the shared
    output, not after it (where first appearance would put them)."""
    layers = {"mlp": ["hidden_1", "hidden_2", "output"], "cnn": ["conv_1", "fc_1", "output"]}
    rows = [{"model": m, "layer": name, "mean": float(i), "std": 0.0, "count": 2, "min": 0.0,
             "max": 1.0} for m, names in layers.items() for i, name in enumerate(names)]
    array = spread_array(rows)
    assert array["coords"]["layer"] == ["hidden_1", "hidden_2", "conv_1", "fc_1", "output"]
    for model, names in layers.items():
        assert [r["layer"] for r in spread_rows(array) if r["model"] == model] == names


def _assert_rows_equal(found: list[dict], expected: list[dict]) -> None:
    assert len(found) == len(expected)
    for f, e in zip(found, expected, strict=True):
        assert f.keys() == e.keys() and isinstance(f["count"], int)
        for k in f:
            assert (f[k] == e[k]) or (math.isnan(f[k]) and math.isnan(e[k])), k


def test_dry_run_and_bad_files_on_the_command_line(tmp_path, capsys):
    path = write_sweep(tmp_path)
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "layerwise-" in out and "dataset=iris seed=4" in out and "4 configurations" in out
    assert not (tmp_path / "out").exists()  # nothing ran
    bad = write_sweep(tmp_path, 'analyses = ["layerwise"]\n[grid]\nseed = [0, "a"]\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "grid.seed[1]: expected an integer in [0, 2147483646], got 'a'" in err
    assert not (tmp_path / "out").exists()


def test_layers_of_different_models_are_placed_by_position(tmp_path, monkeypatch):
    """Two models with different layer names: one point per layer at positions 1..L of its
    own model (the names would mislabel one of them); equal names stay tick labels."""
    shown = {}
    monkeypatch.setattr(sweep_plots, "save", lambda fig, path: shown.setdefault("fig", fig))

    def rows(layers):
        return [{"model": m, "layer": name, "mean": float(i), "std": 0.1, "count": 3}
                for m, names in layers.items() for i, name in enumerate(names)]

    sweep_plots.plot_spread(rows({"mlp": ["hidden_1", "hidden_2", "output"],
                                  "cnn": ["conv_1", "output"]}), "layer", tmp_path / "a.png",
                            series=["model"])
    ax = shown.pop("fig").axes[0]
    assert ax.get_xlabel() == "layer (position)"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [1, 2])
    sweep_plots.plot_spread(rows({"mlp": ["hidden_1", "output"], "cnn": ["hidden_1", "output"]}),
                            "layer", tmp_path / "b.png", series=["model"])
    ax = shown.pop("fig").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hidden_1", "output"]
    assert ax.get_xlabel() == "layer"
