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
import dataclasses
from pathlib import Path

import numpy as np

from ..analysis import save_layerwise
from ..io import Section, Table, log, write_report
from ..plots import layerwise as pl
from ..studies import LayerwiseConfig, LayerwiseStudy, run_layerwise
from ..studies._layerwise import DATASETS, EXTRACTIONS, LAYER_PATTERNS
from ._arguments import (
    add_common_arguments,
    add_user_arguments,
    existing_path,
    int_at_least,
)

HELP = "interactions of every layer: what emerges, what is forgotten (Cheng et al. 2024)"
DEFAULTS = LayerwiseConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of :class:`jaxinter.studies.LayerwiseConfig`, plus ``--out`` and ``--seed``."""
    g = parser.add_argument_group("data and model")
    g.add_argument("--dataset", default=DEFAULTS.dataset, choices=DATASETS,
                   help="dataset (default digits, shipped with scikit-learn)")
    g.add_argument("--data-path", type=existing_path, default=None,
                   help="MNIST folder (IDX) or .npz file; your file with --dataset file")
    g.add_argument("--train-size", type=int_at_least(1), default=None,
                   help="use only the first N training samples")
    g.add_argument("--model", default=DEFAULTS.model, choices=sorted(LAYER_PATTERNS),
                   help="mlp, cnn (VGG-style), resnet (ResNet-style, batch norm), vit")
    g.add_argument("--depth", type=int_at_least(1), default=DEFAULTS.depth,
                   help="MLP: number of linear layers (7 = MLP-7); ResNet: blocks per stage")
    g.add_argument("--width", type=int_at_least(1), default=DEFAULTS.width,
                   help="MLP width (1024 for MLP-7)")
    g.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS.epochs,
                   help="training epochs (default 30)")
    g.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS.batch_size,
                   help="training batch size")
    g.add_argument("--probe-steps", type=int_at_least(1), default=DEFAULTS.probe_steps,
                   help="AdamW steps of each probe")
    g = parser.add_argument_group("interactions")
    g.add_argument("--n", type=int_at_least(1, 20), default=DEFAULTS.n,
                   help="players per sample (default 8)")
    g.add_argument("--patch-size", type=int_at_least(1), default=None,
                   help="image patch side (default 2 for 8x8 digits, 3 otherwise)")
    g.add_argument("--samples", type=int_at_least(1), default=DEFAULTS.samples,
                   help="correctly classified test samples to analyse (default 40)")
    g.add_argument("--extraction", default=DEFAULTS.extraction, choices=EXTRACTIONS,
                   help="AND-OR extraction: default (ours), published (the paper's SGD "
                        "recipe) or lp (exact linear program, slow)")
    g.add_argument("--also-extraction", default=None, choices=EXTRACTIONS,
                   help="also count salient interactions with this extraction, for comparison")
    g.add_argument("--ratio", type=float, default=DEFAULTS.ratio,
                   help="salient threshold as a fraction of max |I| (default 0.05)")
    g.add_argument("--noise-draws", type=int_at_least(0), default=DEFAULTS.noise_draws,
                   help="noisy copies per sample for stability (0 = skip, else >= 2; "
                        "default 5)")
    g.add_argument("--sigma", type=float, default=DEFAULTS.sigma,
                   help="input noise std (default 0.02)")
    g.add_argument("--examples", type=int_at_least(0), default=DEFAULTS.examples,
                   help="example images in the report")
    g.add_argument("--chunk-size", type=int_at_least(1), default=DEFAULTS.chunk_size,
                   help="masked inputs per model call")
    add_common_arguments(parser, "layerwise")
    add_user_arguments(parser, layers=True)


def config_from_args(args: argparse.Namespace) -> LayerwiseConfig:
    """The parsed options as a validated :class:`LayerwiseConfig` (raises JaxinterInputError)."""
    return LayerwiseConfig(**{f.name: getattr(args, f.name)
                              for f in dataclasses.fields(LayerwiseConfig)})


def run(args: argparse.Namespace) -> int:
    study = run_layerwise(config_from_args(args), args.out)
    log(f"[layerwise] report at {render_layerwise(study, args.out)}")
    return 0


# ---------------------------------------------------------------------------------------------
# rendering


def render_layerwise(study: LayerwiseStudy, out_dir) -> Path:
    """Write the report of a layerwise study: figures, ``report.html``, ``summary.json``
    (``study.summary()``) and ``layerwise.npz/.json`` (the full result).

    Args:
      study: the result of :func:`jaxinter.studies.run_layerwise`.
      out_dir: the output folder.

    Returns:
      The path of ``report.html``.
    """
    out_dir = Path(out_dir)
    figures = _figures(study, out_dir)
    sections = [_sparsity_section(figures), _change_section(figures),
                _layers_section(study, figures), _order_section(figures)]
    if "stability" in figures:
        sections.append(Section("Stability", f"{study.config.noise_draws} noisy copies of each "
                                "input (Gaussian, sigma in input units); interactions "
                                "re-extracted for each.", [figures["stability"]]))
    if "examples" in figures:
        sections.append(_examples_section(study, figures))
    if study.also_aggregate is not None:
        sections.append(_extractions_section(study))
    sections.append(Section("Timings", "Seconds per stage of this run (cached stages are near "
                            "zero on a resumed run).", [], [Table(
                                "Timings", ["stage", "seconds"],
                                [[k, v] for k, v in study.timings.items()])]))
    save_layerwise(study.result, out_dir / "layerwise")
    config = study.config
    return write_report(
        out_dir, f"Layerwise change of knowledge: {config.model} on {study.dataset}", sections,
        study.summary(),
        intro=f"n = {study.n} players, {study.num_samples} correctly classified test samples, "
              f"extraction {config.extraction}, salient ratio {config.ratio}.")


def _figures(study: LayerwiseStudy, out: Path) -> dict[str, Path]:
    agg, config = study.aggregate, study.config
    figures = {
        "sparsity": pl.plot_sparsity(study.result.sparsity_curves(), study.layer_names,
                                     out / "sparsity.png", threshold=config.ratio),
        "change_and": pl.plot_layer_change(agg, 0, out / "change_and.png"),
        "change_or": pl.plot_layer_change(agg, 1, out / "change_or.png"),
        "completeness": pl.plot_completeness(agg, out / "completeness.png"),
        "strength": pl.plot_strength(agg, out / "strength.png"),
    }
    iou = np.asarray(study.iou.where_supported())
    figures["iou"] = pl.plot_by_order(
        {"AND": iou[0], "OR": iou[1]}, "IoU of salient sets",
        f"Seed {config.seed} vs seed {config.seed + 1} (output)", out / "iou_by_order.png")
    if agg.stability_by_order is not None:
        stability = np.asarray(agg.stability_by_order)  # (L, 2, n+1)
        curves = {f"{k} AND": stability[i, 0] for i, k in enumerate(study.layer_names)}
        curves["output OR"] = stability[-1, 1]
        figures["stability"] = pl.plot_by_order(
            curves, "|mean I| / std I (salient S)", f"Stability under noise sigma = {config.sigma}",
            out / "stability_by_order.png", log=True)
    shown = len(study.examples.value)
    ids = np.asarray(study.result.sample_ids[:shown])
    if shown and study.player_boxes is not None:
        figures["examples"] = pl.plot_examples(study.inputs[:shown, ..., 0],
                                               study.player_boxes[:shown], study.examples,
                                               out / "examples.png", sample_ids=ids)
    elif shown:
        figures["examples"] = pl.plot_examples_bars(study.player_names[:shown], study.examples,
                                                    out / "examples.png", sample_ids=ids)
    return figures


def _sparsity_section(figures) -> Section:
    return Section("Sparsity", "Normalized |I(S)| of every AND and OR interaction, sorted, mean "
                   "over samples. A few interactions carry almost all of the strength.",
                   [figures["sparsity"]])


def _change_section(figures) -> Section:
    return Section("What each layer shares with, forgets from and lacks against the output",
                   "Per order m, the strength of the salient interactions of layer l (left bar: "
                   "overlap + forget) and of the output (right bar: overlap + new), summed over "
                   "samples, after zeroing non-salient coefficients.",
                   [figures["change_and"], figures["change_or"]])


def _layers_section(study: LayerwiseStudy, figures) -> Section:
    agg = study.aggregate
    header = ["layer", "probe test acc.", "salient AND", "salient OR", "completeness AND",
              "completeness OR", "redundancy AND", "redundancy OR"]
    rows = [[name, study.layer_test_accuracy[i], *agg.salient_per_sample[i],
             *agg.completeness[i], *agg.redundancy[i]]
            for i, name in enumerate(study.layer_names)]
    return Section("Completeness and redundancy",
                   "Completeness = overlap / strength of the output: how much of the final "
                   "knowledge a layer already has. Redundancy = forget / strength of the layer: "
                   "how much of what it encodes is later forgotten.", [figures["completeness"]],
                   [Table("Per layer (all orders)", header, _floats(rows))])


def _order_section(figures) -> Section:
    return Section("Strength and generalization by order",
                   "Strength of the output's interactions by order (salient sum per image; mean "
                   "|I| per subset of order m), and the IoU of the salient sets of two models "
                   "trained with different seeds on the same samples and players (mean over "
                   "images; orders with a salient interaction in fewer than 10% of the images "
                   "are not drawn).", [figures["strength"], figures["iou"]])


def _examples_section(study: LayerwiseStudy, figures) -> Section:
    rows = [[row["sample"], row["type"],
             " & ".join(map(str, row.get("player_names", row["players"]))), row["order"],
             row["value"]] for row in study.example_rows()]
    return Section("Example interactions", "Strongest salient interactions of the output "
                   "(normalized), players numbered as in the first column.",
                   [figures["examples"]],
                   [Table("Salient interactions", ["test sample", "type", "players", "order",
                                                   "value"], rows)])


def _extractions_section(study: LayerwiseStudy) -> Section:
    first, second = study.config.extraction, study.config.also_extraction
    rows = [[name, *study.aggregate.salient_per_sample[i],
             *study.also_aggregate.salient_per_sample[i]]
            for i, name in enumerate(study.layer_names)]
    return Section("Extraction methods", "", [], [Table(
        "Salient interactions per sample", ["layer", f"{first} AND", f"{first} OR",
                                            f"{second} AND", f"{second} OR"], _floats(rows))])


def _floats(rows: list[list]) -> list[list]:
    """Table rows with array scalars as Python floats (the first cell, a name, kept)."""
    return [[row[0], *(float(v) for v in row[1:])] for row in rows]
