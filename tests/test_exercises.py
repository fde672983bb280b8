"""Exercise templates, variants, answers and grading (symgrad.exercises).

The answers are checked against independent plain-Python computations of each shipped
network (math.exp, no symgrad), the hand computation against the exact derivation, and
grading against the usual mistakes computed both ways: by the catalogue, and by hand here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest

from symgrad.errors import ExerciseError, SpecError
from symgrad.exercises import CATALOGUE, generate, grade_answer, load_template, parse_template
from symgrad.exercises.grading import parse_number
from symgrad.exercises.hand import Hand, significant
from symgrad.exercises.variants import Generation, Variant, code_at
from symgrad.spec import parse_spec, read_spec

from .conftest import DERIVATIONS

TEMPLATES = sorted(DERIVATIONS.glob("*_exercise.toml"))
TWO = DERIVATIONS / "two_neuron_exercise.toml"
WIDE = DERIVATIONS / "two_two_two_exercise.toml"
LINEAR = DERIVATIONS / "linear_cost_exercise.toml"
CLASS = 40


@pytest.fixture(scope="module")
def classes() -> dict[str, Generation]:
    """Each shipped template's class of 40 variants, seed 7."""
    return {p.stem: generate(load_template(p), CLASS, seed=7) for p in TEMPLATES}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# -- independent computations (plain Python) ---------------------------------------------------


def _two_neuron(n: dict[str, float], round_: Callable[[float], float] = lambda v: v,
                slip: str = "") -> dict[str, float]:
    """The two-neuron exercise by hand; ``round_`` rounds each intermediate; ``slip``
    makes one usual mistake."""
    x, w1, b1, w2, b2, t, lr = (n[k] for k in ("x1", "w1", "b1", "w2", "b2", "T",
                                               "learning_rate"))
    z1 = round_(w1 * x + (0.0 if slip == "no_b1" else b1))
    a1 = round_(_sigmoid(z1))
    z2 = round_(w2 * a1 + (0.0 if slip == "no_b2" else b2))
    a2 = round_(_sigmoid(z2))
    s1 = z1 * (1 - z1) if slip == "z_derivative1" else a1 * (1 - a1)
    s2 = z2 * (1 - z2) if slip == "z_derivative2" else a2 * (1 - a2)
    d2 = round_((a2 - t) * s2)
    g2 = d2 * (a2 if slip == "wrong_layer" else a1)
    back = w2 - lr * g2 if slip == "early" else w2
    d1 = round_(d2 * back * (1.0 if slip == "no_s1" else s1))
    g1 = d1 * (a1 if slip == "wrong_layer" else x)
    return {"a1": a1, "a2": a2, "E": 0.5 * (t - a2) ** 2, "g2": g2, "g1": g1,
            "w2": w2 - lr * g2}


def _two_two_two(n: dict[str, float]) -> dict[str, float]:
    """The 2-2-2 exercise by hand, the published example's way (one bias per layer)."""
    w = {"w1_1_1": 0.15, "w1_1_2": 0.20, "w1_2_1": 0.25, "w1_2_2": 0.30, "w2_1_1": 0.40,
         "w2_1_2": 0.45, "w2_2_1": 0.50, "w2_2_2": 0.55, **n}
    x = (n["x1"], n["x2"])
    h = [_sigmoid(w[f"w1_{j}_1"] * x[0] + w[f"w1_{j}_2"] * x[1] + n["b1"]) for j in (1, 2)]
    o = [_sigmoid(w[f"w2_{k}_1"] * h[0] + w[f"w2_{k}_2"] * h[1] + n["b2"]) for k in (1, 2)]
    t = (n["T1"], n["T2"])
    do = [(o[k] - t[k]) * o[k] * (1 - o[k]) for k in (0, 1)]
    dh = [(do[0] * w[f"w2_1_{j}"] + do[1] * w[f"w2_2_{j}"]) * h[j - 1] * (1 - h[j - 1])
          for j in (1, 2)]
    return {"a1_1": h[0], "a2_1": o[0], "E": 0.5 * sum((t[k] - o[k]) ** 2 for k in (0, 1)),
            "g_w2_1_1": do[0] * h[0], "g_w1_1_1": dh[0] * x[0], "g_b1": dh[0] + dh[1],
            "w2_1_1": w["w2_1_1"] - n["learning_rate"] * do[0] * h[0]}


