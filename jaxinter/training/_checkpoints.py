"""Training checkpoints: a :class:`TrainState`, its history and settings in one atomic file."""

from __future__ import annotations

import json
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from ..errors import JaxinterInputError, check_instance, check_mapping, check_path
from ..io import load_tree, save_json, save_tree, to_jsonable
from ._trainer import TrainState


def save_checkpoint(path, state: TrainState, history: list[dict], config: dict | None = None):
    """Save ``state``, ``history`` and ``config`` atomically to one ``path`` (.npz).

    Args:
      path: the .npz file; a readable copy of history and config goes next to it (.json), only
        the .npz is read back.
      state: the :class:`TrainState` (typed PRNG keys included).
      history: the rows logged so far (JSON-able dicts).
      config: settings a resume must match (see :func:`load_checkpoint`).

    Returns:
      ``path`` as a ``Path``.
    """
    path = check_path(path, "path", writable="file")
    check_instance(state, "state", TrainState)
    if isinstance(history, str) or not isinstance(history, Sequence):
        raise JaxinterInputError(f"history: expected a list of dicts, got {history!r:.60}")
    check_mapping(config, "config")
    try:
        meta = json.dumps(to_jsonable({"history": history, "config": config or {}}))
    except TypeError as err:
        raise JaxinterInputError(f"history: expected JSON-able rows and config, got {err}") from err
    save_tree(path, {"state": state, "meta": meta})
    save_json(path.with_suffix(".json"), json.loads(meta))
    return path


def load_checkpoint(path, like: TrainState, config: dict | None = None, *,
                    name: str = "path"):
    """Load a checkpoint of :func:`save_checkpoint` into the structure of ``like``.

    Args:
      path: the .npz file.
      like: a :class:`TrainState` of the same model (e.g. ``trainer.init(key)``).
      config: settings that must equal the saved ones on every shared key.
      name: how error messages name ``path`` (``train``: "checkpoint").

    Returns:
      (state, history).

    Raises :class:`JaxinterInputError` when there is no checkpoint, when it was written for
    another model (other parameter names or shapes), or when its saved config differs from
    ``config`` on a shared key.
    """
    path = check_path(path, name)
    if not path.is_file():
        raise JaxinterInputError(f"{name}: no checkpoint at {path}")
    check_instance(like, "like", TrainState)
    check_mapping(config, "config")
    try:
        loaded = load_tree(path, {"state": like, "meta": ""})
    except (KeyError, OSError, ValueError) as err:
        raise JaxinterInputError(
            f"{name}: {path} was not written by save_checkpoint for this model ({err})"
        ) from err
    for (where, new), old in zip(
        jax.tree_util.tree_flatten_with_path(loaded["state"])[0], jax.tree.leaves(like), strict=True
    ):
        if new.shape != old.shape:
            raise JaxinterInputError(
                f"{name}: {path} holds {jax.tree_util.keystr(where)} of shape {new.shape}, "
                f"this model has {old.shape}"
            )
    meta = json.loads(str(loaded["meta"]))
    clash = {
        k: (meta["config"][k], v)
        for k, v in (config or {}).items()
        if k in meta["config"] and meta["config"][k] != to_jsonable(v)
    }
    if clash:
        raise JaxinterInputError(
            f"{name}: {path} was written with other settings (saved, now): {clash}; "
            "pass another checkpoint path to start afresh"
        )
    return jax.tree.map(jnp.asarray, loaded["state"]), meta["history"]


