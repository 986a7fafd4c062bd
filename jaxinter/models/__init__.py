"""Reference models with named, sown hidden layers: layer 1 of jaxinter, a leaf.

- Flax Linen models: ``MLP``, ``VGG`` (``VGG11`` plan), ``ResNet``, ``ViT``, and
  ``init_variables``.
- Flax NNX forms with the same submodule and sown names: ``NnxMLP``, ``NnxVGG``,
  ``NnxResNet``; weights transfer one to one with ``linen_to_nnx`` and ``nnx_to_linen``.
- Activations by name: ``activation``, ``ACTIVATIONS``.
- The one batched forward pass over a dataset: ``apply_in_batches``.
- Your own model: ``load_model`` (a factory ``module:function`` and an Orbax or msgpack
  checkpoint) -> ``UserModel``; ``load_factory``, ``build_model``, ``restore_checkpoint``.

It imports nothing but ``jaxinter.errors``. See docs/models.md.
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
from ._user import (
    UserModel,
    build_model,
    load_factory,
    load_model,
    restore_checkpoint,
)

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
    "UserModel",
    "ViT",
    "activation",
    "apply_in_batches",
    "build_model",
    "init_variables",
    "linen_to_nnx",
    "load_factory",
    "load_model",
    "nnx_to_linen",
    "restore_checkpoint",
]
