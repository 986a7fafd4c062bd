"""Fuzz table: every bad input to a public entry point raises JaxinterInputError naming the
argument, before any work (no training, tiny arrays).

Each entry point has one good call (checked to run) and, per argument, a family of bad values
(None, strings, object, bool and complex arrays, wrong shapes, a shape too large to copy,
NaN/inf, values that overflow, and bad hyperparameters). Every case must raise
``JaxinterInputError`` whose message names the argument before its first colon.
"""

from __future__ import annotations

import atexit
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxinter as ji
from jaxinter import analysis, data, interactions, io, masking, models, studies
from jaxinter.errors import JaxinterInputError

RNG = np.random.default_rng(0)
N = 3  # players of the tiny games
GAME = RNG.normal(size=(2, 2**N)).astype(np.float32)
HUGE = np.broadcast_to(np.float32(0), (2**31,))  # 2**31 entries, no memory: never copy it


def _object_array(shape):
    out = np.empty(shape, dtype=object)
    out.fill(object())
    return out


def bad_arrays(good: np.ndarray, *, shape: bool = True, values: bool = True) -> dict:
    """Bad variants of a real floating array ``good``."""
    out = {
        "none": None,
        "string": "abc",
        "strings": np.full(good.shape, "a"),
        "object": _object_array(good.shape),
        "complex": good.astype(np.complex64),
        "bool": good > 0,
        "ragged": [[1.0], [1.0, 2.0]],
        "dict": {"a": 1.0},
    }
    if shape:
        out |= {"scalar": np.float32(1.0), "empty": np.zeros((0,) * good.ndim, np.float32)}
    if values:
        nan, inf = good.copy(), good.copy()
        nan.flat[0], inf.flat[-1] = np.nan, -np.inf
        out |= {"nan": nan, "inf": inf}
    return out


def bad_games(good: np.ndarray) -> dict:
    """Bad variants of a game ``(..., 2**n)``: the array families plus subset-axis errors."""
    return bad_arrays(good) | {
        "int": good.astype(np.int32),
        "length_6": np.zeros(good.shape[:-1] + (6,), np.float32),
        "length_1": np.zeros(good.shape[:-1] + (1,), np.float32),
        "n_31": HUGE,
        "overflow": np.full(good.shape, 3e38, np.float32),
    }


def bad_orderings(good: np.ndarray) -> dict:
    """Bad variants of values to reorder ``(..., 2**n)``: any numeric dtype (NaN too) is fine."""
    out = bad_arrays(good, values=False) | {"length_6": np.zeros(6), "n_31": HUGE}
    del out["complex"], out["bool"], out["empty"]
    return out


def bad_labels(good: np.ndarray) -> dict:
    return {"none": None, "string": "abc", "float": good.astype(np.float32) + 0.5,
            "negative": good - 5, "2d": good[:, None], "short": good[:-1],
            "object": _object_array(good.shape), "complex": good.astype(np.complex64)}


def bad_ints(low: int, high: int | None = None, *, optional: bool = False) -> dict:
    out = {"float": 1.5, "bool": True, "string": "2", "nan": math.nan, "below": low - 1,
           "array": np.array([2, 3])}
    if high is not None:
        out["above"] = high + 1
    if not optional:
        out["none"] = None
    return out


def bad_numbers(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                optional: bool = False) -> dict:
    out = {"nan": math.nan, "inf": math.inf, "string": "0.1", "bool": True, "complex": 1j,
           "list": [0.1]}
    if low is not None:
        out["below"] = low - 1 if not low_open else low
    if high is not None:
        out["above"] = high + 1
    if not optional:
        out["none"] = None
    return out


def bad_choices() -> dict:
    return {"unknown": "nope", "none": None, "int": 3, "list": ["a"]}


def _without(family: dict, *labels: str) -> dict:
    """A family without the variants that are valid for this argument."""
    return {k: v for k, v in family.items() if k not in labels}


@dataclass
class Entry:
    """An entry point, a good call and the bad values of each argument."""

    name: str
    fn: object
    good: dict
    bad: dict = field(default_factory=dict)  # argument -> {label: bad value}


# --- fixtures of the good calls ----------------------------------------------------------------

