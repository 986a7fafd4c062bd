"""Dataset container, loaders and label noise (see ``jaxinter.data``)."""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import (
    MAX_CLASSES,
    JaxinterInputError,
    check_int,
    check_int_list,
    check_labels,
    check_number,
    check_real_array,
    check_seed,
)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split as numpy arrays.

    Attributes:
      x_train: ``(n_train, *input_shape)`` float32 inputs.
      y_train: ``(n_train,)`` int32 labels.
      x_test: ``(n_test, *input_shape)`` float32 inputs.
      y_test: ``(n_test,)`` int32 labels.
      input_shape: shape of one sample.
      num_classes: number of classes.
      name: the loader's name.
      info: loader-specific facts (the split used, the rule of a Boolean dataset, ...).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    num_classes: int
    name: str
    info: dict = dataclasses.field(default_factory=dict)

    def replace(self, **changes) -> Dataset:
        """A copy with some fields replaced (e.g. noisy labels)."""
        return dataclasses.replace(self, **changes)


def finish(x_tr, y_tr, x_te, y_te, num_classes, name, info=None) -> Dataset:
    """A :class:`Dataset` of float32 inputs and int32 labels (the loaders' common end)."""
    x_tr, x_te = np.asarray(x_tr, np.float32), np.asarray(x_te, np.float32)
    return Dataset(
        x_tr,
        np.asarray(y_tr, np.int32),
        x_te,
        np.asarray(y_te, np.int32),
        tuple(x_tr.shape[1:]),
        int(num_classes),
        name,
        dict(info or {}),
    )


def stratified_split(x, y, test_fraction: float, seed: int):
    """``(x_train, x_test, y_train, y_test)``: a split keeping the class shares (fixed seed)."""
    from sklearn.model_selection import train_test_split

    check_number(test_fraction, "test_fraction", 0, 1, low_open=True, high_open=True)
    check_seed(seed)
    return train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)


def _standardize(x_tr, x_te):
    mean, std = x_tr.mean(0), x_tr.std(0)
    std = np.where(std > 0, std, 1.0)
    return (x_tr - mean) / std, (x_te - mean) / std


def load_digits(*, flat: bool = False, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32) / 16.0
    x = x.reshape(len(x), -1) if flat else x[..., None]
    x_tr, x_te, y_tr, y_te = stratified_split(x, d.target, test_fraction, seed)
    return finish(x_tr, y_tr, x_te, y_te, 10, "digits", {"split": f"stratified, seed {seed}"})


