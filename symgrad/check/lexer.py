r"""The tokenizer of hand-typed maths: one engine, and a table of rules for each syntax.

As in Jinja's lexer, a syntax is an ordered table of :class:`Rule`\ s, each a pattern and
an action (:data:`RULES`: one table for plain text, one for LaTeX). At each position the
engine tries the rules of the syntax in order; the first whose pattern matches acts (emits
tokens, checks a limit, reads the scripts that follow a LaTeX symbol) and returns where
the next token starts. Where no rule matches, the character is refused with its column.
Names are resolved as they are read, against the network's symbols and the catalogue's
function names (:mod:`.tables`); LaTeX commands through one more table
(:data:`COMMANDS`).

Each action looks at most as far ahead as the longest known name (or a bracketed script),
so tokenizing is linear in the length of the text: a run of 5,000 characters of juxtaposed
symbols (``a1a1...a1q``) took 3.3 s while a split tried every prefix of the run
(``benchmarks/parse_speed.py`` prints the ratio of sizes 1,000 and 8,000).

>>> from sympy import Symbol
>>> table = {"a1": Symbol("a1"), "x1": Symbol("x1")}
>>> [t.text for t in tokenize("2.5e-3 a1x1 · x1", table)]
['2.5e-3', 'a1', 'x1', '·', 'x1', 'end of input']
>>> [t.kind for t in tokenize(r"\frac{1}{2}a_1", table, latex=True)]
['frac', 'open', 'num', 'close', 'open', 'num', 'close', 'sym', 'end']
"""

from __future__ import annotations

import itertools
import keyword
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any, Callable, Mapping, cast

import sympy as sp
from sympy import Symbol

from ..catalogue import ACTIVATIONS
from ..errors import ParseError, listed
from .tables import (_CODE_WORDS, _CONSTANTS, _LATEX_FUNCTIONS, _OPERATOR_NAMES, _SPACING,
                     _UNICODE, FUNCTIONS, MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT)

__all__ = ["Token", "Rule", "Lexer", "RULES", "COMMANDS", "LATEX_COMMANDS", "OPENERS",
           "tokenize"]

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
#: Letters and digits of a LaTeX word (``a2``, ``delta``, ``target1``).
_WORD = re.compile(r"([A-Za-z]+)[0-9]*")
#: A symbol with an index: its letters are the base LaTeX writes with a subscript.
_INDEXED = re.compile(r"([A-Za-z]+)[0-9][0-9_]*")
#: A layer number as a superscript: ``^{(2)}``.
_LAYER = re.compile(r"\{\s*\(\s*([0-9]+)\s*\)\s*\}")
#: What may follow ``\left`` or ``\right``, and the bracket it stands for.
_DELIMITERS = {"(": "(", "[": "[", "\\{": "{", ")": ")", "]": "]", "\\}": "}"}


@dataclass(frozen=True)
class Token:
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


#: What a rule does with its match: emit tokens, and return the position after them.
Action = Callable[["Lexer", "re.Match[str]"], int]


@dataclass(frozen=True)
class Rule:
    """One row of a syntax's table: where ``pattern`` matches, ``action`` reads the match."""

    pattern: re.Pattern[str]
    action: Action


