"""Users' own dataset files: .npz of the four splits and CSV with a label column."""

import numpy as np
import pytest

from jaxinter.data import load_data_file, load_dataset
from jaxinter.errors import JaxinterInputError


def _npz(path, **changes):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(20, 4, 4, 1)), "y_train": rng.integers(0, 3, 20),
              "x_test": rng.normal(size=(8, 4, 4, 1)), "y_test": rng.integers(0, 3, 8)}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


def test_npz_keeps_the_arrays(tmp_path):
    arrays = _npz(tmp_path / "mine.npz", y_test=np.array([0, 1, 2, 4, 0, 1, 2, 4]))
    ds = load_dataset("file", tmp_path / "mine.npz")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(ds, key), arrays[key].astype(getattr(ds, key).dtype))
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.input_shape == (4, 4, 1) and ds.num_classes == 5 and ds.name == "mine"


@pytest.mark.parametrize("changes, message", [
    ({"y_test": None}, r"mine.npz has no array y_test"),
    ({"y_train": np.arange(19)}, r"mine.npz: y_train must hold one integer class"),
    ({"y_train": np.full(20, 0.5)}, r"y_train must hold one integer class"),
    ({"x_test": np.full((8, 4, 4, 1), np.nan)}, r"mine.npz: x_test must be finite"),
    ({"x_test": np.zeros((8, 16))}, r"x_train samples have shape \(4, 4, 1\), x_test"),
])
def test_npz_errors_name_the_file_and_the_key(tmp_path, changes, message):
    _npz(tmp_path / "mine.npz", **changes)
    with pytest.raises(JaxinterInputError, match=message):
        load_data_file(tmp_path / "mine.npz")


def _write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def test_csv_with_named_labels_and_a_split_column(tmp_path):
    rows = [[1.5, "cat", -2, "train"], [0.5, "dog", 3, "test"], [2.0, "cat", 1, "train"],
            [4.0, "bird", 0, "train"], [3.0, "dog", 2, "test"]]
    path = _write_csv(tmp_path / "animals.csv", ["a", "species", "b", "split"], rows)
    ds = load_data_file(path, label_column="species")
    assert ds.info["feature_names"] == ["a", "b"]
    assert ds.info["class_names"] == ["bird", "cat", "dog"] and ds.num_classes == 3
    np.testing.assert_array_equal(ds.x_train, [[1.5, -2], [2.0, 1], [4.0, 0]])
    np.testing.assert_array_equal(ds.y_train, [1, 1, 0])
    np.testing.assert_array_equal(ds.x_test, [[0.5, 3], [3.0, 2]])
    np.testing.assert_array_equal(ds.y_test, [2, 2])


def test_csv_stratified_split_keeps_every_row_once(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 3)).round(3)
    y = np.repeat([0, 1, 3, 2], 12)  # integer labels stay as they are
    path = _write_csv(tmp_path / "t.csv", ["f0", "label", "f1", "f2"],
                      [[a, c, b, d] for (a, b, d), c in zip(x, y, strict=True)])
    ds = load_data_file(path, test_fraction=0.25, seed=3)
    assert len(ds.x_test) == 12 and ds.num_classes == 4
    np.testing.assert_array_equal(np.bincount(ds.y_test), [3, 3, 3, 3])  # stratified
    got = np.concatenate([np.c_[ds.x_train, ds.y_train], np.c_[ds.x_test, ds.y_test]])
    want = np.c_[x, y].astype(np.float32)
    np.testing.assert_array_equal(got[np.lexsort(got.T)], want[np.lexsort(want.T)])
    again = load_data_file(path, test_fraction=0.25, seed=3)
    np.testing.assert_array_equal(again.x_test, ds.x_test)  # a fixed split


@pytest.mark.parametrize("header, rows, kwargs, message", [
    (["a", "y"], [[1, 0]], {}, r"t.csv has no column 'label'; its columns are \['a', 'y'\]"),
    (["a", "label"], [[1, 0], ["x", 1]], {}, r"t.csv, line 3, column 'a': expected a finite"),
    (["a", "label"], [[1, 0], [2]], {}, r"t.csv, line 3: 1 values for 2 columns"),
    (["label"], [[0], [1]], {}, r"no feature column besides 'label'"),
    (["a", "label", "split"], [[1, 0, "train"], [2, 1, "val"]], {}, r"expected 'train' or"),
])
def test_csv_errors_name_the_file_line_and_column(tmp_path, header, rows, kwargs, message):
    path = _write_csv(tmp_path / "t.csv", header, rows)
    with pytest.raises(JaxinterInputError, match=message):
        load_data_file(path, **kwargs)


def test_other_files_are_refused(tmp_path):
    with pytest.raises(JaxinterInputError, match=r"no file .*absent.csv"):
        load_data_file(tmp_path / "absent.csv")
    (tmp_path / "data.txt").write_text("1,2\n")
    with pytest.raises(JaxinterInputError, match=r"expected an .npz or .csv file"):
        load_dataset("file", tmp_path / "data.txt")
