"""Generalization power of interactions, per order (Zhou et al., AAAI 2024).

Every metric works on arrays of interactions with the subset axis last, shape ``(..., 2**n)``
(bit i = player i), and returns per-order arrays of length ``n + 1`` indexed by order. Entries
whose denominator is empty (no interaction of that order to compare) are NaN, never 0.

- :func:`similarity_by_order`: sign-split generalized Jaccard similarity of two collections of
  interactions (train vs test samples of a class, two models, checkpoint t vs final);
  :func:`train_test_similarity` compares the train and test samples of every class.
- :func:`shared_ratio` / :func:`top_k_mask`: how many salient interactions of model A are also
  salient in model B (set version), or how many of A's k strongest per order are among B's;
  :func:`cross_model_shared_ratios` does both for consecutive models of a list (seeds).
- :func:`sensitivity_by_order`: sign-flip rate and relative change of the salient interactions
  under input perturbations; :func:`gaussian_perturbations`, :func:`gradient_sign_perturbation`
  make the perturbed inputs and :func:`perturbation_sensitivity` runs the whole pipeline.

Players must be aligned across the samples being compared (tabular features, fixed patches):
S means the same input variables in every sample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from math import comb
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from ..errors import (
    MAX_PLAYERS,
    JaxinterInputError,
    check_bool_mask,
    check_callable,
    check_choice,
    check_finite,
    check_floating,
    check_game,
    check_int,
    check_key,
    check_labels,
    check_mapping,
    check_number,
    check_real_dtype,
    n_players_from_size,
)
from ..interactions._andor import extract_interactions
from ..interactions._subsets import orders_np
from ..masking._evaluate import masked_scores
from ..masking._players import Players, check_baseline, check_samples
from ._metrics import order_sums, safe_ratio, salient_mask

# ---------------------------------------------------------------------------------------------
# sign-split generalized Jaccard similarity


def sign_split(interactions, labels=None, num_classes: int | None = None, reduce: str = "mean"):
    """Aggregate positive and negative parts over the sample axis (axis 0).

    interactions: (samples, ..., 2**n). Returns ``(pos, neg)`` with pos = agg_x max(I, 0) and
    neg = agg_x max(-I, 0), each (..., 2**n), or (num_classes, ..., 2**n) per class when
    ``labels`` (samples,) is given. ``reduce="mean"`` divides by the number of samples (of the
    class), so collections of different sizes compare; ``"sum"`` is the plain sum.
    """
    i, _ = check_game(interactions, "interactions")
    if reduce not in ("mean", "sum"):
        raise JaxinterInputError(f"reduce: expected 'mean' or 'sum', got {reduce!r}")
    if i.ndim < 2:
        raise JaxinterInputError(
            f"interactions: expected (samples, ..., 2**n), got shape {i.shape}"
        )
    pos, neg = jnp.maximum(i, 0), jnp.maximum(-i, 0)
    if labels is None:
        scale = 1.0 / i.shape[0] if reduce == "mean" else 1.0
        return pos.sum(0) * scale, neg.sum(0) * scale
    if num_classes is None:
        raise JaxinterInputError("num_classes: required when labels are given")
    labels = check_labels(labels, num_samples=i.shape[0], num_classes=num_classes)
    onehot = jnp.asarray(np.eye(num_classes)[labels], i.dtype)  # (samples, classes)
    if reduce == "mean":
        onehot = onehot / jnp.maximum(onehot.sum(0), 1)
    return jnp.tensordot(onehot, pos, (0, 0)), jnp.tensordot(onehot, neg, (0, 0))


@jax.jit
def _jaccard(pos_a, neg_a, pos_b, neg_b):
    num = jnp.minimum(pos_a, pos_b) + jnp.minimum(neg_a, neg_b)
    den = jnp.maximum(pos_a, pos_b) + jnp.maximum(neg_a, neg_b)
    return safe_ratio(order_sums(num), order_sums(den))


def generalized_jaccard(pos_a, neg_a, pos_b, neg_b) -> jax.Array:
    """Per-order sign-split generalized Jaccard similarity. Inputs (..., 2**n) -> (..., n + 1).

    For order m, u = [pos(S)]_{|S|=m} ++ [neg(S)]_{|S|=m} and sim = sum min(u, u') / sum max(u, u')
    (1 for identical collections, 0 when no mass is shared; NaN when both are zero).
    """
    pos_a, _ = check_game(pos_a, "pos_a")
    arrays = [pos_a]
    for name, x in (("neg_a", neg_a), ("pos_b", pos_b), ("neg_b", neg_b)):
        x, _ = check_game(x, name)
        if x.shape != pos_a.shape:
            raise JaxinterInputError(f"{name}: expected shape {pos_a.shape}, got {x.shape}")
        arrays.append(x)
    for name, x in zip(("pos_a", "neg_a", "pos_b", "neg_b"), arrays, strict=True):
        if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and bool(
                jnp.any(x < 0)):
            raise JaxinterInputError(f"{name}: expected non-negative values (use sign_split)")
    return _jaccard(*arrays)


def similarity_by_order(
    i_a, i_b, labels_a=None, labels_b=None, num_classes: int | None = None, reduce: str = "mean"
) -> jax.Array:
    """Generalization similarity of two collections of interactions, per order.

    i_a: (samples_a, ..., 2**n), i_b: (samples_b, ..., 2**n) with the same players. Without
    labels the whole collections are compared -> (..., n + 1); with labels each class of A is
    compared with the same class of B -> (num_classes, ..., n + 1) (train vs test of a class).
    """
    if (labels_a is None) != (labels_b is None):
        raise JaxinterInputError("labels_a, labels_b: give both or neither")
    check_game(i_a, "i_a")
    check_game(i_b, "i_b")
    pos_a, neg_a = sign_split(i_a, labels_a, num_classes, reduce)
    pos_b, neg_b = sign_split(i_b, labels_b, num_classes, reduce)
    if pos_a.shape != pos_b.shape:
        raise JaxinterInputError(
            f"i_a, i_b: trailing shapes differ ({pos_a.shape} vs {pos_b.shape})"
        )
    return generalized_jaccard(pos_a, neg_a, pos_b, neg_b)


# ---------------------------------------------------------------------------------------------
# shared salient interactions across models


def _check_masks(mask_a, mask_b):
    a = check_bool_mask(mask_a, "mask_a")
    b = check_bool_mask(mask_b, "mask_b", like_shape=a.shape, same_shape=True)
    n_players_from_size(a.shape[-1], "mask_a")
    return a, b


def shared_ratio(mask_a, mask_b) -> jax.Array:
    """Share of A's salient interactions that are also salient in B, per order.

    mask_a, mask_b: boolean (..., 2**n) salient sets of two models on the same samples and
    players. Counts are pooled over all leading axes: ratio_m = |A_m and B_m| / |A_m| -> (n + 1,).
    Not symmetric; swap the arguments for B's share.
    """
    a, b = _check_masks(mask_a, mask_b)
    flat = (-1, a.shape[-1])
    both = order_sums(jnp.reshape(a & b, flat).astype(jnp.float32)).sum(0)
    own = order_sums(jnp.reshape(a, flat).astype(jnp.float32)).sum(0)
    return safe_ratio(both, own)


@partial(jax.jit, static_argnums=(1, 2))
def _top_k_mask(strength, k, n):
    order = jnp.broadcast_to(jnp.asarray(orders_np(n)), strength.shape)
    perm = jnp.lexsort((-strength, order), axis=-1)  # by order, then descending strength
    sizes = np.array([comb(n, m) for m in range(n + 1)])
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])[orders_np(n)]  # first slot of each order
    ranks = jnp.argsort(perm, axis=-1) - start  # rank of each subset within its order
    return (ranks < k) & (order > 0) & (strength > 0)


def top_k_mask(strength, k: int) -> jax.Array:
    """Boolean (..., 2**n): the k strongest subsets of every order m >= 1 (all if C(n, m) <= k).

    strength: (..., 2**n), e.g. |I_and| or max(|I_and|, |I_or|). Ties go to the lower index;
    zero strengths are never selected. Where C(n, m) <= k two models share everything, so read
    a top-k shared ratio against its chance level k / C(n, m).
    """
    strength, n = check_game(strength, "strength")
    check_int(k, "k", 1)
    return _top_k_mask(strength, int(k), n)


def shared_ratio_top_k(strength_a, strength_b, k: int) -> jax.Array:
    """Share of A's k strongest interactions per order that are among B's k strongest. (n + 1,).

    Orders with at most k subsets (C(n, m) <= k) are NaN: there every model shares everything,
    so the ratio says nothing.
    """
    check_game(strength_a, "strength_a")
    check_game(strength_b, "strength_b")
    ratio = shared_ratio(top_k_mask(strength_a, k), top_k_mask(strength_b, k))
    n = ratio.shape[-1] - 1
    informative = np.array([comb(n, m) > k for m in range(n + 1)])
    return jnp.where(informative, ratio, jnp.nan)


def train_test_similarity(i_train, i_test, labels_train, labels_test, num_classes: int):
    """Train-test generalization of interactions per order, averaged over classes.

    Args:
      i_train: (samples_a, ..., 2**n) interactions of training samples.
      i_test: (samples_b, ..., 2**n) interactions of test samples, same players.
      labels_train: (samples_a,) classes; labels_test: (samples_b,) classes.
      num_classes: number of classes C.

    Returns:
      (..., n + 1): :func:`similarity_by_order` of each class's train and test samples (class
      means of the positive and negative parts), averaged over the classes present in both
      splits (where it is defined). Order 0 (v(empty), not an interaction) is NaN.
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    for values, labels, split in ((i_train, labels_train, "train"), (i_test, labels_test, "test")):
        shape, _ = check_real_dtype(values, f"i_{split}")
        check_game(values, f"i_{split}")
        check_labels(labels, f"labels_{split}", num_samples=shape[0] if shape else None,
                     num_classes=num_classes)
    per_class = similarity_by_order(i_train, i_test, labels_train, labels_test, num_classes)
    counts = [np.bincount(np.asarray(y), minlength=num_classes) for y in (labels_train,
                                                                         labels_test)]
    both = (counts[0] > 0) & (counts[1] > 0)
    per_class = jnp.where(both.reshape(-1, *[1] * (per_class.ndim - 1)), per_class, jnp.nan)
    return jnp.nanmean(per_class, axis=0).at[..., 0].set(jnp.nan)


