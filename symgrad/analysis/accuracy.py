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

import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import mpmath
import numpy as np
import sympy as sp

from ..catalogue import ACTIVATIONS, Activation
from ..compile import activation_kernel, mpmath_function
from ..files import write_atomic
from .accuracy_line import FLOOR, LIMIT, POINTS, TOLERANCE, Accuracy, builtin

__all__ = ["Accuracy", "sweep", "accuracy_line", "grid", "reference", "builtin_sweeps",
           "data_module", "TOLERANCE", "LIMIT", "FLOOR"]

_DIGITS = 50


def grid(points: int = POINTS, limit: float = LIMIT) -> np.ndarray:
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
    return mpmath_function(z, _elementary(f)), mpmath_function(z, _elementary(f.diff(z)))


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
          points: int = POINTS, limit: float = LIMIT) -> Accuracy:
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


def accuracy_line(entry: Activation, params: Mapping[str, float] | None = None) -> str | None:
    """The accuracy line of ``entry`` with ``params``: a built-in's recorded sweep at its
    default parameters (:func:`.accuracy_line.builtin`), else a fresh :func:`sweep`;
    ``None`` for an activation that is not elementwise.

    >>> accuracy_line(ACTIVATIONS["relu"])
    'worst relative error 0.0e+00 over |z| <= 700 (mpmath, 50 digits)'
    """
    if not entry.elementwise:
        return None
    values = {**entry.params, **(params or {})}
    recorded = builtin(entry.name) if ACTIVATIONS.get(entry.name) is entry and \
        values == entry.params else None
    return (recorded or sweep(entry, values)).line()


def builtin_sweeps() -> dict[str, Accuracy]:
    """A fresh sweep of every elementwise built-in activation at its default parameters."""
    return {name: sweep(act, act.params) for name, act in ACTIVATIONS.items()
            if act.elementwise}


def data_module(results: Mapping[str, Accuracy]) -> str:
    """The text of :mod:`.accuracy_data` recording ``results`` (floats by ``repr``, exact).

    >>> print(data_module({"relu": Accuracy(0.0, -700.0, 700.0)}).splitlines()[-2])
        "relu": {"worst": 0.0, "at": -700.0, "holds": 700.0, "nonfinite": None},
    """
    rows = [f'    "{name}": {{"worst": {r.worst!r}, "at": {r.at!r}, "holds": {r.holds!r}, '
            f'"nonfinite": {r.nonfinite!r}}},' for name, r in results.items()]
    return "\n".join([
        '"""The measured accuracy of the built-in activations: written by',
        "``python -m symgrad.analysis.accuracy`` (:func:`~symgrad.analysis.accuracy."
        "builtin_sweeps`);",
        "do not edit. tests/test_accuracy_lines.py sweeps again and compares.\"\"\"", "",
        "from __future__ import annotations", "",
        "from typing import Any", "",
        f"SWEPT: dict[str, Any] = {{\"points\": {POINTS!r}, \"limit\": {LIMIT!r}}}",
        "BUILTIN: dict[str, dict[str, Any]] = {", *rows, "}", ""])


def main() -> int:
    """Sweep the built-in activations and write :mod:`.accuracy_data`."""
    target = Path(__file__).with_name("accuracy_data.py")
    write_atomic(target, data_module(builtin_sweeps()), what="the accuracy table")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
