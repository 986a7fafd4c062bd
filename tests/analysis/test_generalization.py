"""Generalization metrics per order: hand-built sets with known answers and brute-force loops."""

from __future__ import annotations

from itertools import combinations
from math import comb

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxinter as ji
from jaxinter import analysis as gen
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import orders_np, subset_index
from jaxinter.masking import Players


def _jaccard_loop(a, b, n):
    """Brute force: per order, list the subsets and apply the definition (sign-split Jaccard)."""
    out = []
    for m in range(n + 1):
        idx = [subset_index(c) for c in combinations(range(n), m)]
        u = np.concatenate([np.maximum(a[:, idx], 0).sum(0), np.maximum(-a[:, idx], 0).sum(0)])
        w = np.concatenate([np.maximum(b[:, idx], 0).sum(0), np.maximum(-b[:, idx], 0).sum(0)])
        den = np.maximum(u, w).sum()
        out.append(np.minimum(u, w).sum() / den if den > 0 else np.nan)
    return np.array(out)


def test_similarity_hand_built():
    # n = 2, subsets [{}, {0}, {1}, {0,1}]
    a = np.array([[0.0, 1.0, -2.0, 3.0]], np.float32)
    b = np.array([[0.0, 2.0, -1.0, -3.0]], np.float32)
    sim = np.asarray(gen.similarity_by_order(a, b))
    chex.assert_shape(sim, (3,))
    assert np.isnan(sim[0])  # nothing of order 0 on either side
    np.testing.assert_allclose(sim[1:], [0.5, 0.0])  # order 1: (1+1)/(2+2); order 2: signs differ
    np.testing.assert_allclose(gen.similarity_by_order(a, a)[1:], [1.0, 1.0])
    np.testing.assert_allclose(gen.similarity_by_order(a, -a)[1:], [0.0, 0.0])


def test_similarity_matches_loop_and_classes():
    rng = np.random.default_rng(0)
    n = 5
    a = rng.normal(size=(7, 2**n)).astype(np.float32)
    b = rng.normal(size=(7, 2**n)).astype(np.float32)
    np.testing.assert_allclose(
        gen.similarity_by_order(a, b, reduce="sum"), _jaccard_loop(a, b, n), rtol=1e-5
    )
    # per class: class c of A vs class c of B, mean over samples of the class
    ya, yb = rng.integers(0, 3, 7), rng.integers(0, 3, 9)
    b9 = rng.normal(size=(9, 2**n)).astype(np.float32)
    per_class = np.asarray(gen.similarity_by_order(a, b9, ya, yb, num_classes=3))
    chex.assert_shape(per_class, (3, n + 1))
    for c in range(3):
        ac, bc = a[ya == c], b9[yb == c]
        want = _jaccard_loop(ac / len(ac), bc / len(bc), n)
        np.testing.assert_allclose(per_class[c], want, rtol=1e-5)


def test_train_test_similarity_is_the_class_mean_of_per_class_similarities():
    rng = np.random.default_rng(7)
    n = 4
    i_train = rng.normal(size=(9, 2, 2**n)).astype(np.float32)  # 9 samples, 2 models
    i_test = rng.normal(size=(6, 2, 2**n)).astype(np.float32)
    y_train = np.array([0, 0, 1, 1, 1, 2, 2, 0, 1])
    y_test = np.array([0, 1, 1, 0, 1, 0])  # class 2 has no test sample: left out
    sim = np.asarray(gen.train_test_similarity(i_train, i_test, y_train, y_test, 3))
    chex.assert_shape(sim, (2, n + 1))
    assert np.isnan(sim[:, 0]).all()  # v(empty) is not an interaction
    for model in range(2):
        per_class = []
        for c in (0, 1):
            a, b = i_train[y_train == c, model], i_test[y_test == c, model]
            per_class.append(_jaccard_loop(a / len(a), b / len(b), n))
        np.testing.assert_allclose(sim[model, 1:], np.mean(per_class, 0)[1:], rtol=1e-5)


def _salient_sets(i_and, i_or, ratio=0.05):
    """Per sample: the salient subsets of each type, by the definition (S nonempty)."""
    sets = []
    for a, o in zip(i_and, i_or, strict=True):
        tau = ratio * max(np.abs(a[1:]).max(), np.abs(o[1:]).max())
        sets.append([{s for s in range(1, len(a)) if abs(t[s]) > tau} for t in (a, o)])
    return sets


