"""What a reader of a report or of the terminal sees: words set as words, names as the
spec gives them, numbers without signed zeros or rounding noise, negative factors in
brackets (issue 14's typographic slips, each checked in the extracted text)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import symgrad.report.render
from symgrad import derive, load
from symgrad.report.content import build
from symgrad.report.render import write_report

from .conftest import DERIVATIONS, run_cli_here

MATHML = "{http://www.w3.org/1998/Math/MathML}"
XHTML = "{http://www.w3.org/1999/xhtml}"
needs_tex = pytest.mark.skipif(
    symgrad.report.render.tex_engine() is None or shutil.which("pdftotext") is None,
    reason="needs pdflatex/latexmk and pdftotext (.ci/run installs them)")

#: One linear unit with a bias, one sample: the update of b lands on 0 up to float64
#: rounding (0.15 - 0.5 * 0.30000000000000004 = -2.8e-17).
NOISY_STEP = """
title = "A step that lands on zero"
[network]
inputs = 1
layers = [{ units = 1, activation = "linear" }]
loss = "half_sse"
[parameters]
w = 0.2
b = 0.15
[data]
x = 0.75
T = 0.0
[training]
learning_rate = 0.5
iterations = 1
"""


def _render(tmp_path: Path, spec: Path | str, fmt: str) -> Path:
    if isinstance(spec, str):
        (tmp_path / "spec.toml").write_text(spec)
        spec = tmp_path / "spec.toml"
    out = tmp_path / f"{Path(spec).stem}.{fmt}"
    write_report(build(derive(load(spec))), out)
    return out


def _pdf_lines(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(path), "-"],
                         capture_output=True, text=True, check=True).stdout
    return [" ".join(line.split()) for line in out.splitlines()]


# -- ranges: words as words -----------------------------------------------------------------


def test_softmax_range_words_are_text_in_markdown(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "small_mlp.toml", "md").read_text()
    assert "Its range is $(0, 1)$, components sum to 1; at kinks" in md


def test_softmax_range_words_are_text_in_html(tmp_path: Path) -> None:
    page = _render(tmp_path, DERIVATIONS / "small_mlp.toml", "html").read_text()
    root = ET.fromstring(page)
    para = next(p for p in root.iter(XHTML + "p") if "".join(p.itertext()).startswith("Its range")
                and "components" in "".join(p.itertext()))
    maths = list(para.iter(f"{MATHML}math"))
    assert ", components sum to 1; at kinks" in "".join(para.itertext())
    letters = [e.text for m in maths for e in m.iter(f"{MATHML}mi")]
    assert "c" not in letters and "m" not in letters  # no word spelt letter by letter


@needs_tex
def test_softmax_range_words_are_spaced_in_the_pdf(tmp_path: Path) -> None:
    lines = _pdf_lines(_render(tmp_path, DERIVATIONS / "small_mlp.toml", "pdf"))
    assert any("(0, 1), components sum to 1; at kinks" in line for line in lines)


def test_the_terminal_prints_infinity_as_a_symbol_and_names_the_identity() -> None:
    out = run_cli_here("activations").stdout
    linear = out.split("Linear (identity)")[1].split("\n\n")[0]
    assert "  formula:    linear(z) = z\n" in linear
    assert "  derivative: d/dz linear(z) = 1\n" in linear
    assert "  range:      (-∞, ∞)\n" in linear
    assert "infty" not in out and "Piecewise" not in out
    assert "  range:      [0, ∞)\n" in out.split("Rectified linear unit")[1]


def test_the_linear_activation_is_named_in_a_report(tmp_path: Path) -> None:
    md = _render(tmp_path, NOISY_STEP, "md").read_text()
    assert r"$$\operatorname{linear}\left(z\right) = z$$" in md
    assert r"\frac{d}{dz} \operatorname{linear}\left(z\right) &= 1" in md


# -- numbers: no signed zero, no noise as a value, negative factors in brackets -------------


def test_a_step_landing_on_zero_up_to_rounding_prints_0_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "step.toml").write_text(NOISY_STEP)
    out = run_cli_here("train", tmp_path / "step.toml").stdout
    assert "  b = 0.15 - 0.5 * 0.3 = 0\n" in out
    assert "e-17" not in out
    assert "(a new value below 1e-12 times its terms is rounding noise: shown as 0)" in out


def test_terminal_update_lines_bracket_negative_gradients() -> None:
    out = run_cli_here("train", DERIVATIONS / "two_two_two.toml").stdout
    assert "  w2_2_1 = 0.5 - 0.5 * (-0.02260254048) = 0.5113012702\n" in out
    assert not re.search(r"\* -\d", out)


#: A ReLU unit below its kink: its gradients are exactly 0, and the step -alpha * 0 is -0.0.
DEAD_RELU = NOISY_STEP.replace('"linear"', '"relu"').replace("w = 0.2", "w = -1.0")


def test_the_update_table_has_no_signed_zero(tmp_path: Path) -> None:
    md = _render(tmp_path, DEAD_RELU, "md").read_text()
    assert "| $w$ | $-1$ | $0$ | $0$ | $-1$ |" in md
    assert "$-0$" not in md


# -- prose in the spec's names --------------------------------------------------------------


def test_prose_speaks_of_the_spec_names_not_the_default_ones(tmp_path: Path) -> None:
    # linear_cost names the weighted sum y and the target z: z is never "the weighted sum"
    md = _render(tmp_path, DERIVATIONS / "linear_cost.toml", "md").read_text()
    assert "no activation (the output is the weighted sum $y$ itself), without a bias;" in md
    assert "each unit forms a weighted sum $y$ of its inputs, which is its output:" in md
    assert "weighted sum $z$" not in md and "plus its bias" not in md


def test_derive_steps_name_the_renamed_weighted_sum() -> None:
    out = run_cli_here("derive", "--form", "steps", DERIVATIONS / "linear_cost.toml").stdout
    assert "error signals (delta = dJ/dy), output layer first:\n" in out


def test_error_signal_prose_uses_the_renamed_weighted_sum(tmp_path: Path) -> None:
    spec = (DERIVATIONS / "two_two_two.toml").read_text().replace(
        'loss = "half_sse"', 'loss = "half_sse"\nnames = { pre = "net", post = "out" }')
    md = _render(tmp_path, spec, "md").read_text()
    assert r"The error signal $\delta = \partial E / \partial net$ of a unit" in md
    assert "weighted sum $net$ of its inputs plus its bias, and passes it through its " \
        "activation to give its output $out$" in md


# -- the forward pass at the point; gradients of several samples as sums --------------------


def test_the_forward_pass_shows_the_values_at_the_point(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "two_neuron.toml", "md").read_text()
    forward = md.split("## Forward pass")[1].split("##")[0]
    # by hand: z1 = 0.15 * 0.1 + 0.4; a1 = 1 / (1 + exp(-z1)); z2 = 0.45 a1 + 0.65
    z1 = 0.15 * 0.1 + 0.4
    a1 = 1 / (1 + math.exp(-z1))
    z2 = 0.45 * a1 + 0.65
    a2 = 1 / (1 + math.exp(-z2))
    assert f"z_{{1}} &= w_{{1}} x_{{1}} + b_{{1}} = {z1:.6g}" in forward
    assert rf"a_{{1}} &= \sigma\left(z_{{1}}\right) = {a1:.6g}" in forward
    assert f"z_{{2}} &= a_{{1}} w_{{2}} + b_{{2}} = {z2:.6g}" in forward
    assert rf"a_{{2}} &= \sigma\left(z_{{2}}\right) = {a2:.6g}" in forward


def test_samples_forward_values_are_listed_per_sample(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "linear_cost.toml", "md").read_text()
    assert r"y &= w x = \left(0.02,\ 0.04,\ 0.06,\ 0.08,\ 0.1\right)" in md


def test_a_gradient_over_several_samples_shows_the_sum(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "linear_cost.toml", "md").read_text()
    assert (r"\frac{\partial J}{\partial w} &= \sum_{i=1}^{5} \left[ \frac{\partial J}"
            r"{\partial y} \cdot \frac{\partial y}{\partial w} \right]_{i}") in md
    assert r" &= \sum_{i=1}^{5} \left[ 2 x \left(y - z\right) \right]_{i} \\" in md
    # the value beside it is that sum: sum of 2 x (0.2 x - 2 x) = -3.6 * sum x^2 = -1.98
    assert r" &= -1.98 \quad \text{at the point above}" in md
    assert -3.6 * sum(x * x for x in (0.1, 0.2, 0.3, 0.4, 0.5)) == pytest.approx(-1.98, 1e-12)


def test_a_mean_over_samples_shows_one_over_n(tmp_path: Path) -> None:
    spec = (DERIVATIONS / "linear_cost.toml").read_text().replace('loss = "sse"',
                                                                   'loss = "mse"')
    md = _render(tmp_path, spec, "md").read_text()
    assert r"&= \frac{1}{5} \sum_{i=1}^{5} \left[ 2 x \left(y - z\right) \right]_{i}" in md
    assert r" &= -0.396 \quad \text{at the point above}" in md


def test_one_sample_shows_no_sum(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "two_neuron.toml", "md").read_text()
    assert r"\sum_{i=1}" not in md


# -- the PDF: commands copy as typed, the metadata title -------------------------------------


@needs_tex
def test_a_command_in_the_pdf_copies_with_two_hyphens_and_the_title_is_in_the_metadata(
        tmp_path: Path) -> None:
    pdf = _render(tmp_path, DERIVATIONS / "digits_mlp.toml", "pdf")
    text = " ".join(" ".join(_pdf_lines(pdf)).split())
    assert "symgrad derive --level layer." in text and "\u2013level" not in text
    assert "Derived by symgrad" in text and " from digits_mlp.toml" in text  # not "digits mlp"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "Title:           Handwritten digits: 64 inputs, 32 sigmoid units, 10 softmax " \
        "outputs\n" in info


# -- the HTML page: numbers as in the PDF, no lone colon, no sideways scrolling on a phone ---


def _headings(page: str) -> list[str]:
    root = ET.fromstring(page)
    return [" ".join("".join(h.itertext()).split()) for h in root.iter()
            if h.tag in (XHTML + "h2", XHTML + "h3", XHTML + "figcaption")]


def test_html_numbers_sections_and_figures_as_the_pdf_does(tmp_path: Path) -> None:
    page = _render(tmp_path, DERIVATIONS / "linear_cost.toml", "html").read_text()
    shown = [h if not h.startswith("Figure") else h.split(":")[0] for h in _headings(page)]
    assert shown[:8] == ["1 The model and its cost", "1.1 The point of evaluation",
                         "2 Forward pass", "3 Gradients by the chain rule",
                         "3.1 With respect to w", "4 One step of gradient descent",
                         "5 Training", "Figure 1"]
    assert shown[8:] == ["6 The cost curve and the learning rate", "Figure 2", "Figure 3"]


@needs_tex
def test_html_and_pdf_number_alike(tmp_path: Path) -> None:
    pdf_lines = _pdf_lines(_render(tmp_path, DERIVATIONS / "two_neuron.toml", "pdf"))
    page = _render(tmp_path, DERIVATIONS / "two_neuron.toml", "html").read_text()
    for heading in _headings(page):
        number = heading.split(" ")[0] if not heading.startswith("Figure") else \
            heading.split(":")[0]
        title_start = heading.removeprefix(number).strip(" :").split(" ")[0]
        assert any(line.startswith(f"{number} {title_start}") or
                   line.startswith(f"{number}: {title_start}") for line in pdf_lines), heading


def test_html_keeps_a_colon_on_the_line_of_the_formula_before_it(tmp_path: Path) -> None:
    page = _render(tmp_path, DERIVATIONS / "two_two_two.toml", "html").read_text()
    marks = re.findall(r"</math>([:;,.)])(</span>)?", page)
    assert marks and all(end for _, end in marks)  # each inside its span.nobr
    assert ".nobr { white-space: nowrap; }" in page


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.mark.skipif(CHROMIUM is None or not Path(CHROMEDRIVER).exists(),
                    reason="needs chromium and chromedriver (apt-get install chromium-driver)")
def test_html_does_not_scroll_sideways_at_480_pixels(tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_window_size(480, 900)
        for spec in ("two_neuron", "two_two_two", "small_mlp", "linear_cost"):
            page = _render(tmp_path, DERIVATIONS / f"{spec}.toml", "html")
            driver.get(page.as_uri())
            scroll, inner = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            assert inner <= 480 and scroll <= inner, spec
    finally:
        driver.quit()


# -- a large network: the matrix form, and its unit-level example bracketed right ------------


def test_a_large_network_shows_the_derivation_in_matrix_form(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "digits_mlp.toml", "md").read_text()
    matrix = md.split("In matrix form")[1].split("Unit by unit")[0]
    for line in (r"z_{1} &= W_{1} x + b_{1} \\", r"\delta_{2} &= s - y \\",
                 r"\delta_{1} &= \left(W_{2}^{T} \delta_{2}\right) \odot \sigma'\left(z_{1}"
                 r"\right) = \left(W_{2}^{T} \delta_{2}\right) \odot a_{1} \odot \left(1 - "
                 r"a_{1}\right) \\",
                 r"\frac{\partial E}{\partial W_{1}} &= \delta_{1} x^{T} \\",
                 r"\frac{\partial E}{\partial b_{1}} &= \delta_{1}"):
        assert line in matrix, line


def test_an_elided_sum_leaves_the_other_factors_bracketed(tmp_path: Path) -> None:
    md = _render(tmp_path, DERIVATIONS / "digits_mlp.toml", "md").read_text()
    assert r" &= a^{(1)}_{1} \left(1 - a^{(1)}_{1}\right) \left(\delta^{(2)}_{1}" in md
    assert r"a^{(1)}_{1} 1 - a^{(1)}_{1}" not in md


def test_a_number_never_stands_alone_on_a_line() -> None:
    from symgrad.report.layout import continued
    rows = continued("=", ["2", r"\left(" + "x + " * 40 + r"y\right)", "z"], " ")
    assert rows[0].right.startswith(r"= 2 \left(x + ")
