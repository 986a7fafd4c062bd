"""Benchmark: the exact Moebius (AND / Harsanyi) transform, jaxinter vs baselines, in one run.

Systems (all float32 except shapiq, which computes in float64 in Python):
- jaxinter: ``ji.moebius(u, check_values=False)`` (the jitted kernel; the default NaN/inf scan
  is one extra read of the input).
- numpy butterfly: copy, then for each bit an in-place ``hi -= lo`` on strided views.
- torch butterfly: the same on torch tensors, batched, ``torch.inference_mode``.
- torch dense: the published-code style: a 2**n x 2**n coefficient matrix (built once, not
  timed) multiplied with one sample at a time.
- shapiq: ``ExactComputer(game, n)("Moebius")``, a Python loop over the 3**n (subset, superset)
  pairs; one game at a time.
- copy: ``-u`` under jit on the same device: one read and one write of the array, the least
  any out-of-place transform must do.

Effective bandwidth of a run = bytes read + bytes written once = 2 * batch * 2**n * 4 bytes,
divided by its steady-state time; ``bandwidth vs copy`` = copy time / jaxinter time (1.0 means
the transform runs as fast as streaming the array once through memory).

Run: .venv/bin/python benchmarks/bench_transforms.py [--quick]
Writes benchmarks/results/transforms.json and transforms.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import torch
from shapiq import ExactComputer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Results  # noqa: E402
from rounds import load_average, time_rounds  # noqa: E402

import jaxinter as ji  # noqa: E402
from jaxinter.interactions import from_shapiq_values  # noqa: E402

GIB = 2**30
MEMORY_LIMIT = 6 * GIB  # skip combinations whose arrays would not fit in about 6 GB
COPIES = 8  # a safe bound on arrays of the input's size alive at once (numpy and jax inputs,
# each system's output and intermediates); n = 20, batch 256 was OOM-killed on a shared machine
CHECKED = 8  # games compared with jaxinter's result (in float64)
SHAPIQ_MAX_N = 14  # measured up to here, extrapolated by 3**n beyond
DENSE_MAX_N = 12  # 2**12 x 2**12 float32 = 64 MiB; n = 14 would be 1 GiB per matrix


def numpy_moebius(u: np.ndarray, n: int) -> np.ndarray:
    f = u.copy()
    for i in range(n):
        g = f.reshape(f.shape[0], -1, 2, 2**i)
        g[:, :, 1, :] -= g[:, :, 0, :]
    return f


def torch_moebius(u: torch.Tensor, n: int) -> torch.Tensor:
    with torch.inference_mode():
        f = u.clone()
        for i in range(n):
            g = f.view(f.shape[0], -1, 2, 2**i)
            g[:, :, 1, :] -= g[:, :, 0, :]
        return f


def dense_matrix(n: int) -> torch.Tensor:
    """M[S, T] = (-1)^{|S|-|T|} if T subset S else 0, as in the published code."""
    block = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    m = torch.ones(1, 1)
    for _ in range(n):
        m = torch.kron(block, m)  # the later factor is the lower bit: bit i = player i
    return m


def torch_dense_moebius(u: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.stack([m @ sample for sample in u])


def one_thread(fn):
    """``fn`` run with one torch thread (the default restored afterwards)."""
    def call():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(threads)
    return call


def best_torch(times: dict, name: str) -> tuple[float, str]:
    """(best seconds, cell mark) of torch system ``name`` over its default-threads and
    1-thread runs: on a loaded CPU torch's threads can wait on each other for longer than a
    small transform takes, so each row gets torch's better setting."""
    default, single = times[name].min_s, times[f"{name} 1 thread"].min_s
    return (single, " (1 thread)") if single < default else (default, "")


def shapiq_moebius(u: np.ndarray, n: int):
    """shapiq's InteractionValues of the exact Moebius transform of one game."""
    bits = 1 << np.arange(n)
    computer = ExactComputer(lambda c: u[c.astype(np.int64) @ bits], n_players=n)
    return computer("Moebius", n)


