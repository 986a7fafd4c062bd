"""Subset math on arrays of shape (..., 2**n): the lowest layer of jaxinter.

Everything here is pure JAX on game values, interactions and parameters indexed by subset
bitmasks (bit i of an index means player i is present, index 0 is the empty set, the subset
axis is last). It holds the subset conventions, the exact O(n 2**n) transforms (Moebius, zeta,
OR interactions, Shapley-type values and indices), conversions to other libraries' orderings,
and the AND-OR extraction with its three solvers (certified ADMM, exact LP, published recipe).
It imports nothing from the other layers.
"""

from ._andor import KINDS, METHODS, and_or, extract_interactions
from ._andor_joint import JointResult, and_or_joint, joint_objective
from ._andor_lp import solve_lp
from ._andor_result import AndOrResult, error_bound, fold, l1_objective
from ._interop import (
    from_msb,
    from_shapiq,
    from_shapiq_values,
    msb_permutation,
    shapiq_order,
    to_msb,
    to_shapiq,
)
from ._subsets import (
    complement,
    complement_values,
    masks_of,
    orders_np,
    players_of,
    subset_index,
    subset_indices,
    subset_masks,
    subset_orders,
)
from ._transforms import (
    INDICES,
    banzhaf_values,
    interaction_index,
    moebius,
    or_interactions,
    or_inverse,
    shapley_values,
    transform_diagnostics,
    zeta,
)

__all__ = [
    "INDICES",
    "KINDS",
    "METHODS",
    "AndOrResult",
    "JointResult",
    "and_or",
    "and_or_joint",
    "banzhaf_values",
    "complement",
    "complement_values",
    "error_bound",
    "extract_interactions",
    "fold",
    "from_msb",
    "from_shapiq",
    "from_shapiq_values",
    "interaction_index",
    "joint_objective",
    "l1_objective",
    "masks_of",
    "moebius",
    "msb_permutation",
    "or_interactions",
    "or_inverse",
    "orders_np",
    "players_of",
    "shapiq_order",
    "shapley_values",
    "solve_lp",
    "subset_index",
    "subset_indices",
    "subset_masks",
    "subset_orders",
    "to_msb",
    "to_shapiq",
    "transform_diagnostics",
    "zeta",
]
