"""Figures of a sweep: a quantity's mean across seeds with its spread, side by side across
configurations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ._style import AND_COLOR, OR_COLOR, new_figure, save

TYPE_COLORS = {"AND": AND_COLOR, "OR": OR_COLOR}


def plot_spread(rows: Sequence[Mapping], x: str, path: Path, *, series: Sequence[str] = (),
                panel: str | None = None, title: str = "", ylabel: str = "value",
                xlabel: str | None = None) -> Path:
    """Mean (line) and mean +/- std (band) of ``rows`` against column ``x``.

    Args:
      rows: rows with ``x``, ``mean``, ``std``, ``count`` and the ``series``/``panel``
        columns (``SweepResult.spread``).
      x: the column on the horizontal axis (order, layer, checkpoint, ...); string labels
        that differ between the lines (the layers of two models) are placed by position.
      path: the PNG file to write.
      series: columns whose values make one line each (e.g. ``("type", "noise_rate")``).
      panel: a column whose values make one panel each, or None.
      title, ylabel, xlabel: labels (``xlabel`` defaults to ``x``).

    Returns:
      ``path``.
    """
    panels = list(dict.fromkeys(r[panel] for r in rows)) if panel else [None]
    fig, axes = new_figure(ncols=len(panels), width=4.6, height=3.4)
    lines = list(dict.fromkeys(tuple(r[s] for s in series) for r in rows))
    labels = {tuple(r[x] for r in rows if tuple(r[s] for s in series) == line)
              for line in lines}
    # string labels (layer names) differing between the lines (models): their positions
    by_position = isinstance(rows[0][x], str) and len(labels) > 1
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, max(len(lines), 1)))
    for ax, value in zip(axes[0], panels, strict=True):
        for line, color in zip(lines, colors, strict=True):
            picked = [r for r in rows if tuple(r[s] for s in series) == line
                      and (panel is None or r[panel] == value)]
            if not picked:
                continue
            xs = [r[x] for r in picked]
            mean = np.array([r["mean"] for r in picked], float)
            std = np.nan_to_num(np.array([r["std"] for r in picked], float))
            color = TYPE_COLORS.get(line[0], color) if len(line) == 1 else color
            label = " ".join([*(f"{s} {v}," for s, v in zip(series, line, strict=True)),
                              f"mean ± std over {max(r['count'] for r in picked)}"])
            positions = np.arange(len(xs)) + by_position if isinstance(xs[0], str) else (
                np.asarray(xs))
            ax.plot(positions, mean, "o-", color=color, ms=3, label=label)
            ax.fill_between(positions, mean - std, mean + std, color=color, alpha=0.2, lw=0)
            if isinstance(xs[0], str) and not by_position:
                ax.set_xticks(positions, xs, rotation=30, ha="right", fontsize=8)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"{xlabel or x} (position)" if by_position else
                      xlabel or x)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{panel} {value}" if panel else title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if panel:
        fig.suptitle(title, fontsize=11)
    return save(fig, path)
