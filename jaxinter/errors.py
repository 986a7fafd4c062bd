"""Input validation shared by every module: the lowest layer of jaxinter (rank 0).

Bad input raises ``JaxinterInputError`` (a ``ValueError``) before anything is traced, with a
message of the form "argument: expected X, got Y". A training run whose loss becomes NaN or
infinite raises ``JaxinterTrainingError`` (a ``FloatingPointError``) naming the step. The
validators below are the one place each kind of argument is checked:

- ``array_spec``, ``check_real_array``, ``check_real_dtype``: shape and dtype read before any
  conversion (None, strings, objects, complex or boolean arrays never reach JAX);
- ``check_game``, ``check_subset_axis``, ``check_subset_sums``: game values or interactions of
  shape ``(..., 2**n)``, n from the shape alone, sums over subsets that fit the dtype;
- ``check_floating``, ``check_finite``: real floating dtype, no NaN or infinite values;
- ``check_labels``: integer class labels;
- ``check_bool_mask``: boolean masks such as salient sets;
- ``n_players_from_size``: n from the length ``2**n`` of a subset axis;
- ``check_int``, ``check_number``, ``check_choice``, ``check_int_list``, ``check_axis``:
  hyperparameters (counts, ranges, finite numbers, options, axes that never wrap);
- ``check_bool``, ``check_callable``, ``check_mapping``, ``check_names``, ``check_key``,
  ``check_pytree``: flags, functions, dicts of options, names among known ones (layers),
  ``jax.random`` keys, model parameters;
- ``check_instance``, ``check_shape``, ``check_path``, ``check_text``: objects of a jaxinter
  type (results, configs, models), shapes of one sample, file and folder paths (existing, or
  where one can be written), strings;
- ``is_device_array``, ``device_scalars``, ``value_range``: value checks of arrays that stay
  on their devices (sharded, multi-process or accelerator arrays).

Shape, dtype and hyperparameter checks also run on tracers (under ``jit``); value checks
(NaN/inf, ranges of labels, overflow) need concrete arrays and are skipped while tracing.
Host arrays are scanned in numpy. Arrays that live on an accelerator, on several devices or on
devices of other processes are scanned where they live: ``device_scalars`` runs one jitted
reduction whose result is replicated on every device, so every process reads the same flag and
no data is copied to a host (``is_device_array`` says which path an array takes;
``value_range`` gives its minimum and maximum either way). Every checking function takes
``check_values=False`` (or is simply not called) to skip the scan. See docs/conventions.md#errors
and docs/distributed.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

MAX_PLAYERS = 30  # 2**30 float32 values are 4 GiB per game: the largest n we accept.
MAX_CLASSES = 100_000  # per-class arrays (means, counts) are sized by the number of classes
MAX_SEED = 2**31 - 2  # a seed and the next one (a second model) fit int32


class JaxinterInputError(ValueError):
    """Bad input to a jaxinter function.

    The message starts with the argument's name, then says what was expected and what was
    received: ``"u: the last (subset) axis must have length 2**n, got 6"``.
    """


class JaxinterTrainingError(FloatingPointError):
    """Training diverged: the loss became NaN or infinite.

    Not an input error (the inputs were valid); the message names the first optimizer step
    whose loss was not finite, e.g. ``"training: the loss is nan at step 37 (member 2); lower
    the learning rate"``.
    """


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def n_players_from_size(size: int, name: str, max_players: int = MAX_PLAYERS) -> int:
    """The number of players n of a subset axis of length ``2**n``.

    Args:
      size: length of the subset axis.
      name: argument name for the error message.
      max_players: largest accepted n (30 by default).

    Returns:
      n, with ``size == 2**n`` and ``1 <= n <= max_players``.

    Raises:
      JaxinterInputError: if ``size`` is not a power of two or n is out of range.
    """
    if size < 1 or size & (size - 1):
        raise JaxinterInputError(
            f"{name}: the last (subset) axis must have length 2**n, got {size}"
        )
    n = size.bit_length() - 1
    if not 1 <= n <= max_players:
        raise JaxinterInputError(
            f"{name}: n = {n} players is outside the supported range 1..{max_players}"
        )
    return n


def array_spec(x, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an array-like, read without copying it to a device.

    JAX arrays and tracers (and numpy arrays) give their ``.shape`` and ``.dtype``; other
    inputs (Python numbers, nested lists) are converted on the host only.

    Args:
      x: array-like.
      name: argument name for the error message.

    Returns:
      ``(shape, dtype)``.

    Raises:
      JaxinterInputError: on None, strings, mappings, ragged lists and object or string
        arrays.
    """
    if x is None or isinstance(x, str | bytes | dict):
        raise JaxinterInputError(f"{name}: expected an array, got {type(x).__name__} {x!r:.40}")
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        shape, dtype = tuple(x.shape), np.dtype(x.dtype)
    else:
        try:
            host = np.asarray(x)
        except (ValueError, TypeError) as err:
            raise JaxinterInputError(f"{name}: expected an array, got {x!r:.60}") from err
        shape, dtype = host.shape, host.dtype
    if dtype.kind in "OSUVmM":
        raise JaxinterInputError(f"{name}: expected a numeric array, got dtype {dtype}")
    return shape, dtype


