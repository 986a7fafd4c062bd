"""Fuzz table: every bad input to a public entry point raises JaxinterInputError naming the
argument, before any work (no training, tiny arrays).

Each entry point has one good call (checked to run) and, per argument, a family of bad values
(None, strings, object, bool and complex arrays, wrong shapes, a shape too large to copy,
NaN/inf, values that overflow, and bad hyperparameters). Every case must raise
``JaxinterInputError`` whose message names the argument before its first colon.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import inspect
import math
import re
import shutil
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

import flax.serialization
import jax
import numpy as np
import optax
import pytest
from flax import nnx

import jaxinter as ji
from jaxinter import (
    analysis,
    data,
    distributed,
    interactions,
    io,
    masking,
    models,
    plots,
    studies,
    sweeps,
    training,
)
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
    good_runs: bool = True  # False: the good call runs a whole study (the studies' tests do)
    # argument -> regex of what the message may name instead (sweep files name their keys)
    aliases: dict = field(default_factory=dict)


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
               "tol": bad_numbers(0, low_open=True, optional=True),
               "rho": bad_numbers(0, low_open=True), "slots": bad_ints(1, optional=True),
               "workers": bad_ints(1, optional=True), "method": bad_choices()}),
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




# --- the rest of the public API (every name in an ``__all__`` that takes user input) ---------

NOT_PATHS = {"none": None, "int": 3, "list": ["a"]}
MISSING = str(Path(_FOLDER) / "missing" / "nothing.npz")
NOT_TREES = {"none": None, "string": "abc", "object": {"a": object()}}
NOT_MESHES = {"none_string": "data", "int": 3, "list": [1]}
SHAPE_4 = {"none": None, "string": "4", "zero": (0,), "negative": (-1,), "float": (4.5,),
           "int": 4}
IMAGE_SHAPE = {"none": None, "flat": (16,), "zero": (0, 4, 1), "string": "441"}
MLP_STACK = analysis.dense_stack_from_mlp(MLP, VARIABLES)
CUMULANTS = analysis.class_cumulants(X, Y, 3)
STACK_CUMULANTS = analysis.stack_cumulants(MLP_STACK, X, Y, 3)
STACK_MOMENTS = analysis.propagate_moments(MLP_STACK, CUMULANTS.mean, CUMULANTS.cov)
K34 = np.zeros((3, 3), np.float32)
TRAINER = training.Trainer(MLP, optax.sgd(0.1))
POPULATION = training.init_population(TRAINER, Y, [0], [0.0], 3)
LAYERWISE = analysis.layerwise_from_scores(GAME[:, None], ["output"], kind="and")
TRAJ = RNG.normal(size=(4, 2, 2**N)).astype(np.float32)  # (T, M, 2**n)
TRAJECTORIES = analysis.trajectory_measures(TRAJ)
SELECT = np.ones((2, 2**N), bool)
LOSS = np.linspace(2.0, 1.0, 5, dtype=np.float32)
LAYERWISE_PATH = str(analysis.save_layerwise(LAYERWISE, Path(_FOLDER) / "layerwise"))
TREE_PATH = str(io.save_tree(Path(_FOLDER) / "tree.npz", {"w": X}))
SWEEP_TOML = Path(_FOLDER) / "sweep.toml"
SWEEP_TOML.write_text('analyses = ["layerwise"]\n[layerwise]\nn = 4\n')
SWEEP = sweeps.read_sweep(SWEEP_TOML)
SWEEP_OUT = Path(_FOLDER) / "sweep_out"
sweeps.write_manifest(SWEEP, SWEEP_OUT)
MESH = distributed.global_mesh()
A_FILE = Path(_FOLDER) / "a_file"
A_FILE.write_text("x")
NOT_FOLDERS = {"none": None, "int": 3, "a_file": str(A_FILE)}
NOT_STACKS = {"none": None, "string": "mlp", "model": MLP}
NOT_RESULTS = {"none": None, "string": "abc", "dict": {"a": 1}}


def _save_checkpoint(**kwargs):
    return training.save_checkpoint(**({"path": Path(_FOLDER) / "ckpt"} | kwargs))


def _factory(input_shape, num_classes, rngs):
    return models.NnxMLP(input_shape, num_classes, depth=2, width=4, rngs=rngs)


STATE = TRAINER.init(KEY)
CKPT = str(_save_checkpoint(state=STATE, history=[]))
MSGPACK = Path(_FOLDER) / "variables.msgpack"
MSGPACK.write_bytes(flax.serialization.to_bytes(VARIABLES))
SHARDED = str(io.save_sharded(Path(_FOLDER) / "sharded", {"w": X}))
SHAPIQ_VALUES = types.SimpleNamespace(interaction_lookup={(0,): 0, (1, 2): 1},
                                      values=np.array([1.0, 2.0]))
FIGURE = plots.new_figure()[0]


def _more_entries() -> list[Entry]:
    return [
        # models
        Entry("MLP", models.MLP, {"input_shape": (4,), "num_classes": 3, "depth": 2, "width": 4},
              {"input_shape": SHAPE_4, "num_classes": bad_ints(1), "depth": bad_ints(1),
               "width": bad_ints(1), "activation": bad_choices(), "alpha": bad_numbers(),
               "batchnorm": {"string": "yes", "int": 2}}),
        Entry("VGG", models.VGG, {"input_shape": (4, 4, 1), "num_classes": 3,
                                  "features": (2, "M"), "dense": (4,)},
              {"input_shape": IMAGE_SHAPE, "num_classes": bad_ints(1),
               "features": {"none": None, "empty": (), "zero": (0,), "letter": ("X",),
                            "float": (2.5,)},
               "dense": {"none": None, "zero": (0,), "string": "4"},
               "batchnorm": {"string": "yes"}}),
        Entry("ResNet", models.ResNet, {"input_shape": (4, 4, 1), "num_classes": 3,
                                        "stage_sizes": (1,), "widths": (2,)},
              {"input_shape": IMAGE_SHAPE, "num_classes": bad_ints(1),
               "stage_sizes": {"none": None, "zero": (0,), "empty": (), "string": "1"},
               "widths": {"none": None, "zero": (0,), "length": (2, 4), "float": (2.5,)}}),
        Entry("ViT", models.ViT, {"input_shape": (4, 4, 1), "num_classes": 3, "patch_size": 2,
                                  "dim": 8, "depth": 1, "heads": 2, "mlp_dim": 8},
              {"input_shape": IMAGE_SHAPE, "num_classes": bad_ints(1),
               "patch_size": bad_ints(1, 4), "dim": bad_ints(1) | {"odd_heads": 7},
               "depth": bad_ints(1), "heads": bad_ints(1), "mlp_dim": bad_ints(1)}),
        Entry("NnxMLP", models.NnxMLP, {"input_shape": (4,), "num_classes": 3, "depth": 2,
                                        "width": 4, "rngs": nnx.Rngs(0)},
              {"input_shape": SHAPE_4, "num_classes": bad_ints(1), "depth": bad_ints(1),
               "width": bad_ints(1), "activation": bad_choices(),
               "rngs": {"none": None, "int": 3}}),
        Entry("NnxVGG", models.NnxVGG, {"input_shape": (4, 4, 1), "num_classes": 3,
                                        "features": (2, "M"), "dense": (4,),
                                        "rngs": nnx.Rngs(0)},
              {"input_shape": IMAGE_SHAPE, "num_classes": bad_ints(1),
               "features": {"none": None, "zero": (0,), "letter": ("X",)},
               "rngs": {"none": None, "int": 3}}),
        Entry("NnxResNet", models.NnxResNet, {"input_shape": (4, 4, 1), "num_classes": 3,
                                              "stage_sizes": (1,), "widths": (2,),
                                              "rngs": nnx.Rngs(0)},
              {"input_shape": IMAGE_SHAPE, "num_classes": bad_ints(1),
               "stage_sizes": {"none": None, "zero": (0,)},
               "widths": {"none": None, "length": (2, 4)}, "rngs": {"none": None}}),
        Entry("build_model", models.build_model,
              {"factory": _factory, "input_shape": (4,), "num_classes": 3},
              {"factory": {"none": None, "string": "mlp"}, "input_shape": SHAPE_4,
               "num_classes": bad_ints(1), "seed": bad_ints(0)}),
        Entry("load_model", models.load_model,
              {"factory": _factory, "input_shape": (4,), "num_classes": 3},
              {"factory": {"none": None, "int": 3, "no_colon": "jaxinter"},
               "checkpoint": {"missing": MISSING, "int": 3, "not_a_checkpoint": str(A_FILE)},
               "input_shape": SHAPE_4, "num_classes": bad_ints(1), "seed": bad_ints(0)}),
        Entry("restore_checkpoint", models.restore_checkpoint,
              {"path": MSGPACK, "target": VARIABLES},
              {"path": NOT_PATHS | {"missing": MISSING, "not_msgpack": str(A_FILE)},
               "target": {"none": None, "string": "t", "list": [X]}}),
        Entry("linen_to_nnx", models.linen_to_nnx,
              {"variables": VARIABLES, "model": models.NnxMLP((4,), 3, depth=2, width=4,
                                                             rngs=nnx.Rngs(0))},
              {"variables": _bad_variables(), "model": {"none": None, "linen": MLP}}),
        Entry("nnx_to_linen", models.nnx_to_linen,
              {"model": models.NnxMLP((4,), 3, depth=2, width=4, rngs=nnx.Rngs(0))},
              {"model": {"none": None, "linen": MLP, "string": "m"}}),
        # training
        Entry("Trainer", training.Trainer, {"model": MLP, "optimizer": optax.sgd(0.1)},
              {"model": {"none": None, "string": "mlp", "int": 3},
               "optimizer": {"none": None, "string": "adam", "fn": _apply},
               "input_shape": _without(SHAPE_4, "none")}),  # None: the model's own
        Entry("init_population", training.init_population,
              {"trainer": TRAINER, "y_train": Y, "seeds": [0], "noise_rates": [0.0],
               "num_classes": 3},
              {"trainer": {"none": None, "model": MLP},
               "y_train": _without(bad_labels(Y), "short") | {"big": Y + 3},
               "seeds": {"none": None, "empty": [], "negative": [-1], "float": [0.5],
                         "string": "0"},
               "noise_rates": {"none": None, "empty": [], "above": [1.5], "nan": [np.nan],
                               "string": "0"},
               "num_classes": bad_ints(1)}),
        Entry("population_run", training.population_run,
              {"trainer": TRAINER, "states": POPULATION.state, "x": X, "y": Y, "num_steps": 1,
               "batch_size": 4},
              {"trainer": {"none": None, "model": MLP}, "states": {"none": None, "string": "s"},
               "x": bad_arrays(X) | {"shape": X[:, :3]}, "y": bad_labels(Y),
               "num_steps": bad_ints(1), "batch_size": bad_ints(1, 12)}),
        Entry("train_population", training.train_population,
              {"pop": POPULATION, "trainer": TRAINER, "x_train": X, "steps": 1, "batch_size": 4,
               "progress_desc": None},
              {"pop": {"none": None, "string": "p"}, "trainer": {"none": None, "model": MLP},
               "x_train": bad_arrays(X) | {"shape": X[:, :3], "rows": X[:5]},
               "steps": bad_ints(0), "batch_size": bad_ints(1, 12),
               "tracker": {"string": "t", "int": 3},
               "progress_desc": {"int": 3}}),
        Entry("check_finite_loss", training.check_finite_loss,
              {"loss": LOSS, "first_step": 0},
              {"loss": _without(bad_arrays(LOSS), "nan", "inf", "empty"),
               "first_step": bad_ints(0)}),
        Entry("save_checkpoint", _save_checkpoint, {"state": STATE, "history": []},
              {"path": NOT_PATHS | {"a_file": str(A_FILE)}, "state": {"none": None, "dict": {}},
               "history": {"none": None, "string": "h", "object": [object()]},
               "config": {"string": "c", "list": [1]}}),
        Entry("checkpoint_step", training.checkpoint_step, {"path": CKPT},
              {"path": NOT_PATHS}),
        Entry("train_seeds", training.train_seeds,
              {"model": models.MLP((4,), num_classes=3, depth=1, width=4), "data": (X, Y),
               "seeds": [0, 1], "epochs": 1, "batch_size": 6, "progress": False},
              {"model": {"none": None, "string": "mlp"},
               "data": {"none": None, "one": (X,), "labels": (X, Y + 5)},
               "seeds": {"none": None, "string": "s", "negative": [-1], "repeated": [1, 1],
                         "empty": []},
               "epochs": bad_ints(1), "batch_size": bad_ints(1, 12),
               "learning_rate": bad_numbers(0, low_open=True)}, good_runs=False),
        Entry("load_checkpoint", training.load_checkpoint, {"path": CKPT, "like": STATE},
              {"path": NOT_PATHS | {"missing": MISSING, "a_file": str(A_FILE)},
               "like": {"none": None, "string": "s", "other": {"w": X}},
               "config": {"string": "c", "list": [1]}}),
    ]


def _analysis_entries() -> list[Entry]:
    cov3 = np.broadcast_to(COV, (3, 3, 3)).copy()
    mean3 = np.zeros((3, 3), np.float32)
    strength = np.abs(GAME)
    return [
        Entry("analyse_correlations", analysis.analyse_correlations,
              {"stack": MLP_STACK, "x": X, "labels": Y, "num_classes": 3, "key": KEY,
               "repeats": 1},
              {"stack": NOT_STACKS, "x": bad_arrays(X) | {"shape": X[:, :3]},
               "labels": bad_labels(Y) | {"big": Y + 3}, "num_classes": bad_ints(1),
               "key": NOT_KEYS, "repeats": bad_ints(1)}),
        Entry("cumulant_breakdown", analysis.cumulant_breakdown,
              {"activation": "relu", "alpha": 0.5, "pre": CUMULANTS, "post": CUMULANTS},
              {"activation": bad_choices(), "alpha": bad_numbers(),
               "pre": NOT_RESULTS, "post": NOT_RESULTS}),
        Entry("propagate_moments", analysis.propagate_moments,
              {"stack": MLP_STACK, "mean": np.zeros((3, 4), np.float32),
               "cov": np.broadcast_to(np.eye(4, dtype=np.float32), (3, 4, 4)).copy()},
              {"stack": NOT_STACKS, "mean": bad_arrays(np.zeros((3, 4), np.float32)) | {
                  "width": mean3},
               "cov": bad_arrays(np.broadcast_to(np.eye(4, dtype=np.float32), (3, 4, 4)).copy())
               | {"width": cov3},
               "higher": {"string": "h", "int": 3}}),
        Entry("apply_stack_from", analysis.apply_stack_from,
              {"stack": MLP_STACK, "layer": 1, "h": np.zeros((2, 4), np.float32)},
              {"stack": NOT_STACKS, "layer": bad_ints(0, 2),
               "h": bad_arrays(np.zeros((2, 4), np.float32)) | {"width": np.zeros((2, 3))}}),
        Entry("stack_features", analysis.stack_features, {"stack": MLP_STACK, "x": X},
              {"stack": NOT_STACKS, "x": bad_arrays(X) | {"shape": X[:, :3]}}),
        Entry("stack_cumulants", analysis.stack_cumulants,
              {"stack": MLP_STACK, "x": X, "labels": Y, "num_classes": 3},
              {"stack": NOT_STACKS, "x": bad_arrays(X) | {"shape": X[:, :3]},
               "labels": bad_labels(Y) | {"big": Y + 3}, "num_classes": bad_ints(1)}),
        Entry("gaussian_surrogate_accuracy", analysis.gaussian_surrogate_accuracy,
              {"stack": MLP_STACK, "x": X, "labels": Y, "num_classes": 3, "key": KEY,
               "repeats": 1},
              {"stack": NOT_STACKS, "x": bad_arrays(X), "labels": bad_labels(Y),
               "num_classes": bad_ints(1), "key": NOT_KEYS, "repeats": bad_ints(1)}),
        Entry("gaussian_surrogate_data", analysis.gaussian_surrogate_data,
              {"key": KEY, "x": X, "labels": Y, "num_classes": 3},
              {"key": NOT_KEYS, "x": bad_arrays(X), "labels": bad_labels(Y),
               "num_classes": bad_ints(1)}),
        Entry("class_gaussian_samples", analysis.class_gaussian_samples,
              {"key": KEY, "cumulants": CUMULANTS, "labels": Y},
              {"key": NOT_KEYS, "cumulants": NOT_RESULTS,
               "labels": _without(bad_labels(Y), "short") | {"big": Y + 3}}),
        Entry("gaussian_samples", analysis.gaussian_samples,
              {"key": KEY, "mean": MEAN, "cov": COV, "n": 4},
              {"key": NOT_KEYS, "mean": bad_arrays(MEAN), "cov": bad_arrays(COV)
               | {"mismatch": np.eye(2)}, "n": bad_ints(1)}),
        Entry("gaussian_factor", analysis.gaussian_factor, {"cov": COV},
              {"cov": bad_arrays(COV) | {"not_square": COV[:2]}}),
        Entry("erf_gaussian_moments", analysis.erf_gaussian_moments, {"mean": MEAN, "cov": COV},
              {"mean": bad_arrays(MEAN), "cov": bad_arrays(COV) | {"mismatch": np.eye(2)}}),
        Entry("quadratic_moments", analysis.quadratic_moments,
              {"mean": MEAN, "cov": COV, "k3": K34, "k4": K34},
              {"mean": bad_arrays(MEAN), "cov": bad_arrays(COV), "k3": bad_arrays(K34),
               "k4": bad_arrays(K34) | {"shape": K34[:2]}, "alpha": bad_numbers()}),
        Entry("mixture_cumulants", analysis.mixture_cumulants,
              {"weights": np.array([0.5, 0.5], np.float32), "means": np.zeros((2, 3), np.float32),
               "covs": np.broadcast_to(COV, (2, 3, 3)).copy()},
              {"weights": bad_arrays(np.array([0.5, 0.5], np.float32))
               | {"sum": np.array([0.5, 0.2], np.float32), "negative": np.array([1.5, -0.5])},
               "means": bad_arrays(np.zeros((2, 3), np.float32)),
               "covs": bad_arrays(np.broadcast_to(COV, (2, 3, 3)).copy())}),
        Entry("layer_mixture_cumulants", analysis.layer_mixture_cumulants,
              {"weights": np.full((2, 2), 0.5, np.float32), "means": np.zeros((2, 2, 3),
                                                                               np.float32),
               "covs": np.broadcast_to(COV, (2, 2, 3, 3)).copy(),
               "kernel": np.ones((3, 2), np.float32), "bias": np.zeros(2, np.float32)},
              {"weights": bad_arrays(np.full((2, 2), 0.5, np.float32)),
               "means": bad_arrays(np.zeros((2, 2, 3), np.float32)),
               "covs": bad_arrays(np.broadcast_to(COV, (2, 2, 3, 3)).copy()),
               "kernel": bad_arrays(np.ones((3, 2), np.float32)) | {"rows": np.ones((2, 2))},
               "bias": bad_arrays(np.zeros(2, np.float32)) | {"length": np.zeros(3)}}),
        Entry("mean_cov_separation", analysis.mean_cov_separation, {"cumulants": CUMULANTS},
              {"cumulants": NOT_RESULTS}),
        Entry("stack_mean_cov_separation", analysis.stack_mean_cov_separation,
              {"measured": STACK_CUMULANTS}, {"measured": NOT_RESULTS}),
        Entry("local_closure_errors", analysis.local_closure_errors,
              {"stack": MLP_STACK, "measured": STACK_CUMULANTS},
              {"stack": NOT_STACKS, "measured": NOT_RESULTS}),
        Entry("stack_breakdowns", analysis.stack_breakdowns,
              {"stack": MLP_STACK, "measured": STACK_CUMULANTS},
              {"stack": NOT_STACKS, "measured": NOT_RESULTS}),
        Entry("moment_prediction_errors", analysis.moment_prediction_errors,
              {"pred": STACK_MOMENTS, "measured": STACK_CUMULANTS},
              {"pred": NOT_RESULTS, "measured": NOT_RESULTS}),
        Entry("relative_moment_error", analysis.relative_moment_error,
              {"pred": mean3, "true": mean3 + 1},
              {"pred": bad_arrays(mean3) | {"shape": mean3[:2]}, "true": bad_arrays(mean3)}),
        Entry("dense_stack_from_mlp", analysis.dense_stack_from_mlp,
              {"model": MLP, "variables": VARIABLES},
              {"model": {"none": None, "string": "mlp", "vgg": models.VGG((4, 4, 1))},
               "variables": _bad_variables()}),
        Entry("xor_closure_check", analysis.xor_closure_check,
              {"kernel": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32),
               "alpha": 0.5, "noise": 0.1, "n_mc": 10},
              {"kernel": bad_arrays(np.ones((2, 3), np.float32)) | {"rows": np.ones((3, 3))},
               "bias": bad_arrays(np.zeros(3, np.float32)) | {"length": np.zeros(2)},
               "alpha": bad_numbers(), "noise": bad_numbers(0), "n_mc": bad_ints(2),
               "seed": bad_ints(0)}),
        Entry("xor_mixture", analysis.xor_mixture, {"noise": 0.1},
              {"noise": bad_numbers(0)}),
        # separation
        Entry("law_of_separation", analysis.law_of_separation,
              {"features": {"input": X, "hidden": X * 2, "last": X * 3}, "labels": Y},
              {"features": {"none": None, "string": "ab", "list": [X],
                            "nan": {"a": X * np.nan, "b": X}},
               "labels": bad_labels(Y), "num_classes": bad_ints(1, optional=True)}),
        Entry("collect_features", analysis.collect_features, {"captured": CAPTURED, "x": X},
              {"captured": {"none": None, "string": "f"},
               "x": _without(bad_arrays(X), "bool") | {"shape": X[:, :3]},
               "batch_size": bad_ints(1)}),
        # generalization, dynamics, per-order measures
        Entry("correctly_classified", analysis.correctly_classified,
              {"apply_fn": _apply, "x": X, "y": Y},
              {"apply_fn": {"none": None, "string": "f"}, "x": bad_arrays(X),
               "y": bad_labels(Y), "batch": bad_ints(1)}),
        Entry("cross_model_shared_ratios", analysis.cross_model_shared_ratios,
              {"i_and": GAME[None].repeat(2, 0), "i_or": GAME[None].repeat(2, 0)},
              {"i_and": bad_games(GAME[None].repeat(2, 0)) | {"one_model": GAME[None]},
               "i_or": bad_games(GAME[None].repeat(2, 0)), "k": bad_ints(1),
               "ratio": bad_numbers(0, 1)}),
        Entry("detours_by_model", analysis.detours_by_model, {"traj": TRAJ, "select": SELECT},
              {"traj": bad_games(TRAJ), "select": {"float": TRAJ[0], "none": None,
                                                    "shape": SELECT[:1, :4]},
               "steps": {"string": "s", "length": np.arange(3), "float": [0.5, 1, 2, 3]},
               "floor": bad_numbers(0), "min_count": bad_ints(0)}),
        Entry("trajectory_measures", analysis.trajectory_measures, {"traj": TRAJ},
              {"traj": bad_games(TRAJ) | {"one_step": TRAJ[:1]},
               "steps": {"string": "s", "length": np.arange(3)}, "floor": bad_numbers(0)}),
        Entry("measures_by_order", analysis.measures_by_order,
              {"measures": TRAJECTORIES, "select": SELECT},
              {"measures": NOT_RESULTS, "select": {"float": TRAJ[0], "none": None}}),
        Entry("require_count", analysis.require_count,
              {"summary": analysis.measures_by_order(TRAJECTORIES, SELECT), "min_count": 1},
              {"summary": NOT_RESULTS, "min_count": bad_ints(0)}),
        Entry("gap_onset", analysis.gap_onset, {"train_loss": LOSS, "test_loss": LOSS[::-1]},
              {"train_loss": bad_arrays(LOSS, values=False),
               "test_loss": bad_arrays(LOSS, values=False) | {"length": LOSS[:3]},
               "window": bad_ints(1) | {"even": 2}, "rise": bad_numbers(0)}),
        Entry("order_dynamics", analysis.order_dynamics,
              {"strength": STRENGTH, "train_loss": LOSS, "test_loss": LOSS[::-1]},
              {"strength": bad_arrays(STRENGTH, values=False),
               "train_loss": bad_arrays(LOSS, values=False) | {"length": LOSS[:3]},
               "test_loss": bad_arrays(LOSS, values=False), "window": bad_ints(1),
               "min_change": bad_numbers(0), "rise": bad_numbers(0)}),
        Entry("normalized_spectrum", analysis.normalized_spectrum, {"strength": STRENGTH},
              {"strength": bad_arrays(STRENGTH)}),
        Entry("order_sums", analysis.order_sums, {"x": GAME},  # sums masks and counts too
              {"x": _without(bad_games(GAME), "int", "bool", "nan", "inf", "overflow")}),
        Entry("generalized_jaccard", analysis.generalized_jaccard,
              {"pos_a": strength, "neg_a": strength, "pos_b": strength, "neg_b": strength},
              {"pos_a": bad_games(strength), "neg_a": bad_games(strength)
               | {"negative": -strength}, "pos_b": bad_games(strength),
               "neg_b": bad_games(strength)}),
        Entry("sign_split", analysis.sign_split,
              {"interactions": GAME[:, None].repeat(3, 1)[:, 0], "labels": Y[:2],
               "num_classes": 3},
              {"interactions": bad_games(GAME), "labels": _without(bad_labels(Y[:2]), "none"),
               "num_classes": bad_ints(1, optional=True), "reduce": bad_choices()}),
        Entry("train_test_similarity", analysis.train_test_similarity,
              {"i_train": GAME, "i_test": GAME, "labels_train": Y[:2], "labels_test": Y[:2],
               "num_classes": 2},
              {"i_train": bad_games(GAME), "i_test": bad_games(GAME),
               "labels_train": bad_labels(Y[:2]), "labels_test": bad_labels(Y[:2]),
               "num_classes": bad_ints(1)}),
        Entry("shared_effect", analysis.shared_effect, {"i_l": GAME, "i_ref": GAME},
              {"i_l": bad_games(GAME), "i_ref": bad_games(GAME) | {"shape": GAME[:, :4]}}),
        Entry("shared_ratio", analysis.shared_ratio, {"mask_a": MASK, "mask_b": MASK},
              {"mask_a": {"float": GAME, "none": None, "string": "a"},
               "mask_b": {"float": GAME, "shape": MASK[:, :4]}}),
        Entry("shared_ratio_top_k", analysis.shared_ratio_top_k,
              {"strength_a": strength[0], "strength_b": strength[1], "k": 1},
              {"strength_a": bad_games(strength[0]), "strength_b": bad_games(strength[1]),
               "k": bad_ints(1)}),
        Entry("safe_ratio", analysis.safe_ratio, {"num": STRENGTH, "den": STRENGTH},
              {"num": _without(bad_arrays(STRENGTH, shape=False, values=False), "bool"),
               "den": _without(bad_arrays(STRENGTH, shape=False, values=False), "bool")
               | {"shape": STRENGTH[:, :2]}}),  # counts (ints, booleans) divide too
        Entry("sensitivity_by_order", analysis.sensitivity_by_order,
              {"clean": GAME, "perturbed": GAME[None], "salient": MASK},
              {"clean": bad_games(GAME), "perturbed": bad_games(GAME[None]),
               "salient": {"float": GAME, "none": None, "shape": MASK[:, :4]}}),
        Entry("gradient_sign_perturbation", analysis.gradient_sign_perturbation,
              {"apply_fn": _apply, "x": X, "labels": Y, "epsilon": 0.1},
              {"apply_fn": {"none": None, "string": "f"}, "x": bad_arrays(X),
               "labels": bad_labels(Y) | {"big": Y + 3}, "epsilon": bad_numbers(0)}),
        Entry("perturbation_sensitivity", analysis.perturbation_sensitivity,
              {"apply_fn": _logits_of_x, "x": X[:2], "target": Y[:2], "players": PLAYERS,
               "baseline": np.zeros(4, np.float32), "key": KEY, "num_noise": 1},
              {"apply_fn": {"none": None, "string": "f"}, "x": bad_arrays(X[:2]),
               "target": bad_labels(Y[:2]), "players": {"none": None, "list": [0, 1]},
               "baseline": bad_arrays(np.zeros(4, np.float32)), "key": NOT_KEYS,
               "sigma": bad_numbers(0), "epsilon": bad_numbers(0), "num_noise": bad_ints(1),
               "method": bad_choices(), "andor_options": {"string": "abc"},
               "ratio": bad_numbers(0, 1), "chunk_size": bad_ints(1)}),
        # layerwise results
        Entry("layerwise_iou", analysis.layerwise_iou, {"a": LAYERWISE, "b": LAYERWISE},
              {"a": NOT_RESULTS, "b": NOT_RESULTS, "layer": {"unknown": "nope", "int": 3}}),
        Entry("merge_layerwise", analysis.merge_layerwise, {"results": [LAYERWISE, LAYERWISE]},
              {"results": {"none": None, "empty": [], "string": "ab", "items": [1, 2]},
               "axis": bad_choices()}),
        Entry("save_layerwise", analysis.save_layerwise,
              {"result": LAYERWISE, "path": str(Path(_FOLDER) / "saved")},
              {"result": NOT_RESULTS, "path": NOT_PATHS | {"below_a_file": str(A_FILE / "x")}}),
        Entry("load_layerwise", analysis.load_layerwise, {"path": LAYERWISE_PATH},
              {"path": NOT_PATHS | {"missing": MISSING, "not_npz": str(A_FILE)}}),
        Entry("Tracker", analysis.Tracker, {"every": 1},
              {"every": bad_ints(1), "folder": {"int": 3, "a_file": str(A_FILE)},
               "stamp": {"string": "s", "list": [1]}}),
    ]


def _logits_of_x(x):
    return MLP.apply(VARIABLES, x)


def _progress(**kwargs):
    return list(io.progress(**kwargs))


def _sub(name: str) -> str:
    """A fresh path under the table's folder."""
    return str(Path(tempfile.mkdtemp(dir=_FOLDER)) / name)


