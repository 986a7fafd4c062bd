"""One capture API over Flax Linen and Flax NNX: logits plus named intermediate layers.

``capture(model, variables, layers)`` returns a ``CapturedFn``, a pytree (its leaves are the
model's variables) whose call ``f(x) -> (logits, features)`` is a pure function of ``x``: it can be
jitted, vmapped, and passed through ``jit`` as an argument. ``features`` is an ordered dict
``{layer name: (batch, ...)}`` in network order (the position in the traced program of the
operation that produced each array; ties, such as a block output sown under two names, go by
name), so the Linen and NNX forms of a model list the same layers in the same order. The order
survives ``jit`` and ``vmap`` because it is an ``OrderedDict``.

Layers are the values a model sows:

- Linen: ``self.sow("intermediates", name, x)``; read with
  ``apply(..., mutable=["intermediates"])``.
  With ``all_modules=True`` Linen's ``capture_intermediates`` adds every submodule's output.
- NNX: ``self.sow(nnx.Intermediate, name, x)``; read with ``nnx.capture(model, nnx.Intermediate)``
  (flax >= 0.12; sowing outside ``nnx.capture`` is deprecated). With ``all_modules=True``
  ``method_outputs=nnx.Intermediate`` adds every submodule's ``__call__`` output.

A layer sown by a submodule is named by its module path, ``"block_2/name"``; a submodule output
captured by ``all_modules`` is named by the submodule path, ``"block_2"``; a name sown several
times gets ``"/0"``, ``"/1"``... suffixes. Batch-norm models always run in eval mode (running
statistics): Linen models get no ``train`` argument (jaxinter models default to eval), NNX
models are viewed with ``use_running_average=True, deterministic=True``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen, nnx, struct
from flax.errors import FlaxError

from ..errors import (
    JaxinterInputError,
    check_bool,
    check_instance,
    check_int_list,
    check_names,
    check_pytree,
)

Layers = Sequence[str] | str | re.Pattern | None


def _flatten_sown(tree: Mapping, prefix: str = "") -> list[tuple[str, jax.Array]]:
    """(name, array) pairs of a nested dict/State of sown tuples, keeping mapping order."""
    out = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, nnx.Variable):
            value = value.get_value()
        if isinstance(value, tuple):
            if name.endswith("__call__"):  # submodule output captured by all_modules
                name = name.removesuffix("__call__").rstrip("/")
                if not name:  # the model's own output: that is the logits
                    continue
            if len(value) == 1:
                out.append((name, value[0]))
            else:
                out.extend((f"{name}/{k}", v) for k, v in enumerate(value))
        elif isinstance(value, Mapping):
            out.extend(_flatten_sown(value, name + "/"))
    return out


def _cached(make):
    """Memoize a forward-pass factory on its (hashable) configuration.

    Each factory returns ``(forward, jitted forward)``, so every capture of one model
    configuration (other ``layers``, ``layer_names``, a second ``capture`` call) shares one
    compiled program; the plain ``forward`` is what ``_execution_order`` traces.
    Unhashable configurations (a Linen module with a list attribute) just skip the cache.
    """
    cached = lru_cache(maxsize=32)(make)

    def get(*args):
        try:
            hash(args)
        except TypeError:
            return make(*args)
        return cached(*args)

    return get


@_cached
def _linen_forward(model: linen.Module, method, all_modules: bool):
    def forward(variables, x):
        logits, state = model.apply(
            variables,
            x,
            mutable=["intermediates"],
            capture_intermediates=all_modules,
            method=method,
        )
        return logits, dict(_flatten_sown(state.get("intermediates", {})))

    return forward, jax.jit(forward)


@_cached
def _nnx_forward(graphdef, method, all_modules: bool):
    def forward(state, x):
        module = nnx.merge(graphdef, state, copy=True)
        fn = getattr(module, method) if method else module
        outputs = nnx.Intermediate if all_modules else None
        logits, sown = nnx.capture(fn, nnx.Intermediate, method_outputs=outputs)(x)
        return logits, dict(_flatten_sown(sown))

    return forward, jax.jit(forward)


def _execution_order(forward, variables, spec) -> list[str]:
    """Sown names sorted by the position in the traced program of the operation producing them.

    Ties (one array under two names, e.g. a block's output and its sown copy, or every layer of
    a model that runs under an inner ``jit``/``scan``) go by name, digit runs read as numbers,
    so Linen and NNX forms of a model list their layers identically.
    """
    sown_order = []

    def features(v, x):
        feats = forward(v, x)[1]
        sown_order.extend(feats)
        return feats

    closed = jax.make_jaxpr(features)(variables, spec)
    produced = {id(v): i for i, eqn in enumerate(closed.jaxpr.eqns) for v in eqn.outvars}
    # dict outputs are flattened in sorted key order
    outvars = closed.jaxpr.outvars
    pairs = zip(sorted(sown_order), outvars, strict=True)
    position = {n: produced.get(id(v), -1) for n, v in pairs}
    return sorted(sown_order, key=lambda n: (position[n], _natural(n)))


def _natural(name: str) -> tuple:
    """Sort key reading digit runs as numbers: ``block_2`` before ``block_10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def _select(names: list[str], layers: Layers) -> tuple[str, ...]:
    if layers is None:
        return tuple(names)
    if isinstance(layers, str | re.Pattern):
        try:
            pattern = re.compile(layers)
        except re.error as err:
            raise JaxinterInputError(
                f"layers: expected a regular expression, got {layers!r} ({err})") from err
        chosen = [n for n in names if pattern.fullmatch(n)]
        if not chosen:
            raise JaxinterInputError(
                f"layers: pattern {pattern.pattern!r} matches no layer; available: {names}"
            )
        return tuple(chosen)
    layers = check_names(layers, "layers", names)
    return tuple(n for n in names if n in layers)


