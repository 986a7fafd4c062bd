"""jaxinter: what a neural network knows, layer by layer, in JAX."""

from . import layerwise, models
from .andor import AndOrResult, JointResult, and_or, and_or_joint
from .capture import CapturedFn, capture, feature_sizes, layer_names
from .compare import KnowledgeChange, knowledge_change, salient_iou, stability
from .correlations import (
    DenseStack,
    analyze,
    breakdown,
    dense_stack_from_mlp,
    gaussian_closure_moments,
    propagate,
    quadratic_moments,
    surrogate_accuracy,
)
from .cumulants import Cumulants, class_cumulants, mixture_cumulants
from .data import Dataset, add_label_noise, load_dataset
from .dynamics import Tracker, init_population, train_population
from .errors import JaxinterInputError
from .generalization import perturbation_sensitivity, similarity_by_order
from .interop import from_msb, from_shapiq, from_shapiq_values, to_msb, to_shapiq
from .layerwise import LayerwiseResult
from .layerwise import analyse as analyse_layers
from .masking import masked_layer_scores, masked_scores, score_layer_names
from .metrics import OrderSummary, order_summary, salient_mask, sparsity_curve
from .players import (
    Players,
    mean_baseline,
    patch_scores,
    salient_patch_ids,
    shift_baseline,
    token_baseline,
    zero_baseline,
)
from .probes import LinearProbe, ProbeSet, train_probes
from .scores import get_score, log_odds, logit, probability
from .separation import (
    SeparationTracker,
    fit_law,
    layer_separation,
    separation_by_layer,
    separation_fuzziness,
)
from .subsets import masks, orders, players_of, subset_index
from .train import (
    Trainer,
    TrainResult,
    TrainState,
    load_checkpoint,
    population_run,
    save_checkpoint,
    train,
)
from .transforms import (
    banzhaf_values,
    interaction_index,
    moebius,
    or_interactions,
    or_inverse,
    shapley_values,
    transform_diagnostics,
    zeta,
)

__version__ = "0.1.0"
