"""The shared tracker design: interaction and separation trackers have one interface, serve as
``train`` callbacks, inside a hand-written jitted NNX + optax loop and over populations, and a
history written, interrupted and resumed equals an uninterrupted one."""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx, struct

import jaxinter as ji
from jaxinter.analysis import (
    History,
    InteractionRecord,
    InteractionTracker,
    SeparationRecord,
    SeparationTracker,
    Tracker,
    layer_separation,
)
from jaxinter.data import load_dataset
from jaxinter.errors import JaxinterInputError
from jaxinter.masking import Players, capture, masked_scores
from jaxinter.models import MLP, NnxMLP
from jaxinter.training import (
    Trainer,
    checkpoint_step,
    init_population,
    train,
    train_population,
)


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits", flat=True)
    return ds.x_train[:256], ds.y_train[:256], ds.x_test[:64], ds.y_test[:64]


def _players():
    return Players.from_groups([list(range(i, 64, 4)) for i in range(4)], (64,))


MODEL = MLP((64,), depth=3, width=16, batchnorm=True)


def _interactions(data, folder=None, every=2):
    x, y, x_te, y_te = data
    return InteractionTracker(MODEL.apply, x_te[:3], y_te[:3], _players(), np.zeros(64, np.float32),
                              train=(x, y), test=(x_te, y_te), every=every, folder=folder)


def _separation(data, folder=None, every=2):
    x, y, _, _ = data
    initial = Trainer(MODEL, optax.adam(1e-3)).variables(
        Trainer(MODEL, optax.adam(1e-3)).init(jax.random.key(0)))
    return SeparationTracker(capture(MODEL, initial, r"hidden_\d+"), x, y, every=every,
                             folder=folder)


MAKERS = {"interactions": _interactions, "separation": _separation}


@pytest.mark.parametrize("kind", MAKERS)
def test_both_trackers_have_the_interface(kind, digits):
    tracker = MAKERS[kind](digits, every=4)
    assert isinstance(tracker, Tracker) and tracker.every == 4 and tracker.folder is None
    assert tracker.record_type is {"interactions": InteractionRecord,
                                   "separation": SeparationRecord}[kind]
    assert tracker.traceable == (kind == "interactions")
    with pytest.raises(JaxinterInputError, match="nothing recorded"):
        tracker.history()
    result = train(MODEL, digits, epochs=2, batch_size=64, seed=0, callback=tracker,
                   progress=False)  # every defaults to the tracker's: steps 4, 8
    single = tracker.record(result.variables)
    assert isinstance(single, tracker.record_type)
    hist = tracker.history()
    assert isinstance(hist, History)
    np.testing.assert_array_equal(hist.steps, [4, 8])
    for f in dataclasses.fields(tracker.record_type):
        value, stacked = np.asarray(getattr(single, f.name)), getattr(hist.record, f.name)
        assert stacked.shape == (2, *value.shape), f.name
        np.testing.assert_allclose(stacked[-1], value, rtol=1e-5, err_msg=f.name)
    with pytest.raises(JaxinterInputError, match="every"):
        MAKERS[kind](digits, every=0)