def check_real_array(x, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a real array (floating, integer or boolean), checked before any
    conversion; complex numbers, strings and objects are refused.

    Args:
      x: array-like (a tracer too).
      name: argument name for the error message.

    Returns:
      ``(shape, dtype)``.
    """
    shape, dtype = array_spec(x, name)
    if dtype.kind not in "fiub":
        raise JaxinterInputError(f"{name}: expected a real array, got dtype {dtype}")
    return shape, dtype


def check_real_dtype(x, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``x`` after checking (before any conversion) that it is a real
    floating array; integers, booleans, complex numbers, strings and objects are refused.

    Args:
      x: array-like (a tracer too: only its abstract shape and dtype are read).
      name: argument name for the error message.

    Returns:
      ``(shape, dtype)``.

    Raises:
      JaxinterInputError: naming the dtype received.
    """
    shape, dtype = array_spec(x, name)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise JaxinterInputError(
            f"{name}: expected a real floating-point array, got dtype {dtype}"
        )
    return shape, dtype


def check_floating(x, name: str):
    """``x`` as a jax array with a real floating dtype.

    The dtype is checked before the conversion (``check_real_dtype``), so None, strings and
    object arrays never reach JAX.

    Args:
      x: array-like.
      name: argument name for the error message.

    Returns:
      ``jnp.asarray(x)``, unchanged.

    Raises:
      JaxinterInputError: if the dtype is not a real floating type (integers, booleans and
        complex numbers are refused).
    """
    check_real_dtype(x, name)
    return jnp.asarray(x)


def check_finite(x, name: str) -> None:
    """Check that a concrete array holds no NaN or infinite values (no-op on tracers).

    Host arrays are scanned in numpy, device arrays on their devices (``is_device_array``);
    both also work while an outer ``jit`` is tracing.

    Args:
      x: array, or a tracer (then nothing is checked).
      name: argument name for the error message.

    Raises:
      JaxinterInputError: naming the number of bad values.
    """
    if not _is_concrete(x):
        return
    if is_device_array(x):
        (bad,) = device_scalars(_count_nonfinite, x)
    else:
        finite = np.isfinite(np.asarray(x))
        bad = int(finite.size - np.count_nonzero(finite))
    if bad:
        raise JaxinterInputError(f"{name}: contains {int(bad)} NaN or infinite values")


# ---------------------------------------------------------------------------------------------
# value checks on device: global (sharded, multi-process) and accelerator arrays


def is_device_array(x) -> bool:
    """True if ``x``'s values are checked where they live rather than copied to the host.

    That is a concrete ``jax.Array`` on several devices, on devices of other processes, or on
    an accelerator; a single-device CPU array is read in place by numpy (no copy).
    """
    if not isinstance(x, jax.Array) or not _is_concrete(x):
        return False
    devices = x.sharding.device_set
    return (not x.is_fully_addressable or len(devices) > 1
            or next(iter(devices)).platform != "cpu")


def device_scalars(fn, *arrays) -> tuple:
    """``fn(*arrays)`` (a tuple of scalars) computed on the arrays' devices, read on the host.

    One jitted reduction; its outputs are replicated over the first array's mesh, so every
    process reads the same values and no array data leaves its device. Works while an outer
    ``jit`` is tracing (the arrays must be concrete).

    Args:
      fn: ``(*arrays) -> tuple of scalars``.
      arrays: concrete ``jax.Array`` s.

    Returns:
      The scalars as numpy values.
    """
    sharding = arrays[0].sharding
    replicated = (jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
                  if isinstance(sharding, jax.sharding.NamedSharding) else None)
    with jax.ensure_compile_time_eval():
        out = jax.jit(fn, out_shardings=replicated)(*arrays)
    return tuple(np.asarray(value) for value in out)


def _count_nonfinite(x):
    return (jnp.sum(~jnp.isfinite(x)),)


def _max_abs(x):
    return (jnp.max(jnp.abs(x)),)


def _min_max(x):
    return jnp.min(x), jnp.max(x)


def value_range(x) -> tuple:
    """(minimum, maximum) of a non-empty concrete array, on device for device arrays."""
    if is_device_array(x):
        return device_scalars(_min_max, x)
    x = np.asarray(x)
    return x.min(), x.max()


def check_subset_axis(values, name: str) -> int:
    """The number of players n of a real array ``(..., 2**n)``, read from its shape alone
    (nothing is copied, tracers included).

    Args:
      values: real array (floating, integer or boolean), subset axis last.
      name: argument name for the error message.

    Returns:
      n, with ``1 <= n <= MAX_PLAYERS``.

    Raises:
      JaxinterInputError: on a non-real dtype, a scalar or a last axis that is not ``2**n``.
    """
    shape, _ = check_real_array(values, name)
    if not shape:
        raise JaxinterInputError(f"{name}: expected shape (..., 2**n), got a scalar")
    return n_players_from_size(shape[-1], name)


def check_game(values, name: str = "values", *, check_values: bool = True):
    """Validate game values (or interactions) of shape ``(..., 2**n)``.

    Type, dtype and shape (n) are checked before the conversion to a jax array, also on
    tracers; the value checks need a concrete array and are skipped under ``jit``.

    Args:
      values: real floating array, subset axis last.
      name: argument name for the error message.
      check_values: also scan for NaN and infinite values and for magnitudes whose sums over
        ``2**n`` subsets would overflow the dtype (``check_subset_sums``); skip it for huge
        arrays known to be finite.

    Returns:
      ``(values as a jax array, n)``.

    Raises:
      JaxinterInputError: on None, strings, objects, a scalar, a last axis that is not
        ``2**n`` with ``1 <= n <= 30``, a non-floating dtype, or (with ``check_values``)
        non-finite or overflowing values.
    """
    check_real_dtype(values, name)
    n = check_subset_axis(values, name)  # from the shape alone: nothing copied yet
    values = jnp.asarray(values)
    if check_values:
        check_finite(values, name)
        check_subset_sums(values, name, n)
    return values, n


def check_subset_sums(values, name: str, n: int) -> None:
    """Check that sums over ``2**n`` subsets of concrete values cannot overflow their dtype
    (no-op on tracers).

    Transforms add up to ``2**n`` values, so finite inputs whose magnitude exceeds
    ``finfo(dtype).max / 2**n`` could return inf; they are refused instead.

    Args:
      values: ``(..., 2**n)`` finite floating array, or a tracer.
      name: argument name for the error message.
      n: number of players.

    Raises:
      JaxinterInputError: naming the largest magnitude and the bound.
    """
    if not _is_concrete(values) or not values.size:
        return
    bound = float(jnp.finfo(values.dtype).max) / 2**n
    if is_device_array(values):
        (largest,) = device_scalars(_max_abs, values)
    else:
        largest = np.max(np.abs(np.asarray(values)))
    largest = float(largest)
    if largest > bound:
        raise JaxinterInputError(
            f"{name}: expected magnitudes <= {bound:.3g} (sums over 2**{n} subsets must fit "
            f"{values.dtype}), got {largest:.3g}; rescale the values or use float64"
        )


def check_labels(labels, name: str = "labels", *, num_samples: int | None = None,
                 num_classes: int | None = None) -> np.ndarray:
    """Class labels as a host int32 array.

    Args:
      labels: ``(n,)`` integer labels (booleans count as 0 and 1).
      name: argument name for the error message.
      num_samples: required length, if given.
      num_classes: labels must lie in ``0..num_classes - 1``, if given (at most
        ``MAX_CLASSES``).

    Returns:
      ``(n,)`` int32 numpy array; device arrays (``is_device_array``) are checked on their
      devices and returned as int32 ``jax.Array`` s, so labels split over processes never come
      to a host (under ``jit``, the traced labels as int32: the range checks need concrete
      values and are skipped).

    Raises:
      JaxinterInputError: on another shape or dtype, a wrong length, or a label out of range.
    """
    num_classes = check_int(num_classes, "num_classes", 1, MAX_CLASSES, optional=True)
    shape, dtype = array_spec(labels, name)
    if len(shape) != 1 or not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
        raise JaxinterInputError(
            f"{name}: expected a 1-d array of integer class labels, got shape {shape}, "
            f"dtype {dtype}"
        )
    if num_samples is not None and shape[0] != num_samples:
        raise JaxinterInputError(
            f"{name}: expected one label per sample ({num_samples}), got {shape[0]}"
        )
    if not _is_concrete(labels):
        return labels.astype(jnp.int32)
    y = labels if is_device_array(labels) else np.asarray(labels)
    low, high = value_range(y) if y.size else (0, 0)
    if low < 0:
        raise JaxinterInputError(f"{name}: class labels must be >= 0, got {int(low)}")
    if num_classes is not None and high >= num_classes:
        raise JaxinterInputError(
            f"{name}: label {int(high)} outside 0..{num_classes - 1} ({num_classes} classes)"
        )
    return y.astype(jnp.int32 if is_device_array(y) else np.int32)


def check_bool_mask(mask, name: str, *, like_shape: tuple[int, ...] | None = None,
                    same_shape: bool = False):
    """A boolean mask (a salient set, a selection) as a jax array.

    Args:
      mask: boolean array.
      name: argument name for the error message.
      like_shape: shape the mask must broadcast with, if given.
      same_shape: require the mask's shape to equal ``like_shape`` exactly.

    Returns:
      ``jnp.asarray(mask)``.

    Raises:
      JaxinterInputError: on a non-boolean dtype or an incompatible shape.
    """
    _, dtype = array_spec(mask, name)
    if dtype != np.bool_:
        raise JaxinterInputError(f"{name}: expected a boolean mask, got dtype {dtype}")
    mask = jnp.asarray(mask)
    if like_shape is not None:
        if same_shape and mask.shape != tuple(like_shape):
            raise JaxinterInputError(
                f"{name}: expected shape {tuple(like_shape)}, got {mask.shape}")
        try:
            jnp.broadcast_shapes(mask.shape, tuple(like_shape))
        except ValueError as err:
            raise JaxinterInputError(
                f"{name}: shape {mask.shape} does not broadcast with {tuple(like_shape)}"
            ) from err
    return mask


# ---------------------------------------------------------------------------------------------
# hyperparameters: one validator per kind, each naming the argument


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _bounds(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def check_int(value, name: str, low: int | None = None, high: int | None = None, *,
              optional: bool = False) -> int | None:
    """``value`` as an int in ``low..high`` (None passes when ``optional``); booleans and
    floats are refused."""
    if optional and value is None:
        return None
    if not _is_int(value) or (low is not None and value < low) or (
            high is not None and value > high):
        expected = "an integer" + _bounds(low, high) + (" or None" if optional else "")
        raise JaxinterInputError(f"{name}: expected {expected}, got {value!r}")
    return int(value)


def check_number(value, name: str, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False,
                 optional: bool = False) -> float | None:
    """``value`` as a finite real number within the bounds (open where asked; None passes when
    ``optional``); NaN, infinities, booleans and non-numbers are refused."""
    if optional and value is None:
        return None
    number = (_is_int(value) or isinstance(value, float | np.floating)) and math.isfinite(value)
    if (not number or (low is not None and (value <= low if low_open else value < low))
            or (high is not None and (value >= high if high_open else value > high))):
        expected = "a finite number" + _bounds(low, high, low_open, high_open)
        raise JaxinterInputError(f"{name}: expected {expected}, got {value!r}")
    return float(value)


def check_seed(value, name: str = "seed") -> int:
    """A PRNG seed: an int in ``0..MAX_SEED``."""
    return check_int(value, name, 0, MAX_SEED)


def check_choice(value, name: str, choices):
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, Hashable) or value not in tuple(choices):
        raise JaxinterInputError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def check_int_list(values, name: str, low: int | None = None, high: int | None = None, *,
                   distinct: bool = False) -> tuple[int, ...]:
    """A non-empty sequence (or 1-d integer array) of ints in ``low..high`` (distinct when
    asked), as a tuple."""
    if isinstance(values, np.ndarray | jax.Array) and values.ndim == 1 and _is_concrete(values):
        values = np.asarray(values).tolist()
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise JaxinterInputError(f"{name}: expected a non-empty list of integers, got {values!r}")
    out = tuple(check_int(v, f"{name}[{i}]", low, high) for i, v in enumerate(values))
    if distinct and len(set(out)) != len(out):
        raise JaxinterInputError(f"{name}: expected distinct values, got {list(out)}")
    return out


def check_axis(axis, name: str, ndim: int, *, optional: bool = False) -> int | None:
    """``axis`` of an array with ``ndim`` dimensions, as a non-negative int (negative axes count
    from the end; None passes when ``optional``); out-of-range axes never wrap."""
    axis = check_int(axis, name, -ndim, ndim - 1, optional=optional)
    return None if axis is None else axis % ndim


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool (numpy booleans too); 0, 1 and strings are refused."""
    if not isinstance(value, bool | np.bool_):
        raise JaxinterInputError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_callable(fn, name: str, *, optional: bool = False):
    """``fn`` if it is callable (None passes when ``optional``)."""
    if not (callable(fn) or (optional and fn is None)):
        raise JaxinterInputError(
            f"{name}: expected a function{' or None' * optional}, got {type(fn).__name__}")
    return fn


def check_mapping(value, name: str, *, optional: bool = True) -> Mapping | None:
    """``value`` if it is a mapping (a dict; None passes when ``optional``)."""
    if not (isinstance(value, Mapping) or (optional and value is None)):
        raise JaxinterInputError(
            f"{name}: expected a dict{' or None' * optional}, got {type(value).__name__}")
    return value


def check_names(values, name: str, known: Sequence[str]) -> tuple[str, ...]:
    """A non-empty sequence of distinct names, each among ``known`` (e.g. layer names), as a
    tuple; a single string is refused (it would be read letter by letter)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise JaxinterInputError(f"{name}: expected a non-empty list of names, got {values!r}")
    unknown = [v for v in values if not isinstance(v, str) or v not in known]
    if unknown:
        raise JaxinterInputError(f"{name}: expected names among {list(known)}, got {unknown}")
    if len(set(values)) != len(values):
        raise JaxinterInputError(f"{name}: expected distinct names, got {list(values)}")
    return tuple(values)


def check_key(key, name: str = "key", *, optional: bool = False):
    """``key`` if it is one ``jax.random`` key: a typed key of shape () (``jax.random.key``) or
    a legacy uint32 key of shape (2,) (``jax.random.PRNGKey``); None passes when ``optional``.
    Seeds (ints) and float arrays are refused. Tracers are checked by shape and dtype."""
    if optional and key is None:
        return None
    dtype, shape = getattr(key, "dtype", None), tuple(getattr(key, "shape", (None,)))
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    legacy = not typed and dtype == np.uint32 and shape == (2,)
    if not ((typed and shape == ()) or legacy):
        got = f"shape {shape}, dtype {dtype}" if dtype is not None else repr(key)
        raise JaxinterInputError(
            f"{name}: expected one jax.random key (jax.random.key(seed)), got {got:.80}")
    return key


def check_pytree(tree, name: str, *, strings: bool = False):
    """``tree`` if it is a non-empty pytree (e.g. model variables) whose leaves are numeric
    arrays, numbers, ``jax.random`` keys or abstract arrays (``jax.ShapeDtypeStruct``, as
    ``jax.eval_shape`` gives); None, strings (unless ``strings``: text stored beside arrays)
    and objects as leaves are refused. Shapes and dtypes only are read: nothing is copied."""
    leaves = jax.tree.leaves(tree)
    if not leaves or isinstance(tree, str | bytes):
        raise JaxinterInputError(f"{name}: expected a pytree of arrays, got {tree!r:.60}")
    for leaf in leaves:
        if strings and isinstance(leaf, str):
            continue
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or isinstance(leaf, np.ndarray | np.generic):
            array_spec(leaf, name)
        elif not (jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
                  or np.dtype(dtype).kind in "biufc"):
            raise JaxinterInputError(f"{name}: expected a numeric array, got dtype {dtype}")
    return tree


def check_instance(value, name: str, types, *, optional: bool = False):
    """``value`` if it is an instance of ``types`` (a class or a tuple of classes; None passes
    when ``optional``), e.g. a result dataclass, a config or a model."""
    if not (isinstance(value, types) or (optional and value is None)):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise JaxinterInputError(
            f"{name}: expected {names}{' or None' * optional}, got {type(value).__name__}")
    return value


def check_shape(value, name: str) -> tuple[int, ...]:
    """A shape of one sample: a non-empty sequence of ints >= 1, as a tuple."""
    if isinstance(value, np.ndarray | jax.Array) and value.ndim != 1:
        raise JaxinterInputError(f"{name}: expected a shape (a list of sizes), got {value!r:.60}")
    return check_int_list(value, name, 1)


def check_text(value, name: str, *, optional: bool = False, empty: bool = True) -> str | None:
    """``value`` if it is a string (non-empty unless ``empty``; None passes when
    ``optional``)."""
    if optional and value is None:
        return None
    if not isinstance(value, str) or (not empty and not value):
        raise JaxinterInputError(
            f"{name}: expected a{' non-empty' * (not empty)} string, got {value!r:.60}")
    return value


def check_path(value, name: str, *, exists: str | None = None, writable: str | None = None,
               optional: bool = False):
    """``value`` (a str or ``os.PathLike``) as a ``pathlib.Path``, ``~`` expanded.

    Args:
      value: the path.
      name: argument name for the error message.
      exists: None (anything), ``"file"``, ``"dir"`` or ``"any"``: what must exist there.
      writable: None, ``"file"`` or ``"dir"``: such a thing can be written there: no file
        stands where a folder is needed on the way, and no folder where a file goes (or a
        file where a folder goes). Nothing is created.
      optional: None passes (returned as None).

    Raises:
      JaxinterInputError: naming what is missing or in the way.
    """
    if optional and value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise JaxinterInputError(f"{name}: expected a file path, got {value!r:.60}")
    path = Path(value).expanduser()
    found = {"file": path.is_file, "dir": path.is_dir, "any": path.exists}
    if exists is not None and not found[exists]():
        what = {"file": "file", "dir": "directory", "any": "file or directory"}[exists]
        raise JaxinterInputError(f"{name}: no {what} {path}")
    if writable is not None:
        blocked = next((p for p in path.absolute().parents if p.exists() and not p.is_dir()),
                       None)
        if blocked is not None:
            raise JaxinterInputError(f"{name}: cannot write {path}: {blocked} is a file")
        if path.exists() and path.is_dir() != (writable == "dir"):
            other = "a folder" if path.is_dir() else "a file"
            raise JaxinterInputError(f"{name}: expected a {writable} path, {path} is {other}")
    return path
