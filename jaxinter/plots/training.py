"""Training curves: loss and accuracy of the train and test splits against epochs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import JaxinterInputError
from ._style import new_figure, save

TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#d62728"


def _column(history: Sequence[Mapping], key: str) -> np.ndarray | None:
    """``history[i][key]`` as floats, or None when no row has the key."""
    if not any(key in row for row in history):
        return None
    return np.array([row.get(key, np.nan) for row in history], float)


def plot_training(history: Sequence[Mapping], path, title: str = "Training"):
    """Two panels against epochs: cross-entropy loss (left) and accuracy in % (right).

    ``history`` is :attr:`jaxinter.training.TrainResult.history`: one row per logged segment with
    ``epoch``, ``loss``, ``accuracy`` (means over the segment's minibatches, training mode) and,
    with test data, ``test_loss``, ``test_accuracy`` (whole test split after the segment, eval
    mode). Train points sit at the middle of their segment, test points at its end. The final
    test accuracy is written in the legend. Returns the saved PNG path.
    """
    history = list(history)
    if not history or any(k not in history[0] for k in ("epoch", "loss", "accuracy")):
        raise JaxinterInputError(
            "history: expected a non-empty list of rows with epoch, loss and accuracy "
            "(TrainResult.history)"
        )
    epoch = _column(history, "epoch")
    middle = (np.concatenate([[0.0], epoch[:-1]]) + epoch) / 2  # train metrics average a segment
    fig, axes = new_figure(ncols=2, width=4.6)
    panels = (("loss", "cross-entropy loss", 1.0), ("accuracy", "accuracy (%)", 100.0))
    for ax, (key, label, scale) in zip(axes[0], panels, strict=True):
        train = _column(history, key) * scale
        ax.plot(middle, train, "-o", ms=3, color=TRAIN_COLOR,
                label="train (segment mean, training mode)")
        test = _column(history, f"test_{key}")
        if test is not None:
            final = f", final {test[-1] * scale:.1f}%" if key == "accuracy" else ""
            ax.plot(epoch, test * scale, "-s", ms=3, color=TEST_COLOR,
                    label=f"test (eval mode){final}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xlim(0, epoch.max() * 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylim(bottom=0)
    axes[0, 1].set_ylim(0, 101)
    fig.suptitle(title)
    return save(fig, path)
