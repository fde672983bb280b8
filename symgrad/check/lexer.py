"""The tokenizer of hand-typed maths: plain text and a LaTeX subset become tokens, each
with its column; names are looked up in the network's symbols and :mod:`.tables`."""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

import sympy as sp
from sympy import Symbol

from ..catalogue import ACTIVATIONS
from ..errors import ParseError
from .tables import (_CODE_WORDS, _CONSTANTS, _LATEX_FUNCTIONS, _OPERATOR_NAMES, _SPACING,
                     _UNICODE, FUNCTIONS, LATEX_COMMANDS, MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT)

__all__ = ["Token", "Tokenizer", "OPENERS"]

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"([A-Za-z]+)\d*")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.S)
OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}


def _match(pattern: re.Pattern[str], text: str, at: int) -> re.Match[str]:
    """``pattern`` at ``at``, which the caller has made sure starts a match."""
    m = pattern.match(text, at)
    if m is None:  # unreachable: the first character was checked before the call
        raise ParseError(f"unexpected {_show(text[at])} at column {at + 1}", column=at + 1)
    return m


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


class Tokenizer:
    """Splits text into tokens, resolving names against the symbol table as it goes."""

    def __init__(self, text: str, symbols: Mapping[str, Symbol], latex: bool) -> None:
        self.text = text
        self.symbols = symbols
        self.latex = latex
        self.tokens: list[Token] = []
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
        self.tokens.append(Token("open", ch, column, text or ch))

    def _close(self, ch: str, column: int, text: str | None = None) -> None:
        opener = CLOSERS[ch]
        if not self.stack:
            raise ParseError(f"unmatched '{text or ch}' at column {column}", column=column)
        top, where = self.stack.pop()
        if top != opener:
            raise ParseError(f"'{text or ch}' at column {column} does not match '{top}' opened "
                             f"at column {where}", column=column)
        self.tokens.append(Token("close", ch, column, text or ch))

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
            self.tokens.append(Token("sym", self.symbols[name], column, name))
        elif name in FUNCTIONS:
            self.tokens.append(Token("func", name, column, name))
        elif name in _CONSTANTS:
            self.tokens.append(Token("num", _CONSTANTS[name], column, name))
        else:
            parts = None if name.startswith("_") else self._split(name)
            if parts is None:
                raise self._unknown(name, column)
            offset = column
            for part in parts:
                self.tokens.append(Token("sym", self.symbols[part], offset, part))
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
        self.tokens.append(Token("num", sp.Rational(Fraction(text)), column, text))

    # -- plain text -----------------------------------------------------------------------

    def _shared(self, ch: str, i: int, col: int) -> int | None:
        """What text and LaTeX read alike (white space, a number, the letter σ): the
        position after it, or ``None`` when ``ch`` starts none of them."""
        text = self.text
        if ch in " \t\r\n":
            return i + 1
        if ch.isascii() and (ch.isdigit() or (ch == "." and text[i + 1:i + 2].isdigit())):
            m = _match(_NUMBER, text, i)
            self._number(m.group(), col)
            return m.end()
        if ch == "sigma":
            self.tokens.append(Token("func", "sigma", col, text[i]))
            return i + 1
        return None

    def plain(self) -> list[Token]:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = _UNICODE.get(self.text[i], self.text[i])
            col = i + 1
            shared = self._shared(ch, i, col)
            if shared is not None:
                i = shared
            elif ch.isascii() and (ch.isalpha() or ch == "_"):
                m = _match(_NAME, text, i)
                self._name(m.group(), col)
                i = m.end()
            elif text.startswith("**", i):
                self.tokens.append(Token("op", "^", col, "**"))
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
            self.tokens.append(Token("op", ch, col, raw))
        elif ch in openers:
            self._open(ch, col)
        elif ch in closers:
            self._close(ch, col)
        elif ch == ",":
            self.tokens.append(Token("comma", ",", col, ","))
        else:
            return False
        return True

    def _finish(self) -> list[Token]:
        if self.stack:
            ch, where = self.stack[-1]
            raise ParseError(f"'{ch}' opened at column {where} is never closed", column=where)
        self.tokens.append(Token("end", None, len(self.text) + 1, "end of input"))
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
            self.tokens.append(Token("sym", self.symbols[name], column, shown))
        elif name in _CONSTANTS:
            self.tokens.append(Token("num", _CONSTANTS[name], column, shown))
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
            self.tokens.append(Token("func", run, col, run))
            return m.end()
        if len(word) > 1 and word in self.symbols:  # a2, x1, delta2 typed as in plain text
            self.tokens.append(Token("sym", self.symbols[word], col, word))
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
            self.tokens.append(Token("op", "*", col, m.group()))
        elif name in ("frac", "dfrac", "tfrac"):
            self.tokens.append(Token("frac", name, col, m.group()))
        elif name == "sqrt":
            self.tokens.append(Token("sqrt", name, col, m.group()))
        elif name in _LATEX_FUNCTIONS:
            self.tokens.append(Token("func", _LATEX_FUNCTIONS[name], col, m.group()))
        elif name == "delta":
            return self._latex_symbol("delta", i, end)
        elif name == "pi":  # the network's symbol of that name, if it has one
            if "pi" in self.symbols:
                self.tokens.append(Token("sym", self.symbols["pi"], col, m.group()))
            else:
                self.tokens.append(Token("num", sp.pi, col, m.group()))
        elif name in ("operatorname", "mathrm"):
            content, after = self._braced(end, "\\" + name)
            content = content.strip()
            if content in _OPERATOR_NAMES:
                self.tokens.append(Token("func", _OPERATOR_NAMES[content], col,
                                          self.text[i:after]))
                entry = ACTIVATIONS.get(_OPERATOR_NAMES[content])
                if entry is not None and not entry.elementwise:
                    return self._index(after)  # \operatorname{softmax}_{k}: component k
            elif content == "e" and "e" not in self.symbols:
                self.tokens.append(Token("num", sp.E, col, self.text[i:after]))
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
        self.tokens.append(Token("index", sp.Integer(int(script)), j + 1, self.text[j:after]))
        return after

    def latex_tokens(self) -> list[Token]:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = _UNICODE.get(text[i], text[i])
            col = i + 1
            shared = self._shared(ch, i, col)
            if shared is not None:
                i = shared
            elif ch == "\\":
                i = self._command(i)
            elif ch.isascii() and ch.isalpha():
                i = self._letters(i)
            elif ch == "^":
                self.tokens.append(Token("op", "^", col, "^"))
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
