"""Per-layer linear probes trained with optax on frozen features (Cheng et al. 2024).

The definitions are in docs/math/layerwise.md#probe-scores-of-a-layer.

A probe reads the features of one layer, ``(batch, ...)``, and returns class logits
``(batch, classes)``: ``logits = ((pool(f) - mean) / scale) @ w + b``. Features are flattened;
layers with spatial or token axes larger than ``max_dim`` are first average-pooled over those
axes by an integer factor (a fixed linear map, so the probe stays linear in the features).
Standardizing (training mean per feature, one scale per layer) is part of the probe, so probes
of layers with very different activation scales train with the same learning rate.

Training is full-dataset cross-entropy on the same task and data as the network, minibatch
AdamW in one ``lax.scan``. Layers whose flattened widths are equal are stacked and trained
together under ``vmap`` (one jitted call per distinct width), e.g. all hidden layers of an MLP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import (
    MAX_CLASSES,
    JaxinterInputError,
    check_callable,
    check_finite,
    check_int,
    check_int_list,
    check_key,
    check_labels,
    check_names,
    check_number,
    check_real_array,
    check_real_dtype,
)
from ..models import apply_in_batches


def pool_factor(shape: tuple[int, ...], max_dim: int) -> int:
    """The smallest average-pool factor that brings a feature map down to ``max_dim`` values.

    Args:
      shape: ``(batch, *mid, channels)`` shape of a layer's features.
      max_dim: largest flattened width per sample.

    Returns:
      k such that pooling the middle axes by k leaves at most ``max_dim`` values (1 for
      vectors and small maps).
    """
    shape = check_int_list(shape, "shape", 1)
    if len(shape) < 2:
        raise JaxinterInputError(f"shape: expected (batch, ..., channels), got {shape}")
    check_int(max_dim, "max_dim", 1)
    if len(shape) <= 2:
        return 1
    mid, channels = shape[1:-1], shape[-1]
    k = 1
    while channels * int(np.prod([-(-s // k) for s in mid])) > max_dim and k < max(mid):
        k += 1
    return k


def flatten_features(f: jax.Array, pool: int = 1) -> jax.Array:
    """Flatten a layer's features, average-pooling the middle axes first.

    Args:
      f: ``(batch, *mid, channels)`` features.
      pool: pooling factor over each middle axis (edges are padded by replication, so every
        window has ``pool`` entries per axis).

    Returns:
      ``(batch, d)`` features.
    """
    shape, _ = check_real_array(f, "f")
    if len(shape) < 2 or 0 in shape[1:]:
        raise JaxinterInputError(f"f: expected features (batch, ..., channels), got shape {shape}")
    check_int(pool, "pool", 1)
    f = jnp.asarray(f)
    if pool > 1:
        mid = f.ndim - 2
        f = jnp.pad(f, [(0, 0)] + [(0, -s % pool) for s in f.shape[1:-1]] + [(0, 0)], mode="edge")
        split = [d for s in f.shape[1:-1] for d in (s // pool, pool)]
        f = f.reshape(f.shape[0], *split, f.shape[-1])
        f = f.mean(axis=tuple(2 + 2 * i for i in range(mid)))
    return f.reshape(f.shape[0], -1)


@flax.struct.dataclass
class LinearProbe:
    """Linear classifier on one layer's features: ``probe(features) -> logits (batch, C)``.

    ``logits = ((flatten_features(features, pool) - mean) / scale) @ w + b``.

    Attributes:
      w: ``(d, C)`` weights.
      b: ``(C,)`` biases.
      mean: ``(d,)`` training mean of each flattened feature.
      scale: ``(d,)`` one scale per layer (repeated), the root mean feature variance.
      pool: average-pool factor of the middle axes (static).
    """

    w: jax.Array
    b: jax.Array
    mean: jax.Array
    scale: jax.Array
    pool: int = flax.struct.field(pytree_node=False, default=1)

    def __call__(self, features: jax.Array) -> jax.Array:
        f = flatten_features(features, self.pool)
        return ((f - self.mean) / self.scale) @ self.w + self.b


_FIELDS = ("w", "b", "mean", "scale")  # the array fields of LinearProbe


@flax.struct.dataclass
class ProbeSet:
    """Trained probes of several layers with their accuracies.

    Attributes:
      probes: ``{layer name: LinearProbe}`` in layer order.
      train_accuracy: ``{layer name: ()}`` accuracy on the training data.
      test_accuracy: ``{layer name: ()}`` accuracy on the test data (empty without test data).
    """

    probes: dict[str, LinearProbe]
    train_accuracy: dict[str, jax.Array]
    test_accuracy: dict[str, jax.Array]

    @property
    def names(self) -> list[str]:
        """The probed layers, in order."""
        return list(self.probes)

    def readouts(self) -> dict[str, Callable[[jax.Array], jax.Array]]:
        """``{layer name: features -> logits}``, as ``masked_layer_scores`` expects."""
        return dict(self.probes)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat ``{"<layer>|<field>": array}`` (for ``StageCache.put`` or ``np.savez``)."""
        out = {}
        for k, p in self.probes.items():
            out.update({f"{k}|{f}": np.asarray(getattr(p, f)) for f in _FIELDS})
            out[f"{k}|pool"] = np.asarray(p.pool)
            out[f"{k}|train_accuracy"] = np.asarray(self.train_accuracy[k])
            if k in self.test_accuracy:
                out[f"{k}|test_accuracy"] = np.asarray(self.test_accuracy[k])
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ProbeSet:
        """The inverse of ``to_arrays`` (layer order preserved)."""
        names = list(dict.fromkeys(k.split("|")[0] for k in arrays))
        get = lambda k, f: jnp.asarray(arrays[f"{k}|{f}"])  # noqa: E731
        probes = {k: LinearProbe(*(get(k, f) for f in _FIELDS), int(arrays[f"{k}|pool"]))
                  for k in names}
        train = {k: get(k, "train_accuracy") for k in names}
        test = {k: get(k, "test_accuracy") for k in names if f"{k}|test_accuracy" in arrays}
        return cls(probes, train, test)


