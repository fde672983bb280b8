"""The machinery of the catalogue: the entry type, the registry and the numeric-form builder.

An activation is one :class:`Activation` entry holding every facet of it, in the way a JAX
primitive registers its rules where it is defined: the SymPy function (whose ``fdiff`` is
the derivative rule), the derivative in terms of the unit's own output, the written
convention at kinks, the range, its names in LaTeX, text and the parser, the
initialization policy and the numerically stable forms from which every backend (NumPy,
C, the minibatch kernels, the checker's float64 evaluator) is generated. The entries
themselves live in :mod:`symgrad.catalogue.activations`; :func:`register` adds one more.

>>> from sympy import Symbol
>>> z, a = Symbol("z"), Symbol("a")
>>> get_activation("sigma").local(z, a)
a*(1 - a)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Literal, Mapping, Sequence

import mpmath
import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy import Expr, Function, Integer, Rational, Symbol
from sympy.core.function import ArgumentIndexError

from ..errors import SymgradError, UnknownNameError

__all__ = ["exact", "CatalogueFunction", "UnitForms", "Activation", "ACTIVATIONS",
           "register", "get_activation", "unregister", "entry_of", "functions_of"]


def exact(value: float | int | Fraction | Expr) -> Expr:
    """Turn a number into an exact SymPy rational (``0.01`` becomes ``1/100``).

    >>> exact(0.01)
    1/100
    """
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if isinstance(value, int):
        return Integer(value)
    # repr of a float is the shortest decimal that round-trips: 0.01 -> "0.01"
    return Rational(Fraction(repr(value)) if isinstance(value, float) else value)


class CatalogueFunction(Function):
    """Base of the catalogue's SymPy functions: real valued, evaluated numerically through
    the elementary definition, printed in LaTeX under the entry's name.

    Subclasses define ``definition`` (elementary functions), ``fdiff`` (the derivative rule,
    raising :class:`~sympy.core.function.ArgumentIndexError` for a wrong index),
    ``latex_name`` and ``mpmath_value``, the value at any precision.
    """

    #: How the function prints in LaTeX (``\operatorname{<class name>}`` when not set).
    latex_name = ""

    @classmethod
    def definition(cls, *args: Expr) -> Expr:
        """The function written with elementary functions (exp, log, Piecewise, erf)."""
        raise NotImplementedError

    #: ``mpmath_value(*args)``: the value with mpmath at its working precision, in a form
    #: that keeps every digit for any argument (``log1p``, ``expm1``, ``erfc`` where the
    #: definition would cancel); exact evaluation (:mod:`symgrad.numbers`) relies on it.
    #: Without it, ``definition`` is evaluated, SymPy raising the precision where it cancels.
    mpmath_value: Callable[..., Any] | None = None

    def _eval_rewrite_as_exp(self, *args: Expr, **kwargs: Any) -> Expr:
        return self.definition(*args)

    _eval_rewrite_as_Piecewise = _eval_rewrite_as_exp

    def _eval_evalf(self, prec: int) -> Expr | None:
        if not all(a.is_number for a in self.args):
            return None
        if self.mpmath_value is None:
            given = [sp.Dummy() for _ in self.args]
            return self.definition(*given).evalf(prec_to_dps(prec), subs=dict(zip(given, self.args)))
        guard = prec + 20
        with mpmath.workprec(guard):
            value = mpmath.mpf(self.mpmath_value(*(a.evalf(prec_to_dps(guard))._to_mpmath(guard)
                                                   for a in self.args)))
        return sp.Float._new(value._mpf_, prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _check_index(self, argindex: int, variables: int = 1) -> None:
        if not 1 <= argindex <= variables:
            raise ArgumentIndexError(self, argindex)

    def _latex(self, printer: Any, exp: Any = None) -> str:
        inner = ", ".join(printer._print(a) for a in self.args)
        name = self.latex_name or rf"\operatorname{{{type(self).__name__}}}"
        out = rf"{name}\left({inner}\right)"
        return rf"{out}^{{{exp}}}" if exp is not None else out


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

    def merge(self, other: UnitForms) -> None:
        self.assignments += other.assignments
        self.roles.update(other.roles)


#: ``forms(out, z, a, params)`` appends the stable forms of ``a = f(z)`` to ``out``.
Forms = Callable[[UnitForms, Symbol, Symbol, Mapping[str, Expr]], None]
#: ``layer_forms(layer, zs, outputs)``: the stable forms of a whole layer, for an
#: activation that mixes its units (softmax).
LayerForms = Callable[[int, Sequence[Symbol], Sequence[Symbol]], UnitForms]
#: ``own_output(z, a, params)``: ``f'(z)`` written in the unit's own output ``a``.
OwnOutput = Callable[[Expr, Expr, Mapping[str, Expr]], Expr]


@dataclass(frozen=True)
class Activation:
    """A catalogue entry: every facet of one activation.

    ``function`` is the SymPy function (its ``fdiff`` is the derivative rule); ``params``
    its numeric parameters with defaults, passed after the argument in this order.
    ``own_output`` writes ``f'`` in the unit's output ``a`` where that is shorter
    (``a (1 - a)`` for the sigmoid); ``forms`` the numerically stable forms, including the
    ``"slope"`` role (without them, the definition and ``fdiff`` are compiled as they are); ``kink`` the convention at points where ``f`` is not differentiable
    (``kinked`` says whether there are any); ``init`` the initialization of the weights
    feeding it (``"he"`` normal or ``"glorot"`` uniform); ``aliases`` more names that
    specs and the parser accept; ``text`` and ``ascii`` its names in print (LaTeX:
    :attr:`latex`); ``probabilities`` says its outputs lie in (0, 1), as the
    cross-entropies need; ``layer_forms`` gives the forms of a whole layer for an
    activation that mixes its units; ``array_forms`` the value and slope of ``forms``
    computed without a choice by sign, for NumPy kernels over a layer's arrays
    (:meth:`array_stable_forms`), where ``numpy.where`` and its comparison cost more than
    a second ``exp``.
    """

    name: str
    title: str
    function: type[Function]
    range: str
    forms: Forms | None = None
    kink: str = "smooth everywhere"
    kinked: bool = False
    elementwise: bool = True
    params: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    own_output: OwnOutput | None = None
    init: Literal["glorot", "he"] = "glorot"
    text: str = ""
    ascii: str = ""
    probabilities: bool = False
    layer_forms: LayerForms | None = None
    array_forms: Forms | None = None

    @property
    def latex(self) -> str:
        """The LaTeX name (``\\sigma``), the one its SymPy function prints with."""
        return getattr(self.function, "latex_name", "") or \
            (rf"\operatorname{{{self.name}}}" if self.function is not sp.tanh else r"\tanh")

    def __call__(self, *args: Expr, **params: float) -> Expr:
        """The SymPy expression of the activation at ``args`` (``(k, *z)`` for softmax)."""
        values = self.with_defaults(params)
        return self.function(*args, *(exact(values[p]) for p in self.params))

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the entry answers to: its own, then its aliases."""
        return (self.name,) + self.aliases

    def with_defaults(self, params: Mapping[str, float]) -> dict[str, float]:
        """Fill in default parameters; an unknown parameter is an error naming it."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise UnknownNameError(f"parameter of activation '{self.name}'", unknown[0],
                                   list(self.params) or ["(none)"])
        return {**self.params, **params}

    def exact_params(self, params: Mapping[str, float]) -> dict[str, Expr]:
        return {k: exact(v) for k, v in self.with_defaults(params).items()}

    def definition(self, *args: Expr, **params: float) -> Expr:
        """The activation written with elementary functions."""
        return self(*args, **params).rewrite(sp.exp)

    def local(self, z: Expr, a: Expr, **params: float) -> Expr:
        """``da/dz`` of one unit, in its own output ``a`` where the entry has that form,
        else as the SymPy function's ``fdiff`` gives it."""
        if self.own_output is not None:
            return self.own_output(z, a, self.exact_params(params))
        return self(z, **params).diff(z)

    def jacobian(self, zs: tuple[Expr, ...], outputs: tuple[Expr, ...], i: int, j: int,
                 **params: float) -> Expr:
        """``da_i/dz_j`` (0-based) of an activation that mixes its units, in the outputs
        ``a_k`` (``a_i (delta_ij - a_j)`` for softmax)."""
        swap = {self(Integer(k + 1), *zs, **params): a for k, a in enumerate(outputs)}
        return self(Integer(i + 1), *zs, **params).diff(zs[j]).xreplace(swap)

    def stable_forms(self, z: Symbol, a: Symbol, **params: float) -> UnitForms:
        """The stable forms of ``a = f(z)`` (named temporaries ``{a}_e``, ...)."""
        out = UnitForms()
        values = self.with_defaults(params)
        if self.forms is None:  # no stable form: the definition, the slope as fdiff gives it
            out.add(a, self.definition(z, **params))
            out.add(Symbol(f"{a}_d"), self(z, **params).diff(z).rewrite(sp.exp), a, "slope")
            return out
        self.forms(out, z, a, {k: sp.Float(float(v)) for k, v in values.items()})
        return out

    def array_stable_forms(self, z: Symbol, a: Symbol, **params: float) -> UnitForms:
        """The forms of a NumPy kernel over arrays of ``z``: :attr:`array_forms` where the
        entry has them (the same numbers as :meth:`stable_forms`, without a ``numpy.where``),
        else :meth:`stable_forms`."""
        if self.array_forms is None:
            return self.stable_forms(z, a, **params)
        out = UnitForms()
        values = self.with_defaults(params)
        self.array_forms(out, z, a, {k: sp.Float(float(v)) for k, v in values.items()})
        return out


