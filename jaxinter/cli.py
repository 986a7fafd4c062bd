"""The ``jaxinter`` command line: one subcommand per analysis.

Each subcommand lives in ``jaxinter/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Every analysis command accepts ``--out DIR``
and writes ``report.html``, its PNG figures and ``summary.json`` there. Every command also runs
over several processes (``--coordinator``, ``--num-processes``, ``--process-id``, or
``--cluster``) with its heavy stages on all devices of all processes (docs/distributed.md).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

import jax

from .distributed import global_mesh, initialize, process_index, using_mesh
from .errors import JaxinterInputError

COMMANDS = ("layerwise", "dynamics", "separation", "correlations", "selfcheck")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxinter",
        description="Explain what a neural network knows, layer by layer.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"jaxinter.commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:  # a command not built yet
            if err.name == module_name:
                continue
            raise
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; bad input ends with ``jaxinter CMD: error: ...`` and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        with distributed_run(args):
            return int(args.run(args) or 0)
    except JaxinterInputError as err:
        print(f"jaxinter {args.command}: error: {err}", file=sys.stderr)
        return 2


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


if __name__ == "__main__":
    sys.exit(main())
