"""Training checkpoints with Orbax: a :class:`TrainState`, its history and settings.

A checkpoint is a folder holding one Orbax checkpoint per saved step (``path/<step>``, the
state with the history and settings as its JSON metadata; see ``jaxinter.io.save_sharded``).
Each appears whole or not at all, and saving a step removes the older ones only once it is
complete, so an interruption at any moment leaves the previous step or the new one. Every
process calls both functions; the state may be split over the devices of several processes
and is restored onto the devices of the run that reads it, whatever their number.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import jax

from ..errors import JaxinterInputError, check_int, check_mapping, check_path, check_pytree
from ..io import restore_sharded, save_sharded, sharded_meta, to_jsonable


def checkpoint_step(path) -> int | None:
    """The latest step saved whole under the checkpoint folder ``path``; None if there is none
    (no folder, or only an interrupted save)."""
    path = check_path(path, "path")
    if not path.is_dir():
        return None
    steps = [int(p.name) for p in path.iterdir() if p.name.isdigit() and p.is_dir()]
    return max(steps, default=None)


def save_checkpoint(path, state, history: list[dict], config: dict | None = None, *,
                    step: int | None = None) -> Path:
    """Save ``state``, ``history`` and ``config`` as step ``step`` of the folder ``path``.

    Args:
      path: the checkpoint folder (created); the steps saved before are removed once this
        one is complete.
      state: the :class:`TrainState`, or any pytree of arrays (a population's): typed PRNG
        keys and arrays split over devices and processes included.
      history: the rows logged so far (JSON-able dicts).
      config: settings a resume must match (see :func:`load_checkpoint`).
      step: the step number (default ``state.step``).

    Returns:
      ``path`` as a ``Path``.
    """
    path = check_path(path, "path", writable="dir")
    if path.exists() and not path.is_dir():
        raise JaxinterInputError(f"path: expected a checkpoint folder, got the file {path}")
    if isinstance(history, str) or not isinstance(history, Sequence):
        raise JaxinterInputError(f"history: expected a list of dicts, got {history!r:.60}")
    check_mapping(config, "config")
    check_pytree(state, "state")
    if step is None and not hasattr(state, "step"):
        raise JaxinterInputError(f"state: expected a TrainState (or pass step=), got {state!r:.60}")
    step = int(state.step) if step is None else check_int(step, "step", 0)
    try:
        meta = to_jsonable({"history": list(history), "config": config or {}})
        json.dumps(meta)
    except TypeError as err:
        raise JaxinterInputError(f"history: expected JSON-able rows and config, got {err}") from err
    save_sharded(path / str(step), {"state": state}, meta=meta)
    if jax.process_index() == 0:  # the new step is whole on every process: drop the others
        for old in path.iterdir():
            if old.name != str(step) and old.name.split(".")[0].isdigit():
                shutil.rmtree(old, ignore_errors=True)
    return path


def load_checkpoint(path, like, config: dict | None = None, mesh=None, *, name: str = "path"):
    """Load the latest step of a checkpoint folder of :func:`save_checkpoint`.

    Args:
      path: the checkpoint folder.
      like: a :class:`TrainState` of the same model (e.g. ``trainer.init(key)``); its leaves
        give the shapes, dtypes and, without ``mesh``, the shardings of the result.
      config: settings that must equal the saved ones on every shared key.
      mesh: restore onto this ``jax.sharding.Mesh`` instead: leaves whose first axis splits
        evenly over its (first) axis are split, the others replicated.
      name: how error messages name ``path`` (``train``: "checkpoint").

    Returns:
      (state, history).

    Raises :class:`JaxinterInputError` when there is no checkpoint, when it was written for
    another model (other parameter names or shapes), or when its saved config differs from
    ``config`` on a shared key.
    """
    path = check_path(path, name)
    check_pytree(like, "like")
    check_mapping(config, "config")
    step = checkpoint_step(path)
    if step is None:
        raise JaxinterInputError(f"{name}: no checkpoint at {path}")
    latest = path / str(step)
    meta = sharded_meta(latest) or {}
    saved = meta.get("config", {})
    clash = {k: (saved[k], v) for k, v in to_jsonable(config or {}).items()
             if k in saved and saved[k] != v}
    if clash:
        raise JaxinterInputError(
            f"{name}: {latest} was written with other settings (saved, now): {clash}; "
            "pass another checkpoint path to start afresh")
    try:
        state = restore_sharded(latest, {"state": like}, mesh=mesh)["state"]
    except (KeyError, OSError, ValueError) as err:
        raise JaxinterInputError(
            f"{name}, like: {latest} was not written by save_checkpoint for a state like `like`: "
            f"{err}") from err
    return state, meta.get("history", [])