X = RNG.normal(size=(12, 4)).astype(np.float32)
Y = np.arange(12, dtype=np.int32) % 3
MEAN, COV = np.zeros(3, np.float32), np.eye(3, dtype=np.float32)
LOGITS = RNG.normal(size=(4, 3)).astype(np.float32)
TARGET = np.array([0, 1, 2, 0], np.int32)
I_AND, I_OR = GAME, GAME[::-1].copy()
MASK = np.abs(GAME) > 0.5
CURVE = np.linspace(1.0, 0.0, 10, dtype=np.float32)
STRENGTH = np.abs(RNG.normal(size=(5, N + 1))).astype(np.float32)
IMAGES = RNG.normal(size=(2, 4, 4, 1)).astype(np.float32)


def _apply(x):
    return x.reshape(x.shape[0], -1)[:, :3]


PLAYERS = masking.Players.features((4,), [0, 1, 2])
_FOLDER = tempfile.mkdtemp(prefix="jaxinter_fuzz_")
atexit.register(shutil.rmtree, _FOLDER, True)
NPZ = str(Path(_FOLDER) / "data.npz")
np.savez(NPZ, x_train=X, y_train=Y, x_test=X, y_test=Y)


# a tiny captured MLP (hidden layers pre_1, hidden_1), its probes' readout and trackers
MLP = models.MLP((4,), num_classes=3, depth=2, width=4)
VARIABLES = models.init_variables(MLP, jax.random.key(0))
CAPTURED = masking.capture(MLP, VARIABLES)
READOUTS = {"hidden_1": lambda features: features[:, :3]}
KEY = jax.random.key(0)
NOT_KEYS = {"none": None, "int": 3, "string": "key", "floats": np.zeros(2, np.float32)}


def _features(x):
    return CAPTURED(x)[1]


def _logits(params, x):
    return MLP.apply(params, x)


def _interaction_tracker(**kwargs):
    return analysis.InteractionTracker(_logits, X[:2], Y[:2], PLAYERS, np.zeros(4, np.float32),
                                       train=(X, Y), test=(X, Y), **kwargs)


def _separation_tracker(**kwargs):
    return analysis.SeparationTracker(CAPTURED, X, Y, 3, **kwargs)


INTERACTION_TRACKER, SEPARATION_TRACKER = _interaction_tracker(), _separation_tracker()


def _bad_variables(structure: bool = True) -> dict:
    """Bad model variables; ``structure``: also pytrees of the wrong structure (a tracker
    without a model to compare with lets ``apply_fn`` report those)."""
    out = {"none": None, "string": "abc", "string_leaf": {"params": "abc"}}
    return out | ({"no_params": {"a": 1}, "list": [1.0]} if structure else {})


