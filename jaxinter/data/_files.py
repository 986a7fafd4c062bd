"""Your own dataset from a file: an .npz of the four splits, or a CSV with a label column."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..errors import JaxinterInputError, check_number, check_seed
from ._datasets import Dataset, finish, stratified_split

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLIT_COLUMN = "split"


def load_data_file(path, *, label_column: str = "label", test_fraction: float = 0.25,
                   seed: int = 0) -> Dataset:
    """A dataset from a user's file, inputs as they are (no scaling).

    - ``.npz``: arrays ``x_train`` (n_train, *input_shape), ``y_train`` (n_train,) integer
      classes, ``x_test``, ``y_test`` (e.g. written by ``np.savez``).
    - ``.csv``: a header row; the column ``label_column`` holds the classes (integers 0..K-1,
      or names, numbered in sorted order), every other column a numeric feature. A column
      named ``split`` with values ``train``/``test`` fixes the split; without it a stratified
      split keeps ``test_fraction`` of the rows for testing (fixed ``seed``).

    Args:
      path: the file.
      label_column: CSV column of the classes.
      test_fraction: CSV without a ``split`` column: the share of test rows, in (0, 1).
      seed: CSV without a ``split`` column: seed of the split.

    Returns:
      A :class:`Dataset` named after the file; ``info`` has ``path`` and, for a CSV,
      ``feature_names`` and ``class_names``.

    Raises:
      JaxinterInputError: naming the file and the missing key, column or bad value.
    """
    if not isinstance(path, str | os.PathLike):
        raise JaxinterInputError(f"path: expected a file path, got {path!r}")
    if not isinstance(label_column, str) or not label_column:
        raise JaxinterInputError(f"label_column: expected a column name, got {label_column!r}")
    check_number(test_fraction, "test_fraction", 0, 1, low_open=True, high_open=True)
    check_seed(seed)
    path = Path(path).expanduser()
    if not path.is_file():
        raise JaxinterInputError(f"path: no file {path}")
    if path.suffix == ".npz":
        return _npz(path)
    if path.suffix == ".csv":
        return _csv(path, label_column, test_fraction, seed)
    raise JaxinterInputError(f"path: expected an .npz or .csv file, got {path}")


def _npz(path: Path) -> Dataset:
    try:
        with np.load(path) as archive:
            missing = [k for k in NPZ_KEYS if k not in archive.files]
            if missing:
                raise JaxinterInputError(
                    f"path: {path} has no array {', '.join(missing)} (found {archive.files}; "
                    f"expected {', '.join(NPZ_KEYS)})")
            x_tr, y_tr, x_te, y_te = (archive[k] for k in NPZ_KEYS)
    except (OSError, ValueError) as err:
        raise JaxinterInputError(f"path: cannot read {path} as .npz: {err}") from err
    for split, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        _check_split(path, split, x, y)
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise JaxinterInputError(
            f"path: {path}: x_train samples have shape {x_tr.shape[1:]}, x_test samples "
            f"{x_te.shape[1:]}")
    classes = int(max(y_tr.max(), y_te.max())) + 1
    return finish(x_tr, y_tr, x_te, y_te, classes, path.stem, {"path": str(path)})


def _check_split(path: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2 or not np.isfinite(x).all():
        raise JaxinterInputError(
            f"path: {path}: x_{split} must be finite numbers of shape (n, *input_shape), got "
            f"dtype {x.dtype} and shape {x.shape}")
    if y.shape != x.shape[:1] or not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
        raise JaxinterInputError(
            f"path: {path}: y_{split} must hold one integer class >= 0 per sample, shape "
            f"({len(x)},); got dtype {y.dtype} and shape {y.shape}")


def _csv(path: Path, label_column: str, test_fraction: float, seed: int) -> Dataset:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise JaxinterInputError(f"path: {path} is empty")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if label_column not in header:
        raise JaxinterInputError(f"label_column: {path} has no column {label_column!r}; "
                                 f"its columns are {header}")
    if not body:
        raise JaxinterInputError(f"path: {path} has a header and no rows")
    for line, row in enumerate(body, 2):
        if len(row) != len(header):
            raise JaxinterInputError(
                f"path: {path}, line {line}: {len(row)} values for {len(header)} columns")
    columns = {name: [row[j].strip() for row in body] for j, name in enumerate(header)}
    labels, class_names = _labels(columns.pop(label_column))
    split = columns.pop(SPLIT_COLUMN, None)
    names = list(columns)
    x = np.stack([_numbers(path, name, columns[name]) for name in names], 1) if names \
        else None
    if x is None:
        raise JaxinterInputError(f"path: {path} has no feature column besides {label_column!r}")
    if split is None:
        x_tr, x_te, y_tr, y_te = stratified_split(x, labels, test_fraction, seed)
        note = f"stratified, {test_fraction:g} test, seed {seed}"
    else:
        x_tr, y_tr, x_te, y_te = _split_by_column(path, x, labels, split)
        note = f"column {SPLIT_COLUMN!r}"
    info = {"path": str(path), "feature_names": names, "class_names": class_names,
            "split": note}
    return finish(x_tr, y_tr, x_te, y_te, len(class_names), path.stem, info)


def _labels(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Classes as 0..K-1 and their names: integer labels stay as they are."""
    try:
        ints = np.array([int(v) for v in values])
    except ValueError:
        names = sorted(set(values))
        return np.array([names.index(v) for v in values]), names
    if ints.min() >= 0:
        return ints, [str(c) for c in range(int(ints.max()) + 1)]
    names = sorted(set(values), key=int)
    return np.array([names.index(v) for v in values]), names


def _numbers(path: Path, name: str, values: list[str]) -> np.ndarray:
    for line, value in enumerate(values, 2):
        try:
            number = float(value)
        except ValueError:
            number = np.nan
        if not np.isfinite(number):
            raise JaxinterInputError(
                f"path: {path}, line {line}, column {name!r}: expected a finite number, got "
                f"{value!r}")
    return np.asarray(values, np.float64)


def _split_by_column(path: Path, x, labels, split: list[str]):
    bad = sorted(set(split) - {"train", "test"})
    if bad:
        raise JaxinterInputError(
            f"path: {path}, column {SPLIT_COLUMN!r}: expected 'train' or 'test', got {bad}")
    test = np.array([s == "test" for s in split])
    if test.all() or not test.any():
        raise JaxinterInputError(
            f"path: {path}, column {SPLIT_COLUMN!r}: needs both train and test rows")
    return x[~test], labels[~test], x[test], labels[test]
