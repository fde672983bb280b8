"""The check of one hand-derived gradient: symbolic first, then numbers, then a diagnosis.

A hand expression (text, LaTeX or a SymPy expression) may use intermediates (``z1``,
``a1``) and error signals (``delta2``); they are replaced by their definitions before
comparing. The check runs in three stages:

1. **symbolic**, cheap: identical expressions, or a ratio SymPy already evaluates to 1;
2. **numeric**: both sides at the spec's own values and at random float64 points
   (resampled away from kinks when an activation has one); a point where they differ is
   a counterexample. Where the numbers agree, the symbolic stage goes on within a time
   budget: the difference is expanded in intermediates, then in inputs and parameters
   (each only when the expansion is bounded), then written in exponentials, and zero
   proves equality; otherwise both sides are evaluated with 30 significant digits at a
   few of the points, where a difference float64 cannot see (a factor 1.000000000001)
   shows;
3. **diagnosis** of a difference, by testing the usual mistakes as identities between
   products at every point (:mod:`.diagnose`).

Verdicts: ``"equal"`` (proved), ``"numerically equal"`` (every point agrees, to 20
digits at the 30-digit ones, and no proof was found within the budget; the ``summary``
says at how many points and within what), ``"equal almost everywhere"`` (the same where
a non-smooth function such as ReLU is involved: the two may differ at its kink),
``"not equal"`` (with a counterexample) and ``"undecided"`` (with the reason).

>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> d = derive(load("derivations/two_neuron.toml"))
>>> check(d, "w2", "-(T - a2)*a2*(1 - a2)*a1").verdict
'equal'
>>> r = check(d, "w2", "(T - a2)*a2*(1 - a2)*a1")
>>> r.verdict, r.kind
('not equal', 'sign')
>>> r.diagnosis
'Your expression is the negative of dE/dw2 (sign error: dE/da2 = -(T - a2)).'
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from ..catalogue import functions_of
from ..derive import Derivation
from ..errors import CheckError, SymgradError, listed
from ..numbers import UnsupportedError, evaluate
from .diagnose import Words, diagnose
from .parse import known_symbols, parse
from .proof import (EXACT_DIGITS, RTOL, ExactValues, close, exact_values, symbolic_proof,
                    to_intermediates)
from .result import CheckResult, distinct, number, undecided
from .sampling import environment, sample_points

__all__ = ["check"]

#: Functions with kinks besides the catalogue's kinked activations.
_NONSMOOTH = (sp.Heaviside, sp.Max, sp.Min, sp.Piecewise, sp.Abs, sp.sign)


#: What an object that is not a scalar expression is, for the error that refuses it.
_NOT_EXPRESSIONS: tuple[tuple[type, str], ...] = (
    (Relational, "an equation or inequality; pass one side, as eq.rhs"),
    (Boolean, "a truth value or a logical formula"),
    (sp.MatrixBase, "a matrix; pass one entry"),
    (sp.MatrixExpr, "a matrix; pass one entry"),
    (sp.Basic, "a SymPy object that is not an expression"),
)
_NOT_SCALAR = (sp.MatrixBase, sp.MatrixExpr)

#: Compiled gradients of the derivations checked lately, by ``id``; an entry leaves when
#: its derivation is collected.
_COMPILED: dict[int, Any] = {}


def _compiled_gradient(derivation: Derivation, wrt: str,
                       points: Sequence[Mapping[str, float]]) -> np.ndarray | None:
    """symgrad's gradient at the points through :mod:`symgrad.compile`, if it is there
    (it compiles parameters' gradients only; ``dE/da1`` and the like come from the
    derivation)."""
    if wrt not in derivation:
        return None
    try:
        from ..compile import compile as compile_derivation
    except ImportError:
        return None
    try:
        key = id(derivation)
        if key not in _COMPILED:
            _COMPILED[key] = compile_derivation(derivation)
            weakref.finalize(derivation, _COMPILED.pop, key, None)
        compiled = _COMPILED[key]
        with np.errstate(all="ignore"):
            return np.array([float(compiled.grad(**p)[wrt]) for p in points])
    except SymgradError:
        return None  # numbers then come from the derivation itself


def check(derivation: Derivation, wrt: str, expr: str | Expr, *, latex: bool = False,
          points: int = 32, seed: int = 0, budget: float = 2.0) -> CheckResult:
    """Check a hand-derived gradient ``dE/d wrt`` against symgrad's.

    Parameters
    ----------
    derivation : from :func:`symgrad.derive`.
    wrt : the parameter's name (``"w2"``), or an input's, a ``z``'s, an ``a``'s or a
        ``delta``'s (``"a1"``: the hand expression is then ``dE/da1``).
    expr : the hand expression: text (``"-(T - a2)*a2*(1 - a2)*a1"``), LaTeX with
        ``latex=True``, or a SymPy expression in the network's symbols.
    points : how many random points the numeric stage adds to the spec's own values.
    seed : seed of the random points.
    budget : seconds the symbolic stage may take before numbers decide.

    Returns
    -------
    CheckResult
        The verdict, the diagnosis in words and LaTeX, the mistake kind, and for
        ``"not equal"`` a counterexample.

    Raises
    ------
    UnknownNameError
        ``wrt`` is not a parameter or named quantity of the network.
    ParseError
        The text is not a valid expression in the network's names (names the column).
    CheckError
        ``expr`` is neither text nor a scalar SymPy expression (an ``Eq``, ``true``, a
        matrix), or uses symbols the network does not have.
    """
    gradient = derivation[wrt]
    yours = _yours(derivation, expr, latex)
    mine = derivation.in_intermediates(gradient.factored)
    base = dict(wrt=wrt, yours=yours, symbolic=gradient.factored)
    words = Words(derivation, wrt)

    yours_i = to_intermediates(derivation, yours)

    def proved(proof: str) -> CheckResult:
        return CheckResult(verdict="equal", method=proof,
                           diagnosis=f"Your expression equals {words.grad} ({proof}).",
                           diagnosis_latex=f"Your expression equals ${words.grad_latex}$.",
                           **base)

    proof = symbolic_proof(derivation, yours_i, mine, wrt, budget, cheap=True)
    if proof is not None:
        return proved(proof)

    penalty = derivation.network.penalty  # numbers take lambda's value, not a symbol
    lam = {} if penalty is None else penalty.values
    with np.errstate(all="ignore"):  # inf and nan are handled as values, not warnings
        return _numeric_check(derivation, wrt, yours_i.xreplace(lam), mine.xreplace(lam),
                              base, words, proved, points=points, seed=seed, budget=budget)


def _yours(derivation: Derivation, expr: str | Expr, latex: bool) -> Expr:
    """The hand expression in the network's own symbols: parsed safely from text, or a
    SymPy expression whose symbols must be the network's."""
    net = derivation.network
    if isinstance(expr, str):
        return parse(expr, net, latex=latex)
    if not isinstance(expr, sp.Expr) or isinstance(expr, _NOT_SCALAR):
        what = next((f" ({words})" for kind, words in _NOT_EXPRESSIONS
                     if isinstance(expr, kind)), "")
        raise CheckError(f"expected text or a SymPy expression, got {type(expr).__name__}"
                         f"{what}")
    known = known_symbols(net)  # lambda too, in a penalty's term
    stray = sorted(str(s) for s in expr.free_symbols if known.get(str(s)) != s)
    twins = [name for name in stray if name in known]
    if twins:
        raise CheckError(f"the expression's symbol {twins[0]} is not the network's: it "
                         "has other assumptions; use plain Symbol(name) or "
                         "network.symbols[name]")
    if stray:
        raise CheckError(f"the expression uses {listed(stray)}, which the network "
                         f"does not have; its symbols are: {listed(known)}")
    return expr


