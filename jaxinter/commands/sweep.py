"""Run a grid of studies declared in a TOML sweep file on every process, resumably, and write
one comparative report: each quantity's mean across seeds with its spread, side by side across
configurations.

The sweep file is expanded and validated before any work (an error names its key); --dry-run
prints the expanded grid and its estimated cost. Every configuration runs in its own folder
(out/configs/<analysis>-<hash of its config>), so rerunning the same command after an
interruption computes only what is missing, and an edited grid reuses every unchanged
configuration. Several processes (--num-processes, --process-id, and --coordinator for JAX's
multi-process runtime) share the configurations of one output folder.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..io import Section, Table, log, write_report
from ..plots import sweeps as plots
from ..sweeps import (
    REPORTED,
    STATISTICS,
    SweepResult,
    assign,
    connect,
    estimate_costs,
    load_sweep,
    read_sweep,
    run_sweep,
    spread_rows,
    write_csv,
)
from ._arguments import host_port, int_at_least, output_folder

HELP = "a grid of studies from a TOML sweep file, on every process, with one comparative report"
# The sweep spreads whole configurations over the processes itself (each on its own devices),
# so the CLI neither joins the processes into one global mesh nor moves --out per process.
OWN_PROCESS_SETUP = True
KEPT_IN = "configs"  # what an interrupted sweep keeps: every configuration's own stage cache


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the sweep file (TOML; docs/sweeps.md)")
    parser.add_argument("--out", type=output_folder, default=Path("runs") / "sweep",
                        help="output folder shared by all processes (default runs/sweep)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the expanded grid and its estimated cost, run nothing")
    g = parser.add_argument_group("several processes (docs/sweeps.md#processes-and-devices)")
    g.add_argument("--num-processes", type=int_at_least(1), default=None,
                   help="number of processes sharing the sweep (default 1)")
    g.add_argument("--process-id", type=int_at_least(0), default=None,
                   help="this process, 0..num-processes - 1")
    g.add_argument("--coordinator", type=host_port, default=None, metavar="HOST:PORT",
                   help="join the processes with jax.distributed (process 0's address)")


def run(args: argparse.Namespace) -> int:
    sweep = read_sweep(args.file)
    if args.dry_run:
        print(dry_run_text(sweep, args.num_processes or 1))
        return 0
    index, count = connect(args.coordinator, args.num_processes, args.process_id)
    missing = run_sweep(sweep, args.out, index, count)
    if index != 0:
        return 0
    report = render_sweep(load_sweep(args.out), args.out)
    log(f"[sweep] wrote {report}")
    print(f"{len(sweep.configurations) - len(missing)}/{len(sweep.configurations)} "
          f"configurations done; report {report}")
    return 1 if missing else 0


def dry_run_text(sweep, process_count: int = 1) -> str:
    """The expanded grid as a text table with each configuration's counted work, the totals
    and the estimated wall-clock time over ``process_count`` processes."""
    header = ["#", "id", "axes", "population", "epochs", "steps", "masked evals", "extracted",
              "est. s"]
    costs = estimate_costs(sweep.configurations)
    rows = [[str(i), c.id, " ".join(f"{k}={v}" for k, v in c.axes.items()) or "-",
             f"{k.population} models" if k.population else "-",
             *(f"{getattr(k, f):,}" for f in ("epochs", "steps", "evaluations", "extracted")),
             f"{k.seconds:.0f}"]
            for i, (c, k) in enumerate(zip(sweep.configurations, costs, strict=True))]
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    owners = assign(sweep.configurations, process_count)
    wall = max(sum(k.seconds for k, p in zip(costs, owners, strict=True) if p == q)
               for q in range(process_count))
    totals = {f.name: sum(getattr(k, f.name) for k in costs) for f in dataclasses.fields(costs[0])}
    populations = len({c.population for c in sweep.configurations if c.population})
    lines.append(
        f"{len(costs)} configurations ({', '.join(sweep.analyses)}): {totals['epochs']:,} "
        f"epochs ({populations} layerwise population(s)), {totals['steps']:,} steps, "
        f"{totals['evaluations']:,} masked evaluations, "
        f"{totals['extracted']:,} game values extracted; about {totals['seconds'] / 60:.0f} "
        f"min of 2-core CPU in all, {wall / 60:.0f} min wall-clock over {process_count} "
        f"process(es) (rough estimate)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# rendering


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure of the report: one quantity's spread across seeds against ``x``."""

    analysis: str
    quantity: str
    x: str
    title: str
    ylabel: str
    panel: str | None = None
    last: str | None = None  # keep only the last label of this column (output layer, end)


