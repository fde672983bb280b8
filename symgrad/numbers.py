"""Expressions become numbers outside code generation: float64 arrays through one
table-driven evaluator (:func:`evaluate`), and exact values at a point with enough working
precision (:func:`exact_points`, behind ``Derivation.at`` and ``loss_at``).

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
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol
from sympy.codegen.cfunctions import expm1, log1p

from .catalogue import ERFC, CatalogueFunction, UnitForms, entry_of, softmax, softmax_forms
from .errors import ArgumentError, DerivationError, SymgradError

__all__ = ["evaluate", "UnsupportedError", "exact_points", "finite_float", "DIGITS",
           "MAX_DIGITS"]


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


# -- arbitrary precision -----------------------------------------------------------------

#: Significant digits kept in exact evaluation.
DIGITS = 30
#: Working precision is raised up to this many digits for saturated units.
MAX_DIGITS = 20_000


def _sample_arrays(parameters: Sequence[Symbol], data: Sequence[Symbol],
                   values: Mapping[Any, object]) -> tuple[dict[Symbol, np.ndarray], int]:
    """Each parameter's number and each input's or target's samples; errors name them."""
    given = {str(k): v for k, v in values.items()}
    env: dict[Symbol, np.ndarray] = {}
    samples = 1
    for symbol in tuple(parameters) + tuple(data):
        name = str(symbol)
        if name not in given:
            raise ArgumentError(f"missing value for '{name}'")
        try:
            arr = np.asarray(given[name], dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ArgumentError(f"value of '{name}' is not numeric: {given[name]!r}") from None
        if not np.all(np.isfinite(arr)):
            raise ArgumentError(f"value of '{name}' is not finite")
        if symbol in parameters and arr.size != 1:
            raise ArgumentError(f"parameter '{name}' takes one number, got {arr.size}")
        if arr.size > 1:
            if samples not in (1, arr.size):
                raise ArgumentError(f"'{name}' has {arr.size} samples, others {samples}")
            samples = arr.size
        env[symbol] = arr
    return env, samples


def _exact_point(equations: Mapping[Symbol, Expr], pre: set[Symbol],
                 deltas: Mapping[Symbol, Expr], env: Mapping[Symbol, np.ndarray],
                 sample: int, digits: int = DIGITS) -> tuple[dict[Symbol, Expr], int]:
    """Every symbol's value at one sample, and the working precision used: 30 significant
    digits survive in ``1 - a`` for a unit saturated at ``|z|``, because the precision is
    raised to ``30 + |z| / ln 10`` digits (up to :data:`MAX_DIGITS`)."""
    point: dict[Symbol, Expr] = {
        k: sp.Float(float(v[sample if v.size > 1 else 0]), digits) for k, v in env.items()}
    widest = 0.0
    for symbol, eq in equations.items():
        point[symbol] = eq.xreplace(point).evalf(digits)
        if symbol in pre and point[symbol].is_real:
            widest = max(widest, abs(float(point[symbol])))
    needed = min(MAX_DIGITS, DIGITS + int(widest / np.log(10)) + 1)
    if needed > digits:
        return _exact_point(equations, pre, deltas, env, sample, needed)
    for symbol, expr in deltas.items():  # output layer first
        point[symbol] = expr.xreplace(point).evalf(digits)
    return point, digits


def exact_points(parameters: Sequence[Symbol], data: Sequence[Symbol],
                 equations: Mapping[Symbol, Expr], pre: set[Symbol],
                 deltas: Mapping[Symbol, Expr], values: Mapping[Any, object]
                 ) -> list[tuple[dict[Symbol, Expr], int]]:
    """Per sample of ``values``: every symbol's exact value (forward ``equations`` in
    order, then ``deltas``) and the working precision it needed.

    >>> x, w, z = sp.symbols("x w z")
    >>> point, digits = exact_points([w], [x], {z: w * x}, {z}, {}, {"w": 2, "x": [1, 3]})[1]
    >>> # 30 digits, raised by 6 / ln 10 for the unit at z = 6
    >>> float(point[z]), digits
    (6.0, 33)
    """
    env, samples = _sample_arrays(parameters, data, values)
    return [_exact_point(equations, pre, deltas, env, s) for s in range(samples)]


def finite_float(value: Expr, what: str) -> float:
    """``value`` as a float, or a clear error if it is not a finite real number."""
    if value.is_real and value.is_finite:
        return float(value)
    raise DerivationError(f"{what} is not a finite real number at these values "
                          f"(evaluated as {sp.N(value, 6)}); the values may be too "
                          "large for an exact evaluation")
