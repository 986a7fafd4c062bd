"""Running a model over many inputs: one jitted program over fixed-size batches."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import jax
import numpy as np

from ..errors import JaxinterInputError, check_int, check_real_array


@lru_cache(maxsize=32)
def _jitted(fn: Callable) -> Callable:
    return jax.jit(fn)


def apply_in_batches(fn: Callable, x, *params, batch_size: int = 512):
    """``fn(*params, x)`` computed over ``x`` in batches and gathered on the host.

    Args:
      fn: ``(*params, xb) -> pytree`` whose leaves have the batch axis first; it is jitted once
        per function (a module-level function is compiled once for all calls, and ``params``,
        e.g. model weights, enter as traced arguments, so new weights reuse the program).
      x: (n, ...) inputs; the last batch is zero-padded, so every batch has one shape.
      params: pytrees passed to ``fn`` before the batch.
      batch_size: rows per batch (at most n are used).

    Returns:
      The pytree of ``fn`` with numpy leaves of leading size n.
    """
    if not callable(fn):
        raise JaxinterInputError(f"fn: expected a function of a batch, got {fn!r}")
    check_int(batch_size, "batch_size", 1)
    shape, _ = check_real_array(x, "x")
    x = np.asarray(x)
    if not shape or shape[0] == 0:
        raise JaxinterInputError("x: expected at least one sample, got none")
    n = x.shape[0]
    batch = min(batch_size, n)
    try:
        run = _jitted(fn)
    except TypeError:  # an unhashable callable: compile for this call only
        run = jax.jit(fn)
    parts = []
    for start in range(0, n, batch):
        chunk = x[start:start + batch]
        pad = batch - chunk.shape[0]
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *x.shape[1:]), x.dtype)])
        out = jax.device_get(run(*params, chunk))
        parts.append(jax.tree.map(lambda a, keep=batch - pad: np.asarray(a)[:keep], out))
    return jax.tree.map(lambda *leaves: np.concatenate(leaves), *parts)
