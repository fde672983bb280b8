"""Reports under attack and accident: the figures folder, hostile text in every field and
format, specs a report cannot fully compute, and a build killed by SIGTERM."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest

from symgrad import __version__, derive, load
from symgrad.errors import ReportError
from symgrad.report.folder import MANIFEST
from symgrad.report.render import render_report

from .conftest import DERIVATIONS, ONE_NEURON_TABLES, run_cli_here

TWO = DERIVATIONS / "two_neuron.toml"
LINEAR = DERIVATIONS / "linear_cost.toml"  # figures: cost, rates, loss


def _tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (links as ``-> target``), by relative path."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = f"-> {p.readlink()}"
        elif p.is_file():
            out[rel] = p.read_bytes().hex()[:40]
    return out


# -- the figures folder (item 3) ----------------------------------------------------------


def test_a_file_symgrad_did_not_write_stops_the_report_and_survives(tmp_path: Path) -> None:
    assert run_cli_here("report", LINEAR, "-o", tmp_path / "r.md").returncode == 0
    figures = tmp_path / "r-figures"
    (figures / "my-plot.svg").write_text("mine")
    (tmp_path / "r.md").unlink()
    before = _tree(tmp_path)
    result = run_cli_here("report", TWO, "-o", tmp_path / "r.md")
    assert result.returncode == 2
    assert result.stderr == (
        f"symgrad report: error: {figures}: the figures folder holds a file symgrad did not "
        "write (my-plot.svg); move it away, or give --force to write beside it (symgrad "
        "removes only files it wrote)\n")
    assert _tree(tmp_path) == before  # nothing written, nothing removed


def test_force_writes_beside_foreign_files_and_removes_only_its_own(tmp_path: Path) -> None:
    assert run_cli_here("report", LINEAR, "-o", tmp_path / "r.md").returncode == 0
    figures = tmp_path / "r-figures"
    assert sorted(p.name for p in figures.glob("*.svg")) == \
        ["cost.svg", "loss.svg", "rates.svg"]
    (figures / "my-plot.svg").write_text("mine")
    (figures / "notes.txt").write_text("notes")
    result = run_cli_here("report", TWO, "-o", tmp_path / "r.md", "--force")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in figures.iterdir()) == \
        [MANIFEST, "activation-sigmoid.svg", "my-plot.svg", "notes.txt"]
    assert (figures / "my-plot.svg").read_text() == "mine"
    manifest = json.loads((figures / MANIFEST).read_text())
    assert sorted(manifest["written"]) == ["activation-sigmoid.svg"]


def test_a_tex_and_a_md_report_share_the_folder(tmp_path: Path) -> None:
    d = derive(load(LINEAR))
    render_report(d, tmp_path / "r.tex")
    render_report(d, tmp_path / "r.md")
    render_report(derive(load(TWO)), tmp_path / "r.md")  # its SVGs replace the others
    names = sorted(p.name for p in (tmp_path / "r-figures").iterdir())
    assert names == [MANIFEST, "activation-sigmoid.svg", "cost.pdf", "loss.pdf", "rates.pdf"]


def test_a_symlinked_figures_folder_is_refused_even_with_force(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "thesis-figure.pdf").write_text("precious")
    (elsewhere / "loss.svg").write_text("precious too")
    out = tmp_path / "out"
    out.mkdir()
    (out / "r-figures").symlink_to(elsewhere)
    before = _tree(tmp_path)
    for extra in ((), ("--force",)):
        for ext in ("md", "tex"):
            result = run_cli_here("report", LINEAR, "-o", out / f"r.{ext}", *extra)
            assert result.returncode == 2
            assert result.stderr == (
                f"symgrad report: error: {out / 'r-figures'}: the figures folder is a "
                "symbolic link; symgrad writes figures only into a real folder: remove the "
                "link, or name the report otherwise\n")
    assert _tree(tmp_path) == before


def test_a_link_inside_the_folder_is_never_written_through(tmp_path: Path) -> None:
    render_report(derive(load(TWO)), tmp_path / "r.md")
    figures = tmp_path / "r-figures"
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite")
    (figures / "activation-sigmoid.svg").unlink()
    (figures / "activation-sigmoid.svg").symlink_to(victim)
    with pytest.raises(ReportError, match=r"did not write \(activation-sigmoid\.svg\)"):
        render_report(derive(load(TWO)), tmp_path / "r.md")
    render_report(derive(load(TWO)), tmp_path / "r.md", force=True)
    assert victim.read_text() == "do not overwrite"
    figure = figures / "activation-sigmoid.svg"
    assert not figure.is_symlink() and figure.read_text().startswith("<?xml")


def test_a_figure_changed_by_hand_counts_as_the_users(tmp_path: Path) -> None:
    d = derive(load(TWO))
    render_report(d, tmp_path / "r.md")
    figure = tmp_path / "r-figures" / "activation-sigmoid.svg"
    original = figure.read_bytes()
    figure.write_bytes(original.replace(b"<svg", b"<svg data-edited='yes'", 1))
    with pytest.raises(ReportError, match=r"did not write \(activation-sigmoid\.svg\)"):
        render_report(d, tmp_path / "r.md")
    render_report(d, tmp_path / "r.md", force=True)
    assert figure.read_bytes() == original


def test_a_lost_manifest_still_accepts_the_very_figures_about_to_be_written(
        tmp_path: Path) -> None:
    d = derive(load(TWO))
    render_report(d, tmp_path / "r.md")
    (tmp_path / "r-figures" / MANIFEST).unlink()  # as after an interrupted first report
    render_report(d, tmp_path / "r.md")
    assert (tmp_path / "r-figures" / MANIFEST).exists()


def test_a_forged_manifest_cannot_direct_a_removal_outside_the_folder(tmp_path: Path) -> None:
    d = derive(load(LINEAR))
    render_report(d, tmp_path / "r.md")
    outside = tmp_path / "outside.svg"
    outside.write_text("x")
    manifest = tmp_path / "r-figures" / MANIFEST
    data = json.loads(manifest.read_text())
    data["written"]["../outside.svg"] = data["written"]["cost.svg"]
    manifest.write_text(json.dumps(data))
    render_report(derive(load(TWO)), tmp_path / "r.md")
    assert outside.read_text() == "x"


# -- hostile text in every free-text field, every format (items 4 and 9) --------------------

#: Every printable ASCII character (spaced, so that TeX can break the line) and letters
#: from Latin-1, Greek and CJK.
TEXT = "<" + " ".join(chr(c) for c in range(0x21, 0x7F)) + " é ß Ω 中>"
#: What pdftotext reads back for a character that OT1 draws otherwise: curly quotes, the
#: accents ^ and ~, no glyph for the underscore (a rule), the code point of a letter the
#: fonts lack.
PDF_FORM = {"'": "’", "`": "‘", "^": "ˆ", "~": "˜", "_": "", "中": "[U+4E2D]"}
#: the typewriter font has ^, ~ and _ (a file name copies with its underscores)
PDF_FORM_TT = {**PDF_FORM, "^": "^", "~": "~", "_": "_"}
#: Every printable ASCII character but the slash, in a file name.
FILE_NAME = TEXT.replace("/ ", "") + ".toml"
#: A file name that tries to inject HTML through Markdown's blank lines.
NAME_HTML = "x\n\n<img src=x onerror=alert(1)>\n\ny.toml"


def _hostile_spec(folder: Path, name: str) -> Path:
    spec = folder / name
    spec.write_text(f"title = {json.dumps('T ' + TEXT)}\n"
                    f"description = {json.dumps('D ' + TEXT)}\n" + ONE_NEURON_TABLES,
                    encoding="utf-8")
    return spec


def _hostile_hand(folder: Path) -> Path:
    hand = folder / "hand.toml"
    hand.write_text(f'[[gradient]]\nwrt = "w"\nexpr = "(a - T)*a*(1 - a)*x"\n'
                    f"note = {json.dumps('N ' + TEXT)}\n", encoding="utf-8")
    return hand


def _render(tmp_path: Path, name: str, fmt: str) -> Path:
    spec = _hostile_spec(tmp_path, name)
    return render_report(derive(load(spec)), tmp_path / f"out.{fmt}",
                         check=_hostile_hand(tmp_path))


def _md_blocks(path: Path) -> tuple[list[str], list[str]]:
    """The text of each inline block of a Markdown file as CommonMark renders it, and the
    types of the raw-HTML tokens in it (none if all text is escaped)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    html = [t.type for t in tokens if t.type.startswith("html")]
    texts = []
    for t in tokens:
        if t.type == "inline":
            html += [c.type for c in t.children or [] if c.type.startswith("html")]
            texts.append("".join(c.content for c in t.children or []
                                 if c.type in ("text", "code_inline")))
    return texts, html


