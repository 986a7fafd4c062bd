"""Orbax checkpoints of pytrees: a training state (typed PRNG key, optimizer state) and an
AND-OR result round-trip exactly, onto the default device and onto a mesh."""

from __future__ import annotations

import jax
import numpy as np
import optax

import jaxinter as ji
from jaxinter.distributed import global_mesh
from jaxinter.io import restore_sharded, save_sharded
from jaxinter.models import MLP
from jaxinter.training import Trainer


def test_training_state_and_result_round_trip(tmp_path):
    trainer = Trainer(MLP(input_shape=(4,), num_classes=3, depth=2, width=8), optax.adam(1e-3))
    state = trainer.init(jax.random.key(3))
    result = ji.and_or(np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32))
    tree = {"state": state, "result": result}
    path = save_sharded(tmp_path / "ckpt", tree)
    assert path.is_dir()
    like = jax.tree.map(lambda x: x, {"state": trainer.init(jax.random.key(0)),
                                      "result": result})
    for mesh in (None, global_mesh()):
        back = restore_sharded(path, like, mesh=mesh)
        assert jax.tree.structure(back) == jax.tree.structure(tree)
        for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
            if jax.dtypes.issubdtype(b.dtype, jax.dtypes.prng_key):
                a, b = jax.random.key_data(a), jax.random.key_data(b)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            assert a.dtype == b.dtype
    save_sharded(path, {"state": state, "result": result})  # replaces the checkpoint
