"""The catalogue: every activation and loss defined once, with every facet.

One entry per activation (:class:`Activation`) and per loss (:class:`Loss`); everything
else in symgrad (networks, both derivation levels, code generation, the checker, the
parser, reports and the command line) looks them up here.

>>> get_activation("relu").kink
"ReLU'(0) = 0 (the Heaviside step with H(0) = 0)"
>>> get_loss("cross_entropy").name
'cce'
"""

from __future__ import annotations

from typing import Any

from .base import (ACTIVATIONS, Activation, CatalogueFunction, UnitForms, entry_of, exact,
                   functions_of, get_activation, register, unregister)
from .activations import (ERFC, binary_step, elu, gelu, leaky_relu, linear, relu, sigmoid,
                          silu, softplus)
from .softmax import softmax, softmax_forms
from .losses import LOSSES, Loss, get_loss
from .penalties import LAMBDA, PENALTIES, Penalty, PenaltyKind

#: What :mod:`.layer_types` defines: imported on first use (a dense network never needs it).
_LAYER_TYPE_NAMES = frozenset({"DEFINED_IN", "LAYER_TYPES", "LayerType", "MatrixSteps", "Step",
                               "get_layer_type", "register_layer_type",
                               "unregister_layer_type"})


def __getattr__(name: str) -> Any:
    """The layer-type registry's names (:data:`LAYER_TYPES`, :class:`LayerType`, ...) and a
    shipped layer type's entry by its constant (``BATCHNORM``, ``LOG_SOFTMAX``), looked up
    in :data:`LAYER_TYPES`: :mod:`.layer_types` and the module defining the entry are
    imported on first use only."""
    if name in _LAYER_TYPE_NAMES or name.isupper():
        from . import layer_types

        if name in _LAYER_TYPE_NAMES:
            return getattr(layer_types, name)
        if name.lower() in layer_types.DEFINED_IN:
            return layer_types.get_layer_type(name.lower())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ACTIVATIONS", "Activation", "CatalogueFunction", "UnitForms", "entry_of", "exact",
           "functions_of", "get_activation", "register", "unregister",
           "ERFC", "binary_step", "elu", "gelu", "leaky_relu", "linear", "relu", "sigmoid",
           "silu", "softplus", "softmax", "softmax_forms", "LOSSES", "Loss", "get_loss",
           "LAMBDA", "PENALTIES", "Penalty", "PenaltyKind",
           "LAYER_TYPES", "LayerType", "MatrixSteps", "Step", "get_layer_type",
           "register_layer_type", "unregister_layer_type", "BATCHNORM", "DROPOUT", "LOG_SOFTMAX",
           "SOFTMAX", "CONV1D", "CONV2D", "MAXPOOL1D", "MAXPOOL2D", "AVGPOOL1D", "AVGPOOL2D",
           "FLATTEN", "RELU", "RNN"]
