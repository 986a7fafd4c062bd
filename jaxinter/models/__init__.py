"""Reference models with named, sown hidden layers, in Flax Linen and Flax NNX.

``MLP``, ``VGG``, ``ResNet``, ``ViT`` are the Linen forms; ``NnxMLP``, ``NnxVGG``, ``NnxResNet``
the NNX forms (same names for submodules and sown layers, so weights transfer one to one with
:func:`linen_to_nnx` / :func:`nnx_to_linen`). See ``docs/models.md``.
"""

from .common import ACTIVATIONS, VGG11, activation, linen_to_nnx, nnx_to_linen
from .linen import MLP, VGG, ResNet, ViT, init_variables
from .nnx import MLP as NnxMLP
from .nnx import VGG as NnxVGG
from .nnx import ResNet as NnxResNet

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "VGG",
    "VGG11",
    "NnxMLP",
    "NnxResNet",
    "NnxVGG",
    "ResNet",
    "ViT",
    "activation",
    "init_variables",
    "linen_to_nnx",
    "nnx_to_linen",
]
