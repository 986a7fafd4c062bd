"""Subset math on arrays of shape ``(..., 2**n)``: layer 1 of jaxinter.

Pure JAX on game values, interactions and parameters indexed by subset bitmasks (bit i of an
index means player i is present, index 0 is the empty set, the subset axis is last, leading
axes are batch axes). It imports nothing but ``jaxinter.errors``.

- Subsets: ``subset_index``, ``players_of``, ``subset_indices``, ``subset_masks``, ``masks_of``,
  ``subset_orders``, ``orders_np``, ``complement``, ``complement_values``.
- Exact transforms in O(n 2**n): ``moebius``, ``zeta``, ``or_interactions``, ``or_inverse``,
  ``shapley_values``, ``banzhaf_values``, ``interaction_index`` (``INDICES``), and
  ``transform_diagnostics`` for float32 precision.
- Other libraries' orderings: ``to_shapiq``, ``from_shapiq``, ``from_shapiq_values``,
  ``shapiq_order``, ``to_msb``, ``from_msb``, ``msb_permutation``.
- AND-OR extraction: ``and_or`` (``METHODS``: certified ADMM, exact LP, published recipe) and
  its ``AndOrResult``, ``extract_interactions`` (``KINDS``), ``and_or_joint`` and
  ``JointResult`` for several models, and the pieces ``solve_lp``, ``fold``, ``l1_objective``,
  ``joint_objective``, ``error_bound``.

The mathematics is in docs/math/interactions.md and docs/math/andor.md.
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
