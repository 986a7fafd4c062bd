"""capture(): equals a manual numpy forward pass, Linen == NNX, jit/vmap, layer selection, errors.

Cost: weights are drawn with numpy into the shapes of ``jax.eval_shape(init)`` and NNX models
are built abstractly (``nnx.eval_shape``) before receiving them, so no test compiles random
initializers (XLA's CPU compile of threefry costs about half a second per parameter shape).
The numpy weights also give batch norm non-trivial scale, bias and running statistics.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen, nnx

from jaxinter.errors import JaxinterInputError
from jaxinter.masking import CapturedFn, capture, feature_sizes, layer_names
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
TOL = dict(rtol=1e-4, atol=1e-5)


def random_variables(model, seed: int = 0, members: int | None = None) -> dict:
    """Numpy weights in the structure of ``init_variables(model)`` (optionally ``members`` stacked).

    Kernels N(0, 1/fan_in), batch-norm scales 1 + N(0, 0.2^2), running variances U(0.5, 1.5),
    everything else N(0, 0.3^2).
    """
    shapes = jax.eval_shape(init_variables, model, jax.random.key(0))
    rng = np.random.default_rng(seed)
    lead = () if members is None else (members,)

    def draw(path, leaf):
        name, shape = path[-1].key, lead + leaf.shape
        if name == "kernel":
            value = rng.normal(size=shape) / np.sqrt(np.prod(leaf.shape[:-1]))
        elif name == "var":
            value = rng.uniform(0.5, 1.5, shape)
        elif name == "scale":
            value = 1 + 0.2 * rng.normal(size=shape)
        else:
            value = 0.3 * rng.normal(size=shape)
        return value.astype(np.float32)

    return jax.tree_util.tree_map_with_path(draw, shapes)


def nnx_like(variables, make):
    """The NNX model ``make(rngs)`` holding ``variables``, built without initializing it."""
    return linen_to_nnx(variables, nnx.eval_shape(lambda: make(nnx.Rngs(0))))


def _x(n=5, seed=1, shape=SHAPE):
    return jax.random.normal(jax.random.key(seed), (n, *shape))


# ------------------------------------------------------------------ independent numpy forward


def _bn(z, p, s):
    return (z - s["mean"]) / np.sqrt(s["var"] + 1e-5) * p["scale"] + p["bias"]


def _manual_mlp(variables, x, batchnorm, alpha=0.5, act="relu"):
    """Numpy forward pass of jaxinter.models.MLP in eval mode: (logits, {layer: features})."""
    p = jax.tree.map(np.asarray, variables["params"])
    s = jax.tree.map(np.asarray, variables.get("batch_stats", {}))
    h = np.asarray(x, np.float64).reshape(len(x), -1)
    feats = {}
    depth = len([k for k in p if k.startswith("dense")])
    for i in range(1, depth):
        z = h @ p[f"dense{i}"]["kernel"] + p[f"dense{i}"]["bias"]
        if batchnorm:
            z = _bn(z, p[f"bn{i}"], s[f"bn{i}"])
        feats[f"pre_{i}"] = z
        h = {"relu": np.maximum(z, 0), "quadratic": z + alpha * z * z}[act]
        feats[f"hidden_{i}"] = h
    return h @ p[f"dense{depth}"]["kernel"] + p[f"dense{depth}"]["bias"], feats


def _conv3x3(x, kernel):
    """SAME 3x3 convolution, stride 1, by explicit shifts: (b, h, w, c) x (3, 3, c, o)."""
    x = np.asarray(x, np.float64)
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return sum(
        padded[:, i : i + h, j : j + w] @ np.asarray(kernel[i, j], np.float64)
        for i in range(3)
        for j in range(3)
    )


def _pool2x2(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


# ------------------------------------------------------------------------------- fixtures

MLP_CFG = dict(depth=3, width=12, batchnorm=True)
VGG_CFG = dict(features=(4, "M", 6, "M"), dense=(10,), batchnorm=True)
RES_CFG = dict(stage_sizes=(1, 1), widths=(4, 6))
PAIRS = {
    "mlp": (MLP(SHAPE, **MLP_CFG), lambda r: NnxMLP(SHAPE, **MLP_CFG, rngs=r)),
    "vgg": (VGG(SHAPE, **VGG_CFG), lambda r: NnxVGG(SHAPE, **VGG_CFG, rngs=r)),
    "resnet": (ResNet(SHAPE, **RES_CFG), lambda r: NnxResNet(SHAPE, **RES_CFG, rngs=r)),
}


@pytest.fixture(scope="module")
def nets():
    """name -> (linen model, its numpy variables, the NNX form holding the same weights)."""
    out = {}
    for name, (model, make) in PAIRS.items():
        variables = random_variables(model, seed=len(out))
        out[name] = (model, variables, nnx_like(variables, make))
    return out


# ---------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("batchnorm,act", [(True, "relu"), (False, "quadratic")])
def test_capture_equals_manual_forward(batchnorm, act):
    model = MLP(SHAPE, depth=4, width=16, activation=act, batchnorm=batchnorm)
    variables = random_variables(model)
    x = _x()
    logits, feats = capture(model, variables)(x)
    ref_logits, ref_feats = _manual_mlp(variables, x, batchnorm, act=act)
    assert list(feats) == ["pre_1", "hidden_1", "pre_2", "hidden_2", "pre_3", "hidden_3"]
    np.testing.assert_allclose(logits, ref_logits, **TOL)
    for name, ref in ref_feats.items():
        chex.assert_shape(feats[name], (5, 16))
        np.testing.assert_allclose(feats[name], ref, **TOL)


def test_cnn_captures_equal_manual_forward(nets):
    """VGG conv/fc layers and the ResNet stem, pooling and head, recomputed in numpy."""
    x = _x()
    model, v, _ = nets["vgg"]
    p, s = v["params"], v["batch_stats"]
    _, feats = capture(model, v)(x)
    conv1 = np.maximum(
        _bn(_conv3x3(x, p["conv1"]["kernel"]) + p["conv1"]["bias"], p["bn1"], s["bn1"]), 0
    )
    np.testing.assert_allclose(feats["conv_1"], conv1, **TOL)
    conv2 = np.maximum(
        _bn(
            _conv3x3(_pool2x2(conv1), p["conv2"]["kernel"]) + p["conv2"]["bias"], p["bn2"], s["bn2"]
        ),
        0,
    )
    np.testing.assert_allclose(feats["conv_2"], conv2, **TOL)
    fc1 = np.maximum(_pool2x2(conv2).reshape(5, -1) @ p["fc1"]["kernel"] + p["fc1"]["bias"], 0)
    np.testing.assert_allclose(feats["fc_1"], fc1, **TOL)

    model, v, _ = nets["resnet"]
    p, s = v["params"], v["batch_stats"]
    logits, feats = capture(model, v)(x)
    stem = np.maximum(_bn(_conv3x3(x, p["stem_conv"]["kernel"]), p["stem_bn"], s["stem_bn"]), 0)
    np.testing.assert_allclose(feats["stem"], stem, **TOL)
    np.testing.assert_allclose(feats["pool"], np.asarray(feats["block_2"]).mean((1, 2)), **TOL)
    head = np.asarray(feats["pool"]) @ p["head"]["kernel"] + p["head"]["bias"]
    np.testing.assert_allclose(logits, head, **TOL)
    # the captured logits are the model's own output
    np.testing.assert_allclose(logits, jax.jit(model.apply)(v, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(PAIRS))
def test_linen_and_nnx_captures_agree(nets, name):
    linen_model, variables, nnx_model = nets[name]
    x = _x()
    la, fa = capture(linen_model, variables)(x)
    lb, fb = capture(nnx_model)(x)
    assert list(fa) == list(fb)
    if name == "mlp":  # same ops in the same order: bit-identical
        chex.assert_trees_all_equal((la, dict(fa)), (lb, dict(fb)))
    chex.assert_trees_all_close((la, dict(fa)), (lb, dict(fb)), rtol=1e-5, atol=1e-5)


def test_resnet_layers_sizes_and_all_modules(nets):
    linen_model, variables, nnx_model = nets["resnet"]
    f = capture(nnx_model)
    assert f.names == ("stem", "block_1", "block_2", "pool")
    assert feature_sizes(f) == {"stem": 256, "block_1": 256, "block_2": 96, "pool": 6}  # stride 2
    # every submodule output too (Linen capture_intermediates / NNX method_outputs)
    x = _x()
    _, fa = capture(linen_model, variables, all_modules=True)(x)
    _, fb = capture(nnx_model, all_modules=True)(x)
    assert list(fa) == list(fb) and "res1/conv2" in fa and "block_1" in fa
    chex.assert_trees_all_close(dict(fa), dict(fb), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("form", ["linen", "nnx"])
def test_capture_under_jit_and_vmap(nets, form):
    model, variables, nnx_model = nets["mlp"]
    f = capture(model, variables) if form == "linen" else capture(nnx_model)
    x = _x(12).reshape(3, 4, *SHAPE)
    ref = [_manual_mlp(variables, xi, batchnorm=True) for xi in x]
    jit_out = jax.jit(f)(x[0])
    assert list(jit_out[1]) == list(ref[0][1])  # network order survives jit
    chex.assert_trees_all_close((jit_out[0], dict(jit_out[1])), ref[0], **TOL)
    logits, feats = jax.vmap(f)(x)
    chex.assert_shape(logits, (3, 4, 10))
    for i in range(3):
        chex.assert_trees_all_close((logits[i], {k: v[i] for k, v in feats.items()}), ref[i], **TOL)
    # a CapturedFn is a pytree: it can be an argument of a jitted function
    out = jax.jit(lambda g, xx: g(xx)[0])(f, x[1])
    np.testing.assert_allclose(out, ref[1][0], **TOL)


def test_vmap_over_a_population_of_models():
    model = MLP(SHAPE, depth=3, width=8)
    stacked = random_variables(model, members=4)
    member = [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(4)]
    f = capture(model, member[0], layers=["hidden_2"])
    x = _x(3)
    logits, feats = jax.vmap(f.apply, in_axes=(0, None))(stacked, x)
    chex.assert_shape(feats["hidden_2"], (4, 3, 8))
    for i in range(4):
        ref_logits, ref_feats = _manual_mlp(member[i], x, batchnorm=False)
        np.testing.assert_allclose(logits[i], ref_logits, **TOL)
        np.testing.assert_allclose(feats["hidden_2"][i], ref_feats["hidden_2"], **TOL)


def test_layer_selection_by_list_and_regex(nets):
    model, variables, _ = nets["mlp"]
    x = _x()
    full = capture(model, variables)(x)[1]
    assert layer_names(model, variables) == list(full)
    # a list returns network order whatever the order asked for
    f = capture(model, variables, layers=["hidden_2", "pre_1"])
    assert f.names == ("pre_1", "hidden_2")
    _, feats = f(x)
    np.testing.assert_array_equal(feats["hidden_2"], full["hidden_2"])
    assert capture(model, variables, layers=r"hidden_\d+").names == ("hidden_1", "hidden_2")
    assert capture(model, variables, layers="pre_2").names == ("pre_2",)
    # every capture of one model configuration shares one compiled forward pass
    assert f.forward is capture(model, random_variables(model, seed=5)).forward


class _Ties(linen.Module):
    """Sows one array under several names: ties in network order go by natural name order."""

    input_shape: tuple = (3,)

    @linen.compact
    def __call__(self, x):
        h = linen.Dense(2)(x)
        for name in ("h_10", "h_2", "h_1"):
            self.sow("intermediates", name, h)
        return h


def test_ties_in_network_order_read_numbers_as_numbers():
    model = _Ties()
    variables = model.init(jax.random.key(0), jnp.zeros((1, 3)))
    assert layer_names(model, variables) == ["h_1", "h_2", "h_10"]


def test_vit_tokens_capture_from_embeddings():
    model = ViT(SHAPE, patch_size=2, dim=16, depth=2, heads=2, mlp_dim=32)
    variables = random_variables(model)
    x = _x()
    logits, feats = capture(model, variables)(x)
    assert list(feats) == ["embed", "block_1", "block_2", "pool"]
    chex.assert_shape(feats["embed"], (5, 16, 16))
    g = capture(model, variables, method="from_embeddings", input_shape=model.token_shape)
    logits2, feats2 = g(feats["embed"])
    np.testing.assert_allclose(logits2, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats2["block_2"], feats["block_2"], rtol=1e-5, atol=1e-5)
    with pytest.raises(JaxinterInputError, match="patch_size"):
        capture(ViT(SHAPE, patch_size=9), variables)


def test_nnx_capture_leaves_model_unchanged(nets):
    _, _, model = nets["mlp"]
    before = nnx.state(model)
    capture(model)(_x())
    model(_x())  # a plain call must not store intermediates on the module
    assert jax.tree.structure(nnx.state(model)) == jax.tree.structure(before)
    assert model.bn1.use_running_average is False  # capture used an eval view, not the model


def test_bad_inputs(nets):
    model, variables, nnx_model = nets["mlp"]
    with pytest.raises(JaxinterInputError,
                       match=r"^layers: expected names among .*got \[.hidden_9.\]"):
        capture(model, variables, layers=["hidden_9"])
    with pytest.raises(JaxinterInputError, match="matches no layer"):
        capture(model, variables, layers="conv_.*")
    with pytest.raises(JaxinterInputError, match="^layers: expected distinct names"):
        capture(model, variables, layers=["pre_1", "pre_1"])
    f = capture(model, variables)
    assert isinstance(f, CapturedFn)
    for bad in (jnp.zeros((2, 8, 8)), jnp.zeros((2, 64)), jnp.zeros((8, 8, 1)), [[0.0]]):
        with pytest.raises(JaxinterInputError, match=r"x: expected shape \(batch, \*\(8, 8, 1\)\)"):
            f(bad)
    with pytest.raises(JaxinterInputError, match="x: expected shape"):
        jax.jit(f)(jnp.zeros((2, 64)))
    with pytest.raises(JaxinterInputError, match="variables"):
        capture(model)
    with pytest.raises(JaxinterInputError, match="variables"):
        capture(model, variables["params"])
    with pytest.raises(JaxinterInputError, match="variables"):
        capture(nnx_model, variables)
    with pytest.raises(JaxinterInputError, match="model"):
        capture(lambda x: x, variables)
    with pytest.raises(JaxinterInputError, match="input_shape"):
        capture(model, variables, input_shape=(5, 5, 1))
    with pytest.raises(JaxinterInputError, match="method"):
        capture(nnx_model, method="nope")
    with pytest.raises(JaxinterInputError, match="depth"):
        MLP(SHAPE, depth=0).init(jax.random.key(0), jnp.zeros((1, *SHAPE)))
