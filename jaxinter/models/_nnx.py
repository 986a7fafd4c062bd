"""Reference models in Flax NNX, with the same submodule and sown names as the Linen forms.

Models take ``x`` of shape ``(batch, *input_shape)`` and return logits. Batch norm follows the
NNX mode attributes (``model.train()`` / ``model.eval()``; ``jaxinter.masking.capture`` always
runs eval mode). Hidden layers are sown as ``nnx.Intermediate`` and read with ``nnx.capture``.
Weights convert with ``jaxinter.models.linen_to_nnx`` and ``nnx_to_linen``. See
docs/models.md#reference-models-jaxintermodels.
"""

from __future__ import annotations

import math
from functools import partial

import jax
from flax import nnx

from ..errors import check_instance
from ._common import (
    BN_MOMENTUM,
    QUADRATIC_ALPHA,
    activation,
    check_mlp,
    check_resnet,
    check_vgg,
    max_pool,
)

BatchNorm = partial(nnx.BatchNorm, momentum=BN_MOMENTUM)


def _sow(module: nnx.Module, name: str, value: jax.Array) -> None:
    """Sow ``value`` as an ``nnx.Intermediate`` only inside ``nnx.capture``.

    Outside a capture, ``Module.sow`` (deprecated there in flax 0.12) would store the value as a
    new attribute of the module and change its state; a plain call must leave the model as it is.
    """
    if hasattr(module, "__captures__"):  # set by nnx.capture for the duration of the call
        module.sow(nnx.Intermediate, name, value)


