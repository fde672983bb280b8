r"""Formula-defined activations and losses: catalogue entries made from a spec's text.

``[activations.mish] formula = "z * tanh(softplus(z))"`` becomes an
:class:`~symgrad.catalogue.Activation` of its own, as complete as a built-in one: a SymPy
function whose ``fdiff`` is the derivative SymPy derives (or the spec's ``derivative``,
once it is proved equal), the derivative in the unit's own output where one is found, a
written convention at kinks, the range where SymPy finds it, and stable numeric forms
(:mod:`symgrad.catalogue.formula_forms`). The text is read by the safe parser
(:mod:`symgrad.check.parse`), never by ``eval`` or ``sympify``. Entries are made per
spec and never registered in the global catalogue, so nothing leaks from one spec to
the next; the architecture resolves a layer's name against the spec's entries first.

>>> entry = activation_entry("swish_beta", "z * sigmoid(beta * z)", parameters={"beta": 1.5})
>>> from sympy import Symbol
>>> z, a = Symbol("z"), Symbol("a")
>>> entry.local(z, a)
3*a*(1 - sigmoid(3*z/2))/2 + sigmoid(3*z/2)
>>> entry.kink
'smooth everywhere'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import sympy as sp
from sympy import Expr, Symbol

from .catalogue import Activation, CatalogueFunction, Loss, exact, get_loss
from .check.parse import parse_expression
from .check.tables import FUNCTIONS, formula_functions
from .errors import ParseError, SpecError, UnknownNameError
from .catalogue.formula_forms import derivative_of, kink_convention, lift, stable_forms

__all__ = ["FormulaError", "activation_entry", "loss_entry", "textbook_forms", "Z", "A", "T",
           "MAX_FORMULA"]

#: The argument of an activation formula, and the output and target of a loss formula.
Z, A, T = Symbol("z", real=True), Symbol("a", real=True), Symbol("T", real=True)
#: Longest formula text: the parser's own limit would allow 5000 characters; a formula is
#: one line of a spec.
MAX_FORMULA = 500
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class FormulaError(SpecError):
    """A formula that cannot become a catalogue entry; ``field`` names the spec field."""


def _fail(where: str, message: str) -> FormulaError:
    return FormulaError(message, field=where)


def _is_loss(name: str) -> bool:
    try:
        get_loss(name)
    except UnknownNameError:
        return False
    return True


def _check_name(name: str, where: str, kind: str) -> None:
    if not _NAME.match(name):
        raise _fail(where, f"'{name}' is not a {kind} name of lower-case letters, digits and "
                           "underscores starting with a letter (at most 32)")
    with formula_functions():
        taken = name in FUNCTIONS
    if taken or name in ("z", "a", "none") or _is_loss(name):
        raise _fail(where, f"{kind} name '{name}' clashes with a built-in name; choose another")


def _parameters(parameters: Mapping[str, float], where: str,
                taken: tuple[str, ...]) -> dict[str, Symbol]:
    out = {}
    for p in parameters:
        with formula_functions():
            known = p in FUNCTIONS
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", p) or p in taken or known:
            raise _fail(f"{where}.parameters.{p}", f"parameter name '{p}' is not allowed: "
                        f"it must be a new name, not {', '.join(taken)} or a function")
        out[p] = Symbol(p, real=True)
    return out


def _parse(text: str, names: Mapping[str, Symbol], where: str) -> Expr:
    if len(text) > MAX_FORMULA:
        raise _fail(where, f"formula is {len(text)} characters long; the limit is {MAX_FORMULA}")
    try:
        with formula_functions():
            return parse_expression(text, names)
    except ParseError as exc:  # an unknown name's message lists the allowed ones
        raise _fail(where, str(exc)) from None


#: Points (z, and every parameter at its value) where a given derivative is compared.
_POINTS = (-3.1, -1.3, -0.4, 0.35, 0.9, 1.7, 2.6)


def _values(expr: Expr, point: Mapping[Symbol, Expr]) -> list[Expr]:
    return [expr.evalf(30, subs={**point, Z: sp.Rational(str(z))}) for z in _POINTS]


def _diagnosis(given: Expr, derived: Expr, point: Mapping[Symbol, Expr],
               label: str) -> str | None:
    """``None`` when ``given`` equals ``derived`` at every point of :data:`_POINTS` to 25
    digits (no ``simplify``: its time has no bound); else the mistake in words, as ``symgrad
    check`` words them: a sign error, a constant factor, a missing factor, a counterexample."""
    yours, mine = _values(given, point), _values(derived, point)
    if all(abs(y - m) <= 1e-25 * (1 + abs(m)) for y, m in zip(yours, mine)):
        return None
    ratios = [m / y if y != 0 else sp.nan for y, m in zip(yours, mine)]
    if all(abs(r - ratios[0]) <= 1e-20 * abs(ratios[0]) for r in ratios):
        if abs(ratios[0] + 1) <= 1e-20:
            return f"not equal: your derivative is the negative of {label} (sign error)"
        return f"not equal: your derivative is off by a constant factor: it should be " \
               f"multiplied by {float(ratios[0]):.6g}"
    factor = sp.cancel(derived / given) if sp.count_ops(derived) < 60 else None
    if factor is not None and sp.count_ops(factor) <= 8 and factor.free_symbols:
        return f"not equal: your derivative is missing the factor {factor}"
    return (f"not equal to {label} = {derived}: at z = {_POINTS[3]} yours = "
            f"{float(yours[3]):.6g}, symbolic = {float(mine[3]):.6g}")


@dataclass(frozen=True)
class _Parts:
    """A parsed formula: as typed, lifted to stable catalogue functions, differentiated."""

    typed: Expr
    lifted: Expr
    derivative: Expr
    params: tuple[Symbol, ...]


def _function_class(name: str, parts: _Parts, arg: Symbol) -> type[CatalogueFunction]:
    """A SymPy function ``name(z, *params)`` whose ``fdiff`` is the derived derivative."""
    variables = (arg,) + parts.params

    def bind(expr: Expr, args: tuple[Expr, ...]) -> Expr:
        return expr.xreplace(dict(zip(variables, args)))

    def definition(cls: Any, *args: Expr) -> Expr:
        return bind(parts.typed, args)

    def fdiff(self: Any, argindex: int = 1) -> Expr:
        self._check_index(argindex, len(variables))
        if argindex == 1:
            return bind(parts.derivative, self.args)
        return bind(parts.lifted.diff(variables[argindex - 1]), self.args)

    return type(name, (CatalogueFunction,), {
        "nargs": len(variables), "latex_name": r"\operatorname{" + name.replace("_", r"\_") + "}",
        "definition": classmethod(definition), "fdiff": fdiff, "__module__": __name__,
        "__doc__": f"The formula-defined activation {name}(z) = {parts.typed}."})


def _own_output(parts: _Parts) -> Callable[[Expr, Expr, Mapping[str, Expr]], Expr] | None:
    """``f'`` in the unit's own output ``a`` (``f`` replaced where it appears in ``f'``,
    or ``f / c`` for a constant multiple ``c``), where that is no longer than ``f'``."""
    a = Symbol("_own_a", real=True)
    found = parts.derivative.subs(parts.lifted, a)
    coeff, rest = parts.lifted.as_coeff_Mul()
    if not found.has(a) and coeff != 1 and rest.has(Z):
        found = parts.derivative.subs(rest, a / coeff)
    if not found.has(a) or sp.count_ops(found) > sp.count_ops(parts.derivative):
        return None

    def own(z: Expr, out: Expr, params: Mapping[str, Expr]) -> Expr:
        values = {p: params[str(p)] for p in parts.params}
        return found.xreplace({Z: z, a: out, **values})
    return own


