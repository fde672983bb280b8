"""symgrad.files: the one reader and the one atomic writer, their located errors, and
the command line's handling of files that cannot be read or written."""

from __future__ import annotations

import ast
import errno
import os
import pickle
import stat
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.errors import (CheckError, ExportError, FileError, LocatedError, ReportError,
                            SpecError, SymgradError)
from symgrad.files import create_temporary, parse_toml, read_text, read_toml, write_atomic
from symgrad.network import Dense, Network

from .conftest import DERIVATIONS, run_cli_here

PACKAGE = Path(__file__).resolve().parents[1] / "symgrad"
HAS_PROC = Path("/proc/self").is_dir()


@pytest.fixture(params=[0o022, 0o027], ids=["umask-022", "umask-027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- located errors -------------------------------------------------------------------------


@pytest.mark.parametrize("where, text", [
    ({}, "bad value"),
    ({"path": "a.toml"}, "a.toml: bad value"),
    ({"path": "a.toml", "line": 3}, "a.toml:3: bad value"),
    ({"path": "a.toml", "line": 3, "column": 7}, "a.toml:3:7: bad value"),
    ({"path": "a.toml", "line": 3, "field": "data.x"}, "a.toml:3: field 'data.x': bad value"),
    ({"path": "a.toml", "field": "title"}, "a.toml: field 'title': bad value"),
    ({"line": 2, "column": 4}, "line 2, column 4: bad value"),
    ({"path": "a.toml", "column": 4}, "a.toml: bad value"),  # a column needs a line
], ids=lambda v: repr(v) if isinstance(v, dict) else "")
def test_located_error_formats_its_place_in_one_way(where: dict[str, object],
                                                     text: str) -> None:
    error = LocatedError("bad value", **where)  # type: ignore[arg-type]
    assert str(error) == text
    assert error.message == "bad value"
    assert error.path == where.get("path")


@pytest.mark.parametrize("cls", [LocatedError, FileError, SpecError, CheckError, ReportError,
                                 ExportError])
def test_located_errors_keep_their_place_through_pickle(cls: type[LocatedError]) -> None:
    error = cls("expected a number", path=Path("n.toml"), line=4, column=2, field="w")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls and isinstance(copy, SymgradError)
    assert (copy.path, copy.line, copy.column, copy.field) == ("n.toml", 4, 2, "w")
    assert str(copy) == str(error) == "n.toml:4:2: field 'w': expected a number"


# -- reading --------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileError) as info:
        read_text(tmp_path / "nope.toml")
    assert str(info.value) == f"{tmp_path}/nope.toml: cannot read the file: No such file or " \
                              "directory"
    assert (info.value.path, info.value.line) == (f"{tmp_path}/nope.toml", None)


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileError) as info:
        read_text(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot read the file: Is a directory"


def test_non_utf8_names_the_line_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('a = 1\ntitle = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(FileError) as info:
        read_text(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text (byte 18)"
    assert (info.value.path, info.value.line) == (str(path), 2)


def test_a_file_over_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("x" * 101)
    with pytest.raises(FileError) as info:
        read_text(path, what="a test file", limit=100)
    assert str(info.value) == f"{path}: the file has 101 bytes; the limit for a test file is 100"
    assert read_text(path, limit=101) == "x" * 101


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_read_only_up_to_the_limit() -> None:
    with pytest.raises(FileError) as info:
        read_text("/dev/zero", limit=1000)
    assert str(info.value) == ("/dev/zero: the file has more than 1000 bytes; the limit for "
                               "a file is 1000")


def test_the_caller_chooses_the_error_class(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        read_toml(tmp_path / "none.toml", error=SpecError)
    assert info.value.path == f"{tmp_path}/none.toml"


@pytest.mark.parametrize("text, line, column, message", [
    ("a = 1\nb = ?\n", 2, 5, "Invalid value"),
    ("a = 1\nb = ", 2, 5, "Invalid value"),  # tomllib: "(at end of document)"
    ("a = 1\na = 2\n", 2, 6, "Cannot overwrite a value"),
], ids=["value", "end-of-document", "duplicate"])
def test_toml_syntax_errors_carry_line_and_column(text: str, line: int, column: int,
                                                  message: str) -> None:
    with pytest.raises(FileError) as info:
        parse_toml(text, "s.toml")
    assert (info.value.path, info.value.line, info.value.column) == ("s.toml", line, column)
    assert str(info.value) == f"s.toml:{line}:{column}: TOML syntax error: {message}"


def test_read_toml_returns_the_data_and_the_text() -> None:
    data, text = read_toml(DERIVATIONS / "two_neuron.toml")
    assert data["network"]["loss"] == "half_sse"
    assert text == (DERIVATIONS / "two_neuron.toml").read_text(encoding="utf-8")


# -- writing --------------------------------------------------------------------------------


def test_a_new_file_gets_the_mode_open_gives(tmp_path: Path, umask: int) -> None:
    path = write_atomic(tmp_path / "out.txt", "text\n")
    with open(tmp_path / "by_open.txt", "w") as handle:
        handle.write("text\n")
    assert _mode(path) == 0o666 & ~umask == _mode(tmp_path / "by_open.txt")
    assert path.read_text() == "text\n"


def test_a_replaced_file_keeps_its_mode_as_with_open(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "script.py"
    path.write_text("old\n")
    path.chmod(0o751)
    write_atomic(path, b"new\n")
    assert (_mode(path), path.read_bytes()) == (0o751, b"new\n")


def test_text_is_written_as_utf8_without_newline_translation(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "u.csv", "∂E/∂w,1\r\n")
    assert path.read_bytes() == "∂E/∂w,1\r\n".encode("utf-8")


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    write_atomic(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_written_in_place_as_open_does(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"  # as /dev/stdout would be: nothing to rename over
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"] and stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_parents_are_made_on_request(tmp_path: Path, umask: int) -> None:
    path = write_atomic(tmp_path / "a" / "b" / "f.svg", "<svg/>", parents=True)
    assert path.read_text() == "<svg/>"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["f.svg"]


def test_a_missing_folder_is_an_error_naming_the_path(tmp_path: Path) -> None:
    target = tmp_path / "no" / "f.svg"
    with pytest.raises(FileError) as info:
        write_atomic(target, "<svg/>", what="the figure")
    assert str(info.value) == f"{target}: cannot write the figure: No such file or directory"
    assert info.value.path == str(target)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(ExportError) as info:
        write_atomic(tmp_path / "out.csv", "1,2\n", what="the table", error=ExportError)
    assert str(info.value) == f"{tmp_path}/out.csv: cannot write the table: Is a directory"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_write_leaves_the_old_file_untouched(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.csv"
    path.write_text("old contents\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileError) as info:
        write_atomic(path, "new contents\n", what="the history")
    assert str(info.value) == f"{path}: cannot write the history: No space left on device"
    assert path.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_temporary_files_are_hidden_new_and_have_the_umask_mode(tmp_path: Path,
                                                                 umask: int) -> None:
    fd, path = create_temporary(tmp_path, "kernel", suffix=".c")
    os.close(fd)
    assert path.parent == tmp_path and path.name.startswith(".kernel.")
    assert path.suffix == ".c" and _mode(path) == 0o666 & ~umask


def test_the_kernel_cache_gets_the_modes_the_compiler_and_open_give(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int) -> None:
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    net = Network(1, [Dense(1, "tanh")], "half_sse")
    compile(derive(net), backend="c").grad(x=np.linspace(0, 1, 5), T=0.5, w=0.3, b=0.1)
    (source,) = (tmp_path / "c").glob("*.c")
    (library,) = (tmp_path / "c").glob("*.so")
    record = library.with_suffix(".sha256")
    assert _mode(source) == 0o666 & ~umask  # it was a fixed 0o644
    assert _mode(library) == 0o777 & ~umask  # as the linker made it
    assert _mode(record) == 0o666 & ~umask
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [source.name, record.name,
                                                                  library.name]


# -- no other reader or writer ----------------------------------------------------------------

#: Calls that read or write a file by themselves; only symgrad/files.py makes them.
FUNCTIONS = {"open", "os.open", "os.fdopen", "os.replace", "os.rename", "tempfile.mkstemp",
             "tempfile.NamedTemporaryFile", "tomllib.loads", "tomllib.load", "shutil.copy",
             "shutil.copyfile", "shutil.move"}
METHODS = {"write_text", "write_bytes", "read_text", "read_bytes", "savefig"}
#: Where another module may, and why.
ALLOWED = {
    ("native.py", "os.fdopen"): "the C source, into a file from files.create_temporary",
    ("native.py", "os.replace"): "the compiler's library and its source, into the cache",
    ("native.py", "os.open"): "a cached library and its record, checked (owner, mode, "
                              "SHA-256) before the library is loaded",
    ("report/render.py", "read_text"): "the TeX log in our own scratch folder",
    ("report/render.py", "read_bytes"): "the PDF that TeX made in our scratch folder",
    ("exercises/sheets.py", "read_bytes"): "the PDF that the report's TeX run made in a scratch "
                                           "folder",
    ("report/figures.py", "savefig"): "into a BytesIO",
    ("report/folder.py", "os.open"): "the figures folder, its files and manifest, opened "
                                     "without following links to hash what symgrad wrote",
    ("report/folder.py", "os.fdopen"): "reads of those descriptors",
    ("analysis/vanishing.py", "savefig"): "into a BytesIO",
}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "files.py")


def _calls(path: Path) -> Iterator[tuple[str, int]]:
    """``open``, ``os.replace``, ``.write_text``...: the file calls in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS:
            yield func.id, node.lineno
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else ""
            if f"{owner}.{func.attr}" in FUNCTIONS:
                yield f"{owner}.{func.attr}", node.lineno
            elif func.attr in METHODS:
                yield func.attr, node.lineno


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_files_are_read_and_written_only_through_symgrad_files(path: Path) -> None:
    module = str(path.relative_to(PACKAGE))
    for name, line in _calls(path):
        assert (module, name) in ALLOWED, f"{module}:{line} calls {name}(); use symgrad.files"


# -- the command line -------------------------------------------------------------------------

TWO = DERIVATIONS / "two_neuron.toml"
LINEAR = DERIVATIONS / "linear_cost.toml"
VANISHING = ("vanishing", "--depth", "2", "--width", "2", "--seeds", "1",
             "--activations", "tanh")


def _one_error_line(status: int, stderr: str, command: str, message: str) -> None:
    assert status == 2
    assert stderr == f"symgrad {command}: error: {message}\n"
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc")
@pytest.mark.parametrize("args, message", [
    ((*VANISHING, "--plot", "/proc/nope/x.svg"),  # as export and report (issue 16, item 13)
     "/proc/nope/x.svg: the folder '/proc/nope' does not exist"),
    (("export", TWO, "-o", "/proc/nope/x.py"),
     "/proc/nope/x.py: the folder '/proc/nope' does not exist"),
    (("train", LINEAR, "--history", "/proc/nope/h.csv"),
     "/proc/nope/h.csv: cannot write the history: No such file or directory"),
    (("report", TWO, "-o", "/proc/nope/r.html"),
     "/proc/nope/r.html: the folder '/proc/nope' does not exist"),
], ids=["vanishing", "export", "train", "report"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(args: tuple[object, ...],
                                                                 message: str) -> None:
    r = run_cli_here(*args)
    _one_error_line(r.returncode, r.stderr, str(args[0]), message)


@pytest.mark.parametrize("args, what", [
    ((*VANISHING, "--plot", "{out}.svg"), "the figure"),
    (("export", TWO, "-o", "{out}.py"), "the module"),
    (("train", LINEAR, "--history", "{out}.csv"), "the history"),
    (("report", TWO, "-o", "{out}.md"), "the report"),
], ids=["vanishing", "export", "train", "report"])
def test_a_failed_write_from_the_cli_leaves_nothing(tmp_path: Path, args: tuple[str, ...],
                                                    what: str) -> None:
    out = str(tmp_path / "taken")
    target = Path(args[-1].format(out=out))
    target.mkdir()  # a folder where the file should go: the rename fails
    r = run_cli_here(*args[:-1], target)
    _one_error_line(r.returncode, r.stderr, args[0],
                    f"{target}: cannot write {what}: Is a directory")
    assert target.is_dir() and list(target.iterdir()) == []
    leftovers = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    # no temporary file; a Markdown report's figures (and their manifest) go in first, the
    # report last
    assert leftovers in ([target.name], ["taken-figures", "taken-figures/.symgrad-figures.json",
                                         "taken-figures/activation-sigmoid.svg", target.name])


@pytest.mark.parametrize("args, name", [
    ((*VANISHING, "--plot", "{tmp}/v.svg"), "v.svg"),
    (("export", TWO, "-o", "{tmp}/m.py"), "m.py"),
    (("train", LINEAR, "--history", "{tmp}/h.csv"), "h.csv"),
    (("report", TWO, "-o", "{tmp}/r.html"), "r.html"),
], ids=["vanishing", "export", "train", "report"])
def test_cli_outputs_get_the_mode_open_gives(tmp_path: Path, umask: int,
                                             args: tuple[str, ...], name: str) -> None:
    r = run_cli_here(*args[:-1], args[-1].format(tmp=tmp_path))
    assert r.returncode == 0, r.stderr
    assert _mode(tmp_path / name) == 0o666 & ~umask


def _bad_spec(tmp_path: Path, kind: str) -> tuple[Path, str]:
    path = tmp_path / f"{kind}.toml"
    if kind == "folder":
        path.mkdir()
        return path, f"{path}: cannot read the file: Is a directory"
    if kind == "latin1":
        path.write_bytes(TWO.read_bytes().replace(b"half_sse", "h\xe9lf".encode("latin-1")))
        line = TWO.read_text().split("half_sse")[0].count("\n") + 1
        offset = TWO.read_bytes().index(b"half_sse") + 1
        return path, f"{path}:{line}: not UTF-8 text (byte {offset})"
    path.write_text(TWO.read_text().replace('loss = "half_sse"', 'loss = "half_sse'))
    line = TWO.read_text().split('loss = "half_sse"')[0].count("\n") + 1
    return path, f"{path}:{line}:17: TOML syntax error: Illegal character '\\n'"


@pytest.mark.parametrize("kind", ["folder", "latin1", "syntax"])
@pytest.mark.parametrize("command", ["derive", "export", "train", "report"])
def test_a_spec_that_cannot_be_read_is_one_line_and_exit_2(tmp_path: Path, command: str,
                                                           kind: str) -> None:
    spec, message = _bad_spec(tmp_path, kind)
    before = sorted(tmp_path.rglob("*"))
    out = {"export": ["-o", tmp_path / "m.py"], "report": ["-o", tmp_path / "r.md"]}
    r = run_cli_here(command, spec, *out.get(command, []))
    _one_error_line(r.returncode, r.stderr, command, message)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_bad_hand_file_names_its_line_and_field(tmp_path: Path) -> None:
    hand = tmp_path / "hand.toml"
    hand.write_text('[[gradient]]\nwrt = "w9"\nexpr = "a1"\n')
    r = run_cli_here("check", TWO, "--file", hand)
    _one_error_line(r.returncode, r.stderr, "check",
                    f"{hand}:3: field 'gradient[0].wrt': 'w9' is not a parameter of the "
                    "network; its parameters are: w1, b1, w2, b2")
