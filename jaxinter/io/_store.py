"""Saving results to disk: pytrees of arrays as .npz (atomically) and resumable stage caches.

A long job computes stages (a layer, a checkpoint, a batch of samples) and stores each one as
soon as it is done; after an interruption the job reloads finished stages instead of
recomputing them. Writes go to a temporary file that is renamed, so a killed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import JaxinterInputError, check_mapping, check_path, check_pytree, check_text
from ._files import PARTIAL, to_jsonable, write_atomic
from ._progress import log


def tree_to_arrays(tree) -> dict[str, np.ndarray]:
    """A pytree as a flat dict of host arrays.

    Args:
      tree: pytree of arrays; typed PRNG keys are stored as their uint32 key data.

    Returns:
      ``{key path string: numpy array}``, e.g. ``{"['params']['w']": ...}``.
    """
    check_pytree(tree, "tree", strings=True)
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(k): np.asarray(_key_data(v)) for k, v in flat}


def tree_from_arrays(arrays, like):
    """The inverse of ``tree_to_arrays``: host arrays put back into a pytree structure.

    Args:
      arrays: ``{key path string: array}`` as written by ``tree_to_arrays``.
      like: pytree with the target structure; where it holds a typed PRNG key, the stored key
        data becomes a typed key of the same implementation.

    Returns:
      Pytree of the structure of ``like``.

    Raises:
      JaxinterInputError: when ``arrays`` lacks a leaf of ``like`` (``like`` gives the
        structure only: stored shapes may differ, e.g. records of a growing trajectory).
    """
    check_mapping(arrays, "arrays", optional=False)
    check_pytree(like, "like", strings=True)
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    missing = [jax.tree_util.keystr(k) for k, _ in flat if jax.tree_util.keystr(k) not in arrays]
    if missing:
        raise JaxinterInputError(
            f"arrays, like: no stored array for the leaves {missing[:5]} of like (stored: "
            f"{sorted(arrays)[:5]})")
    leaves = [_restore_key(np.asarray(arrays[jax.tree_util.keystr(k)]), old) for k, old in flat]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _key_data(x):
    return jax.random.key_data(x) if _is_key(x) else x


def _restore_key(new, old):
    if not _is_key(old):
        return new
    return jax.random.wrap_key_data(jnp.asarray(new), impl=jax.random.key_impl(old))


def save_tree(path: Path, tree) -> Path:
    """Save a pytree of arrays as one .npz file, atomically.

    Args:
      path: destination (.npz).
      tree: pytree of arrays (typed PRNG keys included).

    Returns:
      ``path``.
    """
    path = check_path(path, "path", writable="file")
    check_pytree(tree, "tree", strings=True)
    arrays = tree_to_arrays(tree)
    arrays[_CHECKSUM] = np.asarray(_checksum(arrays))
    return write_atomic(path, lambda f: np.savez(f, **arrays))


def load_tree(path: Path, like):
    """Load a pytree saved by ``save_tree``.

    Args:
      path: the .npz file.
      like: pytree with the target structure (e.g. freshly initialized variables).

    Returns:
      Pytree of the structure of ``like``.

    Raises:
      ValueError: when the file is unreadable (truncated) or fails the checksum that
        ``save_tree`` stored with it (damaged).
    """
    path = check_path(path, "path", exists="file")
    check_pytree(like, "like", strings=True)
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (EOFError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise JaxinterInputError(
            f"path: {path} is unreadable (truncated or not an .npz file)") from err
    stored = arrays.pop(_CHECKSUM, None)
    if stored is not None and str(stored) != _checksum(arrays):
        raise JaxinterInputError(f"path: {path} fails its checksum (damaged)")
    return tree_from_arrays(arrays, like)


def save_json(path: Path, obj) -> Path:
    """Write JSON atomically.

    Args:
      path: destination.
      obj: content, converted with ``to_jsonable`` (numpy values, non-finite floats as null).

    Returns:
      ``path``.
    """
    path = check_path(path, "path", writable="file")
    try:
        text = json.dumps(to_jsonable(obj), indent=2)
    except (TypeError, ValueError) as err:
        raise JaxinterInputError(f"obj: expected JSON-able content, got {err}") from err
    return write_atomic(path, text)


class StageCache:
    """Per-stage array storage under a folder, for resumable jobs.

    ``cache.get(key)`` returns the saved dict of arrays or None; ``cache.put(key, arrays)``
    saves it as ``folder/<key>.npz`` (keys: letters, digits, ``_ - .``);
    ``cache.get_or_compute(key, compute, depends)`` does both.

    Two ways to keep results of different settings apart:

    - ``depends`` (per stage): ``put(key, arrays, depends=d)`` stores the JSON dict ``d`` (the
      options this stage's result depends on) inside the stage file, and ``get(key, depends=d)``
      returns the stage only when the stored dict equals ``d``; otherwise None, so the caller
      recomputes it and ``put`` replaces it. Changing a downstream option then recomputes only
      the stages that depend on it.
    - ``config`` (whole run, optional): a cache opened with a config dict different from the
      stamped one deletes all its stages, so resuming never mixes results of different
      settings.

    Safe under interruption: every stage is written atomically, together with its ``depends``
    (one file), the config stamp is written only after stale stages are gone, and leftover
    temporary files are removed on open.

    Integrity: every stage file also records its identity (the stage key and its ``depends``)
    and a SHA-256 checksum of its arrays. On ``get``, a file that cannot be read (truncated by
    a crash), whose checksum does not match (a flipped bit) or that holds another stage (e.g.
    ``layer_3.npz`` copied over ``layer_2.npz``) is reported in one line on stderr, deleted and
    counts as missing, so it is recomputed.

    Args:
      folder: where the stage files live (created if needed).
      config: options of the whole run; stages of another configuration are deleted.
      label: name shown in progress messages (default: the folder's name).
    """

    def __init__(self, folder: Path, config: dict | None = None, label: str = ""):
        folder = check_path(folder, "folder", writable="dir")
        check_mapping(config, "config")
        check_text(label, "label")
        self.folder = Path(folder)
        self.label = label or self.folder.name
        self.folder.mkdir(parents=True, exist_ok=True)
        for f in self.folder.glob("*" + PARTIAL):
            f.unlink()
        if config is None:
            return
        stamp = self.folder / "config.json"
        try:
            config = _canonical(config)
        except (TypeError, ValueError) as err:
            raise JaxinterInputError(f"config: expected JSON-able settings, got {err}") from err
        if not stamp.exists() or _read_json(stamp) != config:
            if stamp.exists():  # stages of another configuration
                for f in self.folder.glob("*.npz"):
                    f.unlink()
            save_json(stamp, config)

    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not re.fullmatch(r"[\w.-]+", key) or key.startswith("."):
            raise ValueError(f"key: expected letters, digits, '_', '-' or '.', got {key!r}")
        return self.folder / f"{key}.npz"

    def get(self, key: str, depends: dict | None = None) -> dict | None:
        """The arrays of a stage, or None.

        Args:
          key: stage name.
          depends: the options the stage depends on; a stage saved with others counts as
            missing.

        Returns:
          ``{name: array}``, or None when the stage is missing, unreadable or (with
          ``depends``) computed with other dependencies.
        """
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = {k: data[k] for k in data.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return self._discard(key, "unreadable (truncated or not an .npz file)")
        problem = _integrity_problem(key, stored)
        if problem:
            return self._discard(key, problem)
        if depends is not None and (
            _DEPENDS not in stored or json.loads(str(stored[_DEPENDS])) != _canonical(depends)
        ):
            return None
        return {k: v for k, v in stored.items() if k not in _RESERVED}

    def _discard(self, key: str, problem: str) -> None:
        """Report a damaged stage file in one line, delete it; None: the stage is missing."""
        log(f"[{self.label}] {key}: cache file {problem}; recomputing")
        self._path(key).unlink(missing_ok=True)
        return None

    def get_or_compute(self, key: str, compute: Callable[[], dict],
                       depends: dict | None = None) -> dict:
        """A stage from the cache if it was saved with the same ``depends``, else computed.

        A reused stage is reported on stderr as ``[label] key: reused from the cache``.

        Args:
          key: stage name.
          compute: ``() -> {name: array}``, called only when the stage is missing.
          depends: the options the stage depends on (JSON-able dict).

        Returns:
          ``{name: numpy array}``, reused or freshly computed and saved.
        """
        found = self.get(key, depends)
        if found is None:
            found = {k: np.asarray(v) for k, v in compute().items()}
            self.put(key, found, depends)
        else:
            log(f"[{self.label}] {key}: reused from the cache")
        return found

    def put(self, key: str, arrays: dict, depends: dict | None = None) -> None:
        """Save a stage atomically.

        Args:
          key: stage name (letters, digits, ``_ - .``).
          arrays: ``{name: array}``.
          depends: the options the stage depends on, stored in the same file.
        """
        reserved = _RESERVED & set(arrays)
        if reserved:
            raise ValueError(f"arrays: the names {sorted(reserved)} are reserved")
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        if depends is not None:
            arrays[_DEPENDS] = np.asarray(json.dumps(_canonical(depends), sort_keys=True))
        arrays[_IDENTITY] = np.asarray(json.dumps({"stage": key, "sha256": _checksum(arrays)}))
        write_atomic(self._path(key), lambda f: np.savez(f, **arrays))


_DEPENDS = "__depends__"  # entry of a stage file holding its dependencies (JSON text)
_IDENTITY = "__identity__"  # entry holding the stage key and the checksum (JSON text)
_RESERVED = frozenset({_DEPENDS, _IDENTITY})
_CHECKSUM = "__sha256__"  # entry of a save_tree file holding the checksum of its arrays


def _checksum(arrays: dict) -> str:
    """SHA-256 of named arrays (names, dtypes, shapes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _integrity_problem(key: str, stored: dict) -> str:
    """Why a loaded stage file cannot be trusted ("" when it can)."""
    try:
        identity = json.loads(str(stored[_IDENTITY]))
        stage, checksum = identity["stage"], identity["sha256"]
    except (KeyError, ValueError, TypeError):
        return "has no identity record (written by an older version or damaged)"
    if stage != key:
        return f"holds stage {stage!r}, not {key!r} (a swapped file)"
    if checksum != _checksum({k: v for k, v in stored.items() if k != _IDENTITY}):
        return "fails its checksum (damaged)"
    return ""


def _canonical(obj):
    """``obj`` as it reads back from JSON (tuples as lists, numpy values as Python ones)."""
    return json.loads(json.dumps(to_jsonable(obj)))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
