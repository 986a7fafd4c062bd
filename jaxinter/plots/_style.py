"""Shared style of every figure: colours, a figure factory and the PNG saver."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from ..errors import check_instance, check_int, check_number, check_path  # noqa: E402

ORDER_CMAP = "viridis"  # colour map for interaction order
AND_COLOR = "#1f77b4"  # AND interactions in every figure
OR_COLOR = "#d62728"  # OR interactions in every figure


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6):
    """A figure with a grid of axes sized per panel; returns (fig, axes array)."""
    check_int(ncols, "ncols", 1, 50)
    check_int(nrows, "nrows", 1, 50)
    check_number(width, "width", 0, 50, low_open=True)
    check_number(height, "height", 0, 50, low_open=True)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
        constrained_layout=True,
    )
    return fig, axes


def save(fig, path: Path) -> Path:
    """Save a figure as PNG (150 dpi) and close it; returns the path."""
    check_instance(fig, "fig", matplotlib.figure.Figure)
    path = check_path(path, "path", writable="file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
