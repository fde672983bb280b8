"""What a check says: the verdicts, the kinds of mistake, the result record, and numbers
written with the digits that tell them apart."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from sympy import Expr

from ..printing import html_table, text

__all__ = ["VERDICTS", "MISTAKES", "CheckResult", "undecided", "number", "distinct"]

#: ``"equal"`` is proved; ``"numerically equal"`` and ``"equal almost everywhere"`` (where
#: a non-smooth function is involved) agree at every point compared, without a proof.
VERDICTS = ("equal", "numerically equal", "equal almost everywhere", "not equal",
            "undecided")


#: Mistake kinds a diagnosis can name.
MISTAKES = ("sign", "constant_factor", "layer_index", "unit_index", "missing_factor",
            "extra_factor", "activation_derivative", "transposed_weights", "missing_path")


@dataclass
class CheckResult:
    """The outcome of checking one hand-derived gradient.

    Attributes
    ----------
    wrt : the parameter (``"w2"``).
    verdict : one of :data:`VERDICTS`.
    summary : the verdict with what it rests on, when that is numbers
        (``"numerically equal at 33 points within 1e-7"``); else the verdict.
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
    summary: str = ""

    def __post_init__(self) -> None:
        self.summary = self.summary or self.verdict

    @property
    def ok(self) -> bool:
        """True for ``"equal"``, ``"numerically equal"`` and ``"equal almost everywhere"``."""
        return self.verdict in VERDICTS[:3]

    @property
    def as_expected(self) -> bool:
        """The row's outcome is what its ``expect`` says (``"equal"``, ``"wrong"`` or a
        mistake kind); without an ``expect``, that it is right. ``symgrad check`` and
        ``symgrad report --check`` exit 0 exactly when every row is as expected."""
        if self.expected is None:
            return self.ok
        found = self.kind or ("equal" if self.ok else self.verdict)
        return self.expected == found or (self.expected == "wrong" and not self.ok)

    def _repr_html_(self) -> str:
        """A notebook's display: the verdict with what it rests on, the diagnosis, both
        gradients, and the counterexample where there is one."""
        rows = [("gradient", f"d/d{self.wrt}"), ("verdict", self.summary),
                ("diagnosis", self.diagnosis)]
        rows += [(label, text(e)) for label, e in (("yours", self.yours),
                                                   ("symgrad's", self.symbolic)) if e is not None]
        if self.counterexample:
            point = ", ".join(f"{k} = {v:.6g}" for k, v in self.counterexample.items())
            rows.append(("differs at", point))
        return html_table("check", rows)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: expressions as text and LaTeX."""
        return {
            "wrt": self.wrt, "verdict": self.verdict, "summary": self.summary,
            "kind": self.kind,
            "diagnosis": self.diagnosis, "diagnosis_latex": self.diagnosis_latex,
            "counterexample": self.counterexample, "yours_value": self.yours_value,
            "symbolic_value": self.symbolic_value,
            "yours": None if self.yours is None else text(self.yours),
            "symbolic": None if self.symbolic is None else text(self.symbolic),
            "method": self.method, "note": self.note, "expected": self.expected,
            "as_expected": self.as_expected, "line": self.line,
        }


def undecided(base: dict[str, Any], reason: str) -> CheckResult:
    """The verdict when numbers cannot decide, with the reason."""
    return CheckResult(verdict="undecided", diagnosis=f"Undecided: {reason}.",
                       diagnosis_latex=f"Undecided: {reason}.", method="numeric", **base)


def number(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits, the exponent without padding.

    >>> number(1.0000001e-7), number(-2.5e-12), number(1234.5), number(0.25)
    ('1e-7', '-2.5e-12', '1.23e+3', '0.25')
    """
    return re.sub(r"e([-+])0*(\d)", r"e\1\2", f"{x:.{digits}g}")


def distinct(values: Sequence[float], least: int = 4) -> list[str]:
    """``values`` with the fewest significant digits (``least`` to 17) at which those that
    differ by more than 1e-13 relative print differently and none that differs from 1
    prints as ``1``, and one digit more when ``least`` was not enough (so the difference
    shows to two digits): four digits made "varies from 1 to 1" of ratios 1 + 1e-9 apart.

    >>> distinct([1.0000000005, 1.00000001])
    ['1.0000000005', '1.00000001']
    >>> distinct([0.5, 2.0]), distinct([1.000000000001, 1.000000000001])
    (['0.5', '2'], ['1.000000000001', '1.000000000001'])
    """
    def apart(a: float, b: float) -> bool:
        return abs(a - b) > 1e-13 * max(abs(a), abs(b))

    def told_apart(digits: int) -> bool:
        shown = [number(v, digits) for v in values]
        return all(s != "1" for v, s in zip(values, shown) if apart(v, 1.0)) and all(
            shown[i] != shown[j] for i, a in enumerate(values)
            for j, b in enumerate(values) if apart(a, b))

    digits = next((d for d in range(least, 17) if told_apart(d)), 16)
    return [number(v, digits + (digits > least)) for v in values]
