"""Users' own models: factories named module:function, Orbax and msgpack checkpoints."""

import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import linen, nnx, serialization

from jaxinter.errors import JaxinterInputError
from jaxinter.models import build_model, load_factory, load_model, restore_checkpoint

FACTORIES = textwrap.dedent('''
    from flax import linen, nnx


    class Net(linen.Module):
        width: int
        num_classes: int

        @linen.compact
        def __call__(self, x, train: bool = False):
            x = linen.Dense(self.width)(x.reshape(x.shape[0], -1))
            x = linen.BatchNorm(use_running_average=not train)(x)
            self.sow("intermediates", "hidden", x)
            return linen.Dense(self.num_classes)(linen.relu(x))


    class NnxNet(nnx.Module):
        def __init__(self, features, num_classes, rngs):
            self.dense = nnx.Linear(features, 8, rngs=rngs)
            self.head = nnx.Linear(8, num_classes, rngs=rngs)

        def __call__(self, x):
            return self.head(nnx.relu(self.dense(x.reshape(x.shape[0], -1))))


    def linen_net(num_classes):
        return Net(width=8, num_classes=num_classes)


    def wide_net(num_classes):
        return Net(width=16, num_classes=num_classes)


    def nnx_net(input_shape, num_classes, rngs):
        return NnxNet(input_shape[0] * input_shape[1], num_classes, rngs)


    def not_a_model():
        return 3
''')
SHAPE, CLASSES = (4, 3), 5


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "user_factories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _trained_linen(module):
    """Variables unlike any initialization (what a user's training would write)."""
    model = load_factory(f"{module / 'user_factories.py'}:linen_net")(CLASSES)
    variables = model.init(jax.random.key(7), jnp.zeros((1, *SHAPE)))
    return model, jax.tree.map(lambda a: a + jnp.arange(a.size).reshape(a.shape) / 10, variables)


@pytest.mark.parametrize("saved", ["variables", "params", "train_state"])
@pytest.mark.parametrize("fmt", ["msgpack", "orbax"])
def test_linen_checkpoints_restore_the_trained_weights(module, tmp_path, saved, fmt):
    model, trained = _trained_linen(module)
    tree = {"variables": trained, "params": trained["params"],
            "train_state": {"step": np.int32(9), **trained,
                            "opt_state": {"mu": trained["params"]}}}[saved]
    path = tmp_path / "ckpt"
    if fmt == "msgpack":
        path.write_bytes(serialization.to_bytes(tree))
    else:
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(path, tree)
        checkpointer.wait_until_finished()
    if saved == "params":  # batch statistics are not in the file: refused, and named
        with pytest.raises(JaxinterInputError, match=r"missing batch_stats/BatchNorm_0/mean"):
            load_model("user_factories:linen_net", path, input_shape=SHAPE, num_classes=CLASSES)
        return
    user = load_model("user_factories:linen_net", path, input_shape=SHAPE, num_classes=CLASSES)
    assert user.restored and user.input_shape == SHAPE and isinstance(user.model, linen.Module)
    chex.assert_trees_all_equal(user.variables, trained)
    x = jax.random.normal(jax.random.key(1), (6, *SHAPE))
    np.testing.assert_array_equal(user.model.apply(user.variables, x), model.apply(trained, x))


def test_params_alone_fit_a_model_without_batch_statistics(module, tmp_path):
    model = linen.Dense(CLASSES)
    variables = model.init(jax.random.key(3), jnp.zeros((1, 2)))
    (tmp_path / "p.msgpack").write_bytes(serialization.to_bytes(variables["params"]))
    restored = restore_checkpoint(tmp_path / "p.msgpack",
                                  model.init(jax.random.key(0), jnp.zeros((1, 2))))
    chex.assert_trees_all_equal(restored, variables)


@pytest.mark.parametrize("fmt", ["orbax_state", "msgpack_pure_dict"])
def test_nnx_checkpoints_restore_the_trained_weights(module, tmp_path, fmt):
    factory = load_factory("user_factories:nnx_net")
    trained = build_model(factory, SHAPE, CLASSES, seed=11)
    path = tmp_path / "ckpt"
    if fmt == "orbax_state":
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(path, nnx.state(trained))
        checkpointer.wait_until_finished()
    else:
        path.write_bytes(serialization.to_bytes(nnx.to_pure_dict(nnx.state(trained))))
    user = load_model(factory, path, input_shape=SHAPE, num_classes=CLASSES, seed=0)
    fresh = load_model(factory, None, input_shape=SHAPE, num_classes=CLASSES, seed=0)
    x = jax.random.normal(jax.random.key(1), (6, *SHAPE))
    np.testing.assert_array_equal(user.model(x), trained(x))
    assert not np.allclose(fresh.model(x), trained(x)) and not fresh.restored
    assert user.variables is None
    rebuilt = user.factory(nnx.Rngs(11))  # what a Trainer initializes from a key
    np.testing.assert_array_equal(rebuilt(x), trained(x))


def test_mismatched_checkpoints_are_refused_with_the_differences(module, tmp_path):
    wide = load_factory("user_factories:wide_net")(CLASSES)
    variables = wide.init(jax.random.key(0), jnp.zeros((1, *SHAPE)))
    (tmp_path / "wide.msgpack").write_bytes(serialization.to_bytes(variables))
    with pytest.raises(JaxinterInputError, match=r"wide.msgpack does not fit the model: shape "
                       r"batch_stats/BatchNorm_0/mean \(16,\) in the file, \(8,\) in the "
                       r"model, .* and 2 more$"):
        load_model("user_factories:linen_net", tmp_path / "wide.msgpack", input_shape=SHAPE,
                   num_classes=CLASSES)
    extra = {**variables, "params": {**variables["params"], "Extra": {"w": np.zeros(2)}}}
    (tmp_path / "extra.msgpack").write_bytes(serialization.to_bytes(extra))
    with pytest.raises(JaxinterInputError, match=r"unexpected params/Extra/w"):
        load_model("user_factories:wide_net", tmp_path / "extra.msgpack", input_shape=SHAPE,
                   num_classes=CLASSES)
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01not msgpack")
    with pytest.raises(JaxinterInputError, match=r"junk.bin is neither an Orbax checkpoint"):
        load_model("user_factories:wide_net", tmp_path / "junk.bin", input_shape=SHAPE,
                   num_classes=CLASSES)
    with pytest.raises(JaxinterInputError, match=r"checkpoint: no file or directory .*absent"):
        load_model("user_factories:wide_net", tmp_path / "absent", input_shape=SHAPE,
                   num_classes=CLASSES)


@pytest.mark.parametrize("spec, message", [
    ("user_factories", r"expected 'module:function' or 'file.py:function'"),
    ("no_such_module_xyz:make", r"cannot import module 'no_such_module_xyz'"),
    ("user_factories:missing", r"user_factories has no function 'missing'"),
    ("absent_file.py:make", r"no file absent_file.py"),
    ("user_factories:not_a_model", r"expected a flax.linen.Module or flax.nnx.Module from "
                                   r"not_a_model, got int"),
])
def test_factory_errors_name_the_module_and_function(module, spec, message):
    with pytest.raises(JaxinterInputError, match=message):
        load_model(spec, input_shape=SHAPE, num_classes=CLASSES)
