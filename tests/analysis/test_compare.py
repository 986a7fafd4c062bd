import chex
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter.analysis import (
    STABILITY_CAP,
    interaction_stability,
    knowledge_change,
    safe_ratio,
    salient_iou,
    shared_effect,
)
from jaxinter.errors import JaxinterInputError
from jaxinter.interactions import subset_index


def _brute_order_sums(x):
    n = int(np.log2(x.shape[-1]))
    out = np.zeros(x.shape[:-1] + (n + 1,))
    for s in range(2**n):
        out[..., bin(s).count("1")] += x[..., s]
    return out


def test_hand_built_layer_comparison():
    # n = 2: S={0}: both positive (shared 0.5); S={1}: signs disagree; S={0,1}: salient in ref only
    i_l = jnp.array([9.0, 1.0, -2.0, 0.5])
    i_ref = jnp.array([9.0, 0.5, 3.0, 0.5])
    sal_l = jnp.array([False, True, True, False])
    sal_ref = jnp.array([False, True, True, True])
    ch = knowledge_change(i_l, i_ref, sal_l, sal_ref)
    np.testing.assert_allclose(ch.all_l, [0, 3, 0])
    np.testing.assert_allclose(ch.all_ref, [0, 3.5, 0.5])
    np.testing.assert_allclose(ch.overlap, [0, 0.5, 0])
    np.testing.assert_allclose(ch.forget, [0, 2.5, 0])
    np.testing.assert_allclose(ch.new, [0, 3, 0.5])
    comp, red = np.asarray(ch.completeness()), np.asarray(ch.redundancy())
    assert np.isnan(comp[0]) and np.isnan(red[0]) and np.isnan(red[2])  # 0/0 guarded
    np.testing.assert_allclose(comp[1:], [0.5 / 3.5, 0.0])
    np.testing.assert_allclose(red[1], 2.5 / 3)


def test_identities_exact_in_float64(x64):
    rng = np.random.default_rng(1)
    i_l = rng.laplace(size=(20, 5, 2, 256))
    i_ref = rng.laplace(size=(20, 1, 2, 256))
    i_ref[..., ::3] *= -1
    sal_l = np.abs(i_l) > 0.7
    sal_ref = np.abs(i_ref) > 0.5
    ch = knowledge_change(i_l, i_ref, sal_l, sal_ref)
    chex.assert_shape(ch.overlap, (20, 5, 2, 9))
    assert ch.overlap.dtype == jnp.float64
    np.testing.assert_allclose(ch.all_l, ch.overlap + ch.forget, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ch.all_ref, ch.overlap + ch.new, rtol=1e-13, atol=1e-13)
    # independent brute force of the definitions on one game
    a = np.where(sal_l[3, 2, 1], i_l[3, 2, 1], 0)
    r = np.where(sal_ref[3, 0, 1], i_ref[3, 0, 1], 0)
    s = np.array([min(abs(p), abs(q)) if p * q > 0 else 0 for p, q in zip(a, r, strict=True)])
    np.testing.assert_allclose(ch.overlap[3, 2, 1], _brute_order_sums(s))
    np.testing.assert_allclose(ch.forget[3, 2, 1], _brute_order_sums(np.abs(a) - s))
    np.testing.assert_allclose(ch.new[3, 2, 1], _brute_order_sums(np.abs(r) - s))
    # completeness summed over samples is a ratio of sums, between 0 and 1
    comp = np.asarray(ch.completeness(axis=0))
    np.testing.assert_allclose(comp, ch.overlap.sum(0) / ch.all_ref.sum(0).clip(1e-300)
                               * np.where(ch.all_ref.sum(0) > 0, 1, np.nan))
    assert np.nanmin(comp) >= 0 and np.nanmax(comp) <= 1


def test_identical_layers_are_complete_and_not_redundant():
    i = jnp.asarray(np.random.default_rng(2).normal(size=(4, 32)), jnp.float32)
    sal = jnp.abs(i) > 0.3
    ch = knowledge_change(i, i, sal, sal)
    np.testing.assert_allclose(ch.overlap, ch.all_l)
    defined = np.asarray(ch.all_l) > 0
    np.testing.assert_allclose(np.asarray(ch.completeness())[defined], 1.0)
    np.testing.assert_allclose(np.asarray(ch.redundancy())[defined], 0.0)
    # the opposite sign shares nothing
    ch = knowledge_change(i, -i, sal, sal)
    np.testing.assert_allclose(ch.overlap, 0)
    np.testing.assert_allclose(ch.forget, ch.all_l)


