"""Benchmark: separation fuzziness D = Tr(SS_w SS_b^+), jaxinter vs PyTorch and numpy.

jaxinter: the O(n p K) thin-SVD algorithm (float64, samples streamed in chunks).
PyTorch, same algorithm (the like-for-like baseline): the same thin-SVD algorithm in float64
torch, samples streamed in chunks of the same size.
numpy / PyTorch dense: the research code's way: build the p x p matrices SS_w and SS_b,
then trace(SS_w @ pinv(SS_b)) (float64, hermitian pinv, which is the faster eigh-based one).
Every system of a row gets the same treatment (``rounds.time_rounds``): its first call is timed
alone (for jaxinter: with compilation) and reported separately, then the systems are called in
``--repeats`` interleaved rounds (rotating order) and the median of the rounds is compared (the
minimum and process CPU seconds are in the JSON). At p = 4096 the dense approach costs minutes
per call on a loaded 2-core CPU whatever n is (one O(p^3) eigendecomposition), so that row runs
one round for every system, and by default only PyTorch and only at n = 1000
(``--full-dense`` adds numpy and n = 10,000). At p = 16,384 the dense approach would need three
2 GiB matrices and an eigendecomposition of hours on 2 cores, so it is not run; jaxinter and
PyTorch's thin algorithm run ``min(repeats, 2)`` rounds there.

Run: .venv/bin/python benchmarks/bench_separation.py [--quick] [--full-dense]
Writes benchmarks/results/separation.json and separation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from functools import partial
from pathlib import Path

import jax
import numpy as np
import torch
from rounds import load_average, time_rounds

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


def thin_torch(x, y, rtol=1e-6, atol=1e-12, chunk_elements=2**24):
    """jaxinter's O(n p K) algorithm in PyTorch (the like-for-like baseline): class means,
    thin SVD of the K x p class-mean matrix M (SS_b = M^T M), within-class variance along its
    right singular vectors; D = sum_j w_j / s_j^2 over the kept directions. float64, samples
    streamed in chunks of about ``chunk_elements`` values, as jaxinter does."""
    x, y = torch.from_numpy(x), torch.from_numpy(y).long()
    n, p = x.shape
    rows = max(1, chunk_elements // p)
    chunks = [(x[i:i + rows], y[i:i + rows]) for i in range(0, n, rows)]
    sums = torch.zeros(K, p, dtype=torch.float64)
    for xc, yc in chunks:
        sums.index_add_(0, yc, xc.double())
    counts = torch.bincount(y, minlength=K).double()
    means = sums / counts.clamp(min=1)[:, None]
    weights = counts / n
    m = weights.sqrt()[:, None] * (means - weights @ means)
    _, s, vt = torch.linalg.svd(m, full_matrices=False)
    within, resid_sq = torch.zeros_like(s), torch.zeros((), dtype=torch.float64)
    for xc, yc in chunks:
        resid = xc.double() - means[yc]
        within += ((resid @ vt.T) ** 2).sum(0)
        resid_sq += (resid**2).sum()
    within /= n
    scale = (resid_sq / n + (s**2).sum() + ((weights @ means) ** 2).sum()).sqrt()
    kept = (s > rtol * s[0]) & (s > atol * scale)
    return float((within[kept] / s[kept] ** 2).sum())


def jaxinter_fn(x, y):
    def fn():
        return float(separation_statistics(x, y, check_values=False).fuzziness)
    return fn


DENSE = {"numpy_dense": dense_numpy, "torch_dense": dense_torch}
SAME = {"torch_thin": thin_torch}  # the same algorithm, run at every size


def rounds_for(p: int, repeats: int) -> int:
    """Interleaved rounds at width p: ``repeats``, one where the dense approach takes minutes
    (p = 4096), at most 2 where only the thin algorithms run (p >= 16,384)."""
    if p <= 1024:
        return repeats
    return 1 if p <= DENSE_MAX_P else min(repeats, 2)


def bench_row(n: int, p: int, repeats: int, dense: tuple[str, ...]) -> dict:
    """Time jaxinter and the dense baselines named in ``dense`` on one (n, p) problem."""
    x, y = make_data(n, p)
    systems = {"jaxinter": jaxinter_fn(x, y),
               **{name: partial(fn, x, y) for name, fn in SAME.items()},
               **{name: partial(DENSE[name], x, y) for name in dense}}
    outputs = {}
    rounds = rounds_for(p, repeats)
    timings = time_rounds(systems, rounds, outputs=outputs)
    row = {"n": n, "p": p, "K": K, "rounds": rounds, "load_average": load_average()}
    d = outputs["jaxinter"]
    for name, t in timings.items():
        row[name] = {**t.row(), "D": outputs[name]}
        if name != "jaxinter":
            row[name]["rel_diff_vs_jaxinter"] = abs(outputs[name] - d) / abs(d)
            row[name]["speedup_jaxinter"] = t.median_s / timings["jaxinter"].median_s
    if not dense:
        row["dense_memory_gib"] = 3 * p * p * 8 / 2**30  # SS_w, SS_b, pinv
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
        "K": K, "repeats": args.repeats, "full_dense": args.full_dense,
        "torch_threads": torch.get_num_threads(), "rows": rows,
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


def speedup(ratio: float) -> str:
    """'370x', '45x', '2.1x', '0.57x': whole numbers from 10 up, two digits below."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def write_markdown(meta: dict, path: Path) -> None:
    """The markdown table of a results JSON (``--rewrite-md`` rebuilds it from the JSON)."""
    def cells(entry):
        if not entry:
            return ["not run", "--", "--", "--"]
        return [f"{entry['median_s']:.3g}", f"{entry['first_s']:.3g}",
                speedup(entry["speedup_jaxinter"]), f"{entry['rel_diff_vs_jaxinter']:.1e}"]

    lines = [
        "# Separation fuzziness: jaxinter vs the same algorithm in PyTorch and dense "
        "pseudo-inverses", "",
        f"{meta['device']}; {meta['dtype']}; K = {meta['K']}. Every system of a row: its first "
        f"call alone (reported apart; jaxinter's includes compilation), then the same number of "
        f"interleaved rounds ({meta['repeats']} at p <= 1024, 1 at p = 4096 where the dense "
        "approach takes minutes per call, 2 beyond, where only the thin algorithms run), "
        "compared by the median of the rounds. 'torch, same algorithm' is jaxinter's thin-SVD "
        "algorithm in PyTorch (like for like); 'dense' builds the p x p matrices and a "
        "pseudo-inverse (the research code's way); dense at p = 4096: "
        + ("both n" if meta.get("full_dense") else "PyTorch at n = 1000 only; numpy with "
           "--full-dense") + f". {meta['note']}. 'rel. diff' is |D - D_jaxinter| / "
        "D_jaxinter; the JSON has minima, process CPU seconds and the load average per row.",
        "",
        "| p | n | rounds | jaxinter (s) | jaxinter first call (s) | torch, same algorithm (s) "
        "| its first call (s) | speedup vs torch, same algorithm | rel. diff | torch dense (s) "
        "| torch dense first call (s) | speedup vs torch dense | rel. diff | numpy dense (s) "
        "| numpy dense first call (s) | speedup vs numpy dense | rel. diff |",
        "|" + "---:|" * 17,
    ]
    for row in meta["rows"]:
        j = row["jaxinter"]
        others = [cell for name in ("torch_thin", "torch_dense", "numpy_dense")
                  for cell in cells(row.get(name))]
        lines.append(f"| {row['p']} | {row['n']} | {row['rounds']} | {j['median_s']:.3g} | "
                     f"{j['first_s']:.3g} | " + " | ".join(others) + " |")
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
