"""Answers files in, grades and answer keys out, as CSV.

An answers file has a header row naming the columns ``student``, ``variant`` and ``q1``
... ``qN`` (in any order; other columns are ignored), then one row per student: the
variant code on the student's sheet and the answers (numbers, or expressions as text or
LaTeX for the questions in symbols). It is read with :func:`symgrad.files.read_text`
(UTF-8 with or without a byte-order mark, a size limit). A problem with the whole file (not
UTF-8, a missing column) is an :class:`~symgrad.errors.ExerciseError` and nothing is
graded; a problem with one row (an unknown variant code, a row of the wrong length) is an
:class:`ExerciseError` naming the file, row and column, kept in :attr:`GradeRun.problems`,
and the other rows are graded. An answer that cannot be read is graded wrong, with the
reason.

>>> from symgrad.exercises import load_template, generate
>>> t = load_template("derivations/linear_cost_exercise.toml")
>>> v = generate(t, 1, seed=1).variants[0]
>>> run = grade_text(t, "student,variant,q1,q2,q3,q4\\nana," + v.code + ",1,2,3,4\\n")
>>> [round(g.points, 2) for g in run.graded], run.problems
([0.0], [])
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field

from ..errors import ExerciseError
from ..files import read_text
from .grading import Graded, grade_student
from .template import Template
from .variants import Generation, Variant

__all__ = ["GradeRun", "grade_file", "grade_text", "grades_csv", "key_csv", "MAX_BYTES"]

#: Largest answers file read, in bytes (a class of 500 with long answers is far less).
MAX_BYTES = 20_000_000


@dataclass
class GradeRun:
    """The students graded and the rows that could not be, each an :class:`ExerciseError`."""

    graded: list[Graded] = field(default_factory=list)
    problems: list[ExerciseError] = field(default_factory=list)


def grade_file(template: Template, path: str | os.PathLike[str]) -> GradeRun:
    """Read the answers file ``path`` and grade every row (see the module's notes)."""
    name = os.fspath(path)
    return grade_text(template, read_text(name, what="an answers file", limit=MAX_BYTES,
                                          error=ExerciseError), name)


def _header(template: Template, row: list[str], path: str | None, line: int
            ) -> dict[str, int]:
    columns: dict[str, int] = {}
    for k, cell in enumerate(row):
        name = cell.strip().lower()
        if name in columns:
            raise ExerciseError(f"the column '{name}' appears twice", path=path, line=line,
                                column=k + 1, field=name)
        columns[name] = k
    needed = ["student", "variant"] + [q.id for q in template.questions]
    for name in needed:
        if name not in columns:
            raise ExerciseError(f"the header has no column '{name}'; it must name "
                                f"{', '.join(needed)}", path=path, line=line, field=name)
    return columns


def _rows(text: str, path: str | None) -> tuple[list[tuple[int, list[str]]], int]:
    """The non-blank rows with their line numbers, and the line of the first."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    rows = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise ExerciseError(f"not CSV: {exc}", path=path, line=reader.line_num) from None
    if not rows:
        raise ExerciseError("the file is empty; expected a header row (student, variant, "
                            "q1, ...) and a row per student", path=path)
    return rows, rows[0][0]


def grade_text(template: Template, text: str, path: str | None = None) -> GradeRun:
    """Grade the answers in the CSV ``text`` (``path`` names it in messages)."""
    rows, first = _rows(text, path)
    columns = _header(template, rows[0][1], path, first)
    if len(rows) == 1:
        raise ExerciseError("the file has a header but no answers", path=path, line=first)
    run = GradeRun()
    variants: dict[str, Variant | ExerciseError] = {}
    for line, row in rows[1:]:
        if len(row) != len(rows[0][1]):
            run.problems.append(ExerciseError(
                f"expected {len(rows[0][1])} cells as in the header, got {len(row)}; row "
                "skipped", path=path, line=line))
            continue
        code = row[columns["variant"]].strip()
        if code not in variants:
            try:
                variants[code] = template.variant(code)
            except ExerciseError as exc:
                variants[code] = exc
        found = variants[code]
        if isinstance(found, ExerciseError):
            run.problems.append(ExerciseError(f"{found.message}; row skipped", path=path,
                                              line=line, column=columns["variant"] + 1,
                                              field="variant"))
            continue
        answers = {q.id: row[columns[q.id]] for q in template.questions}
        run.graded.append(grade_student(found, row[columns["student"]].strip(), answers))
    return run


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Text typed by a student, made inert for spreadsheets: a cell that starts like a
    formula (``=cmd|...``) and is not a number gets a leading apostrophe."""
    if text.startswith(_FORMULA):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def _csv(rows: list[list[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def grades_csv(graded: list[Graded]) -> str:
    """One row per student and question: the answer, right or not, the points and the
    diagnosis. A student's text that would start a spreadsheet formula is quoted.

    >>> from symgrad.exercises.grading import Verdict
    >>> v = Verdict("q1", "=HYPERLINK(1)", False, 0.0, 1.0, None, "not a number", "0.5")
    >>> grades_csv([Graded("-x", "ABCDEF", (v,))]).splitlines()[1]
    "'-x,ABCDEF,q1,'=HYPERLINK(1),no,0,1,,not a number,0.5"
    """
    rows: list[list[object]] = [["student", "variant", "question", "answer", "right",
                                 "points", "out_of", "mistake", "diagnosis", "expected"]]
    for g in graded:
        rows += [[_cell(g.student), g.code, v.question, _cell(v.answer),
                  "yes" if v.right else "no",
                  f"{v.points:g}", f"{v.out_of:g}", v.mistake or "", v.diagnosis, v.expected]
                 for v in g.verdicts]
    return _csv(rows)


def key_csv(generation: Generation) -> str:
    """The answer key: one row per variant with its numbers and answers (numbers to 12
    significant digits, expressions as text)."""
    t = generation.template
    names = [v.name for v in t.vary]
    rows: list[list[object]] = [["variant", *names, *(q.id for q in t.questions)]]
    for variant in generation.variants:
        rows.append([variant.code, *(f"{variant.numbers[n]:.12g}" for n in names),
                     *(a.value if isinstance(a.value, str) else f"{a.value:.12g}"
                       for a in variant.answers)])
    return _csv(rows)
