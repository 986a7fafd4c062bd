"""The dynamics study end to end on a tiny population: every reported number recomputed from
the study's own arrays by plain numpy, the labeled summary and report read back, config
validation, and a rerun served from the cache."""

from __future__ import annotations

import dataclasses
import json
import re
import warnings

import chex
import numpy as np
import pytest

from jaxinter.commands.dynamics import render_dynamics
from jaxinter.errors import JaxinterInputError
from jaxinter.io import labeled_array, to_jsonable
from jaxinter.studies import DynamicsConfig, DynamicsStudy, run_dynamics
from jaxinter.studies._dynamics import MIN_COUNT, TOP_K

CONFIG = DynamicsConfig(dataset="wine", players=5, noise=(0.0, 0.5), seeds=2, steps=40,
                        every=20, batch_size=32, width=16, depth=2, probe=6, method="and")


@pytest.fixture(scope="module")
def study_and_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dynamics")
    return run_dynamics(CONFIG, folder), folder


@pytest.fixture(scope="module")
def study(study_and_folder) -> DynamicsStudy:
    return study_and_folder[0]


def _orders(n):
    return np.array([bin(s).count("1") for s in range(2**n)])


def test_shapes(study):
    n, k, t, p = study.n_players, 6, 3, 4
    assert n == 5 and study.num_classes == 3
    np.testing.assert_array_equal(study.steps, [0, 20, 40])
    rec = study.history.record
    chex.assert_shape([rec.i_and, rec.i_or], (t, p, 2 * k, 1, 2**n))
    chex.assert_shape([rec.train_loss, rec.test_loss, study.dynamics.mean_order], (t, p))
    chex.assert_shape([study.similarity, study.shared.salient, study.detours.detour],
                      (2, 2, n + 1))
    chex.assert_shape(study.sensitivity.flip_rate, (2, 2, 2, n + 1))
    np.testing.assert_array_equal(study.seeds, [0, 1])
    assert not np.any(rec.i_or)  # plain AND interactions were recorded


