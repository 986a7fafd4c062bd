"""Dynamics analyses on synthetic histories with known answers, tracker and populations."""

from __future__ import annotations

import json
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxinter as ji
from jaxinter import analysis as dyn
from jaxinter.data import add_label_noise
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import orders_np
from jaxinter.io import load_tree, save_tree
from jaxinter.masking import Players, masked_scores
from jaxinter.models import MLP
from jaxinter.training import Trainer

# ---------------------------------------------------------------------------------------------
# spectra and turns


def test_spectrum_and_mean_order():
    strength = np.array([[5.0, 1.0, 1.0, 2.0], [9.0, 0.0, 0.0, 0.0]], np.float32)
    p = np.asarray(dyn.normalized_spectrum(strength))
    np.testing.assert_allclose(p[0], [0, 0.25, 0.25, 0.5])  # order 0 (v(empty)) excluded
    assert np.isnan(p[1]).all()
    np.testing.assert_allclose(dyn.mean_order(strength)[0], 0.25 + 0.5 + 1.5)
    np.testing.assert_allclose(dyn.high_order_share(strength)[0], 0.75)  # orders 2, 3 > 1.5


def test_smooth_matches_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 11)).astype(np.float32)
    got = np.asarray(dyn.smooth_curve(x, 5))
    want = np.stack([[r[max(0, t - 2) : t + 3].mean() for t in range(11)] for r in x])
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_detect_turn_v_shape_and_monotone():
    t = np.arange(20, dtype=np.float32)
    v = np.abs(t - 6) * 0.2 + 2.0  # falls to 2.0 at t = 6, then rises to 4.6
    mono = 5.0 - 0.1 * t
    turn = dyn.detect_turn(np.stack([v, mono]), window=1)
    np.testing.assert_array_equal(turn.index, [6, 19])
    np.testing.assert_allclose(turn.drop, [1.2, 1.9], rtol=1e-5)
    np.testing.assert_allclose(turn.rise, [2.6, 0.0], atol=1e-5)
    np.testing.assert_array_equal(turn.two_phase, [True, False])
    noisy = v + np.random.default_rng(1).normal(0, 0.05, 20).astype(np.float32)
    assert abs(int(dyn.detect_turn(noisy, window=3).index) - 6) <= 1
    # a checkpoint with no strength (NaN mean order) is never the turn
    gappy = v.copy()
    gappy[10] = np.nan
    assert int(dyn.detect_turn(gappy, window=1).index) == 6
    with pytest.raises(JaxinterInputError, match="window"):
        dyn.smooth_curve(v, 4)


def test_gap_onset():
    t = np.arange(30, dtype=np.float32)
    train = np.exp(-t / 5)
    gap = np.where(t < 12, 0.0, 0.1 * (t - 12))  # flat, then widens from t = 12
    test = train + gap + 0.3
    assert int(dyn.gap_onset(train, test, window=1, rise=0.01)) == 12
    # default rise: last t with gap <= 10% of its range (0.17), i.e. t = 13
    assert int(dyn.gap_onset(train, test, window=1)) == 13
    noisy = test + np.random.default_rng(2).normal(0, 0.01, 30).astype(np.float32)
    assert 12 <= int(dyn.gap_onset(train, noisy, window=3)) <= 14
    # gap that first shrinks (early learning) and then widens: onset at the bottom
    gap2 = np.abs(t - 8) * 0.05
    assert int(dyn.gap_onset(train, train + gap2, window=1, rise=0.01)) == 8
    with pytest.raises(JaxinterInputError, match="shapes differ"):
        dyn.gap_onset(train, test[:5])


# ---------------------------------------------------------------------------------------------
# per-interaction trajectories


