"""Train a population of MLPs (seeds x label-noise rates) in one vmapped program, track the
interactions of a fixed probe set during training, and report their order dynamics and
generalization power."""

from __future__ import annotations

import argparse
from math import comb
from pathlib import Path

import numpy as np

from ..io import Section, Table, log, write_report
from ..plots import dynamics as plots
from ..studies import DynamicsConfig, DynamicsStudy, run_dynamics
from ..studies._dynamics import DATASETS, EPSILON, MIN_COUNT, SIGMA, TOP_K, TYPES
from ._arguments import (
    add_common_arguments,
    add_user_arguments,
    existing_path,
    int_at_least,
)

HELP = "training dynamics and generalization power of interactions (population of MLPs)"


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
    defaults = DynamicsConfig()
    add_common_arguments(parser, "dynamics")
    add_user_arguments(parser)
    parser.add_argument("--dataset", default=defaults.dataset, choices=DATASETS,
                        help=f"data set (default {defaults.dataset})")
    parser.add_argument("--data-path", type=existing_path, default=None,
                        help="MNIST folder or .npz (mnist only)")
    parser.add_argument("--players", type=int_at_least(2, 12), default=defaults.players,
                        help="players (2-12): image blocks on a 2 x (n/2) grid (1 x n for odd "
                             f"n), or groups of consecutive tabular features (default "
                             f"{defaults.players})")
    parser.add_argument("--noise", type=_rates, default=list(defaults.noise),
                        help="label-noise rates in [0, 1) (default 0,0.2,0.5)")
    parser.add_argument("--seeds", type=int_at_least(1), default=defaults.seeds,
                        help="seeds per noise rate (default 2; 2+ for cross-seed measures)")
    parser.add_argument("--steps", type=int_at_least(1), default=defaults.steps,
                        help=f"training steps (default {defaults.steps})")
    parser.add_argument("--every", type=int_at_least(1), default=defaults.every,
                        help=f"record every k steps (default {defaults.every}; 3+ checkpoints "
                             f"needed)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=defaults.batch_size)
    parser.add_argument("--lr", type=_positive_float, default=defaults.lr,
                        help="Adam learning rate")
    parser.add_argument("--width", type=int_at_least(1), default=defaults.width)
    parser.add_argument("--depth", type=int_at_least(1), default=defaults.depth)
    parser.add_argument("--probe", type=int_at_least(2), default=defaults.probe,
                        help=f"probe samples from each of train and test (default "
                             f"{defaults.probe})")
    parser.add_argument("--method", choices=("and", "andor"), default=defaults.method,
                        help="interactions recorded: AND-OR (default) or plain AND (Harsanyi)")
    parser.add_argument("--andor-steps", type=int_at_least(1), default=defaults.andor_steps,
                        help="ADMM iterations per checkpoint for --method andor (default "
                             f"{defaults.andor_steps}; the library default is 2000+)")
    parser.add_argument("--train-limit", type=int_at_least(1), default=None,
                        help="use only the first N training samples (e.g. for MNIST)")


def config_from_args(args: argparse.Namespace) -> DynamicsConfig:
    """The :class:`DynamicsConfig` of parsed options (validated before any work)."""
    fields = {f: getattr(args, f) for f in DynamicsConfig.__dataclass_fields__}
    return DynamicsConfig(**fields)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    study = run_dynamics(config, args.out)
    report = render_dynamics(study, args.out)
    log(f"[dynamics] wrote {report} in {study.seconds_total:.1f}s")
    return 0


# ---------------------------------------------------------------------------------------------
# rendering


def render_dynamics(study: DynamicsStudy, out_dir: Path | str) -> Path:
    """Figures, ``report.html`` and ``summary.json`` of a :class:`DynamicsStudy` in ``out_dir``.

    Returns:
      the path of ``report.html``.
    """
    out = Path(out_dir)
    figures = _figures(study, out)
    sections = [
        Section("Order spectra over training and the loss gap",
                "Share of salient AND+OR strength per order (stacked) and its mean order; the "
                "dashed line marks the turn (minimum of the smoothed mean order), the dotted "
                "line the start of the final rise of the test - train loss gap.",
                figures=[figures["spectra"]], tables=[_rate_table(study)]),
        Section("Models with and without label noise", figures=[figures["noise"]]),
        Section("Generalization power by order",
                "Train-test similarity: sign-split generalized Jaccard of class-aggregated "
                "interactions of train vs test probe samples (mean over classes). Shared "
                "ratio: share of one seed's salient interactions that are also salient in the "
                f"other seed's model (same test samples); top-{TOP_K} version: share of one "
                f"seed's {TOP_K} strongest per order among the other's, against the chance "
                f"level {TOP_K} / C(n, m) (orders with C(n, m) <= {TOP_K} are left out: "
                f"there every model shares everything). Sensitivity: Gaussian noise (sigma "
                f"{SIGMA}) and one gradient-sign step (epsilon {EPSILON}) on the test probe "
                "samples, salient interactions of the clean inputs; orders with fewer than "
                f"{MIN_COUNT} salient interactions are left out.",
                figures=[figures["generalization"], figures["sensitivity"]]),
        Section("Detours by order",
                "Per interaction salient at the end: path length over net displacement "
                "(median), sign reversals, and fraction of training until half of the final "
                "strength (means); orders with fewer than "
                f"{MIN_COUNT} such interactions in a model are left out.",
                figures=[figures["detours"]]),
    ]
    c = study.config
    intro = (f"{len(study.noise_rates) * len(study.seeds)} MLPs ({c.depth} layers, width "
             f"{c.width}) trained in one vmapped program; {c.method} interactions of "
             f"{len(study.probe_labels)} probe samples recorded every {c.every} steps; total "
             f"{study.seconds_total:.0f} s.")
    return write_report(out, f"Dynamics of interactions: {study.dataset}", sections,
                        study.summary(), intro=intro)


def _rate_table(study: DynamicsStudy) -> Table:
    """Per noise rate, means over seeds of the members' accuracy, turn, onset, mean order."""
    lag = study.turn_step - study.gap_onset_step
    two_phase = study.by_member(study.dynamics.turn.two_phase)
    points = study.mean_order_points.mean(1)  # (R, 3)
    accuracy = study.by_member(study.test_accuracy).mean(1)
    rows = [[float(rate), f"{accuracy[r]:.3f}", f"{study.turn_step[r].mean():.0f}",
             f"{study.gap_onset_step[r].mean():.0f}", f"{lag[r].mean():.0f}",
             f"{int(two_phase[r].sum())} / {len(study.seeds)}",
             *(f"{v:.2f}" for v in points[r])]
            for r, rate in enumerate(study.noise_rates)]
    return Table("Per noise rate (means over seeds; steps)",
                 ["noise", "test acc", "turn step", "gap onset", "turn - onset",
                  "two-phase members", "mean order start", "min", "end"], rows)


def _series(study: DynamicsStudy, values) -> dict:
    """{"noise r AND": (n + 1,), "noise r OR": ...} of (R, 2, n + 1) values."""
    return {f"noise {rate} {t}": values[r, i] for r, rate in enumerate(study.noise_rates.tolist())
            for i, t in enumerate(TYPES)}


def _figures(study: DynamicsStudy, out: Path) -> dict[str, Path]:
    steps, dyn, rec = study.steps, study.dynamics, study.history.record
    n = study.n_players
    seeds = study.seeds.tolist()
    rates = study.noise_rates.tolist()
    spectrum = study.by_member(dyn.spectrum, axis=1)  # (T, R, S, n + 1)
    order = study.by_member(dyn.mean_order, axis=1)  # (T, R, S)
    figures = {"spectra": plots.spectra_with_loss_gap(
        out / "spectra_loss_gap.png", steps, dyn.spectrum[:, 0], dyn.mean_order[:, 0],
        rec.train_loss[:, 0], rec.test_loss[:, 0], int(dyn.turn.index[0]),
        int(dyn.gap_onset[0]), title=f"(noise {rates[0]}, seed {seeds[0]})")}
    figures["noise"] = plots.noise_side_by_side(
        out / "noise_side_by_side.png", steps,
        {f"noise {rate} (seed {seeds[0]})": spectrum[:, r, 0] for r, rate in enumerate(rates)},
        {f"noise {rate}": order[:, r].mean(1) for r, rate in enumerate(rates)},
        mean_title=f"mean order (mean over {len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
    top_title = f"cross-seed shared ratio (top {TOP_K})"
    panels = {"train-test similarity": _series(study, study.similarity)}
    if len(seeds) > 1:
        panels["cross-seed shared ratio (salient sets)"] = _series(study, study.shared.salient)
        panels[top_title] = _series(study, study.shared.top_k)
    chance = np.array([TOP_K / comb(n, m) if comb(n, m) > TOP_K else np.nan
                       for m in range(n + 1)])
    figures["generalization"] = plots.by_order_lines(
        out / "generalization_by_order.png", panels, ylim=(0, 1.02),
        references={top_title: (f"chance ({TOP_K} / C(n, m))", chance)})
    d = study.detours
    figures["detours"] = plots.by_order_lines(
        out / "detours_by_order.png",
        {"detour (path / net, median)": _series(study, d.detour),
         "sign reversals": _series(study, d.reversals),
         "time to half final strength": _series(study, d.half_time)},
        ylabel={"detour (path / net, median)": "path length / net displacement",
                "sign reversals": "sign reversals per interaction",
                "time to half final strength": "fraction of training"})
    s = study.sensitivity
    labels = [(r, rate, p, kind, t, name) for r, rate in enumerate(study.sensitivity_noise.tolist())
              for p, kind in enumerate(("gaussian", "adversarial"))
              for t, name in enumerate(TYPES)]
    figures["sensitivity"] = plots.by_order_lines(
        out / "sensitivity_by_order.png",
        {"sign-flip rate": {f"noise {rate} {kind} {name}": s.flip_rate[r, p, t]
                            for r, rate, p, kind, t, name in labels},
         "relative change": {f"noise {rate} {kind} {name}": s.relative_change[r, p, t]
                             for r, rate, p, kind, t, name in labels}},
        ylabel={"sign-flip rate": "share of salient interactions flipping sign",
                "relative change": "sum |I_p - I| / sum |I|"})
    return figures
