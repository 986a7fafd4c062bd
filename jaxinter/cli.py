"""The ``jaxinter`` command line: one subcommand per analysis.

Each subcommand lives in ``jaxinter/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; an analysis command also provides
``config_from_args(args)``, which validates every option before any work. Every analysis
command accepts ``--out DIR`` and writes ``report.html``, its PNG figures and ``summary.json``
there. Every command also runs over several processes (``--coordinator``, ``--num-processes``,
``--process-id``, or ``--cluster``) with its heavy stages on all devices of all processes
(docs/distributed.md).

Exit status: 0 on success, 2 for bad input (one line ``jaxinter CMD: error: ...``, no
traceback), 130 when interrupted (Ctrl-C; one line saying what is kept and how to resume). The
executable is ``jaxinter.__main__.entry``, which handles Ctrl-C before this module (and JAX)
loads.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

import jax

from .distributed import global_mesh, initialize, process_index, using_mesh
from .errors import JaxinterInputError
from .interrupt import EXIT_INTERRUPTED, finish, interruptible

COMMANDS = ("layerwise", "dynamics", "separation", "correlations", "selfcheck", "sweep")
EXIT_BAD_INPUT = 2


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
            with setup:
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
