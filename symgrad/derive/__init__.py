"""Derivations, at two levels built on the same architecture and rules: :mod:`.unit` writes
one chain-rule expression per parameter (and per named quantity), :mod:`.matrix` one
matrix equation per layer.

>>> import symgrad
>>> from symgrad.derive import derive_layers
>>> d = derive(symgrad.load("derivations/two_neuron.toml"))
>>> str(d["w2"].chain[-1].expression), derive_layers("derivations/digits_mlp.toml").sizes
('a1', (64, 32, 10))
"""

from __future__ import annotations

from typing import Any

from ..callable_module import make_callable
from .unit import DeltaStep, Derivation, Factor, Gradient, derive

_MATRIX = ("SCALAR_LIMIT", "LayerDerivation", "LayerStep", "derive_layers")


def __getattr__(name: str) -> Any:
    """The layer level's names, from :mod:`.matrix` on first use: ``symgrad derive`` and
    ``symgrad check`` at the unit level start without it."""
    if name in _MATRIX:
        from . import matrix
        return getattr(matrix, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["derive", "Derivation", "DeltaStep", "Factor", "Gradient", "derive_layers",
           "LayerDerivation", "LayerStep", "SCALAR_LIMIT"]

make_callable(__name__, derive)  # symgrad.derive(net), whichever is bound
