"""Diagnosis: which usual mistake explains a wrong gradient, in words and LaTeX.

Each kind of mistake is one small function, tried in the order of :data:`TESTS`: a sign
error (after the penalty's term left out, when the network has a penalty), a constant
factor, an index mixed up, a missing chain-rule factor, a wrong
activation derivative (before an extra factor: ReLU' written as ReLU itself is ``a1``
where ``Heaviside(z1)`` belongs, which is also "an extra factor a1" wherever ReLU is
not 0), an extra factor, a pair of missing factors, a weight matrix transposed, a
back-propagation path left out, and a unit left out of a tied parameter's sum. The first
that holds is the diagnosis. Every hypothesis is an identity between products or sums
at every point (``yours * F == symbolic`` for a missing factor ``F``), so points where
the gradient is zero count too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from ..derive import Derivation, DeltaStep, Factor, Gradient
from ..numbers import UnsupportedError, evaluate
from ..printing import latex, partial_latex, partial_text, text
from .proof import close
from .result import distinct

__all__ = ["Words", "diagnose", "TESTS"]


class Words:
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
    return bool(ok.sum() >= 3 and close(left[ok], right[ok]).all())


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


Diagnosis = tuple[str | None, str, str]


@dataclass
class _Case:
    """What every test of a mistake looks at: yours (``y``) and symbolic (``s``) at the
    points of ``env``, where both are ``finite``."""

    derivation: Derivation
    gradient: Gradient
    yours: Expr
    y: np.ndarray
    s: np.ndarray
    env: Mapping[Symbol, np.ndarray]
    finite: np.ndarray
    words: Words

    def value(self, expr: Expr) -> np.ndarray:
        try:
            return evaluate(expr, self.env)
        except UnsupportedError:
            return np.full(len(self.y), np.nan)

    def holds(self, left: np.ndarray, right: np.ndarray) -> bool:
        return _matches(left, right, self.finite)

    @property
    def nonzero(self) -> np.ndarray:
        return self.finite & (np.abs(self.s) > 1e-300) & (np.abs(self.y) > 1e-300)

    @property
    def chain(self) -> list[Factor]:
        return [f for f in self.gradient.chain if f.kind != "delta" and f.expression != 1]


def _sign(c: _Case) -> Diagnosis | None:
    if not c.holds(c.y, -c.s):
        return None
    net = c.derivation.network
    loss_factor = _loss_factor(c.derivation, c.gradient)
    extra, extra_l = "", ""
    if loss_factor is not None:
        num, den = loss_factor.numerator, loss_factor.denominator
        extra = (f" (sign error: {partial_text(num, den, unicode=False)} = "
                 f"{text(loss_factor.expression, negated=True)})")
        extra_l = (f" (sign error: ${partial_latex(num, den, net)} = "
                   f"{latex(loss_factor.expression, net, negated=True)}$)")
    return ("sign", f"Your expression is the negative of {c.words.grad}{extra}.",
            f"Your expression is the negative of ${c.words.grad_latex}${extra_l}.")


def _constant_factor(c: _Case) -> Diagnosis | None:
    nonzero = c.nonzero
    if nonzero.sum() < 3:
        return None
    frac = Fraction(float(np.median(c.y[nonzero] / c.s[nonzero]))).limit_denominator(1000)
    if frac in (0, 1) or not c.holds(c.y, float(frac) * c.s):
        return None
    shown = f"{frac.numerator}" + (f"/{frac.denominator}" if frac.denominator > 1 else "")
    shown_l = sp.latex(sp.Rational(frac.numerator, frac.denominator))
    also = " and of the opposite sign" if frac < 0 else ""
    why, why_l = _constant_words(c.derivation, frac)
    return ("constant_factor", f"Your expression is {shown} times {c.words.grad}{also}: {why}.",
            f"Your expression is ${shown_l}$ times ${c.words.grad_latex}${also}: {why_l}.")


def _index(c: _Case) -> Diagnosis | None:
    """``a`` where ``b`` belongs: in the whole expression, in one factor, or in a factor
    of the chain."""
    for a, b, what in _same_role_pairs(c.derivation):
        if not c.yours.has(a):
            continue
        variants = [c.yours.xreplace({a: b})]
        if isinstance(c.yours, sp.Mul):
            args = list(c.yours.args)
            variants += [sp.Mul(*(args[:k] + [f.xreplace({a: b})] + args[k + 1:]))
                         for k, f in enumerate(args) if f.has(a)]
        hit = any(c.holds(c.value(v), c.s) for v in variants) or \
            c.holds(c.y * c.value(b), c.s * c.value(a)) or any(
                c.holds(c.y * c.value(f.expression), c.s * c.value(f.expression.xreplace({b: a})))
                for f in c.gradient.chain if f.expression.has(b))
        if hit:
            net = c.derivation.network
            said = f"a {what} index mixed up"
            return ("layer_index" if what == "layer" else "unit_index",
                    f"Your expression has {a} where {b} belongs ({said}).",
                    f"Your expression has ${latex(a, net)}$ where ${latex(b, net)}$ belongs "
                    f"({said}).")
    return None


def _missing_factor(c: _Case) -> Diagnosis | None:
    chain = c.chain
    for f in chain + [f for f in _candidate_factors(c.derivation) if f not in chain]:
        if c.holds(c.y * c.value(f.expression), c.s):
            t, lt = c.words.factor(f)
            return ("missing_factor", f"Your expression is missing the factor {t}.",
                    f"Your expression is missing the factor {lt}.")
    return None


def _extra_factor(c: _Case) -> Diagnosis | None:
    for f in _candidate_factors(c.derivation):
        if c.holds(c.y, c.s * c.value(f.expression)):
            t, lt = c.words.factor(f)
            return ("extra_factor", f"Your expression has an extra factor {t}, which is not "
                                    f"in the chain of {c.words.grad}.",
                    f"Your expression has an extra factor {lt}, which is not in the chain "
                    f"of ${c.words.grad_latex}$.")
    return None


def _two_missing_factors(c: _Case) -> Diagnosis | None:
    chain = c.chain
    for i, f1 in enumerate(chain):
        for f2 in chain[i + 1:]:
            if c.holds(c.y * c.value(f1.expression * f2.expression), c.s):
                (t1, lt1), (t2, lt2) = c.words.factor(f1), c.words.factor(f2)
                return ("missing_factor",
                        f"Your expression is missing the factors {t1} and {t2}.",
                        f"Your expression is missing the factors {lt1} and {lt2}.")
    return None


#: What hand derivations often write for an activation's derivative: the activation
#: itself (ReLU' as ReLU), sigmoid's and tanh's with a sign or a square off, ...
_WRONG_DERIVATIVES: tuple[Callable[[Expr], Expr], ...] = (
    lambda a: a, lambda a: 1 - a, lambda a: a ** 2, lambda a: 1 - a ** 2,
    lambda a: a * (1 - a), lambda a: 1 + a, lambda a: 1 - 2 * a, lambda a: a * (1 + a),
    lambda a: 1 + a ** 2)


def _activation_derivative(c: _Case) -> Diagnosis | None:
    net = c.derivation.network
    for f in _candidate_factors(c.derivation):
        calls = f.expression.atoms(sp.Function)
        if f.kind != "activation" or (calls and c.yours.has(*calls)):
            continue  # Heaviside(z1) is there: then a1 is an extra factor, not ReLU'
        a, z = f.numerator, f.denominator
        local = c.value(f.expression)
        for make in _WRONG_DERIVATIVES:
            wrong = make(a)
            if wrong == f.expression or not c.holds(c.y * local, c.s * c.value(wrong)):
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
    return None


def _transposition(layer: Any) -> dict[Symbol, Symbol]:
    """Each weight of ``layer`` to the one across the diagonal, where both exist."""
    w = layer.weights
    return {w[k][j]: w[j][k] for k in range(len(w)) for j in range(len(w[k]))
            if j != k and j < len(w) and k < len(w[j]) and w[k][j] != w[j][k]}


def _transposed(c: _Case) -> Diagnosis | None:
    """A weight matrix transposed: ``w2_1_2`` where ``w2_2_1`` belongs, and so on for
    every weight of the layer in the expression (one alone is an index mixed up)."""
    net = c.derivation.network
    for layer in net.layers:
        swap = _transposition(layer)
        used = [w for w in swap if c.yours.has(w)]
        if len(used) < 2 or not c.holds(c.value(c.yours.xreplace(swap)), c.s):
            continue
        shown = ", ".join(f"{w} where {swap[w]} belongs" for w in used[:3])
        shown_l = ", ".join(f"${latex(w, net)}$ where ${latex(swap[w], net)}$ belongs"
                            for w in used[:3])
        more = f" and {len(used) - 3} more" if len(used) > 3 else ""
        said = f"Your expression uses the weights of layer {layer.index} transposed: {{}}{more}."
        return "transposed_weights", said.format(shown), said.format(shown_l)
    return None


def _without(c: _Case, delta: Symbol, term: Expr) -> np.ndarray:
    """symgrad's gradient at every point with ``term`` left out of the sum that is
    ``dE/da`` of the unit whose error signal is ``delta`` (and every delta below it)."""
    env = dict(c.env)
    below = False
    try:
        for symbol, step in c.derivation.deltas.items():  # output layer first
            if symbol == delta:
                env[symbol] = evaluate((step.upstream - term) * step.local, env)
                below = True
            elif below:
                env[symbol] = evaluate(step.expression, env)
        return evaluate(c.gradient.delta_form, env)
    except UnsupportedError:
        return np.full(len(c.y), np.nan)


def _paths(derivation: Derivation) -> Iterator[tuple[Symbol, DeltaStep, Expr, Symbol]]:
    """Each path of back-propagation into a hidden unit: its error signal, its step, the
    term of its ``dE/da`` that is the path (``delta2_2*w2_2_1``) and the ``z`` the path
    goes through (``z2_2``). An output unit's ``dE/da`` (``a2 - T``) has no paths."""
    for delta, step in derivation.deltas.items():
        if step.local is None or not step.upstream.is_Add:
            continue
        for term in step.upstream.args:
            through = [derivation.deltas[s].pre for s in term.free_symbols
                       if s in derivation.deltas]
            if len(through) == 1:
                yield delta, step, term, through[0]