def _numeric_check(derivation: Derivation, wrt: str, yours_i: Expr, mine: Expr,
                   base: dict[str, Any], words: Words,
                   proved: Callable[[str], CheckResult], *, points: int, seed: int,
                   budget: float) -> CheckResult:
    """Stage 2 and 3 of :func:`check`: numbers, a proof where they agree, a diagnosis."""
    net = derivation.network
    pts = sample_points(derivation, points, seed)
    env = environment(derivation, pts)
    try:
        y = evaluate(yours_i, env)
    except UnsupportedError as exc:
        return undecided(base, f"the expression cannot be evaluated numerically ({exc})")
    s = _compiled_gradient(derivation, wrt, pts)
    if s is None:
        s = evaluate(mine, env)
    finite = np.isfinite(y) & np.isfinite(s)
    agree = close(y, s) | ~finite
    near = np.abs(y - s) <= 1e-4 * np.maximum(np.abs(y), np.abs(s))
    if agree.all() or (near | ~finite).all():
        # the numbers agree (or nearly: rounding in a cancelling form?): try for a proof
        proof = symbolic_proof(derivation, yours_i, mine, wrt, budget)
        if proof is not None:
            return proved(proof)
    if finite.sum() < max(3, len(pts) // 2):
        return undecided(base, f"the two sides are finite at only {int(finite.sum())} of "
                                f"{len(pts)} points (overflow, a division by zero, or a "
                                "logarithm or root of a negative number)")
    count = int(finite.sum())
    if agree.all():
        return _agreement(derivation, yours_i, mine, pts, base, words, count)
    bad = int(np.argmin(agree))
    counter = _counterexample(net, lambda sym: env[sym][bad])
    kind, said, said_latex = diagnose(derivation, wrt, yours_i, y, s, env, finite, words)
    return CheckResult(verdict="not equal", kind=kind, diagnosis=said,
                       diagnosis_latex=said_latex, counterexample=counter,
                       yours_value=float(y[bad]), symbolic_value=float(s[bad]),
                       method=f"numeric: {count} points", **base)


def _counterexample(net: Any, value_of: Callable[[Symbol], Any]) -> dict[str, float]:
    """Every symbol's value at a point where the two differ: inputs, parameters, targets,
    then ``z`` and ``a``."""
    order = net.inputs + net.parameters + net.targets + tuple(net.equations)
    return {str(sym): float(value_of(sym)) for sym in order}


def _agreement(derivation: Derivation, yours_i: Expr, mine: Expr,
               pts: Sequence[Mapping[str, float]], base: dict[str, Any], words: Words,
               count: int) -> CheckResult:
    """The verdict when every float64 point agrees and no proof was found.

    A difference that 30-digit values show at two points or more (float64 agrees to
    :data:`RTOL`, so a factor 1.000000000001 passes it) is "not equal"; otherwise the
    verdict says that it rests on numbers: "equal almost everywhere" where a non-smooth
    function is involved, else "numerically equal".
    """
    exact = exact_values(derivation, yours_i, mine, pts)
    differ = [v for v in exact if v.differ]
    if len(differ) >= 2:  # one point could be cancellation in a form; two are not
        return _small_difference(derivation, differ, len(exact), base, words)
    method = f"numeric: {count} points"
    nonsmooth = functions_of(kinked=True) + _NONSMOOTH
    if yours_i.has(*nonsmooth) or mine.has(*nonsmooth):
        return CheckResult(
            verdict="equal almost everywhere", method=method,
            diagnosis=(f"Your expression equals {words.grad} at {count} points away from the "
                       "kinks of its non-smooth functions; the two may differ where a "
                       "pre-activation is exactly at a kink."),
            diagnosis_latex=(f"Your expression equals ${words.grad_latex}$ away from the "
                             "kinks of its non-smooth functions."), **base)
    within = f"at {count} points within {number(RTOL)}"
    digits = (f" (and at {len(exact) - len(differ)} of them to {EXACT_DIGITS} digits)"
              if len(exact) > len(differ) else "")
    said = (f"equals {{}} numerically, {within} relative{digits}; SymPy found no proof "
            "within the time budget.")
    return CheckResult(verdict="numerically equal", summary=f"numerically equal {within}",
                       method=f"{method} within {number(RTOL)}",
                       diagnosis="Your expression " + said.format(words.grad),
                       diagnosis_latex="Your expression " + said.format(
                           f"${words.grad_latex}$"), **base)


def _small_difference(derivation: Derivation, differ: Sequence[ExactValues], checked: int,
                      base: dict[str, Any], words: Words) -> CheckResult:
    """The "not equal" of a difference that only 30-digit values show: a constant factor
    ``1 + r`` when the relative difference ``r`` is the same at every point."""
    first = differ[0]
    rel = [v.relative for v in differ]
    where = (f"(30-digit values differ at {len(differ)} of {checked} points; float64 values "
             f"agree to {number(RTOL)}, which hides it)")
    if all(abs(r - rel[0]) <= 1e-6 * abs(rel[0]) for r in rel):
        kind = "constant_factor"
        factor = f"(1 {'+' if rel[0] > 0 else '-'} {number(abs(rel[0]))})"
        said = f"is {factor} times {{}}: a relative difference of {number(rel[0])} {where}."
    else:
        kind = None
        low, high = distinct([min(rel), max(rel)], 3)
        said = f"differs from {{}} by a relative {low} to {high} {where}."
    return CheckResult(
        verdict="not equal", kind=kind, method=f"exact: 30 digits at {checked} points",
        diagnosis="Your expression " + said.format(words.grad),
        diagnosis_latex="Your expression " + said.format(f"${words.grad_latex}$"),
        counterexample=_counterexample(derivation.network, lambda sym: first.point[sym]),
        yours_value=float(first.yours), symbolic_value=float(first.symbolic), **base)
