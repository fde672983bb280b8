"""Printers of the catalogue's stable numeric forms, one per target.

The forms themselves (a sign-split sigmoid, ``expm1`` for ELU, ``erfc`` for GELU, a
max-shifted softmax...) are facets of the catalogue entries
(:meth:`symgrad.catalogue.Activation.stable_forms`); here they become code:
:class:`StableNumPyPrinter` prints them as NumPy code for arrays of samples,
:class:`ScalarMathPrinter` as ``math``-module code for single floats, and
:class:`StableCPrinter` as C99 for the body of a fused loop (:mod:`symgrad.native`).

>>> from sympy import Symbol
>>> from symgrad.catalogue import get_activation
>>> z, a = Symbol("z1"), Symbol("a1")
>>> forms = get_activation("sigmoid").stable_forms(z, a)
>>> [str(s) for s, _ in forms.assignments]
['a1_e', 'a1_r', 'a1_s', 'a1', 'a1_d', 'a1_c', 'a1_log', 'a1_logc']
>>> StableNumPyPrinter().doprint(forms.assignments[3][1])
'numpy.where(z1 >= 0, a1_r, a1_s)'
>>> ScalarMathPrinter().doprint(forms.assignments[0][1])
'exp((z1 if z1 < 0 else -z1))'
>>> StableCPrinter().doprint(forms.assignments[3][1])
'(z1 >= 0 ? a1_r : a1_s)'
"""

from __future__ import annotations

import keyword
from typing import Any, Callable, Sequence

import sympy as sp
from sympy import Expr
from sympy.printing.c import C99CodePrinter
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from .catalogue import ERFC

__all__ = [
    "StableNumPyPrinter",
    "ScalarMathPrinter",
    "StableCPrinter",
    "MATH_NAMES",
    "RESERVED_NAMES",
]

#: Names of the ``math`` module that scalar code uses unqualified (``exp(z)``).
MATH_NAMES = ("exp", "log", "log1p", "expm1", "tanh", "erfc", "sqrt")
#: Names that generated code itself uses: a network symbol must not be called so.
RESERVED_NAMES = frozenset(MATH_NAMES) | frozenset(keyword.kwlist) | {
    "numpy", "math", "abs", "max", "min", "builtins", "range"}


def _number(expr: Expr) -> str | None:
    """A non-integer constant as a Python float literal (weakly typed, so float32 stays)."""
    if expr.is_number and not expr.is_Integer and expr.is_real:
        return repr(float(expr))
    return None


class _StableMixin:
    """Printing shared by the printers: constants as float literals, ``1/x`` for ``x**-1``.
    Mixed into SymPy printers, which provide ``_print`` and ``parenthesize``."""

    _print: Callable[..., str]
    parenthesize: Callable[..., str]

    def _print_Float(self, expr: Expr) -> str:
        return repr(float(expr))

    def _print_Rational(self, expr: Expr) -> str:
        return repr(float(expr))

    _print_Half = _print_Rational

    def _print_NumberSymbol(self, expr: Expr) -> str:
        return repr(float(expr))

    def _print_Relational(self, expr: Expr) -> str:
        return f"{self.parenthesize(expr.lhs, 35)} {expr.rel_op} {self.parenthesize(expr.rhs, 35)}"

    def _fold_piecewise(self, expr: Expr, choose: Callable[[str, str, str], str]) -> str:
        """A Piecewise as nested two-way choices, ``choose(condition, value, otherwise)``."""
        *pairs, (last, cond) = expr.args
        if cond is not sp.true:
            raise ValueError("a numeric Piecewise needs a final True branch")
        out = self._print(last)
        for value, condition in reversed(pairs):
            out = choose(self._print(condition), self._print(value), out)
        return out

    def _print_Add(self, expr: Expr, order: str | None = None) -> str:
        """Positive terms first, then subtractions: ``a2 - T`` is one array operation,
        ``-T + a2`` two."""
        terms = sorted(expr.as_ordered_terms(), key=lambda t: t.could_extract_minus_sign())
        level = PRECEDENCE["Add"]
        out = self.parenthesize(terms[0], level)
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                out += " - " + self.parenthesize(-term, level)
            else:
                out += " + " + self.parenthesize(term, level)
        return out

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:  # type: ignore[override]
        literal = _number(expr)
        if literal is not None:
            return literal
        base, exp = expr.args
        wrapped = self.parenthesize(base, PRECEDENCE["Pow"], strict=False)
        if exp == -1:
            return f"1/{wrapped}"
        if exp.is_Integer and exp > 0:
            return f"{wrapped}**{int(exp)}"
        return super()._print_Pow(expr, rational=rational)  # type: ignore[misc]


