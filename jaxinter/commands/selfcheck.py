"""Verify the exact transform engine on this machine and print what was checked."""

from __future__ import annotations

import argparse

from ._arguments import int_at_least

HELP = "quick self-check of the exact subset transforms"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--n", type=int_at_least(1, 24), default=12,
        help="players for the reconstruction check (1..24)",
    )


def render_selfcheck(study) -> str:
    """The text the command prints for a :class:`jaxinter.studies.SelfCheckStudy`."""
    lines = [f"jax {study.jax_version} on {study.platform}"]
    lines += [f"{'ok  ' if c.ok else 'FAIL'} {c.message}" for c in study.checks]
    failed = sum(not c.ok for c in study.checks)
    lines.append("self-check passed" if not failed else f"self-check FAILED ({failed} checks)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..studies import SelfCheckConfig, run_selfcheck

    study = run_selfcheck(SelfCheckConfig(n=args.n))
    print(render_selfcheck(study))
    return int(not study.passed)
