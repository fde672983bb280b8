"""``symgrad export`` with hostile spec text: the module it writes imports, whatever the
title or the spec's file name holds, and its docstring shows that text exactly."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.export import comment_text, docstring_literal
from symgrad.network import load

from .conftest import ONE_NEURON_TABLES, import_file, run_cli_here

#: Titles that end a docstring, start an escape Python rejects (\x, \U, \N), or carry a
#: control character (TOML's \u escapes give NUL, ESC and a carriage return).
TITLES = {
    "triple-quote": '"""',
    "escape-x": r"\x",
    "escape-U": r"\U0001",
    "escape-N": r"\N{",
    "trailing-backslash": "tail\\",
    "trailing-quote": 'tail"',
    "four-quotes": '""""',
    "single-quotes": "'''",
    "injection": '"""\nimport os; os.system("touch CANARY")\n"""',
    "controls": "nul \x00 esc \x1b cr \r del \x7f ls \u2028 end",
    "printable-ascii": string.printable[:95],
}


def _spec(folder: Path, title: str, name: str = "net.toml") -> Path:
    path = folder / name
    path.write_text(f"title = {json.dumps(title)}\n" + ONE_NEURON_TABLES, encoding="utf-8")
    return path


@pytest.mark.parametrize("title", TITLES.values(), ids=TITLES.keys())
def test_a_hostile_title_gives_an_importable_module_that_shows_it(tmp_path: Path,
                                                                  title: str) -> None:
    spec = _spec(tmp_path, title)
    target = tmp_path / "grads.py"
    result = run_cli_here("export", spec, "-o", target)
    assert result.returncode == 0, result.stderr
    module = import_file(target)
    assert module.__doc__.startswith(f'Gradients of "{title}", exported by symgrad ')
    values = {"x": 1.0, "T": 0.3, "w": 0.5, "b": 0.1}
    expected = compile(derive(load(spec))).grad(**values)
    got = module.grad(**values)  # type: ignore[attr-defined]
    assert {k: float(v).hex() for k, v in got.items()} == \
        {k: float(v).hex() for k, v in expected.items()}
    assert not list(tmp_path.rglob("CANARY")) and not Path("CANARY").exists()


def test_a_hostile_spec_file_name_gives_an_importable_module(tmp_path: Path) -> None:
    name = 'a"""b\\x\\U.toml'
    spec = _spec(tmp_path, "plain", name)
    target = tmp_path / "grads.py"
    assert run_cli_here("export", spec, "-o", target).returncode == 0
    module = import_file(target)
    assert f"from {spec}." in module.__doc__


def test_docstring_literal_round_trips_every_character_class() -> None:
    import ast

    text = "".join(chr(c) for c in range(0x0, 0x250)) + "\u2028\u2029\ufeff中\U0001F600\""
    literal = docstring_literal(text)
    assert ast.literal_eval(literal) == text
    assert literal.count("\n") == 1  # only the text's own newline stays a line break
    assert docstring_literal("plain \"quoted\" title") == '"""plain "quoted" title"""'
    assert comment_text("mean\r\nimport os\x00") == r"mean\r\nimport os\x00"