def _nanmean(values):
    """Mean over axis 0 ignoring NaN; all-NaN columns stay NaN (quietly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(values, float), 0)


def test_similarity_per_noise_rate_from_the_recorded_interactions(study):
    k, y = 6, study.probe_labels
    final = study.history.record.i_and[-1, :, :, 0]  # (P, 2k, 2**n)
    for r in range(2):
        per_seed = []
        for s in range(2):
            member = final[r * 2 + s]
            per_class = []
            for c in range(study.num_classes):
                a, b = member[:k][y[:k] == c], member[k:][y[k:] == c]
                if len(a) and len(b):  # class means of the positive and negative parts
                    pa, na = np.maximum(a, 0).mean(0), np.maximum(-a, 0).mean(0)
                    pb, nb = np.maximum(b, 0).mean(0), np.maximum(-b, 0).mean(0)
                    per_class.append(_jaccard_parts(pa, na, pb, nb))
            per_seed.append(_nanmean(per_class))
        np.testing.assert_allclose(study.similarity[r, 0, 1:], _nanmean(per_seed)[1:],
                                   rtol=1e-5)
        assert np.isnan(study.similarity[r, :, 0]).all()


def _jaccard_parts(pa, na, pb, nb):
    n = int(np.log2(pa.shape[-1]))
    out = np.full(n + 1, np.nan)
    for m in range(1, n + 1):
        sel = _orders(n) == m
        num = np.minimum(pa[sel], pb[sel]).sum() + np.minimum(na[sel], nb[sel]).sum()
        den = np.maximum(pa[sel], pb[sel]).sum() + np.maximum(na[sel], nb[sel]).sum()
        out[m] = num / den if den > 0 else np.nan
    return out


def _salient(i):
    """(samples, 2**n) AND interactions of the plain-AND setting -> boolean salient sets."""
    a = np.abs(i).copy()
    a[:, 0] = 0
    return a > 0.05 * a.max(1, keepdims=True)


def test_turns_and_gap_onsets_from_the_recorded_strengths(study):
    rec, steps = study.history.record, study.steps
    strength = rec.strength_and[:, :, 0] + rec.strength_or[:, :, 0]  # (T, P, n + 1)
    share = strength[..., 1:] / strength[..., 1:].sum(-1, keepdims=True)
    order = share @ np.arange(1, study.n_players + 1)  # (T, P)
    smooth = np.stack([order[max(0, t - 1): t + 2].mean(0) for t in range(len(steps))])
    np.testing.assert_array_equal(study.turn_step.ravel(), steps[np.argmin(smooth, 0)])
    np.testing.assert_allclose(study.mean_order_points[..., 0].ravel(), order[0], rtol=1e-5)
    np.testing.assert_allclose(study.mean_order_points[..., 2].ravel(), order[-1], rtol=1e-5)
    # the recorded strength is the salient AND strength summed over probe samples
    i = rec.i_and[-1, :, :, 0]
    for m in range(4):
        sal = _salient(i[m])
        want = [np.abs(i[m])[sal & (_orders(5) == o)].sum() for o in range(6)]
        np.testing.assert_allclose(rec.strength_and[-1, m, 0], want, rtol=1e-4, atol=1e-6)


def test_shared_ratios_and_detours_from_the_recorded_interactions(study):
    k, n = 6, study.n_players
    traj = study.history.record.i_and[:, :, :, 0]  # (T, P, 2k, 2**n)
    order = _orders(n)
    for r in range(2):
        a, b = (_salient(traj[-1, r * 2 + s, k:]) for s in range(2))
        for o in range(1, n + 1):
            own = (a & (order == o)).sum()
            want = (a & b & (order == o)).sum() / own if own else np.nan
            np.testing.assert_allclose(study.shared.salient[r, 0, o], want, rtol=1e-6)
        detours, counts = [], []
        for s in range(2):
            m = r * 2 + s
            sel = _salient(traj[-1, m])
            path = np.abs(np.diff(traj[:, m], axis=0)).sum(0)
            net = np.abs(traj[-1, m] - traj[0, m])
            per_order = np.full(n + 1, np.nan)
            for o in range(n + 1):
                chosen = sel & (order == o) & (net > 0)
                if (sel & (order == o)).sum() >= MIN_COUNT:
                    per_order[o] = np.median(path[chosen] / net[chosen])
            detours.append(per_order)
            counts.append([(sel & (order == o)).sum() for o in range(n + 1)])
        np.testing.assert_allclose(study.detours.detour[r, 0], _nanmean(detours), rtol=1e-4)
        np.testing.assert_allclose(study.detours.count[r, 0], np.mean(counts, 0))
    # top-k is NaN where C(n, m) <= k: every model shares everything there
    assert np.isnan(study.shared.top_k[:, :, [0, n]]).all() and TOP_K == 3


def test_sensitivity_blanks_orders_with_few_interactions(study):
    s = study.sensitivity
    few = s.count < MIN_COUNT
    assert np.isnan(s.flip_rate[few]).all() and np.isnan(s.relative_change[few]).all()
    assert np.all((s.flip_rate[~few] >= 0) & (s.flip_rate[~few] <= 1))
    np.testing.assert_array_equal(study.sensitivity_noise, [0.0, 0.5])
    # the Gaussian and adversarial runs perturb the same clean interactions: same counts
    np.testing.assert_array_equal(s.count[:, 0], s.count[:, 1])


def _read(entry):
    values, axes, coords = labeled_array(json.loads(json.dumps(to_jsonable(entry))))
    return values, axes, coords


def test_summary_is_labeled_and_equals_the_study(study):
    summary = study.summary()
    json.dumps(to_jsonable(summary), allow_nan=False)  # valid JSON as written
    member = {"noise_rate": [0.0, 0.5], "seed": [0, 1]}
    orders = list(range(study.n_players + 1))
    values, axes, coords = _read(summary["similarity"])
    assert axes == ["noise_rate", "type", "order"]
    assert coords == {"noise_rate": [0.0, 0.5], "type": ["AND", "OR"], "order": orders}
    np.testing.assert_allclose(values, study.similarity, rtol=1e-6)
    values, axes, coords = _read(summary["turn_step"])
    assert (axes, coords) == (["noise_rate", "seed"], member)
    np.testing.assert_array_equal(values, study.turn_step)
    values, axes, coords = _read(summary["spectrum"])
    assert axes == ["checkpoint", "noise_rate", "seed", "order"]
    assert coords["checkpoint"] == [0, 20, 40]
    np.testing.assert_allclose(values, study.dynamics.spectrum.reshape(3, 2, 2, -1), rtol=1e-6)
    values, _, _ = _read(summary["test_loss"])
    np.testing.assert_allclose(values.reshape(3, 4), study.history.record.test_loss, rtol=1e-6)
    for f in dataclasses.fields(study.detours):
        values, axes, _ = _read(summary["detours"][f.name])
        np.testing.assert_allclose(values, getattr(study.detours, f.name), rtol=1e-6)
    values, axes, coords = _read(summary["sensitivity"]["relative_change"])
    assert axes == ["noise_rate", "perturbation", "type", "order"]
    assert coords["perturbation"] == ["gaussian", "adversarial"]
    np.testing.assert_allclose(values, study.sensitivity.relative_change, rtol=1e-6)
    values, _, _ = _read(summary["test_accuracy"])
    np.testing.assert_allclose(values.ravel(), study.test_accuracy, rtol=1e-6)
    assert summary["config"] == CONFIG.to_dict()


def test_report_shows_the_study(study, tmp_path):
    report = render_dynamics(study, tmp_path).read_text()
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(
        json.dumps(to_jsonable(study.summary())))
    cells = re.findall(r"<td>([^<]*)</td>", report)
    accuracy = study.by_member(study.test_accuracy).mean(1)
    for r, rate in enumerate(study.noise_rates):
        row = cells[cells.index(f"{rate:.4g}"):][:9]
        assert row[1] == f"{accuracy[r]:.3f}"
        assert row[2] == f"{study.turn_step[r].mean():.0f}"
        assert row[3] == f"{study.gap_onset_step[r].mean():.0f}"
        assert row[8] == f"{study.mean_order_points[r, :, 2].mean():.2f}"
    for name in ("spectra_loss_gap", "noise_side_by_side", "generalization_by_order",
                 "detours_by_order", "sensitivity_by_order"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_rerun_is_served_from_the_cache(study_and_folder, capsys):
    study, folder = study_and_folder
    again = run_dynamics(CONFIG, folder)
    assert "sensitivity: reused from the cache" in capsys.readouterr().err
    np.testing.assert_array_equal(again.history.record.i_and, study.history.record.i_and)
    np.testing.assert_array_equal(again.sensitivity.relative_change,
                                  study.sensitivity.relative_change)
    np.testing.assert_array_equal(again.test_accuracy, study.test_accuracy)


@pytest.mark.parametrize("change,field", [
    ({"players": 1}, "players"), ({"players": 13}, "players"), ({"noise": (0.5, 0.5)}, "noise"),
    ({"noise": (1.0,)}, "noise"), ({"noise": ()}, "noise"), ({"noise": "0.1"}, "noise"),
    ({"steps": 10, "every": 10}, "every"), ({"method": "or"}, "method"),
    ({"dataset": "mnist"}, "data_path"), ({"data_path": "/x"}, "data_path"),
    ({"dataset": "nope"}, "dataset"), ({"lr": 0.0}, "lr"), ({"lr": "fast"}, "lr"),
    ({"seeds": 0}, "seeds"), ({"train_limit": 0}, "train_limit"), ({"probe": 1}, "probe"),
    ({"batch_size": 2.5}, "batch_size"), ({"andor_steps": True}, "andor_steps"),
])
def test_config_rejects_bad_fields(change, field):
    with pytest.raises(JaxinterInputError, match=f"^{field}"):
        DynamicsConfig(**change)


def test_config_round_trip_and_data_dependent_checks():
    config = DynamicsConfig(noise=[0.1, 0.3])
    assert config.noise == (0.1, 0.3)
    assert DynamicsConfig(**json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(JaxinterInputError, match="^batch_size: .* 133 training samples"):
        run_dynamics(DynamicsConfig(dataset="wine", batch_size=500))


def test_every_member_and_checkpoint_field_of_the_summary(study):
    """The per-member and per-checkpoint fields that the report and figures show: equal to the
    study's arrays, and the derived ones recomputed from the per-checkpoint curves."""
    summary = study.summary()
    rec, dyn = study.history.record, study.dynamics
    train_loss = np.asarray(rec.train_loss)
    curve = np.asarray(dyn.mean_order)  # (T, P)
    np.testing.assert_allclose(_read(summary["train_loss"])[0].reshape(curve.shape), train_loss,
                               rtol=1e-6)
    np.testing.assert_allclose(_read(summary["mean_order"])[0].reshape(curve.shape), curve,
                               rtol=1e-6)
    np.testing.assert_allclose(_read(summary["final_train_loss"])[0].ravel(), train_loss[-1],
                               rtol=1e-6)
    np.testing.assert_allclose(_read(summary["final_test_loss"])[0].ravel(),
                               np.asarray(rec.test_loss)[-1], rtol=1e-6)
    points = np.stack([curve[0], np.nanmin(curve, 0), curve[-1]], -1)  # recomputed
    np.testing.assert_allclose(_read(summary["mean_order_points"])[0].reshape(points.shape),
                               points, rtol=1e-6)
    # the spectrum is a distribution over orders; the high-order share is its upper part
    spectrum = _read(summary["spectrum"])[0]
    np.testing.assert_allclose(np.nansum(spectrum, -1), 1, atol=1e-5)
    n = study.n_players
    high = spectrum[..., n // 2 + 1:].sum(-1)[-1]
    np.testing.assert_allclose(_read(summary["final_high_order_share"])[0], high, atol=1e-5)
    mean = (spectrum[..., 1:] * np.arange(1, n + 1)).sum(-1) / spectrum[..., 1:].sum(-1)
    np.testing.assert_allclose(_read(summary["mean_order"])[0], mean, rtol=1e-4)
    np.testing.assert_array_equal(_read(summary["gap_onset_step"])[0], study.gap_onset_step)
    np.testing.assert_array_equal(_read(summary["two_phase"])[0].ravel(),
                                  np.asarray(dyn.turn.two_phase))
    for name in ("shared_ratio", "shared_ratio_top_k"):
        field = "salient" if name == "shared_ratio" else "top_k"
        np.testing.assert_allclose(_read(summary[name])[0], getattr(study.shared, field),
                                   rtol=1e-6)
    np.testing.assert_allclose(_read(summary["sensitivity"]["flip_rate"])[0],
                               study.sensitivity.flip_rate, rtol=1e-6)
