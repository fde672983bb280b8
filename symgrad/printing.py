r"""Printing in one place: LaTeX through SymPy's ``latex`` (with the network's symbol
names), and plain or Unicode text for terminals. Everything here parses back through
:mod:`symgrad.check.parse` to the expression printed (``tests/test_roundtrip.py``).

Sums print the way people write them: products before single symbols before numbers,
names in natural order (``T2`` before ``T10``), then the first positive term moved to the
front, so ``a2 - T`` and ``a2 - z`` print alike whatever the names. The loss's derivative
can print as the textbook has it, ``-(T - a2)``. A chain of factors prints through the
same printers, each factor in brackets where its precedence is below a product's.

>>> from sympy import symbols
>>> T, a2, z, a1, w1, x1, b1 = symbols("T a2 z a1 w1 x1 b1")
>>> text(a2 - T, negated=True), text(a2 - z, negated=True)
('-(T - a2)', '-(z - a2)')
>>> text(a2 - T), text(b1 + w1*x1)
('a2 - T', 'w1*x1 + b1')
>>> product_text([a2 - z, a2 * (1 - a2), a1])
'(a2 - z) · a2*(1 - a2) · a1'
>>> print(latex(2 * a2 * (1 - a2) * (a2 - T)))
2 a_{2} \left(1 - a_{2}\right) \left(a_{2} - T\right)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

import sympy as sp
from sympy import Expr, Symbol
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter
from sympy import MatAdd, MatMul, MatrixExpr
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .catalogue import get_activation
from .errors import UnknownNameError

if TYPE_CHECKING:
    from .derive import Factor
    from .network import Network

__all__ = ["latex", "text", "negated", "partial_latex", "partial_text", "product_text",
           "product_latex", "factor_latexes", "chain_factors", "natural_key", "NOISE",
           "settled", "range_parts", "range_text", "base_name", "aligned_display",
           "html_table", "formula_text", "tidy"]


def _names(network: "Network | None") -> dict[Symbol, str]:
    return dict(network.latex_names) if network is not None else {}


def natural_key(s: str) -> list[tuple[int, int | str]]:
    """Sort key comparing the digit runs of ``s`` as numbers: ``T2`` before ``T10``."""
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", s) if t]


def _is_negative(term: Expr) -> bool:
    """Whether a sum's term carries a minus sign (its numeric coefficient is negative),
    decided by the term alone, never by where SymPy sorted its symbols."""
    return bool(term.as_coeff_Mul()[0].is_negative)


def _term_key(term: Expr) -> tuple[int, list[tuple[int, int | str]]]:
    """Products of more factors first (``w1*x1`` before the bias ``b1``), numbers last;
    among equals the natural order of the unsigned term as printed."""
    rest = term.as_coeff_Mul()[1]
    size = 0 if rest == 1 else len(sp.Mul.make_args(rest))
    return -size, natural_key(StrPrinter().doprint(rest))


def _ordered(terms: Sequence[Expr]) -> list[Expr]:
    """A sum's terms in :func:`_term_key` order, the first positive term moved first
    (``-T + a2`` becomes ``a2 - T``)."""
    terms = sorted(terms, key=_term_key)
    for i, term in enumerate(terms):
        if not _is_negative(term):
            return [term] + terms[:i] + terms[i + 1:]
    return terms


class Negation(sp.Expr):
    """``-(arg)`` kept unevaluated for printing: ``-(T - a2)``."""

    precedence = PRECEDENCE["Add"]

    @property
    def arg(self) -> Expr:
        return self.args[0]


def negated(expr: Expr) -> Expr:
    """``expr`` as the negation of a difference when it is a sum with at least as many
    negative terms as positive ones (``a2 - T`` becomes ``-(T - a2)``), else ``expr``.
    The sign pattern decides, never the names; equal to ``expr`` as an expression."""
    if not isinstance(expr, sp.Add):
        return expr
    negative = sum(_is_negative(t) for t in expr.args)
    if negative and 2 * negative >= len(expr.args):
        return Negation(-expr)
    return expr


class _FactorsMixin:
    """What both printers share: sums in natural order, negations, products of factors."""

    def _as_ordered_terms(self, expr: Expr, order: Any = None) -> list[Expr]:
        return _ordered(expr.args) if isinstance(expr, sp.Add) else \
            super()._as_ordered_terms(expr, order=order)  # type: ignore[misc]

    def _print_Negation(self, expr: Negation) -> str:
        return "-" + self.parenthesize(expr.arg, PRECEDENCE["Mul"], strict=True)  # type: ignore[attr-defined]

    def factors(self, factors: Sequence[Expr]) -> list[str]:
        """Each factor of a product of factors, in brackets where its precedence, as
        printed, is lower than a product's; a leading sign stays unbracketed on the first
        factor only."""
        out = []
        for i, factor in enumerate(factors):
            f = self._shown(factor)
            low = precedence(f) < PRECEDENCE["Mul"] or _is_negative(f)
            body: str = self._print(f)  # type: ignore[attr-defined]
            out.append(self._add_parens(body) if isinstance(f, sp.Add) or (i and low)
                       else body)
        return out

    def _shown(self, expr: Expr) -> Expr:
        """The expression this printer prints for ``expr`` (itself, unless rewritten)."""
        return expr

    def _add_parens(self, s: str) -> str:
        raise NotImplementedError


class _LatexPrinter(_FactorsMixin, LatexPrinter):
    """SymPy's LaTeX printer with natural sums: ``a_{2} - T``."""

    def _add_parens(self, s: str) -> str:
        return r"\left(" + s + r"\right)"


