"""Self-describing arrays for ``summary.json``: every array names its axes and their labels.

A labeled array is the JSON object ``{"axes": [...], "coords": {axis: [labels]}, "values":
nested lists}``, with ``values`` nested in the order of ``axes`` and, for each axis named in
``coords``, one label per position. Anyone can read it without the code that wrote it; pandas
users get a tidy table from ``labeled_frame_rows``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import JaxinterInputError
from ._files import to_jsonable


def labeled(values, axes: Sequence[str], coords: Mapping[str, Sequence] | None = None,
            description: str | None = None) -> dict:
    """The labeled-array object of ``values`` (any array-like of ``len(axes)`` dimensions).

    Args:
      values: array-like whose i-th axis is ``axes[i]``.
      axes: one name per axis, e.g. ``("layer", "type", "order")``.
      coords: labels of some or all axes, e.g. ``{"layer": ["hidden_1", "output"]}``; an axis
        without labels is indexed 0, 1, ...
      description: optional one-line meaning of the values.

    Returns:
      ``{"axes", "coords", "values"}`` (plus ``"description"``), ready for JSON.
    """
    array = np.asarray(values)
    if isinstance(axes, str) or not isinstance(axes, Sequence) or not all(
            isinstance(a, str) for a in axes):
        raise JaxinterInputError(f"axes: expected a list of axis names, got {axes!r}")
    axes = list(axes)
    if array.ndim != len(axes):
        raise JaxinterInputError(
            f"axes: {len(axes)} names for an array of {array.ndim} dimensions")
    coords = {k: list(v) for k, v in (coords or {}).items()}
    for name, labels in coords.items():
        if name not in axes:
            raise JaxinterInputError(f"coords: {name!r} is not one of the axes {axes}")
        size = array.shape[axes.index(name)]
        if len(labels) != size:
            raise JaxinterInputError(
                f"coords: {len(labels)} labels for axis {name!r} of size {size}")
    out = {"axes": axes, "coords": to_jsonable(coords), "values": to_jsonable(array)}
    if description:
        out["description"] = description
    return out


def is_labeled(obj) -> bool:
    """Whether an object read from ``summary.json`` is a labeled array.

    Args:
      obj: any JSON value.

    Returns:
      True for a mapping with ``axes``, ``coords`` and ``values``.
    """
    return isinstance(obj, Mapping) and {"axes", "coords", "values"} <= set(obj)


def labeled_array(obj: Mapping) -> tuple[np.ndarray, list[str], dict[str, list]]:
    """Read a labeled-array object back.

    Args:
      obj: ``{"axes", "coords", "values"}`` as written by ``labeled``.

    Returns:
      ``(values, axes, coords)``: a float numpy array with NaN for null, the axis names, and
      the labels of the labeled axes.
    """
    if not is_labeled(obj):
        raise JaxinterInputError(
            f"obj: expected a labeled array {{'axes', 'coords', 'values'}}, got {obj!r:.60}")
    values = np.array(obj["values"], dtype=object)
    try:
        values = np.where(values == None, np.nan, values).astype(float)  # noqa: E711
    except (TypeError, ValueError) as err:
        raise JaxinterInputError(f"obj: expected numeric values, got {err}") from err
    if values.ndim != len(obj["axes"]):
        raise JaxinterInputError(
            f"obj: expected values with one axis per name of {list(obj['axes'])}, got shape "
            f"{values.shape}")
    return values, list(obj["axes"]), dict(obj["coords"])


def labeled_frame_rows(obj: Mapping) -> list[dict]:
    """A labeled array as tidy rows, e.g. for ``pandas.DataFrame(rows)``.

    Args:
      obj: ``{"axes", "coords", "values"}`` as written by ``labeled``.

    Returns:
      One dict per element, ``{axis: label (or index), ..., "value": v}``.
    """
    values, axes, coords = labeled_array(obj)
    rows = []
    for index in np.ndindex(values.shape):
        row = {a: coords[a][i] if a in coords else i for a, i in zip(axes, index, strict=True)}
        row["value"] = float(values[index])
        rows.append(row)
    return rows
