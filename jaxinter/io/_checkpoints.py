"""Sharded pytrees on disk with Orbax: every process writes its own shards, any mesh reads.

``save_sharded(path, tree, meta)`` writes a pytree of arrays (global arrays split over devices
and processes, host arrays, typed PRNG keys) and optional JSON metadata as one Orbax checkpoint
directory (items ``tree`` and ``meta``); every process calls it, each writes the shards it
holds, and the directory appears whole or not at all (Orbax writes to a temporary folder and
renames it). ``restore_sharded(path, like, mesh=...)`` reads the tree back into the structure
of ``like`` with the shardings of the current run: on another mesh or another number of
devices or processes each device reads only its own block. ``sharded_meta(path)`` reads the
metadata.

Single-process files that must be readable without Orbax stay with ``save_tree`` (one .npz).
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ..distributed import split_axis
from ..errors import JaxinterInputError, check_path, check_pytree


def _is_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def save_sharded(path, tree, meta: dict | None = None) -> Path:
    """Save a pytree of arrays as an Orbax checkpoint directory (call it on every process).

    Args:
      path: the checkpoint directory (replaced if it exists).
      tree: pytree of ``jax.Array`` (sharded or not), numpy arrays and typed PRNG keys;
        with several processes, arrays local to a process must be equal on every process
        (they are written once).
      meta: JSON-able dict saved with the tree, in the same directory (``sharded_meta``).

    Returns:
      ``path`` as an absolute ``Path``.
    """
    path = check_path(path, "path", writable="dir")
    check_pytree(tree, "tree")
    path = Path(path).absolute()
    tree = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)
    if jax.process_count() > 1:  # this process's own arrays are the same on every process
        tree = jax.tree.map(lambda x: np.asarray(x) if getattr(
            x, "is_fully_addressable", False) else x, tree)
    items = {"tree": ocp.args.StandardSave(tree)}
    if meta is not None:
        items["meta"] = ocp.args.JsonSave(meta)
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        checkpointer.save(path, ocp.args.Composite(**items), force=True)
    return path


def sharded_meta(path) -> dict | None:
    """The ``meta`` dict saved with a checkpoint of ``save_sharded`` (None if it has none)."""
    path = check_path(path, "path", exists="dir").absolute()
    if not (path / "meta").exists():
        return None
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        return checkpointer.restore(path, ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def restore_sharded(path, like, mesh=None, axis: str | None = None):
    """Read a checkpoint of ``save_sharded`` into the structure of ``like``.

    Args:
      path: the checkpoint directory.
      like: a pytree of the same structure: arrays or ``jax.ShapeDtypeStruct`` s (their
        shapes, dtypes and, without ``mesh``, shardings are used; typed PRNG keys are
        restored as keys of the same implementation).
      mesh: restore onto this mesh: leaves whose first axis splits evenly over ``axis`` are
        split along it, the others (and PRNG keys) replicated. None: each leaf takes
        ``like``'s sharding (the default device for host arrays).
      axis: the mesh axis (None: the mesh's only axis).

    Returns:
      The restored pytree (global arrays where ``mesh`` spans several processes).
    """
    path = check_path(path, "path", exists="dir")
    check_pytree(like, "like")
    if mesh is not None:
        split_axis(mesh, axis)
    elif axis is not None:
        raise JaxinterInputError(f"axis: expected None without a mesh, got {axis!r}")
    if mesh is not None:
        axis = axis or mesh.axis_names[0]
        size = mesh.shape[axis]
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def target(leaf):
        key = _is_key(leaf)
        shape = np.shape(jax.random.key_data(leaf)) if key else np.shape(leaf)
        dtype = jax.random.key_data(leaf).dtype if key else leaf.dtype
        if mesh is not None:
            split = not key and len(shape) and shape[0] % size == 0
            sharding = NamedSharding(mesh, P(axis) if split else P())
        else:
            sharding = getattr(leaf, "sharding", None) or default
        return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)

    items = ocp.args.Composite(tree=ocp.args.StandardRestore(jax.tree.map(target, like)))
    try:
        with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
            restored = checkpointer.restore(Path(path).absolute(), items)["tree"]
    except (ValueError, KeyError, FileNotFoundError) as err:
        raise JaxinterInputError(f"path, like: cannot restore {path} as like: {err}") from err
    return jax.tree.map(
        lambda x, leaf: jax.random.wrap_key_data(x, impl=jax.random.key_impl(leaf))
        if _is_key(leaf) else x, restored, like)
