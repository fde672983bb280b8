"""Exercises: the time to make a class's files, and to grade a class's answers.

Targets (issue "For teachers and their students"): 40 variants with their PDFs (question
sheets, worked solutions, the answer key) in under 60 s; grading 500 students x 6
questions in under 10 s. The table gives each time with its parts and the ratio to the
target (below 1 is within it). TeX runs dominate the first; the machine is shared, so read
the load average in the header, and the CPU seconds beside the wall-clock ones.

    python benchmarks/bench_exercises.py [--variants 40] [--students 500] [--skip-pdf]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symgrad.exercises import generate, parse_template  # noqa: E402
from symgrad.exercises.answers_file import grade_text  # noqa: E402
from symgrad.exercises.publish import class_files  # noqa: E402
from symgrad.exercises.variants import Generation  # noqa: E402

T = TypeVar("T")

TEMPLATE = ROOT / "derivations" / "two_neuron_exercise.toml"
#: Symbolic answers a class types for dE/dw1 (the seventh question), right and wrong.
SYMBOLIC = ["-(T - a2)*a2*(1 - a2)*w2*a1*(1 - a1)*x1", "(T - a2)*a2*(1 - a2)*w2*a1*(1 - a1)*x1",
            r"(a_2-T)a_2(1-a_2)w_2a_1(1-a_1)x_1", "(a2 - T)*a2*(1 - a2)*w2*x1",
            "(a2 - T)*w2*a1*(1 - a1)*x1"]


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the TeX runs)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """What ``call`` returns, and the wall-clock and CPU seconds it took."""
    wall, cpu = time.perf_counter(), _cpu()
    result = call()
    return result, time.perf_counter() - wall, _cpu() - cpu


def _answers(generation: Generation, students: int, seed: int = 1) -> str:
    """A class's answers file: each answer right, a usual mistake, another number or
    unreadable, in the proportions a class might show."""
    rng = random.Random(seed)
    questions = generation.template.questions
    rows = ["student,variant," + ",".join(q.id for q in questions)]
    for k in range(students):
        v = rng.choice(generation.variants)
        cells = []
        for a in v.answers:
            if not a.question.numeric:
                cells.append('"' + rng.choice(SYMBOLIC) + '"')
                continue
            roll = rng.random()
            if roll < 0.6 or not a.wrong:
                cells.append(f"{a.value:.5g}")
            elif roll < 0.9:
                cells.append(f"{rng.choice(a.wrong).value:.5g}")
            else:
                cells.append(rng.choice([f"{rng.uniform(-1, 1):.4f}", "?", ""]))
        rows.append(f"student{k},{v.code}," + ",".join(cells))
    return "\n".join(rows) + "\n"


def _six_questions() -> str:
    """The two-neuron template without its question in symbols: six numeric questions."""
    text = TEMPLATE.read_text()
    return text[:text.rindex("[[exercise.question]]")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=40)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--skip-pdf", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, float, float, float]] = []

    template = parse_template(TEMPLATE.read_text(), str(TEMPLATE))
    generation, wall, cpu = _timed(lambda: generate(template, args.variants, seed=7))
    rows.append((f"generate {args.variants} variants ({generation.tried} tried)", wall, cpu, 0))
    if not args.skip_pdf:
        files, wall_pdf, cpu_pdf = _timed(lambda: class_files(generation, ("pdf",)))
        rows.append((f"  their PDFs ({len(files) - 1} files)", wall_pdf, cpu_pdf, 0))
        rows.append((f"{args.variants} variants with PDFs", wall + wall_pdf, cpu + cpu_pdf, 60))
    html, wall_html, cpu_html = _timed(lambda: class_files(generation, ("html", "moodle")))
    rows.append((f"  HTML pages and Moodle XML ({len(html) - 1} files)", wall_html, cpu_html, 0))

    for label, text, symbolic in (("6 numeric questions", _six_questions(), False),
                                  ("7 questions, 1 in symbols", TEMPLATE.read_text(), True)):
        t = parse_template(text, str(TEMPLATE))
        g = generate(t, args.variants, seed=7)
        answers = _answers(g, args.students)
        run, wall, cpu = _timed(lambda: grade_text(t, answers))
        assert len(run.graded) == args.students and not run.problems
        target = 10 if not symbolic else 0
        rows.append((f"grade {args.students} students x {label}", wall, cpu, target))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"exercises on {os.cpu_count()} cores, load average {load}")
    print(f"{'what':<52} {'wall s':>7} {'cpu s':>7} {'target':>7} {'ratio':>6}")
    for name, wall, cpu, target in rows:
        shown = f"< {target:g}" if target else ""
        ratio = f"{wall / target:.2f}" if target else ""
        print(f"{name:<52} {wall:>7.1f} {cpu:>7.1f} {shown:>7} {ratio:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
