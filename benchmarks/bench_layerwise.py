"""Benchmark: the layerwise-knowledge pipeline end to end, jaxinter vs research-style PyTorch.

Task (the MNIST reproduction of Cheng et al. 2024): MLP-7 (7 linear layers, width 1024, ReLU)
trained on the first 8000 MNIST images; n = 10 salient foreground 3x3 patches per image; the
first 100 correctly classified test images; every hidden layer gets a linear probe; for every
(image, layer) the 2**n masked log-odds, the AND-OR interactions, and the layer comparison
metrics (salient sets, overlap/forget/new per order, completeness, redundancy).

Stages, for both systems (the trained weights are shared, training is not timed):

- probes: features of the 8000 training images, then a linear probe per hidden layer, 1000
  minibatch steps of 256 (jaxinter: one pass for all layers, equal-width layers trained together
  under vmap; PyTorch: one layer at a time, a forward hook collects that layer's features, SGD
  with momentum).
- masked evaluation: jaxinter ``masked_layer_scores`` (all layers in one chunked pass, masks on
  device); PyTorch: one image and one layer at a time, 2**n masked copies built for the image,
  run in batches of 512 with a forward hook on the layer, probe, log-odds.
- extraction: PyTorch: the published recipe per game (dense 2**n x 2**n Harsanyi and OR
  matrices, SGD momentum 0.9, 10,000 steps, q clipped); jaxinter: its default extraction (ADMM,
  all games at once; closer to the optimum) and, for the same algorithm, the published recipe
  vmapped over games.
- metrics: salient sets, per-order overlap/forget/new, completeness and redundancy of every
  layer against the output (PyTorch: Python loops over images, layers and orders).

The PyTorch pipeline is timed on ``--torch-images`` images (all layers) for masked evaluation
and metrics and on ``--torch-games`` games for extraction, then extrapolated linearly to the
full job (each image and each game is an independent, identical amount of work there). jaxinter
runs the whole job twice: the first run includes compilation, the second is steady state.

Run: .venv/bin/python benchmarks/bench_layerwise.py [--quick]
Writes benchmarks/results/layerwise.json and layerwise.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Results  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
STAGES = ("probes", "masked evaluation", "extraction", "metrics")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller configuration: width 256, 20 images, n = 8")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--depth", type=int, default=7)
    p.add_argument("--epochs", type=int, default=5, help="training epochs (not timed)")
    p.add_argument("--torch-images", type=int, default=2)
    p.add_argument("--torch-games", type=int, default=2)
    args = p.parse_args()
    if args.quick:
        args.images, args.n, args.width = 20, 8, 256
    return args


# ---------------------------------------------------------------------------------------------
# shared setup


def setup(args):
    from jaxinter.data import load_dataset
    from jaxinter.masking import Players, capture, salient_patch_ids
    from jaxinter.models import MLP
    from jaxinter.training import train

    ds = load_dataset("mnist", MNIST)
    model = MLP(ds.input_shape, 10, depth=args.depth, width=args.width)
    variables = train(model, ds, epochs=args.epochs, batch_size=128, progress=False).variables
    captured = capture(model, variables, r"hidden_\d+")
    pred = np.concatenate([np.asarray(captured(jnp.asarray(ds.x_test[i:i + 500]))[0]).argmax(-1)
                           for i in range(0, len(ds.x_test), 500)])
    ids = np.flatnonzero(pred == ds.y_test)[: args.images]
    x, y = ds.x_test[ids], ds.y_test[ids]
    patch_ids = salient_patch_ids(x, 3, args.n)
    players = Players.patches(ds.input_shape, 3, patch_ids)
    return ds, variables, captured, x, y, players, patch_ids


# ---------------------------------------------------------------------------------------------
# jaxinter


def run_jaxinter(ds, captured, x, y, players, method):
    from jaxinter import analysis as lw
    from jaxinter.masking import masked_layer_scores, train_probes

    times, out = {}, {}
    t = time.perf_counter()
    probes = train_probes(lambda xb: captured(xb)[1], ds.x_train, ds.y_train, 10,
                          key=jax.random.key(0), steps=1000, batch_size=256)
    jax.block_until_ready(probes)
    times["probes"] = time.perf_counter() - t
    t = time.perf_counter()
    v = masked_layer_scores(captured, probes.readouts(), jnp.asarray(x), players,
                            jnp.zeros(ds.input_shape), jnp.asarray(y), chunk_size=1024)
    v = jax.block_until_ready(v)
    times["masked evaluation"] = time.perf_counter() - t
    t = time.perf_counter()
    result = lw.layerwise_from_scores(v, probes.names + ["output"], method=method)
    jax.block_until_ready(result)
    times["extraction"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = result.summary()
    times["metrics"] = time.perf_counter() - t
    out.update(v=np.asarray(v), probes=probes, summary=summary)
    return times, out


# ---------------------------------------------------------------------------------------------
# PyTorch, the way research code does it


def torch_mlp(variables, depth):
    import torch
    from torch import nn

    p = variables["params"]
    dense = sorted(p, key=lambda k: int("".join(filter(str.isdigit, k))))  # dense1..dense7
    layers = []
    for i, name in enumerate(dense, 1):
        kernel = np.asarray(p[name]["kernel"])
        lin = nn.Linear(*kernel.shape)
        lin.weight.data = torch.from_numpy(kernel.T.copy())
        lin.bias.data = torch.from_numpy(np.asarray(p[name]["bias"]).copy())
        layers += [lin, nn.ReLU()] if i < depth else [lin]
    net = nn.Sequential(nn.Flatten(), *layers).eval()
    hooks = [net[2 * i] for i in range(1, depth)]  # the ReLU outputs = hidden_i
    return net, hooks


def torch_features(net, module, x, batch=500):
    import torch

    store = []
    handle = module.register_forward_hook(lambda m, i, o: store.append(o.detach()))
    with torch.no_grad():
        for i in range(0, len(x), batch):
            net(torch.from_numpy(x[i:i + batch]).permute(0, 3, 1, 2))
    handle.remove()
    return torch.cat(store)


def torch_probes(net, hooks, x, y, steps=1000, batch=256):
    """One layer at a time: hooked features, standardized, SGD momentum on a linear probe."""
    import torch

    probes = []
    yt = torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    for module in hooks:
        f = torch_features(net, module, x)
        mean, scale = f.mean(0), f.var(0).mean().sqrt() + 1e-6
        f = (f - mean) / scale
        lin = torch.nn.Linear(f.shape[1], 10)
        opt = torch.optim.SGD(lin.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        for _ in range(steps):
            idx = torch.randint(0, len(f), (batch,), generator=gen)
            loss = torch.nn.functional.cross_entropy(lin(f[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        probes.append((lin, mean, scale))
    return probes


def torch_log_odds(logits, target):
    import torch

    z_y = logits[:, target]
    others = torch.cat([logits[:, :target], logits[:, target + 1:]], 1)
    return z_y - torch.logsumexp(others, 1)


def torch_masked_scores(net, hooks, probes, image, target, patch_ids, n, batch=512):
    """(layers + 1, 2**n) log-odds for one image, one layer at a time."""
    import torch

    img = torch.from_numpy(image).permute(2, 0, 1)  # (1, 28, 28)
    masks = torch.ones(2**n, 1, 28, 28)  # pixels outside every player are always kept
    for s in range(2**n):  # research code builds the masks subset by subset
        for i in range(n):
            if not s >> i & 1:
                r, c = divmod(int(patch_ids[i]), 9)
                masks[s, :, 3 * r:3 * r + 3, 3 * c:3 * c + 3] = 0
    out = []
    with torch.no_grad():
        for layer in range(len(hooks) + 1):
            vals = []
            for i in range(0, 2**n, batch):
                inputs = img * masks[i:i + batch]
                if layer < len(hooks):
                    store = []
                    h = hooks[layer].register_forward_hook(
                        lambda m, a, o, store=store: store.append(o))
                    net(inputs)
                    h.remove()
                    lin, mean, scale = probes[layer]
                    logits = lin((store[0] - mean) / scale)
                else:
                    logits = net(inputs)
                vals.append(torch_log_odds(logits, target))
            out.append(torch.cat(vals))
    return torch.stack(out)


def dense_matrices(n):
    """Dense Harsanyi (AND) and OR transform matrices, 2**n x 2**n, as in research code."""
    import torch

    s = np.arange(2**n)
    sub = (s[:, None] & s[None, :]) == s[None, :]  # T subset of S
    sign = (-1.0) ** (np.bitwise_count(s)[:, None] - np.bitwise_count(s)[None, :])
    m_and = np.where(sub, sign, 0.0)
    # I_or(S) = -sum_{T subset S} (-1)^{|S|-|T|} w(N \ T); I_or(empty) = w(empty)
    m_or = -m_and[:, ::-1].copy()
    m_or[0] = 0
    m_or[0, 0] = 1
    m_and, m_or = (torch.tensor(m, dtype=torch.float32) for m in (m_and, m_or))
    from jaxinter.interactions import moebius, or_interactions

    w = np.random.default_rng(0).normal(size=2**n).astype(np.float32)
    assert np.allclose(m_and.numpy() @ w, moebius(w), atol=1e-3)
    assert np.allclose(m_or.numpy() @ w, or_interactions(w), atol=1e-3)
    return m_and, m_or


def torch_published(v, m_and, m_or, steps=10_000, lr=1e-5, c_q=0.04):
    """The published recipe for one game v (2**n,): SGD momentum, log-uniform lr decay."""
    import torch

    kappa = c_q * abs(float(v[-1] - v[0]))
    g = torch.zeros_like(v, requires_grad=True)
    q = torch.zeros_like(v, requires_grad=True)
    opt = torch.optim.SGD([g, q], lr=lr, momentum=0.9)
    for t in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 10 ** (-t / (steps - 1))
        with torch.no_grad():
            q.clamp_(-kappa, kappa)
        half = 0.5 * (v + q)
        i_and, i_or = m_and @ (half + g), m_or @ (half - g)
        loss = i_and.abs().sum() + i_or.abs().sum()
        opt.zero_grad()
        loss.backward()
        if t < steps - 1:
            opt.step()
    return i_and.detach(), i_or.detach(), loss.item()


def torch_metrics(i_and, i_or, n, ratio=0.05):
    """Per image, layer and order: overlap/forget/new, completeness, redundancy (loops)."""
    import torch

    layers = i_and.shape[0]
    order = torch.tensor([bin(s).count("1") for s in range(2**n)])
    scale = 1.0
    out = []
    both = torch.stack([i_and, i_or], 1)  # (layers, 2, 2**n)
    sal = both.abs() > ratio * both[..., 1:].abs().amax((1, 2), keepdim=True)
    sal[..., 0] = False
    for layer in range(layers):
        rows = []
        for k in range(2):
            a = torch.where(sal[layer, k], both[layer, k], 0) / scale
            r = torch.where(sal[-1, k], both[-1, k], 0) / scale
            for m in range(n + 1):
                sel = order == m
                al, ar = a[sel], r[sel]
                shared = torch.where(al * ar > 0, torch.minimum(al.abs(), ar.abs()), 0)
                overlap = float(shared.sum())
                rows.append((overlap, float((al.abs() - shared).sum()),
                             float((ar.abs() - shared).sum())))
        out.append(rows)
    return out


def run_torch(args, ds, variables, x, y, patch_ids, images):
    import torch

    times = {}
    net, hooks = torch_mlp(variables, args.depth)
    t = time.perf_counter()
    probes = torch_probes(net, hooks, ds.x_train, ds.y_train)
    times["probes"] = time.perf_counter() - t
    t = time.perf_counter()
    v = torch.stack([torch_masked_scores(net, hooks, probes, x[i], int(y[i]), patch_ids[i],
                                         args.n) for i in range(images)])
    times["masked evaluation"] = time.perf_counter() - t
    m_and, m_or = dense_matrices(args.n)
    layers = v.shape[1]
    games = [(i, j) for i in range(images) for j in range(layers)][: args.torch_games]
    t = time.perf_counter()
    extracted = [torch_published(v[i, j], m_and, m_or) for i, j in games]
    times["extraction"] = time.perf_counter() - t
    ia = torch.stack([e[0] for e in extracted])
    io = torch.stack([e[1] for e in extracted])
    # metrics on stand-in interactions of the right shape (timing only)
    fake_and = ia[:1].repeat(layers, 1)
    fake_or = io[:1].repeat(layers, 1)
    t = time.perf_counter()
    for _ in range(images):
        torch_metrics(fake_and, fake_or, args.n)
    times["metrics"] = time.perf_counter() - t
    return times, v.numpy(), [e[2] for e in extracted], len(games)


# ---------------------------------------------------------------------------------------------


def main():
    import torch

    args = parse_args()
    if not MNIST.exists():
        sys.exit(f"MNIST not found at {MNIST}")
    print(f"[bench] setup: training MLP-{args.depth} width {args.width} (not timed)", flush=True)
    ds, variables, captured, x, y, players, patch_ids = setup(args)
    images = len(x)
    runs = {}
    for label, method in (("jaxinter (first run, incl. compile)", "default"),
                          ("jaxinter (steady state)", "default"),
                          ("jaxinter, published recipe (first run)", "published")):
        print(f"[bench] {label}", flush=True)
        runs[label] = run_jaxinter(ds, captured, x, y, players, method)
    print(f"[bench] PyTorch on {args.torch_images} images, {args.torch_games} games", flush=True)
    t_times, t_v, t_losses, n_games = run_torch(args, ds, variables, x, y, patch_ids,
                                                args.torch_images)
    layers = t_v.shape[1]
    scale = {"probes": 1.0, "masked evaluation": images / args.torch_images,
             "extraction": images * layers / n_games, "metrics": images / args.torch_images}
    torch_full = {k: t_times[k] * scale[k] for k in STAGES}

    j_v = runs["jaxinter (steady state)"][1]["v"]
    diff = float(np.abs(j_v[: args.torch_images, -1] - t_v[:, -1]).max())
    j_first = runs["jaxinter (first run, incl. compile)"][0]
    res = Results("layerwise", "Layerwise-knowledge pipeline end to end (MNIST, MLP-7)",
                  ["system", "probes_s", "masked_evaluation_s", "extraction_s", "metrics_s",
                   "total_s", "speedup"])
    total_torch = sum(torch_full.values())
    res.add(system=f"PyTorch research-style (extrapolated from {args.torch_images} images, "
                   f"{n_games} games)",
            **{f"{k.replace(' ', '_')}_s": v for k, v in torch_full.items()},
            total_s=total_torch, speedup=1.0, measured=t_times)
    for label, (times, _) in runs.items():
        total = sum(times.values())
        res.add(system=label, **{f"{k.replace(' ', '_')}_s": v for k, v in times.items()},
                total_s=total, speedup=total_torch / total)
    res.note(f"{images} correctly classified MNIST test images, n = {args.n} foreground 3x3 "
             f"patches, MLP-{args.depth} width {args.width} ({layers} layers incl. the output), "
             f"{images * layers} games of 2**{args.n}; float32 on CPU.")
    res.note("Timings taken on a shared 2-core CPU (other jobs running): compare the ratios.")
    res.note("PyTorch stages other than probes are extrapolated linearly: masked evaluation and "
             f"metrics x {images / args.torch_images:.0f} (images), extraction x "
             f"{images * layers / n_games:.0f} (games).")
    res.note(f"Same network and players: PyTorch and jaxinter output log-odds agree to "
             f"{diff:.1e} (max abs difference on the PyTorch images).")
    from jaxinter.interactions import and_or

    ours = and_or(jnp.asarray(t_v.reshape(-1, t_v.shape[-1])[:n_games]))
    res.note(f"Extraction quality on the PyTorch games: published recipe (PyTorch) final L1 "
             f"{np.mean(t_losses):.4g}, jaxinter default {float(np.mean(ours.loss)):.4g} "
             f"(certified gap <= {float(np.max(ours.gap)):.1e}).")
    res.note(f"End-to-end speedup with the first jaxinter run (incl. compilation): "
             f"{total_torch / sum(j_first.values()):.0f}x.")
    path, _ = res.write()
    print(res.markdown())
    print(f"wrote {path}; torch {torch.__version__}")


if __name__ == "__main__":
    main()
