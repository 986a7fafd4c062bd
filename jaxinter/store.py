"""Saving results to disk: pytrees of arrays as .npz (atomically) and resumable stage caches.

A long job computes stages (a layer, a checkpoint, a batch of samples) and stores each one as
soon as it is done; after an interruption the job reloads finished stages instead of
recomputing them. Writes go to a temporary file that is renamed, so a killed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np

from .report import to_jsonable


def save_tree(path: Path, tree) -> Path:
    """Save a pytree of arrays to ``path`` (.npz); leaves keyed by their tree path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    arrays = {jax.tree_util.keystr(k): np.asarray(v) for k, v in flat}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_tree(path: Path, like):
    """Load a pytree saved by :func:`save_tree` into the structure of ``like``."""
    with np.load(Path(path)) as data:
        flat, treedef = jax.tree_util.tree_flatten_with_path(like)
        leaves = [data[jax.tree_util.keystr(k)] for k, _ in flat]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def save_json(path: Path, obj) -> Path:
    """Write JSON atomically (numpy values converted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2))
    os.replace(tmp, path)
    return path


class StageCache:
    """Per-stage array storage under a folder, for resumable jobs.

    ``cache.get(key)`` returns the saved dict of arrays or None; ``cache.put(key, arrays)``
    saves it. A ``config`` dict identifies the run: a cache made with a different config is
    not reused (its folder is cleared), so resuming never mixes results of different settings.
    """

    def __init__(self, folder: Path, config: dict):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = self.folder / "config.json"
        config = to_jsonable(config)
        if stamp.exists() and json.loads(stamp.read_text()) != config:
            for f in self.folder.glob("*.npz"):
                f.unlink()
        save_json(stamp, config)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        if not path.exists():
            return None
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    def put(self, key: str, arrays: dict) -> None:
        tmp = self.folder / f"{key}.tmp.npz"
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, self._path(key))