def _missing_path(c: _Case) -> Diagnosis | None:
    """One back-propagation path left out: a term of a hidden unit's ``dE/da``, which sums
    over the units of the next layer (``delta2_1 w2_1_2 + delta2_2 w2_2_2``)."""
    net = c.derivation.network
    for delta, step, term, through in _paths(c.derivation):
        if not c.holds(c.y, _without(c, delta, term)):
            continue
        layer = net.layer_of(step.pre)
        a = layer.post[layer.pre.index(step.pre)]
        of = f"{partial_text(net.loss_symbol, a, unicode=False)} = {text(step.upstream)}"
        of_l = f"{partial_latex(net.loss_symbol, a, net)} = {latex(step.upstream, net)}"
        said = "Your expression leaves out the back-propagation path through {}: the term {} of {}."
        return ("missing_path", said.format(through, text(term), of),
                said.format(*(f"${latex(e, net)}$" for e in (through, term)), f"${of_l}$"))
    return None


def _missing_unit(c: _Case) -> Diagnosis | None:
    """One unit's contribution left out of a tied parameter's gradient, which sums over
    the units the parameter enters (``delta1_1 + delta1_2`` for one bias per layer)."""
    net = c.derivation.network
    for term in c.gradient.terms if len(c.gradient.terms) > 1 else ():
        product = sp.Mul(*(f.expression for f in term))
        if c.holds(c.y, c.s - c.value(product)):
            said = "Your expression leaves out the path through {}: the term {} of {}."
            return ("missing_path",
                    said.format(term[0].denominator, text(product), c.words.grad),
                    said.format(f"${latex(term[0].denominator, net)}$",
                                f"${latex(product, net)}$", f"${c.words.grad_latex}$"))
    return None


