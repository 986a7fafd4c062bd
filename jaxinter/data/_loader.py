"""``load_dataset``: every dataset behind one name (see ``jaxinter.data``)."""

from __future__ import annotations

from ..errors import JaxinterInputError, check_choice
from ._datasets import (
    Dataset,
    load_boolean,
    load_digits,
    load_mnist,
    load_xor,
    tabular_loader,
)
from ._files import load_data_file

PATH_DATASETS = ("mnist", "file")  # the datasets read from a path

DATASETS = {
    "digits": load_digits,
    "wine": tabular_loader("wine"),
    "breast_cancer": tabular_loader("breast_cancer"),
    "iris": tabular_loader("iris"),
    "mnist": load_mnist,
    "xor": load_xor,
    "boolean": load_boolean,
    "file": load_data_file,
}


def load_dataset(name: str, path=None, **options) -> Dataset:
    """Load a dataset by name.

    Args:
      name: one of ``DATASETS``: "digits", "wine", "breast_cancer", "iris", "mnist", "xor",
        "boolean", or "file" (your own .npz or CSV, :func:`load_data_file`).
      path: folder of MNIST IDX files or an .npz file (mnist); the .npz or CSV file (file).
      **options: the loader's keyword arguments, e.g. ``flat=True`` (digits, mnist),
        ``size=(10, 10)``, ``per_class=100``, ``n_train``, ``n_test`` (mnist), ``std``
        (xor), ``terms=((0, 1), (2, 3))`` (boolean), ``label_column`` (file), ``seed``,
        ``test_fraction``.

    Returns:
      A ``Dataset``: float32 inputs, int32 labels, a fixed split.

    Raises:
      JaxinterInputError: on an unknown name or option, a path for a built-in dataset, or
        unreadable files (naming the file and the key or column).
    """
    check_choice(name, "name", DATASETS)
    loader = DATASETS[name]
    if name in PATH_DATASETS:
        return loader(path, **options)
    if path is not None:
        raise JaxinterInputError(f"path: dataset {name!r} is built in and takes no path")
    try:
        return loader(**options)
    except TypeError as err:
        raise JaxinterInputError(f"options: {name!r} loader: {err}") from err