@pytest.mark.parametrize("kind", MAKERS)
def test_interrupted_history_equals_uninterrupted(kind, digits, tmp_path):
    """train() resumes from its checkpoint and a new tracker on the same folder continues the
    history: the result equals one run straight through."""
    make = MAKERS[kind]
    kw = dict(batch_size=64, seed=0, progress=False)
    straight = make(digits, tmp_path / "straight")
    initial = Trainer(MODEL, optax.adam(1e-3)).variables(
        Trainer(MODEL, optax.adam(1e-3)).init(jax.random.key(0)))
    straight(0, initial)  # the initialization, by hand
    train(MODEL, digits, epochs=2, callback=straight, **kw)
    first = make(digits, tmp_path / "resumed")
    first(0, initial)
    train(MODEL, digits, epochs=1, callback=first, checkpoint=tmp_path / "ckpt", **kw)
    resumed = make(digits, tmp_path / "resumed")  # a new process: only the folders remain
    assert resumed.steps() == [0, 2, 4]
    train(MODEL, digits, epochs=2, callback=resumed, checkpoint=tmp_path / "ckpt", **kw)
    want, got = straight.history(), resumed.history()
    np.testing.assert_array_equal(got.steps, [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(got.steps, want.steps)
    chex.assert_trees_all_close(got.record, want.record, rtol=1e-5, atol=1e-6)
    # another configuration in the same folder starts afresh
    assert make(digits, tmp_path / "resumed", every=3).steps() == []


def test_both_trackers_in_a_handwritten_nnx_optax_loop(digits):
    x, y, x_te, y_te = digits
    model = NnxMLP((64,), depth=3, width=16, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    players, baseline = _players(), np.zeros(64, np.float32)
    interactions = InteractionTracker(lambda s, z: nnx.merge(graphdef, s)(z), x_te[:3], y_te[:3],
                                      players, baseline, train=(x, y), test=(x_te, y_te), every=3)
    separation = SeparationTracker(capture(model, None, r"hidden_\d+"), x, y, every=3)
    opt = optax.adam(1e-2)

    def loss(s):
        logits = nnx.merge(graphdef, s)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(s, opt_state, i):
        interactions.maybe_record(i, s)  # the state entering step i
        separation.maybe_record(i, s)
        updates, opt_state = opt.update(jax.grad(loss)(s), opt_state, s)
        return optax.apply_updates(s, updates), opt_state

    opt_state, kept = opt.init(state), {}
    for i in range(7):
        kept[i] = state
        state, opt_state = step(state, opt_state, i)
    h_int, h_sep = interactions.history(), separation.history()
    np.testing.assert_array_equal(h_int.steps, [0, 3, 6])
    np.testing.assert_array_equal(h_sep.steps, [0, 3, 6])
    for t, s in enumerate([0, 3, 6]):
        trained = nnx.merge(graphdef, kept[s])
        # interactions: masked scores of the model at that step -> Harsanyi transform
        v = masked_scores(trained, x_te[:3], players, baseline, y_te[:3])
        np.testing.assert_allclose(h_int.record.i_and[t, :, 0], ji.moebius(v), rtol=1e-4,
                                   atol=1e-5)
        # separation: a fresh capture of the model at that step
        fresh = layer_separation(capture(trained, None, r"hidden_\d+"), x, y)
        np.testing.assert_allclose(h_sep.record.fuzziness[t], fresh.law.fuzziness, rtol=1e-6)
        np.testing.assert_allclose(h_sep.record.rho[t], fresh.law.rho, rtol=1e-6)
        # the host tracker also takes the NNX module itself
        np.testing.assert_allclose(separation.record(trained).fuzziness, fresh.law.fuzziness,
                                   rtol=1e-6)
    assert not np.allclose(h_sep.record.fuzziness[0, 1:], h_sep.record.fuzziness[-1, 1:])


class _NormTracker(Tracker):
    """A user-defined traceable tracker: the squared norm of the first kernel."""

    @struct.dataclass
    class Record:
        norm: np.ndarray

    record_type = Record

    def record(self, state):
        return self.Record(jnp.sum(state.params["dense1"]["kernel"] ** 2))


def test_a_user_tracker_over_a_population(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    trainer = Trainer(MLP((5,), num_classes=2, depth=2, width=4), optax.sgd(0.1))
    pop0 = init_population(trainer, y, seeds=[0, 1], noise_rates=[0.0], num_classes=2)
    tracker = _NormTracker(2, tmp_path / "norms")
    pop, hist = train_population(pop0, trainer, x, steps=4, batch_size=8, tracker=tracker,
                                 progress_desc=None)
    np.testing.assert_array_equal(hist.steps, [0, 2, 4])
    chex.assert_shape(hist.record.norm, (3, 2))
    kernel = np.asarray(pop.state.params["dense1"]["kernel"])  # (members, 5, 4)
    np.testing.assert_allclose(hist.record.norm[-1], (kernel**2).sum((1, 2)), rtol=1e-6)
    assert checkpoint_step(tmp_path / "norms" / "population") == 4  # the last record
