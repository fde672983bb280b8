"""Expressions become float64 arrays: the one table-driven evaluator outside code generation.

:func:`evaluate` walks a SymPy tree once, with a rule per node type found in a table
(walking the class's MRO, so ``Integer`` finds ``Number``'s rule), and broadcasts like
NumPy. A catalogue activation is evaluated through its entry's stable forms, the same
forms every backend is generated from, so the checker, the minibatch kernels and compiled
code compute the same numbers. It never evaluates text, never raises on overflow
(``inf``/``nan`` come back instead), and does not call ``lambdify`` (only code generation
does).

>>> from sympy import Symbol
>>> from symgrad.catalogue import sigmoid
>>> x = Symbol("x")
>>> evaluate(sigmoid(x) * 2, {x: np.array([0.0, 1e4, -800.0])})
array([1., 2., 0.])
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp
from sympy import Expr, Symbol
from sympy.codegen.cfunctions import expm1, log1p

from .catalogue import ERFC, CatalogueFunction, UnitForms, entry_of, softmax, softmax_forms
from .errors import SymgradError

__all__ = ["evaluate", "UnsupportedError"]


class UnsupportedError(SymgradError):
    """An expression node the float64 evaluator has no rule for, or a symbol without value."""


Array = Any  # a NumPy array or a NumPy scalar
Walk = Callable[[Expr], Array]


def _erf(x: Array) -> Array:
    return np.vectorize(math.erf, otypes=[float])(x)


def _erfc(x: Array) -> Array:
    return np.vectorize(math.erfc, otypes=[float])(x)


def _number(e: Expr, walk: Walk) -> Array:
    try:
        return np.float64(float(e))
    except (OverflowError, TypeError):
        return np.float64(math.inf if e.is_positive else (-math.inf if e.is_negative
                                                          else math.nan))


def _product(e: Expr, walk: Walk) -> Array:
    out: Array = np.float64(1.0)
    for a in e.args:
        out = out * walk(a)
    return out


def _power(e: Expr, walk: Walk) -> Array:
    base = np.asarray(walk(e.base), dtype=float)
    if e.exp == sp.Rational(1, 2):
        return np.sqrt(base)
    return np.power(base, walk(e.exp))


def _piecewise(e: Expr, walk: Walk) -> Array:
    conditions = [np.asarray(walk(cond), dtype=bool) for _, cond in e.args]
    values = [walk(piece) for piece, _ in e.args]
    shape = np.broadcast_shapes(*(np.shape(v) for v in conditions + values))
    out = np.full(shape, np.nan)
    done = np.zeros(shape, dtype=bool)
    for value, cond in zip(values, conditions):
        mask = np.broadcast_to(cond, shape) & ~done
        out = np.where(mask, value, out)
        done |= mask
    return out


def _heaviside(e: Expr, walk: Walk) -> Array:
    h0 = float(e.args[1]) if len(e.args) > 1 else 0.5
    return np.heaviside(walk(e.args[0]), h0)


def _unary(function: Callable[[Array], Array]) -> Callable[[Expr, Walk], Array]:
    return lambda e, walk: function(walk(e.args[0]))


def _extreme(reduce: Callable[..., Array]) -> Callable[[Expr, Walk], Array]:
    def rule(e: Expr, walk: Walk) -> Array:
        out = walk(e.args[0])
        for a in e.args[1:]:
            out = reduce(out, walk(a))
        return out
    return rule


def _compare(op: Callable[[Array, Array], Array]) -> Callable[[Expr, Walk], Array]:
    return lambda e, walk: op(walk(e.lhs), walk(e.rhs))


_RULES: dict[type, Callable[[Expr, Walk], Array]] = {
    sp.Number: _number,
    sp.NumberSymbol: _number,
    sp.Add: lambda e, walk: sum((walk(a) for a in e.args), np.float64(0.0)),
    sp.Mul: _product,
    sp.Pow: _power,
    sp.exp: _unary(np.exp),
    sp.log: _unary(np.log),
    sp.tanh: _unary(np.tanh),
    sp.Abs: _unary(np.abs),
    sp.sign: _unary(np.sign),
    sp.erf: _unary(_erf),
    log1p: _unary(np.log1p),
    expm1: _unary(np.expm1),
    ERFC: _unary(_erfc),
    sp.Heaviside: _heaviside,
    sp.Max: _extreme(np.maximum),
    sp.Min: _extreme(np.minimum),
    sp.Piecewise: _piecewise,
    sp.StrictGreaterThan: _compare(np.greater),
    sp.GreaterThan: _compare(np.greater_equal),
    sp.StrictLessThan: _compare(np.less),
    sp.LessThan: _compare(np.less_equal),
    sp.logic.boolalg.BooleanTrue: lambda e, walk: np.True_,
}


@lru_cache(maxsize=256)
def _unit_program(function: type, params: tuple[Expr, ...]) -> tuple[UnitForms, Symbol, Symbol]:
    entry = entry_of(function)
    z, a = Symbol("z"), Symbol("a")
    values = {name: float(v) for name, v in zip(entry.params, params)}
    return entry.stable_forms(z, a, **values), z, a


def _run(forms: UnitForms, env: dict[Symbol, Array]) -> dict[Symbol, Array]:
    for symbol, expr in forms.assignments:
        env[symbol] = _walker(env, {})(expr)
    return env


def _activation(e: Expr, walk: Walk) -> Array:
    """A catalogue activation through its entry's stable forms."""
    forms, z, a = _unit_program(type(e), tuple(e.args[1:]))
    return _run(forms, {z: walk(e.args[0])})[a]


@lru_cache(maxsize=64)
def _softmax_program(size: int) -> tuple[UnitForms, tuple[Symbol, ...], tuple[Symbol, ...]]:
    zs = tuple(Symbol(f"z{i}") for i in range(size))
    outputs = tuple(Symbol(f"a{i}") for i in range(size))
    return softmax_forms(0, zs, outputs), zs, outputs


def _softmax(e: Expr, walk: Walk) -> Array:
    forms, zs, outputs = _softmax_program(len(e.args) - 1)
    env = _run(forms, {z: walk(arg) for z, arg in zip(zs, e.args[1:])})
    return env[outputs[int(e.args[0]) - 1]]


_RULES[CatalogueFunction] = _activation
_RULES[softmax] = _softmax


def _rule(e: Expr) -> Callable[[Expr, Walk], Array]:
    for cls in type(e).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            return rule
    raise UnsupportedError(f"cannot evaluate {type(e).__name__} in float64")


def _walker(env: Mapping[Symbol, Array], cache: dict[Expr, Array]) -> Walk:
    def walk(e: Expr) -> Array:
        if e in cache:
            return cache[e]
        if isinstance(e, Symbol):
            if e not in env:
                raise UnsupportedError(f"no value for the symbol {e}")
            out = np.asarray(env[e], dtype=float)
        else:
            out = _rule(e)(e, walk)
        cache[e] = out
        return out
    return walk


def evaluate(expr: Expr, env: Mapping[Symbol, Array]) -> np.ndarray:
    """``expr`` in float64 at every point at once (``env`` maps symbols to arrays, which
    broadcast against each other); the result has the broadcast shape of ``env``'s arrays.

    >>> x, y = Symbol("x"), Symbol("y")
    >>> evaluate(sp.Piecewise((x, x > 0), (0, True)) + y, {x: np.array([-1.0, 2.0]), y: 1.0})
    array([1., 3.])
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in env.values())) if env else ()
    with np.errstate(all="ignore"):
        out = _walker(env, {})(expr)
    return np.array(np.broadcast_to(out, shape), dtype=float)
