"""Exercises for a class: templates, variants, answers, grading that names the mistake,
question sheets, worked solutions and Moodle export.

The pipeline, by module: :mod:`.template` reads a spec's ``[exercise]`` table,
:mod:`.questions` says what each kind of question asks and computes it, :mod:`.hand` redoes
the computation as a student does (rounded, or with one slip), :mod:`.mistakes` is the
catalogue of usual mistakes, :mod:`.variants` draws the numbers from a code and skips
degenerate ones, :mod:`.grading` grades an answer, :mod:`.moodle` writes and reads Moodle
XML, :mod:`.sheets` renders sheets, answer keys and class reports, :mod:`.answers_file`
reads answers files and writes grades, and :mod:`.publish` puts a class's files together.

Everything but the last two works on values, without files, for a web page to build on:

>>> from symgrad.exercises import load_template, grade_answer
>>> t = load_template("derivations/two_neuron_exercise.toml")
>>> v = t.variant(generate(t, 1, seed=7).variants[0].code)
>>> right = v.answer("q3").value
>>> grade_answer(v, "q3", str(right)).right
True
>>> grade_answer(v, "q3", "0.5x").diagnosis
"not a number: '0.5x'"
"""

from __future__ import annotations

from .grading import Verdict, grade_answer
from .mistakes import CATALOGUE, Mistake, Wrong
from .questions import KINDS
from .template import Question, Template, Tolerance, load_template, parse_template
from .variants import REASONS, Answer, Generation, Sheet, Variant, generate

__all__ = ["load_template", "parse_template", "Template", "Question", "Tolerance",
           "generate", "Generation", "Variant", "Answer", "Sheet", "REASONS", "KINDS",
           "CATALOGUE", "Mistake", "Wrong", "grade_answer", "Verdict"]
