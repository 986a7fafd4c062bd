"""One mesh over every device of every process, and arrays between processes and devices."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ..errors import (
    JaxinterInputError,
    array_spec,
    check_axis,
    check_int,
    check_pytree,
    check_text,
)


def global_mesh(axis: str = "data", devices=None) -> Mesh:
    """A 1-D mesh named ``axis`` over ``devices`` (default: every device of every process).

    Devices are ordered by process, then by local id, so process p's devices hold a
    contiguous block of a split axis (what ``to_global`` assumes).
    """
    check_text(axis, "axis", empty=False)
    if devices is not None and (isinstance(devices, str) or not isinstance(devices, Sequence)
                                or not devices
                                or not all(isinstance(d, jax.Device) for d in devices)):
        raise JaxinterInputError(f"devices: expected a list of jax devices, got {devices!r:.60}")
    devices = jax.devices() if devices is None else list(devices)
    devices = sorted(devices, key=lambda d: (d.process_index, d.id))
    return Mesh(np.array(devices), (axis,))


def split_axis(mesh, axis: str | None = None) -> tuple[str, int]:
    """(name, size) of the axis a ``mesh=`` keyword splits over.

    Args:
      mesh: a ``jax.sharding.Mesh``.
      axis: one of its axis names; None for a 1-D mesh.

    Raises:
      JaxinterInputError: if ``mesh`` is not a Mesh, or ``axis`` is None on a mesh of several
        axes or names no axis.
    """
    if not isinstance(mesh, Mesh):
        raise JaxinterInputError(f"mesh: expected a jax.sharding.Mesh, got {type(mesh).__name__}")
    if axis is None:
        if len(mesh.axis_names) != 1:
            raise JaxinterInputError(
                f"axis: expected an axis name for a mesh with axes {mesh.axis_names}, "
                "got None")
        axis = mesh.axis_names[0]
    if axis not in mesh.axis_names:
        raise JaxinterInputError(f"axis: expected one of {mesh.axis_names}, got {axis!r}")
    return axis, int(mesh.shape[axis])


def pad_to_multiple(x, multiple: int, axis: int = 0):
    """Pad ``axis`` of ``x`` with copies of its last entry up to a multiple of ``multiple``.

    Returns:
      ``(padded, original length)``; ``padded`` is ``x`` itself when nothing is missing.
    """
    check_int(multiple, "multiple", 1)
    shape, _ = array_spec(x, "x")
    axis = check_axis(axis, "axis", max(len(shape), 1))
    if not shape:
        raise JaxinterInputError("x: expected an array with at least one axis, got a scalar")
    x = x if isinstance(x, np.ndarray | jax.Array) else np.asarray(x)
    size = x.shape[axis]
    missing = -size % multiple
    if not missing:
        return x, size
    lib = np if isinstance(x, np.ndarray) else jnp
    last = lib.take(x, lib.asarray([size - 1] * missing), axis=axis)
    return lib.concatenate([x, last], axis=axis), size


def to_global(local, mesh: Mesh, axis: str | None = None) -> jax.Array:
    """One global array from each process's rows: process p contributes its block of axis 0.

    Args:
      local: ``(rows_p, ...)`` this process's rows (rows_p equal on every process, and a
        multiple of the number of its devices on the mesh).
      mesh: the mesh (``global_mesh()``).
      axis: the mesh axis that splits axis 0 (None: the mesh's only axis).

    Returns:
      ``(sum of rows_p, ...)`` array split over ``axis``.
    """
    axis, _ = split_axis(mesh, axis)
    shape, _ = array_spec(local, "local")
    if not shape:
        raise JaxinterInputError("local: expected rows (rows_p, ...), got a scalar")
    return jax.make_array_from_process_local_data(NamedSharding(mesh, P(axis)), np.asarray(local))


def shard_rows(x, mesh: Mesh, axis: str | None = None, dim: int = 0) -> jax.Array:
    """An array every process holds whole, split over ``axis`` along its dimension ``dim``.

    Already split that way: returned as is. A local array is copied device to device in one
    process and sliced from the host copy with several (each device receives its block only).
    The length of ``dim`` must be a multiple of the axis size (see ``pad_to_multiple``).
    """
    axis, size = split_axis(mesh, axis)
    shape, _ = array_spec(x, "x")
    dim = check_axis(dim, "dim", max(len(shape), 1))
    if not shape:
        raise JaxinterInputError("x: expected an array with at least one axis, got a scalar")
    x = x if isinstance(x, np.ndarray | jax.Array) else np.asarray(x)
    sharding = NamedSharding(mesh, P(*[None] * dim, axis))
    if x.shape[dim] % size:
        raise JaxinterInputError(
            f"x: expected axis {dim} to be a multiple of {size} devices, got {x.shape[dim]}")
    return _place(x, sharding)


def replicate(tree, mesh: Mesh):
    """Every array leaf of ``tree`` copied to every device of ``mesh`` (for weights, tables)."""
    split_axis(mesh)
    if jax.tree.leaves(tree):  # an empty tree (no weights) is replicated as it is
        check_pytree(tree, "tree")
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(lambda leaf: _place(leaf, sharding), tree)


def _place(x, sharding: NamedSharding) -> jax.Array:
    if isinstance(x, jax.core.Tracer):  # under an outer jit: a sharding constraint
        return jax.lax.with_sharding_constraint(x, sharding)
    if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(sharding, x.ndim):
        return x
    if isinstance(x, jax.Array) and not x.is_fully_addressable:  # global: reshard on device
        return jax.jit(lambda a: a, out_shardings=sharding)(x)
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    host = np.asarray(x)  # this process's whole copy; each device takes its block from it
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def to_local(x: jax.Array) -> np.ndarray:
    """This process's part of a global array split along axis 0, as numpy (rows in order)."""
    if not isinstance(x, jax.Array) or not x.ndim:
        raise JaxinterInputError(
            f"x: expected a jax.Array with at least one axis, got {type(x).__name__}")
    shards = sorted(x.addressable_shards, key=lambda s: s.index[0].start or 0)
    blocks, seen = [], set()
    for shard in shards:
        if (key := shard.index[0].start) not in seen:  # replicas hold the same rows
            seen.add(key)
            blocks.append(np.asarray(shard.data))
    return np.concatenate(blocks, axis=0)


def gather(x) -> np.ndarray:
    """The whole of a (possibly global) array on every process, as numpy."""
    array_spec(x, "x")
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


_DEFAULT_MESH: contextvars.ContextVar = contextvars.ContextVar("jaxinter_mesh", default=None)


@contextlib.contextmanager
def using_mesh(mesh: Mesh | None, axis: str | None = None):
    """Within the block, the heavy kernels (``masked_scores``, ``masked_layer_scores``,
    ``and_or``) called without ``mesh=`` split their work over ``mesh`` and return replicated
    results, which every process holds whole: code written for one device (studies,
    commands) runs unchanged on all devices of all processes. None: no default mesh.
    """
    if mesh is not None:
        split_axis(mesh, axis)
    elif axis is not None:
        raise JaxinterInputError(f"axis: expected None without a mesh, got {axis!r}")
    token = _DEFAULT_MESH.set(None if mesh is None else (mesh, axis))
    try:
        yield mesh
    finally:
        _DEFAULT_MESH.reset(token)


def default_mesh() -> tuple[Mesh, str | None] | None:
    """(mesh, axis) of the innermost ``using_mesh`` block, or None."""
    return _DEFAULT_MESH.get()