@struct.dataclass
class SharedRatios:
    """Agreement of consecutive models (e.g. seeds) on salient interactions, per type and order.

    salient: (2, n + 1), AND then OR: share of model m's salient interactions also salient in
      model m + 1 (:func:`shared_ratio`), averaged over the pairs (m, m + 1).
    top_k: (2, n + 1): the same for the k strongest interactions per order
      (:func:`shared_ratio_top_k`); NaN where C(n, m) <= k.
    """

    frame_axes: ClassVar[dict] = {"salient": ("type", "order"), "top_k": ("type", "order")}

    salient: jax.Array
    top_k: jax.Array


def cross_model_shared_ratios(i_and, i_or, k: int = 3, ratio: float = 0.05) -> SharedRatios:
    """How far M models agree on their salient and strongest interactions, per order.

    Args:
      i_and, i_or: (M, samples, 2**n) interactions of M >= 2 models on the same samples and
        players.
      k: size of the per-order top-k sets.
      ratio: salient threshold of :func:`salient_mask` (per sample).

    Returns:
      :class:`SharedRatios`, means over the M - 1 consecutive pairs (model m vs model m + 1).
    """
    i_and, _ = check_game(i_and, "i_and")
    i_or, _ = check_game(i_or, "i_or")
    if i_and.ndim != 3 or i_and.shape[0] < 2 or i_or.shape != i_and.shape:
        raise JaxinterInputError(
            f"i_and, i_or: expected two arrays (M >= 2, samples, 2**n), got {i_and.shape} and "
            f"{i_or.shape}")
    masks = salient_mask(i_and, i_or, ratio)
    pairs = range(i_and.shape[0] - 1)
    salient = [[shared_ratio(mask[m], mask[m + 1]) for mask in masks] for m in pairs]
    top = [[shared_ratio_top_k(jnp.abs(i[m]), jnp.abs(i[m + 1]), k) for i in (i_and, i_or)]
           for m in pairs]
    return SharedRatios(jnp.nanmean(jnp.asarray(salient), 0), jnp.nanmean(jnp.asarray(top), 0))


