"""Train a population of MLPs (seeds x label-noise rates) in one vmapped program, track the
interactions of a fixed probe set during training, and report their order dynamics and
generalization power (DESIGN.md 3.6)."""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import add_common_arguments

HELP = "training dynamics and generalization power of interactions (population of MLPs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "dynamics")
    parser.add_argument("--dataset", default="digits",
                        help="digits (default), wine, breast_cancer, iris or mnist")
    parser.add_argument("--data-path", default=None, help="MNIST folder or .npz (mnist only)")
    parser.add_argument("--players", type=int, default=8,
                        help="players: image blocks on a 2 x (n/2) grid, or groups of "
                             "consecutive tabular features (default 8)")
    parser.add_argument("--noise", default="0,0.2,0.5",
                        help="label-noise rates (default 0,0.2,0.5)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per noise rate (default 2)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--every", type=int, default=50, help="record every k steps (default 50)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--probe", type=int, default=30,
                        help="probe samples from each of train and test (default 30)")
    parser.add_argument("--method", choices=("and", "andor"), default="andor",
                        help="interactions recorded: AND-OR (default) or plain AND (Harsanyi)")
    parser.add_argument("--andor-steps", type=int, default=300,
                        help="ADMM iterations per checkpoint for --method andor (default 300; "
                             "the library default is 2000+)")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N training samples (e.g. for MNIST)")


