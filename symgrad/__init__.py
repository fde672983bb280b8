"""symgrad: derive, check and compile neural-network gradients symbolically.

The pipeline, left to right: a spec (:func:`read_spec`) becomes a network
(:func:`load`, :class:`Network`), the network a derivation (:func:`derive`, or
:func:`derive_layers` for the matrix form), and the derivation compiled functions
(:func:`compile`, :func:`train`), checks (:func:`check`) or a report
(:func:`report`).

>>> import symgrad
>>> d = symgrad.derive(symgrad.load("derivations/two_neuron.toml"))
>>> round(d["w2"].at(d.network.values), 6)
0.05707
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalogue import ACTIVATIONS, Activation, get_activation
from .compile import CompiledNetwork, compile  # noqa: A004
from .derive import DeltaStep, Derivation, Factor, Gradient, derive
from .errors import (ArgumentError, CheckError, CompileError, DerivationError,
                     DivergenceError, ExportError, FileError, LocatedError,
                     MissingDependencyError, ParseError, ReportError, SpecError, SymgradError,
                     UnknownNameError)
from .backends import CompiledLayers
from .derive import LayerDerivation, derive_layers
from .catalogue import LOSSES, Loss, get_loss
from .network import Dense, Network, load
# binds ``symgrad.report`` too: the subpackage, which is callable as render_report
from .report import render_report
from .spec import Spec, parse_spec, read_spec
from .testing import assert_gradient_matches
# binds ``symgrad.train`` to the subpackage, which is callable as train.train
from . import train
from .train import Step, TrainingResult
# binds ``symgrad.check`` to the subpackage, which is callable as check.check
from . import check
from .check import CheckResult, check_file

__all__ = [
    "__version__",
    "ACTIVATIONS", "Activation", "get_activation",
    "LOSSES", "Loss", "get_loss",
    "Spec", "parse_spec", "read_spec",
    "Dense", "Network", "load",
    "Derivation", "DeltaStep", "Factor", "Gradient", "derive",
    "LayerDerivation", "CompiledLayers", "derive_layers",
    "CompiledNetwork", "compile",
    "Step", "TrainingResult", "train",
    "CheckResult", "check", "check_file", "assert_gradient_matches",
    "render_report", "report",
    "SymgradError", "SpecError", "UnknownNameError", "DerivationError", "CompileError",
    "ArgumentError", "DivergenceError", "ParseError", "CheckError", "ReportError",
    "ExportError", "MissingDependencyError", "LocatedError", "FileError",
]