def _any_data(good: np.ndarray) -> dict:
    """Bad variants of data that is only moved (any numeric dtype, any size is fine)."""
    return _without(bad_arrays(good, values=False), "complex", "bool", "empty")


def _shape_only(family: dict) -> dict:
    """A family without the value variants (NaN, inf, overflow)."""
    return _without(family, "nan", "inf", "overflow")


def _infrastructure_entries() -> list[Entry]:
    stream = {"string": "stderr", "int": 3}
    return [
        # io
        Entry("save_tree", io.save_tree, {"path": Path(_FOLDER) / "t.npz", "tree": {"w": X}},
              {"path": NOT_PATHS | {"below_a_file": str(A_FILE / "t.npz")},
               "tree": NOT_TREES | {"empty": {}}}),
        Entry("load_tree", io.load_tree, {"path": TREE_PATH, "like": {"w": X}},
              {"path": NOT_PATHS | {"missing": MISSING, "not_npz": str(A_FILE)},
               "like": {"none": None, "other": {"v": X}}}),  # like: the structure only
        Entry("save_json", io.save_json, {"path": Path(_FOLDER) / "a.json", "obj": {"a": 1}},
              {"path": NOT_PATHS | {"below_a_file": str(A_FILE / "a.json")},
               "obj": {"object": {"a": object()}, "set": {1, 2}}}),
        Entry("write_atomic", io.write_atomic, {"path": Path(_FOLDER) / "w.txt", "data": "x"},
              {"path": NOT_PATHS | {"below_a_file": str(A_FILE / "w.txt")},
               "data": {"none": None, "int": 3, "list": [1]}}),
        Entry("tree_to_arrays", io.tree_to_arrays, {"tree": {"w": X}}, {"tree": NOT_TREES}),
        Entry("tree_from_arrays", io.tree_from_arrays,
              {"arrays": io.tree_to_arrays({"w": X}), "like": {"w": X}},
              {"arrays": {"none": None, "string": "a", "missing": {}},
               "like": {"none": None, "other": {"v": X}}}),
        Entry("to_jsonable", io.to_jsonable, {"value": {"a": X}},  # any value: what JSON
              {}),  # cannot hold passes through, and save_json reports it (its "obj" rows)
        Entry("labeled_array", io.labeled_array, {"obj": io.labeled(GAME, ["a", "b"])},
              {"obj": {"none": None, "string": "a", "no_axes": {"values": [1]},
                       "mismatch": {"axes": ["a"], "coords": {}, "values": [[1]]}}}),
        Entry("labeled_frame_rows", io.labeled_frame_rows,
              {"obj": io.labeled(GAME, ["a", "b"])},
              {"obj": {"none": None, "string": "a", "no_axes": {"values": [1]}}}),
        Entry("labeled_items", lambda **kw: list(io.labeled_items(**kw)),
              {"tree": {"x": io.labeled(GAME, ["a", "b"])}},
              {"tree": {"none": None, "string": "a", "list": [1]},
               "prefix": {"none": None, "int": 3}}),
        Entry("is_labeled", io.is_labeled, {"obj": {"a": 1}}, {}),  # any JSON value is valid
        Entry("file_fingerprint", io.file_fingerprint, {"path": TREE_PATH},
              {"path": NOT_PATHS | {"missing": MISSING}}),
        Entry("StageCache", io.StageCache, {"folder": Path(_FOLDER) / "cache"},
              {"folder": NOT_FOLDERS, "config": {"string": "c", "list": [1],
                                                 "object": {"a": object()}},
               "label": {"int": 3}}),
        Entry("write_report", io.write_report,
              {"out_dir": Path(_FOLDER) / "report", "title": "t", "sections": [io.Section("h")],
               "summary": {"a": 1}},
              {"out_dir": NOT_FOLDERS, "title": {"none": None, "int": 3},
               "sections": {"none": None, "string": "s", "items": [1]},
               "summary": {"none": None, "string": "s", "object": {"a": object()}},
               "intro": {"none": None, "int": 3}}),
        Entry("Progress", io.Progress, {"desc": "d", "total": 3},
              {"desc": {"none": None, "int": 3}, "total": bad_ints(0, optional=True),
               "unit": {"none": None, "int": 3}, "initial": bad_ints(0), "stream": stream}),
        Entry("progress", _progress, {"items": [1, 2], "desc": "d"},
              {"items": {"none": None, "int": 3}, "desc": {"none": None, "int": 3},
               "total": bad_ints(0, optional=True), "stream": stream}),
        Entry("log", io.log, {"message": "m"},
              {"message": {"none": None, "int": 3}, "stream": stream}),
        Entry("sharded_meta", io.sharded_meta, {"path": SHARDED},
              {"path": NOT_PATHS | {"missing": MISSING, "a_file": str(A_FILE)}}),
        Entry("save_sharded", io.save_sharded, {"path": _sub("ckpt"), "tree": {"w": X}},
              {"path": NOT_PATHS | {"below_a_file": str(A_FILE / "c")},
               "tree": NOT_TREES | {"empty": {}}}),
        Entry("restore_sharded", io.restore_sharded,
              {"path": SHARDED, "like": {"w": X}},
              {"path": NOT_PATHS | {"missing": MISSING, "a_file": str(A_FILE)},
               "like": {"none": None, "other": {"v": X}},
               "mesh": NOT_MESHES, "axis": {"unknown": "nope", "int": 3}}),
        # distributed
        Entry("initialize", distributed.initialize, {},
              {"coordinator_address": {"int": 3, "no_port": "host", "bad_port": "host:x"},
               "num_processes": bad_ints(1, optional=True),
               "process_id": bad_ints(0, optional=True), "auto": {"string": "yes", "int": 1}}),
        Entry("global_mesh", distributed.global_mesh, {},
              {"axis": {"none": None, "int": 3, "empty": ""},
               "devices": {"string": "cpu", "empty": [], "ints": [1, 2]}}),
        Entry("split_axis", distributed.split_axis, {"mesh": MESH},
              {"mesh": NOT_MESHES | {"none": None}, "axis": {"unknown": "nope", "int": 3}}),
        Entry("using_mesh", lambda **kw: distributed.using_mesh(**kw).__enter__(),
              {"mesh": None}, {"mesh": NOT_MESHES, "axis": {"unknown": "nope", "int": 3}}),
        Entry("shard_rows", distributed.shard_rows, {"x": X, "mesh": MESH},
              {"x": _any_data(X), "mesh": NOT_MESHES | {"none": None},
               "axis": {"unknown": "nope", "int": 3}, "dim": bad_ints(-2, 1)}),
        Entry("to_global", distributed.to_global, {"local": X, "mesh": MESH},
              {"local": _any_data(X), "mesh": NOT_MESHES | {"none": None},
               "axis": {"unknown": "nope", "int": 3}}),
        Entry("to_local", distributed.to_local, {"x": jax.numpy.asarray(X)},
              {"x": bad_arrays(X, values=False)}),
        Entry("gather", distributed.gather, {"x": X}, {"x": {"none": None, "string": "a",
                                                              "object": _object_array((2,))}}),
        Entry("replicate", distributed.replicate, {"tree": {"w": X}, "mesh": MESH},
              {"tree": _without(NOT_TREES, "none"),  # None: an empty tree
               "mesh": NOT_MESHES | {"none": None}}),
        Entry("pad_to_multiple", distributed.pad_to_multiple, {"x": X, "multiple": 5},
              {"x": _any_data(X), "multiple": bad_ints(1),
               "axis": bad_ints(-2, 1)}),
        Entry("compiled_peak_bytes", distributed.compiled_peak_bytes,
              {"compiled": jax.jit(jax.numpy.sin).lower(X).compile()},
              {"compiled": {"none": None, "string": "c", "fn": jax.jit(jax.numpy.sin)}}),
        # interactions: more subset helpers and solvers
        Entry("from_msb", interactions.from_msb, {"values": GAME},
              {"values": bad_orderings(GAME)}),
        Entry("complement", interactions.complement, {"indices": np.arange(8), "n": N},
              {"indices": {"none": None, "float": np.ones(2) / 2, "negative": np.array([-1]),
                           "big": np.array([8]), "string": "a"}, "n": bad_ints(1, 30)}),
        Entry("complement_values", interactions.complement_values, {"values": GAME},
              {"values": bad_orderings(GAME)}),
        Entry("masks_of", interactions.masks_of, {"indices": np.arange(8), "n": N},
              {"indices": {"none": None, "float": np.ones(2) / 2, "negative": np.array([-1]),
                           "big": np.array([8])}, "n": bad_ints(1, 30),
               "dtype": {"string": "nope", "object": object()}}),
        Entry("subset_indices", interactions.subset_indices, {"n": N},
              {"n": bad_ints(1, 30), "start": bad_ints(0, 7),
               "size": bad_ints(1, 8, optional=True)}),
        Entry("orders_np", interactions.orders_np, {"n": N}, {"n": bad_ints(1, 30)}),
        # the solvers call these on their own iterates: shapes and dtypes are checked, values not
        Entry("fold", interactions.fold, {"i_and": I_AND, "i_or": I_OR},
              {"i_and": _shape_only(bad_games(I_AND)),
               "i_or": _shape_only(bad_games(I_OR)) | {"shape": GAME[:, :4]}}),
        Entry("joint_objective", interactions.joint_objective,
              {"i_and": I_AND, "i_or": I_OR, "alpha": 0.1},
              {"i_and": _shape_only(bad_games(I_AND)), "i_or": _shape_only(bad_games(I_OR)),
               "alpha": bad_numbers(0)}),
        Entry("l1_objective", interactions.l1_objective,
              {"v": GAME, "q": np.zeros_like(GAME), "g": np.zeros_like(GAME), "n": N},
              {"v": _shape_only(bad_games(GAME)), "q": _shape_only(bad_games(GAME)),
               "g": _shape_only(bad_games(GAME)), "n": bad_ints(1, 30) | {"other": 2}}),
        Entry("solve_lp", interactions.solve_lp, {"v": GAME[0].astype(np.float64),
                                                  "kappa": 0.0},
              {"v": bad_games(GAME[0]) | {"batch": GAME}, "kappa": bad_numbers(0),
               "method": bad_choices()}),
        Entry("from_shapiq_values", interactions.from_shapiq_values,
              {"interaction_values": SHAPIQ_VALUES, "n": N},
              {"interaction_values": {"none": None, "array": GAME, "string": "v"},
               "n": bad_ints(1, 30)}),
        # masking
        Entry("get_score", masking.get_score, {"score": "logit"},
              {"score": bad_choices()}),
        Entry("feature_sizes", masking.feature_sizes, {"captured": CAPTURED},
              {"captured": {"none": None, "string": "f", "fn": _apply}}),
        Entry("layer_names", masking.layer_names, {"model": MLP, "variables": VARIABLES},
              {"model": {"none": None, "string": "mlp"}, "variables": _bad_variables()}),
        Entry("score_layer_names", masking.score_layer_names,
              {"captured_fn": CAPTURED, "readouts": READOUTS, "input_shape": (4,)},
              {"captured_fn": {"none": None, "string": "f"},
               "readouts": {"string": "abc", "int": 3, "unknown": {"nope": _apply}},
               "input_shape": SHAPE_4, "include_output": {"string": "yes", "none": None}}),
        Entry("patch_scores", masking.patch_scores, {"x": IMAGES, "patch_size": 2},
              {"x": bad_arrays(IMAGES) | {"flat": X},
               "patch_size": _without(bad_ints(1, 4), "array"),  # an array: (ph, pw)
               "baseline": _without(bad_arrays(IMAGES[0], values=False), "none")  # None: 0
               | {"shape": np.zeros(3)},
               "rule": bad_choices()}),
        Entry("flatten_features", masking.flatten_features, {"f": IMAGES},
              {"f": _without(bad_arrays(IMAGES, values=False), "bool"),
               "pool": bad_ints(1)}),
        Entry("pool_factor", masking.pool_factor, {"shape": (2, 4, 4, 1), "max_dim": 4},
              {"shape": {"none": None, "string": "4", "short": (2,), "negative": (2, -1)},
               "max_dim": bad_ints(1)}),
        Entry("to_dataframe", io.to_dataframe, {"result": ji.order_summary(I_AND, I_OR)},
              {"result": NOT_RESULTS, "fields": {"unknown": ["nope"], "string_int": 3},
               "batch_axes": {"int": 3, "too_many": ["a", "b", "c", "d"]}}),
        # plots
        Entry("new_figure", plots.new_figure, {},
              {"ncols": bad_ints(1, 50), "nrows": bad_ints(1, 50),
               "width": bad_numbers(0, 50, low_open=True),
               "height": bad_numbers(0, 50, low_open=True)}),
        Entry("save", plots.save, {"fig": FIGURE, "path": Path(_FOLDER) / "f.png"},
              {"fig": {"none": None, "string": "f"},
               "path": NOT_PATHS | {"below_a_file": str(A_FILE / "f.png")}}),
    ]


