"""Proofs of equality within a time budget; the float64 closeness that stands in for one
when the algebra is too large; and the 30-digit values that show a difference too small
for float64 points to see."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from ..derive import Derivation
from ..errors import DerivationError
from ..numbers import exact_points

__all__ = ["RTOL", "MAX_TERMS", "MAX_REWRITTEN", "EXACT_DIGITS", "EXACT_RTOL",
           "EXACT_POINTS", "to_intermediates", "symbolic_proof", "close", "ExactValues",
           "exact_values"]

#: Relative tolerance of a numeric agreement.
RTOL = 1e-7
#: Largest expansion (in terms) the symbolic stage attempts.
MAX_TERMS = 2000
#: Most units a proof writes in exponentials: each adds an unknown to the rational function
#: that is cancelled (three units of the 16-layer sigmoid chain: 0.16 s; all sixteen: 14 s).
MAX_REWRITTEN = 4


def to_intermediates(derivation: Derivation, expr: Expr) -> Expr:
    """Deltas by their definitions; ``sigmoid(z2)`` by ``a2`` and ``w2*a1 + b2`` by ``z2``."""
    net = derivation.network
    expr = derivation.in_intermediates(expr)
    back = {eq: s for s, eq in net.equations.items() if not isinstance(eq, Symbol)}
    for _ in range(len(back) + 1):  # innermost first: sigmoid(b1 + w1*x1) -> sigmoid(z1) -> a1
        done = expr.xreplace(back)
        if done == expr:
            break
        expr = done
    return expr


def _product_terms(expr: Expr, limit: int) -> int:
    total = 1
    for a in expr.args:
        total = min(total * _terms(a, limit), limit + 1)
    return total


def _power_terms(expr: Expr, limit: int) -> int:
    if not (expr.exp.is_Integer and expr.exp > 0):
        return 1
    return min(_terms(expr.base, limit) ** min(int(expr.exp), 64), limit + 1)


#: How many terms each kind of node expands to; anything else is one term.
_TERM_RULES: dict[type, Callable[[Expr, int], int]] = {
    sp.Add: lambda expr, limit: min(sum(_terms(a, limit) for a in expr.args), limit + 1),
    sp.Mul: _product_terms,
    sp.Pow: _power_terms,
}


def _terms(expr: Expr, limit: int) -> int:
    """An upper bound of the number of terms ``expand(expr)`` makes (capped past ``limit``)."""
    rule = _TERM_RULES.get(type(expr))
    return 1 if rule is None else rule(expr, limit)


def _opaque(expr: Expr) -> Expr:
    """``expr`` with function applications held as opaque symbols.

    ``sigmoid(b2 + w2*sigmoid(b1 + w1*x1))`` becomes one symbol (the same one wherever it
    appears), so algebra never descends into nested arguments.
    """
    calls = sorted(expr.atoms(sp.Function), key=sp.default_sort_key)
    return expr.xreplace({call: sp.Dummy(f"f{i}") for i, call in enumerate(calls)})


def _expands_to_zero(expr: Expr) -> bool:
    """Whether ``expr`` expands to 0, with function applications held opaque."""
    return sp.expand(_opaque(expr)) == 0


def _zero_in_exponentials(derivation: Derivation, diff: Expr) -> bool:
    """Whether ``diff`` is 0 once the units whose pre-activation it names are written in
    exponentials (``a1 = 1/(1 + exp(-z1))``) and each ``exp(k z)`` is ``u**k`` for one
    unknown ``u`` per ``z``: then it is a rational function, which ``cancel`` decides.

    This proves ``exp(-z1)/(1 + exp(-z1))^2`` equal to ``a1 (1 - a1)``: the other units
    stay symbols, free, so an identity found holds for every value they take.
    """
    net = derivation.network
    units = {a: layer.post_expr(i) for layer in net.layers if layer.activation is not None
             for i, (z, a) in enumerate(zip(layer.pre, layer.post)) if diff.has(z)}
    if not units or len(units) > MAX_REWRITTEN:
        return False
    expr = diff.xreplace(units).rewrite(sp.exp)
    for z in (z for layer in net.layers for z in layer.pre if expr.has(z)):
        expr = expr.subs(sp.exp(z), sp.Dummy(f"exp_{z}"))
    try:
        return sp.cancel(_opaque(expr)) == 0
    except sp.PolynomialError:  # a power with a symbolic exponent, for one
        return False


def symbolic_proof(derivation: Derivation, yours: Expr, mine: Expr, wrt: str,
                    budget: float, *, cheap: bool = False) -> str | None:
    """A method that showed ``yours == mine`` within the time budget, or None.

    Bounded steps only, each tried if the previous ones failed and time is left:
    identical trees; a ratio that SymPy's automatic simplification already makes 1 (the
    ``cheap`` steps); then the difference expanded in intermediates, and in inputs and
    parameters, each only when its expansion has at most :data:`MAX_TERMS` terms; then
    the difference as a rational function of exponentials (:func:`_zero_in_exponentials`).
    """
    start = time.monotonic()
    if yours == mine:
        return "symbolic: identical"
    if mine != 0 and yours / mine == 1:
        return "symbolic: the ratio is 1"
    if cheap:
        return None
    diff = yours - mine
    if _terms(diff, MAX_TERMS) <= MAX_TERMS and _expands_to_zero(diff):
        return "symbolic: expanded in intermediates"
    if time.monotonic() - start > budget:
        return None
    full = derivation.expand(yours) - derivation[wrt].expanded
    if _terms(full, MAX_TERMS) <= MAX_TERMS and _expands_to_zero(full):
        return "symbolic: expanded in inputs and parameters"
    if time.monotonic() - start > budget:
        return None
    if _zero_in_exponentials(derivation, diff):
        return "symbolic: in exponentials"
    return None


def close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.abs(a - b) <= RTOL * scale + 1e-300


#: Digits to which two values with 30 significant digits must agree; a relative difference
#: above ``EXACT_RTOL`` is one whatever the form of either side: 10 of the 30 digits are
#: left for cancellation inside a form.
EXACT_DIGITS = 20
EXACT_RTOL = 10.0 ** -EXACT_DIGITS
#: How many of the points are evaluated with 30 digits when float64 cannot tell.
EXACT_POINTS = 6


@dataclass(frozen=True)
class ExactValues:
    """Yours and symbolic at one point, with 30 significant digits (more for saturated
    units, as :func:`symgrad.numbers.exact_points` chooses)."""

    point: Mapping[Symbol, Expr]
    yours: Expr
    symbolic: Expr

    @property
    def relative(self) -> float:
        """``yours / symbolic - 1``, or ``1 - symbolic / yours`` where symbolic is 0."""
        scale = self.symbolic if self.symbolic != 0 else self.yours
        return float((self.yours - self.symbolic) / scale) if scale != 0 else 0.0

    @property
    def differ(self) -> bool:
        scale = max(abs(self.yours), abs(self.symbolic))
        return bool(abs(self.yours - self.symbolic) > EXACT_RTOL * scale)


def exact_values(derivation: Derivation, yours: Expr, mine: Expr,
                 points: Sequence[Mapping[str, float]]) -> list[ExactValues]:
    """Both sides (in intermediates) at the first :data:`EXACT_POINTS` of ``points`` where
    both are finite real numbers, with 30 significant digits.

    Where float64 values agree to :data:`RTOL`, a relative difference of ``1e-12`` (a
    factor ``1.000000000001``) still shows here.
    """
    net = derivation.network
    pre = {z for layer in net.layers for z in layer.pre}
    deltas = {s: step.expression for s, step in derivation.deltas.items()}
    found = []
    for values in points[:EXACT_POINTS]:
        try:
            [point] = exact_points(net.parameters, net.inputs + net.targets, net.equations,
                                   pre, deltas, values)
            y = point.exact(yours, "your expression", EXACT_DIGITS + 10)
            s = point.exact(mine, "the symbolic gradient", EXACT_DIGITS + 10)
        except DerivationError:  # beyond exact evaluation here: the other points decide
            continue
        if all(v.is_real and v.is_finite for v in (y, s)):
            found.append(ExactValues(point.values, y, s))
    return found
