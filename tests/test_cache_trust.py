"""The C cache under attack and accident: what ``backend="c"`` loads, and what it refuses.

A cached library is code the process runs, under a predictable name. These tests plant a
library whose constructor writes a canary file (and whose ``grad_sums`` does nothing, so
the gradients it "returns" are whatever the output buffer held), damage cached libraries
the ways a disk, a full quota or a careless copy does, and point the cache at folders
other users can write to. Nothing planted may run; everything damaged is rebuilt; an
unsafe folder is refused with one line. Loads that could map a damaged file run in a
subprocess, so that a SIGBUS there (the old behaviour) fails the test, not the run.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.errors import CompileError
from symgrad.native import compiler
from symgrad.network import Dense, Network

from .conftest import ROOT

#: Gradients of a two-neuron tanh network on seven samples, by the C loop ("aa64": both
#: data values arrays, float64), printed exactly.
SCRIPT = """
import numpy as np
from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.network import Dense, Network
f = compile(derive(Network(1, [Dense(1, "tanh")] * 2, "half_sse")), backend="{backend}")
g = f.grad(x1=np.linspace(-1, 1, 7), T=np.linspace(0, 1, 7), w1=0.3, b1=-0.1, w2=0.7, b2=0.2)
print(*(float(v).hex() for v in g.values()))
"""
PLANTED = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void)
{
    FILE *f = fopen(CANARY, "w");
    if (f) { fputs("planted code ran\n", f); fclose(f); }
}
void grad_sums(void) {}
"""


def _gradients(cache: Path, backend: str = "c") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYMGRAD_CACHE_DIR": str(cache), "SYMGRAD_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", SCRIPT.format(backend=backend)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def _library(cache: Path) -> Path:
    (library,) = (cache / "c").glob("grad_sums_aa64-*.so")
    return library


