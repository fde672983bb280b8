"""What ships: the example specs inside the package (``symgrad examples``), the package
list of pyproject.toml against the folders on disk, the licence, and the sdist's tests."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

from symgrad.cli import main

from .conftest import DERIVATIONS

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_list_names_every_folder_of_symgrad() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for p in (ROOT / "symgrad").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | {"symgrad.examples"}
    assert config["package-dir"] == {"symgrad.examples": "derivations"}


def test_examples_copies_every_shipped_spec(tmp_path: Path, capsys) -> None:
    target = tmp_path / "specs"
    assert main(["examples", str(target)]) == 0
    shipped = sorted(p.name for p in DERIVATIONS.glob("*.toml"))
    assert sorted(p.name for p in target.iterdir()) == shipped
    assert (target / "two_neuron.toml").read_text() == (DERIVATIONS / "two_neuron.toml").read_text()
    assert capsys.readouterr().out.startswith(f"copied {len(shipped)} example specs into {target}/: ")
    assert main(["examples", str(target)]) == 0  # the same files again: nothing to refuse


def test_examples_refuses_to_replace_a_different_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "two_neuron.toml").write_text("# mine\n")
    assert main(["examples", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"symgrad examples: error: {tmp_path}: holds a different two_neuron.toml; nothing was "
        "copied (use --force to replace it)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two_neuron.toml"]
    assert (tmp_path / "two_neuron.toml").read_text() == "# mine\n"
    assert main(["examples", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "two_neuron.toml").read_text() == (DERIVATIONS / "two_neuron.toml").read_text()


def test_bare_symgrad_prints_the_commands(capsys) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: symgrad [-h] [--version] COMMAND ...\n")
    for command in ("derive", "check", "train", "report", "examples"):
        assert f"\n    {command} " in err or f"\n    {command}\n" in err


def test_a_hand_file_given_as_a_spec_is_named_as_such(tmp_path: Path, capsys) -> None:
    hand = DERIVATIONS / "two_neuron_hand.toml"
    for command, *rest in (["derive"], ["train"], ["report", "-o", str(tmp_path / "r.md")]):
        assert main([command, str(hand), *rest]) == 2
        assert capsys.readouterr().err == (
            f"symgrad {command}: error: {hand}: field 'gradient': this is a hand-derivation "
            "file ([[gradient]] tables), not a spec: give it to 'symgrad check SPEC --file "
            "FILE' or 'symgrad report SPEC --check FILE'\n")


def test_the_licence_is_the_one_the_metadata_names() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_wheel_and_sdist_carry_examples_and_tests(tmp_path: Path) -> None:
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("symgrad-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"symgrad/examples/{p.name}" for p in DERIVATIONS.glob("*.toml")} <= names
    assert {"symgrad/py.typed", "symgrad/templates/exported_module.py.j2"} <= names
    sdist = subprocess.run([sys.executable, "-c", "import sys; from setuptools import "
                            "build_meta; print(build_meta.build_sdist(sys.argv[1]))",
                            str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert sdist.returncode == 0, sdist.stderr
    with tarfile.open(tmp_path / sdist.stdout.split()[-1]) as tar:
        inside = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"LICENSE", "tests/conftest.py", "tests/test_packaging.py",
            "derivations/two_neuron.toml"} <= inside
