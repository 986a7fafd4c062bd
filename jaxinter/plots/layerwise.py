"""Figures for the layerwise change of knowledge (:mod:`jaxinter.analysis`, Cheng et al. 2024).

Inputs are the analysis objects a layerwise study holds: a
:class:`jaxinter.analysis.LayerwiseAggregate` (per-layer, per-type, per-order arrays), sparsity
curves, per-order curves and :class:`jaxinter.analysis.StrongestInteractions`. Every function
saves one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.patheffects
import numpy as np

from ..analysis import LAYERWISE_TYPES as TYPE_NAMES
from ..analysis import LayerwiseAggregate, StrongestInteractions
from ..interactions import players_of
from ._style import AND_COLOR, OR_COLOR, ORDER_CMAP, new_figure, save

TYPE_COLORS = (AND_COLOR, OR_COLOR)
_OUTLINE = [mpl.patheffects.withStroke(linewidth=2, foreground="white")]  # text over images
SHARED, FORGET, NEW = "#2ca02c", "#9e9e9e", "#ff7f0e"


def _layer_colors(count: int):
    """One colour per layer along the colour map, stopping short of its pale yellow end."""
    cmap = mpl.colormaps[ORDER_CMAP]
    return [cmap(0.85 * i / max(count - 1, 1)) for i in range(count)]


def plot_sparsity(curves, layer_names: Sequence[str], path, title: str = "",
                  threshold: float = 0.05):
    """|I(S)| / max |I| sorted descending (mean over samples), one line per layer; log y.

    Args:
      curves: (L, 2 (2**n - 1)) sparsity curves (``LayerwiseResult.sparsity_curves()``).
      layer_names: the L layer names.
      path: the PNG file.
      title: the title (default "Sparsity of AND-OR interactions").
      threshold: the salient ratio, drawn as a horizontal line.
    """
    fig, axes = new_figure(width=5.5)
    ax = axes[0, 0]
    curves = np.asarray(curves)
    for curve, name, color in zip(curves, layer_names, _layer_colors(len(curves)), strict=True):
        ax.plot(np.arange(1, len(curve) + 1), np.maximum(curve, 1e-6), color=color, label=name)
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.5)
    ax.set_xlabel("rank of the interaction (AND and OR together)")
    ax.set_ylabel("|I(S)| / max |I|  (mean over samples)")
    ax.set_title(title or "Sparsity of AND-OR interactions")
    ax.axhline(threshold, color="k", lw=0.8, ls=":", label="salient threshold")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_layer_change(aggregate: LayerwiseAggregate, kind: int, path, ncols: int = 4):
    """Per layer and order: all_l split into overlap + forget, next to all_L = overlap + new.

    Draws ``aggregate.change_by_order`` (L, 2, 3, n + 1) of type ``kind`` (0 = AND, 1 = OR),
    one panel per layer before the output.
    """
    names = aggregate.layer_names
    change = np.asarray(aggregate.change_by_order)[:, kind]  # (L, 3, n+1)
    count = len(names) - 1  # each hidden layer against the output
    nrows = -(-count // ncols)
    fig, axes = new_figure(ncols=min(ncols, count), nrows=nrows, width=3.4, height=2.8)
    orders = np.arange(change.shape[-1])
    top = np.nanmax(change[:count, 0] + change[:count, 1:].max(1)) * 1.05 or 1.0
    for i, ax in enumerate(axes.flat):
        if i >= count:
            ax.axis("off")
            continue
        overlap, forget, new = change[i]
        ax.bar(orders - 0.2, overlap, 0.4, color=SHARED, label="overlap")
        ax.bar(orders - 0.2, forget, 0.4, bottom=overlap, color=FORGET, label="forget")
        ax.bar(orders + 0.2, overlap, 0.4, color=SHARED)
        ax.bar(orders + 0.2, new, 0.4, bottom=overlap, color=NEW, label="new")
        ax.set_title(f"{names[i]} vs output ({TYPE_NAMES[kind]})", fontsize=9)
        ax.set_ylim(0, top)
        ax.set_xticks(orders[1:])
        ax.set_xlim(0.4, orders[-1] + 0.6)  # order 0 (the empty set) is never salient
        ax.set_xlabel("order m")
        if i % ncols == 0:
            ax.set_ylabel("sum of normalized |I|")
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Left bar: layer l = overlap + forget; right bar: output = overlap + new")
    return save(fig, path)


def plot_completeness(aggregate: LayerwiseAggregate, path):
    """Completeness and redundancy by layer (both types), and completeness by order (AND)."""
    names = aggregate.layer_names
    comp, red = np.asarray(aggregate.completeness), np.asarray(aggregate.redundancy)
    fig, axes = new_figure(ncols=2, width=5.2)
    ax = axes[0, 0]
    x = np.arange(len(names))
    for k in range(2):
        ax.plot(x, comp[:, k], "o-", color=TYPE_COLORS[k], label=f"completeness {TYPE_NAMES[k]}")
        ax.plot(x, red[:, k], "s--", color=TYPE_COLORS[k], label=f"redundancy {TYPE_NAMES[k]}")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction of strength")
    ax.set_title("Through the layers (all orders)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    by_order = np.asarray(aggregate.completeness_by_order)[:, 0]  # (L, n+1)
    orders = np.arange(by_order.shape[-1])
    for name, row, color in zip(names, by_order, _layer_colors(len(names)), strict=True):
        ax.plot(orders[1:], row[1:], "o-", color=color, label=name, ms=3)
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("order m")
    ax.set_ylabel("completeness (AND)")
    ax.set_title("Completeness by order")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_by_order(curves: Mapping[str, np.ndarray], ylabel: str, title: str, path,
                  log: bool = False):
    """One line per label over orders 1..n (NaN points skipped), AND solid, OR dashed if the
    label says so; used for IoU, stability and strength by order."""
    fig, axes = new_figure(width=5.2)
    ax = axes[0, 0]
    colors = _layer_colors(len(curves)) if len(curves) > 2 else TYPE_COLORS
    for (label, y), color in zip(curves.items(), colors, strict=False):
        y = np.asarray(y, np.float64)
        m = np.arange(len(y))
        ok = np.isfinite(y) & (m > 0)
        ax.plot(m[ok], y[ok], "o--" if "OR" in label else "o-", color=color, label=label, ms=4)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("order m")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_strength(aggregate: LayerwiseAggregate, path, layer: int = -1):
    """Left: salient strength per order (sum of normalized |I|, per image); right: mean |I(S)|
    over all subsets of each order (log scale), of one layer (default the output). OR starts at
    order 2 (singleton OR terms are folded into AND)."""
    fig, axes = new_figure(ncols=2, width=5.0)
    for ax, values, ylabel, log in (
        (axes[0, 0], aggregate.strength_by_order[layer],
         "sum of normalized |I| over salient S (per image)", False),
        (axes[0, 1], aggregate.strength_per_subset_by_order[layer],
         "mean normalized |I(S)| per subset", True),
    ):
        for k in range(2):
            y = np.asarray(values[k], np.float64)
            m = np.arange(len(y))
            ok = m >= k + 1
            ax.plot(m[ok], y[ok], "o--" if k else "o-", color=TYPE_COLORS[k],
                    label=TYPE_NAMES[k], ms=4)
        if log:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("order m")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Strength by order ({aggregate.layer_names[layer]})")
    return save(fig, path)


def _example(examples: StrongestInteractions, row: int, slot: int):
    """(type name, players, value) of one slot, or None when the slot is empty."""
    if not examples.valid[row, slot]:
        return None
    return (TYPE_NAMES[int(examples.kind[row, slot])],
            players_of(int(examples.subset[row, slot])), float(examples.value[row, slot]))


def _sample_title(sample_ids, row: int, what: str) -> str:
    return what if sample_ids is None else f"sample {int(sample_ids[row])}: {what}"


def plot_examples(images, boxes, examples: StrongestInteractions, path, sample_ids=None):
    """Salient interactions drawn on images.

    Args:
      images: (E, H, W) grey images.
      boxes: (E, n, 4) player rectangles (row, col, height, width).
      examples: the strongest interactions of each image, arrays (E, k).
      path: the PNG file.
      sample_ids: (E,) ids shown in the row titles (e.g. test-set indices), or None.

    Each row shows the image with all players outlined, then the k strongest interactions
    with their players filled (red positive, blue negative).
    """
    rows, top = np.shape(examples.value)
    fig, axes = new_figure(ncols=top + 1, nrows=rows, width=1.7, height=1.9)
    for r in range(rows):
        img = np.asarray(images[r])
        ax = axes[r, 0]
        ax.imshow(img, cmap="gray_r")
        for p, (y, x, h, w) in enumerate(boxes[r]):
            ax.add_patch(mpl.patches.Rectangle((x - 0.5, y - 0.5), w, h, fill=False,
                                               ec="#2ca02c", lw=1))
            ax.text(x + w / 2 - 0.5, y + h / 2 - 0.5, str(p), color="#2ca02c", fontsize=8,
                    fontweight="bold", ha="center", va="center", path_effects=_OUTLINE)
        ax.set_title(_sample_title(sample_ids, r, "players"), fontsize=8)
        for c in range(top):
            ax = axes[r, c + 1]
            example = _example(examples, r, c)
            if example is None:
                ax.axis("off")
                continue
            kind, players, value = example
            ax.imshow(img, cmap="gray_r", alpha=0.35)
            color = "#d62728" if value > 0 else "#1f77b4"
            for p in players:
                y, x, h, w = boxes[r][p]
                ax.add_patch(mpl.patches.Rectangle((x - 0.5, y - 0.5), w, h, color=color,
                                                   alpha=0.6))
            ax.set_title(f"{kind} {value:+.2f}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Strongest salient interactions of the output (normalized; red > 0, blue < 0)",
                 fontsize=9)
    return save(fig, path)


def plot_examples_bars(labels: Sequence[Sequence[str]], examples: StrongestInteractions, path,
                       sample_ids=None):
    """Tabular inputs: per sample a bar chart of its strongest interactions.

    Args:
      labels: labels[s][p] is the name of player p of sample s, for the E samples.
      examples: the strongest interactions of each sample, arrays (E, k).
      path: the PNG file.
      sample_ids: (E,) ids shown in the panel titles (e.g. test-set indices), or None.
    """
    rows, top = np.shape(examples.value)
    fig, axes = new_figure(nrows=rows, width=7.5, height=0.35 * top + 1.0)
    for r, (ax, names_s) in enumerate(zip(axes[:, 0], labels, strict=True)):
        shown = [e for e in (_example(examples, r, c) for c in range(top)) if e is not None]
        names = [f"{k} " + " & ".join(names_s[p] for p in players) for k, players, _ in shown]
        values = [v for *_, v in shown]
        colors = ["#d62728" if v > 0 else "#1f77b4" for v in values]
        ax.barh(np.arange(len(shown))[::-1], values, color=colors)
        ax.set_yticks(np.arange(len(shown))[::-1], names, fontsize=6)
        ax.axvline(0, color="k", lw=0.6)
        ax.set_xlabel("normalized interaction")
        ax.set_title(_sample_title(sample_ids, r, "strongest interactions"), fontsize=8)
    fig.suptitle("Strongest salient interactions of the output (normalized)", fontsize=9)
    return save(fig, path)
