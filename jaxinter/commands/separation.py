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
import time

import jax
import numpy as np
import optax

from ._arguments import add_common_arguments, int_at_least

HELP = "law of data separation: separation fuzziness per layer, its decay, during training"
VARIANTS = {  # name -> (batchnorm, activation)
    "bn-relu": (True, "relu"),
    "no-bn": (False, "relu"),
    "bn-linear": (True, "linear"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "separation")
    parser.add_argument("--dataset", default="digits",
                        help="dataset name of jaxinter.data.load_dataset (default digits)")
    parser.add_argument("--data-path", default=None, help="path for mnist (IDX folder or .npz)")
    parser.add_argument("--size", type=int_at_least(1), nargs=2, default=None, metavar=("H", "W"),
                        help="downscale images (mnist), e.g. --size 10 10")
    parser.add_argument("--per-class", type=int_at_least(1), default=None,
                        help="training images per class (mnist), e.g. 100")
    parser.add_argument("--depths", type=int_at_least(1), nargs="+", default=[4, 8, 20],
                        help="numbers of hidden layers (default 4 8 20)")
    parser.add_argument("--width", type=int_at_least(1), default=100,
                        help="hidden width (default 100)")
    parser.add_argument("--epochs", type=int_at_least(1), default=60,
                        help="training epochs (default 60)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=128)
    parser.add_argument("--lr", type=float, default=0.05, help="peak SGD learning rate")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--track-every", type=int_at_least(1), default=5,
                        help="measure D of every layer every this many epochs (default 5)")
    parser.add_argument("--controls", action="store_true",
                        help="also train the controls without batch norm and without the "
                             "nonlinearity at every depth")
    parser.add_argument("--split", choices=("train", "test"), default="train",
                        help="data on which D is measured (default train, as He & Su)")


def _optimizer(args, steps: int):
    schedule = optax.cosine_decay_schedule(args.lr, steps)
    return optax.chain(optax.add_decayed_weights(args.weight_decay),
                       optax.sgd(schedule, momentum=0.9))


def _study(ds, depth: int, variant: str, args, key) -> dict:
    """Train one model with a separation tracker; final per-layer analysis on both splits."""
    from ..analysis._separation import SeparationTracker, layer_separation
    from ..masking._capture import capture
    from ..models import MLP
    from ..training._train import Trainer, train

    batchnorm, activation = VARIANTS[variant]
    model = MLP(input_shape=ds.input_shape, num_classes=ds.num_classes, depth=depth + 1,
                width=args.width, batchnorm=batchnorm, activation=activation)
    per_epoch = len(ds.x_train) // args.batch_size
    optimizer = _optimizer(args, args.epochs * per_epoch)
    x_split, y_split = ((ds.x_train, ds.y_train) if args.split == "train"
                        else (ds.x_test, ds.y_test))
    trainer = Trainer(model, optimizer)
    initial = trainer.variables(trainer.init(key))  # what train() starts from with this key
    captured = capture(model, initial, r"hidden_\d+")
    tracker = SeparationTracker(captured, x_split, y_split, ds.num_classes)
    tracker.record(0, initial)
    start = time.perf_counter()
    result = train(model, ds, epochs=args.epochs, batch_size=args.batch_size,
                   optimizer=optimizer, key=key, callback=tracker,
                   every=args.track_every * per_epoch, progress=False)
    seconds = time.perf_counter() - start
    final = tracker.records[-1][1]
    other = layer_separation(captured.replace(variables=result.variables),
                             *((ds.x_test, ds.y_test) if args.split == "train"
                               else (ds.x_train, ds.y_train)), ds.num_classes)
    last = result.history[-1]
    return {"depth": depth, "variant": variant, "final": final, "other_split": other,
            "trajectory": tracker.trajectory(), "train_accuracy": last["accuracy"],
            "test_accuracy": last.get("test_accuracy"), "train_loss": last["loss"],
            "seconds": seconds}


def _law_summary(law) -> dict:
    return {"rho": float(law.rho), "pearson_r": float(law.pearson_r), "r2": float(law.r2),
            "ratio_spread": float(law.ratio_spread), "fuzziness": law.fuzziness,
            "ratios": law.ratios}


def run(args: argparse.Namespace) -> int:
    from ..analysis._separation import fit_law
    from ..data import load_dataset
    from ..io._progress import log
    from ..io._report import Section, Table, write_report
    from ..plots import separation as plots

    options = {}
    if args.size is not None:
        options["size"] = tuple(args.size)
    if args.per_class is not None:
        options["per_class"] = args.per_class
    ds = load_dataset(args.dataset, args.data_path, **options)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    variants = list(VARIANTS) if args.controls else ["bn-relu"]
    log(f"[separation] {ds.name}: {len(ds.x_train)} train / {len(ds.x_test)} test, "
        f"input {ds.input_shape}; depths {args.depths}; variants {variants}")
    key = jax.random.key(args.seed)
    runs = []
    for variant in variants:
        for depth in args.depths:
            runs.append(_study(ds, depth, variant, args, key))
            r = runs[-1]
            log(f"[separation] {variant} depth {depth}: rho {float(r['final'].law.rho):.4f} "
                f"r {float(r['final'].law.pearson_r):.5f} train acc {r['train_accuracy']:.3f} "
                f"({r['seconds']:.1f}s)")

    figures = {}
    for variant in variants:
        chosen = [r for r in runs if r["variant"] == variant]
        figures[variant] = plots.plot_depths(
            {f"{variant}, {r['depth']} hidden layers": r["final"].law for r in chosen},
            out / f"law_{variant}.png", title=f"ln D by layer ({args.split} data), {variant}")
    emergence = []
    for r in runs:
        if r["variant"] != "bn-relu":
            continue
        t = r["trajectory"]
        emergence.append(plots.plot_emergence(
            t.epochs, t.log_fuzziness, t.pearson_r, t.rho, out / f"emergence_d{r['depth']}.png",
            title=f"{r['depth']} hidden layers: ln D_l by epoch"))
    deepest = max((r for r in runs if r["variant"] == "bn-relu"), key=lambda r: r["depth"])
    directions = plots.plot_directions(
        deepest["final"].per_layer, out / "directions.png",
        title=f"{deepest['depth']} hidden layers: share of D per direction")

    header = ["variant", "hidden layers", "rho", "Pearson r", "R^2", "spread ln ratio",
              "r (hidden only)", "rho (other split)", "r (other split)", "train acc",
              "test acc"]
    rows = [[r["variant"], r["depth"], float(r["final"].law.rho),
             float(r["final"].law.pearson_r), float(r["final"].law.r2),
             float(r["final"].law.ratio_spread),
             float(fit_law(r["final"].law.fuzziness[1:]).pearson_r),
             float(r["other_split"].law.rho),
             float(r["other_split"].law.pearson_r), r["train_accuracy"], r["test_accuracy"]]
            for r in runs]
    other = "test" if args.split == "train" else "train"
    setup = (f"Dataset {ds.name} ({ds.info.get('split', '')}; {len(ds.x_train)} training "
             f"images, input {ds.input_shape}). MLPs of width {args.width}; d hidden layers = "
             f"MLP(depth=d+1); dense -> batch norm -> activation. SGD momentum 0.9, peak lr "
             f"{args.lr} with cosine decay, weight decay {args.weight_decay}, batch "
             f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}. D = Tr(SS_w SS_b^+) "
             f"per layer on the {args.split} data (float64, exact thin-SVD algorithm), "
             f"batch norm in eval mode (running statistics); layers: input (l = 0) and every "
             f"hidden activation hidden_1..hidden_d (l = 1..d); logits excluded. Fit "
             f"ln D_l = beta l + c by least squares, rho = exp(beta). 'spread' is the standard "
             f"deviation of ln(D_(l+1)/D_l); 'hidden only' refits without the input layer.")
    sections = [
        Section("Setup", setup),
        Section("The law after training",
                "ln D_l by layer with the least-squares line. He & Su report Pearson r between "
                "-0.997 and -1.000 for BatchNorm-ReLU nets trained to the end.",
                figures=[figures["bn-relu"]],
                tables=[Table(f"Fit per model ({args.split} data; other split = {other})",
                              header, rows)]),
        Section("The law emerging during training",
                f"D of every layer every {args.track_every} epochs (epoch 0 = initialization).",
                figures=emergence),
        Section("Per-direction breakdown",
                "Share of D from each direction v_j of the class-mean matrix (s_j descending) "
                "and its condition number s_1 / s_min, deepest BatchNorm-ReLU model.",
                figures=[directions]),
    ]
    if args.controls:
        sections.append(Section(
            "Controls", "Same training without batch norm (no-bn) and without the "
            "nonlinearity (bn-linear).", figures=[figures[v] for v in variants[1:]]))
    summary = {
        "dataset": ds.name, "split": args.split, "n_measured": len(ds.y_train if args.split
                                                                   == "train" else ds.y_test),
        "width": args.width, "epochs": args.epochs, "seed": args.seed,
        "layers": "input (l=0) + hidden_1..hidden_d; logits excluded",
        "batchnorm_mode": "eval (running statistics)",
        "models": [{
            "variant": r["variant"], "hidden_layers": r["depth"],
            **_law_summary(r["final"].law),
            "hidden_only": _law_summary(fit_law(r["final"].law.fuzziness[1:])),
            "other_split": {"split": other, **_law_summary(r["other_split"].law)},
            "train_accuracy": r["train_accuracy"], "test_accuracy": r["test_accuracy"],
            "train_loss": r["train_loss"], "train_seconds": r["seconds"],
            "trajectory": {"epochs": r["trajectory"].epochs,
                           "pearson_r": r["trajectory"].pearson_r, "rho": r["trajectory"].rho},
        } for r in runs],
    }
    report = write_report(out, "The law of data separation", sections, summary)
    log(f"[separation] wrote {report}")
    for r in runs:
        print(f"{r['variant']:9s} d={r['depth']:3d} rho={float(r['final'].law.rho):.4f} "
              f"r={float(r['final'].law.pearson_r):+.5f} "
              f"train_acc={r['train_accuracy']:.3f} test_acc={r['test_accuracy']:.3f}")
    return 0 if np.isfinite([float(r["final"].law.rho) for r in runs]).all() else 1
