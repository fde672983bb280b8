"""``symgrad train``: what it prints for the source's examples, divergence (exit 1), the
history file, and bad input (exit 2, one line naming the option)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from symgrad.cli import main

from .conftest import DERIVATIONS, run_cli

TWO = DERIVATIONS / "two_neuron.toml"
LINEAR = DERIVATIONS / "linear_cost.toml"
MLP = DERIVATIONS / "small_mlp.toml"


def _run(capsys, *args: object) -> tuple[int, str, str]:
    """Run the command in this process (faster than a subprocess); argparse exits raise."""
    try:
        status = main(["train", *map(str, args)])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_two_neuron_one_iteration_prints_forward_gradients_and_updates(capsys) -> None:
    status, out, err = _run(capsys, TWO, "--iterations", "1")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"gradient descent on {TWO} (One input, two sigmoid neurons)",
        "batch mode, learning rate 0.4, 1 sample",
        "",
        "forward pass at x1 = 0.1, T = 0.25:",
        "  z1 = w1*x1 + b1 = 0.415",
        "  a1 = sigmoid(z1) = 0.6022861769",
        "  z2 = a1*w2 + b2 = 0.9210287796",
        "  a2 = sigmoid(z2) = 0.7152516803",
        "  E  = 0.108229563   (half the sum of squared errors, summed over samples)",
        "",
        "gradients:",
        "  dE/dw1 = 0.001021395881",
        "  dE/db1 = 0.01021395881",
        "  dE/dw2 = 0.0570703982",
        "  dE/db2 = 0.09475628097",
        "",
        "update, p <- p - 0.4 * dE/dp:",
        "  w1 = 0.15 - 0.4 * 0.001021395881 = 0.1495914416",
        "  b1 = 0.4 - 0.4 * 0.01021395881 = 0.3959144165",
        "  w2 = 0.45 - 0.4 * 0.0570703982 = 0.4271718407",
        "  b2 = 0.65 - 0.4 * 0.09475628097 = 0.6120974876",
        "",
        "E after the update: 0.1032979247 (before: 0.108229563)",
    ]


def _table(out: str) -> list[list[float]]:
    rows = [line.split() for line in out.splitlines() if re.match(r"^\s*\d+\s+[-\d]", line)]
    return [[float(c) for c in row] for row in rows]


def test_linear_cost_prints_an_iteration_table_approaching_2(capsys) -> None:
    status, out, err = _run(capsys, LINEAR)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[:4] == [f"gradient descent on {LINEAR} (Fitting z = 2x with one weight)",
                         "batch mode, learning rate 0.4, 5 samples", "",
                         "(step = -0.4 * dJ/dw)"]
    assert lines[4].split() == ["i", "w_i", "J(w_i)", "dJ/dw", "step"]
    assert lines[6].split() == ["0", "0.2", "1.782", "-1.98", "0.792"]
    assert lines[7].split() == ["1", "0.992", "0.558835", "-1.1088", "0.44352"]
    rows = _table(out)
    assert [int(r[0]) for r in rows] == list(range(31))
    for i, w, loss, grad, *step in rows:
        gap = 1.8 * 0.56 ** i  # 2 - w_i
        assert w == pytest.approx(2 - gap, rel=1e-9)
        assert loss == pytest.approx(0.55 * gap ** 2, rel=1e-5)
        assert grad == pytest.approx(-1.1 * gap, rel=1e-5)
        if step:
            assert step[0] == pytest.approx(-0.4 * grad, rel=1e-5)
    steps = [r[4] for r in rows[:-1]]
    assert all(0 < b < a for a, b in zip(steps, steps[1:]))  # each step smaller than the last
    assert len(rows[-1]) == 4  # no step after the last iteration
    assert lines[-2:] == ["stopped after 30 iterations; the gradient norm 5.52e-08 is above the "
                          "tolerance 1e-09", "final: w = 1.99999995, J = 1.38736048e-15"]


def test_linear_cost_tolerance_reproduces_the_iteration_count(capsys) -> None:
    # |dJ/dw| = 1.1 |w - 2|, so a tolerance of 1.1e-6 stops once |w - 2| <= 1e-6
    status, out, _ = _run(capsys, LINEAR, "--learning-rate", "0.1", "--iterations", "1000",
                          "--tolerance", "1.1e-6", "--quiet")
    assert status == 0
    assert out.splitlines()[0] == ("converged at iteration 124: the gradient norm 1.05e-06 is at "
                                   "most the tolerance 1.1e-06")


def test_linear_cost_rate_2_diverges_with_exit_status_1() -> None:
    r = run_cli("train", LINEAR, "--learning-rate", "2")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == ("symgrad train: diverged at iteration 3: the loss grew from 1.782 at "
                        "iteration 0 to 5.32102; try a smaller learning rate\n")


def test_divergence_still_writes_the_finite_history(capsys, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    status, out, err = _run(capsys, LINEAR, "--learning-rate", "2", "--history", path)
    assert (status, out) == (1, "")
    assert err.startswith("symgrad train: diverged at iteration 3:")
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["iteration", "loss", "w", "dJ/dw"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert "nan" not in path.read_text() and "inf" not in path.read_text()


def test_history_file_has_every_iteration(capsys, tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    status, _, _ = _run(capsys, TWO, "--iterations", "3", "--history", path)
    assert status == 0
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["iteration", "loss", "w1", "b1", "w2", "b2", "dE/dw1", "dE/db1", "dE/dw2",
                       "dE/db2"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert float(rows[1][8]) == pytest.approx(0.0570703982, abs=1e-10)
    assert float(rows[2][4]) == pytest.approx(0.45 - 0.4 * 0.0570703982, abs=1e-10)


def test_small_mlp_prints_a_compact_loss_table_and_the_final_parameters(capsys) -> None:
    status, out, _ = _run(capsys, MLP)
    assert status == 0
    lines = out.splitlines()
    assert lines[1] == "batch mode, learning rate 0.5, 4 samples"
    assert lines[3] == "(every 10th iteration shown)"
    assert lines[4].split() == ["i", "E", "gradient", "norm"]
    rows = _table(out)
    assert [int(r[0]) for r in rows] == list(range(0, 101, 10))
    assert all(b[1] < a[1] for a, b in zip(rows, rows[1:]))  # the loss falls
    assert lines.index("final parameters:") == len(lines) - 18
    names = [line.split(" = ")[0].strip() for line in lines[-17:]]
    assert names == ["w1_1_1", "w1_1_2", "w1_2_1", "w1_2_2", "w1_3_1", "w1_3_2", "b1_1", "b1_2",
                     "b1_3", "w2_1_1", "w2_1_2", "w2_1_3", "w2_2_1", "w2_2_2", "w2_2_3", "b2_1",
                     "b2_2"]


def test_long_runs_show_every_nth_row(capsys) -> None:
    status, out, _ = _run(capsys, LINEAR, "--learning-rate", "0.01", "--iterations", "1000")
    assert status == 0
    assert "(step = -0.01 * dJ/dw, every 50th iteration shown)" in out.splitlines()
    assert [int(r[0]) for r in _table(out)] == list(range(0, 1001, 50))


def test_minibatch_mode_and_epochs(capsys) -> None:
    status, out, _ = _run(capsys, LINEAR, "--mode", "minibatch", "--batch-size", "2",
                          "--epochs", "4", "--seed", "1")
    assert status == 0
    assert out.splitlines()[1] == "minibatch mode, batches of 2, learning rate 0.4, 5 samples"
    assert "stopped after 4 epochs (12 iterations); the gradient norm" in out


def test_quiet_prints_only_the_outcome(capsys) -> None:
    status, out, err = _run(capsys, TWO, "--iterations", "2", "--quiet")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "stopped after 2 iterations; the gradient norm is 0.11"
    assert lines[1].startswith("final E = 0.098")
    assert lines[2] == "final parameters:" and len(lines) == 7


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc"])
def test_nonsense_learning_rate_is_exit_2_naming_the_option(capsys, value: str) -> None:
    status, out, err = _run(capsys, LINEAR, "--learning-rate", value)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == (f"symgrad train: error: argument --learning-rate: expected "
                                    f"a positive number, got '{value}'")


@pytest.mark.parametrize("args,message", [
    (["--iterations", "0"], "argument --iterations: expected an integer of at least 1, got '0'"),
    (["--epochs", "1.5"], "argument --epochs: expected an integer of at least 1, got '1.5'"),
    (["--tolerance", "-1"], "argument --tolerance: expected a number of at least 0, got '-1'"),
    (["--seed", "-2"], "argument --seed: expected an integer of at least 0, got '-2'"),
    (["--iterations", "2", "--epochs", "2"],
     "argument --epochs: not allowed with argument --iterations"),
    (["--mode", "full"], "argument --mode: invalid choice: 'full' (choose from "),
])
def test_bad_options_are_exit_2_naming_the_option(capsys, args: list[str], message: str) -> None:
    status, out, err = _run(capsys, LINEAR, *args)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1].startswith(f"symgrad train: error: {message}")
    assert "Traceback" not in err


@pytest.mark.parametrize("args,message", [
    (["--mode", "minibatch"], "mode 'minibatch' needs a batch_size"),
    (["--mode", "minibatch", "--batch-size", "9"],
     "batch_size 9 is larger than the number of samples (5)"),
])
def test_settings_that_do_not_fit_the_data_are_exit_2(capsys, args: list[str],
                                                      message: str) -> None:
    status, out, err = _run(capsys, LINEAR, *args)
    assert (status, out, err) == (2, "", f"symgrad train: error: {message}\n")


def test_unwritable_history_is_exit_2_and_writes_nothing(capsys, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "h.csv"
    status, out, err = _run(capsys, TWO, "--history", target)
    assert status == 2
    assert err == (f"symgrad train: error: {target}: cannot write the history: No such file "
                   "or directory\n")
    assert list(tmp_path.iterdir()) == []


def test_missing_spec_file_is_exit_2(capsys) -> None:
    status, _, err = _run(capsys, "no_such_spec.toml")
    assert status == 2
    assert err.startswith("symgrad train: error: no_such_spec.toml: cannot read the file")


def test_every_shipped_spec_trains_without_a_traceback() -> None:
    r = run_cli("train", DERIVATIONS / "deep_sigmoid_chain.toml", "--iterations", "20")
    assert r.returncode == 0 and r.stderr == ""
    assert "stopped after 20 iterations; the gradient norm is" in r.stdout


def test_the_stride_note_is_english(capsys) -> None:
    status, out, _ = _run(capsys, MLP, "--iterations", "30")
    assert status == 0 and out.splitlines()[3] == "(every 2nd iteration shown)"
