"""The notebooks: each runs top to bottom in a fast mode, and the numbers it reports (its last
cell prints them as JSON) show the paper's trends; the saved notebooks carry a full run, with
its figures and numbers. Also the README example."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
PAPERS = [p for p in NOTEBOOKS if p.name[:2].isdigit()]


def _checks(notebook) -> dict:
    """The JSON line printed by the last code cell."""
    cell = [c for c in notebook.cells if c.cell_type == "code"][-1]
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return json.loads(text.strip().splitlines()[-1])


def _layerwise(c: dict, full: bool) -> None:
    assert c["completeness_output"] == [1.0, 1.0]  # the output against itself
    assert all(0 <= x <= 1 for x in c["completeness_hidden"])
    assert 0 < c["salient_per_image"] <= 2 * 2 ** c["n"]
    if full:  # Cheng et al.: completeness rises, IoU and stability fall with the order
        assert np.all(np.diff(c["completeness_hidden"]) > 0)
        assert c["iou_low"] > 2 * c["iou_high"] and c["stability_low"] > c["stability_high"]


def _dynamics(c: dict, full: bool) -> None:
    assert c["spectrum_sum_error"] < 1e-5  # the spectra are shares
    assert c["mean_order_min"] <= min(c["mean_order_start"], c["mean_order_end"]) + 1e-6
    if full:  # Zhou et al.: two phases, low orders generalize, noise adds high orders
        assert c["mean_order_min"] < c["mean_order_start"] - 0.5
        assert c["mean_order_end"] > c["mean_order_min"] + 0.3
        assert c["similarity_low"] > c["similarity_high"]
        assert c["high_order_share_noisy"] > 2 * c["high_order_share_clean"]


def _correlations(c: dict, full: bool) -> None:
    mean = c["xor_mean_separation"]
    assert mean[0] < 0.01 < mean[1]  # XOR: no class information in the input means
    assert all(0 <= a <= 1 for v in c["surrogate_accuracy"].values() for a in v)
    if full:  # Fischer et al.: Gaussian hidden layers keep the accuracy
        for act, accuracy in c["accuracy"].items():
            assert accuracy > 0.95
            assert min(c["surrogate_accuracy"][act][1:-1]) > accuracy - 0.05


def _separation(c: dict, full: bool) -> None:
    for d in c["fuzziness"].values():
        assert all(x > 0 for x in d)
    assert c["r_at_end"] < c["r_at_init"]  # the law emerges with training
    if full:  # He & Su: r between -0.997 and -1.000; we ask r <= -0.99
        assert max(c["pearson_r"]) <= -0.99 and max(c["rho"]) < 1


def _trackers(c: dict, full: bool) -> None:
    assert c["gap_interactions"] == 0 and c["gap_separation"] == 0  # as direct calls
    assert c["steps_interactions"] == c["steps_separation"]
    assert c["train_loss"][-1] < c["train_loss"][0]
    if full:
        assert c["pearson_r"][-1] < c["pearson_r"][0]


EXPECTED = {"01": _layerwise, "02": _dynamics, "03": _correlations, "04": _separation,
            "05": _trackers}


def test_every_paper_notebook_is_checked():
    assert sorted(p.name[:2] for p in PAPERS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_fast_mode(path, monkeypatch):
    monkeypatch.setenv("JAXINTER_FAST", "1")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(FOLDER)}}).execute()
    if path in PAPERS:
        checks = _checks(notebook)
        assert checks["fast"] is True
        EXPECTED[path.name[:2]](checks, full=False)


@pytest.mark.parametrize("path", PAPERS, ids=lambda p: p.name)
def test_saved_notebook_holds_a_full_run(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "run every cell before saving"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the figures are in the saved notebook"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    checks = _checks(notebook)
    assert checks["fast"] is False
    EXPECTED[path.name[:2]](checks, full=True)


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = readme.split("```python\n")[1:]
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block.split("```")[0], "README.md", "exec"), {})  # noqa: S102

