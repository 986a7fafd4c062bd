"""Chunked, jitted evaluation of a model on all 2**n masked versions of each sample.

The work is the flat list of ``samples * 2**n`` rows ``r``, row r being subset ``r & (2**n - 1)``
of sample ``r >> n``. It is streamed under ``jit`` in fixed chunks of ``chunk_size`` rows
(``lax.map`` over chunk starts; the last chunk is padded and the padding dropped). Each chunk
builds its masks on device from the subset indices (``Players.keep_mask``), runs the model
once on the ``(chunk_size, *input_shape)`` batch, and reduces every captured layer to a score
through its readout before the next chunk starts. Peak memory is therefore one chunk of inputs
and features plus the ``(samples, layers, 2**n)`` result, independent of ``2**n x features``, and
each row's result does not depend on ``chunk_size``.

With ``mesh=`` the samples are split over the devices (``shard_map``): each device runs the
chunk loop over its own samples, so with D devices each runs 1/D of the chunks, and the memory
plan is per device (``jaxinter.distributed.local_memory_limit``). See docs/distributed.md.

Scores follow the subset convention of ``jaxinter.interactions``: entry S of the last axis is
the score of the input that keeps exactly the players in S (bit i = player i). See
docs/conventions.md#memory-planning-and-chunking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from math import prod

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ..distributed import (
    default_mesh,
    local_memory_limit,
    pad_to_multiple,
    replicate,
    shard_rows,
    split_axis,
)
from ..errors import JaxinterInputError, check_bool, check_callable, check_int, check_shape
from ._players import Players, check_baseline, check_samples
from ._scores import check_target, get_score

OUTPUT = "output"  # name of the network output among the layer scores


class _Static:
    """Hashable-by-identity wrapper so any callable can be a static argument of ``jit``."""

    def __init__(self, fn):
        self.fn = fn

    def __hash__(self):
        return id(self.fn)

    def __eq__(self, other):
        return isinstance(other, _Static) and other.fn is self.fn


def _partition(tree):
    """Split a pytree of callables into its array leaves (traced) and a static rest.

    Array leaves (e.g. the variables of a ``jaxinter.masking.CapturedFn``) become ``jit``
    arguments, so new weights reuse the compiled kernel; other leaves (plain functions, names)
    are static.
    """
    leaves, treedef = jax.tree.flatten(tree)
    arrays = [isinstance(leaf, jax.Array | np.ndarray) for leaf in leaves]
    dynamic = [leaf for leaf, a in zip(leaves, arrays, strict=True) if a]
    static = tuple(None if a else _Static(leaf) for leaf, a in zip(leaves, arrays, strict=True))
    return dynamic, (treedef, static)


def _combine(dynamic, spec):
    treedef, static = spec
    dynamic = iter(dynamic)
    return jax.tree.unflatten(treedef, [next(dynamic) if s is None else s.fn for s in static])


def masked_scores(
    apply_fn: Callable,
    x,
    players: Players,
    baseline,
    target,
    chunk_size: int = 256,
    score: str | Callable = "log_odds",
    *,
    memory_limit: int | None = None,
    check_values: bool = True,
    mesh: Mesh | None = None,
    mesh_axis: str | None = None,
) -> jax.Array:
    """Scores of the target class on every masked input: the games of the samples.

    The ``samples * 2**n`` masked inputs are streamed under ``jit`` in chunks of
    ``chunk_size`` rows; the result does not depend on ``chunk_size``.

    Args:
      apply_fn: ``(batch, *input_shape) -> logits (batch, classes)``.
      x: ``(samples, *input_shape)`` inputs to explain.
      players: shared or per-sample ``Players``.
      baseline: ``input_shape`` or ``(samples, *input_shape)``.
      target: ``(samples,)`` integer classes.
      chunk_size: masked inputs per model call.
      score: "log_odds", "logit", "probability" or a callable
        ``(logits, target) -> (batch,)``.
      memory_limit: bytes available on one device (default: the memory of a local device,
        host RAM shared by the local devices on CPU); configurations that obviously exceed it
        are refused before compiling.
      check_values: scan x for NaN and infinite values and target for labels out of range
        (on device for arrays that live there; see ``jaxinter.errors``).
      mesh: a ``jax.sharding.Mesh`` to split the samples over (one process or many; see
        ``jaxinter.distributed.global_mesh``). Each device runs the chunk loop over its own
        samples only; samples are padded to a multiple of the device count (copies of the
        last one) and the padding dropped. The scores equal the single-device ones bitwise.
      mesh_axis: the mesh axis to split over (None: the mesh's only axis).

    Returns:
      ``(samples, 2**n)`` scores, subset axis last, dtype of x; with ``mesh``, split over the
      mesh axis along samples (replicated when the samples needed padding). Without ``mesh``
      inside ``jaxinter.distributed.using_mesh(mesh)``: computed on that mesh, replicated.
    """
    scores = _evaluate(
        apply_fn,
        x,
        players,
        baseline,
        target,
        captured=False,
        readouts=None,
        chunk_size=chunk_size,
        score=score,
        include_output=True,
        memory_limit=memory_limit,
        check_values=check_values,
        mesh=mesh,
        mesh_axis=mesh_axis,
    )
    return scores[:, 0]


def masked_layer_scores(
    captured_fn: Callable,
    readouts: Mapping[str, Callable] | Callable | None,
    x,
    players: Players,
    baseline,
    target,
    chunk_size: int = 256,
    score: str | Callable = "log_odds",
    include_output: bool = True,
    *,
    memory_limit: int | None = None,
    check_values: bool = True,
    mesh: Mesh | None = None,
    mesh_axis: str | None = None,
) -> jax.Array:
    """Scores of every captured layer (through its readout) on every masked input.

    One streamed pass evaluates the model once per chunk and reduces every layer's features to
    a score before the next chunk, so peak memory does not grow with the feature sizes.

    Args:
      captured_fn: ``(batch, *input_shape) -> (logits, {layer name: (batch, ...)})``, e.g. a
        ``CapturedFn``.
      readouts: ``{layer name: features -> logits (batch, classes)}`` (e.g.
        ``ProbeSet.readouts()``), one function applied to every captured layer, or None
        (output only).
      x: ``(samples, *input_shape)`` inputs to explain.
      players: shared or per-sample ``Players``.
      baseline: ``input_shape`` or ``(samples, *input_shape)``.
      target: ``(samples,)`` integer classes.
      chunk_size: masked inputs per model call.
      score: as in ``masked_scores``, applied to every layer's logits.
      include_output: append the network output as the last layer.
      memory_limit, check_values, mesh, mesh_axis: as in ``masked_scores``.

    Returns:
      ``(samples, layers, 2**n)`` scores; layers ordered as ``readouts`` (or as the captured
      features for a single function), the output last; ``score_layer_names`` lists them.
    """
    return _evaluate(
        captured_fn,
        x,
        players,
        baseline,
        target,
        captured=True,
        readouts=readouts,
        chunk_size=chunk_size,
        score=score,
        include_output=include_output,
        memory_limit=memory_limit,
        check_values=check_values,
        mesh=mesh,
        mesh_axis=mesh_axis,
    )


def score_layer_names(
    captured_fn, readouts, input_shape, dtype=jnp.float32, include_output: bool = True
) -> list[str]:
    """Names of the layers along axis 1 of ``masked_layer_scores``.

    Args:
      captured_fn: as in ``masked_layer_scores``.
      readouts: as in ``masked_layer_scores``.
      input_shape: shape of one sample.
      dtype: input dtype used to trace the model.
      include_output: as in ``masked_layer_scores``.

    Returns:
      List of layer names, ``OUTPUT`` ("output") last when ``include_output``.
    """
    check_callable(captured_fn, "captured_fn")
    input_shape = check_shape(input_shape, "input_shape")
    check_bool(include_output, "include_output")
    example = jax.ShapeDtypeStruct((1, *input_shape), dtype)
    resolved, _ = _resolve_readouts(captured_fn, True, readouts, example)
    return [name for name, _ in resolved] + [OUTPUT] * include_output


# ---------------------------------------------------------------------------------------------
# validation (host side, before tracing)


def _resolve_readouts(fn, captured, readouts, example):
    """((name, readout), ...) and the abstract outputs (logits, features) of one example row."""
    try:
        out = jax.eval_shape(fn, example)
    except Exception as err:  # the user's model failed on a batch of input_shape
        raise JaxinterInputError(
            f"apply_fn: could not be evaluated on a batch of shape {example.shape}: {err}"
        ) from err
    if captured:
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping)):
            raise JaxinterInputError(
                "captured_fn: expected a function x -> (logits, {layer name: features})"
            )
        logits, features = out
    else:
        logits, features = out, {}
    if readouts is None:
        pairs = ()
    elif callable(readouts):
        pairs = tuple((name, readouts) for name in features)
    elif isinstance(readouts, Mapping):
        missing = [name for name in readouts if name not in features]
        if missing:
            raise JaxinterInputError(
                f"readouts: layers {missing} are not captured; captured layers: {list(features)}"
            )
        pairs = tuple(readouts.items())
    else:
        raise JaxinterInputError("readouts: expected a dict name -> fn, a single fn, or None")
    return pairs, (logits, features)


def _check_logits(shape, what: str) -> int:
    if len(shape) != 2 or shape[0] != 1:
        raise JaxinterInputError(
            f"{what}: expected logits of shape (batch, classes), got {tuple(shape)} "
            "for a batch of one"
        )
    return shape[1]


def _value_bytes(jaxpr) -> list[int]:
    """Bytes of every value a jaxpr computes, nested jaxprs (jit, scan bodies) included."""
    sizes = []
    for eqn in jaxpr.eqns:
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            sizes += _value_bytes(sub)
        for v in eqn.outvars:
            aval = v.aval
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                sizes.append(prod(aval.shape) * aval.dtype.itemsize)
    return sizes


def row_bytes(fn, shape, dtype, features) -> int:
    """Working memory per masked input row, in bytes, for the memory plan.

    The masked input and its sources (x and baseline rows), every captured feature, and twice
    the largest intermediate value of ``fn`` (an operand and its result are alive together).
    The per-row size of each intermediate is its size at batch 2 minus its size at batch 1, so
    weights and other batch-independent values do not count per row.
    """
    one, two = (
        _value_bytes(jax.make_jaxpr(fn)(jax.ShapeDtypeStruct((b, *shape), dtype)).jaxpr)
        for b in (1, 2)
    )
    if len(one) == len(two):
        largest = max((b - a for a, b in zip(one, two, strict=True)), default=0)
    else:  # batch-dependent program structure: assume everything scales with the batch
        largest = max(two, default=0) // 2
    inputs = 3 * prod(shape) * jnp.dtype(dtype).itemsize
    return inputs + sum(f.size * f.dtype.itemsize for f in jax.tree.leaves(features)) + 2 * largest


def _check_memory(n, samples, layers, chunk, row_bytes, itemsize, limit):
    """Refuse configurations whose result or chunk obviously cannot fit in ``limit`` bytes."""
    rows = samples << n
    if rows >= 2**31:
        raise JaxinterInputError(
            f"n = {n} players x {samples} samples = {rows} masked inputs exceeds 2**31 rows; "
            "split the samples into several calls or use fewer players"
        )
    result = 2 * rows * layers * itemsize  # the result plus its reordered copy
    work = chunk * row_bytes
    if result + work > limit:
        gib = 2.0**30
        raise JaxinterInputError(
            f"masked evaluation needs about {(result + work) / gib:.1f} GiB "
            f"(results: n = {n} players -> 2**{n} subsets x {samples} samples x {layers} layers "
            f"= {result / gib:.2f} GiB; one chunk: chunk_size = {chunk} rows x "
            f"{row_bytes / 2**20:.2f} MiB = {work / gib:.2f} GiB) but the limit is "
            f"{limit / gib:.1f} GiB; lower n, chunk_size or the number of samples per call"
        )


def _evaluate(
    fn,
    x,
    players,
    baseline,
    target,
    *,
    captured,
    readouts,
    chunk_size,
    score,
    include_output,
    memory_limit,
    check_values,
    mesh,
    mesh_axis,
):
    if not callable(fn):
        raise JaxinterInputError(f"{'captured_fn' if captured else 'apply_fn'}: expected a "
                                 f"function of a batch of inputs, got {fn!r}")
    check_int(chunk_size, "chunk_size", 1)
    check_bool(include_output, "include_output")
    x = check_samples(x, players, check_values=check_values)
    shape, samples = players.input_shape, x.shape[0]
    baseline = check_baseline(baseline, shape, samples).astype(x.dtype)
    if not include_output and not readouts:
        raise JaxinterInputError("readouts: nothing to score (no readouts, include_output=False)")
    score_fn = get_score(score)

    example = jax.ShapeDtypeStruct((1, *shape), x.dtype)
    pairs, (logits, features) = _resolve_readouts(fn, captured, readouts, example)
    if not isinstance(target, jax.Array):
        target = np.asarray(target)
    if target.shape != (samples,):
        raise JaxinterInputError(
            f"target: expected shape ({samples},) (one label per sample), got {target.shape}"
        )
    what = "captured_fn" if captured else "apply_fn"
    outputs = [_check_logits(logits.shape, what)] if include_output else []
    for name, readout in pairs:
        try:
            out = jax.eval_shape(readout, features[name])
        except Exception as err:
            raise JaxinterInputError(f"readouts[{name!r}]: failed on its features: {err}") from err
        outputs.append(_check_logits(out.shape, f"readouts[{name!r}]"))
    for classes in set(outputs) if check_values else ():
        check_target(target, classes)

    scope = default_mesh() if mesh is None else None
    if scope is not None:  # inside using_mesh: split the work, return the result whole
        mesh, mesh_axis = scope
    devices = 1 if mesh is None else split_axis(mesh, mesh_axis)[1]
    shard_samples = -(-samples // devices)
    chunk = min(chunk_size, shard_samples << players.n)
    bytes_per_row = row_bytes(fn, shape, x.dtype, features)
    limit = local_memory_limit() if memory_limit is None else memory_limit
    _check_memory(players.n, shard_samples, len(outputs), chunk, bytes_per_row,
                  x.dtype.itemsize, limit)

    dynamic, spec = _partition((fn, pairs, score_fn))
    options = dict(spec=spec, captured=captured, include_output=include_output, chunk=chunk)
    target = target.astype(jnp.int32)
    if mesh is None:
        return masked_kernel(x, baseline, players, jnp.asarray(target), dynamic, **options)
    out = _split_samples(x, baseline, players, target, dynamic, mesh, mesh_axis, options)
    return out if scope is None else replicate(out, mesh)


def _split_samples(x, baseline, players, target, dynamic, mesh, mesh_axis, options):
    """``sharded_masked_kernel`` on inputs padded to a multiple of the device count and placed
    on the mesh (split along samples, or replicated); the padding is dropped after."""
    axis, devices = split_axis(mesh, mesh_axis)
    per_sample_baseline = baseline.ndim == x.ndim
    split = [x, target] + [baseline] * per_sample_baseline + [players.assignment] * (
        players.per_sample)
    split = [shard_rows(pad_to_multiple(a, devices)[0], mesh, axis) for a in split]
    baseline = split[2] if per_sample_baseline else replicate(baseline, mesh)
    players = players.replace(assignment=split[-1] if players.per_sample
                              else replicate(players.assignment, mesh))
    out = sharded_masked_kernel(split[0], baseline, players, split[1], replicate(dynamic, mesh),
                                mesh=mesh, axis=axis, **options)
    return out if out.shape[0] == x.shape[0] else out[:x.shape[0]]


# ---------------------------------------------------------------------------------------------
# the kernel


@partial(jax.jit, static_argnames=("spec", "captured", "include_output", "chunk", "mesh",
                                   "axis"))
def sharded_masked_kernel(x, baseline, players, target, dynamic, *, spec, captured,
                          include_output, chunk, mesh, axis):
    """``masked_kernel`` with the samples split over ``axis`` of ``mesh`` (``shard_map``).

    x, target and per-sample baselines and players are split along samples (a multiple of the
    axis size); weights, shared baselines and players are replicated. Each device runs the
    chunk loop over its own samples; the result stays split along samples.
    """
    split, whole = P(axis), P()
    in_specs = (split, whole if baseline.ndim == x.ndim - 1 else split,
                players.replace(assignment=split if players.per_sample else whole), split, whole)
    body = partial(masked_kernel, spec=spec, captured=captured, include_output=include_output,
                   chunk=chunk)
    return jax.shard_map(body, mesh=mesh, in_specs=in_specs, out_specs=split)(
        x, baseline, players, target, dynamic)


@partial(jax.jit, static_argnames=("spec", "captured", "include_output", "chunk"))
def masked_kernel(x, baseline, players, target, dynamic, *, spec, captured, include_output, chunk):
    """Unchecked kernel of ``masked_layer_scores``: (samples, layers, 2**n) scores.

    Rows ``r`` (sample ``r >> n``, subset ``r & (2**n - 1)``) are streamed in chunks of
    ``chunk`` with ``lax.map``; ``spec`` holds the static parts of the model and readouts.
    """
    fn, readouts, score = _combine(dynamic, spec)
    samples, n = x.shape[0], players.n
    total = samples << n
    num_chunks = -(-total // chunk)
    shared_baseline = baseline.ndim == x.ndim - 1

    def one_chunk(start):
        rows = start + jnp.arange(chunk, dtype=jnp.int32)
        sample = jnp.minimum(rows >> n, samples - 1)  # padded rows repeat the last sample
        subset = rows & (2**n - 1)
        b = baseline if shared_baseline else baseline[sample]
        inputs = players.apply(x[sample], b, subset, sample)
        out = fn(inputs)
        logits, features = out if captured else (out, None)
        t = target[sample]
        values = [score(readout(features[name]), t) for name, readout in readouts]
        if include_output:
            values.append(score(logits, t))
        return jnp.stack(values)  # (layers, chunk)

    starts = jnp.arange(num_chunks, dtype=jnp.int32) * chunk
    out = jax.lax.map(one_chunk, starts)  # (chunks, layers, chunk)
    layers = out.shape[1]
    out = jnp.moveaxis(out, 1, 0).reshape(layers, num_chunks * chunk)[:, :total]
    return jnp.moveaxis(out.reshape(layers, samples, 2**n), 0, 1)
