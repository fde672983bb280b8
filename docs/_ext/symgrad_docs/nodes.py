"""Docutils nodes the generated pages are built from: sections, tables, math, inline SVG.

The pages are built as nodes, not as generated reStructuredText or Markdown, so no text
from the code (a help string, a kink convention) is ever parsed as markup.
"""

from __future__ import annotations

import io
import re
from typing import Any, Sequence

from docutils import nodes

__all__ = ["section", "table", "paragraph", "literal", "literals", "math", "literal_block",
           "svg_figure", "mixed_math"]


def section(document: nodes.document, title: str, anchor: str) -> nodes.section:
    """A section titled ``title`` whose anchor is ``anchor`` (in the page's table of
    contents like any heading)."""
    node = nodes.section(ids=[nodes.make_id(anchor)],
                         names=[nodes.fully_normalize_name(anchor)])
    node += nodes.title(title, title)
    document.note_implicit_target(node, node)
    return node


def paragraph(*parts: nodes.Node | str) -> nodes.paragraph:
    """A paragraph of text and inline nodes."""
    return nodes.paragraph("", "", *(nodes.Text(p) if isinstance(p, str) else p
                                     for p in parts))


def literal(text: str) -> nodes.literal:
    return nodes.literal(text, text)


def literals(texts: Sequence[str]) -> list[nodes.Node | str]:
    """Paragraph parts: each text as a literal, separated by commas."""
    out: list[nodes.Node | str] = []
    for i, text in enumerate(texts):
        out += ([", "] if i else []) + [literal(text)]
    return out


def math(latex: str) -> nodes.math:
    return nodes.math(latex, latex)


def literal_block(text: str, language: str = "text") -> nodes.literal_block:
    return nodes.literal_block(text, text, language=language)


def table(header: Sequence[str], rows: Sequence[Sequence[nodes.Node | str]],
          widths: Sequence[int]) -> nodes.table:
    """A table of ``header`` and ``rows``; a cell is text or a node (a literal, math)."""
    group = nodes.tgroup(cols=len(header))
    for width in widths:
        group += nodes.colspec(colwidth=width)
    group += nodes.thead("", _row(header))
    group += nodes.tbody("", *(_row(r) for r in rows))
    return nodes.table("", group)


def _row(cells: Sequence[nodes.Node | str]) -> nodes.row:
    return nodes.row("", *(nodes.entry("", paragraph(c)) for c in cells))


def mixed_math(text: str) -> str:
    """A catalogue string that mixes maths and words (``(0, 1), components sum to 1``) as
    LaTeX: runs of words are set upright as text, the rest stays maths."""
    words = re.compile(r"(?<![\\A-Za-z])([A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*)")
    return words.sub(lambda m: rf"\text{{ {m.group(1)} }}", text)


def svg_figure(draw: Any, name: str, alt: str) -> nodes.raw:
    """A small matplotlib figure drawn by ``draw(axes)`` on its own canvas (no pyplot),
    inlined as SVG; its ids get the prefix ``name`` so that figures on one page never
    share one."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name,
                                "font.size": 8, "axes.grid": True, "grid.color": "0.9"}):
        fig = Figure(figsize=(3.6, 2.3))
        FigureCanvasAgg(fig)
        draw(fig.add_subplot(1, 1, 1))
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{alt}" ', 1)
    return nodes.raw("", f'<div class="symgrad-plot">{svg}</div>', format="html")
