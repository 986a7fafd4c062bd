"""Pieces shared by the Linen and NNX model forms: activations, layer configs, weight transfer.

Both forms of a model use the same submodule names (``dense1``, ``bn1``, ``res2/conv1``...),
so parameters map one to one: Linen ``params[path]`` <-> NNX ``nnx.Param`` at the same path,
Linen ``batch_stats[path]`` <-> NNX ``nnx.BatchStat`` at the same path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx, traverse_util

from ..errors import (
    JaxinterInputError,
    check_bool,
    check_choice,
    check_instance,
    check_int,
    check_int_list,
    check_mapping,
    check_number,
    check_pytree,
    check_shape,
)

ACTIVATIONS = ("relu", "erf", "tanh", "quadratic", "linear")
QUADRATIC_ALPHA = 0.5  # default alpha of the quadratic activation z + alpha z**2

# Running statistics keep 90% of the old value per step (PyTorch's default, momentum=0.1 there);
# flax's 0.99 leaves them far from the data after the few hundred steps of a CPU training run.
BN_MOMENTUM = 0.9

# VGG-11 convolution plan: ints are 3x3 convolutions with that many channels, "M" a 2x2 max pool.
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def activation(name: str, alpha: float = QUADRATIC_ALPHA) -> Callable[[jax.Array], jax.Array]:
    """The elementwise nonlinearity ``name``, one of :data:`ACTIVATIONS`.

    Args:
      name: ``relu``, ``erf``, ``tanh``, ``quadratic`` (z + alpha z**2) or ``linear``.
      alpha: coefficient of the quadratic term; every other activation ignores it.

    Returns:
      A function mapping an array of any shape to an array of the same shape and dtype.
    """
    check_activation(name, alpha, argument="name")
    if name == "relu":
        return jax.nn.relu
    if name == "erf":
        return jax.scipy.special.erf
    if name == "tanh":
        return jnp.tanh
    if name == "quadratic":
        return lambda z: z + alpha * z * z
    return lambda z: z


def check_activation(name, alpha=QUADRATIC_ALPHA, choices=ACTIVATIONS,
                     argument: str = "activation") -> None:
    """Raise unless ``name`` (the argument called ``argument``) is one of ``choices`` and
    ``alpha`` a finite real number."""
    check_choice(name, argument, choices)
    check_number(alpha, "alpha")


def check_positive(**sizes: int) -> None:
    """Raise unless every named size (depth, width, patch_size...) is a positive int."""
    for name, value in sizes.items():
        check_int(value, name, 1)


def check_plan(features) -> tuple:
    """Validate a VGG plan (ints = conv channels, "M" = max pool), non-empty."""
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise JaxinterInputError(
            f"features: expected a non-empty list of conv channels and 'M' (pool), got "
            f"{features!r:.60}")
    for f in features:
        if not (f == "M" or (isinstance(f, int) and not isinstance(f, bool) and f > 0)):
            raise JaxinterInputError(
                f"features: expected positive ints (conv channels) or 'M' (pool), got {f!r}"
            )
    return tuple(features)


def check_classifier(input_shape, num_classes, *, image: bool = False) -> tuple[int, ...]:
    """Validate the fields every model has: the shape of one sample (``(H, W, C)`` when
    ``image``) and the number of classes; the shape as a tuple."""
    shape = check_shape(input_shape, "input_shape")
    if image and len(shape) != 3:
        raise JaxinterInputError(f"input_shape: expected (H, W, channels), got {shape}")
    check_int(num_classes, "num_classes", 1)
    return shape


def check_mlp(input_shape, num_classes, depth, width, activation_name, alpha, batchnorm):
    """Validate the fields of an ``MLP`` (Linen or NNX)."""
    check_classifier(input_shape, num_classes)
    check_positive(depth=depth, width=width)
    check_activation(activation_name, alpha)
    check_bool(batchnorm, "batchnorm")


def check_vgg(input_shape, num_classes, features, dense, batchnorm) -> None:
    """Validate the fields of a ``VGG`` (Linen or NNX)."""
    check_classifier(input_shape, num_classes, image=True)
    check_plan(features)
    if not isinstance(dense, Sequence) or isinstance(dense, str):
        raise JaxinterInputError(f"dense: expected a list of widths, got {dense!r:.60}")
    for i, d in enumerate(dense):
        check_int(d, f"dense[{i}]", 1)
    check_bool(batchnorm, "batchnorm")


def check_resnet(input_shape, num_classes, stage_sizes, widths) -> None:
    """Validate the fields of a ``ResNet`` (Linen or NNX): one width per stage."""
    check_classifier(input_shape, num_classes, image=True)
    stages = check_int_list(stage_sizes, "stage_sizes", 1)
    if len(check_int_list(widths, "widths", 1)) != len(stages):
        raise JaxinterInputError(
            f"widths: expected one width per stage ({len(stages)}), got {widths!r}")


def max_pool(x: jax.Array) -> jax.Array:
    """2x2 max pool, stride 2, SAME padding (odd sizes round up)."""
    from flax import linen

    return linen.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")


def _nnx_flat(model: nnx.Module) -> dict:
    state = nnx.state(model, (nnx.Param, nnx.BatchStat))
    return traverse_util.flatten_dict(nnx.to_pure_dict(state))


def linen_to_nnx(variables: dict, model: nnx.Module) -> nnx.Module:
    """Copy Linen ``variables`` (params, batch_stats) into the NNX ``model`` in place; return it.

    Works for any pair of models whose submodules have the same names (all jaxinter models).
    """
    check_pytree(check_mapping(variables, "variables", optional=False), "variables")
    check_instance(model, "model", nnx.Module)
    source = {
        **traverse_util.flatten_dict(variables.get("params", {})),
        **traverse_util.flatten_dict(variables.get("batch_stats", {})),
    }
    state = nnx.state(model, (nnx.Param, nnx.BatchStat))
    target = _nnx_flat(model)
    new = {}
    for path, old in target.items():
        if path not in source:
            raise JaxinterInputError(
                f"variables: no Linen parameter at {'/'.join(map(str, path))} for the NNX model"
            )
        value = jnp.asarray(source[path])
        if value.shape != old.shape:
            raise JaxinterInputError(
                f"variables: {'/'.join(map(str, path))} has shape {value.shape}, "
                f"the NNX model expects {old.shape}"
            )
        new[path] = value.astype(old.dtype)
    nnx.replace_by_pure_dict(state, traverse_util.unflatten_dict(new))
    nnx.update(model, state)
    return model


def nnx_to_linen(model: nnx.Module) -> dict:
    """Linen variables ``{"params": ..., "batch_stats": ...}`` holding the NNX model's weights."""
    check_instance(model, "model", nnx.Module)
    params = traverse_util.flatten_dict(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    stats = traverse_util.flatten_dict(nnx.to_pure_dict(nnx.state(model, nnx.BatchStat)))
    out = {"params": traverse_util.unflatten_dict(params)}
    if stats:
        out["batch_stats"] = traverse_util.unflatten_dict(stats)
    return out
