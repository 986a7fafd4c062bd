"""``jaxinter correlations``: cumulants through the layers, Gaussian closure and surrogates."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._arguments import (
    add_common_arguments,
    add_user_arguments,
    existing_path,
    int_at_least,
)

HELP = "networks as maps of class-conditional cumulants (Fischer et al. 2022): HTML report"


def _activations(text: str) -> list[str]:
    """argparse type: comma-separated names of :data:`jaxinter.models.ACTIVATIONS`."""
    from ..models import ACTIVATIONS

    names = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in names if a not in ACTIVATIONS]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names from {', '.join(ACTIVATIONS)}, got {text!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "correlations")
    add_user_arguments(parser)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist", "file"],
                        help="main dataset (default digits; mnist needs --data-path)")
    parser.add_argument("--data-path", type=existing_path, default=None,
                        help="MNIST folder of IDX files or .npz (e.g. ../shared/data/mnist)")
    parser.add_argument("--activations", default="quadratic,relu,erf", type=_activations,
                        help="comma-separated MLP activations (quadratic, relu, erf, linear, tanh)")
    parser.add_argument("--depth", type=int_at_least(1), default=3,
                        help="MLP linear layers (default 3)")
    parser.add_argument("--width", type=int_at_least(1), default=64,
                        help="hidden width (default 64)")
    parser.add_argument("--alpha", type=float, default=0.5, help="quadratic z + alpha z^2")
    parser.add_argument("--epochs", type=int_at_least(1), default=30,
                        help="training epochs (default 30)")
    parser.add_argument("--repeats", type=int_at_least(1), default=3,
                        help="surrogate draws per layer")
    parser.add_argument("--no-xor", action="store_true", help="skip the XOR section")
    parser.add_argument("--xor-epochs", type=int_at_least(1), default=100,
                        help="training epochs of the XOR network (default 100)")
    parser.add_argument("--xor-samples", type=int_at_least(2), default=200_000,
                        help="Monte Carlo samples per class of the XOR check (default 200000)")


def config_from_args(args: argparse.Namespace):
    """The :class:`jaxinter.studies.CorrelationsConfig` of parsed arguments (validated)."""
    from ..studies import CorrelationsConfig

    return CorrelationsConfig(
        dataset=args.dataset, data_path=args.data_path, activations=tuple(args.activations),
        depth=args.depth, width=args.width, alpha=args.alpha, epochs=args.epochs,
        repeats=args.repeats, xor=not args.no_xor, xor_epochs=args.xor_epochs,
        xor_samples=args.xor_samples, seed=args.seed, label_column=args.label_column,
        model_factory=args.model_factory, checkpoint=args.checkpoint,
    )


def run(args: argparse.Namespace) -> int:
    from ..io import log
    from ..studies import run_correlations

    config = config_from_args(args)
    study = run_correlations(config, args.out)
    report = render_correlations(study, args.out)
    log(f"[correlations] wrote {report} in {study.seconds:.1f}s")
    return 0


# ---------------------------------------------------------------------------------------------
# rendering


def model_table(name: str, analysis, trained_on_surrogate: float | None = None):
    """Report table of one :class:`jaxinter.analysis.CorrelationAnalysis`: one row per layer
    (surrogate accuracy, class-averaged errors, part shares of the hidden layers)."""
    from ..analysis import COV_PARTS, MEAN_PARTS
    from ..io import Table

    a = analysis
    header = ["layer", "surrogate acc"]
    if a.has_closure:
        header += ["closure err mean", "closure err cov", "one-layer err cov"]
        header += [f"mean share: {p}" for p in MEAN_PARTS]
        header += [f"cov share: {p}" for p in COV_PARTS]
        mean_share, cov_share = a.part_shares()
    if a.exact_cov_error is not None:
        header.append("exact err cov")
    rows = []
    for l, layer in enumerate(a.layers):
        row = [layer, float(a.surrogate_accuracy[l])]
        hidden = 1 <= l <= len(a.layers) - 2
        if a.has_closure:
            row += [float(a.closure_mean_error[l].mean()), float(a.closure_cov_error[l].mean())]
            row += [float(a.local_cov_error[l - 1].mean()) if hidden else ""]
            for share in (mean_share, cov_share):
                row += share[l - 1].tolist() if hidden else [""] * share.shape[1]
        if a.exact_cov_error is not None:
            row.append(float(a.exact_cov_error[l].mean()))
        rows.append(row)
    caption = f"{name}: real test accuracy {float(a.accuracy):.4f}"
    if trained_on_surrogate is not None:
        caption = (f"{name} MLP: real test accuracy {float(a.accuracy):.4f}; trained on Gaussian "
                   f"surrogate inputs, tested on real data: {trained_on_surrogate:.4f}")
    return Table(caption, header, rows)


def _dataset_sections(study, out: Path) -> list:
    from ..io import Section
    from ..plots import correlations as plots

    name, analyses = study.dataset["name"], study.analyses
    sections = [Section(
        f"Gaussian surrogates per layer ({name})",
        "Each layer's activations of every test class are replaced by samples of a Gaussian "
        "with the same class mean and covariance and run through the rest of the network "
        "(average of the surrogate draws). The first point is the input layer.",
        figures=[plots.surrogate_accuracy(analyses, out / "surrogate_accuracy.png")],
        tables=[model_table(f"{name} {act}", a, float(acc)) for (act, a), acc
                in zip(analyses.items(), study.trained_on_surrogate_accuracy, strict=True)],
    )]
    closed = [act for act, a in analyses.items() if a.has_closure]
    if not closed:
        return sections
    first = analyses[closed[0]]
    return [*sections, Section(
        "Cumulant-order contributions per hidden layer",
        "Share of each part's norm in the layer's output class means and covariances: "
        "from the pre-activation mean alone (phi(mu)), added by its covariance "
        "(Gaussian closure), and by cumulants of order 3 and 4 (exact kappa3/kappa4 "
        "terms for the quadratic activation; measured minus closure otherwise).",
        figures=[plots.order_contributions(analyses, out / "order_contributions.png")],
    ), Section(
        "Predicted vs measured moments",
        "Relative errors ||pred - measured|| / ||measured|| of the class means and "
        "covariances: propagated from the input statistics alone under the Gaussian "
        "closure, and one layer at a time from the measured pre-activation moments. "
        "The exact propagation (quadratic, with measured kappa3/kappa4) is a rounding "
        "check.",
        figures=[plots.prediction_errors(analyses, out / "prediction_errors.png"),
                 plots.moment_scatter(first, len(first.layers) - 2, closed[0],
                                      out / f"moments_{closed[0]}.png")],
    )]


def _xor_section(xor, out: Path):
    from ..io import Section, Table
    from ..plots import correlations as plots
    from ..studies._correlations import XOR_QUANTITIES

    values = xor.first_layer_table()
    rows = [[unit, c, *values[c, u].tolist()] for u, unit in enumerate(xor.unit_names)
            for c in range(2)]
    return Section(
        "XOR: covariance moved into the mean, and where the Gaussian closure fails",
        f"Four blobs at (+-1, +-1) (std {xor.noise:.2f}); both class means are 0. A quadratic "
        "MLP (width 8) moves the class information from the covariance into the mean. Exact "
        "moments of the first layer come from the exact Gaussian-mixture cumulants through "
        "the exact quadratic map and are checked against Monte Carlo; the Gaussian closure "
        "drops kappa3/kappa4 and overestimates the variance wherever a class is bimodal "
        "along a unit (negative kappa4).",
        figures=[plots.xor_figure(xor.x, xor.labels, xor.analysis.layers, xor.separation,
                                  xor.check, out / "xor.png", list(xor.unit_names))],
        tables=[
            Table("class information: mean separation |dmu|^2 / tr Sigma and covariance "
                  "separation |dSigma|_F / |Sigma|_F per layer", ["layer", "mean", "cov"],
                  [[layer, *sep.tolist()] for layer, sep
                   in zip(xor.analysis.layers, xor.separation, strict=True)]),
            Table("first quadratic layer per unit and class", ["unit", "class",
                  *XOR_QUANTITIES], rows),
            model_table("xor quadratic", xor.analysis),
        ],
    )


def render_correlations(study, out_dir: Path) -> Path:
    """Write the report of a :class:`jaxinter.studies.CorrelationsStudy` into ``out_dir``.

    Args:
      study: the result of :func:`jaxinter.studies.run_correlations`.
      out_dir: folder of ``report.html``, ``summary.json`` (``study.summary()``) and the PNGs.

    Returns:
      The path of ``report.html``.
    """
    from ..io import write_report

    out = Path(out_dir)
    sections = _dataset_sections(study, out)
    if study.xor is not None:
        sections.append(_xor_section(study.xor, out))
    return write_report(out, "Networks as maps of correlation functions", sections,
                        study.summary(), intro="Fischer et al., Phys. Rev. Research 4, 043143 "
                                               "(2022). Timings taken on a shared CPU.")
