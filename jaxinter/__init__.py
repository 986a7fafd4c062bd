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

The subpackages load on first use (``ji.moebius`` imports ``jaxinter.interactions``), so
``import jaxinter`` itself is instant: the ``jaxinter`` command sets up its Ctrl-C handling
before JAX loads.
"""

import importlib

__version__ = "0.1.0"

SUBPACKAGES = ("analysis", "data", "distributed", "interactions", "io", "masking", "models",
               "training")

# the everyday names, by the subpackage that defines them
EXPORTS = {
    "analysis": (
        "InteractionTracker", "KnowledgeChange", "LayerwiseResult", "OrderSummary",
        "SeparationTracker", "analyse_correlations", "analyse_layers", "cumulant_breakdown",
        "fit_law", "gaussian_closure_moments", "interaction_stability", "knowledge_change",
        "layer_separation", "order_summary", "perturbation_sensitivity", "propagate_moments",
        "salient_iou", "salient_mask", "separation_by_layer", "separation_fuzziness",
        "similarity_by_order", "sparsity_curve",
    ),
    "data": (
        "Dataset", "add_label_noise", "load_dataset",
    ),
    "errors": (
        "JaxinterInputError", "JaxinterTrainingError",
    ),
    "interactions": (
        "AndOrResult", "JointResult", "and_or", "and_or_joint", "banzhaf_values",
        "extract_interactions", "from_msb", "from_shapiq", "from_shapiq_values",
        "interaction_index", "moebius", "or_interactions", "or_inverse", "players_of",
        "shapley_values", "subset_index", "subset_masks", "subset_orders", "to_msb", "to_shapiq",
        "transform_diagnostics", "zeta",
    ),
    "io": (
        "to_dataframe",
    ),
    "masking": (
        "CapturedFn", "LinearProbe", "Players", "ProbeSet", "capture", "feature_sizes",
        "get_score", "layer_names", "log_odds", "logit", "masked_layer_scores", "masked_scores",
        "mean_baseline", "patch_scores", "probability", "salient_patch_ids", "score_layer_names",
        "shift_baseline", "token_baseline", "train_probes", "zero_baseline",
    ),
    "training": (
        "Trainer", "TrainResult", "TrainState", "load_checkpoint", "save_checkpoint", "train",
    ),
}
_HOME = {name: module for module, names in EXPORTS.items() for name in names}

__all__ = sorted([*_HOME, *(s for s in SUBPACKAGES if s != "distributed")])


def __getattr__(name: str):
    """Import a subpackage, or the subpackage that defines an everyday name, on first use."""
    if name in SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *SUBPACKAGES})
