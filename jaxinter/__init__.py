"""jaxinter: what a neural network knows, layer by layer, in JAX."""

from .errors import JaxinterInputError
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
