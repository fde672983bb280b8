"""How a report lays out math and numbers: numbers to a few digits, products and sums
broken into display lines of a budgeted width."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp
from sympy import Expr

from ..network import Network
from ..printing import factor_latexes, latex, natural_key

__all__ = ["number", "Row", "product_rows", "sum_rows", "chain_rows", "continued",
           "with_left", "short_sum", "values_text", "LINE_BUDGET", "SUM_TERMS"]

#: Visible characters of math per display line before a product is broken.
LINE_BUDGET = 58
#: A sum with more terms is shown by its first terms, a ``\cdots`` and its last term.
SUM_TERMS = 6


# -- numbers ------------------------------------------------------------------------------


def number(x: float, digits: int = 6) -> str:
    """A number as LaTeX: ``0.0570704``, or ``-9.70720 \\times 10^{-7}`` when tiny or huge.

    >>> number(0.05707039820105493)
    '0.0570704'
    >>> number(-9.707197599253442e-07)
    '-9.7072 \\\\times 10^{-7}'
    >>> number(-0.0)
    '0'
    """
    if not math.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\text{NaN}")
    if x == 0:
        return "0"  # -0.0 too: a signed zero is no value of its own
    if 1e-4 <= abs(x) < 1e6:
        return f"{x:.{digits}g}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def values_text(v: object) -> str:
    arr = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if arr.size == 1:
        return number(float(arr[0]))
    return r"\left(" + ",\\ ".join(number(float(x)) for x in arr) + r"\right)"


# -- math layout --------------------------------------------------------------------------


def width(tex: str) -> int:
    """Rough width of typeset math in characters (for breaking long lines)."""
    s = re.sub(r"\\(left|right)\b", "", tex)
    s = re.sub(r"\\frac\{\\partial ([^{}]*(?:\{[^{}]*\})*[^{}]*)\}\{\\partial ", r"d\1/", s)
    s = re.sub(r"\\(cdot|quad|qquad)\b", "..", s)
    s = re.sub(r"\\[A-Za-z]+", "x", s)
    s = re.sub(r"\^\{\(\d+\)\}", "", s)  # layer superscripts sit above the subscripts
    s = re.sub(r"[{}_^\\ ]", "", s)
    return len(s)


def factor_parts(expr: Expr, net: Network) -> tuple[str, list[str]]:
    """A product as its sign and the LaTeX of its factors (sums in parentheses)."""
    sign = ""
    if isinstance(expr, sp.Mul) and expr.as_coeff_Mul()[0].is_negative:
        sign, expr = "-", -expr
    parts = expr.as_ordered_factors() if isinstance(expr, sp.Mul) else [expr]
    short = [isinstance(p, sp.Add) and len(p.args) > SUM_TERMS for p in parts]
    if not any(short):
        return sign, factor_latexes(parts, net)
    # a long sum is elided (its first terms, \cdots, its last): shown, not printed whole;
    # the other factors keep their brackets (``\left(1 - a\right)``)
    return sign, [rf"\left({short_sum(p, net)}\right)" if long else shown
                  for p, long, shown in zip(parts, short, factor_latexes(parts, net))]


def _number_only(line: Sequence[str]) -> bool:
    return all(re.fullmatch(r"-?[\d.]+", item.strip()) for item in line)


def chunks(items: Sequence[str], joiner: str, budget: int = LINE_BUDGET) -> list[str]:
    """Join ``items`` with ``joiner`` into lines of about ``budget`` visible characters;
    a number never stands alone on a line.

    >>> chunks(["2", "x" * 70, "y"], " ")
    ['2 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'y']
    """
    lines: list[list[str]] = [[]]
    used = 0
    for item in items:
        w = width(item) + 2
        # a line of a lone number (``= 2``) says nothing: its factor joins it however long
        if lines[-1] and used + w > budget and not _number_only(lines[-1]):
            lines.append([])
            used = 0
        lines[-1].append(item)
        used += w
    return [joiner.join(line) for line in lines]


@dataclass(frozen=True)
class Row:
    """One line of a displayed equation: ``left`` (may be empty) and ``right``, which
    starts with its relation (``=``) or a continuation (``\\cdot``)."""

    left: str
    right: str


def continued(first: str, items: Sequence[str], joiner: str, sign: str = "",
               more: str = r"\cdot") -> list[Row]:
    lines = chunks(items, joiner)
    rows = [Row("", f"{first} {sign}{lines[0]}")]
    rows += [Row("", rf"\quad {more} {line}") for line in lines[1:]]
    return rows


def chain_rows(terms: Sequence[Sequence[str]]) -> list[Row]:
    r"""``= a \cdot b``, or for several terms (a tied parameter, an ``a`` feeding several
    units) ``= a \cdot b + c \cdot d``, broken into lines between terms."""
    if len(terms) == 1:
        return continued("=", terms[0], r" \cdot ")
    return continued("=", [r" \cdot ".join(term) for term in terms], " + ", more="+")


def product_rows(first: str, expr: Expr, net: Network) -> list[Row]:
    """``= expr``, a product printed factor by factor (a sum factor reads ``a_2 - T``
    rather than ``- T + a_2``) and broken into lines at its factors when long."""
    sign, parts = factor_parts(expr, net)
    if len(parts) == 1:
        return [Row("", f"{first} {latex(expr, net)}")]
    return continued(first, parts, " ", sign)


def sum_rows(first: str, expr: Expr, net: Network) -> list[Row]:
    """``= expr``: a long sum broken into lines between its terms, a product as in
    :func:`product_rows`."""
    if not isinstance(expr, sp.Add) or width(latex(expr, net)) <= LINE_BUDGET:
        return product_rows(first, expr, net)
    terms = [latex(t, net) for t in expr.as_ordered_terms()]
    rows = continued(first, terms, " + ", more="+")
    return [Row(r.left, r.right.replace("+ -", "- ")) for r in rows]


def with_left(rows: list[Row], left: str) -> list[Row]:
    return [Row(left, rows[0].right)] + rows[1:]


def short_sum(expr: Expr, net: Network) -> str:
    """LaTeX of ``expr``; a long sum shows its first terms, ``\\cdots`` and its last."""
    if isinstance(expr, sp.Mul) and any(isinstance(a, sp.Add) and len(a.args) > SUM_TERMS
                                        for a in expr.args):
        sign, parts = factor_parts(expr, net)
        return sign + " ".join(parts)
    if not isinstance(expr, sp.Add) or len(expr.args) <= SUM_TERMS:
        return latex(expr, net)
    terms = sorted(expr.args, key=lambda t: natural_key(str(t)))
    for first in (3, 2, 1):  # as many leading terms as fit on a line
        shown = [latex(t, net) for t in terms[:first]] + [r"\cdots", latex(terms[-1], net)]
        text = " + ".join(shown).replace("+ -", "-")
        if width(text) <= LINE_BUDGET:
            break
    return text
