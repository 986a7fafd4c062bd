import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from jaxinter.errors import JaxinterInputError
from jaxinter.masking import LinearProbe, ProbeSet, flatten_features, pool_factor, train_probes


def _blobs(n=600, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, d)) * 3
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y.astype(np.int32)


def _features_fn(x):
    # three "layers": two of width 8 (stacked under vmap), one spatial map (pooled)
    w1 = jnp.asarray(np.random.default_rng(1).normal(size=(x.shape[1], 8)), x.dtype)
    h1 = jnp.tanh(x @ w1)
    h2 = 100.0 * jax.nn.relu(x @ w1[:, ::-1])  # large scale: standardization must cope
    spatial = jnp.broadcast_to(h1[:, None, None, :4], (x.shape[0], 5, 5, 4))
    return {"h1": h1, "h2": h2, "map": spatial}


def test_pool_factor_and_flatten_match_numpy():
    assert pool_factor((7, 12), 4) == 1
    assert pool_factor((7, 28, 28, 32), 8192) == 2  # 14*14*32 = 6272
    assert pool_factor((7, 28, 28, 32), 100_000) == 1
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 3)).astype(np.float32)
    out = np.asarray(flatten_features(jnp.asarray(x), 2))
    chex.assert_shape(out, (2, 3 * 2 * 3))
    padded = np.concatenate([x, x[:, -1:]], axis=1)  # edge replication of the odd row
    want = padded.reshape(2, 3, 2, 2, 2, 3).mean(axis=(2, 4)).reshape(2, -1)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    np.testing.assert_array_equal(flatten_features(jnp.asarray(x)), x.reshape(2, -1))


def test_probes_reach_logistic_regression_accuracy():
    x, y = _blobs()
    xt, yt = _blobs(seed=5)
    probes = train_probes(_features_fn, x[:400], y[:400], 3, key=jax.random.key(0),
                          x_test=xt, y_test=yt, steps=300, max_dim=32)
    assert probes.names == ["h1", "h2", "map"]
    assert probes.probes["map"].pool == 3  # 5x5x4 = 100 > 32 -> 2x2x4 = 16
    feats = jax.jit(_features_fn)(jnp.asarray(x[:400]))
    feats_t = jax.jit(_features_fn)(jnp.asarray(xt))
    for name, probe in probes.probes.items():
        ref = LogisticRegression(max_iter=2000).fit(
            np.asarray(flatten_features(feats[name], probe.pool)), y[:400])
        ref_acc = ref.score(np.asarray(flatten_features(feats_t[name], probe.pool)), yt)
        acc = float(probes.test_accuracy[name])
        assert acc > ref_acc - 0.03, (name, acc, ref_acc)
        # the reported accuracy is the accuracy of the readout on these features
        logits = probes.readouts()[name](feats_t[name])
        chex.assert_shape(logits, (len(xt), 3))
        np.testing.assert_allclose(acc, np.mean(np.argmax(logits, -1) == yt), atol=1e-6)


def test_stacked_training_equals_training_alone():
    x, y = _blobs(n=300)
    key = jax.random.key(3)
    together = train_probes(_features_fn, x, y, 3, key=key, steps=50)
    alone = train_probes(_features_fn, x, y, 3, key=key, steps=50, layers=["h2"])
    np.testing.assert_allclose(together.probes["h2"].w, alone.probes["h2"].w, atol=1e-5)
    np.testing.assert_allclose(together.probes["h2"].b, alone.probes["h2"].b, atol=1e-5)
    # same key, same result; and it is a pytree that jits
    again = train_probes(_features_fn, x, y, 3, key=key, steps=50, layers=["h2"])
    np.testing.assert_array_equal(alone.probes["h2"].w, again.probes["h2"].w)
    out = jax.jit(lambda p, f: p(f))(alone.probes["h2"], jnp.ones((2, 8)))
    chex.assert_shape(out, (2, 3))
    assert isinstance(alone.probes["h2"], LinearProbe)
    # round trip through flat arrays (what the CLI caches)
    back = ProbeSet.from_arrays(together.to_arrays())
    assert back.names == together.names and back.probes["map"].pool == together.probes["map"].pool
    for k in back.names:
        np.testing.assert_array_equal(back.probes[k].w, together.probes[k].w)
        np.testing.assert_array_equal(back.train_accuracy[k], together.train_accuracy[k])


@pytest.mark.parametrize(
    "kwargs",
    [dict(y=np.full(10, 3)), dict(y=np.zeros(9, int)), dict(layers=["nope"])],
)
def test_bad_input_raises(kwargs):
    x = np.zeros((10, 6), np.float32)
    y = kwargs.pop("y", np.zeros(10, int))
    with pytest.raises(JaxinterInputError):
        train_probes(_features_fn, x, y, 3, key=jax.random.key(0), steps=2, **kwargs)
