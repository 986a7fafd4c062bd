"""Reference models: shapes, layer names, activations, presets, weight transfer."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxinter.capture import layer_names
from jaxinter.errors import JaxinterInputError
from jaxinter.models import (
    MLP,
    VGG,
    VGG11,
    NnxMLP,
    NnxVGG,
    ResNet,
    ViT,
    activation,
    init_variables,
    linen_to_nnx,
    nnx_to_linen,
)


def test_activations_match_their_formulas():
    z = np.linspace(-2, 2, 9, dtype=np.float32)
    from scipy.special import erf

    np.testing.assert_allclose(activation("relu")(z), np.maximum(z, 0))
    np.testing.assert_allclose(activation("erf")(z), erf(z), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(activation("tanh")(z), np.tanh(z), rtol=1e-6)
    np.testing.assert_allclose(activation("quadratic", 0.3)(z), z + 0.3 * z**2, rtol=1e-6)
    np.testing.assert_array_equal(activation("linear")(z), z)
    with pytest.raises(JaxinterInputError, match="activation"):
        activation("gelu")


def test_mlp7_structure():
    model = MLP((28, 28, 1), depth=7, width=1024)
    shapes = jax.eval_shape(lambda k: init_variables(model, k), jax.random.key(0))["params"]
    assert [shapes[f"dense{i}"]["kernel"].shape for i in range(1, 8)] == [
        (784, 1024),
        *[(1024, 1024)] * 5,
        (1024, 10),
    ]
    small = MLP((28, 28, 1), depth=7, width=4)
    names = layer_names(small, init_variables(small, jax.random.key(0)))
    assert names == [f"{k}_{i}" for i in range(1, 7) for k in ("pre", "hidden")]


def test_vgg11_and_resnet20_shapes():
    x = jax.ShapeDtypeStruct((2, 28, 28, 1), jnp.float32)
    vgg = VGG((28, 28, 1), features=VGG11, dense=(256,))
    v = jax.eval_shape(vgg.init, jax.random.key(0), x)
    assert len([k for k in v["params"] if k.startswith("conv")]) == 8
    assert jax.eval_shape(vgg.apply, v, x).shape == (2, 10)
    res = ResNet((28, 28, 1))  # ResNet-20: 3 stages x 3 blocks, 2 convs each, + stem + head
    v = jax.eval_shape(res.init, jax.random.key(0), x)
    convs = jax.tree_util.tree_flatten_with_path(v["params"])[0]
    n_convs = sum(1 for p, leaf in convs if leaf.ndim == 4 and "proj" not in str(p))
    assert n_convs == 19
    assert jax.eval_shape(res.apply, v, x).shape == (2, 10)


def test_batchnorm_train_mode_uses_batch_statistics():
    model = MLP((4,), depth=2, width=3, activation="linear", batchnorm=True, num_classes=2)
    variables = init_variables(model, jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (64, 4)) * 3 + 5
    _, updates = model.apply(variables, x, train=True, mutable=["batch_stats", "intermediates"])
    pre = updates["intermediates"]["pre_1"][0]
    # train mode: each pre-activation unit is standardized over the batch (scale 1, bias 0)
    np.testing.assert_allclose(pre.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(pre.std(0), 1, atol=1e-3)
    z = x @ variables["params"]["dense1"]["kernel"] + variables["params"]["dense1"]["bias"]
    np.testing.assert_allclose(  # running mean moved 10% of the way (momentum 0.9)
        updates["batch_stats"]["bn1"]["mean"], 0.1 * z.mean(0), rtol=1e-4, atol=1e-6
    )


def test_vit_token_shape_and_embed():
    model = ViT((8, 8, 1), patch_size=4, dim=8, depth=1, heads=2, mlp_dim=16)
    variables = init_variables(model, jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 8, 8, 1))
    tokens = model.apply(variables, x, method="embed")
    assert model.token_shape == (4, 8)
    chex.assert_shape(tokens, (3, 4, 8))
    # token 1 is the top-right 4x4 patch, flattened row-major, through the patch projection
    p = variables["params"]["patch_embed"]
    patch = np.asarray(x[:, :4, 4:, 0]).reshape(3, 16)
    np.testing.assert_allclose(tokens[:, 1], patch @ p["kernel"] + p["bias"], rtol=1e-5, atol=1e-5)


def test_weight_transfer_round_trip_and_errors():
    shape = (8, 8, 1)
    model = VGG(shape, features=(4, "M"), dense=(6,), batchnorm=True)
    variables = init_variables(model, jax.random.key(0))
    target = NnxVGG(shape, features=(4, "M"), dense=(6,), batchnorm=True, rngs=nnx.Rngs(1))
    back = nnx_to_linen(linen_to_nnx(variables, target))
    chex.assert_trees_all_equal(back, variables)
    with pytest.raises(JaxinterInputError, match="shape"):
        linen_to_nnx(
            variables,
            NnxVGG(shape, features=(5, "M"), dense=(6,), batchnorm=True, rngs=nnx.Rngs(1)),
        )
    with pytest.raises(JaxinterInputError, match="no Linen parameter"):
        linen_to_nnx(
            init_variables(MLP(shape), jax.random.key(0)),
            NnxMLP(shape, batchnorm=True, rngs=nnx.Rngs(0)),
        )
    with pytest.raises(JaxinterInputError, match="features"):
        VGG(shape, features=(4, "P")).init(jax.random.key(0), jnp.zeros((1, *shape)))
