"""Separation fuzziness against independent dense computations and closed forms."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import ortho_group

import jaxinter.analysis as sep
from jaxinter.errors import JaxinterInputError


def dense_fuzziness(x, y, rcond=1e-12):
    """The textbook definition with p x p matrices (float64 numpy)."""
    x = np.asarray(x, np.float64)
    n, p = x.shape
    m = x.mean(0)
    ss_b, ss_w = np.zeros((p, p)), np.zeros((p, p))
    for k in np.unique(y):
        xk = x[y == k]
        mk = xk.mean(0)
        ss_b += len(xk) * np.outer(mk - m, mk - m) / n
        ss_w += (xk - mk).T @ (xk - mk) / n
    return np.trace(ss_w @ np.linalg.pinv(ss_b, rcond=rcond, hermitian=True))


def blobs(seed, n=400, p=10, k=4, spread=1.0, probs=None):
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=probs)
    y[:k] = np.arange(k)  # every class present
    centers = spread * rng.normal(size=(k, p))
    x = centers[y] + rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) / np.sqrt(p)
    return x, y


@pytest.mark.parametrize("seed,n,p,k", [(0, 300, 8, 3), (1, 500, 20, 10), (2, 60, 4, 7),
                                         (3, 200, 150, 5)])
def test_matches_dense_pinv(seed, n, p, k):
    x, y = blobs(seed, n, p, k)
    result = sep.separation_statistics(x, y)
    expected = dense_fuzziness(x, y)
    np.testing.assert_allclose(result.fuzziness, expected, rtol=1e-10)
    chex.assert_shape(result.per_direction, (min(k, p),))
    assert result.fuzziness.dtype == np.float64
    assert int(result.rank) == min(k - 1, p)
    np.testing.assert_allclose(result.per_direction.sum(), result.fuzziness, rtol=1e-12)
    # Tr(SS_w) and Tr(SS_b) = sum_j s_j^2 against direct sums of squares
    means = np.stack([x[y == c].mean(0) for c in range(k)])
    np.testing.assert_allclose(result.trace_within, np.sum((x - means[y]) ** 2) / n, rtol=1e-10)
    np.testing.assert_allclose(
        result.trace_between, np.sum((means[y] - x.mean(0)) ** 2) / n, rtol=1e-10)


def _dense_directions(x, y):
    """Eigen-decomposition of the dense SS_b (descending) and SS_w: the directions v_j, the
    singular values s_j = sqrt(lambda_j) of the class-mean matrix and v_j^T SS_w v_j."""
    x = np.asarray(x, np.float64)
    n, p = x.shape
    means = np.stack([x[y == k].mean(0) for k in np.unique(y)])
    centered = means - x.mean(0)
    ss_b = (centered.T * np.bincount(y)) @ centered / n
    ss_w = (x - means[y]).T @ (x - means[y]) / n
    lam, vecs = np.linalg.eigh(ss_b)
    lam, vecs = lam[::-1], vecs[:, ::-1]
    return np.sqrt(np.clip(lam, 0, None)), np.einsum("pj,pq,qj->j", vecs, ss_w, vecs)


@pytest.mark.parametrize("collinear", [False, True])
def test_directions_condition_and_kept_match_dense(collinear):
    """within (w_j), kept and condition against an eigen-decomposition of the dense SS_b: K = 5
    classes in general position keep K - 1 = 4 of the 5 directions; class means on one line
    keep one direction (condition 1)."""
    rng = np.random.default_rng(20)
    k, p = 5, 8
    y = np.repeat(np.arange(k), 60)
    centers = rng.normal(size=(k, p)) * 3
    if collinear:
        centers = np.outer(np.array([-2.0, -0.5, 0.3, 1.0, 2.5]), rng.normal(size=p))
    noise = rng.normal(size=(len(y), p)) @ rng.normal(size=(p, p)) / np.sqrt(p)
    noise -= np.stack([noise[y == c].mean(0) for c in range(k)])[y]  # class means = centers
    x = centers[y] + noise
    result = sep.separation_statistics(x, y)
    s, within = _dense_directions(x, y)
    rank = 1 if collinear else k - 1
    np.testing.assert_array_equal(result.kept, np.arange(k) < rank)
    assert int(result.rank) == rank
    np.testing.assert_allclose(result.singular_values[:rank], s[:rank], rtol=1e-10)
    assert np.all(result.singular_values[rank:] < 1e-6 * result.singular_values[0])
    np.testing.assert_allclose(result.within[:rank], within[:rank], rtol=1e-8)
    np.testing.assert_allclose(result.condition, s[0] / s[rank - 1], rtol=1e-10)
    np.testing.assert_allclose(result.per_direction[:rank], within[:rank] / s[:rank] ** 2,
                               rtol=1e-8)
    assert not np.any(result.per_direction[rank:])  # dropped directions contribute nothing


def test_float64_with_x64_off_and_float32_input():
    assert not jax.config.jax_enable_x64
    x, y = blobs(4, 300, 12, 5)
    x32 = x.astype(np.float32)
    result = sep.separation_statistics(jnp.asarray(x32), y)
    np.testing.assert_allclose(result.fuzziness, dense_fuzziness(x32, y), rtol=1e-10)
    assert isinstance(sep.separation_fuzziness(x32, y), float)


def test_chunking_does_not_change_the_result(x64):
    x, y = blobs(5, 203, 9, 4)
    full = sep.separation_statistics(x, y)
    for chunk in (1, 64):  # one sample per step, and a padded last chunk
        np.testing.assert_allclose(
            sep.separation_statistics(x, y, chunk_size=chunk).fuzziness, full.fuzziness, rtol=1e-12)


def test_feature_maps_are_flattened():
    x, y = blobs(6, 200, 24, 3)
    np.testing.assert_allclose(sep.separation_fuzziness(x.reshape(200, 2, 3, 4), y),
                               dense_fuzziness(x, y), rtol=1e-10)


def test_invariances():
    x, y = blobs(7, 400, 16, 5)
    d = sep.separation_fuzziness(x, y)
    q = ortho_group.rvs(16, random_state=0)
    shift = 1e3 * np.random.default_rng(1).normal(size=16)
    np.testing.assert_allclose(sep.separation_fuzziness(x + shift, y), d, rtol=1e-9)
    np.testing.assert_allclose(sep.separation_fuzziness(37.5 * x, y), d, rtol=1e-12)
    np.testing.assert_allclose(sep.separation_fuzziness(x @ q, y), d, rtol=1e-10)
    # a non-orthogonal map changes D: the invariance tests above can fail
    a = np.diag(np.linspace(0.1, 3, 16))
    assert abs(sep.separation_fuzziness(x @ a, y) / d - 1) > 1e-3


def test_linear_maps_cannot_go_below_the_fisher_floor():
    """For any linear map A, D(x A) >= sum_j 1 / lambda_j (lambda_j: the K - 1 nonzero
    generalized eigenvalues of SS_b v = lambda SS_w v), with equality for the LDA projection.

    This is why a network without nonlinearity cannot show a geometric decay of D over many
    layers (docs/separation.md, the linear control).
    """
    import scipy.linalg

    x, y = blobs(16, 500, 8, 4)
    means = np.stack([x[y == c].mean(0) for c in range(4)])
    centered = means - x.mean(0)
    ss_b = (centered.T * np.bincount(y)) @ centered / len(y)
    ss_w = (x - means[y]).T @ (x - means[y]) / len(y)
    lam, vecs = scipy.linalg.eigh(ss_b, ss_w)
    floor = np.sum(1 / lam[-3:])
    np.testing.assert_allclose(sep.separation_fuzziness(x @ vecs[:, -3:], y), floor, rtol=1e-8)
    rng = np.random.default_rng(17)
    for width in (3, 20):
        d = sep.separation_fuzziness(x @ rng.normal(size=(8, width)), y)
        assert d >= floor * (1 - 1e-10)
    assert sep.separation_fuzziness(x, y) > 1.01 * floor


def simplex(k, radius):
    """(k, k): vertices of a regular simplex centred at 0, each at distance ``radius`` from 0."""
    e = np.eye(k) - 1 / k
    return radius * e / np.linalg.norm(e[0])


def test_simplex_closed_form_exact():
    """Class means on a regular simplex with radius r (distance of every class mean from the
    global mean) and within-class covariance exactly s^2 I: D = (K-1)^2 s^2 / r^2.

    Derivation: balanced classes give SS_b = (1/K) sum_k m_k m_k^T, whose K-1 nonzero
    eigenvalues all equal r^2 / (K-1) (the simplex Gram matrix is r^2 (K I - 11^T) / (K-1));
    SS_w = s^2 I, so D = s^2 (K-1) (K-1) / r^2.
    """
    rng = np.random.default_rng(8)
    k, p, per_class, r, s = 5, 12, 40, 2.5, 0.7
    y = np.repeat(np.arange(k), per_class)
    noise = rng.normal(size=(k * per_class, p))
    noise -= np.stack([noise[y == c].mean(0) for c in range(k)])[y]  # zero class means
    # whiten so that SS_w = noise^T noise / n = s^2 I exactly (class means stay zero)
    evals, evecs = np.linalg.eigh(noise.T @ noise / len(y))
    noise = s * noise @ evecs @ np.diag(evals**-0.5) @ evecs.T
    centers = np.zeros((k, p))
    centers[:, :k] = simplex(k, r)
    centers = centers @ ortho_group.rvs(p, random_state=3)
    x = centers[y] + noise
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), r)
    np.testing.assert_allclose(
        sep.separation_fuzziness(x, y), (k - 1) ** 2 * s**2 / r**2, rtol=1e-10)


def test_simplex_closed_form_monte_carlo():
    """Same closed form with Gaussian noise N(0, s^2 I): agreement up to sampling error."""
    rng = np.random.default_rng(9)
    k, p, per_class, r, s = 4, 6, 25_000, 3.0, 1.3
    y = np.repeat(np.arange(k), per_class)
    centers = np.zeros((k, p))
    centers[:, :k] = simplex(k, r)
    x = centers[y] + s * rng.normal(size=(len(y), p))
    expected = (k - 1) ** 2 * s**2 / r**2
    assert abs(sep.separation_fuzziness(x, y) / expected - 1) < 0.02


def test_imbalanced_classes_use_the_sample_weighted_mean():
    x, y = blobs(10, 600, 8, 4, probs=[0.7, 0.2, 0.07, 0.03])
    d = sep.separation_fuzziness(x, y)
    np.testing.assert_allclose(d, dense_fuzziness(x, y), rtol=1e-10)
    # the unweighted mean of class means would give a different (wrong) SS_b
    means = np.stack([x[y == c].mean(0) for c in range(4)])
    counts = np.bincount(y)
    centered = means - means.mean(0)
    ss_b_wrong = (centered.T * counts) @ centered / len(y)
    ss_w = (x - means[y]).T @ (x - means[y]) / len(y)
    wrong = np.trace(ss_w @ np.linalg.pinv(ss_b_wrong, rcond=1e-12, hermitian=True))
    assert abs(wrong / d - 1) > 1e-3


def test_absent_class_with_num_classes():
    x, y = blobs(11, 300, 6, 3)
    result = sep.separation_statistics(x, y, num_classes=5)
    np.testing.assert_allclose(result.fuzziness, dense_fuzziness(x, y), rtol=1e-10)
    np.testing.assert_array_equal(result.counts, np.r_[np.bincount(y), 0, 0])


def test_identical_class_means_give_infinite_fuzziness():
    rng = np.random.default_rng(12)
    x = np.concatenate([rng.normal(size=(50, 3))] * 2)
    y = np.repeat([0, 1], 50)
    result = sep.separation_statistics(x, y)
    assert int(result.rank) == 0 and np.isinf(result.fuzziness)


def test_by_layer_matches_single_calls():
    x, y = blobs(13, 250, 10, 4)
    rng = np.random.default_rng(0)
    layers = {"input": x, "h1": np.tanh(x @ rng.normal(size=(10, 10))),
              "h2": np.maximum(x @ rng.normal(size=(10, 10)), 0), "wide": x @ rng.normal(
                  size=(10, 30))}
    out = sep.separation_by_layer(layers, y)
    assert list(out) == list(layers)
    for name, feats in layers.items():
        np.testing.assert_allclose(out[name].fuzziness, dense_fuzziness(feats, y), rtol=1e-9)
        chex.assert_shape(out[name].singular_values, (4,))
    as_list = sep.separation_by_layer(list(layers.values()), y)
    assert list(as_list) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "features,labels,kwargs,match",
    [
        (np.ones((4, 3)), np.zeros(4, int), {}, "at least two classes"),
        (np.ones((4, 3)), np.array([0, 1, 2, 5]), {"num_classes": 3}, r"label 5 outside 0..2"),
        (np.ones((4, 3)), np.array([0, 1, -1, 1]), {}, ">= 0"),
        (np.ones((4, 3)), np.array([0, 1, 1]), {}, r"per sample \(4\), got 3"),
        (np.ones(4), np.array([0, 1, 1, 0]), {}, "n_samples"),
        (np.ones((4, 3)), np.array([0.0, 1, 1, 0]), {}, "integer"),
        (np.ones((4, 3)) + 1j, np.array([0, 1, 1, 0]), {}, "real array"),
        (np.array([[0, np.nan, 1], [1, 2, 3], [4, 5, 6], [7, 8, 9]]), np.array([0, 1, 1, 0]),
         {}, "NaN"),
        (np.ones((4, 3)), np.array([0, 1, 1, 0]), {"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_input(features, labels, kwargs, match):
    with pytest.raises(JaxinterInputError, match=match):
        sep.separation_statistics(features, labels, **kwargs)


def test_by_layer_bad_input():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(JaxinterInputError, match="same samples"):
        sep.separation_by_layer({"a": np.ones((4, 2)), "b": np.ones((3, 2))}, y)
    with pytest.raises(JaxinterInputError, match=r"features\['b'\].*NaN"):
        sep.separation_by_layer({"a": np.ones((4, 2)), "b": np.full((4, 2), np.nan)}, y)


@pytest.mark.parametrize("rho,d0,layers", [(0.6, 40.0, 9), (1.3, 0.02, 4), (0.9, 1.0, 21)])
def test_fit_recovers_geometric_law(rho, d0, layers):
    d = d0 * rho ** np.arange(layers)
    law = sep.fit_law(d)
    np.testing.assert_allclose(law.rho, rho, rtol=1e-12)
    np.testing.assert_allclose(np.exp(law.intercept), d0, rtol=1e-12)
    np.testing.assert_allclose(law.pearson_r, -1.0 if rho < 1 else 1.0, atol=1e-12)
    np.testing.assert_allclose(law.r2, 1.0, atol=1e-12)
    np.testing.assert_allclose(law.ratios, rho, rtol=1e-12)
    assert law.ratio_spread < 1e-12


def test_fit_against_scipy_linregress():
    from scipy.stats import linregress

    rng = np.random.default_rng(14)
    d = np.exp(3 - 0.4 * np.arange(8) + 0.2 * rng.normal(size=8))
    law = sep.fit_law(d)
    ref = linregress(np.arange(8), np.log(d))
    np.testing.assert_allclose([law.beta, law.intercept, law.pearson_r, law.r2],
                               [ref.slope, ref.intercept, ref.rvalue, ref.rvalue**2], rtol=1e-10)
    np.testing.assert_allclose(law.ratio_spread, np.std(np.diff(np.log(d))), rtol=1e-12)
    with pytest.raises(JaxinterInputError, match="positive"):
        sep.fit_law([1.0, 0.0, 2.0])


def test_layer_separation_of_a_captured_batchnorm_mlp():
    from jaxinter.masking import capture
    from jaxinter.models import MLP, init_variables

    x, y = blobs(15, 50, 6, 3)
    x = x.astype(np.float32)
    model = MLP(input_shape=(6,), num_classes=3, depth=3, width=8, batchnorm=True)
    variables = init_variables(model, jax.random.key(0))
    # non-trivial running statistics, so eval-mode batch norm is not the identity
    stats = jax.tree.map(lambda v: v + 0.3 * jnp.arange(v.size).reshape(v.shape) / v.size,
                         variables["batch_stats"])
    variables = {**variables, "batch_stats": stats}
    result = sep.layer_separation(capture(model, variables, r"hidden_\d+"), x, y, batch_size=7)
    assert result.names == ("input", "hidden_1", "hidden_2")

    # independent forward pass: dense -> eval-mode batch norm -> relu
    h, params = x.astype(np.float64), variables["params"]
    expected = [dense_fuzziness(h, y)]
    for i in (1, 2):
        dense, bn, st = params[f"dense{i}"], params[f"bn{i}"], stats[f"bn{i}"]
        z = h @ np.asarray(dense["kernel"]) + np.asarray(dense["bias"])
        z = (z - np.asarray(st["mean"])) / np.sqrt(np.asarray(st["var"]) + 1e-5)
        h = np.maximum(z * np.asarray(bn["scale"]) + np.asarray(bn["bias"]), 0)
        expected.append(dense_fuzziness(h, y))
    measured = [float(r.fuzziness) for r in result.per_layer.values()]
    np.testing.assert_allclose(measured, expected, rtol=1e-4)  # model runs in float32
    np.testing.assert_allclose(result.law.fuzziness, measured)
    np.testing.assert_allclose(result.law.rho, np.exp(np.polyfit(np.arange(3), np.log(measured),
                                                                 1)[0]), rtol=1e-10)


def test_tracker_records_the_law_during_training():
    from jaxinter.data import load_dataset
    from jaxinter.masking import capture
    from jaxinter.models import MLP
    from jaxinter.training import Trainer, train

    ds = load_dataset("digits")
    model = MLP(input_shape=ds.input_shape, num_classes=10, depth=3, width=16, batchnorm=True)
    key = jax.random.key(0)
    trainer = Trainer(model, optax_adam())
    initial = trainer.variables(trainer.init(key))
    per_epoch = len(ds.x_train) // 128
    tracker = sep.SeparationTracker(capture(model, initial, r"hidden_\d+"), ds.x_train[:300],
                                    ds.y_train[:300], every=per_epoch)
    tracker(0, initial)  # the initialization
    result = train(model, ds, epochs=2, batch_size=128, optimizer=optax_adam(), key=key,
                   callback=tracker, progress=False)  # records every tracker.every steps
    hist = tracker.history()
    np.testing.assert_allclose(hist.steps / per_epoch, [0, 1, 2])
    chex.assert_shape([hist.record.log_fuzziness, hist.record.fuzziness], (3, 3))
    assert tracker.names == ("input", "hidden_1", "hidden_2")
    # the last record is the trained model, measured independently with a fresh capture
    final = sep.layer_separation(capture(model, result.variables, r"hidden_\d+"),
                                 ds.x_train[:300], ds.y_train[:300])
    np.testing.assert_allclose(hist.record.fuzziness[-1], final.law.fuzziness, rtol=1e-6)
    np.testing.assert_allclose(hist.record.pearson_r[-1], final.law.pearson_r, rtol=1e-6)
    np.testing.assert_allclose(hist.record.log_fuzziness, np.log(hist.record.fuzziness))
    # the input layer does not change with training; the hidden layers do
    np.testing.assert_allclose(hist.record.fuzziness[:, 0], hist.record.fuzziness[0, 0])
    assert np.all(np.abs(hist.record.fuzziness[0, 1:] / hist.record.fuzziness[-1, 1:] - 1) > 1e-3)


def optax_adam():
    import optax

    return optax.adam(1e-2)
