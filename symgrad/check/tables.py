"""The names and limits of hand-typed maths: which functions (every activation of the
catalogue, by each of its names, and a few of mathematics), LaTeX function commands,
constants and characters the parser accepts, and how long, deep and large an input may be.
The lexer's rules (:mod:`.lexer`) read through these tables."""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator, Mapping

import sympy as sp
from sympy import Expr

from ..catalogue import ACTIVATIONS, Activation, exact
from ..errors import ParseError

__all__ = ["FUNCTIONS", "scoped_activations", "formula_functions", "MAX_LENGTH", "MAX_DEPTH", "MAX_EXPONENT",
           "MAX_DIGITS", "MAX_RESULT_DIGITS"]

#: Longest text accepted, in characters.
MAX_LENGTH = 5000
#: Deepest nesting of brackets, braces and nested operators (unary minus, powers).
MAX_DEPTH = 50
#: Largest absolute value of a numeric exponent, and largest denominator of one.
MAX_EXPONENT = 100
#: Most digits in one number as typed.
MAX_DIGITS = 30
#: Most digits of a number computed from a numeric power (``10^100`` is fine).
MAX_RESULT_DIGITS = 1000


def _heaviside(x: Expr) -> Expr:
    return sp.Heaviside(x, 0)  # the convention of symgrad's ReLU: H(0) = 0


def _step(x: Expr, at_zero: Expr = sp.Integer(0)) -> Expr:
    return sp.Heaviside(x, at_zero)


def _max(*args: Expr) -> Expr:
    return sp.Max(*args)


def _cfunction(name: str) -> Callable[[Expr], Expr]:
    """SymPy's C function ``name`` (``log1p``), imported when a formula uses it: loading
    ``sympy.codegen`` takes 6 ms, and hand derivations never do."""
    def build(x: Expr) -> Expr:
        from sympy.codegen import cfunctions

        return getattr(cfunctions, name)(x)
    return build


def _where(condition: Expr, positive: Expr, otherwise: Expr) -> Expr:
    """``where(u, x, y)``: ``x`` where ``u > 0``, else ``y`` (a piecewise function)."""
    return sp.Piecewise((positive, condition > 0), (otherwise, True))


Builder = tuple[Callable[..., Expr], int, int]

#: Functions that are not activations, with (builder, smallest and largest argument count).
_MATH: dict[str, Builder] = {
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 1),
    "ln": (sp.log, 1, 1),
    "heaviside": (_heaviside, 1, 1),
    "Heaviside": (_step, 1, 2),
    "max": (_max, 2, 8),
    "sqrt": (sp.sqrt, 1, 1),
    "erf": (sp.erf, 1, 1),
}
#: More functions for a spec's formulas (inside :func:`formula_functions` only: hand
#: derivations keep the table above, and the messages that list it).
_FORMULA_MATH: dict[str, Builder] = {
    "abs": (sp.Abs, 1, 1),
    "min": (sp.Min, 2, 8),
    "cosh": (sp.cosh, 1, 1),
    "sinh": (sp.sinh, 1, 1),
    "log1p": (_cfunction("log1p"), 1, 1),
    "expm1": (_cfunction("expm1"), 1, 1),
    "where": (_where, 3, 3),
    "sign": (sp.sign, 1, 1),  # |u|'s derivative, as formula entries print it
}
#: LaTeX commands for those, and \operatorname{...} contents.
_MATH_COMMANDS = {"exp": "exp", "log": "log", "ln": "ln", "max": "max", "theta": "Heaviside"}
_MATH_OPERATORS = {"exp": "exp", "log": "log", "ln": "ln", "max": "max", "H": "heaviside",
                   "heaviside": "heaviside", "erf": "erf"}
#: Functions of a hand gradient of a network with a penalty (inside :func:`penalty_functions`
#: only): an L1 penalty's slope ``sign(w)`` (``\\operatorname{sign}`` in LaTeX) and cost ``Abs(w)``.
_PENALTY_MATH: dict[str, Builder] = {"sign": (sp.sign, 1, 1), "Abs": (sp.Abs, 1, 1)}


def _activation_builder(entry: Activation) -> Builder:
    """``name(z)`` or ``name(z, alpha)``: the entry's parameters may follow the argument."""
    def build(z: Expr, *given: Expr) -> Expr:
        defaults = [exact(v) for v in entry.params.values()]
        return entry.function(z, *given, *defaults[len(given):])
    return build, 1, 1 + len(entry.params)


def _mixing_builder(entry: Activation) -> Builder:
    """``softmax(k, z1, ..., zn)``: component ``k`` of an activation that mixes its units."""
    def build(k: Expr, *z: Expr) -> Expr:
        if not (k.is_Integer and 1 <= int(k) <= len(z)):
            raise ParseError(f"{entry.name}'s first argument is the component, one of "
                             f"1..{len(z)}; got {k}")
        return entry.function(k, *z)
    return build, 2, 1000


def _builder(entry: Activation) -> Builder:
    return _activation_builder(entry) if entry.elementwise else _mixing_builder(entry)


#: A spec's own (formula-defined) activations, known to the parser inside
#: :func:`scoped_activations` only: they never join the global catalogue.
_SCOPED: ContextVar[tuple[Activation, ...]] = ContextVar("scoped_activations", default=())


