"""Your own model: a factory named ``module:function`` and the checkpoint your training wrote.

A *model factory* is a function that returns a Flax Linen module or a Flax NNX module. It may
take any of the keyword arguments ``input_shape`` (one sample's shape), ``num_classes`` and
``rngs`` (an ``nnx.Rngs``, for NNX modules); it receives those it names. A *checkpoint* holds
trained weights: an Orbax checkpoint directory (``orbax.checkpoint.StandardCheckpointer`` or
``PyTreeCheckpointer``) or a file of ``flax.serialization.to_bytes`` (msgpack). It is restored
into the structure of the factory's freshly initialized variables (Linen: the variables dict,
or just its ``params``, or a train state holding them; NNX: ``nnx.state(model)``, as a State or
as a pure dict), and any difference of names or shapes is an error that lists them.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen, nnx, serialization

from ..errors import (
    JaxinterInputError,
    check_callable,
    check_int,
    check_mapping,
    check_path,
    check_pytree,
    check_seed,
    check_shape,
)

SHOWN = 5  # differences listed in an error message


@dataclasses.dataclass(frozen=True)
class UserModel:
    """A model built by a user's factory, with its (restored or initial) weights.

    Attributes:
      model: the Flax Linen module, or the NNX module (which holds its own weights).
      variables: the Linen variables dict; None for an NNX module.
      factory: what :class:`jaxinter.training.Trainer` trains from initialization: the Linen
        module, or ``rngs -> NNX module``.
      input_shape: one sample's shape.
      restored: whether the weights come from a checkpoint.
    """

    model: Any
    variables: Any
    factory: Any
    input_shape: tuple[int, ...]
    restored: bool


def load_factory(spec: str, name: str = "spec") -> Callable:
    """The function named by ``spec``.

    Args:
      spec: ``"module:function"`` (an importable module, e.g. ``"mypackage.models:make"``) or
        ``"path/to/file.py:function"``.
      name: the argument's name in error messages (a study's config says ``model_factory``).

    Returns:
      The function.

    Raises:
      JaxinterInputError: naming the module, file or function that cannot be found.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise JaxinterInputError(
            f"{name}: expected 'module:function' or 'file.py:function', got {spec!r}")
    where, function = spec.split(":")
    factory = getattr(_import(where, name), function, None)
    if not callable(factory):
        raise JaxinterInputError(f"{name}: {where} has no function {function!r}")
    return factory


