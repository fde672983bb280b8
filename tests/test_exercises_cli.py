"""`symgrad exercises` and `symgrad grade`: the files a class gets, grading a class's
answers file, and bad input (one line naming the file, row and column; exit status 2 only
where nothing can be graded)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from symgrad.cli import COMMANDS
from symgrad.exercises import generate, load_template
from symgrad.report.render import tex_engine

from .conftest import DERIVATIONS, run_cli_here

LINEAR = DERIVATIONS / "linear_cost_exercise.toml"
TWO = DERIVATIONS / "two_neuron_exercise.toml"
needs_tex = pytest.mark.skipif(
    tex_engine() is None or shutil.which("pdftotext") is None,
    reason="needs latexmk/pdflatex and pdftotext (.ci/run installs them)")


def test_both_commands_are_listed() -> None:
    assert COMMANDS[-3:] == ("exercises", "grade", "serve")  # serve: the practice page
    err = run_cli_here().stderr
    assert "\n    exercises " in err and "\n    grade " in err


def test_exercises_writes_a_class_deterministically(tmp_path: Path) -> None:
    outs = []
    for k in (1, 2):
        out = tmp_path / f"run{k}"
        r = run_cli_here("exercises", LINEAR, "--variants", 3, "--seed", 7, "--outdir", out,
                         "--to", "html,moodle")
        assert (r.returncode, r.stderr) == (0, "")
        outs.append(out)
    codes = [v.code for v in generate(load_template(LINEAR), 3, seed=7).variants]
    assert r.stdout.splitlines()[0] == (
        f"wrote 3 variants of {LINEAR} (seed 7) to {outs[1]}/: sheets/ (3 html), "
        "solutions/ (3 html), key.csv, key.html, moodle.xml")
    names = sorted(str(p.relative_to(outs[0])) for p in outs[0].rglob("*") if p.is_file())
    assert names == sorted(["key.csv", "key.html", "moodle.xml"]
                           + [f"sheets/{c}.html" for c in codes]
                           + [f"solutions/{c}.html" for c in codes])
    for name in ("key.csv", "key.html", "moodle.xml", f"sheets/{codes[0]}.html"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    again = tmp_path / "again"  # one sheet made again from the code printed on it
    r = run_cli_here("exercises", LINEAR, "--code", codes[1].lower(), "--outdir", again,
                     "--to", "html")
    assert r.stdout == (f"wrote 1 variant of {LINEAR} (the codes given) to {again}/: sheets/ "
                        "(1 html), solutions/ (1 html), key.csv, key.html\n")
    for name in (f"sheets/{codes[1]}.html", f"solutions/{codes[1]}.html"):
        assert (again / name).read_bytes() == (outs[0] / name).read_bytes(), name
    key = (outs[0] / "key.csv").read_text().splitlines()
    assert key[0] == "variant,w,learning_rate,q1,q2,q3,q4" and len(key) == 4
    sheet = (outs[0] / "sheets" / f"{codes[0]}.html").read_text()
    assert codes[0] in sheet and "<math" in sheet and "<script" not in sheet


@needs_tex
def test_exercises_makes_pdfs_of_sheets_solutions_and_key(tmp_path: Path) -> None:
    r = run_cli_here("exercises", TWO, "--variants", 2, "--seed", 7, "--outdir", tmp_path,
                     "--to", "pdf")
    assert r.returncode == 0, r.stderr
    g = generate(load_template(TWO), 2, seed=7)
    for v in g.variants:
        sheet = _pdf_text(tmp_path / "sheets" / f"{v.code}.pdf")
        assert v.code in sheet and "Compute" in sheet
        solution = _pdf_text(tmp_path / "solutions" / f"{v.code}.pdf")
        assert f"Worked solution of variant {v.code}" in solution
        assert "Gradients by the chain rule" in solution
        assert f"{v.answers[3].value:.6g}" in solution  # dE/dw2 among the answers
        # each answer is labelled where the derivation reaches it (the boxes: see
        # test_exercises.py::test_worked_solutions_box_every_answer_in_place)
        assert [n for n in range(1, 8) if f"answer ({n})" in solution] == list(range(1, 8))
    assert all(v.code in _pdf_text(tmp_path / "key.pdf") for v in g.variants)


def _pdf_text(path: Path) -> str:
    assert path.read_bytes().startswith(b"%PDF")
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return " ".join(out.split())


@pytest.mark.parametrize("args,message", [
    (["--to", "pdf,docx"], "--to: unknown format 'docx'; choose from pdf, html, moodle"),
    (["--variants", "0"], "--variants and --jobs take a whole number of at least 1"),
])
def test_exercises_bad_options(args: list[str], message: str, tmp_path: Path) -> None:
    r = run_cli_here("exercises", LINEAR, "--outdir", tmp_path / "out", *args)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"symgrad exercises: error: {message}\n"
    assert not (tmp_path / "out").exists()


def test_exercises_refuses_a_plain_spec_and_writes_nothing(tmp_path: Path) -> None:
    spec = DERIVATIONS / "two_neuron.toml"
    r = run_cli_here("exercises", spec, "--outdir", tmp_path / "out", "--to", "html")
    assert r.returncode == 2
    assert r.stderr == (f"symgrad exercises: error: {spec}: missing table [exercise]: this "
                        "spec is not an exercise template\n")
    assert not (tmp_path / "out").exists()


def test_exercises_says_why_no_variant_is_possible(tmp_path: Path) -> None:
    template = tmp_path / "t.toml"
    template.write_text(LINEAR.read_text().replace(
        "w = { from = -1.0, to = 1.5, step = 0.1 }", "w = [2.0]"))
    r = run_cli_here("exercises", template, "--variants", 1, "--outdir", tmp_path / "out",
                     "--to", "html")
    assert r.returncode == 2
    line = template.read_text().splitlines().index("[exercise.vary]") + 1
    assert r.stderr == (f"symgrad exercises: error: {template}:{line}: field 'exercise.vary': no "
                        "variant possible: all 7 variants tried were degenerate; most often "
                        "(7 times) a gradient below 0.001 in size: dJ/dw = 0\n")
    assert not (tmp_path / "out").exists()


def test_exercises_refuses_an_outdir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    r = run_cli_here("exercises", LINEAR, "--outdir", tmp_path / "f", "--to", "html")
    assert (r.returncode, r.stderr) == (2, f"symgrad exercises: error: {tmp_path / 'f'}: is "
                                           "not a folder\n")


# -- grade ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codes() -> list[str]:
    return [v.code for v in generate(load_template(LINEAR), 3, seed=7).variants]


def _answers(tmp_path: Path, text: str, name: str = "answers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_grade_prints_and_writes_each_verdict(tmp_path: Path, codes: list[str]) -> None:
    v = load_template(LINEAR).variant(codes[0])
    j, g, w, n = (a.value for a in v.answers)
    answers = _answers(tmp_path, "\ufeffStudent,Variant,q1,q2,q3,q4,email\n"
                       f"ana,{codes[0]},{j:.5g},{g:.5g},{w:.5g},{n:g},a@x\n"
                       f"ben,{codes[0].lower()},{j:.5g},{-g:.5g},oops,{n + 1:g},b@x\n")
    r = run_cli_here("grade", LINEAR, answers, "--html", tmp_path / "class.html")
    assert (r.returncode, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert lines[:3] == ["student  variant     q1     q2     q3     q4  total",
                         f"ana      {codes[0]}       1      2      1      2  6/6",
                         f"ben      {codes[0]}       1      1      0      1  3/6"]
    assert lines[4:8] == [
        "wrong answers:",
        "ben q2 (1 of 2): Your value is the negative of dJ/dw (sign error: dJ/dy = 2*(y - z)).",
        "ben q3 (0 of 1): not a number: 'oops'",
        "ben q4 (1 of 2): Your count is one more than the number of updates: the starting "
        "point is not an update."]
    grades = (tmp_path / "answers-grades.csv").read_text().splitlines()
    assert grades[0] == ("student,variant,question,answer,right,points,out_of,mistake,"
                         "diagnosis,expected")
    assert grades[6] == f"ben,{codes[0]},q2,{-g:.5g},no,1,2,sign,Your value is the negative " \
                        f"of dJ/dw (sign error: dJ/dy = 2*(y - z)).,{g:.6g}"
    page = (tmp_path / "class.html").read_text()
    assert "a sign error" in page and "<svg" in page and "<script" not in page


def test_grade_skips_bad_rows_and_goes_on(tmp_path: Path, codes: list[str]) -> None:
    answers = _answers(tmp_path, "student,variant,q1,q2,q3,q4\n"
                       f"ana,{codes[1]},1,2,3,4\n"
                       "ben,ZZZZZZ,1,2,3,4\n"
                       f"cy,{codes[2]},1,2\n"
                       "dan,AB,1,2,3,4\n")
    r = run_cli_here("grade", LINEAR, answers, "-o", tmp_path / "g.csv")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"symgrad grade: {answers}:3:2: field 'variant': unknown variant code 'ZZZZZZ': it is "
        "not a code of 'Gradient descent on a linear cost' (mistyped?); row skipped",
        f"symgrad grade: {answers}:4: expected 6 cells as in the header, got 4; row skipped",
        f"symgrad grade: {answers}:5:2: field 'variant': unknown variant code 'AB': a code is "
        "6 letters and digits from 23456789ABCDEFGHJKMNPQRSTUVWXYZ; row skipped"]
    assert len((tmp_path / "g.csv").read_text().splitlines()) == 1 + 4


@pytest.mark.parametrize("text,message", [
    ("student,variant,q1,q2,q4\nana,X,1,2,3\n",
     "{path}:1: field 'q3': the header has no column 'q3'; it must name student, variant, "
     "q1, q2, q3, q4"),
    ("student,q1,q2,q3,q4\n", "{path}:1: field 'variant': the header has no column "
                              "'variant'; it must name student, variant, q1, q2, q3, q4"),
    ("", "{path}: the file is empty; expected a header row (student, variant, q1, ...) and a "
         "row per student"),
    ("student,variant,q1,q2,q3,q4\n", "{path}:1: the file has a header but no answers"),
    ("student,variant,q1,q1,q2,q3,q4\n", "{path}:1:4: field 'q1': the column 'q1' appears "
                                         "twice"),
    ("student,variant,q1,q2,q3,q4\nana,ZZZZZZ,1,2,3,4\n",
     "{path}: no row could be graded (1 skipped)"),
])
def test_grade_exits_2_when_nothing_can_be_graded(text: str, message: str,
                                                  tmp_path: Path) -> None:
    answers = _answers(tmp_path, text)
    r = run_cli_here("grade", LINEAR, answers)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == "symgrad grade: error: " + message.format(path=answers)
    assert not (tmp_path / "answers-grades.csv").exists()


def test_grade_names_the_line_of_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"student,variant,q1,q2,q3,q4\nj\xf6rg,ABCDEF,1,2,3,4\n")
    r = run_cli_here("grade", LINEAR, answers)
    assert (r.returncode, r.stderr) == (2, f"symgrad grade: error: {answers}:2: not UTF-8 "
                                           "text (byte 29)\n")


def test_grade_a_missing_file(tmp_path: Path) -> None:
    r = run_cli_here("grade", LINEAR, tmp_path / "none.csv")
    assert (r.returncode, r.stderr) == (2, f"symgrad grade: error: {tmp_path / 'none.csv'}: "
                                           "cannot read the file: No such file or directory\n")


def test_grade_refuses_to_write_over_what_it_reads(tmp_path: Path) -> None:
    answers = _answers(tmp_path, "student,variant,q1,q2,q3,q4\n")
    before = answers.read_text()
    for args, message in (
            (["-o", answers], f"-o: '{answers}' is the answers file being read; write to "
                              "another file"),
            (["--html", LINEAR], f"--html: '{LINEAR}' is the template being read; write to "
                                 "another file"),
            (["-o", tmp_path / "g.csv", "--html", tmp_path / "g.csv"],
             f"--html: '{tmp_path / 'g.csv'}' is the grades file too; write the class report "
             "to another file")):
        r = run_cli_here("grade", LINEAR, answers, *args)
        assert (r.returncode, r.stderr) == (2, f"symgrad grade: error: {message}\n")
    assert answers.read_text() == before and not (tmp_path / "g.csv").exists()