def _as_steps(expr: sp.Piecewise) -> Expr | None:
    """``Piecewise((A, u > 0), (B, True))`` as ``A*Heaviside(u, 0) + B*(1 - Heaviside(u, 0))``
    (equal everywhere, ``u = 0`` included), or ``None`` for other shapes."""
    if len(expr.args) != 2 or expr.args[1].cond is not sp.true:
        return None
    (a, cond), (b, _) = expr.args
    if not isinstance(cond, (sp.StrictGreaterThan, sp.StrictLessThan)):
        return None
    u = cond.lhs - cond.rhs if isinstance(cond, sp.StrictGreaterThan) else cond.rhs - cond.lhs
    step = sp.Heaviside(u, 0)  # |a - T| < delta (a formula's where) is delta - |a - T| > 0
    return a * step + b * (1 - step)


class _StrPrinter(_FactorsMixin, StrPrinter):
    """SymPy's string printer with natural sums (``a2 - T``), and a two-piece function as
    steps, which reads back as text (``Heaviside(z, 0)*z`` for ReLU's definition)."""

    def _add_parens(self, s: str) -> str:
        return "(" + s + ")"

    def _shown(self, expr: Expr) -> Expr:
        steps = _as_steps(expr) if isinstance(expr, sp.Piecewise) else None
        return expr if steps is None else steps

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        shown = self._shown(expr)
        return self._print_Basic(expr) if shown is expr else self._print(shown)

    def _print_Max(self, expr: Expr) -> str:  # as the parser reads it: max(u, v)
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr: Expr) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Heaviside(self, expr: Expr) -> str:  # H(0) always shown: the parser's is 0
        return f"Heaviside({self._print(expr.args[0])}, {self._print(expr.args[1])})"



class _CasesMixin:
    """Text in a spec formula's own language: a two-piece function as ``where(u, x, y)``
    (the cases x where u > 0, else y), ``abs(u)`` and ``sign(u)``, as a spec is written."""

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        (x, cond), (y, last) = expr.args if len(expr.args) == 2 else ((None, None), (None, None))
        if last is not sp.true or not isinstance(cond, (sp.StrictGreaterThan, sp.StrictLessThan)):
            return self._print_Basic(expr)  # type: ignore[attr-defined]
        u = cond.lhs - cond.rhs if isinstance(cond, sp.StrictGreaterThan) else cond.rhs - cond.lhs
        p = self._print  # type: ignore[attr-defined]
        return f"where({p(u)}, {p(x)}, {p(y)})"

    def _print_Abs(self, expr: Expr) -> str:
        return f"abs({self._print(expr.args[0])})"  # type: ignore[attr-defined]

    def _print_sign(self, expr: Expr) -> str:
        return f"sign({self._print(expr.args[0])})"  # type: ignore[attr-defined]


class _CasesPrinter(_CasesMixin, _StrPrinter):
    """:class:`_StrPrinter` with the cases of :class:`_CasesMixin`."""

    def _shown(self, expr: Expr) -> Expr:
        return expr


