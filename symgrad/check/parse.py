r"""A safe parser for hand-written gradients: plain math text or a LaTeX subset -> SymPy.

Text typed by a user never reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``
(all of them run Python). It goes through a tokenizer and a small recursive-descent
grammar of our own that builds SymPy objects through their constructors. Only these
names are accepted:

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

Plain text accepts ``+ - * /``, ``^`` or ``**``, brackets ``( )`` and ``[ ]``, and
implicit multiplication (``a2(1 - a2)``, ``2x1``). LaTeX accepts ``a_2``, ``a_{2}``,
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

import keyword
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterator, Mapping

import sympy as sp
from sympy import Expr, Symbol

from ..catalogue import ACTIVATIONS, Activation, exact
from ..errors import ParseError

__all__ = [
    "parse",
    "parse_expression",
    "FUNCTIONS",
    "LATEX_COMMANDS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_DIGITS",
    "MAX_RESULT_DIGITS",
]

#: Longest text accepted, in characters.
MAX_LENGTH = 5000
#: Deepest nesting of brackets, braces and nested operators (unary minus, powers).
MAX_DEPTH = 50
#: Largest absolute value of a numeric exponent, and largest denominator of one.
MAX_EXPONENT = 100
#: Most digits in one number as typed.
MAX_DIGITS = 30
#: Most digits of a number computed from a numeric power (``10^100`` is fine).
MAX_RESULT_DIGITS = 1000


def _heaviside(x: Expr) -> Expr:
    return sp.Heaviside(x, 0)  # the convention of symgrad's ReLU: H(0) = 0


def _step(x: Expr, at_zero: Expr = sp.Integer(0)) -> Expr:
    return sp.Heaviside(x, at_zero)


def _max(*args: Expr) -> Expr:
    return sp.Max(*args)


Builder = tuple[Callable[..., Expr], int, int]

#: Functions that are not activations, with (builder, smallest and largest argument count).
_MATH: dict[str, Builder] = {
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 1),
    "ln": (sp.log, 1, 1),
    "heaviside": (_heaviside, 1, 1),
    "Heaviside": (_step, 1, 2),
    "max": (_max, 2, 8),
    "sqrt": (sp.sqrt, 1, 1),
    "erf": (sp.erf, 1, 1),
}
#: LaTeX commands for those, and \operatorname{...} contents.
_MATH_COMMANDS = {"exp": "exp", "log": "log", "ln": "ln", "max": "max", "theta": "Heaviside"}
_MATH_OPERATORS = {"exp": "exp", "log": "log", "ln": "ln", "max": "max", "H": "heaviside",
                   "heaviside": "heaviside", "erf": "erf"}


def _activation_builder(entry: Activation) -> Builder:
    """``name(z)`` or ``name(z, alpha)``: the entry's parameters may follow the argument."""
    def build(z: Expr, *given: Expr) -> Expr:
        defaults = [exact(v) for v in entry.params.values()]
        return entry.function(z, *given, *defaults[len(given):])
    return build, 1, 1 + len(entry.params)


def _mixing_builder(entry: Activation) -> Builder:
    """``softmax(k, z1, ..., zn)``: component ``k`` of an activation that mixes its units."""
    def build(k: Expr, *z: Expr) -> Expr:
        if not (k.is_Integer and 1 <= int(k) <= len(z)):
            raise ParseError(f"{entry.name}'s first argument is the component, one of "
                             f"1..{len(z)}; got {k}")
        return entry.function(k, *z)
    return build, 2, 1000


def _builder(entry: Activation) -> Builder:
    return _activation_builder(entry) if entry.elementwise else _mixing_builder(entry)


class _CatalogueTable(Mapping[str, Any]):
    """A name table made from the activation catalogue and fixed rows, remade whenever an
    entry is registered, so a new activation is known to the parser at once."""

    def __init__(self, make: Callable[[], dict[str, Any]]) -> None:
        self._make = make
        self._key: tuple[str, ...] = ()
        self._table: dict[str, Any] = {}

    def _current(self) -> dict[str, Any]:
        key = tuple(ACTIVATIONS)
        if key != self._key:
            self._table, self._key = self._make(), key
        return self._table

    def __getitem__(self, name: str) -> Any:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def _elementwise() -> list[Activation]:
    return [e for e in ACTIVATIONS.values() if e.elementwise]


def _command(entry: Activation) -> str | None:
    """``sigma`` for ``\\sigma``, ``None`` for ``\\operatorname{...}``."""
    m = re.fullmatch(r"\\([A-Za-z]+)", entry.latex)
    return m.group(1) if m else None


