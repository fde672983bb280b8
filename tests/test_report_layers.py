"""Reports of networks trained at the layer level (issues 12 and 14): a spec with layer
types (batch norm, dropout, log-softmax, convolution, pooling, a recurrent layer) and the
dense digits specs show the matrix-form derivation with shapes, the training curve and the
test accuracy; each checked in the extracted text of the PDF, the HTML and the Markdown.

Reports here train one or two epochs (``epochs=``, the report's ``--epochs``), so each
takes seconds; the test of the README's results trains the spec's own epochs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import symgrad.report.render
from symgrad import train
from symgrad.analysis.layer_training import layer_training, report_epochs
from symgrad.derive.stack import derive_stack
from symgrad.limits import LIMITS
from symgrad.report.layered import build_report
from symgrad.report.render import render_report, write_report
from symgrad.spec import parse_spec, read_spec

from .conftest import DERIVATIONS, ROOT, STACK_SPECS, run_cli_here

needs_tex = pytest.mark.skipif(
    symgrad.report.render.tex_engine() is None or shutil.which("pdftotext") is None,
    reason="needs pdflatex/latexmk and pdftotext (.ci/run installs them)")
XHTML = "{http://www.w3.org/1999/xhtml}"
#: Seconds a one-epoch report of a shipped spec may take to build, all formats but the
#: PDF (measured: 1.5 to 4 s on a busy two-core machine); a bound against a report that
#: trains the spec's epochs while asked for one, not a speed target.
ONE_EPOCH_SECONDS = 60


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Each shipped spec with layer types, trained one epoch, written as md, html and pdf
    (its content built once)."""
    out: dict[str, dict[str, object]] = {}
    folder = tmp_path_factory.mktemp("layer-reports")
    for spec in STACK_SPECS:
        begin = time.perf_counter()
        content = build_report(derive_stack(spec), epochs=1, progress=False)
        paths = {fmt: write_report(content, folder / f"{spec.stem}.{fmt}")
                 for fmt in ("md", "html", "tex")}
        seconds = time.perf_counter() - begin
        if symgrad.report.render.tex_engine() is not None:
            paths["pdf"] = write_report(content, folder / f"{spec.stem}.pdf")
        out[spec.stem] = {"content": content, "seconds": seconds, **paths}
    return out


def _steps(spec: Path) -> list[str]:
    """Every line ``symgrad derive --level layer --latex SPEC`` prints between its
    ``aligned`` lines: the lines a report must show."""
    result = run_cli_here("derive", spec, "--level", "layer", "--latex")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == r"\begin{aligned}" and lines[-1] == r"\end{aligned}"
    return [line.removesuffix(r" \\") for line in lines[1:-1]]


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(path), "-"],
                         capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def _html_text(path: Path) -> str:
    root = ET.fromstring(path.read_text())
    return " ".join("".join(root.itertext()).split())


def test_the_shipped_stacks_are_the_three_layer_type_examples() -> None:
    assert [p.stem for p in STACK_SPECS] == ["digits_batchnorm", "digits_cnn", "rnn_bit_count"]


@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda p: p.stem)
def test_markdown_shows_every_matrix_step_with_its_shape(reports, spec: Path) -> None:
    md = reports[spec.stem]["md"].read_text()  # type: ignore[union-attr]
    for line in _steps(spec):
        left, right = line.split(" &= ", 1)
        assert f"{left} &= {right}" in md, line
        assert re.search(r"\\quad \[[^\]]+\]$", line), line  # each step ends with its shape


def test_markdown_shows_the_batchnorm_gradients_in_matrix_form(reports) -> None:
    md = reports["digits_batchnorm"]["md"].read_text()
    for line in (r"dgamma &= \left(\mathbf{1}_{N}\right)^{T} \left(dY \odot \hat{X}\right) "
                 r"\quad [1 \times D]",
                 r"dbeta &= \left(\mathbf{1}_{N}\right)^{T} dY \quad [1 \times D]",
                 r"dX &= \frac{1}{1 - p} \left(dY \odot M\right) \quad [N \times D]",
                 r"dW_{1} &= dZ_{1}^{T} A_{0} \quad [32 \times 64]",
                 r"dA_{5} &= - \frac{1}{N} Y \quad [N \times 10]"):
        assert line in md, line
    assert "| 3 | dropout | 32 | 32 |" in md


@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda p: p.stem)
def test_the_training_curve_and_the_test_accuracy_are_in_the_markdown(reports,
                                                                      spec: Path) -> None:
    report = reports[spec.stem]
    t = report["content"].epochs  # type: ignore[union-attr]
    md = report["md"].read_text()  # type: ignore[union-attr]
    figure = report["md"].parent / f"{spec.stem}-figures" / "epochs.svg"  # type: ignore
    assert f"]({spec.stem}-figures/epochs.svg)" in md
    svg = figure.read_text()
    assert "test accuracy (%)" in svg and "epoch" in svg
    assert re.fullmatch(r"\d{1,3}\.\d %", t.test_accuracy)
    assert f"the test accuracy {t.test_accuracy} on the {t.test_samples} held-out" in md
    assert "| 1 | $" in md and t.epochs == 1


