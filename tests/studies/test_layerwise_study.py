"""The layerwise study end to end on a tiny tabular job: config validation, numbers recomputed
independently from the study's own arrays, and the labeled summary."""

from __future__ import annotations

import dataclasses
import json

import bruteforce as bf
import numpy as np
import pytest

import jaxinter.studies._layerwise as layerwise_module
from jaxinter.data import load_dataset
from jaxinter.errors import JaxinterInputError
from jaxinter.io import StageCache, is_labeled, labeled_array
from jaxinter.studies import (
    LayerwiseConfig,
    LayerwiseStudy,
    population_options,
    run_layerwise,
    train_layerwise_population,
)

TINY = {"dataset": "wine", "n": 3, "samples": 4, "epochs": 2, "probe_steps": 20,
        "noise_draws": 2, "depth": 3, "width": 16, "examples": 2, "also_extraction": "lp"}


@pytest.fixture(scope="module")
def study() -> LayerwiseStudy:
    return run_layerwise(LayerwiseConfig(**TINY))


# ---------------------------------------------------------------------------------------------
# the config


@pytest.mark.parametrize(
    "field, value",
    [
        ("dataset", "nope"), ("model", "transformer"), ("extraction", "sgd"),
        ("also_extraction", "sgd"), ("depth", 0), ("width", -1), ("epochs", 1.5),
        ("batch_size", True), ("probe_steps", 0), ("samples", 0), ("chunk_size", 0),
        ("train_size", 0), ("patch_size", 0), ("n", 0), ("n", 21), ("examples", -1),
        ("noise_draws", 1), ("noise_draws", -2), ("ratio", 0.0), ("ratio", 1.0),
        ("ratio", "0.05"), ("sigma", 0.0), ("sigma", float("inf")), ("sigma", float("nan")),
        ("seed", 1.5), ("data_path", "/tmp/x"), ("data_path", 3),
    ],
)
def test_config_rejects_a_bad_field_by_name(field, value):
    with pytest.raises(JaxinterInputError, match=f"^{field}: expected"):
        LayerwiseConfig(**{field: value})


def test_config_rejects_bad_combinations():
    with pytest.raises(JaxinterInputError, match="^data_path: .*mnist"):
        LayerwiseConfig(dataset="mnist")
    with pytest.raises(JaxinterInputError, match="^model: expected 'mlp' .* got 'cnn'"):
        LayerwiseConfig(dataset="iris", model="cnn")
    LayerwiseConfig(dataset="digits", model="cnn")  # images: fine