class MLP(nnx.Module):
    """NNX form of the Linen ``jaxinter.models.MLP`` (same arguments, plus ``rngs``).

    Args:
      input_shape: shape of one sample (flattened by the first layer).
      num_classes: number of logits.
      depth: number of linear layers, the output layer included.
      width: units per hidden layer.
      activation: one of ``ACTIVATIONS``.
      alpha: coefficient of the quadratic activation z + alpha z**2.
      batchnorm: batch norm between each hidden linear layer and its activation.
      rngs: ``nnx.Rngs`` for the initializers.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int = 10,
        depth: int = 3,
        width: int = 256,
        activation: str = "relu",
        alpha: float = QUADRATIC_ALPHA,
        batchnorm: bool = False,
        *,
        rngs: nnx.Rngs,
    ):
        check_mlp(input_shape, num_classes, depth, width, activation, alpha, batchnorm)
        check_instance(rngs, "rngs", nnx.Rngs)
        self.input_shape = tuple(input_shape)
        self.depth, self.batchnorm = depth, batchnorm
        self.activation, self.alpha = activation, alpha
        fan_in = math.prod(self.input_shape)
        for i in range(1, depth):
            setattr(self, f"dense{i}", nnx.Linear(fan_in, width, rngs=rngs))
            if batchnorm:
                setattr(self, f"bn{i}", BatchNorm(width, rngs=rngs))
            fan_in = width
        setattr(self, f"dense{depth}", nnx.Linear(fan_in, num_classes, rngs=rngs))

    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation(self.activation, self.alpha)
        x = x.reshape(x.shape[0], -1)
        for i in range(1, self.depth):
            z = getattr(self, f"dense{i}")(x)
            if self.batchnorm:
                z = getattr(self, f"bn{i}")(z)
            _sow(self, f"pre_{i}", z)
            x = act(z)
            _sow(self, f"hidden_{i}", x)
        return getattr(self, f"dense{self.depth}")(x)


class VGG(nnx.Module):
    """NNX form of the Linen ``jaxinter.models.VGG`` (same arguments, plus ``rngs``).

    Args:
      input_shape: ``(H, W, channels)``.
      num_classes: number of logits.
      features: plan of convolution widths (ints) and 2x2 max pools ("M").
      dense: widths of the hidden dense layers.
      batchnorm: batch norm after each convolution.
      rngs: ``nnx.Rngs`` for the initializers.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int = 10,
        features: tuple = (32, "M", 64, "M"),
        dense: tuple[int, ...] = (128,),
        batchnorm: bool = False,
        *,
        rngs: nnx.Rngs,
    ):
        check_vgg(input_shape, num_classes, features, dense, batchnorm)
        check_instance(rngs, "rngs", nnx.Rngs)
        self.input_shape = tuple(input_shape)
        self.features, self.dense, self.batchnorm = tuple(features), tuple(dense), batchnorm
        h, w, c = self.input_shape
        i = 0
        for f in self.features:
            if f == "M":
                h, w = -(-h // 2), -(-w // 2)
                continue
            i += 1
            setattr(self, f"conv{i}", nnx.Conv(c, f, (3, 3), rngs=rngs))
            if batchnorm:
                setattr(self, f"bn{i}", BatchNorm(f, rngs=rngs))
            c = f
        fan_in = h * w * c
        for j, width in enumerate(self.dense, 1):
            setattr(self, f"fc{j}", nnx.Linear(fan_in, width, rngs=rngs))
            fan_in = width
        self.head = nnx.Linear(fan_in, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        i = 0
        for f in self.features:
            if f == "M":
                x = max_pool(x)
                continue
            i += 1
            x = getattr(self, f"conv{i}")(x)
            if self.batchnorm:
                x = getattr(self, f"bn{i}")(x)
            x = nnx.relu(x)
            _sow(self, f"conv_{i}", x)
        x = x.reshape(x.shape[0], -1)
        for j in range(1, len(self.dense) + 1):
            x = nnx.relu(getattr(self, f"fc{j}")(x))
            _sow(self, f"fc_{j}", x)
        return self.head(x)


class ResidualBlock(nnx.Module):
    """NNX form of the Linen residual block: conv-BN-relu-conv-BN plus a shortcut, then relu.

    Args:
      in_width: input channels.
      width: output channels.
      stride: stride of the first convolution and of the projection.
      rngs: ``nnx.Rngs`` for the initializers.
    """

    def __init__(self, in_width: int, width: int, stride: int = 1, *, rngs: nnx.Rngs):
        s = (stride, stride)
        self.conv1 = nnx.Conv(in_width, width, (3, 3), s, use_bias=False, rngs=rngs)
        self.bn1 = BatchNorm(width, rngs=rngs)
        self.conv2 = nnx.Conv(width, width, (3, 3), use_bias=False, rngs=rngs)
        self.bn2 = BatchNorm(width, rngs=rngs)
        self.project = stride != 1 or in_width != width
        if self.project:
            self.proj_conv = nnx.Conv(in_width, width, (1, 1), s, use_bias=False, rngs=rngs)
            self.proj_bn = BatchNorm(width, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = nnx.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.project:
            x = self.proj_bn(self.proj_conv(x))
        return nnx.relu(x + y)


class ResNet(nnx.Module):
    """NNX form of the Linen ``jaxinter.models.ResNet`` (same arguments, plus ``rngs``).

    Args:
      input_shape: ``(H, W, channels)``.
      num_classes: number of logits.
      stage_sizes: residual blocks per stage.
      widths: channels per stage.
      rngs: ``nnx.Rngs`` for the initializers.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int = 10,
        stage_sizes: tuple[int, ...] = (3, 3, 3),
        widths: tuple[int, ...] = (16, 32, 64),
        *,
        rngs: nnx.Rngs,
    ):
        check_resnet(input_shape, num_classes, stage_sizes, widths)
        check_instance(rngs, "rngs", nnx.Rngs)
        self.input_shape = tuple(input_shape)
        c = self.input_shape[-1]
        self.stem_conv = nnx.Conv(c, widths[0], (3, 3), use_bias=False, rngs=rngs)
        self.stem_bn = BatchNorm(widths[0], rngs=rngs)
        self.num_blocks = sum(stage_sizes)
        k, c = 0, widths[0]
        for s, (n_blocks, w) in enumerate(zip(stage_sizes, widths, strict=True)):
            for b in range(n_blocks):
                k += 1
                stride = 2 if s > 0 and b == 0 else 1
                setattr(self, f"res{k}", ResidualBlock(c, w, stride, rngs=rngs))
                c = w
        self.head = nnx.Linear(c, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.stem_bn(self.stem_conv(x)))
        _sow(self, "stem", x)
        for k in range(1, self.num_blocks + 1):
            x = getattr(self, f"res{k}")(x)
            _sow(self, f"block_{k}", x)
        x = x.mean(axis=(1, 2))
        _sow(self, "pool", x)
        return self.head(x)
