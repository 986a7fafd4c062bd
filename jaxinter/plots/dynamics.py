"""Figures for the dynamics and generalization of interactions (``jaxinter dynamics``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np

from ._style import AND_COLOR, OR_COLOR, ORDER_CMAP, new_figure, save


def _order_colors(n: int):
    cmap = mpl.colormaps[ORDER_CMAP]
    return [cmap(m / max(n - 1, 1)) for m in range(n)]


def _spectrum_panel(ax, steps, spectrum, title):
    """Stacked area of the normalized per-order strength (orders >= 1) over training."""
    n = spectrum.shape[-1] - 1
    ax.stackplot(steps, np.nan_to_num(spectrum[:, 1:]).T, colors=_order_colors(n),
                 labels=[f"order {m}" for m in range(1, n + 1)])
    ax.set_xlim(steps[0], steps[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("training step")
    ax.set_ylabel("share of interaction strength")
    ax.set_title(title)


def spectra_with_loss_gap(
    path: Path, steps, spectrum, mean_order, train_loss, test_loss, turn: int, onset: int,
    title: str = "",
) -> Path:
    """Order spectrum over training (stacked shares + mean order) next to the losses and gap.

    spectrum: (T, n + 1) normalized strength; mean_order, train_loss, test_loss: (T,); turn,
    onset: checkpoint indices of the spectrum turn and of the gap onset (marked by lines).
    """
    steps = np.asarray(steps)
    fig, axes = new_figure(2, 1, width=5.6, height=3.8)
    ax = axes[0, 0]
    _spectrum_panel(ax, steps, np.asarray(spectrum), f"order spectrum {title}".strip())
    twin = ax.twinx()
    twin.plot(steps, mean_order, "k-", lw=2, label="mean order")
    twin.set_ylabel("mean order")
    ax.axvline(steps[turn], color="k", ls="--", lw=1)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1] + twin.get_legend_handles_labels()[0],
              labels[::-1] + ["mean order"], fontsize=6, loc="lower right", ncol=2)
    ax = axes[0, 1]
    ax.plot(steps, train_loss, label="train loss", color="tab:blue")
    ax.plot(steps, test_loss, label="test loss", color="tab:orange")
    ax.plot(steps, np.asarray(test_loss) - np.asarray(train_loss), label="gap (test - train)",
            color="tab:red", lw=2)
    ax.axvline(steps[turn], color="k", ls="--", lw=1, label=f"spectrum turn (step {steps[turn]})")
    ax.axvline(steps[onset], color="tab:red", ls=":", lw=1.5,
               label=f"gap onset (step {steps[onset]})")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(f"losses {title}".strip())
    ax.legend(fontsize=7)
    return save(fig, path)


def noise_side_by_side(path: Path, steps, spectra: Mapping[str, np.ndarray],
                       mean_orders: Mapping[str, np.ndarray],
                       mean_title: str = "mean order over training") -> Path:
    """One spectrum panel per title (e.g. label-noise rate) plus the mean orders overlaid.

    spectra: {panel title: (T, n + 1) normalized strength}; mean_orders: {label: (T,)}.
    """
    steps = np.asarray(steps)
    k = len(spectra)
    fig, axes = new_figure(k + 1, 1, width=3.6, height=3.3)
    for ax, (label, s) in zip(axes[0], spectra.items(), strict=False):
        _spectrum_panel(ax, steps, np.asarray(s), label)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, k - 1].legend(handles[::-1], labels[::-1], fontsize=6, loc="lower right", ncol=2)
    ax = axes[0, -1]
    for label, m in mean_orders.items():
        ax.plot(steps, m, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("mean order")
    ax.set_title(mean_title)
    ax.legend(fontsize=7)
    return save(fig, path)


def by_order_lines(
    path: Path, panels: Mapping[str, Mapping[str, np.ndarray]], ylabel: Mapping[str, str] | None
    = None, start: int = 1, ylim: tuple | None = None,
    references: Mapping[str, tuple[str, np.ndarray]] | None = None,
) -> Path:
    """One panel per metric, one line per series: ``panels[title][series] = (n + 1,) values``.

    Orders below ``start`` are left out (order 0 is the empty set); NaN values (nothing to
    measure) leave gaps, and series with nothing measured are left out. Series "<group> AND"
    and "<group> OR" share the group's colour, OR dashed; plain "AND"/"OR" use the AND/OR
    colours. ``references[title] = (label, (n + 1,)
    values)`` adds a grey dotted reference line (e.g. a chance level) to that panel.
    """
    fig, axes = new_figure(len(panels), 1, width=4.2, height=3.4)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=False):
        groups: dict[str, int] = {}
        for label, values in series.items():
            values = np.asarray(values, float)
            if np.isnan(values[start:]).all():  # nothing measured (e.g. OR of plain AND)
                continue
            orders = np.arange(start, values.shape[-1])
            group = label.removesuffix(" AND").removesuffix(" OR")
            index = groups.setdefault(group, len(groups))
            color = {"AND": AND_COLOR, "OR": OR_COLOR}.get(label, f"C{index}")
            ls = "--" if label.endswith(" OR") else "-"
            ax.plot(orders, values[start:], marker="o", ms=3, ls=ls, color=color, label=label)
        if title in (references or {}):
            label, values = references[title]
            values = np.asarray(values, float)
            ax.plot(np.arange(start, values.shape[-1]), values[start:], ls=":", color="0.4",
                    lw=1.5, label=label)
        ax.set_xlabel("interaction order")
        ax.set_ylabel((ylabel or {}).get(title, title))
        ax.set_title(title)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.legend(fontsize=7)
    return save(fig, path)
