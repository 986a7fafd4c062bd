"""Refresh a sweep's part of docs/sweeps.md from a finished run: copy its figures next to this
file and write its tables between the ``<!-- <part> sweep: begin -->`` and
``<!-- <part> sweep: end -->`` markers (part: small or mnist). The MNIST part also keeps the
sweep's comparative ``summary.json`` (the spread as labeled arrays) and ``spread.csv`` in
docs/sweeps/mnist/.

    jaxinter sweep docs/sweeps/small.toml --out runs/sweep-small
    python docs/sweeps/make_page.py runs/sweep-small
    jaxinter sweep docs/sweeps/mnist.toml --out runs/sweep-mnist
    python docs/sweeps/make_page.py runs/sweep-mnist mnist
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

from jaxinter.commands.sweep import FIGURES, figure_rows
from jaxinter.sweeps import load_sweep

HERE = Path(__file__).resolve().parent
PAGE = HERE.parent / "sweeps.md"
SHOWN = {"small": ("iou_by_order_output", "layerwise/completeness", "spectrum", "mean_order",
                   "shared_ratio"),
         "mnist": ("iou_by_order_output", "layerwise/completeness",
                   "layerwise/stability_by_order", "law/pearson_r", "law/rho")}
PREFIX = {"small": "", "mnist": "mnist_"}  # of the figures copied here
COLUMNS = ("model", "noise_rate", "variant", "type")  # shown before a figure's x
NOTES = {"shared_ratio": "one value per noise rate: the agreement of the salient sets of "
                         "consecutive seeds, mean over the population's 7 pairs"}


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _spread_table(rows: list[dict], columns: list[str]) -> str:
    header = [*columns, "mean", "std", "seeds"]
    return _markdown(header, [[r[c] for c in columns] + [r["mean"], r["std"], r["count"]]
                              for r in rows])


def page_part(out: Path, part: str = "small") -> str:
    """The markdown of a sweep's results (figures copied to docs/sweeps/)."""
    result = load_sweep(out)
    axes = [a for a in ("model", "seed") if any(a in c["axes"] for c in
                                                 result.manifest["configurations"])]
    parts = [_markdown(["configuration", "analysis", *axes, "seconds"],
                       [[r["id"], r["analysis"], *(r.get(a, "-") for a in axes), r["seconds"]]
                        for r in result.configurations()])]
    for figure in FIGURES:
        if (figure.quantity not in SHOWN[part]
                or figure.analysis not in result.manifest["analyses"]):
            continue
        name = f"{figure.analysis}_{figure.quantity.replace('/', '_')}.png"
        shutil.copyfile(out / name, HERE / f"{PREFIX[part]}{name}")
        rows = [r for r in figure_rows(result, figure) if r["count"]]  # measured rows only
        columns = [c for c in (*COLUMNS, figure.x) if c in rows[0]]
        if figure.quantity == "mean_order":  # start, a quarter of training and the end
            steps = sorted({r["checkpoint"] for r in rows})
            keep = {steps[0], steps[len(steps) // 4], steps[-1]}
            rows = [r for r in rows if r["checkpoint"] in keep]
        spread = NOTES.get(figure.quantity, "mean and standard deviation across seeds")
        parts.append(f"**{figure.title}** ({spread})\n\n"
                     f"![{figure.title}](sweeps/{PREFIX[part]}{name})\n\n"
                     f"{_spread_table(rows, columns)}")
    return "\n\n".join(parts)


def main(out: str, part: str = "small") -> None:
    begin, end = f"<!-- {part} sweep: begin -->", f"<!-- {part} sweep: end -->"
    text = PAGE.read_text()
    head, rest = text.split(begin)
    tail = rest.split(end)[1]
    PAGE.write_text(f"{head}{begin}\n\n{page_part(Path(out), part)}\n\n{end}{tail}")
    if part == "mnist":
        kept = HERE / "mnist"
        kept.mkdir(exist_ok=True)
        for name in ("summary.json", "spread.csv", "manifest.json"):
            shutil.copyfile(Path(out) / name, kept / name)


if __name__ == "__main__":
    main(*sys.argv[1:])
