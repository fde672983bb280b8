"""Reports: every spec in every format, the numbers in the PDF checked a second way,
LaTeX injection, strict templates, self-contained HTML (XML parser and headless Chromium),
atomic output, and the ``symgrad report`` command."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import symgrad
import symgrad.report.render
from symgrad import derive, load
from symgrad.errors import ReportError
from symgrad.report import escape
from symgrad.report.content import build, number
from symgrad.report.render import (INSTALL_TEX, environment, render_report, render_source,
                                   write_report)

from .conftest import ALL_SPECS, DERIVATIONS, ONE_NEURON_TABLES, run_cli

HAS_TEX = symgrad.report.render.tex_engine() is not None
HAS_PDFTOTEXT = shutil.which("pdftotext") is not None
needs_tex = pytest.mark.skipif(
    not (HAS_TEX and HAS_PDFTOTEXT),
    reason="needs pdflatex/latexmk and pdftotext (.ci/run installs them)")
MATHML = "{http://www.w3.org/1998/Math/MathML}math"
SVG = "{http://www.w3.org/2000/svg}svg"
INJECTION = r"\input{/etc/passwd} \write18{touch canary} 100% a_b & #1 $x$ {y} ^~ \\ <b>"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _pdf_text(path: Path, layout: bool = False) -> str:
    """The PDF's text with all whitespace removed (pdftotext spaces math irregularly);
    ``layout`` keeps table rows together instead of reading tables column by column."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []),
                          str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(out.split())


# -- every spec, every format ---------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_every_spec_renders_to_tex_with_figures_beside_it(spec: Path,
                                                          rendered: dict[str, Path]) -> None:
    folder = rendered[spec.stem]
    tex = (folder / f"{spec.stem}.tex").read_text()
    assert tex.startswith(r"\documentclass[11pt,a4paper]{article}")
    assert tex.rstrip().endswith(r"\end{document}")
    packages = sorted(line.split("{")[1].rstrip("}") for line in tex.splitlines()
                      if line.startswith(r"\usepackage"))
    assert packages == ["amsmath", "amssymb", "booktabs", "graphicx", "hyperref"]
    figures = [line.split("]{")[1].rstrip("}") for line in tex.splitlines()
               if line.startswith(r"\includegraphics")]
    assert figures, "every spec has at least its activation figure"
    for name in figures:
        assert name.startswith(f"{spec.stem}-figures/") and name.endswith(".pdf")
        assert (folder / name).read_bytes().startswith(b"%PDF")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "temporary files left"


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_every_spec_renders_to_markdown_with_svg_figures(spec: Path,
                                                         rendered: dict[str, Path]) -> None:
    folder = rendered[spec.stem]
    md = (folder / f"{spec.stem}.md").read_text()
    assert md.startswith("# ")
    assert "$$\n\\begin{aligned}" in md
    links = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert links
    for link in links:
        assert link.endswith(".svg")
        assert b"<svg" in (folder / link).read_bytes()


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_every_spec_renders_to_one_well_formed_html_file(spec: Path,
                                                         rendered: dict[str, Path]) -> None:
    folder = rendered[spec.stem]
    page = (folder / f"{spec.stem}.html").read_text()
    root = ET.fromstring(page)  # well-formed XML, or this raises
    assert len(root.findall(f".//{MATHML}")) > 10
    assert len(root.findall(f".//{SVG}")) >= 1
    lowered = page.lower()
    assert "<script" not in lowered and " on" + "load=" not in lowered
    for attr in ("src=", "<link", "@import", "url(http"):
        assert attr not in lowered, attr
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)), "duplicate ids across inlined figures"
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".html") == \
        [f"{spec.stem}.html"]


@needs_tex
@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_every_spec_compiles_to_pdf(spec: Path, rendered: dict[str, Path]) -> None:
    pdf = rendered[spec.stem] / f"{spec.stem}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert "Gradientsbythechainrule" in text
    assert not (rendered[spec.stem] / "figures").exists()


# -- the numbers, checked a second way --------------------------------------------------------


def _two_neuron_loss(w1: float, b1: float, w2: float, b2: float) -> float:
    a1 = _sigmoid(w1 * 0.1 + b1)
    a2 = _sigmoid(w2 * a1 + b2)
    return 0.5 * (0.25 - a2) ** 2


def _central(f: Callable[..., float], point: list[float], i: int, h: float = 1e-6) -> float:
    up, down = list(point), list(point)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