def _trajectories_loop(traj, steps, floor):
    """Reference: one interaction at a time, plain Python."""
    out = {k: np.zeros(traj.shape[1:]) for k in ("path", "net", "reversals", "half_time")}
    for idx in np.ndindex(*traj.shape[1:]):
        x = traj[(slice(None), *idx)]
        out["path"][idx] = np.abs(np.diff(x)).sum()
        out["net"][idx] = abs(x[-1] - x[0])
        signs = [np.sign(v) for v in x if abs(v) > floor[idx[:-1]]]
        out["reversals"][idx] = sum(a != b for a, b in zip(signs, signs[1:], strict=False))
        first = next(t for t, v in enumerate(x) if abs(v) >= 0.5 * abs(x[-1]))
        out["half_time"][idx] = (steps[first] - steps[0]) / (steps[-1] - steps[0])
    return out


def test_trajectories_hand_built():
    steps = np.array([0, 10, 20, 30, 40, 50])
    line = np.linspace(0, 1, 6)
    zigzag = np.array([0.0, 1.0, -1.0, 1.0, -1.0, 2.0])
    jitter = np.array([0.0, 1e-4, -1e-4, 1e-4, 0.5, 1.0])  # sub-floor jitter is no reversal
    traj = np.stack([line, zigzag, jitter, np.zeros(6)], -1)[:, None, :].astype(np.float32)
    m = dyn.trajectory_measures(traj, steps)
    chex.assert_shape(m.path, (1, 4))
    np.testing.assert_allclose(m.path[0], [1, 10, 1.0004, 0], rtol=1e-5)
    np.testing.assert_allclose(m.net[0], [1, 2, 1, 0])
    np.testing.assert_array_equal(m.reversals[0], [0, 4, 0, 0])
    np.testing.assert_allclose(m.half_time[0], [0.6, 0.2, 0.8, 0.0])


def test_trajectories_and_by_order_match_loop():
    rng = np.random.default_rng(3)
    n, t = 4, 9
    traj = np.cumsum(rng.normal(size=(t, 3, 2**n)), 0).astype(np.float32)
    steps = np.sort(rng.choice(1000, t, replace=False))
    m = dyn.trajectory_measures(traj, steps, floor=0.05)
    floor = 0.05 * np.abs(traj).max(axis=(0, 2))
    ref = _trajectories_loop(traj, steps, floor)
    for k, v in ref.items():
        np.testing.assert_allclose(getattr(m, k), v, rtol=1e-5, atol=1e-6, err_msg=k)
    select = rng.random((3, 2**n)) < 0.6
    s = dyn.measures_by_order(m, select)
    order = orders_np(n)
    for o in range(n + 1):
        sel = select & (order == o)
        assert int(s.count[o]) == sel.sum()
        if not sel.any():
            assert np.isnan(s.reversals[o])
            continue
        ratio = ref["path"][sel] / ref["net"][sel]
        np.testing.assert_allclose(s.detour[o], np.median(ratio), rtol=1e-4)
        np.testing.assert_allclose(
            s.detour_pooled[o], ref["path"][sel].sum() / ref["net"][sel].sum(), rtol=1e-4
        )
        np.testing.assert_allclose(s.reversals[o], ref["reversals"][sel].mean(), rtol=1e-5)
        np.testing.assert_allclose(s.half_time[o], ref["half_time"][sel].mean(), rtol=1e-5)


def test_trajectory_bad_inputs():
    with pytest.raises(JaxinterInputError, match="traj"):
        dyn.trajectory_measures(np.zeros((1, 4), np.float32))
    with pytest.raises(JaxinterInputError, match="steps"):
        dyn.trajectory_measures(np.zeros((3, 4), np.float32), steps=[0, 2, 1])
    m = dyn.trajectory_measures(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(JaxinterInputError, match="select"):
        dyn.measures_by_order(m, np.ones((2, 8), bool))


# ---------------------------------------------------------------------------------------------
# tracker


def _toy_problem(n_features=5, samples=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, n_features)).astype(np.float32)
    y = ((x[:, 0] * x[:, 1] > 0) ^ (x[:, 2] > 0.5)).astype(np.int32)
    return x, y


