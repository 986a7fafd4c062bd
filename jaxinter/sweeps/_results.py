"""The results of a sweep as tidy tables: every labeled array of every configuration's
summary, and its mean and spread across seeds.

A row of the tidy table is one number: the configuration (``configuration``, ``analysis``
and one column per grid axis), the ``quantity`` (the path of a labeled array in the study's
``summary.json``, e.g. ``"layerwise/completeness"``), one column per axis of that array
(``layer``, ``type``, ``order``, ``seed``, ...) and ``value``. An array axis shadows a grid axis
of the same name (a dynamics population's ``seed`` axis holds the actual seeds).

The spread of a quantity is also one labeled array (``spread_array``, the convention of every
``summary.json``): one axis per column that groups the rows, then ``statistic``
(:data:`STATISTICS`); ``spread_rows`` reads it back as rows.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import JaxinterInputError, check_path, check_text
from ..io import is_labeled, labeled, labeled_array, labeled_frame_rows, labeled_items, write_atomic

SPREAD_AXIS = "seed"
REPORTED = {  # analysis -> the quantities the comparative report shows
    "layerwise": ("iou_by_order_output", "salient_per_image_output_and_or",
                  "layerwise/completeness", "layerwise/stability_by_order"),
    "dynamics": ("spectrum", "mean_order", "shared_ratio", "test_accuracy"),
    "separation": ("law/pearson_r", "law/rho", "fuzziness"),
    "correlations": ("models/trained_on_real_accuracy",
                     "models/trained_on_surrogate_accuracy"),
}
STATISTICS = ("mean", "std", "count", "min", "max")


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """The results of a sweep folder, as written so far.

    Attributes:
      out: the sweep's output folder.
      manifest: the content of ``manifest.json`` (``configurations``: id, analysis, axes,
        folder, process, estimated_seconds, config).
      summaries: ``{id: content of summary.json}`` of every configuration done.
    """

    out: Path
    manifest: dict
    summaries: dict

    @property
    def missing(self) -> list[str]:
        """Ids of the configurations not done yet."""
        return [c["id"] for c in self.manifest["configurations"] if c["id"] not in self.summaries]

    def configurations(self) -> list[dict]:
        """One row per configuration: id, analysis, grid axes, done, seconds (measured) and
        estimated_seconds."""
        rows = []
        for c in self.manifest["configurations"]:
            done = self.summaries.get(c["id"])
            rows.append({"id": c["id"], "analysis": c["analysis"], **_cells(c["axes"]),
                         "done": done is not None,
                         "seconds": done["seconds"] if done else math.nan,
                         "estimated_seconds": c["estimated_seconds"]})
        return rows

    def table(self, analysis: str | None = None,
              quantities: Sequence[str] | None = None) -> list[dict]:
        """The tidy table: one row per number of the configurations done.

        Args:
          analysis: only this analysis (None: all).
          quantities: only these paths of the summaries (None: every labeled array).

        Returns:
          Rows ``{"configuration", "analysis", <grid axes>, "quantity", <array axes>,
          "value"}``.
        """
        rows = []
        for c in self.manifest["configurations"]:
            found = self.summaries.get(c["id"])
            if found is None or analysis not in (None, c["analysis"]):
                continue
            head = {"configuration": c["id"], "analysis": c["analysis"], **_cells(c["axes"])}
            for path, array in labeled_items(found["summary"]):
                if quantities is None or path in quantities:
                    rows.extend({**head, "quantity": path, **row}
                                for row in labeled_frame_rows(array))
        return rows

    def spread(self, analysis: str, quantity: str, over: str = SPREAD_AXIS,
               where: Mapping | None = None) -> list[dict]:
        """Mean and spread of a quantity across one column (the seeds, by default).

        Args:
          analysis: the analysis.
          quantity: the path of the quantity in the summaries.
          over: the column whose values are pooled (rows differing only in it and in the
            configuration are one group).
          where: keep only rows with these column values (e.g. ``{"checkpoint": 300}``).

        Returns:
          One row per group: its columns, then ``mean``, ``std`` (ddof 1; NaN for one value),
          ``count`` (finite values), ``min`` and ``max``; NaN values are left out.
        """
        rows = [r for r in self.table(analysis, [quantity])
                if all(r.get(k) == v for k, v in (where or {}).items())]
        if not rows:
            raise JaxinterInputError(f"quantity: expected a quantity of a done {analysis} "
                                     f"configuration, got {quantity!r}")
        groups: dict[tuple, list[float]] = {}
        for r in rows:
            key = tuple((k, v) for k, v in r.items()
                        if k not in (over, "configuration", "value"))
            groups.setdefault(key, []).append(r["value"])
        return [{**dict(key), **_statistics(values)} for key, values in groups.items()]

    def spread_array(self, analysis: str, quantity: str, over: str = SPREAD_AXIS,
                     where: Mapping | None = None) -> dict:
        """``spread`` as one labeled array (``spread_array`` of its rows, without the
        analysis and quantity columns)."""
        rows = self.spread(analysis, quantity, over, where)
        return spread_array([{k: v for k, v in r.items() if k not in ("analysis", "quantity")}
                             for r in rows], f"{quantity} across {over}: {', '.join(STATISTICS)}")

    def frame(self, analysis: str | None = None, quantities: Sequence[str] | None = None):
        """``table`` as a ``pandas.DataFrame`` (needs pandas)."""
        import pandas
        return pandas.DataFrame(self.table(analysis, quantities))


def load_sweep(out: Path | str) -> SweepResult:
    """The results of a sweep folder (complete or not).

    Args:
      out: the folder given to ``run_sweep`` (with its ``manifest.json``).

    Returns:
      ``SweepResult``.
    """
    out = check_path(out, "out", exists="dir")
    out = Path(out)
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        raise JaxinterInputError(f"out: expected a sweep folder with manifest.json, got "
                                 f"{str(out)!r}") from None
    summaries = {}
    for c in manifest["configurations"]:
        path = out / c["folder"] / "summary.json"
        if path.exists():
            summaries[c["id"]] = json.loads(path.read_text())
    return SweepResult(out, manifest, summaries)


def spread_array(rows: list[dict], description: str | None = None) -> dict:
    """Spread rows as one labeled array (``jaxinter.io.labeled``).

    Args:
      rows: rows of ``SweepResult.spread``: grouping columns, then the :data:`STATISTICS`.
      description: the array's one-line meaning.

    Returns:
      ``{"axes", "coords", "values"}``: an axis per grouping column (its values in an order
      that keeps the order of every group's rows: the layers of two models each in their
      order, the output last), then ``statistic``; NaN where a combination has no row.
    """
    if (isinstance(rows, str) or not isinstance(rows, list | tuple) or not rows
            or not all(isinstance(r, dict) and set(STATISTICS) <= set(r) for r in rows)):
        raise JaxinterInputError(
            f"rows: expected a non-empty list of spread rows (dicts with {', '.join(STATISTICS)})"
            f", got {rows!r:.60}")
    check_text(description, "description", optional=True)
    columns = [k for k in rows[0] if k not in STATISTICS]
    coords = {k: _merged_labels(rows, k, columns) for k in columns}
    values = np.full([len(coords[k]) for k in columns] + [len(STATISTICS)], np.nan)
    for r in rows:
        index = tuple(coords[k].index(r[k]) for k in columns)
        values[index] = [r[s] for s in STATISTICS]
    return labeled(values, [*columns, "statistic"], {**coords, "statistic": list(STATISTICS)},
                   description)


def _merged_labels(rows: list[dict], column: str, columns: list[str]) -> list:
    """The values of ``column``, each sequence of rows that differ only in it kept in order
    (a new value goes before the next value of its sequence already placed)."""
    sequences: dict[tuple, list] = {}
    for r in rows:
        key = tuple(r[c] for c in columns if c != column)
        sequences.setdefault(key, []).append(r[column])
    order: list = []
    for sequence in sequences.values():
        for i, label in enumerate(sequence):
            if label not in order:
                after = [order.index(x) for x in sequence[i + 1:] if x in order]
                order.insert(after[0] if after else len(order), label)
    return order


def spread_rows(array: Mapping) -> list[dict]:
    """The rows of a labeled spread array (``spread_array``'s inverse; combinations without
    a row left out).

    Args:
      array: ``{"axes", "coords", "values"}`` with a last axis ``statistic``.

    Returns:
      Rows ``{<grouping columns>, mean, std, count, min, max}``.
    """
    if not is_labeled(array) or "statistic" not in array["axes"]:
        raise JaxinterInputError(
            f"array: expected a labeled spread array (axes ending in 'statistic'), got "
            f"{array!r:.60}")
    values, axes, coords = labeled_array(array)
    rows = []
    for index in np.ndindex(values.shape[:-1]):
        stats = dict(zip(coords["statistic"], values[index].tolist(), strict=True))
        if math.isnan(stats["count"]):
            continue
        head = {a: coords[a][i] if a in coords else i for a, i in zip(axes, index, strict=False)}
        rows.append({**head, **stats, "count": int(stats["count"])})
    return rows


def write_csv(path: Path | str, rows: list[dict]) -> Path:
    """Write rows (dicts) atomically as CSV, the columns in order of first appearance."""
    path = check_path(path, "path", writable="file")
    if isinstance(rows, str) or not isinstance(rows, list) or not all(
            isinstance(r, dict) for r in rows):
        raise JaxinterInputError(f"rows: expected a list of dicts, got {rows!r:.60}")
    text = io.StringIO()
    writer = csv.DictWriter(text, list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(Path(path), text.getvalue())


def _cells(axes: Mapping) -> dict:
    """Grid axis values as table cells (a list value as its JSON text)."""
    return {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in axes.items()}


def _statistics(values: list[float]) -> dict:
    finite = np.asarray([v for v in values if not math.isnan(v)], float)
    if not finite.size:
        return {"mean": math.nan, "std": math.nan, "count": 0, "min": math.nan,
                "max": math.nan}
    return {"mean": float(finite.mean()),
            "std": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
            "count": int(finite.size), "min": float(finite.min()), "max": float(finite.max())}
