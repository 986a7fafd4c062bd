"""Populations: a vmapped grid of members equals training each member alone, tracking through
any object with the tracker interface, resuming after an interruption.

The tests share one trainer, member count and tracker shapes, so the population's compiled
programs are reused.
"""

from __future__ import annotations

import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxinter.analysis import InteractionTracker
from jaxinter.data import add_label_noise
from jaxinter.errors import JaxinterInputError, JaxinterTrainingError
from jaxinter.masking import Players
from jaxinter.models import MLP
from jaxinter.training import (
    Trainer,
    init_population,
    population_run,
    train,
    train_population,
    train_seeds,
)


def _toy_problem(n_features=5, samples=80, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, n_features)).astype(np.float32)
    y = ((x[:, 0] * x[:, 1] > 0) ^ (x[:, 2] > 0.5)).astype(np.int32)
    return x, y


@pytest.fixture(scope="module")
def pop_trainer():
    return Trainer(MLP(input_shape=(5,), num_classes=2, depth=2, width=8), optax.adam(0.02))


def test_population_equals_members_one_by_one(pop_trainer):
    trainer = pop_trainer
    x, y = _toy_problem()
    x_tr, y_tr, x_te, y_te = x[:60], y[:60], x[60:], y[60:]
    tracker = InteractionTracker(trainer.logits, x_te[:2], y_te[:2], Players.features((5,)),
                                 np.zeros(5, np.float32), train=(x_tr, y_tr), test=(x_te, y_te),
                                 every=3)
    kw = dict(steps=6, batch_size=16, tracker=tracker, progress_desc=None)
    pop = init_population(trainer, y_tr, seeds=[3], noise_rates=[0.0, 0.5], num_classes=2)
    np.testing.assert_array_equal(pop.noise, [0, 0.5])
    assert (np.asarray(pop.labels[1]) != y_tr).sum() == 30  # half of the labels replaced
    pop, hist = train_population(pop, trainer, x_tr, **kw)
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
    x, y = _toy_problem()

    def make():
        return InteractionTracker(trainer.logits, x[60:62], y[60:62], Players.features((5,)),
                                  np.zeros(5, np.float32), train=(x[:60], y[:60]),
                                  test=(x[60:], y[60:]), every=3, folder=tmp_path / "pop")

    pop0 = init_population(trainer, y[:60], seeds=[0, 1], noise_rates=[0.1], num_classes=2)
    kw = dict(batch_size=16, progress_desc=None)
    full, h_full = train_population(pop0, trainer, x[:60], steps=9, tracker=make(), **kw)
    # an interrupted run: 6 steps into a fresh folder, then a rerun asking for 9
    shutil.rmtree(tmp_path / "pop")
    train_population(pop0, trainer, x[:60], steps=6, tracker=make(), **kw)
    resumed, h = train_population(pop0, trainer, x[:60], steps=9, tracker=make(), **kw)
    np.testing.assert_array_equal(h.steps, [0, 3, 6, 9])
    chex.assert_trees_all_close(resumed.state.params, full.state.params, rtol=1e-6)
    np.testing.assert_allclose(h.record.test_loss, h_full.record.test_loss, rtol=1e-6)


class _LossTracker:
    """A tracker written from the interface alone (no jaxinter base class): eval-mode loss of
    every member on its own training labels."""

    every, folder = 2, None

    def __init__(self, trainer, x):
        self.trainer, self.x, self.kept = trainer, x, {}

    def record_members(self, states, labels):
        return jax.vmap(lambda s, y: self.trainer.evaluate(s, self.x, y)["loss"])(states, labels)

    def save(self, step, record):
        self.kept[step] = np.asarray(record)

    def steps(self):
        return sorted(self.kept)

    def history(self):
        return np.array(self.steps()), np.stack([self.kept[s] for s in self.steps()])