def _linear(n: dict[str, float]) -> dict[str, float]:
    """J(w) = sum (z - w x)^2 on z = 2x, its derivative, one update, and the updates until
    |dJ/dw| <= 0.001 (the spec's tolerance)."""
    xs = [0.1, 0.2, 0.3, 0.4, 0.5]

    def grad(w: float) -> float:
        return sum(-2 * x * (2 * x - w * x) for x in xs)

    w, rate, count = n["w"], n["learning_rate"], 0
    while abs(grad(w)) > 1e-3:
        w, count = w - rate * grad(w), count + 1
    return {"J": sum((2 * x - n["w"] * x) ** 2 for x in xs), "g": grad(n["w"]),
            "w": n["w"] - rate * grad(n["w"]), "iterations": float(count)}


def _numbers(v: Variant) -> dict[str, float]:
    return {**{k: float(x) for k, x in v.template.network.values.items()
               if not hasattr(x, "__len__")}, "learning_rate": v.learning_rate or 0.0,
            **v.numbers}


EXPECTED: dict[str, tuple[Callable[[dict[str, float]], dict[str, float]], list[str]]] = {
    "two_neuron_exercise": (_two_neuron, ["a1", "a2", "E", "g2", "g1", "w2"]),
    "two_two_two_exercise": (_two_two_two, ["a1_1", "a2_1", "E", "g_w2_1_1", "g_w1_1_1",
                                            "g_b1", "w2_1_1"]),
    "linear_cost_exercise": (_linear, ["J", "g", "w", "iterations"]),
}


# -- templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_a_shipped_template_is_a_spec_and_a_template(path: Path) -> None:
    spec = read_spec(path)  # the spec reader leaves [exercise] alone
    template = load_template(path)
    assert template.spec.network == spec.network and template.spec.parameters == spec.parameters
    assert template.digits == 4 and len(template.questions) >= 4
    assert [q.id for q in template.questions] == [f"q{k}" for k in
                                                  range(1, len(template.questions) + 1)]


def test_the_spec_reader_still_refuses_other_unknown_tables() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec('exercises = 1\n[network]\ninputs = 1\nlayers = [{ units = 1, activation '
                   '= "sigmoid" }]\nloss = "half_sse"\n', "s.toml")
    assert str(caught.value) == ("s.toml:1: field 'exercises': unknown field; expected one "
                                 "of: title, description, network, parameters, data, "
                                 "training, activations, losses, exercise")


def test_ranges_expand_to_nice_numbers_and_choices_stay_as_given() -> None:
    t = load_template(TWO)
    vary = {v.name: v.choices for v in t.vary}
    assert vary["w1"][:3] == (-1.0, -0.95, -0.9) and vary["w1"][-1] == 1.0
    assert len(vary["w1"]) == 41 and vary["T"] == tuple(k / 100 for k in range(5, 100, 5))
    assert vary["x1"] == (0.75, 1.25, 1.5, 1.75, 2.0)
    for choices in vary.values():
        assert all(abs(c * 100 - round(c * 100)) < 1e-9 for c in choices)


# -- variants -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_variants_follow_from_the_seed_and_the_code(path: Path,
                                                    classes: dict[str, Generation]) -> None:
    g = classes[path.stem]
    t = g.template
    assert len(g.variants) == CLASS == len({v.code for v in g.variants})
    assert len({tuple(sorted(v.numbers.items())) for v in g.variants}) == CLASS
    again = generate(load_template(path), 3, seed=7)
    assert [v.code for v in again.variants] == [v.code for v in g.variants[:3]]
    assert [v.code for v in generate(t, 3, seed=8).variants] != [v.code for v in again.variants]
    v = g.variants[5]
    rebuilt = t.variant(v.code.lower())  # as a student may type it
    assert rebuilt.numbers == v.numbers and rebuilt.answers == v.answers
    for name, value in v.numbers.items():
        assert value in next(x.choices for x in t.vary if x.name == name)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{6}", v.code)


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_answers_equal_an_independent_computation(path: Path,
                                                  classes: dict[str, Generation]) -> None:
    compute, keys = EXPECTED[path.stem]
    for v in classes[path.stem].variants:
        mine = compute(_numbers(v))
        numeric = [a for a in v.answers if a.question.numeric]
        assert len(numeric) == len(keys)
        for answer, key in zip(numeric, keys):
            want = mine[key]
            assert answer.value == pytest.approx(want, rel=1e-12, abs=1e-15), (v.code, key)