def _missing_penalty(c: _Case) -> Diagnosis | None:
    """The penalty's term (``lambda*w2``) left out: the chain rule alone, whose cost
    had ``lambda/2 sum w^2`` (or ``lambda sum |w|``) added. Its kind is ``missing_path``,
    a term of the gradient's sum left out; the sentence names the penalty."""
    penalty, term = c.derivation.network.penalty, c.gradient.penalty
    if penalty is None or term == 0 or not c.holds(
            c.y, c.s - c.value(term.xreplace(penalty.values))):
        return None
    net = c.derivation.network
    said = "Your expression leaves out the penalty's term {} (the {}, lambda = {:g})."
    return ("missing_path", said.format(text(term), penalty.kind.title, penalty.strength),
            said.format(f"${latex(term, net)}$", penalty.kind.title, penalty.strength))


#: The mistakes a diagnosis tries, in this order; the first that holds is the answer.
TESTS: tuple[Callable[[_Case], Diagnosis | None], ...] = (
    _missing_penalty, _sign, _constant_factor, _index, _missing_factor,
    _activation_derivative, _extra_factor, _two_missing_factors, _transposed, _missing_path,
    _missing_unit)


def diagnose(derivation: Derivation, wrt: str, yours: Expr, y: np.ndarray, s: np.ndarray,
             env: Mapping[Symbol, np.ndarray], finite: np.ndarray, words: Words) -> Diagnosis:
    """The usual mistake that explains ``y`` (yours) against ``s`` (symbolic): its kind
    (one of :data:`~symgrad.check.result.MISTAKES`, or ``None``) and the sentence in text
    and LaTeX."""
    case = _Case(derivation, derivation[wrt], yours, y, s, env, finite, words)
    for test in TESTS:
        found = test(case)
        if found is not None:
            return found
    ratio = y[case.nonzero] / s[case.nonzero]
    spread = ""
    if ratio.size:
        low, high = distinct([float(ratio.min()), float(ratio.max())])
        spread = (f" (the ratio yours/symbolic is {low} at every point)" if low == high
                  else f" (the ratio yours/symbolic varies from {low} to {high})")
    return (None, f"Your expression differs from {words.grad}, and no single usual mistake "
                  f"explains it{spread}.",
            f"Your expression differs from ${words.grad_latex}$, and no single usual mistake "
            "explains it.")