def tidy(expr: Expr) -> Expr:
    """``expr`` with the rewrites of a formula loss undone for display, equal everywhere:
    ``max(u, -u)`` (how a loss's ``|u|`` is derived) as ``|u|``, and
    ``H(u, h) - H(-u, h)`` (its derivative) as ``sign(u)``.

    >>> u = Symbol("u", real=True)
    >>> tidy(sp.Max(u, -u) + sp.Heaviside(2*u, sp.S.Half) - sp.Heaviside(-2*u, sp.S.Half))
    Abs(u) + sign(u)
    """
    expr = expr.replace(lambda e: isinstance(e, sp.Max) and len(e.args) == 2
                        and sp.expand(e.args[0] + e.args[1]) == 0,
                        lambda e: sp.Abs(e.args[0]))
    for step in sorted(expr.atoms(sp.Heaviside), key=str):
        u, *h = step.args
        coeff, rest = sp.factor_terms(u).as_coeff_Mul()
        rest = rest if coeff > 0 else u  # sign(2 u) is sign(u)
        tried = [expr.subs(sp.Heaviside(v, *h) - sp.Heaviside(-v, *h), sp.sign(w))
                 for v, w in ((u, rest), (-u, -rest))]  # sign(a - y) rather than -sign(y - a)
        expr = min(tried, key=lambda e: (sp.count_ops(e), str(e)))
    return expr


def formula_text(expr: Expr) -> str:
    """A formula entry's expression as a spec would write it (see :class:`_CasesPrinter`).

    >>> z = Symbol("z", real=True)
    >>> formula_text(sp.Piecewise((z, z > 0), (sp.exp(z) - 1, True)) / (1 + abs(z)))
    'where(z, z, exp(z) - 1)/(abs(z) + 1)'
    """
    return _CasesPrinter().doprint(expr)


def chain_factors(chain: "Sequence[Factor]") -> list[Expr]:
    """The expressions of a chain's factors as a chain line shows them: the loss's
    derivative as the textbook has it (``-(T - a2)``, see :func:`negated`)."""
    return [negated(f.expression) if f.kind == "loss" else f.expression for f in chain]


def _latex_printer(network: "Network | None", settings: dict[str, Any]) -> _LatexPrinter:
    return _LatexPrinter({"symbol_names": _names(network), **settings})


def latex(expr: Expr, network: "Network | None" = None, *, negated: bool = False,
          **settings: Any) -> str:
    """LaTeX of ``expr`` with the network's symbol names (``w^{(2)}_{1,3}``).

    Sums print positive terms first (``a_{2} - T``); with ``negated=True`` a sum with as
    many negative terms as positive ones prints as the negation of a difference
    (``-\\left(T - a_{2}\\right)``, see :func:`negated`).
    """
    shown = _negation(expr) if negated else expr
    return _latex_printer(network, settings).doprint(shown)


def _negation(expr: Expr) -> Expr:
    return negated(expr)


def text(expr: Expr, *, negated: bool = False) -> str:
    """One-line plain text of ``expr``, as Python would read it (see :func:`latex`)."""
    return _StrPrinter().doprint(_negation(expr) if negated else expr)


def product_text(factors: Sequence[Expr], unicode: bool = True) -> str:
    """A product of factors as a chain line: ``(a2 - z) · a2*(1 - a2) · a1`` (with
    ``unicode=False``: ``(a2 - z) * a2*(1 - a2) * a1``)."""
    return (" · " if unicode else " * ").join(_StrPrinter().factors(factors))


def factor_latexes(factors: Sequence[Expr], network: "Network | None" = None,
                   **settings: Any) -> list[str]:
    """The LaTeX of each factor of a product, bracketed as in :func:`product_latex` (for
    layouts that break a long product into lines between factors)."""
    return _latex_printer(network, settings).factors(factors)


def product_latex(factors: Sequence[Expr], network: "Network | None" = None,
                  **settings: Any) -> str:
    r"""A product of factors joined by ``\cdot``, each bracketed where needed."""
    return r" \cdot ".join(factor_latexes(factors, network, **settings))


def partial_latex(numerator: Expr, denominator: Expr, network: "Network | None" = None) -> str:
    r"""``\frac{\partial E}{\partial w_{2}}``."""
    return (rf"\frac{{\partial {latex(numerator, network)}}}"
            rf"{{\partial {latex(denominator, network)}}}")


def base_name(symbol: Symbol) -> str:
    """The name of ``symbol`` without its layer and unit numbers: the role's name as the
    spec chose it (``z`` for ``z2_1``, ``net`` for ``net1``, ``y`` for ``y``).

    >>> base_name(Symbol("z2_1")), base_name(Symbol("net1")), base_name(Symbol("y"))
    ('z', 'net', 'y')
    """
    return re.sub(r"\d+(_\d+)*$", "", str(symbol)) or str(symbol)


