"""Question sheets, answer keys, Moodle question texts and class reports, from Jinja
templates (``templates/*.j2``), and their PDFs through the report machinery.

The templates share the report's Jinja set-up (an overlay of
:func:`symgrad.report.render.environment`: LaTeX-safe delimiters ``\\VAR{...}`` and
``\\BLOCK{...}``, strict undefined variables, HTML autoescaping, and its filters ``tex``,
``tex_mixed``, ``html_mixed`` and ``mathml``); user text (titles, instructions) reaches
LaTeX only through ``tex`` and HTML only escaped; math is LaTeX that symgrad generated.
Worked solutions are made in :mod:`symgrad.exercises.solutions`; their PDFs are built here
with the sheets'.

>>> from symgrad.exercises import load_template, generate
>>> v = generate(load_template("derivations/two_neuron_exercise.toml"), 1, seed=7).variants[0]
>>> page = sheet_html(v.sheet)
>>> page.startswith("<!DOCTYPE html>") and v.code in page and "<script" not in page
True
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import jinja2
from markupsafe import Markup, escape as html_escape

from ..errors import ReportError
from ..files import write_atomic
from ..printing import latex, partial_latex
from ..report.escape import paragraphs, split_math
from .grading import Graded, QuestionSummary
from .mistakes import TITLES
from .questions import number_latex
from .variants import Answer, Generation, Sheet, Variant

if TYPE_CHECKING:
    from ..report.views import Content

__all__ = ["sheet_html", "sheet_tex", "key_html", "key_tex", "moodle_text", "class_html",
           "build_pdfs", "environment"]


def moodle_mixed(sentence: str) -> Markup:
    r"""A sentence with ``$...$`` math as HTML for Moodle: text escaped, math as TeX in
    ``\(...\)`` for Moodle's MathJax and TeX filters.

    >>> str(moodle_mixed(r"Compute $a_{2}$ & <b>."))
    'Compute \\(a_{2}\\) &amp; &lt;b&gt;.'
    """
    return Markup("").join(Markup(r"\(") + html_escape(p) + Markup(r"\)") if is_math
                           else html_escape(p) for is_math, p in split_math(sentence))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report's Jinja environment, loading this package's templates."""
    from ..report.render import environment as report_environment

    env = report_environment().overlay(
        loader=jinja2.PackageLoader("symgrad.exercises", "templates"))
    env.filters = {**env.filters, "moodle_mixed": moodle_mixed}  # the report's stay as they are
    return env


def _render(name: str, **context: Any) -> str:
    try:
        return environment().get_template(name).render(**context)
    except jinja2.TemplateError as exc:  # a bug, not bad input: name the template
        raise ReportError(f"exercise template {name}: {exc}") from None


def sheet_html(sheet: Sheet) -> str:
    """The question sheet as one self-contained HTML page (MathML, no scripts)."""
    return _render("sheet.html.j2", s=sheet, paragraphs=paragraphs(sheet.instructions))


def sheet_tex(sheet: Sheet) -> str:
    """The question sheet as a LaTeX document."""
    return _render("sheet.tex.j2", s=sheet, paragraphs=paragraphs(sheet.instructions))


def moodle_text(sheet: Sheet, number: int) -> str:
    """The HTML text of the Moodle question ``number`` of a sheet: the sheet's network and
    numbers, then the question, with TeX for Moodle's filters."""
    return _render("moodle.html.j2", s=sheet, q=sheet.questions[number - 1],
                   paragraphs=paragraphs(sheet.instructions)).strip()


def _answer_latex(variant: Variant, answer: Answer) -> str:
    if isinstance(answer.value, str):
        t = variant.template
        return latex(t.derivation[answer.question.of].factored, t.network)
    return number_latex(float(f"{answer.value:.6g}"))


def _asked_latex(variant: Variant, answer: Answer) -> str:
    q, net = answer.question, variant.template.network
    if q.kind in ("gradient", "symbolic"):
        return partial_latex(net.loss_symbol, net.symbol(q.of), net)
    if q.kind == "update":
        return latex(net.symbol(q.of), net) + r"\ \text{after one update}"
    if q.kind == "forward":
        return latex(net.symbol(q.of), net)
    return latex(net.loss_symbol) if q.kind == "loss" else r"\text{updates}"


def _key(generation: Generation) -> dict[str, Any]:
    t = generation.template
    variants = [{"code": v.code, "givens": v.sheet.givens, "answers": [
        {"number": a.question.number, "asked": _asked_latex(v, a), "answer": _answer_latex(v, a),
         "tolerance": q.tolerance, "points": a.question.points}
        for a, q in zip(v.answers, v.sheet.questions)]} for v in generation.variants]
    return {"title": t.title, "origin": generation.origin, "count": len(variants),
            "digits": t.digits, "variants": variants}


def key_html(generation: Generation) -> str:
    """The answer key of a class as one self-contained HTML page."""
    return _render("key.html.j2", k=_key(generation))


def key_tex(generation: Generation) -> str:
    """The answer key of a class as a LaTeX document."""
    return _render("key.tex.j2", k=_key(generation))


def class_html(title: str, graded: Sequence[Graded], summary: Sequence[QuestionSummary]
               ) -> str:
    """The class report: per question, right answers and the mistakes made, with a bar
    chart (inline SVG), then every student's points."""
    bars = []
    for s in summary:
        counts = [("right", s.right)] + [(TITLES.get(m, str(m)), n) for m, n in s.mistakes]
        bars.append({"question": s.question, "summary": s,
                     "rows": [(label, n, n / max(1, s.answered)) for label, n in counts]})
    return _render("grades.html.j2", title=title, graded=graded, bars=bars)


# -- PDFs ------------------------------------------------------------------------------------


def _compile_folder(folder: Path) -> bytes:
    """The PDF of ``folder/report.tex``, by the report machinery's TeX run."""
    from ..report.render import compile_tex

    return compile_tex(folder).read_bytes()


def build_pdfs(sources: Mapping[str, "str | Content"], jobs: int | None = None
               ) -> dict[str, bytes]:
    """PDFs by name: a LaTeX source (text) is compiled as it is, a report's content (a
    worked solution) through the report's templates. The LaTeX and the figures are
    written one after the other, and each TeX run starts in a thread as soon as its
    LaTeX is written (``jobs`` threads; default: the number of cores). A failed run
    raises its :class:`ReportError` once every run has ended."""
    from ..report.render import write_report

    workers = max(1, jobs or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="symgrad-exercises-") as scratch, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[str, Future[bytes]] = {}
        for k, (name, source) in enumerate(sources.items()):
            folder = Path(scratch) / str(k)
            folder.mkdir()
            if isinstance(source, str):
                write_atomic(folder / "report.tex", source, what="the LaTeX", error=ReportError)
            else:
                write_report(source, folder / "report.tex")
            futures[name] = pool.submit(_compile_folder, folder)  # TeX runs while we go on
        return {name: future.result() for name, future in futures.items()}
