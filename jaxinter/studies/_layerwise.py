"""The layerwise change of knowledge (Cheng et al., ICML 2024) as one call: config -> study.

:func:`run_layerwise` trains a model (and a second one with the next seed, for the cross-model
IoU), trains a linear probe on every captured layer, picks n players per sample (the most
salient image patches, or the largest features of a tabular sample), and for the first test
samples that both models classify correctly extracts the AND-OR interactions every layer
encodes, with their stability under input noise. The :class:`LayerwiseStudy` it returns holds
every number the ``jaxinter layerwise`` report shows; its :meth:`LayerwiseStudy.summary` is
that command's ``summary.json``.

Given a folder, every stage is cached under ``folder/cache`` with the options it depends on
(:func:`stage_depends`): an interrupted run resumes without recomputing finished stages, and a
changed option recomputes only the stages that depend on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..analysis import (
    LAYERWISE_TYPES,
    LayerwiseAggregate,
    LayerwiseResult,
    StrongestInteractions,
    SupportedMean,
    correctly_classified,
    layerwise_from_scores,
    layerwise_iou,
    merge_layerwise,
    noisy_copies,
    strongest_interactions,
    supported_mean,
)
from ..data import Dataset
from ..errors import (
    JaxinterInputError,
    check_choice,
    check_instance,
    check_int,
    check_number,
    check_path,
    check_seed,
)
from ..interactions import extract_interactions, players_of
from ..io import StageCache, labeled, log, progress, tree_from_arrays, tree_to_arrays
from ..masking import (
    CapturedFn,
    Players,
    ProbeSet,
    capture,
    masked_layer_scores,
    salient_patch_ids,
    train_probes,
)
from ..models import MLP, VGG, ResNet, ViT, init_variables
from ..training import train, train_seeds
from ._inputs import (
    capture_user_model,
    check_user_inputs,
    load_study_data,
    user_depends,
    user_model,
)

DATASETS = ("digits", "wine", "breast_cancer", "iris", "mnist", "file")
IMAGE_DATASETS = ("digits", "mnist")
LAYER_PATTERNS = {  # the captured layers of each model, as a regular expression
    "mlp": r"hidden_\d+",
    "cnn": r"conv_\d+|fc_\d+",
    "resnet": r"stem|block_\d+|pool",
    "vit": r"embed|block_\d+|pool",
}
EXTRACTIONS = ("default", "published", "lp")
EXAMPLE_INTERACTIONS = 6  # strongest interactions shown per example sample
# the options the two models of a study are trained (and captured) with
POPULATION_FIELDS = ("dataset", "data_path", "label_column", "train_size", "model", "depth",
                     "width", "epochs", "batch_size", "layers", "patch_size")


# ---------------------------------------------------------------------------------------------
# the config


@dataclasses.dataclass(frozen=True)
class LayerwiseConfig:
    """Options of a layerwise study; the defaults are those of ``jaxinter layerwise``.

    Attributes:
      dataset: one of :data:`DATASETS` (digits, shipped with scikit-learn, by default; "file"
        for your own .npz or CSV, ``jaxinter.data.load_data_file``).
      data_path: folder (IDX files) or .npz file of MNIST (``dataset="mnist"``), or your file
        (``dataset="file"``).
      label_column: the CSV column of the classes (``dataset="file"``).
      train_size: use only the first N training samples (None: all).
      model: one of :data:`LAYER_PATTERNS`: mlp, cnn (VGG-style), resnet (batch norm), vit;
        all but mlp need images. Ignored with ``model_factory``.
      model_factory: ``"module:function"`` returning your Flax Linen or NNX model (see
        ``jaxinter.models.load_model``), analysed instead of a built-in one; the second model
        (for the IoU) is the same factory trained with ``seed + 1``.
      checkpoint: your trained weights (Orbax directory or Flax msgpack file) for
        ``model_factory``; None trains the factory's model here.
      layers: regular expression (full match) of the captured layers of your model; None takes
        every layer it sows, or every submodule's output when it sows none.
      depth: MLP: number of linear layers (7 = MLP-7); ResNet: blocks per stage (depth // 2).
      width: MLP width (1024 for MLP-7).
      epochs, batch_size: training of each model.
      probe_steps: AdamW steps of each linear probe.
      n: players per sample (1..20; at most the number of features of a tabular dataset).
      patch_size: image patch side (None: 2 for 8x8 images, 3 otherwise).
      samples: correctly classified test samples to analyse.
      extraction: AND-OR extraction, one of :data:`EXTRACTIONS`: default (ours), published (the
        paper's SGD recipe) or lp (exact linear program, slow).
      also_extraction: a second extraction whose salient counts are reported for comparison,
        or None (also None when it equals ``extraction``).
      ratio: salient threshold as a fraction of the largest |I|, in (0, 1).
      noise_draws: noisy copies per sample for the stability (0 = none, else at least 2).
      sigma: input noise standard deviation, in input units (> 0).
      examples: samples whose strongest interactions the report shows.
      chunk_size: masked inputs per model call (changes no result).
      seed: seed of the first model and its probes; the second model uses ``seed + 1``.
    """

    dataset: str = "digits"
    data_path: str | None = None
    label_column: str = "label"
    train_size: int | None = None
    model: str = "mlp"
    model_factory: str | None = None
    checkpoint: str | None = None
    layers: str | None = None
    depth: int = 5
    width: int = 128
    epochs: int = 30
    batch_size: int = 64
    probe_steps: int = 1000
    n: int = 8
    patch_size: int | None = None
    samples: int = 40
    extraction: str = "default"
    also_extraction: str | None = None
    ratio: float = 0.05
    noise_draws: int = 5
    sigma: float = 0.02
    examples: int = 3
    chunk_size: int = 1024
    seed: int = 0

    def __post_init__(self):
        check_choice(self.dataset, "dataset", DATASETS)
        check_choice(self.model, "model", tuple(LAYER_PATTERNS))
        check_choice(self.extraction, "extraction", EXTRACTIONS)
        check_choice(self.also_extraction, "also_extraction", (None, *EXTRACTIONS))
        check_user_inputs(self)
        if self.layers is not None and not isinstance(self.layers, str):
            raise JaxinterInputError(f"layers: expected a regular expression, got {self.layers!r}")
        if self.model != "mlp" and self.dataset not in (*IMAGE_DATASETS, "file"):
            raise JaxinterInputError(
                f"model: expected 'mlp' for the tabular dataset {self.dataset!r} (the other "
                f"models need images), got {self.model!r}")
        for name in ("depth", "width", "epochs", "batch_size", "probe_steps", "samples",
                     "chunk_size"):
            check_int(getattr(self, name), name, 1)
        check_int(self.train_size, "train_size", 1, optional=True)
        check_int(self.patch_size, "patch_size", 1, optional=True)
        check_int(self.n, "n", 1, 20)
        check_int(self.examples, "examples", 0)
        check_seed(self.seed)
        check_int(self.noise_draws, "noise_draws", 0)
        if self.noise_draws == 1:
            raise JaxinterInputError("noise_draws: expected 0 or at least 2, got 1")
        check_number(self.ratio, "ratio", 0.0, 1.0, low_open=True, high_open=True)
        check_number(self.sigma, "sigma", 0.0, low_open=True)
        if self.also_extraction == self.extraction:
            object.__setattr__(self, "also_extraction", None)

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict; ``LayerwiseConfig(**d)`` is the inverse."""
        return dataclasses.asdict(self)


def _patch_size(config: LayerwiseConfig, ds: Dataset) -> int:
    if config.patch_size is not None:
        return config.patch_size
    return 2 if ds.input_shape[0] <= 8 else 3


def stage_depends(config: LayerwiseConfig, ds: Dataset) -> dict[str, dict]:
    """The options each cached stage depends on, by stage (``model`` for either seed).

    A stage is reused only when these match; options that change no result (``chunk_size``,
    ``examples``) appear in none.

    Args:
      config: the study's options.
      ds: the dataset (whether it holds images decides whether ``patch_size`` matters).

    Returns:
      ``{stage: {option: value}}`` for the stages model, probes, scores, scores_b,
      noise_scores, layer (each layer's extraction), model_b and also.
    """
    model = {k: getattr(config, k) for k in ("dataset", "data_path", "train_size", "model",
                                             "depth", "width", "epochs", "batch_size", "layers")}
    if config.model_factory is not None or config.dataset == "file":
        model.update(user_depends(config))
    image = {"patch_size": _patch_size(config, ds)} if len(ds.input_shape) == 3 else {}
    if config.model == "vit":
        model.update(image)
    # the samples are those both models (seeds s and s + 1) classify correctly
    players = {**model, "seed": config.seed, "n": config.n, "samples": config.samples, **image}
    scores = {**players, "probe_steps": config.probe_steps}
    noise = {**scores, "sigma": config.sigma, "noise_draws": config.noise_draws}
    # a layer's stage holds its stability when there are noise draws, which uses the threshold
    layer = {**noise, "ratio": config.ratio} if config.noise_draws else scores
    return {
        "model": model,
        "probes": {**model, "seed": config.seed, "probe_steps": config.probe_steps},
        "scores": scores,
        "scores_b": players,
        "noise_scores": noise,
        "layer": {**layer, "extraction": config.extraction},
        "model_b": {**players, "extraction": config.extraction},
        "also": {**scores, "extraction": config.also_extraction},
    }


# ---------------------------------------------------------------------------------------------
# the study


@dataclasses.dataclass(frozen=True)
class LayerwiseStudy:
    """Everything a layerwise study measured; S samples, L layers (the output last), n players.

    Attributes:
      config: the options of the run.
      dataset: name of the dataset as loaded.
      test_accuracy: (2,) test accuracy of the two models (seeds ``seed``, ``seed + 1``).
      probe_test_accuracy: (L - 1,) test accuracy of the probe of each layer before the output.
      inputs: (S, *input_shape) the analysed test samples (the first both models classify
        correctly).
      labels: (S,) their labels (the target class of every score).
      player_boxes: (S, n, 4) image players as rectangles (row, col, height, width), or None
        for tabular data.
      player_names: per sample the n feature names of its players (tabular data), or None.
      result: interactions of every layer of the first model on the samples.
      aggregate: ``result.aggregate()``: counts, strength, change against the output,
        completeness, redundancy and stability, per layer, type and order.
      output_b: interactions of the second model's output on the same samples and players.
      iou: IoU of the output's salient sets of the two models, mean over the samples where it
        is defined, (2, n + 1) by type and order, with its support.
      examples: the strongest salient interactions of the output (normalized) of the first
        ``config.examples`` samples, arrays (E, k).
      also: the interactions with ``config.also_extraction``, or None.
      also_aggregate: ``also.aggregate()``, or None.
      timings: seconds per stage (cached stages take almost none) and in total.
    """

    config: LayerwiseConfig
    dataset: str
    test_accuracy: np.ndarray
    probe_test_accuracy: np.ndarray
    inputs: np.ndarray
    labels: np.ndarray
    player_boxes: np.ndarray | None
    player_names: tuple[tuple[str, ...], ...] | None
    result: LayerwiseResult
    aggregate: LayerwiseAggregate
    output_b: LayerwiseResult
    iou: SupportedMean
    examples: StrongestInteractions
    also: LayerwiseResult | None
    also_aggregate: LayerwiseAggregate | None
    timings: dict[str, float]

    @property
    def layer_names(self) -> tuple[str, ...]:
        return self.result.layer_names

    @property
    def n(self) -> int:
        return self.result.n

    @property
    def num_samples(self) -> int:
        return self.result.num_samples

    @property
    def layer_test_accuracy(self) -> np.ndarray:
        """(L,) test accuracy of each layer's readout: the probes', then the first model's."""
        return np.append(self.probe_test_accuracy, self.test_accuracy[0])

    @property
    def salient_per_image_output(self) -> float:
        """Mean number of salient interactions (AND + OR) of the output per sample."""
        return float(self.aggregate.salient_per_sample[-1].sum())

    def example_rows(self) -> list[dict]:
        """The :attr:`examples` as rows: sample (test-set index), type, players (ids, and
        their names for tabular data), order, value; strongest first per sample."""
        rows = []
        for e, s in np.argwhere(np.asarray(self.examples.valid)):
            players = players_of(int(self.examples.subset[e, s]))
            row = {"sample": int(self.result.sample_ids[e]),
                   "type": LAYERWISE_TYPES[int(self.examples.kind[e, s])],
                   "players": list(players), "order": len(players),
                   "value": float(self.examples.value[e, s])}
            if self.player_names is not None:
                row["player_names"] = [self.player_names[e][p] for p in players]
            rows.append(row)
        return rows

    def summary(self) -> dict:
        """The content of ``summary.json``: plain scalars, the config, and labeled arrays
        (:func:`jaxinter.io.labeled`, axes among sample, seed, layer, type, part, order)."""
        agg, types = self.aggregate, {"type": list(LAYERWISE_TYPES)}
        by_order = {**types, "order": list(range(self.n + 1))}
        out = {
            "dataset": self.dataset, "model": self.config.model, "n": self.n,
            "samples": self.num_samples, "extraction": self.config.extraction,
            "config": self.config.to_dict(),
            "sample_ids": labeled(self.result.sample_ids, ("sample",),
                                  description="index of each analysed sample in the test set"),
            "test_accuracy": labeled(self.test_accuracy, ("seed",), {
                "seed": [self.config.seed, self.config.seed + 1]}, "test accuracy of each model"),
            "probe_test_accuracy": labeled(self.probe_test_accuracy, ("layer",), {
                "layer": list(self.layer_names[:-1])}, "test accuracy of each layer's probe"),
            "salient_per_image_output": self.salient_per_image_output,
            "salient_per_image_output_and_or": labeled(agg.salient_per_sample[-1], ("type",),
                                                       types),
            "salient_per_image_output_layer_threshold": labeled(
                agg.salient_per_sample_layer_threshold[-1], ("type",), types),
            "iou_by_order_output": labeled(
                self.iou.mean, ("type", "order"), by_order,
                "IoU of the two models' salient sets, mean over the samples where defined"),
            "iou_support_by_order_output": labeled(
                self.iou.support, ("type", "order"), by_order,
                "samples where either model has a salient interaction of the order"),
            "mean_abs_interaction_per_subset_by_order_output": labeled(
                agg.strength_per_subset_by_order[-1], ("type", "order"), by_order,
                "mean normalized |I(S)| over all S of the order, mean over samples"),
            "layerwise": agg.summary(),
            "examples": self.example_rows(),
            "timings": dict(self.timings),
        }
        if self.also_aggregate is not None:
            out[f"salient_per_sample_{self.config.also_extraction}"] = labeled(
                self.also_aggregate.salient_per_sample, ("layer", "type"),
                {"layer": list(self.layer_names), **types})
        return out


# ---------------------------------------------------------------------------------------------
# stages

Stage = Callable[[str, Callable[[], dict], dict], dict]  # StageCache.get_or_compute or no cache


def _stage_function(folder) -> Stage:
    if folder is not None:
        return StageCache(Path(folder) / "cache", label="layerwise").get_or_compute
    return lambda key, compute, depends: {k: np.asarray(v) for k, v in compute().items()}


@contextlib.contextmanager
def _timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _load(config: LayerwiseConfig) -> Dataset:
    ds = load_study_data(config)
    if config.train_size:
        keep = slice(0, config.train_size)
        ds = ds.replace(x_train=ds.x_train[keep], y_train=ds.y_train[keep])
    log(f"[layerwise] {ds.name}: {len(ds.x_train)} train / {len(ds.x_test)} test, "
        f"input {ds.input_shape}, {ds.num_classes} classes; model "
        f"{config.model_factory or config.model}")
    return ds


def _build_model(config: LayerwiseConfig, ds: Dataset):
    shape, classes = ds.input_shape, ds.num_classes
    if config.model == "mlp":
        return MLP(shape, classes, depth=config.depth, width=config.width)
    small = shape[0] < 16
    if config.model == "cnn":
        return VGG(shape, classes, features=(32, "M", 64, "M") if small else
                   (32, "M", 64, "M", 128, "M"), dense=(128,))
    if config.model == "resnet":
        return ResNet(shape, classes, stage_sizes=(max(config.depth // 2, 1),) * 3)
    return ViT(shape, classes, patch_size=_patch_size(config, ds), dim=64, depth=2)


def _captured_template(config, ds) -> tuple[CapturedFn, object]:
    """The first model captured with its (initial or restored) weights, and what ``train``
    takes: a built-in model, or the user's factory."""
    if config.model_factory is None:
        model = _build_model(config, ds)
        variables = init_variables(model, jax.random.key(0))
        return capture(model, variables, LAYER_PATTERNS[config.model]), model
    user = user_model(config, ds, config.seed)
    return capture_user_model(user, config.layers), user.factory


def _trained_models(config, ds, stage: Stage, depends) -> tuple[list[CapturedFn], np.ndarray]:
    """The two models (seeds ``seed`` and ``seed + 1``) captured, and their test accuracy; the
    first is the user's checkpoint when there is one."""
    template, trainable = _captured_template(config, ds)
    captured, accuracy = [], []
    for seed in (config.seed, config.seed + 1):
        def fit(seed=seed):
            if config.checkpoint is not None and seed == config.seed:
                return _model_arrays(template, template.variables, ds)
            data = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
            trained = train(trainable, data, epochs=config.epochs, batch_size=config.batch_size,
                            seed=seed, input_shape=template.input_shape).variables
            return _model_arrays(template, trained, ds)

        got = stage(_model_stage(seed), fit, {**depends, "seed": seed})
        weights = {k: v for k, v in got.items() if k != "test_accuracy"}
        captured.append(template.replace(variables=tree_from_arrays(weights,
                                                                    template.variables)))
        accuracy.append(float(got["test_accuracy"]))
    return captured, np.asarray(accuracy)


def _model_stage(seed: int) -> str:
    return f"model_seed{seed}"


def _model_arrays(template: CapturedFn, trained, ds: Dataset) -> dict:
    """A model stage: the trained variables (or NNX module) as arrays, and the test accuracy."""
    weights = (capture(trained, input_shape=template.input_shape).variables
               if isinstance(trained, nnx.Module) else
               {k: v for k, v in trained.items() if k != "intermediates"})
    correct = correctly_classified(template.replace(variables=weights), ds.x_test, ds.y_test)
    return {**tree_to_arrays(weights), "test_accuracy": len(correct) / len(ds.y_test)}


def population_options(config: LayerwiseConfig) -> dict | None:
    """The options a layerwise study trains its two models with (seeds aside), or None when
    they cannot join a population (a user's model factory).

    Studies with equal options differ only in the seeds of their models, which
    :func:`train_layerwise_population` trains as one population.
    """
    check_instance(config, "config", LayerwiseConfig)
    if config.model_factory is not None:
        return None
    return {k: getattr(config, k) for k in POPULATION_FIELDS}


def train_layerwise_population(configs, folders, saved=None) -> tuple[int, ...]:
    """Train the models of layerwise studies that differ only in their seeds as one vmapped
    population (``training.train_seeds``), and hand each study its models through its stage
    cache: a later :func:`run_layerwise` of each (config, folder) reuses them.

    Only models missing from the caches are trained. Population-trained weights equal those of
    a study run alone to float32 rounding (not bit for bit).

    Args:
      configs: :class:`LayerwiseConfig` objects with equal, non-None :func:`population_options`.
      folders: each study's folder (its cache is ``folder/cache``), as given to
        :func:`run_layerwise`.
      saved: a folder keeping the trained population; when it holds the missing models they
        are taken from it (never trained again), else the population trained here is saved
        there before any study's cache is written. None keeps nothing.

    Returns:
      The seeds of the models handed to the studies (empty when every model was cached).
    """
    _check_population(configs, folders, saved)
    ds = _load(configs[0])
    template, trainable = _captured_template(configs[0], ds)
    wanted: dict[int, list] = {}  # seed -> (cache, depends) of the studies that miss it
    for config, folder in zip(configs, folders, strict=True):
        cache = StageCache(Path(folder) / "cache", label="layerwise")
        depends = stage_depends(config, ds)["model"]
        for seed in (config.seed, config.seed + 1):
            if cache.get(_model_stage(seed), {**depends, "seed": seed}) is None:
                wanted.setdefault(seed, []).append((cache, {**depends, "seed": seed}))
    if not wanted:
        return ()
    seeds = sorted(wanted)

    def population() -> dict:
        log(f"[layerwise] training seeds {seeds} as one population")
        trained = train_seeds(trainable, (ds.x_train, ds.y_train), seeds,
                              epochs=configs[0].epochs, batch_size=configs[0].batch_size,
                              input_shape=template.input_shape)
        return {f"seed_{s}/{k}": v for s, t in zip(seeds, trained, strict=True)
                for k, v in _model_arrays(template, t, ds).items()}

    store = None if saved is None else StageCache(Path(saved), label="population")
    depends = stage_depends(configs[0], ds)["model"]
    found = None if store is None else store.get("models", depends)
    if found is None or any(f"seed_{s}/test_accuracy" not in found for s in seeds):
        found = {k: np.asarray(v) for k, v in population().items()}
        if store is not None:
            store.put("models", found, depends)
    for seed, targets in wanted.items():
        arrays = {k.split("/", 1)[1]: v for k, v in found.items()
                  if k.startswith(f"seed_{seed}/")}
        for cache, depends in targets:
            cache.put(_model_stage(seed), arrays, depends)
    return tuple(seeds)


def _check_population(configs, folders, saved) -> None:
    """Raise unless ``configs`` share their population options and have one folder each (a
    path), and ``saved`` is None or a place for a folder."""
    if not isinstance(configs, list | tuple) or not configs or any(
            not isinstance(c, LayerwiseConfig) for c in configs):
        raise JaxinterInputError(f"configs: expected a non-empty list of LayerwiseConfig, got "
                                 f"{configs!r}")
    if not isinstance(folders, list | tuple) or len(folders) != len(configs):
        raise JaxinterInputError(f"folders: expected one folder per config ({len(configs)}), "
                                 f"got {folders!r}")
    for folder in folders:
        check_path(folder, "folders", writable="dir")
    check_path(saved, "saved", writable="dir", optional=True)
    options = population_options(configs[0])
    for i, config in enumerate(configs):
        if population_options(config) is None or population_options(config) != options:
            raise JaxinterInputError(
                f"configs[{i}]: expected the training options of configs[0] {options} (only "
                f"the seed may differ; no model_factory), got {population_options(config)}")


def _analysed_samples(config, ds, captured: list[CapturedFn]) -> np.ndarray:
    """Indices of the first ``config.samples`` test samples both models classify correctly."""
    correct = [correctly_classified(c, ds.x_test, ds.y_test) for c in captured]
    ids = np.intersect1d(*correct)[: config.samples]
    if len(ids) == 0:
        raise JaxinterInputError("samples: no test sample is classified correctly by both "
                                 "models; train longer (epochs)")
    if len(ids) < config.samples:
        log(f"[layerwise] only {len(ids)} test samples are classified correctly by both models")
    return ids


def _players(config, ds, x):
    """Per-sample players, with rectangles (images) or feature names (tabular data)."""
    if len(ds.input_shape) == 3:
        p = _patch_size(config, ds)
        ids = salient_patch_ids(x, p, config.n)
        cols = ds.input_shape[1] // p
        boxes = np.stack([ids // cols * p, ids % cols * p, np.full_like(ids, p),
                          np.full_like(ids, p)], axis=-1)
        return Players.patches(ds.input_shape, p, ids), boxes, None
    d = int(np.prod(ds.input_shape))
    top = np.sort(np.argsort(-np.abs(x.reshape(len(x), -1)), axis=1)[:, :min(config.n, d)],
                  axis=1)
    players = Players.stack([Players.features(ds.input_shape, row.tolist()) for row in top])
    names = ds.info.get("feature_names") or [f"x{i}" for i in range(d)]
    return players, None, tuple(tuple(names[i] for i in row) for row in top)


def _train_probes(config, ds, captured: CapturedFn, stage: Stage, depends) -> ProbeSet:
    probes = ProbeSet.from_arrays(stage("probes", lambda: train_probes(
        lambda xb: captured(xb)[1], ds.x_train, ds.y_train, ds.num_classes,
        key=jax.random.key(config.seed), x_test=ds.x_test, y_test=ds.y_test,
        steps=config.probe_steps).to_arrays(), depends))
    for k in probes.names:
        log(f"[layerwise] probe {k}: train {float(probes.train_accuracy[k]):.3f} "
            f"test {float(probes.test_accuracy[k]):.3f}")
    return probes


def _masked_scores(config, captured, probes: ProbeSet, x, y, players: Players, stage: Stage,
                   depends):
    """Scores of the first model's layers (S, L, 2**n), of the second model's output
    (S, 1, 2**n) and, with noise draws, of the first model on noisy copies (K, S, L, 2**n)."""
    baseline = jnp.zeros(players.input_shape, jnp.float32)

    def scores(captured_fn, readouts, xs, pl, target):
        return {"v": masked_layer_scores(captured_fn, readouts, jnp.asarray(xs), pl, baseline,
                                         jnp.asarray(target), chunk_size=config.chunk_size)}

    log(f"[layerwise] masked evaluation: {len(x)} samples x 2**{players.n} subsets x "
        f"{len(probes.names) + 1} layers")
    v = stage("scores", lambda: scores(captured[0], probes.readouts(), x, players, y),
              depends["scores"])["v"]
    v_b = stage("scores_b", lambda: scores(captured[1], None, x, players, y),
                depends["scores_b"])["v"]
    if not config.noise_draws:
        return v, v_b, None

    def noisy():
        copies = noisy_copies(x, players, y, jax.random.key(config.seed + 7), config.sigma,
                              config.noise_draws)
        return scores(captured[0], probes.readouts(), *copies)

    v_noisy = stage("noise_scores", noisy, depends["noise_scores"])["v"]
    return v, v_b, v_noisy.reshape((config.noise_draws,) + v.shape)


def _interactions(v, method: str) -> dict:
    i_and, i_or = extract_interactions(jnp.asarray(v), method=method)
    return {"i_and": i_and, "i_or": i_or}


def _layer(config, v, v_noisy, j: int, name: str, ids) -> dict:
    """Interactions (and stability) of layer ``j`` alone: one cached stage."""
    noisy = None if v_noisy is None else v_noisy[:, :, j:j + 1]
    r = layerwise_from_scores(v[:, j:j + 1], [name], v_noisy=noisy, sample_ids=ids,
                              ratio=config.ratio, method=config.extraction)
    arrays = {"i_and": r.i_and, "i_or": r.i_or}
    return arrays if r.stability is None else {**arrays, "stability": r.stability}


def _result(v, arrays: dict, ids, names, ratio: float) -> LayerwiseResult:
    stability = arrays.get("stability")
    return LayerwiseResult(jnp.asarray(v), jnp.asarray(arrays["i_and"]),
                           jnp.asarray(arrays["i_or"]),
                           None if stability is None else jnp.asarray(stability),
                           jnp.asarray(ids), tuple(names), ratio)


def _extract(config, v, v_b, v_noisy, names, ids, stage: Stage, depends):
    """The first model's layers, the second model's output and the comparison extraction."""
    parts = []
    for j, name in progress(list(enumerate(names)), "extract layers"):
        got = stage(f"layer_{j}", lambda j=j, name=name: _layer(config, v, v_noisy, j, name, ids),
                    depends["layer"])
        parts.append(_result(v[:, j:j + 1], got, ids, [name], config.ratio))
    result = merge_layerwise(parts, axis="layers")
    got = stage("model_b", lambda: _interactions(v_b, config.extraction), depends["model_b"])
    output_b = _result(v_b, got, ids, ["output"], config.ratio)
    if config.also_extraction is None:
        return result, output_b, None
    got = stage(f"also_{config.also_extraction}",
                lambda: _interactions(v, config.also_extraction), depends["also"])
    return result, output_b, _result(v, got, ids, names, config.ratio)


def run_layerwise(config: LayerwiseConfig, folder=None) -> LayerwiseStudy:
    """Run a layerwise study: train, probe, evaluate masked inputs, extract, compare.

    Args:
      config: the options (a :class:`LayerwiseConfig`, validated when it was made).
      folder: with a folder, every stage is cached under ``folder/cache`` and reused by a later
        run with the options it depends on (:func:`stage_depends`); None caches nothing.

    Returns:
      A :class:`LayerwiseStudy`.
    """
    check_instance(config, "config", LayerwiseConfig)
    folder = check_path(folder, "folder", writable="dir", optional=True)
    start, timings = time.perf_counter(), {}
    stage = _stage_function(folder)
    ds = _load(config)
    depends = stage_depends(config, ds)
    with _timed(timings, "training"):
        captured, test_accuracy = _trained_models(config, ds, stage, depends["model"])
    ids = _analysed_samples(config, ds, captured)
    x, y = ds.x_test[ids], ds.y_test[ids]
    players, boxes, names = _players(config, ds, x)
    with _timed(timings, "probes"):
        probes = _train_probes(config, ds, captured[0], stage, depends["probes"])
    with _timed(timings, "masked evaluation"):
        v, v_b, v_noisy = _masked_scores(config, captured, probes, x, y, players, stage,
                                         depends)
    with _timed(timings, "extraction"):
        result, output_b, also = _extract(config, v, v_b, v_noisy, [*probes.names, "output"],
                                          ids, stage, depends)
    with _timed(timings, "metrics"):
        measured = _measure(config, result, output_b, also)
    timings["total"] = time.perf_counter() - start
    study = LayerwiseStudy(
        config=config, dataset=ds.name, test_accuracy=test_accuracy,
        probe_test_accuracy=np.asarray([probes.test_accuracy[k] for k in probes.names]),
        inputs=x, labels=y, player_boxes=boxes, player_names=names, result=result,
        output_b=output_b, also=also, timings=timings, **measured)
    log(f"[layerwise] salient interactions per image (output, AND+OR): "
        f"{study.salient_per_image_output:.1f} ({timings['total']:.1f}s)")
    return study


def _measure(config, result: LayerwiseResult, output_b: LayerwiseResult,
             also: LayerwiseResult | None) -> dict:
    """The aggregates, the IoU of the two models and the examples (study fields)."""
    shown = min(config.examples, result.num_samples)
    normalized, salient = result.normalized()[:shown, -1], result.salient()[:shown, -1]
    measured = {
        "aggregate": result.aggregate(),
        "iou": supported_mean(layerwise_iou(result, output_b)),
        "examples": strongest_interactions(normalized, salient, EXAMPLE_INTERACTIONS),
        "also_aggregate": None if also is None else also.aggregate(),
    }
    return jax.block_until_ready(measured)
