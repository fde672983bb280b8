"""``symgrad grade TEMPLATE ANSWERS.csv [-o GRADES.csv] [--html CLASS.html]``: grade a
class's answers, naming each mistake.

Exit status: 0 when every row was graded, 1 when some rows could not be (each is named on
stderr: file, row, column), 2 when none could (a missing column, a file that is not UTF-8,
a bad template)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ._output import refuse_input

if TYPE_CHECKING:
    from ..exercises.grading import Graded, QuestionSummary
    from ..exercises.template import Template


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grade", help="grade a class's answers to an exercise, naming each mistake",
        description="Grade an answers file (CSV: a header naming student, variant, q1, "
                    "q2, ..., then a row per student) against an exercise template: right "
                    "or wrong, the points, and for a wrong answer the usual mistake that "
                    "gives it.")
    p.add_argument("template", help="the exercise template the sheets came from")
    p.add_argument("answers", help="the answers file (CSV, UTF-8)")
    p.add_argument("-o", "--output", metavar="GRADES.csv",
                   help="the grades to write (default: ANSWERS-grades.csv beside ANSWERS)")
    p.add_argument("--html", metavar="CLASS.html",
                   help="also write a class report: the mistakes per question, with a chart")
    p.set_defaults(handler=run)


def _table(template: "Template", graded: Sequence["Graded"]) -> list[str]:
    ids = [q.id for q in template.questions]
    width = max([len("student")] + [len(g.student) for g in graded])
    head = f"{'student':<{width}}  variant  " + "  ".join(f"{i:>5}" for i in ids) + "  total"
    lines = [head]
    for g in graded:
        cells = "  ".join(f"{v.points:>5g}" for v in g.verdicts)
        lines.append(f"{g.student:<{width}}  {g.code:<7}  {cells}  {g.points:g}/{g.out_of:g}")
    return lines


def _wrong(graded: Sequence["Graded"]) -> list[str]:
    return [f"{g.student} {v.question} ({v.points:g} of {v.out_of:g}): {v.diagnosis}"
            for g in graded for v in g.verdicts if not v.right]


def _per_question(summary: Sequence["QuestionSummary"]) -> list[str]:
    lines = []
    for s in summary:
        made = ", ".join(f"{m or 'other'} {n}" for m, n in s.mistakes)
        lines.append(f"{s.question.id} {s.question.label}: {s.right}/{s.answered} right"
                     + (f"; wrong: {made}" if made else ""))
    return lines


def run(args: argparse.Namespace) -> int:
    from ..errors import ArgumentError, ExerciseError
    from ..exercises import load_template
    from ..exercises.answers_file import grade_file, grades_csv
    from ..exercises.grading import summarize
    from ..exercises.sheets import class_html
    from ..files import write_atomic

    answers = Path(args.answers)
    output = Path(args.output) if args.output else answers.with_name(
        f"{answers.stem}-grades.csv")
    inputs = [("template", args.template), ("answers file", args.answers)]
    refuse_input("-o", output, inputs)
    if args.html:
        refuse_input("--html", args.html, inputs + [("grades file", output)])
        if Path(args.html).resolve() == output.resolve():
            raise ArgumentError(f"--html: '{args.html}' is the grades file too; write the "
                                "class report to another file")
    template = load_template(args.template)
    run_ = grade_file(template, args.answers)
    for problem in run_.problems:
        print(f"symgrad grade: {problem}", file=sys.stderr)
    if not run_.graded:
        raise ExerciseError(f"no row could be graded ({len(run_.problems)} skipped)",
                            path=args.answers)
    summary = summarize(template, run_.graded)
    pages = {output: grades_csv(run_.graded)}
    if args.html:
        pages[Path(args.html)] = class_html(template.title, run_.graded, summary)
    for path, text in pages.items():
        write_atomic(path, text, what="the grades")
    print("\n".join(_table(template, run_.graded)))
    wrong = _wrong(run_.graded)
    if wrong:
        print("\nwrong answers:\n" + "\n".join(wrong))
    print("\nper question:\n" + "\n".join(_per_question(summary)))
    print(f"\nwrote {', '.join(map(str, pages))}")
    return 1 if run_.problems else 0