def _top_sets(strength, k, n):
    order = orders_np(n)
    return {int(s) for m in range(1, n + 1)
            for s in sorted(np.flatnonzero(order == m), key=lambda s: (-strength[s], s))[:k]
            if strength[s] > 0}


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # the reference's order 0
def test_cross_model_shared_ratios_brute_force():
    rng = np.random.default_rng(8)
    n, models, samples, k = 4, 3, 4, 2
    i_and = (rng.normal(size=(models, samples, 2**n)) ** 3).astype(np.float32)
    i_or = (rng.normal(size=(models, samples, 2**n)) ** 3).astype(np.float32)
    out = gen.cross_model_shared_ratios(i_and, i_or, k=k)
    chex.assert_shape([out.salient, out.top_k], (2, n + 1))
    order = orders_np(n)
    salient = [_salient_sets(i_and[m], i_or[m]) for m in range(models)]
    for t, field in enumerate((i_and, i_or)):
        want_sal, want_top = [], []
        for m in range(models - 1):
            sal, top = np.full(n + 1, np.nan), np.full(n + 1, np.nan)
            for o in range(1, n + 1):
                mine = [{s for s in salient[m][x][t] if order[s] == o} for x in range(samples)]
                theirs = [salient[m + 1][x][t] for x in range(samples)]
                own = sum(len(a) for a in mine)
                if own:
                    sal[o] = sum(len(a & b) for a, b in zip(mine, theirs, strict=True)) / own
                if comb(n, o) > k:
                    tops = [(_top_sets(np.abs(field[m, x]), k, n),
                             _top_sets(np.abs(field[m + 1, x]), k, n)) for x in range(samples)]
                    a_o = [{s for s in a if order[s] == o} for a, _ in tops]
                    top[o] = sum(len(a & b) for a, (_, b) in zip(a_o, tops, strict=True)) / sum(
                        map(len, a_o))
            want_sal.append(sal)
            want_top.append(top)
        np.testing.assert_allclose(out.salient[t], np.nanmean(want_sal, 0), rtol=1e-6)
        np.testing.assert_allclose(out.top_k[t], np.nanmean(want_top, 0), rtol=1e-6)
    with pytest.raises(JaxinterInputError, match="M >= 2"):
        gen.cross_model_shared_ratios(i_and[:1], i_or[:1])


def test_shared_ratio_hand_built():
    n = 3
    a = np.zeros((2, 2**n), bool)
    b = np.zeros((2, 2**n), bool)
    for s in [(0,), (0, 1), (0, 1, 2)]:
        a[0, subset_index(s)] = True
    for s in [(0,), (1, 2), (0, 1, 2)]:
        b[0, subset_index(s)] = True
    a[1, subset_index((1,))] = True  # second sample: A has {1}, B has nothing
    ratio = np.asarray(gen.shared_ratio(a, b))
    assert np.isnan(ratio[0])
    np.testing.assert_allclose(ratio[1:], [0.5, 0.0, 1.0])  # order 1: {0} shared, {1} not
    np.testing.assert_allclose(gen.shared_ratio(b, a)[1:], [1.0, 0.0, 1.0])


def test_top_k_mask_brute_force():
    rng = np.random.default_rng(1)
    n, k = 5, 3
    strength = rng.random((4, 2**n)).astype(np.float32)
    mask = np.asarray(gen.top_k_mask(strength, k))
    order = orders_np(n)
    for row, m_row in zip(strength, mask, strict=True):
        assert not m_row[0]
        for m in range(1, n + 1):
            idx = np.flatnonzero(order == m)
            best = idx[np.argsort(-row[idx])[:k]]
            assert set(np.flatnonzero(m_row & (order == m))) == set(best)
    # identical strengths share everything; a reversed ranking shares nothing of order 2
    same = np.asarray(gen.shared_ratio_top_k(strength, strength, k))
    np.testing.assert_allclose(same[1:5], 1.0)
    assert np.isnan(same[[0, 5]]).all()  # C(5, m) <= 3: uninformative, reported as NaN
    assert not gen.top_k_mask(np.zeros((1, 8), np.float32), 2).any()  # zeros are never "top"
    # 10 subsets of order 2: the top 3 and the bottom 3 are disjoint
    assert float(gen.shared_ratio_top_k(strength, -strength + 2, k)[2]) == 0.0


def test_sensitivity_hand_built():
    clean = np.array([[0.0, 1.0, -1.0, 2.0]], np.float32)
    perturbed = np.array([[[0.0, 1.5, 1.0, 2.0]], [[0.0, -1.0, -1.0, 1.0]]], np.float32)
    salient = np.array([[False, True, True, True]])
    s = gen.sensitivity_by_order(clean, perturbed, salient)
    np.testing.assert_allclose(s.flip_rate[1:], [0.5, 0.0])
    np.testing.assert_allclose(s.relative_change[1:], [4.5 / 4, 1.0 / 4])
    np.testing.assert_allclose(s.count, [0, 2, 1])
    assert np.isnan(s.flip_rate[0])


def test_output_noise_variance_monte_carlo():
    """Var I(S) = 2^|S| s^2 when every u(T) carries independent N(0, s^2) noise."""
    n, s, draws = 6, 0.3, 20000
    u0 = jax.random.normal(jax.random.key(0), (2**n,))
    noise = s * jax.random.normal(jax.random.key(1), (draws, 2**n))
    var = np.asarray(jnp.var(ji.moebius(u0 + noise), axis=0))
    want = gen.noise_variance_by_order(n, s)[orders_np(n)]
    # relative standard error of a variance estimate is sqrt(2 / draws) = 1%: allow 5 of them
    np.testing.assert_allclose(var, want, rtol=0.05)
    # and the per-order growth is exponential, not linear
    assert var[-1] / var[1] > 20


