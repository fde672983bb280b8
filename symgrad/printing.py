r"""Printing in one place: LaTeX through SymPy's ``latex`` (with the network's symbol
names), and plain or Unicode text for terminals.

Sums print the way people write them, positive terms first: ``a2 - T`` rather than
SymPy's ``-T + a2``; the loss's derivative can print as the textbook has it, ``-(T - a2)``.

>>> from sympy import symbols
>>> T, a2 = symbols("T a2")
>>> text(a2 - T, negated=True)
'-(T - a2)'
>>> text(a2 - T)
'a2 - T'
>>> print(latex(2 * a2 * (1 - a2) * (a2 - T)))
2 a_{2} \left(1 - a_{2}\right) \left(a_{2} - T\right)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp
from sympy import Expr, Symbol
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

if TYPE_CHECKING:
    from .network import Network

__all__ = ["latex", "text", "partial_latex", "partial_text"]


def _names(network: "Network | None") -> dict[Symbol, str]:
    return dict(network.latex_names) if network is not None else {}


def _negated_sum(expr: Expr) -> bool:
    return isinstance(expr, sp.Add) and expr.could_extract_minus_sign()


def _positive_first(terms: list[Expr]) -> list[Expr]:
    """A sum's terms in SymPy's order, except that a sum starting with a minus starts
    with its first positive term instead (``-T + a2`` becomes ``a2 - T``)."""
    if not terms or not terms[0].could_extract_minus_sign():
        return terms
    for i, term in enumerate(terms):
        if not term.could_extract_minus_sign():
            return [term] + terms[:i] + terms[i + 1:]
    return terms


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer, writing every sum positive terms first: ``a_{2} - T``."""

    def _as_ordered_terms(self, expr: Expr, order: Any = None) -> list[Expr]:
        return _positive_first(super()._as_ordered_terms(expr, order=order))


class _StrPrinter(StrPrinter):
    """SymPy's string printer, writing every sum positive terms first: ``a2 - T``."""

    def _as_ordered_terms(self, expr: Expr, order: Any = None) -> list[Expr]:
        return _positive_first(super()._as_ordered_terms(expr, order=order))


def latex(expr: Expr, network: "Network | None" = None, *, negated: bool = False,
          **settings: Any) -> str:
    """LaTeX of ``expr`` with the network's symbol names (``w^{(2)}_{1,3}``).

    Sums print positive terms first (``a_{2} - T``); with ``negated=True`` a sum with a
    leading minus prints as the negation of a difference (``-\\left(T - a_{2}\\right)``).
    """
    printer = _LatexPrinter({"symbol_names": _names(network), **settings})
    if negated and _negated_sum(expr):
        return r"-\left(" + printer.doprint(-expr) + r"\right)"
    return printer.doprint(expr)


def text(expr: Expr, *, negated: bool = False) -> str:
    """One-line plain text of ``expr``, as Python would read it (see :func:`latex`)."""
    printer = _StrPrinter()
    if negated and _negated_sum(expr):
        return f"-({printer.doprint(-expr)})"
    return printer.doprint(expr)


def partial_latex(numerator: Expr, denominator: Expr, network: "Network | None" = None) -> str:
    r"""``\frac{\partial E}{\partial w_{2}}``."""
    return (rf"\frac{{\partial {latex(numerator, network)}}}"
            rf"{{\partial {latex(denominator, network)}}}")


def partial_text(numerator: Expr, denominator: Expr, unicode: bool = True) -> str:
    """``∂E/∂w2`` (or ``dE/dw2`` without Unicode)."""
    d = "∂" if unicode else "d"
    return f"{d}{numerator}/{d}{denominator}"
