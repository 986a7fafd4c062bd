"""Training loop: accuracy targets, determinism, vmap over seeds, callbacks, checkpoints, NNX."""

from __future__ import annotations

from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxinter.capture import capture
from jaxinter.data import load_dataset
from jaxinter.errors import JaxinterInputError
from jaxinter.models import MLP, NnxMLP, linen_to_nnx, nnx_to_linen
from jaxinter.train import Trainer, load_checkpoint, population_run, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", flat=True)


def test_digits_mlp_reaches_95_percent(digits):
    seen = []
    result = train(
        MLP(digits.input_shape, depth=3, width=128),
        digits,
        epochs=10,
        batch_size=32,
        callback=lambda step, v, m: seen.append((step, m["test_accuracy"])),
        every=50,
        progress=False,
    )
    # independent check of the reported accuracy from the captured logits
    logits, _ = capture(result.trainer.model, result.variables)(jnp.asarray(digits.x_test))
    acc = float(np.mean(np.argmax(logits, -1) == digits.y_test))
    assert acc > 0.95
    assert result.history[-1]["test_accuracy"] == pytest.approx(acc, abs=1e-6)
    steps = 10 * (len(digits.x_train) // 32)
    assert [s for s, _ in seen] == [*range(50, steps, 50), steps]
    assert seen[0][1] < acc  # it learned after the first callback


def _runner(model, steps=30, batch=32):
    # SGD, not Adam: Adam rescales the rounding-level gradient of a bias before batch norm
    # into full-size steps, so vmapped and single runs would differ visibly
    trainer = Trainer(model, optax.sgd(0.05, momentum=0.9))
    return trainer, jax.jit(partial(trainer.run, num_steps=steps, batch_size=batch))


def test_deterministic_and_vmappable_over_seeds(digits):
    model = MLP(digits.input_shape, depth=2, width=16, batchnorm=True)
    x, y = jnp.asarray(digits.x_train), jnp.asarray(digits.y_train)
    keys = jax.random.split(jax.random.key(0), 2)
    trainer, run = _runner(model)
    single = [run(trainer.init(k), x, y) for k in keys]
    s0b, _ = run(trainer.init(keys[0]), x, y)
    chex.assert_trees_all_equal(single[0][0], s0b)  # same key: bit-identical
    chex.assert_shape(single[0][1]["loss"], (30,))
    states, metrics = jax.jit(partial(population_run, trainer, num_steps=30, batch_size=32))(
        jax.vmap(trainer.init)(keys), x, y
    )
    chex.assert_shape(metrics["loss"], (2, 30))
    for i, (si, mi) in enumerate(single):
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, i=i: a[i], states.params), si.params, rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(metrics["loss"][i], mi["loss"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(metrics["loss"][0], metrics["loss"][1])  # seeds differ
    assert int(states.step[0]) == 30
    # batch statistics were updated in training mode
    assert not np.allclose(single[0][0].model_state["batch_stats"]["bn1"]["mean"], 0)


def test_epoch_batches_are_a_permutation():
    """One epoch visits every sample: with one-hot inputs and zero initial weights, row i of
    the kernel of a linear model moves under SGD only if sample i was in some batch."""
    n, bs = 20, 5
    x = jnp.eye(n, dtype=jnp.float32)  # one-hot sample ids
    y = jnp.zeros(n, jnp.int32)
    model = MLP((n,), num_classes=2, depth=1)
    trainer = Trainer(model, optax.sgd(1.0))
    state = trainer.init(jax.random.key(0))
    state = state.replace(params=jax.tree.map(jnp.zeros_like, state.params))
    state, _ = jax.jit(partial(trainer.run, num_steps=n // bs, batch_size=bs))(state, x, y)
    moved = np.abs(np.asarray(state.params["dense1"]["kernel"])).sum(1) > 0
    assert moved.all()


def test_checkpoint_resume_matches_uninterrupted(digits, tmp_path):
    model = MLP(digits.input_shape, depth=2, width=16)
    data = (digits.x_train[:256], digits.y_train[:256])
    full = train(model, data, epochs=4, batch_size=64, progress=False, seed=1)
    path = tmp_path / "ckpt.npz"
    train(model, data, epochs=2, batch_size=64, progress=False, seed=1, checkpoint=path)
    state, history = load_checkpoint(path, full.state)
    assert int(state.step) == 8 and len(history) == 2
    resumed = train(model, data, epochs=4, batch_size=64, progress=False, seed=1, checkpoint=path)
    chex.assert_trees_all_close(resumed.variables, full.variables, rtol=1e-6, atol=1e-6)
    assert [h["step"] for h in resumed.history] == [4, 8, 12, 16]
    with pytest.raises(JaxinterInputError, match="checkpoint"):
        load_checkpoint(tmp_path / "missing.npz", full.state)


def test_nnx_training_matches_linen(digits):
    """NNX and Linen forms of one MLP, same initial weights and data order: same training."""
    shape = digits.input_shape
    x, y = jnp.asarray(digits.x_train), jnp.asarray(digits.y_train)
    linen_model = MLP(shape, depth=3, width=16, batchnorm=True)
    key = jax.random.key(4)
    lt, lrun = _runner(linen_model, steps=20)
    ls, lm = lrun(lt.init(key), x, y)
    init = lt.variables(lt.init(key))
    nnx_model = linen_to_nnx(
        init, NnxMLP(shape, depth=3, width=16, batchnorm=True, rngs=nnx.Rngs(0))
    )
    nt, nrun = _runner(nnx_model, steps=20)
    ns, nm = nrun(nt.init(key), x, y)  # an NNX instance starts from its own weights
    np.testing.assert_allclose(nm["loss"], lm["loss"], rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(
        nnx_to_linen(nt.variables(ns)), lt.variables(ls), rtol=1e-3, atol=1e-4
    )
    # a factory rngs -> module is initialized from the key (vmappable over seeds)
    ft = Trainer(partial(NnxMLP, shape, depth=2, width=8), optax.adam(1e-3))
    a, b = jax.vmap(ft.init)(jax.random.split(key, 2)).params["dense1"]["kernel"]
    assert not np.allclose(a, b)


def test_train_errors(digits):
    model = MLP(digits.input_shape, depth=2, width=8)
    with pytest.raises(JaxinterInputError, match="batch_size"):
        train(model, digits, batch_size=10**6, progress=False)
    with pytest.raises(JaxinterInputError, match="every"):
        train(model, digits, every=0, progress=False)
    with pytest.raises(JaxinterInputError, match="data"):
        train(model, [1, 2, 3], progress=False)
    with pytest.raises(JaxinterInputError, match="model"):
        Trainer(3, optax.sgd(0.1))


@pytest.mark.slow
def test_mnist_8000_mlp_above_95_percent(mnist_dir):
    data = load_dataset("mnist", mnist_dir)
    result = train(
        MLP(data.input_shape, depth=3, width=256), data, epochs=10, batch_size=128, progress=False
    )
    assert result.history[-1]["test_accuracy"] > 0.95