def test_markdown_shows_every_character_of_every_field_and_injects_nothing(
        tmp_path: Path) -> None:
    name = FILE_NAME
    texts, html = _md_blocks(_render(tmp_path, name, "md"))
    assert html == []
    assert texts[0] == "T " + TEXT
    assert texts[1] == f"Derived by symgrad {__version__} from {name}."
    assert texts[2] == "D " + TEXT
    assert "Your note: N " + TEXT in texts


def test_a_file_name_with_blank_lines_and_html_injects_nothing_in_markdown(
        tmp_path: Path) -> None:
    texts, html = _md_blocks(_render(tmp_path, NAME_HTML, "md"))
    assert html == []
    assert texts[1] == (f"Derived by symgrad {__version__} from x <img src=x "
                        "onerror=alert(1)> y.toml.")


@pytest.mark.parametrize("name", [FILE_NAME, NAME_HTML],
                         ids=["ascii", "html"])
def test_html_shows_every_character_of_every_field(tmp_path: Path, name: str) -> None:
    import xml.etree.ElementTree as ET

    page = ET.parse(_render(tmp_path, name, "html")).getroot()
    xhtml = "{http://www.w3.org/1999/xhtml}"
    assert page.find(f".//{xhtml}h1").text == "T " + TEXT  # type: ignore[union-attr]
    assert [c.text for c in page.iter(f"{xhtml}code")][0] == str(tmp_path / name).rsplit(
        "/", 1)[1]
    assert not list(page.iter(f"{xhtml}img"))
    text = "".join(page.itertext())
    assert "D " + TEXT in text and "N " + TEXT in text


