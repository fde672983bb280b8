"""The numeric options of commands that read no spec are bounded too (issue 16, item 8):
``vanishing --depth/--width/--seeds`` and what they multiply to, ``exercises --variants
/--jobs``, ``check-layer --shape/--hyper/--seed``; one line naming the option and the
numbers, exit 2, ``--no-limits`` to go beyond; and a vanishing chain deep enough to
underflow float64 is read in words, not a ZeroDivisionError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.analysis.vanishing import VanishingResult, reading
from symgrad.errors import ArgumentError
from symgrad.limits import OPTION_LIMITS, check_option

from .conftest import ROOT, run_cli_here

EXERCISE = ROOT / "derivations" / "two_neuron_exercise.toml"
REFUSED = [
    (("vanishing", "--seeds", "5000"),
     "--seeds: 5,000 seeds are more than symgrad vanishing takes (at most 1,000)"),
    (("vanishing", "--depth", "201"),
     "--depth: 201 layers are more than symgrad vanishing takes (at most 200)"),
    (("vanishing", "--width", "5000"),
     "--width: 5,000 units a layer are more than symgrad vanishing takes (at most 4,096)"),
    (("vanishing", "--depth", "150"),
     "--activations × --depth: 450 layers derived (3 activations × 150 layers) are more than "
     "symgrad vanishing takes (at most 300)"),
    (("vanishing", "--width", "512", "--seeds", "100", "--activations", "sigmoid"),
     "--activations × --seeds × --depth × --width²: 262,144,000 weights measured (1 "
     "activation × 100 seeds × 10 layers × 512² weights) are more than symgrad vanishing "
     "takes (at most 50,000,000)"),
    (("exercises", EXERCISE, "--variants", "100000"),
     "--variants: 100,000 variants are more than symgrad exercises takes (at most 1,000)"),
    (("exercises", EXERCISE, "--jobs", "1000"),
     "--jobs: 1,000 jobs are more than symgrad exercises takes (at most 64)"),
    (("check-layer", "missing.py:f", "--layer", "batchnorm", "--shape", "N=100000000,D=100000"),
     "--shape: 10,000,000,000,000 elements (N=100000000 × D=100000) are more than symgrad "
     "check-layer takes (at most 10,000,000)"),
    (("check-layer", "missing.py:f", "--layer", "conv", "--hyper", "pad=100000"),
     "--hyper pad: 100,000 pad are more than symgrad check-layer takes (at most 1,000)"),
]


@pytest.mark.parametrize("args, message", REFUSED, ids=[
    "seeds", "depth", "width", "derived", "weights", "variants", "jobs", "shape", "hyper"])
def test_an_option_beyond_its_limit_is_refused_before_any_work(
        tmp_path: Path, args: tuple, message: str) -> None:
    command = args[0]
    result = run_cli_here(*args, *(("--outdir", tmp_path / "out") if command == "exercises"
                                   else ()))
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"symgrad {command}: error: {message}; pass --no-limits to go beyond\n")
    assert list(tmp_path.iterdir()) == []


def test_check_layer_refuses_a_negative_seed() -> None:
    result = run_cli_here("check-layer", "missing.py:f", "--layer", "batchnorm", "--seed", "-1")
    assert (result.returncode, result.stderr) == (
        2, "symgrad check-layer: error: --seed must be at least 0, got -1\n")


def test_no_limits_lifts_the_option_limits() -> None:
    assert run_cli_here("vanishing", "--seeds", "0", "--no-limits").stderr == (
        "symgrad vanishing: error: --seeds must be at least 1, got 0\n")
    result = run_cli_here("vanishing", "--depth", "2", "--width", "2", "--seeds", "1001",
                          "--activations", "relu", "--no-limits")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "median RMS of dE/dW_l at initialization (2 layers, 2 units a layer, 1001 seeds); "
        "layer 1 is the input side")


def test_check_option_is_the_table() -> None:
    check_option("vanishing", "seeds", OPTION_LIMITS["vanishing"]["seeds"], "seeds")
    with pytest.raises(ArgumentError, match=r"^--seeds: 1,001 seeds are more"):
        check_option("vanishing", "seeds", 1001, "seeds")


def test_a_chain_that_underflows_is_read_without_dividing_by_zero() -> None:
    underflowed = VanishingResult("sigmoid", 200, 1, 1, np.array([0.0, 1e-3]),
                                  np.array([0.0, 0.25]), np.array([0.0, 0.25]),
                                  sp.Rational(1, 4))
    assert "the gradient falls below the smallest float64 (0), so the layers" in \
        reading([underflowed])


@pytest.mark.parametrize("option, kind", [("--seed", "an integer of at least 0"),
                                          ("--iterations", "an integer of at least 1")])
def test_train_refuses_an_integer_beyond_float64_in_one_line(option: str, kind: str) -> None:
    result = run_cli_here("train", ROOT / "derivations" / "two_neuron.toml", option,
                          str(10 ** 400))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"symgrad train: error: argument {option}: expected {kind}, got a number of 401 "
        "digits\n")