def aligned_display(lines: Sequence[str]) -> str:
    r"""Lines ``lhs &= rhs`` as one notebook display, every side in display style (full-size
    fractions, as in a displayed equation, where inline math would shrink them).

    >>> print(aligned_display([r"\frac{a}{b} &= c", "d &= e"]))
    $\displaystyle \begin{aligned}\displaystyle \frac{a}{b} &= \displaystyle c \\ \displaystyle d &= \displaystyle e\end{aligned}$
    """
    rows = [r"\displaystyle " + line.replace("&= ", r"&= \displaystyle ", 1) for line in lines]
    return r"$\displaystyle \begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$"


def html_table(name: str, rows: Sequence[tuple[str, str]]) -> str:
    """A notebook's display of an object: a two-column table of ``(label, value)`` text,
    escaped, in a ``div`` of class ``symgrad-NAME``.

    >>> print(html_table("check", [("verdict", "not equal"), ("yours", "a < b")]))
    <div class="symgrad-check"><table>
    <tr><th style="text-align:left">verdict</th><td>not equal</td></tr>
    <tr><th style="text-align:left">yours</th><td>a &lt; b</td></tr>
    </table></div>
    """
    from html import escape

    body = "\n".join(f'<tr><th style="text-align:left">{escape(label)}</th>'
                     f"<td>{escape(value)}</td></tr>" for label, value in rows)
    return f'<div class="symgrad-{escape(name)}"><table>\n{body}\n</table></div>'


def partial_text(numerator: Expr, denominator: Expr, unicode: bool = True) -> str:
    """``∂E/∂w2`` (or ``dE/dw2`` without Unicode)."""
    d = "∂" if unicode else "d"
    return f"{d}{numerator}/{d}{denominator}"


# -- numbers and ranges -------------------------------------------------------------------

#: A result smaller than this fraction of the largest term it was computed from is float64
#: rounding noise (a few units in the last place of the terms) and prints as 0.
NOISE = 1e-12


def settled(value: float, *terms: float) -> float:
    """``value``, or ``0.0`` where it is a signed zero or rounding noise: smaller than
    :data:`NOISE` times the largest of the ``terms`` it was computed from.

    >>> settled(0.5 - 0.5 * (1 - 2.220446049250313e-16) - 0.0, 0.5, 0.5)
    0.0
    >>> settled(-0.0), settled(0.1 - 0.05, 0.1, 0.05)
    (0.0, 0.05)
    """
    if value == 0 or abs(value) < NOISE * max(map(abs, terms), default=0.0):
        return 0.0
    return value


def range_parts(shown: str) -> tuple[str, str]:
    r"""A catalogue range as its interval (LaTeX math) and the words after it, if any.

    >>> range_parts("(0, 1), components sum to 1")
    ('(0, 1)', 'components sum to 1')
    >>> range_parts(r"[0, \infty)")
    ('[0, \\infty)', '')
    """
    match = re.fullmatch(r"(\\?[(\[{].*?[)\]}])(?:,\s*(.*))?", shown)
    if match is None:
        return shown, ""
    return match.group(1), match.group(2) or ""


def range_text(shown: str) -> str:
    r"""A catalogue range for a terminal: ``[0, ∞)``, ``(-α, ∞)``.

    >>> range_text(r"(-\alpha, \infty)"), range_text(r"\{0, 1\}")
    ('(-α, ∞)', '{0, 1}')
    """
    for name, glyph in ((r"\infty", "∞"), (r"\alpha", "α")):
        shown = shown.replace(name, glyph)
    return shown.replace("\\", "")


# -- the matrix level ------------------------------------------------------------------------

_Elementwise = ElementwiseApplyFunction


def _display(name: str, style: str) -> str:
    """How an activation name prints: ``sigma`` as a Greek letter, a ``_prime`` suffix as '."""
    base = name.removesuffix("_prime")
    prime = "'" if name.endswith("_prime") else ""
    try:
        entry = get_activation(base)
    except UnknownNameError:  # a spec's formula entry: shown by its name
        shown = rf"\operatorname{{{base}}}" if style == "latex" else base
    else:
        shown = {"unicode": entry.text or base, "ascii": entry.ascii or base,
                 "latex": entry.latex}[style]
    return shown + prime


def _wrap(printer: Any, arg: Any) -> str:
    """Parenthesize a matrix product or sum inside a Hadamard product."""
    text = printer._print(arg)
    if isinstance(arg, (MatMul, MatAdd)) or (isinstance(arg, MatrixExpr) and
                                             arg.could_extract_minus_sign()) or (
            isinstance(arg, _Elementwise) and isinstance(arg.function.expr, sp.Add)):
        return f"({text})" if not isinstance(printer, LatexPrinter) else rf"\left({text}\right)"
    return text


