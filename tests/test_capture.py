"""capture(): equals a manual forward pass, Linen == NNX, jit/vmap, layer selection, errors."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxinter.capture import CapturedFn, capture, feature_sizes, layer_names
from jaxinter.errors import JaxinterInputError
from jaxinter.models import (
    MLP,
    VGG,
    NnxMLP,
    NnxResNet,
    NnxVGG,
    ResNet,
    ViT,
    init_variables,
    linen_to_nnx,
)

SHAPE = (8, 8, 1)


def _x(n=5, seed=1, shape=SHAPE):
    return jax.random.normal(jax.random.key(seed), (n, *shape))


def _random_stats(variables, seed=3):
    """Give batch-norm running statistics non-trivial values (so eval mode is visible)."""
    if "batch_stats" not in variables:
        return variables
    leaves, treedef = jax.tree.flatten(variables["batch_stats"])
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    new = [0.5 + jax.random.uniform(k, v.shape) for k, v in zip(keys, leaves, strict=True)]
    return {**variables, "batch_stats": jax.tree.unflatten(treedef, new)}


def _manual_mlp(variables, x, batchnorm, alpha=0.5, act="relu"):
    """Independent numpy forward pass of jaxinter.models.MLP in eval mode."""
    p = jax.tree.map(np.asarray, variables["params"])
    s = jax.tree.map(np.asarray, variables.get("batch_stats", {}))
    h = np.asarray(x, np.float64).reshape(len(x), -1)
    feats = {}
    depth = len([k for k in p if k.startswith("dense")])
    for i in range(1, depth):
        z = h @ p[f"dense{i}"]["kernel"] + p[f"dense{i}"]["bias"]
        if batchnorm:
            bn, st = p[f"bn{i}"], s[f"bn{i}"]
            z = (z - st["mean"]) / np.sqrt(st["var"] + 1e-5) * bn["scale"] + bn["bias"]
        feats[f"pre_{i}"] = z
        h = {"relu": np.maximum(z, 0), "quadratic": z + alpha * z * z}[act]
        feats[f"hidden_{i}"] = h
    return h @ p[f"dense{depth}"]["kernel"] + p[f"dense{depth}"]["bias"], feats


@pytest.mark.parametrize("batchnorm,act", [(True, "relu"), (False, "quadratic")])
def test_capture_equals_manual_forward(batchnorm, act):
    model = MLP(SHAPE, depth=4, width=16, activation=act, batchnorm=batchnorm)
    variables = _random_stats(init_variables(model, jax.random.key(0)))
    x = _x()
    logits, feats = capture(model, variables)(x)
    ref_logits, ref_feats = _manual_mlp(variables, x, batchnorm, act=act)
    assert list(feats) == ["pre_1", "hidden_1", "pre_2", "hidden_2", "pre_3", "hidden_3"]
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-4, atol=1e-5)
    for name, ref in ref_feats.items():
        chex.assert_shape(feats[name], (5, 16))
        np.testing.assert_allclose(feats[name], ref, rtol=1e-4, atol=1e-5)
    # the captured logits are the model's own output
    np.testing.assert_allclose(logits, model.apply(variables, x), rtol=1e-6, atol=1e-6)


def _pairs():
    mlp = dict(depth=3, width=12, batchnorm=True)
    vgg = dict(features=(4, "M", 6, "M"), dense=(10,), batchnorm=True)
    res = dict(stage_sizes=(1, 1), widths=(4, 6))
    return [
        ("mlp", MLP(SHAPE, **mlp), lambda r: NnxMLP(SHAPE, **mlp, rngs=r)),
        ("vgg", VGG(SHAPE, **vgg), lambda r: NnxVGG(SHAPE, **vgg, rngs=r)),
        ("resnet", ResNet(SHAPE, **res), lambda r: NnxResNet(SHAPE, **res, rngs=r)),
    ]


@pytest.mark.parametrize("name,linen_model,make_nnx", _pairs(), ids=["mlp", "vgg", "resnet"])
def test_linen_and_nnx_captures_agree(name, linen_model, make_nnx):
    variables = _random_stats(init_variables(linen_model, jax.random.key(0)))
    nnx_model = linen_to_nnx(variables, make_nnx(nnx.Rngs(7)))
    x = _x()
    la, fa = capture(linen_model, variables)(x)
    lb, fb = capture(nnx_model)(x)
    assert list(fa) == list(fb)
    if name == "mlp":  # same ops in the same order: bit-identical
        chex.assert_trees_all_equal((la, dict(fa)), (lb, dict(fb)))
    chex.assert_trees_all_close((la, dict(fa)), (lb, dict(fb)), rtol=1e-5, atol=1e-5)
    if name == "resnet":
        assert list(fa) == ["stem", "block_1", "block_2", "pool"]
        sizes = feature_sizes(capture(nnx_model))
        assert sizes == {"stem": 256, "block_1": 256, "block_2": 96, "pool": 6}  # stride 2
        # every submodule output too (Linen capture_intermediates / NNX method_outputs)
        _, fa = capture(linen_model, variables, all_modules=True)(x)
        _, fb = capture(nnx_model, all_modules=True)(x)
        assert list(fa) == list(fb) and "res1/conv2" in fa and "block_1" in fa
        chex.assert_trees_all_close(dict(fa), dict(fb), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("form", ["linen", "nnx"])
def test_capture_under_jit_and_vmap(form):
    if form == "linen":
        model = MLP(SHAPE, depth=3, width=8, batchnorm=True)
        f = capture(model, _random_stats(init_variables(model, jax.random.key(0))))
    else:
        f = capture(NnxMLP(SHAPE, depth=3, width=8, batchnorm=True, rngs=nnx.Rngs(0)))
    x = _x(12).reshape(3, 4, *SHAPE)
    eager = [f(xi) for xi in x]
    jit_out = jax.jit(f)(x[0])
    chex.assert_trees_all_close(jit_out, eager[0], rtol=1e-6, atol=1e-6)
    assert list(jit_out[1]) == list(eager[0][1])  # network order survives jit
    logits, feats = jax.vmap(f)(x)
    chex.assert_shape(logits, (3, 4, 10))
    for i in range(3):
        chex.assert_trees_all_close(
            (logits[i], {k: v[i] for k, v in feats.items()}),
            (eager[i][0], dict(eager[i][1])),
            rtol=1e-5,
            atol=1e-6,
        )
    # a CapturedFn is a pytree: it can be an argument of a jitted function
    out = jax.jit(lambda g, xx: g(xx)[0])(f, x[1])
    np.testing.assert_allclose(out, eager[1][0], rtol=1e-6, atol=1e-6)


def test_vmap_over_a_population_of_models():
    model = MLP(SHAPE, depth=3, width=8)
    keys = jax.random.split(jax.random.key(0), 4)
    stacked = jax.vmap(lambda k: init_variables(model, k))(keys)
    f = capture(model, init_variables(model, keys[0]), layers=["hidden_2"])
    x = _x(3)
    logits, feats = jax.vmap(f.apply, in_axes=(0, None))(stacked, x)
    chex.assert_shape(feats["hidden_2"], (4, 3, 8))
    for i, k in enumerate(keys):
        np.testing.assert_allclose(
            logits[i], model.apply(init_variables(model, k), x), rtol=1e-5, atol=1e-6
        )


def test_layer_selection_by_list_and_regex():
    model = MLP(SHAPE, depth=4, width=8)
    variables = init_variables(model, jax.random.key(0))
    x = _x()
    full = capture(model, variables)(x)[1]
    assert layer_names(model, variables) == list(full)
    # a list returns network order whatever the order asked for
    f = capture(model, variables, layers=["hidden_3", "pre_1"])
    assert f.names == ("pre_1", "hidden_3")
    _, feats = f(x)
    np.testing.assert_array_equal(feats["hidden_3"], full["hidden_3"])
    assert capture(model, variables, layers=r"hidden_\d+").names == (
        "hidden_1",
        "hidden_2",
        "hidden_3",
    )
    assert capture(model, variables, layers="pre_2").names == ("pre_2",)


def test_vit_tokens_capture_from_embeddings():
    model = ViT(SHAPE, patch_size=2, dim=16, depth=2, heads=2, mlp_dim=32)
    variables = init_variables(model, jax.random.key(0))
    x = _x()
    logits, feats = capture(model, variables)(x)
    assert list(feats) == ["embed", "block_1", "block_2", "pool"]
    chex.assert_shape(feats["embed"], (5, 16, 16))
    g = capture(model, variables, method="from_embeddings", input_shape=model.token_shape)
    logits2, feats2 = g(feats["embed"])
    np.testing.assert_allclose(logits2, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats2["block_2"], feats["block_2"], rtol=1e-5, atol=1e-5)


def test_nnx_capture_leaves_model_unchanged():
    model = NnxMLP(SHAPE, depth=3, width=8, batchnorm=True, rngs=nnx.Rngs(0))
    before = nnx.state(model)
    f = capture(model)
    f(_x())
    model(_x())  # a plain call must not store intermediates on the module
    assert jax.tree.structure(nnx.state(model)) == jax.tree.structure(before)
    assert model.bn1.use_running_average is False  # capture used an eval view, not the model


def test_bad_inputs():
    model = MLP(SHAPE, depth=3, width=8)
    variables = init_variables(model, jax.random.key(0))
    with pytest.raises(JaxinterInputError, match="unknown layer"):
        capture(model, variables, layers=["hidden_9"])
    with pytest.raises(JaxinterInputError, match="matches no layer"):
        capture(model, variables, layers="conv_.*")
    f = capture(model, variables)
    with pytest.raises(JaxinterInputError, match="x: expected shape"):
        f(jnp.zeros((2, 8, 8)))
    with pytest.raises(JaxinterInputError, match="x: expected shape"):
        jax.jit(f)(jnp.zeros((2, 64)))
    with pytest.raises(JaxinterInputError, match="variables"):
        capture(model)
    with pytest.raises(JaxinterInputError, match="variables"):
        capture(NnxMLP(SHAPE, rngs=nnx.Rngs(0)), variables)
    with pytest.raises(JaxinterInputError, match="model"):
        capture(lambda x: x, variables)
    with pytest.raises(JaxinterInputError, match="input_shape"):
        capture(model, variables, input_shape=(5, 5, 1))
    assert isinstance(f, CapturedFn)
