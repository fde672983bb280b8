"""Expressions become numbers outside code generation: float64 arrays through one
table-driven evaluator (:func:`evaluate`), and exact values at a point, 30 digits whatever
cancels on the way (:func:`exact_points` and :class:`ExactPoint`, behind ``Derivation.at``
and ``loss_at``).

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

import mpmath
import numpy as np
import sympy as sp
from sympy import Expr, Symbol
from mpmath.libmp import dps_to_prec, prec_to_dps

from .catalogue import (ERFC, CatalogueFunction, UnitForms, entry_of, sigmoid, softmax,
                        softmax_forms, softplus)
from .errors import ArgumentError, DerivationError, SymgradError

__all__ = ["evaluate", "UnsupportedError", "exact_points", "ExactPoint", "finite_float",
           "DIGITS", "MAX_DIGITS"]


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


#: SymPy's C functions, by name: ``sympy.codegen`` (6 ms to import) is loaded only by what
#: builds them (the stable forms, a spec's formulas), not by every command that evaluates.
_CFUNCTIONS: dict[str, Callable[[Expr, Walk], Array]] = {
    "log1p": _unary(np.log1p),
    "expm1": _unary(np.expm1),
}


def _rule(e: Expr) -> Callable[[Expr, Walk], Array]:
    for cls in type(e).__mro__:
        rule = _RULES.get(cls) or (_CFUNCTIONS.get(cls.__name__)
                                   if cls.__module__ == "sympy.codegen.cfunctions" else None)
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

#: Significant digits every exact value keeps.
DIGITS = 30
#: SymPy raises the working precision where a sum cancels, by as many digits as it cancels
#: (``tanh(z) - T`` at z = 1e4 and T = 0.5 by none, ``elu(z) + 1`` at z = -1e4 by 4,343), up
#: to about this many more; a value that needs more is out of reach.
MAX_DIGITS = 12_000
#: Digits of the values stored between steps (z, a, the deltas): a few more than kept.
_STORED = DIGITS + 10


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


#: ``1 - f`` written without the difference, for the functions that tend to 1:
#: ``1 - sigmoid(u) = sigmoid(-u)``, ``1 - tanh(u) = 2 sigmoid(-2u)``,
#: ``1 - tanh(u)**2 = 4 sigmoid(2u) sigmoid(-2u)``, and one minus a softmax component is
#: the sum of the others. Inside a logarithm (``log(1 - a)`` of binary cross-entropy)
#: SymPy would evaluate a cancelled difference with its accuracy overstated.
_COMPLEMENTS: dict[Any, Callable[..., Expr]] = {
    sigmoid: lambda u: sigmoid(-u),
    sp.tanh: lambda u: 2 * sigmoid(-2 * u),
    (sp.tanh, 2): lambda u: 4 * sigmoid(2 * u) * sigmoid(-2 * u),
    softmax: lambda k, *z: sp.Add(*(softmax(j, *z) for j in range(1, len(z) + 1) if j != k)),
}
#: Then these functions are rewritten. ``erf(u) = erfc(-u) - 1``: GELU's
#: ``(1 + erf(u))/2`` becomes ``erfc(-u)/2``, which keeps its digits for ``u << 0``
#: instead of cancelling to thousands of them (erf there took 6 s at z = -100).
#: ``tanh(u) = 2 sigmoid(2u) - 1``: equal, and mpmath's ``exp`` is faster than its ``tanh``
#: at the thousands of digits where ``tanh(u) - T`` cancels (0.09 s for one tanh at
#: 9,000 digits).
_EXACT_FORMS: tuple[tuple[type, Callable[[Expr], Expr]], ...] = (
    (sp.erf, lambda u: ERFC(-u) - 1),
    (sp.tanh, lambda u: 2 * sigmoid(2 * u) - 1),
)


def _head(f: Expr) -> Any:
    """The :data:`_COMPLEMENTS` key of ``f``: its function, or (function, power)."""
    if f.is_Pow and f.exp.is_Integer:
        return (type(f.base), int(f.exp))
    return type(f)


def _complement(add: Expr) -> Expr:
    """A sum ``c - c f + rest`` as ``c (1 - f) + rest`` through :data:`_COMPLEMENTS`, or
    the sum unchanged."""
    numbers = [t for t in add.args if t.is_number]
    if len(numbers) != 1:
        return add
    for term in add.args:
        coeff, f = term.as_coeff_Mul()
        form = _COMPLEMENTS.get(_head(f))
        if form is not None and (coeff + numbers[0]).is_zero:  # Float(1.0) != 1 in SymPy
            args = f.base.args if f.is_Pow else f.args
            rest = [t for t in add.args if t is not term and t is not numbers[0]]
            return sp.Add(*rest, numbers[0] * form(*args))
    return add


class _ExactFunction(sp.Function):
    """A function exact evaluation rewrites to, evaluated by ``value`` in mpmath."""

    @staticmethod
    def value(*args: mpmath.mpf) -> mpmath.mpf:
        raise NotImplementedError

    def _eval_evalf(self, prec: int) -> Expr | None:
        if not all(a.is_number for a in self.args):
            return None
        guard = prec + 20
        with mpmath.workprec(guard):
            value = mpmath.mpf(self.value(*(a.evalf(prec_to_dps(guard))._to_mpmath(guard)
                                            for a in self.args)))
        return sp.Float._new(value._mpf_, prec)


def _shares(z: Sequence[mpmath.mpf]) -> tuple[list[mpmath.mpf], mpmath.mpf]:
    """``exp(z_j - max z)``, and ``log`` of their sum as ``log1p`` of all but the largest
    (which is 1), so that a sum of 1 plus 1e-300 keeps the 1e-300."""
    top = max(z)
    shares = [mpmath.exp(v - top) for v in z]
    largest = z.index(top)
    return shares, mpmath.log1p(mpmath.fsum(e for j, e in enumerate(shares) if j != largest))


class _log_softmax(_ExactFunction):
    """``log softmax_k(z) = z_k - max z - log(sum_j exp(z_j - max z))``."""

    @staticmethod
    def value(k: mpmath.mpf, *z: mpmath.mpf) -> mpmath.mpf:
        _, log_total = _shares(z)
        return z[int(k) - 1] - max(z) - log_total


class _log_softmax_rest(_ExactFunction):
    """``log(1 - softmax_k(z))``: ``log1p(-s_k)`` for a share below 1/2, else the log of
    the other shares' sum over the total."""

    @staticmethod
    def value(k: mpmath.mpf, *z: mpmath.mpf) -> mpmath.mpf:
        shares, log_total = _shares(z)
        own = shares[int(k) - 1] / mpmath.exp(log_total)
        if own < 0.5:
            return mpmath.log1p(-own)
        rest = mpmath.fsum(e for j, e in enumerate(shares) if j != int(k) - 1)
        return mpmath.log(rest) - log_total


