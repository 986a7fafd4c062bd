"""Users' own data and models in every study: the config fields they share and their loading.

Every study config has the fields ``dataset`` (``"file"`` for a user's .npz or CSV),
``data_path``, ``label_column``, ``model_factory`` (``"module:function"`` returning a Flax
Linen or NNX module) and ``checkpoint`` (an Orbax directory or a Flax msgpack file of the
trained weights). These functions validate them once for every study and load what they name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..data import PATH_DATASETS, Dataset, load_dataset
from ..errors import JaxinterInputError
from ..io import file_fingerprint
from ..masking import CapturedFn, capture, layer_names
from ..models import UserModel, load_factory, load_model

USER_FIELDS = ("data_path", "label_column", "model_factory", "checkpoint")


def check_user_inputs(config, *, checkpoint: bool = True) -> None:
    """Validate (and normalize to strings) the user-input fields of a frozen study config.

    Args:
      config: a study config with the fields of :data:`USER_FIELDS` and ``dataset``.
      checkpoint: whether the study can analyse a trained checkpoint (False: it trains its
        models itself).

    Raises:
      JaxinterInputError: naming the field, the file, the module or the function.
    """
    for name in ("data_path", "checkpoint"):
        value = getattr(config, name)
        if isinstance(value, os.PathLike):
            object.__setattr__(config, name, os.fspath(value))
        elif value is not None and not isinstance(value, str):
            raise JaxinterInputError(f"{name}: expected a path or None, got {value!r}")
    if config.dataset in PATH_DATASETS and config.data_path is None:
        raise JaxinterInputError(
            f"data_path: expected a path for dataset {config.dataset!r} (a folder of IDX files "
            f"or an .npz for mnist, an .npz or CSV for file), got None")
    if config.dataset not in PATH_DATASETS and config.data_path is not None:
        raise JaxinterInputError(
            f"data_path: expected None for the built-in dataset {config.dataset!r}, got "
            f"{config.data_path!r}")
    if not isinstance(config.label_column, str) or not config.label_column:
        raise JaxinterInputError(f"label_column: expected a column name, got "
                                 f"{config.label_column!r}")
    layers = getattr(config, "layers", None)
    if layers is not None:
        try:
            re.compile(layers)
        except (re.error, TypeError) as err:
            raise JaxinterInputError(
                f"layers: expected a regular expression, got {layers!r} ({err})") from err
    if config.model_factory is not None:
        load_factory(config.model_factory, "model_factory")  # a bad module or function fails now
    if config.checkpoint is None:
        return
    if not checkpoint:
        raise JaxinterInputError(
            f"checkpoint: this study trains its models from initialization; expected None, "
            f"got {config.checkpoint!r}")
    if config.model_factory is None:
        raise JaxinterInputError("checkpoint: needs model_factory, the model it restores into")
    if not Path(config.checkpoint).expanduser().exists():
        raise JaxinterInputError(f"checkpoint: no file or directory {config.checkpoint}")


def load_study_data(config, **options) -> Dataset:
    """The dataset a study config names (``label_column`` for a user's file).

    Args:
      config: a study config with ``dataset``, ``data_path`` and ``label_column``.
      **options: more options of :func:`jaxinter.data.load_dataset` (e.g. ``flat=True``).

    Returns:
      The :class:`jaxinter.data.Dataset`.
    """
    if config.dataset == "file":
        options["label_column"] = config.label_column
    try:
        return load_dataset(config.dataset, config.data_path, **options)
    except OSError as err:
        raise JaxinterInputError(f"data_path: cannot read {config.data_path}: {err}") from err


def user_model(config, ds: Dataset, seed: int) -> UserModel:
    """The model of ``config.model_factory`` for ``ds``, restored from ``config.checkpoint``.

    Args:
      config: a study config with ``model_factory`` (not None) and ``checkpoint``.
      ds: the data (its input shape and number of classes are given to the factory).
      seed: seed of the initial weights.

    Returns:
      :class:`jaxinter.models.UserModel`.
    """
    return load_model(config.model_factory, config.checkpoint, input_shape=ds.input_shape,
                      num_classes=ds.num_classes, seed=seed)


def capture_user_model(user: UserModel, layers: str | None) -> CapturedFn:
    """A user's model captured: the layers matching ``layers`` (a regular expression), else
    every layer it sows, or every submodule's output when it sows none.

    Args:
      user: the :class:`jaxinter.models.UserModel`.
      layers: regular expression (full match) of layer names, or None.

    Returns:
      :class:`jaxinter.masking.CapturedFn` with the user's weights.
    """
    sows = bool(layer_names(user.model, user.variables, input_shape=user.input_shape))
    return capture(user.model, user.variables, layers, input_shape=user.input_shape,
                   all_modules=not sows)


def user_depends(config) -> dict:
    """What a cached stage that uses the model or the data depends on beyond the built-in
    options: the factory, the checkpoint's and the data file's content, the label column."""
    def files(path):
        return None if path is None else file_fingerprint(path)

    data = config.data_path if config.dataset == "file" else None
    return {"model_factory": config.model_factory, "checkpoint": config.checkpoint,
            "checkpoint_files": files(config.checkpoint), "data_files": files(data),
            "label_column": config.label_column if data else None}