# a sweep whose one configuration is done (its summary exists): running it does no work
DONE_OUT = Path(_FOLDER) / "done_sweep"
sweeps.write_manifest(SWEEP, DONE_OUT)
sweeps.configuration_folder(DONE_OUT, SWEEP.configurations[0]).mkdir(parents=True)
(sweeps.configuration_folder(DONE_OUT, SWEEP.configurations[0]) / "summary.json").write_text("{}")
NOT_CONFIGURATIONS = {"none": None, "string": "c", "config": studies.LayerwiseConfig()}
NOT_SWEEPS = {"none": None, "string": "s", "dict": {"analyses": ["layerwise"]}}
NOT_CONFIGURATION_LISTS = {"none": None, "string": "c", "items": [1]}
DATA_OPTIONS = {"dataset": bad_choices(), "data_path": {"int": 3, "empty": ""},
                "label_column": {"empty": "", "none": None, "int": 3},
                "model_factory": {"int": 3, "no_colon": "jaxinter"},
                "checkpoint": {"int": 3}}


def _study_entries() -> list[Entry]:
    runners = [("run_layerwise", studies.run_layerwise), ("run_dynamics", studies.run_dynamics),
               ("run_separation", studies.run_separation),
               ("run_correlations", studies.run_correlations)]
    other = studies.SelfCheckConfig()
    return [
        Entry("LayerwiseConfig.all", studies.LayerwiseConfig, {}, DATA_OPTIONS | {
            "train_size": bad_ints(1, optional=True), "layers": {"ints": [1], "empty": []},
            "depth": bad_ints(1), "width": bad_ints(1), "batch_size": bad_ints(1),
            "probe_steps": bad_ints(1), "patch_size": bad_ints(1, optional=True),
            "extraction": bad_choices(), "also_extraction": bad_choices() | {"none": "x"},
            "noise_draws": bad_ints(0) | {"one": 1}, "examples": bad_ints(0)}),
        Entry("DynamicsConfig.all", studies.DynamicsConfig, {}, DATA_OPTIONS | {
            "players": bad_ints(1, 20), "noise": {"none": None, "empty": (), "above": (1.5,),
                                                  "nan": (np.nan,), "string": "0.1"},
            "seeds": bad_ints(1), "steps": bad_ints(1), "every": bad_ints(1),
            "batch_size": bad_ints(1), "lr": bad_numbers(0, low_open=True),
            "width": bad_ints(1), "depth": bad_ints(1), "probe": bad_ints(1),
            "method": bad_choices(), "andor_steps": bad_ints(1),
            "train_limit": bad_ints(1, optional=True)}),
        Entry("SeparationConfig.all", studies.SeparationConfig, {}, DATA_OPTIONS | {
            "layers": {"ints": [1], "empty": []},  # a string: a pattern
            "size": bad_ints(1, optional=True), "per_class": bad_ints(1, optional=True),
            "epochs": bad_ints(1), "batch_size": bad_ints(1),
            "weight_decay": bad_numbers(0), "track_every": bad_ints(1),
            "controls": {"string": "yes", "int": 1}}),
        Entry("CorrelationsConfig.all", studies.CorrelationsConfig, {}, DATA_OPTIONS | {
            "activations": {"none": None, "empty": (), "unknown": ("nope",), "string": "relu"},
            "depth": bad_ints(1), "width": bad_ints(1), "alpha": bad_numbers(),
            "epochs": bad_ints(1), "repeats": bad_ints(1), "xor": {"string": "yes", "int": 1},
            "xor_epochs": bad_ints(1), "xor_samples": bad_ints(1)}),
        Entry("SelfCheckConfig", studies.SelfCheckConfig, {"n": 3}, {"n": bad_ints(1, 24)}),
        Entry("run_selfcheck", studies.run_selfcheck, {"config": studies.SelfCheckConfig(3)},
              {"config": {"none": None, "dict": {"n": 3}, "other": studies.LayerwiseConfig()}}),
        Entry("population_options", studies.population_options,
              {"config": studies.LayerwiseConfig()},
              {"config": {"none": None, "dict": {"n": 3}, "other": studies.SelfCheckConfig(3)}}),
        Entry("train_layerwise_population", studies.train_layerwise_population,
              {"configs": [studies.LayerwiseConfig()], "folders": [_sub("lp")]},
              {"configs": {"none": None, "string": "c", "items": [1], "empty": []},
               "folders": {"none": None, "int": 3, "items": [3], "fewer": []},
               "saved": {"int": 3, "a_file": str(A_FILE)}}, good_runs=False),
        *(Entry(name, run, {"config": None}, {"config": {"none": None, "dict": {"n": 3},
                                                         "other": other}}, good_runs=False)
          for name, run in runners),
        # sweeps
        Entry("read_sweep", sweeps.read_sweep, {"path": SWEEP_TOML},
              {"path": NOT_PATHS | {"missing": MISSING, "not_toml": str(A_FILE)}},
              aliases={"path": "sweep file"}),
        Entry("expand_sweep", sweeps.expand_sweep, {"spec": {"analyses": ["layerwise"]}},
              {"spec": {"none": None, "string": "s", "empty": {}, "unknown": {"analyses": [
                  "nope"]}, "bad_value": {"analyses": ["layerwise"], "layerwise": {"n": "x"}}}},
              aliases={"spec": r"sweep file|analyses|layerwise\.n"}),  # the key in the file
        Entry("estimate_cost", sweeps.estimate_cost, {"configuration": SWEEP.configurations[0]},
              {"configuration": NOT_CONFIGURATIONS}),
        Entry("assign", sweeps.assign, {"configurations": SWEEP.configurations,
                                        "process_count": 2},
              {"configurations": {"none": None, "string": "c", "items": [1]},
               "process_count": bad_ints(1)}),
        Entry("configuration_folder", sweeps.configuration_folder,
              {"out": _FOLDER, "configuration": SWEEP.configurations[0]},
              {"out": NOT_PATHS, "configuration": NOT_CONFIGURATIONS}),
        Entry("is_done", sweeps.is_done, {"out": _FOLDER, "configuration": SWEEP.configurations[0]},
              {"out": NOT_PATHS, "configuration": NOT_CONFIGURATIONS}),
        Entry("load_sweep", sweeps.load_sweep, {"out": SWEEP_OUT},
              {"out": NOT_PATHS | {"missing": MISSING, "a_file": str(A_FILE)}}),
        Entry("run_configuration", sweeps.run_configuration,
              {"configuration": SWEEP.configurations[0], "out": DONE_OUT},
              {"configuration": NOT_CONFIGURATIONS, "out": NOT_FOLDERS}, good_runs=False),
        Entry("run_sweep", sweeps.run_sweep, {"sweep": SWEEP, "out": DONE_OUT},
              {"sweep": NOT_SWEEPS, "out": NOT_FOLDERS, "process_index": bad_ints(0, 0),
               "process_count": bad_ints(1), "wait": {"string": "yes", "int": 1}}),
        Entry("write_manifest", sweeps.write_manifest, {"sweep": SWEEP, "out": _sub("m")},
              {"sweep": NOT_SWEEPS, "out": NOT_FOLDERS, "process_count": bad_ints(1)}),
        Entry("write_csv", sweeps.write_csv, {"path": Path(_FOLDER) / "r.csv",
                                              "rows": [{"a": 1}]},
              {"path": NOT_PATHS | {"below_a_file": str(A_FILE / "r.csv")},
               "rows": {"none": None, "string": "r", "items": [1]}}),
        Entry("estimate_costs", sweeps.estimate_costs, {"configurations": SWEEP.configurations},
              {"configurations": NOT_CONFIGURATION_LISTS}),
        Entry("population_groups", sweeps.population_groups,
              {"configurations": SWEEP.configurations},
              {"configurations": NOT_CONFIGURATION_LISTS}),
        Entry("population_folder", sweeps.population_folder,
              {"out": _FOLDER, "group": SWEEP.configurations},
              {"out": NOT_PATHS, "group": NOT_CONFIGURATION_LISTS | {"empty": []}}),
        Entry("train_populations", sweeps.train_populations,
              {"configurations": SWEEP.configurations, "out": DONE_OUT},
              {"configurations": NOT_CONFIGURATION_LISTS, "out": NOT_FOLDERS}, good_runs=False),
        Entry("spread_array", sweeps.spread_array,
              {"rows": [{"layer": "a", **dict.fromkeys(sweeps.STATISTICS, 1.0)}]},
              {"rows": {"none": None, "string": "r", "items": [1], "empty": []},
               "description": {"int": 3}}),
        Entry("spread_rows", sweeps.spread_rows,
              {"array": sweeps.spread_array(
                  [{"layer": "a", **dict.fromkeys(sweeps.STATISTICS, 1.0)}])},
              {"array": {"none": None, "string": "a", "dict": {"a": 1}}}),
        Entry("connect", sweeps.connect, {},
              {"coordinator": {"int": 3, "no_port": "host"},
               "num_processes": bad_ints(1, optional=True),
               "process_id": bad_ints(0, optional=True)}),
    ]


