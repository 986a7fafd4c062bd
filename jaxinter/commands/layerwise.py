"""The layerwise change of knowledge (Cheng et al., ICML 2024), from data to an HTML report.

Trains a model (and a second one with another seed, for the cross-model IoU), trains a linear
probe on every captured layer, picks n players per image (the most salient foreground patches),
and for correctly classified test samples extracts the AND-OR interactions every layer encodes.
The report shows the sparsity of the interactions, which interactions each layer shares with,
forgets from and lacks against the output (per order), completeness and redundancy through the
layers, the IoU of salient sets between the two models and their stability under input noise,
by order, and the strongest interactions of a few images drawn on the images.

Every stage is cached under OUT/cache with the options it depends on; an interrupted run
resumes without recomputing finished stages (models, probes, masked scores, layers), and a
changed option recomputes only the stages that depend on it. With no arguments it runs on
scikit-learn's digits in a few minutes on a laptop CPU.
"""

from __future__ import annotations

import argparse
import time
from math import comb

import jax
import jax.numpy as jnp
import numpy as np

from ._arguments import add_common_arguments, int_at_least

HELP = "interactions of every layer: what emerges, what is forgotten (Cheng et al. 2024)"

LAYERS = {
    "mlp": r"hidden_\d+",
    "cnn": r"conv_\d+|fc_\d+",
    "resnet": r"stem|block_\d+|pool",
    "vit": r"embed|block_\d+|pool",
}
EXTRACTIONS = ("default", "published", "lp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data and model")
    g.add_argument("--dataset", default="digits",
                   choices=["digits", "wine", "breast_cancer", "iris", "mnist"],
                   help="dataset (default digits, shipped with scikit-learn)")
    g.add_argument("--data-path", default=None, help="MNIST folder (IDX) or .npz file")
    g.add_argument("--train-size", type=int_at_least(1), default=None,
                   help="use only the first N training samples")
    g.add_argument("--model", default="mlp", choices=sorted(LAYERS),
                   help="mlp, cnn (VGG-style), resnet (ResNet-style, batch norm), vit")
    g.add_argument("--depth", type=int_at_least(1), default=5,
                   help="MLP: number of linear layers (7 = MLP-7); ResNet: blocks per stage")
    g.add_argument("--width", type=int_at_least(1), default=128,
                   help="MLP width (1024 for MLP-7)")
    g.add_argument("--epochs", type=int_at_least(1), default=30,
                   help="training epochs (default 30)")
    g.add_argument("--batch-size", type=int_at_least(1), default=64,
                   help="training batch size")
    g.add_argument("--probe-steps", type=int_at_least(1), default=1000,
                   help="AdamW steps of each probe")
    g = parser.add_argument_group("interactions")
    g.add_argument("--n", type=int_at_least(1, 20), default=8,
                   help="players per sample (default 8)")
    g.add_argument("--patch-size", type=int_at_least(1), default=None,
                   help="image patch side (default 2 for 8x8 digits, 3 otherwise)")
    g.add_argument("--samples", type=int_at_least(1), default=40,
                   help="correctly classified test samples to analyse (default 40)")
    g.add_argument("--extraction", default="default", choices=EXTRACTIONS,
                   help="AND-OR extraction: default (ours), published (the paper's SGD "
                        "recipe) or lp (exact linear program, slow)")
    g.add_argument("--also-extraction", default=None, choices=EXTRACTIONS,
                   help="also count salient interactions with this extraction, for comparison")
    g.add_argument("--ratio", type=float, default=0.05,
                   help="salient threshold as a fraction of max |I| (default 0.05)")
    g.add_argument("--noise-draws", type=int_at_least(0), default=5,
                   help="noisy copies per sample for stability (0 = skip; default 5)")
    g.add_argument("--sigma", type=float, default=0.02, help="input noise std (default 0.02)")
    g.add_argument("--examples", type=int_at_least(0), default=3,
                   help="example images in the report")
    g.add_argument("--chunk-size", type=int_at_least(1), default=1024,
                   help="masked inputs per model call")
    add_common_arguments(parser, "layerwise")


# ---------------------------------------------------------------------------------------------
# building blocks