def test_the_symbolic_answer_is_the_derivation_in_text(classes: dict[str, Generation]) -> None:
    v = classes["two_neuron_exercise"].variants[0]
    assert v.answer("q7").value == "a1*a2*w2*x1*(1 - a1)*(1 - a2)*(a2 - T)"


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_the_hand_computation_without_a_slip_is_the_exact_one(
        path: Path, classes: dict[str, Generation]) -> None:
    t = classes[path.stem].template
    d = t.derivation
    for v in classes[path.stem].variants[:8]:
        values = {**t.network.values, **{k: x for k, x in v.numbers.items()
                                         if k != "learning_rate"}}
        hand, exact = Hand(d, values), d.at(values)
        for name, g in exact.items():  # float64 against 30 digits: a few ulps of the terms
            assert hand.gradient(name) == pytest.approx(g, rel=1e-12, abs=1e-15)
        assert hand.loss() == pytest.approx(d.loss_at(values), rel=1e-12)


def test_significant_digits_round_as_printf_does() -> None:
    values = [0.000368757, 0.37754, -12.345678, 6.02e23, 0.0, 1 / 3]
    assert list(significant(values, 4)) == [float(f"{v:.4g}") for v in values]


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_generated_variants_are_not_degenerate(path: Path,
                                               classes: dict[str, Generation]) -> None:
    for v in classes[path.stem].variants:
        values = [a.value for a in v.answers if isinstance(a.value, float)]
        for i, a in enumerate(v.answers):
            if a.question.kind in ("gradient", "update"):
                g = v.template.derivation.at({**v.template.network.values, **{
                    k: x for k, x in v.numbers.items() if k != "learning_rate"}})[a.question.of]
                assert abs(g) >= 1e-3
            if isinstance(a.value, float):
                assert all(abs(a.value - b) > a.tolerance for b in values[:i])
                assert not any(a.accepts(w.value) for w in a.wrong)
    if path == TWO:
        for v in classes[path.stem].variants:
            mine = _two_neuron(_numbers(v))
            assert min(mine["a1"] * (1 - mine["a1"]), mine["a2"] * (1 - mine["a2"])) >= 1e-4


def test_degenerate_variants_are_skipped_and_counted(classes: dict[str, Generation]) -> None:
    g = classes["two_neuron_exercise"]
    assert g.tried == CLASS + sum(g.skipped.values())
    assert g.summary().startswith(f"skipped {sum(g.skipped.values())} degenerate variants: ")


# -- grading: the key, the mistakes, rounding --------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_the_answer_key_gets_full_marks(path: Path, classes: dict[str, Generation]) -> None:
    for v in classes[path.stem].variants:
        for a in v.answers:
            shown = a.value if isinstance(a.value, str) else f"{a.value:.6g}"
            verdict = grade_answer(v, a.question, shown)
            assert (verdict.right, verdict.points, verdict.diagnosis) == (
                True, a.question.points, ""), (v.code, a.question.id, shown)


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_each_catalogue_mistake_is_named_in_95_percent_of_variants(
        path: Path, classes: dict[str, Generation]) -> None:
    named: Counter[tuple[str, str]] = Counter()
    made: Counter[tuple[str, str]] = Counter()
    for v in classes[path.stem].variants:
        for a in v.answers:
            for wrong in a.wrong:
                key = (a.question.id, wrong.diagnosis.split(":")[0][:60])
                made[key] += 1
                verdict = grade_answer(v, a.question, repr(wrong.value))
                named[key] += (verdict.mistake, verdict.diagnosis) == (wrong.mistake,
                                                                      wrong.diagnosis)
                assert verdict.points == pytest.approx(
                    v.template.credit[wrong.mistake] * a.question.points)
    kinds = {w.mistake for v in classes[path.stem].variants for a in v.answers for w in a.wrong}
    assert kinds == {m.name for m in CATALOGUE} - ({"activation_derivative", "no_bias",
                                                   "early_update"} if path == LINEAR
                                                  else {"off_by_one"})
    for key, n in made.items():
        assert named[key] >= 0.95 * n, (key, named[key], n)


