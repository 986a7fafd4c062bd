"""The ``jaxinter`` command line: one subcommand per analysis.

Each subcommand lives in ``jaxinter/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; an analysis command also provides
``config_from_args(args)``, which validates every option before any work. Every analysis
command accepts ``--out DIR`` and writes ``report.html``, its PNG figures and ``summary.json``
there. Every command also runs over several processes (``--coordinator``, ``--num-processes``,
``--process-id``, or ``--cluster``) with its heavy stages on all devices of all processes
(docs/distributed.md). Compiled programs are kept in JAX's persistent compilation cache (by
default ``~/.cache/jaxinter/xla``), so a second run skips most compilation: ``--compile-cache
DIR`` moves it, ``--no-compile-cache`` (or ``JAXINTER_COMPILE_CACHE=off``) turns it off.

Exit status: 0 on success, 2 for bad input (one line ``jaxinter CMD: error: ...``, no
traceback), 130 when interrupted (Ctrl-C; one line saying what is kept and how to resume). The
executable is ``jaxinter.__main__.entry``, which handles Ctrl-C before this module (and JAX)
loads.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

from .commands._arguments import output_folder
from .distributed import global_mesh, initialize, process_index, using_mesh
from .errors import JaxinterInputError
from .interrupt import EXIT_INTERRUPTED, finish, interruptible

COMMANDS = ("layerwise", "dynamics", "separation", "correlations", "selfcheck", "sweep")
EXIT_BAD_INPUT = 2
COMPILE_CACHE_ENV = "JAXINTER_COMPILE_CACHE"  # a folder, or "off"
MIN_CACHED_COMPILE_S = 0.2  # programs that compile faster are not worth a file


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``PROG: error: MESSAGE``, exit 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def command_modules() -> dict:
    """The modules of the commands, by name (importing them loads JAX, Flax, optax and
    matplotlib)."""
    modules = {}
    for name in COMMANDS:
        module_name = f"jaxinter.commands.{name}"
        try:
            modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as err:  # a command not built yet
            if err.name != module_name:
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jaxinter",
        description="Explain what a neural network knows, layer by layer.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in command_modules().items():
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(command)
        add_compile_cache_arguments(command)
        command.set_defaults(run=module.run, configure=getattr(module, "config_from_args", None),
                             own_process_setup=getattr(module, "OWN_PROCESS_SETUP", False),
                             kept_in=getattr(module, "KEPT_IN", "cache"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand: options are validated first (bad input: one line, exit status 2),
    then the work runs (Ctrl-C: one line, exit status 130)."""
    args = None
    try:
        with interruptible():
            args = build_parser().parse_args(argv)
            if args.configure is not None:
                args.configure(args)  # every option checked before any work
            setup = (contextlib.nullcontext() if args.own_process_setup
                     else distributed_run(args))
            with compile_cache(args.compile_cache), setup:
                return int(args.run(args) or 0)
    except JaxinterInputError as err:
        print(f"jaxinter {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        name = "jaxinter" if args is None else f"jaxinter {args.command}"
        print(f"{name}: interrupted; {_kept(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _kept(args: argparse.Namespace | None) -> str:
    """What an interrupted run keeps, and how to resume it (``args`` is None while the options
    are still being read)."""
    if args is None:
        return "nothing was computed yet; run the same command again"
    out = getattr(args, "out", None)
    if out is None:
        return "nothing is kept; run the same command again"
    return (f"finished stages are kept in {out / args.kept_in}; run the same command again to "
            f"resume")


def add_compile_cache_arguments(parser: argparse.ArgumentParser) -> None:
    """``--compile-cache DIR`` and ``--no-compile-cache`` (JAX's persistent compilation cache)."""
    g = parser.add_argument_group("compilation cache")
    g.add_argument("--compile-cache", type=output_folder, default=default_compile_cache(),
                   metavar="DIR",
                   help=f"keep compiled programs in DIR for later runs (default "
                        f"${COMPILE_CACHE_ENV}, else ~/.cache/jaxinter/xla)")
    g.add_argument("--no-compile-cache", dest="compile_cache", action="store_const", const=None,
                   help="compile everything afresh and keep nothing")


def default_compile_cache() -> Path | None:
    """The compilation cache folder: ``$JAXINTER_COMPILE_CACHE`` ("off": None), else
    ``$XDG_CACHE_HOME/jaxinter/xla`` (``~/.cache/jaxinter/xla``)."""
    chosen = os.environ.get(COMPILE_CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen)
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "jaxinter" / "xla"


@contextlib.contextmanager
def compile_cache(folder: Path | None):
    """JAX's persistent compilation cache in ``folder`` while the block runs (None: as it was).

    Programs that take at least ``MIN_CACHED_COMPILE_S`` to compile are written there and read
    back by later processes instead of being compiled again; the previous settings come back
    after the block.
    """
    if folder is None:
        yield
        return
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    previous = [getattr(jax.config, name) for name in names]
    for name, value in zip(names, (str(folder.expanduser()), MIN_CACHED_COMPILE_S), strict=True):
        jax.config.update(name, value)
    compilation_cache.reset_cache()  # JAX decides once per process whether to use the cache
    try:
        yield
    finally:
        for name, value in zip(names, previous, strict=True):
            jax.config.update(name, value)
        compilation_cache.reset_cache()


@contextlib.contextmanager
def distributed_run(args):
    """Start ``jax.distributed`` when the options ask for it and run the command with its heavy
    stages on one mesh over every device of every process (a no-op on one device).

    Every process computes the same results; process 0 writes ``--out``, process i > 0 writes
    its copy (and its stage cache, so that a resumed run takes the same path on every process)
    to ``--out/processes/i``.
    """
    initialize(getattr(args, "coordinator", None), getattr(args, "num_processes", None),
               getattr(args, "process_id", None), auto=getattr(args, "cluster", False))
    if getattr(args, "out", None) is not None and process_index() > 0:
        args.out = args.out / "processes" / str(process_index())
    if jax.device_count() == 1:
        yield
        return
    with using_mesh(global_mesh()):
        yield


if __name__ == "__main__":  # python -m jaxinter.cli: as python -m jaxinter, once JAX has loaded
    finish(main())
