"""CLI subcommands; see :mod:`jaxinter.cli`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_common_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Arguments every analysis command shares: ``--out`` and ``--seed``."""
    parser.add_argument(
        "--out", type=Path, default=Path("runs") / command,
        help=f"output folder for report.html, figures and summary.json (default runs/{command})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