ENTRIES = (_entries() + _more_entries() + _analysis_entries() + _infrastructure_entries()
           + _study_entries())
CASES = [(entry, arg, label, value) for entry in ENTRIES for arg, family in entry.bad.items()
         for label, value in family.items()]


def test_table_size():
    assert len(ENTRIES) >= 25 and len(CASES) >= 500, (len(ENTRIES), len(CASES))


# new rows whose good call compiles a training loop, a network or a surrogate (seconds each;
# their modules' own tests run them too): marked slow to keep the table's default run short
SLOW_GOOD_CALLS = {"analyse_correlations", "NnxResNet", "NnxVGG", "perturbation_sensitivity",
                   "init_population", "layer_mixture_cumulants", "gradient_sign_perturbation",
                   "train_population", "gaussian_surrogate_accuracy", "gaussian_surrogate_data",
                   "xor_closure_check"}


@pytest.mark.parametrize("entry", [
    pytest.param(e, marks=pytest.mark.slow) if e.name in SLOW_GOOD_CALLS else e for e in ENTRIES
], ids=lambda e: e.name)
def test_good_call_runs(entry):
    if not entry.good_runs:
        pytest.skip("the good call runs a whole study")
    entry.fn(**entry.good)


def _names_argument(message: str, arg: str, alias: str | None = None) -> bool:
    head = message.split(":", 1)[0]
    name = re.escape(arg) if alias is None else f"{re.escape(arg)}|{alias}"
    return re.search(rf"(^|[^\w])({name})($|[^\w])", head) is not None