def _extract(features_fn, x, names, pools, chunk_size) -> dict[str, np.ndarray]:
    """Flattened features of every layer for all of ``x``, computed in chunks, on host."""

    def flat(xb):
        feats = features_fn(xb)
        return {k: flatten_features(feats[k], pools[k]) for k in names}

    return apply_in_batches(flat, x, batch_size=chunk_size)


@jax.jit(static_argnames=("num_classes", "steps", "batch_size", "learning_rate", "weight_decay"))
def _fit_stack(feats, labels, key, *, num_classes, steps, batch_size, learning_rate,
               weight_decay):
    """Train a stack of probes at once. feats: (L, N, d) standardized; labels: (N,).

    Returns w (L, d, C), b (L, C). The loss is the sum of the per-layer mean cross-entropies,
    so the gradients of different layers are independent (training them together or alone
    gives the same probes).
    """
    n_layers, n, d = feats.shape
    params = (jnp.zeros((n_layers, d, num_classes), feats.dtype),
              jnp.zeros((n_layers, num_classes), feats.dtype))
    opt = optax.adamw(learning_rate, weight_decay=weight_decay)

    def loss_fn(params, idx):
        w, b = params
        logits = jax.vmap(lambda f, w, b: f[idx] @ w + b)(feats, w, b)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels[idx][None])
        return ce.mean(axis=-1).sum()

    def step(carry, k):
        params, state = carry
        idx = jax.random.choice(k, n, (min(batch_size, n),), replace=False)
        grads = jax.grad(loss_fn)(params, idx)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
    return params