@needs_tex
def test_the_tex_file_compiles_on_its_own_with_its_figures(rendered: dict[str, Path],
                                                         tmp_path: Path) -> None:
    folder = rendered["two_neuron"]
    shutil.copy(folder / "two_neuron.tex", tmp_path)
    shutil.copytree(folder / "two_neuron-figures", tmp_path / "two_neuron-figures")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "two_neuron.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "=0.0570704atthepointabove" in _pdf_text(tmp_path / "two_neuron.pdf")


@needs_tex
def test_two_neuron_pdf_has_the_chain_and_the_values(rendered: dict[str, Path]) -> None:
    text = _pdf_text(rendered["two_neuron"] / "two_neuron.pdf")
    table = _pdf_text(rendered["two_neuron"] / "two_neuron.pdf", layout=True)
    point = [0.15, 0.4, 0.45, 0.65]
    shown = {"w1": "0.0010214", "b1": "0.010214", "w2": "0.0570704", "b2": "0.0947563"}
    for i, name in enumerate(["w1", "b1", "w2", "b2"]):
        reference = _central(_two_neuron_loss, point, i)  # float64 central differences
        assert float(shown[name]) == pytest.approx(reference, rel=5e-6, abs=1e-9), name
        assert f"={shown[name]}atthepointabove" in text, name
    # the course's chain for w2, factor by factor, and its product
    assert "=−(T−a2)·a2(1−a2)·a1=a1a2(1−a2)(a2−T)=0.0570704" in text
    assert "thederivativeofthesigmoid(logistic)" in text
    assert "σ(z)=(1−σ(z))σ(z),whichfollowsfromitsdefinition" in text
    # the update with learning rate 0.4: w2 <- 0.45 - 0.4 * 0.0570704 = 0.427172
    assert "α=0.4" in text
    assert "w20.450.0570704−0.02282820.427172" in table
    assert f"{0.45 - 0.4 * 0.05707039820105493:.6g}" == "0.427172"
    loss_before = _two_neuron_loss(*point)
    assert f"TherethecostisE={loss_before:.6g}." in text


@needs_tex
def test_linear_cost_pdf_has_the_parabola_iterations_and_rates(
        rendered: dict[str, Path]) -> None:
    text = _pdf_text(rendered["linear_cost"] / "linear_cost.pdf")
    table = _pdf_text(rendered["linear_cost"] / "linear_cost.pdf", layout=True)
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    # J(w) = sum (z - w x)^2 with z = 2x: 0.55 w^2 - 2.2 w + 2.2, minimum at w = 2
    assert float(np.sum(x**2)) == pytest.approx(0.55)
    assert "J(w)=0.55w2−2.2w+2.2" in text and "=1.1w−2.2" in text
    assert "w∗=2" in text
    # the iteration table: w_{i+1} = w_i - 0.4 * 1.1 (w_i - 2), from w0 = 0.2
    w = 0.2
    for i in range(4):
        row = f"{i}{number(w)}{number(0.55 * w**2 - 2.2 * w + 2.2)}{number(1.1 * w - 2.2)}"
        assert row in table.replace("−", "-"), row
        w -= 0.4 * (1.1 * w - 2.2)
    assert "α<2/1.1=1.81818" in text
    assert "toosmall0.04" in table and "toolarge2" in table and "diverged" in table


@needs_tex
def test_deep_chain_pdf_has_the_vanishing_product_and_its_bound(
        rendered: dict[str, Path]) -> None:
    text = _pdf_text(rendered["deep_sigmoid_chain"] / "deep_sigmoid_chain.pdf")
    spec = load(DERIVATIONS / "deep_sigmoid_chain.toml").values
    a, slopes = float(spec["x1"]), []
    for layer in range(1, 9):  # independent forward pass
        a = _sigmoid(float(spec[f"w{layer}"]) * a + float(spec[f"b{layer}"]))
        slopes.append(a * (1 - a))
    product = math.prod(slopes)
    assert product < 0.25**8
    assert "(1/4)8=1.52588×10−5" in text
    mantissa, exponent = f"{product:.5e}".split("e")
    assert f"itis{mantissa}×10−{abs(int(exponent))}." in text


@needs_tex
def test_small_mlp_pdf_shows_the_softmax_cross_entropy_simplification(
        rendered: dict[str, Path]) -> None:
    text = _pdf_text(rendered["small_mlp"] / "small_mlp.pdf")
    assert "softmaxwithcross-entropy:a-Twhenthetargetssumto1ineverysample(one-hotlabels)" in text
    assert "Errorsignals" in text


