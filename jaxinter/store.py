"""Saving results to disk: pytrees of arrays as .npz (atomically) and resumable stage caches.

A long job computes stages (a layer, a checkpoint, a batch of samples) and stores each one as
soon as it is done; after an interruption the job reloads finished stages instead of
recomputing them. Writes go to a temporary file that is renamed, so a killed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import jax
import numpy as np

from .report import to_jsonable


def save_tree(path: Path, tree) -> Path:
    """Save a pytree of arrays to ``path`` (.npz); leaves keyed by their tree path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    _save_npz(path, {jax.tree_util.keystr(k): np.asarray(v) for k, v in flat})
    return path


def _save_npz(path: Path, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` atomically: a flushed temporary file, then a rename.

    The temporary name ends in ``.partial`` (not ``.npz``), so a run killed mid-write leaves
    nothing that looks like a result.
    """
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2))
    os.replace(tmp, path)
    return path


class StageCache:
    """Per-stage array storage under a folder, for resumable jobs.

    ``cache.get(key)`` returns the saved dict of arrays or None; ``cache.put(key, arrays)``
    saves it as ``folder/<key>.npz`` (keys: letters, digits, ``_ - .``). A ``config`` dict
    identifies the run: a cache made with a different config is not reused (its stages are
    deleted), so resuming never mixes results of different settings.

    Safe under interruption: every stage is written atomically, the config stamp is written
    only after stale stages are gone, leftover temporary files are removed on open, and a
    stage file that cannot be read (e.g. truncated by a crash of the machine) counts as
    missing, so it is recomputed.
    """

    def __init__(self, folder: Path, config: dict):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for f in self.folder.glob("*.partial"):
            f.unlink()
        stamp = self.folder / "config.json"
        config = to_jsonable(config)
        if not stamp.exists() or _read_json(stamp) != config:
            if stamp.exists():  # stages of another configuration
                for f in self.folder.glob("*.npz"):
                    f.unlink()
            save_json(stamp, config)

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not re.fullmatch(r"[\w.-]+", key) or key.startswith("."):
            raise ValueError(f"key: expected letters, digits, '_', '-' or '.', got {key!r}")
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # unreadable: recompute this stage
            return None

    def put(self, key: str, arrays: dict) -> None:
        _save_npz(self._path(key), {k: np.asarray(v) for k, v in arrays.items()})


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