def _standardizer(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and one scale per layer (root mean feature variance), as (d,) arrays.

    A single scale keeps the units' relative sizes: per-unit scaling would divide rarely
    active units by a tiny std and blow up on masked inputs, which leave the training
    distribution.
    """
    mean = flat.mean(0)
    scale = np.sqrt(np.mean(flat.var(0))) + 1e-6
    return mean, np.full_like(mean, scale)


def _accuracy(probe: LinearProbe, flat: np.ndarray, labels: np.ndarray) -> jax.Array:
    logits = ((jnp.asarray(flat) - probe.mean) / probe.scale) @ probe.w + probe.b
    return jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(labels))


def _labeled_data(x, y, split: str, num_classes: int, sample_shape=None):
    """(shape of ``x``, labels) of the ``x_{split}``, ``y_{split}`` pair, checked."""
    shape, _ = check_real_dtype(x, f"x_{split}")
    if len(shape) < 2 or not shape[0] or sample_shape not in (None, shape[1:]):
        expected = "*input_shape" if sample_shape is None else f"*{sample_shape}"
        raise JaxinterInputError(f"x_{split}: expected shape (N >= 1, {expected}), got {shape}")
    check_finite(x, f"x_{split}")
    return shape, check_labels(y, f"y_{split}", num_samples=shape[0], num_classes=num_classes)


def train_probes(
    features_fn: Callable[[jax.Array], dict[str, jax.Array]],
    x_train,
    y_train,
    num_classes: int,
    *,
    key: jax.Array,
    layers: list[str] | None = None,
    x_test=None,
    y_test=None,
    steps: int = 1000,
    batch_size: int = 256,
    learning_rate: float = 1e-2,
    weight_decay: float = 1e-4,
    max_dim: int = 8192,
    chunk_size: int = 512,
) -> ProbeSet:
    """Train one linear probe per layer on frozen features (cross-entropy, AdamW).

    Features are flattened (maps larger than ``max_dim`` average-pooled first) and
    standardized; layers of equal flattened width are trained together under ``vmap``, which
    gives the same probes as training each alone. See
    docs/math/layerwise.md#probe-scores-of-a-layer.

    Args:
      features_fn: ``x (batch, *input_shape) -> {layer name: (batch, ...)}``; for a captured
        model ``lambda x: captured(x)[1]``.
      x_train: ``(N, *input_shape)`` training inputs (the network's own training data).
      y_train: ``(N,)`` integer labels in ``0..num_classes - 1``.
      num_classes: number of classes.
      key: PRNG key for the minibatches.
      layers: names of the layers to probe (default: all, in order).
      x_test: optional test inputs for ``test_accuracy``.
      y_test: their labels.
      steps: optimizer steps.
      batch_size: minibatch size.
      learning_rate: AdamW learning rate.
      weight_decay: AdamW weight decay.
      max_dim: largest flattened width before pooling.
      chunk_size: samples per batch when extracting features.

    Returns:
      A ``ProbeSet``.
    """
    num_classes = _check_probe_options(features_fn, num_classes, key, steps, batch_size,
                                       learning_rate, weight_decay, max_dim, chunk_size)
    y_train, y_test, shapes = _check_probe_data(features_fn, x_train, y_train, x_test, y_test,
                                                num_classes)
    names = list(shapes if layers is None else check_names(layers, "layers", list(shapes)))
    pools = {k: pool_factor(shapes[k].shape, max_dim) for k in names}
    flat = _extract(features_fn, np.asarray(x_train), names, pools, chunk_size)
    probes = _fit_probes(flat, y_train, key, pools, num_classes=num_classes, steps=steps,
                         batch_size=batch_size, learning_rate=learning_rate,
                         weight_decay=weight_decay)
    train_acc = {k: _accuracy(probes[k], flat[k], y_train) for k in names}
    test_acc = {}
    if x_test is not None:
        flat_test = _extract(features_fn, np.asarray(x_test), names, pools, chunk_size)
        test_acc = {k: _accuracy(probes[k], flat_test[k], y_test) for k in names}
    return ProbeSet(probes, train_acc, test_acc)


def _check_probe_options(features_fn, num_classes, key, steps, batch_size, learning_rate,
                         weight_decay, max_dim, chunk_size) -> int:
    """Validate the options of :func:`train_probes`; the number of classes."""
    check_callable(features_fn, "features_fn")
    num_classes = check_int(num_classes, "num_classes", 1, MAX_CLASSES)
    check_key(key)
    counts = {"steps": steps, "batch_size": batch_size, "max_dim": max_dim,
              "chunk_size": chunk_size}
    for name, count in counts.items():
        check_int(count, name, 1)
    check_number(learning_rate, "learning_rate", 0, low_open=True)
    check_number(weight_decay, "weight_decay", 0)
    return num_classes


def _check_probe_data(features_fn, x_train, y_train, x_test, y_test, num_classes):
    """Validate the data of :func:`train_probes` against ``features_fn``.

    Returns:
      ``(y_train, y_test, shapes)``: the checked labels (``y_test`` None without test data)
      and ``{layer: ShapeDtypeStruct}`` of the features of one sample.
    """
    shape, y_train = _labeled_data(x_train, y_train, "train", num_classes)
    try:
        shapes = jax.eval_shape(features_fn, jax.ShapeDtypeStruct((1, *shape[1:]), jnp.float32))
    except (TypeError, ValueError) as err:
        raise JaxinterInputError(
            f"x_train: features_fn cannot run on samples of shape {shape[1:]}: {err}") from err
    if (x_test is None) != (y_test is None):
        missing = "x_test" if x_test is None else "y_test"
        raise JaxinterInputError(f"{missing}: expected x_test and y_test together, got None")
    if x_test is not None:
        _, y_test = _labeled_data(x_test, y_test, "test", num_classes, shape[1:])
    return y_train, y_test, shapes


def _fit_probes(flat: dict, y_train, key, pools: dict, **options) -> dict[str, LinearProbe]:
    """One probe per layer of ``flat`` ({layer: (N, d) features}), layers of equal width
    trained together (``_fit_stack`` with ``options``), in the order of ``flat``."""
    stats = {k: _standardizer(flat[k]) for k in flat}
    widths: dict[int, list[str]] = {}
    for k in flat:
        widths.setdefault(flat[k].shape[1], []).append(k)
    probes = {}
    for group in widths.values():
        stack = np.stack([(flat[k] - stats[k][0]) / stats[k][1] for k in group])
        w, b = _fit_stack(jnp.asarray(stack, jnp.float32), jnp.asarray(y_train, jnp.int32), key,
                          **options)
        for i, k in enumerate(group):
            probes[k] = LinearProbe(w[i], b[i], jnp.asarray(stats[k][0]),
                                    jnp.asarray(stats[k][1]), pools[k])
    return {k: probes[k] for k in flat}