# ---------------------------------------------------------------------------------------------
# perturbation sensitivity


@struct.dataclass
class Sensitivity:
    """Per-order response of salient interactions to input perturbations, each (n + 1,).

    flip_rate: fraction of (perturbation, sample, salient S) with sign(I_p(S)) != sign(I(S)).
    relative_change: sum |I_p(S) - I(S)| / sum |I(S)| over the same entries.
    count: number of salient clean interactions of that order (summed over samples).
    """

    frame_axes: ClassVar[dict] = {
        "flip_rate": ("order",), "relative_change": ("order",), "count": ("order",)}

    flip_rate: jax.Array
    relative_change: jax.Array
    count: jax.Array


@jax.jit
def _sensitivity(clean, perturbed, salient):
    w = jnp.broadcast_to(salient, perturbed.shape).astype(clean.dtype)
    flips = (jnp.sign(perturbed) != jnp.sign(clean)).astype(clean.dtype) * w
    change = jnp.abs(perturbed - clean) * w
    size = jnp.abs(jnp.broadcast_to(clean, perturbed.shape)) * w
    flat = (-1, clean.shape[-1])
    total = order_sums(w.reshape(flat)).sum(0)
    return Sensitivity(
        flip_rate=safe_ratio(order_sums(flips.reshape(flat)).sum(0), total),
        relative_change=safe_ratio(
            order_sums(change.reshape(flat)).sum(0),
            order_sums(size.reshape(flat)).sum(0),
        ),
        count=order_sums(salient.reshape(flat).astype(clean.dtype)).sum(0),
    )