def tabular_loader(name: str):
    def load(*, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
        import sklearn.datasets as skd

        d = getattr(skd, f"load_{name}")()
        x_tr, x_te, y_tr, y_te = stratified_split(
            d.data.astype(np.float64), d.target, test_fraction, seed
        )
        x_tr, x_te = _standardize(x_tr, x_te)
        info = {"feature_names": list(d.feature_names), "split": f"stratified, seed {seed}"}
        return finish(x_tr, y_tr, x_te, y_te, len(d.target_names), name, info)

    return load


# ----------------------------------------------------------------------------------- MNIST


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzipped or raw).

    Args:
      path: the file (``.gz`` is decompressed).

    Returns:
      uint8 numpy array of the shape in the file's header.

    Raises:
      JaxinterInputError: naming ``path`` when the file is unreadable or not such an IDX file.
    """
    opener = gzip.open if Path(path).suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:  # e.g. a truncated or mislabelled .gz file
        raise JaxinterInputError(f"path: cannot read {path}: {err}") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise JaxinterInputError(f"path: {path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise JaxinterInputError(f"path: {path} holds {body.size} values, header says {shape}")
    return body.reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).exists():
            return folder / name
    return None


def _mnist_arrays(path: Path):
    """(x_train, y_train, x_test, y_test, note) from a folder of IDX files or an .npz file."""
    if path.is_file() and path.suffix == ".npz":
        with np.load(path) as d:
            if {"x_train", "y_train", "x_test", "y_test"} <= set(d.files):
                return d["x_train"], d["y_train"], d["x_test"], d["y_test"], "npz train/test"
            if {"x", "y"} <= set(d.files):
                return _fixed_split(d["x"], d["y"], "npz x/y")
            raise JaxinterInputError(
                f"path: {path} needs arrays x_train, y_train, x_test, y_test (or x, y); "
                f"found {d.files}"
            )
    if not path.is_dir():
        raise JaxinterInputError(f"path: {path} is neither a folder of IDX files nor an .npz file")
    test_x, test_y = _find(path, "t10k-images-idx3-ubyte"), _find(path, "t10k-labels-idx1-ubyte")
    if test_x is None or test_y is None:
        raise JaxinterInputError(
            f"path: no t10k-images-idx3-ubyte[.gz] / t10k-labels-idx1-ubyte[.gz] in {path}"
        )
    train_x = _find(path, "train-images-idx3-ubyte")
    train_y = _find(path, "train-labels-idx1-ubyte")
    if train_x is not None and train_y is not None:
        return read_idx(train_x), read_idx(train_y), read_idx(test_x), read_idx(test_y), "IDX"
    return _fixed_split(read_idx(test_x), read_idx(test_y), "MNIST test set")


def _fixed_split(x, y, source: str, n_test: int = 2000):
    if len(x) <= n_test:
        raise JaxinterInputError(f"path: {source} has {len(x)} images, need more than {n_test}")
    note = f"{source}: first {len(x) - n_test} train, last {n_test} test"
    return x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:], note


def _mnist_split(x, y, n: int | None, split: str, path: Path):
    """First ``n`` images and labels of a split, checked: float32 (n, h, w) in [0, 1], int32.

    Images may be (n, h, w), (n, h, w, 1) or flat square (n, h*w), uint8 0..255 or float 0..1;
    labels a 1-d integer array of classes 0..9, one per image."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == 2 and round(np.sqrt(x.shape[1])) ** 2 == x.shape[1]:
        side = round(np.sqrt(x.shape[1]))
        x = x.reshape(len(x), side, side)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise JaxinterInputError(
            f"path: {split} images in {path} have shape {x.shape} for labels of shape "
            f"{y.shape}; expected (n, h, w), (n, h, w, 1) or (n, h*w) and one label per image"
        )
    x, y = x[:n], y[:n]
    if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise JaxinterInputError(
            f"path: {split} labels in {path} must be integer classes 0..9; got dtype {y.dtype}"
            + (f", values {y.min()}..{y.max()}" if y.size else "")
        )
    if np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        return x.astype(np.float32) / 255.0, y.astype(np.int32)
    if np.issubdtype(x.dtype, np.floating) and x.min() >= 0.0 and x.max() <= 1.0:
        return x.astype(np.float32), y.astype(np.int32)
    raise JaxinterInputError(
        f"path: {split} images in {path} must be integers in 0..255 or floats in [0, 1]; "
        f"got dtype {x.dtype} with values {x.min()}..{x.max()}"
    )


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    out = jax.image.resize(jnp.asarray(x), (x.shape[0], *size), "linear", antialias=True)
    return np.asarray(out)


