"""Grading: one answer against a variant (:func:`grade_answer`), a student's row, and what a
class got right and wrong per question.

A number is right within the question's tolerance of the answer, or of the answer
computed from intermediates rounded to the sheet's digits. A wrong number is compared with
the value of every usual mistake of the catalogue at the variant's numbers; the nearest
within the tolerance names the mistake and earns its partial credit. An expression (text
or LaTeX, read by symgrad's own parser, never ``eval``) goes to :func:`symgrad.check.check`,
whose diagnosis and mistake kind decide the same way. An answer that cannot be read is
graded wrong, with the reason.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import ParseError, SymgradError
from .template import Question, Template
from .variants import Answer, Variant

__all__ = ["Verdict", "grade_answer", "Graded", "grade_student", "QuestionSummary",
           "summarize", "parse_number", "MAX_ANSWER"]

#: Longest answer read (characters); the expression parser has its own, tighter limits.
MAX_ANSWER = 2000
#: Seconds ``symgrad check`` may spend proving an expression equal before numbers decide
#: (its default is 2 s; a class types many different expressions).
CHECK_BUDGET = 0.5
#: Checks of expressions a template remembers (a class types few different ones).
MEMO_LIMIT = 10_000
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
_MINUS = {"\u2212": "-", "\u2013": "-"}  # a typographic minus, an en dash


@dataclass(frozen=True)
class Verdict:
    """How one answer was graded: ``right``, the ``points`` of ``out_of``, the ``mistake``
    named (a catalogue name or a ``symgrad check`` kind) and the ``diagnosis`` in words;
    ``expected`` shows the right answer."""

    question: str
    answer: str
    right: bool
    points: float
    out_of: float
    mistake: str | None
    diagnosis: str
    expected: str


def parse_number(text: str) -> float:
    """A decimal number typed by a student (``-0.0571``, ``5.7e-2``, a typographic minus);
    anything else is a :class:`ParseError` saying so.

    >>> parse_number(" \u22120.25 "), parse_number("1e-3")
    (-0.25, 0.001)
    """
    clean = "".join(_MINUS.get(c, c) for c in text.strip())
    if not clean:
        raise ParseError("no answer")
    if len(clean) > 64 or not _NUMBER.match(clean):
        shown = clean if len(clean) <= 40 else clean[:37] + "..."
        raise ParseError(f"not a number: '{shown}'")
    value = float(clean)
    if not math.isfinite(value):
        raise ParseError(f"not a finite number: '{clean}'")
    return value


def _expected(answer: Answer) -> str:
    return answer.value if isinstance(answer.value, str) else f"{answer.value:.6g}"


def _numeric(variant: Variant, answer: Answer, text: str) -> tuple[bool, float, str | None,
                                                                  str]:
    """Right or not, the fraction of the points, the mistake and the diagnosis."""
    try:
        number = parse_number(text)
    except ParseError as exc:
        return False, 0.0, None, str(exc)
    if answer.accepts(number):
        return True, 1.0, None, ""
    q = answer.question
    near = [w for w in answer.wrong
            if abs(number - w.value) <= q.tolerance.around(w.value) * (1 + 1e-9) + 1e-12]
    if not near:
        return False, 0.0, None, ("Your value is neither the answer nor what one of the "
                                  "usual mistakes gives.")
    found = min(near, key=lambda w: abs(number - w.value))  # the first of equals: catalogue order
    return False, variant.template.credit.get(found.mistake, 0.0), found.mistake, \
        found.diagnosis


def _symbolic(template: Template, q: Question, text: str) -> tuple[bool, float, str | None,
                                                                  str]:
    key = ("symbolic", q.number, text)
    if key not in template.memo:
        if len(template.memo) >= MEMO_LIMIT:  # a long-running page: forget, do not grow
            template.memo.clear()
        template.memo[key] = _check(template, q, text)
    return template.memo[key]


def _check(template: Template, q: Question, text: str) -> tuple[bool, float, str | None, str]:
    """``symgrad check`` of the expression, read as a student types it
    (:func:`~symgrad.check.parse.parse_typed`: text, else LaTeX)."""
    from ..check import check
    from ..check.parse import parse_typed

    if not text.strip():
        return False, 0.0, None, "no answer"
    try:
        yours = parse_typed(text, template.derivation.network.symbols)
        result = check(template.derivation, q.of, yours, budget=CHECK_BUDGET)
    except ParseError as exc:
        return False, 0.0, None, f"cannot read the expression: {exc}"
    except SymgradError as exc:  # anything else that stops a check: named, and graded wrong
        return False, 0.0, None, f"cannot check the expression: {exc}"
    if result.ok:
        return True, 1.0, None, ""
    credit = template.credit.get(result.kind, 0.0) if result.kind else 0.0
    return False, credit, result.kind, result.diagnosis


def grade_answer(variant: Variant, question: str | int | Question, text: str) -> Verdict:
    """Grade the answer ``text`` to ``question`` (``"q3"``, 3 or the :class:`Question`) of
    ``variant``: right or wrong, the points, the mistake and its diagnosis.

    An answer that cannot be read (not a number, an expression the parser rejects, more
    than :data:`MAX_ANSWER` characters) is wrong, with the reason as the diagnosis.
    """
    answer = variant.answer(question)
    q = answer.question
    text = str(text)
    if len(text) > MAX_ANSWER:
        right, credit, mistake, said = (False, 0.0, None,
                                        f"the answer has {len(text)} characters; the limit "
                                        f"is {MAX_ANSWER}")
    elif q.numeric:
        right, credit, mistake, said = _numeric(variant, answer, text)
    else:
        right, credit, mistake, said = _symbolic(variant.template, q, text)
    return Verdict(q.id, text, right, round(credit * q.points, 6), q.points, mistake, said,
                   _expected(answer))


@dataclass(frozen=True)
class Graded:
    """One student's answers graded: ``student``, the variant ``code``, one verdict per
    question."""

    student: str
    code: str
    verdicts: tuple[Verdict, ...]

    @property
    def points(self) -> float:
        return round(sum(v.points for v in self.verdicts), 6)

    @property
    def out_of(self) -> float:
        return sum(v.out_of for v in self.verdicts)


def grade_student(variant: Variant, student: str, answers: Mapping[str, str]) -> Graded:
    """Grade a student's answers (by question id, ``q1``...; a missing one is unanswered)."""
    return Graded(student, variant.code, tuple(
        grade_answer(variant, q, answers.get(q.id, "")) for q in variant.template.questions))


@dataclass(frozen=True)
class QuestionSummary:
    """What a class did with one question: how many answered right, the mean points, and
    how often each mistake was made (``None``: wrong for another reason)."""

    question: Question
    answered: int
    right: int
    mean_points: float
    mistakes: tuple[tuple[str | None, int], ...]


def summarize(template: Template, graded: Sequence[Graded]) -> list[QuestionSummary]:
    """Per question of ``template``: right answers and mistakes, most common first."""
    out = []
    for q in template.questions:
        verdicts = [g.verdicts[q.number - 1] for g in graded]
        counts = Counter(v.mistake for v in verdicts if not v.right)
        mean = sum(v.points for v in verdicts) / len(verdicts) if verdicts else 0.0
        out.append(QuestionSummary(q, len(verdicts), sum(v.right for v in verdicts),
                                   round(mean, 6), tuple(counts.most_common())))
    return out
