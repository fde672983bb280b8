"""Printing in one place: LaTeX through SymPy's ``latex`` (with the network's symbol
names), and plain or Unicode text for terminals.

A sum with a leading minus prints the way people write it: ``a2 - T`` rather than
SymPy's ``-T + a2``, or, for the loss's derivative, ``-(T - a2)`` as the textbook has it.

>>> from sympy import symbols
>>> T, a2 = symbols("T a2")
>>> text(a2 - T, negated=True)
'-(T - a2)'
>>> text(a2 - T)
'a2 - T'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp
from sympy import Expr, Symbol

if TYPE_CHECKING:
    from .network import Network

__all__ = ["latex", "text", "partial_latex", "partial_text"]


def _names(network: "Network | None") -> dict[Symbol, str]:
    return dict(network.latex_names) if network is not None else {}


def _negated_sum(expr: Expr) -> bool:
    return isinstance(expr, sp.Add) and expr.could_extract_minus_sign()


def _positive_first(expr: Expr) -> Expr:
    """``-T + a2`` as the unevaluated ``a2 - T`` (printed with ``order="none"``)."""
    if not _negated_sum(expr):
        return expr
    terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
    return sp.Add(*terms, evaluate=False)


def latex(expr: Expr, network: "Network | None" = None, *, negated: bool = False,
          **settings: Any) -> str:
    """LaTeX of ``expr`` with the network's symbol names (``w^{(2)}_{1,3}``).

    A sum with a leading minus prints positive term first (``a_{2} - T``), or with
    ``negated=True`` as the negation of a difference (``-\\left(T - a_{2}\\right)``).
    """
    names = _names(network)
    if _negated_sum(expr):
        if negated:
            return r"-\left(" + sp.latex(-expr, symbol_names=names, **settings) + r"\right)"
        return sp.latex(_positive_first(expr), symbol_names=names, order="none", **settings)
    return sp.latex(expr, symbol_names=names, **settings)


def text(expr: Expr, *, negated: bool = False) -> str:
    """One-line plain text of ``expr``, as Python would read it (see :func:`latex`)."""
    if _negated_sum(expr):
        if negated:
            return f"-({sp.sstr(-expr)})"
        return sp.sstr(_positive_first(expr), order="none")
    return sp.sstr(expr)


def partial_latex(numerator: Expr, denominator: Expr, network: "Network | None" = None) -> str:
    r"""``\frac{\partial E}{\partial w_{2}}``."""
    return (rf"\frac{{\partial {latex(numerator, network)}}}"
            rf"{{\partial {latex(denominator, network)}}}")


def partial_text(numerator: Expr, denominator: Expr, unicode: bool = True) -> str:
    """``∂E/∂w2`` (or ``dE/dw2`` without Unicode)."""
    d = "∂" if unicode else "d"
    return f"{d}{numerator}/{d}{denominator}"