@contextmanager
def scoped_activations(entries: Iterable[Activation]) -> Iterator[None]:
    """Within the block, the parser knows ``entries`` too (a spec's formula activations).

    >>> from symgrad.formulas import activation_entry
    >>> with scoped_activations([activation_entry("mish", "z*tanh(softplus(z))")]):
    ...     "mish" in FUNCTIONS
    True
    >>> "mish" in FUNCTIONS
    False
    """
    token = _SCOPED.set(_SCOPED.get() + tuple(entries))
    try:
        yield
    finally:
        _SCOPED.reset(token)


_FORMULAS: ContextVar[bool] = ContextVar("formula_functions", default=False)


@contextmanager
def _switched(var: ContextVar[bool], on: bool) -> Iterator[None]:
    """Set ``var`` to ``on`` within the block, and back to what it was after it."""
    token = var.set(on)
    try:
        yield
    finally:
        var.reset(token)


@contextmanager
def formula_functions() -> Iterator[None]:
    """Within the block, the parser also knows :data:`_FORMULA_MATH` (``abs``, ``min``,
    ``where``...): for the formulas of a spec.

    >>> with formula_functions():
    ...     "where" in FUNCTIONS
    True
    >>> "where" in FUNCTIONS
    False
    """
    with _switched(_FORMULAS, True):
        yield


_PENALTY: ContextVar[bool] = ContextVar("penalty_functions", default=False)


@contextmanager
def penalty_functions(on: bool = True) -> Iterator[None]:
    """Within the block (when ``on``), the parser also knows :data:`_PENALTY_MATH`
    (``sign``): for the hand gradients of a network with a penalty.

    >>> with penalty_functions():
    ...     "sign" in FUNCTIONS
    True
    >>> "sign" in FUNCTIONS
    False
    """
    with _switched(_PENALTY, on):
        yield


def _entries() -> list[Activation]:
    return [*ACTIVATIONS.values(), *_SCOPED.get()]


class _CatalogueTable(Mapping[str, Any]):
    """A name table made from the activation catalogue (with the scoped entries) and fixed
    rows, remade whenever an entry is registered or scoped, so a new activation is known
    to the parser at once."""

    def __init__(self, make: Callable[[], dict[str, Any]]) -> None:
        self._make = make
        self._key: tuple[Any, ...] = ()
        self._table: dict[str, Any] = {}

    def _current(self) -> dict[str, Any]:
        key = (*ACTIVATIONS, *map(id, _SCOPED.get()), _FORMULAS.get(), _PENALTY.get())
        if key != self._key:
            self._table, self._key = self._make(), key
        return self._table

    def __getitem__(self, name: str) -> Any:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def _elementwise() -> list[Activation]:
    return [e for e in _entries() if e.elementwise]


def _command(entry: Activation) -> str | None:
    """``sigma`` for ``\\sigma``, ``None`` for ``\\operatorname{...}``."""
    m = re.fullmatch(r"\\([A-Za-z]+)", entry.latex)
    return m.group(1) if m else None


def _operator(entry: Activation) -> str | None:
    m = re.fullmatch(r"\\operatorname\{([A-Za-z]+)\}", entry.latex)
    return m.group(1) if m else None


#: Function names accepted in text: every activation of the catalogue by each of its
#: names, then the functions of :data:`_MATH`.
FUNCTIONS: Mapping[str, Builder] = _CatalogueTable(lambda: {
    **{name: _builder(e) for e in _entries() for name in e.names}, **_MATH,
    **(_FORMULA_MATH if _FORMULAS.get() else {}),
    **(_PENALTY_MATH if _PENALTY.get() else {})})
#: LaTeX commands that stand for a function (``\\sigma``, ``\\tanh``, ``\\exp``...).
_LATEX_FUNCTIONS: Mapping[str, str] = _CatalogueTable(lambda: {
    **{c: e.name for e in _elementwise() if (c := _command(e))}, **_MATH_COMMANDS})
#: \\operatorname{...} / \\mathrm{...} contents that stand for a function.
_OPERATOR_NAMES: Mapping[str, str] = _CatalogueTable(lambda: {
    **{n: e.name for e in _entries()
       for n in filter(None, (_operator(e),) + e.names)},
    **_MATH_OPERATORS, **({n: n for n in _PENALTY_MATH} if _PENALTY.get() else {})})
#: LaTeX spacing commands (``\,``, ``\quad``), read as nothing.
_SPACING = {",", ";", ":", "!", " ", "quad", "qquad"}
#: Constants by name, where the network has no symbol of that name.
_CONSTANTS = {"e": sp.E, "pi": sp.pi}

#: Unicode characters with one unambiguous meaning, as the token (kind, value) each is read
#: as; every other non-ASCII character is refused.
_UNICODE = {"·": ("op", "*"), "⋅": ("op", "*"), "×": ("op", "*"), "−": ("op", "-"),
            "σ": ("func", "sigma")}
#: Names that only code uses: refused as "unexpected" rather than "unknown".
_CODE_WORDS = {"eval", "exec", "open", "compile", "getattr", "setattr", "globals", "locals",
               "vars", "dir", "print", "input", "breakpoint", "os", "sys", "subprocess",
               "builtins", "system", "popen", "type", "object", "help", "exit", "quit"}
