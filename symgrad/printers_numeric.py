"""Numerically stable numeric forms of the activations and losses, and their printers.

Everything that decides *how a number is computed* lives here, in one place:

* :func:`layer_forms` rewrites one layer's activation into elementary functions that
  neither overflow nor lose relative accuracy (a sign-split sigmoid sharing one
  ``exp(-|z|)``, ``sigma(z) sigma(-z)`` for its slope instead of ``a (1 - a)``,
  ``4 e / (1 + e)^2`` with ``e = exp(-2|z|)`` for ``1 - tanh^2``, ``logaddexp`` for softplus,
  ``expm1`` of ``min(z, 0)`` for ELU, ``erfc`` for GELU, a max-shifted softmax and
  log-softmax). Each form is a list of named assignments, so the generated code names
  its temporaries (``a1_e``, ``a1_r``, ``a1_s``, ``a1_d``).
* :class:`StableNumPyPrinter` prints those forms as NumPy code for arrays of samples and
  :class:`ScalarMathPrinter` as ``math``-module code for single floats, and
  :class:`StableCPrinter` as C99 for the body of a fused loop (:mod:`symgrad.native`).

>>> from sympy import Symbol
>>> z, a = Symbol("z1"), Symbol("a1")
>>> forms = unit_forms("sigmoid", z, a, {})
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
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import sympy as sp
from sympy import Expr, Symbol
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.c import C99CodePrinter
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

__all__ = [
    "UnitForms",
    "unit_forms",
    "softmax_forms",
    "STABLE_ACTIVATIONS",
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

_ERFC = sp.Function("_erfc")  # printed as a call of the run-time helper symgrad.runtime._erfc
_GELU_CLIP = 40  # exp(-40**2 / 2) underflows to 0, so clipping |z| there changes nothing
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


@dataclass
class UnitForms:
    """The numeric forms of one layer's activation.

    ``assignments`` are ``(symbol, expression)`` pairs in evaluation order; they include the
    layer's outputs ``a``. ``roles[(a, role)]`` names the symbol holding ``role`` of output
    ``a``: ``"slope"`` (``da/dz``), ``"complement"`` (``1 - a``), ``"log"`` (``log a``) and
    ``"log_complement"`` (``log(1 - a)``), where the activation has them.
    """

    assignments: list[tuple[Symbol, Expr]] = field(default_factory=list)
    roles: dict[tuple[Symbol, str], Symbol] = field(default_factory=dict)

    def add(self, symbol: Symbol, expr: Expr, owner: Symbol | None = None,
            role: str | None = None) -> Symbol:
        self.assignments.append((symbol, expr))
        if owner is not None and role is not None:
            self.roles[(owner, role)] = symbol
        return symbol


def _softplus(z: Expr, e: Expr) -> Expr:
    """``log(1 + exp(z))`` given ``e = exp(-|z|)``: ``max(z, 0) + log1p(e)``."""
    return sp.Max(z, 0) + log1p(e)


def _sigmoid_parts(forms: UnitForms, z: Symbol, a: Symbol,
                   value: Symbol) -> tuple[Symbol, Symbol, Symbol]:
    """``e = exp(-|z|)``, ``r = 1/(1 + e) = sigma(|z|)`` and ``s = e r = sigma(-|z|)``:
    ``sigma(z)`` is ``r`` for ``z >= 0`` and ``s`` otherwise (``exp`` never sees a large
    positive number), and the slope ``sigma(z) sigma(-z)`` is ``r s`` for every ``z``."""
    e = forms.add(Symbol(f"{a}_e"), sp.exp(-sp.Abs(z)))
    r = forms.add(Symbol(f"{a}_r"), 1 / (1 + e))
    small = forms.add(Symbol(f"{a}_s"), e * r)
    forms.add(value, sp.Piecewise((r, z >= 0), (small, True)))
    return e, r, small


def unit_forms(name: str, z: Symbol, a: Symbol, params: Mapping[str, Any]) -> UnitForms:
    """Stable numeric forms of elementwise activation ``name`` for unit ``a = f(z)``.

    Raises ``KeyError`` for an activation without stable forms (the caller falls back to
    the symbolic definition).
    """
    forms = UnitForms()
    alpha = sp.Float(float(params["alpha"])) if name in ("leaky_relu", "elu") else sp.S.Zero
    if name in ("sigmoid", "silu", "softplus"):
        value = a if name == "sigmoid" else Symbol(f"{a}_sig")
        e, r, small = _sigmoid_parts(forms, z, a, value)
        slope = small * r  # sigma(z) sigma(-z), accurate where a (1 - a) rounds to 0
        if name == "sigmoid":
            forms.add(Symbol(f"{a}_d"), slope, a, "slope")
            forms.add(Symbol(f"{a}_c"), sp.Piecewise((small, z >= 0), (r, True)), a,
                      "complement")
            forms.add(Symbol(f"{a}_log"), -_softplus(-z, e), a, "log")
            forms.add(Symbol(f"{a}_logc"), -_softplus(z, e), a, "log_complement")
        elif name == "silu":
            forms.add(a, z * value)
            forms.add(Symbol(f"{a}_d"), value + z * slope, a, "slope")
        else:
            forms.add(a, _softplus(z, e))
            forms.add(Symbol(f"{a}_d"), value, a, "slope")
        return forms
    if name == "tanh":
        forms.add(a, sp.tanh(z))
        e = forms.add(Symbol(f"{a}_e"), sp.exp(-2 * sp.Abs(z)))
        forms.add(Symbol(f"{a}_d"), 4 * e / (1 + e) ** 2, a, "slope")  # sech^2, no overflow
        return forms
    if name == "relu":
        forms.add(a, sp.Max(z, 0))
        forms.add(Symbol(f"{a}_d"), sp.Heaviside(z, 0), a, "slope")
        return forms
    if name == "leaky_relu":
        forms.add(a, sp.Piecewise((z, z > 0), (alpha * z, True)))
        forms.add(Symbol(f"{a}_d"), alpha + (1 - alpha) * sp.Heaviside(z, 0), a, "slope")
        return forms
    if name == "elu":
        negative = sp.Min(z, 0)  # exp of a large positive z would overflow in the unused branch
        forms.add(a, sp.Piecewise((z, z > 0), (alpha * expm1(negative), True)))
        forms.add(Symbol(f"{a}_d"), sp.Piecewise((1, z > 0), (alpha * sp.exp(negative), True)),
                  a, "slope")
        return forms
    if name == "gelu":
        # Phi(z) = erfc(-z/sqrt 2)/2 keeps its relative accuracy for z << 0, where
        # (1 + erf(z/sqrt 2))/2 cancels to 0; _ERFC is not rewritten by SymPy as erfc(-x) is
        phi_big = forms.add(Symbol(f"{a}_p"), _ERFC(-z * sp.Float(math.sqrt(0.5))) / 2)
        forms.add(a, z * phi_big)
        clipped = sp.Min(sp.Abs(z), _GELU_CLIP)
        density = sp.Float(_INV_SQRT_2PI) * sp.exp(-clipped**2 / 2)
        forms.add(Symbol(f"{a}_d"), phi_big + z * density, a, "slope")
        return forms
    if name == "binary_step":
        forms.add(a, sp.Heaviside(z, 1))
        forms.add(Symbol(f"{a}_d"), sp.S.Zero, a, "slope")
        return forms
    if name == "linear":
        forms.add(a, z)
        forms.add(Symbol(f"{a}_d"), sp.S.One, a, "slope")
        return forms
    raise KeyError(name)


def softmax_forms(layer: int, zs: Sequence[Symbol], outputs: Sequence[Symbol]) -> UnitForms:
    """Max-shifted softmax of one layer, with ``1 - a_k`` as the sum of the other shares,
    ``log a_k = z_k - m - log(s)`` (log-softmax), ``log(1 - a_k)`` as a log-sum-exp of the
    others, and ``a_j / (1 - a_k)`` (role ``"over_complement:a_k"``) as ``exp(z_j - lse_k)``
    with ``lse_k`` that log-sum-exp: a share of the others, at most 1, where the quotient
    of the two shares would be 0/0 or overflow.
    """
    forms = UnitForms()
    m = forms.add(Symbol(f"softmax{layer}_max"), sp.Max(*zs) if len(zs) > 1 else zs[0])
    shares = [forms.add(Symbol(f"{a}_e"), sp.exp(z - m)) for z, a in zip(zs, outputs)]
    total = forms.add(Symbol(f"softmax{layer}_sum"), sp.Add(*shares))
    lse = forms.add(Symbol(f"softmax{layer}_lse"), m + sp.log(total))
    for k, (z, a) in enumerate(zip(zs, outputs)):
        forms.add(a, shares[k] / total)
        others = [s for j, s in enumerate(shares) if j != k]
        if not others:
            continue
        forms.add(Symbol(f"{a}_c"), sp.Add(*others) / total, a, "complement")
        forms.add(Symbol(f"{a}_log"), z - lse, a, "log")
        rest = [zj for j, zj in enumerate(zs) if j != k]
        m_rest = sp.Max(*rest) if len(rest) > 1 else rest[0]
        rest_sum = sp.Add(*(sp.exp(zj - m_rest) for zj in rest))
        others_lse = forms.add(Symbol(f"{a}_lseo"), m_rest + sp.log(rest_sum))
        forms.add(Symbol(f"{a}_logc"), others_lse - lse, a, "log_complement")
        for j, (zj, aj) in enumerate(zip(zs, outputs)):
            if j != k:
                forms.add(Symbol(f"{aj}_div_c{k + 1}"), sp.exp(zj - others_lse), aj,
                          f"over_complement:{a}")
    return forms


#: Activations with stable forms (others are compiled from their symbolic definition).
STABLE_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "silu",
                      "gelu", "binary_step", "linear", "softmax")


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
            return f"{self._print(expr.base)}*{self._print(expr.base)}"
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
        if expr.func == _ERFC:  # the run-time helper of the Python printers is C's own erfc
            return f"erfc({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:  # type: ignore[override]
        base, exp = expr.args
        if exp.is_Integer and exp > 0 and _number(expr) is None:
            if exp <= 4:
                wrapped = self.parenthesize(base, PRECEDENCE["Mul"], strict=False)
                return "(" + "*".join([wrapped] * int(exp)) + ")"
            return f"pow({self._print(base)}, {int(exp)})"
        return super()._print_Pow(expr, rational=rational)
