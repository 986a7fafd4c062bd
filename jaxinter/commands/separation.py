"""The law of data separation (He & Su 2023): train feed-forward nets of several depths, measure
the separation fuzziness D of every layer during and after training, fit ln D_l = beta l + c.

Models are jaxinter MLPs of width W with d hidden layers (``MLP(depth=d + 1)``): dense ->
batch norm -> activation per hidden layer. Layer 0 is the input, layers 1..d the hidden
activations (``hidden_i``), logits excluded. D is measured on the training data (``--split``),
with batch norm in eval mode (running statistics). Training: SGD with momentum 0.9, weight decay,
cosine learning-rate decay, cross-entropy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..io import Section, Table, log, write_report
from ..plots import separation as plots
from ..studies import SeparationConfig, SeparationStudy, run_separation
from ._arguments import (
    add_common_arguments,
    add_user_arguments,
    existing_path,
    int_at_least,
)

HELP = "law of data separation: separation fuzziness per layer, its decay, during training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SeparationConfig()
    add_common_arguments(parser, "separation")
    add_user_arguments(parser, layers=True)
    parser.add_argument("--dataset", default=d.dataset,
                        help=f"dataset name of jaxinter.data.load_dataset (default {d.dataset})")
    parser.add_argument("--data-path", type=existing_path, default=None,
                        help="path for mnist (IDX folder or .npz)")
    parser.add_argument("--size", type=int_at_least(1), nargs=2, default=None, metavar=("H", "W"),
                        help="downscale images (mnist), e.g. --size 10 10")
    parser.add_argument("--per-class", type=int_at_least(1), default=None,
                        help="training images per class (mnist), e.g. 100")
    parser.add_argument("--depths", type=int_at_least(2), nargs="+", default=list(d.depths),
                        help="distinct numbers of hidden layers, at least 2 (default 4 8 20)")
    parser.add_argument("--width", type=int_at_least(1), default=d.width,
                        help=f"hidden width (default {d.width})")
    parser.add_argument("--epochs", type=int_at_least(1), default=d.epochs,
                        help=f"training epochs (default {d.epochs})")
    parser.add_argument("--batch-size", type=int_at_least(1), default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr, help="peak SGD learning rate")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--track-every", type=int_at_least(1), default=d.track_every,
                        help=f"measure D of every layer every this many epochs (default "
                             f"{d.track_every})")
    parser.add_argument("--controls", action="store_true",
                        help="also train the controls without batch norm and without the "
                             "nonlinearity at every depth")
    parser.add_argument("--split", choices=("train", "test"), default=d.split,
                        help="data on which D is measured (default train, as He & Su)")


def config_from_args(args: argparse.Namespace) -> SeparationConfig:
    """The :class:`SeparationConfig` of parsed options (validated before any work)."""
    return SeparationConfig(**{f: getattr(args, f) for f in SeparationConfig.__dataclass_fields__})


def run(args: argparse.Namespace) -> int:
    study = run_separation(config_from_args(args), args.out)
    report = render_separation(study, args.out)
    log(f"[separation] wrote {report}")
    for r in study.runs:
        print(f"{r.variant:9s} d={r.depth:3d} rho={float(r.final.law.rho):.4f} "
              f"r={float(r.final.law.pearson_r):+.5f} "
              f"train_acc={r.train_accuracy:.3f} test_acc={r.test_accuracy:.3f}")
    return 0 if np.isfinite([float(r.final.law.rho) for r in study.runs]).all() else 1


# ---------------------------------------------------------------------------------------------
# rendering

HEADER = ["variant", "hidden layers", "rho", "Pearson r", "R^2", "spread ln ratio",
          "r (hidden only)", "rho (other split)", "r (other split)", "train acc", "test acc"]


def law_rows(study: SeparationStudy) -> list[list]:
    """One row of :data:`HEADER` per trained model."""
    return [[r.variant, r.depth, float(r.final.law.rho), float(r.final.law.pearson_r),
             float(r.final.law.r2), float(r.final.law.ratio_spread),
             float(r.hidden_only.pearson_r), float(r.other_split.law.rho),
             float(r.other_split.law.pearson_r), r.train_accuracy, r.test_accuracy]
            for r in study.runs]


def render_separation(study: SeparationStudy, out_dir: Path | str) -> Path:
    """Figures, ``report.html`` and ``summary.json`` of a :class:`SeparationStudy` in
    ``out_dir``.

    Returns:
      the path of ``report.html``.
    """
    out, c = Path(out_dir), study.config
    laws = {v: plots.plot_depths(
        {f"{v}, {d} hidden layers": study.run(v, d).final.law for d in study.depths},
        out / f"law_{v}.png", title=f"ln D by layer ({c.split} data), {v}")
        for v in study.variants}
    main = study.variants[0]  # bn-relu, or your model
    emergence = [_emergence(study.run(main, d), out) for d in study.depths]
    deepest = study.run(main, max(study.depths))
    directions = plots.plot_directions(
        deepest.final.per_layer, out / "directions.png",
        title=f"{deepest.depth} hidden layers: share of D per direction")
    sections = [
        Section("Setup", _setup(study)),
        Section("The law after training",
                "ln D_l by layer with the least-squares line. He & Su report Pearson r between "
                "-0.997 and -1.000 for BatchNorm-ReLU nets trained to the end.",
                figures=[laws[main]],
                tables=[Table(f"Fit per model ({c.split} data; other split = {c.other_split})",
                              HEADER, law_rows(study))]),
        Section("The law emerging during training",
                f"D of every layer every {c.track_every} epochs (epoch 0 = initialization).",
                figures=emergence),
        Section("Per-direction breakdown",
                "Share of D from each direction v_j of the class-mean matrix (s_j descending) "
                "and its condition number s_1 / s_min, deepest BatchNorm-ReLU model.",
                figures=[directions]),
    ]
    if c.controls:
        sections.append(Section(
            "Controls", "Same training without batch norm (no-bn) and without the "
            "nonlinearity (bn-linear).", figures=[laws[v] for v in study.variants[1:]]))
    return write_report(out, "The law of data separation", sections, study.summary())


def _emergence(run, out: Path) -> Path:
    record = run.trajectory.record
    return plots.plot_emergence(run.epochs, record.log_fuzziness, record.pearson_r, record.rho,
                                out / f"emergence_d{run.depth}.png",
                                title=f"{run.depth} hidden layers: ln D_l by epoch")


def _setup(study: SeparationStudy) -> str:
    c = study.config
    return (f"Dataset {study.dataset} ({study.split_note}; {study.n_train} training "
            f"images, input {study.input_shape}). MLPs of width {c.width}; d hidden layers = "
            f"MLP(depth=d+1); dense -> batch norm -> activation. SGD momentum 0.9, peak lr "
            f"{c.lr} with cosine decay, weight decay {c.weight_decay}, batch "
            f"{c.batch_size}, {c.epochs} epochs, seed {c.seed}. D = Tr(SS_w SS_b^+) "
            f"per layer on the {c.split} data (float64, exact thin-SVD algorithm), "
            f"batch norm in eval mode (running statistics); layers: input (l = 0) and every "
            f"hidden activation hidden_1..hidden_d (l = 1..d); logits excluded. Fit "
            f"ln D_l = beta l + c by least squares, rho = exp(beta). 'spread' is the standard "
            f"deviation of ln(D_(l+1)/D_l); 'hidden only' refits without the input layer.")
