"""Hand-derived gradients against symbolic ones: verdicts, counterexamples, diagnoses, files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.derive import derive
from symgrad.errors import CheckError, UnknownNameError
from symgrad.network import Dense, Network, load
from symgrad.printing import latex, text
from symgrad.numbers import evaluate
from symgrad.check import (MISTAKES, check, check_file, read_hand_file,
                            sample_points)

from .conftest import DERIVATIONS, SPECS

TWO = derive(load(DERIVATIONS / "two_neuron.toml"))
MLP = derive(load(DERIVATIONS / "small_mlp.toml"))
DEEP = derive(load(DERIVATIONS / "deep_sigmoid_chain.toml"))
LINEAR = derive(load(DERIVATIONS / "linear_cost.toml"))
RELU = derive(Network(1, [Dense(1, "relu"), Dense(1, "sigmoid")], "half_sse"))
W33 = derive(Network(2, [Dense(3, "sigmoid"), Dense(3, "sigmoid")], "half_sse"))
TIED = derive(load(DERIVATIONS / "two_two_two.toml"))  # one bias per layer
HAND = DERIVATIONS / "two_neuron_hand.toml"
SPEC_POINT = {"x1": 0.1, "w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65, "T": 0.25}


# -- correct gradients in every form -----------------------------------------------------

def _all_gradients() -> list[tuple[str, str]]:
    return [(str(path), name) for path in SPECS for name in derive(load(path))]


@pytest.mark.parametrize("path, name", _all_gradients(), ids=lambda v: Path(v).stem)
def test_symgrads_own_gradient_in_every_form_is_equal(path: str, name: str) -> None:
    d = derive(load(path))
    g = d[name]
    net = d.network
    forms = [check(d, name, text(g.factored)),                      # plain text
             check(d, name, latex(g.factored, net), latex=True),    # LaTeX
             check(d, name, g.factored),                            # a SymPy expression
             check(d, name, g.delta_form + g.penalty)]              # with delta symbols
    # (delta_form is per sample: the penalty's term, if any, stands beside it once)
    assert [r.verdict for r in forms] == ["equal"] * 4
    assert all(r.kind is None and r.counterexample is None for r in forms)


@pytest.mark.parametrize("name", ["w1", "b1", "w2", "b2"])
def test_fully_expanded_gradient_is_equal(name: str) -> None:
    r = check(TWO, name, TWO[name].expanded)
    assert r.verdict == "equal"
    assert r.method == "symbolic: identical"


CORRECT_TWO = [
    ("w2", "-(T - a2)*a2*(1 - a2)*a1", False, "symbolic: identical"),
    ("w2", "(a2 - T) sigma(z2)(1 - sigma(z2)) sigma(z1)", False, "symbolic: identical"),
    ("w2", "delta2 a1", False, "symbolic: identical"),
    ("w1", "delta1 x1", False, "symbolic: identical"),
    ("w2", "(a2 - T) a2 a1 - (a2 - T) a2^2 a1", False, "symbolic: expanded in intermediates"),
    ("b1", "(a2 - T) a2 (1 - a2) w2 exp(-z1)/(1 + exp(-z1))^2", False,
     "symbolic: in exponentials"),
    ("b1", "(a2 - T) a2 (1 - a2) w2 exp(z1)/(1 + exp(z1))^2", False,
     "symbolic: in exponentials"),
    ("w1", r"\delta_2 \cdot w_2 \cdot a_1(1-a_1) \cdot x_1", True, "symbolic: identical"),
    ("w2", r"-\left(T - a_{2}\right) \frac{a_2 (1 - a_2)}{1} a_1", True, "symbolic: identical"),
]


@pytest.mark.parametrize("wrt, source, is_latex, method", CORRECT_TWO,
                         ids=[c[1] for c in CORRECT_TWO])
def test_correct_hand_forms(wrt: str, source: str, is_latex: bool, method: str) -> None:
    r = check(TWO, wrt, source, latex=is_latex)
    assert (r.verdict, r.method) == ("equal", method)


def test_equal_diagnosis_text() -> None:
    r = check(TWO, "w2", "-(T - a2)*a2*(1 - a2)*a1")
    assert r.diagnosis == "Your expression equals dE/dw2 (symbolic: identical)."
    assert r.diagnosis_latex == r"Your expression equals $\frac{\partial E}{\partial w_{2}}$."
    assert r.yours == -(sp.Symbol("T") - sp.Symbol("a2")) * sp.Symbol("a2") * (
        1 - sp.Symbol("a2")) * sp.Symbol("a1")
    assert r.ok


# -- not equal: counterexample and diagnosis ---------------------------------------------

def test_sign_error_counterexample_at_the_specs_values() -> None:
    r = check(TWO, "w2", "(T - a2)*a2*(1 - a2)*a1")
    assert (r.verdict, r.kind) == ("not equal", "sign")
    assert r.diagnosis == ("Your expression is the negative of dE/dw2 (sign error: "
                           "dE/da2 = -(T - a2)).")
    assert r.diagnosis_latex == (
        r"Your expression is the negative of $\frac{\partial E}{\partial w_{2}}$ (sign error: "
        r"$\frac{\partial E}{\partial a_{2}} = -\left(T - a_{2}\right)$).")
    assert list(r.counterexample) == ["x1", "w1", "b1", "w2", "b2", "T", "z1", "a1", "z2",
                                      "a2"]
    assert {k: r.counterexample[k] for k in SPEC_POINT} == SPEC_POINT
    assert r.counterexample["a2"] == pytest.approx(0.7152516802527555, rel=1e-12)
    assert r.symbolic_value == pytest.approx(0.0570703982010549, rel=1e-10)
    assert r.yours_value == pytest.approx(-0.0570703982010549, rel=1e-10)


def test_a_notebook_displays_a_check_as_a_table_with_the_point_it_fails_at() -> None:
    html = check(TWO, "w2", "(T - a2)*a2*(1 - a2)*a1")._repr_html_()
    cells = {tr[0].text: tr[1].text for tr in ET.fromstring(html).iter("tr")}
    assert cells["verdict"] == "not equal"
    assert cells["diagnosis"] == ("Your expression is the negative of dE/dw2 (sign error: "
                                  "dE/da2 = -(T - a2)).")
    assert (cells["yours"], cells["symgrad's"]) == ("a1*a2*(1 - a2)*(T - a2)",
                                                    "a1*a2*(1 - a2)*(a2 - T)")
    assert cells["differs at"].startswith("x1 = 0.1, w1 = 0.15, b1 = 0.4, w2 = 0.45")
    assert cells["differs at"].endswith("a2 = 0.715252")
    assert "differs at" not in check(TWO, "w2", "(a2 - T)*a2*(1 - a2)*a1")._repr_html_()


def test_symbolic_value_of_the_counterexample_matches_central_differences() -> None:
    r = check(TWO, "w2", "(T - a2)*a2*(1 - a2)*a1")
    h = 1e-6
    point = dict(SPEC_POINT)
    up = TWO.loss_at({**point, "w2": point["w2"] + h})
    down = TWO.loss_at({**point, "w2": point["w2"] - h})
    assert r.symbolic_value == pytest.approx((up - down) / (2 * h), rel=1e-8)


#: (derivation, wrt, hand expression, the mistake kind, the exact diagnosis).
MISTAKE_CASES = [
    (TWO, "w2", "(T - a2)*a2*(1 - a2)*a1", "sign",
     "Your expression is the negative of dE/dw2 (sign error: dE/da2 = -(T - a2))."),
    (TWO, "w2", "-2 (T - a2) a2 (1 - a2) a1", "constant_factor",
     "Your expression is 2 times dE/dw2: the 2 from differentiating the square is kept "
     "although E = (T - a2)**2/2 has the factor 1/2 that cancels it (the forgotten 1/2 in "
     "E)."),
    (TWO, "w2", "-(T - a2) a2 (1 - a2) a1 / 2", "constant_factor",
     "Your expression is 1/2 times dE/dw2: the 1/2 of E = (T - a2)**2/2 is applied but the "
     "2 from differentiating the square is missing."),
    (TWO, "w2", "2(T - a2) a2 (1 - a2) a1", "constant_factor",
     "Your expression is -2 times dE/dw2 and of the opposite sign: the 2 from "
     "differentiating the square is kept although E = (T - a2)**2/2 has the factor 1/2 "
     "that cancels it (the forgotten 1/2 in E)."),
    (LINEAR, "w", "-(z - w x) x", "constant_factor",
     "Your expression is 1/2 times dJ/dw: the 2 from differentiating the square in "
     "J = (z - y)**2 is missing."),
    (TWO, "w2", "-(T - a2) a2 (1 - a2)", "missing_factor",
     "Your expression is missing the factor a1 (dz2/dw2)."),
    (TWO, "w1", "-(T - a2) a2 (1 - a2) w2 x1", "missing_factor",
     "Your expression is missing the factor a1*(1 - a1) (da1/dz1)."),
    (TWO, "w1", "-(T - a2) a2 (1 - a2) a1 (1 - a1) x1", "missing_factor",
     "Your expression is missing the factor w2 (dz2/da1)."),
    (TWO, "w2", "a1", "missing_factor",
     "Your expression is missing the factors -(T - a2) (dE/da2) and a2*(1 - a2) (da2/dz2)."),
    (TWO, "w2", "-(T - a2) a2 (1 - a2) w2 a1", "extra_factor",
     "Your expression has an extra factor w2 (dz2/da1), which is not in the chain of "
     "dE/dw2."),
    (TWO, "w2", "-(T - a2) a2 (1 - a2) a1 a1 (1 - a1)", "extra_factor",
     "Your expression has an extra factor a1*(1 - a1) (da1/dz1), which is not in the chain "
     "of dE/dw2."),
    (TWO, "w1", "-(T - a2) a2 (1 - a2) w2 a1 x1", "activation_derivative",
     "Your expression uses a1 for da1/dz1, but the derivative of the sigmoid is da1/dz1 = "
     "a1*(1 - a1)."),
    (TWO, "w2", "-(T - a2) (1 - a2) a1", "activation_derivative",
     "Your expression uses 1 - a2 for da2/dz2, but the derivative of the sigmoid is da2/dz2 "
     "= a2*(1 - a2)."),
    (TWO, "w1", "-(T - a2) a2 (1 - a2) w1 a1 (1 - a1) x1", "layer_index",
     "Your expression has w1 where w2 belongs (a layer index mixed up)."),
    (TWO, "w2", "-(T - a2) a2 (1 - a2) a2", "layer_index",
     "Your expression has a2 where a1 belongs (a layer index mixed up)."),
    (TWO, "w1", "-(T - a2) a2 (1 - a2) w2 a2 (1 - a2) x1", "layer_index",
     "Your expression has a2 where a1 belongs (a layer index mixed up)."),
    (DEEP, "w8", "(a8 - T) a8 (1 - a8) a6", "layer_index",
     "Your expression has a6 where a7 belongs (a layer index mixed up)."),
    (MLP, "w2_1_3", "(a2_1 - T1) a1_2", "unit_index",
     "Your expression has a1_2 where a1_3 belongs (a unit index mixed up)."),
    (MLP, "w1_2_1", "x2 (1 - a1_2^2) (delta2_1 w2_1_2 + delta2_2 w2_2_2)", "unit_index",
     "Your expression has x2 where x1 belongs (a unit index mixed up)."),
    (MLP, "w2_1_3", "a2_1 - T1", "missing_factor",
     "Your expression is missing the factor a1_3 (dz2_1/dw2_1_3)."),
    (MLP, "w1_2_1", "x1 (delta2_1 w2_1_2 + delta2_2 w2_2_2)", "missing_factor",
     "Your expression is missing the factor 1 - a1_2**2 (da1_2/dz1_2)."),
    (MLP, "w1_2_1", "x1 (1 - a1_2) (delta2_1 w2_1_2 + delta2_2 w2_2_2)",
     "activation_derivative",
     "Your expression uses 1 - a1_2 for da1_2/dz1_2, but the derivative of the tanh is "
     "da1_2/dz1_2 = 1 - a1_2**2."),
    (MLP, "w2_1_3", "(a2_1 - T1) a2_1 (1 - a2_1) a1_3", "extra_factor",
     "Your expression has an extra factor a2_1*(1 - a2_1) (da2_1/dz2_1), which is not in "
     "the chain of dE/dw2_1_3."),
    (RELU, "w1", "(a2 - T) a2 (1 - a2) w2 x1", "missing_factor",
     "Your expression is missing the factor Heaviside(z1, 0) (da1/dz1)."),
    # ReLU' written as ReLU itself: also an extra factor a1 wherever a1 > 0, but the
    # derivative is what is wrong
    (RELU, "w1", "(a2 - T) a2 (1 - a2) w2 a1 x1", "activation_derivative",
     "Your expression uses a1 for da1/dz1, but the derivative of the relu is da1/dz1 = "
     "Heaviside(z1, 0)."),
    # ... while with Heaviside(z1) written, a1 is an extra factor
    (RELU, "w1", "(a2 - T) a2 (1 - a2) w2 heaviside(z1) a1 x1", "extra_factor",
     "Your expression has an extra factor a1 (dz2/dw2), which is not in the chain of "
     "dE/dw1."),
    (TWO, "w1", "(a2 - T) a2 (1 - a2) w2 a1 (1 + a1) x1", "activation_derivative",
     "Your expression uses a1*(a1 + 1) for da1/dz1, but the derivative of the sigmoid is "
     "da1/dz1 = a1*(1 - a1)."),
    (MLP, "w1_2_1", "x1 (1 + a1_2^2) (delta2_1 w2_1_2 + delta2_2 w2_2_2)",
     "activation_derivative",
     "Your expression uses a1_2**2 + 1 for da1_2/dz1_2, but the derivative of the tanh is "
     "da1_2/dz1_2 = 1 - a1_2**2."),
    # sigma' in the wrong layer's z, as sigma(z), in exponentials, and for tanh
    (TWO, "w1", "delta2 w2 sigma(z2)(1 - sigma(z2)) x1", "layer_index",
     "Your expression has a2 where a1 belongs (a layer index mixed up)."),
    (TWO, "w1", "(a2 - T) a2 (1 - a2) w2 exp(-z2)/(1 + exp(-z2))^2 x1", "layer_index",
     "Your expression has z2 where z1 belongs (a layer index mixed up)."),
    (TWO, "w2", "(a2 - T) sigma(z1) (1 - sigma(z1)) a1", "layer_index",
     "Your expression has a1 where a2 belongs (a layer index mixed up)."),
    (MLP, "w1_1_1", "x1 (1 - tanh(z2_1)^2) (delta2_1 w2_1_1 + delta2_2 w2_2_1)", "layer_index",
     "Your expression has z2_1 where z1_1 belongs (a layer index mixed up)."),
    # W2 transposed: w2_j_k for w2_k_j in both terms that change (w2_1_1 is on the diagonal)
    (W33, "w1_1_1", "x1 a1_1 (1 - a1_1) (delta2_1 w2_1_1 + delta2_2 w2_1_2 + delta2_3 w2_1_3)",
     "transposed_weights",
     "Your expression uses the weights of layer 2 transposed: w2_1_2 where w2_2_1 belongs, "
     "w2_1_3 where w2_3_1 belongs."),
    # one of two back-propagation paths left out
    (MLP, "w1_2_1", "x1 (1 - a1_2^2) delta2_1 w2_1_2", "missing_path",
     "Your expression leaves out the back-propagation path through z2_2: the term "
     "delta2_2*w2_2_2 of dE/da1_2 = delta2_1*w2_1_2 + delta2_2*w2_2_2."),
    (MLP, "b1_2", "(1 - a1_2^2) delta2_2 w2_2_2", "missing_path",
     "Your expression leaves out the back-propagation path through z2_1: the term "
     "delta2_1*w2_1_2 of dE/da1_2 = delta2_1*w2_1_2 + delta2_2*w2_2_2."),
    (TIED, "b1", "delta1_1", "missing_path",
     "Your expression leaves out the path through z1_2: the term delta1_2 of dE/db1."),
]


def test_an_output_units_loss_derivative_is_not_a_sum_of_paths() -> None:
    # a2 - T is dE/da2: leaving T out is no back-propagation path (this raised
    # StopIteration while paths were looked for in every unit's dE/da)
    r = check(TWO, "w2", "a2 a2 (1 - a2) a1")
    assert (r.verdict, r.kind) == ("not equal", None)


@pytest.mark.parametrize("d, wrt, source, kind, said", MISTAKE_CASES,
                         ids=[f"{c[1]}:{c[2]}" for c in MISTAKE_CASES])
def test_mistakes_are_named(d, wrt: str, source: str, kind: str, said: str) -> None:
    r = check(d, wrt, source)
    assert (r.verdict, r.kind, r.diagnosis) == ("not equal", kind, said)
    assert r.kind in MISTAKES
    assert r.counterexample is not None
    assert r.yours_value != pytest.approx(r.symbolic_value, rel=1e-7)


def test_missing_factor_in_latex_names_the_factor_in_latex() -> None:
    r = check(TWO, "w2", r"-(T-a_2)\,a_2(1-a_2)", latex=True)
    assert r.kind == "missing_factor"
    assert r.diagnosis_latex == (r"Your expression is missing the factor $a_{1}$ "
                                 r"($\frac{\partial z_{2}}{\partial w_{2}}$).")


def test_no_usual_mistake() -> None:
    r = check(TWO, "w1", "x1")
    assert (r.verdict, r.kind) == ("not equal", None)
    assert r.diagnosis.startswith("Your expression differs from dE/dw1, and no single usual "
                                  "mistake explains it (the ratio yours/symbolic varies from ")


# -- kinks, undecided, bad input ---------------------------------------------------------

def test_relu_written_with_max_is_equal_almost_everywhere() -> None:
    r = check(RELU, "w1", "-(T - a2) a2 (1 - a2) w2 max(0, z1)/z1 x1")
    assert r.verdict == "equal almost everywhere"
    assert r.ok
    assert r.diagnosis.startswith("Your expression equals dE/dw1 at 32 points away from the "
                                  "kinks")


def test_relu_with_its_heaviside_is_equal() -> None:
    assert check(RELU, "w1", "-(T - a2) a2 (1 - a2) w2 heaviside(z1) x1").verdict == "equal"


def test_sample_points_avoid_kinks() -> None:
    points = sample_points(RELU, 40, seed=3)
    assert len(points) == 40  # RELU has no spec values: random points only
    for p in points:
        assert abs(p["w1"] * p["x1"] + p["b1"]) >= 1e-3


def test_overflowing_expression_is_undecided() -> None:
    r = check(TWO, "w2", "exp(exp(exp(exp(10))))")
    assert (r.verdict, r.kind) == ("undecided", None)
    assert r.diagnosis == ("Undecided: the two sides are finite at only 0 of 33 points "
                           "(overflow, a division by zero, or a logarithm or root of a "
                           "negative number).")
    assert not r.ok


def test_unknown_parameter() -> None:
    with pytest.raises(UnknownNameError) as info:
        check(TWO, "w3", "a1")
    assert str(info.value) == (
        "unknown parameter or quantity 'w3'; known: parameters (w1, b1, w2, b2), inputs (x1), "
        "pre-activations (z1, z2), activations (a1, a2), error signals, aliases of dE/dz "
        "(delta1, delta2)")


def test_sympy_expression_with_a_foreign_symbol() -> None:
    with pytest.raises(CheckError) as info:
        check(TWO, "w2", sp.Symbol("q") * sp.Symbol("a1"))
    assert str(info.value) == ("the expression uses q, which the network does not have; its "
                               "symbols are: x1, w1, b1, z1, a1, delta1, w2, b2, z2, a2, "
                               "delta2, T")


NOT_EXPRESSIONS = [
    (sp.Eq(sp.Symbol("a1"), 1), "Equality (an equation or inequality; pass one side, as "
                                "eq.rhs)"),
    (sp.Symbol("a1") > 0, "StrictGreaterThan (an equation or inequality; pass one side, as "
                          "eq.rhs)"),
    (sp.true, "BooleanTrue (a truth value or a logical formula)"),
    (sp.Matrix([sp.Symbol("a1")]), "MutableDenseMatrix (a matrix; pass one entry)"),
    (sp.ImmutableMatrix([sp.Symbol("a1")]), "ImmutableDenseMatrix (a matrix; pass one entry)"),
    (sp.Tuple(sp.Symbol("a1")), "Tuple (a SymPy object that is not an expression)"),
    (2.5, "float"),
]


@pytest.mark.parametrize("given, said", NOT_EXPRESSIONS, ids=[s for _, s in NOT_EXPRESSIONS])
def test_what_is_not_an_expression_is_refused_by_name(given: object, said: str) -> None:
    with pytest.raises(CheckError) as info:
        check(TWO, "w2", given)
    assert str(info.value) == f"expected text or a SymPy expression, got {said}"


def test_float64_evaluator_agrees_with_the_30_digit_one() -> None:
    points = sample_points(MLP, 5, seed=1)
    from symgrad.check.sampling import environment as _environment
    env = _environment(MLP, points)
    for name in ("w1_2_1", "w2_1_3", "b1_3"):
        ours = evaluate(MLP.in_intermediates(MLP[name].factored), env)
        theirs = np.array([MLP.at(p)[name] for p in points])
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_evaluator_is_stable_far_out() -> None:
    from symgrad.catalogue import sigmoid
    x = sp.Symbol("x")
    values = evaluate(sigmoid(x) * (1 - sigmoid(x)), {x: np.array([-1e4, 0.0, 1e4])})
    np.testing.assert_array_equal(values, [0.0, 0.25, 0.0])


# -- files of hand derivations -----------------------------------------------------------

def _hand_entries() -> list[tuple[int, str, str]]:
    _, entries = read_hand_file(HAND)
    return [(i, e.wrt, e.expected) for i, e in enumerate(entries)]


def test_hand_file_has_every_mistake_kind_and_correct_entries() -> None:
    title, entries = read_hand_file(HAND)
    assert title == "Hand derivations for two_neuron.toml"
    expected = [e.expected for e in entries]
    for kind in ("sign", "constant_factor", "missing_factor", "extra_factor",
                 "activation_derivative", "layer_index"):
        assert expected.count(kind) == 1, kind
    assert expected.count("equal") == 6
    assert sum(e.latex for e in entries) == 3


def test_check_file_finds_what_every_entry_expects() -> None:
    results = check_file(TWO, HAND)
    assert [(r.wrt, r.kind or r.verdict) for r in results] == [
        ("w2", "equal"), ("w2", "equal"), ("b2", "equal"), ("w1", "equal"), ("w1", "equal"),
        ("b1", "equal"), ("w2", "sign"), ("w2", "constant_factor"), ("w2", "missing_factor"),
        ("w2", "extra_factor"), ("w1", "activation_derivative"), ("w1", "layer_index")]
    assert [r.expected for r in results] == [r.kind or r.verdict for r in results]
    assert [r.line for r in results] == [13, 19, 25, 31, 37, 43, 51, 57, 63, 69, 75, 81]
    assert results[8].note == "dz2/dw2 = a1 left out"


BAD_FILES = [
    ('title = 3\n[[gradient]]\nwrt = "w2"\nexpr = "a1"\n',
     "{path}: field 'title': expected a string"),
    ('[[gradient]]\nwrt = "w2"\n', "{path}:1: field 'gradient[0]': give exactly one of 'expr' "
                                   "(plain math) or 'latex'"),
    ('[[gradient]]\nwrt = "w2"\nexpr = "a1"\nlatex = "a_1"\n',
     "{path}:1: field 'gradient[0]': give exactly one of 'expr' (plain math) or 'latex'"),
    ('[[gradient]]\nwrt = "w2"\nexpr = "a1"\n\n[[gradient]]\nexpr = "a1"\n',
     "{path}:5: field 'gradient[1]': missing field 'wrt' (the parameter)"),
    ('[[gradient]]\nwrt = "w2"\nexpr = "a1"\nexpect = "typo"\n',
     "{path}:4: field 'gradient[0].expect': unknown value 'typo'; expected one of: equal, "
     "sign, constant_factor, layer_index, unit_index, missing_factor, extra_factor, "
     "activation_derivative, transposed_weights, missing_path, wrong"),
    ('[[gradient]]\nwrt = "w2"\nexpr = 5\n',
     "{path}:3: field 'gradient[0].expr': expected a string, got int"),
    ('[[gradient]]\nwrt = "w2"\nexpression = "a1"\n',
     "{path}:3: field 'gradient[0].expression': unknown field; expected one of: wrt, expr, "
     "latex, note, expect"),
    ('[[gradient]]\nwrt = "w9"\nexpr = "a1"\n',
     "{path}:3: field 'gradient[0].wrt': 'w9' is not a parameter of the network; its "
     "parameters are: w1, b1, w2, b2"),
    ('[[gradient]]\nwrt = "w2"\n\nexpr = "a1 +* a2"\n',
     "{path}:4: field 'gradient[0].expr': unexpected '*' at column 5 (expected a number, a "
     "symbol, a function or '(')"),
    ('[[gradient]]\nwrt = "w2"\nlatex = \'\\input{x}\'\n',
     "{path}:3: field 'gradient[0].latex': LaTeX command '\\input' at column 1 is not "
     "allowed; allowed: \\cdot, \\delta, \\dfrac, \\exp, \\frac, \\left, \\ln, \\log, "
     "\\mathrm, \\max, \\operatorname, \\pi, \\qquad, \\quad, \\right, \\sigma, \\sqrt, "
     "\\tanh, \\tfrac, \\theta, \\times"),
    ('[[gradient]]\nwrt = "w2"\nexpr = "a1\n', "{path}:3:11: TOML syntax error: Illegal "
                                                "character '\\n'"),
    ('gradients = []\n', "{path}: field 'gradients': unknown field; expected one of: title, "
                         "description, gradient"),
    ('title = "x"\n', "{path}: field 'gradient': expected one or more [[gradient]] tables"),
]


@pytest.mark.parametrize("body, message", BAD_FILES, ids=[m for _, m in BAD_FILES])
def test_bad_hand_files_name_file_line_and_field(tmp_path: Path, body: str,
                                                 message: str) -> None:
    path = tmp_path / "hand.toml"
    path.write_text(body)
    with pytest.raises(CheckError) as info:
        check_file(TWO, path)
    assert str(info.value) == message.format(path=path)


def test_missing_hand_file(tmp_path: Path) -> None:
    with pytest.raises(CheckError) as info:
        check_file(TWO, tmp_path / "nope.toml")
    assert str(info.value) == f"{tmp_path / 'nope.toml'}: cannot read the file: No such file " \
                              "or directory"


def test_symbolic_stage_respects_its_time_budget() -> None:
    # (z2 - b2)/w2 is a1 only once z2 is written out in inputs and parameters
    source = "-(T - a2) a2 (1 - a2) (z2 - b2)/w2"
    assert check(TWO, "w2", source).method == "symbolic: expanded in inputs and parameters"
    quick = check(TWO, "w2", source, budget=0.0, points=5)
    assert (quick.verdict, quick.method) == ("numerically equal", "numeric: 6 points within 1e-7")
    assert quick.summary == "numerically equal at 6 points within 1e-7"
    assert quick.ok
    assert quick.diagnosis == ("Your expression equals dE/dw2 numerically, at 6 points within "
                               "1e-7 relative (and at 6 of them to 20 digits); SymPy found "
                               "no proof within the time budget.")


def test_constant_factor_in_latex_shows_the_loss() -> None:
    r = check(TWO, "w2", "-2 (T - a2) a2 (1 - a2) a1")
    assert r.diagnosis_latex == (
        r"Your expression is $2$ times $\frac{\partial E}{\partial w_{2}}$: the 2 from "
        r"differentiating the square is kept although $E = \frac{\left(T - a_{2}\right)^{2}}"
        r"{2}$ has the factor 1/2 that cancels it (the forgotten 1/2 in E).")


def test_sympy_symbol_with_other_assumptions_is_not_the_networks() -> None:
    with pytest.raises(CheckError) as info:
        check(TWO, "w2", sp.Symbol("a1", positive=True))
    assert str(info.value) == ("the expression's symbol a1 is not the network's: it has other "
                               "assumptions; use plain Symbol(name) or network.symbols[name]")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "softplus", "silu", "gelu",
                                        "binary_step", "linear"])
@pytest.mark.parametrize("form", ["latex", "text"])
def test_symgrads_own_printed_gradients_check_back_as_equal(activation: str, form: str) -> None:
    """What symgrad prints (ReLU' as SymPy's \\theta, GELU' with pi and erf) parses back.
    Leaky ReLU' and ELU' print as a Piecewise (cases), which the parser does not read."""
    net = Network(1, [Dense(1, activation), Dense(1, "sigmoid")], "half_sse")
    d = derive(net)
    for name in ("w1", "b1", "w2"):
        printed = latex(d[name].factored, net) if form == "latex" else text(d[name].factored)
        result = check(d, name, printed, latex=form == "latex")
        assert result.verdict in ("equal", "equal almost everywhere"), (name, printed)


# -- a verdict says what it rests on -----------------------------------------------------

#: (hand expression for dE/dw2, the mistake kind, the exact diagnosis): differences that
#: float64 points (agreeing to 1e-7) do not show and 30-digit values do.
TINY = [
    ("1.000000000001*(a2 - T)*a2*(1 - a2)*a1", "constant_factor",
     "Your expression is (1 + 1e-12) times dE/dw2: a relative difference of 1e-12 (30-digit "
     "values differ at 6 of 6 points; float64 values agree to 1e-7, which hides it)."),
    ("1.0000001*(a2 - T)*a2*(1 - a2)*a1", "constant_factor",
     "Your expression is (1 + 1e-7) times dE/dw2: a relative difference of 1e-7 (30-digit "
     "values differ at 6 of 6 points; float64 values agree to 1e-7, which hides it)."),
    ("(a2 - T)*a2*(1 - a2)*(a1 + 0.000000001)", None,
     "Your expression differs from dE/dw2 by a relative 1.26e-9 to 6.79e-9 (30-digit "
     "values differ at 6 of 6 points; float64 values agree to 1e-7, which hides it)."),
]


@pytest.mark.parametrize("source, kind, said", TINY, ids=[t[0] for t in TINY])
def test_a_difference_too_small_for_float64_is_not_equal(source: str, kind: str | None,
                                                         said: str) -> None:
    r = check(TWO, "w2", source)
    assert (r.verdict, r.kind, r.diagnosis) == ("not equal", kind, said)
    assert r.method == "exact: 30 digits at 6 points"
    assert not r.ok
    # the counterexample is the spec's point; the values are its 30-digit ones, apart
    assert {k: r.counterexample[k] for k in SPEC_POINT} == SPEC_POINT
    assert r.symbolic_value == pytest.approx(0.0570703982010549, rel=1e-12)
    assert r.yours_value != r.symbolic_value


def test_relative_difference_at_the_specs_point_is_the_exact_one() -> None:
    # (a1 + 1e-9)/a1 - 1 at the spec's a1 = sigmoid(0.415), from mpmath at 40 digits
    import mpmath
    with mpmath.workdps(40):
        a1 = 1 / (1 + mpmath.exp(-mpmath.mpf("0.415")))
    r = check(TWO, "w2", "(a2 - T)*a2*(1 - a2)*(a1 + 0.000000001)")
    assert r.yours_value / r.symbolic_value - 1 == pytest.approx(float(1e-9 / a1), rel=1e-6)


def test_tanh_derivative_in_exponentials_is_proved() -> None:
    r = check(MLP, "w1_2_1", "x1 4/(exp(z1_2) + exp(-z1_2))^2 (delta2_1 w2_1_2 + "
                             "delta2_2 w2_2_2)")
    assert (r.verdict, r.method) == ("equal", "symbolic: in exponentials")


def test_a_wrong_form_in_exponentials_is_not_proved() -> None:
    r = check(TWO, "b1", "(a2 - T) a2 (1 - a2) w2 exp(-z1)/(1 + exp(-z1))^3")
    assert r.verdict == "not equal"


def test_ratio_near_one_shows_the_digits_that_differ() -> None:
    r = check(TWO, "w2", "(a2 - T)*a2*(1 - a2)*(a1 + 0.00001)")
    assert (r.verdict, r.kind) == ("not equal", None)
    assert r.diagnosis == ("Your expression differs from dE/dw2, and no single usual mistake "
                           "explains it (the ratio yours/symbolic varies from 1.000011 to "
                           "1.000121).")