def test_markdown_keeps_math_in_dollars(rendered: dict[str, Path]) -> None:
    md = (rendered["two_neuron"] / "two_neuron.md").read_text()
    assert (r" &= -\left(T - a_{2}\right) \cdot a_{2} \left(1 - a_{2}\right) \cdot a_{1} \\"
            in md)
    assert r"- $\frac{\partial E}{\partial a_{2}} = -\left(T - a_{2}\right)$: " in md


def test_expanded_form_only_when_short() -> None:
    c = build(derive(load(DERIVATIONS / "two_neuron.toml")))
    assert [g.expanded is not None for g in c.gradients] == [True] * 4
    deep = build(derive(load(DERIVATIONS / "deep_sigmoid_chain.toml")))
    assert all(g.expanded is None for g in deep.gradients)


# -- injection, escaping, strictness ----------------------------------------------------------


def _evil_spec(folder: Path, name: str = "evil.toml", title: str | None = INJECTION) -> Path:
    head = f"title = '{title}'\n" if title is not None else ""
    path = folder / name
    path.write_text(head + """description = '''
\\immediate\\write18{touch canary2}
\\def\\x{oops} %comment
'''
""" + ONE_NEURON_TABLES)
    return path


@needs_tex
def test_latex_injection_through_title_description_and_file_name_is_neutralized(
        tmp_path: Path) -> None:
    spec = _evil_spec(tmp_path)
    named = _evil_spec(tmp_path, "a_b%c#d&e$f.toml", title=None)  # title = the file's stem
    r = run_cli("report", spec, "-o", tmp_path / "evil.pdf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli("report", named, "-o", tmp_path / "named.pdf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not list(tmp_path.rglob("canary*")) and not list(Path.cwd().glob("canary*"))
    text = _pdf_text(tmp_path / "evil.pdf")
    assert text.startswith(r"\input{/etc/passwd}\write18{touchcanary}100%a")
    assert r"&#1$x${y}" in text
    assert r"\immediate\write18{touchcanary2}\def\x{oops}%comment" in text
    assert "root:" not in text
    assert _pdf_text(tmp_path / "named.pdf").startswith("a")
    assert "%c#d&e$f" in _pdf_text(tmp_path / "named.pdf")


def test_latex_escaping_of_every_special_character() -> None:
    assert escape.tex(INJECTION) == (
        r"\textbackslash{}input\{/etc/passwd\} \textbackslash{}write18\{touch canary\} "
        r"100\% a\_b \& \#1 \$x\$ \{y\} \textasciicircum{}\textasciitilde{} "
        r"\textbackslash{}\textbackslash{} \textless{}b\textgreater{}")
    assert escape.tex("α ≤ 1\n") == r"\ensuremath{\alpha} \ensuremath{\leq} 1 "
    assert escape.tex("\U0001F600") == "[U+1F600]"


def test_markdown_and_html_escape_user_text(tmp_path: Path) -> None:
    d = derive(load(_evil_spec(tmp_path)))
    md = render_report(d, tmp_path / "evil.md").read_text()
    assert md.splitlines()[0] == (r"# \\input{/etc/passwd} \\write18{touch canary} 100% "
                                  r"a\_b &amp; #1 \$x\$ {y} ^\~ \\\\ &lt;b&gt;")
    page = render_report(d, tmp_path / "evil.html").read_text()
    title = ET.fromstring(page).find(".//{http://www.w3.org/1999/xhtml}h1")
    assert title is not None and title.text == INJECTION
    assert "<b>" not in page


def test_an_undefined_template_variable_fails_naming_it() -> None:
    content = build(derive(load(DERIVATIONS / "two_neuron.toml")))
    partial = types.SimpleNamespace(**{k: v for k, v in vars(content).items()
                                       if k != "loss_symbol"})
    with pytest.raises(ReportError) as info:
        render_source(partial, "tex", {})  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("report template model.tex.j2:")
    assert message.endswith("'types.SimpleNamespace object' has no attribute 'loss_symbol'")
    with pytest.raises(Exception) as bare:
        environment().from_string(r"x = \VAR{missing}").render()
    assert str(bare.value) == "'missing' is undefined"


# -- output handling --------------------------------------------------------------------------


def test_no_tex_engine_is_one_line_saying_how_to_install(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(symgrad.report.render.shutil, "which", lambda name: None)
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    with pytest.raises(ReportError) as info:
        render_report(d, tmp_path / "two_neuron.pdf")
    assert str(info.value) == (
        "no TeX engine found (latexmk or pdflatex); install one with apt-get install "
        "texlive-latex-base texlive-latex-recommended latexmk (Debian/Ubuntu), or write "
        ".tex, .md or .html instead")
    assert list(tmp_path.iterdir()) == []


def test_cli_without_tex_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    proc = subprocess.run([sys.executable, "-m", "symgrad", "report",
                           str(DERIVATIONS / "two_neuron.toml"), "-o", str(tmp_path / "x.pdf")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == (f"symgrad report: error: no TeX engine found (latexmk or pdflatex) "
                           f"to make a PDF; install one with {INSTALL_TEX}, or write .tex, .md "
                           "or .html instead\n")
    assert not (tmp_path / "x.pdf").exists()


@needs_tex
def test_a_failed_tex_build_leaves_nothing(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(content, fmt, figures):  # type: ignore[no-untyped-def]
        return "\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n"

    monkeypatch.setattr(symgrad.report.render, "render_source", broken)
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    with pytest.raises(ReportError) as info:
        render_report(d, tmp_path / "two_neuron.pdf")
    assert "failed: Undefined control sequence." in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_rendering_again_replaces_the_figures(tmp_path: Path) -> None:
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    render_report(derive(load(DERIVATIONS / "linear_cost.toml")), tmp_path / "r.md")
    assert (tmp_path / "r-figures" / "rates.svg").exists()  # stale for two_neuron
    render_report(d, tmp_path / "r.md")
    assert sorted(p.name for p in (tmp_path / "r-figures").iterdir()) == \
        [".symgrad-figures.json", "activation-sigmoid.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r-figures", "r.md"]


def test_bad_output_paths_are_report_errors(tmp_path: Path) -> None:
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    with pytest.raises(ReportError, match=r"unknown extension '\.docx'; use one of \.tex, "
                                          r"\.pdf, \.md, \.html$"):
        render_report(d, tmp_path / "r.docx")
    with pytest.raises(ReportError, match="the folder '.*missing' does not exist$"):
        render_report(d, tmp_path / "missing" / "r.md")


def test_public_api_is_callable_and_keeps_the_package(tmp_path: Path) -> None:
    d = derive(load(DERIVATIONS / "linear_cost.toml"))
    out = symgrad.report(d, tmp_path / "linear_cost.html")
    assert out == tmp_path / "linear_cost.html"
    assert symgrad.render_report is symgrad.report.render.render_report
    assert isinstance(symgrad.report, types.ModuleType)


# -- hand derivations --------------------------------------------------------------------------


def test_check_section_lists_each_verdict_and_diagnosis(tmp_path: Path) -> None:
    hand = DERIVATIONS / "two_neuron_hand.toml"
    if not hand.exists():
        pytest.skip("no hand-derivation file shipped")
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    md = render_report(d, tmp_path / "checked.md", check=hand).read_text()
    assert "## Your derivations, checked" in md
    assert "### With respect to $w_{2}$: not equal (sign)" in md
    assert (r"Your expression is the negative of $\frac{\partial E}{\partial w_{2}}$ "
            r"(sign error: $\frac{\partial E}{\partial a_{2}} = -\left(T - a_{2}\right)$)."
            in md)
    assert md.count(": equal\n") == 6
    page = render_report(d, tmp_path / "checked.html", check=hand).read_text()
    ET.fromstring(page)
    assert "sign error" in page


# -- the command -------------------------------------------------------------------------------


def test_cli_outdir_writes_one_report_per_spec_and_skips_hand_files(tmp_path: Path) -> None:
    specs = [DERIVATIONS / "two_neuron.toml", DERIVATIONS / "linear_cost.toml",
             DERIVATIONS / "two_neuron_hand.toml"]
    r = run_cli("report", *specs, "--outdir", tmp_path / "reports", "--format", "md")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"wrote {tmp_path / 'reports' / 'two_neuron.md'}",
                                     f"wrote {tmp_path / 'reports' / 'linear_cost.md'}"]
    assert "skipped" in r.stderr and "two_neuron_hand.toml" in r.stderr


def test_cli_usage_errors(tmp_path: Path) -> None:
    two = DERIVATIONS / "two_neuron.toml"
    r = run_cli("report", two, two, "-o", tmp_path / "x.md")
    assert (r.returncode, r.stderr) == (2, "symgrad report: error: -o writes one report but 2 "
                                           "specs were given; use --outdir DIR for several\n")
    r = run_cli("report", two, "-o", tmp_path / "x.md", "--format", "md")
    assert r.returncode == 2 and "--format goes with --outdir" in r.stderr
    r = run_cli("report", two, "-o", tmp_path / "x.odt")
    assert r.returncode == 2 and "unknown extension '.odt'" in r.stderr
    assert list(tmp_path.iterdir()) == []


# -- headless Chromium -------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "chromium"], capture_output=True, timeout=600,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        return shutil.which("chromium")
    return None


def test_html_opens_in_headless_chromium_without_errors(rendered: dict[str, Path],
                                                        tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium cannot be found or installed here")
    page = rendered["two_neuron"] / "two_neuron.html"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<h1>One input, two sigmoid neurons</h1>" in dom
    assert dom.count("<math") > 10 and "<svg" in dom
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == []


def test_a_spec_without_data_or_training_is_derived_symbolically_only(tmp_path: Path) -> None:
    spec = tmp_path / "bare.toml"
    spec.write_text('title = "Bare"\n[network]\ninputs = 2\n'
                    'layers = [{ units = 1, activation = "leaky_relu", alpha = 0.1 }]\n'
                    'loss = "mse"\n')
    d = derive(load(spec))
    content = build(d)
    assert (content.update, content.training, content.one_parameter, content.vanishing) == \
        (None, None, None, None)
    assert [g.value for g in content.gradients] == ["", "", ""]
    md = write_report(content, tmp_path / "bare.md").read_text()
    assert "The spec gives no data, so the gradients are derived symbolically only." in md
    assert "LeakyReLU'(0) = alpha (the left slope)" in md
    ET.fromstring(write_report(content, tmp_path / "bare.html").read_text())


def test_cli_check_writes_the_verdicts(tmp_path: Path) -> None:
    hand = DERIVATIONS / "two_neuron_hand.toml"
    if not hand.exists():
        pytest.skip("no hand-derivation file shipped")
    r = run_cli("report", DERIVATIONS / "two_neuron.toml", "--check", hand,
                "-o", tmp_path / "checked.html")
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "checked.html").read_text()
    assert page.count("not equal") == 6
    wrong = tmp_path / "wrong.toml"  # a row that does not say what it gives: exit 1
    wrong.write_text('[[gradient]]\nwrt = "w2"\nexpr = "(T - a2)*a2*(1 - a2)*a1"\n'
                     'expect = "equal"\n')
    r = run_cli("report", DERIVATIONS / "two_neuron.toml", "--check", wrong,
                "-o", tmp_path / "wrong.html")
    assert r.returncode == 1 and r.stdout == f"wrote {tmp_path / 'wrong.html'}\n"
    assert "not equal" in (tmp_path / "wrong.html").read_text()
    r = run_cli("report", DERIVATIONS / "two_neuron.toml", DERIVATIONS / "linear_cost.toml",
                "--check", hand, "--outdir", tmp_path / "out")
    assert (r.returncode, r.stderr) == (2, "symgrad report: error: --check needs exactly one "
                                           "SPEC, got 2\n")


def test_lowercase_target_chain_line_is_bracketed_in_markdown_and_html(tmp_path: Path) -> None:
    """With ``names = { target = "z", pre = "y" }`` the loss factor ``a2 - z`` sorts its
    terms the other way round from ``a2 - T``; it must still print as ``-(z - a2)``."""
    spec = (DERIVATIONS / "two_neuron.toml").read_text()
    spec = spec.replace("[network]\n", '[network]\nnames = { target = "z", pre = "y" }\n')
    path = tmp_path / "lower.toml"
    path.write_text(spec.replace("\nT = 0.25", "\nz = 0.25"))
    content = build(derive(load(path)))
    for fmt in ("md", "html"):
        write_report(content, tmp_path / f"lower.{fmt}")
    md = (tmp_path / "lower.md").read_text()
    assert (r" &= -\left(z - a_{2}\right) \cdot a_{2} \left(1 - a_{2}\right) \cdot a_{1} \\"
            in md)
    assert r"- $\frac{\partial E}{\partial a_{2}} = -\left(z - a_{2}\right)$: " in md
    html = (tmp_path / "lower.html").read_text()
    bracketed = ('<mo>&#x02212;</mo><mrow><mo stretchy="true" fence="true" form="prefix">'
                 '&#x00028;</mo><mi>z</mi><mo>&#x02212;</mo><msub><mi>a</mi><mrow><mn>2</mn>'
                 '</mrow></msub><mo stretchy="true" fence="true" form="postfix">&#x00029;</mo>'
                 '</mrow><mo>&#x000B7;</mo><msub><mi>a</mi><mrow><mn>2</mn></mrow></msub>')
    assert html.count(bracketed) == 4  # the chain line of each of the four gradients