def _pdf_words(path: Path) -> str:
    import subprocess
    import unicodedata

    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return "".join(unicodedata.normalize("NFC", out).split())


def _as_pdf(text: str, forms: dict[str, str]) -> str:
    return "".join(forms.get(ch, ch) for ch in text if not ch.isspace())


@pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("pdftotext")),
                    reason="needs pdflatex and pdftotext (.ci/run installs them)")
def test_pdf_builds_and_shows_every_character_of_every_field(tmp_path: Path) -> None:
    name = FILE_NAME
    words = _pdf_words(_render(tmp_path, name, "pdf"))
    for prefix in ("T", "D", "N"):
        assert _as_pdf(f"{prefix} {TEXT}", PDF_FORM) in words, prefix
    assert "from" + _as_pdf(name, PDF_FORM_TT) in words


@pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("pdftotext")),
                    reason="needs pdflatex and pdftotext (.ci/run installs them)")
def test_pdf_builds_with_every_latin1_and_greek_character_in_the_title(tmp_path: Path) -> None:
    latin1 = [chr(c) for c in range(0xA1, 0x100) if chr(c).isprintable() and c != 0xAD]
    greek = [chr(c) for c in range(0x391, 0x3CA) if c != 0x3A2]
    spec = _hostile_spec(tmp_path, "net.toml")
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        f"title = {json.dumps('T ' + TEXT)}", f"title = {json.dumps(' '.join(latin1 + greek))}"),
        encoding="utf-8")
    words = _pdf_words(render_report(derive(load(spec)), tmp_path / "out.pdf"))
    # letters OT1 has or builds with an accent, Greek as math, T1-only letters by code point
    for shown in ("é", "ß", "Ø", "ÿ", "Ω", "ω", "ς", "[U+00D0]", "[U+00FE]", "≪", "≫"):
        assert shown in words, shown


# -- SIGTERM during a PDF build (item 16) ----------------------------------------------------


