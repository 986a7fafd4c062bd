"""Dynamics analyses on synthetic histories with known answers, and the interaction tracker."""

from __future__ import annotations

import chex
import jax
import numpy as np
import optax
import pytest

import jaxinter as ji
from jaxinter import analysis as dyn
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import orders_np
from jaxinter.io import load_tree, save_tree
from jaxinter.masking import Players, masked_scores
from jaxinter.models import MLP

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


def _smooth_loop(x, window):
    h = window // 2
    return np.array([x[max(0, t - h): t + h + 1].mean() for t in range(len(x))])


def _gap_onset_loop(train, test, window, rise):
    """The definition, one checkpoint at a time: last t <= peak within rise of the minimum."""
    g = _smooth_loop(test - train, window)
    peak = int(np.argmax(g))
    low = g[: peak + 1].min()
    return max(t for t in range(peak + 1) if g[t] <= low + rise * (g[peak] - low))


def test_order_dynamics_matches_loops():
    rng = np.random.default_rng(5)
    t, members, n = 12, 3, 4
    strength = rng.random((t, members, n + 1)).astype(np.float32)
    strength[:, :, 1] += 3 * np.abs(np.arange(t) - 4)[:, None]  # weight on order 1 varies
    train = np.exp(-np.arange(t) / 4)[:, None] * rng.uniform(0.5, 1, members)
    test = train + np.clip(np.arange(t) - 5, 0, None)[:, None] * 0.1 + 0.2
    out = dyn.order_dynamics(strength, train.astype(np.float32), test.astype(np.float32))
    chex.assert_shape([out.spectrum], (t, members, n + 1))
    chex.assert_shape([out.mean_order, out.high_order_share], (t, members))
    chex.assert_shape([out.turn.index, out.gap_onset], (members,))
    for m in range(members):
        share = strength[:, m, 1:] / strength[:, m, 1:].sum(1, keepdims=True)
        np.testing.assert_allclose(out.spectrum[:, m, 1:], share, rtol=1e-5)
        assert not np.any(out.spectrum[:, m, 0])
        order = share @ np.arange(1, n + 1)
        np.testing.assert_allclose(out.mean_order[:, m], order, rtol=1e-5)
        np.testing.assert_allclose(out.high_order_share[:, m], share[:, 2:].sum(1), rtol=1e-5)
        assert int(out.turn.index[m]) == int(np.argmin(_smooth_loop(order, 3)))
        assert int(out.gap_onset[m]) == _gap_onset_loop(train[:, m], test[:, m], 3, 0.1)
    with pytest.raises(JaxinterInputError, match="train_loss"):
        dyn.order_dynamics(strength, train[:-1], test)


def test_detours_by_model_match_loop_and_require_count():
    rng = np.random.default_rng(6)
    n, t, models = 4, 7, 2
    traj = np.cumsum(rng.normal(size=(t, models, 3, 2**n)), 0).astype(np.float32)
    steps = np.sort(rng.choice(500, t, replace=False))
    select = rng.random((models, 3, 2**n)) < 0.5
    out = dyn.detours_by_model(traj, select, steps, floor=0.05, min_count=4)
    chex.assert_shape([out.detour, out.reversals, out.half_time, out.count], (models, n + 1))
    order = orders_np(n)
    for m in range(models):
        floor = 0.05 * np.abs(traj[:, m]).max(axis=(0, 2))
        ref = _trajectories_loop(traj[:, m], steps, floor)
        for o in range(n + 1):
            sel = select[m] & (order == o)
            assert int(out.count[m, o]) == sel.sum()
            if sel.sum() < 4:  # too few interactions: blanked, count kept
                assert np.isnan([out.detour[m, o], out.reversals[m, o], out.half_time[m, o],
                                 out.detour_pooled[m, o]]).all()
                continue
            np.testing.assert_allclose(out.detour[m, o],
                                       np.median(ref["path"][sel] / ref["net"][sel]), rtol=1e-4)
            np.testing.assert_allclose(out.reversals[m, o], ref["reversals"][sel].mean(),
                                       rtol=1e-5)
            np.testing.assert_allclose(out.half_time[m, o], ref["half_time"][sel].mean(),
                                       rtol=1e-5)
    assert np.isnan(out.detour).any() and not np.isnan(out.detour).all()  # both cases tested
    with pytest.raises(JaxinterInputError, match="select"):
        dyn.detours_by_model(traj, select[:1], steps)


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
                                  train=(x_tr, y_tr), test=(x_te, y_te), every=3,
                                  folder=tmp_path / "track",
                                  config={"run": "toy"}).history()  # a new tracker reads it
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
                                   train=(x_tr, y_tr), test=(x_te, y_te), every=5,
                                   folder=tmp_path / "track")
    assert other.steps() == []
    with pytest.raises(JaxinterInputError, match="nothing recorded"):
        other.history()