#: Usual mistakes made by hand (here, not by the catalogue): question, slip, what grading
#: must name.
HAND_MISTAKES = [
    ("q4", lambda m: -m["g2"], "", "sign"), ("q5", lambda m: -m["g1"], "", "sign"),
    ("q3", lambda m: 2 * m["E"], "", "factor_two"), ("q4", lambda m: 2 * m["g2"], "", "factor_two"),
    ("q5", lambda m: m["g1"], "no_s1", "missing_factor"),
    ("q5", lambda m: m["g1"], "z_derivative1", "activation_derivative"),
    ("q4", lambda m: m["g2"], "z_derivative2", "activation_derivative"),
    ("q4", lambda m: m["g2"], "wrong_layer", "wrong_layer"),
    ("q5", lambda m: m["g1"], "wrong_layer", "wrong_layer"),
    ("q1", lambda m: m["a1"], "no_b1", "no_bias"), ("q2", lambda m: m["a2"], "no_b2", "no_bias"),
    ("q3", lambda m: m["E"], "no_b1", "no_bias"), ("q4", lambda m: m["g2"], "no_b2", "no_bias"),
    ("q5", lambda m: m["g1"], "early", "early_update"),
]


@pytest.mark.parametrize("question,make,slip,expected", HAND_MISTAKES,
                         ids=[f"{q}-{slip or expected}" for q, _, slip, expected in HAND_MISTAKES])
def test_a_mistake_made_by_hand_is_named(question: str, make: Callable[[dict[str, float]], float],
                                         slip: str, expected: str,
                                         classes: dict[str, Generation]) -> None:
    hits = sum(grade_answer(v, question, f"{make(_two_neuron(_numbers(v), slip=slip)):.6g}")
               .mistake == expected for v in classes["two_neuron_exercise"].variants)
    assert hits >= 0.95 * CLASS, hits


def test_an_update_with_plus_is_named(classes: dict[str, Generation]) -> None:
    for v in classes["two_neuron_exercise"].variants:
        n = _numbers(v)
        plus = n["w2"] + n["learning_rate"] * _two_neuron(n)["g2"]
        verdict = grade_answer(v, "q6", f"{plus:.6g}")
        assert (verdict.mistake, verdict.points) == ("plus_update", 0.5)
        assert verdict.diagnosis == ("Your value is w2 + learning rate times dE/dw2: the "
                                     "update adds the gradient instead of subtracting it.")


def test_answers_from_rounded_intermediates_are_right(classes: dict[str, Generation]) -> None:
    for v in classes["two_neuron_exercise"].variants:
        rounded = _two_neuron(_numbers(v), round_=lambda x: float(f"{x:.4g}"))
        for question, key in zip(("q1", "q2", "q3", "q4", "q5", "q6"),
                                 ("a1", "a2", "E", "g2", "g1", "w2")):
            verdict = grade_answer(v, question, f"{rounded[key]:.5g}")
            assert verdict.right, (v.code, question, rounded[key], verdict.expected)


def test_the_diagnosis_names_the_missing_factor(classes: dict[str, Generation]) -> None:
    v = classes["two_neuron_exercise"].variants[0]
    n = _numbers(v)
    verdict = grade_answer(v, "q5", repr(_two_neuron(n, slip="no_s1")["g1"]))
    assert (verdict.right, verdict.mistake, verdict.points, verdict.out_of) == (
        False, "missing_factor", 0.5, 2.0)
    assert verdict.diagnosis == ("Your value is dE/dw1 without the factor a1*(1 - a1) "
                                 "(da1/dz1).")


# -- grading: reading answers ----------------------------------------------------------------


