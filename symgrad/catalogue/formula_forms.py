r"""Stable forms of formula-defined activations: lifting, derivatives, kinks, lowering.

A formula typed in a spec is made numerically sound in three steps:

1. :func:`lift` rewrites known unstable shapes into catalogue functions or stable
   identities before differentiation: ``1/(1 + exp(-u))`` is ``sigmoid(u)``,
   ``log(1 + exp(u))`` is ``softplus(u)``, ``1 + tanh(u)`` is ``2 sigmoid(2u)`` (it cancels
   to 0 for ``u << 0``: GELU's tanh form lost 7 digits at z = -5), and ``log(cosh(u))`` is
   ``log1p(2 sinh(u/2)^2)`` (no overflow below |u| = 1420, no cancellation near 0), and
   ``sqrt(w) - 1`` is ``(w - 1)/(sqrt(w) + 1)``.
2. :func:`derivative_of` differentiates and fixes the conventions at kinks
   (:func:`kink_convention` says them in words).
3. :func:`stable_forms` lowers every catalogue function in the value and the derivative to
   that entry's own stable forms (``sigmoid(u)(1 - sigmoid(u))`` becomes the entry's
   ``sigma(u) sigma(-u)`` slope, ``1 - sigmoid(u)`` its complement, ``1 - tanh(u)^2`` the
   overflow-free ``4e/(1 + e)^2``), clamps the argument of a piecewise branch to the side
   where the branch is used, and applies SymPy's ``log1p``/``expm1`` rewrites
   (:mod:`sympy.codegen.rewriting`).

>>> from sympy import Symbol, log, exp
>>> z = Symbol("z", real=True)
>>> lift(log(1 + exp(z)) + 1/(1 + exp(-2*z)))
sigmoid(2*z) + softplus(z)
"""

from __future__ import annotations

from typing import Mapping

import sympy as sp
from sympy import Expr, Symbol
from sympy.codegen.cfunctions import log1p

from ..errors import UnknownNameError
from .activations import sigmoid, softplus
from .base import Activation, CatalogueFunction, Forms, UnitForms, entry_of

__all__ = ["lift", "derivative_of", "kink_convention", "stable_forms"]

_W = sp.Wild("w")


def _inverse_one_plus_exp(e: Expr) -> Expr | None:
    """``1/(1 + exp(v))`` as ``sigmoid(-v)``."""
    if e.is_Pow and e.exp == -1 and e.base.is_Add and len(e.base.args) == 2 and \
            sp.S.One in e.base.args:
        other = [t for t in e.base.args if t != 1][0]
        if isinstance(other, sp.exp):
            return sigmoid(-other.args[0])
    return None


def _log_one_plus_exp(e: Expr) -> Expr | None:
    """``log(1 + exp(u))`` and ``log1p(exp(u))`` as ``softplus(u)``; ``log(cosh(u))`` as
    ``log1p(2 sinh(u/2)^2)``."""
    inner = e.args[0]
    if isinstance(e, log1p) and isinstance(inner, sp.exp):
        return softplus(inner.args[0])
    if isinstance(e, sp.log) and isinstance(inner, sp.cosh):
        return log1p(2 * sp.sinh(inner.args[0] / 2) ** 2)
    if isinstance(e, sp.log) and inner.is_Add and len(inner.args) == 2 and sp.S.One in inner.args:
        other = [t for t in inner.args if t != 1][0]
        if isinstance(other, sp.exp):
            return softplus(other.args[0])
    return None


def _one_plus_tanh(e: Expr) -> Expr | None:
    """``1 + tanh(u)`` as ``2 sigmoid(2u)``, ``1 - tanh(u)`` as ``2 sigmoid(-2u)``."""
    if not (e.is_Add and len(e.args) == 2 and sp.S.One in e.args):
        return None
    other = [t for t in e.args if t != 1][0]
    if isinstance(other, sp.tanh):
        return 2 * sigmoid(2 * other.args[0])
    if other.is_Mul and other.args[0] == -1 and isinstance(-other, sp.tanh):
        return 2 * sigmoid(-2 * (-other).args[0])
    return None


def _sqrt_minus_one(e: Expr) -> Expr | None:
    """``c sqrt(w) - c`` in a sum as ``c (w - 1)/(sqrt(w) + 1)``: ``sqrt(1 + z^2) - 1``
    cancels to 0 for |z| < 1e-8 (the bent identity lost 9 digits there)."""
    if not e.is_Add:
        return None
    for term in e.args:
        c, root = term.as_coeff_Mul()
        if root.is_Pow and root.exp == sp.S.Half and -c in e.args:
            rest = [t for t in e.args if t not in (term, -c)]
            w = root.base
            return sp.Add(*rest, c * sp.expand(w - 1) / (root + 1))
    return None


#: The lifting rules, tried on every subexpression from the leaves up.
_LIFTS = (_inverse_one_plus_exp, _log_one_plus_exp, _one_plus_tanh, _sqrt_minus_one)


def lift(expr: Expr) -> Expr:
    """``expr`` with the shapes of :data:`_LIFTS` replaced by stable equivalents."""
    def visit(e: Expr) -> Expr:
        if e.args:
            e = e.func(*(visit(a) for a in e.args))
        for rule in _LIFTS:
            found = rule(e) if e.args else None
            if found is not None:
                return found
        return e
    return visit(expr)


def derivative_of(expr: Expr, z: Symbol) -> Expr:
    """``d expr / dz`` with the conventions of :func:`kink_convention`: a step's
    derivative is 0, ``H(0) = 1/2`` for max and min (as SymPy writes their derivative)."""
    d = expr.diff(z).replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    return d.replace(lambda e: isinstance(e, sp.Heaviside) and len(e.args) == 1,
                     lambda e: sp.Heaviside(e.args[0], sp.S.Half))


