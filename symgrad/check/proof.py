"""Proofs of equality within a time budget, and the float64 closeness that stands in
for one when the algebra is too large."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from ..derive import Derivation

__all__ = ["RTOL", "MAX_TERMS", "to_intermediates", "symbolic_proof", "close"]

#: Relative tolerance of a numeric agreement.
RTOL = 1e-7
#: Largest expansion (in terms) the symbolic stage attempts.
MAX_TERMS = 2000


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


def _expands_to_zero(expr: Expr) -> bool:
    """Whether ``expr`` expands to 0, with function applications held as opaque symbols.

    ``sigmoid(b2 + w2*sigmoid(b1 + w1*x1))`` becomes one symbol (the same one wherever it
    appears), so expansion never descends into nested arguments.
    """
    calls = sorted(expr.atoms(sp.Function), key=sp.default_sort_key)
    opaque = {call: sp.Dummy(f"f{i}") for i, call in enumerate(calls)}
    return sp.expand(expr.xreplace(opaque)) == 0


def symbolic_proof(derivation: Derivation, yours: Expr, mine: Expr, wrt: str,
                    budget: float, *, cheap: bool = False) -> str | None:
    """A method that showed ``yours == mine`` within the time budget, or None.

    Bounded steps only, each tried if the previous ones failed and time is left:
    identical trees; a ratio that SymPy's automatic simplification already makes 1 (the
    ``cheap`` steps); then the difference expanded in intermediates, and in inputs and
    parameters, each only when its expansion has at most :data:`MAX_TERMS` terms.
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
    return None


def close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.abs(a - b) <= RTOL * scale + 1e-300