def sensitivity_by_order(clean, perturbed, salient) -> Sensitivity:
    """Sign flips and relative change of salient interactions, pooled per order.

    clean: (samples, 2**n) interactions of the clean inputs; perturbed: (K, samples, 2**n) the
    same interactions for K perturbed copies; salient: boolean (samples, 2**n), the salient set
    of the clean inputs (only those entries count).
    """
    clean, _ = check_game(clean, "clean")
    perturbed, _ = check_game(perturbed, "perturbed")
    salient = check_bool_mask(salient, "salient", like_shape=clean.shape, same_shape=True)
    if perturbed.ndim != clean.ndim + 1 or perturbed.shape[1:] != clean.shape:
        raise JaxinterInputError(
            f"perturbed: expected shape (K, *{clean.shape}), got {perturbed.shape}"
        )
    return _sensitivity(clean, perturbed, salient)


def gaussian_perturbations(key, x, sigma: float, num: int) -> jax.Array:
    """``num`` copies of x with i.i.d. N(0, sigma^2) noise added: (num, *x.shape)."""
    check_number(sigma, "sigma", 0)
    check_int(num, "num", 1)
    x = check_floating(x, "x")
    check_finite(x, "x")
    return x + sigma * jax.random.normal(key, (num, *x.shape), x.dtype)


def gradient_sign_perturbation(apply_fn, x, labels, epsilon: float) -> jax.Array:
    """One fast-gradient-sign step: x + epsilon sign(grad_x cross-entropy). Same shape as x.

    apply_fn: (batch, *input_shape) -> logits (batch, classes); labels: (batch,) class ids.
    """
    check_callable(apply_fn, "apply_fn")
    check_number(epsilon, "epsilon", 0)
    x = check_floating(x, "x")
    check_finite(x, "x")
    if not x.ndim or not x.shape[0]:
        raise JaxinterInputError(f"x: expected shape (batch >= 1, *input_shape), got {x.shape}")
    classes = jax.eval_shape(apply_fn, x).shape[-1]
    labels = check_labels(labels, num_samples=x.shape[0], num_classes=classes)

    def loss(z):
        return optax.softmax_cross_entropy_with_integer_labels(apply_fn(z), labels).sum()

    return x + epsilon * jnp.sign(jax.grad(loss)(x))


