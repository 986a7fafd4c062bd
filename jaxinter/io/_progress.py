"""Progress of long jobs on stderr: a live tqdm bar on a terminal, one line per stage elsewhere.

On a terminal a stage shows a tqdm bar with its count, rate and ETA (and the latest metrics).
When the stream is not a terminal (CI, a log file, a notebook's captured stderr) a stage prints
one line when it starts and one when it ends, with the counts and the seconds it took, so logs
stay short and readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm

from ..errors import JaxinterInputError, check_int, check_text


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _shown(metrics: dict) -> str:
    return " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in metrics.items())


class Progress:
    """Progress of one stage of ``total`` units; use it as a context manager.

    Args:
      desc: label of the stage, e.g. ``"train"``.
      total: number of units the stage will do (None when unknown).
      unit: name of one unit, e.g. ``"step"``.
      initial: units already done when the stage starts (a resumed run).
      stream: where to write (default stderr); a live bar when it is a terminal.
    """

    def __init__(self, desc: str, total: int | None = None, unit: str = "it",
                 initial: int = 0, stream=None):
        check_text(desc, "desc")
        check_int(total, "total", 0, optional=True)
        check_text(unit, "unit")
        check_int(initial, "initial", 0)
        check_stream(stream)
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = sys.stderr if stream is None else stream
        self.done, self.metrics, self._start = initial, {}, time.perf_counter()
        self._bar = None
        if _is_terminal(self.stream):
            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit,
                             file=self.stream, dynamic_ncols=True)
        else:
            of = f"/{total}" if total is not None else ""
            log(f"[{desc}] start: {initial}{of} {unit}s done", self.stream)

    def update(self, n: int = 1, **metrics) -> None:
        """Count ``n`` more units done; ``metrics`` (e.g. ``loss=0.3``) are shown with them."""
        self.done += n
        self.metrics.update(metrics)
        if self._bar is not None:
            if metrics:
                self._bar.set_postfix(metrics, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        """End the stage: close the bar, or print the closing line."""
        if self._bar is not None:
            self._bar.close()
            return
        seconds = time.perf_counter() - self._start
        of = f"/{self.total}" if self.total is not None else ""
        extra = f", {_shown(self.metrics)}" if self.metrics else ""
        log(f"[{self.desc}] done: {self.done}{of} {self.unit}s in {seconds:.1f}s{extra}",
            self.stream)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Iterable, desc: str, total: int | None = None, stream=None) -> Iterator:
    """Iterate over ``items`` with a :class:`Progress` of one unit per item.

    Args:
      items: any iterable.
      desc: label of the stage.
      total: number of items (default ``len(items)`` when it has one).
      stream: where to write (default stderr).

    Yields:
      The items of ``items``.
    """
    if not isinstance(items, Iterable):
        raise JaxinterInputError(f"items: expected an iterable, got {type(items).__name__}")
    total = len(items) if total is None and hasattr(items, "__len__") else total
    with Progress(desc, total, stream=stream) as bar:
        for item in items:
            yield item
            bar.update()


def check_stream(stream) -> None:
    """Raise unless ``stream`` is None or has a ``write`` method (a text file, ``sys.stderr``)."""
    if stream is not None and not callable(getattr(stream, "write", None)):
        raise JaxinterInputError(
            f"stream: expected a text stream (sys.stderr) or None, got {type(stream).__name__}")


def log(message: str, stream=None) -> None:
    """Write a progress message on its own line (above a live bar, if one is shown).

    Args:
      message: the text.
      stream: where to write (default stderr).
    """
    check_text(message, "message")
    check_stream(stream)
    stream = sys.stderr if stream is None else stream
    tqdm.write(message, file=stream)
    stream.flush()