def test_sigterm_during_a_pdf_build_cleans_up_as_ctrl_c_does(tmp_path: Path) -> None:
    """A stand-in pdflatex that records its process id and sleeps: SIGTERM to symgrad
    must kill it, remove the scratch folder, write nothing and exit with 128 + 15."""
    import os
    import signal
    import subprocess
    import sys
    import time

    bin_dir, scratch, out = tmp_path / "bin", tmp_path / "tmp", tmp_path / "out"
    for folder in (bin_dir, scratch, out):
        folder.mkdir()
    pid_file = tmp_path / "tex.pid"
    fake = bin_dir / "pdflatex"
    fake.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\nexec /bin/sleep 60\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": str(bin_dir), "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "symgrad", "report", str(TWO), "-o",
                             str(out / "r.pdf")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    tex_pid = None
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        tex_pid = int(pid_file.read_text())
        assert [p.name for p in scratch.iterdir()][0].startswith("symgrad-report-")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM
        assert stderr == "symgrad report: terminated\n"
        assert list(scratch.iterdir()) == [] and list(out.iterdir()) == []
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):  # the TeX run was killed with symgrad
            os.kill(tex_pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
        if tex_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(tex_pid, signal.SIGKILL)


# -- specs a report cannot fully compute (items 6 and 8) ------------------------------------


def _spec_text(layer: str, parameters: str, data: str, training: str) -> str:
    return (f'[network]\ninputs = 1\nlayers = [{{ units = 1, {layer} }}]\nloss = "half_sse"\n'
            f"[parameters]\n{parameters}\n[data]\n{data}\n[training]\n{training}\n")


SIGMOID, LINEAR_NO_BIAS = 'activation = "sigmoid"', 'activation = "none", bias = false'
RATE = "learning_rate = 0.1\niterations = 3"
#: (id, spec text, the sentences of "Left out of this report"): specs that crashed
#: ``report`` with IndexError, LinAlgError or ZeroDivisionError while ``train`` ran them
#: or refused them with one line.
PARTIAL = [
    ("minibatch-without-batch-size", _spec_text(
        SIGMOID, "w = 0.5\nb = 0.1", "x = [1.0, 2.0]\nT = [0.3, 0.2]",
        'learning_rate = 0.1\niterations = 3\nmode = "minibatch"'),
     ["Training is left out: mode 'minibatch' needs a batch_size."]),
    ("one-parameter-minibatch-without-batch-size", _spec_text(
        LINEAR_NO_BIAS, "w = 0.5", "x = [1.0, 2.0]\nT = [0.3, 0.2]",
        'learning_rate = 0.1\niterations = 3\nmode = "minibatch"'),
     ["Training is left out: mode 'minibatch' needs a batch_size."]),
    ("one-parameter-w-1e300", _spec_text(LINEAR_NO_BIAS, "w = 1e300", "x = 1.0\nT = 0.3",
                                         RATE),
     ["The point of evaluation is left out: it cannot be computed in float64 (OverflowError: "
      "the loss = 5.00000E+599 is beyond the range of float64).",
      "Training is left out: the loss or its gradient is not finite at the starting "
      "parameters (the loss is inf)."]),
    ("w-1e300", _spec_text(SIGMOID, "w = 1e300\nb = 0.1", "x = 1.0\nT = 0.3", RATE), []),
    ("x-int64-max", _spec_text(SIGMOID, "w = 0.5\nb = 0.1",
                               "x = 9223372036854775807\nT = 0.3", RATE), []),
    ("one-parameter-x-int64-max", _spec_text(LINEAR_NO_BIAS, "w = 0.5",
                                             "x = 9223372036854775807\nT = 0.3", RATE), []),
    ("leaky-relu-alpha-1e308", _spec_text('activation = "leaky_relu", alpha = 1e308',
                                          "w = 0.5\nb = 0.1", "x = 1.0\nT = 0.3", RATE),
     ['The figure "Leaky ReLU and its derivative" is left out: its values are not finite '
      "or too large to plot."]),
    ("curvature-below-float64", _spec_text(LINEAR_NO_BIAS, "w = 0.5", "x = 1e-300\nT = 1e-300",
                                           RATE), []),
]


@pytest.mark.parametrize("text, omitted", [p[1:] for p in PARTIAL], ids=[p[0] for p in PARTIAL])
def test_a_report_leaves_out_what_it_cannot_compute_with_a_sentence(
        tmp_path: Path, text: str, omitted: list[str]) -> None:
    from symgrad.report.content import build

    spec = tmp_path / "net.toml"
    spec.write_text(text)
    content = build(derive(load(spec)))
    assert content.omitted == omitted
    for fmt in ("md", "html", "tex"):
        result = run_cli_here("report", spec, "-o", tmp_path / f"r.{fmt}")
        assert result.returncode == 0, result.stderr
    md = (tmp_path / "r.md").read_text()
    if omitted:
        from symgrad.report.escape import markdown

        assert md.endswith("## Left out of this report\n\n"
                           + "".join(f"- {markdown(s)}\n" for s in omitted) + "\n")
    else:
        assert "Left out" not in md


def test_a_one_unit_softmax_layer_is_refused_by_every_stage(tmp_path: Path) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text('[network]\ninputs = 1\nlayers = [{ units = 1, activation = "softmax" }]\n'
                    'loss = "cross_entropy"\n[parameters]\nw = 0.5\nb = 0.1\n'
                    '[data]\nx = 1.0\nT = 1.0\n[training]\nlearning_rate = 0.1\n')
    message = (f"{spec}:3: field 'network.layers[0].units': a softmax layer needs at least 2 "
               "units: on one unit it is the constant 1, whose gradients are all zero "
               "(sigmoid gives one probability)")
    for command in (["derive", spec], ["train", spec], ["export", spec, "-o", tmp_path / "m.py"],
                    ["report", spec, "-o", tmp_path / "r.md"]):
        result = run_cli_here(*command)
        assert (result.returncode, result.stderr) == \
            (2, f"symgrad {command[0]}: error: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.toml"]


def test_a_report_trains_at_most_its_cap_whatever_the_spec_asks(tmp_path: Path) -> None:
    from symgrad.analysis.experiments import REPORT_ITERATIONS

    from .conftest import run_cli

    spec = tmp_path / "net.toml"
    spec.write_text(_spec_text(LINEAR_NO_BIAS, "w = 0.5", "x = [1.0, 2.0]\nT = [0.3, 0.2]",
                               "learning_rate = 0.01\niterations = 1000000000"))
    result = run_cli("report", spec, "-o", tmp_path / "r.md", timeout=300)
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "r.md").read_text()
    assert REPORT_ITERATIONS == 200
    assert ("(learning rate $\\alpha = 0.01$): stopped after 200 iterations, the most a report "
            "runs (symgrad train runs all the spec asks for).") in md
    training = md[md.index("## Training"):md.index("\n## ", md.index("## Training") + 1)]
    rows = [line.split(" |")[0] for line in training.splitlines() if line.startswith("| ")]
    assert [row for row in rows if row[2:].isdigit()] == \
        [f"| {k}" for k in [*range(10), *range(10, 201, 10)]]  # 30 rows, not 10**9
    # the learning-rate sweep of the one-parameter study runs capped too
    sweep = md[md.index("| learning rate |"):]
    runs = [line.split(" | ") for line in sweep.splitlines()[2:5]]
    assert [(run[2], run[-1]) for run in runs] == \
        [("200", "not yet converged |"), ("200", "converged |"), ("3", "diverged |")]