def test_the_reported_accuracy_is_what_training_gives() -> None:
    """The number a report shows is the accuracy symgrad.train reaches on the same run
    (same seed, same epochs), measured by its own predict."""
    spec = DERIVATIONS / "digits_batchnorm.toml"
    content = build_report(derive_stack(spec), epochs=2, progress=False)
    result = train(read_spec(spec), level="layer", epochs=2, progress=False)
    assert content.epochs.test_accuracy == f"{100 * result.accuracy['test']:.1f} %"
    assert content.epochs.train_accuracy == f"{100 * result.accuracy['train']:.1f} %"
    losses = content.figures[-1].data["losses"]
    assert losses == pytest.approx([s.loss for s in result.history], rel=1e-12)


@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda p: p.stem)
def test_html_shows_the_steps_the_figure_and_the_accuracy(reports, spec: Path) -> None:
    report = reports[spec.stem]
    t = report["content"].epochs  # type: ignore[union-attr]
    root = ET.fromstring(report["html"].read_text())  # type: ignore[union-attr]
    text = _html_text(report["html"])  # type: ignore[arg-type]
    assert "The derivation in matrix form" in text
    assert f"the test accuracy {t.test_accuracy} on the {t.test_samples} held-out" in text
    captions = ["".join(c.itertext()) for c in root.iter(f"{XHTML}figcaption")]
    assert any(c.startswith("Figure 1: The loss E over the") for c in captions), captions
    figure = next(f for f in root.iter(f"{XHTML}figure"))
    assert figure.find("{http://www.w3.org/2000/svg}svg") is not None
    # one MathML table row per step, its shape last
    rows = root.findall(f".//{XHTML}table[@class='eq']/{XHTML}tr")
    assert len(rows) == len(_steps(spec))


@needs_tex
@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda p: p.stem)
def test_pdf_shows_the_layers_the_figure_and_the_accuracy(reports, spec: Path) -> None:
    report = reports[spec.stem]
    t = report["content"].epochs  # type: ignore[union-attr]
    text = _pdf_text(report["pdf"])  # type: ignore[arg-type]
    assert "The derivation in matrix form" in text
    for block in report["content"].stack.blocks:  # type: ignore[union-attr]
        assert f"Layer {block.index}: {block.kind}, {block.in_shape} to " \
               f"{block.out_shape}" in text
    assert f"symgrad derive --level layer {spec.name} prints" in text  # verbatim: no dash
    assert f"Figure 1: The loss E over the {t.samples} training samples after each " \
           "epoch" in text
    assert f"the test accuracy {t.test_accuracy} on the {t.test_samples} held-out" in text


@needs_tex
def test_pdf_shows_the_matrix_gradients_of_batchnorm(reports) -> None:
    text = _pdf_text(reports["digits_batchnorm"]["pdf"])
    for piece in ("dW1 = dZ1T A0 [32 × 64]", "db1 = dZ1T 1N [32 × 1]",
                  "(dY ⊙ M ) [N × D]", "Layer 2: batchnorm, 32 to 32"):
        assert piece in text, piece


@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda p: p.stem)
def test_the_latex_includes_the_training_curve_beside_it(reports, spec: Path) -> None:
    tex = reports[spec.stem]["tex"]
    assert re.search(rf"\\includegraphics\[[^]]*\]{{{spec.stem}-figures/epochs\.pdf}}",
                     tex.read_text())
    assert (tex.parent / f"{spec.stem}-figures" / "epochs.pdf").read_bytes().startswith(b"%PDF")


def test_a_one_epoch_report_takes_seconds(reports) -> None:
    for name, report in reports.items():
        assert report["seconds"] < ONE_EPOCH_SECONDS, (name, report["seconds"])


# -- the dense digits specs ---------------------------------------------------------------


def test_a_dense_digits_report_shows_training_and_accuracy(tmp_path: Path) -> None:
    name = "digits_mlp"  # digits_mlp_relu.toml differs in its activation only
    out = tmp_path / f"{name}.md"
    result = run_cli_here("report", DERIVATIONS / f"{name}.toml", "-o", out, "--epochs", "2")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"wrote {out}\n", "")
    md = out.read_text()
    assert r"\frac{\partial E}{\partial W_{1}} &= \delta_{1} x^{T}" in md  # the matrix form
    training = md.split("## Training on the data set")[1]
    accuracy = re.search(r"the test accuracy (\d+\.\d) % on the 449 held-out", training)
    assert accuracy is not None and float(accuracy.group(1)) > 80
    assert "as asked in place of the spec's 50 (`--epochs`)" in training
    assert (tmp_path / f"{name}-figures" / "epochs.svg").is_file()


# -- the results the README states, at the spec's own epochs -------------------------------