def _operator(entry: Activation) -> str | None:
    m = re.fullmatch(r"\\operatorname\{([A-Za-z]+)\}", entry.latex)
    return m.group(1) if m else None


#: Function names accepted in text: every activation of the catalogue by each of its
#: names, then the functions of :data:`_MATH`.
FUNCTIONS: Mapping[str, Builder] = _CatalogueTable(lambda: {
    **{name: _builder(e) for e in ACTIVATIONS.values() for name in e.names}, **_MATH})
#: LaTeX commands that stand for a function (``\\sigma``, ``\\tanh``, ``\\exp``...).
_LATEX_FUNCTIONS: Mapping[str, str] = _CatalogueTable(lambda: {
    **{c: e.name for e in _elementwise() if (c := _command(e))}, **_MATH_COMMANDS})
#: \\operatorname{...} / \\mathrm{...} contents that stand for a function.
_OPERATOR_NAMES: Mapping[str, str] = _CatalogueTable(lambda: {
    **{n: e.name for e in ACTIVATIONS.values()
       for n in filter(None, (_operator(e),) + e.names)},
    **_MATH_OPERATORS})
_SPACING = {",", ";", ":", "!", " ", "quad", "qquad"}
#: Every LaTeX command the parser understands.
LATEX_COMMANDS = tuple(sorted(
    {"frac", "dfrac", "tfrac", "sqrt", "cdot", "times", "left", "right", "operatorname",
     "mathrm", "delta", "pi", "{", "}"} | set(_LATEX_FUNCTIONS) | _SPACING))
#: Constants by name, where the network has no symbol of that name.
_CONSTANTS = {"e": sp.E, "pi": sp.pi}

#: Unicode characters with one unambiguous meaning; every other non-ASCII character is refused.
_UNICODE = {"·": "*", "⋅": "*", "×": "*", "−": "-", "σ": "sigma"}
#: Names that only code uses: refused as "unexpected" rather than "unknown".
_CODE_WORDS = {"eval", "exec", "open", "compile", "getattr", "setattr", "globals", "locals",
               "vars", "dir", "print", "input", "breakpoint", "os", "sys", "subprocess",
               "builtins", "system", "popen", "type", "object", "help", "exit", "quit"}

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"([A-Za-z]+)\d*")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.S)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


def _match(pattern: re.Pattern[str], text: str, at: int) -> re.Match[str]:
    """``pattern`` at ``at``, which the caller has made sure starts a match."""
    m = pattern.match(text, at)
    if m is None:  # unreachable: the first character was checked before the call
        raise ParseError(f"unexpected {_show(text[at])} at column {at + 1}", column=at + 1)
    return m


@dataclass(frozen=True)
class _Token:
    kind: str   # num, sym, func, index, op, open, close, comma, frac, sqrt, end
    value: Any
    column: int
    text: str


def _show(ch: str) -> str:
    """A character as an error message shows it: printable ones quoted, others by code point."""
    if ch.isprintable() and ch.isascii():
        return f"'{ch}'"
    name = unicodedata.name(ch, "")
    return f"character U+{ord(ch):04X}" + (f" ({name})" if name else "")


