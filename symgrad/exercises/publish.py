"""A class's files for ``symgrad exercises``: sheets, worked solutions, the answer key and
the Moodle quiz of a generation, by path, built in memory before anything is written.

>>> from symgrad.exercises import load_template, generate
>>> g = generate(load_template("derivations/linear_cost_exercise.toml"), 2, seed=1)
>>> sorted(class_files(g, ("html", "moodle")))[:3]
['key.csv', 'key.html', 'moodle.xml']
"""

from __future__ import annotations

from typing import Any, Sequence

from .answers_file import key_csv
from .moodle import to_moodle
from .sheets import build_pdfs, key_html, key_tex, sheet_html, sheet_tex
from .solutions import solution_content, solution_html
from .variants import Generation

__all__ = ["FORMATS", "class_files"]

#: What ``--to`` may name: PDFs (through TeX), self-contained HTML pages, a Moodle quiz.
FORMATS = ("pdf", "html", "moodle")


def class_files(generation: Generation, formats: Sequence[str], *,
                jobs: int | None = None) -> dict[str, bytes]:
    """Every file of the class by its path under the output folder: ``key.csv`` always;
    for ``html`` and ``pdf`` a sheet (``sheets/CODE``) and a worked solution
    (``solutions/CODE``) per variant and the key; for ``moodle`` ``moodle.xml``."""
    files: dict[str, bytes] = {"key.csv": key_csv(generation).encode("utf-8")}
    variants = generation.variants
    contents: dict[str, Any] = {}
    if "html" in formats or "pdf" in formats:
        contents = {v.code: solution_content(v) for v in variants}
    if "html" in formats:
        for v in variants:
            files[f"sheets/{v.code}.html"] = sheet_html(v.sheet).encode("utf-8")
            files[f"solutions/{v.code}.html"] = solution_html(contents[v.code]).encode("utf-8")
        files["key.html"] = key_html(generation).encode("utf-8")
    if "pdf" in formats:
        sources: dict[str, Any] = {f"sheets/{v.code}.pdf": sheet_tex(v.sheet) for v in variants}
        sources.update({f"solutions/{v.code}.pdf": contents[v.code] for v in variants})
        sources["key.pdf"] = key_tex(generation)
        files.update(build_pdfs(sources, jobs))
    if "moodle" in formats:
        files["moodle.xml"] = to_moodle(generation).encode("utf-8")
    return dict(sorted(files.items()))
