"""The self-check: the exact subset transforms verified on this machine, as one call."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import JaxinterInputError, check_instance
from ..interactions import (
    moebius,
    or_interactions,
    or_inverse,
    shapley_values,
    subset_index,
    transform_diagnostics,
)

MAX_SELFCHECK_PLAYERS = 24


@dataclasses.dataclass(frozen=True)
class SelfCheckConfig:
    """Settings of :func:`run_selfcheck`: ``n`` players (1..24) of the random games."""

    n: int = 12

    def __post_init__(self):
        n = self.n
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SELFCHECK_PLAYERS:
            raise JaxinterInputError(f"n: expected an int in 1..{MAX_SELFCHECK_PLAYERS}, got {n!r}")

    def to_dict(self) -> dict:
        """The fields; ``SelfCheckConfig(**d)`` is the inverse."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Check:
    """One verified property: ``ok`` and a one-line ``message`` with the measured error."""

    ok: bool
    message: str


@dataclasses.dataclass(frozen=True)
class SelfCheckStudy:
    """Result of :func:`run_selfcheck`: the config, the JAX version and platform, the checks."""

    config: SelfCheckConfig
    jax_version: str
    platform: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def summary(self) -> dict:
        """JSON-ready summary: config, versions, and every check."""
        return {"config": self.config.to_dict(), "jax_version": self.jax_version,
                "platform": self.platform, "passed": self.passed,
                "checks": [dataclasses.asdict(c) for c in self.checks]}


def _toy_game() -> np.ndarray:
    """u(T) of f = x1x2x3 + x2x3 + x3x4 + (x4 OR x5) at x = 1, b = 0; players 1..5 are bits 0..4."""
    t = np.arange(32)
    x = [(t >> i) & 1 for i in range(5)]
    return (x[0] * x[1] * x[2] + x[1] * x[2] + x[2] * x[3] + (x[3] | x[4])).astype(np.float32)


def _toy_check() -> Check:
    expected = np.zeros(32, np.float32)
    for players, value in [((0, 1, 2), 1), ((1, 2), 1), ((2, 3), 1), ((3,), 1), ((4,), 1),
                           ((3, 4), -1)]:
        expected[subset_index(players)] = value
    return Check(bool(np.array_equal(np.asarray(moebius(_toy_game())), expected)),
                 "AND interactions of x1x2x3 + x2x3 + x3x4 + (x4 OR x5) equal the known values")


def _random_game_checks(n: int) -> list[Check]:
    u = jax.random.normal(jax.random.key(0), (4, 2**n), jnp.float32)
    diag = transform_diagnostics(u)
    w = np.asarray(u[0])
    or_gap = float(np.abs(np.asarray(or_inverse(or_interactions(w))) - w).max())
    phi = np.asarray(shapley_values(u))
    shapley_gap = float(np.abs(phi.sum(-1) - (u[:, -1] - u[:, 0])).max())
    return [
        Check(diag["relative_residual"] < 1e-4 and diag["relative_efficiency_gap"] < 1e-4,
              f"zeta(moebius(u)) == u for 4 random games with n = {n}: relative residual "
              f"{diag['relative_residual']:.1e}, efficiency gap "
              f"{diag['relative_efficiency_gap']:.1e} (float32)"),
        Check(or_gap < 1e-4, f"or_inverse(or_interactions(w)) == w: max error {or_gap:.1e}"),
        Check(shapley_gap < 1e-3,
              f"Shapley efficiency sum_i phi_i = u(N) - u(empty): max gap {shapley_gap:.1e}"),
    ]


def run_selfcheck(config: SelfCheckConfig = SelfCheckConfig()) -> SelfCheckStudy:
    """Verify the exact transforms: known AND interactions of a toy game, the zeta/Moebius and
    OR round trips and Shapley efficiency on random float32 games of ``config.n`` players.

    Args:
      config: the settings.

    Returns:
      :class:`SelfCheckStudy` with one :class:`Check` per property.
    """
    check_instance(config, "config", SelfCheckConfig)
    checks = (_toy_check(), *_random_game_checks(config.n))
    return SelfCheckStudy(config, jax.__version__, jax.devices()[0].platform, checks)
