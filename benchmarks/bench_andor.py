"""AND-OR extraction: jaxinter vs the same algorithm in PyTorch and the published recipe.

Games come from a trained network: an MLP (5 linear layers, width 128) trained on scikit-learn's
digits; for correctly classified test images, the players are the n most salient 2x2 patches,
the baseline 0, and v(T) the log-odds of the true class on every masked input (the default
``jaxinter layerwise`` setting, with n = 8 to 14). They are built once with the library and
cached in ``results/andor_games.npz`` (delete it to rebuild); LP optima (scipy HiGHS, interior
point with crossover) are cached in ``results/andor_lp_cache.json``, keyed by a hash of the game.

Parts (``--parts``, default all):

- ``main``: per n, systems side by side, interleaved round by round (every system runs once per
  round, so load from other jobs falls on all alike): jaxinter's default extraction (batched);
  the same algorithm in PyTorch (batched, best effort: same iteration, restarts and per-game
  stopping, finished games dropped from the batch); the published recipe in PyTorch as research
  code runs it (dense 2**n x 2**n matrices, one game at a time, SGD 10,000 steps); HiGHS.
  Quality: loss / LP optimum - 1 and the certified gap, medians and maxima over all games.
- ``levers``: iterations and time to tol per game with each lever added in turn, starting from
  the solver before this change (commit 5e49a25, loaded from git).
- ``warm``: the saving of warm starts in three families of games: noisy copies of an image from
  the clean image, layer l + 1 (probe scores) from layer l, checkpoint t + 1 from checkpoint t;
  in one call (``warm_start=``, members after their source in the queue) and as a second call
  (``init=previous``), against cold starts, interleaved.
- ``transforms``: one Kronecker product of 2x2 factors on (2, 2**n): fused two-bit passes (the
  solver's) vs dense products over chunks of 5 bits (before) vs one pass per bit.
- ``e2e``: the extraction stage of the default ``jaxinter layerwise`` job (the command run from
  main before the levers, commit 977f363, and from this tree as a first run, every program
  compiled, and as a second run, programs read from the compilation cache) and of the MNIST
  setting (MLP-7, 100 images, its layers, n = 10, no noisy copies), before and after,
  interleaved (``--no-mnist`` keeps the MNIST rows of the last run).

Writes results/andor.{json,md} (the README table), andor_details.{json,md} (every table) and
andor.png. Run: .venv/bin/python benchmarks/bench_andor.py [--quick] [--parts main,levers]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import torch
from harness import RESULTS_DIR, Results, cpu_time_call

import jaxinter.interactions._admm as admm
from jaxinter.interactions import and_or, solve_lp
from jaxinter.interactions._admm import kron_apply, kron_operators
from jaxinter.interactions._andor import default_steps
from jaxinter.interactions._transforms import moebius_kernel, or_kernel

C_Q = 0.04
GAMES = RESULTS_DIR / "andor_games.npz"
LP_CACHE = RESULTS_DIR / "andor_lp_cache.json"
BEFORE = "5e49a25"  # the solver before this benchmark's levers
BEFORE_MAIN = "977f363"  # main before the levers merged (the same solver as BEFORE)
PREVIOUS = "0cb79a0"  # the solver before the step of two rotations and two add-only butterflies
PARTS = ("main", "levers", "warm", "transforms", "e2e")
ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# games of a trained network


def build_games(path=GAMES):
    """Digits MLP games: output_n{8,10,12,14}, and at n = 10 the families layers (5, 20, 2**n),
    noisy (4, 20, 2**n) and checkpoints (10, 20, 2**n); cached as float32 in ``path``."""
    if path.exists():
        return dict(np.load(path))
    from jaxinter.data import load_dataset
    from jaxinter.masking import (
        Players,
        capture,
        masked_layer_scores,
        masked_scores,
        salient_patch_ids,
        train_probes,
    )
    from jaxinter.models import MLP
    from jaxinter.training import train

    ds = load_dataset("digits")
    model = MLP(ds.input_shape, ds.num_classes, depth=5, width=128)
    snapshots = {}
    result = train(model, ds, epochs=30, batch_size=64, seed=0, progress=False,
                   callback=lambda step, variables, row: snapshots.update(
                       {round(row["epoch"]): variables}))
    captured = capture(model, result.variables, r"hidden_\d+")
    right = np.flatnonzero(np.asarray(captured(jnp.asarray(ds.x_test))[0]).argmax(-1)
                           == ds.y_test)
    probes = train_probes(lambda xb: captured(xb)[1], ds.x_train, ds.y_train, ds.num_classes,
                          key=jax.random.key(0))
    baseline = jnp.zeros(ds.input_shape)

    def output(variables, x, y, players):
        fn = capture(model, variables, r"hidden_\d+")
        return np.asarray(masked_scores(lambda xb: fn(xb)[0], jnp.asarray(x), players, baseline,
                                        jnp.asarray(y), chunk_size=1024))

    def players(x, n):
        return Players.patches(ds.input_shape, 2, salient_patch_ids(x, 2, n))

    out = {}
    for n, count in {8: 100, 10: 100, 12: 24, 14: 20}.items():
        x, y = ds.x_test[right[:count]], ds.y_test[right[:count]]
        out[f"output_n{n}"] = output(result.variables, x, y, players(x, n))
    x, y = ds.x_test[right[:20]], ds.y_test[right[:20]]
    pl = players(x, 10)  # the same players for every member of a family
    out["layers"] = np.moveaxis(np.asarray(masked_layer_scores(
        captured, probes.readouts(), jnp.asarray(x), pl, baseline, jnp.asarray(y),
        chunk_size=1024)), 1, 0)
    noise = 0.02 * np.asarray(jax.random.normal(jax.random.key(7), (4, *x.shape)))
    out["noisy"] = np.stack([output(result.variables, x + e, y, pl) for e in noise])
    out["checkpoints"] = np.stack([output(snapshots[e], x, y, pl) for e in range(3, 31, 3)])
    out = {k: v.astype(np.float32) for k, v in out.items()}
    np.savez_compressed(path, **out)
    return out


def _key(game) -> str:
    return hashlib.sha1(np.asarray(game, np.float64).tobytes() + str(C_Q).encode()).hexdigest()


def lp_optima(v, count, compute=True):
    """(optima (games,), seconds, CPU seconds) of the first ``count`` games, NaN elsewhere
    (and, with ``compute=False``, for games not in the cache)."""
    cache = json.loads(LP_CACHE.read_text()) if LP_CACHE.exists() else {}
    out = np.full((3, len(v)), np.nan)
    for i, game in enumerate(v[:count]):
        key = _key(game)
        if key not in cache and not compute:
            continue
        if key not in cache:
            start, cpu = time.perf_counter(), time.process_time()
            game64 = np.asarray(game, np.float64)
            loss = solve_lp(game64, C_Q * abs(game64[-1] - game64[0]), method="highs-ipm")[0]
            cache[key] = {"loss": loss, "seconds": time.perf_counter() - start,
                          "cpu_seconds": time.process_time() - cpu, "n": len(game).bit_length() - 1}
            LP_CACHE.write_text(json.dumps(cache, indent=1) + "\n")
        out[:, i] = [cache[key][k] for k in ("loss", "seconds", "cpu_seconds")]
    return out


# ---------------------------------------------------------------------------------------------
# PyTorch: the same algorithm, batched (like for like)


class TorchADMM:
    """jaxinter's default solver transcribed to PyTorch, batched over games (float32, CPU).

    Same iteration (over-relaxed Douglas-Rachford with exact Kronecker solves), same restarts
    to the average, same polished candidate, same certificate and stopping test; Kronecker
    factors applied as dense matrix products over chunks of 5 bits (torch's fastest here);
    finished games are dropped from the batch at every check.
    """

    def __init__(self, n, rho=10.0, beta=0.5, relax=1.8, check_every=25):
        self.n, self.rho, self.beta, self.relax, self.check = n, rho, beta, relax, check_every
        t = partial(torch.tensor, dtype=torch.float32)
        self.ops = combined_factors()
        self.solves = {w: tuple(t(x) for x in kron_operators(n, w))
                       for w in (beta, admm.POLISH_WEIGHT)}
        self.chunks = {}

    def kron(self, f, m):
        """Kronecker product of the 2x2 factor(s) m on f (..., [k,] 2**n): chunks of up to 5
        bits as batched matrix products on the last axis, rotating the bits after each."""
        m = np.asarray(m)
        key = m.tobytes()
        if key not in self.chunks:  # transposed dense factors of 5 bits and of the remainder
            self.chunks[key] = {k: torch.tensor(np.swapaxes(admm._kron_power(m, k), -1, -2).copy(),
                                                dtype=torch.float32)
                                for k in {min(5, self.n), self.n % 5 or 5}}
        shape = f.shape
        for k in [5] * (self.n // 5) + ([self.n % 5] if self.n % 5 else []):
            g = f.reshape(*shape[:-1], 2 ** (self.n - k), 2**k) @ self.chunks[key][k]
            f = g.transpose(-1, -2).reshape(shape)  # the k bits done become the top bits
        return f

    def project(self, p, v, kappa):
        out = torch.empty_like(p)
        total = v + torch.clamp(p[:, 0] + p[:, 1] - v, -kappa, kappa)
        half = 0.5 * (p[:, 0] - p[:, 1])
        torch.add(0.5 * total, half, out=out[:, 0])
        torch.sub(0.5 * total, half, out=out[:, 1])
        out[:, 0, 0] = v[:, 0] + torch.clamp(p[:, 0, 0] - v[:, 0], -kappa[:, 0], kappa[:, 0])
        out[:, 1, 0] = 0.0
        return out

    def shrink(self, tx):
        return torch.sign(tx) * torch.clamp(tx.abs() - 1 / self.rho, min=0)

    def solve_eigen(self, x, p, weight):
        """Eigen coordinates of argmin_z ||M~ z - x||^2 + weight ||z - p||^2 (B, 2, 2**n)."""
        o, (d, h, small) = self.ops, self.solves[weight]
        r = self.kron(x, o["coef_in"]).add_(self.kron(p, o["game_in"]), alpha=weight)
        r[:, 1] += x[:, 1, :1] * (h[1] - h[0])
        e = r.mul_(d)
        e[:, 1] -= d * ((e[:, 1] @ h.T) @ small.T @ h)
        return e

    def step(self, t, v, kappa):
        """One over-relaxed Douglas-Rachford step, updating t (B, 4, 2**n) in place; the
        games z of its solve are kept in ``self.z`` (for the polished candidate)."""
        x = self.shrink(t[:, :2])
        p = self.project(t[:, 2:], v, kappa)
        e = self.solve_eigen(2 * x - t[:, :2], 2 * p - t[:, 2:], self.beta)
        z = self.kron(e, self.ops["game_out"])
        coef = self.kron(e, self.ops["coef_out"])
        coef[:, 1, 0] = z[:, 1, 0]
        t[:, :2] += self.relax * (coef - x)
        t[:, 2:] += self.relax * (z - p)
        self.z = z
        return t

    def loss(self, p):
        coef = self.kron(p, self.ops["coef_of_game"])
        return coef[:, 0].abs().sum(-1) + coef[:, 1, 1:].abs().sum(-1)

    def polished_loss(self, t, v, kappa):
        """Loss of the polished candidate (jaxinter's ``_Problem.polish``) of the last step."""
        x, q = self.shrink(t[:, :2]), self.project(self.z, v, kappa)
        for _ in range(admm.POLISH_ROUNDS):
            e = self.solve_eigen(x, q, admm.POLISH_WEIGHT)
            q = self.project(self.kron(e, self.ops["game_out"]), v, kappa)
        return self.loss(q)

    def score(self, t, v, kappa):
        p = self.project(t[:, 2:], v, kappa)
        loss = self.loss(p)
        y = -self.rho * self.beta * (t[:, 2] - p[:, 0])
        up = self.kron(y, np.array([[1.0, 1.0], [0.0, 1.0]]))
        down = self.kron(y, np.array([[1.0, 0.0], [1.0, 1.0]]))
        w_t = up[:, :1] - down.flip(-1)
        norm = torch.maximum(up.abs().amax(-1), w_t[:, 1:].abs().amax(-1)).clamp(min=1)
        bound = ((y * v).sum(-1) - kappa[:, 0] * y.abs().sum(-1)) / norm
        return p, loss, bound

    def solve(self, games, steps, tol=1e-3):
        """Games (B, 2**n) numpy -> (loss (B,), lower bound (B,), steps (B,))."""
        v = torch.tensor(games, dtype=torch.float32)
        scale = v.abs().amax(-1, keepdim=True).clamp(min=1e-30)
        v = v / scale
        kappa = C_Q * (v[:, -1:] - v[:, :1]).abs()
        batch = len(v)
        out = np.zeros((3, batch))
        half = 0.5 * torch.stack([v, v], 1)
        p0 = self.project(half, v, kappa)
        x0 = self.kron(p0, self.ops["coef_of_game"])
        x0[:, 1, 0] = p0[:, 1, 0]
        t = torch.cat([x0, p0], 1)
        live = torch.arange(batch)
        total, count = torch.zeros_like(t), torch.zeros(batch)
        best, bound = torch.full((batch,), np.inf), torch.full((batch,), -np.inf)
        gap_restart, gap_last = torch.full((batch,), np.inf), torch.full((batch,), np.inf)
        with torch.no_grad():
            for check in range(1, steps // self.check + 1):
                for _ in range(self.check):
                    total += self.step(t, v, kappa)
                count += self.check
                average = total / count[:, None, None]
                _, loss_t, bound_t = self.score(t, v, kappa)
                _, loss_a, bound_a = self.score(average, v, kappa)
                gap_t = (loss_t - bound_t) / loss_t.clamp(min=1e-30)
                gap_a = (loss_a - bound_a) / loss_a.clamp(min=1e-30)
                best = torch.minimum(best, torch.minimum(loss_t, loss_a))
                best = torch.minimum(best, self.polished_loss(t, v, kappa))
                bound = torch.maximum(bound, torch.maximum(bound_t, bound_a))
                gap = torch.minimum(gap_t, gap_a)
                restart = ((gap <= 0.2 * gap_restart) | ((gap <= 0.8 * gap_restart)
                                                         & (gap > gap_last))
                           | (count >= 0.36 * check * self.check))
                use = (restart & (gap_a < gap_t))[:, None, None]
                t = torch.where(use, average, t).contiguous()
                total = torch.where(restart[:, None, None], 0.0, total)
                count = torch.where(restart, 0.0, count)
                gap_restart = torch.where(restart, gap, gap_restart)
                gap_last = torch.where(restart, np.inf, gap)
                done = (best - bound <= tol * best) | (check == steps // self.check)
                out[:, live[done].numpy()] = np.stack([
                    (best[done] * scale[done, 0]).numpy(), (bound[done] * scale[done, 0]).numpy(),
                    np.full(int(done.sum()), check * self.check)])
                keep = ~done
                if not keep.any():
                    break
                live, t, total, count, v, kappa, scale = (a[keep] for a in (
                    live, t, total, count, v, kappa, scale))
                best, bound, gap_restart, gap_last = (a[keep] for a in (
                    best, bound, gap_restart, gap_last))
        return out


def combined_factors():
    """The step's 2x2 factors per block (AND, OR), each linear piece combined into one product
    as dense chunks want it: coefficients and games to the eigenbasis, back to games and to
    coefficients, and games to coefficients (b~ = R b folded in as bit flips)."""
    u, m, flip = admm._U, admm.MOEBIUS_BIT, np.array([[0.0, 1.0], [1.0, 0.0]])
    pair = lambda a, b: np.stack([a, b])  # noqa: E731
    return dict(coef_in=pair(u.T @ m.T, u.T @ m.T), game_in=pair(u.T, u.T @ flip),
                game_out=pair(u, flip @ u), coef_out=pair(m @ u, m @ u),
                coef_of_game=pair(m, m @ flip))


# ---------------------------------------------------------------------------------------------
# PyTorch: the published recipe, as research code runs it


def dense_transforms(n):
    """The 2**n x 2**n AND (Moebius) and OR matrices as torch float32 tensors."""
    eye = np.eye(2**n, dtype=np.float32)
    return (torch.tensor(np.asarray(moebius_kernel(eye.T, n)).T),
            torch.tensor(np.asarray(or_kernel(eye.T, n)).T))


def _published_games(games, to_and, to_or, steps):
    """Final losses of the published loop on each game, one at a time."""
    return [torch_published(g, to_and, to_or, steps=steps) for g in games]


def torch_published(v, to_and, to_or, steps=10_000, lr=1e-5):
    """The published loop on one game: SGD momentum 0.9, log-uniform lr decay, q clipped."""
    r = torch.tensor(v, dtype=torch.float32)
    kappa = C_Q * abs(float(v[-1] - v[0]))
    p = torch.zeros_like(r, requires_grad=True)
    q = torch.zeros_like(r, requires_grad=True)
    opt = torch.optim.SGD([p, q], lr=0.0, momentum=0.9)
    eta = np.logspace(np.log10(lr), np.log10(lr) - 1, steps)
    for it in range(steps):
        q.data = torch.clamp(q.data, -kappa, kappa)
        half = 0.5 * (r + q)
        loss = (to_and @ (half + p)).abs().sum() + (to_or @ (half - p)).abs().sum()
        if it + 1 < steps:
            opt.zero_grad()
            opt.param_groups[0]["lr"] = eta[it]
            loss.backward()
            opt.step()
    return loss.item()


# ---------------------------------------------------------------------------------------------
# the solver before this change, loaded from git


def solver_at(commit):
    """The module jaxinter/interactions/_admm.py as it was at ``commit``."""
    source = subprocess.run(["git", "show", f"{commit}:jaxinter/interactions/_admm.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader(f"jaxinter.interactions._admm_{commit}", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "jaxinter.interactions"
    exec(compile(source, f"{commit}:_admm.py", "exec"), module.__dict__)
    return module


def before_solver():
    """``and_or``-like callable of the ADMM solver at commit ``BEFORE`` (games (B, 2**n))."""
    module = solver_at(BEFORE)

    def solve(v, steps=None):
        n = v.shape[-1].bit_length() - 1
        steps = steps or max(2000, 4000 + 2000 * (n - 8))
        kappa = C_Q * jnp.abs(v[:, -1] - v[:, 0])
        return module.admm_and_or(v, kappa, jnp.asarray(1e-3, v.dtype), n=n, rho=10.0,
                                  beta=1.0, relax=1.6, steps=steps, check_every=25)

    return solve


# ---------------------------------------------------------------------------------------------
# parts


def _quality(loss, bound, steps, opt):
    """Medians and maxima of loss / LP optimum - 1 (games with an optimum) and of the gap."""
    loss, bound, steps = (np.asarray(x, np.float64) for x in (loss, bound, steps))
    rel, gap = loss / opt[:len(loss)] - 1, (loss - bound) / loss
    have = ~np.isnan(rel)
    stats = lambda x: (float(np.median(x)), float(np.max(x))) if x.size else (None, None)  # noqa: E731
    return dict(zip(("loss_vs_lp_median", "loss_vs_lp_max"), stats(rel[have]), strict=True),
                lp_games=int(have.sum()),
                **dict(zip(("gap_median", "gap_max"), stats(gap[~np.isnan(gap)]), strict=True)),
                steps_median=float(np.median(steps)), steps_max=int(np.max(steps)))


CHUNK = 4  # n >= 12: games per call (one lane there, so chunking costs nothing)
TORCH_STEPS = 100  # n >= 12: steps timed of the PyTorch transcription, scaled to jaxinter's


ONE_THREAD = "jaxinter default, one thread (workers=1)"


def _chunked(v, **options):
    """jaxinter's default extraction of v in calls of CHUNK games (one compilation)."""
    return [and_or(jnp.asarray(v[i:i + CHUNK]), **options) for i in range(0, len(v), CHUNK)]


def _systems(n, v):
    """name -> (callable, games it solves, steps timed or None for all) for the main table."""
    budget = default_steps(n)
    torch_games = {8: 20, 10: 3}.get(n, 1)
    systems = {"jaxinter default": (partial(and_or, jnp.asarray(v)) if n <= 10 else
                                    partial(_chunked, v), len(v), None),
               ONE_THREAD: (partial(and_or, jnp.asarray(v), workers=1) if n <= 10 else
                            partial(_chunked, v, workers=1), len(v), None),
               "torch, same algorithm (batched)": (partial(
                   TorchADMM(n).solve, v[:torch_games], steps=budget if n <= 10 else
                   TORCH_STEPS), torch_games, None if n <= 10 else TORCH_STEPS)}
    if n <= 10:
        systems["jaxinter, published recipe (batched)"] = (
            partial(and_or, jnp.asarray(v[:20]), method="published"), 20, None)
    if n <= 12:
        steps = 10_000 if n <= 10 else 300
        systems["torch, published recipe (dense, per game)"] = (
            partial(_published_games, v[:1], *dense_transforms(n), steps), 1,
            None if n <= 10 else steps)
    return systems


def _outcome(out):
    """(loss, lower bound, steps) of any system's output."""
    if isinstance(out, list) and isinstance(out[0], float):  # the published loop in torch
        return np.array(out), np.full(len(out), np.nan), np.full(len(out), 10_000)
    if isinstance(out, list):  # jaxinter in chunks
        return tuple(np.concatenate([np.asarray(getattr(r, k)) for r in out])
                     for k in ("loss", "lower_bound", "steps"))
    if isinstance(out, np.ndarray):  # TorchADMM
        return out
    return out.loss, out.lower_bound, out.steps


def part_main(res, games, quick):
    """Per n, every system of :func:`_systems` interleaved round by round, with quality."""
    plan = {8: (100, 100, 3), 10: (100, 100, 2), 12: (24, 6, 1), 14: (20, 0, 1)}
    if quick:
        plan = {8: (20, 20, 1), 10: (10, 10, 1)}
    for n, (count, lp_count, rounds) in plan.items():
        v = games[f"output_n{n}"][:count]
        opt, lp_s, lp_cpu = lp_optima(v, lp_count)
        systems = _systems(n, v)
        first = {}  # compilation and a first call of each jaxinter system (n > 10: one chunk)
        for name, options in (("jaxinter default", {}), (ONE_THREAD, {"workers": 1})):
            first[name] = cpu_time_call(partial(and_or, jnp.asarray(v[:CHUNK]), **options)
                                        if n > 10 else systems[name][0])[0]
        if n <= 10:  # compilation (and a first run)
            first["jaxinter, published recipe (batched)"] = cpu_time_call(
                systems["jaxinter, published recipe (batched)"][0])[0]
        runs = {name: [] for name in systems}
        for _ in range(rounds):
            for name, (fn, _, _) in systems.items():
                runs[name].append((*cpu_time_call(fn), os.getloadavg()[0]))
        ours = _outcome(runs["jaxinter default"][-1][2])
        per_game = {}  # like for like: torch (one thread) against jaxinter on one thread
        for name, (_, played, timed) in systems.items():
            total = 10_000 if "published" in name else float(np.mean(ours[2]))
            scale = 1.0 if timed is None else total / timed
            per = float(np.median([r[0] for r in runs[name]])) / played * scale
            per_game[name] = per
            base = per_game["jaxinter default" if name in ("jaxinter default", ONE_THREAD)
                            else ONE_THREAD]
            label = name + (f" ({played} games)" if played < count else "")
            if timed is not None:
                label += (f" [{timed} steps timed, x{scale:.0f} extrapolated to "
                          + ("10,000 steps]" if "published" in name else
                             "jaxinter's mean steps]"))
            res.add(system=label, n=n, games=played, first_s=first.get(name), s_per_game=per,
                    cpu_s_per_game=float(np.median([r[1] for r in runs[name]])) / played * scale,
                    load=float(np.mean([r[3] for r in runs[name]])), jaxinter_speedup=per / base,
                    **(_quality(*_outcome(runs[name][-1][2]), opt) if timed is None else {}))
        lp_games = int(np.sum(~np.isnan(opt)))
        if lp_games:
            res.add(system=f"scipy HiGHS LP, interior point (cached, {lp_games} games)", n=n,
                    games=lp_games, s_per_game=float(np.nanmean(lp_s)),
                    cpu_s_per_game=float(np.nanmean(lp_cpu)),
                    jaxinter_speedup=float(np.nanmean(lp_s)) / per_game[ONE_THREAD])
        print(n, res.rows[-len(systems) - 1:], flush=True)


def part_levers(res, games, quick):
    """Each lever added in turn, from the solver before this change to today's default."""
    before = before_solver()
    plan = {8: 100, 10: 100, 12: 6} if not quick else {8: 20}
    for n, count in plan.items():
        v = jnp.asarray(games[f"output_n{n}"][:count])
        wide = dict(slots=count, workers=1, tol=1e-3)
        configs = {
            f"before ({BEFORE}): dense 5-bit chunks, beta 1, relax 1.6, lanes wait for the "
            "slowest game": lambda v=v: before(v),
            "same iteration, new code (lanes; two rotations and two add-only butterflies per "
            "step, two-bit passes)": partial(and_or, v, beta=1.0, relax=1.6, restarts=False,
                                             **wide),
            "+ restarts to the running average": partial(and_or, v, beta=1.0, relax=1.6,
                                                         **wide),
            "+ beta 0.5, relax 1.8 (tuned with restarts)": partial(and_or, v, **wide),
            f"+ per-game stopping, {min(count, 2 ** max(12 - n, 0))} lanes (= default)":
                partial(and_or, v, workers=1, tol=1e-3),
            "+ games split over the 2 cores (workers, default)": partial(and_or, v, tol=1e-3),
        }
        if n >= 12:
            configs["+ tol 9e-3 from n = 12 (default: every game certified within 1%)"] = (
                partial(and_or, v))
        timings = {name: [] for name in configs}
        for _ in range(2):  # round 0 compiles
            for name, fn in configs.items():
                timings[name].append((*cpu_time_call(lambda fn=fn: jax.block_until_ready(fn())),
                                      os.getloadavg()[0]))
        first = None
        for name, runs in timings.items():
            wall, cpu, out, load = runs[1]
            steps = np.asarray(out.steps)
            first = first or cpu
            res.add(lever=name, n=n, games=count, steps_mean=float(steps.mean()),
                    steps_median=float(np.median(steps)), steps_max=int(steps.max()),
                    s_per_game=wall / count, cpu_s_per_game=cpu / count,
                    first_s=runs[0][0], speedup_vs_before=first / cpu, load=load,
                    gap_max=float(np.max(np.asarray(out.gap))))
        print("levers", n, res.rows[-len(configs):], flush=True)


def _warm_families(games, quick):
    """name -> (family (K, S, 2**n), warm_start): member 0 first, then its related games."""
    count = 6 if quick else 20
    noisy = np.concatenate([games["layers"][-1][None], games["noisy"]])[:, :count]
    families = {
        "noisy copies <- clean image (output)": (noisy, "from_first"),
        "layer l + 1 <- layer l (probe scores)": (games["layers"][:, :count], "chained"),
        "checkpoint t + 1 <- checkpoint t (every 3 epochs)": (
            games["checkpoints"][:, :count // 2], "chained"),
    }
    return dict(list(families.items())[:1]) if quick else families


def _previous(result, warm_start):
    """The init= of members 1.. of a family: member 0's result or each member's predecessor."""
    if warm_start == "from_first":
        return jax.tree.map(lambda x: jnp.broadcast_to(x[0], (len(x) - 1,) + x.shape[1:]),
                            result)
    return jax.tree.map(lambda x: x[:-1], result)


def _steps_stats(steps):
    steps = np.asarray(steps, np.float64)
    return float(np.median(steps)), float(np.max(steps)), float(np.mean(steps))


def part_warm(res, games, quick):
    """Cold vs warm starts in three families of games at n = 10, members 1.. timed: one call
    with ``warm_start`` (members after their source in the queue) and ``init=`` (a second call
    from the previous members' results), interleaved round by round."""
    for name, (family, warm_start) in _warm_families(games, quick).items():
        v = jnp.asarray(family)
        previous = _previous(and_or(v), warm_start)
        modes = {"cold": partial(and_or, v),
                 f"warm_start={warm_start!r} (one call)": partial(and_or, v,
                                                                 warm_start=warm_start),
                 "init= (members 1.. from the previous result)": partial(and_or, v[1:],
                                                                         init=previous)}
        runs = {mode: [] for mode in modes}
        for _ in range(2):  # round 0 compiles
            for mode, fn in modes.items():
                runs[mode].append(cpu_time_call(lambda fn=fn: jax.block_until_ready(fn())))
        cold = runs["cold"][1][2]
        for mode, got in runs.items():
            _, cpu, out = got[1]
            members = out if mode.startswith("init") else jax.tree.map(lambda x: x[1:], out)
            count = int(np.prod(v.shape[:-1]))
            cpu_members = cpu if mode.startswith("init") else cpu * (  # members' share
                1 - float(np.sum(out.steps[0]) / np.sum(out.steps)))
            median, high, mean = _steps_stats(members.steps)
            res.add(family=name, mode=mode, games=count - len(v[0]), steps_median=median,
                    steps_max=high, steps_mean=mean,
                    steps_saving=1 - mean / _steps_stats(cold.steps[1:])[2],
                    cpu_s_per_game=cpu_members / (count - len(v[0])),
                    loss_vs_cold_max=float(np.max(np.abs(np.asarray(members.loss)
                                                         / np.asarray(cold.loss[1:]) - 1))),
                    gap_median=float(np.median(np.asarray(members.gap))),
                    gap_max=float(np.max(np.asarray(members.gap))), load=os.getloadavg()[0])
        base = res.rows[-3]["cpu_s_per_game"]
        for row in res.rows[-3:]:
            row["time_saving"] = 1 - row["cpu_s_per_game"] / base
        print("warm", res.rows[-3:], flush=True)
    clean = jnp.asarray(games["layers"][-1])
    cold = and_or(clean)
    again = and_or(clean, init=cold)
    median, high, mean = _steps_stats(again.steps)
    res.add(family="the same games again (the most a warm start can save)", mode="init=",
            games=len(clean), steps_median=median, steps_max=high, steps_mean=mean,
            steps_saving=1 - mean / _steps_stats(cold.steps)[2],
            loss_vs_cold_max=float(np.max(np.abs(np.asarray(again.loss / cold.loss) - 1))),
            gap_max=float(np.max(np.asarray(again.gap))))


def one_bit_passes(f, n, m):
    """The Kronecker product as n elementwise passes, one bit each (a plain butterfly)."""
    shape = f.shape
    for i in range(n):
        g = f.reshape(shape[:-1] + (2 ** (n - 1 - i), 2, 2**i))
        lo, hi = g[..., 0, :], g[..., 1, :]
        f = jnp.stack([m[0, 0] * lo + m[0, 1] * hi, m[1, 0] * lo + m[1, 1] * hi], -2)
        f = f.reshape(shape)
    return f


def _repeat(fn, x, length=200):
    """``length`` applications of fn, renormalized (no denormals), in one scan."""
    return jax.lax.scan(lambda c, _: (fn(c) / jnp.max(jnp.abs(c)), None), x, None,
                        length=length)[0]


def _ready(fn, *args):
    return jax.block_until_ready(fn(*args))


def dense_chunks(f, n, m):
    """The Kronecker product as dense matrix products over chunks of 5 bits (the solver's
    way below n = 12 before the two-bit passes)."""
    shape = f.shape
    for done in range(0, n, 5):
        k = min(5, n - done)
        g = f.reshape(shape[:-1] + (2 ** (n - done - k), 2**k, 2**done))
        f = jnp.einsum("ij,...ajb->...aib", jnp.asarray(admm._kron_power(m, k), f.dtype), g,
                       precision="highest").reshape(shape)
    return f


def _dense_rotations(kron_apply_, f, n, m):
    """kron_apply with factors without zeros (the rotations) as dense 5-bit chunks."""
    dense = np.ndim(m) == 2 and np.all(np.asarray(m) != 0)
    return dense_chunks(f, n, np.asarray(m)) if dense else kron_apply_(f, n, m)


def _lanes(n):
    return max(1, 2 ** (12 - n))


def _cpu_us(loop, x, lanes, length=200):
    """Best CPU microseconds per application and lane of a jitted loop of ``length``."""
    jax.block_until_ready(loop(x))
    return min(cpu_time_call(partial(_ready, loop, x))[1] for _ in range(3)) / length / lanes * 1e6


def part_transforms(res, steps_res, quick):
    """CPU microseconds per Kronecker product on a (2, 2**n) game pair, three ways, for the
    rotation of the exact solve and the Moebius butterfly; and per solver step and game,
    the step before (PREVIOUS: four combined factors per block) against today's."""
    matrices = {"rotation kron(U)": admm._U, "Moebius butterfly": admm.MOEBIUS_BIT}
    ways = {"dense 5-bit chunks": dense_chunks, "fused two-bit passes": kron_apply,
            "one pass per bit": one_bit_passes}
    previous = solver_at(PREVIOUS)
    data = np.load(GAMES)
    for n in (8, 10) if quick else (8, 10, 12, 14):
        lanes = _lanes(n)
        x = jax.random.normal(jax.random.key(0), (lanes, 2, 2**n))
        for label, m in matrices.items():
            row = {"n": n, "lanes": lanes, "factor": label}
            for name, fn in ways.items():
                row[name] = _cpu_us(jax.jit(partial(_repeat, partial(fn, n=n, m=m))), x, lanes)
            res.add(**row)
            print("transforms", row, flush=True)
        v = jnp.asarray(data[f"output_n{n}"][:lanes], jnp.float32)
        v = v / jnp.max(jnp.abs(v), axis=-1, keepdims=True)
        game = admm._Game(v, C_Q * jnp.abs(v[:, -1] - v[:, 0]))
        start = jnp.concatenate([0.5 * jnp.stack([v, v], 1)] * 2, axis=1)
        row = {"n": n, "lanes": lanes}
        for name, module in (("before", previous), ("now", admm),
                             ("now_dense_rotations", admm)):
            dense = name == "now_dense_rotations"  # rotations as dense chunks, traced so
            saved = admm.kron_apply
            admm.kron_apply = partial(_dense_rotations, saved) if dense else saved
            problem = module._Problem(n, 10.0, 0.5, 1.8, jnp.float32)
            step = jax.vmap(problem.step)  # now: (state, games of the solve); before: state

            def state(t, step=step, game=game):
                out = step(t, game)
                return out[0] if isinstance(out, tuple) else out

            loop = jax.jit(lambda t, state=state: jax.lax.scan(
                lambda c, _: (state(c), None), t, None, length=200)[0])
            try:
                row[f"{name}_us"] = _cpu_us(loop, start, lanes)
            finally:
                admm.kron_apply = saved
        row["speedup"] = row["before_us"] / row["now_us"]
        steps_res.add(**row)
        print("steps", row, flush=True)


def _export(commit, folder):
    """The package at ``commit`` (or the working tree for None) as a folder to run from."""
    folder.mkdir(parents=True, exist_ok=True)
    if commit is None:
        subprocess.run(["cp", "-r", str(ROOT / "jaxinter"), str(folder)], check=True)
    else:
        archive = subprocess.run(["git", "archive", commit, "jaxinter"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _layerwise_cli(package, out, *options):
    """Run ``jaxinter layerwise --out out *options`` from ``package``; (extraction s, total s,
    CPU s)."""
    for stale in list((out / "cache").glob("layer_*.npz")) + list(
            (out / "cache").glob("model_b*.npz")):
        stale.unlink()
    # the package from PYTHONPATH, never the working tree: python -c puts its working
    # directory first on sys.path (PYTHONSAFEPATH leaves it out), so run it from the package
    env = {**os.environ, "PYTHONPATH": str(package), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONSAFEPATH": "1"}
    before = os.times()
    subprocess.run([sys.executable, "-c", "import sys, jaxinter; from jaxinter.cli import main; "
                    f"assert jaxinter.__file__.startswith({str(package)!r}), jaxinter.__file__; "
                    "sys.exit(main(sys.argv[1:]))", "layerwise", "--out", str(out.resolve()),
                    *options], env=env, check=True, capture_output=True, cwd=package)
    after = os.times()
    timings = json.loads((out / "summary.json").read_text())["timings"]
    cpu = (after.children_user - before.children_user) + (after.children_system
                                                          - before.children_system)
    return timings["extraction"], timings["total"], cpu


def part_e2e(res, quick, scratch, mnist=True):
    """Extraction stage of the default layerwise job (before; after as a first run, every
    program compiled; after as a second run, programs from the compilation cache) and of the
    MNIST reproduction (``mnist=False``: its rows of the last run are kept)."""
    before, after = _export(BEFORE_MAIN, scratch / "before"), _export(None, scratch / "after")
    xla = scratch / "xla"
    subprocess.run(["rm", "-rf", str(xla)], check=True)
    runs = {"before": (before, ()), "after, first run (no compilation cache)": (
                after, ("--no-compile-cache",)),
            "after, second run (programs from the compilation cache)": (
                after, ("--compile-cache", str(xla)))}
    times = {name: [] for name in runs}
    for rnd in range(3):  # round 0 fills the stage caches before extraction and the xla cache
        for name, (package, options) in runs.items():
            got = _layerwise_cli(package, scratch / f"layerwise_{package.name}", *options)
            if rnd:
                times[name].append((*got, os.getloadavg()[0]))
    for name, got in times.items():
        ext, total, cpu, load = np.median(np.array(got), axis=0)
        res.add(job="jaxinter layerwise (defaults: digits, n = 8, 40 images, 5 layers, "
                "5 noise draws)", solver=name, extraction_s=ext, total_s=total,
                process_cpu_s=cpu, load=load, extraction_speedup=np.median(
                    [r[0] for r in times["before"]]) / ext,
                note="extraction stage as the command reports it (compilation included); "
                "the stages before it come from the stage cache" if name != "before" else "")
    _warm_projection(res, scratch / "layerwise_after" / "cache")
    if quick:
        return
    if mnist:
        _mnist(res)
    else:
        res.rows += [row for row in _previous_rows(res.title) if row["job"].startswith("MNIST")]


def _warm_projection(res, cache):
    """The default job's extraction as the command runs it (one call per layer: the clean
    games and their noisy copies), cold and with the noisy copies warm-started (the default)."""
    v = np.load(cache / "scores.npz")["v"]  # (S, L, 2**n)
    noisy = np.load(cache / "noise_scores.npz")["v"].reshape((-1,) + v.shape)
    family = jnp.asarray(np.concatenate([v[None], noisy]))  # (1 + K, S, L, 2**n)

    def per_layer(warm_start):
        return [and_or(family[:, :, j], warm_start=warm_start) for j in range(v.shape[1])]

    modes = {"after, cold starts": None,
             "after, noisy copies from the clean game (warm_start, the default)": "from_first"}
    times = {name: [] for name in modes}
    for _ in range(3):  # round 0 compiles
        for name, mode in modes.items():
            times[name].append(cpu_time_call(lambda mode=mode: jax.block_until_ready(
                per_layer(mode)))[:2])
    for name, got in times.items():
        wall, cpu = np.median(np.array(got[1:]), axis=0)
        res.add(job="jaxinter layerwise extraction stage, in process (steady state)",
                solver=name, extraction_s=wall, process_cpu_s=cpu)


def _mnist(res):
    """MNIST reproduction (bench_layerwise.py setting): extraction of its 700 games."""
    import bench_layerwise

    args = argparse.Namespace(images=100, n=10, width=1024, depth=7, epochs=5)
    ds, _, captured, x, y, players, _ = bench_layerwise.setup(args)
    from jaxinter.masking import masked_layer_scores, train_probes

    start = time.perf_counter()
    probes = train_probes(lambda xb: captured(xb)[1], ds.x_train, ds.y_train, 10,
                          key=jax.random.key(0), steps=1000, batch_size=256)
    probes_s = time.perf_counter() - start
    start = time.perf_counter()
    v = jax.block_until_ready(masked_layer_scores(
        captured, probes.readouts(), jnp.asarray(x), players, jnp.zeros(ds.input_shape),
        jnp.asarray(y), chunk_size=1024))
    masked_s = time.perf_counter() - start
    flat = v.reshape(-1, v.shape[-1])
    before = before_solver()

    def chained():  # layer l + 1 warm-started from layer l
        previous, out = None, []
        for j in range(v.shape[1]):
            previous = and_or(v[:, j], init=previous)
            out.append(previous)
        return out

    systems = {"before": lambda: before(flat), "after": lambda: and_or(v),
               "after, layer l + 1 warm-started from layer l": chained}
    times = {name: [] for name in systems}
    for rnd in range(2):
        for name, fn in systems.items():
            if rnd == 0 and name == "before":
                continue  # 3 minutes a call: timed once, compilation included
            times[name].append(cpu_time_call(lambda fn=fn: jax.block_until_ready(fn())))
    base = times["before"][-1][0]
    for name, got in times.items():
        wall, cpu, _ = got[-1]
        res.add(job=f"MNIST reproduction (MLP-7, {len(x)} images, n = 10, {flat.shape[0]} "
                "games)", solver=name, extraction_s=wall, process_cpu_s=cpu,
                total_s=probes_s + masked_s + wall, extraction_speedup=base / wall,
                note=f"probes {probes_s:.1f} s and masked evaluation {masked_s:.1f} s measured "
                "once, shared" + ("; includes compilation" if name == "before" else ""))


# ---------------------------------------------------------------------------------------------
# figure


def _sparsity(result):
    """|I(S)| / max |I| over AND and OR terms pooled, in descending order."""
    a = np.abs(np.concatenate([np.asarray(result.i_and), np.asarray(result.i_or)], -1))
    return np.sort(a.ravel())[::-1] / a.max()


def figure(games, path=RESULTS_DIR / "andor.png"):
    """n = 10: one game's loss / LP optimum - 1 per step and sparsity curves; steps to the
    certificate of 100 games, before and now."""
    from jaxinter.plots.andor import andor_figure

    v = games["output_n10"][:1]
    opt = lp_optima(v, 1)[0, 0]
    ours = and_or(jnp.asarray(v))
    old = before_solver()(jnp.asarray(v))
    published = and_or(jnp.asarray(v), method="published")
    lp = and_or(jnp.asarray(v[0]), method="lp")
    ran = lambda r: int(np.asarray(r.steps)[0]) // 25  # noqa: E731
    histories = {
        "jaxinter default (best iterate)": (25 * np.arange(1, ran(ours) + 1),
                                            np.asarray(ours.loss_history)[0, :ran(ours)]),
        f"jaxinter before ({BEFORE})": (25 * np.arange(1, ran(old) + 1),
                                        np.asarray(old.loss_history)[0, :ran(old)]),
        "published SGD (lr 1e-5)": (np.arange(1, 10_001), np.asarray(published.loss_history)[0]),
    }
    bounds = {"jaxinter default": float(ours.lower_bound[0])}
    curves = {"LP optimum": _sparsity(lp), "jaxinter default": _sparsity(ours),
              "published SGD": _sparsity(published)}
    batch = jnp.asarray(games["output_n10"])
    certified = {f"before ({BEFORE})": np.asarray(before_solver()(batch).steps),
                 "jaxinter default": np.asarray(and_or(batch).steps)}
    return andor_figure(histories, opt, curves, path, bounds=bounds, certified=certified)


# ---------------------------------------------------------------------------------------------


def _previous_rows(title):
    """The rows of the section ``title`` in the last andor_details.json."""
    path = RESULTS_DIR / "andor_details.json"
    old = {p["title"]: p for p in json.loads(path.read_text()).get("sections", [])} \
        if path.exists() else {}
    return old.get(title, {}).get("rows", [])


def _keep_previous(sections, names):
    """Rows of the sections not rerun, read back from the last andor_details.json."""
    for name in names:
        sections[name].rows = _previous_rows(sections[name].title)


MAIN_COLUMNS = ["system", "n", "games", "first_s", "s_per_game", "cpu_s_per_game", "load",
                "jaxinter_speedup", "loss_vs_lp_median", "loss_vs_lp_max", "lp_games",
                "gap_median", "gap_max", "steps_median", "steps_max"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few games, n <= 10, no MNIST")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated of {PARTS}")
    p.add_argument("--no-mnist", action="store_true",
                   help="e2e: keep the MNIST rows of the last run instead of rerunning them")
    p.add_argument("--scratch", default="/tmp/jaxinter_bench_andor",
                   help="folder for the before/after packages and layerwise runs")
    args = p.parse_args()
    parts = args.parts.split(",")
    torch.set_num_threads(1)  # 2 threads stall on the shared, oversubscribed cores
    games = build_games()
    main_res = Results("andor", "AND-OR extraction: jaxinter vs the same algorithm in PyTorch "
                       "and the published recipe", columns=MAIN_COLUMNS)
    details = Results("andor_details", "AND-OR extraction: levers, warm starts, transforms, "
                      "end to end", columns=MAIN_COLUMNS)
    sections = {
        "levers": details.section("Levers: iterations and time to tol per game, each added "
                                  "in turn", ["lever", "n", "games", "steps_mean",
                                              "steps_median", "steps_max", "s_per_game",
                                              "cpu_s_per_game", "first_s", "speedup_vs_before",
                                              "gap_max", "load"]),
        "warm": details.section("Warm starts (n = 10, games of one trained network; members "
                                "1.. of each family)",
                                ["family", "mode", "games", "steps_median", "steps_max",
                                 "steps_mean", "steps_saving", "cpu_s_per_game", "time_saving",
                                 "loss_vs_cold_max", "gap_median", "gap_max", "load"]),
        "transforms": details.section(
            "Kronecker product of 2x2 factors on one (2, 2**n) game pair, CPU microseconds "
            "(the solver uses fused two-bit passes, zero terms left out)",
            ["n", "lanes", "factor", "dense 5-bit chunks", "fused two-bit passes",
             "one pass per bit"]),
        "steps": details.section(
            f"One solver step, CPU microseconds per game: before ({PREVIOUS}: four products "
            "of combined factors per block, dense 5-bit chunks below n = 12) and now (two "
            "rotations and two add-only Moebius butterflies, two-bit passes; and with the "
            "rotations as dense 5-bit chunks instead)",
            ["n", "lanes", "before_us", "now_us", "now_dense_rotations_us", "speedup"]),
        "e2e": details.section("End to end: extraction stage before and after",
                               ["job", "solver", "extraction_s", "total_s", "process_cpu_s",
                                "extraction_speedup", "load", "note"]),
    }
    _keep_previous(sections, [k for k in sections if k not in parts
                              and not (k == "steps" and "transforms" in parts)])
    if "main" in parts:
        part_main(main_res, games, args.quick)
    if "levers" in parts:
        part_levers(sections["levers"], games, args.quick)
    if "warm" in parts:
        part_warm(sections["warm"], games, args.quick)
    if "transforms" in parts:
        part_transforms(sections["transforms"], sections["steps"], args.quick)
    if "e2e" in parts:
        part_e2e(sections["e2e"], args.quick, Path(args.scratch), mnist=not args.no_mnist)
    for text in NOTES:
        main_res.note(text)
    main_res.note("Levers, warm starts, transform timings and end-to-end before/after: "
                  "benchmarks/results/andor_details.md.")
    if "main" in parts:
        main_res.write()
    if set(parts) & set(sections):
        details.write()
    if "main" in parts:
        figure(games)


NOTES = [
    "Games: log-odds of a digits MLP (5 layers, width 128) on every masked input, players the "
    "n most salient 2x2 patches of correctly classified test images (not random numbers). "
    "Device: the shared 2-core CPU below, float32 for jaxinter and torch, float64 for HiGHS.",
    "Systems run interleaved round by round (each system once per round; load = mean 1-minute "
    "load average during its rounds, other engineers' jobs included), after a compile and "
    "warm-up round; s_per_game = median wall seconds of a round / games, cpu_s_per_game the "
    "same in process CPU seconds (all threads: robust to load); first_s = the first call "
    "(compilation included; the one-thread row compiles a program of its own where its padded "
    "batch differs, at n = 10: 100 games in one group, against two groups of 50). jaxinter "
    "default splits the games over the 2 cores (``workers``, "
    "two solver programs side by side); jaxinter_speedup = system time / time of jaxinter on "
    "one thread (workers=1, like for like with torch's one thread), and for that row its time "
    "/ the default's.",
    "jaxinter default: all games in one call up to n = 10; from n = 12 (one lane, games run one "
    "after another anyway) calls of 4 games, so first_s (compilation and a first call) is "
    "measured on 4 games. n = 14: no LP optimum (HiGHS needs about 1-5 minutes per n = 12 game "
    "here and was not run at n = 14); quality is the certified gap.",
    "'torch, same algorithm (batched)': jaxinter's default solver transcribed to PyTorch "
    "(same iteration, restarts, certificate and stopping; finished games leave the batch; "
    "eager, 1 thread: 2 threads stall on the shared cores), like for like, on 20 (n = 8), 3 "
    "(n = 10) or 1 game; from n = 12, 100 steps are timed and scaled to jaxinter's mean steps "
    "(the cell says so). 'published recipe': "
    "SGD momentum 0.9, lr 1e-5 decayed to 1e-6 over 10,000 steps, q clipped, final iterate; "
    "in torch as research code runs it (dense 2**n x 2**n matrices, one game at a time; where "
    "a cell says so, a few hundred steps were timed and the time scaled to 10,000, and no "
    "quality is given), and in jaxinter with method='published' (the same loop, vmapped over "
    "games), which gives its quality over 20 or more games.",
    "Quality over all games of the row: loss_vs_lp = loss / HiGHS optimum - 1 (median, max) "
    "over the lp_games games with a cached LP optimum; gap = certified (loss - lower bound) / "
    "loss (median, max), an upper bound on the distance to the optimum that needs no LP; "
    "steps = iterations to the certificate (the default tol: 1e-3 up to n = 11, 9e-3 from n = "
    "12) or the budget 8000 * 1.75**((n-8)/2).",
]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
