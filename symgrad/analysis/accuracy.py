"""How accurate an activation's compiled value and slope are: a sweep against mpmath.

The compiled NumPy kernel of an entry (its stable forms, :func:`symgrad.compile.
activation_kernel`) is compared with the same maths in mpmath at 50 correct digits (the
working precision is raised until two precisions agree to 50 digits: ``log(1 + exp(z))``
at z = -700 needs over 300) on a grid over |z| <= 700. The result says the worst relative
error, where it occurs, the range of z where the error stays within :data:`TOLERANCE`,
and, in one line, where a formula gives NaN or infinity although the maths is finite.

>>> from symgrad.formulas import activation_entry
>>> result = sweep(activation_entry("softsign", "z / (1 + abs(z))"), points=201)
>>> result.worst < 1e-13, result.holds
(True, 700.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import mpmath
import numpy as np
import sympy as sp

from ..catalogue import Activation
from ..compile import activation_kernel

__all__ = ["Accuracy", "sweep", "grid", "reference", "TOLERANCE", "LIMIT", "FLOOR"]

#: The relative error an accurate formula keeps.
TOLERANCE = 1e-10
#: The sweep covers |z| <= LIMIT.
LIMIT = 700.0
#: Values smaller than this in magnitude (where float64 loses digits as subnormals) are
#: compared absolutely: the error is divided by FLOOR.
FLOOR = 1e-300
_DIGITS = 50


@dataclass(frozen=True)
class Accuracy:
    """The result of a sweep: ``worst`` relative error (value or slope) at ``at``,
    ``holds`` the largest R such that |z| <= R keeps :data:`TOLERANCE`, and ``nonfinite``
    the first z where the compiled code gave NaN or infinity (``None`` if nowhere)."""

    worst: float
    at: float
    holds: float
    nonfinite: float | None = None

    def line(self) -> str:
        """The sweep in one line, as reports and ``symgrad activations`` print it."""
        if self.nonfinite is not None:
            return (f"cannot be made accurate: NaN or infinity at z = {self.nonfinite:g} "
                    f"(accurate to {TOLERANCE:g} for |z| <= {self.holds:g})")
        if self.holds >= LIMIT:
            return f"worst relative error {self.worst:.1e} over |z| <= {LIMIT:g} (mpmath, 50 digits)"
        return (f"cannot be made accurate everywhere: worst relative error {self.worst:.1e} at "
                f"z = {self.at:g}; within {TOLERANCE:g} for |z| <= {self.holds:g}")


def grid(points: int = 401, limit: float = LIMIT) -> np.ndarray:
    """Evenly spaced points on [-limit, limit] and log-spaced ones near 0, sorted."""
    near = np.geomspace(1e-8, 10.0, points // 4)
    return np.unique(np.concatenate([np.linspace(-limit, limit, points), near, -near]))


def _elementary(expr: sp.Expr) -> sp.Expr:
    for _ in range(4):  # catalogue functions inside a formula, rewritten level by level
        expr = expr.rewrite(sp.exp)
    return expr.replace(sp.Heaviside, lambda x, h=sp.S.Half: sp.Piecewise(
        (1, x > 0), (h, sp.Eq(x, 0)), (0, True)))


def reference(entry: Activation, params: Mapping[str, float] | None = None
              ) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """mpmath functions of z for the entry's value and slope (at the working precision)."""
    z = sp.Symbol("z", real=True)
    f = entry(z, **(params or {}))
    return (sp.lambdify(z, _elementary(f), modules="mpmath"),
            sp.lambdify(z, _elementary(f.diff(z)), modules="mpmath"))


def _real(value: Any) -> mpmath.mpf:
    """A real result; a power rewritten as ``exp(log(...)/2)`` may carry a rounding-sized
    imaginary part (1e-692 next to 1 in z/sqrt(1 + z^2))."""
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > abs(value.real) * mpmath.mpf(10) ** -_DIGITS:
            raise ValueError(f"the formula is complex here: {value}")
        return value.real
    return mpmath.mpf(value)


def _exact(function: Callable[[Any], Any], x: float) -> mpmath.mpf:
    """``function(x)`` to 50 digits: the precision doubles until two results agree. It
    starts high enough for ``exp(x)^2`` next to 1 (``1 - tanh(x)^2``), where two low
    precisions would agree on a cancelled 0."""
    dps, previous = 60 + int(0.9 * abs(x)), None
    while dps <= 2000:  # a 0 is trusted there: the true value is below 10^-1900
        with mpmath.workdps(dps):
            value = _real(function(mpmath.mpf(x)))
        if previous is not None and value != 0 and \
                abs(value - previous) <= abs(value) * mpmath.mpf(10) ** -_DIGITS:
            return value
        previous, dps = value, dps * 2
    return value


def _errors(got: np.ndarray, function: Callable[[Any], Any], zs: np.ndarray) -> np.ndarray:
    out = np.empty(len(zs))
    for i, (x, g) in enumerate(zip(zs, got)):
        r = _exact(function, float(x))
        out[i] = np.inf if not np.isfinite(g) else \
            float(abs(mpmath.mpf(float(g)) - r) / max(abs(r), mpmath.mpf(FLOOR)))
    return out


def sweep(entry: Activation, params: Mapping[str, float] | None = None, *,
          points: int = 401, limit: float = LIMIT) -> Accuracy:
    """Compare the compiled value and slope of ``entry`` with mpmath over |z| <= limit."""
    zs = grid(points, limit)
    kernel = activation_kernel(entry, **(params or {}))
    with np.errstate(all="ignore"):  # a NaN is counted below, not warned about
        value, slope = (np.asarray(v, dtype=float) for v in kernel(zs))
    f, df = reference(entry, params)
    err = np.maximum(_errors(value, f, zs), _errors(slope, df, zs))
    worst = int(np.argmax(err))
    bad = np.abs(zs[err > TOLERANCE])
    holds = float(bad.min()) if bad.size else limit
    within = np.abs(zs)[np.abs(zs) < holds]
    nonfinite = zs[~(np.isfinite(value) & np.isfinite(slope))]
    return Accuracy(float(err[worst]), float(zs[worst]),
                    float(within.max()) if bad.size and within.size else (limit if not bad.size else 0.0),
                    float(nonfinite[0]) if nonfinite.size else None)