def _import(where: str, name: str):
    if where.endswith(".py"):
        path = Path(where).expanduser()
        if not path.is_file():
            raise JaxinterInputError(f"{name}: no file {path}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as ``python -m`` would: modules beside you
    try:
        return importlib.import_module(where)
    except ImportError as err:
        raise JaxinterInputError(f"{name}: cannot import module {where!r}: {err}") from err


def build_model(factory: Callable, input_shape: Sequence[int], num_classes: int,
                seed: int = 0):
    """Call a factory with the arguments it names among input_shape, num_classes, rngs.

    Args:
      factory: a model factory (see the module docstring).
      input_shape: one sample's shape.
      num_classes: number of classes of the data.
      seed: seed of ``rngs`` (NNX weights).

    Returns:
      A ``flax.linen.Module`` or ``flax.nnx.Module``.
    """
    check_callable(factory, "factory")
    check_shape(input_shape, "input_shape")
    check_int(num_classes, "num_classes", 1)
    check_seed(seed)
    model = factory(**_arguments(factory, input_shape, num_classes, nnx.Rngs(seed)))
    if not isinstance(model, linen.Module | nnx.Module):
        raise JaxinterInputError(
            f"model_factory: expected a flax.linen.Module or flax.nnx.Module from "
            f"{getattr(factory, '__name__', factory)}, got {type(model).__name__}")
    return model


def _arguments(factory, input_shape, num_classes, rngs) -> dict:
    offered = {"input_shape": tuple(int(d) for d in input_shape),
               "num_classes": int(num_classes), "rngs": rngs}
    parameters = inspect.signature(factory).parameters
    return {k: v for k, v in offered.items() if k in parameters}


def load_model(factory: str | Callable, checkpoint: str | Path | None = None, *,
               input_shape: Sequence[int], num_classes: int, seed: int = 0) -> UserModel:
    """Build a user's model and restore its trained weights.

    Args:
      factory: ``"module:function"`` (see :func:`load_factory`) or the function itself.
      checkpoint: Orbax checkpoint directory or Flax msgpack file; None keeps the initial
        weights (from ``seed``).
      input_shape: one sample's shape (the data's).
      num_classes: number of classes of the data.
      seed: seed of the initial weights.

    Returns:
      :class:`UserModel`.
    """
    factory = load_factory(factory, "factory") if isinstance(factory, str) else factory
    checkpoint = check_path(checkpoint, "checkpoint", exists="any", optional=True)
    shape = check_shape(input_shape, "input_shape")
    model = build_model(factory, shape, num_classes, seed)
    if isinstance(model, linen.Module):
        variables = model.init(jax.random.key(seed), jnp.zeros((1, *shape), jnp.float32))
        variables = {k: v for k, v in variables.items() if k != "intermediates"}
        if checkpoint is not None:
            variables = restore_checkpoint(checkpoint, variables, name="checkpoint")
        trainable = model
    else:
        variables = None
        if checkpoint is not None:
            state = nnx.state(model)
            nnx.update(model, restore_checkpoint(checkpoint, state, name="checkpoint"))
        arguments = _arguments(factory, shape, num_classes, None)
        trainable = lambda rngs: factory(**{**arguments, "rngs": rngs})  # noqa: E731
    return UserModel(model, variables, trainable, shape, checkpoint is not None)


def restore_checkpoint(path: str | Path, target, *, name: str = "path"):
    """Weights of a checkpoint, in the structure of ``target``.

    Args:
      path: an Orbax checkpoint directory or a ``flax.serialization.to_bytes`` (msgpack) file.
      target: the initialized Linen variables dict or NNX ``State`` to fill.
      name: how error messages name ``path`` (``load_model``: "checkpoint").

    Returns:
      ``target`` with every array replaced by the checkpoint's (dtypes of ``target`` kept).

    Raises:
      JaxinterInputError: naming the file, and the missing, unexpected or mismatched arrays.
    """
    path = check_path(path, name, exists="any")
    if not isinstance(target, nnx.State):
        check_pytree(check_mapping(target, "target", optional=False), "target")
    raw = _read(path, name)
    is_state = isinstance(target, nnx.State)
    like = nnx.to_pure_dict(target) if is_state else serialization.to_state_dict(target)
    found = _select(_without_value_keys(_flat(raw)), _flat(like), path, name)
    restored = _unflatten({k: np.asarray(found[k]).astype(np.asarray(v).dtype)
                           for k, v in _flat(like).items()})
    if is_state:
        nnx.replace_by_pure_dict(target, restored)
        return target
    return serialization.from_state_dict(target, restored)


def _read(path: Path, name: str):
    if path.is_dir():
        import orbax.checkpoint as ocp

        try:
            with warnings.catch_warnings():  # restored to the host: no sharding to keep
                warnings.filterwarnings("ignore", "Sharding info not provided", UserWarning)
                return ocp.PyTreeCheckpointer().restore(path.resolve())
        except (ValueError, OSError, KeyError) as err:
            raise JaxinterInputError(
                f"{name}: cannot read the Orbax checkpoint {path}: {err}") from err
    if not path.is_file():
        raise JaxinterInputError(f"{name}: no file or directory {path}")
    try:
        return serialization.msgpack_restore(path.read_bytes())
    except Exception as err:  # msgpack raises its own exception types
        raise JaxinterInputError(
            f"{name}: {path} is neither an Orbax checkpoint directory nor a Flax msgpack "
            f"file: {err}") from err


def _flat(tree) -> dict[tuple[str, ...], Any]:
    """{key path: leaf} of nested mappings."""
    out = {}
    for key, value in (tree.items() if isinstance(tree, Mapping) else ()):
        if isinstance(value, Mapping):
            out.update({(str(key), *k): v for k, v in _flat(value).items()})
        else:
            out[(str(key),)] = value
    return out


def _without_value_keys(flat: dict) -> dict:
    """Key paths without the trailing ``value`` of NNX Variables saved by Orbax."""
    return {k[:-1] if len(k) > 1 and k[-1] == "value" else k: v for k, v in flat.items()}


def _unflatten(flat: dict[tuple[str, ...], Any]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
    return out


def _select(raw: dict, like: dict, path: Path, name: str) -> dict:
    """The checkpoint arrays that fill ``like``: the whole tree, or the target's collections
    inside a larger tree (e.g. a train state), or Linen ``params`` alone."""
    tops, raw_tops = {k[0] for k in like}, {k[0] for k in raw}
    if tops <= raw_tops:
        raw = {k: v for k, v in raw.items() if k[0] in tops}
    elif "params" in tops and "params" not in raw_tops:  # Linen params saved alone
        raw = {("params", *k): v for k, v in raw.items()}
    missing = sorted(set(like) - set(raw))
    unexpected = sorted(set(raw) - set(like))
    shapes = [(k, np.shape(raw[k]), np.shape(like[k])) for k in sorted(set(like) & set(raw))
              if np.shape(raw[k]) != np.shape(like[k])]
    if missing or unexpected or shapes:
        raise JaxinterInputError(
            f"{name}: {path} does not fit the model: "
            + "; ".join(part for part in (
                _listed("missing", missing), _listed("unexpected", unexpected),
                _listed("shape", [f"{'/'.join(k)} {a} in the file, {b} in the model"
                                  for k, a, b in shapes]))
                if part))
    return raw


def _listed(what: str, items: list) -> str:
    if not items:
        return ""
    names = [i if isinstance(i, str) else "/".join(i) for i in items[:SHOWN]]
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{what} {', '.join(names)}{more}"

