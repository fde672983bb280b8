r"""Check a hand-derived gradient against the symbolic one, and say what is wrong with it.

A hand expression (text, LaTeX or a SymPy expression) may use intermediates (``z1``,
``a1``) and error signals (``delta2``); they are replaced by their definitions before
comparing. The check runs in three stages:

1. **symbolic**, cheap: identical expressions, or a ratio SymPy already evaluates to 1;
2. **numeric**: both sides at the spec's own values and at random float64 points
   (resampled away from kinks when an activation has one); a point where they differ is
   a counterexample. Where the numbers agree, the symbolic stage goes on within a time
   budget: the difference is expanded in intermediates, then in inputs and parameters
   (each only when the expansion is bounded), and zero proves equality; otherwise the
   agreement at every point decides;
3. **diagnosis** of a difference, by testing the usual mistakes as identities between
   products at every point: a sign error, a constant factor, a layer or unit index mixed
   up, a missing or extra chain-rule factor (named), a wrong activation derivative.

Verdicts: ``"equal"``, ``"equal almost everywhere"`` (a non-smooth function such as
ReLU is involved and the two agree away from its kink, which symbolic algebra could not
show), ``"not equal"`` (with a counterexample) and ``"undecided"`` (with the reason).

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

import os
import re
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from .catalogue import functions_of
from .derive import Derivation, Factor
from .errors import CheckError, ParseError, SymgradError
from .files import read_toml
from .parse import parse_expression
from .numbers import UnsupportedError, evaluate
from .printing import latex, partial_latex, partial_text, text

__all__ = [
    "CheckResult",
    "check",
    "check_file",
    "read_hand_file",
    "HandEntry",
    "sample_points",
    "VERDICTS",
    "MISTAKES",
]

VERDICTS = ("equal", "equal almost everywhere", "not equal", "undecided")
#: Mistake kinds a diagnosis can name.
MISTAKES = ("sign", "constant_factor", "layer_index", "unit_index", "missing_factor",
            "extra_factor", "activation_derivative")
#: Functions with kinks besides the catalogue's kinked activations.
_NONSMOOTH = (sp.Heaviside, sp.Max, sp.Min, sp.Piecewise, sp.Abs, sp.sign)
_RTOL = 1e-7
_MAX_TERMS = 2000  # largest expansion (in terms) the symbolic stage attempts


@dataclass
class CheckResult:
    """The outcome of checking one hand-derived gradient.

    Attributes
    ----------
    wrt : the parameter (``"w2"``).
    verdict : one of :data:`VERDICTS`.
    diagnosis : a sentence saying what was found (why equal, what is wrong, or why undecided).
    diagnosis_latex : the same sentence with LaTeX math (``$...$``).
    kind : the mistake found (one of :data:`MISTAKES`), or ``None``.
    counterexample : for ``"not equal"``: the value of every symbol at a point where the
        two differ (inputs, parameters, targets, then ``z`` and ``a``), else ``None``.
    yours_value, symbolic_value : the two gradients at the counterexample.
    yours : the hand expression as parsed (SymPy).
    symbolic : symgrad's gradient, factored in intermediates.
    method : how the verdict was reached (``"symbolic: expanded in intermediates"``, or
        ``"numeric: 33 points"``).
    note, expected, line : from a hand-derivation file (the entry's note, the mistake the
        entry says it contains or ``"equal"``, its line), else empty.
    """

    wrt: str
    verdict: str
    diagnosis: str
    diagnosis_latex: str
    kind: str | None = None
    counterexample: dict[str, float] | None = None
    yours_value: float | None = None
    symbolic_value: float | None = None
    yours: Expr | None = None
    symbolic: Expr | None = None
    method: str = ""
    note: str = ""
    expected: str | None = None
    line: int | None = None

    @property
    def ok(self) -> bool:
        """True for ``"equal"`` and ``"equal almost everywhere"``."""
        return self.verdict in ("equal", "equal almost everywhere")

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: expressions as text and LaTeX."""
        return {
            "wrt": self.wrt, "verdict": self.verdict, "kind": self.kind,
            "diagnosis": self.diagnosis, "diagnosis_latex": self.diagnosis_latex,
            "counterexample": self.counterexample, "yours_value": self.yours_value,
            "symbolic_value": self.symbolic_value,
            "yours": None if self.yours is None else text(self.yours),
            "symbolic": None if self.symbolic is None else text(self.symbolic),
            "method": self.method, "note": self.note, "expected": self.expected,
            "line": self.line,
        }


