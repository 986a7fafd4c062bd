"""Ctrl-C for the ``jaxinter`` command: the standard library only, so that the command can set
it up before JAX loads (rank 0 beside ``jaxinter.errors``).

- ``interruptible()``: Ctrl-C raises ``KeyboardInterrupt`` where the program is, except inside a
  garbage-collector callback (JAX registers one), where Python would print and drop it: the
  signal is then sent again a moment later.
- ``exit_on_interrupt(message)``: Ctrl-C prints one line and ends the process at once, for the
  time libraries load (an exception raised inside a compiled extension's initialisation can
  crash the interpreter).
- ``finish(code)``: exit; after Ctrl-C at once (``os._exit``), as XLA's threads may still run
  and crash the interpreter's shutdown.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


@contextlib.contextmanager
def sigint_handler(handler):
    """Install ``handler`` for SIGINT (main thread only; elsewhere nothing changes) and bring
    the previous handler back on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interruptible():
    """Ctrl-C raises ``KeyboardInterrupt`` (re-sent when it lands in a garbage-collector
    callback)."""
    return sigint_handler(on_sigint)


def on_sigint(signum, frame):
    """SIGINT handler: raise ``KeyboardInterrupt``, or send the signal again 50 ms later when
    ``frame`` is inside a garbage-collector callback (Python would drop the exception)."""
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def exit_on_interrupt(message: str):
    """Ctrl-C prints ``message`` to stderr and ends the process at once with exit status 130
    (nothing is unwound)."""

    def handler(signum, frame):
        print(message, file=sys.stderr)
        finish(EXIT_INTERRUPTED)

    return sigint_handler(handler)


def finish(code: int) -> None:
    """Exit with ``code``; after an interrupt (``EXIT_INTERRUPTED``) without the interpreter's
    shutdown."""
    if code == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
