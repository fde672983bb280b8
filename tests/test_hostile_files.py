"""Hostile and careless files and paths at the command line (issue 16, items 7, 10, 11, 13
and 14): each is one line on stderr, exit status 2, and nothing on disk changed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from symgrad.analysis.vanishing import measure, plot
from symgrad.errors import (FileError, LocatedError, SpecError, SymgradError,
                            UnknownNameError, printable)
from symgrad.files import parse_toml

from .conftest import DERIVATIONS, run_cli_here

TWO = DERIVATIONS / "two_neuron.toml"
HAND = DERIVATIONS / "two_neuron_hand.toml"
VANISHING = ("vanishing", "--depth", "2", "--width", "2", "--seeds", "1",
             "--activations", "tanh")


def _one_line(args: tuple[object, ...], message: str) -> None:
    """``symgrad ARGS`` fails with exactly ``message``, on one line, exit status 2."""
    r = run_cli_here(*args)
    assert (r.returncode, r.stderr) == (2, f"symgrad {args[0]}: error: {message}\n")
    assert r.stdout == ""  # refused before any work was printed


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- item 7: deep nesting ----------------------------------------------------------------------

DEEP_ARRAY = "a = " + "[" * 600 + "]" * 600 + "\n"  # the 600th '[' is at column 604
DEEP_TABLE = 'title = "[[[[ not nesting ]]]]"  # nor [[[[ this\n' + \
    "a = " + "{b = " * 600 + "1" + "}" * 600 + "\n"  # the 600th '{' at 5 + 5 * 599 = 3000
TOO_DEEP = "arrays or inline tables nested 600 levels deep; the TOML reader cannot follow them"


@pytest.mark.parametrize("text, place", [(DEEP_ARRAY, "1:604"), (DEEP_TABLE, "2:3000")],
                         ids=["arrays", "inline-tables"])
@pytest.mark.parametrize("command", ["derive", "check"])
def test_deep_nesting_is_a_located_line(command: str, text: str, place: str,
                                        tmp_path: Path) -> None:
    """tomllib recurses once per level and raised RecursionError through the CLI."""
    path = tmp_path / "deep.toml"
    path.write_text(text)
    args = (("derive", path) if command == "derive" else ("check", TWO, "--file", path))
    _one_line(args, f"{path}:{place}: {TOO_DEEP}")


def test_deep_nesting_keeps_the_callers_error_class() -> None:
    with pytest.raises(SpecError) as info:
        parse_toml(DEEP_ARRAY, "net.toml", error=SpecError)
    assert (info.value.path, info.value.line, info.value.column) == ("net.toml", 1, 604)


# -- item 14: reads stop at the limit --------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("args, message", [
    (("derive", "/dev/zero"), "/dev/zero: the file has more than 10000000 bytes; the limit "
                              "for a spec file is 10000000"),
    (("check", TWO, "--file", "/dev/zero"), "/dev/zero: the file has more than 1000000 "
                                            "bytes; the limit for a file of hand "
                                            "derivations is 1000000"),
], ids=["spec", "hand-file"])
def test_an_endless_file_is_refused_at_the_limit(args: tuple[object, ...],
                                                 message: str) -> None:
    _one_line(args, message)


def test_a_huge_spec_is_refused_by_its_size(tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as f:  # sparse: 300 MB that take no disk
        f.truncate(300_000_000)
    _one_line(("derive", huge), f"{huge}: the file has 300000000 bytes; the limit for a spec "
                                "file is 10000000")


# -- item 11: control characters in messages -------------------------------------------------

@pytest.mark.parametrize("raw, shown", [
    ("\x1b[2J", "<U+001B>[2J"), ("a\x00b", "a<U+0000>b"), ("one\ntwo\r", "one<U+000A>two<U+000D>"),
    ("\t\x7f", "<U+0009><U+007F>"), ("\x9b31m", "<U+009B>31m"),  # C1: an 8-bit CSI
    ("a\u2028b", "a<U+2028>b"), ("\u202egnp.exe", "<U+202E>gnp.exe"),
    ("σ(z) ∂E/∂w é", "σ(z) ∂E/∂w é"),  # printable letters stay as they are
], ids=["esc", "nul", "newline-cr", "tab-del", "c1-csi", "line-separator", "bidi-override",
        "unicode"])
def test_control_characters_are_shown_by_their_code(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_every_symgrad_error_shows_them_escaped() -> None:
    located = LocatedError("unknown name 'a\x1bb'", path="x\n.toml", line=2, field="f\x00")
    assert str(located) == "x<U+000A>.toml:2: field 'f<U+0000>': unknown name 'a<U+001B>b'"
    assert (located.path, located.field) == ("x\n.toml", "f\x00")  # the attributes stay raw
    assert str(SymgradError("a\nb")) == "a<U+000A>b"
    unknown = UnknownNameError("activation", "sig\x1b", ["sigmoid"])
    assert str(unknown) == "unknown activation 'sig<U+001B>'; known: sigmoid"
    assert unknown.name == "sig\x1b"


def test_an_activation_name_cannot_drive_the_terminal(tmp_path: Path) -> None:
    spec = tmp_path / "esc.toml"
    spec.write_text(TWO.read_text().replace('activation = "sigmoid" },\n]',
                                            'activation = "sig\\u001b[31m\\nmoid\\u0000" },\n]'))
    _one_line(("derive", spec), f"{spec}:11: field 'network.layers[1].activation': unknown "
              "activation 'sig<U+001B>[31m<U+000A>moid<U+0000>'; known: sigmoid, tanh, relu, "
              "softmax, binary_step, linear, leaky_relu, elu, softplus, silu, gelu")


def test_wrt_and_file_names_are_shown_escaped(tmp_path: Path) -> None:
    _one_line(("check", TWO, "--wrt", "w\x1b[31m\nx", "--expr", "a1"),
              "--wrt: unknown parameter or quantity 'w<U+001B>[31m<U+000A>x'; known: "
              "parameters (w1, b1, w2, b2), inputs (x1), pre-activations (z1, z2), "
              "activations (a1, a2), error signals, aliases of dE/dz (delta1, delta2)")
    _one_line(("derive", "no\x1bfile\n.toml"),
              "no<U+001B>file<U+000A>.toml: cannot read the file: No such file or directory")
    _one_line(("derive", "a\x00b.toml"), "a<U+0000>b.toml: cannot read the file: embedded "
                                         "null byte")


def test_argparse_messages_are_escaped_too() -> None:
    """argparse echoes unrecognized arguments as they are (from the top-level parser)."""
    r = run_cli_here("derive", TWO, "\x1b[2J")
    assert (r.returncode, r.stderr) == (2, "symgrad: error: unrecognized arguments: "
                                           "<U+001B>[2J\n")


# -- item 13: vanishing --plot writes where report and export would ----------------------------

def test_plot_to_a_missing_folder_is_refused_before_measuring(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "v.svg"
    _one_line((*VANISHING, "--plot", target),
              f"{target}: the folder '{tmp_path}/missing' does not exist")
    assert not target.parent.exists()  # it was made, silently (at / for --plot /x/v.svg)


def test_plot_below_a_file_is_refused() -> None:
    target = TWO / "v.svg"
    _one_line((*VANISHING, "--plot", target), f"{target}: the folder '{TWO}' is not a folder")


def test_plot_function_makes_no_folder(tmp_path: Path) -> None:
    with pytest.raises(FileError) as info:
        plot([measure("tanh", 2, 2, seeds=1)], tmp_path / "new" / "v.pdf")
    assert str(info.value) == (f"{tmp_path}/new/v.pdf: the folder '{tmp_path}/new' does not "
                               "exist")
    assert list(tmp_path.iterdir()) == []


# -- item 10: an output that is an input ------------------------------------------------------

@pytest.fixture
def copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The two-neuron spec under names an output could take, in the working folder."""
    monkeypatch.chdir(tmp_path)
    for name in ("spec.toml", "x.html", "x.py", "hand.md"):
        (tmp_path / name).write_text(TWO.read_text() if name != "hand.md"
                                     else HAND.read_text())
    (tmp_path / "link.md").symlink_to("x.html")
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (("train", "spec.toml", "--history", "spec.toml"),
     "--history: 'spec.toml' is the spec being read; write to another file"),
    (("train", "spec.toml", "--history", "./sub/../spec.toml"),
     "--history: 'sub/../spec.toml' is the spec being read; write to another file"),
    (("report", "x.html", "-o", "x.html"),
     "-o: 'x.html' is the spec being read; write to another file"),
    (("report", "link.md", "-o", "x.html"),  # the same file through a link
     "-o: 'x.html' is the spec being read; write to another file"),
    (("report", "spec.toml", "--check", "hand.md", "-o", "hand.md"),
     "-o: 'hand.md' is the file of hand derivations being read; write to another file"),
    (("report", "spec.toml", "x.html", "--outdir", ".", "--format", "html"),
     "--outdir: 'x.html' is the spec being read; write to another file"),
    (("export", "x.py", "-o", "x.py"),
     "-o: 'x.py' is the spec being read; write to another file"),
], ids=["train", "train-other-spelling", "report", "report-link", "report-hand-file",
        "report-outdir", "export"])