def test_gradient_sign_matches_analytic():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    eps = 0.1
    adv = np.asarray(gen.gradient_sign_perturbation(lambda z: z @ w, x, y, eps))
    z = x @ w
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(3)[y]) @ w.T  # d CE / d x for logits x W
    np.testing.assert_allclose(adv, x + eps * np.sign(grad), rtol=1e-6)
    noisy = gen.gaussian_perturbations(jax.random.key(0), x, 0.5, 4000)
    chex.assert_shape(noisy, (4000, 5, 4))
    np.testing.assert_allclose(np.std(np.asarray(noisy) - x), 0.5, rtol=0.02)


def test_bad_inputs():
    a = np.zeros((2, 8), np.float32)
    with pytest.raises(JaxinterInputError, match="labels_a"):
        gen.similarity_by_order(a, a, labels_a=np.zeros(2, int))
    with pytest.raises(JaxinterInputError, match="trailing shapes"):
        gen.similarity_by_order(a, np.zeros((2, 16), np.float32))
    with pytest.raises(JaxinterInputError, match="labels"):
        gen.similarity_by_order(a, a, np.array([0, 5]), np.array([0, 1]), num_classes=2)
    with pytest.raises(JaxinterInputError, match="mask_a"):
        gen.shared_ratio(a, a > 0)
    with pytest.raises(JaxinterInputError, match="k"):
        gen.top_k_mask(a, 0)
    with pytest.raises(JaxinterInputError, match="salient"):
        gen.sensitivity_by_order(a, a[None], np.ones((2, 4), bool))
    with pytest.raises(JaxinterInputError, match="non-negative"):
        gen.generalized_jaccard(-np.ones(4, np.float32), *(np.ones(4, np.float32),) * 3)


def test_perturbation_sensitivity_linear_model():
    """Two-class linear model: log-odds are additive, I({i}) = d_i (x_i - b_i) exactly."""
    rng = np.random.default_rng(4)
    w = rng.normal(size=(4, 2)).astype(np.float32)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    y = rng.integers(0, 2, 6).astype(np.int32)
    apply_fn = lambda z: z @ w  # noqa: E731
    key = jax.random.key(0)
    out = gen.perturbation_sensitivity(apply_fn, x, y, Players.features((4,)),
                                       np.zeros(4, np.float32), key=key, sigma=0.5,
                                       epsilon=0.3, num_noise=3)
    d = (w[:, 1] - w[:, 0])[None] * np.where(y == 1, 1, -1)[:, None]  # (samples, players)
    clean = d * x
    tau = 0.05 * np.abs(clean).max(1, keepdims=True)
    sal = np.abs(clean) > tau
    inputs = {"gaussian": np.asarray(gen.gaussian_perturbations(key, x, 0.5, 3)),
              "adversarial": np.asarray(gen.gradient_sign_perturbation(apply_fn, x, y, 0.3))[None]}
    for name, xp in inputs.items():
        pert = d[None] * xp
        flips = (np.sign(pert) != np.sign(clean))[:, sal]
        change = np.abs(pert - clean)[:, sal].sum() / (np.abs(clean)[sal].sum() * len(xp))
        s_and, s_or = out[name]
        np.testing.assert_allclose(s_and.flip_rate[1], flips.mean(), rtol=1e-5)
        np.testing.assert_allclose(s_and.relative_change[1], change, rtol=1e-4)
        assert np.isnan(s_and.flip_rate[2:]).all()  # no interactions above order 1
        assert np.isnan(s_or.flip_rate).all()  # plain AND setting: no OR interactions


def test_perturbation_sensitivity_takes_per_sample_players_and_baselines():
    """Per-sample players (each sample its own order of the features, as the README builds
    them) and a per-sample baseline give the shared-players result: per-order sensitivities
    do not depend on how players are numbered."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 2)).astype(np.float32)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = rng.integers(0, 2, 5).astype(np.int32)
    apply_fn = lambda z: z @ w  # noqa: E731
    options = dict(key=jax.random.key(1), sigma=0.5, epsilon=0.3, num_noise=2)
    shared = gen.perturbation_sensitivity(apply_fn, x, y, Players.features((4,)),
                                          np.zeros(4, np.float32), **options)
    orders = [rng.permutation(4).tolist() for _ in range(len(x))]
    per_sample = Players.stack([Players.from_groups([[f] for f in o], (4,)) for o in orders])
    out = gen.perturbation_sensitivity(apply_fn, x, y, per_sample, np.zeros_like(x), **options)
    for name in shared:
        for a, b in zip(shared[name], out[name], strict=True):
            chex.assert_trees_all_close(a, b, rtol=1e-5)
        assert np.isfinite(np.asarray(shared[name][0].flip_rate[1]))  # AND, order 1: measured