class StableNumPyPrinter(_StableMixin, NumPyPrinter):
    """NumPy code for arrays of samples: ``numpy.where`` for two-way choices, elementwise
    ``numpy.maximum``/``numpy.minimum`` and ``numpy.heaviside``; ``_erfc`` is a run-time helper."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"allow_unknown_functions": True, "fully_qualified_modules": True,
                          **(settings or {})})

    def _print_Piecewise(self, expr: Expr) -> str:
        return self._fold_piecewise(expr, lambda c, v, o: f"numpy.where({c}, {v}, {o})")

    def _nested(self, name: str, args: Sequence[Expr]) -> str:
        out = self._print(args[0])
        for arg in args[1:]:
            out = f"numpy.{name}({out}, {self._print(arg)})"
        return out

    def _print_Max(self, expr: Expr) -> str:
        return self._nested("maximum", sorted(expr.args, key=lambda a: not a.is_number))

    def _print_Min(self, expr: Expr) -> str:
        return self._nested("minimum", sorted(expr.args, key=lambda a: not a.is_number))

    def _print_Heaviside(self, expr: Expr) -> str:
        return f"numpy.heaviside({self._print(expr.args[0])}, {self._print(expr.args[1])})"


class ScalarMathPrinter(_StableMixin, PythonCodePrinter):
    """Code for single Python floats: ``math`` functions under their bare names (bound
    once, so a call costs one global look-up), conditional expressions for choices."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"allow_unknown_functions": True, "fully_qualified_modules": False,
                          **(settings or {})})

    def _print_Piecewise(self, expr: Expr) -> str:
        return self._fold_piecewise(expr, lambda c, v, o: f"({v} if {c} else {o})")

    def _print_Max(self, expr: Expr) -> str:
        return self._minmax("max", expr.args)

    def _print_Min(self, expr: Expr) -> str:
        return self._minmax("min", expr.args)

    def _minmax(self, name: str, args: Sequence[Expr]) -> str:
        if len(args) == 2:  # a conditional expression is faster than calling max()
            x, y = (self._print(a) for a in args)
            op = ">" if name == "max" else "<"
            return f"({x} if {x} {op} {y} else {y})"
        return f"{name}({', '.join(self._print(a) for a in args)})"

    def _print_Heaviside(self, expr: Expr) -> str:
        x = self._print(expr.args[0])
        return f"(1.0 if {x} > 0 else ({float(expr.args[1])!r} if {x} == 0 else 0.0))"

    def _print_Abs(self, expr: Expr) -> str:
        x = self._print(expr.args[0])
        if expr.args[0].is_Symbol:  # a conditional expression is faster than calling abs()
            return f"({x} if {x} >= 0 else -{x})"
        return f"abs({x})"

    def _print_Mul(self, expr: Expr) -> str:
        if len(expr.args) == 2 and expr.args[0] == -1 and isinstance(expr.args[1], sp.Abs) \
                and expr.args[1].args[0].is_Symbol:  # -|x| without a call or a negation
            x = self._print(expr.args[1].args[0])
            return f"({x} if {x} < 0 else -{x})"
        return super()._print_Mul(expr)

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:  # type: ignore[override]
        if expr.exp == 2 and expr.base.is_Symbol:  # x*x is faster than x**2 on floats
            # bracketed: in a quotient, 4*e/(c*c) is not 4*e/c*c
            return f"({self._print(expr.base)}*{self._print(expr.base)})"
        return super()._print_Pow(expr, rational=rational)


class StableCPrinter(_StableMixin, C99CodePrinter):
    """C99 for one sample in the body of a fused loop: conditional expressions for choices,
    ``max``/``min`` and Heaviside (a NaN in the first argument of ``max`` or ``min`` stays
    NaN, as with ``numpy.maximum``, where ``fmax`` would drop it), small integer powers as
    products, and names that are C keywords with a trailing ``_``."""

    def _print_Piecewise(self, expr: Expr) -> str:
        return self._fold_piecewise(expr, lambda c, v, o: f"({c} ? {v} : {o})")

    def _minmax(self, op: str, args: Sequence[Expr]) -> str:
        ordered = sorted(args, key=lambda a: a.is_number)  # symbols first: their NaN propagates
        out = self._print(ordered[0])
        for arg in ordered[1:]:
            y = self._print(arg)
            out = f"({out} {op} {y} ? {y} : {out})"
        return out

    def _print_Max(self, expr: Expr) -> str:
        return self._minmax("<", expr.args)

    def _print_Min(self, expr: Expr) -> str:
        return self._minmax(">", expr.args)

    def _print_Heaviside(self, expr: Expr) -> str:
        x = self._print(expr.args[0])
        return f"({x} > 0 ? 1.0 : ({x} == 0 ? {float(expr.args[1])!r} : 0.0))"

    def _print_Function(self, expr: Expr) -> str:
        if expr.func == ERFC:  # the run-time helper of the Python printers is C's own erfc
            return f"erfc({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:  # type: ignore[override]
        base, exp = expr.args
        if exp.is_Integer and exp > 0 and _number(expr) is None:
            if exp <= 4:
                wrapped = self.parenthesize(base, PRECEDENCE["Mul"], strict=False)
                return "(" + "*".join([wrapped] * int(exp)) + ")"
            return f"pow({self._print(base)}, {int(exp)})"
        if _number(expr) is None and exp != -1 and not exp.is_Integer:
            # C89's printer takes no ``rational`` argument: sqrt(1 + z*z) in a formula
            if abs(exp) == sp.S.Half:
                root = f"sqrt({self._print(base)})"
                return root if exp > 0 else f"(1.0/{root})"
            return f"pow({self._print(base)}, {self._print(exp)})"
        return super()._print_Pow(expr, rational=rational)
