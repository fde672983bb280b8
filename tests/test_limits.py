"""Size limits (issue 16, item 8): each command refuses a spec beyond its limits before
any work, with one line naming the field and --no-limits; lists in messages are capped;
derive prints without evaluating thousands of samples exactly."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from symgrad.errors import SpecError, UnknownNameError, listed
from symgrad.limits import LIMITS, check_limits, parameter_count
from symgrad.network import load
from symgrad.spec import parse_spec, read_spec

from .conftest import ONE_NEURON_TABLES, ROOT, run_cli_here

HUGE = 2 ** 63 - 1
ONE_LAYER = ('[network]\ninputs = {inputs}\nlayers = [{{ units = {units}, activation = '
             '"sigmoid" }}]\nloss = "half_sse"\n')


def _spec(tmp_path: Path, text: str, name: str = "net.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _samples(n: int) -> str:
    xs = ", ".join(f"{0.001 * k:.3f}" for k in range(n))
    return ONE_NEURON_TABLES.replace("x = 1.0\nT = 0.3", f"x = [{xs}]\nT = [{xs}]")


COMMANDS = [("derive", []), ("check", ["--wrt", "w1", "--expr", "1"]),
            ("export", ["-o", "m.py"]), ("train", []), ("report", ["-o", "r.md"])]


@pytest.mark.parametrize("command, extra", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_every_command_refuses_units_up_to_2_63_before_any_work(tmp_path: Path, command: str,
                                                                 extra: list[str]) -> None:
    spec = _spec(tmp_path, ONE_LAYER.format(inputs=1, units=HUGE))
    extra = [str(tmp_path / e) if e.endswith((".py", ".md")) else e for e in extra]
    result = run_cli_here(command, spec, *extra)
    most = LIMITS[command].units
    assert (result.returncode, result.stdout, result.stderr) == (2, "", (
        f"symgrad {command}: error: {spec}:3: field 'network.layers[0].units': "
        f"9,223,372,036,854,775,807 units are more than symgrad {command} takes (at most "
        f"{most:,}); pass --no-limits to go beyond\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.toml"]


def test_derive_and_report_take_much_less_than_train() -> None:
    for quantity in ("units", "parameters", "samples"):
        assert getattr(LIMITS["report"], quantity) * 10 <= getattr(LIMITS["train"], quantity)
    assert LIMITS["derive"].iterations is None and LIMITS["report"].iterations is None
    assert (LIMITS["train"].iterations, LIMITS["train"].epochs) == (100_000, 10_000)


def test_each_quantity_names_its_field_and_line() -> None:
    cases = [
        (ONE_LAYER.format(inputs=101, units=1), "report",
         "x.toml:2: field 'network.inputs': 101 inputs are more than symgrad report takes "
         "(at most 100)"),
        ('[network]\ninputs = 1\nlayers = [' + ", ".join(['{ units = 1, activation = "none" }']
                                                     * 21) + ']\nloss = "half_sse"\n',
         "report", "x.toml:3: field 'network.layers': 21 layers are more than symgrad report "
                   "takes (at most 20)"),
        (ONE_LAYER.format(inputs=40, units=40), "export",
         "x.toml:1: field 'network': 1,640 parameters are more than symgrad export takes "
         "(at most 1,000)"),
        (_samples(1001), "report", "x.toml:10: field 'data.x': 1,001 samples are more than "
                                   "symgrad report takes (at most 1,000)"),
        (ONE_NEURON_TABLES + "[training]\nlearning_rate = 0.1\nepochs = 10001\n", "train",
         "x.toml:14: field 'training.epochs': 10,001 epochs are more than symgrad train "
         "takes (at most 10,000)"),
    ]
    for text, command, message in cases:
        with pytest.raises(SpecError) as info:
            check_limits(parse_spec(text, "x.toml"), command)
        assert str(info.value) == message + "; pass --no-limits to go beyond"


def test_a_flag_counts_in_place_of_the_spec_and_no_limits_lifts_the_check(
        tmp_path: Path) -> None:
    spec = _spec(tmp_path, ONE_NEURON_TABLES + "[training]\nlearning_rate = 0.1\n"
                 "iterations = 1000000000\ntolerance = 10.0\n")
    result = run_cli_here("train", spec, "--iterations", 100_001)
    assert (result.returncode, result.stderr) == (2, (
        "symgrad train: error: --iterations: 100,001 iterations are more than symgrad train "
        "takes (at most 100,000); pass --no-limits to go beyond\n"))
    assert run_cli_here("train", spec, "--iterations", 5).returncode == 0
    assert run_cli_here("train", spec).returncode == 2  # the spec's 10**9
    lifted = run_cli_here("train", spec, "--no-limits", "--quiet")  # tolerance: stops at once
    assert lifted.returncode == 0, lifted.stderr
    assert "converged at iteration 0" in lifted.stdout


def test_parameter_count_is_arithmetic_on_sizes_of_any_size() -> None:
    text = ('[network]\ninputs = 3\nlayers = [{ units = 4, activation = "relu" }, '
            f'{{ units = {HUGE}, activation = "none", bias = false }}]\nloss = "half_sse"\n')
    assert parameter_count(parse_spec(text)) == 3 * 4 + 4 + 4 * HUGE


def test_listed_caps_a_list_and_says_how_many_more() -> None:
    assert listed([]) == ""
    assert listed(range(20)) == ", ".join(map(str, range(20)))
    assert listed(range(21)) == ", ".join(map(str, range(20))) + ", ... and 1 more"
    assert listed("abc", most=2) == "a, b, ... and 1 more"
    error = UnknownNameError("parameter", "q", [f"w{i}" for i in range(300_001)])
    assert str(error) == ("unknown parameter 'q'; known: "
                          + ", ".join(f"w{i}" for i in range(20)) + ", ... and 299,981 more")


def test_a_message_about_a_large_network_lists_ten_names(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ONE_LAYER.format(inputs=3000, units=1) + "[data]\ny = 1.0\n")
    with pytest.raises(SpecError) as info:
        load(spec)
    assert str(info.value) == (
        f"{spec}:6: field 'data.y': 'y' is not an input or target of this network; they "
        "are: " + ", ".join(f"x{i}" for i in range(1, 21)) + ", ... and 2,981 more")


def test_derive_prints_without_evaluating_more_samples_than_it_shows(tmp_path: Path) -> None:
    from symgrad.cli.derive import EXACT_SAMPLES

    many = run_cli_here("derive", _spec(tmp_path, _samples(EXACT_SAMPLES + 1)))
    assert many.returncode == 0, many.stderr
    assert "(at the spec's values)" not in many.stdout
    assert many.stdout.endswith(
        "\n\n(not evaluated at the spec's values: its 101 samples are more than the 100 at "
        "which derive evaluates each gradient exactly)\n")
    few = run_cli_here("derive", _spec(tmp_path, _samples(EXACT_SAMPLES), "few.toml"))
    assert few.stdout.count("(at the spec's values)") == 2  # w and b
    assert "not evaluated" not in few.stdout


def test_read_limited_lets_any_size_through_with_no_limits(tmp_path: Path) -> None:
    from symgrad.cli._limits import read_limited

    spec = _spec(tmp_path, ONE_LAYER.format(inputs=1, units=HUGE))
    assert read_limited(str(spec), argparse.Namespace(no_limits=True), "report") \
        .network.layers[0].units == HUGE
    with pytest.raises(SpecError):
        read_limited(str(spec), argparse.Namespace(no_limits=False), "report")


def test_the_readme_table_is_the_limits() -> None:
    from .conftest import ROOT

    text = (ROOT / "README.md").read_text()
    rows = {}
    for line in text[text.index("## Security"):].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if cells[0] in LIMITS:
            rows[cells[0]] = tuple(None if c == "-" else int(c.replace(",", ""))
                                   for c in cells[1:])
    assert rows == {name: (l.inputs, l.units, l.layers, l.parameters, l.samples, l.iterations,
                           l.epochs, l.work, l.calls, l.history) for name, l in LIMITS.items()}


def test_the_shipped_examples_are_within_the_report_limits() -> None:
    """A teacher's first report of the digits network needs no --no-limits (issue 14's
    digits reports)."""
    for path in sorted((ROOT / "derivations").glob("digits_mlp*.toml")):
        check_limits(read_spec(path), "report")
        check_limits(read_spec(path), "train")