def test_an_output_that_is_an_input_is_refused(args: tuple[object, ...], message: str,
                                               copies: Path) -> None:
    (copies / "sub").mkdir()
    before = {p.name: _digest(p) for p in copies.iterdir() if p.is_file()}
    _one_line(args, message)
    assert {p.name: _digest(p) for p in copies.iterdir() if p.is_file()} == before


def test_reports_of_two_specs_of_one_name_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "net.toml").write_text(TWO.read_text())
    a, b, out = tmp_path / "a" / "net.toml", tmp_path / "b" / "net.toml", tmp_path / "out"
    _one_line(("report", a, b, "--outdir", out, "--format", "md"),
              f"--outdir: the reports of {a} and {b} would both be '{out}/net.md'; write "
              "them to separate folders")
    assert not out.exists()


def test_an_output_beside_its_input_is_written(copies: Path) -> None:
    r = run_cli_here("export", "x.py", "-o", "y.py")
    assert (r.returncode, r.stderr) == (0, "")
    assert os.path.getsize(copies / "y.py") > 0


def test_two_names_of_one_existing_file_in_outdir_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(TWO.read_text())
    (tmp_path / "b.toml").write_text(TWO.read_text())
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.md").write_text("mine\n")
    os.link(out / "a.md", out / "b.md")  # one file, two names (or two cases of one name)
    _one_line(("report", tmp_path / "a.toml", tmp_path / "b.toml", "--outdir", out,
               "--format", "md"),
              f"--outdir: the reports of {tmp_path}/a.toml and {tmp_path}/b.toml would both "
              f"be '{out}/b.md'; write them to separate folders")
    assert sorted(p.name for p in out.iterdir()) == ["a.md", "b.md"]
    assert (out / "a.md").read_text() == "mine\n"


