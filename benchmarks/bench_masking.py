"""Benchmark: masked forward passes per second with every layer captured, jaxinter vs PyTorch.

Task: for each sample, all 2**n masked inputs (n foreground 3x3 patches of a 28x28 image, zero
baseline) go through the model; every captured hidden layer is reduced to the log-odds of the
target class by its own linear readout (a probe), and the network output is scored too.
Result: (samples, layers + 1, 2**n) log-odds.

- jaxinter: ``masked_layer_scores`` on a ``jaxinter.masking.capture`` of a Flax Linen model; masks
  built on device, 2**n axis streamed in chunks under jit.
- PyTorch: the equivalent batched implementation of research code: the same weights in
  ``torch.nn`` modules, layers captured with forward hooks, masks built in torch for each chunk of
  ``CHUNK`` subsets, probes applied to the hooked features, under ``torch.inference_mode``.

Models: MLP-7 (7 linear layers, hidden width 1024, ReLU; 6 captured layers) and a small CNN
(conv16-pool-conv32-pool-fc128, ReLU; 3 captured layers). n = 10 and 14.

Timing (``rounds.time_rounds``): each of the three systems (jaxinter, torch with its default
threads, torch with 1 thread) is called once alone (jaxinter: with jit compilation, reported
separately), then the systems are called in a rotating order, round after round, in one
process, and the fastest round of each is reported (medians and process CPU seconds in the
JSON), so load from other processes on the shared machine hits all systems alike.
Memory: each system runs one call in a fresh subprocess; peak resident set size (RSS, sampled
every 2 ms by a thread reading psutil) during the call minus the RSS just before it (model, data
and imports already loaded). Both systems' scores are compared (max abs difference) to check
that they compute the same thing.

Images: MNIST test split via ``jaxinter.data`` (``../shared/data/mnist``); players: the n most
salient 3x3 patches of each image (``salient_patch_ids``); untrained weights and random probes
(speed does not depend on the weights).

Run: .venv/bin/python benchmarks/bench_masking.py [--quick]
Writes benchmarks/results/masking.json, masking.md and masking.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from rounds import load_average, time_rounds

RESULTS = Path(__file__).resolve().parent / "results"
MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CHUNK = 512
CLASSES = 10
SHAPE = (28, 28, 1)
CNN_PLAN = (16, "M", 32, "M")
SYSTEMS = ("jaxinter", "torch", "torch-1thread")  # torch: default threads (all cores)


# ---------------------------------------------------------------------------------------------
# shared setup (run inside each child)


def load_images(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``count`` MNIST test-split images (random images if MNIST is absent)."""
    from jaxinter.data import load_dataset

    if (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        data = load_dataset("mnist", MNIST)
        return data.x_test[:count], data.y_test[:count].astype(np.int32), "mnist"
    rng = np.random.default_rng(0)
    return rng.uniform(size=(count, *SHAPE)).astype(np.float32), np.zeros(count, np.int32), "rand"


def flax_model(name: str):
    from jaxinter.models import MLP, VGG

    if name == "mlp7":
        return MLP(input_shape=SHAPE, num_classes=CLASSES, depth=7, width=1024), r"hidden_\d"
    return VGG(input_shape=SHAPE, num_classes=CLASSES, features=CNN_PLAN, dense=(128,)), None


def setup(model_name: str, n: int, samples: int):
    """Flax variables and probes (numpy), images, targets and per-sample patch players."""
    import jax

    from jaxinter.masking import Players, capture, salient_patch_ids
    from jaxinter.models import init_variables

    model, layers = flax_model(model_name)
    variables = init_variables(model, jax.random.key(0))
    captured = capture(model, variables, layers)
    spec = jax.ShapeDtypeStruct((1, *SHAPE), np.float32)
    _, feats = jax.eval_shape(captured, spec)
    rng = np.random.default_rng(1)
    probes = {
        name: (
            rng.normal(size=(int(np.prod(f.shape[1:])), CLASSES)).astype(np.float32) * 0.05,
            rng.normal(size=CLASSES).astype(np.float32),
        )
        for name, f in feats.items()
    }
    x, y, source = load_images(samples)
    players = Players.patches(SHAPE, 3, salient_patch_ids(x, 3, n))
    return captured, variables, probes, x, y, players, source


# ---------------------------------------------------------------------------------------------
# the two systems


def build_jax(model_name, n, samples):
    """A call computing the (samples, layers, 2**n) scores with jaxinter, and the data source."""
    import jax.numpy as jnp

    from jaxinter.masking import masked_layer_scores

    captured, _, probes, x, y, players, source = setup(model_name, n, samples)
    probe_arrays = {k: (jnp.asarray(w), jnp.asarray(b)) for k, (w, b) in probes.items()}
    readouts = {
        k: (lambda f, w=w, b=b: f.reshape(f.shape[0], -1) @ w + b)
        for k, (w, b) in probe_arrays.items()
    }
    x, y, base = jnp.asarray(x), jnp.asarray(y), jnp.zeros(SHAPE, jnp.float32)

    def call():
        return np.asarray(
            masked_layer_scores(captured, readouts, x, players, base, y, chunk_size=CHUNK)
        )

    return call, source


def torch_model(model_name, variables):
    """The same network in torch.nn (NCHW), weights copied from the Flax variables."""
    import torch
    from torch import nn

    p = variables["params"]

    def linear(name):
        layer = nn.Linear(*np.asarray(p[name]["kernel"]).shape)
        layer.weight.data = torch.from_numpy(np.asarray(p[name]["kernel"]).T.copy())
        layer.bias.data = torch.from_numpy(np.asarray(p[name]["bias"]).copy())
        return layer

    def conv(name):
        k = np.asarray(p[name]["kernel"])  # (kh, kw, in, out)
        layer = nn.Conv2d(k.shape[2], k.shape[3], 3, padding=1)
        layer.weight.data = torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
        layer.bias.data = torch.from_numpy(np.asarray(p[name]["bias"]).copy())
        return layer

    if model_name == "mlp7":
        mods, hooked = [nn.Flatten()], []
        for i in range(1, 7):
            mods += [linear(f"dense{i}"), nn.ReLU()]
            hooked.append((f"hidden_{i}", mods[-1]))
        return nn.Sequential(*mods, linear("dense7")), hooked

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.relu1 = conv("conv1"), nn.ReLU()
            self.conv2, self.relu2 = conv("conv2"), nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            fc = linear("fc1")  # Flax flattens NHWC: permute its input rows to NCHW order
            w = fc.weight.data.reshape(128, 7, 7, 32).permute(0, 3, 1, 2).reshape(128, -1)
            fc.weight.data = w.contiguous()
            self.fc1, self.relu3, self.head = fc, nn.ReLU(), linear("head")

        def forward(self, x):
            x = self.pool(self.relu1(self.conv1(x)))
            x = self.pool(self.relu2(self.conv2(x)))
            return self.head(self.relu3(self.fc1(x.flatten(1))))

    net = Cnn()
    return net, [("conv_1", net.relu1), ("conv_2", net.relu2), ("fc_1", net.relu3)]


def build_torch(model_name, n, samples):
    """The same computation batched in PyTorch with forward hooks; returns a call."""
    import torch

    _, variables, probes, x, y, players, source = setup(model_name, n, samples)
    net, hooked = torch_model(model_name, variables)
    net.eval()
    captured = {}
    for name, module in hooked:
        module.register_forward_hook(lambda m, i, o, name=name: captured.__setitem__(name, o))
    weights = {}
    for name, _ in hooked:  # probe weights permuted once to the torch (NCHW) layout
        w, b = probes[name]
        if model_name == "cnn" and name.startswith("conv"):
            side, ch = {"conv_1": (28, 16), "conv_2": (14, 32)}[name]
            w = w.reshape(side, side, ch, CLASSES).transpose(2, 0, 1, 3).reshape(-1, CLASSES)
        weights[name] = (torch.from_numpy(np.ascontiguousarray(w)), torch.from_numpy(b))
    # NCHW inputs; with one channel the flat pixel order is the same as NHWC
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    assignment = torch.from_numpy(np.array(players.assignment)).long()  # (samples, 784)
    yt = torch.from_numpy(y).long()
    bits = torch.arange(n)

    def log_odds(z, t):
        others = z.clone()
        others[:, t] = -torch.inf
        return z[:, t] - torch.logsumexp(others, dim=1)

    def call():
        out = torch.empty(samples, len(hooked) + 1, 2**n)
        with torch.inference_mode():
            for s in range(samples):
                a = assignment[s]
                for start in range(0, 2**n, CHUNK):
                    subsets = torch.arange(start, min(start + CHUNK, 2**n))
                    present = (subsets[:, None] >> bits) & 1  # (chunk, n)
                    keep = present[:, a.clamp(min=0)].bool() | (a < 0)
                    xm = (xt[s].reshape(-1) * keep).reshape(-1, 1, 28, 28)  # zero baseline
                    z = net(xm)
                    t = int(yt[s])
                    for layer, (name, _) in enumerate(hooked):
                        w, b = weights[name]
                        out[s, layer, start : start + len(subsets)] = log_odds(
                            captured[name].flatten(1) @ w + b, t
                        )
                    out[s, -1, start : start + len(subsets)] = log_odds(z, t)
        return out.numpy()

    return call


def peak_rss(call):
    """One call: (seconds, result, peak RSS increase in MiB, RSS before in MiB)."""
    import psutil

    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    peak = [rss0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    return seconds, result, (peak[0] - rss0) / 2**20, rss0 / 2**20


def child(args):
    """Memory run in a fresh process: one call (including jit compilation for jaxinter)."""
    if args.system == "jaxinter":
        call, _ = build_jax(args.model, args.n, args.samples)
    else:
        call = build_torch(args.model, args.n, args.samples)
    seconds, _, peak, rss0 = peak_rss(call)
    print(json.dumps(dict(first_s=seconds, peak_rss_delta_mib=peak, rss_before_mib=rss0)))


def memory(model, n, samples):
    """Peak RSS increase of each system, each in a fresh subprocess."""
    out = {}
    for system in ("jaxinter", "torch"):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--system",
            system,
            "--model",
            model,
            "--n",
            str(n),
            "--samples",
            str(samples),
        ]
        print("+ memory:", system, model, n, file=sys.stderr, flush=True)
        res = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        out[system] = json.loads(res.strip().splitlines()[-1])
    return out


def timing(model, n, samples, repeats):
    """Each system's first call alone, then ``repeats`` interleaved rounds in a rotating order
    (``rounds.time_rounds``: wall and process CPU seconds); returns (timings, results, source).
    """
    import torch

    threads = torch.get_num_threads()
    jax_call, source = build_jax(model, n, samples)
    torch_call = build_torch(model, n, samples)

    def one_thread():
        torch.set_num_threads(1)
        try:
            return torch_call()
        finally:
            torch.set_num_threads(threads)

    results = {}
    timings = time_rounds({"jaxinter": jax_call, "torch": torch_call,
                           "torch-1thread": one_thread}, repeats, outputs=results)
    return timings, results, source


def versions():
    import jax
    import torch

    import jaxinter

    return {
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else jax.__version__,
        "torch": torch.__version__,
        "jaxinter": jaxinter.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "jax_device": str(jax.devices()[0]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 10 only, 2 samples")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system", choices=["jaxinter", "torch"])
    parser.add_argument("--model", choices=["mlp7", "cnn"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--samples", type=int)
    args = parser.parse_args()
    if args.child:
        return child(args)

    # (model, n, samples, steady-state repeats): about 2**14 masked passes per configuration
    configs = [(m, n, s, r) for m in ("mlp7", "cnn") for n, s, r in ((10, 4, 3), (14, 1, 2))]
    if args.quick:
        configs = [(m, n, 2, 2) for m, n, _, _ in configs if n == 10]
    rows = []
    for model, n, samples, repeats in configs:
        mem = memory(model, n, samples)
        print("+ timing:", model, n, file=sys.stderr, flush=True)
        timings, results, source = timing(model, n, samples, repeats)
        passes = samples * 2**n
        row = dict(
            model=model,
            n=n,
            samples=samples,
            repeats=repeats,
            masked_passes=passes,
            layers=int(results["jaxinter"].shape[1]),
            data=source,
            load_average=load_average(),
            max_abs_diff=max(
                float(np.abs(results["jaxinter"] - results[s]).max()) for s in SYSTEMS[1:]
            ),
        )
        for system in SYSTEMS:
            t = timings[system]
            row[system] = dict(passes_per_s=passes / t.min_s, best_s=t.min_s, **t.row())
            if system in mem:
                row[system].update(mem[system])
        row["jaxinter"]["compile_s"] = max(timings["jaxinter"].first_s - timings["jaxinter"].min_s,
                                           0.0)
        best_torch = max(row[s]["passes_per_s"] for s in SYSTEMS[1:])
        row["speedup"] = row["jaxinter"]["passes_per_s"] / best_torch
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    write(rows, args.quick)


def write(rows, quick):
    RESULTS.mkdir(exist_ok=True)
    meta = dict(
        benchmark="masking",
        device="cpu",
        machine=f"{platform.machine()}, {os.cpu_count()} cores (shared by several engineers)",
        dtype="float32",
        chunk_size=CHUNK,
        quick=quick,
        versions=versions(),
        memory="peak RSS during one evaluation call (jaxinter: including jit compilation) minus "
        "the RSS just before it, in a fresh process per (system, model, n); psutil sampled "
        "every 2 ms; torch 1-thread uses the same memory as torch",
        timing="every system's first call alone (first_s, first_cpu_s), then `repeats` rounds "
        "in a rotating order in one process (times_s; median_s, cpu_median_s = process CPU "
        "seconds); best_s = min_s, the fastest round, for every system; compile_s = jaxinter's "
        "first call minus best_s, floored at 0 (unreliable when the load changes between the "
        "calls: the table shows the first call itself); load_average per row",
    )
    name = "masking_quick" if quick else "masking"
    (RESULTS / f"{name}.json").write_text(json.dumps(dict(meta, rows=rows), indent=2))
    lines = [
        "# Masked forward passes with all layers captured: jaxinter vs PyTorch (CPU)",
        "",
        f"float32, chunk_size {CHUNK}; each system's first call alone, then 2-3 rounds with the "
        f"systems called in a rotating order in one process, the fastest round of each "
        f"(medians, CPU seconds and load averages in the JSON); timings taken on "
        f"a shared {os.cpu_count()}-core CPU (compare the ratios). jax "
        f"{meta['versions']['jax']}, torch {meta['versions']['torch']} "
        f"({meta['versions']['torch_threads']} threads). Memory: {meta['memory']}.",
        "",
        "| model | n | samples x 2^n | layers | jaxinter passes/s | torch passes/s "
        "| torch 1-thread passes/s | speedup vs best torch | jaxinter first call s "
        "| peak MiB jaxinter / torch | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate = " | ".join(f"{r[s]['passes_per_s']:,.0f}" for s in SYSTEMS)
        peak = " / ".join(f"{r[s]['peak_rss_delta_mib']:.0f}" for s in SYSTEMS[:2])
        lines.append(
            f"| {r['model']} | {r['n']} | {r['masked_passes']} | {r['layers']} | {rate} "
            f"| {r['speedup']:.2f}x | {r['jaxinter']['first_s']:.2f} | {peak} "
            f"| {r['max_abs_diff']:.1e} |"
        )
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    plot(rows, RESULTS / f"{name}.png")
    print("\n".join(lines))


def plot(rows, path):
    from jaxinter.plots import new_figure, save

    fig, axes = new_figure(1, 1, 6.5, 3.5)
    ax = axes[0, 0]
    labels = [f"{r['model']}\nn={r['n']}" for r in rows]
    pos = np.arange(len(rows))
    width = 0.8 / len(SYSTEMS)
    for k, system in enumerate(SYSTEMS):
        ax.bar(
            pos + (k - (len(SYSTEMS) - 1) / 2) * width,
            [r[system]["passes_per_s"] for r in rows],
            width,
            label={"torch": "PyTorch hooks", "torch-1thread": "PyTorch hooks, 1 thread"}.get(
                system, system
            ),
        )
    ax.set_xticks(pos, labels)
    ax.set_ylabel("masked forward passes / s")
    ax.set_title("All layers captured + probe readouts, CPU float32")
    top = max(r[system]["passes_per_s"] for r in rows for system in SYSTEMS)
    ax.set_ylim(0, 1.3 * top)  # room for the legend above the bars
    ax.legend(loc="upper center", ncol=len(SYSTEMS), fontsize="small")
    save(fig, path)


if __name__ == "__main__":
    main()
