"""One tracker design for measurements taken while a model trains.

A tracker measures a model at checkpoints of a training run and keeps the measurements as a
history. :class:`InteractionTracker` (interactions of a probe set, losses) and
:class:`SeparationTracker` (separation fuzziness of every layer, the law's fit) are both
:class:`Tracker` subclasses, and so can be your own. Every tracker offers:

- ``record(params, *args) -> record``: the measurement of one model, a ``flax.struct``
  dataclass of arrays (the class ``record_type``). Pure. With ``traceable = True``
  (interactions) it is jittable and runs inside your jitted code; with ``traceable = False``
  (separation, computed on the host in float64) it runs in host code.
- ``every``: steps between records.
- ``tracker(step, variables, metrics=None)``: record and keep; this is the callback of
  :func:`jaxinter.training.train` (``train(model, data, callback=tracker)`` calls it every
  ``tracker.every`` steps).
- ``maybe_record(step, params, *args)``: for your own jitted training step; records when
  ``step % every == 0`` (``lax.cond`` + an ordered ``io_callback``). A traceable tracker
  measures inside the compiled step; a host tracker copies the parameters out and measures them
  at the next :meth:`Tracker.history` or :meth:`Tracker.flush` (callbacks must not call JAX).
- ``record_members(params, labels)``: a population's members at once (leading member axis), as
  :func:`jaxinter.training.train_population` calls it.
- ``save(step, record)``, ``steps()``, ``history() -> History``: records kept in memory, or
  with ``folder`` one atomic ``.npz`` per checkpoint that a rerun with the same configuration
  resumes from (another configuration starts afresh).

A hand-written Flax NNX + optax loop with both trackers::

    graphdef, state = nnx.split(model)
    apply_fn = lambda state, x: nnx.merge(graphdef, state)(x)
    interactions = InteractionTracker(apply_fn, x_probe, y_probe, players, baseline,
                                      train=(x, y), test=(x_test, y_test), every=50)
    separation = SeparationTracker(capture(model, None, r"hidden_\\d+"), x, y, every=50)

    @jax.jit
    def step(state, opt_state, i):
        interactions.maybe_record(i, state)
        separation.maybe_record(i, state)
        ...  # loss, grads, optax update
        return state, opt_state

    history = interactions.history()  # steps (T,), record fields (T, ...)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import jax
import numpy as np
from flax import struct
from jax.experimental import io_callback

from ..errors import JaxinterInputError, check_int, check_mapping, check_path, check_pytree
from ..io import StageCache


@struct.dataclass
class History:
    """Records of a run stacked along the checkpoint axis; host (numpy) arrays.

    steps: (T,) training steps of the checkpoints, increasing.
    record: the tracker's ``record_type`` with every field (T, ...); a population run adds the
      member axis: (T, P, ...).
    """

    frame_axes: ClassVar[dict] = {"record": ("step", ...)}

    steps: np.ndarray
    record: Any

    def frame_coords(self) -> dict:
        """Labels of the axes of ``jaxinter.io.to_dataframe``."""
        return {"step": np.asarray(self.steps)}

def _step_key(step: int) -> str:
    return f"step_{int(step):010d}"


def _host_copy(tree):
    """Numpy copies of every leaf (callbacks receive arrays whose buffers JAX may reuse)."""
    return jax.tree.map(lambda a: np.array(a, copy=True), tree)


class Tracker:
    """Base of every tracker: keeps records by step, in memory or in a folder.

    Subclasses set ``record_type`` (a ``flax.struct`` dataclass of arrays) and ``traceable``
    and define :meth:`record`; see the module docstring for the interface.

    Args:
      every: positive number of steps between records.
      folder: where records are written (one atomic ``.npz`` per checkpoint); None keeps them
        in memory.
      stamp: JSON-able configuration of the records; a folder written with another stamp is
        emptied before use, so a rerun resumes only what the same configuration wrote.
    """

    record_type: ClassVar[type]
    traceable: ClassVar[bool] = True

    def __init__(self, every: int, folder: Path | str | None = None,
                 stamp: Mapping | None = None):
        self.every = check_int(every, "every", 1)
        check_mapping(stamp, "stamp")
        self.folder = check_path(folder, "folder", writable="dir", optional=True)
        self.cache = None if folder is None else StageCache(self.folder, dict(stamp or {}))
        self._memory: dict[int, dict[str, np.ndarray]] = {}
        self._deferred: list[tuple[int, Any, tuple]] = []

    def record(self, params, *args):
        """The measurement of one model: an instance of ``record_type``."""
        raise NotImplementedError

    def record_members(self, params, labels=None):
        """:meth:`record` of P models at once.

        Args:
          params: the models' parameters with a leading member axis (P) on every leaf.
          labels: (P, n_train) each member's training labels, for trackers whose record uses
            them (the train loss of :class:`InteractionTracker`); others ignore them.

        Returns:
          a ``record_type`` with a leading member axis on every field.
        """
        if self.traceable:
            return self._vmapped_record(params)
        size = jax.tree.leaves(params)[0].shape[0]
        records = [self.record(jax.tree.map(lambda a, m=m: a[m], params)) for m in range(size)]
        return jax.tree.map(lambda *xs: np.stack(xs), *records)

    @functools.cached_property
    def _vmapped_record(self):
        return jax.jit(jax.vmap(self.record))

    def __call__(self, step: int, variables, metrics: Mapping | None = None) -> None:
        """Record ``variables`` at ``step`` and keep the record (the callback of ``train``)."""
        check_int(step, "step", 0)
        self.save(step, self.record(check_pytree(variables, "variables")))

    def maybe_record(self, step, params, *args) -> None:
        """Inside a jitted step: record ``params`` when ``step % every == 0``.

        Args:
          step: () int, traced or not.
          params: what :meth:`record` takes.
          *args: further arguments of :meth:`record`.
        """
        def write(operands):
            if self.traceable:
                io_callback(self.save, None, step, self.record(*operands), ordered=True)
            else:
                io_callback(self._defer, None, step, *operands, ordered=True)

        jax.lax.cond(step % self.every == 0, write, lambda _: None, (params, *args))

    def _defer(self, step, params, *args) -> None:
        self._deferred.append((int(step), _host_copy(params), _host_copy(args)))

    def flush(self) -> None:
        """Record the checkpoints that :meth:`maybe_record` deferred (host trackers)."""
        jax.effects_barrier()
        while self._deferred:
            step, params, args = self._deferred.pop(0)
            self.save(step, self.record(params, *args))

    def save(self, step: int, record) -> None:
        """Keep ``record`` as the checkpoint of ``step`` (replacing one kept before)."""
        arrays = {f.name: np.array(getattr(record, f.name), copy=True)
                  for f in dataclasses.fields(self.record_type)}
        if self.cache is None:
            self._memory[int(step)] = arrays
        else:
            self.cache.put(_step_key(step), arrays)

    def steps(self) -> list[int]:
        """Steps recorded so far, sorted; a resumed run continues after the last one."""
        self.flush()
        if self.cache is None:
            return sorted(self._memory)
        names = self.folder.glob("step_*.npz")  # the stage cache writes "*.partial" first
        return sorted(int(p.stem.removeprefix("step_")) for p in names)

    def history(self) -> History:
        """Every record so far, stacked along the checkpoint axis (T first)."""
        loaded = {}
        for step in self.steps():
            arrays = (self._memory[step] if self.cache is None
                      else self.cache.get(_step_key(step)))
            if arrays is not None:  # an unreadable file is dropped by the cache
                loaded[step] = arrays
        if not loaded:
            where = f" in {self.folder}" if self.folder is not None else ""
            raise JaxinterInputError(f"tracker: nothing recorded yet{where}")
        fields = {f.name: np.stack([a[f.name] for a in loaded.values()])
                  for f in dataclasses.fields(self.record_type)}
        return History(np.asarray(list(loaded)), self.record_type(**fields))