TRAINING_NOT_FINITE = ("Training is left out: the loss or its gradient is not finite at the "
                       "starting parameters")


@pytest.mark.parametrize("parameters, data, training", [
    ("w = -1e300\nb = 0.1", "x = [1, 2]\nT = [0, 1]", []),
    ("w = -1e300\nb = 0.1", "x = -1e308\nT = 1e308", [TRAINING_NOT_FINITE]),
], ids=["gelu-w-1e300", "gelu-x-1e308"])
def test_values_beyond_exact_evaluation_leave_the_point_out(
        tmp_path: Path, parameters: str, data: str, training: list[str]) -> None:
    from symgrad.report.content import build

    spec = tmp_path / "net.toml"
    spec.write_text(_spec_text('activation = "gelu"', parameters, data, RATE))
    content = build(derive(load(spec)))
    assert not content.has_point and content.loss_value is None
    assert [s.split(" (")[0] for s in content.omitted] == \
        ["The point of evaluation is left out: it cannot be computed in float64", *training]
    assert content.omitted[0].endswith(").")  # the exception, named, whose text varies
    assert "(OverflowError: " in content.omitted[0]
    assert [g.value for g in content.gradients] == ["", ""]  # the symbolic forms stay
    assert run_cli_here("report", spec, "-o", tmp_path / "r.md").returncode == 0
