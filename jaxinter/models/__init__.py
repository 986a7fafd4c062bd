"""Reference models with named, sown hidden layers, in Flax Linen and Flax NNX.

``MLP``, ``VGG``, ``ResNet``, ``ViT`` are the Linen forms; ``NnxMLP``, ``NnxVGG``, ``NnxResNet``
the NNX forms (same names for submodules and sown layers, so weights transfer one to one with
:func:`linen_to_nnx` / :func:`nnx_to_linen`). See ``docs/models.md``.
"""

from ._apply import apply_in_batches
from ._common import (
    ACTIVATIONS,
    QUADRATIC_ALPHA,
    VGG11,
    activation,
    linen_to_nnx,
    nnx_to_linen,
)
from ._linen import MLP, VGG, ResNet, ViT, init_variables
from ._nnx import MLP as NnxMLP
from ._nnx import VGG as NnxVGG
from ._nnx import ResNet as NnxResNet

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "VGG",
    "VGG11",
    "NnxMLP",
    "NnxResNet",
    "NnxVGG",
    "QUADRATIC_ALPHA",
    "ResNet",
    "ViT",
    "activation",
    "apply_in_batches",
    "init_variables",
    "linen_to_nnx",
    "nnx_to_linen",
]