def rel_diff(a, ref) -> float:
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-30))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 8..14 only, fewer repeats")
    args = parser.parse_args()
    ns = list(range(8, 15, 2)) if args.quick else list(range(8, 23, 2))
    budget = 0.5 if args.quick else 2.0

    results = Results(
        "transforms",
        "Exact Moebius transform: jaxinter vs numpy, PyTorch, shapiq (best steady-state ms)",
        columns=["n", "batch", "jaxinter", "jaxinter first call", "numpy butterfly",
                 "torch butterfly", "torch dense", "shapiq", "copy",
                 "x vs shapiq", "x vs numpy", "x vs torch", "GB/s", "bandwidth vs copy"],
    )
    shapiq_per_game: dict[int, float] = {}
    start = time.perf_counter()
    for n in ns:
        for batch in (1, 256):
            nbytes = batch * 2**n * 4
            row = {"n": n, "batch": batch}
            if COPIES * nbytes > MEMORY_LIMIT:
                results.note(f"n = {n}, batch = {batch} skipped: {COPIES} arrays of the "
                             f"input's size ({COPIES * nbytes / GIB:.0f} GiB) exceed ~6 GB")
                continue
            u_np = np.random.default_rng(n).normal(size=(batch, 2**n)).astype(np.float32)
            u, u_t = jnp.asarray(u_np), torch.from_numpy(u_np)
            copy = jax.jit(jnp.negative)
            systems = {"jaxinter": partial(ji.moebius, u, check_values=False),
                       "copy": partial(copy, u), "numpy": partial(numpy_moebius, u_np, n),
                       "torch": partial(torch_moebius, u_t, n)}
            systems["torch 1 thread"] = one_thread(systems["torch"])
            if n <= DENSE_MAX_N:
                m = dense_matrix(n)
                systems["dense"] = partial(torch_dense_moebius, u_t, m)
                systems["dense 1 thread"] = one_thread(systems["dense"])
            measured = n <= SHAPIQ_MAX_N and batch == 1
            if measured:
                game = u_np[0].astype(np.float64)
                systems["shapiq"] = partial(shapiq_moebius, game, n)
            # every system once per round, in a rotating order; a slow one sits out the later
            # rounds once its calls used the budget
            times = time_rounds(systems, 10, budget)
            t = times["jaxinter"]
            ref = np.asarray(ji.moebius(u[:CHECKED]))
            row.update({"jaxinter": t.min_s * 1e3, "jaxinter first call": t.first_s * 1e3})
            row["copy"] = times["copy"].min_s * 1e3
            row["GB/s"] = 2 * nbytes / t.min_s / 1e9
            row["copy_GB/s"] = 2 * nbytes / times["copy"].min_s / 1e9
            row["bandwidth vs copy"] = times["copy"].min_s / t.min_s
            row["numpy butterfly"] = times["numpy"].min_s * 1e3
            row["x vs numpy"] = times["numpy"].min_s / t.min_s
            torch_s, mark = best_torch(times, "torch")
            row["torch butterfly"] = f"{torch_s * 1e3:.4g}{mark}"
            row["x vs torch"] = torch_s / t.min_s
            row["diff_numpy"] = rel_diff(numpy_moebius(u_np[:CHECKED], n), ref)
            row["diff_torch"] = rel_diff(torch_moebius(u_t[:CHECKED], n), ref)
            if "dense" in times:
                dense_s, mark = best_torch(times, "dense")
                row["torch dense"] = f"{dense_s * 1e3:.4g}{mark}"
                row["diff_dense"] = rel_diff(torch_dense_moebius(u_t[:1], m), ref[:1])
            if measured:
                shapiq_per_game[n] = times["shapiq"].min_s
                row["shapiq"] = times["shapiq"].min_s * 1e3
                row["x vs shapiq"] = times["shapiq"].min_s / t.min_s
                row["diff_shapiq"] = rel_diff(from_shapiq_values(shapiq_moebius(game, n), n),
                                              ref[0])
            else:
                # 3**n pairs one game at a time: extrapolate from the largest measured n
                n0 = max(shapiq_per_game)
                est = shapiq_per_game[n0] * 3.0 ** (n - n0) * batch
                row["shapiq"] = f"~{est * 1e3:.3g} (est.)"
                row["shapiq_estimated_s"] = est
                row["x vs shapiq"] = f"~{est / t.min_s:.3g} (est.)"  # rests on the estimate
            row["timings"] = {name: timing.row() for name, timing in times.items()}
            row["load_average"] = load_average()
            results.add(**row)
            print(f"n={n:2d} batch={batch:3d} jaxinter {t.min_s * 1e3:9.3f} ms  "
                  f"numpy {row['numpy butterfly']:9.3f}  torch {row['torch butterfly']:>9}  "
                  f"copy {row['copy']:8.3f}  [{time.perf_counter() - start:.0f} s]", flush=True)

    results.note("Times in milliseconds: the best of up to 10 rounds in which every system is "
                 "called once, in a rotating order (a slow system sits out the later rounds "
                 "once its calls used the time budget; the JSON has each system's rounds, "
                 "medians and CPU seconds); the first call, with jit compilation, is timed "
                 "alone and listed separately for jaxinter. Timings were taken on a shared "
                 "2-core CPU with other jobs running (load average in the JSON), where the "
                 "minimum is the least disturbed estimate; compare ratios within a row, not "
                 "absolute times across runs. XLA uses its default threads and numpy one; torch "
                 "runs every row with its default threads and with 1 thread, interleaved with "
                 "the others, and its cells show the faster ('(1 thread)' where that one "
                 "won; the JSON has both).")
    results.note(f"shapiq measured for batch 1 and n <= {SHAPIQ_MAX_N}; beyond, and for batch "
                 "256 (shapiq has no batching), its time is extrapolated as t(n0) 3**(n - n0) "
                 "x batch from the largest measured n0 and marked 'est.', and so is every "
                 "'x vs shapiq' ratio that rests on such an estimate.")
    results.note(f"torch dense: only n <= {DENSE_MAX_N} (the 2**n x 2**n float32 matrix is "
                 "64 MiB at n = 12, 1 GiB at n = 14, 16 GiB at n = 16); one sample at a time.")
    results.note("GB/s = effective bandwidth = 2 x batch x 2**n x 4 bytes / time (every value "
                 "read once and written once). 'bandwidth vs copy' = copy time / jaxinter time, "
                 "where copy = jit(-u) over the same array on the same device.")
    results.note("All systems agree with jaxinter to float32 rounding: max relative difference "
                 f"over the first {CHECKED} games of a row in the JSON fields diff_numpy, "
                 "diff_torch, diff_dense, diff_shapiq.")
    json_path, md_path = results.write()
    print(results.markdown())
    print(f"wrote {json_path} and {md_path} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