def _reference_record(model, params, x, y, players, baseline, x_tr, y_tr, x_te, y_te, ratio):
    """Independent path: masked scores -> moebius -> numpy salient strength and losses."""
    v = masked_scores(lambda z: model.apply(params, z), x, players, baseline, y)
    i = np.asarray(ji.moebius(v), np.float64)
    a = np.abs(i)
    a[:, 0] = 0
    strength = np.zeros(players.n + 1)
    order = orders_np(players.n)
    for row in a:
        for s in np.flatnonzero(row > ratio * row.max()):
            strength[order[s]] += row[s]

    def ce(xx, yy):
        z = np.asarray(model.apply(params, xx), np.float64)
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        return np.mean(lse - z[np.arange(len(yy)), yy])

    return i, strength, ce(x_tr, y_tr), ce(x_te, y_te)


def test_tracker_in_jit_matches_saved_checkpoints(tmp_path):
    x, y = _toy_problem()
    x_tr, y_tr, x_te, y_te = x[:64], y[:64], x[64:], y[64:]
    probe_x, probe_y = x_te[:4], y_te[:4]
    model = MLP(input_shape=(5,), num_classes=2, depth=3, width=16)
    params = model.init(jax.random.key(0), x_tr[:1])
    players = Players.features((5,))
    baseline = np.zeros(5, np.float32)
    tracker = dyn.InteractionTracker(model.apply, probe_x, probe_y, players, baseline,
                          train=(x_tr, y_tr), test=(x_te, y_te), every=3,
                          folder=tmp_path / "track", config={"run": "toy"})
    opt = optax.adam(0.05)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, i):
        tracker.maybe_record(i, params)  # records the parameters entering step i
        loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(  # noqa: E731
            model.apply(p, x_tr), y_tr).mean()
        updates, opt_state = opt.update(jax.grad(loss)(params), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for i in range(7):
        if i % 3 == 0:
            save_tree(tmp_path / f"ckpt_{i}.npz", params)
        params, opt_state = step(params, opt_state, i)
    jax.effects_barrier()

    hist = dyn.InteractionTracker(model.apply, probe_x, probe_y, players, baseline,
                                  train=(x_tr, y_tr),
                       test=(x_te, y_te), every=3, folder=tmp_path / "track",
                       config={"run": "toy"}).history()  # a new tracker resumes the folder
    np.testing.assert_array_equal(hist.steps, [0, 3, 6])
    chex.assert_shape(hist.record.i_and, (3, 4, 1, 32))
    chex.assert_shape(hist.record.strength_and, (3, 1, 6))
    for t, s in enumerate([0, 3, 6]):
        p = load_tree(tmp_path / f"ckpt_{s}.npz", params)
        i, strength, tr, te = _reference_record(model, p, probe_x, probe_y, players, baseline,
                                                x_tr, y_tr, x_te, y_te, 0.05)
        np.testing.assert_allclose(hist.record.i_and[t, :, 0], i, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(hist.record.strength_and[t, 0], strength, rtol=1e-4)
        np.testing.assert_allclose(hist.record.train_loss[t], tr, rtol=1e-5)
        np.testing.assert_allclose(hist.record.test_loss[t], te, rtol=1e-5)
    assert not np.any(hist.record.i_or)  # plain AND setting
    # a different configuration starts afresh
    other = dyn.InteractionTracker(model.apply, probe_x, probe_y, players, baseline,
                                   train=(x_tr, y_tr),
                        test=(x_te, y_te), every=5, folder=tmp_path / "track")
    assert other.steps() == []
    no_folder = dyn.InteractionTracker(model.apply, probe_x, probe_y, players, baseline,
                            train=(x_tr, y_tr), test=(x_te, y_te))
    with pytest.raises(JaxinterInputError, match="folder"):
        no_folder.history()


# ---------------------------------------------------------------------------------------------
# populations (the two tests share one trainer, member count and tracker shapes, so the
# population's compiled programs are reused)


@pytest.fixture(scope="module")
def pop_trainer():
    return Trainer(MLP(input_shape=(5,), num_classes=2, depth=2, width=8), optax.adam(0.02))


def test_population_equals_members_one_by_one(pop_trainer):
    trainer = pop_trainer
    x, y = _toy_problem(samples=80)
    x_tr, y_tr, x_te, y_te = x[:60], y[:60], x[60:], y[60:]
    tracker = dyn.InteractionTracker(trainer.logits, x_te[:2], y_te[:2], Players.features((5,)),
                          np.zeros(5, np.float32), train=(x_tr, y_tr), test=(x_te, y_te),
                          every=3)
    kw = dict(steps=6, batch_size=16, tracker=tracker, progress_desc=None)
    pop = dyn.init_population(trainer, y_tr, seeds=[3], noise_rates=[0.0, 0.5], num_classes=2)
    np.testing.assert_array_equal(pop.noise, [0, 0.5])
    assert (np.asarray(pop.labels[1]) != y_tr).sum() == 30  # half of the labels replaced
    pop, hist = dyn.train_population(pop, trainer, x_tr, **kw)
    chex.assert_shape(hist.record.train_loss, (3, 2))
    np.testing.assert_array_equal(hist.steps, [0, 3, 6])
    init_one, run_one = jax.jit(trainer.init), jax.jit(trainer.run, static_argnums=(3, 4))
    for m, r in enumerate([0.0, 0.5]):
        # the member alone: trainer.run from trainer.init(key(3)) on its noisy labels
        labels = jnp.asarray(add_label_noise(y_tr, r, 2, seed=3))
        state, _ = run_one(init_one(jax.random.key(3)), jnp.asarray(x_tr), labels, 6, 16)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[m], pop.state.params),  # noqa: B023
                                    state.params, rtol=1e-5, atol=1e-6)
        rec = tracker.record(state, labels)
        np.testing.assert_allclose(hist.record.train_loss[-1, m], rec.train_loss, rtol=1e-5)
        np.testing.assert_allclose(hist.record.i_and[-1, m], rec.i_and, rtol=1e-4, atol=1e-5)


