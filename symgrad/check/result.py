"""What a check says: the verdicts, the kinds of mistake, and the result record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sympy import Expr

from ..printing import text

__all__ = ["VERDICTS", "MISTAKES", "CheckResult", "undecided"]

VERDICTS = ("equal", "equal almost everywhere", "not equal", "undecided")


#: Mistake kinds a diagnosis can name.
MISTAKES = ("sign", "constant_factor", "layer_index", "unit_index", "missing_factor",
            "extra_factor", "activation_derivative")


@dataclass
class CheckResult:
    """The outcome of checking one hand-derived gradient.

    Attributes
    ----------
    wrt : the parameter (``"w2"``).
    verdict : one of :data:`VERDICTS`.
    diagnosis : a sentence saying what was found (why equal, what is wrong, or why undecided).
    diagnosis_latex : the same sentence with LaTeX math (``$...$``).
    kind : the mistake found (one of :data:`MISTAKES`), or ``None``.
    counterexample : for ``"not equal"``: the value of every symbol at a point where the
        two differ (inputs, parameters, targets, then ``z`` and ``a``), else ``None``.
    yours_value, symbolic_value : the two gradients at the counterexample.
    yours : the hand expression as parsed (SymPy).
    symbolic : symgrad's gradient, factored in intermediates.
    method : how the verdict was reached (``"symbolic: expanded in intermediates"``, or
        ``"numeric: 33 points"``).
    note, expected, line : from a hand-derivation file (the entry's note, the mistake the
        entry says it contains or ``"equal"``, its line), else empty.
    """

    wrt: str
    verdict: str
    diagnosis: str
    diagnosis_latex: str
    kind: str | None = None
    counterexample: dict[str, float] | None = None
    yours_value: float | None = None
    symbolic_value: float | None = None
    yours: Expr | None = None
    symbolic: Expr | None = None
    method: str = ""
    note: str = ""
    expected: str | None = None
    line: int | None = None

    @property
    def ok(self) -> bool:
        """True for ``"equal"`` and ``"equal almost everywhere"``."""
        return self.verdict in ("equal", "equal almost everywhere")

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: expressions as text and LaTeX."""
        return {
            "wrt": self.wrt, "verdict": self.verdict, "kind": self.kind,
            "diagnosis": self.diagnosis, "diagnosis_latex": self.diagnosis_latex,
            "counterexample": self.counterexample, "yours_value": self.yours_value,
            "symbolic_value": self.symbolic_value,
            "yours": None if self.yours is None else text(self.yours),
            "symbolic": None if self.symbolic is None else text(self.symbolic),
            "method": self.method, "note": self.note, "expected": self.expected,
            "line": self.line,
        }


def undecided(base: dict[str, Any], reason: str) -> CheckResult:
    """The verdict when numbers cannot decide, with the reason."""
    return CheckResult(verdict="undecided", diagnosis=f"Undecided: {reason}.",
                       diagnosis_latex=f"Undecided: {reason}.", method="numeric", **base)