def _range(typed: Expr, params: Mapping[Symbol, Expr]) -> str:
    """The range SymPy's ``function_range`` finds for the default parameters, else
    ``unknown``; only for formulas without kinks or catalogue functions, where it ends
    quickly (mish took over a minute)."""
    expr = typed.xreplace(dict(params))
    if expr.atoms(CatalogueFunction, sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside) \
            or sp.count_ops(expr) > 12:
        return "unknown"
    try:
        found = sp.calculus.util.function_range(expr, Z, sp.S.Reals)
    except (NotImplementedError, ValueError, TypeError):
        return "unknown"
    if not isinstance(found, sp.Interval):
        return "unknown"
    ends = [r"\infty" if e.is_infinite else f"{float(e):.6g}" for e in (found.start, found.end)]
    ends[0] = "-" + ends[0] if found.start is sp.S.NegativeInfinity else ends[0]
    return ("(" if found.left_open else "[") + ", ".join(ends) + \
        (")" if found.right_open else "]")


def activation_entry(name: str, formula: str, *, derivative: str | None = None,
                     parameters: Mapping[str, float] | None = None,
                     where: str = "activations") -> Activation:
    """The catalogue entry of activation ``name(z) = formula`` (not registered).

    ``derivative``, when given, must equal the derived one, else :class:`FormulaError`
    with the diagnosis; ``where`` is the spec field named in errors.

    >>> activation_entry("softsign", "z / (1 + abs(z))").kink
    "|u|' = sign(u), taken as 0 at u = 0"
    """
    where = f"{where}.{name}"
    _check_name(name, where, "activation")
    params = _parameters(parameters or {}, where, ("z",))
    typed = _parse(formula, {"z": Z, **params}, f"{where}.formula")
    if Z not in typed.free_symbols:
        raise _fail(f"{where}.formula", f"formula '{formula}' does not depend on z")
    lifted = lift(typed)
    derived = derivative_of(lifted, Z)
    if derivative is not None:
        given = _parse(derivative, {"z": Z, **params}, f"{where}.derivative")
        at = {params[k]: exact(v) for k, v in (parameters or {}).items()}
        wrong = _diagnosis(given, derived, at, f"{name}'(z)")
        if wrong:
            raise _fail(f"{where}.derivative", wrong)
    parts = _Parts(typed, lifted, derived, tuple(params.values()))
    function = _function_class(name, parts, Z)
    defaults = {params[k]: exact(v) for k, v in (parameters or {}).items()}
    kink = kink_convention(typed)
    entry = Activation(
        name, f"{name} (formula: {formula})", function, _range(typed, defaults),
        forms=stable_forms(lifted, derived, Z, parts.params), kink=kink or "smooth everywhere",
        kinked=kink is not None, params=dict(parameters or {}), own_output=_own_output(parts),
        init="glorot")
    function.entry = entry  # type: ignore[attr-defined]  # found by catalogue.entry_of
    return entry


