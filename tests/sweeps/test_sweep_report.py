"""The sweep's tidy tables and report: every number equals the configurations' summaries."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
from tiny_sweep import write_sweep

from jaxinter.cli import main
from jaxinter.commands.sweep import FIGURES, figure_rows, render_sweep
from jaxinter.sweeps import configuration_folder, load_sweep


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
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(f"{f.analysis}_{f.quantity.replace('/', '_')}.png" for f in shows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["done"] == summary["configurations"] == 4 and summary["missing"] == []


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