def test_shared_effect_and_safe_ratio():
    np.testing.assert_allclose(
        shared_effect(jnp.array([1.0, -3.0, 2.0, 0.0]), jnp.array([2.0, -1.0, -2.0, 1.0])),
        [1.0, -1.0, 0.0, 0.0])
    out = np.asarray(safe_ratio(jnp.array([1.0, 0.0, 2.0]), jnp.array([2.0, 0.0, 0.0])))
    assert out[0] == 0.5 and np.isnan(out[1:]).all()


def test_iou_on_hand_built_sets():
    n = 3
    a = np.zeros(8, bool)
    b = np.zeros(8, bool)
    for s in [(0,), (1,), (0, 1)]:
        a[subset_index(s)] = True
    for s in [(0,), (0, 1), (0, 1, 2)]:
        b[subset_index(s)] = True
    iou = np.asarray(salient_iou(a, b))
    chex.assert_shape(iou, (n + 1,))
    assert np.isnan(iou[0])
    np.testing.assert_allclose(iou[1:], [0.5, 1.0, 0.0])


def test_iou_matches_python_sets():
    rng = np.random.default_rng(3)
    a = rng.random((6, 64)) < 0.3
    b = rng.random((6, 64)) < 0.3
    iou = np.asarray(salient_iou(a, b))
    for k in range(6):
        for m in range(7):
            sa = {s for s in range(64) if a[k, s] and bin(s).count("1") == m}
            sb = {s for s in range(64) if b[k, s] and bin(s).count("1") == m}
            want = len(sa & sb) / len(sa | sb) if sa | sb else np.nan
            np.testing.assert_allclose(iou[k, m], want, rtol=1e-6)


def test_stability_on_constructed_draws():
    # K = 4 draws mean +/- d: std(ddof=1) = d sqrt(4/3), stability = |mean| / std
    n = 2
    mean = np.array([0.0, 2.0, -3.0, 1.0])
    dev = np.array([1.0, 0.5, 1.0, 0.0])  # {0,1}: never changes -> capped
    signs = np.array([-1, 1, -1, 1])[:, None]
    draws = mean + signs * dev
    stab_s = np.abs(mean) / np.maximum(dev * np.sqrt(4 / 3), 1e-30)
    salient = np.array([False, True, True, False])
    out = np.asarray(interaction_stability(draws, salient))
    chex.assert_shape(out, (n + 1,))
    assert np.isnan(out[0]) and np.isnan(out[2])
    np.testing.assert_allclose(out[1], (stab_s[1] + stab_s[2]) / 2, rtol=1e-6)
    capped = np.asarray(interaction_stability(draws, np.array([False, False, False, True])))[2]
    np.testing.assert_allclose(capped, STABILITY_CAP, rtol=1e-6)
    # draw axis can be anywhere; leading axes are kept
    stacked = np.stack([draws, 2 * draws])  # (2, K, 4): scaling leaves stability unchanged
    out2 = np.asarray(interaction_stability(stacked, salient, axis=1))
    np.testing.assert_allclose(out2[0], out, rtol=1e-6)
    np.testing.assert_allclose(out2[1], out, rtol=1e-6)


def test_stability_monte_carlo():
    rng = np.random.default_rng(4)
    k = 4000
    truth = np.array([0.0, 1.0, 2.0, 3.0, 0.5, 1.5, 2.5, 4.0])
    noise = rng.normal(size=(k, 8)) * 0.5
    out = np.asarray(interaction_stability(truth + noise, np.ones(8, bool)))
    for m, subsets in enumerate([[0], [1, 2, 4], [3, 5, 6], [7]]):
        np.testing.assert_allclose(out[m], np.mean(truth[subsets] / 0.5), rtol=0.05, atol=0.05)


@pytest.mark.parametrize(
    "call",
    [
        lambda: knowledge_change(np.ones(8), np.ones(4), np.ones(8, bool), np.ones(4, bool)),
        lambda: knowledge_change(np.ones(6), np.ones(6), np.ones(6, bool), np.ones(6, bool)),
        lambda: knowledge_change(np.ones(8), np.ones(8), np.ones(8), np.ones(8, bool)),
        lambda: knowledge_change(np.ones(8, int), np.ones(8), np.ones(8, bool), np.ones(8, bool)),
        lambda: salient_iou(np.ones(8, bool), np.ones(4, bool)),
        lambda: interaction_stability(np.ones((1, 8)), np.ones(8, bool)),
        lambda: interaction_stability(np.ones((3, 8)), np.ones(8, bool), axis=-1),
        lambda: interaction_stability(np.ones((3, 8)), np.ones(5, bool)),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(JaxinterInputError):
        call()