# -- numbers ---------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value,
                                                                                      bool)


def sample_points(derivation: Derivation, count: int = 32, seed: int = 0, *,
                  include_spec: bool = True) -> list[dict[str, float]]:
    """Points (values of inputs, parameters and targets) at which to compare gradients.

    The spec's own values come first (its first sample, if it has several), then
    ``count`` seeded random points: parameters and inputs uniform in (-1.5, 1.5) and
    (-2, 2), targets uniform in (0, 1) (a random probability vector for categorical
    cross-entropy, whose derivation assumes the targets sum to 1). When a layer's
    activation has a kink, a point whose pre-activation lies within 1e-3 of it is drawn
    again.

    >>> from symgrad.network import load
    >>> from symgrad.derive import derive
    >>> points = sample_points(derive(load("derivations/two_neuron.toml")), 2)
    >>> len(points), points[0]["w2"]
    (3, 0.45)
    """
    net = derivation.network
    names = [str(s) for s in net.inputs + net.parameters + net.targets]
    points: list[dict[str, float]] = []
    if include_spec and set(names) <= set(net.values):
        first = {}
        for name in names:
            value = np.asarray(net.values[name], dtype=float).ravel()
            first[name] = float(value[0])
        points.append(first)
    rng = np.random.default_rng(seed)
    kinked = [layer for layer in net.layers
              if layer.activation is not None and layer.activation.kinked]
    tries = 0
    wanted = len(points) + count
    while len(points) < wanted and tries < 20 * count:
        tries += 1
        point = {str(s): float(rng.uniform(-2.0, 2.0)) for s in net.inputs}
        point.update({str(s): float(rng.uniform(-1.5, 1.5)) for s in net.parameters})
        if net.loss.name == "cce":
            targets = rng.dirichlet(np.ones(len(net.targets)))
        else:
            targets = rng.uniform(0.0, 1.0, len(net.targets))
        point.update({str(s): float(t) for s, t in zip(net.targets, targets)})
        if kinked:
            env = _environment(derivation, [point])
            if any(abs(env[z][0]) < 1e-3 for layer in kinked for z in layer.pre):
                continue
        points.append(point)
    return points


def _environment(derivation: Derivation, points: Sequence[Mapping[str, float]]
                 ) -> dict[Symbol, np.ndarray]:
    """The value of every symbol (intermediates and deltas too) at every point, in float64.

    The forward equations, then the error signals output layer first, evaluated at all
    points at once by :func:`evaluate`.
    """
    net = derivation.network
    env: dict[Symbol, np.ndarray] = {
        s: np.array([float(p[str(s)]) for p in points])
        for s in net.inputs + net.parameters + net.targets}
    for symbol, eq in net.equations.items():
        env[symbol] = evaluate(eq, env)
    for symbol, step in derivation.deltas.items():
        env[symbol] = evaluate(step.expression, env)
    return env


_COMPILED: dict[int, tuple[Derivation, Any]] = {}


def _compiled_gradient(derivation: Derivation, wrt: str,
                       points: Sequence[Mapping[str, float]]) -> np.ndarray | None:
    """symgrad's gradient at the points through :mod:`symgrad.compile`, if it is there
    (it compiles parameters' gradients only; ``dE/da1`` and the like come from the
    derivation)."""
    if wrt not in derivation:
        return None
    try:
        from .compile import compile as compile_derivation
    except ImportError:
        return None
    try:
        key = id(derivation)
        if key not in _COMPILED or _COMPILED[key][0] is not derivation:
            if len(_COMPILED) >= 8:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[key] = (derivation, compile_derivation(derivation))
        compiled = _COMPILED[key][1]
        with np.errstate(all="ignore"):
            return np.array([float(compiled.grad(**p)[wrt]) for p in points])
    except SymgradError:
        return None  # numbers then come from the derivation itself