def noise_variance_by_order(n: int, sigma: float) -> np.ndarray:
    """Var I(S) per order when every u(T) gets independent N(0, sigma^2) noise: 2^m sigma^2.

    I(S) is a +/-1 combination of the 2^|S| values u(T), T subset S, so the variances add.
    """
    check_int(n, "n", 1, MAX_PLAYERS)
    check_number(sigma, "sigma", 0)
    return (2.0 ** np.arange(n + 1)) * sigma**2


# ---------------------------------------------------------------------------------------------
# pipeline: from a model to per-order sensitivities


def perturbation_sensitivity(
    apply_fn: Callable, x, target, players, baseline, *, key, sigma: float = 0.1,
    epsilon: float = 0.05, num_noise: int = 4, method: str = "and",
    andor_options: Mapping | None = None, ratio: float = 0.05, chunk_size: int = 1024,
) -> dict[str, tuple[Sensitivity, Sensitivity]]:
    """Per-order sensitivity of a model's salient interactions to input perturbations.

    apply_fn: (batch, *input_shape) -> logits; x: (samples, *input_shape); target: (samples,)
    classes (scores and the adversarial loss use them). Perturbations: ``num_noise`` Gaussian
    copies with standard deviation ``sigma`` and one gradient-sign step of size ``epsilon``
    (input units), each scored with the same players and baseline. Returns
    ``{"gaussian": (AND, OR), "adversarial": (AND, OR)}`` :class:`Sensitivity` results, salient
    sets taken on the clean inputs (``metrics.salient_mask``).
    """
    check_choice(method, "method", ("and", "andor"))
    check_key(key)
    check_mapping(andor_options, "andor_options")
    check_int(num_noise, "num_noise", 1)
    check_int(chunk_size, "chunk_size", 1)
    check_number(ratio, "ratio", 0, 1, high_open=True)
    if not isinstance(players, Players):
        raise JaxinterInputError(f"players: expected a jaxinter.Players, got {type(players)}")
    x = check_samples(x, players)
    target = check_labels(target, "target", num_samples=x.shape[0])
    baseline = check_baseline(baseline, players.input_shape, x.shape[0])

    def interactions(inputs):  # (K, samples, ...) -> two (K, samples, 2**n)
        k = inputs.shape[0]
        copies = players.replace(assignment=jnp.tile(players.assignment, (k, 1))) if (
            players.per_sample) else players  # per-sample players and baselines repeat
        base = jnp.tile(baseline, (k,) + (1,) * (x.ndim - 1)) if baseline.shape == x.shape \
            else baseline
        v = masked_scores(apply_fn, inputs.reshape(-1, *x.shape[1:]), copies, base,
                          np.tile(target, k), chunk_size)
        options = dict(andor_options or {}) if method == "andor" else {}
        i_and, i_or = extract_interactions(v, method, **options)
        return i_and.reshape(k, *x.shape[:1], -1), i_or.reshape(k, *x.shape[:1], -1)

    clean_and, clean_or = (i[0] for i in interactions(x[None]))
    sal_and, sal_or = salient_mask(clean_and, clean_or, ratio)
    perturbed = {
        "gaussian": gaussian_perturbations(key, x, sigma, num_noise),
        "adversarial": gradient_sign_perturbation(apply_fn, x, target, epsilon)[None],
    }
    out = {}
    for name, inputs in perturbed.items():
        p_and, p_or = interactions(inputs)
        out[name] = (sensitivity_by_order(clean_and, p_and, sal_and),
                     sensitivity_by_order(clean_or, p_or, sal_or))
    return out
