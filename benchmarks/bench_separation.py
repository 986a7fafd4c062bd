"""Benchmark: separation fuzziness D = Tr(SS_w SS_b^+), jaxinter vs dense pseudo-inverses.

jaxinter: the O(n p K) thin-SVD algorithm (float64, samples streamed in chunks).
numpy / PyTorch: the dense approach of research code: build the p x p matrices SS_w and SS_b,
then trace(SS_w @ pinv(SS_b)) (float64, hermitian pinv, which is the faster eigh-based one).
The dense baselines run at p <= 1024 (best of ``--repeats`` calls) and at p = 4096 once: by
default only PyTorch and only at n = 1000, since its O(p^3) eigendecomposition costs minutes on a
loaded 2-core CPU whatever n is (``--full-dense`` adds numpy and n = 10,000 at p = 4096; the
whole run then takes about twice as long). At p = 16,384 the dense approach would need three
2 GiB matrices and an eigendecomposition of hours on 2 cores, so it is not run. jaxinter at
p >= 16,384 takes best of ``min(repeats, 2)`` calls.

Run: .venv/bin/python benchmarks/bench_separation.py [--quick] [--full-dense]
Writes benchmarks/results/separation.json and separation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial
from pathlib import Path

import jax
import numpy as np
import torch

import jaxinter as ji
from jaxinter.analysis import separation_statistics

K = 10
DENSE_MAX_P = 4096
RESULTS = Path(__file__).resolve().parent / "results"


def make_data(n: int, p: int, seed: int = 0):
    """float32 features with class structure: K random centres plus unit noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    centers = rng.standard_normal((K, p), dtype=np.float32) * np.float32(2 / np.sqrt(p) * 4)
    x = rng.standard_normal((n, p), dtype=np.float32)
    x += centers[y]
    return x, y


def dense_numpy(x, y):
    x = x.astype(np.float64)
    n, p = x.shape
    m = x.mean(0)
    ss_b, ss_w = np.zeros((p, p)), np.zeros((p, p))
    for k in range(K):
        xk = x[y == k]
        mk = xk.mean(0)
        ss_b += len(xk) / n * np.outer(mk - m, mk - m)
        ss_w += (xk - mk).T @ (xk - mk) / n
    return float(np.trace(ss_w @ np.linalg.pinv(ss_b, hermitian=True)))


def dense_torch(x, y):
    x = torch.from_numpy(x).double()
    y = torch.from_numpy(y)
    n, p = x.shape
    m = x.mean(0)
    ss_b = torch.zeros(p, p, dtype=torch.float64)
    ss_w = torch.zeros(p, p, dtype=torch.float64)
    for k in range(K):
        xk = x[y == k]
        mk = xk.mean(0)
        ss_b += len(xk) / n * torch.outer(mk - m, mk - m)
        ss_w += (xk - mk).T @ (xk - mk) / n
    return float(torch.trace(ss_w @ torch.linalg.pinv(ss_b, hermitian=True)))


def time_call(fn, repeats: int):
    """(first call seconds, steady-state seconds list, value)."""
    start = time.perf_counter()
    value = fn()
    first = time.perf_counter() - start
    steady = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        steady.append(time.perf_counter() - start)
    return first, steady, value


def jaxinter_fn(x, y):
    def fn():
        return float(separation_statistics(x, y, check_values=False).fuzziness)
    return fn


DENSE = {"numpy_dense": dense_numpy, "torch_dense": dense_torch}