# -- the check -------------------------------------------------------------------------


def _to_intermediates(derivation: Derivation, expr: Expr) -> Expr:
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


def _terms(expr: Expr, limit: int) -> int:
    """An upper bound of the number of terms ``expand(expr)`` makes (capped past ``limit``)."""
    if isinstance(expr, sp.Add):
        return min(sum(_terms(a, limit) for a in expr.args), limit + 1)
    if isinstance(expr, sp.Mul):
        total = 1
        for a in expr.args:
            total = min(total * _terms(a, limit), limit + 1)
        return total
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return min(_terms(expr.base, limit) ** min(int(expr.exp), 64), limit + 1)
    return 1


def _expands_to_zero(expr: Expr) -> bool:
    """Whether ``expr`` expands to 0, with function applications held as opaque symbols.

    ``sigmoid(b2 + w2*sigmoid(b1 + w1*x1))`` becomes one symbol (the same one wherever it
    appears), so expansion never descends into nested arguments.
    """
    calls = sorted(expr.atoms(sp.Function), key=sp.default_sort_key)
    opaque = {call: sp.Dummy(f"f{i}") for i, call in enumerate(calls)}
    return sp.expand(expr.xreplace(opaque)) == 0


def _symbolic_proof(derivation: Derivation, yours: Expr, mine: Expr, wrt: str,
                    budget: float, *, cheap: bool = False) -> str | None:
    """A method that showed ``yours == mine`` within the time budget, or None.

    Bounded steps only, each tried if the previous ones failed and time is left:
    identical trees; a ratio that SymPy's automatic simplification already makes 1 (the
    ``cheap`` steps); then the difference expanded in intermediates, and in inputs and
    parameters, each only when its expansion has at most :data:`_MAX_TERMS` terms.
    """
    start = time.monotonic()
    if yours == mine:
        return "symbolic: identical"
    if mine != 0 and yours / mine == 1:
        return "symbolic: the ratio is 1"
    if cheap:
        return None
    diff = yours - mine
    if _terms(diff, _MAX_TERMS) <= _MAX_TERMS and _expands_to_zero(diff):
        return "symbolic: expanded in intermediates"
    if time.monotonic() - start > budget:
        return None
    full = derivation.expand(yours) - derivation[wrt].expanded
    if _terms(full, _MAX_TERMS) <= _MAX_TERMS and _expands_to_zero(full):
        return "symbolic: expanded in inputs and parameters"
    return None


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.abs(a - b) <= _RTOL * scale + 1e-300


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
    """
    net = derivation.network
    gradient = derivation[wrt]
    if isinstance(expr, str):
        yours = parse_expression(expr, net.symbols, latex=latex)
    elif isinstance(expr, sp.Basic):
        yours = expr
        stray = sorted(str(s) for s in expr.free_symbols if net.symbols.get(str(s)) != s)
        twins = [name for name in stray if name in net.symbols]
        if twins:
            raise CheckError(f"the expression's symbol {twins[0]} is not the network's: it "
                             "has other assumptions; use plain Symbol(name) or "
                             "network.symbols[name]")
        if stray:
            raise CheckError(f"the expression uses {', '.join(stray)}, which the network "
                             f"does not have; its symbols are: {', '.join(net.symbols)}")
    else:
        raise CheckError(f"expected text or a SymPy expression, got {type(expr).__name__}")
    mine = derivation.in_intermediates(gradient.factored)
    base = dict(wrt=wrt, yours=yours, symbolic=gradient.factored)
    words = _Words(derivation, wrt)

    yours_i = _to_intermediates(derivation, yours)

    def proved(proof: str) -> CheckResult:
        return CheckResult(verdict="equal", method=proof,
                           diagnosis=f"Your expression equals {words.grad} ({proof}).",
                           diagnosis_latex=f"Your expression equals ${words.grad_latex}$.",
                           **base)

    proof = _symbolic_proof(derivation, yours_i, mine, wrt, budget, cheap=True)
    if proof is not None:
        return proved(proof)

    with np.errstate(all="ignore"):  # inf and nan are handled as values, not warnings
        return _numeric_check(derivation, wrt, yours_i, mine, base, words, proved,
                              points=points, seed=seed, budget=budget)


def _numeric_check(derivation: Derivation, wrt: str, yours_i: Expr, mine: Expr,
                   base: dict[str, Any], words: "_Words",
                   proved: Callable[[str], CheckResult], *, points: int, seed: int,
                   budget: float) -> CheckResult:
    """Stage 2 and 3 of :func:`check`: numbers, a proof where they agree, a diagnosis."""
    net = derivation.network
    pts = sample_points(derivation, points, seed)
    env = _environment(derivation, pts)
    try:
        y = evaluate(yours_i, env)
    except UnsupportedError as exc:
        return _undecided(base, f"the expression cannot be evaluated numerically ({exc})")
    s = _compiled_gradient(derivation, wrt, pts)
    if s is None:
        s = evaluate(mine, env)
    finite = np.isfinite(y) & np.isfinite(s)
    close = _close(y, s) | ~finite
    near = np.abs(y - s) <= 1e-4 * np.maximum(np.abs(y), np.abs(s))
    if close.all() or (near | ~finite).all():
        # the numbers agree (or nearly: rounding in a cancelling form?): try for a proof
        proof = _symbolic_proof(derivation, yours_i, mine, wrt, budget)
        if proof is not None:
            return proved(proof)
    if finite.sum() < max(3, len(pts) // 2):
        return _undecided(base, f"the two sides are finite at only {int(finite.sum())} of "
                                f"{len(pts)} points (overflow, a division by zero, or a "
                                "logarithm or root of a negative number)")
    method = f"numeric: {int(finite.sum())} points"
    if close.all():
        nonsmooth = functions_of(kinked=True) + _NONSMOOTH
        if yours_i.has(*nonsmooth) or mine.has(*nonsmooth):
            return CheckResult(
                verdict="equal almost everywhere", method=method,
                diagnosis=(f"Your expression equals {words.grad} at {int(finite.sum())} "
                           "points away from the kinks of its non-smooth functions; the two "
                           "may differ where a pre-activation is exactly at a kink."),
                diagnosis_latex=(f"Your expression equals ${words.grad_latex}$ away from the "
                                 "kinks of its non-smooth functions."), **base)
        return CheckResult(verdict="equal", method=method,
                           diagnosis=f"Your expression equals {words.grad} ({method}).",
                           diagnosis_latex=f"Your expression equals ${words.grad_latex}$.",
                           **base)
    bad = int(np.argmin(close))
    order = net.inputs + net.parameters + net.targets + tuple(net.equations)
    counter = {str(sym): float(env[sym][bad]) for sym in order}
    kind, said, said_latex = _diagnose(derivation, wrt, yours_i, y, s, env, finite, words)
    return CheckResult(verdict="not equal", kind=kind, diagnosis=said,
                       diagnosis_latex=said_latex, counterexample=counter,
                       yours_value=float(y[bad]), symbolic_value=float(s[bad]),
                       method=method, **base)


def _undecided(base: dict[str, Any], reason: str) -> CheckResult:
    return CheckResult(verdict="undecided", diagnosis=f"Undecided: {reason}.",
                       diagnosis_latex=f"Undecided: {reason}.", method="numeric", **base)


# -- diagnosis -------------------------------------------------------------------------


class _Words:
    """Names of derivatives in text and LaTeX (``dE/dw2``, ``\\frac{\\partial E}{...}``)."""

    def __init__(self, derivation: Derivation, wrt: str) -> None:
        net = derivation.network
        self.net = net
        self.parameter = derivation[wrt].parameter
        self.grad = partial_text(net.loss_symbol, self.parameter, unicode=False)
        self.grad_latex = partial_latex(net.loss_symbol, self.parameter, net)

    def factor(self, f: Factor) -> tuple[str, str]:
        """``a1 (dz2/dw2)`` and its LaTeX."""
        negated = f.kind == "loss"
        t = f"{text(f.expression, negated=negated)} " \
            f"({partial_text(f.numerator, f.denominator, unicode=False)})"
        lt = (f"${latex(f.expression, self.net, negated=negated)}$ "
              f"(${partial_latex(f.numerator, f.denominator, self.net)}$)")
        return t, lt


def _candidate_factors(derivation: Derivation) -> list[Factor]:
    """Every chain factor of the derivation, and each unit's activation derivative.

    A softmax unit contributes the diagonal of its Jacobian, ``a (1 - a)``, which hand
    derivations often put where the whole Jacobian belongs.
    """
    seen: dict[Expr, Factor] = {}
    for g in derivation.values():
        for f in g.chain:
            if f.kind != "delta" and f.expression != 1:
                seen.setdefault(f.expression, f)
    net = derivation.network
    for layer in net.layers:
        for i, (z, a) in enumerate(zip(layer.pre, layer.post)):
            if layer.activation is None:
                continue
            step = derivation.deltas[layer.deltas[i]]
            local = step.local if step.local is not None else a * (1 - a)
            if local != 1:
                seen.setdefault(local, Factor(a, z, local, "activation", layer.post_expr(i)))
        for i, row in enumerate(layer.weights):
            for j, w in enumerate(row):
                seen.setdefault(w, Factor(layer.pre[i], layer.inputs[j], w, "weight",
                                          layer.pre_expr(i)))
                seen.setdefault(layer.inputs[j], Factor(layer.pre[i], w, layer.inputs[j],
                                                        "input", layer.pre_expr(i)))
    return list(seen.values())


def _same_role_pairs(derivation: Derivation) -> list[tuple[Symbol, Symbol, str]]:
    """Pairs ``(s, t, what)`` of symbols of one role: ``(a1, a2, "layer")``.

    ``what`` is ``"layer"`` for symbols of different layers (in a wide network, of the
    same unit) and ``"unit"`` for symbols of different units of one layer.
    """
    net = derivation.network
    groups: dict[str, list[tuple[int, int, Symbol]]] = {r: [] for r in
                                                        ("w", "b", "z", "a", "d")}
    groups["a"] += [(0, k, s) for k, s in enumerate(net.inputs)]  # inputs: layer 0's outputs
    for layer in net.layers:
        weights = tuple(dict.fromkeys(w for row in layer.weights for w in row))  # tied: once
        roles = {"w": weights, "b": tuple(dict.fromkeys(layer.biases)), "z": layer.pre,
                 "d": layer.deltas,
                 "a": layer.post if layer.activation is not None else ()}
        for r, symbols in roles.items():
            groups[r] += [(layer.index, k, s) for k, s in enumerate(symbols)]
    pairs = []
    for group in groups.values():
        for li, ki, s in group:
            for lj, kj, t in group:
                if li != lj and (net.is_chain or ki == kj):
                    pairs.append((s, t, "layer"))
                elif li == lj and ki != kj:
                    pairs.append((s, t, "unit"))
    return pairs


def _matches(left: np.ndarray, right: np.ndarray, mask: np.ndarray) -> bool:
    ok = mask & np.isfinite(left) & np.isfinite(right)
    return bool(ok.sum() >= 3 and _close(left[ok], right[ok]).all())


def _constant_words(derivation: Derivation, c: Fraction) -> tuple[str, str]:
    """Why a gradient is ``c`` times too large, in text and in LaTeX."""
    net = derivation.network
    halved = net.loss.name in ("half_sse", "half_mse")
    size = abs(c)
    loss = f"{net.loss.symbol} = {text(net.error)}"
    loss_l = f"${net.loss.symbol} = {latex(net.error, net)}$"
    if size == 2 and halved:
        why = ("the 2 from differentiating the square is kept although {} has the factor 1/2 "
               "that cancels it (the forgotten 1/2 in E)")
    elif size == Fraction(1, 2) and halved:
        why = "the 1/2 of {} is applied but the 2 from differentiating the square is missing"
    elif size == Fraction(1, 2) and net.loss.name in ("sse", "mse"):
        why = "the 2 from differentiating the square in {} is missing"
    elif size == 2:
        why = "an extra factor 2"
    else:
        why = "a constant factor off"
    return why.format(loss), why.format(loss_l)


def _diagnose(derivation: Derivation, wrt: str, yours: Expr, y: np.ndarray, s: np.ndarray,
              env: Mapping[Symbol, np.ndarray], finite: np.ndarray, words: _Words
              ) -> tuple[str | None, str, str]:
    """The usual mistake that explains ``y`` (yours) against ``s`` (symbolic), in words.

    Every hypothesis is tested as an identity between products at every point
    (``yours * F == symbolic`` for a missing factor ``F``), so points where the gradient
    is zero count too.
    """
    net = derivation.network
    g = derivation[wrt]
    grad, grad_l = words.grad, f"${words.grad_latex}$"

    def value(expr: Expr) -> np.ndarray:
        try:
            return evaluate(expr, env)
        except UnsupportedError:
            return np.full(len(y), np.nan)

    def holds(left: np.ndarray, right: np.ndarray) -> bool:
        return _matches(left, right, finite)

    # a sign error
    if holds(y, -s):
        loss_factor = _loss_factor(derivation, g)
        extra, extra_l = "", ""
        if loss_factor is not None:
            num, den = loss_factor.numerator, loss_factor.denominator
            extra = (f" (sign error: {partial_text(num, den, unicode=False)} = "
                     f"{text(loss_factor.expression, negated=True)})")
            extra_l = (f" (sign error: ${partial_latex(num, den, net)} = "
                       f"{latex(loss_factor.expression, net, negated=True)}$)")
        return ("sign", f"Your expression is the negative of {grad}{extra}.",
                f"Your expression is the negative of {grad_l}{extra_l}.")
    # a constant factor
    nonzero = finite & (np.abs(s) > 1e-300) & (np.abs(y) > 1e-300)
    if nonzero.sum() >= 3:
        c = float(np.median(y[nonzero] / s[nonzero]))
        frac = Fraction(c).limit_denominator(1000)
        if frac not in (0, 1) and holds(y, float(frac) * s):
            shown = f"{frac.numerator}" + (f"/{frac.denominator}" if frac.denominator > 1
                                           else "")
            shown_l = sp.latex(sp.Rational(frac.numerator, frac.denominator))
            also = " and of the opposite sign" if frac < 0 else ""
            why, why_l = _constant_words(derivation, frac)
            return ("constant_factor",
                    f"Your expression is {shown} times {grad}{also}: {why}.",
                    f"Your expression is ${shown_l}$ times {grad_l}{also}: {why_l}.")
    # an index mixed up: s where t belongs
    for a, b, what in _same_role_pairs(derivation):
        if not yours.has(a):
            continue
        variants = [yours.xreplace({a: b})]
        if isinstance(yours, sp.Mul):
            args = list(yours.args)
            variants += [sp.Mul(*(args[:k] + [f.xreplace({a: b})] + args[k + 1:]))
                         for k, f in enumerate(args) if f.has(a)]
        va, vb = value(a), value(b)
        hit = any(holds(value(v), s) for v in variants) or holds(y * vb, s * va) or any(
            holds(y * value(f.expression), s * value(f.expression.xreplace({b: a})))
            for f in g.chain if f.expression.has(b))
        if hit:
            kind = "layer_index" if what == "layer" else "unit_index"
            said = f"a {what} index mixed up"
            return (kind, f"Your expression has {a} where {b} belongs ({said}).",
                    f"Your expression has ${latex(a, net)}$ where ${latex(b, net)}$ belongs "
                    f"({said}).")
    # a missing or extra chain-rule factor
    chain = [f for f in g.chain if f.kind != "delta" and f.expression != 1]
    candidates = _candidate_factors(derivation)
    for f in chain + [f for f in candidates if f not in chain]:
        if holds(y * value(f.expression), s):
            t, lt = words.factor(f)
            return ("missing_factor", f"Your expression is missing the factor {t}.",
                    f"Your expression is missing the factor {lt}.")
    for f in candidates:
        if holds(y, s * value(f.expression)):
            t, lt = words.factor(f)
            return ("extra_factor", f"Your expression has an extra factor {t}, which is not "
                                    f"in the chain of {grad}.",
                    f"Your expression has an extra factor {lt}, which is not in the chain "
                    f"of {grad_l}.")
    for i, f1 in enumerate(chain):
        for f2 in chain[i + 1:]:
            if holds(y * value(f1.expression * f2.expression), s):
                t1, lt1 = words.factor(f1)
                t2, lt2 = words.factor(f2)
                return ("missing_factor",
                        f"Your expression is missing the factors {t1} and {t2}.",
                        f"Your expression is missing the factors {lt1} and {lt2}.")
    # a wrong activation derivative: what stands where da/dz belongs
    for f in candidates:
        if f.kind != "activation":
            continue
        a, z = f.numerator, f.denominator
        local = value(f.expression)
        for wrong in (a, 1 - a, a ** 2, 1 - a ** 2, a * (1 - a), 1 + a, 1 - 2 * a):
            if wrong == f.expression or not holds(y * local, s * value(wrong)):
                continue
            layer = net.layer_of(z)
            name = layer.activation.name if layer.activation else "activation"
            dname = partial_text(a, z, unicode=False)
            return ("activation_derivative",
                    f"Your expression uses {text(wrong)} for {dname}, but the derivative "
                    f"of the {name} is {dname} = {text(f.expression)}.",
                    f"Your expression uses ${latex(wrong, net)}$ for "
                    f"${partial_latex(a, z, net)}$, but the derivative of the {name} is "
                    f"${latex(f.expression, net)}$.")
    ratio = y[nonzero] / s[nonzero]
    spread = (f" (the ratio yours/symbolic varies from {ratio.min():.4g} to "
              f"{ratio.max():.4g})") if ratio.size else ""
    return (None, f"Your expression differs from {grad}, and no single usual mistake "
                  f"explains it{spread}.",
            f"Your expression differs from {grad_l}, and no single usual mistake explains "
            "it.")


def _loss_factor(derivation: Derivation, g: Any) -> Factor | None:
    for f in g.chain:
        if f.kind == "loss":
            return f
    net = derivation.network
    for step in derivation.deltas.values():
        if step.layer == len(net.layers):
            layer = net.layers[-1]
            k = layer.pre.index(step.pre)
            return Factor(net.loss_symbol, layer.post[k], step.upstream, "loss", net.error)
    return None


# -- files of hand derivations ---------------------------------------------------------


@dataclass(frozen=True)
class HandEntry:
    """One ``[[gradient]]`` table of a hand-derivation file."""

    wrt: str
    text: str
    latex: bool
    note: str = ""
    expected: str | None = None
    line: int | None = None
    field: str = ""


#: Largest file of hand derivations read, in bytes.
MAX_FILE_BYTES = 1_000_000
_ENTRY_KEYS = ("wrt", "expr", "latex", "note", "expect")
_EXPECT = ("equal",) + MISTAKES + ("wrong",)


def _entry_lines(text: str) -> list[int]:
    return [i + 1 for i, line in enumerate(text.splitlines())
            if re.match(r"^\s*\[\[\s*gradient\s*\]\]", line)]


def _field_line(text: str, start: int | None, key: str) -> int | None:
    if start is None:
        return None
    lines = text.splitlines()
    for i in range(start, len(lines)):
        if i > start - 1 and re.match(r"^\s*\[", lines[i]):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start


def read_hand_file(path: str | os.PathLike[str]) -> tuple[str, list[HandEntry]]:
    """Read and validate a file of hand derivations; returns its title and entries.

    The format (TOML)::

        title = "..."                # optional
        [[gradient]]
        wrt = "w2"                   # the parameter
        expr = "-(T - a2)*a2*(1 - a2)*a1"   # plain math, or instead:
        # latex = '-(T-a_2)\\,a_2(1-a_2)\\,a_1'
        note = "..."                 # optional
        expect = "sign"              # optional: "equal" or the mistake the entry contains

    Every error is a :class:`CheckError` naming the file, the line and the field.
    """
    name = str(path)
    data, body = read_toml(name, what="a file of hand derivations", limit=MAX_FILE_BYTES,
                           error=CheckError)  # the limit is checked before TOML parsing
    for key in data:
        if key not in ("title", "description", "gradient"):
            raise CheckError("unknown field; expected one of: title, description, gradient",
                             path=name, field=key)
    title = data.get("title", "")
    if not isinstance(title, str):
        raise CheckError("expected a string", path=name, field="title")
    entries_raw = data.get("gradient")
    if not isinstance(entries_raw, list) or not entries_raw:
        raise CheckError("expected one or more [[gradient]] tables", path=name, field="gradient")
    starts = _entry_lines(body)
    entries = []
    for i, raw in enumerate(entries_raw):
        start = starts[i] if i < len(starts) else None
        where = f"gradient[{i}]"

        def fail(key: str, message: str) -> CheckError:
            line = _field_line(body, start, key) if key else start
            return CheckError(message, path=name, line=line,
                              field=f"{where}{'.' + key if key else ''}")

        if not isinstance(raw, dict):
            raise fail("", "expected a table")
        for key in raw:
            if key not in _ENTRY_KEYS:
                raise fail(key, f"unknown field; expected one of: {', '.join(_ENTRY_KEYS)}")
        for key in raw:
            if not isinstance(raw[key], str):
                raise fail(key, f"expected a string, got {type(raw[key]).__name__}")
        if "wrt" not in raw:
            raise fail("", "missing field 'wrt' (the parameter)")
        has = [k for k in ("expr", "latex") if k in raw]
        if len(has) != 1:
            raise fail("", "give exactly one of 'expr' (plain math) or 'latex'")
        expect = raw.get("expect")
        if expect is not None and expect not in _EXPECT:
            raise fail("expect", f"unknown value '{expect}'; expected one of: "
                                 f"{', '.join(_EXPECT)}")
        key = has[0]
        entries.append(HandEntry(raw["wrt"], raw[key], key == "latex", raw.get("note", ""),
                                 expect, _field_line(body, start, key), f"{where}.{key}"))
    return title, entries


def check_file(derivation: Derivation, path: str | os.PathLike[str], **options: Any
               ) -> list[CheckResult]:
    """Check every entry of a hand-derivation file (see :func:`read_hand_file`).

    A bad entry (unknown parameter, unparsable expression) is a :class:`CheckError`
    naming the file, line, field and, for an expression, the column.

    >>> from symgrad.network import load
    >>> from symgrad.derive import derive
    >>> d = derive(load("derivations/two_neuron.toml"))
    >>> results = check_file(d, "derivations/two_neuron_hand.toml")
    >>> all(r.verdict == "equal" for r in results if r.expected == "equal")
    True
    """
    name = str(path)
    _, entries = read_hand_file(path)
    results = []
    for entry in entries:
        if entry.wrt not in derivation:
            raise CheckError(f"'{entry.wrt}' is not a parameter of the network; its "
                             f"parameters are: {', '.join(derivation)}", path=name,
                             line=entry.line, field=f"{entry.field.rsplit('.', 1)[0]}.wrt")
        try:
            result = check(derivation, entry.wrt, entry.text, latex=entry.latex, **options)
        except ParseError as exc:
            raise CheckError(str(exc), path=name, line=entry.line, field=entry.field) from None
        result.note, result.expected, result.line = entry.note, entry.expected, entry.line
        results.append(result)
    return results