# -- leftovers: a pipe, a NUL in a name, a nested value ---------------------------------------

@pytest.mark.parametrize("args", [("derive", "{fifo}"), ("check", TWO, "--file", "{fifo}")],
                         ids=["spec", "hand-file"])
def test_a_fifo_without_a_writer_is_refused_not_waited_on(tmp_path: Path, args: tuple,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import symgrad.files

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(symgrad.files, "PIPE_WAIT", 0.2)
    _one_line(tuple(str(a).format(fifo=fifo) for a in args),
              f"{fifo}: nothing was written to the pipe within 0.2 s")


def test_a_pipe_with_a_spec_in_it_is_read(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(TWO.read_text()))
    writer.start()
    r = run_cli_here("derive", fifo, "--wrt", "w2")
    writer.join()
    assert (r.returncode, r.stderr) == (0, "")
    assert "= -0.006" in r.stdout or "(at the spec's values)" in r.stdout


@pytest.mark.parametrize("option", ["-o", "--outdir"])
def test_a_nul_in_a_report_name_is_refused_before_anything_is_made(
        option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_text(TWO.read_text())
    _one_line(("report", "spec.toml", option, "a\0b.md"),
              f"{option}: 'a<U+0000>b.md' holds a NUL character, which no file name can")
    assert [p.name for p in tmp_path.iterdir()] == ["spec.toml"]


def test_a_nested_array_is_named_not_echoed(tmp_path: Path) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text(TWO.read_text().replace("w1 = 0.15", "w1 = " + "[" * 400 + "1"
                                            + "]" * 400))
    _one_line(("derive", spec), f"{spec}:16: field 'parameters.w1': expected a number, got "
                                "an array " + "[" * 40 + " ... (801 characters)")
