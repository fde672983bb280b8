"""Hostile and broken input: each one a clear one-line error, exit status 2, no side effect.

Every entry of the corpus is fed to the parser and to ``symgrad check`` (in-process, and
for the injections also in a subprocess as a user would run it). An injection would
create a canary file; it must never appear. No entry may raise RecursionError or print
a traceback. Times are measured by benchmarks/hostile_inputs.py, not here; the
subprocess timeout is only a guard against a hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from symgrad.cli import main
from symgrad.derive import derive
from symgrad.errors import CheckError, ParseError
from symgrad.network import load
from symgrad.check.parse import parse
from symgrad.check import check_file

from .conftest import DERIVATIONS, run_cli

TWO_PATH = DERIVATIONS / "two_neuron.toml"
TWO = load(TWO_PATH)
CANARY = "CANARY"  # replaced by the absolute path of a canary file in each test

_LATEX_ALLOWED = (r"\cdot, \delta, \dfrac, \exp, \frac, \left, \ln, \log, \mathrm, \max, "
                  r"\operatorname, \pi, \qquad, \quad, \right, \sigma, \sqrt, \tanh, \tfrac, "
                  r"\theta, "
                  r"\times")
_LOOKALIKE = "is not allowed: only ASCII letters name symbols (a look-alike of a Latin letter?)"

#: (id, text, LaTeX?, the exact error message).
CORPUS: list[tuple[str, str, bool, str]] = [
    # code injection
    ("import-call", "__import__('os').system('touch CANARY')", False,
     "unexpected '__import__' at column 1"),
    ("import-after-sum", "2 + __import__('os').system('touch CANARY')", False,
     "unexpected '__import__' at column 5"),
    ("dunder-chain", "().__class__.__bases__[0].__subclasses__()", False,
     "unexpected '.' at column 3"),
    ("attribute", "a1.__class__", False, "unexpected '.' at column 3"),
    ("lambda", "lambda: 0", False, "unexpected 'lambda' at column 1"),
    ("lambda-called", "(lambda: __import__('os'))()", False,
     "unexpected 'lambda' at column 2"),
    ("f-string", "f'{__import__(\"os\").system(\"touch CANARY\")}'", False,
     "unknown name 'f' at column 1; the network's symbols are: x1, w1, b1, z1, a1, delta1, "
     "w2, b2, z2, a2, delta2, T; functions: sigmoid, sigma, logistic, tanh, relu, ReLU, "
     "softmax, binary_step, step, linear, identity, leaky_relu, elu, softplus, silu, swish, "
     "gelu, exp, log, ln, heaviside, Heaviside, max, sqrt, erf"),
    ("eval", "eval('1')", False, "unexpected 'eval' at column 1"),
    ("exec", "exec('import os')", False, "unexpected 'exec' at column 1"),
    ("open", "open('/etc/passwd').read()", False, "unexpected 'open' at column 1"),
    ("import-statement", "import os", False, "unexpected 'import' at column 1"),
    ("semicolon", "a1; import os", False, "unexpected ';' at column 3"),
    ("conditional", "a1 if a2 else x1", False, "unexpected 'if' at column 4"),
    ("globals", "globals()['os']", False, "unexpected 'globals' at column 1"),
    ("getattr", "getattr(a1, 'x')", False, "unexpected 'getattr' at column 1"),
    ("underscore", "_", False, "unexpected '_' at column 1"),
    ("matmul", "a1 @ a2", False, "unexpected '@' at column 4"),
    ("backticks", "`touch CANARY`", False, "unexpected '`' at column 1"),
    ("shell", "$(touch CANARY)", False, "unexpected '$' at column 1"),
    ("string", "\"a1\"", False, "unexpected '\"' at column 1"),
    ("comment", "a1 # comment", False, "unexpected '#' at column 4"),
    ("keyword-and", "x1 and a1", False, "unexpected 'and' at column 4"),
    # size
    ("power-tower", "9^9^9^9", False,
     "exponent 387420489 at column 4 is too large (the limit is 100)"),
    ("power-tower-stars", "9**9**9**9", False,
     "exponent 387420489 at column 5 is too large (the limit is 100)"),
    ("huge-exponent", "2^10000", False, "exponent 10000 at column 3 is larger than 100"),
    ("nested-100k", "(" * 100_000 + "a1" + ")" * 100_000, False,
     "expression is 200002 characters long; the limit is 5000"),
    ("nested-60", "(" * 60 + "a1" + ")" * 60, False,
     "brackets nested deeper than 50 levels at column 51"),
    ("minus-60", "-" * 60 + "a1", False, "expression nested deeper than 50 levels at column 51"),
    ("power-chain-60", "a1^" * 60 + "a1", False,
     "expression nested deeper than 50 levels at column 153"),
    ("ten-megabytes", "a1" * 5_000_000, False,
     "expression is 10000000 characters long; the limit is 5000"),
    ("long-number", "1" * 40, False, "number at column 1 has 40 digits; the limit is 30"),
    ("nested-calls", "exp(" * 60 + "a1" + ")" * 60, False,
     "brackets nested deeper than 50 levels at column 204"),
    # characters
    ("nul", "a1\x00", False, "character U+0000 at column 3 is not allowed"),
    ("only-nul", "\x00" * 10, False, "character U+0000 at column 1 is not allowed"),
    ("cyrillic-a", "\u0430" + "1", False,
     f"character U+0430 (CYRILLIC SMALL LETTER A) at column 1 {_LOOKALIKE}"),
    ("greek-tau", "\u03a4 - a2", False,
     f"character U+03A4 (GREEK CAPITAL LETTER TAU) at column 1 {_LOOKALIKE}"),
    ("fullwidth-a", "\uff41" + "1", False,
     f"character U+FF41 (FULLWIDTH LATIN SMALL LETTER A) at column 1 {_LOOKALIKE}"),
    ("fullwidth-digit", "a1 + \uff11", False,
     "unexpected character U+FF11 (FULLWIDTH DIGIT ONE) at column 6"),
    ("zero-width-space", "a1\u200b", False,
     "character U+200B (ZERO WIDTH SPACE) at column 3 is not allowed"),
    ("rtl-override", "a1\u202e", False,
     "character U+202E (RIGHT-TO-LEFT OVERRIDE) at column 3 is not allowed"),
    ("byte-order-mark", "\ufeffa1", False,
     "character U+FEFF (ZERO WIDTH NO-BREAK SPACE) at column 1 is not allowed"),
    # empty and unbalanced
    ("empty", "", False, "empty expression"),
    ("blank", " \t ", False, "empty expression"),
    ("empty-brackets", "()", False,
     "unexpected ')' at column 2 (expected a number, a symbol, a function or '(')"),
    ("unclosed", "((a1)", False, "'(' opened at column 1 is never closed"),
    ("unopened", "a1)", False, "unmatched ')' at column 3"),
    ("open-call", "sigma(", False, "'(' opened at column 6 is never closed"),
    ("crossed", "(a1]", False, "']' at column 4 does not match '(' opened at column 1"),
    # LaTeX that does not belong
    ("latex-input", r"\input{/etc/passwd}", True,
     rf"LaTeX command '\input' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-def", r"\def\x{1}", True,
     rf"LaTeX command '\def' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-write18", r"\write18{touch CANARY}", True,
     rf"LaTeX command '\write' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-immediate", r"\immediate\write18{rm -rf /}", True,
     rf"LaTeX command '\immediate' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-include", r"a_1 + \include{x}", True,
     rf"LaTeX command '\include' at column 7 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-catcode", r"\catcode`\^=11", True,
     rf"LaTeX command '\catcode' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-newcommand", r"\newcommand{\x}{1}", True,
     rf"LaTeX command '\newcommand' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-verb", r"\verb|x|", True,
     rf"LaTeX command '\verb' at column 1 is not allowed; allowed: {_LATEX_ALLOWED}"),
    ("latex-unclosed-frac", r"\frac{a_1}{", True, "'{' opened at column 11 is never closed"),
    ("latex-dangling-subscript", r"a_", True, "expected a subscript at column 3"),
    ("latex-unclosed-left", r"\left( a_1", True, "'(' opened at column 1 is never closed"),
    ("latex-lone-backslash", "\\", True, "a lone '\\' at column 1"),
    ("latex-dollars", r"$a_1$", True, "unexpected '$' at column 1"),
    ("latex-nul", "a_1\x00", True, "character U+0000 at column 4 is not allowed"),
    ("latex-nested-braces", "{" * 60 + "a_1" + "}" * 60, True,
     "brackets nested deeper than 50 levels at column 51"),
]


def _text(source: str, canary: Path) -> str:
    return source.replace(CANARY, str(canary))


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "an injection created the canary file"


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    assert len({entry[0] for entry in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("source, is_latex, message", [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])
def test_parser_refuses_with_a_clear_error(source: str, is_latex: bool, message: str,
                                           canary: Path) -> None:
    with pytest.raises(ParseError) as info:
        parse(_text(source, canary), TWO, latex=is_latex)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("source, is_latex, message", [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])
def test_cli_exits_2_with_one_line(source: str, is_latex: bool, message: str, canary: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    flag = "--latex-expr" if is_latex else "--expr"
    status = main(["check", str(TWO_PATH), "--wrt", "w2", f"{flag}={_text(source, canary)}"])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err == f"symgrad check: error: {flag}: {message}\n"


#: In a real process too (each run costs a Python start-up, so only two of them).
INJECTIONS = [c for c in CORPUS if c[0] in ("import-after-sum", "latex-write18")]


@pytest.mark.parametrize("source, is_latex, message", [c[1:] for c in INJECTIONS],
                         ids=[c[0] for c in INJECTIONS])
def test_injection_in_a_real_process_has_no_side_effect(source: str, is_latex: bool,
                                                       message: str, canary: Path,
                                                       tmp_path: Path) -> None:
    flag = "--latex-expr" if is_latex else "--expr"
    r = run_cli("check", TWO_PATH, "--wrt", "w2", flag, _text(source, canary), cwd=tmp_path,
                timeout=10)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr == f"symgrad check: error: {flag}: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_ten_megabytes_in_a_hand_file(tmp_path: Path) -> None:
    hand = tmp_path / "big_hand.toml"
    hand.write_text('[[gradient]]\nwrt = "w2"\nexpr = "' + "a1" * 5_000_000 + '"\n')
    r = run_cli("check", TWO_PATH, "--file", hand, timeout=10)
    assert r.returncode == 2
    assert r.stderr == (f"symgrad check: error: {hand}: the file has 10000034 bytes; the "
                        "limit for a file of hand derivations is 1000000\n")


def test_a_long_expression_in_a_hand_file_names_the_line(tmp_path: Path) -> None:
    hand = tmp_path / "long_hand.toml"
    hand.write_text('[[gradient]]\nwrt = "w2"\nexpr = "' + "a1" * 3000 + '"\n')
    with pytest.raises(CheckError) as info:
        check_file(derive(TWO), hand)
    assert str(info.value) == (f"{hand}:3: field 'gradient[0].expr': expression is 6000 "
                               "characters long; the limit is 5000")


def test_injection_in_a_hand_file(tmp_path: Path, canary: Path) -> None:
    hand = tmp_path / "evil_hand.toml"
    hand.write_text('[[gradient]]\nwrt = "w2"\nnote = "x"\n'
                    f"expr = \"__import__('os').system('touch {canary}')\"\n")
    r = run_cli("check", TWO_PATH, "--file", hand, cwd=tmp_path, timeout=10)
    assert r.returncode == 2
    assert r.stderr == (f"symgrad check: error: {hand}:4: field 'gradient[0].expr': "
                        "unexpected '__import__' at column 1\n")