class _Tokenizer:
    """Splits text into tokens, resolving names against the symbol table as it goes."""

    def __init__(self, text: str, symbols: Mapping[str, Symbol], latex: bool) -> None:
        self.text = text
        self.symbols = symbols
        self.latex = latex
        self.tokens: list[_Token] = []
        self.stack: list[tuple[str, int]] = []  # open brackets, with columns

    # -- errors ---------------------------------------------------------------------------

    def _unknown(self, name: str, column: int, shown: str | None = None) -> ParseError:
        if len(name) > 40:  # a name that long is not a typo of a symbol: do not echo it all
            name = name[:37] + "..."
        if shown is not None and len(shown) > 40:
            shown = shown[:37] + "..."
        looks_like_code = (name.startswith("_") or keyword.iskeyword(name)
                           or name in _CODE_WORDS)
        if looks_like_code:
            return ParseError(f"unexpected '{name}' at column {column}", column=column)
        known = ", ".join(self.symbols) or "(none)"
        return ParseError(f"unknown name '{shown or name}' at column {column}; the network's "
                          f"symbols are: {known}; functions: {', '.join(FUNCTIONS)}",
                          column=column)

    def _character(self, ch: str, column: int) -> ParseError:
        if not ch.isascii() and unicodedata.category(ch).startswith("L"):
            return ParseError(f"{_show(ch)} at column {column} is not allowed: only ASCII "
                              "letters name symbols (a look-alike of a Latin letter?)",
                              column=column)
        if not ch.isprintable():
            return ParseError(f"{_show(ch)} at column {column} is not allowed", column=column)
        return ParseError(f"unexpected {_show(ch)} at column {column}", column=column)

    # -- brackets -------------------------------------------------------------------------

    def _open(self, ch: str, column: int, text: str | None = None) -> None:
        self.stack.append((ch, column))
        if len(self.stack) > MAX_DEPTH:
            raise ParseError(f"brackets nested deeper than {MAX_DEPTH} levels at column "
                             f"{column}", column=column)
        self.tokens.append(_Token("open", ch, column, text or ch))

    def _close(self, ch: str, column: int, text: str | None = None) -> None:
        opener = _CLOSERS[ch]
        if not self.stack:
            raise ParseError(f"unmatched '{text or ch}' at column {column}", column=column)
        top, where = self.stack.pop()
        if top != opener:
            raise ParseError(f"'{text or ch}' at column {column} does not match '{top}' opened "
                             f"at column {where}", column=column)
        self.tokens.append(_Token("close", ch, column, text or ch))

    # -- names ----------------------------------------------------------------------------

    def _split(self, name: str) -> list[str] | None:
        """``a1x1`` as the known symbols ``a1, x1`` (longest match first), or None."""
        parts: list[str] = []
        rest = name
        while rest:
            for end in range(len(rest), 0, -1):
                if rest[:end] in self.symbols:
                    parts.append(rest[:end])
                    rest = rest[end:]
                    break
            else:
                return None
        return parts

    def _name(self, name: str, column: int) -> None:
        if name in self.symbols:
            self.tokens.append(_Token("sym", self.symbols[name], column, name))
        elif name in FUNCTIONS:
            self.tokens.append(_Token("func", name, column, name))
        elif name in _CONSTANTS:
            self.tokens.append(_Token("num", _CONSTANTS[name], column, name))
        else:
            parts = None if name.startswith("_") else self._split(name)
            if parts is None:
                raise self._unknown(name, column)
            offset = column
            for part in parts:
                self.tokens.append(_Token("sym", self.symbols[part], offset, part))
                offset += len(part)

    def _number(self, text: str, column: int) -> None:
        digits = sum(c.isdigit() for c in text)
        if digits > MAX_DIGITS:
            raise ParseError(f"number at column {column} has {digits} digits; the limit is "
                             f"{MAX_DIGITS}", column=column)
        if self.tokens and self.tokens[-1].kind == "op" and self.tokens[-1].value == "^":
            value = Fraction(text)
            if abs(value) > MAX_EXPONENT:
                raise ParseError(f"exponent {text} at column {column} is larger than "
                                 f"{MAX_EXPONENT}", column=column)
        self.tokens.append(_Token("num", sp.Rational(Fraction(text)), column, text))

    # -- plain text -----------------------------------------------------------------------

    def plain(self) -> list[_Token]:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = _UNICODE.get(self.text[i], self.text[i])
            col = i + 1
            if ch in " \t\r\n":
                i += 1
            elif ch.isascii() and (ch.isdigit() or (ch == "." and text[i + 1:i + 2].isdigit())):
                m = _match(_NUMBER, text, i)
                self._number(m.group(), col)
                i = m.end()
            elif ch == "sigma":
                self.tokens.append(_Token("func", "sigma", col, text[i]))
                i += 1
            elif ch.isascii() and (ch.isalpha() or ch == "_"):
                m = _match(_NAME, text, i)
                self._name(m.group(), col)
                i = m.end()
            elif text.startswith("**", i):
                self.tokens.append(_Token("op", "^", col, "**"))
                i += 2
            elif self._punctuation(ch, col, text[i], "+-*/^", "([", ")]"):
                i += 1
            else:
                raise self._character(text[i], col)
        return self._finish()

    def _punctuation(self, ch: str, col: int, raw: str, operators: str, openers: str,
                     closers: str) -> bool:
        """One operator, bracket or comma as a token; False if ``ch`` is none of them."""
        if ch in operators:
            self.tokens.append(_Token("op", ch, col, raw))
        elif ch in openers:
            self._open(ch, col)
        elif ch in closers:
            self._close(ch, col)
        elif ch == ",":
            self.tokens.append(_Token("comma", ",", col, ","))
        else:
            return False
        return True

    def _finish(self) -> list[_Token]:
        if self.stack:
            ch, where = self.stack[-1]
            raise ParseError(f"'{ch}' opened at column {where} is never closed", column=where)
        self.tokens.append(_Token("end", None, len(self.text) + 1, "end of input"))
        return self.tokens

    # -- LaTeX ----------------------------------------------------------------------------

    def _skip_space(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in " \t\r\n":
            i += 1
        return i

    def _braced(self, i: int, what: str) -> tuple[str, int]:
        """The text inside ``{...}`` starting at ``i`` (no nesting), and the index after it."""
        i = self._skip_space(i)
        if i >= len(self.text) or self.text[i] != "{":
            raise ParseError(f"expected '{{' after {what} at column {i + 1}", column=i + 1)
        end = self.text.find("}", i)
        if end < 0:
            raise ParseError(f"'{{' opened at column {i + 1} is never closed", column=i + 1)
        return self.text[i + 1:end], end + 1

    def _script(self, i: int) -> tuple[str, int]:
        """A sub- or superscript at ``i`` (just after ``_`` or ``^``): one character or braces."""
        i = self._skip_space(i)
        if i < len(self.text) and self.text[i] == "{":
            return self._braced(i, "a script")
        if i < len(self.text) and self.text[i].isascii() and self.text[i].isalnum():
            return self.text[i], i + 1
        raise ParseError(f"expected a subscript at column {i + 1}", column=i + 1)

    def _latex_symbol(self, base: str, start: int, i: int) -> int:
        """Read ``^{(l)}`` and ``_{i,j}`` after a symbol's base letter; emit the symbol."""
        layer = ""
        subs: list[str] = []
        column = start + 1
        for _ in range(2):
            j = self._skip_space(i)
            if j < len(self.text) and self.text[j] == "_" and not subs:
                content, i = self._script(j + 1)
                subs = [s.strip() for s in content.split(",")]
                if not all(s.isascii() and s.isalnum() for s in subs):
                    raise ParseError(f"subscript '{content}' at column {j + 1} is not a list "
                                     "of indices", column=j + 1)
            elif self.text.startswith("^", j) and not layer:
                k = self._skip_space(j + 1)
                m = re.match(r"\{\s*\(\s*(\d+)\s*\)\s*\}", self.text[k:])
                if not m:
                    break
                layer = m.group(1)
                i = k + m.end()
            else:
                break
        name = base + (layer + ("_" if subs else "") if layer else "") + "_".join(subs)
        shown = self.text[start:i]
        if name in self.symbols:
            self.tokens.append(_Token("sym", self.symbols[name], column, shown))
        elif name in _CONSTANTS:
            self.tokens.append(_Token("num", _CONSTANTS[name], column, shown))
        else:
            raise self._unknown(name, column, shown if shown != name else None)
        return i

    def _is_base(self, run: str) -> bool:
        """Whether ``run`` (several letters) is the base name of indexed symbols."""
        return len(run) > 1 and any(re.fullmatch(re.escape(run) + r"\d[\d_]*", name)
                                    for name in self.symbols)

    def _letters(self, i: int) -> int:
        col = i + 1
        m = _match(_WORD, self.text, i)
        word, run = m.group(), m.group(1)
        if len(run) > 1 and run in FUNCTIONS and word == run:
            self.tokens.append(_Token("func", run, col, run))
            return m.end()
        if len(word) > 1 and word in self.symbols:  # a2, x1, delta2 typed as in plain text
            self.tokens.append(_Token("sym", self.symbols[word], col, word))
            return m.end()
        if run == "delta" or (word == run and self._is_base(run)):  # target_{1}
            return self._latex_symbol(run, i, i + len(run))
        # LaTeX reads a run of letters as a product of one-letter symbols
        return self._latex_symbol(run[0], i, i + 1)

    def _command(self, i: int) -> int:
        m = _COMMAND.match(self.text, i)
        col = i + 1
        if m is None:
            raise ParseError(f"a lone '\\' at column {col}", column=col)
        name = m.group(1)
        end = m.end()
        if name in _SPACING:
            return end
        if name in ("cdot", "times"):
            self.tokens.append(_Token("op", "*", col, m.group()))
        elif name in ("frac", "dfrac", "tfrac"):
            self.tokens.append(_Token("frac", name, col, m.group()))
        elif name == "sqrt":
            self.tokens.append(_Token("sqrt", name, col, m.group()))
        elif name in _LATEX_FUNCTIONS:
            self.tokens.append(_Token("func", _LATEX_FUNCTIONS[name], col, m.group()))
        elif name == "delta":
            return self._latex_symbol("delta", i, end)
        elif name == "pi":  # the network's symbol of that name, if it has one
            if "pi" in self.symbols:
                self.tokens.append(_Token("sym", self.symbols["pi"], col, m.group()))
            else:
                self.tokens.append(_Token("num", sp.pi, col, m.group()))
        elif name in ("operatorname", "mathrm"):
            content, after = self._braced(end, "\\" + name)
            content = content.strip()
            if content in _OPERATOR_NAMES:
                self.tokens.append(_Token("func", _OPERATOR_NAMES[content], col,
                                          self.text[i:after]))
                if content == "softmax":  # \operatorname{softmax}_{k}: the component k
                    return self._index(after)
            elif content == "e" and "e" not in self.symbols:
                self.tokens.append(_Token("num", sp.E, col, self.text[i:after]))
            else:
                raise ParseError(f"unknown operator name '{content}' at column {col}; known: "
                                 f"{', '.join(_OPERATOR_NAMES)}", column=col)
            return after
        elif name in ("left", "right"):
            j = self._skip_space(end)
            delim = self.text[j:j + 2] if self.text.startswith("\\", j) else self.text[j:j + 1]
            mapping = {"(": "(", "[": "[", "\\{": "{", ")": ")", "]": "]", "\\}": "}"}
            if delim == ".":
                return j + 1
            if delim not in mapping:
                raise ParseError(f"\\{name} at column {col} must be followed by a bracket",
                                 column=col)
            bracket = mapping[delim]
            (self._open if name == "left" else self._close)(bracket, col, "\\" + name + delim)
            return j + len(delim)
        elif name in ("{", "}"):
            (self._open if name == "{" else self._close)(name, col, m.group())
        else:
            allowed = ", ".join("\\" + c for c in LATEX_COMMANDS if c.isalpha())
            raise ParseError(f"LaTeX command '{m.group()}' at column {col} is not allowed; "
                             f"allowed: {allowed}", column=col)
        return end

    def _index(self, i: int) -> int:
        """``_{k}`` after a function name: its first argument, the component index."""
        j = self._skip_space(i)
        if not self.text.startswith("_", j):
            return i
        script, after = self._script(j + 1)
        if not script.strip().isdigit():
            raise ParseError(f"expected a component number after '_' at column {j + 1}",
                             column=j + 1)
        self.tokens.append(_Token("index", sp.Integer(int(script)), j + 1, self.text[j:after]))
        return after

    def latex_tokens(self) -> list[_Token]:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = _UNICODE.get(text[i], text[i])
            col = i + 1
            if ch in " \t\r\n":
                i += 1
            elif ch == "\\":
                i = self._command(i)
            elif ch.isascii() and (ch.isdigit() or (ch == "." and text[i + 1:i + 2].isdigit())):
                m = _match(_NUMBER, text, i)
                self._number(m.group(), col)
                i = m.end()
            elif ch == "sigma":
                self.tokens.append(_Token("func", "sigma", col, text[i]))
                i += 1
            elif ch.isascii() and ch.isalpha():
                i = self._letters(i)
            elif ch == "^":
                self.tokens.append(_Token("op", "^", col, "^"))
                j = self._skip_space(i + 1)
                if j < n and text[j] != "{" and text[j] != "\\":
                    # LaTeX: without braces a superscript is one character (x^23 = x^2 3)
                    if text[j].isascii() and text[j].isdigit():
                        self._number(text[j], j + 1)
                        j += 1
                    elif text[j].isascii() and text[j].isalpha():
                        j = self._latex_symbol(text[j], j, j + 1)
                    else:
                        raise self._character(text[j], j + 1)
                i = j
            elif self._punctuation(ch, col, text[i], "+-*/", "([{", ")]}"):
                i += 1
            elif ch == "_":
                raise ParseError(f"subscript '_' at column {col} follows no symbol", column=col)
            else:
                raise self._character(text[i], col)
        return self._finish()


_ATOM_START = {"num", "sym", "func", "open", "frac", "sqrt"}


class _Parser:
    """Recursive descent over tokens; depth is counted so no input can exhaust the stack."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def _next(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _unexpected(self, tok: _Token, expected: str = "") -> ParseError:
        what = "end of input" if tok.kind == "end" else f"'{tok.text}'"
        more = f" (expected {expected})" if expected else ""
        return ParseError(f"unexpected {what} at column {tok.column}{more}", column=tok.column)

    def _enter(self, tok: _Token) -> None:
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
            return self._group(_OPENERS[tok.value])
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

    def _brace(self, command: _Token) -> None:
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
        closer = _OPENERS[tok.value]
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


def _power(base: Expr, exponent: Expr, tok: _Token) -> Expr:
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
    tokenizer = _Tokenizer(text, symbols, latex)
    tokens = tokenizer.latex_tokens() if latex else tokenizer.plain()
    expr = _Parser(tokens).parse()
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
    return parse_expression(text, network.symbols, latex=latex)
