"""Activation functions as SymPy functions, and the registry that names them.

Each activation is a :class:`sympy.Function` subclass whose ``fdiff`` returns the
derivative in the form a textbook writes it (``sigma' = sigma (1 - sigma)``), so the
chain rule is left to SymPy's ``.diff()`` and never rewritten per activation.
Class names are lower case, as SymPy's own functions (``sympy.tanh``) are, so that
expressions print the way people write them: ``sigmoid(z1)``.

Conventions at kinks (derivatives at points where the function is not differentiable)
are written here once and pinned by tests:

* ReLU'(0) = 0 (the derivative is the Heaviside step with H(0) = 0), as in JAX and PyTorch.
* binary step: step(0) = 1, and step'(z) = 0 everywhere (its true derivative is 0 almost
  everywhere; the Dirac spike at 0 carries no usable gradient).
* leaky ReLU'(0) = alpha and ELU'(0) = alpha: at the kink the slope of the left piece is used,
  which keeps ReLU (alpha = 0) and leaky ReLU consistent.

>>> from sympy import Symbol
>>> z = Symbol("z")
>>> sigmoid(z).diff(z)
(1 - sigmoid(z))*sigmoid(z)
>>> ACTIVATIONS["relu"](z).diff(z)
Heaviside(z, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping

import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy import Expr, Function, Integer, KroneckerDelta, Piecewise, Rational, S

from .errors import UnknownNameError

__all__ = [
    "sigmoid",
    "relu",
    "binary_step",
    "leaky_relu",
    "elu",
    "softplus",
    "silu",
    "gelu",
    "softmax",
    "linear",
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "exact",
]


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


class _Activation(Function):
    """Common behaviour: real valued, numeric evaluation through the elementary definition."""

    @classmethod
    def definition(cls, *args: Expr) -> Expr:
        """The activation written with elementary functions (exp, log, Piecewise, erf)."""
        raise NotImplementedError

    def _eval_rewrite_as_exp(self, *args: Expr, **kwargs: Any) -> Expr:
        return self.definition(*args)

    _eval_rewrite_as_Piecewise = _eval_rewrite_as_exp

    def _eval_evalf(self, prec: int) -> Expr | None:
        if not all(a.is_number for a in self.args):
            return None
        return self.definition(*self.args).evalf(prec_to_dps(prec) + 5)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex_call(self, printer: Any, name: str, exp: Any = None) -> str:
        inner = ", ".join(printer._print(a) for a in self.args)
        out = rf"{name}\left({inner}\right)"
        return rf"{out}^{{{exp}}}" if exp is not None else out


class sigmoid(_Activation):
    r"""The logistic sigmoid ``1/(1 + exp(-z))``, range (0, 1); ``sigma' = sigma (1 - sigma)``."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_zero:
            return S.Half
        if z is S.Infinity:
            return S.One
        if z is S.NegativeInfinity:
            return S.Zero
        return None

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return 1 / (1 + sp.exp(-z))

    def fdiff(self, argindex: int = 1) -> Expr:
        return self * (1 - self)

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\sigma", exp)


class relu(_Activation):
    r"""The rectifier ``max(0, z)``, range [0, inf); ``relu'(z) = H(z)`` with ``H(0) = 0``."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_negative:
            return S.Zero
        return None

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return Piecewise((z, z > 0), (S.Zero, True))

    def fdiff(self, argindex: int = 1) -> Expr:
        return sp.Heaviside(self.args[0], 0)

    def _eval_rewrite_as_Max(self, z: Expr, **kwargs: Any) -> Expr:
        return sp.Max(0, z)

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{ReLU}", exp)


class binary_step(_Activation):
    r"""The binary step: 1 for ``z >= 0``, else 0; its derivative is taken as 0 everywhere."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_extended_nonnegative:
            return S.One
        if z.is_extended_negative:
            return S.Zero
        return None

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return sp.Heaviside(z, 1)

    def fdiff(self, argindex: int = 1) -> Expr:
        return S.Zero

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{step}", exp)


