"""The PDF's pages (issue "What a new user meets first", item 2 "layout"): no page holds
only a figure, no heading is left at the foot of a page without its body, and every figure
stays in its own section, between its heading and the next. Read from each page's text
(pdftotext per page), with the headings and figures known from the LaTeX source."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from symgrad import derive, load
from symgrad.report.render import render_report

from .conftest import ALL_SPECS, DERIVATIONS
from .test_report import needs_tex

pytestmark = needs_tex

#: A heading's body on its own page: at least this many lines of text after it.
BODY_LINES = 3

Where = tuple[int, int]  # (page, line) in reading order


@dataclass(frozen=True)
class Layout:
    pages: list[list[str]]  # each page's non-empty text lines above its footer
    headings: dict[str, Where]  # "6.1" -> where it ends (its number or its title)
    heading_lines: set[Where]  # the lines of every heading, number to title
    captions: dict[int, Where]  # figure number -> where its caption is
    figure_owner: dict[int, str]  # figure number -> the heading it is written under
    figure_lines: set[str]  # text drawn inside the figures (ticks, legends, titles)


#: A4 in points, and where the footer (the page number) starts: below the text block.
PAGE_WIDTH, PAGE_HEIGHT, FOOTER = 595, 842, 760


def _text(pdf: Path, page: int, top: int, height: int) -> list[str]:
    """The non-empty text lines of ``page`` between ``top`` and ``top + height`` points."""
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page),
                           "-x", "0", "-y", str(top), "-W", str(PAGE_WIDTH), "-H", str(height),
                           str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in text.splitlines() if line.strip()]


def _page_lines(pdf: Path) -> list[list[str]]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    pages = []
    for page in range(1, count + 1):
        assert _text(pdf, page, FOOTER, PAGE_HEIGHT - FOOTER) == [str(page)], (pdf.name, page)
        pages.append(_text(pdf, page, 0, FOOTER))
    return pages


def _source_order(tex: str) -> tuple[list[tuple[str, str]], dict[int, str]]:
    """The headings in order as (number, first word of the title), and the heading each
    figure (numbered from 1, by its caption) is written under."""
    headings: list[tuple[str, str]] = []
    owner: dict[int, str] = {}
    section = subsection = 0
    body = tex[tex.index(r"\begin{document}"):]  # the preamble defines the macros
    pattern = r"\\(section|subsection)\{([^\s\\{}]+)|\\caption\{"
    for match in re.finditer(pattern, body):
        if match.group(1) == "section":
            section, subsection = section + 1, 0
            headings.append((str(section), match.group(2)))
        elif match.group(1) == "subsection":
            subsection += 1
            headings.append((f"{section}.{subsection}", match.group(2)))
        else:
            owner[len(owner) + 1] = headings[-1][0]
    return headings, owner


def _layout(pdf: Path, tex: Path) -> Layout:
    pages = _page_lines(pdf)
    order, owner = _source_order(tex.read_text())
    flat = [(p, i, line) for p, lines in enumerate(pages) for i, line in enumerate(lines)]
    headings: dict[str, Where] = {}
    heading_lines: set[Where] = set()
    at = 0
    # a heading is its number alone on a line and its title's first word starting a line at
    # most three away: pdftotext may read a superscript (w^{(2)}) or the title first
    for number, word in order:
        found = next((sorted((k, t)) for k in range(at, len(flat)) if flat[k][2] == number
                      for t in range(max(k - 3, 0), min(k + 4, len(flat)))
                      if t != k and flat[t][2].startswith(word)), None)
        assert found is not None, f"{pdf.name}: heading {number} {word}... not found"
        headings[number] = flat[found[1]][:2]  # the later of the two lines
        heading_lines |= {flat[k][:2] for k in range(found[0], found[1] + 1)}
        at = found[1] + 1
    captions = {n: (p, i) for p, i, line in flat for n in owner
                if line.startswith(f"Figure {n}:")}
    assert sorted(captions) == sorted(owner), (pdf.name, captions, owner)
    figure_lines = {line.strip() for figure in tex.parent.glob(f"{tex.stem}-figures/*.pdf")
                    for line in subprocess.run(["pdftotext", "-enc", "UTF-8", str(figure), "-"],
                                               capture_output=True, text=True,
                                               check=True).stdout.splitlines()}
    return Layout(pages, headings, heading_lines, captions, owner, figure_lines - {""})


def _check(layout: Layout, name: str) -> None:
    for page, lines in enumerate(layout.pages, start=1):
        body = [line for i, line in enumerate(lines) if line not in layout.figure_lines
                and not line.startswith("Figure ")]
        assert len(body) >= BODY_LINES, f"{name}: page {page} holds only {lines}"
    for number, (page, line) in layout.headings.items():
        after = [text for i, text in enumerate(layout.pages[page][line + 1:], start=line + 1)
                 if (page, i) not in layout.heading_lines]
        assert len(after) >= BODY_LINES, (
            f"{name}: heading {number} is left at the foot of page {page + 1} with {after}")
    ordered = sorted(layout.headings, key=layout.headings.__getitem__)
    for figure, owner in layout.figure_owner.items():
        later = ordered[ordered.index(owner) + 1:]
        start, end = layout.headings[owner], layout.headings[later[0]] if later else (1e9, 0)
        assert start < layout.captions[figure] < end, (
            f"{name}: figure {figure} of {owner} is not between its heading and the next")


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_pages_keep_headings_with_their_body_and_figures_in_their_section(
        spec: Path, rendered: dict[str, Path]) -> None:
    folder = rendered[spec.stem]
    layout = _layout(folder / f"{spec.stem}.pdf", folder / f"{spec.stem}.tex")
    _check(layout, spec.stem)


def test_the_checked_two_neuron_report_keeps_its_figure_out_of_the_checks(
        tmp_path: Path) -> None:
    """The activation figure once landed between the checks of section 7."""
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    hand = DERIVATIONS / "two_neuron_hand.toml"
    pdf = render_report(d, tmp_path / "checked.pdf", check=hand)
    tex = render_report(d, tmp_path / "checked.tex", check=hand)
    layout = _layout(pdf, tex)
    _check(layout, "two_neuron checked")
    assert layout.figure_owner == {1: "6.1"} and "7.12" in layout.headings


def test_two_neurons_last_page_is_the_activation_section_with_its_figure(
        rendered: dict[str, Path]) -> None:
    """Once a lone figure on an almost empty fifth page; now section 6 moves there whole."""
    folder = rendered["two_neuron"]
    layout = _layout(folder / "two_neuron.pdf", folder / "two_neuron.tex")
    last = len(layout.pages) - 1
    assert layout.headings["6"][0] == layout.headings["6.1"][0] == layout.captions[1][0] == last
