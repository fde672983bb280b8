"""The rules both derivation levels apply to an elementwise unit, written once.

``dE/da`` of an output comes from the per-sample loss; the delta is ``dE/da`` times the
activation's derivative in its own-output form (the catalogue's rule); and at the output a
loss that takes probabilities cancels against its activation's derivative (binary
cross-entropy after a sigmoid: ``(a - T)/(a (1 - a)) · a (1 - a) = a - T``).

>>> import sympy as sp
>>> from symgrad.catalogue import get_activation, get_loss
>>> a, T, z = sp.symbols("a T z")
>>> bce, sigmoid = get_loss("bce"), get_activation("sigmoid")
>>> upstream = output_upstream(bce.per_sample([a], [T]), a)
>>> unit_delta(upstream, sigmoid.local(z, a), bce, sigmoid, output=True)[0]
-T + a
"""

from __future__ import annotations

import sympy as sp
from sympy import Expr, Symbol

from ..catalogue import Activation, Loss

__all__ = ["output_upstream", "unit_delta"]


def output_upstream(error: Expr, output: Symbol) -> Expr:
    """``dE/da`` of one output of the per-sample ``error``, with common factors out."""
    return sp.factor_terms(error.diff(output))


def unit_delta(upstream: Expr, local: Expr | None, loss: Loss, activation: Activation | None,
               *, output: bool) -> tuple[Expr, Expr | None, str]:
    """``delta = dE/da · da/dz`` of an elementwise unit, the form before a simplification
    (or ``None``), and a note saying which simplification was applied."""
    expr = upstream if local is None else upstream * local
    if output and loss.needs_probabilities and activation is not None:
        return (sp.factor_terms(sp.cancel(expr)), expr,
                f"{loss.title} after a {activation.name} output: the activation's "
                "derivative cancels the loss's denominator")
    return expr, None, ""
