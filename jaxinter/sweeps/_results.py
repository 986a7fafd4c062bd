"""The results of a sweep as tidy tables: every labeled array of every configuration's
summary, and its mean and spread across seeds.

A row of the tidy table is one number: the configuration (``configuration``, ``analysis``
and one column per grid axis), the ``quantity`` (the path of a labeled array in the study's
``summary.json``, e.g. ``"layerwise/completeness"``), one column per axis of that array
(``layer``, ``type``, ``order``, ``seed``, ...) and ``value``. An array axis shadows a grid axis
of the same name (a dynamics population's ``seed`` axis holds the actual seeds).
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

from ..errors import JaxinterInputError, check_path
from ..io import labeled_frame_rows, labeled_items, write_atomic

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
