"""The tokenizer: one engine over a table of rules per syntax, linear in the text."""

from __future__ import annotations

from typing import Iterator, Mapping

import pytest
import sympy as sp
from sympy import Symbol

from symgrad.check.lexer import COMMANDS, LATEX_COMMANDS, RULES, Lexer, tokenize
from symgrad.check.parse import parse
from symgrad.errors import ParseError
from symgrad.network import load

from .conftest import DERIVATIONS

TWO = load(DERIVATIONS / "two_neuron.toml")
S = TWO.symbols


def _seen(text: str, latex: bool = False) -> list[tuple[str, object, int, str]]:
    return [(t.kind, t.value, t.column, t.text) for t in tokenize(text, S, latex=latex)]


def test_one_engine_two_tables() -> None:
    assert set(RULES) == {"text", "latex"}
    assert Lexer(r"a_2", S, RULES["latex"]).run()[0].value == S["a2"]
    # what the two read alike comes first in both tables, as the same rows
    assert RULES["text"][:4] == RULES["latex"][:4]
    assert set(COMMANDS) < set(LATEX_COMMANDS)


def test_text_tokens_with_columns() -> None:
    assert _seen("2a1x1 ** 2·σ(z1), 1e-9") == [
        ("num", 2, 1, "2"), ("sym", S["a1"], 2, "a1"), ("sym", S["x1"], 4, "x1"),
        ("op", "^", 7, "**"), ("num", 2, 10, "2"), ("op", "*", 11, "·"),
        ("func", "sigma", 12, "σ"), ("open", "(", 13, "("), ("sym", S["z1"], 14, "z1"),
        ("close", ")", 16, ")"), ("comma", ",", 17, ","),
        ("num", sp.Rational(1, 10**9), 19, "1e-9"), ("end", None, 23, "end of input")]


def test_latex_tokens_with_columns() -> None:
    assert _seen(r"\frac{a_1}{2}\left(\delta_2\right)\,\sigma", latex=True) == [
        ("frac", "frac", 1, r"\frac"), ("open", "{", 6, "{"), ("sym", S["a1"], 7, "a_1"),
        ("close", "}", 10, "}"), ("open", "{", 11, "{"), ("num", 2, 12, "2"),
        ("close", "}", 13, "}"), ("open", "(", 14, r"\left("),
        ("sym", S["delta2"], 20, r"\delta_2"), ("close", ")", 28, r"\right)"),
        ("func", "sigmoid", 37, r"\sigma"), ("end", None, 43, "end of input")]


def test_only_ascii_digits_make_numbers() -> None:
    # '\d' also matches U+0663; the old tokenizer read "1\u0663" as 13
    with pytest.raises(ParseError) as info:
        parse("1\u0663", TWO)
    assert str(info.value) == "unexpected character U+0663 (ARABIC-INDIC DIGIT THREE) at " \
                              "column 2"


class _Counting(Mapping[str, Symbol]):
    """A symbol table that counts the lookups made in it: the tokenizer's work."""

    def __init__(self, table: Mapping[str, Symbol]) -> None:
        self.table = dict(table)
        self.lookups = 0

    def __getitem__(self, name: str) -> Symbol:
        self.lookups += 1
        return self.table[name]

    def __contains__(self, name: object) -> bool:
        self.lookups += 1
        return name in self.table

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


def _lookups(text: str, latex: bool) -> int:
    table = _Counting(S)
    try:
        tokenize(text, table, latex=latex)
    except ParseError:
        pass
    return table.lookups


JUXTAPOSED = [
    ("a1a1...a1q", False, lambda n: ("a1" * n)[:n - 1] + "q"),
    ("a1x1a1x1...", False, lambda n: ("a1x1" * n)[:n]),
    ("TTT... (LaTeX)", True, lambda n: "T" * n),
    ("a_1a_1... (LaTeX)", True, lambda n: ("a_1" * n)[:n]),
]


@pytest.mark.parametrize("name, latex, make", JUXTAPOSED, ids=[j[0] for j in JUXTAPOSED])
def test_work_grows_linearly_with_a_run_of_symbols(name: str, latex: bool, make) -> None:
    """Counted in symbol lookups: 8 times the text, about 8 times the work (the old split
    looked up every prefix of the rest of the run: 250,002 lookups at 1,000 characters of
    a1a1...a1q, 16,000,002 at 8,000)."""
    small, large = _lookups(make(1000), latex), _lookups(make(8000), latex)
    assert large < 9 * small  # affine in the length: 8.03 here; quadratic work: 64


LONG = 5000


def test_a_run_of_5000_characters_parses() -> None:
    assert parse("a1x1" * (LONG // 4), TWO) == S["a1"]**1250 * S["x1"]**1250
    assert parse("T" * LONG, TWO, latex=True) == S["T"]**LONG
    assert parse("a1 " * (LONG // 3), TWO) == S["a1"]**(LONG // 3)


def test_a_run_of_5000_characters_with_an_unknown_name_is_refused() -> None:
    with pytest.raises(ParseError) as info:
        parse(("a1" * LONG)[:LONG - 1] + "q", TWO)
    assert str(info.value).startswith(
        "unknown name 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a...' at column 1; the network's "
        "symbols are: x1, w1")