def _entries() -> list[Entry]:
    e = [
        Entry("moebius", ji.moebius, {"u": GAME}, {"u": bad_games(GAME), "shard": bad_choices(),
                                                   "donate": {"string": "yes", "int": 1}}),
        Entry("zeta", ji.zeta, {"i_and": GAME}, {"i_and": bad_games(GAME)}),
        Entry("or_interactions", ji.or_interactions, {"w": GAME}, {"w": bad_games(GAME)}),
        Entry("or_inverse", ji.or_inverse, {"i_or": GAME},
              {"i_or": bad_games(GAME), "mesh": {"string": "data", "list": [0]},
               "shard": bad_choices(), "donate": {"string": "yes", "none": None}}),
        Entry("shapley_values", ji.shapley_values, {"u": GAME}, {"u": bad_games(GAME)}),
        Entry("banzhaf_values", ji.banzhaf_values, {"u": GAME}, {"u": bad_games(GAME)}),
        Entry("interaction_index", ji.interaction_index, {"u": GAME, "index": "SII", "order": 2},
              {"u": bad_games(GAME), "index": bad_choices(), "order": bad_ints(1, N)}),
        Entry("transform_diagnostics", ji.transform_diagnostics, {"u": GAME},
              {"u": bad_games(GAME)}),
        Entry("to_shapiq", ji.to_shapiq, {"values": GAME, "max_order": 2, "min_order": 0},
              {"values": bad_orderings(GAME), "max_order": bad_ints(0, N, optional=True),
               "min_order": bad_ints(0, N)}),
        Entry("from_shapiq", ji.from_shapiq, {"values": GAME, "n": N},
              {"values": bad_orderings(GAME) | {"wrong_length": np.zeros(5, np.float32)},
               "n": bad_ints(1, 30) | {"forty": 40},
               "max_order": bad_ints(0, N, optional=True), "min_order": bad_ints(0, N)}),
        Entry("to_msb", ji.to_msb, {"values": GAME}, {"values": bad_orderings(GAME)}),
        Entry("and_or", ji.and_or, {"v": GAME, "steps": 20},
              {"v": bad_games(GAME), "c_q": bad_numbers(0), "steps": bad_ints(1, optional=True),
               "tol": bad_numbers(0, low_open=True), "rho": bad_numbers(0, low_open=True),
               "method": bad_choices()}),
        Entry("and_or_joint", ji.and_or_joint, {"v": GAME[None], "steps": 5},
              {"v": bad_games(GAME[None]), "model_axis": bad_ints(-3, 1) | {"wrap": 3},
               "sample_axis": bad_ints(-3, 1, optional=True), "c_q": bad_numbers(0),
               "c_g": bad_numbers(0), "alpha": bad_numbers(0), "steps": bad_ints(1),
               "lr": bad_numbers(0, low_open=True)}),
        Entry("extract_interactions", ji.extract_interactions, {"v": GAME, "kind": "and"},
              {"v": bad_games(GAME), "kind": bad_choices()}),
        Entry("error_bound", interactions.error_bound, {"v": GAME, "c_q": 0.04},
              {"v": bad_games(GAME), "c_q": bad_numbers(0)}),
        Entry("subset_masks", ji.subset_masks, {"n": N}, {"n": bad_ints(1, 30)}),
        Entry("subset_orders", ji.subset_orders, {"n": N}, {"n": bad_ints(1, 30)}),
        Entry("msb_permutation", interactions.msb_permutation, {"n": N}, {"n": bad_ints(1, 30)}),
        Entry("shapiq_order", interactions.shapiq_order, {"n": N}, {"n": bad_ints(1, 30)}),
        Entry("subset_index", ji.subset_index, {"players": (0, 2), "n": N},
              {"players": {"negative": (-1,), "string": "ab", "float": (0.5,), "none": None},
               "n": bad_ints(1, 30, optional=True)}),
        Entry("players_of", interactions.players_of, {"index": 5},
              {"index": {"negative": -1, "float": 1.5, "string": "5", "none": None}}),
        # analysis: metrics
        Entry("order_summary", ji.order_summary, {"i_and": I_AND, "i_or": I_OR},
              {"i_and": bad_games(I_AND), "i_or": bad_games(I_OR),
               "ratio": bad_numbers(0, 1), "axis": bad_ints(-2, 0, optional=True)}),
        Entry("salient_mask", ji.salient_mask, {"i_and": I_AND, "i_or": I_OR},
              {"i_and": bad_games(I_AND), "i_or": bad_games(I_OR),
               "ratio": bad_numbers(0, 1), "axis": bad_ints(-2, 0, optional=True)}),
        Entry("sparsity_curve", ji.sparsity_curve, {"i_and": I_AND, "i_or": I_OR},
              {"i_and": bad_games(I_AND), "i_or": bad_games(I_OR),
               "axis": bad_ints(-2, 0, optional=True)}),
        Entry("salient_iou", ji.salient_iou, {"mask_a": MASK, "mask_b": MASK},
              {"mask_a": {"float": GAME, "none": None, "string": "a", "shape": MASK[:, :6]},
               "mask_b": {"float": GAME, "none": None, "object": _object_array(MASK.shape)}}),
        Entry("interaction_stability", ji.interaction_stability,
              {"draws": GAME[None].repeat(3, 0), "salient": MASK},
              {"draws": bad_games(GAME[None].repeat(3, 0)), "salient": {"float": GAME},
               "axis": bad_ints(-3, 2)}),
        Entry("strongest_interactions", analysis.strongest_interactions,
              {"interactions": GAME, "salient": MASK, "top": 2},
              {"interactions": bad_games(GAME), "top": bad_ints(1)}),
        Entry("top_k_mask", analysis.top_k_mask, {"strength": STRENGTH, "k": 2},
              {"strength": bad_arrays(STRENGTH), "k": bad_ints(1)}),
        # curves are NaN-aware (NaN marks a checkpoint without strength): NaN is valid
        Entry("smooth_curve", analysis.smooth_curve, {"x": CURVE, "window": 3},
              {"x": bad_arrays(CURVE, values=False), "window": bad_ints(1) | {"even": 2}}),
        Entry("detect_turn", analysis.detect_turn, {"curve": CURVE},
              {"curve": bad_arrays(CURVE, values=False), "window": bad_ints(1),
               "min_change": bad_numbers(0)}),
        Entry("mean_order", analysis.mean_order, {"strength": STRENGTH},
              {"strength": bad_arrays(STRENGTH)}),
        Entry("similarity_by_order", ji.similarity_by_order, {"i_a": GAME, "i_b": GAME},
              {"i_a": bad_games(GAME), "i_b": bad_games(GAME)}),
        Entry("noise_variance_by_order", analysis.noise_variance_by_order,
              {"n": N, "sigma": 0.1}, {"n": bad_ints(1, 30), "sigma": bad_numbers(0)}),
        Entry("knowledge_change", ji.knowledge_change,
              {"i_l": I_AND, "i_ref": I_OR, "salient_l": MASK, "salient_ref": MASK},
              {"i_l": bad_games(I_AND), "i_ref": bad_games(I_OR),
               "salient_l": {"float": GAME, "none": None, "shape": MASK[:, :3]},
               "salient_ref": {"float": GAME, "string": "a"}}),
        Entry("supported_mean", analysis.supported_mean, {"values": STRENGTH},
              {"values": _without(bad_arrays(STRENGTH), "nan", "inf"),  # NaN: undefined
               "axis": bad_ints(-2, 1)}),
        Entry("layerwise_from_scores", analysis.layerwise_from_scores,
              {"v": GAME[:, None], "layer_names": ["output"], "kind": "and"},
              {"v": bad_games(GAME[:, None]) | {"layers": GAME[:, None].repeat(2, 1)},
               "layer_names": {"none": None, "string": "output", "ints": [1]},
               "ratio": bad_numbers(0, 1)}),
        Entry("gaussian_perturbations", analysis.gaussian_perturbations,
              {"key": jax.random.key(0), "x": X, "sigma": 0.1, "num": 2},
              {"x": bad_arrays(X, shape=False), "sigma": bad_numbers(0), "num": bad_ints(1)}),
        # analysis: separation
        Entry("separation_fuzziness", ji.separation_fuzziness, {"features": X, "labels": Y},
              {"features": _without(bad_arrays(X), "bool"),  # real: booleans count as 0/1
               "labels": bad_labels(Y), "num_classes": bad_ints(1, optional=True)
               | {"huge": 10**9}, "rtol": bad_numbers(0, 1, low_open=True),
               "chunk_size": bad_ints(1, optional=True)}),
        Entry("fit_law", ji.fit_law, {"fuzziness": np.array([3.0, 2.0, 1.0])},
              {"fuzziness": bad_arrays(np.array([3.0, 2.0, 1.0])) | {
                  "negative": np.array([1.0, -1.0, 2.0]), "one_layer": np.array([1.0])}}),
        # analysis: correlations
        Entry("gaussian_closure_moments", ji.gaussian_closure_moments,
              {"activation": "relu", "mean": MEAN, "cov": COV},
              {"activation": bad_choices(), "mean": bad_arrays(MEAN),
               "cov": bad_arrays(COV) | {"not_square": COV[:2]},
               "alpha": bad_numbers()}),
        Entry("relu_gaussian_moments", analysis.relu_gaussian_moments, {"mean": MEAN, "cov": COV},
              {"mean": bad_arrays(MEAN), "cov": bad_arrays(COV) | {"mismatch": np.eye(2)}}),
        Entry("linear_moments", analysis.linear_moments,
              {"mean": MEAN, "cov": COV, "kernel": np.ones((3, 2), np.float32),
               "bias": np.zeros(2, np.float32)},
              {"mean": bad_arrays(MEAN), "cov": bad_arrays(COV),
               "kernel": bad_arrays(np.ones((3, 2), np.float32)) | {"rows": np.ones((2, 2))},
               "bias": bad_arrays(np.zeros(2, np.float32)) | {"length": np.zeros(3)}}),
        Entry("class_cumulants", analysis.class_cumulants,
              {"x": X, "labels": Y, "num_classes": 3},
              {"x": bad_arrays(X), "labels": bad_labels(Y), "num_classes": bad_ints(1)}),
        Entry("xor_monte_carlo", analysis.xor_monte_carlo, {"n_per_class": 4, "noise": 0.1},
              {"n_per_class": bad_ints(1), "noise": bad_numbers(0), "seed": bad_ints(0)}),
        # masking
        Entry("Players.features", masking.Players.features,
              {"input_shape": (4,), "features": [0, 2]},
              {"input_shape": {"none": None, "zero": (0,), "string": "4", "float": (4.5,)},
               "features": {"float": [0.5, 1.7], "negative": [-1], "outside": [4],
                            "twice": [1, 1], "empty": [], "string": "ab"}}),
        Entry("log_odds", ji.log_odds, {"logits": LOGITS, "target": TARGET},
              {"logits": bad_arrays(LOGITS), "target": bad_labels(TARGET) | {"big": TARGET + 3}}),
        Entry("probability", ji.probability, {"logits": LOGITS, "target": TARGET},
              {"logits": bad_arrays(LOGITS), "target": bad_labels(TARGET)}),
        Entry("zero_baseline", ji.zero_baseline, {"input_shape": (4,)},
              {"input_shape": {"none": None, "zero": (0,), "string": "4", "negative": (-2,)}}),
        Entry("mean_baseline", ji.mean_baseline, {"data": X}, {"data": bad_arrays(X)}),
        Entry("masked_scores", ji.masked_scores,
              {"apply_fn": _apply, "x": X[:4], "players": PLAYERS, "baseline": np.zeros(4),
               "target": TARGET},
              {"apply_fn": {"none": None, "string": "f"}, "x": bad_arrays(X[:4]),
               "players": {"none": None, "list": [0, 1]},
               "baseline": bad_arrays(np.zeros(4, np.float32)) | {"shape": np.zeros(5)},
               "target": bad_labels(TARGET), "chunk_size": bad_ints(1)}),
        Entry("salient_patch_ids", ji.salient_patch_ids,
              {"x": IMAGES, "patch_size": 2, "n": 3},
              {"x": bad_arrays(IMAGES), "patch_size": _without(bad_ints(1, 4), "array"),
               "n": bad_ints(1, 4)}),
        # data, models, training, io
        Entry("add_label_noise", data.add_label_noise,
              {"labels": Y, "fraction": 0.1, "num_classes": 3, "seed": 0},
              {"labels": _without(bad_labels(Y), "short"), "fraction": bad_numbers(0, 1),
               "num_classes": bad_ints(1), "seed": bad_ints(0)}),
        Entry("load_data_file", data.load_data_file, {"path": NPZ},
              {"path": {"none": None, "missing": "/nonexistent/x.npz", "int": 3},
               "label_column": {"empty": "", "none": None},
               "test_fraction": bad_numbers(0, 1, low_open=True), "seed": bad_ints(0)}),
        Entry("boolean_rule", data.boolean_rule,
              {"x": np.ones((3, 4), np.float32), "terms": [(0, 1)]},
              {"x": _without(bad_arrays(np.ones((3, 4), np.float32), values=False), "bool"),
               "terms": {"none": None, "empty": [], "outside": [(0, 9)], "string": "ab",
                         "float": [(0.5,)]}}),
        Entry("Players.patches", masking.Players.patches,
              {"input_shape": (4, 4, 1), "patch_size": 2, "patch_ids": [0, 3]},
              {"input_shape": {"none": None, "flat": (16,), "zero": (0, 4, 1)},
               "patch_size": {"zero": 0, "big": 5, "float": 1.5, "none": None}}),
        Entry("shift_baseline", ji.shift_baseline, {"x": X, "delta": 0.1},
              {"x": bad_arrays(X, shape=False),
               "delta": {"none": None, "string": "a", "negative": -1.0, "nan": np.nan}}),
        Entry("load_dataset", data.load_dataset, {"name": "xor"},
              {"name": bad_choices()}),
        Entry("apply_in_batches", models.apply_in_batches, {"fn": _apply, "x": X},
              {"fn": {"none": None, "int": 3}, "x": _without(bad_arrays(X, values=False), "bool"),
               "batch_size": bad_ints(1)}),
        Entry("activation", models.activation, {"name": "relu"},
              {"name": bad_choices(), "alpha": bad_numbers()}),
        Entry("train", ji.train,
              {"model": models.MLP((4,), num_classes=3, depth=1, width=4), "data": (X, Y),
               "epochs": 1, "batch_size": 6, "progress": False},
              {"data": {"none": None, "string": "abc", "one": (X,), "object": (_object_array(
                  X.shape), Y), "nan": (np.full_like(X, np.nan), Y), "labels": (X, Y + 5),
                  "shape": (X[:, :3], Y)},
               "epochs": bad_ints(1), "batch_size": bad_ints(1, 12),
               "learning_rate": bad_numbers(0, low_open=True), "seed": bad_ints(0, 2**31 - 2),
               "every": bad_ints(1, optional=True), "callback": {"int": 3}}),
        Entry("cross_entropy", ji.training.cross_entropy, {"logits": LOGITS, "labels": TARGET},
              {"logits": bad_arrays(LOGITS), "labels": bad_labels(TARGET)}),
        Entry("labeled", io.labeled, {"values": GAME, "axes": ["a", "b"]},
              {"axes": {"count": ["a"], "none": None, "string": "ab", "ints": [1, 2]}}),
        # capture, probes, layerwise analysis, trackers, user models
        Entry("capture", masking.capture, {"model": MLP, "variables": VARIABLES},
              {"model": {"none": None, "string": "mlp", "int": 3},
               "variables": _bad_variables(),
               "layers": {"unknown": ["nope"], "int": 3, "regex": "[", "ints": [1],
                          "no_match": "nope.*"},
               "input_shape": {"string": "4", "zero": (0,), "float": (4.5,), "negative": (-1,),
                               "wrong": (5,), "int": 4},
               "method": {"int": 3, "unknown": "nope"},
               "all_modules": {"string": "yes", "none": None, "int": 2}}),
        Entry("train_probes", masking.train_probes,
              {"features_fn": _features, "x_train": X, "y_train": Y, "num_classes": 3,
               "key": KEY, "x_test": X, "y_test": Y, "steps": 1, "batch_size": 4},
              {"features_fn": {"none": None, "string": "f"},
               "x_train": bad_arrays(X) | {"shape": X[:, :3]},
               "y_train": bad_labels(Y) | {"big": Y + 3}, "num_classes": bad_ints(1),
               "key": NOT_KEYS, "layers": {"unknown": ["nope"], "string": "hidden_1",
                                           "ints": [1], "empty": []},
               "x_test": bad_arrays(X, shape=False) | {"shape": X[:, :3]},
               "y_test": bad_labels(Y) | {"big": Y + 3},
               "steps": bad_ints(1), "batch_size": bad_ints(1),
               "learning_rate": bad_numbers(0, low_open=True), "weight_decay": bad_numbers(0),
               "max_dim": bad_ints(1), "chunk_size": bad_ints(1)}),
        Entry("analyse_layers", analysis.analyse_layers,
              {"captured_fn": CAPTURED, "readouts": READOUTS, "x": X[:2], "target": Y[:2],
               "players": PLAYERS, "baseline": np.zeros(4, np.float32), "kind": "and"},
              {"captured_fn": {"none": None, "string": "f"},
               "readouts": {"none_string": "abc", "list": [1]},
               "x": bad_arrays(X[:2]), "target": bad_labels(Y[:2]),
               "players": {"none": None, "list": [0, 1]},
               "baseline": bad_arrays(np.zeros(4, np.float32)) | {"shape": np.zeros(5)},
               "layers": {"unknown": ["nope"], "string": "hidden_1", "ints": [1]},
               "sample_ids": {"string": "ab", "short": np.arange(1), "float": np.ones(2) / 2,
                              "object": _object_array((2,))},
               "noise_draws": bad_ints(0) | {"one": 1},
               "sigma": bad_numbers(0), "key": _without(NOT_KEYS, "none"),
               "ratio": bad_numbers(0, 1), "chunk_size": bad_ints(1),
               "timings": {"list": [], "string": "t"}}),
        Entry("InteractionTracker", _interaction_tracker, {},
              {"every": bad_ints(1), "method": bad_choices(),
               "ratio": bad_numbers(0, 1), "chunk_size": bad_ints(1),
               "readouts": {"string": "abc", "list": [1]},
               "andor_options": {"string": "abc", "list": [1]},
               "config": {"string": "abc", "list": [1]}}),
        Entry("InteractionTracker.args", analysis.InteractionTracker,
              {"apply_fn": _logits, "x": X[:2], "target": Y[:2], "players": PLAYERS,
               "baseline": np.zeros(4, np.float32), "train": (X, Y), "test": (X, Y)},
              {"apply_fn": {"none": None, "string": "f"}, "x": bad_arrays(X[:2]),
               "target": bad_labels(Y[:2]), "players": {"none": None, "list": [0, 1]},
               "baseline": bad_arrays(np.zeros(4, np.float32)) | {"shape": np.zeros(5)},
               "train": {"none": None, "string": "ab", "one": (X,), "nan": (X * np.nan, Y),
                         "labels": (X, Y - 5), "short": (X, Y[:-1])},
               "test": {"none": None, "object": (_object_array(X.shape), Y),
                        "float_labels": (X, Y + 0.5)}}),
        Entry("InteractionTracker.__call__", INTERACTION_TRACKER.__call__,
              {"step": 0, "variables": VARIABLES},
              {"step": bad_ints(0), "variables": _bad_variables(structure=False)}),
        Entry("SeparationTracker", _separation_tracker, {},
              {"every": bad_ints(1), "include_input": {"string": "yes", "none": None},
               "batch_size": bad_ints(1), "config": {"string": "abc", "list": [1]},
               "rtol": bad_numbers(0, 1, low_open=True),
               "chunk_size": bad_ints(1, optional=True), "check_values": {"string": "no"}}),
        Entry("SeparationTracker.args", analysis.SeparationTracker,
              {"captured": CAPTURED, "x": X, "labels": Y, "num_classes": 3},
              {"captured": {"none": None, "string": "f", "fn": _apply},
               "x": _without(bad_arrays(X), "bool") | {"shape": X[:, :3]},
               "labels": bad_labels(Y), "num_classes": bad_ints(1, optional=True)}),
        Entry("SeparationTracker.__call__", SEPARATION_TRACKER.__call__,
              {"step": 0, "variables": VARIABLES},
              {"step": bad_ints(0), "variables": _bad_variables()}),
        Entry("load_factory", models.load_factory, {"spec": "jaxinter.models:MLP"},
              {"spec": {"none": None, "int": 3, "no_colon": "jaxinter", "two": "a:b:c",
                        "module": "nonexistent_module_x:f", "function": "jaxinter.models:nope",
                        "file": "/nonexistent/file.py:f", "empty": ":f"}}),
        # more of the subpackages' public functions
        Entry("masked_layer_scores", masking.masked_layer_scores,
              {"captured_fn": CAPTURED, "readouts": READOUTS, "x": X[:2], "players": PLAYERS,
               "baseline": np.zeros(4, np.float32), "target": Y[:2]},
              {"captured_fn": {"none": None, "string": "f"},
               "readouts": {"string": "abc", "int": 3, "unknown": {"nope": _apply}},
               "x": bad_arrays(X[:2]) | {"shape": X[:2, :3]}, "players": {"none": None},
               "baseline": bad_arrays(np.zeros(4, np.float32)), "target": bad_labels(Y[:2]),
               "chunk_size": bad_ints(1), "score": bad_choices() | {"int": 3},
               "include_output": {"string": "yes", "none": None}}),
        Entry("separation_statistics", analysis.separation_statistics,
              {"features": X, "labels": Y},
              {"features": _without(bad_arrays(X), "bool"), "labels": bad_labels(Y),
               "num_classes": bad_ints(1, optional=True),
               "rtol": bad_numbers(0, 1, low_open=True), "chunk_size": bad_ints(1, optional=True),
               "check_values": {"string": "no", "none": None}}),
        Entry("separation_by_layer", analysis.separation_by_layer,
              {"features": {"a": X, "b": X}, "labels": Y},
              {"features": {"none": None, "string": "ab", "nan": {"a": X * np.nan},
                            "object": {"a": _object_array(X.shape)},
                            "rows": {"a": X, "b": X[:5]}},
               "labels": bad_labels(Y), "rtol": bad_numbers(0, 1, low_open=True)}),
        Entry("layer_separation", analysis.layer_separation,
              {"captured": CAPTURED, "x": X, "labels": Y, "num_classes": 3},
              {"captured": {"none": None, "string": "f"},
               "x": _without(bad_arrays(X), "bool") | {"shape": X[:, :3]},
               "labels": bad_labels(Y), "num_classes": bad_ints(1, optional=True),
               "include_input": {"string": "yes", "none": None}, "batch_size": bad_ints(1)}),
        Entry("noisy_copies", analysis.noisy_copies,
              {"x": X[:2], "players": PLAYERS, "target": Y[:2], "key": KEY, "sigma": 0.1,
               "draws": 2},
              {"x": bad_arrays(X[:2]), "players": {"none": None}, "target": bad_labels(Y[:2]),
               "key": NOT_KEYS, "sigma": bad_numbers(0), "draws": bad_ints(1)}),
        Entry("logit", masking.logit, {"logits": LOGITS, "target": TARGET},
              {"logits": bad_arrays(LOGITS), "target": bad_labels(TARGET)}),
        Entry("token_baseline", masking.token_baseline,
              {"embedding": np.ones(4, np.float32), "num_tokens": 3},
              {"embedding": _without(bad_arrays(np.ones(4, np.float32)), "scalar"),  # a token
               "num_tokens": bad_ints(1)}),
        Entry("init_variables", models.init_variables, {"model": MLP, "key": KEY},
              {"model": {"none": None, "string": "mlp"},  # jitted: a str key stops at jit
               "key": _without(NOT_KEYS, "string")}),
        Entry("order_means", analysis.order_means, {"x": GAME}, {"x": bad_games(GAME)}),
        Entry("high_order_share", analysis.high_order_share, {"strength": STRENGTH},
              {"strength": bad_arrays(STRENGTH)}),
        # studies (their configurations validate every field)
        Entry("LayerwiseConfig", studies.LayerwiseConfig, {},
              {"n": bad_ints(1, 20), "ratio": bad_numbers(0, 1), "sigma": bad_numbers(0),
               "epochs": bad_ints(1), "samples": bad_ints(1), "chunk_size": bad_ints(1),
               "model": bad_choices(), "seed": bad_ints(0)}),
        Entry("SeparationConfig", studies.SeparationConfig, {},
              {"depths": {"one": [1], "none": None, "string": "4", "twice": [4, 4]},
               "lr": bad_numbers(0, low_open=True), "width": bad_ints(1),
               "split": bad_choices(), "seed": bad_ints(0)}),
        Entry("DynamicsConfig", studies.DynamicsConfig, {},
              {"seed": bad_ints(0)}),
        Entry("CorrelationsConfig", studies.CorrelationsConfig, {},
              {"seed": bad_ints(0)}),
    ]
    return e