def _log_of(arg: Expr) -> Expr:
    """``log(arg)`` for exact evaluation: of a sigmoid or a softmax share, or of one minus
    them, in forms that keep every digit (SymPy's ``log`` of a number within 1e-40 of 1
    comes out as 0: ``log(1 - sigmoid(-700))`` is -1e-304)."""
    if arg.is_Add and len(arg.args) == 2 and any(t.is_number and (t - 1).is_zero
                                                 for t in arg.args):
        rest = 1 - arg  # log(1 - f)
        if isinstance(rest, sigmoid):
            return -softplus(rest.args[0])
        if isinstance(rest, softmax):
            return _log_softmax_rest(*rest.args)
    if isinstance(arg, sigmoid):
        return -softplus(-arg.args[0])
    if isinstance(arg, softmax):
        return _log_softmax(*arg.args)
    return sp.log(arg)


def _cancellation_free(expr: Expr) -> Expr:
    """``expr`` with the differences that cancel near saturation written without them."""
    if expr.has(sp.log):
        expr = expr.replace(sp.log, _log_of)
    expr = expr.replace(lambda e: e.is_Add, _complement)
    for function, form in _EXACT_FORMS:
        if expr.has(function):
            expr = expr.replace(function, form)
    return expr


def _overstated(expr: Expr) -> bool:
    """Whether ``expr`` has a power or a logarithm of a sum: SymPy's evalf hides what
    cancels in those."""
    return any(p.base.is_Add for p in expr.atoms(sp.Pow)) or \
        any(f.args[0].is_Add for f in expr.atoms(sp.log))


def _out_of_reach(what: str) -> DerivationError:
    return DerivationError(f"{what} is out of reach of exact evaluation at these values (it "
                           f"needs more than {MAX_DIGITS:,} digits)")