def _per_class(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random samples of every class, sorted."""
    rng = np.random.default_rng(seed)
    idx = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise JaxinterInputError(
                f"per_class: class {c} has only {len(members)} training samples, "
                f"asked for {per_class}"
            )
        idx.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(idx))


def load_mnist(
    path=None,
    *,
    flat: bool = False,
    size: Sequence[int] | None = None,
    n_train: int | None = 8000,
    n_test: int | None = 2000,
    per_class: int | None = None,
    seed: int = 0,
) -> Dataset:
    """MNIST from ``path`` (folder of IDX files, gzipped or raw, or an .npz).

    With only the t10k files (the shared test set), the first 8000 images train and the last
    2000 test. ``n_train``/``n_test`` cap the sizes (first images kept), ``per_class`` draws
    that many training images per class, ``size=(h, w)`` downscales (antialiased bilinear).
    """
    if path is None:
        raise JaxinterInputError("path: MNIST needs a folder of IDX files or an .npz file")
    path = Path(path).expanduser()
    if not path.exists():
        raise JaxinterInputError(f"path: {path} does not exist")
    for name, value in (("n_train", n_train), ("n_test", n_test), ("per_class", per_class)):
        check_int(value, name, 1, optional=True)
    check_seed(seed)
    size = None if size is None else check_int_list(size, "size", 1)
    if size is not None and len(size) != 2:
        raise JaxinterInputError(f"size: expected (height, width), got {size}")
    x_tr, y_tr, x_te, y_te, note = _mnist_arrays(path)
    x_tr, y_tr = _mnist_split(x_tr, y_tr, n_train, "train", path)
    x_te, y_te = _mnist_split(x_te, y_te, n_test, "test", path)
    if per_class is not None:
        keep = _per_class(y_tr, per_class, seed)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if size is not None:
        x_tr, x_te = _resize(x_tr, size), _resize(x_te, size)
    x_tr = x_tr.reshape(len(x_tr), -1) if flat else x_tr[..., None]
    x_te = x_te.reshape(len(x_te), -1) if flat else x_te[..., None]
    return finish(x_tr, y_tr, x_te, y_te, 10, "mnist", {"split": note, "path": str(path)})


# ------------------------------------------------------------------------------- generated


def load_xor(*, n_train: int = 800, n_test: int = 400, std: float = 0.3, seed: int = 0) -> Dataset:
    """Four Gaussian blobs at (+-1, +-1), equal size; label = XOR of the signs of the centre.

    Both class means are 0: the class information sits in the covariance.
    """
    check_int(n_train, "n_train", 4)
    check_int(n_test, "n_test", 4)
    check_number(std, "std", 0)
    check_seed(seed)
    rng = np.random.default_rng(seed)
    centres = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], np.float64)

    def draw(n):
        blob = np.arange(n) % 4
        x = centres[blob] + std * rng.standard_normal((n, 2))
        y = (centres[blob, 0] > 0) != (centres[blob, 1] > 0)
        return x, y

    x_tr, y_tr = draw(n_train)
    x_te, y_te = draw(n_test)
    info = {"centres": centres.tolist(), "std": std, "rule": "y = sign(c0) != sign(c1)"}
    return finish(x_tr, y_tr, x_te, y_te, 2, "xor", info)


def boolean_rule(x: np.ndarray, terms: Sequence[Sequence[int]]) -> np.ndarray:
    """The label of a Boolean rule: OR over ``terms`` of the AND of the listed features.

    Args:
      x: ``(n, d)`` binary features (values above 0.5 count as 1).
      terms: feature index tuples, e.g. ``((0, 1), (2, 3, 4))`` for (x0 AND x1) OR (x2 AND x3
        AND x4).

    Returns:
      ``(n,)`` int32 labels.
    """
    shape, _ = check_real_array(x, "x")
    if len(shape) != 2 or not shape[1]:
        raise JaxinterInputError(f"x: expected shape (n, d) with d >= 1, got {shape}")
    terms = check_terms(terms, shape[1])
    x = np.asarray(x) > 0.5
    return np.any([np.all(x[:, list(t)], axis=1) for t in terms], axis=0).astype(np.int32)


def check_terms(terms, n_features: int) -> tuple[tuple[int, ...], ...]:
    """Boolean rule terms as a tuple of non-empty tuples of feature indices in
    ``0..n_features - 1``."""
    if isinstance(terms, str | bytes) or not isinstance(terms, Sequence) or not terms:
        raise JaxinterInputError(f"terms: expected a non-empty list of index tuples, got {terms!r}")
    return tuple(check_int_list(t, f"terms[{i}]", 0, n_features - 1)
                 for i, t in enumerate(terms))


def load_boolean(
    *,
    n_features: int = 8,
    terms: Sequence[Sequence[int]] = ((0, 1), (2, 3, 4)),
    n_train: int = 1000,
    n_test: int = 500,
    p: float = 0.5,
    seed: int = 0,
) -> Dataset:
    """Binary inputs (each 1 with probability p); label = OR of ANDs over ``terms``.

    ``info["terms"]`` is the rule: the label's AND interactions (from the 0 baseline) are
    exactly the unions of terms, with inclusion-exclusion signs.
    """
    check_int(n_features, "n_features", 1)
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        check_int(value, name, 1)
    check_number(p, "p", 0, 1)
    check_seed(seed)
    terms = check_terms(terms, n_features)
    rng = np.random.default_rng(seed)
    x = (rng.random((n_train + n_test, n_features)) < p).astype(np.float32)
    y = boolean_rule(x, terms)
    rule = " OR ".join("(" + " AND ".join(f"x{i}" for i in t) + ")" for t in terms)
    info = {"terms": terms, "rule": rule, "p": p}
    return finish(x[:n_train], y[:n_train], x[n_train:], y[n_train:], 2, "boolean", info)


def add_label_noise(labels, fraction: float, num_classes: int, seed: int) -> np.ndarray:
    """Replace exactly ``round(fraction * n)`` labels, chosen at random, by a different class.

    Args:
      labels: ``(n,)`` integer labels in ``0..num_classes - 1`` (not modified).
      fraction: share of labels to replace, in [0, 1].
      num_classes: number of classes (at least 2).
      seed: integer seed; the same seed gives the same result.

    Returns:
      ``(n,)`` int32 noisy labels.
    """
    check_int(num_classes, "num_classes", 2, MAX_CLASSES)
    check_number(fraction, "fraction", 0, 1)
    check_seed(seed)
    labels = check_labels(labels, num_classes=num_classes)
    rng = np.random.default_rng(seed)
    n_noisy = round(fraction * labels.size)
    idx = rng.choice(labels.size, n_noisy, replace=False)
    shift = rng.integers(1, num_classes, n_noisy)
    noisy = labels.astype(np.int32).copy()
    noisy[idx] = (noisy[idx] + shift) % num_classes
    return noisy
