"""Shared fixtures: the repository root, the shipped specs, and a CLI runner."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = ROOT / "derivations"
#: The shipped specs with layer types (batch norm, dropout, rnn, ...): layer level only.
STACK_SPECS = sorted(p for p in DERIVATIONS.glob("*.toml") if "{ type = " in p.read_text())
#: Every dense network spec shipped in derivations/ (hand-derivation files end in _hand.toml).
ALL_SPECS = sorted(p for p in DERIVATIONS.glob("*.toml")
                   if not p.stem.endswith("_hand") and p not in STACK_SPECS)
#: The specs with their data inline (scalar derivations); the others name a data set.
SPECS = [p for p in ALL_SPECS if "source =" not in p.read_text()]

#: The tables of a one-input, one-sigmoid-neuron spec, for tests that vary its free text.
ONE_NEURON_TABLES = """
[network]
inputs = 1
layers = [{ units = 1, activation = "sigmoid" }]
loss = "half_sse"
[parameters]
w = 0.5
b = 0.1
[data]
x = 1.0
T = 0.3
"""


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache folder for the C libraries one test module builds (a module takes it
    with ``pytestmark = pytest.mark.usefixtures("private_cache")``)."""
    folder = tmp_path_factory.mktemp("symgrad-cache")
    with pytest.MonkeyPatch.context() as mp_:
        mp_.setenv("SYMGRAD_CACHE_DIR", str(folder))
        yield folder


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> CliResult:
    """Run ``python -m symgrad ARGS`` in a subprocess, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "symgrad", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_cli_here(*args: object) -> CliResult:
    """The command in this process (a subprocess would import SymPy again each time)."""
    import contextlib
    import io

    from symgrad.cli import main

    class Utf8(io.StringIO):  # a terminal that prints ∂ and ⊙
        encoding = "utf-8"

    out, err = Utf8(), Utf8()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:
            status = int(exc.code or 0)
    return CliResult(status, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every shipped spec rendered once to .tex, .md and .html, and to .pdf where TeX is
    (for tests/test_report.py and tests/test_report_layout.py)."""
    from symgrad import derive, load  # here: not every test run needs report rendering
    from symgrad.report.content import build
    from symgrad.report.render import tex_engine, write_report

    formats = ["tex", "md", "html"] + (["pdf"] if tex_engine() is not None else [])
    out: dict[str, Path] = {}
    for spec in ALL_SPECS:
        folder = tmp_path_factory.mktemp(spec.stem)
        content = build(derive(load(spec)))
        for fmt in formats:
            write_report(content, folder / f"{spec.stem}.{fmt}")
        out[spec.stem] = folder
    return out


def import_file(path: Path, name: str | None = None) -> ModuleType:
    """The module in the file ``path`` (an exported module, a benchmark script), imported
    under ``name`` (the file's stem unless given) and not put in ``sys.modules``."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported(f: Any, spec: str, target: str, path: Path) -> ModuleType:
    """Compiled functions ``f`` (of spec file ``spec``) exported for ``target`` (``numpy``,
    ``torch``, ``jax``) into ``path``, and that module imported."""
    from symgrad.export import module_source

    path.write_text(module_source(f, spec, target))
    return import_file(path)


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder for the modules one test module exports (a string: a key of their caches)."""
    return str(tmp_path_factory.mktemp("exported"))
