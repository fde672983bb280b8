"""Accuracy lines for the built-in activations (issue 11, item 3): ``symgrad activations``
and reports state, for every elementwise built-in as for a spec's formula, the measured
worst relative error against mpmath and the range of z. The numbers come from
symgrad/analysis/accuracy_data.py, written by ``python -m symgrad.analysis.accuracy``;
here each is compared with a fresh sweep to the precision it is printed with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.analysis import accuracy_data
from symgrad.analysis.accuracy import accuracy_line, builtin_sweeps, data_module, sweep
from symgrad.analysis.accuracy_line import LIMIT, POINTS, builtin
from symgrad.catalogue import ACTIVATIONS, get_activation
from symgrad.cli import main

ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if act.elementwise]
#: The shape of a line where the whole range keeps 1e-10.
LINE = re.compile(r"worst relative error \d\.\de[-+]\d\d over \|z\| <= 700 \(mpmath, 50 digits\)")
ROOT = Path(__file__).resolve().parents[1]


def test_every_elementwise_built_in_is_recorded_with_the_sweeps_settings() -> None:
    assert sorted(accuracy_data.BUILTIN) == sorted(ELEMENTWISE)
    assert accuracy_data.SWEPT == {"points": POINTS, "limit": LIMIT}
    assert builtin("softmax") is None


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_the_recorded_line_equals_a_fresh_sweeps(name: str) -> None:
    act = get_activation(name)
    fresh = sweep(act, act.params)
    recorded = builtin(name)
    assert recorded is not None
    assert recorded.line() == fresh.line()
    assert LINE.fullmatch(recorded.line())
    assert f"{recorded.worst:.1e}" == f"{fresh.worst:.1e}"


def test_symgrad_activations_prints_an_accuracy_line_for_each_built_in(capsys) -> None:
    assert main(["activations"]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    for block in blocks:
        name = re.search(r"  \[(\w+)[,\]]", block.splitlines()[0]).group(1)  # type: ignore[union-attr]
        lines = [li for li in block.splitlines() if li.startswith("  accuracy:   ")]
        if name == "softmax":
            assert lines == []
            continue
        assert lines == [f"  accuracy:   {builtin(name).line()}"]  # type: ignore[union-attr]
        assert LINE.fullmatch(lines[0].removeprefix("  accuracy:   "))
    assert sum("  accuracy:   " in b for b in blocks) == len(ELEMENTWISE)


def test_sigmoids_line_is_exactly_this() -> None:
    """The exact text; the number is the recorded sweep's (a fresh one is compared above)."""
    assert accuracy_line(get_activation("sigmoid")) == \
        "worst relative error 3.9e-16 over |z| <= 700 (mpmath, 50 digits)"


def test_symgrad_activations_does_not_import_the_sweep() -> None:
    """The recorded lines need neither the sweep (mpmath at hundreds of digits) nor the
    compiler: start-up stays as it was."""
    code = ("import sys; from symgrad.cli import main; main(['activations']); "
            "print(sorted(m for m in ('symgrad.analysis.accuracy', 'symgrad.compile') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.splitlines()[-1] == "[]"


def test_a_built_in_with_other_parameters_is_swept_afresh() -> None:
    leaky = get_activation("leaky_relu")
    assert accuracy_line(leaky, {"alpha": 0.2}) == sweep(leaky, {"alpha": 0.2}).line()
    assert accuracy_line(get_activation("softmax")) is None


def test_the_data_module_is_what_the_script_writes() -> None:
    """``python -m symgrad.analysis.accuracy`` writes :func:`data_module` of fresh sweeps;
    the stored file is that text, up to the last digits of the floats (checked above
    to the printed precision)."""
    text = (ROOT / "symgrad" / "analysis" / "accuracy_data.py").read_text()
    fresh = data_module(builtin_sweeps())
    shape = re.compile(r"[-+0-9.e]+(?=[,}])")
    assert shape.sub("N", text) == shape.sub("N", fresh)


def test_a_report_states_a_built_ins_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    assert main(["report", str(ROOT / "derivations" / "two_neuron.toml"), "-o", str(out)]) == 0
    text = out.read_text()
    line = builtin("sigmoid").line()  # type: ignore[union-attr]
    shown = line.replace("|", "\\|").replace("<", "&lt;")  # as Markdown escapes them
    assert shown == "worst relative error 3.9e-16 over \\|z\\| &lt;= 700 (mpmath, 50 digits)"
    assert f"Compiled code against mpmath: {shown}." in text