@pytest.mark.parametrize("entry,arg,label,value", CASES,
                         ids=[f"{c[0].name}-{c[1]}-{c[2]}" for c in CASES])
def test_bad_input_names_the_argument(entry, arg, label, value):
    with pytest.raises(JaxinterInputError) as err:
        entry.fn(**(entry.good | {arg: value}))
    assert _names_argument(str(err.value), arg, entry.aliases.get(arg)), str(err.value)


def test_jit_runs_the_shape_and_dtype_checks():
    with pytest.raises(JaxinterInputError, match="^u: "):
        jax.jit(ji.moebius)(np.zeros(6, np.float32))
    out = jax.jit(ji.to_shapiq)(GAME)
    np.testing.assert_array_equal(np.asarray(out), ji.to_shapiq(GAME))


# --- coverage: every public callable that takes arguments has rows ----------------------------

SUBPACKAGES = ("analysis", "data", "distributed", "interactions", "io", "masking", "models",
               "plots", "studies", "sweeps", "training")
# Public callables that take no user input. Skipped without being listed: modules, constants,
# exceptions, functions without parameters, and result types (dataclasses without a
# ``__post_init__``: containers the library fills and returns, e.g. AndOrResult, Sweep).
NO_USER_INPUT = {
    "PopulationTracker",  # a typing.Protocol: what train_population asks of a tracker
}


