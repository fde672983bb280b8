"""`symgrad check`: exit 0 when equal, 1 when not, 2 on bad input; text, table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symgrad.cli import main

from .conftest import DERIVATIONS, run_cli

TWO = DERIVATIONS / "two_neuron.toml"
HAND = DERIVATIONS / "two_neuron_hand.toml"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_equal_exits_0() -> None:
    r = run_cli("check", TWO, "--wrt", "w2", "--expr", "-(T - a2)*a2*(1 - a2)*a1")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "dE/dw2: equal. Your expression equals dE/dw2 (symbolic: identical).\n"


def test_sign_error_exits_1_with_a_counterexample() -> None:
    r = run_cli("check", TWO, "--wrt", "w2", "--expr", "(T - a2)*a2*(1 - a2)*a1")
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "dE/dw2: not equal. Your expression is the negative of dE/dw2 (sign error: dE/da2 = "
        "-(T - a2)).",
        "  counterexample: x1=0.1, w1=0.15, b1=0.4, w2=0.45, b2=0.65, T=0.25, z1=0.415, "
        "a1=0.602286, z2=0.921029, a2=0.715252",
        "  yours=-0.0570704, symbolic=0.0570704",
    ]


def test_latex_missing_factor_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # the expression starts with a minus and has no space: still read as the value
    status, out, err = _run(capsys, TWO, "--wrt", "w2", "--latex-expr", r"-(T-a_2)\,a_2(1-a_2)")
    assert (status, err) == (1, "")
    assert out.splitlines()[0] == ("dE/dw2: not equal. Your expression is missing the factor "
                                   "a1 (dz2/dw2).")


def test_equal_almost_everywhere_exits_0(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "relu.toml"
    spec.write_text('[network]\ninputs = 1\nlayers = [{ units = 1, activation = "relu" }, '
                    '{ units = 1, activation = "sigmoid" }]\nloss = "half_sse"\n')
    status, out, _ = _run(capsys, spec, "--wrt", "w1", "--expr",
                          "-(T - a2) a2 (1 - a2) w2 max(0, z1)/z1 x1")
    assert status == 0
    assert out.startswith("dE/dw1: equal almost everywhere. ")


def test_file_prints_a_table_of_verdicts() -> None:
    r = run_cli("check", TWO, "--file", HAND)
    assert r.returncode == 0  # deliberate mistakes, each as its row's `expect` says
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "line", "wrt", "verdict", "mistake", "expected", "as",
                                "expected"]
    assert lines[1].split() == ["1", "13", "w2", "equal", "-", "equal", "yes"]
    assert lines[7].split() == ["7", "51", "w2", "not", "equal", "sign", "sign", "yes"]
    assert lines[12].split() == ["12", "81", "w1", "not", "equal", "layer_index",
                                 "layer_index", "yes"]
    assert sum(line.endswith(" yes") for line in lines[1:13]) == 12
    assert "9. dE/dw2: Your expression is missing the factor a1 (dz2/dw2)." in lines
    assert "   note: dz2/dw2 = a1 left out" in lines


def test_file_of_correct_entries_exits_0(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    hand = tmp_path / "good_hand.toml"
    hand.write_text('[[gradient]]\nwrt = "b2"\nexpr = "delta2"\n\n'
                    '[[gradient]]\nwrt = "b1"\nlatex = \'\\delta_1\'\n')
    status, out, _ = _run(capsys, TWO, "--file", hand)
    assert status == 0
    assert [line.split()[3] for line in out.splitlines()[1:3]] == ["equal", "equal"]


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, TWO, "--wrt", "w2", "--expr", "-2 (T - a2) a2 (1 - a2) a1",
                          "--json")
    assert status == 1
    [result] = json.loads(out)
    assert result["wrt"] == "w2"
    assert result["verdict"] == "not equal"
    assert result["kind"] == "constant_factor"
    assert result["yours"] == "-2*a1*a2*(1 - a2)*(T - a2)"
    assert result["symbolic"] == "a1*a2*(1 - a2)*(a2 - T)"
    assert result["counterexample"]["w2"] == 0.45
    assert result["yours_value"] == pytest.approx(2 * 0.0570703982010549, rel=1e-10)
    assert result["diagnosis_latex"].startswith(r"Your expression is $2$ times "
                                                r"$\frac{\partial E}{\partial w_{2}}$")


def test_json_of_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, TWO, "--file", HAND, "--json")
    results = json.loads(out)
    assert status == 0  # every row as its `expect` says
    assert [r["expected"] for r in results] == [r["kind"] or r["verdict"] for r in results]
    assert all(r["as_expected"] for r in results)


BAD = [
    (["--wrt", "w9", "--expr", "a1"], "symgrad check: error: --wrt: unknown parameter or "
                                      "quantity 'w9'; known: parameters (w1, b1, w2, b2), "
                                      "inputs (x1), pre-activations (z1, z2), activations (a1, "
                                      "a2), error signals, aliases of dE/dz (delta1, delta2)"),
    (["--expr", "a1"], "symgrad check: error: --wrt P is needed with --expr or --latex-expr"),
    (["--wrt", "w2", "--file", str(HAND)],
     "symgrad check: error: --wrt goes with --expr or --latex-expr; --file names its parameters"),
    (["--wrt", "w2", "--expr", "a1 +"],
     "symgrad check: error: --expr: unexpected end of input at column 5 (expected a number, "
     "a symbol, a function or '(')"),
    (["--wrt", "w2", "--latex-expr", r"\def\x{1}"],
     r"symgrad check: error: --latex-expr: LaTeX command '\def' at column 1 is not allowed; "
     r"allowed: \cdot, \delta, \dfrac, \exp, \frac, \left, \ln, \log, \mathrm, \max, "
     r"\operatorname, \pi, \qquad, \quad, \right, \sigma, \sqrt, \tanh, \tfrac, \theta, "
     r"\times"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_exits_2_with_one_line(args: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, TWO, *args)
    assert (status, out, err) == (2, "", message + "\n")


def test_missing_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, tmp_path / "none.toml", "--wrt", "w2", "--expr", "a1")
    assert status == 2
    assert err == (f"symgrad check: error: {tmp_path / 'none.toml'}: cannot read the file: "
                   "No such file or directory\n")


def test_no_input_is_a_usage_error() -> None:
    r = run_cli("check", TWO, "--wrt", "w2")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == ("symgrad check: error: one of the arguments --expr "
                                         "--latex-expr --file is required")


def test_a_difference_float64_cannot_see_exits_1_with_the_digits_that_differ() -> None:
    r = run_cli("check", TWO, "--wrt", "w2", "--expr", "1.000000000001*(a2 - T)*a2*(1 - a2)*a1")
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "dE/dw2: not equal. Your expression is (1 + 1e-12) times dE/dw2: a relative "
        "difference of 1e-12 (30-digit values differ at 6 of 6 points; float64 values agree "
        "to 1e-7, which hides it).",
        "  counterexample: x1=0.1, w1=0.15, b1=0.4, w2=0.45, b2=0.65, T=0.25, z1=0.415, "
        "a1=0.602286, z2=0.921029, a2=0.715252",
        "  yours=0.057070398201112, symbolic=0.057070398201055",
    ]


def test_numerically_equal_says_on_what_it_rests(capsys: pytest.CaptureFixture[str]) -> None:
    # sqrt(a1^2) is a1 for a sigmoid's a1 > 0, which SymPy does not know of the symbol a1
    status, out, _ = _run(capsys, TWO, "--wrt", "w2", "--expr",
                          "-(T - a2) a2 (1 - a2) sqrt(a1^2)", "--json")
    assert status == 0
    [r] = json.loads(out)
    assert (r["verdict"], r["summary"]) == ("numerically equal",
                                            "numerically equal at 33 points within 1e-7")
    status, out, _ = _run(capsys, TWO, "--wrt", "w2", "--expr",
                          "-(T - a2) a2 (1 - a2) sqrt(a1^2)")
    assert status == 0
    assert out == ("dE/dw2: numerically equal at 33 points within 1e-7. Your expression "
                   "equals dE/dw2 numerically, at 33 points within 1e-7 relative (and at 6 "
                   "of them to 20 digits); SymPy found no proof within the time budget.\n")


def test_file_exits_1_when_a_row_is_not_as_expected(tmp_path) -> None:
    hand = tmp_path / "hand.toml"
    hand.write_text('[[gradient]]\nwrt = "w2"\nexpr = "(T - a2)*a2*(1 - a2)*a1"\n'
                    'expect = "equal"\n'
                    '[[gradient]]\nwrt = "w2"\nexpr = "(T - a2)*a2*(1 - a2)*a1"\n'
                    'expect = "sign"\n')
    r = run_cli("check", TWO, "--file", hand)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[1].split()[-1] == "NO" and lines[2].split()[-1] == "yes"
