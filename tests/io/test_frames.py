"""Tidy DataFrames of results: every value and label checked against the arrays they come from."""

import sys

import jax
import numpy as np
import pandas as pd
import pytest

import jaxinter as ji
from jaxinter.analysis import (
    History,
    KnowledgeChange,
    LayerSeparation,
    LayerwiseResult,
    SeparationRecord,
    class_cumulants,
    fit_law,
    knowledge_change,
    order_summary,
    salient_mask,
    separation_statistics,
)
from jaxinter.errors import JaxinterInputError
from jaxinter.io import labeled_array, to_dataframe


def _grid(frame: pd.DataFrame, column: str, shape) -> np.ndarray:
    """A value column back as an array of the frame's axes (rows come in C order)."""
    return frame[column].to_numpy().reshape(shape)


def _positions(frame, axis, shape, index):
    """The axis column as positions of the grid, checked to vary along ``index`` only."""
    values = frame[axis].to_numpy().reshape(shape)
    return np.moveaxis(values, index, -1).reshape(-1, shape[index])


def test_andor_result_one_row_per_game_and_subset():
    v = jax.random.normal(jax.random.key(0), (3, 16))
    res = ji.and_or(v)
    frame = to_dataframe(res, batch_axes=["game"])
    assert list(frame.columns[:3]) == ["game", "subset", "order"] and len(frame) == 3 * 16
    for field in ("i_and", "i_or", "q", "g"):
        np.testing.assert_array_equal(_grid(frame, field, (3, 16)), np.asarray(getattr(res, field)))
    np.testing.assert_array_equal(_grid(frame, "loss", (3, 16)),
                                  np.repeat(np.asarray(res.loss)[:, None], 16, 1))
    np.testing.assert_array_equal(frame["order"], [bin(s).count("1") for s in frame["subset"]])
    np.testing.assert_array_equal(_grid(frame, "game", (3, 16)), np.arange(3)[:, None] + 0 * res.q)
    history = to_dataframe(res, fields=["loss_history"])  # another group of axes, on request
    np.testing.assert_array_equal(_grid(history, "loss_history", res.loss_history.shape),
                                  res.loss_history)
    assert set(history.columns) == {"batch", "check", "loss_history"}


def test_order_summary_and_knowledge_change_by_type_and_order():
    v = jax.random.normal(jax.random.key(1), (4, 2, 32))
    i_and, i_or = ji.extract_interactions(v, kind="and")
    summary = order_summary(i_and, i_or)  # (4, 2 layers, 2 types, 6 orders)
    frame = to_dataframe(summary, batch_axes=("sample", "layer"))
    shape = (4, 2, 2, 6)
    assert len(frame) == np.prod(shape)
    np.testing.assert_array_equal(_grid(frame, "strength", shape), summary.strength)
    np.testing.assert_array_equal(_grid(frame, "mean_order", shape),
                                  np.broadcast_to(np.asarray(summary.mean_order)[..., None], shape))
    assert (_positions(frame, "type", shape, 2) == np.array(["AND", "OR"], object)).all()
    salient = salient_mask(i_and, i_or)[0]
    change = knowledge_change(i_and[:, 0], i_and[:, 1], salient[:, 0], salient[:, 1])
    frame = to_dataframe(change, batch_axes=["sample"])
    np.testing.assert_allclose(frame["all_l"], frame["overlap"] + frame["forget"], atol=1e-5)
    np.testing.assert_array_equal(_grid(frame, "new", (4, 6)), change.new)
    assert isinstance(change, KnowledgeChange)


def test_layerwise_result_and_aggregate_use_layer_names_and_sample_ids():
    rng = np.random.default_rng(0)
    s, n = 3, 3
    v = rng.normal(size=(s, 2, 2 ** n)).astype(np.float32)
    i_and, i_or = ji.extract_interactions(v, kind="and")
    result = LayerwiseResult(v, i_and, i_or, rng.random((s, 2, 2, n + 1)),
                             np.array([11, 5, 7]), ("hidden_1", "output"))
    frame = to_dataframe(result)
    shape = (s, 2, 2 ** n)
    assert list(frame.columns) == ["sample", "layer", "subset", "order", "v", "i_and", "i_or",
                                   "sample_ids"]
    np.testing.assert_array_equal(_grid(frame, "i_and", shape), i_and)
    assert (_positions(frame, "layer", shape, 1) == np.array(["hidden_1", "output"])).all()
    assert (_positions(frame, "sample", shape, 0) == np.array([11, 5, 7])).all()
    stability = to_dataframe(result, fields=["stability"])
    np.testing.assert_array_equal(_grid(stability, "stability", (s, 2, 2, n + 1)),
                                  result.stability)
    aggregate = result.aggregate()
    frame = to_dataframe(aggregate, fields=["change_by_order"])
    shape = (2, 2, 3, n + 1)
    np.testing.assert_array_equal(_grid(frame, "change_by_order", shape),
                                  aggregate.change_by_order)
    assert (_positions(frame, "part", shape, 2) == np.array(["overlap", "forget", "new"])).all()
    frame = to_dataframe(aggregate)  # default: every field by layer, type and order
    assert {"completeness_by_order", "completeness", "scale"} <= set(frame.columns)
    np.testing.assert_array_equal(_grid(frame, "completeness", (2, 2, n + 1)),
                                  np.repeat(np.asarray(aggregate.completeness)[..., None],
                                            n + 1, -1))