def _takes_user_input(obj) -> bool:
    if isinstance(obj, types.ModuleType) or not callable(obj):
        return False
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return False
    if dataclasses.is_dataclass(obj) and not hasattr(obj, "__post_init__"):
        return False
    try:
        return bool(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return True


def public_callables() -> dict[str, object]:
    """``{qualified name: object}`` of every callable in the ``__all__`` of jaxinter and of its
    subpackages that takes user input (each object once, under its first name)."""
    found, seen = {}, set()
    for module_name in ("jaxinter", *(f"jaxinter.{s}" for s in SUBPACKAGES)):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or name in NO_USER_INPUT or not _takes_user_input(obj):
                continue
            seen.add(id(obj))
            found[f"{module_name}.{name}"] = obj
    return found


def test_every_public_callable_has_rows():
    covered = {entry.name.split(".")[0] for entry in ENTRIES}
    missing = sorted(q for q in public_callables() if q.rpartition(".")[2] not in covered)
    assert not missing, f"public callables without a row in the fuzz table: {missing}"


def test_the_coverage_check_sees_a_new_public_function(monkeypatch):
    def new_function(x):
        return x

    monkeypatch.setattr(analysis, "__all__", [*analysis.__all__, "new_function"])
    monkeypatch.setattr(analysis, "new_function", new_function, raising=False)
    assert "jaxinter.analysis.new_function" in public_callables()
    assert "jaxinter.interactions.INDICES" not in public_callables()  # a constant