def _model(args, ds):
    from ..models import MLP, VGG, ResNet, ViT

    shape, classes = ds.input_shape, ds.num_classes
    image = len(shape) == 3
    if args.model == "mlp":
        return MLP(shape, classes, depth=args.depth, width=args.width)
    if not image:
        raise SystemExit(f"--model {args.model} needs images; {ds.name} is tabular (use mlp)")
    small = shape[0] < 16
    if args.model == "cnn":
        return VGG(shape, classes, features=(32, "M", 64, "M") if small else
                   (32, "M", 64, "M", 128, "M"), dense=(128,))
    if args.model == "resnet":
        return ResNet(shape, classes, stage_sizes=(max(args.depth // 2, 1),) * 3)
    return ViT(shape, classes, patch_size=_patch_size(args, ds), dim=64, depth=2)


def _patch_size(args, ds) -> int:
    if args.patch_size is not None:
        return args.patch_size
    return 2 if ds.input_shape[0] <= 8 else 3


def _players(args, ds, x):
    """Per-sample players, player rectangles (images) or feature labels (tabular), and n."""
    from ..masking._players import Players, salient_patch_ids

    if len(ds.input_shape) == 3:
        p = _patch_size(args, ds)
        ids = salient_patch_ids(x, p, args.n)
        cols = ds.input_shape[1] // p
        boxes = np.stack([ids // cols * p, ids % cols * p, np.full_like(ids, p),
                          np.full_like(ids, p)], axis=-1)
        return Players.patches(ds.input_shape, p, ids), boxes, None
    d = int(np.prod(ds.input_shape))
    n = min(args.n, d)
    top = np.sort(np.argsort(-np.abs(x.reshape(len(x), -1)), axis=1)[:, :n], axis=1)
    players = Players.stack([Players.features(ds.input_shape, row.tolist()) for row in top])
    names = ds.info.get("feature_names") or [f"x{i}" for i in range(d)]
    return players, None, [[names[i] for i in row] for row in top]


def _stage_depends(args, ds) -> dict[str, dict]:
    """The options each cached stage depends on, by stage (``model`` for either seed).

    A stage is reused only when these match; options that change no result (``--chunk-size``,
    ``--examples``, ``--out``) appear in none.
    """
    model = {k: getattr(args, k) for k in ("dataset", "data_path", "train_size", "model",
                                           "depth", "width", "epochs", "batch_size")}
    image = {"patch_size": _patch_size(args, ds)} if len(ds.input_shape) == 3 else {}
    if args.model == "vit":
        model.update(image)
    # the samples are those both models (seeds s and s + 1) classify correctly
    players = {**model, "seed": args.seed, "n": args.n, "samples": args.samples, **image}
    scores = {**players, "probe_steps": args.probe_steps}
    noise = {**scores, "sigma": args.sigma, "noise_draws": args.noise_draws}
    # a layer's stage holds its stability when there are noise draws, which uses the threshold
    layer = {**noise, "ratio": args.ratio} if args.noise_draws else scores
    return {
        "model": model,
        "probes": {**model, "seed": args.seed, "probe_steps": args.probe_steps},
        "scores": scores,
        "scores_b": players,
        "noise_scores": noise,
        "layer": {**layer, "extraction": args.extraction},
        "model_b": {**players, "extraction": args.extraction},
        "also": {**scores, "extraction": args.also_extraction},
    }


def _train(args, ds, model, seed, cache, depends):
    """Trained Linen variables and test accuracy (cached in ``cache``)."""
    from ..io import tree_from_arrays, tree_to_arrays
    from ..models import init_variables
    from ..training._train import train

    def fit():
        data = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
        result = train(model, data, epochs=args.epochs, batch_size=args.batch_size, seed=seed)
        return {**tree_to_arrays(result.variables),
                "test_accuracy": result.history[-1]["test_accuracy"]}

    got = cache.get_or_compute(f"model_seed{seed}", fit, {**depends, "seed": seed})
    like = init_variables(model, jax.random.key(0))
    return tree_from_arrays(got, like), float(got["test_accuracy"])


def _examples(result, count, top=6):
    """The ``top`` strongest salient interactions of the output for the first samples."""
    i = np.asarray(result.normalized()[:, -1])  # (S, 2, 2**n)
    sal = np.asarray(result.salient()[:, -1])
    from ..interactions._subsets import players_of

    out = []
    for s in range(min(count, len(i))):
        cand = [(abs(i[s, k, S]), ("AND", "OR")[k], players_of(S), float(i[s, k, S]))
                for k in range(2) for S in np.flatnonzero(sal[s, k])]
        out.append([c[1:] for c in sorted(cand, key=lambda c: -c[0])[:top]])
    return out


# ---------------------------------------------------------------------------------------------
# the job


def run(args: argparse.Namespace) -> int:
    from .. import analysis as lw
    from ..data import load_dataset
    from ..interactions import extract_interactions
    from ..io._progress import log, progress
    from ..io._store import StageCache
    from ..masking._capture import capture
    from ..masking._evaluate import masked_layer_scores
    from ..masking._probes import ProbeSet, train_probes

    if args.extraction == args.also_extraction:
        args.also_extraction = None
    out = args.out
    cache = StageCache(out / "cache", label="layerwise")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name, since):
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - since
        return time.perf_counter()

    ds = load_dataset(args.dataset, args.data_path)
    if args.train_size:
        keep = slice(0, args.train_size)
        ds = ds.replace(x_train=ds.x_train[keep], y_train=ds.y_train[keep])
    log(f"[layerwise] {ds.name}: {len(ds.x_train)} train / {len(ds.x_test)} test, "
        f"input {ds.input_shape}, {ds.num_classes} classes; model {args.model}")
    model = _model(args, ds)
    deps = _stage_depends(args, ds)
    t = time.perf_counter()
    variables, test_acc = {}, {}
    for seed in (args.seed, args.seed + 1):
        variables[seed], test_acc[seed] = _train(args, ds, model, seed, cache, deps["model"])
    cap = {s: capture(model, v, LAYERS[args.model]) for s, v in variables.items()}
    t = lap("training", t)

    # samples: the first test samples both models classify correctly
    correct = [lw.correctly_classified(c, ds.x_test, ds.y_test) for c in cap.values()]
    ids = np.intersect1d(*correct)[: args.samples]
    if len(ids) < args.samples:
        log(f"[layerwise] only {len(ids)} test samples are classified correctly by both models")
    x, y = ds.x_test[ids], ds.y_test[ids]
    players, boxes, labels = _players(args, ds, x)
    baseline = jnp.zeros(ds.input_shape, jnp.float32)
    n = players.n

    cap_a = cap[args.seed]
    probes = ProbeSet.from_arrays(cache.get_or_compute("probes", lambda: train_probes(
        lambda xb: cap_a(xb)[1], ds.x_train, ds.y_train, ds.num_classes,
        key=jax.random.key(args.seed), x_test=ds.x_test, y_test=ds.y_test,
        steps=args.probe_steps).to_arrays(), deps["probes"]))
    t = lap("probes", t)
    for k in probes.names:
        log(f"[layerwise] probe {k}: train {float(probes.train_accuracy[k]):.3f} "
            f"test {float(probes.test_accuracy[k]):.3f}")

    def scores(capt, readouts, xs, pl, target):
        return masked_layer_scores(capt, readouts, jnp.asarray(xs), pl, baseline,
                                   jnp.asarray(target), chunk_size=args.chunk_size)

    log(f"[layerwise] masked evaluation: {len(ids)} samples x 2**{n} subsets x "
        f"{len(probes.names) + 1} layers")
    v = cache.get_or_compute(
        "scores", lambda: {"v": scores(cap_a, probes.readouts(), x, players, y)},
        deps["scores"])["v"]
    v_b = cache.get_or_compute("scores_b", lambda: {
        "v": scores(cap[args.seed + 1], None, x, players, y)}, deps["scores_b"])["v"]
    v_noisy = None
    if args.noise_draws:
        def noisy():
            xs, pl, tg = lw.noisy_copies(x, players, y, jax.random.key(args.seed + 7),
                                         args.sigma, args.noise_draws)
            return {"v": scores(cap_a, probes.readouts(), xs, pl, tg)}
        v_noisy = cache.get_or_compute("noise_scores", noisy, deps["noise_scores"])["v"].reshape(
            (args.noise_draws,) + v.shape)
    t = lap("masked evaluation", t)

    names = list(probes.names) + ["output"]
    extraction = {"method": args.extraction}
    parts = []
    for j, name in progress(list(enumerate(names)), "extract layers"):
        def one(j=j, name=name):
            r = lw.layerwise_from_scores(v[:, j:j + 1], [name], sample_ids=ids, ratio=args.ratio,
                               v_noisy=None if v_noisy is None else v_noisy[:, :, j:j + 1],
                               **extraction)
            arrays = {"i_and": r.i_and, "i_or": r.i_or}
            return arrays if r.stability is None else {**arrays, "stability": r.stability}
        got = cache.get_or_compute(f"layer_{j}", one, deps["layer"])
        parts.append(lw.LayerwiseResult(jnp.asarray(v[:, j:j + 1]), jnp.asarray(got["i_and"]),
                                        jnp.asarray(got["i_or"]),
                                        jnp.asarray(got["stability"]) if "stability" in got
                                        else None, jnp.asarray(ids), (name,), args.ratio))
    result = lw.merge_layerwise(parts, axis="layers")
    got_b = cache.get_or_compute("model_b", lambda: dict(zip(
        ("i_and", "i_or"), extract_interactions(jnp.asarray(v_b), **extraction), strict=True)),
        deps["model_b"])
    result_b = lw.LayerwiseResult(jnp.asarray(v_b), jnp.asarray(got_b["i_and"]),
                                  jnp.asarray(got_b["i_or"]), None, jnp.asarray(ids),
                                  ("output",), args.ratio)
    also = None
    if args.also_extraction:
        got = cache.get_or_compute(f"also_{args.also_extraction}", lambda: dict(zip(
            ("i_and", "i_or"), extract_interactions(jnp.asarray(v), method=args.also_extraction),
            strict=True)), deps["also"])
        also = result.replace(i_and=jnp.asarray(got["i_and"]), i_or=jnp.asarray(got["i_or"]),
                              stability=None)
    t = lap("extraction", t)

    summary = result.summary()
    iou = np.asarray(lw.layerwise_iou(result, result_b))  # (S, 2, n+1)
    headline = {
        "dataset": ds.name, "model": args.model, "n": n, "samples": len(ids),
        "extraction": args.extraction,
        "test_accuracy": {f"seed {s}": a for s, a in test_acc.items()},
        "probe_test_accuracy": {k: float(a) for k, a in probes.test_accuracy.items()},
        "salient_per_image_output": summary["salient_total_per_sample"],
        "salient_per_image_output_and_or": summary["salient_per_sample"][-1],
        "salient_per_image_output_layer_threshold":
            summary["salient_per_sample_layer_threshold"][-1],
        "iou_by_order_output": lw.nanmean0(iou),
        "layerwise": summary,
    }
    if also is not None:
        headline[f"salient_per_sample_{args.also_extraction}"] = \
            also.summary()["salient_per_sample"]
    lw.save_layerwise(result, out / "layerwise")
    lap("metrics", t)
    timings["total before report"] = time.perf_counter() - t0
    _report(args, out, result, summary, iou, probes, test_acc, headline, timings, boxes,
            labels, x, also)
    log(f"[layerwise] salient interactions per image (output, AND+OR): "
        f"{summary['salient_total_per_sample']:.1f}; report at {out / 'report.html'} "
        f"({time.perf_counter() - t0:.1f}s)")
    return 0


def _report(args, out, result, summary, iou, probes, test_acc, headline, timings, boxes,
            labels, x, also):
    from ..analysis import nanmean0
    from ..analysis._metrics import order_sums
    from ..io._report import Section, Table, write_report
    from ..plots import layerwise as pl

    names = list(result.layer_names)
    figs = {}
    figs["sparsity"] = pl.plot_sparsity(result.sparsity_curves(), names, out / "sparsity.png")
    figs["change_and"] = pl.plot_layer_change(summary, 0, out / "change_and.png")
    figs["change_or"] = pl.plot_layer_change(summary, 1, out / "change_or.png")
    figs["completeness"] = pl.plot_completeness(summary, out / "completeness.png")
    iou_m = nanmean0(iou)
    support = np.isfinite(iou).sum(0)  # images with a salient S of that order in either model
    iou_m = np.where(support >= max(3, 0.1 * len(iou)), iou_m, np.nan)
    figs["iou"] = pl.plot_by_order({"AND": iou_m[0], "OR": iou_m[1]}, "IoU of salient sets",
                                   f"Seed {args.seed} vs seed {args.seed + 1} (output)",
                                   out / "iou_by_order.png")
    n = result.n
    per_subset = np.asarray(order_sums(jnp.abs(result.normalized()[:, -1]))).mean(0) / [
        comb(n, m) for m in range(n + 1)]
    figs["strength"] = pl.plot_strength(np.asarray(summary["strength_by_order"])[-1],
                                        per_subset, out / "strength.png")
    headline["mean_abs_interaction_per_subset_by_order_output"] = per_subset
    sections = [
        Section("Sparsity", "Normalized |I(S)| of every AND and OR interaction, sorted, mean "
                "over samples. A few interactions carry almost all of the strength.",
                [figs["sparsity"]]),
        Section("What each layer shares with, forgets from and lacks against the output",
                "Per order m, the strength of the salient interactions of layer l (left bar: "
                "overlap + forget) and of the output (right bar: overlap + new), summed over "
                "samples, after zeroing non-salient coefficients.",
                [figs["change_and"], figs["change_or"]]),
        Section("Completeness and redundancy",
                "Completeness = overlap / strength of the output: how much of the final "
                "knowledge a layer already has. Redundancy = forget / strength of the layer: "
                "how much of what it encodes is later forgotten.", [figs["completeness"]],
                [Table("Per layer (all orders)", ["layer", "probe test acc.", "salient AND",
                                                  "salient OR", "completeness AND",
                                                  "completeness OR", "redundancy AND",
                                                  "redundancy OR"],
                       [[k, float(probes.test_accuracy[k]) if k in probes.test_accuracy else
                         float(test_acc[args.seed]), *summary["salient_per_sample"][i],
                         *summary["completeness"][i], *summary["redundancy"][i]]
                        for i, k in enumerate(names)])]),
        Section("Strength and generalization by order",
                "Strength of the output's interactions by order (salient sum per image; mean |I| "
                "per subset of order m), and the IoU of the salient sets of two "
                "models trained with different seeds on the same samples and players (mean over "
                "images; orders with a salient interaction in fewer than 10% of the images are "
                "not drawn).",
                [figs["strength"], figs["iou"]]),
    ]
    if result.stability is not None:
        stab = np.asarray(summary["stability_by_order"])  # (L, 2, n+1)
        curves = {f"{k} AND": stab[i, 0] for i, k in enumerate(names)}
        curves["output OR"] = stab[-1, 1]
        figs["stability"] = pl.plot_by_order(curves, "|mean I| / std I (salient S)",
                                             f"Stability under noise sigma = {args.sigma}",
                                             out / "stability_by_order.png", log=True)
        sections.append(Section("Stability", f"{args.noise_draws} noisy copies of each input "
                                "(Gaussian, sigma in input units); interactions re-extracted "
                                "for each.", [figs["stability"]]))
    examples = _examples(result, args.examples)
    if boxes is not None:
        figs["examples"] = pl.plot_examples(x[: len(examples), ..., 0], boxes, examples,
                                            out / "examples.png")
    else:
        figs["examples"] = pl.plot_examples_bars(labels, examples, out / "examples.png")

    def player_names(s, players):
        return " & ".join(str(p) if labels is None else labels[s][p] for p in players)

    rows = [[int(result.sample_ids[s]), kind, player_names(s, players), len(players), value]
            for s, ex in enumerate(examples) for kind, players, value in ex]
    sections.append(Section("Example interactions", "Strongest salient interactions of the "
                            "output (normalized), players numbered as in the first column.",
                            [figs["examples"]],
                            [Table("Salient interactions", ["test sample", "type", "players",
                                                            "order", "value"], rows)]))
    if also is not None:
        a = also.summary()["salient_per_sample"]
        sections.append(Section("Extraction methods", "", [], [Table(
            "Salient interactions per sample", ["layer", f"{args.extraction} AND",
                                                f"{args.extraction} OR",
                                                f"{args.also_extraction} AND",
                                                f"{args.also_extraction} OR"],
            [[k, *summary["salient_per_sample"][i], *a[i]] for i, k in enumerate(names)])]))
    sections.append(Section("Timings", "Seconds per stage of this run (cached stages are "
                            "near zero on a resumed run).", [], [Table(
                                "Timings", ["stage", "seconds"],
                                [[k, v] for k, v in timings.items()])]))
    headline["timings"] = timings
    headline["figures"] = {k: str(v.name) for k, v in figs.items()}
    write_report(out, f"Layerwise change of knowledge: {args.model} on {headline['dataset']}",
                 sections, headline,
                 intro=f"n = {result.n} players, {result.num_samples} correctly classified test "
                       f"samples, extraction {args.extraction}, salient ratio {args.ratio}.")
