"""The dynamics study: a population of MLPs (label-noise rates x seeds) trained in one vmapped
program while the interactions of a fixed probe set are tracked, then their order dynamics and
generalization power by order.

``study = run_dynamics(DynamicsConfig(dataset="wine"), folder)`` returns a
:class:`DynamicsStudy` holding every number the ``jaxinter dynamics`` report shows;
``study.summary()`` is its ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..analysis import (
    DetourSummary,
    History,
    InteractionTracker,
    OrderDynamics,
    Sensitivity,
    SharedRatios,
    cross_model_shared_ratios,
    detours_by_model,
    order_dynamics,
    perturbation_sensitivity,
    require_count,
    salient_mask,
    train_test_similarity,
)
from ..errors import (
    JaxinterInputError,
    check_choice,
    check_instance,
    check_int,
    check_number,
    check_path,
    check_seed,
)
from ..io import StageCache, labeled, log
from ..masking import Players, mean_baseline
from ..models import MLP, load_model
from ..training import Population, Trainer, init_population, train_population
from ._inputs import check_user_inputs, load_study_data, user_depends

DATASETS = ("digits", "wine", "breast_cancer", "iris", "mnist", "file")
TYPES = ("AND", "OR")
PERTURBATIONS = ("gaussian", "adversarial")
TOP_K = 3  # k of the top-k cross-seed shared ratio
MIN_COUNT = 5  # per-order aggregates over fewer interactions are not reported (NaN)
SIGMA, EPSILON = 0.1, 0.05  # Gaussian noise and gradient-sign step of the sensitivity


@dataclasses.dataclass(frozen=True)
class DynamicsConfig:
    """Settings of :func:`run_dynamics` (the defaults are those of ``jaxinter dynamics``).

    dataset: one of ``DATASETS``; data_path: MNIST folder or .npz (mnist), or your .npz or
      CSV file (file; label_column: its CSV column of the classes).
    model_factory: ``"module:function"`` returning your Flax Linen or NNX model, trained here
      instead of the MLP (width and depth then unused); checkpoint: must be None, the study
      trains from initialization.
    players: 2..12 players: image blocks on a 2 x (n/2) grid (1 x n for odd n), or groups of
      consecutive tabular features.
    noise: distinct label-noise rates in [0, 1); seeds: seeds per rate, starting at ``seed``.
    steps, every: training steps and steps between records (at least 3 checkpoints).
    batch_size, lr, width, depth: training (Adam) and the MLP.
    probe: probe samples from each of train and test.
    method: recorded interactions, "andor" or "and"; andor_steps: ADMM iterations per record.
    train_limit: use only the first N training samples (None: all).
    """

    dataset: str = "digits"
    data_path: str | None = None
    label_column: str = "label"
    model_factory: str | None = None
    checkpoint: str | None = None
    players: int = 8
    noise: tuple[float, ...] = (0.0, 0.2, 0.5)
    seeds: int = 2
    seed: int = 0
    steps: int = 1500
    every: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 128
    depth: int = 3
    probe: int = 30
    method: str = "andor"
    andor_steps: int = 300
    train_limit: int | None = None

    def __post_init__(self):
        check_choice(self.dataset, "dataset", DATASETS)
        check_user_inputs(self, checkpoint=False)
        check_int(self.players, "players", 2, 12)
        if isinstance(self.noise, str) or not hasattr(self.noise, "__iter__"):
            raise JaxinterInputError(f"noise: expected a list of rates, got {self.noise!r}")
        object.__setattr__(self, "noise", tuple(self.noise))
        for i, rate in enumerate(self.noise):
            check_number(rate, f"noise[{i}]", 0.0, 1.0, high_open=True)
        if not self.noise or max(self.noise) >= 1 or len(set(self.noise)) != len(self.noise):
            raise JaxinterInputError(f"noise: expected distinct rates in [0, 1), got {self.noise}")
        for name, low in (("seeds", 1), ("steps", 1), ("every", 1), ("batch_size", 1),
                          ("width", 1), ("depth", 1), ("probe", 2), ("andor_steps", 1)):
            check_int(getattr(self, name), name, low)
        check_seed(self.seed)
        check_int(self.train_limit, "train_limit", 1, optional=True)
        check_number(self.lr, "lr", low=0, low_open=True)
        check_choice(self.method, "method", ("and", "andor"))
        if self.steps // self.every < 2:
            raise JaxinterInputError(
                f"every: need at least 3 checkpoints (steps >= 2 x every), got steps "
                f"{self.steps} and every {self.every}")

    def to_dict(self) -> dict:
        """The fields as JSON-able values; ``DynamicsConfig(**d)`` is the inverse."""
        return {**dataclasses.asdict(self), "noise": list(self.noise)}


@dataclasses.dataclass
class DynamicsStudy:
    """Everything ``jaxinter dynamics`` reports. Members: P = R noise rates x S seeds,
    member ``r * S + s``; T checkpoints; n players; k probe samples per split.

    config: the :class:`DynamicsConfig`.
    dataset: data set name; num_classes, n_train, n_test: its classes and split sizes.
    noise_rates: (R,) label-noise rates; seeds: (S,) seeds.
    probe_labels: (2k,) classes of the probe samples, the first k from the training split.
    history: the tracker's :class:`jaxinter.analysis.History`: steps (T,) and an
      ``InteractionRecord`` with fields (T, P, ...): i_and, i_or (T, P, 2k, 1, 2**n),
      strength_and, strength_or (T, P, 1, n + 1), train_loss, test_loss (T, P).
    dynamics: :class:`jaxinter.analysis.OrderDynamics` of the AND + OR strength: spectrum
      (T, P, n + 1), mean_order and high_order_share (T, P), turn and gap_onset (P,).
    test_accuracy: (P,) final accuracy on the whole test split.
    similarity: (R, 2, n + 1) train-test similarity (AND, OR) by order at the end, mean over
      seeds.
    shared: :class:`jaxinter.analysis.SharedRatios`, fields (R, 2, n + 1): cross-seed shared
      ratios on the test probe samples at the end (all NaN with one seed).
    detours: :class:`jaxinter.analysis.DetourSummary`, fields (R, 2, n + 1): detours of the
      interactions salient at the end, mean over seeds (orders with < MIN_COUNT in a model NaN).
    sensitivity_noise: (R2,) the rates (first and last) whose first-seed model was perturbed.
    sensitivity: :class:`jaxinter.analysis.Sensitivity`, fields (R2, 2, 2, n + 1): rate,
      perturbation (gaussian, adversarial), type, order; orders with < MIN_COUNT NaN.
    seconds_training: training and tracking time; seconds_total: the whole study.
    """

    config: DynamicsConfig
    dataset: str
    num_classes: int
    n_train: int
    n_test: int
    noise_rates: np.ndarray
    seeds: np.ndarray
    probe_labels: np.ndarray
    history: History
    dynamics: OrderDynamics
    test_accuracy: np.ndarray
    similarity: np.ndarray
    shared: SharedRatios
    detours: DetourSummary
    sensitivity_noise: np.ndarray
    sensitivity: Sensitivity
    seconds_training: float
    seconds_total: float

    @property
    def n_players(self) -> int:
        """Number of players n."""
        return self.history.record.i_and.shape[-1].bit_length() - 1

    @property
    def steps(self) -> np.ndarray:
        """(T,) training steps of the checkpoints."""
        return np.asarray(self.history.steps)

    def by_member(self, values, axis: int = 0) -> np.ndarray:
        """A member axis (P) of ``values`` split into (noise rate R, seed S)."""
        values = np.asarray(values)
        shape = values.shape[:axis] + (len(self.noise_rates), len(self.seeds))
        return values.reshape(shape + values.shape[axis + 1:])

    @property
    def turn_step(self) -> np.ndarray:
        """(R, S) training step of each member's turn."""
        return self.by_member(self.steps[np.asarray(self.dynamics.turn.index)])

    @property
    def gap_onset_step(self) -> np.ndarray:
        """(R, S) training step where each member's loss gap starts its final rise."""
        return self.by_member(self.steps[np.asarray(self.dynamics.gap_onset)])

    @property
    def mean_order_points(self) -> np.ndarray:
        """(R, S, 3) each member's mean order at the start, its minimum and at the end."""
        order = np.asarray(self.dynamics.mean_order)
        points = np.stack([order[0], np.nanmin(order, 0), order[-1]], -1)
        return self.by_member(points)

    def summary(self) -> dict:
        """The content of ``summary.json``: every array labeled with its axes."""
        c = self.config
        return {
            "dataset": self.dataset, "n_players": self.n_players,
            "num_classes": self.num_classes, "n_train": self.n_train, "n_test": self.n_test,
            "probe_per_split": len(self.probe_labels) // 2, "steps": c.steps,
            "every": c.every, "method": c.method, "andor_steps": c.andor_steps,
            "top_k": TOP_K, "min_count": MIN_COUNT, "config": c.to_dict(),
            "seconds_training_and_tracking": self.seconds_training,
            "seconds_total": self.seconds_total,
            **self._member_summary(), **self._checkpoint_summary(), **self._order_summary(),
        }

    def _member_coords(self) -> dict:
        return {"noise_rate": self.noise_rates.tolist(), "seed": self.seeds.tolist()}

    def _member_summary(self) -> dict:
        """Per member: (noise_rate, seed) arrays."""
        axes, coords = ("noise_rate", "seed"), self._member_coords()

        def per_member(values, description):
            return labeled(self.by_member(values), axes, coords, description)

        rec, dyn = self.history.record, self.dynamics
        return {
            "test_accuracy": per_member(self.test_accuracy, "final accuracy on the test split"),
            "final_train_loss": per_member(rec.train_loss[-1], "cross-entropy, noisy labels"),
            "final_test_loss": per_member(rec.test_loss[-1], "cross-entropy on the test split"),
            "turn_step": labeled(self.turn_step, axes, coords,
                                 "step of the minimum of the smoothed mean order"),
            "gap_onset_step": labeled(self.gap_onset_step, axes, coords,
                                      "step where the test - train loss gap starts to rise"),
            "two_phase": per_member(dyn.turn.two_phase, "mean order falls, then rises"),
            "mean_order_points": labeled(
                self.mean_order_points, (*axes, "point"),
                {**coords, "point": ["start", "min", "end"]}, "strength-weighted mean order"),
            "final_high_order_share": per_member(dyn.high_order_share[-1],
                                                 "share of strength above order n / 2"),
        }

    def _checkpoint_summary(self) -> dict:
        """Over training: (checkpoint, noise_rate, seed[, order]) arrays."""
        coords = {"checkpoint": self.steps.tolist(), **self._member_coords()}
        orders = list(range(self.n_players + 1))

        def per_checkpoint(values, description, order=False):
            axes = ("checkpoint", "noise_rate", "seed") + (("order",) if order else ())
            return labeled(self.by_member(values, axis=1), axes,
                           {**coords, **({"order": orders} if order else {})}, description)

        rec, dyn = self.history.record, self.dynamics
        return {
            "mean_order": per_checkpoint(dyn.mean_order, "strength-weighted mean order"),
            "spectrum": per_checkpoint(dyn.spectrum, "share of AND + OR strength per order",
                                       order=True),
            "train_loss": per_checkpoint(rec.train_loss, "cross-entropy, noisy labels"),
            "test_loss": per_checkpoint(rec.test_loss, "cross-entropy on the test split"),
        }

    def _order_summary(self) -> dict:
        """By order: (noise_rate, [perturbation,] type, order) arrays."""
        kinds = {"type": list(TYPES), "order": list(range(self.n_players + 1))}
        coords = {"noise_rate": self.noise_rates.tolist(), **kinds}

        def per_rate(values, description):
            return labeled(values, ("noise_rate", "type", "order"), coords, description)

        perturbed = {"noise_rate": self.sensitivity_noise.tolist(),
                     "perturbation": list(PERTURBATIONS), **kinds}
        return {
            "similarity": per_rate(self.similarity, "train-test similarity, mean over seeds"),
            "shared_ratio": per_rate(self.shared.salient,
                                     "cross-seed shared ratio of salient interactions"),
            "shared_ratio_top_k": per_rate(self.shared.top_k,
                                           f"cross-seed shared ratio of the top {TOP_K}"),
            "detours": {f.name: per_rate(getattr(self.detours, f.name), _DETOUR_TEXT[f.name])
                        for f in dataclasses.fields(self.detours)},
            "sensitivity": {
                f.name: labeled(getattr(self.sensitivity, f.name),
                                ("noise_rate", "perturbation", "type", "order"), perturbed,
                                _SENSITIVITY_TEXT[f.name])
                for f in dataclasses.fields(self.sensitivity)},
        }