@struct.dataclass(eq=False)  # hashed by identity, so jax.jit(captured) works
class CapturedFn:
    """Pure callable ``x (batch, *input_shape) -> (logits (batch, classes), features)``.

    ``variables`` (Linen variables or NNX state) is the only pytree leaf set, so the object can
    be passed through ``jit``/``vmap``; ``apply`` takes the variables explicitly (e.g. to
    vmap over a population of models with stacked variables). Build it with ``capture``.

    Attributes:
      variables: Linen variables or NNX state (the pytree leaves).
      forward: jitted ``(variables, x) -> (logits, {name: features})`` (static).
      names: the captured layers, in network order (static).
      all_names: every sown layer of the model, in network order (static).
      input_shape: shape of one sample (static).
    """

    variables: Any
    forward: Callable = struct.field(pytree_node=False)
    names: tuple[str, ...] = struct.field(pytree_node=False)
    all_names: tuple[str, ...] = struct.field(pytree_node=False)
    input_shape: tuple[int, ...] = struct.field(pytree_node=False)

    def apply(self, variables, x) -> tuple[jax.Array, OrderedDict]:
        """Logits and captured features with explicit variables, e.g. under ``vmap``.

        Args:
          variables: same structure as ``self.variables`` (e.g. one member of a population).
          x: ``(batch, *input_shape)`` inputs.

        Returns:
          ``(logits (batch, classes), OrderedDict[name, (batch, ...)])``.
        """
        if not hasattr(x, "shape") or tuple(x.shape[1:]) != self.input_shape or x.ndim < 1:
            shape = getattr(x, "shape", type(x).__name__)
            raise JaxinterInputError(f"x: expected shape (batch, *{self.input_shape}), got {shape}")
        logits, sown = self.forward(variables, x)
        return logits, OrderedDict((n, sown[n]) for n in self.names)

    def __call__(self, x) -> tuple[jax.Array, OrderedDict]:
        """``apply(self.variables, x)``."""
        return self.apply(self.variables, x)


