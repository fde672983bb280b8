"""The live preview of a typed expression: read by symgrad's parser (as text, else as
LaTeX: :func:`symgrad.check.parse.parse_typed`, as grading reads it), printed by symgrad's LaTeX printer in the network's
names and converted to MathML. What reaches the page is symgrad's printing of the parsed
expression, never the student's text.

>>> from symgrad.network import load
>>> net = load("derivations/two_neuron.toml")
>>> shown = preview("(a2 - T) a2 (1 - a2) a1", net)
>>> shown.error, shown.mathml.startswith("<math")
('', True)
>>> preview("a2 +", net).error
"cannot read the expression: unexpected end of input at column 5 (expected a number, a symbol, a function or '(')"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..check.parse import parse_typed
from ..errors import ParseError
from ..printing import latex
from ..report.escape import mathml

if TYPE_CHECKING:
    from ..network import Network

__all__ = ["Preview", "preview"]


@dataclass(frozen=True)
class Preview:
    """The MathML of a typed expression, or the reason it cannot be read."""

    mathml: str
    error: str


def preview(text: str, network: "Network") -> Preview:
    """How the page shows ``text`` as the student types it."""
    if not text.strip():
        return Preview("", "")
    try:
        expr = parse_typed(text, network.symbols)
    except ParseError as exc:
        return Preview("", f"cannot read the expression: {exc}")
    return Preview(str(mathml(latex(expr, network))), "")
