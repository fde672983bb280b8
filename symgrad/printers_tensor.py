"""Printers of the catalogue's stable numeric forms for the PyTorch and JAX exports.

SymPy's own printers (:class:`~sympy.printing.pytorch.TorchPrinter`,
:class:`~sympy.printing.numpy.JaxPrinter`) print the elementary functions; what they get
wrong for symgrad's stable forms is overridden here, as in :mod:`symgrad.printers_numeric`:
``torch.max(0, x)`` is not elementwise, ``heaviside`` wants its value at 0 as a tensor,
``log1p``, ``expm1`` and ``erfc`` are unsupported or go to ``math``, and a ``Piecewise`` of
two constants would be float32 in PyTorch whatever the data (``torch.where(c, 1.0, 0.0)``):
there a constant takes the dtype and device of a float argument, ``like``.
Constants are Python floats, weakly typed in both libraries, so float32 data stays float32.

>>> from sympy import Heaviside, Max, Piecewise, Symbol
>>> z = Symbol("z")
>>> StableTorchPrinter().doprint(Max(z, 0))
'torch.clamp(z, min=0.0)'
>>> StableTorchPrinter().doprint(Heaviside(z, 0))
'torch.heaviside(z, x.new_full((), 0.0))'
>>> StableTorchPrinter().doprint(Piecewise((1, z > 0), (0, True)))
'torch.where(z > 0, x.new_full((), 1.0), x.new_full((), 0.0))'
>>> StableJaxPrinter().doprint(Piecewise((z, z >= 0), (0, True)))
'jax.numpy.where(z >= 0, z, 0.0)'
"""

from __future__ import annotations

from typing import Any, Callable

import sympy as sp
from sympy import Expr
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.numpy import JaxPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pytorch import TorchPrinter

from .catalogue import ERFC
from .printers_numeric import _StableMixin

__all__ = ["StableTorchPrinter", "StableJaxPrinter", "TENSOR_NAMES"]

#: Names that torch or JAX code uses: a network symbol must not be called so.
TENSOR_NAMES = frozenset({"torch", "jax"})


class _TensorMixin(_StableMixin):
    """What the two printers print alike, each through its namespace ``_ns`` (``torch``
    or ``jax.numpy``) and its ``_special`` one (where ``erfc`` lives)."""

    _ns: str
    _special: str
    _print: Callable[..., str]

    def __init__(self, settings: dict[str, Any] | None = None, like: str = "x") -> None:
        super().__init__(settings)  # type: ignore[call-arg]
        self._like = like  # a float argument: PyTorch's constants take its dtype and device

    def _constant(self, value: str) -> str:
        """A constant branch of a choice; weakly typed floats serve except in PyTorch."""
        return value

    def _print_Piecewise(self, expr: Expr) -> str:
        *pairs, (last, cond) = expr.args
        if cond is not sp.true:
            raise ValueError("a numeric Piecewise needs a final True branch")

        def branch(value: Expr) -> str:  # a constant as a float: an int would stay int
            return self._constant(repr(float(value))) if value.is_number else \
                self._print(value)

        out = branch(last)
        for value, condition in reversed(pairs):
            out = f"{self._ns}.where({self._print(condition)}, {branch(value)}, {out})"
        return out

    def _minmax(self, expr: Expr, name: str, bound: str) -> str:
        """Elementwise ``maximum``/``minimum`` of the symbolic arguments, then a clip at
        the constant one (SymPy keeps at most one): NaN propagates, as in the NumPy code."""
        symbolic = [a for a in expr.args if not a.is_number]
        out = self._print(symbolic[0])
        for arg in symbolic[1:]:
            out = f"{self._ns}.{name}({out}, {self._print(arg)})"
        for number in (a for a in expr.args if a.is_number):
            out = self._clamp(out, bound, repr(float(number)))
        return out

    def _clamp(self, x: str, bound: str, limit: str) -> str:
        return f"{self._ns}.clip({x}, {bound}={limit})"

    def _print_Max(self, expr: Expr) -> str:
        return self._minmax(expr, "maximum", "min")

    def _print_Min(self, expr: Expr) -> str:
        return self._minmax(expr, "minimum", "max")

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:  # type: ignore[override]
        """Square roots by name; other powers that :class:`_StableMixin` leaves to SymPy
        (a fraction, a negative integer) as ``**``, which both libraries take."""
        base, exp = expr.args
        if expr.is_number:
            return repr(float(expr))
        if exp in (sp.S.Half, -sp.S.Half):
            root = f"{self._ns}.sqrt({self._print(base)})"
            return root if exp > 0 else f"1/{root}"
        if not expr.is_number and not (exp.is_Integer and (exp > 0 or exp == -1)):
            wrapped = self.parenthesize(base, PRECEDENCE["Pow"], strict=False)
            power = repr(int(exp)) if exp.is_Integer else repr(float(exp)) if exp.is_number \
                else self.parenthesize(exp, PRECEDENCE["Pow"], strict=False)
            return f"{wrapped}**({power})"
        return super()._print_Pow(expr, rational=rational)  # type: ignore[misc]

    def _print_Abs(self, expr: Expr) -> str:
        return f"{self._ns}.abs({self._print(expr.args[0])})"

    def _print_Function(self, expr: Expr) -> str:
        name = _FUNCTIONS.get(expr.func)
        if name is None:
            return super()._print_Function(expr)  # type: ignore[misc]
        namespace = self._special if name == "erfc" else self._ns
        return f"{namespace}.{name}({self._print(expr.args[0])})"


#: The functions that both printers print by their own names (``torch.log1p``).
_FUNCTIONS: dict[Any, str] = {log1p: "log1p", expm1: "expm1", ERFC: "erfc"}


class StableTorchPrinter(_TensorMixin, TorchPrinter):
    """PyTorch code for tensors of samples (and 0-d parameter tensors)."""

    _ns = "torch"
    _special = "torch.special"

    def __init__(self, settings: dict[str, Any] | None = None, like: str = "x") -> None:
        super().__init__({"allow_unknown_functions": True, **(settings or {})}, like)

    def _constant(self, value: str) -> str:
        # torch.where of two Python floats is float32 (the default dtype): take like's
        return f"{self._like}.new_full((), {value})"

    def _clamp(self, x: str, bound: str, limit: str) -> str:
        return f"torch.clamp({x}, {bound}={limit})"

    def _print_Heaviside(self, expr: Expr) -> str:
        # the value at 0 as a 0-d tensor of x's dtype and device, as torch.heaviside wants
        x, at_zero = expr.args
        return f"torch.heaviside({self._print(x)}, {self._constant(repr(float(at_zero)))})"


class StableJaxPrinter(_TensorMixin, JaxPrinter):
    """JAX code for arrays of samples (``jax.numpy``, ``jax.scipy.special.erfc``)."""

    _ns = "jax.numpy"
    _special = "jax.scipy.special"

    def __init__(self, settings: dict[str, Any] | None = None, like: str = "x") -> None:
        super().__init__({"allow_unknown_functions": True, "fully_qualified_modules": True,
                          **(settings or {})}, like)

    def _print_Heaviside(self, expr: Expr) -> str:
        return f"jax.numpy.heaviside({self._print(expr.args[0])}, {float(expr.args[1])!r})"
