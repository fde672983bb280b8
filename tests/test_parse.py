"""The safe parser: plain math and LaTeX into SymPy, and the errors that name the column."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy import Heaviside, Max, Rational, exp, log, sqrt, tanh

from symgrad.catalogue import binary_step, elu, gelu, leaky_relu, relu, sigmoid, silu, softmax
from symgrad.derive import derive
from symgrad.errors import ParseError
from symgrad.network import Dense, Network, load
from symgrad.check.parse import MAX_DEPTH, parse, parse_expression
from symgrad.printing import latex, text

from .conftest import DERIVATIONS, SPECS

TWO = load(DERIVATIONS / "two_neuron.toml")
MLP = load(DERIVATIONS / "small_mlp.toml")
x1, w1, b1, z1, a1, d1, w2, b2, z2, a2, d2, T = (TWO.symbols[n] for n in (
    "x1", "w1", "b1", "z1", "a1", "delta1", "w2", "b2", "z2", "a2", "delta2", "T"))
M = MLP.symbols

#: (plain text, the expression it means), in the two-neuron network's names.
PLAIN = [
    ("-(T - a2)*a2*(1 - a2)*a1", -(T - a2) * a2 * (1 - a2) * a1),
    ("-(T - a2) a2(1 - a2) a1", -(T - a2) * a2 * (1 - a2) * a1),
    ("2x1", 2 * x1),
    ("a1x1", a1 * x1),
    ("a2^2", a2**2),
    ("a2**2", a2**2),
    ("2^3^2", sp.Integer(512)),
    ("-a1^2", -(a1**2)),
    ("a1/a2/2", a1 / (2 * a2)),
    ("0.5 a1", a1 / 2),
    (".25", Rational(1, 4)),
    ("[a1 + 1] a2", (a1 + 1) * a2),
    ("sigma(z2)", sigmoid(z2)),
    ("sigmoid(z2)", sigmoid(z2)),
    ("σ(z2)", sigmoid(z2)),
    ("exp(-z1)", exp(-z1)),
    ("e^(-z1)", exp(-z1)),
    ("log(a1) + ln(a2)", log(a1) + log(a2)),
    ("tanh(z1)", tanh(z1)),
    ("relu(z1)", relu(z1)),
    ("max(0, z1)", Max(0, z1)),
    ("heaviside(z1)", Heaviside(z1, 0)),
    ("sqrt(a1)", sqrt(a1)),
    ("a1 · a2 − x1", a1 * a2 - x1),
    ("delta2 w2 a1(1 - a1)", d2 * w2 * a1 * (1 - a1)),
    ("+b1 - -b2", b1 + b2),
    ("1e-9 a1", a1 / 10**9),  # scientific notation, as an exact number
    ("2.5E+3", sp.Integer(2500)),
    ("(a1 + 0.000000001) - 1.5e2x1", a1 + Rational(1, 10**9) - 150 * x1),
    ("a2^1e1", a2**10),
]

#: (LaTeX, the expression it means).
LATEX = [
    ("a_2", a2), ("a_{2}", a2), ("a2", a2), ("T", T),
    (r"\sigma(z_2)", sigmoid(z2)),
    (r"\sigma\left(z_{2}\right)", sigmoid(z2)),
    (r"\frac{1}{2}(T - a_2)^2", (T - a2)**2 / 2),
    (r"\dfrac{a_1}{a_2}", a1 / a2),
    (r"a_2 \cdot (1 - a_2)", a2 * (1 - a2)),
    (r"a_2 \times a_1", a2 * a1),
    (r"-(T-a_2)\,a_2(1-a_2)\,a_1", -(T - a2) * a2 * (1 - a2) * a1),
    (r"-\left(T - a_2\right)\; a_2 \left(1 - a_2\right)", -(T - a2) * a2 * (1 - a2)),
    (r"e^{-z_1}", exp(-z1)),
    (r"\exp(-z_1)", exp(-z1)),
    (r"\sqrt{a_1}", sqrt(a1)),
    (r"\delta_2 w_2", d2 * w2),
    (r"x_1^2", x1**2),
    (r"a_2^{2}", a2**2),
    (r"a_2^23", 3 * a2**2),  # without braces a superscript is one character
    (r"\operatorname{ReLU}(z_1)", relu(z1)),
    (r"\left[ a_1 + 1 \right] a_2", (a1 + 1) * a2),
    (r"\ln(a_1) + \log(a_2)", log(a1) + log(a2)),
    (r"\tanh(z_1)", tanh(z1)),
    (r"\max(0, z_1)", Max(0, z1)),
    (r"\mathrm{e}^{z_1}", exp(z1)),
    (r"2.5\times10^{-3} a_1", a1 / 400),
    (r"2.5 \cdot 10^{-3}", Rational(1, 400)),
    (r"1e-9 a_1", a1 / 10**9),  # two numbers in a row otherwise: read as in plain text
]

#: LaTeX of a wider network, where layer, unit and input index all appear.
WIDE_LATEX = [
    (r"w^{(2)}_{1,3}", M["w2_1_3"]),
    (r"w_{1,3}^{(2)}", M["w2_1_3"]),
    (r"w_{2,1,3}", M["w2_1_3"]),
    (r"a^{(1)}_{3}", M["a1_3"]),
    (r"\delta^{(2)}_{1}", M["delta2_1"]),
    (r"T_1 - a^{(2)}_1", M["T1"] - M["a2_1"]),
    (r"x_2", M["x2"]),
]


@pytest.mark.parametrize("source, expected", PLAIN, ids=[p[0] for p in PLAIN])
def test_plain_text(source: str, expected: sp.Expr) -> None:
    assert parse(source, TWO) == expected


@pytest.mark.parametrize("source, expected", LATEX, ids=[p[0] for p in LATEX])
def test_latex(source: str, expected: sp.Expr) -> None:
    assert parse(source, TWO, latex=True) == expected


@pytest.mark.parametrize("source, expected", WIDE_LATEX, ids=[p[0] for p in WIDE_LATEX])
def test_latex_of_a_wide_network(source: str, expected: sp.Expr) -> None:
    assert parse(source, MLP, latex=True) == expected


def test_plain_names_of_a_wide_network() -> None:
    assert parse("w2_1_3*a1_3 + delta2_1", MLP) == M["w2_1_3"] * M["a1_3"] + M["delta2_1"]


def test_symbols_are_the_networks_own() -> None:
    expr = parse("a1 + w2", TWO)
    assert expr.free_symbols == {TWO.symbols["a1"], TWO.symbols["w2"]}


def _networks() -> list[Network]:
    nets = [load(p) for p in SPECS]
    nets.append(Network(2, [Dense(2, "relu"), Dense(1, "sigmoid")], "half_sse"))
    return nets


@pytest.mark.parametrize("net", _networks(), ids=lambda n: repr(n))
def test_every_printed_gradient_parses_back(net: Network) -> None:
    """What symgrad prints (text, and LaTeX without kinks) reads back as the same expression."""
    d = derive(net)
    for name, g in d.items():
        assert parse(text(g.factored), net) == g.factored, name
        if not g.factored.has(sp.Heaviside):  # SymPy prints Heaviside as \theta
            assert parse(latex(g.factored, net), net, latex=True) == g.factored, name


#: (text, latex?, the exact message) for bad input.
ERRORS = [
    ("2 + __import__('os')", False, "unexpected '__import__' at column 5"),
    ("a1 +", False, "unexpected end of input at column 5 (expected a number, a symbol, "
                    "a function or '(')"),
    ("a1 * * a2", False, "unexpected '*' at column 6 (expected a number, a symbol, a "
                         "function or '(')"),
    ("(a1 + a2", False, "'(' opened at column 1 is never closed"),
    ("a1 + a2)", False, "unmatched ')' at column 8"),
    ("(a1]", False, "']' at column 4 does not match '(' opened at column 1"),
    ("sigma(a1, a2)", False, "'sigma' at column 1 takes 1 argument, got 2"),
    ("max(a1)", False, "'max' at column 1 takes 2 to 8 arguments, got 1"),
    ("sigma a1", False, "unexpected 'a1' at column 7 (expected '(' after 'sigma')"),
    ("a1 / 0", False, "division by zero at column 4"),
    ("2 3", False, "unexpected '3' at column 3 (expected an operator between two numbers)"),
    ("a1 = a2", False, "unexpected '=' at column 4"),
    ("a1^1000", False, "exponent 1000 at column 4 is larger than 100"),
    ("a1^1e3", False, "exponent 1e3 at column 4 is larger than 100"),
    ("1e101 a1", False, "number 1e101 at column 1 has an exponent outside -100..100"),
    (r"1E-101", True, "number 1E-101 at column 1 has an exponent outside -100..100"),
    ("2e", False, "unexpected 'e' at column 2 (expected an operator between two numbers)"),
    ("a1^(1/1000)", False, "exponent 1/1000 at column 3 is too large (the limit is 100)"),
    ("a1^sqrt(2)", False, "the exponent at column 3 must be a rational number or contain "
                          "a symbol"),
    ("", False, "empty expression"),
    ("   ", False, "empty expression"),
    (r"\input{x}", True, r"LaTeX command '\input' at column 1 is not allowed; allowed: "
                         r"\cdot, \delta, \dfrac, \exp, \frac, \left, \ln, \log, \mathrm, "
                         r"\max, \operatorname, \pi, \qquad, \quad, \right, \sigma, \sqrt, "
                         r"\tanh, \tfrac, \theta, \times"),
    (r"\frac{1}", True, "unexpected end of input at column 9 (expected '{' after '\\frac')"),
    (r"a_{3}", True, "unknown name 'a_{3}' at column 1; the network's symbols are: x1, w1, "
                     "b1, z1, a1, delta1, w2, b2, z2, a2, delta2, T; functions: sigmoid, "
                     "sigma, logistic, tanh, relu, ReLU, softmax, binary_step, step, linear, "
                     "identity, leaky_relu, elu, softplus, silu, swish, gelu, exp, log, ln, "
                     "heaviside, Heaviside, max, sqrt, erf"),
    (r"\operatorname{foo}(z_1)", True, "unknown operator name 'foo' at column 1; known: "
                                       "sigmoid, sigma, logistic, tanh, ReLU, relu, softmax, "
                                       "step, binary_step, linear, identity, LeakyReLU, "
                                       "leaky_relu, ELU, elu, softplus, SiLU, silu, swish, GELU, "
                                       "gelu, exp, log, ln, max, H, heaviside, erf"),
    (r"\left| a_1 \right|", True, r"\left at column 1 must be followed by a bracket"),
    (r"_2", True, "subscript '_' at column 1 follows no symbol"),
]


@pytest.mark.parametrize("source, is_latex, message", ERRORS, ids=[e[0] or "empty"
                                                                  for e in ERRORS])
def test_errors_name_the_column(source: str, is_latex: bool, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(source, TWO, latex=is_latex)
    assert str(info.value) == message


def test_unknown_name_lists_the_networks_symbols() -> None:
    with pytest.raises(ParseError) as info:
        parse("y3 + 1", TWO)
    assert str(info.value) == (
        "unknown name 'y3' at column 1; the network's symbols are: x1, w1, b1, z1, a1, "
        "delta1, w2, b2, z2, a2, delta2, T; functions: sigmoid, sigma, logistic, tanh, relu, "
        "ReLU, softmax, binary_step, step, linear, identity, leaky_relu, elu, softplus, silu, "
        "swish, gelu, exp, log, ln, heaviside, Heaviside, max, sqrt, erf")
    assert info.value.column == 1


def test_depth_limit_is_exact() -> None:
    inside = "(" * MAX_DEPTH + "a1" + ")" * MAX_DEPTH
    assert parse(inside, TWO) == a1
    with pytest.raises(ParseError) as info:
        parse("(" + inside + ")", TWO)
    assert str(info.value) == f"brackets nested deeper than {MAX_DEPTH} levels at column " \
                              f"{MAX_DEPTH + 1}"


def test_power_size_is_bounded_before_it_is_built() -> None:
    assert parse("10^100", TWO) == sp.Integer(10)**100
    with pytest.raises(ParseError) as info:
        parse("(10^30)^40", TWO)
    assert str(info.value) == ("the power at column 8 would have about 1241 digits "
                               "(the limit is 1000)")


def test_parse_expression_takes_any_table() -> None:
    x = sp.Symbol("x")
    assert parse_expression("2x^2 + x", {"x": x}) == 2 * x**2 + x
    assert parse_expression("e", {"e": x}) == x  # a network's own symbol wins over Euler's e


_Z, _Z1, _Z2 = sp.symbols("z z1 z2")
_NAMED = {"z": _Z, "z1": _Z1, "z2": _Z2, "target1": sp.Symbol("target1")}
PRINTED = [  # forms symgrad prints, read back
    ("softmax(2, z1, z2)", False, softmax(2, _Z1, _Z2)),
    (r"\operatorname{softmax}_{1}\left(z_{1}, z_{2}\right)", True, softmax(1, _Z1, _Z2)),
    ("leaky_relu(z, 1/100)", False, leaky_relu(_Z, sp.Rational(1, 100))),
    (r"\operatorname{LeakyReLU}\left(z, \frac{1}{100}\right)", True,
     leaky_relu(_Z, sp.Rational(1, 100))),
    (r"\operatorname{ELU}\left(z, 1\right)", True, elu(_Z, 1)),
    ("binary_step(z)", False, binary_step(_Z)),
    (r"1 - \tanh^{2}{\left(z \right)}", True, 1 - sp.tanh(_Z)**2),
    (r"\operatorname{GELU}\left(z\right) + \operatorname{SiLU}\left(z\right)", True,
     gelu(_Z) + silu(_Z)),
    ("Heaviside(z, 0)", False, sp.Heaviside(_Z, 0)),
    (r"target_{1} - z", True, sp.Symbol("target1") - _Z),
]


@pytest.mark.parametrize("source, is_latex, want", PRINTED, ids=[p[0] for p in PRINTED])
def test_what_symgrad_prints_parses(source: str, is_latex: bool, want: sp.Expr) -> None:
    assert parse_expression(source, _NAMED, latex=is_latex) == want


def test_softmax_component_must_be_one_of_its_inputs() -> None:
    with pytest.raises(ParseError, match=r"^softmax's first argument is the component, one "
                                         r"of 1\.\.2; got 3$"):
        parse_expression("softmax(3, z1, z2)", _NAMED)