ACTIVATIONS: dict[str, Activation] = {}
_ALIASES: dict[str, str] = {}
_BY_FUNCTION: dict[type, Activation] = {}


def register(entry: Activation) -> Activation:
    """Add an entry to the catalogue; its names must be new.

    >>> sorted(ACTIVATIONS)[:3]
    ['binary_step', 'elu', 'gelu']
    """
    taken = [n for n in entry.names if n in ACTIVATIONS or n in _ALIASES]
    if taken:
        raise SymgradError(f"activation name '{taken[0]}' is already in the catalogue")
    ACTIVATIONS[entry.name] = entry
    _BY_FUNCTION[entry.function] = entry
    _ALIASES.update({alias: entry.name for alias in entry.aliases})
    return entry


def unregister(name: str) -> None:
    """Remove an entry (for throwaway entries in tests and notebooks)."""
    entry = ACTIVATIONS.pop(name)
    _BY_FUNCTION.pop(entry.function, None)
    for alias in entry.aliases:
        _ALIASES.pop(alias, None)


def get_activation(name: str) -> Activation:
    """Look an activation up by name or alias; an unknown name lists the known ones.

    >>> get_activation("sigma").name
    'sigmoid'
    """
    key = _ALIASES.get(name, name)
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise UnknownNameError("activation", name, list(ACTIVATIONS)) from None


def entry_of(function: type) -> Activation:
    """The entry whose SymPy function is ``function``.

    >>> from sympy import tanh
    >>> entry_of(tanh).name
    'tanh'
    """
    own = vars(function).get("entry") if isinstance(function, type) else None
    if isinstance(own, Activation):  # a spec's formula entry, carried by its function
        return own
    try:
        return _BY_FUNCTION[function]
    except KeyError:
        raise UnknownNameError("activation function", getattr(function, "__name__", "?"),
                               [f.__name__ for f in _BY_FUNCTION]) from None


def functions_of(kinked: bool | None = None) -> tuple[type[Function], ...]:
    """The SymPy functions of the entries (only the kinked or smooth ones if asked)."""
    return tuple(e.function for e in ACTIVATIONS.values()
                 if kinked is None or e.kinked == kinked)
