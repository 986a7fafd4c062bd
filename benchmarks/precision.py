"""Float32 vs float64 error of moebius, zeta and shapley_values at n = 16 and n = 20.

For each game u (float64) the float32 kernel runs on u rounded to float32 and is compared with
the float64 kernel on that same rounded input, so the numbers measure the transform's own
rounding, not the rounding of the input. Games are O(1):
- normal: iid N(0, 1) values on every subset (the worst case: no structure, large coefficients);
- network: u(T) = a . tanh(W m_T + b) / sqrt(H), a random tanh network (H = 32 units, weights
  N(0, 1/n)) evaluated on the membership mask m_T: smooth, like a masked network's score.

Run: .venv/bin/python benchmarks/precision.py
Writes benchmarks/results/precision.json and precision.md; ``update_readme.py`` then renders
the table and the figures quoted in docs/precision.md from them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Results  # noqa: E402

import jaxinter as ji  # noqa: E402

GAMES_PER_CASE = 4


def normal_game(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=2**n)


def network_game(n: int, rng: np.random.Generator, hidden: int = 32) -> np.ndarray:
    masks = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    w = rng.normal(size=(n, hidden)) / np.sqrt(n)
    h = np.tanh(masks @ w + rng.normal(size=hidden))
    return h @ rng.normal(size=hidden) / np.sqrt(hidden)


def errors(f32: np.ndarray, f64: np.ndarray) -> dict:
    err = np.abs(f32.astype(np.float64) - f64)
    scale = np.abs(f64).max()
    return {"max_abs": float(err.max()), "rms": float(np.sqrt(np.mean(err**2))),
            "max_rel": float(err.max() / scale), "scale": float(scale)}


def main() -> int:
    results = Results(
        "precision", "float32 vs float64 error of the exact transforms",
        columns=["n", "game", "transform", "max abs(ref)", "max abs error",
                 "max error / max abs(ref)", "rms error", "float32 reconstruction residual"],
    )
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        for n in (16, 20):
            for name, make in [("normal", normal_game), ("network", network_game)]:
                u = np.stack([make(n, rng) for _ in range(GAMES_PER_CASE)])
                u32 = u.astype(np.float32)
                u = u32.astype(np.float64)  # the float32 input, exactly, in float64
                m64 = np.asarray(ji.moebius(u))
                residual = ji.transform_diagnostics(u32)["relative_residual"]
                cases = [
                    ("moebius", ji.moebius(u32), m64),
                    ("zeta", ji.zeta(m64.astype(np.float32)),
                     ji.zeta(m64.astype(np.float32).astype(np.float64))),
                    ("shapley_values", ji.shapley_values(u32), ji.shapley_values(u)),
                ]
                for transform, out32, out64 in cases:
                    assert np.asarray(out32).dtype == np.float32
                    e = errors(np.asarray(out32), np.asarray(out64))
                    results.add(**{
                        "n": n, "game": name, "transform": transform, "max abs(ref)": e["scale"],
                        "max abs error": e["max_abs"], "max error / max abs(ref)": e["max_rel"],
                        "rms error": e["rms"],
                        "float32 reconstruction residual":
                            residual if transform == "moebius" else None,
                    })
                    print(n, name, transform, e, flush=True)
    results.note(f"{GAMES_PER_CASE} games per row; errors are maxima over all games and subsets "
                 "(players for shapley_values). 'float32 reconstruction residual' = "
                 "max |zeta(moebius(u)) - u| / max |u| computed entirely in float32 "
                 "(ji.transform_diagnostics), the check available without float64.")
    json_path, md_path = results.write()
    print(f"wrote {json_path} and {md_path}; run benchmarks/update_readme.py for the pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
