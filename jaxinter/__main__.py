"""The ``jaxinter`` executable (also ``python -m jaxinter``).

Ctrl-C handling is set up first, with the standard library only. While the command line and
its libraries (JAX, Flax, optax, matplotlib) load, Ctrl-C ends the process at once with one
line: an exception raised inside a compiled extension's initialisation can crash the
interpreter. From then on it is handled by ``jaxinter.cli.main`` (one line saying what is kept,
exit status 130).
"""

from __future__ import annotations

import sys

from .interrupt import EXIT_INTERRUPTED, exit_on_interrupt, finish, interruptible

STARTING = "jaxinter: interrupted while starting; nothing was computed yet"


def entry() -> None:
    """Load the command line with Ctrl-C handled from the first moment, run
    ``jaxinter.cli.main`` and exit with its status."""
    with interruptible():
        try:
            with exit_on_interrupt(STARTING):
                from .cli import command_modules, main

                command_modules()
            code = main()
        except KeyboardInterrupt:  # between the loading and main's own handling
            print(STARTING, file=sys.stderr)
            code = EXIT_INTERRUPTED
        finish(code)


if __name__ == "__main__":
    entry()