FIGURES = (
    Figure("layerwise", "iou_by_order_output", "order", "IoU of salient interactions of two "
           "models (seeds s, s + 1), output", "IoU", panel="type"),
    Figure("layerwise", "layerwise/completeness", "layer", "completeness of each layer against "
           "the output", "completeness", panel="type"),
    Figure("layerwise", "layerwise/stability_by_order", "order", "stability under input "
           "noise, output", "stability", panel="type", last="layer"),
    Figure("dynamics", "spectrum", "order", "order spectrum at the end of training",
           "share of strength", last="checkpoint"),
    Figure("dynamics", "mean_order", "checkpoint", "mean order during training", "mean order"),
    Figure("dynamics", "shared_ratio", "order", "cross-seed shared ratio of salient "
           "interactions", "shared ratio", panel="type"),
    Figure("separation", "law/pearson_r", "depth", "Pearson r of (l, ln D_l)", "r",
           panel="variant"),
    Figure("separation", "law/rho", "depth", "decay ratio rho", "rho", panel="variant"),
    Figure("correlations", "models/trained_on_surrogate_accuracy", "activation",
           "accuracy of MLPs trained on Gaussian surrogates", "test accuracy"),
)


def figure_spread(result: SweepResult, figure: Figure) -> dict | None:
    """The spread one figure of the report shows, as a labeled array (mean, std, count,
    min, max across seeds; ``SweepResult.spread_array``), or None when no configuration
    measured its quantity."""
    table = result.table(figure.analysis, [figure.quantity])
    if not table:
        return None
    where = {} if figure.last is None else {figure.last: table[-1][figure.last]}
    return result.spread_array(figure.analysis, figure.quantity, where=where)


def figure_rows(result: SweepResult, figure: Figure) -> list[dict]:
    """The rows of ``figure_spread`` (none when no configuration measured its quantity)."""
    array = figure_spread(result, figure)
    return [] if array is None else spread_rows(array)


def render_sweep(result: SweepResult, out_dir: Path | str) -> Path:
    """Figures, tidy tables (``table.csv``, ``spread.csv``), ``report.html`` and
    ``summary.json`` (``spread``: ``{analysis: {quantity: labeled spread array}}``) of a
    sweep's results in ``out_dir``.

    Returns:
      The path of ``report.html``.
    """
    out = Path(out_dir)
    write_csv(out / "table.csv", result.table())
    done = {c["analysis"] for c in result.manifest["configurations"]
            if c["id"] in result.summaries}
    sections, spread, arrays = [Section("Configurations", _setup(result), tables=[Table(
        "Every configuration (seconds: measured; estimated: the dry run's guess)",
        *_table(result.configurations()))])], [], {}
    for analysis in [a for a in result.manifest["analyses"] if a in done]:
        figures, tables = [], []
        for figure in (f for f in FIGURES if f.analysis == analysis):
            array = figure_spread(result, figure)
            if array is None:
                continue
            arrays.setdefault(analysis, {})[figure.quantity] = array
            rows = [{"analysis": analysis, "quantity": figure.quantity, **r}
                    for r in spread_rows(array)]
            spread.extend(rows)
            series = [k for k in rows[0] if k not in {figure.x, figure.panel, figure.last,
                                                      "quantity", "analysis", *STATISTICS}
                      and len({r[k] for r in rows}) > 1]  # the columns that vary
            name = f"{analysis}_{figure.quantity.replace('/', '_')}.png"
            figures.append(plots.plot_spread(rows, figure.x, out / name, series=series,
                                             panel=figure.panel, title=figure.title,
                                             ylabel=figure.ylabel))
            tables.append(Table(f"{figure.title}: mean and std across seeds",
                                *_table([r for r in rows if r["count"]],  # measured ones
                                        drop=("quantity", "analysis", "min", "max"))))
        sections.append(Section(
            analysis, f"Quantities {', '.join(REPORTED[analysis])} of every {analysis} "
            "configuration; lines are means across seeds, bands one standard deviation "
            "(count: the number of seeds, or seed pairs, pooled).", figures=figures,
            tables=tables))
    write_csv(out / "spread.csv", spread)
    summary = {"configurations": len(result.manifest["configurations"]),
               "done": len(result.summaries), "missing": result.missing,
               "axes": result.manifest["axes"], "spread": arrays}
    return write_report(out, "Sweep", sections, summary)


def _table(rows: list[dict], drop=()) -> tuple[list[str], list[list]]:
    header = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in drop]
    return header, [[r.get(k, "") for k in header] for r in rows]


def _setup(result: SweepResult) -> str:
    m = result.manifest
    axes = "; ".join(f"{analysis}: " + ", ".join(f"{k} {v}" for k, v in grid.items())
                     for analysis, grid in m["axes"].items())
    return (f"{len(m['configurations'])} configurations of {', '.join(m['analyses'])} over "
            f"the axes ({axes}), run by {m['process_count']} process(es); "
            f"{len(result.summaries)} done. Each configuration's study wrote its own "
            f"summary.json under configs/<id>; table.csv holds every number of every "
            f"configuration (one row each), spread.csv the means and spreads shown here "
            f"(jaxinter.sweeps.load_sweep(out).table() and .spread() in Python).")