def loss_entry(name: str, formula: str, *, reduction: str = "sum",
               parameters: Mapping[str, float] | None = None,
               where: str = "losses") -> Loss:
    """The loss ``name`` whose per-sample value is ``formula`` in output ``a`` and target
    ``T``, summed over the output units, then reduced over samples by ``reduction``.

    >>> huber = loss_entry("huber", "where(delta - abs(a - T), (a - T)^2/2, "
    ...                    "delta*(abs(a - T) - delta/2))", parameters={"delta": 1.0})
    >>> from sympy import symbols
    >>> a1, T1 = symbols("a1 T1", real=True)
    >>> huber.per_sample([a1], [T1])
    Piecewise(((-T1 + a1)**2/2, Max(-T1 + a1, T1 - a1) < 1), (Max(-T1 + a1, T1 - a1) - 1/2, True))
    """
    where = f"{where}.{name}"
    _check_name(name, where, "loss")
    if reduction not in ("sum", "mean"):
        raise _fail(f"{where}.reduction", f"unknown reduction '{reduction}'; known: sum, mean")
    params = _parameters(parameters or {}, where, ("a", "T"))
    typed = _parse(formula, {"a": A, "T": T, **params}, f"{where}.formula")
    if A not in typed.free_symbols:
        raise _fail(f"{where}.formula", f"formula '{formula}' does not depend on a")
    values = {params[k]: exact(v) for k, v in (parameters or {}).items()}
    # |u| as max(u, -u): the network's symbols carry no assumption of being real, for which
    # SymPy's |u|' is not sign(u); max's slope at the tie is the mean, so |u|'(0) = 0 as
    # for activations
    body = typed.xreplace(values).replace(sp.Abs, lambda u: sp.Max(u, -u))

    def build(outputs: Any, targets: Any) -> Expr:
        return sp.Add(*(body.xreplace({A: o, T: t}) for o, t in zip(outputs, targets)))
    return Loss(name, f"{name} (formula: {formula})", "E", reduction,  # type: ignore[arg-type]
                build)


def textbook_forms(entry: Activation) -> tuple[Expr, Expr, Expr | None]:
    """A formula entry as printed: its definition and its derivative in ``z`` and its
    parameters' names, and the derivative in its own output ``a`` where SymPy found
    that form (else ``None``).

    >>> definition, slope, own = textbook_forms(activation_entry(
    ...     "swish_beta", "z * sigmoid(beta * z)", parameters={"beta": 1.5}))
    >>> definition, own
    (z*sigmoid(beta*z), a*beta*(1 - sigmoid(beta*z)) + sigmoid(beta*z))
    """
    symbols = {p: Symbol(p, real=True) for p in entry.params}
    f = entry.function(Z, *symbols.values())
    own = None if entry.own_output is None else entry.own_output(Z, A, symbols)
    return f.definition(Z, *symbols.values()), f.diff(Z), own