def test_separation_results_and_histories():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(60, 5)), np.repeat(np.arange(3), 20)
    sep = separation_statistics(x, y)
    frame = to_dataframe(sep)
    np.testing.assert_array_equal(frame["per_direction"], sep.per_direction)
    assert (frame["fuzziness"] == float(sep.fuzziness)).all()
    law = fit_law(np.array([8.0, 4.1, 2.0, 0.9]))
    frame = to_dataframe(law)
    np.testing.assert_array_equal(frame["layer"], [0, 1, 2, 3])
    np.testing.assert_allclose(frame["log_fuzziness"], np.log(law.fuzziness))
    assert (frame["rho"] == float(law.rho)).all()
    layers = to_dataframe(LayerSeparation({}, law, ("input", "h1", "h2", "h3")))
    assert list(layers["layer"]) == ["input", "h1", "h2", "h3"]
    np.testing.assert_array_equal(layers["fuzziness"], law.fuzziness)
    # a population's history: (T checkpoints, P members, layers)
    record = SeparationRecord(rng.random((4, 2, 3)), rng.random((4, 2, 3)), rng.random((4, 2)),
                              rng.random((4, 2)), rng.random((4, 2)), rng.random((4, 2)))
    history = History(np.array([0, 10, 20, 30]), record)
    frame = to_dataframe(history, batch_axes=["member"])
    shape = (4, 2, 3)
    assert list(frame.columns[:3]) == ["step", "member", "layer"]
    np.testing.assert_array_equal(_grid(frame, "log_fuzziness", shape), record.log_fuzziness)
    np.testing.assert_array_equal(_grid(frame, "rho", shape),
                                  np.repeat(record.rho[..., None], 3, -1))
    assert (_positions(frame, "step", shape, 0) == [0, 10, 20, 30]).all()


def test_cumulants_one_row_per_class_and_unit_pair():
    rng = np.random.default_rng(3)
    cumulants = class_cumulants(rng.normal(size=(40, 3)), np.repeat([0, 1], 20), 2)
    frame = to_dataframe(cumulants, batch_axes=["class"])
    shape = (2, 3, 3)
    np.testing.assert_array_equal(_grid(frame, "cov", shape), cumulants.cov)
    np.testing.assert_array_equal(_grid(frame, "mean", shape),
                                  np.repeat(np.asarray(cumulants.mean)[..., None], 3, -1))


def test_a_study_is_the_long_frame_of_its_summary():
    v = jax.random.normal(jax.random.key(4), (3, 2, 8))
    i_and, i_or = ji.extract_interactions(v, kind="and")
    aggregate = LayerwiseResult(v, i_and, i_or, None, np.arange(3), ("a", "b")).aggregate()

    class Study:
        def summary(self):
            return {"nested": aggregate.summary(), "plain": 3}

    frame = to_dataframe(Study())
    assert set(frame["quantity"]) == {f"nested/{k}" for k, v in aggregate.summary().items()
                                      if isinstance(v, dict)}
    one = to_dataframe(Study(), fields=["nested/completeness"])
    values, axes, coords = labeled_array(aggregate.summary()["completeness"])
    assert list(one.columns) == ["quantity", *axes, "value"]
    np.testing.assert_array_equal(one["value"].to_numpy().reshape(values.shape), values)
    assert list(one["layer"][::2]) == coords["layer"]


def test_bad_requests_are_named():
    res = ji.and_or(jax.random.normal(jax.random.key(0), (2, 8)))
    with pytest.raises(JaxinterInputError, match=r"fields: unknown fields \['nope'\]"):
        to_dataframe(res, fields=["nope"])
    with pytest.raises(JaxinterInputError, match=r"'loss_history' has axes \('batch', 'check'\)"):
        to_dataframe(res, fields=["i_and", "loss_history"])
    with pytest.raises(JaxinterInputError, match=r"batch_axes: expected 1 names"):
        to_dataframe(res, batch_axes=["a", "b"])
    with pytest.raises(JaxinterInputError, match=r"expected a jaxinter result"):
        to_dataframe(np.zeros(3))


def test_pandas_is_an_optional_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxinter\[pandas\]'"):
        to_dataframe(fit_law(np.array([2.0, 1.0])))
