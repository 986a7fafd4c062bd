"""Moment maps: identities on sample cumulants, Gaussian closure against Monte Carlo, surrogates."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinter import analysis as co
from jaxinter.analysis import class_cumulants, mixture_cumulants
from jaxinter.errors import JaxinterInputError
from jaxinter.models import activation as activation_fn


def _sample_moments(h, labels, num_classes):
    """Plain numpy class means and 1/n covariances (independent of jaxinter.cumulants)."""
    h = np.asarray(h)
    means = np.stack([h[labels == c].mean(0) for c in range(num_classes)])
    covs = np.stack([np.cov(h[labels == c].T, bias=True) for c in range(num_classes)])
    return means, covs


def _random_stack(key, sizes, activation, alpha=0.0):
    keys = jax.random.split(key, len(sizes) - 1)
    kernels = tuple(jax.random.normal(k, (a, b)) / np.sqrt(a)
                    for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True))
    biases = tuple(0.3 * jax.random.normal(jax.random.fold_in(k, 1), (b,))
                   for k, b in zip(keys, sizes[1:], strict=True))
    return co.DenseStack(kernels, biases, activation, alpha)


def _skewed_data(n=600, dim=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    x = rng.exponential(size=(n, dim)) - 1 + 0.5 * labels[:, None]
    x[:, 0] = 1.5  # a constant input pixel: singular input covariance
    return x, labels


def test_linear_layer_is_exact(x64):
    x, labels = _skewed_data()
    cum = class_cumulants(x, labels, 3)
    kernel, bias = np.random.default_rng(1).normal(size=(2, 4, 6))[0], np.arange(6.0)
    mean, cov = co.linear_moments(cum.mean, cum.cov, kernel, bias)
    true_mean, true_cov = _sample_moments(x @ kernel + bias, labels, 3)
    np.testing.assert_allclose(mean, true_mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cov, true_cov, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("alpha", [0.5, -1.3])
def test_quadratic_map_is_identity_on_sample_cumulants(x64, alpha):
    x, labels = _skewed_data(seed=2)
    cum = class_cumulants(x, labels, 3)
    mean, cov = co.quadratic_moments(cum.mean, cum.cov, cum.k3, cum.k4, alpha)
    true_mean, true_cov = _sample_moments(x + alpha * x**2, labels, 3)
    np.testing.assert_allclose(mean, true_mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cov, true_cov, rtol=1e-10, atol=1e-10)
    # without the higher slices the formula is visibly wrong on this skewed data
    _, closure_cov = co.quadratic_moments(cum.mean, cum.cov, 0 * cum.k3, 0 * cum.k4, alpha)
    assert np.abs(closure_cov - true_cov).max() > 0.1


def _gaussian_case(seed, dim=4, dead=True):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(dim, dim)) * 0.8
    cov = a @ a.T
    if dead:
        cov[-1, :] = cov[:, -1] = 0.0  # a dead unit: zero variance
    mean = rng.normal(size=dim)
    return mean, cov


@pytest.mark.parametrize("activation", ["relu", "erf", "quadratic"])
def test_gaussian_closure_matches_monte_carlo(x64, activation):
    mean, cov = _gaussian_case(3)
    mean[1] = 0.0
    m, c = co.gaussian_closure_moments(activation, jnp.asarray(mean), jnp.asarray(cov), 0.7)
    assert np.all(np.isfinite(m)) and np.all(np.isfinite(c))
    n = 100_000  # the tolerance below scales with the Monte Carlo standard error
    z = np.random.default_rng(4).multivariate_normal(mean, cov, n, method="eigh")
    h = np.asarray(activation_fn(activation, 0.7)(jnp.asarray(z)))
    mc_mean, mc_cov = h.mean(0), np.cov(h.T, bias=True)
    # standard errors of the Monte Carlo estimates, with a 6-sigma tolerance
    se_mean = h.std(0) / np.sqrt(n)
    d = h - mc_mean
    se_cov = np.sqrt(np.var(d[:, :, None] * d[:, None, :], axis=0) / n)
    assert np.all(np.abs(m - mc_mean) <= 6 * se_mean + 1e-12)
    assert np.all(np.abs(c - mc_cov) <= 6 * se_cov + 1e-12)
    np.testing.assert_array_equal(c[-1], 0.0)  # the dead unit stays constant


def test_zero_mean_kernels_are_arcsine_and_arccosine(x64):
    _, cov = _gaussian_case(5, dead=False)
    q = 1 + 2 * np.diag(cov)
    _, c_erf = co.erf_gaussian_moments(jnp.zeros(4), jnp.asarray(cov))
    np.testing.assert_allclose(c_erf, 2 / np.pi * np.arcsin(2 * cov / np.sqrt(np.outer(q, q))),
                               atol=1e-12)
    m_relu, c_relu = co.relu_gaussian_moments(jnp.zeros(4), jnp.asarray(cov))
    s = np.sqrt(np.diag(cov))
    theta = np.arccos(np.clip(cov / np.outer(s, s), -1, 1))
    second = np.outer(s, s) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))
    np.testing.assert_allclose(m_relu, s / np.sqrt(2 * np.pi), rtol=1e-12)
    np.testing.assert_allclose(c_relu, second - np.outer(m_relu, m_relu), atol=1e-7)


def test_closure_rejects_tanh():
    with pytest.raises(JaxinterInputError, match="activation"):
        co.gaussian_closure_moments("tanh", jnp.zeros(2), jnp.eye(2))


@pytest.mark.parametrize("activation", ["quadratic", "linear"])
def test_exact_propagation_through_a_stack(x64, activation):
    x, labels = _skewed_data(seed=6)
    stack = _random_stack(jax.random.key(0), [4, 5, 5, 3], activation, alpha=0.4)
    measured = co.stack_cumulants(stack, x, labels, 3)
    higher = tuple((p.k3, p.k4) for p in measured.preactivations[:-1])
    inp = measured.features[0]
    pred = co.propagate_moments(stack, inp.mean, inp.cov, higher)
    features, _ = co.stack_features(stack, jnp.asarray(x))
    for l, h in enumerate(features):
        true_mean, true_cov = _sample_moments(h, labels, 3)
        np.testing.assert_allclose(pred.means[l], true_mean, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(pred.covs[l], true_cov, rtol=1e-10, atol=1e-10)
    mean_err, cov_err = co.moment_prediction_errors(pred, measured)
    chex.assert_shape([mean_err, cov_err], (4, 3))
    assert float(cov_err.max()) < 1e-10


def test_closure_propagation_exact_for_one_gaussian_hidden_layer(x64):
    """Gaussian input + one ReLU layer: the closure is exact, so it must match Monte Carlo."""
    stack = _random_stack(jax.random.key(1), [3, 4, 2], "relu")
    mean, cov = _gaussian_case(7, dim=3, dead=False)
    pred = co.propagate_moments(stack, jnp.asarray(mean)[None], jnp.asarray(cov)[None])
    x = np.random.default_rng(8).multivariate_normal(mean, cov, 400_000)
    measured = co.stack_cumulants(stack, x, np.zeros(len(x), int), 1)
    mean_err, cov_err = co.moment_prediction_errors(pred, measured)
    assert float(mean_err.max()) < 0.01 and float(cov_err.max()) < 0.01


def test_breakdown_parts_sum_to_measured(x64):
    x, labels = _skewed_data(seed=9)
    for activation in ("quadratic", "relu", "erf"):
        stack = _random_stack(jax.random.key(2), [4, 5, 3], activation, alpha=0.6)
        measured = co.stack_cumulants(stack, x, labels, 3)
        (bd,) = co.stack_breakdowns(stack, measured)
        chex.assert_shape(bd.mean_parts, (3, 3, 5))
        chex.assert_shape(bd.cov_parts, (3, 4, 5, 5))
        np.testing.assert_allclose(bd.mean_parts.sum(1), measured.features[1].mean, atol=1e-12)
        np.testing.assert_allclose(bd.cov_parts.sum(1), measured.features[1].cov, atol=1e-12)
        mean_norm, cov_norm = bd.norms()
        if activation == "quadratic":  # exact split: nothing left beyond kappa3 and kappa4
            np.testing.assert_allclose(bd.mean_parts[:, 2], 0, atol=1e-12)
            np.testing.assert_allclose(bd.cov_parts[:, 3], 0, atol=1e-12)
            assert float(cov_norm[:, 1:3].min()) > 1e-3
        else:
            np.testing.assert_array_equal(bd.cov_parts[:, 1:3], 0)


def test_surrogate_keeps_accuracy_on_gaussian_data(x64):
    """When the classes are Gaussian, the input surrogate is the same distribution."""
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 2, 4000)
    x = rng.normal(size=(4000, 2)) + np.array([[1.0, 0.0], [-1.0, 0.0]])[labels]
    # h = (relu(x1), relu(-x1)), logits = h: predicts class 0 when x1 > 0
    stack = co.DenseStack((jnp.array([[1.0, -1.0], [0.0, 0.0]]), jnp.eye(2)),
                          (jnp.zeros(2), jnp.zeros(2)), "relu")
    real, acc = co.gaussian_surrogate_accuracy(stack, x, labels, 2, jax.random.key(0), repeats=2)
    chex.assert_shape(acc, (3,))
    assert abs(float(real) - 0.84) < 0.03  # Phi(1) for this linear rule
    np.testing.assert_allclose(acc[0], real, atol=0.03)


def test_class_gaussian_samples_follow_their_class(x64):
    x, labels = _skewed_data(n=3000, seed=11)
    cum = class_cumulants(x, labels, 3)
    s = co.class_gaussian_samples(jax.random.key(3), cum, jnp.asarray(labels))
    means, covs = _sample_moments(s, labels, 3)
    np.testing.assert_allclose(means, cum.mean, atol=0.1)
    np.testing.assert_allclose(covs, cum.cov, atol=0.15)


def test_xor_exact_moments_and_closure_failure(x64):
    kernel = jnp.array([[1.0, 1.0, 0.3], [1.0, -1.0, 0.0]])  # units x1+x2, x1-x2, 0.3 x1
    res = co.xor_closure_check(kernel, jnp.zeros(3), 1.0, 0.3, n_mc=50_000)
    # 50,000 samples per class: observed errors <= 0.014 (means), 1.6% (variances) over 4 seeds
    np.testing.assert_allclose(res.exact_mean, res.mc_mean, atol=0.03)
    np.testing.assert_allclose(res.exact_var, res.mc_var, rtol=0.03)
    np.testing.assert_allclose(res.closure_mean, res.exact_mean, atol=1e-12)
    # class 0 is bimodal along x1 + x2 (z = +-2): the closure's variance is far too large
    assert res.closure_var[0, 0] > 5 * res.exact_var[0, 0]
    assert res.k4_diag[0, 0] < 0
    # the class information has moved into the mean of the quadratic unit
    assert res.exact_mean[0, 0] - res.exact_mean[1, 0] > 3.0


def test_xor_class_means_equal(x64):
    x, y = co.xor_monte_carlo(10_000, 0.3)
    weights, means, covs = co.xor_mixture(0.3)
    exact = jax.vmap(mixture_cumulants)(weights, means, covs)
    cum = class_cumulants(x, y, 2)
    np.testing.assert_allclose(cum.mean, exact.mean, atol=0.02)  # the loader is the mixture
    np.testing.assert_allclose(cum.cov, exact.cov, atol=0.03)
    mean_sep, cov_sep = co.mean_cov_separation(cum)
    assert float(mean_sep) < 0.01 and float(cov_sep) > 0.5


def _mlp_and_variables(batchnorm):
    from jaxinter.models import MLP, init_variables

    model = MLP(input_shape=(4,), num_classes=3, depth=3, width=6, activation="quadratic",
                alpha=0.3, batchnorm=batchnorm)
    variables = init_variables(model, jax.random.key(0))
    if batchnorm:  # non-trivial running statistics
        variables["batch_stats"] = jax.tree.map(lambda a: a + 0.5, variables["batch_stats"])
    return model, variables


@pytest.mark.parametrize("batchnorm", [False, True])
def test_stack_from_mlp_matches_capture(batchnorm):
    from jaxinter.masking import capture

    model, variables = _mlp_and_variables(batchnorm)
    x = jax.random.normal(jax.random.key(1), (16, 4))
    logits, feats = capture(model, variables)(x)
    stack = co.dense_stack_from_mlp(model, variables)
    features, pre = co.stack_features(stack, x)
    np.testing.assert_allclose(features[-1], logits, rtol=1e-5, atol=1e-5)
    for i in (1, 2):
        np.testing.assert_allclose(features[i], feats[f"hidden_{i}"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pre[i - 1], feats[f"pre_{i}"], rtol=1e-5, atol=1e-5)
    assert stack.layer_names()[1:3] == ["hidden_1", "hidden_2"]


# ---------------------------------------------------------------------------------------------
# one activation table, shared with the models


def test_stacks_use_the_models_activations_and_alpha():
    from jaxinter.models import ACTIVATIONS, QUADRATIC_ALPHA

    assert set(co.CLOSURE_ACTIVATIONS) <= set(ACTIVATIONS)
    assert set(co.EXACT_ACTIVATIONS) <= set(co.CLOSURE_ACTIVATIONS)
    assert co.DenseStack((), (), "quadratic").alpha == QUADRATIC_ALPHA
    x = jax.random.normal(jax.random.key(4), (5, 4))
    for name in ACTIVATIONS:
        stack = _random_stack(jax.random.key(3), [4, 3, 2], name, alpha=0.7)
        features, pre = co.stack_features(stack, x)
        np.testing.assert_allclose(features[1], activation_fn(name, 0.7)(pre[0]), rtol=1e-6,
                                   atol=1e-6)
    # the closure's default alpha is the models' default
    mean, cov = jnp.array([0.3, -0.2]), jnp.array([[1.0, 0.2], [0.2, 0.5]])
    np.testing.assert_allclose(
        co.gaussian_closure_moments("quadratic", mean, cov)[0],
        co.gaussian_closure_moments("quadratic", mean, cov, QUADRATIC_ALPHA)[0])


# ---------------------------------------------------------------------------------------------
# bad input: JaxinterInputError naming the argument, before tracing


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: co.gaussian_closure_moments("relu", jnp.zeros(3), jnp.eye(2)), r"^cov: expected"),
        (lambda: co.gaussian_closure_moments("erf", jnp.zeros((2, 3)), jnp.eye(3)), r"^cov:"),
        (lambda: co.gaussian_closure_moments("relu", jnp.zeros(()), jnp.eye(1)), r"^mean:"),
        (lambda: co.gaussian_closure_moments("relu", jnp.zeros(2, int), jnp.eye(2)),
         r"^mean: expected a real floating"),
        (lambda: co.gaussian_closure_moments("quadratic", jnp.zeros(2), jnp.eye(2), np.nan),
         r"^alpha:"),
        (lambda: co.gaussian_closure_moments("gelu", jnp.zeros(2), jnp.eye(2)), r"^activation:"),
        (lambda: co.quadratic_moments(jnp.zeros(2), jnp.eye(2), jnp.zeros((2, 3)), jnp.eye(2)),
         r"^k3:"),
        (lambda: co.linear_moments(jnp.zeros(2), jnp.eye(2), jnp.ones((3, 4)), jnp.ones(4)),
         r"^kernel, bias:"),
        (lambda: co.relu_gaussian_moments(jnp.zeros(2), jnp.eye(3)), r"^cov:"),
    ],
)
def test_moment_maps_reject_bad_shapes(call, match):
    with pytest.raises(JaxinterInputError, match=match):
        call()


def test_propagate_moments_rejects_bad_input():
    stack = _random_stack(jax.random.key(0), [3, 4, 2], "quadratic", alpha=0.4)
    mean, cov = jnp.zeros((2, 3)), jnp.broadcast_to(jnp.eye(3), (2, 3, 3))
    with pytest.raises(JaxinterInputError, match=r"^mean: expected \(\.\.\., 3\)"):
        co.propagate_moments(stack, jnp.zeros((2, 5)), jnp.broadcast_to(jnp.eye(5), (2, 5, 5)))
    with pytest.raises(JaxinterInputError, match=r"^cov:"):
        co.propagate_moments(stack, mean, jnp.eye(3))
    with pytest.raises(JaxinterInputError, match=r"^higher: expected 1 \(k3, k4\) pairs"):
        co.propagate_moments(stack, mean, cov, higher=())
    with pytest.raises(JaxinterInputError, match=r"^higher\[0\]\[1\]: expected"):
        co.propagate_moments(stack, mean, cov, higher=((jnp.zeros((2, 4, 4)), jnp.zeros(4)),))
    with pytest.raises(JaxinterInputError, match=r"^activation:"):  # no exact map for relu
        co.propagate_moments(stack.replace(activation="relu"), mean, cov,
                             higher=((jnp.zeros((2, 4, 4)),) * 2,))
    with pytest.raises(JaxinterInputError, match=r"^activation:"):  # no closure for tanh
        co.propagate_moments(stack.replace(activation="tanh"), mean, cov)
    bad = stack.replace(kernels=(jnp.ones((3, 4)), jnp.ones((5, 2))))
    with pytest.raises(JaxinterInputError, match=r"^stack: expected kernels"):
        co.propagate_moments(bad, mean, cov)
    with pytest.raises(JaxinterInputError, match=r"^stack: expected a DenseStack"):
        co.propagate_moments("stack", mean, cov)


def test_cumulant_breakdown_rejects_bad_input(x64):
    x, labels = _skewed_data(seed=12)
    cum = class_cumulants(x, labels, 3)
    with pytest.raises(JaxinterInputError, match=r"^post: expected the shapes of pre"):
        co.cumulant_breakdown("relu", 0.0, cum, class_cumulants(x[:, :3], labels, 3))
    with pytest.raises(JaxinterInputError, match=r"^pre.k4: expected"):
        co.cumulant_breakdown("relu", 0.0, cum.replace(k4=cum.k4[:, :2]), cum)
    with pytest.raises(JaxinterInputError, match=r"^pre: expected Cumulants"):
        co.cumulant_breakdown("relu", 0.0, (cum.mean, cum.cov), cum)
    with pytest.raises(JaxinterInputError, match=r"^activation:"):
        co.cumulant_breakdown("tanh", 0.0, cum, cum)


def test_stack_functions_reject_bad_input():
    stack = _random_stack(jax.random.key(0), [4, 3, 2], "relu")
    with pytest.raises(JaxinterInputError, match=r"^x: expected \(samples, \.\.\.\) with 4"):
        co.stack_features(stack, jnp.ones((5, 3)))
    with pytest.raises(JaxinterInputError, match=r"^h: expected shape \(n, 3\)"):
        co.apply_stack_from(stack, 1, jnp.ones((5, 4)))
    with pytest.raises(JaxinterInputError, match=r"^layer:"):
        co.apply_stack_from(stack, 4, jnp.ones((5, 4)))
    with pytest.raises(JaxinterInputError, match=r"^repeats:"):
        co.analyse_correlations(stack, np.ones((6, 4)), np.arange(6) % 2, 2, jax.random.key(0),
                                repeats=0)
    with pytest.raises(JaxinterInputError, match=r"^labels: every class needs at least 2"):
        co.analyse_correlations(stack, np.ones((6, 4)), np.array([0, 0, 0, 0, 0, 1]), 2,
                                jax.random.key(0))
    with pytest.raises(JaxinterInputError, match=r"^kernel, bias:"):
        co.xor_closure_check(np.ones((3, 2)), np.zeros(2), 0.5, 0.3, n_mc=10)


# ---------------------------------------------------------------------------------------------
# the one-call analysis against its pieces and against numpy


def _numpy_forward(stack, x):
    """Feature layers of a dense stack in plain numpy float64 (independent of jaxinter)."""
    phi = {"quadratic": lambda z: z + stack.alpha * z * z, "relu": lambda z: np.maximum(z, 0),
           "tanh": np.tanh}[stack.activation]
    h = [np.asarray(x, np.float64)]
    for l, (k, b) in enumerate(zip(stack.kernels, stack.biases, strict=True)):
        z = h[-1] @ np.asarray(k, np.float64) + np.asarray(b, np.float64)
        h.append(z if l == stack.depth else phi(z))
    return h


@pytest.mark.parametrize("activation", ["quadratic", "tanh"])
def test_analyse_correlations_against_its_pieces(activation):
    x, labels = _skewed_data(n=400, seed=13)
    stack = _random_stack(jax.random.key(5), [4, 5, 5, 3], activation, alpha=0.4)
    res = co.analyse_correlations(stack, x, labels, 3, jax.random.key(1), repeats=2)
    assert isinstance(res, co.CorrelationAnalysis)
    assert res.layers == ("input", "hidden_1", "hidden_2", "logits")
    chex.assert_shape(res.surrogate_accuracy, (4,))
    chex.assert_type([res.accuracy, res.surrogate_accuracy], np.float64)
    h = _numpy_forward(stack, x)
    assert float(res.accuracy) == np.mean(h[-1].argmax(-1) == labels)
    for l, feature in enumerate(h):
        means, covs = _sample_moments(feature, labels, 3)
        np.testing.assert_allclose(res.measured.features[l].mean, means, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.measured.features[l].cov, covs, rtol=1e-9, atol=1e-12)
    if activation == "tanh":  # no closed form: surrogates and measurements only
        assert not res.has_closure and res.closure_cov_error is None
        assert res.exact_cov_error is None
        return
    with jax.enable_x64(True):
        s64 = stack.astype(jnp.float64)
        real, sur = co.gaussian_surrogate_accuracy(s64, x, labels, 3, jax.random.key(1), 2)
        inp = res.measured.features[0]
        closure = co.propagate_moments(s64, inp.mean, inp.cov)
        errors = co.moment_prediction_errors(closure, res.measured)
        local = co.local_closure_errors(s64, res.measured)
        norms = [b.norms() for b in co.stack_breakdowns(s64, res.measured)]
    np.testing.assert_allclose(res.surrogate_accuracy, sur, atol=1e-12)  # same key, same draws
    np.testing.assert_allclose(res.closure_mean_error, errors[0], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.closure_cov_error, errors[1], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.local_cov_error, local[1], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.cov_part_norms, np.stack([c for _, c in norms]), rtol=1e-9)
    chex.assert_shape(res.mean_part_norms, (2, 3, 3))
    # the closure's first-layer mean is exact (it needs only the input mean and covariance)
    assert float(res.closure_mean_error[1].max()) < 1e-12
    assert float(res.exact_cov_error.max()) < 1e-10  # the exact map, a rounding check
    mean_share, cov_share = res.part_shares()
    chex.assert_shape([mean_share, cov_share], [(2, 3), (2, 4)])
    np.testing.assert_allclose(cov_share.sum(-1), 1.0)
    expected = (res.cov_part_norms / res.cov_part_norms.sum(-1, keepdims=True)).mean(1)
    np.testing.assert_allclose(cov_share, expected)


def test_stack_mean_cov_separation_against_numpy(x64):
    x, labels = _skewed_data(n=300, seed=14)
    labels = labels % 2
    stack = _random_stack(jax.random.key(6), [4, 3, 2], "relu")
    measured = co.stack_cumulants(stack, x, labels, 2)
    sep = co.stack_mean_cov_separation(measured)
    chex.assert_shape(sep, (3, 2))
    for l, h in enumerate(_numpy_forward(stack, x)):
        means, covs = _sample_moments(h, labels, 2)
        avg = covs.mean(0)
        np.testing.assert_allclose(sep[l, 0], np.sum((means[1] - means[0]) ** 2) / np.trace(avg),
                                   rtol=1e-9)
        np.testing.assert_allclose(sep[l, 1], np.linalg.norm(covs[1] - covs[0]) /
                                   np.linalg.norm(avg), rtol=1e-9)
