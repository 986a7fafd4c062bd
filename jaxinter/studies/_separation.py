"""The separation study: the law of data separation (He & Su 2023) in feed-forward nets of
several depths, measured during and after training, with controls.

Models are jaxinter MLPs of width W with d hidden layers (``MLP(depth=d + 1)``): dense -> batch
norm -> activation per hidden layer (variants: ``bn-relu``; controls ``no-bn`` and
``bn-linear``). Layer 0 is the input, layers 1..d the hidden activations (``hidden_i``), logits
excluded. D is measured on the training data (``split``), with batch norm in eval mode (running
statistics). Training: SGD with momentum 0.9, weight decay, cosine learning-rate decay,
cross-entropy.

``study = run_separation(SeparationConfig(depths=(2, 4)), folder)`` returns a
:class:`SeparationStudy` holding every number the ``jaxinter separation`` report shows;
``study.summary()`` is its ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx

from ..analysis import (
    History,
    LayerSeparation,
    SeparationLaw,
    SeparationRecord,
    SeparationTracker,
    correctly_classified,
    fit_law,
    layer_separation,
)
from ..data import DATASETS, Dataset
from ..errors import (
    JaxinterInputError,
    check_choice,
    check_instance,
    check_int,
    check_int_list,
    check_number,
    check_path,
    check_seed,
)
from ..io import StageCache, labeled, log, tree_from_arrays, tree_to_arrays
from ..masking import capture
from ..models import MLP
from ..training import Trainer, train
from ._inputs import (
    capture_user_model,
    check_user_inputs,
    load_study_data,
    user_depends,
    user_model,
)

VARIANTS = {  # name -> (batchnorm, activation)
    "bn-relu": (True, "relu"),
    "no-bn": (False, "relu"),
    "bn-linear": (True, "linear"),
}
LAYERS = "input (l=0) + hidden_1..hidden_d; logits excluded"


@dataclasses.dataclass(frozen=True)
class SeparationConfig:
    """Settings of :func:`run_separation` (the defaults are those of ``jaxinter separation``).

    dataset: a name of :func:`jaxinter.data.load_dataset`; data_path: its path (mnist, or your
    .npz or CSV for "file"); label_column: the CSV column of the classes;
    model_factory: ``"module:function"`` returning your Flax Linen or NNX model, measured
    instead of the MLPs (variant "model"; depth = its number of measured layers); checkpoint:
    its trained weights (Orbax directory or msgpack file), measured as they are, or None to
    train it here with the tracker; layers: regular expression of its measured layers (None:
    every sown layer, or every submodule's output);
    size: (H, W) downscaling and per_class: training images per class (mnist only).
    depths: distinct numbers of hidden layers (>= 2); width: hidden width.
    epochs, batch_size, lr, weight_decay: SGD (momentum 0.9) with cosine decay from ``lr``.
    track_every: epochs between measurements during training.
    controls: also train the variants without batch norm and without the nonlinearity.
    split: data on which D is measured ("train", as He & Su, or "test"); seed: PRNG seed.
    """

    dataset: str = "digits"
    data_path: str | None = None
    label_column: str = "label"
    model_factory: str | None = None
    checkpoint: str | None = None
    layers: str | None = None
    size: tuple[int, int] | None = None
    per_class: int | None = None
    depths: tuple[int, ...] = (4, 8, 20)
    width: int = 100
    epochs: int = 60
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    track_every: int = 5
    controls: bool = False
    split: str = "train"
    seed: int = 0

    def __post_init__(self):
        check_choice(self.dataset, "dataset", DATASETS)
        if self.layers is not None and not isinstance(self.layers, str):
            raise JaxinterInputError(f"layers: expected a regular expression, got {self.layers!r}")
        if self.size is not None:
            size = check_int_list(self.size, "size", 1)
            if len(size) != 2:
                raise JaxinterInputError(f"size: expected (H, W), got {self.size!r}")
            object.__setattr__(self, "size", size)
        check_int(self.per_class, "per_class", 1, optional=True)
        if self.dataset != "mnist" and (self.size is not None or self.per_class is not None):
            raise JaxinterInputError(
                f"size, per_class: only for dataset 'mnist', got {self.dataset!r}")
        check_user_inputs(self)
        depths = check_int_list(self.depths, "depths", 2, distinct=True)
        object.__setattr__(self, "depths", depths)
        for name in ("width", "epochs", "batch_size", "track_every"):
            check_int(getattr(self, name), name, 1)
        check_seed(self.seed)
        check_number(self.lr, "lr", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        if not isinstance(self.controls, bool):
            raise JaxinterInputError(f"controls: expected True or False, got {self.controls!r}")
        check_choice(self.split, "split", ("train", "test"))

    def to_dict(self) -> dict:
        """The fields as JSON-able values; ``SeparationConfig(**d)`` is the inverse."""
        d = dataclasses.asdict(self)
        return {**d, "depths": list(self.depths),
                "size": None if self.size is None else list(self.size)}

    @property
    def variants(self) -> tuple[str, ...]:
        """The trained variants: ``bn-relu``, and the controls when asked (``model`` for your
        own model)."""
        if self.model_factory is not None:
            return ("model",)
        return tuple(VARIANTS) if self.controls else ("bn-relu",)

    @property
    def other_split(self) -> str:
        return "test" if self.split == "train" else "train"


@dataclasses.dataclass
class SeparationRun:
    """One trained model.

    variant, depth: its variant and number of hidden layers d (L + 1 = d + 1 measured layers).
    final: :class:`jaxinter.analysis.LayerSeparation` of the trained model on the measured
      split (per layer D, directions, conditioning; the law over layers 0..d).
    hidden_only: the law refitted without the input layer.
    other_split: :class:`jaxinter.analysis.LayerSeparation` on the other split.
    trajectory: :class:`jaxinter.analysis.History` of the tracker: steps (E,) and a
      ``SeparationRecord`` with fields (E, d + 1) (D_l, ln D_l) and (E,) (rho, r, R^2, spread).
    epochs: (E,) the checkpoints in epochs (0 = initialization).
    train_accuracy, train_loss: means over the last segment's batches (training mode);
    test_accuracy: on the test split (eval mode); seconds: training time.
    """

    variant: str
    depth: int
    final: LayerSeparation
    hidden_only: SeparationLaw
    other_split: LayerSeparation
    trajectory: History
    epochs: np.ndarray
    train_accuracy: float
    test_accuracy: float
    train_loss: float
    seconds: float


@dataclasses.dataclass
class SeparationStudy:
    """Everything ``jaxinter separation`` reports.

    config: the :class:`SeparationConfig`.
    dataset: data set name; split_note: where its images come from; n_train, n_test: sizes;
    input_shape: the model input; n_measured: samples of the measured split.
    runs: one :class:`SeparationRun` per (variant, depth), variants (``variants``) outer,
      depths (``depths``) inner.
    """

    config: SeparationConfig
    dataset: str
    split_note: str
    n_train: int
    n_test: int
    input_shape: tuple[int, ...]
    n_measured: int
    runs: tuple[SeparationRun, ...]

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants of the runs, in order."""
        return tuple(dict.fromkeys(r.variant for r in self.runs))

    @property
    def depths(self) -> tuple[int, ...]:
        """The depths of the runs, in order."""
        return tuple(dict.fromkeys(r.depth for r in self.runs))

    def run(self, variant: str, depth: int) -> SeparationRun:
        """The run of one variant and depth."""
        return next(r for r in self.runs if (r.variant, r.depth) == (variant, depth))

    def grid(self, value) -> np.ndarray:
        """(V, D, ...) array of ``value(run)`` over variants x depths."""
        return np.array([[value(self.run(v, d)) for d in self.depths]
                         for v in self.variants], float)

    def layer_grid(self, value, offset: int = 0) -> np.ndarray:
        """(V, D, ..., max depth + 1 - offset) array of the per-layer ``value(run)`` (layers
        last), NaN beyond each model's layers."""
        lead = np.shape(value(self.runs[0]))[:-1]
        width = max(self.depths) + 1 - offset
        out = np.full((len(self.variants), len(self.depths), *lead, width), np.nan)
        for i, v in enumerate(self.variants):
            for j, d in enumerate(self.depths):
                row = np.asarray(value(self.run(v, d)), float)
                out[i, j, ..., : row.shape[-1]] = row
        return out

    def summary(self) -> dict:
        """The content of ``summary.json``: every array labeled with its axes."""
        c = self.config
        model = {"variant": list(self.variants), "depth": list(self.depths)}
        layers = list(range(max(self.depths) + 1))
        epochs = self.runs[0].epochs.tolist()

        def per_model(value, description):
            return labeled(self.grid(value), ("variant", "depth"), model, description)

        def per_layer(value, description, offset=0):
            return labeled(self.layer_grid(value, offset), ("variant", "depth", "layer"),
                           {**model, "layer": layers[offset:]}, description)

        def law(get, where):
            return {
                "rho": per_model(lambda r: get(r).rho, f"decay ratio exp(slope), {where}"),
                "pearson_r": per_model(lambda r: get(r).pearson_r, f"r of (l, ln D_l), {where}"),
                "r2": per_model(lambda r: get(r).r2, f"R^2 of the fit, {where}"),
                "ratio_spread": per_model(lambda r: get(r).ratio_spread,
                                          f"std of ln(D_l / D_(l-1)), {where}"),
            }

        trajectory = {"variant": list(self.variants), "depth": list(self.depths),
                      "checkpoint": epochs}
        return {
            "dataset": self.dataset, "split": c.split,
            "n_measured": self.n_measured, "n_train": self.n_train, "n_test": self.n_test,
            "width": c.width, "epochs": c.epochs, "seed": c.seed, "layers": LAYERS,
            "batchnorm_mode": "eval (running statistics)", "config": c.to_dict(),
            "law": law(lambda r: r.final.law, f"{c.split} data"),
            "hidden_only": law(lambda r: r.hidden_only, f"{c.split} data, input left out"),
            "other_split": {
                "split": c.other_split,
                **law(lambda r: r.other_split.law, f"{c.other_split} data"),
                "fuzziness": per_layer(lambda r: r.other_split.law.fuzziness,
                                       f"D_l on the {c.other_split} data"),
            },
            "fuzziness": per_layer(lambda r: r.final.law.fuzziness,
                                   f"D_l on the {c.split} data (null beyond a model's depth)"),
            "ratios": per_layer(lambda r: r.final.law.ratios, "D_l / D_(l-1)", offset=1),
            "train_accuracy": per_model(lambda r: r.train_accuracy, "last segment, train mode"),
            "test_accuracy": per_model(lambda r: r.test_accuracy, "test split, eval mode"),
            "train_loss": per_model(lambda r: r.train_loss, "last segment, train mode"),
            "train_seconds": per_model(lambda r: r.seconds, "training time"),
            "trajectory": {
                "pearson_r": labeled(
                    self.grid(lambda r: r.trajectory.record.pearson_r),
                    ("variant", "depth", "checkpoint"), trajectory,
                    "r of (l, ln D_l) during training; checkpoints in epochs"),
                "rho": labeled(self.grid(lambda r: r.trajectory.record.rho),
                               ("variant", "depth", "checkpoint"), trajectory,
                               "decay ratio during training"),
                "log_fuzziness": labeled(
                    self.layer_grid(lambda r: r.trajectory.record.log_fuzziness),
                    ("variant", "depth", "checkpoint", "layer"), {**trajectory, "layer": layers},
                    "ln D_l during training (null beyond a model's depth)"),
            },
        }


# ---------------------------------------------------------------------------------------------
# the computation


def run_separation(config: SeparationConfig, folder: Path | str | None = None
                   ) -> SeparationStudy:
    """Train every variant and depth with a separation tracker; measure the law at the end.

    Args:
      config: the :class:`SeparationConfig`.
      folder: where the resumable cache lives (``folder/cache``: one stage per trained model,
        with its weights, trajectory and metrics); None computes everything in memory.

    Returns:
      :class:`SeparationStudy`.
    """
    check_instance(config, "config", SeparationConfig)
    folder = check_path(folder, "folder", writable="dir", optional=True)
    ds = _load(config)
    log(f"[separation] {ds.name}: {len(ds.x_train)} train / {len(ds.x_test)} test, input "
        f"{ds.input_shape}; depths {list(config.depths)}; variants {list(config.variants)}")
    stages = None if folder is None else StageCache(Path(folder) / "cache", label="separation")
    models = ([("model", None)] if config.model_factory is not None else
              [(variant, depth) for variant in config.variants for depth in config.depths])
    runs = []
    for variant, depth in models:
        run = _train_model(config, ds, variant, depth, stages)
        log(f"[separation] {variant} depth {run.depth}: rho {float(run.final.law.rho):.4f} "
            f"r {float(run.final.law.pearson_r):.5f} train acc {run.train_accuracy:.3f} "
            f"({run.seconds:.1f}s)")
        runs.append(run)
    return SeparationStudy(
        config=config, dataset=ds.name, split_note=str(ds.info.get("split", "")),
        n_train=len(ds.x_train), n_test=len(ds.x_test), input_shape=tuple(ds.input_shape),
        n_measured=len(_split(ds, config.split)[1]), runs=tuple(runs))


def _load(config: SeparationConfig) -> Dataset:
    options = {k: v for k, v in (("size", config.size), ("per_class", config.per_class))
               if v is not None}
    return load_study_data(config, **options)


def _split(ds: Dataset, split: str):
    return (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)


def _optimizer(config: SeparationConfig, steps: int) -> optax.GradientTransformation:
    schedule = optax.cosine_decay_schedule(config.lr, steps)
    return optax.chain(optax.add_decayed_weights(config.weight_decay),
                       optax.sgd(schedule, momentum=0.9))


def _model(config: SeparationConfig, ds: Dataset, variant: str, depth: int | None, optimizer):
    """(what ``train`` takes, its initial or restored weights, the captured model) of a
    variant: an MLP of ``depth`` hidden layers, or the user's model (variant "model")."""
    key = jax.random.key(config.seed)
    if variant == "model":
        user = user_model(config, ds, config.seed)
        if user.restored:
            weights = user.model if user.variables is None else user.variables
        else:
            trainer = Trainer(user.factory, optimizer, user.input_shape)
            weights = trainer.variables(trainer.init(key))  # what train() starts from
        return user.factory, weights, capture_user_model(user, config.layers)
    batchnorm, activation = VARIANTS[variant]
    model = MLP(input_shape=ds.input_shape, num_classes=ds.num_classes, depth=depth + 1,
                width=config.width, batchnorm=batchnorm, activation=activation)
    trainer = Trainer(model, optimizer)
    initial = trainer.variables(trainer.init(key))  # what train() starts from with this key
    return model, initial, capture(model, initial, r"hidden_\d+")


def _weights(variables):
    """A model's weights as arrays: a Linen variables dict, or an NNX module's state."""
    return nnx.state(variables) if isinstance(variables, nnx.Module) else variables


def _train_model(config: SeparationConfig, ds: Dataset, variant: str, depth: int | None,
                 stages: StageCache | None) -> SeparationRun:
    """One model trained with a tracker (or read from its stage, or restored from the user's
    checkpoint); final analysis on both splits from its weights."""
    per_epoch = len(ds.x_train) // config.batch_size
    optimizer = _optimizer(config, config.epochs * per_epoch)
    key = jax.random.key(config.seed)
    model, initial, captured = _model(config, ds, variant, depth, optimizer)
    depth = len(captured.names)
    tracker = SeparationTracker(captured, *_split(ds, config.split), ds.num_classes,
                                every=config.track_every * per_epoch)

    def compute() -> dict:
        tracker(0, initial)
        if config.checkpoint is not None:  # the user's trained model, measured as it is
            accuracy = [len(correctly_classified(captured, x, y)) / len(y)
                        for x, y in (_split(ds, "train"), _split(ds, "test"))]
            return tree_to_arrays({"variables": _weights(initial), "trajectory":
                                   tracker.history(), "metrics": np.array([*accuracy, np.nan,
                                                                           0.0])})
        start = time.perf_counter()
        result = train(model, ds, epochs=config.epochs, batch_size=config.batch_size,
                       optimizer=optimizer, key=key, callback=tracker, progress=False,
                       input_shape=captured.input_shape)
        last = result.history[-1]
        metrics = [last["accuracy"], last.get("test_accuracy", np.nan), last["loss"],
                   time.perf_counter() - start]
        return tree_to_arrays({"variables": _weights(result.variables),
                               "trajectory": tracker.history(), "metrics": np.array(metrics)})

    like = {"variables": _weights(initial), "metrics": np.zeros(4),
            "trajectory": History(np.zeros(0), SeparationRecord(*[np.zeros(0)] * 6))}
    depends = {**config.to_dict(), **user_depends(config), "variant": variant, "depth": depth,
               "controls": None, "depths": None}
    arrays = (compute() if stages is None
              else stages.get_or_compute(f"{variant}_d{depth}", compute, depends))
    stored = tree_from_arrays(arrays, like)
    variables = stored["variables"]
    final = tracker.measure(variables)
    other = layer_separation(captured.replace(variables=variables),
                             *_split(ds, config.other_split), ds.num_classes)
    trajectory = stored["trajectory"]
    accuracy, test_accuracy, loss, seconds = (float(v) for v in stored["metrics"])
    return SeparationRun(
        variant=variant, depth=depth, final=final, hidden_only=fit_law(final.law.fuzziness[1:]),
        other_split=other, trajectory=trajectory,
        epochs=np.asarray(trajectory.steps) / per_epoch, train_accuracy=accuracy,
        test_accuracy=test_accuracy, train_loss=loss, seconds=seconds)
