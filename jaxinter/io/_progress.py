"""Progress display for long jobs: one line per step on stderr with elapsed time and ETA."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator


def progress(items: Iterable, desc: str, total: int | None = None, stream=None) -> Iterator:
    """Iterate over ``items``, printing ``[desc] i/total elapsed ... eta ...`` after each one.

    Args:
      items: any iterable.
      desc: label of the progress lines.
      total: number of items (default ``len(items)`` when it has one).
      stream: where to print (default stderr).

    Yields:
      The items of ``items``.
    """
    stream = sys.stderr if stream is None else stream
    total = len(items) if total is None and hasattr(items, "__len__") else total
    start = time.perf_counter()
    for i, item in enumerate(items, 1):
        yield item
        elapsed = time.perf_counter() - start
        eta = f" eta {elapsed / i * (total - i):.1f}s" if total else ""
        of = f"/{total}" if total else ""
        print(f"[{desc}] {i}{of} elapsed {elapsed:.1f}s{eta}", file=stream, flush=True)


def log(message: str, stream=None) -> None:
    """Print a progress message (flushed).

    Args:
      message: the text.
      stream: where to print (default stderr).
    """
    print(message, file=sys.stderr if stream is None else stream, flush=True)
