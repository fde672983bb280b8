r"""A safe parser for hand-written gradients: plain math text or a LaTeX subset -> SymPy.

Text typed by a user never reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``
(all of them run Python). It goes through the tokenizer of :mod:`.lexer` (a table of
rules per syntax) and a small recursive-descent grammar of our own that builds SymPy
objects through their constructors. Only these names are accepted:

* the symbols of the network (``x1, w1, b1, z1, a1, delta1, T`` or, in wider networks,
  ``w2_1_3, a1_2, T1``), passed in as a table of names;
* the functions of :data:`FUNCTIONS` (``sigma``/``sigmoid``, ``exp``, ``log``/``ln``,
  ``tanh``, ``relu``, ``max``, ``sqrt``, ``erf`` ...), and ``e`` for Euler's number and
  ``pi`` when the network has no symbol of that name.

Limits are checked before anything is built: the length of the text
(:data:`MAX_LENGTH`), the nesting depth of brackets and operators (:data:`MAX_DEPTH`),
the size of a numeric exponent (:data:`MAX_EXPONENT`) and of a number
(:data:`MAX_DIGITS`). Every rejection is a :class:`~symgrad.errors.ParseError` whose
message names the offending text and its column (1-based).

Both syntaxes read numbers as exact rationals, in decimal or scientific notation
(``0.5``, ``.25``, ``1e-9``, ``2.5E+3``; LaTeX also ``2.5\times10^{-3}``). Plain text
accepts ``+ - * /``, ``^`` or ``**``, brackets ``( )`` and ``[ ]``, and implicit
multiplication (``a2(1 - a2)``, ``2x1``). LaTeX accepts ``a_2``, ``a_{2}``,
``w^{(2)}_{1,3}``, ``\delta_2``, ``\sigma(z_2)``, ``\frac{}{}``, ``\sqrt{}``, ``\cdot``,
``\times``, ``\left( \right)``, ``\operatorname{ReLU}``, ``\theta(z)`` for the Heaviside step
(as SymPy prints it), ``\pi`` and the spacing commands ``\, \; \: \! \quad``.

>>> from sympy import symbols
>>> T, a1, a2 = symbols("T a1 a2")
>>> table = {"T": T, "a1": a1, "a2": a2}
>>> parse_expression("-(T - a2) a2(1 - a2) a1", table)
a1*a2*(1 - a2)*(-T + a2)
>>> parse_expression(r"-\left(T-a_2\right)\,a_{2}\cdot(1-a_2)\,a_1", table, latex=True)
a1*a2*(1 - a2)*(-T + a2)
>>> parse_expression("__import__('os')", table)
Traceback (most recent call last):
...
symgrad.errors.ParseError: unexpected '__import__' at column 1
"""

from __future__ import annotations

from typing import Any, Mapping

import sympy as sp
from sympy import Expr, Symbol

from ..errors import ParseError
from .lexer import LATEX_COMMANDS, OPENERS, Token, tokenize
from .tables import (FUNCTIONS, MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT, MAX_LENGTH,
                     MAX_RESULT_DIGITS, penalty_functions, scoped_activations)

__all__ = [
    "parse",
    "parse_expression",
    "known_symbols",
    "parse_typed",
    "FUNCTIONS",
    "LATEX_COMMANDS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_DIGITS",
    "MAX_RESULT_DIGITS",
]

_ATOM_START = {"num", "sym", "func", "open", "frac", "sqrt"}


