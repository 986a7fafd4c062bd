"""From a model to games: layer 2 of jaxinter.

A game is the score of a model on every masked input: for a sample x, players N (groups of
input variables), a baseline b and a target class, ``v(T)`` is the score of the input that
keeps the players in T and sets the others to the baseline, for all ``2**n`` subsets T (subset
axis last, bit i = player i). Scores of intermediate layers come from linear probes on
captured features. This layer builds on ``jaxinter.interactions`` (subset conventions),
``jaxinter.models`` (the batched forward pass) and ``jaxinter.errors``.

- Players and baselines: ``Players`` (``from_groups``, ``features``, ``patches``, ``tokens``,
  ``stack``), ``patch_scores``, ``salient_patch_ids``, ``zero_baseline``, ``mean_baseline``,
  ``shift_baseline``, ``token_baseline``.
- Scores of a classifier: ``log_odds``, ``logit``, ``probability``, ``get_score``.
- Layer capture for Flax Linen and NNX: ``capture``, ``CapturedFn``, ``layer_names``,
  ``feature_sizes``.
- Chunked masked evaluation: ``masked_scores``, ``masked_layer_scores``,
  ``score_layer_names``, ``OUTPUT``.
- Linear probes: ``train_probes``, ``LinearProbe``, ``ProbeSet``, ``flatten_features``,
  ``pool_factor``.

The definitions are in docs/math/interactions.md#games-from-masked-inputs and
docs/math/layerwise.md#probe-scores-of-a-layer; memory planning in
docs/conventions.md#memory-planning-and-chunking.
"""

from ._capture import CapturedFn, capture, feature_sizes, layer_names
from ._evaluate import OUTPUT, masked_layer_scores, masked_scores, score_layer_names
from ._players import (
    Players,
    mean_baseline,
    patch_scores,
    salient_patch_ids,
    shift_baseline,
    token_baseline,
    zero_baseline,
)
from ._probes import LinearProbe, ProbeSet, flatten_features, pool_factor, train_probes
from ._scores import get_score, log_odds, logit, probability

__all__ = [
    "OUTPUT",
    "CapturedFn",
    "LinearProbe",
    "Players",
    "ProbeSet",
    "capture",
    "feature_sizes",
    "flatten_features",
    "get_score",
    "layer_names",
    "log_odds",
    "logit",
    "masked_layer_scores",
    "masked_scores",
    "mean_baseline",
    "patch_scores",
    "pool_factor",
    "probability",
    "salient_patch_ids",
    "score_layer_names",
    "shift_baseline",
    "token_baseline",
    "train_probes",
    "zero_baseline",
]
