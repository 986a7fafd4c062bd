"""Train a population of MLPs (seeds x label-noise rates) in one vmapped program, track the
interactions of a fixed probe set during training, and report their order dynamics and
generalization power (DESIGN.md 3.6)."""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial
from math import comb

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._arguments import add_common_arguments, int_at_least

HELP = "training dynamics and generalization power of interactions (population of MLPs)"
TOP_K = 3  # k of the top-k cross-seed shared ratio
MIN_COUNT = 5  # per-order aggregates over fewer interactions are not reported (NaN)


def _rates(text: str) -> list[float]:
    """Comma-separated label-noise rates in [0, 1)."""
    try:
        rates = [float(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0,0.2,0.5, got {text!r}") from None
    if not all(0 <= r < 1 for r in rates) or len(set(rates)) != len(rates):
        raise argparse.ArgumentTypeError(f"expected distinct rates in [0, 1), got {text!r}")
    return rates


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, "dynamics")
    parser.add_argument("--dataset", default="digits",
                        choices=("digits", "wine", "breast_cancer", "iris", "mnist"),
                        help="data set (default digits)")
    parser.add_argument("--data-path", default=None, help="MNIST folder or .npz (mnist only)")
    parser.add_argument("--players", type=int_at_least(2, 12), default=8,
                        help="players (2-12): image blocks on a 2 x (n/2) grid (1 x n for odd "
                             "n), or groups of consecutive tabular features (default 8)")
    parser.add_argument("--noise", type=_rates, default=[0.0, 0.2, 0.5],
                        help="label-noise rates in [0, 1) (default 0,0.2,0.5)")
    parser.add_argument("--seeds", type=int_at_least(1), default=2,
                        help="seeds per noise rate (default 2; 2+ for cross-seed measures)")
    parser.add_argument("--steps", type=int_at_least(1), default=1500,
                        help="training steps (default 1500)")
    parser.add_argument("--every", type=int_at_least(1), default=50,
                        help="record every k steps (default 50; 3+ checkpoints needed)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=64)
    parser.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--width", type=int_at_least(1), default=128)
    parser.add_argument("--depth", type=int_at_least(1), default=3)
    parser.add_argument("--probe", type=int_at_least(2), default=30,
                        help="probe samples from each of train and test (default 30)")
    parser.add_argument("--method", choices=("and", "andor"), default="andor",
                        help="interactions recorded: AND-OR (default) or plain AND (Harsanyi)")
    parser.add_argument("--andor-steps", type=int_at_least(1), default=300,
                        help="ADMM iterations per checkpoint for --method andor (default 300; "
                             "the library default is 2000+)")
    parser.add_argument("--train-limit", type=int_at_least(1), default=None,
                        help="use only the first N training samples (e.g. for MNIST)")


def _players(ds, n: int):
    from jaxinter.masking import Players

    shape = ds.input_shape
    if len(shape) >= 2:  # image: 2 x (n / 2) grid of blocks over (H, W), 1 x n for odd n
        h, w = shape[0], shape[1]
        rows = 2 if n % 2 == 0 else 1
        cols = n // rows
        cell = np.arange(h * w).reshape(h, w)
        groups = [blk.ravel() for band in np.array_split(cell, rows, 0)
                  for blk in np.array_split(band, cols, 1)]
        channels = int(np.prod(shape[2:]))
        groups = [(g[:, None] * channels + np.arange(channels)).ravel() for g in groups]
    else:
        groups = np.array_split(np.arange(shape[0]), min(n, shape[0]))
    flat = (int(np.prod(shape)),)
    return Players.from_groups([list(map(int, g)) for g in groups], flat)


def _enough(result, count):
    """Fields of a per-order result (..., n + 1) set to NaN where fewer than MIN_COUNT
    interactions were aggregated (``count`` is kept)."""
    keep = np.asarray(count) >= MIN_COUNT
    return result.replace(**{
        f: np.where(keep, getattr(result, f), np.nan)
        for f in result.__dataclass_fields__ if f != "count"})


def _probe(y, k: int) -> np.ndarray:
    """The first samples of each class in turn, k in all (class-balanced, deterministic)."""
    order = np.argsort(y, kind="stable")
    classes = np.unique(y)
    per = [order[y[order] == c] for c in classes]
    picked = [p[i] for i in range(k) for p in per if i < len(p)]
    return np.array(picked[:k])


def run(args: argparse.Namespace) -> int:
    from jaxinter import analysis as dyn
    from jaxinter import analysis as gen
    from jaxinter.analysis import salient_mask
    from jaxinter.data import load_dataset
    from jaxinter.errors import JaxinterInputError
    from jaxinter.io import Section, Table, log, write_report
    from jaxinter.masking import mean_baseline
    from jaxinter.models import MLP
    from jaxinter.plots import dynamics as plots
    from jaxinter.training import Trainer

    warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)  # all-NaN orders
    if args.steps // args.every < 2:
        raise SystemExit(f"--steps {args.steps} / --every {args.every}: need at least 3 "
                         f"checkpoints (steps >= 2 x every)")
    if (args.dataset == "mnist") != (args.data_path is not None):
        raise SystemExit("--data-path: give it for --dataset mnist and only then")
    t0 = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    try:
        ds = load_dataset(args.dataset, args.data_path)
    except (JaxinterInputError, OSError) as err:
        raise SystemExit(f"--dataset {args.dataset} --data-path {args.data_path}: {err}") from err
    flat = lambda a: np.asarray(a, np.float32).reshape(len(a), -1)  # noqa: E731
    x_tr, x_te = flat(ds.x_train), flat(ds.x_test)
    y_tr, y_te = np.asarray(ds.y_train), np.asarray(ds.y_test)
    if args.train_limit:
        x_tr, y_tr = x_tr[: args.train_limit], y_tr[: args.train_limit]
    if args.batch_size > len(x_tr):
        raise SystemExit(f"--batch-size {args.batch_size}: larger than the {len(x_tr)} "
                         f"training samples")
    players = _players(ds, args.players)
    n, c = players.n, ds.num_classes
    baseline = mean_baseline(x_tr)
    i_tr, i_te = _probe(y_tr, args.probe), _probe(y_te, args.probe)
    k = len(i_tr)  # probe samples [:k] from train, [k:] from test
    probe_x = np.concatenate([x_tr[i_tr], x_te[i_te]])
    probe_y = np.concatenate([y_tr[i_tr], y_te[i_te]])
    noise = args.noise
    seeds = list(range(args.seed, args.seed + args.seeds))

    model = MLP(input_shape=(x_tr.shape[1],), num_classes=c, depth=args.depth, width=args.width)
    trainer = Trainer(model, optax.adam(args.lr))
    andor_options = {"steps": args.andor_steps}
    config = {k_: v for k_, v in vars(args).items() if k_ not in ("out", "run")}
    tracker = dyn.InteractionTracker(trainer.logits, probe_x, probe_y, players, baseline,
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

    by_rate = {r: [m for m, (rr, _) in enumerate(members) if rr == r] for r in noise}
    sim, shared, shared_top = {}, {}, {}
    for name, field in (("AND", rec.i_and), ("OR", rec.i_or)):
        final = np.moveaxis(field[-1, :, :, 0], 1, 0)  # (2k, P, 2**n), all members at once
        per_class = gen.similarity_by_order(final[:k], final[k:], probe_y[:k], probe_y[k:],
                                            num_classes=c)  # (C, P, n + 1)
        per_member = np.nanmean(np.asarray(per_class), 0)
        per_member[:, 0] = np.nan  # order 0 is v(empty), not an interaction
        for r, ms in by_rate.items():
            sim[(r, name)] = list(per_member[ms])
    for r in noise:
        ms = [m for m, (rr, _) in enumerate(members) if rr == r]
        for a, b in zip(ms, ms[1:], strict=False):
            masks = [salient_mask(last(rec.i_and, j)[k:], last(rec.i_or, j)[k:]) for j in (a, b)]
            for t, name in enumerate(("AND", "OR")):
                shared.setdefault((r, name), []).append(
                    np.asarray(gen.shared_ratio(masks[0][t], masks[1][t])))
                field = rec.i_and if t == 0 else rec.i_or
                shared_top.setdefault((r, name), []).append(np.asarray(gen.shared_ratio_top_k(
                    np.abs(last(field, a)[k:]), np.abs(last(field, b)[k:]), TOP_K)))
    mean = lambda d: {key: np.nanmean(np.stack(v), 0) for key, v in d.items()}  # noqa: E731
    sim, shared, shared_top = mean(sim), mean(shared), mean(shared_top)

    # --- detours along training ----------------------------------------------------------------
    detours = {}
    final_salient = salient_mask(rec.i_and[-1, :, :, 0], rec.i_or[-1, :, :, 0])  # (P, 2k, 2**n)
    for t, (name, field) in enumerate((("AND", rec.i_and), ("OR", rec.i_or))):
        meas = dyn.trajectory_measures(field[:, :, :, 0], steps)  # every member at once
        per_member = jax.tree.map(np.asarray,
                                  jax.vmap(dyn.measures_by_order)(meas, final_salient[t]))
        per_member = _enough(per_member, per_member.count)
        for r, ms in by_rate.items():
            detours[(r, name)] = jax.tree.map(
                lambda a: np.nanmean(a[ms], 0), per_member)  # noqa: B023

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
                s_ = jax.tree.map(np.asarray, s_)
                sens[(r, kind, name)] = _enough(s_, s_.count)
    t_total = time.perf_counter() - t0

    # --- figures --------------------------------------------------------------------------------
    figs = {}
    first = 0
    figs["spectra"] = plots.spectra_with_loss_gap(
        out / "spectra_loss_gap.png", steps, spectrum[:, first], morder[:, first],
        rec.train_loss[:, first], rec.test_loss[:, first], int(turn.index[first]),
        int(onset[first]), title=f"(noise {members[first][0]}, seed {members[first][1]})")
    figs["noise"] = plots.noise_side_by_side(
        out / "noise_side_by_side.png", steps,
        {f"noise {r} (seed {seeds[0]})": spectrum[:, ms[0]] for r, ms in by_rate.items()},
        {f"noise {r}": morder[:, ms].mean(1) for r, ms in by_rate.items()},
        mean_title=f"mean order (mean over {len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
    top_title = f"cross-seed shared ratio (top {TOP_K})"
    panels = {"train-test similarity": {f"noise {r} {t}": v for (r, t), v in sim.items()}}
    if shared:  # needs two seeds per noise rate
        panels["cross-seed shared ratio (salient sets)"] = {
            f"noise {r} {t}": v for (r, t), v in shared.items()}
        panels[top_title] = {f"noise {r} {t}": v for (r, t), v in shared_top.items()}
    chance = np.array([TOP_K / comb(n, m) if comb(n, m) > TOP_K else np.nan
                       for m in range(n + 1)])
    figs["generalization"] = plots.by_order_lines(
        out / "generalization_by_order.png", panels, ylim=(0, 1.02),
        references={top_title: (f"chance ({TOP_K} / C(n, m))", chance)})
    figs["detours"] = plots.by_order_lines(
        out / "detours_by_order.png",
        {"detour (path / net, median)": {f"noise {r} {t}": d.detour
                                         for (r, t), d in detours.items()},
         "sign reversals": {f"noise {r} {t}": d.reversals for (r, t), d in detours.items()},
         "time to half final strength": {f"noise {r} {t}": d.half_time
                                         for (r, t), d in detours.items()}},
        ylabel={"detour (path / net, median)": "path length / net displacement",
                "sign reversals": "sign reversals per interaction",
                "time to half final strength": "fraction of training"})
    figs["sensitivity"] = plots.by_order_lines(
        out / "sensitivity_by_order.png",
        {"sign-flip rate": {f"noise {r} {kind} {t}": s_.flip_rate
                            for (r, kind, t), s_ in sens.items()},
         "relative change": {f"noise {r} {kind} {t}": s_.relative_change
                             for (r, kind, t), s_ in sens.items()}},
        ylabel={"sign-flip rate": "share of salient interactions flipping sign",
                "relative change": "sum |I_p - I| / sum |I|"})

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
            "mean_order_start_min_end": [[float(morder[0, m]), float(np.nanmin(morder[:, m])),
                                          float(morder[-1, m])] for m in ms],
            "final_high_order_share": float(np.asarray(
                dyn.high_order_share(strength[-1, ms])).mean()),
            "similarity_and": sim[(r, "AND")], "similarity_or": sim[(r, "OR")],
            "shared_ratio_and": shared.get((r, "AND")),
            f"shared_ratio_top{TOP_K}_and": shared_top.get((r, "AND")),
            "detour_and": detours[(r, "AND")].detour,
            "detour_count_and": detours[(r, "AND")].count,
            "reversals_and": detours[(r, "AND")].reversals,
            "half_time_and": detours[(r, "AND")].half_time,
        }
        rows.append([r, f"{test_acc[ms].mean():.3f}",
                     f"{np.mean([steps[turn.index[m]] for m in ms]):.0f}",
                     f"{np.mean([steps[onset[m]] for m in ms]):.0f}", f"{np.mean(lag):.0f}",
                     f"{sum(bool(turn.two_phase[m]) for m in ms)} / {len(ms)}",
                     *(f"{v:.2f}" for v in (np.mean(morder[0, ms]),
                                            np.mean(np.nanmin(morder[:, ms], 0)),
                                            np.mean(morder[-1, ms])))])
    summary = {
        "dataset": ds.name, "n_players": n, "members": members, "steps": args.steps,
        "every": args.every, "method": args.method, "andor_steps": args.andor_steps,
        "probe_per_split": k, "seconds_training_and_tracking": t_train,
        "seconds_total": t_total, "per_noise_rate": per_rate,
        "sensitivity": {f"noise {r} {kind} {t}": {"flip_rate": s_.flip_rate,
                                                  "relative_change": s_.relative_change,
                                                  "count": s_.count}
                        for (r, kind, t), s_ in sens.items()},
        "min_count": f"per-order detours and sensitivities over fewer than {MIN_COUNT} "
                     f"interactions are null",
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
                "ratio: share of one seed's salient interactions that are also salient in the "
                f"other seed's model (same test samples); top-{TOP_K} version: share of one "
                f"seed's {TOP_K} strongest per order among the other's, against the chance "
                f"level {TOP_K} / C(n, m) (orders with C(n, m) <= {TOP_K} are left out: "
                "there every model shares everything). Sensitivity: Gaussian noise (sigma 0.1) "
                "and one gradient-sign step (epsilon 0.05) on the test probe samples, salient "
                "interactions of the clean inputs; orders with fewer than "
                f"{MIN_COUNT} salient interactions are left out.",
                figures=[figs["generalization"], figs["sensitivity"]]),
        Section("Detours by order",
                "Per interaction salient at the end: path length over net displacement "
                "(median), sign reversals, and fraction of training until half of the final "
                "strength (means); orders with fewer than "
                f"{MIN_COUNT} such interactions in a model are left out.",
                figures=[figs["detours"]]),
    ]
    write_report(out, f"Dynamics of interactions: {ds.name}", sections, summary,
                 intro=f"{len(members)} MLPs ({args.depth} layers, width {args.width}) trained "
                       f"in one vmapped program; {args.method} interactions of {2 * k} probe "
                       f"samples recorded every {args.every} steps; total {t_total:.0f} s on a "
                       f"shared CPU.")
    log(f"[dynamics] wrote {out / 'report.html'} in {t_total:.1f}s")
    return 0