def _players(ds, n: int):
    from jaxinter.players import Players

    shape = ds.input_shape
    if len(shape) >= 2:  # image: 2 x (n / 2) grid of blocks over (H, W)
        h, w = shape[0], shape[1]
        cols = max(n // 2, 1)
        rows = n // cols
        cell = np.arange(h * w).reshape(h, w)
        groups = [blk.ravel() for band in np.array_split(cell, rows, 0)
                  for blk in np.array_split(band, cols, 1)]
        channels = int(np.prod(shape[2:]))
        groups = [(g[:, None] * channels + np.arange(channels)).ravel() for g in groups]
    else:
        groups = np.array_split(np.arange(shape[0]), min(n, shape[0]))
    flat = (int(np.prod(shape)),)
    return Players.from_groups([list(map(int, g)) for g in groups], flat)


def _probe(y, k: int) -> np.ndarray:
    """The first samples of each class in turn, k in all (class-balanced, deterministic)."""
    order = np.argsort(y, kind="stable")
    classes = np.unique(y)
    per = [order[y[order] == c] for c in classes]
    picked = [p[i] for i in range(k) for p in per if i < len(p)]
    return np.array(picked[:k])


def run(args: argparse.Namespace) -> int:
    from jaxinter import dynamics as dyn
    from jaxinter import generalization as gen
    from jaxinter.data import load_dataset
    from jaxinter.metrics import salient_mask
    from jaxinter.models import MLP
    from jaxinter.players import mean_baseline
    from jaxinter.plots import dynamics as plots
    from jaxinter.progress import log
    from jaxinter.report import Section, Table, write_report
    from jaxinter.train import Trainer

    warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)  # all-NaN orders
    t0 = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(args.dataset, args.data_path)
    flat = lambda a: np.asarray(a, np.float32).reshape(len(a), -1)  # noqa: E731
    x_tr, x_te = flat(ds.x_train), flat(ds.x_test)
    y_tr, y_te = np.asarray(ds.y_train), np.asarray(ds.y_test)
    if args.train_limit:
        x_tr, y_tr = x_tr[: args.train_limit], y_tr[: args.train_limit]
    players = _players(ds, args.players)
    n, c = players.n, ds.num_classes
    baseline = mean_baseline(x_tr)
    k = args.probe
    i_tr, i_te = _probe(y_tr, k), _probe(y_te, k)
    probe_x = np.concatenate([x_tr[i_tr], x_te[i_te]])
    probe_y = np.concatenate([y_tr[i_tr], y_te[i_te]])
    noise = [float(r) for r in args.noise.split(",")]
    seeds = list(range(args.seed, args.seed + args.seeds))

    model = MLP(input_shape=(x_tr.shape[1],), num_classes=c, depth=args.depth, width=args.width)
    trainer = Trainer(model, optax.adam(args.lr))
    andor_options = {"steps": args.andor_steps}
    config = {k_: v for k_, v in vars(args).items() if k_ not in ("out", "run")}
    tracker = dyn.Tracker(trainer.logits, probe_x, probe_y, players, baseline,
                          train=(x_tr, y_tr), test=(x_te, y_te), every=args.every,
                          method=args.method, andor_options=andor_options,
                          folder=out / "track", config=config)
    log(f"[dynamics] {ds.name}: {len(x_tr)} train / {len(x_te)} test, n = {n} players, "
        f"{len(noise) * len(seeds)} members (noise {noise} x seeds {seeds}), {args.steps} steps")
    pop = dyn.init_population(trainer, y_tr, seeds, noise, c)
    pop, hist = dyn.train_population(pop, trainer, x_tr, steps=args.steps,
                                     batch_size=args.batch_size, tracker=tracker)
    t_train = time.perf_counter() - t0
    steps = np.asarray(hist.steps)
    rec = jax.tree.map(np.asarray, hist.record)  # fields (T, P, ...)
    members = [(r, s) for r in noise for s in seeds]  # the population's (noise-major) order

    # --- order spectra, turns and the loss gap -----------------------------------------------
    strength = rec.strength_and[:, :, 0] + rec.strength_or[:, :, 0]  # (T, P, n + 1)
    spectrum = np.asarray(dyn.normalized_spectrum(strength))
    morder = np.asarray(dyn.mean_order(strength))  # (T, P)
    turn = dyn.detect_turn(morder.T, window=3)
    onset = np.asarray(dyn.gap_onset(rec.train_loss.T, rec.test_loss.T, window=3))
    test_acc = np.asarray(jax.vmap(trainer.evaluate, in_axes=(0, None, None))(
        pop.state, jnp.asarray(x_te), jnp.asarray(y_te))["accuracy"])

    # --- generalization at the last checkpoint -----------------------------------------------
    def last(i, m):  # (2k, 2**n) final interactions of member m
        return i[-1, m, :, 0]

    sim, shared, shared_top = {}, {}, {}
    for m, (r, _) in enumerate(members):
        for name, field in (("AND", rec.i_and), ("OR", rec.i_or)):
            per_class = gen.similarity_by_order(last(field, m)[:k], last(field, m)[k:],
                                                probe_y[:k], probe_y[k:], num_classes=c)
            sim.setdefault((r, name), []).append(np.nanmean(np.asarray(per_class), 0))
    for r in noise:
        ms = [m for m, (rr, _) in enumerate(members) if rr == r]
        for a, b in zip(ms, ms[1:], strict=False):
            masks = [salient_mask(last(rec.i_and, j)[k:], last(rec.i_or, j)[k:]) for j in (a, b)]
            for t, name in enumerate(("AND", "OR")):
                shared.setdefault((r, name), []).append(
                    np.asarray(gen.shared_ratio(masks[0][t], masks[1][t])))
                field = rec.i_and if t == 0 else rec.i_or
                shared_top.setdefault((r, name), []).append(np.asarray(gen.shared_ratio_top_k(
                    np.abs(last(field, a)[k:]), np.abs(last(field, b)[k:]), 3)))
    mean = lambda d: {key: np.nanmean(np.stack(v), 0) for key, v in d.items()}  # noqa: E731
    sim, shared, shared_top = mean(sim), mean(shared), mean(shared_top)

    # --- detours along training ----------------------------------------------------------------
    detours = {}
    for m, (r, _) in enumerate(members):
        sal = salient_mask(rec.i_and[-1, m, :, 0], rec.i_or[-1, m, :, 0])
        for t, (name, field) in enumerate((("AND", rec.i_and), ("OR", rec.i_or))):
            meas = dyn.trajectory_measures(field[:, m, :, 0], steps)
            summary = dyn.measures_by_order(meas, sal[t])
            detours.setdefault((r, name), []).append(jax.tree.map(np.asarray, summary))
    detours = {key: jax.tree.map(lambda *xs: np.nanmean(np.stack(xs), 0), *v)
               for key, v in detours.items()}

    # --- perturbation sensitivity of the final models ------------------------------------------
    sens = {}
    for r in (noise[0], noise[-1]):
        m = next(j for j, (rr, _) in enumerate(members) if rr == r)
        state = jax.tree.map(lambda a: a[m], pop.state)  # noqa: B023
        res = gen.perturbation_sensitivity(
            partial(trainer.logits, state), probe_x[k:], probe_y[k:], players, baseline,
            key=jax.random.key(args.seed), sigma=0.1, epsilon=0.05, method=args.method,
            andor_options=andor_options)
        for kind, pair in res.items():
            for name, s_ in zip(("AND", "OR"), pair, strict=True):
                sens[(r, kind, name)] = jax.tree.map(np.asarray, s_)
    t_total = time.perf_counter() - t0

    # --- figures --------------------------------------------------------------------------------
    figs = {}
    first = 0
    figs["spectra"] = plots.spectra_with_loss_gap(
        out / "spectra_loss_gap.png", steps, spectrum[:, first], morder[:, first],
        rec.train_loss[:, first], rec.test_loss[:, first], int(turn.index[first]),
        int(onset[first]), title=f"(noise {members[first][0]}, seed {members[first][1]})")
    by_rate = {r: [m for m, (rr, _) in enumerate(members) if rr == r] for r in noise}
    figs["noise"] = plots.noise_side_by_side(
        out / "noise_side_by_side.png", steps,
        {f"noise {r}": spectrum[:, ms[0]] for r, ms in by_rate.items()},
        {f"noise {r}": morder[:, ms].mean(1) for r, ms in by_rate.items()})
    figs["generalization"] = plots.by_order_lines(
        out / "generalization_by_order.png",
        {"train-test similarity": {f"noise {r} {t}": v for (r, t), v in sim.items()},
         "cross-seed shared ratio (salient sets)": {f"noise {r} {t}": v
                                                    for (r, t), v in shared.items()},
         "cross-seed shared ratio (top 3)": {f"noise {r} {t}": v
                                             for (r, t), v in shared_top.items()}},
        ylim=(0, 1.02))
    figs["detours"] = plots.by_order_lines(
        out / "detours_by_order.png",
        {"detour (path / net, median)": {f"noise {r} {t}": d.detour
                                         for (r, t), d in detours.items()},
         "sign reversals": {f"noise {r} {t}": d.reversals for (r, t), d in detours.items()},
         "time to half final strength": {f"noise {r} {t}": d.half_time
                                         for (r, t), d in detours.items()}})
    figs["sensitivity"] = plots.by_order_lines(
        out / "sensitivity_by_order.png",
        {"sign-flip rate": {f"noise {r} {kind} {t}": s_.flip_rate
                            for (r, kind, t), s_ in sens.items()},
         "relative change": {f"noise {r} {kind} {t}": s_.relative_change
                             for (r, kind, t), s_ in sens.items()}})

    # --- report ---------------------------------------------------------------------------------
    rows, per_rate = [], {}
    for r, ms in by_rate.items():
        lag = [(int(steps[turn.index[m]]) - int(steps[onset[m]])) for m in ms]
        per_rate[str(r)] = {
            "test_accuracy": float(test_acc[ms].mean()),
            "final_train_loss": float(rec.train_loss[-1, ms].mean()),
            "final_test_loss": float(rec.test_loss[-1, ms].mean()),
            "turn_step": [int(steps[turn.index[m]]) for m in ms],
            "gap_onset_step": [int(steps[onset[m]]) for m in ms],
            "turn_minus_onset": lag,
            "two_phase": [bool(turn.two_phase[m]) for m in ms],
            "mean_order_start_min_end": [[float(morder[0, m]), float(morder[:, m].min()),
                                          float(morder[-1, m])] for m in ms],
            "final_high_order_share": float(np.asarray(
                dyn.high_order_share(strength[-1, ms])).mean()),
            "similarity_and": sim[(r, "AND")], "similarity_or": sim[(r, "OR")],
            "shared_ratio_and": shared.get((r, "AND")),
            "shared_ratio_top3_and": shared_top.get((r, "AND")),
            "detour_and": detours[(r, "AND")].detour,
            "reversals_and": detours[(r, "AND")].reversals,
            "half_time_and": detours[(r, "AND")].half_time,
        }
        rows.append([r, f"{test_acc[ms].mean():.3f}", np.mean([steps[turn.index[m]] for m in ms]),
                     np.mean([steps[onset[m]] for m in ms]), np.mean(lag),
                     sum(bool(turn.two_phase[m]) for m in ms),
                     float(morder[0, ms].mean()), float(morder[:, ms].min(0).mean()),
                     float(morder[-1, ms].mean())])
    summary = {
        "dataset": ds.name, "n_players": n, "members": members, "steps": args.steps,
        "every": args.every, "method": args.method, "andor_steps": args.andor_steps,
        "probe_per_split": k, "seconds_training_and_tracking": t_train,
        "seconds_total": t_total, "per_noise_rate": per_rate,
        "sensitivity": {f"noise {r} {kind} {t}": {"flip_rate": s_.flip_rate,
                                                  "relative_change": s_.relative_change}
                        for (r, kind, t), s_ in sens.items()},
        "note": "timings on a shared 2-core CPU",
    }
    sections = [
        Section("Order spectra over training and the loss gap",
                "Share of salient AND+OR strength per order (stacked) and its mean order; the "
                "dashed line marks the turn (minimum of the smoothed mean order), the dotted "
                "line the start of the final rise of the test - train loss gap.",
                figures=[figs["spectra"]],
                tables=[Table("Per noise rate (means over seeds; steps)",
                              ["noise", "test acc", "turn step", "gap onset", "turn - onset",
                               "two-phase members", "mean order start", "min", "end"], rows)]),
        Section("Models with and without label noise", figures=[figs["noise"]]),
        Section("Generalization power by order",
                "Train-test similarity: sign-split generalized Jaccard of class-aggregated "
                "interactions of train vs test probe samples (mean over classes). Shared "
                "ratio: share of one seed's salient (or top-3 per order) interactions that are "
                "also salient in the other seed's model, same test samples.",
                figures=[figs["generalization"], figs["sensitivity"]]),
        Section("Detours by order",
                "Per interaction salient at the end: path length over net displacement "
                "(median), sign reversals, and fraction of training until half of the final "
                "strength (means).", figures=[figs["detours"]]),
    ]
    write_report(out, f"Dynamics of interactions: {ds.name}", sections, summary,
                 intro=f"{len(members)} MLPs ({args.depth} layers, width {args.width}) trained "
                       f"in one vmapped program; {args.method} interactions of {2 * k} probe "
                       f"samples recorded every {args.every} steps; total {t_total:.0f} s on a "
                       f"shared CPU.")
    log(f"[dynamics] wrote {out / 'report.html'} in {t_total:.1f}s")
    return 0