class leaky_relu(_Activation):
    r"""``z`` for ``z > 0``, else ``alpha z``; the derivative at 0 is ``alpha``."""

    nargs = 2

    @classmethod
    def eval(cls, z: Expr, alpha: Expr) -> Expr | None:
        if z.is_extended_positive:
            return z
        if z.is_extended_nonpositive:
            return alpha * z
        return None

    @classmethod
    def definition(cls, z: Expr, alpha: Expr) -> Expr:
        return Piecewise((z, z > 0), (alpha * z, True))

    def fdiff(self, argindex: int = 1) -> Expr:
        z, alpha = self.args
        if argindex == 1:
            return Piecewise((S.One, z > 0), (alpha, True))
        return Piecewise((S.Zero, z > 0), (z, True))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{LeakyReLU}", exp)


class elu(_Activation):
    r"""``z`` for ``z > 0``, else ``alpha (exp(z) - 1)``; the derivative at 0 is ``alpha``."""

    nargs = 2

    @classmethod
    def eval(cls, z: Expr, alpha: Expr) -> Expr | None:
        if z.is_extended_positive:
            return z
        if z.is_zero:
            return S.Zero
        return None

    @classmethod
    def definition(cls, z: Expr, alpha: Expr) -> Expr:
        return Piecewise((z, z > 0), (alpha * (sp.exp(z) - 1), True))

    def fdiff(self, argindex: int = 1) -> Expr:
        z, alpha = self.args
        if argindex == 1:
            return Piecewise((S.One, z > 0), (alpha * sp.exp(z), True))
        return Piecewise((S.Zero, z > 0), (sp.exp(z) - 1, True))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{ELU}", exp)


class softplus(_Activation):
    r"""``log(1 + exp(z))``, range (0, inf); its derivative is the sigmoid."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_zero:
            return sp.log(2)
        return None

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return sp.log(1 + sp.exp(z))

    def fdiff(self, argindex: int = 1) -> Expr:
        return sigmoid(self.args[0])

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{softplus}", exp)


class silu(_Activation):
    r"""SiLU (swish) ``z sigma(z)``; ``silu' = sigma(z) (1 + z (1 - sigma(z)))``."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_zero:
            return S.Zero
        return None

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return z / (1 + sp.exp(-z))

    def fdiff(self, argindex: int = 1) -> Expr:
        z = self.args[0]
        s = sigmoid(z)
        return s * (1 + z * (1 - s))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{SiLU}", exp)


class gelu(_Activation):
    r"""The exact GELU ``z Phi(z) = z/2 (1 + erf(z/sqrt 2))``; ``gelu' = Phi(z) + z phi(z)``."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_zero:
            return S.Zero
        return None

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return z * (1 + sp.erf(z / sp.sqrt(2))) / 2

    def fdiff(self, argindex: int = 1) -> Expr:
        z = self.args[0]
        return (1 + sp.erf(z / sp.sqrt(2))) / 2 + z * sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return self._latex_call(printer, r"\operatorname{GELU}", exp)


class softmax(_Activation):
    r"""Component ``k`` (1-based) of the softmax of ``z_1, ..., z_n``: ``exp(z_k) / sum_j exp(z_j)``.

    The Jacobian comes out as ``ds_k/dz_j = s_k (delta_kj - s_j)``:

    >>> from sympy import symbols
    >>> z1, z2 = symbols("z1 z2")
    >>> softmax(1, z1, z2).diff(z2)
    -softmax(1, z1, z2)*softmax(2, z1, z2)
    """

    @classmethod
    def eval(cls, k: Expr, *z: Expr) -> Expr | None:
        if not (k.is_Integer and 1 <= int(k) <= len(z)):
            raise ValueError(f"softmax index {k} is not one of 1..{len(z)}")
        if len(z) == 1:
            return S.One
        return None

    @classmethod
    def definition(cls, k: Expr, *z: Expr) -> Expr:
        return sp.exp(z[int(k) - 1]) / sp.Add(*(sp.exp(zj) for zj in z))

    def fdiff(self, argindex: int = 1) -> Expr:
        if argindex == 1:
            return S.Zero  # the index is not a variable
        k, z = self.args[0], self.args[1:]
        j = argindex - 1
        return self * (KroneckerDelta(k, j) - softmax(Integer(j), *z))

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args[1:]) else None

    def _eval_is_positive(self) -> bool | None:
        return self._eval_is_real()

    def _latex(self, printer: Any, exp: Any = None) -> str:
        k, z = self.args[0], self.args[1:]
        inner = ", ".join(printer._print(a) for a in z)
        out = rf"\operatorname{{softmax}}_{{{printer._print(k)}}}\left({inner}\right)"
        return rf"{out}^{{{exp}}}" if exp is not None else out


class linear(_Activation):
    """The identity ``f(z) = z``; it evaluates to its argument at once, so its derivative is 1."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr:
        return z

    @classmethod
    def definition(cls, z: Expr) -> Expr:
        return z


