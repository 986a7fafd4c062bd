"""docs/your_model.md runs as written: a user's model file, their training script (checkpoints
and data files), and the commands on them; the reports' numbers match direct computations."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flax import serialization

from jaxinter.analysis import separation_fuzziness
from jaxinter.cli import main
from jaxinter.io import labeled_array

DOC = Path(__file__).resolve().parents[2] / "docs" / "your_model.md"


def _blocks(marker: str) -> list[tuple[str, str]]:
    """(argument of the marker, code) of every fenced block right after ``<!-- marker -->``."""
    pattern = rf"<!-- {marker}:? ?([^>]*?) -->\n```\w+\n(.*?)```"
    return re.findall(pattern, DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example run in a fresh folder: its files written, its commands run in order."""
    folder = tmp_path_factory.mktemp("your_model")
    for name, code in _blocks("file"):
        (folder / name).write_text(code)
    (commands,) = [code for _, code in _blocks("run")]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for line in commands.strip().splitlines():
            program, *args = shlex.split(line)
            if program == "python":
                subprocess.run([sys.executable, *args], check=True, cwd=folder)
            else:
                assert program == "jaxinter" and main(args) == 0, line
        mp.delitem(sys.modules, "my_model", raising=False)
    return folder


def _model(folder: Path):
    sys.path.insert(0, str(folder))
    try:
        from my_model import make_model
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("my_model", None)
    return make_model(num_classes=3)


def test_layerwise_analyses_the_checkpointed_model(example):
    summary = json.loads((example / "runs/wine_layerwise/summary.json").read_text())
    data = np.load(example / "wine.npz")
    params = serialization.msgpack_restore((example / "wine.msgpack").read_bytes())
    logits = _model(example).apply(params, data["x_test"])
    accuracy = np.mean(np.asarray(logits).argmax(-1) == data["y_test"])
    test_accuracy, _, _ = labeled_array(summary["test_accuracy"])
    assert test_accuracy[0] == pytest.approx(accuracy)  # the user's model, not a retrained one
    probes, _, coords = labeled_array(summary["probe_test_accuracy"])
    assert coords["layer"] == ["hidden_1", "hidden_2", "hidden_3"] and len(probes) == 3
    assert summary["n"] == 6 and summary["samples"] == 8
    assert all(len(e["player_names"]) == e["order"] for e in summary["examples"])
    assert (example / "runs/wine_layerwise/report.html").stat().st_size > 10_000


def test_separation_measures_the_orbax_checkpoint(example):
    summary = json.loads((example / "runs/wine_separation/summary.json").read_text())
    fuzziness, axes, coords = labeled_array(summary["fuzziness"])
    assert axes == ["variant", "depth", "layer"] and coords["variant"] == ["model"]
    assert coords["depth"] == [3]
    data = np.load(example / "wine.npz")
    params = serialization.msgpack_restore((example / "wine.msgpack").read_bytes())
    _, state = _model(example).apply(params, data["x_train"], mutable=["intermediates"])
    layers = [data["x_train"]] + [state["intermediates"][f"hidden_{i}"][0] for i in (1, 2, 3)]
    direct = [float(separation_fuzziness(np.asarray(f, np.float64), data["y_train"]))
              for f in layers]
    np.testing.assert_allclose(fuzziness[0, 0], direct, rtol=1e-5)
