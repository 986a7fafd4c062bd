"""The ``jaxinter`` command line: one subcommand per analysis.

Each subcommand lives in ``jaxinter/commands/<name>.py`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Every analysis command accepts ``--out DIR``
and writes ``report.html``, its PNG figures and ``summary.json`` there.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import JaxinterInputError

COMMANDS = ("layerwise", "dynamics", "separation", "correlations", "selfcheck", "sweep")


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
        return int(args.run(args) or 0)
    except JaxinterInputError as err:
        print(f"jaxinter {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