class _MatrixTextPrinter(_CasesMixin, StrPrinter):
    """Plain text of matrix expressions: ``W2^T · delta2``, ``a1 ⊙ (1 - a1)``; a formula
    loss's cases as its spec writes them (:class:`_CasesMixin`)."""

    def __init__(self, unicode: bool) -> None:
        super().__init__({"order": "none"})
        self.style = "unicode" if unicode else "ascii"
        self.dot = " · " if unicode else "*"
        self.had = " ⊙ " if unicode else " .* "

    def _print_MatMul(self, expr: Any) -> str:
        c, rest = expr.as_coeff_mmul()
        body = self.dot.join(self.parenthesize(a, PRECEDENCE["Mul"], strict=False)
                             for a in rest.args)
        if c == 1:
            return body
        return f"{self._print(c)}{self.dot}{body}" if c != -1 else f"-{body}"

    def _print_HadamardProduct(self, expr: Any) -> str:
        return self.had.join(_wrap(self, a) for a in expr.args)

    def _print_HadamardPower(self, expr: Any) -> str:
        return f"{self.parenthesize(expr.base, PRECEDENCE['Pow'])}^{self._print(expr.exp)}"

    def _print_Transpose(self, expr: Any) -> str:
        return f"{self.parenthesize(expr.arg, PRECEDENCE['Pow'])}^T"

    def _print_OneMatrix(self, expr: Any) -> str:
        sym = [n for n in expr.shape if not n.is_Integer]
        return f"1_{sym[0]}" if sym else "1"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        return self._print(expr.function.expr.xreplace(
            {expr.function.variables[0]: Symbol(str(expr.expr))}))

    def _print_Function(self, expr: Any) -> str:
        if isinstance(expr.func, sp.core.function.UndefinedFunction):
            inner = ", ".join(self._print(a) for a in expr.args)
            return f"{_display(expr.func.__name__, self.style)}({inner})"
        return super()._print_Function(expr)

    def _print_Sum(self, expr: Any) -> str:
        """``Σ_{n=1..N} Σ_{t=1..T} delta[n, t, a]*h[n, t - 1, c]``: the outer sum first,
        a summand that is a sum in brackets."""
        sigma = "Σ" if self.style == "unicode" else "sum"
        heads = "".join(f"{sigma}_{{{self._print(i)}={self._print(a)}..{self._print(b)}}} "
                        for i, a, b in reversed(expr.limits))
        body = self._print(expr.function)
        return heads + (f"({body})" if expr.function.is_Add else body)

    def parenthesize(self, item: Any, level: int, strict: bool = False) -> str:
        """A sum over an index in brackets inside a product: ``(Σ_{k=1..N} x[k])/N``."""
        if isinstance(item, sp.Sum) and level >= PRECEDENCE["Mul"]:
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_Add(self, expr: Any, order: str | None = None) -> str:
        """Index arithmetic (every symbol an integer) in SymPy's usual order: ``t - 1``,
        ``k - 1``; other sums in the order built, as matrix expressions need."""
        if all(s.is_integer for s in expr.free_symbols):
            order = "lex"
        return super()._print_Add(expr, order=order)


class _MatrixLatexPrinter(LatexPrinter):
    """LaTeX of matrix expressions with ``\\odot`` for the Hadamard product."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})

    def _print_HadamardProduct(self, expr: Any) -> str:
        return r" \odot ".join(_wrap(self, a) for a in expr.args)

    def _print_HadamardPower(self, expr: Any) -> str:
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
        return rf"{base}^{{\odot {self._print(expr.exp)}}}"

    def _print_OneMatrix(self, expr: Any) -> str:
        sym = [n for n in expr.shape if not n.is_Integer]
        return rf"\mathbf{{1}}_{{{self._print(sym[0])}}}" if sym else "1"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        return self._print(expr.function.expr.xreplace(
            {expr.function.variables[0]: Symbol(str(expr.expr))}))

    def _print_Function(self, expr: Any, exp: Any = None) -> str:
        if isinstance(expr.func, sp.core.function.UndefinedFunction):
            inner = ", ".join(self._print(a) for a in expr.args)
            return rf"{_display(expr.func.__name__, 'latex')}\left({inner}\right)"
        return super()._print_Function(expr, exp)


def matrix_text(expr: Expr | MatrixExpr, unicode: bool = True) -> str:
    """A matrix expression in text: ``W2^T·delta2 ⊙ σ'(z1)``."""
    return _MatrixTextPrinter(unicode).doprint(expr)


def matrix_latex(expr: Expr | MatrixExpr) -> str:
    r"""A matrix expression in LaTeX: ``\odot`` for the Hadamard product."""
    return _MatrixLatexPrinter().doprint(expr)
