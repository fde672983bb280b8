"""A network's penalty in a report: its term in the cost, and in each gradient.

The penalty (``[network] penalty``, :mod:`symgrad.catalogue.penalties`) is added to the
cost once, outside the sum over samples, and so is its term in a gradient: the rows of a
gradient's chain get ``+ lambda w2`` after their sum, and the reasons a line of their own.

>>> from symgrad.spec import parse_spec
>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> d = derive(load(parse_spec('''
... [network]
... inputs = 1
... layers = [{ units = 1, activation = "sigmoid" }]
... loss = "half_sse"
... penalty = { l2 = 0.01 }
... ''')))
>>> cost_term(d)
' + \\\\frac{\\\\lambda w^{2}}{2}, \\\\qquad \\\\lambda = 0.01'
>>> penalized([Row("", "= a")], d["w"], d.network)
[Row(left='', right='= a + \\\\lambda w')]
"""

from __future__ import annotations

from typing import Sequence

from ..derive import Derivation, Gradient
from ..network import Network
from ..printing import latex
from .layout import Row, number
from .views import FactorView

__all__ = ["cost_term", "penalized", "penalty_factor"]


def cost_term(d: Derivation) -> str:
    """What the cost's display adds: ``+ \\frac{\\lambda ...}{2}`` and lambda's value, or
    ``""`` without a penalty."""
    net = d.network
    if net.penalty is None:
        return ""
    return rf" + {latex(d.penalty_cost, net)}, \qquad \lambda = {number(net.penalty.strength)}"


def penalized(rows: Sequence[Row], g: Gradient, net: Network) -> list[Row]:
    """``rows`` (one form of a gradient, its sum over samples included) with the penalty's
    term ``+ \\lambda w`` after the last one; unchanged where the penalty adds nothing."""
    out = list(rows)
    if g.penalty != 0 and out:
        out[-1] = Row(out[-1].left, f"{out[-1].right} + {latex(g.penalty, net)}")
    return out


def penalty_factor(d: Derivation, g: Gradient) -> FactorView | None:
    """The penalty's term in the list of reasons: the derivative of the penalty's cost
    with respect to the parameter (``None`` where the penalty adds nothing)."""
    net = d.network
    if g.penalty == 0 or net.penalty is None:
        return None
    wrt = latex(g.parameter, net)
    return FactorView("penalty", rf"\frac{{\partial}}{{\partial {wrt}}} {net.penalty.kind.latex}",
                      latex(g.penalty, net), "", wrt, latex(d.penalty_cost, net), True,
                      rule=net.penalty.kind.kink)