class ExactPoint:
    """One sample's exact values: ``values`` holds every input, target, parameter, ``z``,
    activation output and delta as a SymPy ``Float``; :meth:`value` evaluates any expression
    in them to :data:`DIGITS` significant digits.

    The precision comes from the quantity, not from the size of ``z``: every activation
    output is evaluated as its function of ``z`` (``sigmoid(z)``, never a rounded ``a``),
    so where ``1 - a`` or ``a - T`` cancels, SymPy's ``evalf`` sees it and raises the
    working precision by the digits that cancel, and only there; GELU's ``erf`` is taken
    as ``erfc``, which does not cancel.
    """

    def __init__(self, values: dict[Symbol, Expr], pre: set[Symbol]) -> None:
        self.values = values
        self._pre = pre
        self._activations: dict[Symbol, Expr] = {}

    def define(self, symbol: Symbol, expr: Expr) -> None:
        """Evaluate ``symbol = expr``; an activation output stays ``expr`` (its function of
        ``z``) wherever it enters a later expression."""
        self.values[symbol] = self.exact(expr, str(symbol), _STORED)
        if symbol not in self._pre:
            self._activations[symbol] = expr

    def exact(self, expr: Expr, what: str, digits: int = DIGITS) -> Expr:
        """``expr`` to ``digits`` significant digits, or a :class:`DerivationError` saying
        it is out of reach."""
        full = expr.xreplace(self._activations)  # a -> f(z), z still a symbol
        full = _cancellation_free(full.xreplace(  # numbers in, so ``tanh(z) - 1`` shows
            {s: self.values[s] for s in full.free_symbols - self._pre}))
        given = {s: self.values[s] for s in full.free_symbols}
        value = self._checked(full, given, digits, what)
        if not _overstated(full):
            return value
        # SymPy's evalf does not pass on what cancelled in the base of a power (it raises
        # the precision there by at most twice its own): ask for more digits until two
        # answers agree ((T - a)**2 + ... with T - a = 1e-300 came out as 4e-242)
        more = 2 * digits
        while True:
            check = self._checked(full, given, more, what)
            if float(check) == 0.0 and float(value) == 0.0:  # below float64's range
                return sp.S.Zero
            if abs(check - value) <= abs(check) * sp.Float(10) ** (2 - digits):
                return check.evalf(digits)
            if more > MAX_DIGITS:
                raise _out_of_reach(what)
            value, more = check, 2 * more

    @staticmethod
    def _checked(full: Expr, given: Mapping[Symbol, Expr], digits: int, what: str) -> Expr:
        value = full.evalf(digits, subs=given, maxn=MAX_DIGITS)
        # evalf returns a Float with the bits it could guarantee: fewer are enough only
        # for a value too small for float64 (a difference that cancels to 0 comes back so)
        if isinstance(value, sp.Float) and value._prec < dps_to_prec(digits):
            if float(value) == 0.0:
                return sp.S.Zero
            raise _out_of_reach(what)
        return value

    def value(self, expr: Expr, what: str) -> float:
        """``expr`` as a float (see :meth:`exact`)."""
        return finite_float(self.exact(expr, what), what)


def exact_points(parameters: Sequence[Symbol], data: Sequence[Symbol],
                 equations: Mapping[Symbol, Expr], pre: set[Symbol],
                 deltas: Mapping[Symbol, Expr], values: Mapping[Any, object]
                 ) -> list[ExactPoint]:
    """Per sample of ``values``: every symbol's exact value, forward ``equations`` in order
    (``pre`` are the pre-activations; the others are functions of them), then ``deltas``
    (output layer first).

    >>> from symgrad.catalogue import sigmoid
    >>> x, w, z, a, T, d = sp.symbols("x w z a T delta")
    >>> points = exact_points([w], [x, T], {z: w * x, a: sigmoid(z)}, {z}, {d: a - T},
    ...                       {"w": 2, "x": [1, 300], "T": 1})
    >>> float(points[1].values[z]), float(points[1].values[d])  # sigma(600) - 1
    (600.0, -2.6503965530043108e-261)
    """
    env, samples = _sample_arrays(parameters, data, values)
    points = []
    for sample in range(samples):
        point = ExactPoint({k: sp.Float(float(v[sample if v.size > 1 else 0]), _STORED)
                            for k, v in env.items()}, pre)
        for symbol, eq in equations.items():
            point.define(symbol, eq)
        for symbol, expr in deltas.items():  # output layer first
            point.values[symbol] = point.exact(expr, str(symbol), _STORED)
        points.append(point)
    return points


def finite_float(value: Expr, what: str) -> float:
    """``value`` as a float, or a clear error if it is not a finite real number."""
    if value.is_real and value.is_finite:
        number = float(value)
        if math.isinf(number):
            raise OverflowError(f"{what} = {sp.N(value, 6)} is beyond the range of float64")
        return number
    raise DerivationError(f"{what} is not a finite real number at these values "
                          f"(evaluated as {sp.N(value, 6)}); the values may be too "
                          "large for an exact evaluation")
