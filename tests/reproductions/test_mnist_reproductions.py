"""The MNIST reproductions in full (marked slow: minutes to an hour each on 2 cores), asserting
what the README and docs state about them. They skip cleanly when the MNIST files are absent.
Run with ``pytest -m slow tests/reproductions``; the records the docs show come from the same
scripts (``python reproductions/<paper>.py <setting>``)."""

from __future__ import annotations

import correlations
import dynamics
import layerwise
import numpy as np
import pytest
import separation

pytestmark = pytest.mark.slow


def full(module, setting: str, mnist_dir, folder) -> dict:
    """The findings of a full run into ``folder`` (not recorded in reproductions/results)."""
    record = module.run(setting)(False, mnist_dir, folder)
    assert record["config"] == module.config(setting, False, mnist_dir).to_dict()
    assert record["data"]["dataset"] == "mnist"
    return record


def test_separation_law_on_mnist(mnist_dir, tmp_path):
    f = full(separation, "mnist", mnist_dir, tmp_path)["findings"]
    r = np.array(f["pearson_r"], float)
    assert np.all(r[0] <= -0.97)  # BN-ReLU: the law, though not as tight as published
    assert r[1, -1] > 0  # no batch norm, 20 layers: the law breaks
    assert np.all(r[2] > 0)  # no nonlinearity: D does not fall geometrically
    assert np.all(np.array(f["r_at_init"][0]) > 0.9)  # at initialization ln D rises with depth


def test_layerwise_mlp7_on_mnist(mnist_dir, tmp_path):
    f = full(layerwise, "mnist-mlp7", mnist_dir, tmp_path)["findings"]
    for key in ("trend_strength", "trend_iou", "trend_stability"):
        assert f[key][0] <= -0.8, key
    assert f["completeness"][0][-2] > f["completeness"][0][0] + 0.1
    assert np.sum(f["salient_per_image"]) < np.sum(f["also"]["salient_per_image"])
    assert abs(np.sum(f["salient_per_image_layer_threshold"]) / 21.8 - 1) < 0.5


def test_layerwise_cnn_on_mnist(mnist_dir, tmp_path):
    f = full(layerwise, "mnist-cnn", mnist_dir, tmp_path)["findings"]
    completeness, redundancy = np.array(f["completeness"][0]), np.array(f["redundancy"][0])
    assert np.all(np.diff(completeness[:-1]) > 0)  # AND: rises monotonically through the layers
    assert np.all(np.diff(redundancy[:-1]) < 0)  # each layer forgets less
    assert redundancy[0] > 0.5  # conv_1 encodes mostly interactions the output no longer uses


def test_dynamics_on_mnist(mnist_dir, tmp_path):
    record = full(dynamics, "mnist", mnist_dir, tmp_path)
    f = record["findings"]
    assert f["two_phase_members"] == f["members"]
    assert np.all(np.diff(f["final_high_order_share"]) > 0)


def test_correlations_on_mnist(mnist_dir, tmp_path):
    f = full(correlations, "mnist", mnist_dir, tmp_path)["findings"]
    loss = np.array(f["surrogate_loss_points"], float)
    assert np.all(loss[:, 0] > 0.5)  # the input layer loses a visible part
    assert np.all(loss[:, 1] < 0.5)  # the first hidden layer keeps the accuracy
    trained = 100 * (np.array(f["accuracy"]) - np.array(f["trained_on_surrogate_accuracy"]))
    assert np.all(trained > loss[:, 0])  # training on Gaussian inputs loses more
