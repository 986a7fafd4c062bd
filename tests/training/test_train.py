"""Training loop: accuracy targets, determinism, vmap over seeds, callbacks, checkpoints, NNX.

Cost: almost all time is XLA compilation, so tests share one compiled batch-norm MLP trainer
(module fixture) and train on 256 digits for a few steps; only the accuracy target trains long.
"""

from __future__ import annotations

from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxinter.data import load_dataset
from jaxinter.errors import JaxinterInputError, JaxinterTrainingError
from jaxinter.masking import capture
from jaxinter.models import MLP, NnxMLP, linen_to_nnx, nnx_to_linen
from jaxinter.plots.training import plot_training
from jaxinter.training import Trainer, checkpoint_step, load_checkpoint, population_run, train

STEPS, BATCH = 12, 32  # 256 samples: 8 batches per epoch, so the runs cross an epoch boundary


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", flat=True)


@pytest.fixture(scope="module")
def small(digits):
    return jnp.asarray(digits.x_train[:256]), jnp.asarray(digits.y_train[:256])


@pytest.fixture(scope="module")
def bn_mlp(digits):
    """(model, trainer, jitted run) of a batch-norm MLP, compiled once for the module.

    SGD, not Adam: Adam rescales the rounding-level gradient of a bias before batch norm into
    full-size steps, so vmapped and single runs would differ visibly.
    """
    model = MLP(digits.input_shape, depth=3, width=16, batchnorm=True)
    trainer = Trainer(model, optax.sgd(0.05, momentum=0.9))
    return model, trainer, jax.jit(partial(trainer.run, num_steps=STEPS, batch_size=BATCH))


def test_digits_mlp_reaches_95_percent(digits):
    seen = []
    result = train(
        MLP(digits.input_shape, depth=3, width=128),
        digits,
        epochs=10,
        batch_size=32,
        callback=lambda step, v, m: seen.append((step, m["test_accuracy"])),
        every=60,
        progress=False,
    )
    # independent check of the reported accuracy from the captured logits
    logits, _ = capture(result.trainer.model, result.variables)(jnp.asarray(digits.x_test))
    acc = float(np.mean(np.argmax(logits, -1) == digits.y_test))
    assert acc > 0.95
    assert result.history[-1]["test_accuracy"] == pytest.approx(acc, abs=1e-6)
    assert [s for s, _ in seen] == list(range(60, 421, 60))  # 42 steps per epoch, 10 epochs
    assert seen[0][1] < acc  # it learned after the first callback


