"""Pieces shared by the Linen and NNX model forms: activations, layer configs, weight transfer.

Both forms of a model use the same submodule names (``dense1``, ``bn1``, ``res2/conv1``...),
so parameters map one to one: Linen ``params[path]`` <-> NNX ``nnx.Param`` at the same path,
Linen ``batch_stats[path]`` <-> NNX ``nnx.BatchStat`` at the same path.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx, traverse_util

from ..errors import JaxinterInputError, check_choice, check_int, check_number

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
    """Validate a VGG plan (ints = conv channels, "M" = max pool)."""
    features = tuple(features)
    for f in features:
        if not (f == "M" or (isinstance(f, int) and f > 0)):
            raise JaxinterInputError(
                f"features: expected positive ints (conv channels) or 'M' (pool), got {f!r}"
            )
    return features


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
    params = traverse_util.flatten_dict(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    stats = traverse_util.flatten_dict(nnx.to_pure_dict(nnx.state(model, nnx.BatchStat)))
    out = {"params": traverse_util.unflatten_dict(params)}
    if stats:
        out["batch_stats"] = traverse_util.unflatten_dict(stats)
    return out
