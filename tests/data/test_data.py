"""Dataset loaders: shapes, dtypes, fixed splits, generated rules, label noise, errors."""

from __future__ import annotations

import gzip
import itertools

import chex
import numpy as np
import pytest

from jaxinter.data import DATASETS, add_label_noise, boolean_rule, load_dataset
from jaxinter.errors import JaxinterInputError


def _check(d, n_classes):
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.y_train.dtype == np.int32 and d.y_test.dtype == np.int32
    assert d.x_train.shape[1:] == d.input_shape == d.x_test.shape[1:]
    assert len(d.x_train) == len(d.y_train) and len(d.x_test) == len(d.y_test)
    assert d.num_classes == n_classes
    assert set(np.unique(d.y_train)) == set(range(n_classes))


def test_digits_shapes_scale_and_stratified_split():
    from sklearn.datasets import load_digits

    d = load_dataset("digits")
    _check(d, 10)
    assert d.input_shape == (8, 8, 1) and len(d.x_train) + len(d.x_test) == 1797
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    # stratified: class shares of the test split match the whole set to within one sample
    counts = np.bincount(load_digits().target)
    np.testing.assert_allclose(np.bincount(d.y_test), counts * len(d.y_test) / 1797, atol=1)
    flat = load_dataset("digits", flat=True)
    assert flat.input_shape == (64,)
    np.testing.assert_array_equal(flat.x_train, d.x_train.reshape(-1, 64))  # same fixed split
    np.testing.assert_array_equal(load_dataset("digits").y_test, d.y_test)
    # the split is a partition of the 1797 images: every image lands in exactly one side
    rows = np.concatenate([flat.x_train, flat.x_test]) * 16
    np.testing.assert_array_equal(
        np.sort(rows.view([("", rows.dtype)] * 64), axis=0),
        np.sort(load_digits().data.astype(np.float32).view([("", np.float32)] * 64), axis=0),
    )
    assert not np.array_equal(load_dataset("digits", seed=1).y_test, d.y_test)