@pytest.mark.parametrize("text,value", [
    ("0.25", 0.25), (" -0.0571 ", -0.0571), ("\u22120.5", -0.5), ("5.7e-2", 0.057),
    ("+3", 3.0), (".5", 0.5), ("13.", 13.0)])
def test_numbers_are_read_as_students_write_them(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text,reason", [
    ("", "no answer"), ("0.5x", "not a number: '0.5x'"), ("1,5", "not a number: '1,5'"),
    ("1e999", "not a finite number: '1e999'"), ("nan", "not a number: 'nan'"),
    ("2**3", "not a number: '2**3'"), ("9" * 80, "not a number: '" + "9" * 37 + "...'")])
def test_a_malformed_number_is_wrong_with_the_reason(text: str, reason: str,
                                                     classes: dict[str, Generation]) -> None:
    verdict = grade_answer(classes["two_neuron_exercise"].variants[0], "q1", text)
    assert (verdict.right, verdict.points, verdict.mistake, verdict.diagnosis) == (
        False, 0.0, None, reason)


def test_a_symbolic_answer_is_checked_by_symgrad_check(classes: dict[str, Generation]) -> None:
    v = classes["two_neuron_exercise"].variants[0]
    right = grade_answer(v, "q7", "-(T - a2)*a2*(1 - a2)*w2*a1*(1 - a1)*x1")
    latex = grade_answer(v, "q7", r"(a_2-T)\,a_2(1-a_2)\,w_2\,a_1(1-a_1)\,x_1")
    sign = grade_answer(v, "q7", "(T - a2)*a2*(1 - a2)*w2*a1*(1 - a1)*x1")
    assert (right.right, right.points, latex.right, latex.points) == (True, 2.0, True, 2.0)
    assert (sign.right, sign.mistake, sign.points) == (False, "sign", 1.0)
    assert sign.diagnosis == ("Your expression is the negative of dE/dw1 (sign error: "
                              "dE/da2 = -(T - a2)).")
    bad = grade_answer(v, "q7", "a2*(1 - a2) * q9")
    assert (bad.right, bad.points) == (False, 0.0)
    assert bad.diagnosis.startswith("cannot read the expression: unknown name 'q9' at column 15")
    assert grade_answer(v, "q7", "x" * 3000).diagnosis == (
        "the answer has 3000 characters; the limit is 2000")


def test_partial_credit_comes_from_the_template() -> None:
    text = TWO.read_text().replace("[exercise.vary]", "[exercise.credit]\nsign = 0.2\n"
                                   "missing_factor = 0\n\n[exercise.vary]")
    t = parse_template(text, "t.toml")
    v = generate(t, 1, seed=7).variants[0]
    g2 = v.answer("q4").value
    sign = grade_answer(v, "q4", repr(-g2))
    assert (sign.mistake, sign.points) == ("sign", 0.4)  # 0.2 of 2 points
    dropped = next(w for w in v.answer("q4").wrong if w.mistake == "missing_factor")
    assert grade_answer(v, "q4", repr(dropped.value)).points == 0.0


def test_every_catalogue_entry_has_a_default_credit_and_a_kind_of_question() -> None:
    from symgrad.exercises.questions import KINDS

    for mistake in CATALOGUE:
        assert 0 <= mistake.credit <= 1 and set(mistake.kinds) <= set(KINDS)
        assert mistake.title and mistake.name.isidentifier()


# -- bad templates ------------------------------------------------------------------------------


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


