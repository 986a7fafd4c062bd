"""jaxinter: what a neural network knows, layer by layer, in JAX.

The package is layered; lower layers never import higher ones (docs/architecture.md):

- ``jaxinter.errors`` (layer 0): ``JaxinterInputError``, ``JaxinterTrainingError`` and the
  shared validators;
- ``jaxinter.distributed`` (layer 0.5): ``jax.distributed`` start-up, the global mesh and
  global arrays, used by the ``mesh=`` keyword of the heavy kernels (docs/distributed.md);
- ``jaxinter.interactions``, ``jaxinter.io``, ``jaxinter.data``, ``jaxinter.models``
  (layer 1): subset math on ``(..., 2**n)`` arrays (transforms, AND-OR extraction), storage and
  reports, datasets, reference models;
- ``jaxinter.masking``, ``jaxinter.training`` (layer 2): from a model to games (players,
  baselines, scores, capture, probes); the training loop;
- ``jaxinter.analysis`` (layer 3): layerwise change of knowledge, generalization and dynamics
  of interactions, separation, cumulants and correlation maps;
- ``jaxinter.studies``, ``jaxinter.plots`` (layer 4), ``jaxinter.commands`` (layer 5) and the
  ``jaxinter`` command line on top.

The names imported here are the everyday API (``ji.moebius``, ``ji.and_or``,
``ji.masked_scores``, ...); each subpackage lists its full API in ``__all__``. The mathematics
is in docs/math/, the conventions in docs/conventions.md.
"""

from . import analysis, data, distributed, interactions, io, masking, models, training
from .analysis import (
    InteractionTracker,
    KnowledgeChange,
    LayerwiseResult,
    OrderSummary,
    SeparationTracker,
    analyse_correlations,
    analyse_layers,
    cumulant_breakdown,
    fit_law,
    gaussian_closure_moments,
    interaction_stability,
    knowledge_change,
    layer_separation,
    order_summary,
    perturbation_sensitivity,
    propagate_moments,
    salient_iou,
    salient_mask,
    separation_by_layer,
    separation_fuzziness,
    similarity_by_order,
    sparsity_curve,
)
from .data import Dataset, add_label_noise, load_dataset
from .errors import JaxinterInputError, JaxinterTrainingError
from .interactions import (
    AndOrResult,
    JointResult,
    and_or,
    and_or_joint,
    banzhaf_values,
    extract_interactions,
    from_msb,
    from_shapiq,
    from_shapiq_values,
    interaction_index,
    moebius,
    or_interactions,
    or_inverse,
    players_of,
    shapley_values,
    subset_index,
    subset_masks,
    subset_orders,
    to_msb,
    to_shapiq,
    transform_diagnostics,
    zeta,
)
from .io import to_dataframe
from .masking import (
    CapturedFn,
    LinearProbe,
    Players,
    ProbeSet,
    capture,
    feature_sizes,
    get_score,
    layer_names,
    log_odds,
    logit,
    masked_layer_scores,
    masked_scores,
    mean_baseline,
    patch_scores,
    probability,
    salient_patch_ids,
    score_layer_names,
    shift_baseline,
    token_baseline,
    train_probes,
    zero_baseline,
)
from .training import Trainer, TrainResult, TrainState, load_checkpoint, save_checkpoint, train

__version__ = "0.1.0"

__all__ = [
    "AndOrResult",
    "CapturedFn",
    "Dataset",
    "InteractionTracker",
    "JaxinterInputError",
    "JaxinterTrainingError",
    "JointResult",
    "KnowledgeChange",
    "LayerwiseResult",
    "LinearProbe",
    "OrderSummary",
    "Players",
    "ProbeSet",
    "SeparationTracker",
    "TrainResult",
    "TrainState",
    "Trainer",
    "add_label_noise",
    "analyse_correlations",
    "analyse_layers",
    "analysis",
    "and_or",
    "and_or_joint",
    "banzhaf_values",
    "capture",
    "cumulant_breakdown",
    "data",
    "extract_interactions",
    "feature_sizes",
    "fit_law",
    "from_msb",
    "from_shapiq",
    "from_shapiq_values",
    "gaussian_closure_moments",
    "get_score",
    "interaction_index",
    "interaction_stability",
    "interactions",
    "io",
    "knowledge_change",
    "layer_names",
    "layer_separation",
    "load_checkpoint",
    "load_dataset",
    "log_odds",
    "logit",
    "masked_layer_scores",
    "masked_scores",
    "masking",
    "mean_baseline",
    "models",
    "moebius",
    "or_interactions",
    "or_inverse",
    "order_summary",
    "patch_scores",
    "perturbation_sensitivity",
    "players_of",
    "probability",
    "propagate_moments",
    "salient_iou",
    "salient_mask",
    "salient_patch_ids",
    "save_checkpoint",
    "score_layer_names",
    "separation_by_layer",
    "separation_fuzziness",
    "shapley_values",
    "shift_baseline",
    "similarity_by_order",
    "sparsity_curve",
    "subset_index",
    "subset_masks",
    "subset_orders",
    "to_dataframe",
    "to_msb",
    "to_shapiq",
    "token_baseline",
    "train",
    "train_probes",
    "training",
    "transform_diagnostics",
    "zero_baseline",
    "zeta",
]
