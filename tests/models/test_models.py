"""Reference models: shapes, layer names, activations, presets, weight transfer.

Shapes come from ``jax.eval_shape`` and weights from numpy, so no test compiles the random
initializers (about half a second of XLA CPU compile per parameter shape)."""

from __future__ import annotations

from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxinter.errors import JaxinterInputError
from jaxinter.masking import layer_names
from jaxinter.models import (
    MLP,
    QUADRATIC_ALPHA,
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
    with pytest.raises(JaxinterInputError, match="^name: expected one of"):
        activation("gelu")


def test_one_default_alpha_for_every_quadratic():
    """``alpha`` means z + alpha z**2 everywhere and defaults to QUADRATIC_ALPHA everywhere."""
    z = np.linspace(-2, 2, 9, dtype=np.float32)
    expected = z + QUADRATIC_ALPHA * z**2
    np.testing.assert_allclose(activation("quadratic")(z), expected, rtol=1e-6)
    assert MLP((4,)).alpha == QUADRATIC_ALPHA
    assert NnxMLP((4,), rngs=nnx.Rngs(0)).alpha == QUADRATIC_ALPHA
    np.testing.assert_array_equal(activation("relu", 3.0)(z), activation("relu")(z))  # ignored


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), "0.5", True, None])
def test_bad_alpha_is_rejected(alpha):
    with pytest.raises(JaxinterInputError, match=r"^alpha: expected a finite number"):
        activation("quadratic", alpha)


def _shapes(model):
    """Abstract variables of a Linen model (shapes only: nothing is compiled or initialized)."""
    return jax.eval_shape(init_variables, model, jax.random.key(0))


def _numpy_variables(model, seed=0):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: rng.normal(size=s.shape).astype(s.dtype), _shapes(model))


def test_mlp7_structure():
    shapes = _shapes(MLP((28, 28, 1), depth=7, width=1024))["params"]
    assert [shapes[f"dense{i}"]["kernel"].shape for i in range(1, 8)] == [
        (784, 1024),
        *[(1024, 1024)] * 5,
        (1024, 10),
    ]
    small = MLP((28, 28, 1), depth=7, width=4)
    names = layer_names(small, _shapes(small))  # abstract variables suffice for the names
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
    # the first block of stages 2 and 3 halves the resolution: 28 -> 14 -> 7
    _, state = jax.eval_shape(partial(res.apply, mutable=["intermediates"]), v, x)
    sown = {k: a[0].shape for k, a in state["intermediates"].items()}
    assert sown["block_3"] == (2, 28, 28, 16) and sown["block_4"] == (2, 14, 14, 32)
    assert sown["block_7"] == (2, 7, 7, 64) and sown["pool"] == (2, 64)


def test_batchnorm_train_mode_uses_batch_statistics():
    model = MLP((4,), depth=2, width=3, activation="linear", batchnorm=True, num_classes=2)
    variables = _numpy_variables(model)
    x = jax.random.normal(jax.random.key(1), (64, 4)) * 3 + 5
    apply = jax.jit(partial(model.apply, train=True, mutable=["batch_stats", "intermediates"]))
    _, updates = apply(variables, x)
    pre = np.asarray(updates["intermediates"]["pre_1"][0])
    # train mode: each unit is standardized over the batch, then scaled and shifted
    bn = variables["params"]["bn1"]
    z = (
        np.asarray(x) @ variables["params"]["dense1"]["kernel"]
        + variables["params"]["dense1"]["bias"]
    )
    ref = (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5) * bn["scale"] + bn["bias"]
    np.testing.assert_allclose(pre, ref, rtol=1e-4, atol=1e-4)
    old = variables["batch_stats"]["bn1"]
    np.testing.assert_allclose(  # running statistics move 10% of the way (momentum 0.9)
        updates["batch_stats"]["bn1"]["mean"], 0.9 * old["mean"] + 0.1 * z.mean(0), rtol=1e-4
    )
    np.testing.assert_allclose(  # flax keeps the biased batch variance
        updates["batch_stats"]["bn1"]["var"], 0.9 * old["var"] + 0.1 * z.var(0), rtol=1e-4
    )


def test_vit_token_shape_and_embed():
    model = ViT((8, 8, 1), patch_size=4, dim=8, depth=1, heads=2, mlp_dim=16)
    variables = _numpy_variables(model)
    x = jax.random.normal(jax.random.key(1), (3, 8, 8, 1))
    tokens = jax.jit(partial(model.apply, method="embed"))(variables, x)
    assert model.token_shape == (4, 8)
    chex.assert_shape(tokens, (3, 4, 8))
    # token 1 is the top-right 4x4 patch, flattened row-major, through the patch projection
    p = variables["params"]["patch_embed"]
    patch = np.asarray(x[:, :4, 4:, 0]).reshape(3, 16)
    np.testing.assert_allclose(tokens[:, 1], patch @ p["kernel"] + p["bias"], rtol=1e-5, atol=1e-5)


def test_weight_transfer_round_trip_and_errors():
    shape = (8, 8, 1)
    cfg = dict(features=(4, "M"), dense=(6,), batchnorm=True)
    variables = _numpy_variables(VGG(shape, **cfg))

    def abstract(make):  # NNX targets built without running their initializers
        return nnx.eval_shape(lambda: make(rngs=nnx.Rngs(0)))

    back = nnx_to_linen(linen_to_nnx(variables, abstract(partial(NnxVGG, shape, **cfg))))
    chex.assert_trees_all_equal(back, variables)
    with pytest.raises(JaxinterInputError, match="shape"):
        linen_to_nnx(variables, abstract(partial(NnxVGG, shape, **{**cfg, "features": (5, "M")})))
    with pytest.raises(JaxinterInputError, match="no Linen parameter"):
        linen_to_nnx(_numpy_variables(MLP(shape)), abstract(partial(NnxMLP, shape, batchnorm=True)))
    with pytest.raises(JaxinterInputError, match="features"):
        jax.eval_shape(
            VGG(shape, features=(4, "P")).init, jax.random.key(0), jnp.zeros((1, *shape))
        )
    with pytest.raises(JaxinterInputError, match="width"):
        NnxMLP(shape, width=0, rngs=nnx.Rngs(0))