def test_config_round_trips_and_is_frozen(tmp_path):
    config = LayerwiseConfig(**TINY)
    assert LayerwiseConfig(**config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n = 4
    # a comparison with the same extraction is no comparison
    assert LayerwiseConfig(extraction="lp", also_extraction="lp").also_extraction is None
    mnist = LayerwiseConfig(dataset="mnist", data_path=tmp_path)
    assert mnist.data_path == str(tmp_path)
    with pytest.raises(JaxinterInputError, match="^config: expected LayerwiseConfig"):
        run_layerwise(config.to_dict())


# ---------------------------------------------------------------------------------------------
# the numbers, recomputed from the study's arrays


def _salient(i, ratio):
    """Salient sets from the definition: |I(S)| > ratio * max over nonempty S and both types."""
    strength = np.abs(i)
    strength[..., 0] = 0
    tau = ratio * strength.max(axis=(-2, -1), keepdims=True)
    return strength > tau


def test_samples_and_players_are_the_first_correct_ones_and_their_largest_features(study):
    ds = load_dataset("wine")
    ids = np.asarray(study.result.sample_ids)
    assert len(ids) == 4 and np.all(np.diff(ids) > 0)
    np.testing.assert_array_equal(study.inputs, ds.x_test[ids])
    np.testing.assert_array_equal(study.labels, ds.y_test[ids])
    names = ds.info["feature_names"]
    for x, players in zip(study.inputs, study.player_names, strict=True):
        largest = sorted(np.argsort(-np.abs(x))[:3])
        assert players == tuple(names[i] for i in largest)
    assert study.player_boxes is None
    assert study.layer_names == ("hidden_1", "hidden_2", "output")
    assert study.n == 3 and study.num_samples == 4
    assert study.probe_test_accuracy.shape == (2,) and study.test_accuracy.shape == (2,)
    np.testing.assert_array_equal(study.layer_test_accuracy,
                                  [*study.probe_test_accuracy, study.test_accuracy[0]])
    assert set(study.timings) == {"training", "probes", "masked evaluation", "extraction",
                                  "metrics", "total"}


@pytest.mark.parametrize("which", ["result", "output_b", "also"])
def test_interactions_reconstruct_the_scores(study, which):
    res = getattr(study, which)
    v, i_and, i_or = (np.asarray(a, np.float64) for a in (res.v, res.i_and, res.i_or))
    recon = bf.zeta(i_and) + bf.or_game(i_or) - i_or[..., :1]
    kappa = 0.04 * np.abs(v[..., -1:] - v[..., :1])
    assert np.all(np.abs(recon - v) <= kappa + 1e-4)


def test_salient_counts_and_iou_match_the_definitions(study):
    ratio = study.config.ratio
    interactions = lambda r: np.stack([np.asarray(r.i_and), np.asarray(r.i_or)], -2)  # noqa: E731
    salient = _salient(interactions(study.result), ratio)  # (S, L, 2, 2**n)
    salient_b = _salient(interactions(study.output_b), ratio)[:, -1]
    np.testing.assert_allclose(study.aggregate.salient_per_sample, salient.sum(-1).mean(0))
    assert study.salient_per_image_output == pytest.approx(salient[:, -1].sum((-2, -1)).mean())
    also = _salient(interactions(study.also), ratio)
    np.testing.assert_allclose(study.also_aggregate.salient_per_sample, also.sum(-1).mean(0))
    orders = np.array([bin(s).count("1") for s in range(8)])
    iou = np.full((4, 2, 4), np.nan)
    for s, k, m in np.ndindex(4, 2, 4):
        a, b = (set(np.flatnonzero(x[s, k] & (orders == m))) for x in (salient[:, -1], salient_b))
        if a | b:
            iou[s, k, m] = len(a & b) / len(a | b)
    support = np.isfinite(iou).sum(0)
    np.testing.assert_array_equal(study.iou.support, support)
    mean = np.where(support > 0, np.nansum(iou, 0) / np.maximum(support, 1), np.nan)
    np.testing.assert_allclose(study.iou.mean, mean, rtol=1e-6)


def test_examples_are_the_strongest_salient_interactions_of_the_output(study):
    i = np.stack([np.asarray(study.result.i_and), np.asarray(study.result.i_or)], -2)[:, -1]
    v = np.asarray(study.result.v)[:, -1]
    normalized = i / np.abs(v[:, -1] - v[:, 0]).mean()
    salient = _salient(i, study.config.ratio)
    want = []
    for s in range(2):
        candidates = [(abs(normalized[s, k, S]), s, k, S) for k in range(2)
                      for S in np.flatnonzero(salient[s, k])]
        want += sorted(candidates, key=lambda c: -c[0])[:6]
    rows = study.example_rows()
    assert len(rows) == len(want)
    for row, (_, s, k, S) in zip(rows, want, strict=True):
        players = [p for p in range(3) if S >> p & 1]
        assert row["sample"] == int(study.result.sample_ids[s])
        assert row["type"] == ("AND", "OR")[k] and row["players"] == players
        assert row["order"] == len(players)
        assert row["player_names"] == [study.player_names[s][p] for p in players]
        assert row["value"] == pytest.approx(normalized[s, k, S], rel=1e-5)


# ---------------------------------------------------------------------------------------------
# the summary


def _bare_arrays(obj, path=""):
    """Paths of lists of numbers that are not inside a labeled array."""
    if is_labeled(obj):
        return []
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _bare_arrays(v, f"{path}/{k}")]
    if isinstance(obj, list):
        if any(isinstance(v, int | float) for v in obj):
            return [path]
        return [p for i, v in enumerate(obj) for p in _bare_arrays(v, f"{path}[{i}]")]
    return []


