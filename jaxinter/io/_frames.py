"""Tidy pandas DataFrames of every jaxinter result: one row per (sample, layer, type, order, ...).

A result dataclass names the axes of its array fields in the class attribute ``frame_axes``,
``{field: axis names}``. Names are those of the trailing axes, so leading batch axes (a
result of games ``(..., 2**n)``) get the names given in ``batch_axes``; an ``...`` in a tuple
places the batch axes in the middle (``("step", ..., "layer")``). A field that is itself such
a result (a ``History``'s record) contributes its fields, with its own axes after those of the
field. Labels of axes come from the result's optional ``frame_coords()`` (``{axis: labels}``),
types are ``AND``/``OR``, and a ``subset`` axis brings an ``order`` column (its popcount).

Studies (anything with ``summary()``) become one long frame of every labeled array of their
summary: a ``quantity`` column (the array's path in ``summary.json``), one column per axis
and ``value``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import JaxinterInputError, check_mapping, check_text
from ._summary import is_labeled, labeled_frame_rows

TYPE_LABELS = ("AND", "OR")
Axes = tuple  # axis names, possibly with one Ellipsis


def _pandas():
    try:
        import pandas
    except ImportError as err:
        raise ImportError("to_dataframe needs pandas: pip install 'jaxinter[pandas]'") from err
    return pandas


def to_dataframe(result, fields: Sequence[str] | None = None,
                 batch_axes: Sequence[str] | None = None):
    """A tidy ``pandas.DataFrame`` of a result: one row per element, named columns.

    Args:
      result: a jaxinter result dataclass (``AndOrResult``, ``OrderSummary``,
        ``LayerwiseResult``, ``History``, ``Separation``, ...) or a study (anything with
        ``summary()``).
      fields: the value columns. A result: field names sharing their axes with the first one
        (fields of fewer axes are repeated along the others); default every field whose axes
        start like those of the first field. A study: the quantities (paths in its summary,
        e.g. ``"law/rho"``); default all.
      batch_axes: names of the leading batch axes of a result's fields (default ``batch`` or
        ``batch_0``, ``batch_1``, ...).

    Returns:
      The DataFrame: one column per axis (labels, or positions), ``order`` next to ``subset``,
      and one column per value field (``quantity`` and ``value`` for a study).

    Raises:
      ImportError: when pandas is not installed.
      JaxinterInputError: for an object that is no result, or unknown or incompatible fields.
    """
    for value, name in ((fields, "fields"), (batch_axes, "batch_axes")):
        if value is not None and (isinstance(value, str) or not isinstance(value, Sequence)
                                  or not all(isinstance(v, str) for v in value)):
            raise JaxinterInputError(f"{name}: expected a list of names or None, got {value!r}")
    pandas = _pandas()
    if hasattr(type(result), "frame_axes"):
        return pandas.DataFrame(_result_columns(result, fields, batch_axes))
    if callable(getattr(result, "summary", None)):
        return pandas.DataFrame(_summary_rows(result.summary(), fields))
    raise JaxinterInputError(
        f"result: expected a jaxinter result (with frame_axes) or a study (with summary()), "
        f"got {type(result).__name__}")


def _summary_rows(summary: Mapping, quantities) -> list[dict]:
    found = dict(labeled_items(summary))
    chosen = list(found) if quantities is None else list(quantities)
    unknown = [q for q in chosen if q not in found]
    if unknown:
        raise JaxinterInputError(f"fields: unknown quantities {unknown}; known: {list(found)}")
    return [{"quantity": q, **row} for q in chosen for row in labeled_frame_rows(found[q])]


def labeled_items(tree: Mapping, prefix: str = ""):
    """The labeled arrays of a summary tree with their paths (``"law/rho"``).

    Args:
      tree: a ``summary()`` dict (or one read from ``summary.json``).
      prefix: prepended to every path.

    Yields:
      ``(path, labeled array object)``, in the order of the tree.
    """
    check_mapping(tree, "tree", optional=False)
    check_text(prefix, "prefix")
    for key, value in tree.items():
        if is_labeled(value):
            yield prefix + str(key), value
        elif isinstance(value, Mapping):
            yield from labeled_items(value, f"{prefix}{key}/")


def _leaves(result, outer: tuple = ()) -> dict[str, tuple[np.ndarray, Axes]]:
    """{field: (array, axes)} of a result, nested results expanded; None fields left out."""
    out = {}
    for name, spec in type(result).frame_axes.items():
        value = getattr(result, name)
        if value is None:
            continue
        spec = tuple(spec)
        if hasattr(type(value), "frame_axes"):
            lead = spec[:spec.index(...)] if ... in spec else spec
            out.update(_leaves(value, outer + lead))
        else:
            out[name] = (np.asarray(value), outer + spec if ... in spec or not outer
                         else (*outer, ..., *spec))
    return out


def _named(axes: Axes, ndim: int, batch_axes) -> tuple[str, ...]:
    """Axis names of an array of ``ndim`` dimensions: the batch axes replace the Ellipsis (or
    lead when there is none)."""
    lead, tail = (axes[:axes.index(...)], axes[axes.index(...) + 1:]) if ... in axes \
        else ((), axes)
    count = ndim - len(lead) - len(tail)
    if count < 0:
        raise JaxinterInputError(f"result: a field of axes {axes} has {ndim} dimensions")
    names = list(batch_axes or [])
    default = ["batch"] if count == 1 else [f"batch_{i}" for i in range(count)]
    if batch_axes is not None and len(names) != count:
        raise JaxinterInputError(
            f"batch_axes: expected {count} names for the batch axes, got {list(batch_axes)}")
    return (*lead, *(names or default), *tail)


def _result_columns(result, fields, batch_axes) -> dict[str, np.ndarray]:
    leaves = {name: (array, _named(axes, array.ndim, batch_axes))
              for name, (array, axes) in _leaves(result).items()}
    if not leaves:
        raise JaxinterInputError(f"result: {type(result).__name__} holds no array")
    unknown = [f for f in fields or () if f not in leaves]
    if unknown:
        raise JaxinterInputError(f"fields: unknown fields {unknown}; known: {list(leaves)}")
    first = fields[0] if fields else next(iter(leaves))
    array, axes = leaves[first]
    chosen = fields or [n for n, (_, a) in leaves.items() if axes[:len(a)] == a]
    columns = _axis_columns(result, axes, array.shape)
    for name in chosen:
        values, own = leaves[name]
        if axes[:len(own)] != own:
            raise JaxinterInputError(
                f"fields: {name!r} has axes {own}, which do not start the axes {axes} of "
                f"{first!r}")
        values = values.reshape(values.shape + (1,) * (len(axes) - len(own)))
        columns[name] = np.broadcast_to(values, array.shape).ravel()
    return columns


def _axis_columns(result, axes: tuple[str, ...], shape) -> dict[str, np.ndarray]:
    coords = {"type": TYPE_LABELS}
    coords.update(result.frame_coords() if hasattr(result, "frame_coords") else {})
    index = np.indices(shape).reshape(len(shape), -1)
    columns = {}
    for axis, position in zip(axes, index, strict=True):
        labels = coords.get(axis)
        if labels is not None and len(labels) == shape[axes.index(axis)]:
            columns[axis] = np.asarray(list(labels), dtype=object)[position]
        else:
            columns[axis] = position
        if axis == "subset":
            columns["order"] = np.bitwise_count(position)
    return columns
