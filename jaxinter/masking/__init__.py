"""From a model to games: players, baselines, scores, layer capture, masked evaluation, probes.

A game is the score of a model on every masked input: for a sample x, players N (groups of
input variables), a baseline b and a target class, ``v(T)`` is the score of the input that
keeps the players in T and sets the others to the baseline, for all 2**n subsets T (subset axis
last, bit i = player i). Scores of intermediate layers come from linear probes on captured
features. This layer builds on :mod:`jaxinter.interactions` only for the subset conventions.
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
