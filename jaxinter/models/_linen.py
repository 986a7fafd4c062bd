"""Reference models in Flax Linen. Every hidden layer is sown into ``"intermediates"``.

All models take ``x`` of shape ``(batch, *input_shape)`` and ``train`` (batch-norm mode; False,
the default, uses running statistics) and return logits ``(batch, num_classes)``. Layers are
sown by the top-level module in execution order; sown names (``hidden_1``) differ from submodule
names (``dense1``) because Linen forbids a sow and a submodule of one name. See
docs/models.md#reference-models-jaxintermodels.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
from flax import linen as nn

from ..errors import JaxinterInputError, check_key
from ._common import (
    BN_MOMENTUM,
    QUADRATIC_ALPHA,
    activation,
    check_classifier,
    check_mlp,
    check_positive,
    check_resnet,
    check_vgg,
    max_pool,
)

BatchNorm = partial(nn.BatchNorm, momentum=BN_MOMENTUM)


class MLP(nn.Module):
    """Feed-forward net of ``depth`` linear layers (``depth - 1`` hidden layers of ``width``).

    Hidden layer i (1-based): submodule ``dense{i}`` -> optional ``bn{i}`` -> sow ``pre_{i}``
    -> activation -> sow ``hidden_{i}``. The output layer is ``dense{depth}``. MLP-7 is
    ``depth=7, width=1024``; He & Su's BatchNorm-ReLU nets are ``width=100, batchnorm=True``.

    Attributes:
      input_shape: shape of one sample (flattened by the first layer).
      num_classes: number of logits.
      depth: number of linear layers, the output layer included.
      width: units per hidden layer.
      activation: one of ``ACTIVATIONS`` ("relu", "erf", "tanh", "quadratic", "linear").
      alpha: coefficient of the quadratic activation z + alpha z**2.
      batchnorm: batch norm between each hidden linear layer and its activation.
    """

    input_shape: tuple[int, ...]
    num_classes: int = 10
    depth: int = 3
    width: int = 256
    activation: str = "relu"
    alpha: float = QUADRATIC_ALPHA
    batchnorm: bool = False

    def __post_init__(self):
        check_mlp(self.input_shape, self.num_classes, self.depth, self.width, self.activation,
                  self.alpha, self.batchnorm)
        super().__post_init__()

    @nn.compact
    def __call__(self, x, train: bool = False):
        act = activation(self.activation, self.alpha)
        x = x.reshape(x.shape[0], -1)
        for i in range(1, self.depth):
            z = nn.Dense(self.width, name=f"dense{i}")(x)
            if self.batchnorm:
                z = BatchNorm(use_running_average=not train, name=f"bn{i}")(z)
            self.sow("intermediates", f"pre_{i}", z)
            x = act(z)
            self.sow("intermediates", f"hidden_{i}", x)
        return nn.Dense(self.num_classes, name=f"dense{self.depth}")(x)


class VGG(nn.Module):
    """VGG-style CNN: a plan of 3x3 convolutions and 2x2 max pools, then dense layers.

    Conv i: submodule ``conv{i}`` -> optional ``bn{i}`` -> relu -> sow ``conv_{i}``; after
    flattening, hidden dense j: ``fc{j}`` -> relu -> sow ``fc_{j}``; output ``head``.
    ``features=VGG11`` gives VGG-11.

    Attributes:
      input_shape: ``(H, W, channels)``.
      num_classes: number of logits.
      features: plan of convolution widths (ints) and 2x2 max pools ("M").
      dense: widths of the hidden dense layers.
      batchnorm: batch norm after each convolution.
    """

    input_shape: tuple[int, ...]
    num_classes: int = 10
    features: tuple = (32, "M", 64, "M")
    dense: tuple[int, ...] = (128,)
    batchnorm: bool = False

    def __post_init__(self):
        check_vgg(self.input_shape, self.num_classes, self.features, self.dense, self.batchnorm)
        super().__post_init__()

    @nn.compact
    def __call__(self, x, train: bool = False):
        i = 0
        for f in self.features:
            if f == "M":
                x = max_pool(x)
                continue
            i += 1
            x = nn.Conv(f, (3, 3), name=f"conv{i}")(x)
            if self.batchnorm:
                x = BatchNorm(use_running_average=not train, name=f"bn{i}")(x)
            x = nn.relu(x)
            self.sow("intermediates", f"conv_{i}", x)
        x = x.reshape(x.shape[0], -1)
        for j, w in enumerate(self.dense, 1):
            x = nn.relu(nn.Dense(w, name=f"fc{j}")(x))
            self.sow("intermediates", f"fc_{j}", x)
        return nn.Dense(self.num_classes, name="head")(x)


class ResidualBlock(nn.Module):
    """Basic residual block: conv-BN-relu-conv-BN plus a (projected) shortcut, then relu.

    Attributes:
      width: output channels.
      stride: stride of the first convolution and of the projection.
    """

    width: int
    stride: int = 1

    @nn.compact
    def __call__(self, x, train: bool = False):
        bn = dict(use_running_average=not train)
        s = (self.stride, self.stride)
        y = nn.Conv(self.width, (3, 3), s, use_bias=False, name="conv1")(x)
        y = nn.relu(BatchNorm(**bn, name="bn1")(y))
        y = nn.Conv(self.width, (3, 3), use_bias=False, name="conv2")(y)
        y = BatchNorm(**bn, name="bn2")(y)
        if self.stride != 1 or x.shape[-1] != self.width:
            x = nn.Conv(self.width, (1, 1), s, use_bias=False, name="proj_conv")(x)
            x = BatchNorm(**bn, name="proj_bn")(x)
        return nn.relu(x + y)


class ResNet(nn.Module):
    """ResNet-style CNN with batch norm; the defaults give ResNet-20.

    Sown ``stem`` (``stem_conv``-``stem_bn``-relu), residual blocks (submodule ``res{k}``, sown
    ``block_{k}``, k = 1.. over all stages; the first block of each later stage has stride 2),
    global average ``pool``, then ``head``.

    Attributes:
      input_shape: ``(H, W, channels)``.
      num_classes: number of logits.
      stage_sizes: residual blocks per stage (ResNet-20: 3, 3, 3).
      widths: channels per stage (ResNet-20: 16, 32, 64).
    """

    input_shape: tuple[int, ...]
    num_classes: int = 10
    stage_sizes: tuple[int, ...] = (3, 3, 3)
    widths: tuple[int, ...] = (16, 32, 64)

    def __post_init__(self):
        check_resnet(self.input_shape, self.num_classes, self.stage_sizes, self.widths)
        super().__post_init__()

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(self.widths[0], (3, 3), use_bias=False, name="stem_conv")(x)
        x = nn.relu(BatchNorm(use_running_average=not train, name="stem_bn")(x))
        self.sow("intermediates", "stem", x)
        k = 0
        for s, (n_blocks, w) in enumerate(zip(self.stage_sizes, self.widths, strict=True)):
            for b in range(n_blocks):
                k += 1
                stride = 2 if s > 0 and b == 0 else 1
                x = ResidualBlock(w, stride, name=f"res{k}")(x, train)
                self.sow("intermediates", f"block_{k}", x)
        x = x.mean(axis=(1, 2))
        self.sow("intermediates", "pool", x)
        return nn.Dense(self.num_classes, name="head")(x)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + MHA(LN(x)), then x + MLP(LN(x)).

    Attributes:
      dim: token width.
      heads: attention heads.
      mlp_dim: hidden width of the MLP.
    """

    dim: int
    heads: int
    mlp_dim: int

    @nn.compact
    def __call__(self, x):
        y = nn.LayerNorm(name="ln1")(x)
        x = x + nn.MultiHeadDotProductAttention(self.heads, name="attn")(y, y)
        y = nn.LayerNorm(name="ln2")(x)
        y = nn.Dense(self.dim, name="mlp_out")(nn.gelu(nn.Dense(self.mlp_dim, name="mlp_in")(y)))
        return x + y