class Lexer:
    """The engine: the rules of one syntax applied from left to right over ``text``."""

    def __init__(self, text: str, symbols: Mapping[str, Symbol], rules: tuple[Rule, ...]
                 ) -> None:
        self.text = text
        self.symbols = symbols
        self.rules = rules
        self.tokens: list[Token] = []
        self.stack: list[tuple[str, int]] = []  # open brackets, with columns
        # No name is longer: splitting a1x1, or reading a LaTeX word, looks no further.
        self.longest = max(map(len, itertools.chain(symbols, FUNCTIONS, ("delta",))))

    def run(self) -> list[Token]:
        """Every token of the text, ending with an ``end`` token."""
        text, at, n = self.text, 0, len(self.text)
        while at < n:
            for rule in self.rules:
                m = rule.pattern.match(text, at)
                if m is not None:
                    at = rule.action(self, m)
                    break
            else:
                raise self._character(text[at], at + 1)
        if self.stack:
            ch, where = self.stack[-1]
            raise ParseError(f"'{ch}' opened at column {where} is never closed", column=where)
        self.tokens.append(Token("end", None, n + 1, "end of input"))
        return self.tokens

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
        known = listed(self.symbols) or "(none)"
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

    # -- actions of both syntaxes -----------------------------------------------------------

    def _skip(self, m: re.Match[str]) -> int:
        return m.end()

    def _unicode(self, m: re.Match[str]) -> int:
        kind, value = _UNICODE[m.group()]
        self.tokens.append(Token(kind, value, m.start() + 1, m.group()))
        return m.end()

    def _number(self, m: re.Match[str]) -> int:
        self._add_number(m.group(), m.start() + 1)
        return m.end()

    def _add_number(self, text: str, column: int) -> None:
        digits = sum(c.isdigit() for c in text)
        if digits > MAX_DIGITS:
            raise ParseError(f"number at column {column} has {digits} digits; the limit is "
                             f"{MAX_DIGITS}", column=column)
        power = text.lower().partition("e")[2]
        if power and abs(int(power)) > MAX_EXPONENT:  # 1e400: as 10^400, refused
            raise ParseError(f"number {text} at column {column} has an exponent outside "
                             f"-{MAX_EXPONENT}..{MAX_EXPONENT}", column=column)
        value = Fraction(text)
        if self.tokens and self.tokens[-1].kind == "op" and self.tokens[-1].value == "^":
            if abs(value) > MAX_EXPONENT:
                raise ParseError(f"exponent {text} at column {column} is larger than "
                                 f"{MAX_EXPONENT}", column=column)
        self.tokens.append(Token("num", sp.Rational(value), column, text))

    def _open(self, m: re.Match[str]) -> int:
        self._push(m.group(m.lastindex or 0), m.start() + 1, m.group())
        return m.end()

    def _close(self, m: re.Match[str]) -> int:
        self._pop(m.group(m.lastindex or 0), m.start() + 1, m.group())
        return m.end()

    def _push(self, ch: str, column: int, text: str) -> None:
        self.stack.append((ch, column))
        if len(self.stack) > MAX_DEPTH:
            raise ParseError(f"brackets nested deeper than {MAX_DEPTH} levels at column "
                             f"{column}", column=column)
        self.tokens.append(Token("open", ch, column, text))

    def _pop(self, ch: str, column: int, text: str) -> None:
        if not self.stack:
            raise ParseError(f"unmatched '{text}' at column {column}", column=column)
        top, where = self.stack.pop()
        if top != CLOSERS[ch]:
            raise ParseError(f"'{text}' at column {column} does not match '{top}' opened "
                             f"at column {where}", column=column)
        self.tokens.append(Token("close", ch, column, text))

    # -- plain text -----------------------------------------------------------------------

    def _name(self, m: re.Match[str]) -> int:
        name, column = m.group(), m.start() + 1
        if name in self.symbols:
            self.tokens.append(Token("sym", self.symbols[name], column, name))
        elif name in FUNCTIONS:
            self.tokens.append(Token("func", name, column, name))
        elif name in _CONSTANTS:
            self.tokens.append(Token("num", _CONSTANTS[name], column, name))
        else:
            parts = None if name.startswith("_") else self._split(name)
            if parts is None:
                raise self._unknown(name, column)
            for part in parts:
                self.tokens.append(Token("sym", self.symbols[part], column, part))
                column += len(part)
        return m.end()

    def _split(self, name: str) -> list[str] | None:
        """``a1x1`` as the known symbols ``a1, x1`` (longest match first), or None.

        Candidates are no longer than the longest name, so the work is linear in ``name``.
        """
        parts: list[str] = []
        at = 0
        while at < len(name):
            for end in range(min(len(name), at + self.longest), at, -1):
                if name[at:end] in self.symbols:
                    parts.append(name[at:end])
                    at = end
                    break
            else:
                return None
        return parts

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
                m = _LAYER.match(self.text, k)
                if not m:
                    break
                layer = m.group(1)
                i = m.end()
            else:
                break
        name = base + (layer + ("_" if subs else "") if layer else "") + "_".join(subs)
        shown = self.text[start:i]
        if name in self.symbols:
            self.tokens.append(Token("sym", self.symbols[name], column, shown))
        elif name in _CONSTANTS:
            self.tokens.append(Token("num", _CONSTANTS[name], column, shown))
        else:
            raise self._unknown(name, column, shown if shown != name else None)
        return i

    @cached_property
    def _bases(self) -> frozenset[str]:
        """Base names of indexed symbols (``target`` for ``target1``) of several letters."""
        return frozenset(m.group(1) for name in self.symbols
                         if (m := _INDEXED.fullmatch(name)) and len(m.group(1)) > 1)

    def _letters(self, m: re.Match[str]) -> int:
        i = m.start()
        col = i + 1
        # A word longer than every name is none of them: reading further would make a run
        # of n letters cost n^2 (5,000 letters: 14 s).
        w = cast("re.Match[str]", _WORD.match(self.text, i, i + self.longest + 1))  # a letter
        word, run = w.group(), w.group(1)
        if len(run) > 1 and run in FUNCTIONS and word == run:
            self.tokens.append(Token("func", run, col, run))
            return w.end()
        if len(word) > 1 and word in self.symbols:  # a2, x1, delta2 typed as in plain text
            self.tokens.append(Token("sym", self.symbols[word], col, word))
            return w.end()
        if run == "delta" or (word == run and run in self._bases):  # target_{1}
            return self._latex_symbol(run, i, i + len(run))
        # LaTeX reads a run of letters as a product of one-letter symbols
        return self._latex_symbol(run[0], i, i + 1)

    def _superscript(self, m: re.Match[str]) -> int:
        self.tokens.append(Token("op", "^", m.start() + 1, "^"))
        text = self.text
        j = self._skip_space(m.end())
        if j < len(text) and text[j] != "{" and text[j] != "\\":
            # LaTeX: without braces a superscript is one character (x^23 = x^2 3)
            if text[j].isascii() and text[j].isdigit():
                self._add_number(text[j], j + 1)
                j += 1
            elif text[j].isascii() and text[j].isalpha():
                j = self._latex_symbol(text[j], j, j + 1)
            else:
                raise self._character(text[j], j + 1)
        return j

    def _stray_subscript(self, m: re.Match[str]) -> int:
        col = m.start() + 1
        raise ParseError(f"subscript '_' at column {col} follows no symbol", column=col)

    def _lone_backslash(self, m: re.Match[str]) -> int:
        col = m.start() + 1
        raise ParseError(f"a lone '\\' at column {col}", column=col)

    # -- LaTeX commands (the actions of :data:`COMMANDS`) -----------------------------------

    def _command(self, m: re.Match[str]) -> int:
        name, col = m.group(1), m.start() + 1
        action = COMMANDS.get(name)
        if action is not None:
            return action(self, m)
        if name in _LATEX_FUNCTIONS:
            self.tokens.append(Token("func", _LATEX_FUNCTIONS[name], col, m.group()))
            return m.end()
        own = {"lambda"} & set(self.symbols)  # a penalty's strength, where there is one
        if name in own:
            self.tokens.append(Token("sym", self.symbols[name], col, m.group()))
            return m.end()
        allowed = ", ".join("\\" + c for c in sorted({*COMMANDS, *_LATEX_FUNCTIONS, *own})
                            if c.isalpha())
        raise ParseError(f"LaTeX command '{m.group()}' at column {col} is not allowed; "
                         f"allowed: {allowed}", column=col)

    def _delta(self, m: re.Match[str]) -> int:
        return self._latex_symbol("delta", m.start(), m.end())

    def _pi(self, m: re.Match[str]) -> int:
        col = m.start() + 1
        if "pi" in self.symbols:  # the network's symbol of that name, if it has one
            self.tokens.append(Token("sym", self.symbols["pi"], col, m.group()))
        else:
            self.tokens.append(Token("num", sp.pi, col, m.group()))
        return m.end()

    def _operator_name(self, m: re.Match[str]) -> int:
        """``\\operatorname{ReLU}``, ``\\mathrm{e}``; a mixing activation's ``_{k}``."""
        i, col = m.start(), m.start() + 1
        content, after = self._braced(m.end(), m.group())
        content = content.strip()
        if content in _OPERATOR_NAMES:
            function = _OPERATOR_NAMES[content]
            self.tokens.append(Token("func", function, col, self.text[i:after]))
            entry = ACTIVATIONS.get(function)
            if entry is not None and not entry.elementwise:
                return self._index(after)  # \operatorname{softmax}_{k}: component k
        elif content == "e" and "e" not in self.symbols:
            self.tokens.append(Token("num", sp.E, col, self.text[i:after]))
        else:
            raise ParseError(f"unknown operator name '{content}' at column {col}; known: "
                             f"{', '.join(_OPERATOR_NAMES)}", column=col)
        return after

    def _index(self, i: int) -> int:
        """``_{k}`` after a function name: its first argument, the component index."""
        j = self._skip_space(i)
        if not self.text.startswith("_", j):
            return i
        script, after = self._script(j + 1)
        if not script.strip().isdigit():
            raise ParseError(f"expected a component number after '_' at column {j + 1}",
                             column=j + 1)
        self.tokens.append(Token("index", sp.Integer(int(script)), j + 1, self.text[j:after]))
        return after

    def _delimiter(self, m: re.Match[str]) -> int:
        """``\\left(`` and ``\\right)``; ``\\left.`` opens nothing."""
        name, col = m.group(1), m.start() + 1
        j = self._skip_space(m.end())
        delim = self.text[j:j + 2] if self.text.startswith("\\", j) else self.text[j:j + 1]
        if delim == ".":
            return j + 1
        if delim not in _DELIMITERS:
            raise ParseError(f"\\{name} at column {col} must be followed by a bracket",
                             column=col)
        bracket = _DELIMITERS[delim]
        (self._push if name == "left" else self._pop)(bracket, col, "\\" + name + delim)
        return j + len(delim)


