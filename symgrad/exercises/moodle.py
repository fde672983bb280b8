"""Moodle XML: a class's variants as numerical quiz questions, and the same file read back.

The format is Moodle's documented question-import format (``docs.moodle.org``, "Moodle XML
format"): a ``<quiz>`` of ``<question>`` elements, first a ``type="category"`` one naming
the category the others go into (``$course$/top/<exercise title>``), then one
``type="numerical"`` question per numeric question and variant. Each has its ``<name>``,
an ``<idnumber>`` (``CODE-q3``), the variant's sheet and the question as HTML
(``format="html"``, math as TeX in ``\\(...\\)`` and ``$$...$$`` for Moodle's MathJax and
TeX filters), its points as ``<defaultgrade>``, and its answers: the right one with
``fraction="100"`` and its ``<tolerance>`` (the answer from rounded intermediates too, when
it lies outside that tolerance), then each usual mistake's value with its partial credit
(snapped to the grades Moodle accepts) and its diagnosis as feedback, then ``*`` for
anything else. Questions in symbols have no numerical form and are left out.

>>> from symgrad.exercises import load_template, generate
>>> g = generate(load_template("derivations/linear_cost_exercise.toml"), 2, seed=1)
>>> back = read_moodle(to_moodle(g))
>>> len(back) == 2 * 4, back[0].idnumber == g.variants[0].code + "-q1"
(True, True)
>>> back[0].right == g.variants[0].answers[0].value
True
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..errors import ExerciseError
from .sheets import moodle_text
from .variants import Answer, Generation, Variant

__all__ = ["to_moodle", "read_moodle", "MoodleQuestion", "MoodleAnswer", "GRADES",
           "snap_grade"]

#: The grades (percent) Moodle's question import accepts for an answer.
GRADES = (100.0, 90.0, 83.33333, 80.0, 75.0, 70.0, 66.66667, 60.0, 50.0, 40.0, 33.33333,
          30.0, 25.0, 20.0, 16.66667, 14.28571, 12.5, 11.11111, 10.0, 5.0, 0.0)
_PENALTY = "0.3333333"  # Moodle's default penalty for each wrong try


def snap_grade(credit: float) -> float:
    """The Moodle grade (percent) nearest to a fraction of the points.

    >>> snap_grade(0.5), snap_grade(0.3), snap_grade(1 / 3)
    (50.0, 30.0, 33.33333)
    """
    return min(GRADES, key=lambda g: abs(g - 100 * credit))


def _text(parent: ET.Element, tag: str, value: str, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    ET.SubElement(element, "text").text = value
    return element


def _answer(question: ET.Element, fraction: float, value: float | str, tolerance: float,
            feedback: str) -> None:
    element = ET.SubElement(question, "answer", fraction=f"{fraction:.7g}",
                            format="moodle_auto_format")
    ET.SubElement(element, "text").text = value if isinstance(value, str) else repr(value)
    _text(element, "feedback", feedback, format="html")
    ET.SubElement(element, "tolerance").text = repr(tolerance)


def _question(quiz: ET.Element, variant: Variant, answer: Answer) -> None:
    q = answer.question
    element = ET.SubElement(quiz, "question", type="numerical")
    _text(element, "name", f"{variant.template.title} {variant.code} q{q.number}: {q.label}")
    _text(element, "questiontext", moodle_text(variant.sheet, q.number), format="html")
    _text(element, "generalfeedback", "", format="html")
    ET.SubElement(element, "defaultgrade").text = f"{q.points:g}"
    ET.SubElement(element, "penalty").text = _PENALTY
    ET.SubElement(element, "hidden").text = "0"
    ET.SubElement(element, "idnumber").text = f"{variant.code}-{q.id}"
    _answer(element, 100, answer.value, answer.tolerance, "Right.")
    if isinstance(answer.value, float) and answer.by_hand is not None \
            and abs(answer.by_hand - answer.value) > answer.tolerance:
        _answer(element, 100, answer.by_hand, answer.tolerance,
                "Right (from intermediates rounded as the sheet says).")
    credit = variant.template.credit
    for wrong in answer.wrong:
        _answer(element, snap_grade(credit.get(wrong.mistake, 0.0)), wrong.value,
                q.tolerance.around(wrong.value), wrong.diagnosis)
    _answer(element, 0, "*", 0.0, "Neither the answer nor one of the usual mistakes.")
    for tag, value in (("unitgradingtype", "0"), ("unitpenalty", "0.1000000"),
                       ("showunits", "3"), ("unitsleft", "0")):
        ET.SubElement(element, tag).text = value


def to_moodle(generation: Generation) -> str:
    """The numeric questions of every variant as a Moodle XML quiz (UTF-8 text)."""
    quiz = ET.Element("quiz")
    category = ET.SubElement(quiz, "question", type="category")
    _text(category, "category", f"$course$/top/{generation.template.title}")
    _text(category, "info", f"Variants of {generation.template.title} ({generation.origin}), "
                            "made by symgrad.", format="html")
    for variant in generation.variants:
        for answer in variant.answers:
            if answer.question.numeric:
                _question(quiz, variant, answer)
    ET.indent(quiz)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(quiz, encoding="unicode") + "\n")


@dataclass(frozen=True)
class MoodleAnswer:
    fraction: float
    text: str
    tolerance: float | None
    feedback: str


@dataclass(frozen=True)
class MoodleQuestion:
    """One numerical question read back: its category, name, idnumber, text, points and
    answers; ``right`` is the value of its first answer with fraction 100."""

    category: str
    name: str
    idnumber: str
    text: str
    points: float
    answers: tuple[MoodleAnswer, ...]

    @property
    def right(self) -> float:
        return float(next(a.text for a in self.answers if a.fraction == 100))


def _child_text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    return "" if found is None or found.text is None else found.text


def read_moodle(text: str, path: str | None = None) -> list[MoodleQuestion]:
    """The numerical questions of a Moodle XML quiz, each in the category named before it.

    Raises :class:`ExerciseError` (naming ``path`` and the line) for text that is not
    XML or not a ``<quiz>``.
    """
    try:
        quiz = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ExerciseError(f"not XML: {exc}", path=path, line=exc.position[0]) from None
    if quiz.tag != "quiz":
        raise ExerciseError(f"expected a <quiz>, got <{quiz.tag}>", path=path)
    out: list[MoodleQuestion] = []
    category = ""
    for question in quiz.findall("question"):
        if question.get("type") == "category":
            category = _child_text(question, "category/text")
        elif question.get("type") == "numerical":
            answers = tuple(MoodleAnswer(
                float(a.get("fraction", "0")), _child_text(a, "text"),
                float(_child_text(a, "tolerance")) if a.find("tolerance") is not None
                else None, _child_text(a, "feedback/text")) for a in question.findall("answer"))
            out.append(MoodleQuestion(category, _child_text(question, "name/text"),
                                      _child_text(question, "idnumber"),
                                      _child_text(question, "questiontext/text"),
                                      float(_child_text(question, "defaultgrade") or 1),
                                      answers))
    return out
