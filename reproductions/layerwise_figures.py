"""The figures of docs/layerwise.md's MNIST reproduction, from a finished run's stage cache.

Run after ``python reproductions/layerwise.py SETTING`` (every stage is then cached, so this
only loads and plots): ``python reproductions/layerwise_figures.py mnist-mlp7`` (or
``mnist-cnn``; ``--run DIR`` for a run folder other than the default).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import MNIST, ROOT, RUNS
from layerwise import config

from jaxinter.commands.layerwise import render_layerwise
from jaxinter.studies import run_layerwise

DOCS = ROOT / "docs" / "layerwise"
SHOWN = {  # setting -> {figure of the report: name in docs/layerwise/}
    "mnist-mlp7": {"completeness": "mnist_mlp7_completeness", "strength": "mnist_mlp7_strength",
                   "stability_by_order": "mnist_mlp7_stability", "iou_by_order": "mnist_mlp7_iou",
                   "examples": "mnist_mlp7_examples"},
    "mnist-cnn": {"completeness": "mnist_cnn_completeness"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("setting", choices=sorted(SHOWN))
    parser.add_argument("--run", default=None, help="the reproduction's run folder")
    parser.add_argument("--data-path", default=str(MNIST))
    args = parser.parse_args()
    folder = Path(args.run or RUNS / "layerwise" / f"{args.setting}_full")
    study = run_layerwise(config(args.setting, False, args.data_path), folder)
    with tempfile.TemporaryDirectory() as report:
        render_layerwise(study, report)
        for figure, name in SHOWN[args.setting].items():
            shutil.copyfile(Path(report) / f"{figure}.png", DOCS / f"{name}.png")
            print(f"wrote {DOCS / name}.png")


if __name__ == "__main__":
    main()
