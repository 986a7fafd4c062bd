"""The correlations study: networks as maps of class-conditional cumulants (Fischer et al. 2022).

For every activation, an MLP is trained on a dataset (and once more on Gaussian surrogate
inputs); :func:`jaxinter.analysis.analyse_correlations` then measures on the test split how the
class means and covariances go through the layers, how well the Gaussian closure predicts them,
which cumulant orders make up each hidden layer's output moments, and how much accuracy is left
when a layer is replaced by class-wise Gaussian surrogates. The XOR task (class information in
the covariance only) shows a quadratic layer moving it into the mean, and where the Gaussian
closure fails.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from ..analysis import (
    COV_PARTS,
    MEAN_PARTS,
    CorrelationAnalysis,
    DenseStack,
    XorClosureCheck,
    analyse_correlations,
    dense_stack_from_mlp,
    gaussian_surrogate_data,
    stack_mean_cov_separation,
    xor_closure_check,
)
from ..data import load_dataset
from ..errors import (
    JaxinterInputError,
    check_choice,
    check_instance,
    check_int,
    check_path,
    check_seed,
)
from ..io import StageCache, labeled, log, tree_from_arrays, tree_to_arrays
from ..models import ACTIVATIONS, MLP, QUADRATIC_ALPHA, UserModel, init_variables
from ..models._common import check_activation
from ..training import train
from ._inputs import check_user_inputs, load_study_data, user_depends, user_model

DATASETS = ("digits", "mnist", "file")
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
XOR_DEPTH, XOR_WIDTH = 2, 8  # the XOR network: one quadratic hidden layer of 8 units


@dataclasses.dataclass(frozen=True)
class CorrelationsConfig:
    """Settings of :func:`run_correlations`; the defaults are those of ``jaxinter correlations``.

    dataset: ``digits``, ``mnist`` or ``file``; data_path: the MNIST folder of IDX files or
    .npz (``mnist``), or your .npz or CSV (``file``; label_column: the CSV column of the
    classes); inputs are flattened. model_factory: ``"module:function"`` returning a
    ``jaxinter.models.MLP`` (the moment maps follow dense layers), analysed instead of the
    built-in MLPs (activations, depth, width then come from it); checkpoint: its trained
    weights (Orbax directory or msgpack file), or None to train it here.
    activations: MLP activations (names of
    :data:`jaxinter.models.ACTIVATIONS`), one network each. depth: linear layers of the MLP;
    width: hidden width; alpha: the quadratic activation z + alpha z**2 (also of the XOR net).
    epochs: training epochs (Adam 1e-3, batch 64). repeats: surrogate draws per layer.
    xor: run the XOR task; xor_epochs: its training epochs; xor_samples: Monte Carlo samples
    per class of its first-layer check. seed: seed of data split, weights, draws.
    """

    dataset: str = "digits"
    data_path: str | None = None
    label_column: str = "label"
    model_factory: str | None = None
    checkpoint: str | None = None
    activations: tuple[str, ...] = ("quadratic", "relu", "erf")
    depth: int = 3
    width: int = 64
    alpha: float = QUADRATIC_ALPHA
    epochs: int = 30
    repeats: int = 3
    xor: bool = True
    xor_epochs: int = 100
    xor_samples: int = 200_000
    seed: int = 0

    def __post_init__(self):
        check_choice(self.dataset, "dataset", DATASETS)
        check_user_inputs(self)
        self._check_activations()
        check_activation("quadratic", self.alpha)
        for name, low in (("depth", 1), ("width", 1), ("epochs", 1), ("repeats", 1),
                          ("xor_epochs", 1), ("xor_samples", 2)):
            check_int(getattr(self, name), name, low)
        check_seed(self.seed)
        if not isinstance(self.xor, bool):
            raise JaxinterInputError(f"xor: expected True or False, got {self.xor!r}")

    def _check_activations(self):
        names = self.activations
        if isinstance(names, str) or not isinstance(names, Sequence) or not names \
                or not all(isinstance(a, str) for a in names) \
                or len(set(names)) != len(names) or not set(names) <= set(ACTIVATIONS):
            raise JaxinterInputError(
                f"activations: expected distinct names from {ACTIVATIONS}, got {names!r}"
            )
        object.__setattr__(self, "activations", tuple(names))

    def to_dict(self) -> dict:
        """The fields as JSON-ready values; ``CorrelationsConfig(**d)`` is the inverse."""
        return {**dataclasses.asdict(self), "activations": list(self.activations)}


@dataclasses.dataclass(frozen=True)
class XorCorrelations:
    """The XOR task through a quadratic MLP (one hidden layer of 8 units).

    x: (n, 2) test inputs; labels: (n,) their classes; noise: the blobs' standard deviation.
    stack: the trained network (:class:`jaxinter.analysis.DenseStack`).
    analysis: :class:`jaxinter.analysis.CorrelationAnalysis` of the trained net on the test set
    (L = 3 layers input, hidden_1, logits; C = 2).
    separation: (L, 2) class separation per layer, [mean |dmu|^2 / tr Sigma, covariance
    |dSigma|_F / |Sigma|_F] (:func:`jaxinter.analysis.stack_mean_cov_separation`).
    check: :class:`jaxinter.analysis.XorClosureCheck` of the first layer's units, (2, U)
    arrays; the units are the trained ones, then the references x1 + x2 and x1 - x2.
    unit_names: (U,) names of those units.
    """

    x: np.ndarray
    labels: np.ndarray
    noise: float
    stack: DenseStack
    analysis: CorrelationAnalysis
    separation: np.ndarray
    check: XorClosureCheck
    unit_names: tuple[str, ...]

    def first_layer_table(self) -> np.ndarray:
        """(2 classes, U units, 6) values named by :data:`XOR_QUANTITIES`."""
        c = self.check
        return np.stack([c.exact_mean, c.mc_mean, c.exact_var, c.closure_var, c.mc_var,
                         c.k4_diag], -1)


XOR_QUANTITIES = ("exact mean", "Monte Carlo mean", "exact variance", "closure variance",
                  "Monte Carlo variance", "kappa4_ii")


@dataclasses.dataclass(frozen=True)
class CorrelationsStudy:
    """Result of :func:`run_correlations`. A activations, L = depth + 2 layers.

    config: the settings. dataset: ``{"name", "n_test", "split"}`` of the data.
    stacks: activation -> trained :class:`jaxinter.analysis.DenseStack`.
    analyses: activation -> :class:`jaxinter.analysis.CorrelationAnalysis` on the test split
    (class-conditional cumulants, closure errors, breakdown, surrogate accuracy per layer).
    trained_on_real_accuracy: (A,) test accuracy at the end of training (float32 evaluation).
    trained_on_surrogate_accuracy: (A,) test accuracy of the same MLP trained on Gaussian
    surrogate inputs (each training image replaced by a draw from its class's Gaussian).
    xor: :class:`XorCorrelations`, or None when ``config.xor`` is False.
    seconds: wall time of the run.
    """

    config: CorrelationsConfig
    dataset: dict
    stacks: dict[str, DenseStack]
    analyses: dict[str, CorrelationAnalysis]
    trained_on_real_accuracy: np.ndarray
    trained_on_surrogate_accuracy: np.ndarray
    xor: XorCorrelations | None
    seconds: float

    @property
    def layers(self) -> list[str]:
        """The L feature-layer names (input, hidden_1..hidden_depth, logits)."""
        return list(next(iter(self.analyses.values())).layers)

    def summary(self) -> dict:
        """The content of ``summary.json``: every array labeled with its axes."""
        acts = list(self.analyses)
        out = {
            "config": self.config.to_dict(),
            "dataset": self.dataset,
            "models": {
                **analyses_summary(self.analyses),
                "trained_on_real_accuracy": labeled(
                    self.trained_on_real_accuracy, ["activation"], {"activation": acts},
                    "test accuracy at the end of training"),
                "trained_on_surrogate_accuracy": labeled(
                    self.trained_on_surrogate_accuracy, ["activation"], {"activation": acts},
                    "test accuracy of the MLP trained on Gaussian surrogate inputs"),
            },
            "seconds": self.seconds,
        }
        if self.xor is not None:
            out["xor"] = xor_summary(self.xor)
        return out


def analyses_summary(analyses: dict[str, CorrelationAnalysis]) -> dict:
    """Labeled arrays of several analyses of stacks of equal depth (axis ``activation``);
    null where an activation has no such measurement (no closed form, no exact map)."""
    first = next(iter(analyses.values()))
    layers, hidden, classes = list(first.layers), list(first.layers[1:-1]), _classes(first)
    coords = {"activation": list(analyses), "layer": layers, "class": classes}
    hidden_coords = {**coords, "layer": hidden}

    def stacked(field, shape):
        return np.stack([np.full(shape, np.nan) if getattr(a, field) is None
                         else np.asarray(getattr(a, field), float) for a in analyses.values()])

    def shares(kind, parts):
        rows = [np.full((len(hidden), len(parts)), np.nan) if not a.has_closure
                else a.part_shares()[kind] for a in analyses.values()]
        return labeled(np.stack(rows), ["activation", "layer", "part"],
                       {"activation": list(analyses), "layer": hidden, "part": list(parts)},
                       "class-averaged share of each part's norm in the layer's output moments")

    per_layer = ["activation", "layer", "class"]
    out = {
        "accuracy": labeled(stacked("accuracy", ()), ["activation"],
                            {"activation": list(analyses)}, "test accuracy (float64)"),
        "surrogate_accuracy": labeled(
            stacked("surrogate_accuracy", (len(layers),)), ["activation", "layer"],
            {"activation": list(analyses), "layer": layers},
            "test accuracy with the layer replaced by class-wise Gaussian surrogates"),
    }
    for field, rows, text in _ERROR_FIELDS:
        size = len(layers) if rows == "layer" else len(hidden)
        out[field] = labeled(stacked(field, (size, len(classes))), per_layer,
                             coords if rows == "layer" else hidden_coords, text)
    out["mean_part_share"] = shares(0, MEAN_PARTS)
    out["cov_part_share"] = shares(1, COV_PARTS)
    return out


_ERROR_FIELDS = (
    ("closure_mean_error", "layer",
     "relative error of the class means propagated from the input under the Gaussian closure"),
    ("closure_cov_error", "layer", "the same for the class covariances"),
    ("local_mean_error", "hidden",
     "relative error of the class means predicted one layer at a time (Gaussian closure)"),
    ("local_cov_error", "hidden", "the same for the class covariances"),
    ("exact_cov_error", "layer",
     "relative error of the exact propagation with measured kappa3/kappa4 (rounding check)"),
)


def _classes(analysis: CorrelationAnalysis) -> list[int]:
    return list(range(np.shape(analysis.measured.features[0].mean)[0]))


def xor_summary(xor: XorCorrelations) -> dict:
    """Labeled arrays of the XOR task."""
    layers = list(xor.analysis.layers)
    cu = {"class": [0, 1], "unit": list(xor.unit_names)}
    return {
        "noise": xor.noise,
        "models": analyses_summary({"quadratic": xor.analysis}),
        "separation": labeled(xor.separation, ["layer", "moment"],
                              {"layer": layers, "moment": ["mean", "covariance"]},
                              "class separation: |dmu|^2 / tr Sigma and |dSigma|_F / |Sigma|_F"),
        "first_layer": labeled(xor.first_layer_table(), ["class", "unit", "quantity"],
                               {**cu, "quantity": list(XOR_QUANTITIES)},
                               "moments of the first quadratic layer's units"),
        "closure_over_exact_var": labeled(xor.check.closure_var / xor.check.exact_var,
                                          ["class", "unit"], cu),
        "mc_over_exact_var": labeled(xor.check.mc_var / xor.check.exact_var, ["class", "unit"],
                                     cu),
    }


# ---------------------------------------------------------------------------------------------
# the computation


def _stage(cache: StageCache | None, key: str, compute, depends: dict) -> dict:
    """Stage ``key`` from the cache (when there is one) or computed."""
    if cache is None:
        return {k: np.asarray(v) for k, v in compute().items()}
    return cache.get_or_compute(key, compute, depends)


def _trained(model, data, epochs: int, seed: int, cache, key: str, depends: dict):
    """(Linen variables, final test accuracy) of ``model`` trained on ``data()`` (cached)."""

    def fit():
        result = train(model, data(), epochs=epochs, batch_size=BATCH_SIZE,
                       learning_rate=LEARNING_RATE, seed=seed, progress=False)
        return {**tree_to_arrays(result.variables),
                "test_accuracy": result.history[-1]["test_accuracy"]}

    got = _stage(cache, key, fit, depends)
    like = jax.eval_shape(init_variables, model, jax.random.key(0))
    return tree_from_arrays(got, like), float(got["test_accuracy"])


def _user_mlp(config: CorrelationsConfig, ds) -> UserModel:
    """The user's model, which must be a Linen ``jaxinter.models.MLP``."""
    user = user_model(config, ds, config.seed)
    if not isinstance(user.model, MLP):
        raise JaxinterInputError(
            f"model_factory: the correlations study follows the moments through dense layers; "
            f"expected a jaxinter.models.MLP (Linen), got {type(user.model).__name__}")
    return user


def _activation_run(config: CorrelationsConfig, ds, act: str, cache, key,
                    user: UserModel | None = None):
    """(stack, analysis, trained-on-real accuracy, trained-on-surrogate accuracy) of one MLP
    (built-in, or the user's)."""
    t0 = time.perf_counter()
    model = user.model if user is not None else MLP(
        input_shape=ds.input_shape, num_classes=ds.num_classes, depth=config.depth,
        width=config.width, activation=act, alpha=config.alpha)
    depends = {k: getattr(config, k) for k in ("dataset", "data_path", "depth", "width",
                                               "epochs", "seed")}
    depends.update(activation=act, alpha=config.alpha if act == "quadratic" else None,
                   **user_depends(config))
    if user is not None and user.restored:
        variables = user.variables
        real = float(np.mean(np.asarray(model.apply(variables, ds.x_test)).argmax(-1)
                             == ds.y_test))
    else:
        variables, real = _trained(model, lambda: ds, config.epochs, config.seed, cache,
                                   f"model_{act}", depends)

    def surrogate_data():
        x_sur = gaussian_surrogate_data(jax.random.fold_in(key, 1), ds.x_train, ds.y_train,
                                        ds.num_classes)
        return x_sur, ds.y_train, ds.x_test, ds.y_test

    _, surrogate = _trained(model, surrogate_data, config.epochs, config.seed, cache,
                            f"surrogate_{act}", depends)
    stack = dense_stack_from_mlp(model, variables)
    analysis = analyse_correlations(stack, ds.x_test, ds.y_test, ds.num_classes, key,
                                    config.repeats)
    log(f"[correlations] {act}: test accuracy {float(analysis.accuracy):.3f}, surrogate per "
        f"layer {np.round(analysis.surrogate_accuracy, 3).tolist()} "
        f"({time.perf_counter() - t0:.1f}s)")
    return stack, analysis, real, surrogate


def _xor_run(config: CorrelationsConfig, cache, key) -> XorCorrelations:
    """The XOR task: a quadratic MLP trained on four blobs, analysed, its first layer checked."""
    ds = load_dataset("xor", seed=config.seed)
    model = MLP(input_shape=(2,), num_classes=2, depth=XOR_DEPTH, width=XOR_WIDTH,
                activation="quadratic", alpha=config.alpha)
    depends = {"alpha": config.alpha, "xor_epochs": config.xor_epochs, "seed": config.seed}
    variables, _ = _trained(model, lambda: ds, config.xor_epochs, config.seed, cache,
                            "xor_model", depends)
    stack = dense_stack_from_mlp(model, variables)
    analysis = analyse_correlations(stack, ds.x_test, ds.y_test, 2, key, config.repeats)
    # trained first-layer units plus two reference units, x1 + x2 and x1 - x2
    kernel = np.concatenate([np.asarray(stack.kernels[0]), [[1.0, 1.0], [1.0, -1.0]]], 1)
    bias = np.concatenate([np.asarray(stack.biases[0]), [0.0, 0.0]])
    check = xor_closure_check(kernel, bias, config.alpha, ds.info["std"],
                              n_mc=config.xor_samples, seed=config.seed)
    names = (*(f"trained {u}" for u in range(XOR_WIDTH)), "x1 + x2", "x1 - x2")
    return XorCorrelations(ds.x_test, ds.y_test, float(ds.info["std"]), stack, analysis,
                           stack_mean_cov_separation(analysis.measured), check, names)


def run_correlations(config: CorrelationsConfig, folder: Path | None = None) -> CorrelationsStudy:
    """Train, measure and compare: the whole correlations study.

    Args:
      config: the settings (validated when built).
      folder: where ``cache/`` keeps every trained network (``model_<activation>``,
        ``surrogate_<activation>``, ``xor_model``), so that an interrupted or repeated run
        reuses them (each stage is recomputed only when the settings it depends on change);
        None computes everything in memory.

    Returns:
      :class:`CorrelationsStudy`.
    """
    check_instance(config, "config", CorrelationsConfig)
    folder = check_path(folder, "folder", writable="dir", optional=True)
    t0 = time.perf_counter()
    cache = None if folder is None else StageCache(Path(folder) / "cache", label="correlations")
    key = jax.random.key(config.seed)
    ds = load_study_data(config)
    ds = ds.replace(x_train=ds.x_train.reshape(len(ds.x_train), -1),
                    x_test=ds.x_test.reshape(len(ds.x_test), -1),
                    input_shape=(int(np.prod(ds.input_shape)),))
    if config.model_factory is None:
        runs = {act: _activation_run(config, ds, act, cache, key) for act in config.activations}
    else:
        user = _user_mlp(config, ds)
        runs = {user.model.activation: _activation_run(config, ds, user.model.activation, cache,
                                                       key, user)}
    xor = _xor_run(config, cache, key) if config.xor else None
    return CorrelationsStudy(
        config=config,
        dataset={"name": ds.name, "n_test": len(ds.y_test), "split": ds.info},
        stacks={act: r[0] for act, r in runs.items()},
        analyses={act: r[1] for act, r in runs.items()},
        trained_on_real_accuracy=np.array([r[2] for r in runs.values()]),
        trained_on_surrogate_accuracy=np.array([r[3] for r in runs.values()]),
        xor=xor,
        seconds=time.perf_counter() - t0,
    )
