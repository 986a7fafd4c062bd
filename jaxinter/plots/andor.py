"""Figures for AND-OR extraction: loss relative to the optimum, and sparsity curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._style import new_figure, save

SYSTEM_COLORS = {"default": "C0", "before": "C1", "published": "C2", "lp": "black"}


def _color(label: str):
    """The colour of the system a label names (same system, same colour in every panel)."""
    return next((c for key, c in SYSTEM_COLORS.items() if key in label.lower()), None)


def andor_figure(histories: dict, optimum: float, curves: dict, path: Path,
                 bounds: dict | None = None, certified: dict | None = None) -> Path:
    """Loss / optimum - 1 against step (log-log), sparsity curves, and games certified by step.

    Args:
      histories: label -> (steps (k,), losses (k,)): the objective recorded at those steps.
      optimum: the exact (LP) objective of the game.
      curves: label -> sorted |I| / max |I| (AND and OR pooled).
      path: where the PNG goes.
      bounds: label -> certified lower bound of a solver, drawn as 1 - bound / optimum (how far
        below the optimum the certificate sits) in the colour of the history of that label.
      certified: label -> (games,) steps each game of a batch ran to its certificate: a third
        panel shows the fraction of games certified against the steps.

    Returns:
      The path of the PNG.
    """
    fig, axes = new_figure(3 if certified else 2, 1, width=5.2, height=3.8)
    ax_loss, ax_curve = axes[0][:2]
    for label, (steps, losses) in histories.items():
        ax_loss.plot(steps, np.maximum(np.asarray(losses) / optimum - 1, 1e-6), label=label,
                     color=_color(label))
    for label, bound in (bounds or {}).items():
        ax_loss.axhline(max(1 - bound / optimum, 1e-6), color=_color(label), ls=":", lw=1.2,
                        label=f"{label}: 1 - certified bound / optimum")
    ax_loss.axhline(0.01, color="grey", ls="--", lw=0.8, label="1% above optimum")
    ax_loss.set(xscale="log", yscale="log", xlabel="step", ylabel="loss / LP optimum - 1",
                title="L1 objective vs exact optimum")
    ax_loss.legend(fontsize=7)
    for label, curve in curves.items():
        ax_curve.plot(np.arange(1, len(curve) + 1), curve, label=label, color=_color(label),
                      ls="--" if "lp" in label.lower() else "-")
    ax_curve.set(xscale="log", yscale="log", xlabel="rank of |I(S)| (AND and OR pooled)",
                 ylabel="|I(S)| / max |I|", title="normalized sparsity curve")
    ax_curve.set_ylim(1e-5, 1.5)
    ax_curve.axhline(0.05, color="grey", ls=":", lw=0.8, label="salient threshold 0.05")
    ax_curve.legend(fontsize=8)
    if certified:
        ax_done = axes[0][2]
        for label, steps in certified.items():
            steps = np.sort(np.asarray(steps))
            ax_done.step(steps, np.arange(1, len(steps) + 1) / len(steps), where="post",
                         label=f"{label} (mean {steps.mean():.0f})", color=_color(label))
        ax_done.set(xlabel="steps", ylabel="fraction of games certified",
                    title=f"steps to the certificate ({len(steps)} games)", ylim=(0, 1.02))
        ax_done.legend(fontsize=8)
    return save(fig, path)
