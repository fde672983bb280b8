"""The training work limit (issue 16, item 8): ``train`` refuses a run whose epochs ×
samples × parameters, compiled calls or history are beyond its limits, before any work,
with one line naming the fields and the numbers and ``--no-limits``; the check is
:func:`symgrad.train.budget.check_training` for Python callers; a run's divergence test
reads only the last records (it made long runs quadratic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from symgrad.errors import ArgumentError, SpecError
from symgrad.spec import read_spec
from symgrad.train import GROWTH_STEPS
from symgrad.train.budget import Work, check_training, training_work
from symgrad.train.loop import _growing

from .conftest import ROOT, run_cli_here

DIGITS = ROOT / "derivations" / "digits_mlp.toml"
SMALL = ROOT / "derivations" / "small_mlp.toml"


def test_digits_work_is_epochs_times_training_samples_times_parameters() -> None:
    # 1,797 images less round(0.25 * 1,797) = 449 held out; 64*32 + 32 + 32*10 + 10
    work = training_work(read_spec(DIGITS))
    assert work == Work(passes=50, samples=1348, parameters=2410, updates=50 * 43, calls=2,
                        records=51, what="50 epochs", per_sample=2410)
    assert work.sizes()["work"][0] == 50 * 1348 * 2410


def test_train_refuses_too_many_epochs_before_any_work(tmp_path: Path) -> None:
    result = run_cli_here("train", DIGITS, "--epochs", "500", "--quiet")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", (
        "symgrad train: error: --epochs: 1,624,340,000 sample-parameter terms (500 epochs × "
        "1,348 samples × 2,410 parameters) are more than symgrad train takes (at most "
        "500,000,000); pass --no-limits to go beyond\n"))


def test_the_spec_field_is_named_with_its_line(tmp_path: Path) -> None:
    text = DIGITS.read_text().replace("epochs = 50", "epochs = 5000")
    spec = tmp_path / "big.toml"
    spec.write_text(text)
    line = text.splitlines().index("epochs = 5000") + 1
    result = run_cli_here("train", spec, "--quiet")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", (
        f"symgrad train: error: {spec}:{line}: field 'training.epochs': 16,243,400,000 "
        "sample-parameter terms (5,000 epochs × 1,348 samples × 2,410 parameters) are more "
        "than symgrad train takes (at most 500,000,000); pass --no-limits to go beyond\n"))


def test_scalar_iterations_count_one_call_per_parameter() -> None:
    result = run_cli_here("train", SMALL, "--iterations", "40000", "--quiet")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", (
        "symgrad train: error: --iterations: 680,000 compiled calls (40,000 updates × 17 "
        "calls each) are more than symgrad train takes (at most 500,000); pass --no-limits "
        "to go beyond\n"))


def test_a_convolution_counts_its_multiply_adds_not_its_few_parameters(tmp_path: Path) -> None:
    # conv 160x8x8 outputs of a 3x3 window: 92,160; relu 2 x 10,240; max pool 2,560 x 4;
    # flatten 2 x 2,560; dense 2,560 x 10 (it took 50 s of CPU time unchecked)
    spec = tmp_path / "cnn.toml"
    spec.write_text((ROOT / "derivations" / "digits_cnn.toml").read_text().replace(
        "channels = 16", "channels = 160"))
    assert training_work(read_spec(spec)).per_sample == 92_160 + 20_480 + 10_240 + 5_120 + 25_600
    result = run_cli_here("train", spec, "--quiet")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.endswith(
        "field 'training.epochs': 4,141,056,000 sample-parameter terms (20 epochs × 1,348 "
        "samples × 153,600 operations a sample) are more than symgrad train takes (at most "
        "500,000,000); pass --no-limits to go beyond\n")


def test_a_layer_level_run_with_iterations_counts_passes_over_the_data() -> None:
    work = training_work(read_spec(DIGITS), iterations=100)  # 43 batches of 32 an epoch
    assert (work.passes, work.updates, work.what) == (3, 100, "3 passes over the data "
                                                             "(100 iterations)")
    batch = training_work(read_spec(DIGITS), iterations=7, mode="batch")
    assert (batch.passes, batch.updates, batch.what) == (7, 7, "7 iterations")


def test_a_named_data_set_beyond_the_samples_limit_names_its_option(tmp_path: Path) -> None:
    spec = tmp_path / "rnn.toml"
    spec.write_text((ROOT / "derivations" / "rnn_bit_count.toml").read_text().replace(
        'samples = 2000', 'samples = 9223372036854775807'))
    with pytest.raises(SpecError) as caught:
        check_training(read_spec(spec))
    assert str(caught.value).endswith(
        "field 'data.samples': 6,917,529,027,641,081,855 samples are more than symgrad "
        "train takes (at most 1,000,000); pass --no-limits to go beyond")


def test_no_limits_lets_the_run_through() -> None:
    args = ("train", ROOT / "derivations" / "two_neuron.toml", "--iterations", "100001",
            "--quiet")
    assert run_cli_here(*args).returncode == 2  # beyond the iterations limit
    done = run_cli_here(*args, "--no-limits")
    assert (done.returncode, done.stdout.split(";")[0]) == (0, "stopped after 100001 iterations")


def test_the_python_api_is_not_limited_but_can_check() -> None:
    with pytest.raises(ArgumentError, match=r"^--iterations: 100,001 iterations are more"):
        check_training(read_spec(SMALL), iterations=100_001)
    check_training(read_spec(DIGITS))  # the shipped run is within train's limits


class _Counted:
    """A record whose loss counts its reads."""

    reads = 0

    def __init__(self, loss: float) -> None:
        self._loss = loss

    @property
    def loss(self) -> float:
        _Counted.reads += 1
        return self._loss


def test_the_divergence_test_reads_only_the_last_records() -> None:
    falling = [_Counted(1.0 - k * 1e-6) for k in range(10_000)]
    _Counted.reads = 0
    assert _growing(falling) is None  # type: ignore[arg-type]
    assert _Counted.reads == 2  # the last and the first
    wavy = [_Counted(1.0 + (k % 2)) for k in range(10_000)]  # above the start, not rising
    _Counted.reads = 0
    assert _growing(wavy) is None  # type: ignore[arg-type]
    assert _Counted.reads == 2 + GROWTH_STEPS + 1


def test_every_shipped_spec_trains_within_the_limits() -> None:
    for path in sorted((ROOT / "derivations").glob("*.toml")):
        if not path.stem.endswith(("_hand", "_exercise")):
            check_training(read_spec(path))
