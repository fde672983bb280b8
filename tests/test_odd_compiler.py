"""An odd ``$CC`` (issue item 12): one-line symgrad errors, nothing left in the cache, and a
compiler that hangs stopped after ``$SYMGRAD_CC_TIMEOUT`` seconds with all it started."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sympy as sp

from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.errors import CompileError
from symgrad.native import COMPILE_TIMEOUT, FusedLoop, compile_timeout
from symgrad.network import Dense, Network


def _grad() -> None:
    """The loop of a network no other test in this file builds ("ss64": scalar data)."""
    net = Network(1, [Dense(1, "softplus")] * 2, "half_sse")
    compile(derive(net), backend="c").grad(x1=1.0, T=0.0, w1=1.0, b1=0.0, w2=1.0, b2=0.0)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    return tmp_path / "c"


def _script(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("cc", ["true", "echo"])
def test_a_compiler_that_writes_no_library(cc: str, cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", cc)
    with pytest.raises(CompileError) as info:
        _grad()
    assert str(info.value) == (f"the C compiler '{cc}' reported no error but wrote no library "
                               "for grad_sums_ss64; set CC to a C compiler (gcc, clang)")
    assert list(cache.iterdir()) == []  # no orphan .c


def test_a_compiler_that_writes_junk(cache: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    junk = _script(tmp_path, "junk-cc", 'while [ $# -gt 0 ]; do [ "$1" = -o ] && '
                   '{ printf "not a library" > "$2"; exit 0; }; shift; done\n')
    monkeypatch.setenv("CC", junk)
    with pytest.raises(CompileError, match=r"^cannot load grad_sums_ss64 from the library the "
                       rf"C compiler made: {cache}/\.grad_sums_ss64\.[0-9a-f]{{8}}\.so: file "
                       "too short$"):
        _grad()
    assert list(cache.iterdir()) == []  # the junk is not cached


def test_an_unterminated_quote_in_cc(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "gcc '-O2")
    with pytest.raises(CompileError) as info:
        _grad()
    assert str(info.value) == "cannot read CC=\"gcc '-O2\" as a command: No closing quotation"


def test_a_compiler_that_cannot_be_run(cache: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_program = tmp_path / "cc"
    not_a_program.write_bytes(b"\x00\x01 neither a script nor a program")
    not_a_program.chmod(0o755)
    monkeypatch.setenv("CC", str(not_a_program))
    with pytest.raises(CompileError) as info:
        _grad()
    assert str(info.value) == f"cannot run the C compiler '{not_a_program}': Exec format error"
    assert list(cache.iterdir()) == []


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting for its reaper has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_hanging_compiler_is_stopped_with_its_children(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wrapper's child keeps the error pipe open: killing the wrapper alone would
    leave symgrad waiting for the child (60 s here, for ever for a real hang)."""
    pid_file = tmp_path / "child.pid"
    hanging = _script(tmp_path, "hanging-cc", f"sleep 60 &\necho $! > {pid_file}\nwait\n")
    monkeypatch.setenv("CC", hanging)
    monkeypatch.setenv("SYMGRAD_CC_TIMEOUT", "1.5")
    with pytest.raises(CompileError) as info:
        _grad()
    assert str(info.value) == ("the C compiler did not finish grad_sums_ss64 within 1.5 s; "
                               "set SYMGRAD_CC_TIMEOUT to allow it longer")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10  # the kernel's, not ours: SIGKILL is not instant
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("setting, seconds", [("", COMPILE_TIMEOUT), ("90", 90.0),
                                              ("0.25", 0.25)])
def test_the_timeout_follows_the_environment(setting: str, seconds: float,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_CC_TIMEOUT", setting)
    assert compile_timeout() == seconds
    assert 10 <= COMPILE_TIMEOUT <= 100  # tens of seconds, not the 600 it was


@pytest.mark.parametrize("setting", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_timeout_is_named(setting: str, cache: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_CC_TIMEOUT", setting)
    with pytest.raises(CompileError) as info:
        _grad()
    assert str(info.value) == (f"SYMGRAD_CC_TIMEOUT must be a positive number of seconds, "
                               f"got '{setting}'")


def test_too_many_arguments_for_ctypes_is_named_before_building(cache: Path) -> None:
    """ctypes raised its own ArgumentError ("_argtypes_ has too many arguments") after the
    build; digits_mlp.toml has 2,487 values to pass."""
    x, y = sp.symbols("x y")
    weights = sp.symbols("w0:1100")
    loop = FusedLoop("many", "a sum", data=(x,), parameters=weights,
                     body=[(y, sp.Add(*weights) * x)], outputs=[y])
    with pytest.raises(CompileError) as info:
        loop([1.0, *[0.0] * 1100], 1)
    assert str(info.value) == ("backend 'c' cannot call many with 1104 arguments (ctypes "
                               "passes at most 1024); use backend 'numpy'")
    assert not cache.exists()