def test_deterministic_and_vmappable_over_seeds(bn_mlp, small):
    _, trainer, run = bn_mlp
    x, y = small
    keys = jax.random.split(jax.random.key(0), 2)
    single = [run(trainer.init(k), x, y) for k in keys]
    s0b, _ = run(trainer.init(keys[0]), x, y)
    chex.assert_trees_all_equal(single[0][0], s0b)  # same key: bit-identical
    chex.assert_shape(single[0][1]["loss"], (STEPS,))
    starts = jax.tree.map(lambda *a: jnp.stack(a), *[trainer.init(k) for k in keys])
    states, metrics = jax.jit(partial(population_run, trainer, num_steps=STEPS, batch_size=BATCH))(
        starts, x, y
    )
    chex.assert_shape(metrics["loss"], (2, STEPS))
    for i, (si, mi) in enumerate(single):
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, i=i: a[i], (states.params, states.model_state)),
            (si.params, si.model_state),
            rtol=1e-4,
            atol=1e-5,
        )
        np.testing.assert_allclose(metrics["loss"][i], mi["loss"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(metrics["loss"][0], metrics["loss"][1])  # seeds differ
    assert int(states.step[0]) == STEPS
    # the reported loss is the cross-entropy of the batch in training mode, recomputed here
    state0 = trainer.init(keys[0])
    perm = jax.random.permutation(jax.random.fold_in(state0.key, 0), len(x))[:BATCH]
    logits, _ = jax.jit(trainer.apply, static_argnums=2)(state0, x[perm], True)
    ref = -np.mean(jax.nn.log_softmax(logits)[np.arange(BATCH), np.asarray(y[perm])])
    np.testing.assert_allclose(single[0][1]["loss"][0], ref, rtol=1e-5)
    # batch statistics were updated in training mode
    assert not np.allclose(single[0][0].model_state["batch_stats"]["bn1"]["mean"], 0)


def test_epoch_batches_are_a_permutation():
    """One epoch visits every sample: with one-hot inputs and zero initial weights, row i of
    the kernel of a linear model moves under SGD only if sample i was in some batch."""
    n, bs = 20, 5
    x = jnp.eye(n, dtype=jnp.float32)  # one-hot sample ids
    y = jnp.zeros(n, jnp.int32)
    trainer = Trainer(MLP((n,), num_classes=2, depth=1), optax.sgd(1.0))
    state = trainer.init(jax.random.key(0))
    state = state.replace(params=jax.tree.map(jnp.zeros_like, state.params))
    state, _ = jax.jit(partial(trainer.run, num_steps=n // bs, batch_size=bs))(state, x, y)
    moved = np.abs(np.asarray(state.params["dense1"]["kernel"])).sum(1) > 0
    assert moved.all()


def test_checkpoint_resume_progress_and_errors(digits, tmp_path, capsys):
    model = MLP(digits.input_shape, depth=2, width=8, batchnorm=True)
    data = (digits.x_train[:256], digits.y_train[:256], digits.x_test[:64], digits.y_test[:64])
    kw = dict(batch_size=64, seed=1, every=3)  # 4 steps per epoch: segments end at 3, 6, ...
    full = train(model, data, epochs=4, progress=False, **kw)
    assert [h["step"] for h in full.history] == [3, 6, 9, 12, 15, 16]
    path = tmp_path / "ckpt"
    train(model, data, epochs=2, checkpoint=path, progress=False, **kw)
    state, history = load_checkpoint(path, full.state)
    assert int(state.step) == 8 and [h["step"] for h in history] == [3, 6, 8]
    assert sorted(p.name for p in path.iterdir()) == ["8"]  # older steps removed
    # a save interrupted after step 8 (Orbax's temporary folder, never renamed) is ignored
    (path / "11.orbax-checkpoint-tmp-1").mkdir()
    assert checkpoint_step(path) == 8
    capsys.readouterr()
    resumed = train(model, data, epochs=4, checkpoint=path, progress=True, **kw)
    # same weights and batch statistics as the uninterrupted run, same history
    chex.assert_trees_all_close(resumed.variables, full.variables, rtol=1e-5, atol=1e-6)
    assert [h["step"] for h in resumed.history] == [3, 6, 8, 9, 12, 15, 16]
    # progress off a terminal: a resume note, a start line at step 8 of 16, an end line with
    # the final metrics
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"[train] resumed from {path} at step 8"
    assert lines[1] == "[train] start: 8/16 steps done"
    assert lines[2].startswith("[train] done: 16/16 steps in ") and len(lines) == 3
    assert f"test_accuracy {resumed.history[-1]['test_accuracy']:.4g}" in lines[2]
    with pytest.raises(JaxinterInputError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing", full.state)
    with pytest.raises(JaxinterInputError, match="batch_size"):  # other settings: refused
        train(model, data, epochs=4, checkpoint=path, progress=False, **{**kw, "batch_size": 32})
    with pytest.raises(JaxinterInputError, match="shape"):  # another model: refused
        train(
            MLP(digits.input_shape, depth=2, width=4, batchnorm=True),
            data,
            epochs=4,
            checkpoint=path,
            progress=False,
            **kw,
        )


def test_nnx_training_matches_linen(bn_mlp, small, digits):
    """NNX and Linen forms of one MLP, same initial weights and data order: same training."""
    model, lt, lrun = bn_mlp
    x, y = small
    key = jax.random.key(4)
    ls, lm = lrun(lt.init(key), x, y)
    make = partial(NnxMLP, digits.input_shape, depth=3, width=16, batchnorm=True)
    nnx_model = linen_to_nnx(
        lt.variables(lt.init(key)), nnx.eval_shape(lambda: make(rngs=nnx.Rngs(0)))
    )
    nt = Trainer(nnx_model, optax.sgd(0.05, momentum=0.9))
    # an NNX instance starts from its own weights; the data order comes from the key
    ns, nm = jax.jit(partial(nt.run, num_steps=STEPS, batch_size=BATCH))(nt.init(key), x, y)
    np.testing.assert_allclose(nm["loss"], lm["loss"], rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(
        nnx_to_linen(nt.variables(ns)), lt.variables(ls), rtol=1e-3, atol=1e-4
    )
    # a factory rngs -> module is initialized from the key (vmappable over seeds)
    ft = Trainer(partial(NnxMLP, digits.input_shape, depth=2, width=8), optax.adam(1e-3))
    a, b = jax.vmap(ft.init)(jax.random.split(key, 2)).params["dense1"]["kernel"]
    assert not np.allclose(a, b)


def test_train_errors(digits):
    model = MLP(digits.input_shape, depth=2, width=8)
    x, y = digits.x_train, digits.y_train
    cases = [
        (dict(data=digits, batch_size=10**6), "batch_size"),
        (dict(data=digits, epochs=0), "epochs"),
        (dict(data=digits, every=0), "every"),
        (dict(data=[1, 2, 3]), "data"),
        (dict(data=(x.reshape(-1, 8, 8), y)), r"x_train has shape \(1347, 8, 8\).*\(64,\)"),
        (dict(data=(x, y[:-1])), r"y_train has shape \(1346,\)"),
        (dict(data=(x, y + 1)), r"y_train must hold integer classes 0\.\.9.*1\.\.10"),
        (dict(data=(x, y.astype(np.float32))), "y_train must hold integer classes"),
        (dict(data=(x, y, x[:, :10], y)), "x_test has shape"),
        (dict(data=(np.where(x == 0, np.nan, x), y)), "x_train: contains .* NaN"),
    ]
    for kwargs, match in cases:
        with pytest.raises(JaxinterInputError, match=match):
            train(model, kwargs.pop("data"), progress=False, **kwargs)
    with pytest.raises(JaxinterInputError, match="model"):
        Trainer(3, optax.sgd(0.1))
    trainer = Trainer(model, optax.sgd(0.1))
    state = jax.eval_shape(trainer.init, jax.random.key(0))
    with pytest.raises(JaxinterInputError, match="batch_size"):
        trainer.run(state, jnp.zeros((10, 64)), jnp.zeros(10, jnp.int32), 3, 32)
    with pytest.raises(JaxinterInputError, match="y: expected shape"):
        trainer.run(state, jnp.zeros((10, 64)), jnp.zeros(9, jnp.int32), 3, 5)


def test_training_plot(tmp_path):
    history = [
        {
            "step": 10 * e,
            "epoch": e,
            "loss": 2 / e,
            "accuracy": 1 - 0.5 / e,
            "test_loss": 2.2 / e,
            "test_accuracy": 1 - 0.6 / e,
        }
        for e in range(1, 6)
    ]
    path = plot_training(history, tmp_path / "training.png", title="test")
    assert path.exists() and path.stat().st_size > 10_000
    plot_training(
        [{k: h[k] for k in ("epoch", "loss", "accuracy")} for h in history],
        tmp_path / "train_only.png",
    )  # no test split: train curves only
    with pytest.raises(JaxinterInputError, match="history"):
        plot_training([], tmp_path / "empty.png")


def test_mnist_8000_mlp_above_95_percent(mnist_dir):
    """Issue 3: MNIST with 8,000 training images > 95% (about 7 s of CPU; skips without data)."""
    data = load_dataset("mnist", mnist_dir)
    result = train(
        MLP(data.input_shape, depth=3, width=256), data, epochs=10, batch_size=128, progress=False
    )
    assert result.history[-1]["test_accuracy"] > 0.95


def test_training_stops_at_the_first_non_finite_loss(small):
    """SGD with a huge learning rate diverges: train stops with JaxinterTrainingError naming the
    first step whose loss is not finite, found independently by replaying the steps."""
    x, y = small
    model = MLP((64,), depth=2, width=8)
    trainer = Trainer(model, optax.sgd(1e30))
    state = trainer.init(jax.random.key(0))
    _, metrics = jax.jit(partial(trainer.run, num_steps=6, batch_size=BATCH))(state, x, y)
    finite = np.isfinite(np.asarray(metrics["loss"]))
    assert finite[0] and not finite.all()
    first_bad = int(np.argmin(finite)) + 1  # steps count from 1
    with pytest.raises(JaxinterTrainingError, match=rf"^training: the loss is \S+ at step "
                                                    rf"{first_bad};"):
        train(model, (x, y), epochs=1, batch_size=BATCH, optimizer=optax.sgd(1e30), every=1,
              progress=False)
    assert issubclass(JaxinterTrainingError, FloatingPointError)
    assert not issubclass(JaxinterTrainingError, JaxinterInputError)
