"""Moodle XML export: the documented structure (docs.moodle.org "Moodle XML format"; the
importer is question/format/xml/format.php), the maths as TeX for Moodle's filters, and a
round trip that recovers every answer."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from latex2mathml.converter import convert

from symgrad.errors import ExerciseError
from symgrad.exercises import generate, load_template
from symgrad.exercises.moodle import GRADES, read_moodle, snap_grade, to_moodle
from symgrad.exercises.variants import Generation

from .conftest import DERIVATIONS

TEMPLATES = sorted(DERIVATIONS.glob("*_exercise.toml"))


@pytest.fixture(scope="module", params=TEMPLATES, ids=[p.stem for p in TEMPLATES])
def exported(request: pytest.FixtureRequest) -> tuple[Generation, str]:
    g = generate(load_template(request.param), 6, seed=3)
    return g, to_moodle(g)


def test_the_file_is_utf8_xml_with_one_quiz(exported: tuple[Generation, str]) -> None:
    _, text = exported
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "quiz" and {q.tag for q in root} == {"question"}


def test_a_category_comes_first_and_names_the_exercise(exported: tuple[Generation, str]) -> None:
    g, text = exported
    first = ET.fromstring(text)[0]
    assert first.get("type") == "category"
    assert first.findtext("category/text") == f"$course$/top/{g.template.title}"
    assert first.find("info").get("format") == "html"


def test_one_numerical_question_per_variant_and_numeric_question(
        exported: tuple[Generation, str]) -> None:
    g, text = exported
    questions = ET.fromstring(text)[1:]
    numeric = [q for q in g.template.questions if q.numeric]
    assert [q.get("type") for q in questions] == ["numerical"] * (len(g.variants) * len(numeric))
    ids = [q.findtext("idnumber") for q in questions]
    assert ids == [f"{v.code}-{q.id}" for v in g.variants for q in numeric]
    for element, (v, q) in zip(questions, [(v, q) for v in g.variants for q in numeric]):
        assert element.findtext("name/text") == f"{g.template.title} {v.code} {q.id}: {q.label}"
        assert element.find("questiontext").get("format") == "html"
        assert float(element.findtext("defaultgrade")) == q.points
        assert element.findtext("penalty") == "0.3333333" and element.findtext("hidden") == "0"
        assert element.findtext("showunits") == "3"  # no units asked for


def test_answers_have_moodle_grades_tolerances_and_feedback(
        exported: tuple[Generation, str]) -> None:
    g, text = exported
    for element in ET.fromstring(text)[1:]:
        answers = element.findall("answer")
        assert answers[0].get("fraction") == "100"
        assert answers[-1].findtext("text") == "*" and answers[-1].get("fraction") == "0"
        for a in answers:
            assert float(a.get("fraction")) in GRADES  # the importer refuses other grades
            assert a.get("format") == "moodle_auto_format"
            assert float(a.findtext("tolerance")) >= 0
            assert a.find("feedback").get("format") == "html" and a.findtext("feedback/text")
            if a.findtext("text") != "*":
                float(a.findtext("text"))  # a number Moodle reads


def test_the_question_text_is_html_with_tex_for_moodles_filters(
        exported: tuple[Generation, str]) -> None:
    g, text = exported
    for element in ET.fromstring(text)[1:]:
        html = element.findtext("questiontext/text")
        ET.fromstring(f"<div>{html}</div>")  # well-formed: every tag closed, & escaped
        inline = re.findall(r"\\\((.+?)\\\)", html)
        display = re.findall(r"\$\$(.+?)\$\$", html, re.S)
        assert inline and len(display) == 1 and "\\begin{aligned}" in display[0]
        assert html.count("\\(") == html.count("\\)") == len(inline)
        stripped = re.sub(r"\$\$.+?\$\$", "", html, flags=re.S)
        assert "$" not in stripped  # no lone dollar, which Moodle's filters do not read
        for tex in inline + display:  # valid TeX (HTML entities as the browser reads them)
            convert(tex.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def test_a_round_trip_recovers_every_answer(exported: tuple[Generation, str]) -> None:
    g, text = exported
    back = {q.idnumber: q for q in read_moodle(text)}
    for v in g.variants:
        for a in v.answers:
            key = f"{v.code}-{a.question.id}"
            if not a.question.numeric:
                assert key not in back  # no numerical form
                continue
            q = back[key]
            assert q.right == a.value and q.points == a.question.points
            assert q.category == f"$course$/top/{g.template.title}"
            right = [x for x in q.answers if x.fraction == 100]
            assert right[0].tolerance == a.tolerance
            wrong = [x for x in q.answers if x.fraction < 100 and x.text != "*"]
            assert [(float(x.text), x.feedback) for x in wrong] == [
                (w.value, w.diagnosis) for w in a.wrong]
            assert [x.fraction for x in wrong] == [
                snap_grade(v.template.credit[w.mistake]) for w in a.wrong]


def test_answers_from_rounded_intermediates_are_a_second_right_answer() -> None:
    from symgrad.exercises import parse_template

    path = DERIVATIONS / "two_neuron_exercise.toml"  # a1 within 1e-5: rounding shows
    text = path.read_text().replace("tolerance = 0.0005", "tolerance = 0.00001", 1)
    g = generate(parse_template(text, str(path)), 8, seed=3)
    back = {q.idnumber: q for q in read_moodle(to_moodle(g))}
    seen = 0
    for v in g.variants:
        a = v.answer("q1")
        right = [float(x.text) for x in back[f"{v.code}-q1"].answers if x.fraction == 100]
        if abs(a.by_hand - a.value) > a.tolerance:
            assert right == [a.value, a.by_hand]
            seen += 1
        else:
            assert right == [a.value]
    assert seen >= 4  # a1 to 4 significant digits is off by up to 5e-5


def test_user_text_is_escaped_once_and_stays_utf8() -> None:
    path = DERIVATIONS / "linear_cost_exercise.toml"
    text = path.read_text().replace('title = "Gradient descent on a linear cost"',
                                    'title = "Costs für <b>&</b> \\"quotes\\""')
    from symgrad.exercises import parse_template

    g = generate(parse_template(text, "t.toml"), 1, seed=3)
    xml = to_moodle(g)
    root = ET.fromstring(xml)
    assert root[0].findtext("category/text") == '$course$/top/Costs für <b>&</b> "quotes"'
    html = root[1].findtext("questiontext/text")
    assert "<strong>Costs für &lt;b&gt;&amp;&lt;/b&gt; &#34;quotes&#34;</strong>" in html
    assert "Costs für" in xml  # UTF-8 itself, as the declaration says, not a character entity


@pytest.mark.parametrize("credit,grade", [(1.0, 100.0), (0.5, 50.0), (0.25, 25.0),
                                          (0.33, 33.33333), (0.0, 0.0), (0.12, 12.5)])
def test_credits_snap_to_the_grades_moodle_accepts(credit: float, grade: float) -> None:
    assert snap_grade(credit) == grade


def test_reading_something_else_is_an_error_naming_the_place() -> None:
    with pytest.raises(ExerciseError) as caught:
        read_moodle("<quiz>\n<question>\n</quiz>", path="q.xml")
    assert str(caught.value) == "q.xml:3: not XML: mismatched tag: line 3, column 2"
    with pytest.raises(ExerciseError) as caught:
        read_moodle("<html/>", path="q.xml")
    assert str(caught.value) == "q.xml: expected a <quiz>, got <html>"