def bench_row(n: int, p: int, repeats: int, dense: tuple[str, ...]) -> dict:
    """Time jaxinter and the dense baselines named in ``dense`` on one (n, p) problem."""
    x, y = make_data(n, p)
    row = {"n": n, "p": p, "K": K}
    first, steady, d = time_call(jaxinter_fn(x, y), repeats if p < 16384 else min(repeats, 2))
    row["jaxinter"] = {"first_s": first, "steady_s": min(steady),
                       "median_s": float(np.median(steady)),
                       "compile_s": max(first - min(steady), 0.0), "repeats": len(steady), "D": d}
    if not dense:
        row["dense_memory_gib"] = 3 * p * p * 8 / 2**30  # SS_w, SS_b, pinv
        return row
    reps = repeats if p <= 1024 else 0  # one call at p = 4096
    for name in dense:
        first, steady, value = time_call(partial(DENSE[name], x, y), reps)
        t = min(steady) if steady else first
        row[name] = {"steady_s": t, "repeats": max(len(steady), 1), "D": value,
                     "rel_diff_vs_jaxinter": abs(value - d) / abs(d),
                     "speedup_jaxinter": t / row["jaxinter"]["steady_s"]}
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid (smoke test)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full-dense", action="store_true",
                        help="at p = 4096 also run numpy, and both n (minutes more)")
    parser.add_argument("--rewrite-md", action="store_true",
                        help="only rebuild results/separation.md from results/separation.json")
    args = parser.parse_args(argv)
    if args.rewrite_md:
        write_markdown(json.loads((RESULTS / "separation.json").read_text()),
                       RESULTS / "separation.md")
        return
    torch.set_num_threads(os.cpu_count() or 1)
    ps = [100, 1024] if args.quick else [100, 1024, 4096, 16384, 65536]
    ns = [1000] if args.quick else [1000, 10000]
    rows = []
    for p in ps:
        for n in ns:
            rows.append(bench_row(n, p, args.repeats, dense_systems(n, p, args.full_dense)))
            print(json.dumps(rows[-1]), flush=True)
    meta = {
        "benchmark": "separation fuzziness D = Tr(SS_w SS_b^+)",
        "device": f"{jax.devices()[0].platform} ({platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores, shared with other jobs)",
        "note": "timings on a shared 2-core CPU: compare ratios within a row, not absolute times",
        "dtype": "float32 input, float64 compute (all systems)",
        "versions": {"jax": jax.__version__, "jaxinter": ji.__version__, "numpy": np.__version__,
                     "torch": torch.__version__, "python": platform.python_version()},
        "K": K, "repeats": args.repeats, "full_dense": args.full_dense, "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "separation_quick" if args.quick else "separation"
    (RESULTS / f"{stem}.json").write_text(json.dumps(meta, indent=2))
    write_markdown(meta, RESULTS / f"{stem}.md")


def dense_systems(n: int, p: int, full: bool) -> tuple[str, ...]:
    """Dense baselines to run at (n, p): all at p <= 1024; at p = 4096 (an O(p^3) eigh of
    minutes whatever n is) PyTorch at n = 1000 only, unless ``full``."""
    if p <= 1024 or (p <= DENSE_MAX_P and full):
        return tuple(DENSE)
    return ("torch_dense",) if p <= DENSE_MAX_P and n == 1000 else ()


def write_markdown(meta: dict, path: Path) -> None:
    """The markdown table of a results JSON (``--rewrite-md`` rebuilds it from the JSON)."""
    def diff(entry):
        return f"{entry['rel_diff_vs_jaxinter']:.1e}"

    lines = [
        "# Separation fuzziness: jaxinter vs dense pseudo-inverse", "",
        f"{meta['device']}; {meta['dtype']}; K = {meta['K']}; best of {meta['repeats']} "
        "steady-state calls (jaxinter at p >= 16384: best of 2; dense at p = 4096: one call, "
        + ("both n" if meta.get("full_dense") else "PyTorch at n = 1000 only; numpy with "
           "--full-dense") + "). "
        f"{meta['note']}. 'rel. diff' is |D_dense - D_jaxinter| / D_jaxinter.", "",
        "| p | n | jaxinter (s) | jaxinter compile (s) | numpy dense (s) | torch dense (s) | "
        "speedup vs numpy | speedup vs torch | rel. diff numpy | rel. diff torch |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in meta["rows"]:
        j = row["jaxinter"]
        systems = [row.get(name) for name in DENSE]
        times = [f"{e['steady_s']:.3g}" if e else "not run" for e in systems]
        speedups = [f"{e['speedup_jaxinter']:.0f}x" if e else "--" for e in systems]
        diffs = [diff(e) if e else "--" for e in systems]
        lines.append(f"| {row['p']} | {row['n']} | {j['steady_s']:.3g} | {j['compile_s']:.2g} | "
                     + " | ".join(times + speedups + diffs) + " |")
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