def _claims() -> dict[str, float]:
    """``digits_cnn.toml`` ... ``98.2 % test accuracy``, as the README states them."""
    text = " ".join((ROOT / "README.md").read_text().split())
    found = {}
    for spec in STACK_SPECS:
        after = text.split(f"`{spec.name}`", 1)[1]
        found[spec.stem] = float(re.search(r"(\d+\.\d) % test accuracy", after).group(1))
    return found


@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda p: p.stem)
def test_the_report_states_at_least_the_readme_accuracy(tmp_path: Path, spec: Path) -> None:
    claim = _claims()[spec.stem]
    out = render_report(derive_stack(spec), tmp_path / f"{spec.stem}.md", progress=False)
    md = out.read_text()
    stated = re.search(r"the test accuracy (\d+\.\d) % on the", md)
    assert stated is not None
    assert float(stated.group(1)) >= claim, (spec.stem, stated.group(1), claim)
    epochs = read_spec(spec).training.epochs
    assert f"for {epochs} epochs: stopped after {epochs} epochs" in md


# -- the command line, and what it refuses -------------------------------------------------


def test_the_command_line_reports_a_layer_type_spec(tmp_path: Path) -> None:
    out = tmp_path / "cnn.html"
    result = run_cli_here("report", DERIVATIONS / "digits_cnn.toml", "-o", out,
                          "--epochs", "1")
    assert (result.returncode, result.stderr) == (0, "")
    assert "Layer 3: maxpool2d, 16 x 8 x 8 to 16 x 4 x 4" in _html_text(out)


def test_check_with_a_layer_type_spec_is_refused_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "bn.md"
    result = run_cli_here("report", DERIVATIONS / "digits_batchnorm.toml", "-o", out,
                          "--check", DERIVATIONS / "two_neuron_hand.toml")
    assert result.returncode == 2
    assert result.stderr == ("symgrad report: error: --check: hand derivations are checked "
                             "against the scalar level, and a network with layer types is "
                             "derived at the layer level only\n")
    assert list(tmp_path.iterdir()) == []


def test_epochs_beyond_the_report_limit_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "long.toml"
    spec.write_text((DERIVATIONS / "digits_batchnorm.toml").read_text()
                    .replace("epochs = 20", "epochs = 60"))
    result = run_cli_here("report", spec, "-o", tmp_path / "long.md")
    assert result.returncode == 2
    assert result.stderr.endswith("field 'training.epochs': 60 epochs are more than symgrad "
                                  "report takes (at most 50); pass --no-limits to go "
                                  "beyond\n")
    result = run_cli_here("report", DERIVATIONS / "digits_cnn.toml", "-o",
                          tmp_path / "cnn.md", "--epochs", "51")
    assert (result.returncode, result.stderr) == (
        2, "symgrad report: error: --epochs: 51 epochs are more than symgrad report takes "
           "(at most 50); pass --no-limits to go beyond\n")
    result = run_cli_here("report", DERIVATIONS / "digits_cnn.toml", "-o",
                          tmp_path / "cnn.md", "--epochs", "0")
    assert (result.returncode, result.stderr) == (
        2, "symgrad report: error: --epochs: 0 is not a positive number of epochs\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.toml"]


def test_the_python_api_caps_the_epochs_at_the_report_limit() -> None:
    spec = parse_spec((DERIVATIONS / "digits_cnn.toml").read_text()
                      .replace("epochs = 20", "epochs = 500"), path="long.toml")
    assert LIMITS["report"].epochs == 50
    assert report_epochs(spec) == 50
    assert report_epochs(spec, limited=False) == 500
    assert report_epochs(spec, 3) == 3


def test_a_spec_without_epochs_is_named(tmp_path: Path) -> None:
    spec = parse_spec((DERIVATIONS / "digits_cnn.toml").read_text()
                      .replace("epochs = 20\n", ""), path="noepochs.toml")
    with pytest.raises(Exception) as info:
        report_epochs(spec)
    assert str(info.value) == ("noepochs.toml: field 'training.epochs': a report of a "
                               "network trained on a data set needs the number of epochs "
                               "(or pass --epochs)")


def test_progress_is_shown_when_asked(capfd: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import symgrad.train.loop

    monkeypatch.setattr(symgrad.train.loop, "_PROGRESS_DELAY", 0)  # a bar from the start
    run = layer_training(DERIVATIONS / "rnn_bit_count.toml", epochs=1, progress=True)
    assert run.epochs == 1 and [r.epoch for r in run.records] == [0, 1]
    assert "training" in capfd.readouterr().err


def test_a_layer_type_spec_without_a_data_set_says_why_it_is_not_trained() -> None:
    spec = parse_spec("""
[network]
inputs = 4
layers = [{ units = 5, activation = "relu" }, { type = "batchnorm" },
          { units = 3, activation = "softmax" }]
loss = "cce"
""", path="nodata.toml")
    content = build_report(derive_stack(spec))
    assert content.epochs is None and content.figures == []
    assert content.omitted == ["Training is left out: a network with layer types trains on a "
                               "named data set ([data] source = ...), and this spec names "
                               "none."]
    assert [b.kind for b in content.stack.blocks] == ["dense 5 relu", "batchnorm",
                                                      "dense 3 softmax"]