def _token(kind: str, value: Any = None) -> Action:
    """An action emitting one token of ``kind`` whose value is ``value``, or else what the
    match holds (a command's name)."""
    def action(lexer: Lexer, m: re.Match[str]) -> int:
        lexer.tokens.append(Token(kind, m.group(m.lastindex or 0) if value is None else value,
                                  m.start() + 1, m.group()))
        return m.end()
    return action


def _rule(pattern: str, action: Action) -> Rule:
    return Rule(re.compile(pattern), action)


#: Read alike in both syntaxes: white space, numbers (``1e-9`` and ``2.5E+3`` too, which
#: LaTeX would otherwise refuse as two numbers in a row), ``·``, ``−`` and ``σ``, commas.
_COMMON = (_rule(r"[ \t\r\n]+", Lexer._skip),
           _rule(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", Lexer._number),
           _rule("[" + "".join(_UNICODE) + "]", Lexer._unicode),
           _rule(",", _token("comma")))

#: The rules of each syntax, tried in this order at every position.
RULES: dict[str, tuple[Rule, ...]] = {
    "text": _COMMON + (
        _rule(r"[A-Za-z_][A-Za-z0-9_]*", Lexer._name),
        _rule(r"\*\*", _token("op", "^")),
        _rule(r"[-+*/^]", _token("op")),
        _rule(r"[(\[]", Lexer._open),
        _rule(r"[)\]]", Lexer._close),
    ),
    "latex": _COMMON + (
        Rule(re.compile(r"\\([A-Za-z]+|.)", re.S), Lexer._command),
        _rule(r"\\", Lexer._lone_backslash),
        _rule(r"[A-Za-z]", Lexer._letters),
        _rule(r"\^", Lexer._superscript),
        _rule(r"[-+*/]", _token("op")),
        _rule(r"[(\[{]", Lexer._open),
        _rule(r"[)\]}]", Lexer._close),
        _rule(r"_", Lexer._stray_subscript),
    ),
}

#: LaTeX commands by name (after the backslash); a command not here may be one of the
#: catalogue's functions (``\sigma``, ``\tanh``: ``_LATEX_FUNCTIONS``), else it is refused.
COMMANDS: dict[str, Action] = {
    **{name: Lexer._skip for name in _SPACING},
    "cdot": _token("op", "*"), "times": _token("op", "*"),
    "frac": _token("frac"), "dfrac": _token("frac"), "tfrac": _token("frac"),
    "sqrt": _token("sqrt"),
    "delta": Lexer._delta, "pi": Lexer._pi,
    "operatorname": Lexer._operator_name, "mathrm": Lexer._operator_name,
    "left": Lexer._delimiter, "right": Lexer._delimiter,
    "{": Lexer._open, "}": Lexer._close,
}
#: Every LaTeX command the parser understands (the catalogue's as they are at import).
LATEX_COMMANDS = tuple(sorted({*COMMANDS, *_LATEX_FUNCTIONS}))


def tokenize(text: str, symbols: Mapping[str, Symbol], *, latex: bool = False
             ) -> list[Token]:
    """The tokens of ``text``, plain or LaTeX, in the names of ``symbols``."""
    return Lexer(text, symbols, RULES["latex" if latex else "text"]).run()
