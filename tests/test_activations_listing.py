"""The recorded formula and derivative lines of ``symgrad activations``
(symgrad/cli/activations_data.py, written by ``python -m symgrad.cli.activations``): the
listing prints them without SymPy arithmetic; here each is worked out again and compared,
and an entry the record does not hold for is worked out as before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sympy as sp

from symgrad.catalogue import ACTIVATIONS, get_activation
from symgrad.cli import activations, activations_data, main


def _listing(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["activations"]) == 0
    return capsys.readouterr().out


def test_every_built_in_is_recorded_with_the_sympy_that_prints_it() -> None:
    assert list(activations_data.LISTED) == list(ACTIVATIONS)
    if sp.__version__ != activations_data.SYMPY:
        pytest.skip(f"recorded with SymPy {activations_data.SYMPY}, this is {sp.__version__}: "
                    "the listing works the lines out (run python -m symgrad.cli.activations)")
    assert Path(activations_data.__file__).read_text(encoding="utf-8") == \
        activations.data_module()


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_the_recorded_lines_are_what_sympy_works_out(name: str) -> None:
    act = get_activation(name)
    if sp.__version__ != activations_data.SYMPY:
        assert activations.recorded(act) is None
    else:
        assert activations.recorded(act) == activations._formulas(act)


def test_the_listing_is_the_same_without_the_record(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _listing(capsys)
    monkeypatch.setattr(activations, "LISTED", {})
    assert _listing(capsys) == fast
    assert "  formula:    sigmoid(z) = 1/(exp(-z) + 1)\n" in fast


def test_other_parameters_or_another_sympy_are_worked_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    leaky = replace(get_activation("leaky_relu"), params={"alpha": 0.2})
    assert activations.recorded(leaky) is None
    assert activations._formulas(leaky) == (
        "leaky_relu(z, 1/5) = z*(1 - Heaviside(z, 0))/5 + z*Heaviside(z, 0)",
        "d/dz leaky_relu(z, 1/5) = 4*Heaviside(z, 0)/5 + 1/5")
    relu = get_activation("relu")
    assert activations.recorded(relu) == ("relu(z) = z*Heaviside(z, 0)",
                                          "d/dz relu(z) = Heaviside(z, 0)")
    monkeypatch.setattr(activations, "SYMPY", "0.0")
    assert activations.recorded(relu) is None
    renamed = replace(relu, function=get_activation("sigmoid").function)
    monkeypatch.undo()
    assert activations.recorded(renamed) is None  # the name of relu, another function