def _matches_record(library: Path) -> bool:
    digest = hashlib.sha256(library.read_bytes()).hexdigest()
    return library.with_suffix(".sha256").read_text() == f"{digest}  {library.name}\n"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A cache holding the loop of :data:`SCRIPT`, built in a subprocess (this process
    never maps it), and the gradients it gives, checked against the NumPy backend."""
    cache = tmp_path_factory.mktemp("pristine") / "cache"
    built, numpy_run = _gradients(cache), _gradients(cache, backend="numpy")
    assert built.returncode == 0 and numpy_run.returncode == 0, built.stderr
    got = [float.fromhex(v) for v in built.stdout.split()]
    want = [float.fromhex(v) for v in numpy_run.stdout.split()]
    assert len(got) == 4 and np.allclose(got, want, rtol=1e-13, atol=1e-15)
    return cache, built.stdout


@pytest.fixture
def cache(pristine: tuple[Path, str], tmp_path: Path) -> Path:
    """A copy of the pristine cache, to damage."""
    copy = tmp_path / "cache"
    shutil.copytree(pristine[0], copy)
    return copy


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """A library whose constructor writes a canary file, and the canary's path."""
    folder = tmp_path_factory.mktemp("planted")
    folder.chmod(0o755)  # the canary is written by whoever loads the library
    canary = folder / "CANARY"
    source = folder / "planted.c"
    source.write_text(PLANTED)
    run = subprocess.run([*compiler(), f'-DCANARY="{canary}"', "-shared", "-fPIC",
                          str(source), "-o", str(folder / "planted.so")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return (folder / "planted.so").read_bytes(), canary


def _plant(library: Path, code: bytes, *, with_record: bool = True) -> None:
    """Put ``code`` in place of ``library`` (a new file: the old inode may be mapped), and
    a record that matches it, as an attacker able to write both would."""
    fresh = library.with_name("planting")
    fresh.write_bytes(code)
    fresh.chmod(0o755)
    fresh.replace(library)
    if with_record:
        record = library.with_suffix(".sha256")
        record.write_text(f"{hashlib.sha256(code).hexdigest()}  {library.name}\n")


def _assert_rebuilt(cache: Path, pristine: tuple[Path, str], canary: Path | None = None
                    ) -> None:
    run = _gradients(cache)
    assert (run.returncode, run.stderr) == (0, "")  # not 135 (SIGBUS), not 132 (SIGILL)
    assert run.stdout == pristine[1]  # the gradients, to the last bit
    assert canary is None or not canary.exists()
    library = _library(cache)
    assert _matches_record(library) and stat.S_IMODE(library.stat().st_mode) & 0o022 == 0


# -- item 2: a damaged library is detected and rebuilt, never mapped ----------------------------

#: Ways a cached library gets damaged: ``(library, another symgrad library) -> bytes``.
DAMAGE: dict[str, Callable[[bytes, bytes], bytes]] = {
    "truncated-to-4KB": lambda data, other: data[:4096],
    "bytes-flipped": lambda data, other: (data[:0x1000] + bytes(b ^ 0xFF for b in
                                                                data[0x1000:0x1400])
                                          + data[0x1400:]),
    "empty": lambda data, other: b"",
    "random-bytes": lambda data, other: np.random.default_rng(0).bytes(len(data)),
    "foreign-library": lambda data, other: other,  # its grad_sums takes other arguments
}


@pytest.fixture(scope="module")
def another_library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The C loop of another network: a real library, with another ``grad_sums``."""
    cache = tmp_path_factory.mktemp("another")
    env = {**os.environ, "SYMGRAD_CACHE_DIR": str(cache)}
    script = ("import numpy as np, symgrad; f = symgrad.compile(symgrad.derive(symgrad.load("
              "'derivations/two_two_two.toml')), backend='c'); "
              "f.grad(**{n: np.ones(3) for n in f.data_names}, "
              "**{str(p): 0.1 for p in f.parameters})")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, env=env, timeout=300)
    (library,) = (cache / "c").glob("grad_sums_*.so")
    return library.read_bytes()


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_library_is_rebuilt(damage: str, cache: Path, pristine: tuple[Path, str],
                                      another_library: bytes) -> None:
    library = _library(cache)
    _plant(library, DAMAGE[damage](library.read_bytes(), another_library), with_record=False)
    _assert_rebuilt(cache, pristine)


def test_a_library_without_a_record_is_rebuilt(cache: Path, pristine: tuple[Path, str]
                                               ) -> None:
    """A cache written before records were kept, or a build interrupted before the record."""
    _library(cache).with_suffix(".sha256").unlink()
    _assert_rebuilt(cache, pristine)


def test_the_record_is_in_sha256sum_format(pristine: tuple[Path, str]) -> None:
    library = _library(pristine[0])
    assert _matches_record(library)
    run = subprocess.run(["sha256sum", "-c", library.with_suffix(".sha256").name],
                         cwd=library.parent, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, f"{library.name}: OK\n")


# -- item 1: a planted library never runs ----------------------------------------------------

def test_a_library_not_matching_its_record_is_not_loaded(
        cache: Path, pristine: tuple[Path, str], planted: tuple[bytes, Path]) -> None:
    code, canary = planted
    _plant(_library(cache), code, with_record=False)
    _assert_rebuilt(cache, pristine, canary)


@pytest.mark.parametrize("loose", [".so", ".sha256"], ids=["library", "record"])
def test_a_file_others_can_write_is_not_trusted(loose: str, cache: Path,
                                                pristine: tuple[Path, str],
                                                planted: tuple[bytes, Path]) -> None:
    """The planted library matches its record: only the mode of one of them gives it away."""
    code, canary = planted
    library = _library(cache)
    _plant(library, code)
    library.with_suffix(loose).chmod(0o666)
    _assert_rebuilt(cache, pristine, canary)


def test_a_symbolic_link_is_not_followed(cache: Path, pristine: tuple[Path, str],
                                         planted: tuple[bytes, Path], tmp_path: Path) -> None:
    code, canary = planted
    library = _library(cache)
    _plant(library, code)
    elsewhere = tmp_path / "elsewhere.so"
    library.replace(elsewhere)
    library.symlink_to(elsewhere)
    _assert_rebuilt(cache, pristine, canary)


ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user "
                               "(chown) needs root")


def _nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' to act as the other user")


@ROOT_ONLY
def test_a_file_of_another_owner_is_not_trusted(cache: Path, pristine: tuple[Path, str],
                                                planted: tuple[bytes, Path]) -> None:
    code, canary = planted
    library = _library(cache)
    _plant(library, code)
    other = _nobody()
    for path in (library, library.with_suffix(".sha256")):
        os.chown(path, other.pw_uid, other.pw_gid)
    _assert_rebuilt(cache, pristine, canary)


# -- item 1: the folder --------------------------------------------------------------------------

def _softplus_grad() -> None:
    """A network no other test builds: its loop is not loaded in this process yet."""
    net = Network(1, [Dense(1, "softplus")] * 2, "half_sse")
    compile(derive(net), backend="c").grad(x1=1.0, T=0.0, w1=1.0, b1=0.0, w2=1.0, b2=0.0)


def _refusal(folder: Path, problem: str) -> str:
    return (f"^the kernel cache {folder}/c is not safe to load code from: {problem}; use a "
            r"folder only you can write to \(chmod go-w, or set SYMGRAD_CACHE_DIR\)$")


@pytest.mark.parametrize("mode, writers", [(0o777, "its group and others"),
                                           (0o757, "others"), (0o770, "its group")],
                         ids=["777", "757", "770"])
@pytest.mark.parametrize("where", ["cache", "c"])
def test_a_cache_folder_others_can_write_is_refused(where: str, mode: int, writers: str,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(os.path.realpath(tmp_path)) / "cache"
    (root / "c").mkdir(parents=True)
    loose = root if where == "cache" else root / "c"
    loose.chmod(mode)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(root))
    with pytest.raises(CompileError, match=_refusal(root, f"{loose} is writable by {writers} "
                                                          f"\\(mode 0{mode:o}\\)")):
        _softplus_grad()
    assert list((root / "c").iterdir()) == []


def test_a_planted_library_in_a_shared_folder_never_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: tuple[bytes, Path]) -> None:
    """The attack as reported: a folder of mode 777 with a library (and a record that
    matches it) at the name symgrad will look for."""
    code, canary = planted
    own = tmp_path / "own"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(own))
    _softplus_grad()
    (name,) = [p.name for p in (own / "c").glob("*.so")]
    shared = Path(os.path.realpath(tmp_path)) / "shared"
    (shared / "c").mkdir(parents=True)
    _plant(shared / "c" / name, code)
    for folder in (shared, shared / "c"):
        folder.chmod(0o777)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(shared))
    with pytest.raises(CompileError, match=_refusal(shared, f"{shared}/c is writable by its "
                                                            r"group and others \(mode 0777\)")):
        _softplus_grad()
    assert not canary.exists()


def test_the_folders_made_for_the_cache_are_private(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    old = os.umask(0o002)  # would give 0775
    try:
        monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "a" / "b"))
        _softplus_grad()
    finally:
        os.umask(old)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "a", tmp_path / "a" / "b",
                                                      tmp_path / "a" / "b" / "c")]
    assert modes == [0o700, 0o700, 0o700]
    library = next((tmp_path / "a" / "b" / "c").glob("*.so"))
    assert stat.S_IMODE(library.stat().st_mode) == 0o755  # the linker's 0775, less group write
    assert stat.S_IMODE(library.with_suffix(".sha256").stat().st_mode) == 0o644


def test_a_sticky_folder_above_the_cache_is_safe(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """As /tmp: others may write there, but not rename or remove what is ours."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(shared / "mine"))
    _softplus_grad()
    assert len(list((shared / "mine" / "c").glob("*.so"))) == 1


@ROOT_ONLY
def test_a_cache_folder_of_another_user_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    other = _nobody()
    root = Path(os.path.realpath(tmp_path)) / "cache"
    (root / "c").mkdir(parents=True, mode=0o755)
    os.chown(root / "c", other.pw_uid, other.pw_gid)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(root))
    with pytest.raises(CompileError, match=_refusal(root, f"{root}/c belongs to nobody "
                                                          rf"\(uid {other.pw_uid}\), not "
                                                          "to you")):
        _softplus_grad()


# -- item 1: a second local user -----------------------------------------------------------------

ATTACKER = """
import hashlib, os, sys
shared, name, planted = sys.argv[1:]
os.makedirs(os.path.join(shared, "c"))
for folder in (shared, os.path.join(shared, "c")):
    os.chmod(folder, 0o777)
code = open(planted, "rb").read()
with open(os.path.join(shared, "c", name), "wb") as f:
    f.write(code)
with open(os.path.join(shared, "c", name[:-3] + ".sha256"), "w") as f:
    f.write(hashlib.sha256(code).hexdigest() + "  " + name + "\\n")
"""
INTRUDER = """
import sys
try:
    open(sys.argv[1], "wb").write(b"planted")
except PermissionError as exc:
    print(exc.strerror)
"""


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder all users can write to, as /tmp (pytest's temporary folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="symgrad-second-user-"))
    folder.chmod(0o1777)
    try:
        yield Path(os.path.realpath(folder))
    finally:
        shutil.rmtree(folder)


#: A Python another user can run (this one may sit in root's private home); the scripts
#: that user runs need only the standard library.
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _as(user: pwd.struct_passwd, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    if not (SYSTEM_PYTHON.exists() and SYSTEM_PYTHON.stat().st_mode & stat.S_IXOTH):
        pytest.skip(f"{SYSTEM_PYTHON} is needed to run a script as another user")
    return subprocess.run([str(SYSTEM_PYTHON), "-c", script, *args], capture_output=True,
                          text=True, timeout=60, user=user.pw_uid, group=user.pw_gid,
                          extra_groups=[], cwd="/", env={"PATH": os.environ["PATH"]})


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_a_second_user_cannot_run_code_through_the_cache(
        shared_tmp: Path, planted: tuple[bytes, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    other = _nobody()
    code, canary = planted
    own = shared_tmp / "own"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(own))
    _softplus_grad()
    (library,) = (own / "c").glob("*.so")
    source = shared_tmp / "planted.so"
    source.write_bytes(code)
    source.chmod(0o644)
    # the other user cannot write into the cache symgrad made...
    refused = _as(other, INTRUDER, str(own / "c" / "new.so"))
    assert (refused.returncode, refused.stdout) == (0, "Permission denied\n"), refused.stderr
    # ...so they make a shared one, and plant a library with a record that matches it
    shared = shared_tmp / "shared"
    attack = _as(other, ATTACKER, str(shared), library.name, str(source))
    assert attack.returncode == 0, attack.stderr
    assert (shared / "c" / library.name).stat().st_uid == other.pw_uid
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(shared))
    with pytest.raises(CompileError, match=_refusal(shared, f"{shared}/c belongs to nobody "
                                                            rf"\(uid {other.pw_uid}\), not "
                                                            "to you")):
        _softplus_grad()
    assert not canary.exists()