def test_any_object_with_the_tracker_interface(pop_trainer):
    trainer = pop_trainer
    x, y = _toy_problem()
    pop0 = init_population(trainer, y[:60], seeds=[0, 1], noise_rates=[0.0, 0.3], num_classes=2)
    tracker = _LossTracker(trainer, jnp.asarray(x[:60]))
    pop, (steps, losses) = train_population(pop0, trainer, x[:60], steps=5, batch_size=16,
                                            tracker=tracker, progress_desc=None)
    np.testing.assert_array_equal(steps, [0, 2, 4, 5])  # step 0, every 2, and the end
    chex.assert_shape(losses, (4, 4))
    for m in range(4):  # the last record is the trained member's loss on its own labels
        state = jax.tree.map(lambda a, m=m: a[m], pop.state)
        want = trainer.evaluate(state, jnp.asarray(x[:60]), pop.labels[m])["loss"]
        np.testing.assert_allclose(losses[-1, m], want, rtol=1e-5)
    untracked, none = train_population(pop0, trainer, x[:60], steps=5, batch_size=16,
                                       progress_desc=None)
    assert none is None
    chex.assert_trees_all_close(untracked.state.params, pop.state.params, rtol=1e-5, atol=1e-6)
    with pytest.raises(JaxinterInputError, match="steps"):
        train_population(pop0, trainer, x[:60], steps=0)
    with pytest.raises(JaxinterInputError, match="^seeds: "):
        init_population(trainer, y[:60], seeds=[], noise_rates=[0.0], num_classes=2)


def test_population_stops_at_the_first_non_finite_loss():
    """A diverging population names the first bad step and member (replayed independently)."""
    x, y = _toy_problem()
    trainer = Trainer(MLP(input_shape=(5,), num_classes=2, depth=2, width=8), optax.sgd(1e30))
    pop = init_population(trainer, y, seeds=[0], noise_rates=[0.0, 0.5], num_classes=2)
    _, metrics = population_run(trainer, pop.state, jnp.asarray(x), pop.labels, 6, 16)
    bad = ~np.isfinite(np.asarray(metrics["loss"]))  # (members, steps)
    step = int(np.argmax(bad.any(0)))
    member = int(np.argmax(bad[:, step]))
    with pytest.raises(JaxinterTrainingError,
                       match=rf"at step {step + 1} \(member {member}\);"):
        train_population(pop, trainer, x, steps=6, batch_size=16, progress_desc=None)


def test_train_seeds_equals_train_for_every_seed():
    """One population of seeds 5 and 3 against ``train`` with each seed alone: the same steps,
    equal weights to float32 rounding (rtol 1e-5, atol 1e-6)."""
    x, y = _toy_problem()
    model = MLP(input_shape=(5,), num_classes=2, depth=2, width=8)
    trained = train_seeds(model, (x, y), [5, 3], epochs=3, batch_size=16, progress=False)
    assert len(trained) == 2
    for variables, seed in zip(trained, [5, 3], strict=True):
        alone = train(model, (x, y), epochs=3, batch_size=16, seed=seed, progress=False)
        chex.assert_trees_all_close(variables, alone.variables, rtol=1e-5, atol=1e-6)
    first = [jax.tree.leaves(t["params"])[0] for t in trained]
    assert not np.allclose(*first)  # the seeds differ


@pytest.mark.parametrize(("seeds", "message"), [
    ([], "seeds: expected a non-empty list"), ([1, 1], "seeds: expected distinct values"),
    ([0, -1], r"seeds\[1\]: expected an integer"), ("01", "seeds: expected a non-empty list"),
])
def test_train_seeds_rejects_bad_seeds(seeds, message):
    x, y = _toy_problem()
    model = MLP(input_shape=(5,), num_classes=2, depth=2, width=8)
    with pytest.raises(JaxinterInputError, match="^" + message):
        train_seeds(model, (x, y), seeds, epochs=1, batch_size=16)
