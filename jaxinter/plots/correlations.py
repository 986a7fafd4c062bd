"""Figures of the correlation-function analysis (:func:`jaxinter.analysis.analyse_correlations`).

Every function takes :class:`jaxinter.analysis.CorrelationAnalysis` results keyed by model name
(e.g. the activation) and writes one PNG file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import COV_PARTS, MEAN_PARTS, CorrelationAnalysis, XorClosureCheck
from ._style import new_figure, save


def order_contributions(results: dict[str, CorrelationAnalysis], path: Path) -> Path:
    """Stacked bars: share of each hidden layer's output mean / covariance per cumulant order."""
    models = [m for m, r in results.items() if r.has_closure]
    fig, axes = new_figure(2, len(models), width=5.2, height=3.2)
    for row, model in enumerate(models):
        r = results[model]
        names = list(r.layers[1:-1])
        for ax, share, parts, what in zip(axes[row], r.part_shares(), (MEAN_PARTS, COV_PARTS),
                                          ("mean", "covariance"), strict=True):
            bottom = np.zeros(len(names))
            for p, part in enumerate(parts):
                ax.bar(names, share[:, p], bottom=bottom, label=part)
                bottom += share[:, p]
            ax.set_ylim(0, 1)
            ax.set_ylabel("share of part norms")
            ax.set_title(f"{model}: output {what}, by input cumulant order", fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)


def surrogate_accuracy(results: dict[str, CorrelationAnalysis], path: Path) -> Path:
    """Accuracy when one layer is replaced by class-wise Gaussian surrogates, per model."""
    fig, axes = new_figure(1, 1, width=6.0, height=3.6)
    ax = axes[0, 0]
    for i, (model, r) in enumerate(results.items()):
        color = f"C{i}"
        ax.plot(list(r.layers), r.surrogate_accuracy, "o-", color=color,
                label=f"{model}: Gaussian surrogate at layer")
        ax.axhline(float(r.accuracy), color=color, ls="--", lw=1, label=f"{model}: real data")
    ax.set_xlabel("layer replaced by its class-conditional Gaussian")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save(fig, path)


def prediction_errors(results: dict[str, CorrelationAnalysis], path: Path) -> Path:
    """Relative error of predicted class means and covariances per layer (class average)."""
    models = [m for m, r in results.items() if r.has_closure]
    fig, axes = new_figure(2, 1, width=5.2, height=3.4)
    for i, model in enumerate(models):
        r = results[model]
        layers = list(r.layers)
        for ax, closure, local in ((axes[0, 0], r.closure_mean_error, r.local_mean_error),
                                   (axes[0, 1], r.closure_cov_error, r.local_cov_error)):
            ax.plot(layers[1:], np.maximum(closure.mean(1)[1:], 1e-17), "o-", color=f"C{i}",
                    label=f"{model}: Gaussian closure from input statistics")
            ax.plot(layers[1:-1], np.maximum(local.mean(1), 1e-17), "s:", color=f"C{i}",
                    label=f"{model}: one layer from measured input moments")
        if r.exact_cov_error is not None:
            axes[0, 1].plot(layers[1:], np.maximum(r.exact_cov_error.mean(1)[1:], 1e-17), "^--",
                            color=f"C{i}", alpha=0.6, label=f"{model}: exact (with kappa3, kappa4)")
    for ax, what in ((axes[0, 0], "class means"), (axes[0, 1], "class covariances")):
        ax.set_yscale("log")
        ax.set_ylabel(f"relative error of {what}")
        ax.set_xlabel("layer")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return save(fig, path)


def moment_scatter(result: CorrelationAnalysis, layer: int, model: str, path: Path) -> Path:
    """Predicted (Gaussian closure from the input) vs measured means and covariance entries."""
    measured = result.measured.features[layer]
    closure = result.closure
    fig, axes = new_figure(2, 1, width=4.2, height=3.8)
    for ax, pred, true, what in ((axes[0, 0], closure.means[layer], measured.mean, "mean"),
                                 (axes[0, 1], closure.covs[layer], measured.cov, "covariance")):
        pred, true = np.ravel(pred), np.ravel(true)
        ax.scatter(true, pred, s=3, alpha=0.4)
        lo, hi = min(true.min(), pred.min()), max(true.max(), pred.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel(f"measured class {what}")
        ax.set_ylabel(f"predicted class {what}")
        ax.set_title(f"{model}, {result.layers[layer]}", fontsize=9)
    return save(fig, path)


def xor_figure(x, y, layers, separation, check: XorClosureCheck, path: Path,
               unit_names: list[str] | None = None) -> Path:
    """XOR: the data, class information in mean vs covariance per layer, and unit variances
    (exact, Gaussian closure, Monte Carlo) of the first quadratic layer.

    Args:
      x: (n, 2) inputs; y: (n,) classes.
      layers: (L,) layer names; separation: (L, 2) mean and covariance separation per layer.
      check: the first layer's moments, (2, U) arrays.
      path: the PNG file.
      unit_names: (U,) unit names, default their indices.
    """
    fig, axes = new_figure(3, 1, width=4.2, height=3.6)
    ax = axes[0, 0]
    for c, marker in ((0, "o"), (1, "x")):
        ax.scatter(x[y == c, 0], x[y == c, 1], s=6, marker=marker, label=f"class {c}")
    ax.set_title("XOR: class means are both 0", fontsize=9)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    pos = np.arange(len(layers))
    ax.bar(pos - 0.2, separation[:, 0], 0.4, label="mean: |dmu|^2 / tr Sigma")
    ax.bar(pos + 0.2, separation[:, 1], 0.4, label="covariance: |dSigma|_F / |Sigma|_F")
    ax.set_xticks(pos, list(layers))
    ax.set_yscale("log")
    ax.set_ylabel("class separation (log)")
    ax.set_title("where the class information sits", fontsize=9)
    ax.set_ylim(top=ax.get_ylim()[1] * 30)  # room for the legend above the bars
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[0, 2]
    units = np.arange(check.exact_var.shape[1])
    for c, shift in ((0, -0.27), (1, 0.0)):
        ax.bar(units + shift, check.closure_var[c], 0.13, color="C3",
               label="Gaussian closure" if c == 0 else None, alpha=0.5 + 0.5 * (c == 0))
        ax.bar(units + shift + 0.13, check.exact_var[c], 0.13, color="C0",
               label="exact (mixture cumulants)" if c == 0 else None, alpha=0.5 + 0.5 * (c == 0))
        ax.plot(units + shift + 0.13, check.mc_var[c], "k.",
                label="Monte Carlo" if c == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(units, unit_names if unit_names is not None else [str(u) for u in units],
                  rotation=45, fontsize=7)
    ax.set_xlabel("unit (dark bars class 0, light bars class 1)")
    ax.set_ylabel("output variance")
    ax.set_title("first quadratic layer: variance per unit", fontsize=9)
    ax.set_ylim(top=ax.get_ylim()[1] * 100)  # room for the legend above the bars
    ax.legend(fontsize=7, ncols=2, loc="upper center")
    return save(fig, path)
