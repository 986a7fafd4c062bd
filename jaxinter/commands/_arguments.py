"""Arguments every command shares, and argparse types that check flags at parse time."""

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


def int_at_least(low: int, high: int | None = None):
    """argparse type: an integer in ``low..high`` (bad flags fail with a usage message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {value}")
        return value

    return parse