BAD_TEMPLATES = [
    ("x1 = [0.75, 1.25, 1.5, 1.75, 2.0]", "x9 = [0.5]", "x9 = ",
     "field 'exercise.vary.x9': 'x9' is not a parameter, input or target of the network, nor "
     "learning_rate; they are: w1, b1, w2, b2, x1, T"),
    ("T = { from = 0.05, to = 0.95, step = 0.05 }", "T = { from = 0.05, to = 0.95, step = 0.025 }",
     "T = {", "field 'exercise.vary.T.step': 0.025 has more than two decimals; a range gives "
             "nice numbers (list the values as choices for others)"),
    ("T = { from = 0.05, to = 0.95, step = 0.05 }", "T = { from = 0.05, to = 0.95, step = 0.2 }",
     "T = {", "field 'exercise.vary.T.step': the step 0.2 does not divide 0.95 - 0.05"),
    ("T = { from = 0.05, to = 0.95, step = 0.05 }", "T = { from = 0.05, step = 0.05 }", "T = {",
     "field 'exercise.vary.T': a range needs from, to and step; 'to' is missing"),
    ('ask = "loss"', 'ask = "losses"', 'ask = "losses"',
     "field 'exercise.question[2].ask': expected one of: forward, loss, gradient, symbolic, "
     "update, iterations; got 'losses'"),
    ('of = "w1"\npoints = 2\n\n[[exercise.question]]\nask = "update"',
     'of = "w9"\npoints = 2\n\n[[exercise.question]]\nask = "update"', 'of = "w9"',
     "field 'exercise.question[4].of': 'w9' is not a parameter of the network; they are: "
     "w1, b1, w2, b2"),
    ('ask = "forward"\nof = "a1"', 'ask = "forward"\nof = "E"', 'of = "E"',
     "field 'exercise.question[0].of': 'E' is not a forward quantity of the network; they "
     "are: z1, a1, z2, a2"),
    ('ask = "loss"', 'ask = "loss"\nof = "E"', 'of = "E"',
     "field 'exercise.question[2].of': this kind of question takes no 'of'"),
    ("tolerance = 0.0001", 'tolerance = "a lot"', 'tolerance = "a lot"',
     "field 'exercise.question[5].tolerance': expected a number (absolute) or a percentage "
     "such as \"1%\" (relative), got 'a lot'"),
    ("digits = 4", "digits = 4\ncolour = 1", "colour = ",
     "field 'exercise.colour': unknown field; expected one of: title, instructions, digits, "
     "points, tolerance, vary, credit, question"),
    ("[exercise.vary]", "[exercise.credit]\nsigns = 0.5\n\n[exercise.vary]", "signs = ",
     "field 'exercise.credit.signs': unknown mistake 'signs'; known: "),
    ("[exercise.vary]", "[exercise.credit]\nsign = 2\n\n[exercise.vary]", "sign = 2",
     "field 'exercise.credit.sign': expected a fraction of the points from 0 to 1, got 2"),
    ('of = "a2"', 'of = "a2"\npoints = 1\nweight = 2', "weight = ",
     "field 'exercise.question[1].weight': unknown field; expected one of: ask, of, points, "
     "tolerance"),
    ("learning_rate = 0.4\n", "", "learning_rate = [0.5",
     None),  # varied: a learning rate in [training] is not needed
]


@pytest.mark.parametrize("old,new,where,message", BAD_TEMPLATES,
                         ids=[m.split(":")[0] if m else "fine" for *_, m in BAD_TEMPLATES])
def test_a_bad_template_is_one_line_naming_the_field(old: str, new: str, where: str,
                                                     message: str | None) -> None:
    text = TWO.read_text()
    assert old in text
    changed = text.replace(old, new, 1)
    if message is None:
        assert parse_template(changed, "t.toml").learning_rate is None
        return
    with pytest.raises(SpecError) as caught:
        parse_template(changed, "t.toml")
    assert str(caught.value).startswith(f"t.toml:{_line(changed, where)}: {message}")
    assert "\n" not in str(caught.value)


def test_a_spec_without_an_exercise_table_is_not_a_template() -> None:
    with pytest.raises(SpecError) as caught:
        load_template(DERIVATIONS / "two_neuron.toml")
    assert str(caught.value) == (f"{DERIVATIONS / 'two_neuron.toml'}: missing table "
                                 "[exercise]: this spec is not an exercise template")


def test_a_forward_value_needs_one_sample() -> None:
    text = LINEAR.read_text().replace('ask = "loss"', 'ask = "forward"\nof = "y"', 1)
    with pytest.raises(SpecError) as caught:
        parse_template(text, "t.toml")
    assert str(caught.value) == (f"t.toml:{_line(text, 'of = ')}: field "
                                 "'exercise.question[0].of': a forward value needs one "
                                 "sample; data.x has 5")


