"""Shared style of every figure: colours, a figure factory and the PNG saver."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER_CMAP = "viridis"  # colour map for interaction order
AND_COLOR = "#1f77b4"  # AND interactions in every figure
OR_COLOR = "#d62728"  # OR interactions in every figure


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6):
    """A figure with a grid of axes sized per panel; returns (fig, axes array)."""
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
        constrained_layout=True,
    )
    return fig, axes


def save(fig, path: Path) -> Path:
    """Save a figure as PNG (150 dpi) and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