_DETOUR_TEXT = {
    "detour": "median path length / net displacement, mean over seeds",
    "detour_pooled": "sum of path lengths / sum of net displacements, mean over seeds",
    "reversals": "sign reversals per interaction, mean over seeds",
    "half_time": "fraction of training until half the final strength, mean over seeds",
    "count": "interactions salient at the end, mean over seeds",
}
_SENSITIVITY_TEXT = {
    "flip_rate": "share of salient interactions whose sign flips",
    "relative_change": "sum |I_perturbed - I| / sum |I| over salient interactions",
    "count": "salient interactions of the clean inputs",
}


# ---------------------------------------------------------------------------------------------
# the computation


def run_dynamics(config: DynamicsConfig, folder: Path | str | None = None) -> DynamicsStudy:
    """Train the population, track its interactions, and analyse their dynamics.

    Args:
      config: the :class:`DynamicsConfig`.
      folder: where the resumable cache lives (``folder/cache``: the tracker's records and the
        population after every checkpoint, the sensitivity stage); None computes everything
        in memory.

    Returns:
      :class:`DynamicsStudy`.
    """
    check_instance(config, "config", DynamicsConfig)
    folder = check_path(folder, "folder", writable="dir", optional=True)
    start = time.perf_counter()
    data = _prepare(config)
    cache = None if folder is None else Path(folder) / "cache"
    pop, trainer, history = _train(config, data, cache)
    seconds_training = time.perf_counter() - start
    evaluate = jax.jit(jax.vmap(trainer.evaluate, in_axes=(0, None, None)))
    accuracy = evaluate(pop.state, *(jnp.asarray(a) for a in data.test))["accuracy"]
    rec = history.record
    strength = rec.strength_and[:, :, 0] + rec.strength_or[:, :, 0]  # (T, P, n + 1)
    final = (rec.i_and[-1, :, :, 0], rec.i_or[-1, :, :, 0])  # (P, 2k, 2**n) each
    sensitivity = _sensitivity(config, data, pop, trainer, cache)
    return DynamicsStudy(
        config=config, dataset=data.name, num_classes=data.num_classes,
        n_train=len(data.train[1]), n_test=len(data.test[1]),
        noise_rates=np.asarray(config.noise), seeds=_seeds(config),
        probe_labels=data.probe_y, history=history,
        dynamics=jax.tree.map(np.asarray, order_dynamics(strength, rec.train_loss,
                                                         rec.test_loss)),
        test_accuracy=np.asarray(accuracy),
        similarity=_similarity(config, data, final),
        shared=_shared(config, data, final),
        detours=_detours(config, history, final),
        sensitivity_noise=np.asarray(_sensitivity_rates(config)),
        sensitivity=sensitivity,
        seconds_training=seconds_training,
        seconds_total=time.perf_counter() - start,
    )


