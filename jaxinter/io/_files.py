"""Files that are whole or absent: atomic writes, and values converted for JSON."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import JaxinterInputError, check_path


def write_atomic(path: Path, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write a file so that readers see the old file or the whole new one, never a part.

    The data goes to ``<name>.partial`` (which no reader takes for a result), is flushed to
    disk, then renamed over ``path``; parent folders are created.

    Args:
      path: destination.
      data: bytes, text (written as UTF-8), or a function that writes into the open binary
        file.

    Returns:
      ``path``.
    """
    path = check_path(path, "path", writable="file")
    if not isinstance(data, bytes | str) and not callable(data):
        raise JaxinterInputError(
            f"data: expected bytes, text or a function of a binary file, got {type(data).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + PARTIAL)
    with open(tmp, "wb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


PARTIAL = ".partial"  # suffix of a file being written (see ``write_atomic``)


def to_jsonable(value):
    """Convert numpy/jax scalars and arrays, nested in dicts and lists, to JSON-ready values.

    Args:
      value: any nesting of dicts, lists, tuples, paths, arrays and scalars.

    Returns:
      The same nesting with lists, Python numbers and strings; dict keys become strings and
      non-finite floats become None (JSON null).
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return to_jsonable(np.asarray(value).tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def file_fingerprint(path: str | Path) -> list:
    """What identifies a file's or folder's content cheaply: the relative names, sizes and
    modification times of its files (a stage cache ``depends`` on it to see a changed input).

    Args:
      path: a file or a directory (e.g. a checkpoint).

    Returns:
      A JSON-able list.
    """
    path = check_path(path, "path", exists="any")
    path = Path(path).expanduser()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[str(p.relative_to(path)) if path.is_dir() else p.name, p.stat().st_size,
             p.stat().st_mtime_ns] for p in files]