def test_summary_is_self_describing_and_equals_the_study(study):
    summary = json.loads(json.dumps(study.summary(), allow_nan=False))
    bare = [p for p in _bare_arrays(summary) if "/examples" not in p]  # players of a row
    assert bare == []
    assert summary["config"] == study.config.to_dict()
    assert (summary["dataset"], summary["n"], summary["samples"]) == ("wine", 3, 4)

    def check(obj, axes, values, coords=None):
        got, got_axes, got_coords = labeled_array(obj)
        assert got_axes == axes
        for axis, labels in (coords or {}).items():
            assert got_coords[axis] == labels
        np.testing.assert_allclose(got, np.asarray(values, np.float64), rtol=1e-6)

    by_order = {"type": ["AND", "OR"], "order": [0, 1, 2, 3]}
    check(summary["iou_by_order_output"], ["type", "order"], study.iou.mean, by_order)
    check(summary["iou_support_by_order_output"], ["type", "order"], study.iou.support)
    check(summary["test_accuracy"], ["seed"], study.test_accuracy, {"seed": [0, 1]})
    check(summary["probe_test_accuracy"], ["layer"], study.probe_test_accuracy,
          {"layer": ["hidden_1", "hidden_2"]})
    check(summary["salient_per_image_output_and_or"], ["type"],
          study.aggregate.salient_per_sample[-1])
    check(summary["mean_abs_interaction_per_subset_by_order_output"], ["type", "order"],
          study.aggregate.strength_per_subset_by_order[-1], by_order)
    check(summary["salient_per_sample_lp"], ["layer", "type"],
          study.also_aggregate.salient_per_sample)
    check(summary["layerwise"]["change_by_order"], ["layer", "type", "part", "order"],
          study.aggregate.change_by_order,
          {"layer": list(study.layer_names), "part": ["overlap", "forget", "new"]})
    check(summary["sample_ids"], ["sample"], study.result.sample_ids)
    assert summary["salient_per_image_output"] == pytest.approx(study.salient_per_image_output)
    assert summary["examples"] == json.loads(json.dumps(study.example_rows()))
    assert set(summary["timings"]) == set(study.timings)


# ---------------------------------------------------------------------------------------------
# studies that differ only in their seeds, trained as one population

POOLED = {**TINY, "epochs": 20, "noise_draws": 0, "also_extraction": None, "examples": 0}


def test_a_population_hands_its_models_to_the_studies(tmp_path, monkeypatch):
    """Seeds 0 and 1 need the models 0, 1, 1, 2: one population of 3, each model in the cache
    of every study that uses it; the studies then train nothing, and their models equal those a
    study trains alone to float32 rounding (rtol 1e-5, atol 1e-6)."""
    configs = [LayerwiseConfig(**POOLED, seed=s) for s in (0, 1)]
    folders = [tmp_path / "s0", tmp_path / "s1"]
    assert population_options(configs[0]) == population_options(configs[1])
    assert train_layerwise_population(configs, folders, tmp_path / "pop") == (0, 1, 2)
    assert train_layerwise_population(configs, folders, tmp_path / "pop") == ()  # all cached
    alone = run_layerwise(configs[1], tmp_path / "alone")
    monkeypatch.setattr(layerwise_module, "train", _no_training)
    pooled = run_layerwise(configs[1], folders[1])
    np.testing.assert_array_equal(pooled.test_accuracy, alone.test_accuracy)
    for seed in (1, 2):
        got = StageCache(folders[1] / "cache").get(f"model_seed{seed}")
        want = StageCache(tmp_path / "alone" / "cache").get(f"model_seed{seed}")
        assert got.keys() == want.keys()
        for k in got:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_array_equal(  # one model, two studies: the same arrays
        StageCache(folders[0] / "cache").get("model_seed1")["test_accuracy"],
        StageCache(folders[1] / "cache").get("model_seed1")["test_accuracy"])
    # a study that lost its models takes them from the saved population, untrained
    (folders[0] / "cache" / "model_seed0.npz").unlink()
    monkeypatch.setattr(layerwise_module, "train_seeds", _no_training)
    assert train_layerwise_population(configs[:1], folders[:1], tmp_path / "pop") == (0,)
    assert StageCache(folders[0] / "cache").get("model_seed0") is not None


def _no_training(*args, **kwargs):
    raise AssertionError("trained again")


def test_a_population_needs_studies_equal_but_for_their_seeds(tmp_path):
    a = LayerwiseConfig(**POOLED)
    with pytest.raises(JaxinterInputError, match=r"^configs\[1\]: expected the training options"):
        train_layerwise_population([a, dataclasses.replace(a, depth=4)], [tmp_path] * 2)
    with pytest.raises(JaxinterInputError, match="^folders: expected one folder per config"):
        train_layerwise_population([a], [])
    with pytest.raises(JaxinterInputError, match="^configs: expected a non-empty list"):
        train_layerwise_population([], [])
    (tmp_path / "factories.py").write_text("def mine(rngs):\n    pass\n")
    user = dataclasses.replace(a, model_factory=f"{tmp_path / 'factories.py'}:mine")
    assert population_options(user) is None  # a user's model trains alone
