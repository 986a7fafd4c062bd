"""Verify the exact transform engine on this machine and print what was checked."""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

HELP = "quick self-check of the exact subset transforms"


def _players(text: str) -> int:
    try:
        n = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected an integer number of players, got {text!r}"
        ) from err
    if not 1 <= n <= 24:
        raise argparse.ArgumentTypeError(f"expected 1..24 players, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--n", type=_players, default=12, help="players for the reconstruction check (1..24)"
    )


def _toy_game() -> np.ndarray:
    """u(T) of f = x1x2x3 + x2x3 + x3x4 + (x4 OR x5) at x = 1, b = 0; players 1..5 are bits 0..4."""
    t = np.arange(32)
    x = [(t >> i) & 1 for i in range(5)]
    return (x[0] * x[1] * x[2] + x[1] * x[2] + x[2] * x[3] + (x[3] | x[4])).astype(np.float32)


def run(args: argparse.Namespace) -> int:
    from .. import interactions as ji
    from ..interactions import subset_index

    failed = []

    def report(ok: bool, message: str) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {message}")
        if not ok:
            failed.append(message)

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}")
    i_and = np.asarray(ji.moebius(_toy_game()))
    expected = np.zeros(32, np.float32)
    for players, value in [((0, 1, 2), 1), ((1, 2), 1), ((2, 3), 1), ((3,), 1), ((4,), 1),
                           ((3, 4), -1)]:
        expected[subset_index(players)] = value
    report(np.array_equal(i_and, expected),
           "AND interactions of x1x2x3 + x2x3 + x3x4 + (x4 OR x5) equal the known values")

    u = jax.random.normal(jax.random.key(0), (4, 2**args.n), jnp.float32)
    diag = ji.transform_diagnostics(u)
    report(diag["relative_residual"] < 1e-4 and diag["relative_efficiency_gap"] < 1e-4,
           f"zeta(moebius(u)) == u for 4 random games with n = {args.n}: "
           f"relative residual {diag['relative_residual']:.1e}, "
           f"efficiency gap {diag['relative_efficiency_gap']:.1e} (float32)")

    w = np.asarray(u[0])
    gap = np.abs(np.asarray(ji.or_inverse(ji.or_interactions(w))) - w).max()
    report(gap < 1e-4, f"or_inverse(or_interactions(w)) == w: max error {gap:.1e}")

    phi = np.asarray(ji.shapley_values(u))
    gap = np.abs(phi.sum(-1) - (u[:, -1] - u[:, 0])).max()
    report(gap < 1e-3, f"Shapley efficiency sum_i phi_i = u(N) - u(empty): max gap {gap:.1e}")
    print("self-check passed" if not failed else f"self-check FAILED ({len(failed)} checks)")
    return int(bool(failed))