class ViT(nn.Module):
    """Small vision transformer whose patch tokens can be players.

    ``embed(x)``: (batch, H, W, C) -> patch tokens (batch, P, dim) (linear patch projection,
    sown as ``embed``; no position information). ``from_embeddings(tokens)``: adds position
    embeddings, runs ``depth`` blocks (sown ``block_i``), mean-pools (sown ``pool``) and
    classifies. ``__call__ = from_embeddings(embed(x))``. To mask tokens, capture with
    ``method="from_embeddings", input_shape=model.token_shape``.

    Attributes:
      input_shape: ``(H, W, channels)``.
      num_classes: number of logits.
      patch_size: side of the square patches (border pixels that do not fill a patch are
        dropped).
      dim: token width.
      depth: number of transformer blocks.
      heads: attention heads.
      mlp_dim: hidden width of the blocks' MLPs.
    """

    input_shape: tuple[int, ...]
    num_classes: int = 10
    patch_size: int = 2
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_dim: int = 128

    def __post_init__(self):
        h, w, _ = check_classifier(self.input_shape, self.num_classes, image=True)
        check_positive(patch_size=self.patch_size, dim=self.dim, depth=self.depth,
                       heads=self.heads, mlp_dim=self.mlp_dim)
        if self.patch_size > min(h, w):
            raise JaxinterInputError(
                f"patch_size: {self.patch_size} is larger than the {h}x{w} input")
        if self.dim % self.heads:
            raise JaxinterInputError(
                f"dim: expected a multiple of heads ({self.heads}), got {self.dim}")
        super().__post_init__()

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid (rows, cols); border pixels that do not fill a whole patch are dropped."""
        h, w = self.input_shape[:2]
        return h // self.patch_size, w // self.patch_size

    @property
    def token_shape(self) -> tuple[int, int]:
        """``(P, dim)``: the shape of the patch tokens of one sample."""
        return math.prod(self.grid), self.dim

    def setup(self):
        self.patch_embed = nn.Dense(self.dim)
        self.pos_embed = self.param("pos_embed", nn.initializers.normal(0.02), self.token_shape)
        self.blocks = [EncoderBlock(self.dim, self.heads, self.mlp_dim) for _ in range(self.depth)]
        self.norm = nn.LayerNorm()
        self.head = nn.Dense(self.num_classes)

    def embed(self, x):
        """Patch tokens ``(batch, P, dim)`` of images ``(batch, H, W, C)``."""
        b, p = x.shape[0], self.patch_size
        gh, gw = self.grid
        x = x[:, : gh * p, : gw * p]
        x = x.reshape(b, gh, p, gw, p, -1).transpose(0, 1, 3, 2, 4, 5).reshape(b, gh * gw, -1)
        tokens = self.patch_embed(x)
        self.sow("intermediates", "embed", tokens)
        return tokens

    def from_embeddings(self, tokens):
        """Logits ``(batch, num_classes)`` from patch tokens ``(batch, P, dim)``."""
        x = tokens + self.pos_embed
        for i, block in enumerate(self.blocks, 1):
            x = block(x)
            self.sow("intermediates", f"block_{i}", x)
        x = self.norm(x).mean(axis=1)
        self.sow("intermediates", "pool", x)
        return self.head(x)

    def __call__(self, x, train: bool = False):
        return self.from_embeddings(self.embed(x))


@partial(jax.jit, static_argnums=0)  # one compiled program per model config, not eager ops
def init_variables(model: nn.Module, key: jax.Array) -> dict:
    """Initial variables of a Linen model, compiled once per model configuration.

    The checks run while tracing (``jax.eval_shape(init_variables, model, key)`` works too).

    Args:
      model: a Linen model with an ``input_shape`` attribute.
      key: PRNG key.

    Returns:
      ``{"params": ..., "batch_stats": ...}`` (no ``intermediates``).
    """
    if not isinstance(model, nn.Module) or not hasattr(model, "input_shape"):
        raise JaxinterInputError(
            f"model: expected a Linen model with an input_shape, got {type(model).__name__}")
    check_key(key)
    variables = model.init(key, jnp.zeros((1, *model.input_shape), jnp.float32))
    return {k: v for k, v in variables.items() if k != "intermediates"}