#: Words for each kinked construct a formula may use.
_KINKS: tuple[tuple[tuple[type, ...], str], ...] = (
    ((sp.Abs,), "|u|' = sign(u), taken as 0 at u = 0"),
    ((sp.Max, sp.Min), "max and min take the mean of their arguments' slopes at a tie "
                       "(H(0) = 1/2, as jax.lax.max)"),
    ((sp.Piecewise,), "where(u, x, y) takes the slope of y at u = 0 (u > 0 is strict)"),
    ((sp.Heaviside,), "a step's slope is 0 everywhere"),
)


def kink_convention(expr: Expr) -> str | None:
    """The conventions at the kinks of ``expr`` in words, ``None`` if it has none."""
    said = [words for kinds, words in _KINKS if expr.atoms(*kinds)]
    for call in sorted(expr.atoms(CatalogueFunction), key=str):
        entry = _entry(call)
        if entry is not None and entry.kinked:
            said.append(f"{entry.name}: {entry.kink}")
    return "; ".join(dict.fromkeys(said)) or None


def _entry(call: Expr) -> Activation | None:
    try:
        return entry_of(type(call))
    except UnknownNameError:
        return None


def _calls(*exprs: Expr) -> list[Expr]:
    """The catalogue calls in ``exprs`` (tanh included), innermost first."""
    found = {c for e in exprs for c in e.atoms(sp.Function) if _entry(c) is not None}
    return sorted(found, key=lambda c: (sp.count_ops(c), str(c)))


def _clamp_branches(e: Expr) -> Expr:
    """``where(z, x, y)``: ``x`` uses ``max(z, 0)``, ``y`` ``min(z, 0)``, so a branch that is
    not taken cannot overflow (``exp(z)`` in the left branch of SELU at z = 800)."""
    if not isinstance(e, sp.Piecewise) or len(e.args) != 2:
        return e
    (x, cond), (y, _) = e.args
    if isinstance(cond, sp.StrictGreaterThan) and cond.rhs == 0 and cond.lhs.is_Symbol:
        u = cond.lhs
        return sp.Piecewise((x.xreplace({u: sp.Max(u, 0)}), cond),
                            (y.xreplace({u: sp.Min(u, 0)}), True))
    return e


def _numeric(expr: Expr) -> Expr:
    """SymPy's log1p/expm1 rewrites, piecewise branches clamped, ``sign`` as a piecewise."""
    # imported here: sympy.codegen.rewriting and the codegen nodes it loads took ~30 ms of
    # every command's start-up (python -X importtime); derive and check never call this
    from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize

    expr = optimize(expr, (log1p_opt, expm1_opt))
    expr = expr.replace(sp.sign, lambda u: sp.Piecewise((1, u > 0), (-1, u < 0), (0, True)))
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), _clamp_branches)


def _lower(out: UnitForms, call: Expr, done: dict[Expr, Expr], a: Symbol, i: int,
           swaps: dict[Expr, Expr], logs: dict[Expr, Expr]) -> None:
    """Add the stable forms of catalogue ``call`` to ``out``; record its value symbol in
    ``done``, in ``swaps`` its own-output slope and complement as their symbols, and in
    ``logs`` its log and log-complement."""
    entry = entry_of(type(call))
    u = out.add(Symbol(f"{a}_u{i}"), call.args[0].xreplace(done))
    v = Symbol(f"{a}_f{i}")
    params = {p: float(x) for p, x in zip(entry.params, call.args[1:])}
    sub = entry.stable_forms(u, v, **params)
    out.merge(sub)
    done[call] = v
    slope, complement = sub.roles.get((v, "slope")), sub.roles.get((v, "complement"))
    if slope is not None and entry.own_output is not None:
        own = entry.local(u, v, **params)
        if own.is_Add and sp.S.One in own.args:  # 1 - v^2 (tanh): SymPy spreads a factor
            swaps[sp.expand(1 - own)] = 1 - slope  # over it, so v^2 itself is replaced
        else:
            swaps[own] = slope
    if complement is not None:
        swaps[1 - v] = complement
        swaps[v - 1] = -complement
    for role, pattern in (("log", sp.log(v)), ("log_complement", sp.log(1 - v))):
        if (v, role) in sub.roles:  # log(sigmoid(z)) = -softplus(-z), not log of a rounded 1
            logs[pattern] = sub.roles[(v, role)]


def stable_forms(value: Expr, slope: Expr, z: Symbol, params: tuple[Symbol, ...]) -> Forms:
    """The ``forms`` facet of a formula entry with (lifted) ``value`` and ``slope`` in
    ``z`` and ``params``."""
    def forms(out: UnitForms, zz: Symbol, a: Symbol, p: Mapping[str, Expr]) -> None:
        bind = {z: zz, **{s: p[str(s)] for s in params}}
        f, d = value.xreplace(bind), slope.xreplace(bind)
        done: dict[Expr, Expr] = {}
        swaps: dict[Expr, Expr] = {}
        logs: dict[Expr, Expr] = {}
        for i, call in enumerate(_calls(f, d)):
            _lower(out, call, done, a, i, swaps, logs)
        d = d.xreplace(done).xreplace(logs)
        for pattern, symbol in swaps.items():
            d = d.subs(pattern, symbol) if pattern.is_Mul else d.xreplace({pattern: symbol})
        out.add(a, _numeric(f.xreplace(done).xreplace(logs)))
        out.add(Symbol(f"{a}_d"), _numeric(d), a, "slope")
    return forms
