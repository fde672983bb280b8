"""symgrad: derive, check and compile neural-network gradients symbolically.

The pipeline, left to right: a spec (:func:`read_spec`) becomes a network
(:func:`load`, :class:`Network`), the network a derivation (:func:`derive`, or
:func:`derive_layers` for the matrix form), and the derivation compiled functions
(:func:`compile`, :func:`train`), checks (:func:`check`) or a report
(:func:`report`).

Each name below is imported on first use (PEP 562), so ``import symgrad`` and a command
that derives do not load the compiler, the report renderer, Jinja or matplotlib.

>>> import symgrad
>>> d = symgrad.derive(symgrad.load("derivations/two_neuron.toml"))
>>> round(d["w2"].at(d.network.values), 6)
0.05707
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name -> the module that defines it (a subpackage stands for itself:
#: ``symgrad.train``, ``symgrad.check`` and ``symgrad.report`` are callable packages).
_WHERE = {
    **dict.fromkeys(["ACTIVATIONS", "Activation", "get_activation", "LOSSES", "Loss",
                     "get_loss"], "catalogue"),
    **dict.fromkeys(["CompiledNetwork", "compile"], "compile"),
    **dict.fromkeys(["DeltaStep", "Derivation", "Factor", "Gradient", "derive",
                     "LayerDerivation", "derive_layers"], "derive"),
    **dict.fromkeys(["ArgumentError", "CheckError", "CompileError", "DerivationError",
                     "DivergenceError", "ExportError", "FileError", "LocatedError",
                     "MissingDependencyError", "ParseError", "ReportError", "SpecError",
                     "SymgradError", "UnknownNameError", "ExerciseError", "LayerCodeError"],
                    "errors"),
    "CompiledLayers": "backends",
    **dict.fromkeys(["Dense", "Network", "load"], "network"),
    "render_report": "report",
    **dict.fromkeys(["Spec", "parse_spec", "read_spec"], "spec"),
    **dict.fromkeys(["assert_gradient_matches", "assert_layer_backward_matches"], "testing"),
    **dict.fromkeys(["Step", "TrainingResult"], "train"),
    **dict.fromkeys(["CheckResult", "check_file"], "check"),
}
_PACKAGES = ("train", "check", "report")

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
    "assert_layer_backward_matches",
    "render_report", "report",
    "SymgradError", "SpecError", "UnknownNameError", "DerivationError", "CompileError",
    "ArgumentError", "DivergenceError", "ParseError", "CheckError", "ReportError",
    "ExportError", "MissingDependencyError", "LocatedError", "FileError", "ExerciseError",
    "LayerCodeError",
]


def __getattr__(name: str) -> Any:
    if name in _PACKAGES:  # binds symgrad.<name> to the subpackage, as an import does
        return importlib.import_module(f"{__name__}.{name}")
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see, eagerly
    from . import check, report, train
    from .backends import CompiledLayers
    from .catalogue import (ACTIVATIONS, LOSSES, Activation, Loss, get_activation,
                            get_loss)
    from .check import CheckResult, check_file
    from .compile import CompiledNetwork, compile  # noqa: A004
    from .derive import (DeltaStep, Derivation, Factor, Gradient, LayerDerivation, derive,
                         derive_layers)
    from .errors import (ArgumentError, CheckError, CompileError, DerivationError,
                         DivergenceError, ExportError, FileError, LocatedError,
                         MissingDependencyError, ParseError, ReportError, SpecError,
                         SymgradError, UnknownNameError, ExerciseError, LayerCodeError)
    from .network import Dense, Network, load
    from .report import render_report
    from .spec import Spec, parse_spec, read_spec
    from .testing import assert_gradient_matches, assert_layer_backward_matches
    from .train import Step, TrainingResult