ENTRIES = _entries()
CASES = [(entry, arg, label, value) for entry in ENTRIES for arg, family in entry.bad.items()
         for label, value in family.items()]


def test_table_size():
    assert len(ENTRIES) >= 25 and len(CASES) >= 500, (len(ENTRIES), len(CASES))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_good_call_runs(entry):
    entry.fn(**entry.good)


def _names_argument(message: str, arg: str) -> bool:
    head = message.split(":", 1)[0]
    return re.search(rf"(^|[^\w]){re.escape(arg)}($|[^\w])", head) is not None


@pytest.mark.parametrize("entry,arg,label,value", CASES,
                         ids=[f"{c[0].name}-{c[1]}-{c[2]}" for c in CASES])
def test_bad_input_names_the_argument(entry, arg, label, value):
    with pytest.raises(JaxinterInputError) as err:
        entry.fn(**(entry.good | {arg: value}))
    assert _names_argument(str(err.value), arg), str(err.value)


def test_jit_runs_the_shape_and_dtype_checks():
    with pytest.raises(JaxinterInputError, match="^u: "):
        jax.jit(ji.moebius)(np.zeros(6, np.float32))
    out = jax.jit(ji.to_shapiq)(GAME)
    np.testing.assert_array_equal(np.asarray(out), ji.to_shapiq(GAME))
