"""Figures for AND-OR extraction: loss relative to the optimum, and sparsity curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._style import new_figure, save


def andor_figure(histories: dict, optimum: float, curves: dict, path: Path) -> Path:
    """Two panels: loss / optimum - 1 against step (log-log) and normalized sparsity curves.

    histories: label -> (steps_recorded,) loss history with its step numbers as
    (steps, losses); optimum: exact (LP) objective; curves: label -> sorted |I| / max |I|.
    """
    fig, axes = new_figure(2, 1, width=5.0, height=3.6)
    ax_loss, ax_curve = axes[0]
    for label, (steps, losses) in histories.items():
        ax_loss.plot(steps, np.maximum(np.asarray(losses) / optimum - 1, 1e-6), label=label)
    ax_loss.axhline(0.01, color="grey", ls="--", lw=0.8, label="1% above optimum")
    ax_loss.set(xscale="log", yscale="log", xlabel="step", ylabel="loss / LP optimum - 1",
                title="L1 objective vs exact optimum")
    ax_loss.legend(fontsize=8)
    for label, curve in curves.items():
        ax_curve.plot(np.arange(1, len(curve) + 1), curve, label=label)
    ax_curve.set(xscale="log", xlabel="rank of |I(S)| (AND and OR pooled)",
                 ylabel="|I(S)| / max |I|", title="normalized sparsity curve")
    ax_curve.axhline(0.05, color="grey", ls=":", lw=0.8, label="salient threshold 0.05")
    ax_curve.legend(fontsize=8)
    return save(fig, path)