@dataclass(frozen=True)
class Activation:
    """A registry entry: how to build the activation and what to say about it.

    ``build(z, **params)`` returns the SymPy expression of the activation applied to
    ``z`` (for a non-elementwise activation, ``build(k, *z)`` returns component ``k``).
    """

    name: str
    title: str
    build: Callable[..., Expr]
    function: type[Function] | type[sp.tanh]
    range: str
    kink: str
    elementwise: bool = True
    params: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def __call__(self, *args: Expr, **params: float) -> Expr:
        return self.build(*args, **self.with_defaults(params))

    def with_defaults(self, params: Mapping[str, float]) -> dict[str, float]:
        """Fill in default parameters; an unknown parameter is an error naming it."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise UnknownNameError(f"parameter of activation '{self.name}'", unknown[0],
                                   list(self.params) or ["(none)"])
        return {**self.params, **params}

    def definition(self, *args: Expr, **params: float) -> Expr:
        """The activation written with elementary functions."""
        expr = self(*args, **params)
        if isinstance(expr, _Activation):
            return type(expr).definition(*expr.args)
        return expr.rewrite(sp.exp)


def _unary(cls: type[Function]) -> Callable[..., Expr]:
    return lambda z: cls(z)


def _with_alpha(cls: type[Function]) -> Callable[..., Expr]:
    return lambda z, alpha: cls(z, exact(alpha))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", "Sigmoid (logistic)", _unary(sigmoid), sigmoid, "(0, 1)",
                   "smooth everywhere", aliases=("sigma", "logistic")),
        Activation("tanh", "Hyperbolic tangent", _unary(sp.tanh), sp.tanh, "(-1, 1)",
                   "smooth everywhere"),
        Activation("relu", "Rectified linear unit (ReLU)", _unary(relu), relu,
                   "[0, \\infty)", "ReLU'(0) = 0 (the Heaviside step with H(0) = 0)"),
        Activation("softmax", "Softmax", softmax, softmax,
                   "(0, 1), components sum to 1", "smooth everywhere",
                   elementwise=False),
        Activation("binary_step", "Binary step", _unary(binary_step), binary_step,
                   "\\{0, 1\\}", "step(0) = 1; step'(z) = 0 for every z (0 almost everywhere)",
                   aliases=("step",)),
        Activation("linear", "Linear (identity)", _unary(linear), linear,
                   "(-\\infty, \\infty)", "smooth everywhere", aliases=("identity",)),
        Activation("leaky_relu", "Leaky ReLU", _with_alpha(leaky_relu), leaky_relu,
                   "(-\\infty, \\infty)", "LeakyReLU'(0) = alpha (the left slope)",
                   params={"alpha": 0.01}),
        Activation("elu", "Exponential linear unit (ELU)", _with_alpha(elu), elu,
                   "(-\\alpha, \\infty)", "ELU'(0) = alpha (the left slope)",
                   params={"alpha": 1.0}),
        Activation("softplus", "Softplus", _unary(softplus), softplus, "(0, \\infty)",
                   "smooth everywhere"),
        Activation("silu", "SiLU (swish)", _unary(silu), silu, "[-0.2785, \\infty)",
                   "smooth everywhere", aliases=("swish",)),
        Activation("gelu", "GELU (exact, with erf)", _unary(gelu), gelu, "[-0.17, \\infty)",
                   "smooth everywhere"),
    )
}

_ALIASES: dict[str, str] = {alias: a.name for a in ACTIVATIONS.values() for alias in a.aliases}


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
