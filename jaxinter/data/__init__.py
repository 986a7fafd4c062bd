"""Datasets behind one loader: ``load_dataset(name, path=None, **options) -> Dataset``.

Shipped with scikit-learn (no download): ``digits`` (8x8 images in [0, 1]), ``wine``,
``breast_cancer``, ``iris`` (standardized with training statistics). From a user path:
``mnist`` (IDX, gzipped or raw, or .npz). Generated: ``xor`` (four Gaussian blobs) and
``boolean`` (binary inputs, label from a known OR-of-ANDs rule). Splits are fixed (stratified
with a fixed seed, or fixed index ranges for MNIST), so every run sees the same data.
"""

from ._datasets import DATASETS, Dataset, add_label_noise, boolean_rule, load_dataset

__all__ = ["DATASETS", "Dataset", "add_label_noise", "boolean_rule", "load_dataset"]