def test_population_resumes(tmp_path, pop_trainer):
    trainer = pop_trainer
    x, y = _toy_problem(samples=80)

    def make():
        return dyn.InteractionTracker(trainer.logits, x[60:62], y[60:62], Players.features((5,)),
                           np.zeros(5, np.float32), train=(x[:60], y[:60]),
                           test=(x[60:], y[60:]), every=3, folder=tmp_path / "pop")

    pop0 = dyn.init_population(trainer, y[:60], seeds=[0, 1], noise_rates=[0.1], num_classes=2)
    kw = dict(batch_size=16, progress_desc=None)
    full, h_full = dyn.train_population(pop0, trainer, x[:60], steps=9, tracker=make(), **kw)
    # an interrupted run: 6 steps into a fresh folder, then a rerun asking for 9
    shutil.rmtree(tmp_path / "pop")
    dyn.train_population(pop0, trainer, x[:60], steps=6, tracker=make(), **kw)
    resumed, h = dyn.train_population(pop0, trainer, x[:60], steps=9, tracker=make(), **kw)
    np.testing.assert_array_equal(h.steps, [0, 3, 6, 9])
    chex.assert_trees_all_close(resumed.state.params, full.state.params, rtol=1e-6)
    np.testing.assert_allclose(h.record.test_loss, h_full.record.test_loss, rtol=1e-6)


def test_cli_dynamics_small(tmp_path):
    from jaxinter.cli import main

    out = tmp_path / "dyn"
    assert main(["dynamics", "--dataset", "wine", "--players", "6", "--steps", "60",
                 "--every", "20", "--probe", "6", "--method", "and", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_players"] == 6 and len(summary["members"]) == 6
    first = summary["per_noise_rate"]["0.0"]
    assert first["similarity_and"][0] is None  # order 0 (v(empty)) is not compared
    assert first["shared_ratio_top3_and"][6] is None  # C(6, 6) <= 3: uninformative
    for name in ("spectra_loss_gap", "noise_side_by_side", "generalization_by_order",
                 "detours_by_order", "sensitivity_by_order"):
        assert (out / f"{name}.png").stat().st_size > 10_000