@pytest.mark.parametrize(
    "name,n_features,n_classes",
    [
        ("wine", 13, 3),
        ("breast_cancer", 30, 2),
        ("iris", 4, 3),
    ],
)
def test_tabular_standardized(name, n_features, n_classes):
    d = load_dataset(name)
    _check(d, n_classes)
    assert d.input_shape == (n_features,)
    np.testing.assert_allclose(d.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(d.x_train.std(0), 1, atol=1e-4)


def test_mnist_from_idx(mnist_dir, tmp_path):
    d = load_dataset("mnist", mnist_dir)
    _check(d, 10)
    chex.assert_shape([d.x_train, d.x_test], [(8000, 28, 28, 1), (2000, 28, 28, 1)])
    # independent read of the raw IDX bytes
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    np.testing.assert_array_equal(d.y_train, labels[:8000])
    np.testing.assert_array_equal(d.y_test, labels[-2000:])
    np.testing.assert_allclose(d.x_test[..., 0], images[-2000:] / 255.0, atol=1e-7)
    # the same data from an .npz and from raw (un-gzipped) IDX files
    np.savez(tmp_path / "m.npz", x=images, y=labels)
    e = load_dataset("mnist", tmp_path / "m.npz", flat=True)
    np.testing.assert_array_equal(e.x_train, d.x_train.reshape(8000, -1))
    raw = tmp_path / "raw"
    raw.mkdir()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(mnist_dir / f"{stem}.gz") as f:
            (raw / stem).write_bytes(f.read())
    np.testing.assert_array_equal(load_dataset("mnist", raw).y_test, d.y_test)


def test_mnist_npz_layouts_and_bad_files(tmp_path):
    """Synthetic MNIST-like .npz files: accepted layouts give the same data, bad ones refuse."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2100, 28, 28), dtype=np.uint8)
    labels = (np.arange(2100) % 10).astype(np.uint8)
    np.savez(tmp_path / "xy.npz", x=images, y=labels)
    ref = load_dataset("mnist", tmp_path / "xy.npz")
    chex.assert_shape([ref.x_train, ref.x_test], [(100, 28, 28, 1), (2000, 28, 28, 1)])
    np.testing.assert_array_equal(ref.x_test[..., 0], images[100:] / np.float32(255))
    np.testing.assert_array_equal(ref.y_train, labels[:100])
    layouts = {  # explicit train/test arrays: flat, channel axis, or floats in [0, 1]
        "flat": images.reshape(-1, 784),
        "channel": images[..., None],
        "float": images.astype(np.float32) / 255,
    }
    for name, x in layouts.items():
        np.savez(
            tmp_path / f"{name}.npz",
            x_train=x[:100],
            y_train=labels[:100],
            x_test=x[100:],
            y_test=labels[100:],
        )
        d = load_dataset("mnist", tmp_path / f"{name}.npz", n_test=None)
        np.testing.assert_allclose(d.x_test, ref.x_test, atol=1e-7)
        np.testing.assert_array_equal(d.y_train, ref.y_train)
    bad = {
        "floats in 0..255": dict(x=images.astype(np.float32), y=labels),
        "labels 0..10": dict(x=images, y=labels + 1),
        "one label short": dict(
            x_train=images[:100], y_train=labels[:99], x_test=images[100:], y_test=labels[100:]
        ),
        "no images": dict(images=images),
    }
    for i, arrays in enumerate(bad.values()):
        np.savez(tmp_path / f"bad{i}.npz", **arrays)
        with pytest.raises(JaxinterInputError, match="path: "):
            load_dataset("mnist", tmp_path / f"bad{i}.npz")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    (tmp_path / "broken" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(JaxinterInputError, match="cannot read"):
        load_dataset("mnist", tmp_path / "broken")
    with pytest.raises(JaxinterInputError, match="n_train"):
        load_dataset("mnist", tmp_path / "xy.npz", n_train=0)


def test_mnist_downscale_and_per_class(mnist_dir):
    d = load_dataset("mnist", mnist_dir, size=(10, 10), per_class=30, seed=1)
    assert d.input_shape == (10, 10, 1) and len(d.x_test) == 2000
    np.testing.assert_array_equal(np.bincount(d.y_train), np.full(10, 30))
    full = load_dataset("mnist", mnist_dir)
    # downscaling preserves the mean intensity of each image (antialiased linear resize)
    np.testing.assert_allclose(d.x_test.mean((1, 2, 3)), full.x_test.mean((1, 2, 3)), atol=0.02)
    again = load_dataset("mnist", mnist_dir, size=(10, 10), per_class=30, seed=1)
    np.testing.assert_array_equal(again.x_train, d.x_train)


def test_xor_blobs():
    d = load_dataset("xor", n_train=400, n_test=200, std=0.2)
    _check(d, 2)
    x, y = d.x_train, d.y_train
    # with small noise every point stays in its quadrant: label = XOR of the signs
    np.testing.assert_array_equal(y, (x[:, 0] > 0) != (x[:, 1] > 0))
    for c in (0, 1):  # class means are (about) zero: the information is in the covariance
        np.testing.assert_allclose(x[y == c].mean(0), 0, atol=0.05)
    cov = [np.cov(x[y == c].T)[0, 1] for c in (0, 1)]
    assert cov[0] > 0.5 and cov[1] < -0.5


def test_boolean_rule_dataset():
    terms = ((0, 1), (2, 3, 4))
    d = load_dataset("boolean", n_features=6, terms=terms, n_train=300, n_test=100, seed=3)
    _check(d, 2)
    assert d.info["terms"] == terms and d.info["rule"] == "(x0 AND x1) OR (x2 AND x3 AND x4)"
    assert set(np.unique(d.x_train)) == {0.0, 1.0}
    expected = [int((r[0] and r[1]) or (r[2] and r[3] and r[4])) for r in d.x_train.astype(bool)]
    np.testing.assert_array_equal(d.y_train, expected)
    table = np.array(list(itertools.product([0, 1], repeat=3)))
    np.testing.assert_array_equal(
        boolean_rule(table, [(0,), (1, 2)]), table[:, 0] | (table[:, 1] & table[:, 2])
    )


def test_label_noise_fraction_and_reproducibility():
    y = np.arange(1000) % 7
    noisy = add_label_noise(y, 0.2, 7, seed=5)
    assert noisy.dtype == np.int32 and noisy.min() >= 0 and noisy.max() < 7
    assert np.count_nonzero(noisy != y) == 200  # exactly the fraction, always a different class
    np.testing.assert_array_equal(add_label_noise(y, 0.2, 7, seed=5), noisy)
    assert np.any(add_label_noise(y, 0.2, 7, seed=6) != noisy)
    np.testing.assert_array_equal(add_label_noise(y, 0.0, 7, seed=5), y)
    assert np.count_nonzero(add_label_noise(y, 1.0, 7, seed=5) == y) == 0
    # replacement classes are spread over the other classes
    flips = (noisy - y) % 7
    assert set(np.unique(flips[flips > 0])) == set(range(1, 7))


def test_errors(tmp_path):
    with pytest.raises(JaxinterInputError, match="^name: expected one of .*got 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(JaxinterInputError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nope")
    with pytest.raises(JaxinterInputError, match="path"):
        load_dataset("mnist")
    with pytest.raises(JaxinterInputError, match="t10k"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(JaxinterInputError, match="takes no path"):
        load_dataset("digits", tmp_path)
    with pytest.raises(JaxinterInputError, match="options"):
        load_dataset("iris", flat=True)
    with pytest.raises(JaxinterInputError, match="terms"):
        load_dataset("boolean", n_features=3, terms=((0, 5),))
    with pytest.raises(JaxinterInputError, match="fraction"):
        add_label_noise(np.zeros(5, int), 1.5, 3, 0)
    with pytest.raises(JaxinterInputError, match="labels"):
        add_label_noise(np.array([0, 3]), 0.5, 3, 0)
    with pytest.raises(JaxinterInputError, match="labels"):
        add_label_noise(np.array([0.0, 1.0]), 0.5, 3, 0)
    assert set(DATASETS) == {"digits", "wine", "breast_cancer", "iris", "mnist", "xor", "boolean",
                             "file"}