def _seeds(config: DynamicsConfig) -> np.ndarray:
    return np.arange(config.seed, config.seed + config.seeds)


@dataclasses.dataclass(frozen=True)
class _Data:
    """The study's inputs: splits, players, baseline and the probe set (the first k probe
    samples from the training split, the next k from the test split)."""

    name: str
    num_classes: int
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    players: Players
    baseline: jax.Array
    k: int
    probe_x: np.ndarray
    probe_y: np.ndarray


def _prepare(config: DynamicsConfig) -> _Data:
    """Data, players, baseline and the class-balanced probe set."""
    ds = load_study_data(config)
    keep = slice(config.train_limit)
    x_tr, y_tr = np.asarray(ds.x_train)[keep], np.asarray(ds.y_train)[keep]
    x_te, y_te = np.asarray(ds.x_test), np.asarray(ds.y_test)
    if config.batch_size > len(x_tr):
        raise JaxinterInputError(
            f"batch_size: expected at most the {len(x_tr)} training samples, got "
            f"{config.batch_size}")
    i_tr, i_te = _balanced(y_tr, config.probe), _balanced(y_te, config.probe)
    return _Data(
        name=ds.name, num_classes=ds.num_classes, train=(x_tr, y_tr), test=(x_te, y_te),
        players=_block_players(ds.input_shape, config.players), baseline=mean_baseline(x_tr),
        k=len(i_tr), probe_x=np.concatenate([x_tr[i_tr], x_te[i_te]]),
        probe_y=np.concatenate([y_tr[i_tr], y_te[i_te]]))


