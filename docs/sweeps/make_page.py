"""Refresh the small sweep's part of docs/sweeps.md from a finished run of
docs/sweeps/small.toml: copy its figures next to this file and write its tables between the
``<!-- small sweep: begin -->`` and ``<!-- small sweep: end -->`` markers.

    jaxinter sweep docs/sweeps/small.toml --out runs/sweep-small
    python docs/sweeps/make_page.py runs/sweep-small
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
BEGIN, END = "<!-- small sweep: begin -->", "<!-- small sweep: end -->"
SHOWN = ("iou_by_order_output", "layerwise/completeness", "spectrum", "mean_order",
         "shared_ratio")
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


def page_part(out: Path) -> str:
    """The markdown of the small sweep's results (figures copied to docs/sweeps/)."""
    result = load_sweep(out)
    parts = [_markdown(["configuration", "analysis", "axes", "seconds"],
                       [[r["id"], r["analysis"], r.get("seed", "-"), r["seconds"]]
                        for r in result.configurations()]).replace("| axes |", "| seed |")]
    for figure in FIGURES:
        if figure.quantity not in SHOWN or figure.analysis not in result.manifest["analyses"]:
            continue
        name = f"{figure.analysis}_{figure.quantity.replace('/', '_')}.png"
        shutil.copyfile(out / name, HERE / name)
        rows = [r for r in figure_rows(result, figure) if r["count"]]  # measured rows only
        columns = [c for c in ("noise_rate", "type", figure.x) if c in rows[0]]
        if figure.quantity == "mean_order":  # start, a quarter of training and the end
            steps = sorted({r["checkpoint"] for r in rows})
            keep = {steps[0], steps[len(steps) // 4], steps[-1]}
            rows = [r for r in rows if r["checkpoint"] in keep]
        spread = NOTES.get(figure.quantity, "mean and standard deviation across seeds")
        parts.append(f"**{figure.title}** ({spread})\n\n"
                     f"![{figure.title}](sweeps/{name})\n\n{_spread_table(rows, columns)}")
    return "\n\n".join(parts)


def main(out: str) -> None:
    text = PAGE.read_text()
    head, rest = text.split(BEGIN)
    tail = rest.split(END)[1]
    PAGE.write_text(f"{head}{BEGIN}\n\n{page_part(Path(out))}\n\n{END}{tail}")


if __name__ == "__main__":
    main(sys.argv[1])
