"""An elementwise function of several matrices of one shape: a formula loss's ``l'(a, y)``.

SymPy's :class:`~sympy.matrices.expressions.applyfunc.ElementwiseApplyFunction` maps one
matrix; the derivative of a loss written as a formula in the output ``a`` and the target
``y`` (Huber's ``where(delta - |a - y|, a - y, delta sign(a - y))``) needs both. The node
prints as the scalar expression with each variable replaced by its matrix's name, as the
one-matrix node does in :mod:`symgrad.printing`, with a loss's ``max(u, -u)`` shown as
``|u|`` and its derivative as ``sign(u)`` (:func:`~symgrad.printing.tidy`).

>>> import sympy as sp
>>> u, v = sp.symbols("u v")
>>> A, Y = sp.MatrixSymbol("a2", 3, 1), sp.MatrixSymbol("y", 3, 1)
>>> node = Elementwise(sp.Lambda((u, v), sp.tanh(u - v)), A, Y)
>>> node.shape, sp.sstr(node), sp.latex(node)
((3, 1), 'tanh(a2 - y)', '\\\\tanh{\\\\left(a_{2} - y \\\\right)}')
"""

from __future__ import annotations

from typing import Any

from sympy import Expr, Lambda, MatrixExpr, Symbol

from ..printing import tidy

__all__ = ["Elementwise"]


class Elementwise(MatrixExpr):
    """``function`` applied entry by entry to ``matrices`` (all of one shape)."""

    def __new__(cls, function: Lambda, *matrices: MatrixExpr) -> "Elementwise":
        shapes = {m.shape for m in matrices}
        if len(shapes) != 1 or len(function.variables) != len(matrices):
            raise ValueError(f"{len(matrices)} matrices of shapes {shapes} for a function "
                             f"of {len(function.variables)} variables")
        return MatrixExpr.__new__(cls, function, *matrices)

    @property
    def function(self) -> Lambda:
        return self.args[0]

    @property
    def matrices(self) -> tuple[MatrixExpr, ...]:
        return self.args[1:]

    @property
    def shape(self) -> tuple[Any, Any]:
        return self.args[1].shape

    def shown(self) -> Expr:
        """The scalar body with each variable named as its matrix."""
        return self.function.expr.xreplace(
            {v: Symbol(str(m)) for v, m in zip(self.function.variables, self.matrices)})

    def _sympystr(self, printer: Any) -> str:
        return printer._print(tidy(self.shown()))

    def _latex(self, printer: Any) -> str:
        return printer._print(tidy(self.shown()))