def _block_players(input_shape, n: int) -> Players:
    """Images: a 2 x (n / 2) grid of blocks over (H, W) (1 x n for odd n), all channels of a
    block together; tabular data: n groups of consecutive features (flat input indices)."""
    if len(input_shape) >= 2:
        h, w = input_shape[0], input_shape[1]
        rows = 2 if n % 2 == 0 else 1
        cell = np.arange(h * w).reshape(h, w)
        groups = [blk.ravel() for band in np.array_split(cell, rows, 0)
                  for blk in np.array_split(band, n // rows, 1)]
        channels = int(np.prod(input_shape[2:]))
        groups = [(g[:, None] * channels + np.arange(channels)).ravel() for g in groups]
    else:
        groups = np.array_split(np.arange(input_shape[0]), min(n, input_shape[0]))
    return Players.from_groups([list(map(int, g)) for g in groups], tuple(input_shape))


def _balanced(y, k: int) -> np.ndarray:
    """Indices of the first samples of each class in turn, k in all (deterministic)."""
    order = np.argsort(y, kind="stable")
    per_class = [order[y[order] == c] for c in np.unique(y)]
    picked = [p[i] for i in range(k) for p in per_class if i < len(p)]
    return np.array(picked[:k])


def _train(config: DynamicsConfig, data: _Data,
           cache: Path | None) -> tuple[Population, Trainer, History]:
    """The population trained with the tracker (resumed from ``cache/track`` when there)."""
    x_tr, y_tr = data.train
    shape = tuple(x_tr.shape[1:])
    if config.model_factory is None:
        model = MLP(input_shape=shape, num_classes=data.num_classes, depth=config.depth,
                    width=config.width)
    else:
        model = load_model(config.model_factory, input_shape=shape,
                           num_classes=data.num_classes).factory
    trainer = Trainer(model, optax.adam(config.lr), shape)
    tracker = InteractionTracker(
        trainer.logits, data.probe_x, data.probe_y, data.players, data.baseline,
        train=data.train, test=data.test, every=config.every, method=config.method,
        andor_options={"steps": config.andor_steps},
        folder=None if cache is None else cache / "track",
        config={**config.to_dict(), **user_depends(config)})
    members = len(config.noise) * config.seeds
    log(f"[dynamics] {data.name}: {len(x_tr)} train / {len(data.test[1])} test, "
        f"n = {data.players.n} players, {members} members (noise {list(config.noise)} x "
        f"seeds {_seeds(config).tolist()}), {config.steps} steps")
    pop = init_population(trainer, y_tr, _seeds(config), config.noise, data.num_classes)
    pop, history = train_population(pop, trainer, x_tr, steps=config.steps,
                                    batch_size=config.batch_size, tracker=tracker)
    return pop, trainer, history


def _seed_mean(config: DynamicsConfig, values) -> np.ndarray:
    """(P, ...) member values -> (R, ...) means over the seeds of each rate (NaN ignored)."""
    values = np.asarray(values)
    grid = values.reshape(len(config.noise), config.seeds, *values.shape[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN orders stay NaN
        return np.nanmean(grid, 1)


def _similarity(config: DynamicsConfig, data: _Data, final) -> np.ndarray:
    """(R, 2, n + 1) train-test similarity of the final interactions."""
    k, y = data.k, data.probe_y
    per_type = [train_test_similarity(np.moveaxis(i, 1, 0)[:k], np.moveaxis(i, 1, 0)[k:],
                                      y[:k], y[k:], data.num_classes) for i in final]
    return _seed_mean(config, np.stack(per_type, 1))  # (P, 2, n + 1) -> (R, 2, n + 1)


def _shared(config: DynamicsConfig, data: _Data, final) -> SharedRatios:
    """Cross-seed shared ratios per rate on the test probe samples, fields (R, 2, n + 1)."""
    k, s, n1 = data.k, config.seeds, final[0].shape[-1].bit_length()
    if s < 2:
        nan = np.full((len(config.noise), 2, n1), np.nan)
        return SharedRatios(nan, nan.copy())
    per_rate = [cross_model_shared_ratios(final[0][r * s:(r + 1) * s, k:],
                                          final[1][r * s:(r + 1) * s, k:], TOP_K)
                for r in range(len(config.noise))]
    return jax.tree.map(lambda *a: np.stack(a), *per_rate)


def _detours(config: DynamicsConfig, history: History, final) -> DetourSummary:
    """Detours of the interactions salient at the end, fields (R, 2, n + 1)."""
    salient = salient_mask(*final)
    fields = (history.record.i_and[:, :, :, 0], history.record.i_or[:, :, :, 0])
    per_type = [detours_by_model(f, sel, history.steps, min_count=MIN_COUNT)
                for f, sel in zip(fields, salient, strict=True)]
    stacked = jax.tree.map(lambda *a: np.stack(a, 1), *per_type)  # (P, 2, n + 1)
    return jax.tree.map(partial(_seed_mean, config), stacked)


def _sensitivity_rates(config: DynamicsConfig) -> list[float]:
    return sorted({config.noise[0], config.noise[-1]}, key=config.noise.index)


def _sensitivity(config: DynamicsConfig, data: _Data, pop: Population, trainer: Trainer,
                 cache: Path | None) -> Sensitivity:
    """Sensitivity of the first-seed models of the first and last rate, (R2, 2, 2, n + 1)."""

    def compute():
        results = []
        for rate in _sensitivity_rates(config):
            member = config.noise.index(rate) * config.seeds
            state = jax.tree.map(lambda a: a[member], pop.state)  # noqa: B023
            res = perturbation_sensitivity(
                partial(trainer.logits, state), data.probe_x[data.k:],
                data.probe_y[data.k:], data.players, data.baseline,
                key=jax.random.key(config.seed), sigma=SIGMA, epsilon=EPSILON,
                method=config.method, andor_options={"steps": config.andor_steps})
            results.append([[require_count(s, MIN_COUNT) for s in res[p]] for p in PERTURBATIONS])
        stacked = jax.tree.map(lambda *a: np.stack(a), *[s for r in results for p in r for s in p])
        shape = (len(results), len(PERTURBATIONS), len(TYPES))
        return {f.name: getattr(stacked, f.name).reshape(*shape, -1)
                for f in dataclasses.fields(stacked)}

    if cache is None:
        return Sensitivity(**compute())
    stages = StageCache(cache, label="dynamics")
    return Sensitivity(**stages.get_or_compute("sensitivity", compute,
                                               {**config.to_dict(), **user_depends(config)}))