def test_a_count_of_iterations_needs_a_tolerance_to_stop_at() -> None:
    text = LINEAR.read_text().replace("tolerance = 0.001\n", "", 1)
    with pytest.raises(SpecError) as caught:
        parse_template(text, "t.toml")
    line = _line(text, 'ask = "iterations"')
    assert str(caught.value) == (f"t.toml:{line}: field "
                                 "'exercise.question[3].ask': a count of iterations needs "
                                 "training.tolerance: the gradient norm at which descent stops")


def test_ranges_too_narrow_for_the_class_are_refused() -> None:
    text = LINEAR.read_text().replace("w = { from = -1.0, to = 1.5, step = 0.1 }",
                                      "w = [0.1, 0.5]")
    with pytest.raises(SpecError) as caught:
        generate(parse_template(text, "t.toml"), 40)
    assert str(caught.value) == (f"t.toml:{_line(text, '[exercise.vary]')}: field "
                                 "'exercise.vary': the ranges allow only 14 different "
                                 "variants; 40 were asked for")


def test_ranges_that_allow_no_variant_say_the_reason_most_often_hit() -> None:
    text = TWO.read_text().replace("x1 = [0.75, 1.25, 1.5, 1.75, 2.0]", "x1 = [20.0]") \
        .replace("w1 = { from = -1.0, to = 1.0, step = 0.05 }", "w1 = [4.0, 5.0]")
    with pytest.raises(SpecError) as caught:
        generate(parse_template(text, "t.toml"), 3)
    message = str(caught.value)
    assert message.startswith(f"t.toml:{_line(text, '[exercise.vary]')}: field "
                              "'exercise.vary': no variant possible: all ")
    assert re.search(r" variants tried were degenerate; most often \(\d+ times\) a saturated "
                     r"unit \(\|da/dz\| < 0\.0001\): a1\*\(1 - a1\) = \S+ < 0\.0001$", message)


def test_an_unknown_code_is_an_error_naming_the_template() -> None:
    t = load_template(LINEAR)
    good = code_at(t, 0, 0)
    typo = good[:-1] + ("2" if good[-1] != "2" else "3")
    form = "a code is 6 letters and digits from 23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    for code, why in (("ABC", form), ("0OIL1X", form),
                      (typo, "it is not a code of 'Gradient descent on a linear cost' "
                             "(mistyped?)")):
        with pytest.raises(ExerciseError) as caught:
            t.variant(code)
        assert str(caught.value) == f"unknown variant code '{code}': {why}"


# -- worked solutions --------------------------------------------------------------------------


def _boxed(content: object) -> dict[int, list[str]]:
    """Every ``\\boxed{...}`` in a report's content, by the answer number beside it."""
    import dataclasses

    found: dict[int, list[str]] = {}

    def walk(node: object) -> None:
        if isinstance(node, str):
            for value, n in re.findall(r"\\boxed\{(.*?)\} \\quad \\text\{[^}]*answer \((\d+)\)\}",
                                       node):
                found.setdefault(int(n), []).append(value)
        elif dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                walk(getattr(node, f.name))
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(content)
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_worked_solutions_box_every_answer_in_place(path: Path,
                                                    classes: dict[str, Generation]) -> None:
    from symgrad.derive import derive
    from symgrad.exercises.solutions import solution_content
    from symgrad.network import Network
    from symgrad.printing import latex
    from symgrad.report.layout import number

    for v in classes[path.stem].variants[:3]:
        content = solution_content(v)
        boxed = _boxed(content)
        for a in v.answers:
            n, kind = a.question.number, a.question.kind
            if kind == "iterations":
                assert f"Answer ({n}): {int(a.value)} updates" in content.training.reason
                continue
            shown = boxed[n]
            if kind == "symbolic":
                net = Network.from_spec(v.spec)
                assert shown == [latex(derive(net)[a.question.of].factored, net)]
            elif kind == "loss":  # in the model section and before the update
                assert shown == [number(a.value)] * 2
            else:
                assert shown == [number(a.value)], (v.code, kind, a.question.of)
        assert set(boxed) | {a.question.number for a in v.answers
                             if a.question.kind == "iterations"} == \
            {a.question.number for a in v.answers}
