"""The result of an accuracy sweep and its one line, without the sweep's imports.

:mod:`.accuracy` sweeps an activation's compiled code against mpmath (seconds: mpmath at
hundreds of digits; GELU's took 18 s); this module holds what the sweep returns and how
it is said, and the measured results of the built-in activations, which
``python -m symgrad.analysis.accuracy`` writes into :mod:`.accuracy_data` (never typed by
hand). ``symgrad activations`` prints those lines with nothing imported but this module
and the data (no NumPy, no mpmath).

>>> builtin("sigmoid").line().startswith("worst relative error ")
True
>>> builtin("softmax") is None  # not elementwise: not swept
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .accuracy_data import BUILTIN, SWEPT

__all__ = ["Accuracy", "builtin", "TOLERANCE", "LIMIT", "FLOOR", "POINTS"]

#: The relative error an accurate formula keeps.
TOLERANCE = 1e-10
#: The sweep covers |z| <= LIMIT.
LIMIT = 700.0
#: Values smaller than this in magnitude (where float64 loses digits as subnormals) are
#: compared absolutely: the error is divided by FLOOR.
FLOOR = 1e-300
#: Evenly spaced points of a sweep (log-spaced ones near 0 come on top).
POINTS = 401


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
        """The sweep in one line, as reports and ``symgrad activations`` print it.

        >>> Accuracy(3.94e-16, 12.5, 700.0).line()
        'worst relative error 3.9e-16 over |z| <= 700 (mpmath, 50 digits)'
        """
        if self.nonfinite is not None:
            return (f"cannot be made accurate: NaN or infinity at z = {self.nonfinite:g} "
                    f"(accurate to {TOLERANCE:g} for |z| <= {self.holds:g})")
        if self.holds >= LIMIT:
            return f"worst relative error {self.worst:.1e} over |z| <= {LIMIT:g} (mpmath, 50 digits)"
        return (f"cannot be made accurate everywhere: worst relative error {self.worst:.1e} at "
                f"z = {self.at:g}; within {TOLERANCE:g} for |z| <= {self.holds:g}")


def builtin(name: str) -> Accuracy | None:
    """The recorded sweep of built-in activation ``name`` at its default parameters, made
    with :data:`POINTS` points over |z| <= :data:`LIMIT`; ``None`` for one not swept
    (softmax) or when the recorded sweep was made with other settings."""
    found = BUILTIN.get(name)
    if found is None or SWEPT != {"points": POINTS, "limit": LIMIT}:
        return None
    return Accuracy(**found)