def _prepare(model, variables, method, all_modules):
    """((forward, jitted forward), variables) for Linen module + variables or an NNX module."""
    if not isinstance(model, linen.Module | nnx.Module):
        raise JaxinterInputError(
            f"model: expected a flax.linen.Module or flax.nnx.Module, got {type(model).__name__}")
    if method is not None and not (isinstance(method, str)
                                   and callable(getattr(model, method, None))):
        raise JaxinterInputError(f"method: expected the name of a model method, got {method!r}")
    if isinstance(model, linen.Module):
        if variables is None:
            raise JaxinterInputError("variables: a Linen model needs its variables")
        if not isinstance(variables, Mapping) or "params" not in variables:
            raise JaxinterInputError(
                "variables: expected a Linen variables dict with a 'params' collection"
            )
        variables = {k: v for k, v in variables.items() if k != "intermediates"}
        check_pytree(variables, "variables")
        return _linen_forward(model, method, all_modules), variables
    if variables is not None:
        raise JaxinterInputError("variables: an NNX model holds its own state; pass variables=None")
    view = nnx.view(model, use_running_average=True, deterministic=True, raise_if_not_found=False)
    graphdef, state = nnx.split(view)
    return _nnx_forward(graphdef, method, all_modules), state


def _input_shape(model, input_shape, method) -> tuple[int, ...]:
    if input_shape is None and method is None:
        input_shape = getattr(model, "input_shape", None)
    if input_shape is None:
        raise JaxinterInputError(
            "input_shape: the model has no input_shape attribute (or a method is given); "
            "pass input_shape=(...) without the batch axis"
        )
    return check_int_list(input_shape, "input_shape", 1)


def capture(
    model,
    variables=None,
    layers: Layers = None,
    *,
    input_shape: Sequence[int] | None = None,
    method: str | None = None,
    all_modules: bool = False,
) -> CapturedFn:
    """Capture the logits and named layers of a Flax Linen or NNX model.

    Args:
      model: ``flax.linen.Module`` (with ``variables``) or ``flax.nnx.Module`` (variables=None).
      variables: Linen variables ``{"params": ..., "batch_stats": ...}``.
      layers: list of layer names, a regex (full match), or None for every sown layer.
      input_shape: input shape without the batch axis; default ``model.input_shape``.
      method: name of the model method to run instead of ``__call__`` (e.g.
        ``"from_embeddings"`` of ``jaxinter.models.ViT``, with its ``token_shape``).
      all_modules: also capture every submodule's output (Linen ``capture_intermediates``,
        NNX ``method_outputs``).

    Returns:
      ``CapturedFn`` f with ``f(x) -> (logits, OrderedDict[name, (batch, ...)])``, layers in
      network order.
    """
    check_bool(all_modules, "all_modules")
    (forward, jitted), variables = _prepare(model, variables, method, all_modules)
    shape = _input_shape(model, input_shape, method)
    spec = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
    try:
        names = _execution_order(forward, variables, spec)
    except (TypeError, ValueError, FlaxError) as err:  # shape errors while tracing the model
        raise JaxinterInputError(
            f"input_shape: the model cannot run on inputs of shape (batch, *{shape}): {err}"
        ) from err
    return CapturedFn(variables, jitted, _select(names, layers), tuple(names), shape)


def layer_names(model, variables=None, **kwargs) -> list[str]:
    """Names of every sown layer of a model, in network order.

    Args:
      model: Linen or NNX model, as in ``capture``.
      variables: Linen variables (may be abstract, from ``jax.eval_shape``), None for NNX.
      **kwargs: ``input_shape``, ``method``, ``all_modules`` as in ``capture``.

    Returns:
      List of layer names.
    """
    return list(capture(model, variables, None, **kwargs).all_names)


def feature_sizes(captured: CapturedFn) -> dict[str, int]:
    """Number of features per sample of each captured layer.

    Args:
      captured: a ``CapturedFn``.

    Returns:
      ``{layer name: product of its non-batch axes}``.
    """
    check_instance(captured, "captured", CapturedFn)
    spec = jax.ShapeDtypeStruct((1, *captured.input_shape), jnp.float32)
    _, feats = jax.eval_shape(captured, spec)
    return {n: int(np.prod(f.shape[1:])) for n, f in feats.items()}
