"""Figures for the layerwise change of knowledge (see :mod:`jaxinter.layerwise`).

Inputs are the numpy arrays of :meth:`LayerwiseResult.summary` and friends: per-layer, per-type
(AND, OR), per-order arrays. Every function saves one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np

from ._style import AND_COLOR, OR_COLOR, ORDER_CMAP, new_figure, save

TYPE_COLORS = (AND_COLOR, OR_COLOR)
TYPE_NAMES = ("AND", "OR")
SHARED, FORGET, NEW = "#2ca02c", "#9e9e9e", "#ff7f0e"


def _layer_colors(count: int):
    cmap = mpl.colormaps[ORDER_CMAP]
    return [cmap(i / max(count - 1, 1)) for i in range(count)]


def plot_sparsity(curves, layer_names: Sequence[str], path, title: str = ""):
    """|I(S)| / max |I| sorted descending (mean over samples), one line per layer; log y."""
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
    ax.axhline(0.05, color="k", lw=0.8, ls=":", label="salient threshold")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_layer_change(summary: Mapping, kind: int, path, ncols: int = 4):
    """Per layer and order: all_l split into overlap + forget, next to all_L = overlap + new.

    ``summary`` holds ``change_by_order`` arrays (L, 2, 3, n + 1) for (overlap, forget, new),
    summed over samples; ``kind`` 0 = AND, 1 = OR.
    """
    names = summary["layers"]
    change = np.asarray(summary["change_by_order"])[:, kind]  # (L, 3, n+1)
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
        ax.set_xlabel("order m")
        if i % ncols == 0:
            ax.set_ylabel("sum of normalized |I|")
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Left bar: layer l = overlap + forget; right bar: output = overlap + new")
    return save(fig, path)


def plot_completeness(summary: Mapping, path):
    """Completeness and redundancy by layer (both types), and completeness by order (AND)."""
    names = summary["layers"]
    comp, red = np.asarray(summary["completeness"]), np.asarray(summary["redundancy"])
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
    by_order = np.asarray(summary["completeness_by_order"])[:, 0]  # (L, n+1)
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


def plot_strength(total, per_subset, path, title: str = "output"):
    """Left: salient strength per order (sum of normalized |I|, per image); right: mean |I(S)|
    over all subsets of each order (log scale). Arrays (2, n + 1) for (AND, OR); OR starts at
    order 2 (singleton OR terms are folded into AND)."""
    fig, axes = new_figure(ncols=2, width=5.0)
    for ax, values, ylabel, log in (
        (axes[0, 0], total, "sum of normalized |I| over salient S (per image)", False),
        (axes[0, 1], per_subset, "mean normalized |I(S)| per subset", True),
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
    fig.suptitle(f"Strength by order ({title})")
    return save(fig, path)


def plot_examples(images, boxes, examples, path, top: int = 6):
    """Salient interactions drawn on images.

    images: (E, H, W) grey images; boxes: (E, n, 4) player rectangles (row, col, height,
    width); examples: per image a list of (type, players tuple, value) sorted by |value|. Each
    row shows the image with all players outlined, then the ``top`` strongest interactions with
    their players filled (red positive, blue negative).
    """
    rows = len(images)
    fig, axes = new_figure(ncols=top + 1, nrows=rows, width=1.7, height=1.9)
    for r in range(rows):
        img = np.asarray(images[r])
        ax = axes[r, 0]
        ax.imshow(img, cmap="gray_r")
        for p, (y, x, h, w) in enumerate(boxes[r]):
            ax.add_patch(mpl.patches.Rectangle((x - 0.5, y - 0.5), w, h, fill=False,
                                               ec="#2ca02c", lw=1))
            ax.text(x + w / 2 - 0.5, y + h / 2 - 0.5, str(p), color="#2ca02c", fontsize=6,
                    ha="center", va="center")
        ax.set_title("players", fontsize=8)
        for c in range(top):
            ax = axes[r, c + 1]
            if c >= len(examples[r]):
                ax.axis("off")
                continue
            kind, players, value = examples[r][c]
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


def plot_examples_bars(labels, examples, path, top: int = 8):
    """Tabular inputs: per sample a bar chart of its strongest interactions; labels[s][p] is
    the name of player p of sample s."""
    fig, axes = new_figure(nrows=len(examples), width=7.5, height=0.35 * top + 1.0)
    for ax, ex, names_s in zip(axes[:, 0], examples, labels, strict=True):
        ex = ex[:top]
        names = [f"{k} " + " & ".join(names_s[p] for p in players) for k, players, _ in ex]
        values = [v for *_, v in ex]
        colors = ["#d62728" if v > 0 else "#1f77b4" for v in values]
        ax.barh(np.arange(len(ex))[::-1], values, color=colors)
        ax.set_yticks(np.arange(len(ex))[::-1], names, fontsize=6)
        ax.axvline(0, color="k", lw=0.6)
        ax.set_xlabel("normalized interaction")
    return save(fig, path)
