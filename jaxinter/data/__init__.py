"""Datasets behind one loader: layer 1 of jaxinter, a leaf every higher layer may use.

``load_dataset(name, path=None, **options) -> Dataset`` (names in ``DATASETS``):

- shipped with scikit-learn (no download): ``digits`` (8x8 images in [0, 1]), ``wine``,
  ``breast_cancer``, ``iris`` (standardized with training statistics);
- from a user path: ``mnist`` (IDX, gzipped or raw, or .npz);
- generated: ``xor`` (four Gaussian blobs) and ``boolean`` (binary inputs, label from a known
  OR-of-ANDs rule, ``boolean_rule``);
- your own file: ``file`` (``load_data_file``): an .npz of ``x_train``, ``y_train``,
  ``x_test``, ``y_test``, or a CSV with a label column (and optionally a ``split`` column).

Splits are fixed (stratified with a fixed seed, or fixed index ranges for MNIST), so every run
sees the same data. ``add_label_noise`` replaces a fraction of the labels reproducibly. See
docs/models.md#data-jaxinterdata.
"""

from ._datasets import Dataset, add_label_noise, boolean_rule
from ._files import load_data_file
from ._loader import DATASETS, PATH_DATASETS, load_dataset

__all__ = [
    "DATASETS",
    "PATH_DATASETS",
    "Dataset",
    "add_label_noise",
    "boolean_rule",
    "load_data_file",
    "load_dataset",
]