class _Parser:
    """Recursive descent over tokens; depth is counted so no input can exhaust the stack."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def _next(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _unexpected(self, tok: Token, expected: str = "") -> ParseError:
        what = "end of input" if tok.kind == "end" else f"'{tok.text}'"
        more = f" (expected {expected})" if expected else ""
        return ParseError(f"unexpected {what} at column {tok.column}{more}", column=tok.column)

    def _enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels at column "
                             f"{tok.column}", column=tok.column)

    def parse(self) -> Expr:
        if self.token.kind == "end":
            raise ParseError("empty expression", column=1)
        expr = self.expr()
        if self.token.kind != "end":
            raise self._unexpected(self.token)
        return expr

    def expr(self) -> Expr:
        terms = [self.term()]
        while self.token.kind == "op" and self.token.value in "+-":
            sign = self._next().value
            term = self.term()
            terms.append(term if sign == "+" else -term)
        return sp.Add(*terms)

    def term(self) -> Expr:
        factors = [self.unary()]
        while True:
            tok = self.token
            if tok.kind == "op" and tok.value in "*/":
                self._next()
                factor = self.unary()
                if tok.value == "/":
                    if factor.is_zero:
                        raise ParseError(f"division by zero at column {tok.column}",
                                         column=tok.column)
                    factor = _power(factor, sp.Integer(-1), tok)
                factors.append(factor)
            elif tok.kind in _ATOM_START:
                before = self.tokens[self.pos - 2] if self.pos >= 2 else None
                if tok.kind == "num" and self.tokens[self.pos - 1].kind == "num" and not (
                        before is not None and before.kind == "op" and before.value == "^"):
                    raise self._unexpected(tok, "an operator between two numbers")
                factors.append(self.power())  # implicit multiplication: a2(1 - a2), 2x
            else:
                return sp.Mul(*factors)

    def unary(self) -> Expr:
        tok = self.token
        if tok.kind == "op" and tok.value in "+-":
            self._next()
            self._enter(tok)
            operand = self.unary()
            self.depth -= 1
            return -operand if tok.value == "-" else operand
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        tok = self.token
        if tok.kind == "op" and tok.value == "^":
            self._next()
            self._enter(tok)
            exponent = self.unary()  # right associative: 2^3^2 = 2^9
            self.depth -= 1
            return _power(base, exponent, tok)
        return base

    def _group(self, closer: str) -> Expr:
        opener = self._next()
        self._enter(opener)
        inner = self.expr()
        tok = self.token
        if tok.kind != "close" or tok.value != closer:
            raise self._unexpected(tok, f"'{closer}'")
        self._next()
        self.depth -= 1
        return inner

    def atom(self) -> Expr:
        tok = self.token
        if tok.kind in ("num", "sym"):
            self._next()
            return tok.value
        if tok.kind == "open":
            return self._group(OPENERS[tok.value])
        if tok.kind == "frac":
            self._next()
            self._brace(tok)
            num = self._group("}")
            self._brace(tok)
            den = self._group("}")
            if den.is_zero:
                raise ParseError(f"division by zero in \\frac at column {tok.column}",
                                 column=tok.column)
            return num * _power(den, sp.Integer(-1), tok)
        if tok.kind == "sqrt":
            self._next()
            self._brace(tok)
            return _power(self._group("}"), sp.Rational(1, 2), tok)
        if tok.kind == "func":
            return self.call()
        raise self._unexpected(tok, "a number, a symbol, a function or '('")

    def _brace(self, command: Token) -> None:
        if self.token.kind != "open" or self.token.value != "{":
            raise self._unexpected(self.token, f"'{{' after '{command.text}'")

    def call(self) -> Expr:
        name_tok = self._next()
        builder, least, most = FUNCTIONS[name_tok.value]
        index = [self._next().value] if self.token.kind == "index" else []
        caret = self.token  # \tanh^{2}\left(z\right), as SymPy prints a power of a function
        exponent = self.atom() if caret.kind == "op" and caret.value == "^" and self._next() \
            else None
        tok = self.token
        if tok.kind != "open" or tok.value not in "({":
            raise self._unexpected(tok, f"'(' after '{name_tok.text}'")
        closer = OPENERS[tok.value]
        self._next()
        self._enter(tok)
        args = index + [self.expr()]
        while self.token.kind == "comma":
            self._next()
            args.append(self.expr())
        end = self.token
        if end.kind != "close" or end.value != closer:
            raise self._unexpected(end, f"',' or '{closer}'")
        self._next()
        self.depth -= 1
        if not least <= len(args) <= most:
            count = str(least) if least == most else f"{least} to {most}"
            raise ParseError(f"'{name_tok.text}' at column {name_tok.column} takes {count} "
                             f"argument{'s' if most > 1 else ''}, got {len(args)}",
                             column=name_tok.column)
        value = builder(*args)
        return value if exponent is None else _power(value, exponent, caret)


def _digits(value: sp.Rational) -> int:
    return max(len(str(abs(value.p))), len(str(value.q)))


def _power(base: Expr, exponent: Expr, tok: Token) -> Expr:
    """``base ** exponent``, refused before it is built if it would be a huge number."""
    col = tok.column
    if exponent.is_number:
        if not exponent.is_Rational:
            raise ParseError(f"the exponent at column {col} must be a rational number or "
                             "contain a symbol", column=col)
        if abs(exponent) > MAX_EXPONENT or exponent.q > MAX_EXPONENT:
            raise ParseError(f"exponent {exponent} at column {col} is too large (the limit is "
                             f"{MAX_EXPONENT})", column=col)
        if base.is_Rational and base != 0:
            size = int(abs(exponent) * _digits(base)) + 1
            if size > MAX_RESULT_DIGITS:
                raise ParseError(f"the power at column {col} would have about {size} digits "
                                 f"(the limit is {MAX_RESULT_DIGITS})", column=col)
        if base.is_zero and exponent.is_negative:
            raise ParseError(f"division by zero at column {col}", column=col)
    return sp.Pow(base, exponent)


def parse_expression(text: str, symbols: Mapping[str, Symbol], *, latex: bool = False) -> Expr:
    """Parse ``text`` (plain math, or LaTeX with ``latex=True``) into a SymPy expression.

    Parameters
    ----------
    text : the expression as a user typed it.
    symbols : the names the text may use, mapped to their symbols (a network's
        ``symbols`` table).
    latex : read ``text`` as LaTeX rather than plain math.

    Raises
    ------
    ParseError
        For anything but a well-formed expression in the known names, with the column.

    >>> from sympy import Symbol
    >>> parse_expression("2x^2", {"x": Symbol("x")})
    2*x**2
    >>> parse_expression(r"\\frac{1}{2}x", {"x": Symbol("x")}, latex=True)
    x/2
    """
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is "
                         f"{MAX_LENGTH}")
    expr = _Parser(tokenize(text, symbols, latex=latex)).parse()
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ParseError("the expression is undefined (it divides by zero)")
    return expr


def parse(text: str, network: Any, *, latex: bool = False) -> Expr:
    """Parse ``text`` in the names of ``network`` (a :class:`~symgrad.network.Network`).

    Every symbol of the network may appear, intermediates and error signals included
    (``z2``, ``a1``, ``delta2``).

    >>> from symgrad.network import load
    >>> parse("-(T - a2) a2 (1 - a2) a1", load("derivations/two_neuron.toml"))
    a1*a2*(1 - a2)*(-T + a2)
    """
    own = [s.activation for s in network.architecture.layers
           if s.activation is not None and s.activation.name in
           getattr(network.architecture.spec, "activations", {})]
    penalty = getattr(network, "penalty", None)
    with scoped_activations(own), penalty_functions(penalty is not None):  # mish(z1), sign(w2)
        return parse_expression(text, known_symbols(network), latex=latex)


def known_symbols(network: Any) -> Mapping[str, Symbol]:
    """The symbols a hand gradient of ``network`` may use, by name: the network's, and
    its penalty's strength ``lambda`` (``\\lambda``) when it has a penalty.

    >>> from symgrad.network import load
    >>> known_symbols(load("derivations/small_mlp_l2.toml"))["lambda"]
    lambda
    >>> "lambda" in known_symbols(load("derivations/small_mlp.toml"))
    False
    """
    penalty = getattr(network, "penalty", None)
    return network.symbols if penalty is None else {
        **network.symbols, str(penalty.symbol): penalty.symbol}


#: Text with one of these signs is read again as LaTeX when it fails as plain math.
LATEX_SIGNS = "\\{_^"


def parse_typed(text: str, symbols: Mapping[str, Symbol]) -> Expr:
    r"""``text`` as a student types it: plain math, else (when it has one of LaTeX's signs
    ``\ { _ ^``) LaTeX. The error raised is LaTeX's when the text has a backslash, else
    the plain reading's.

    >>> from sympy import Symbol
    >>> table = {"a2": Symbol("a2")}
    >>> parse_typed("a2^2", table), parse_typed(r"\frac{a_2}{2}", table)
    (a2**2, a2/2)
    >>> parse_typed("a2 +", table)
    Traceback (most recent call last):
    ...
    symgrad.errors.ParseError: unexpected end of input at column 5 (expected a number, a symbol, a function or '(')
    """
    try:
        return parse_expression(text, symbols)
    except ParseError as plain:
        if not any(c in text for c in LATEX_SIGNS):
            raise
        try:
            return parse_expression(text, symbols, latex=True)
        except ParseError as exc:
            raise (exc if "\\" in text else plain) from None
