"""Figures for the law of data separation: ln D by layer with the fit, over epochs, by depth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib import ticker

from ._style import ORDER_CMAP, new_figure, save

FIT_COLOR = "#d62728"


def draw_law(ax, law, title: str = "") -> None:
    """ln D_l against layer l (0 = input) with the least-squares line; rho and r in the legend."""
    l_idx = np.asarray(law.layer_index)
    ax.plot(l_idx, law.log_fuzziness, "o", color="#1f77b4", label="ln D (measured)")
    ax.plot(l_idx, law.beta * l_idx + law.intercept, "-", color=FIT_COLOR,
            label=f"fit: rho = {float(law.rho):.3f}, r = {float(law.pearson_r):.4f}")
    ax.set_xlabel("layer l (0 = input)")
    ax.set_ylabel("ln D_l")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def plot_depths(laws: Mapping[str, object], path, title: str = ""):
    """One :func:`draw_law` panel per model (e.g. per depth), side by side."""
    fig, axes = new_figure(ncols=len(laws), width=4.2)
    for ax, (name, law) in zip(axes[0], laws.items(), strict=True):
        draw_law(ax, law, name)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_emergence(epochs: Sequence[float], log_fuzziness, pearson_r, rho, path,
                   title: str = "The law emerging during training"):
    """Left: ln D_l by layer, one curve per epoch (colour = epoch). Right: r and rho by epoch.

    epochs: (E,); log_fuzziness: (E, L+1); pearson_r, rho: (E,).
    """
    epochs = np.asarray(epochs, float)
    log_d = np.asarray(log_fuzziness)
    fig, axes = new_figure(ncols=2)
    ax = axes[0, 0]
    cmap = mpl.colormaps[ORDER_CMAP]
    norm = mpl.colors.Normalize(epochs.min(), max(epochs.max(), epochs.min() + 1))
    for e, row in zip(epochs, log_d, strict=True):
        ax.plot(np.arange(row.size), row, "-o", ms=3, color=cmap(norm(e)), lw=1)
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="epoch")
    ax.set_xlabel("layer l (0 = input)")
    ax.set_ylabel("ln D_l")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    ax.plot(epochs, pearson_r, "-o", ms=3, color="#1f77b4", label="Pearson r of (l, ln D_l)")
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("Pearson r")
    ax.axhline(-1, color="gray", lw=0.8, ls=":")
    twin = ax.twinx()
    twin.plot(epochs, rho, "-s", ms=3, color=FIT_COLOR, label="decay ratio rho")
    twin.set_ylabel("rho = exp(slope)")
    lines = ax.get_lines()[:1] + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="center right")
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_directions(per_layer: Mapping[str, object], path,
                    title: str = "Per-direction breakdown of D"):
    """Stacked bars of each direction's share D_j / D per layer (directions of the class-mean
    matrix, s_j descending); condition number of the class-mean matrix per layer (log y) right."""
    names = list(per_layer)
    contrib = [np.asarray(r.per_direction)[np.asarray(r.kept)] for r in per_layer.values()]
    width = max(c.size for c in contrib)
    table = np.zeros((len(names), width))
    for i, c in enumerate(contrib):
        table[i, : c.size] = c
    share = table / table.sum(1, keepdims=True)
    fig, axes = new_figure(ncols=2, width=max(5.0, 0.22 * len(names) + 1.5))
    ax = axes[0, 0]
    cmap = mpl.colormaps[ORDER_CMAP]
    bottom = np.zeros(len(names))
    for j in range(width):
        ax.bar(np.arange(len(names)), share[:, j], bottom=bottom,
               color=cmap(j / max(width - 1, 1)), label=f"j = {j + 1}" if width <= 10 else None)
        bottom += share[:, j]
    ax.set_xticks(np.arange(len(names)), names, rotation=90, fontsize=7)
    ax.set_ylabel("share of D from direction j (s_j descending)")
    ax.set_title(title)
    if width <= 10:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax = axes[0, 1]
    ax.semilogy(np.arange(len(names)), [float(r.condition) for r in per_layer.values()], "-o")
    ax.set_xticks(np.arange(len(names)), names, rotation=90, fontsize=7)
    ax.set_ylabel("condition s_1 / s_min of class-mean matrix")
    ax.yaxis.set_major_formatter(ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.3g"))
    ax.set_title("conditioning of the class means")
    ax.grid(alpha=0.3, which="both")
    return save(fig, path)
