"""`symgrad check-layer`: exit 0 when every output matches, 1 with a diagnosis when one
differs, 2 on bad input or when the user's code raises (their traceback, then one line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli, run_cli_here

LAYERS = '''\
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mu, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + bn_param["eps"])
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, std, gamma)


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    n = dout.shape[0]
    dx = gamma / std * (dout - dout.mean(0) - xhat * (dout * xhat).sum(0) / n)
    return dx, (dout * xhat).sum(0), dout.sum(0)


def wrong_backward(dout, cache):
    xhat, std, gamma = cache
    return gamma * dout / std, (dout * xhat).sum(0), dout.sum(0)


def broken_backward(dout, cache):
    xhat, std, gamma = cache
    return helper(dout) * 2, 0, 0


def helper(dout):
    return dout @ dout
'''


@pytest.fixture
def layers(tmp_path: Path) -> Path:
    path = tmp_path / "my_layers.py"
    path.write_text(LAYERS)
    return path


def test_a_right_layer_exits_0_and_uses_the_forward_of_the_same_name(layers: Path) -> None:
    r = run_cli_here("check-layer", f"{layers}:batchnorm_backward", "--layer", "batchnorm",
                     "--shape", "N=8,D=5")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == ("batchnorm_backward matches symgrad's batchnorm (out, dx, dgamma, "
                        "dbeta; N=8, D=5, seed 0)\n")


def test_a_wrong_layer_exits_1_with_the_diagnosis(layers: Path) -> None:
    r = run_cli_here("check-layer", f"{layers}:wrong_backward", "--layer", "batchnorm",
                     "--forward", "batchnorm_forward", "--shape", "N=6")
    assert (r.returncode, r.stderr) == (1, "")
    lines = r.stdout.splitlines()
    assert lines[0] == "dx of wrong_backward differs from symgrad's (batchnorm, N=6, D=5, seed 0):"
    assert lines[1].startswith("  dx: batch norm without the mean terms: ")


def test_the_users_exception_shows_their_traceback_then_one_line(layers: Path) -> None:
    r = run_cli("check-layer", f"{layers}:broken_backward", "--layer", "batchnorm",
                "--forward", "batchnorm_forward")
    assert (r.returncode, r.stdout) == (2, "")
    err = r.stderr.splitlines()
    assert err[0] == "Traceback (most recent call last):"
    assert f'  File "{layers}", line 25, in broken_backward' in err
    assert f'  File "{layers}", line 29, in helper' in err
    assert not any("symgrad/check" in line for line in err)  # their frames only
    assert err[-1] == ("symgrad check-layer: error: broken_backward(dout, cache) raised "
                       "ValueError: matmul: Input operand 1 has a mismatch in its core "
                       "dimension 0, with gufunc signature (n?,k),(k,m?)->(n?,m?) (size 8 "
                       "is different from 5) (the traceback above is from your code)")


@pytest.mark.parametrize("args, message", [
    (["nowhere.py:f", "--layer", "relu"], "nowhere.py: not a Python file (expected "
                                          "FILE.py:FUNCTION)"),
    (["{layers}:missing", "--layer", "relu"], "{layers} has no function 'missing'"),
    (["{layers}", "--layer", "relu"], "expected FILE.py:FUNCTION, got '{layers}'"),
    (["{layers}:batchnorm_backward", "--layer", "batchnorm", "--shape", "N=8,D"],
     "--shape: expected NAME=VALUE items such as N=8,D=5, got 'D'"),
    (["{layers}:batchnorm_backward", "--layer", "conv2d"],
     "unknown layer 'conv2d'; known layers: affine, avg_pool, batchnorm, conv, dropout, "
     "log_softmax, max_pool, relu, rnn, rnn_step, sigmoid, softmax, softmax_loss, tanh"),
    (["{layers}:batchnorm_backward", "--layer", "conv", "--hyper", "stride=3,pad=0",
      "--shape", "H=2"], "layer 'conv2d': input 2x7 with kernel 3x3, stride 3x3 and padding "
                         "0x0 leaves no output"),
])
def test_bad_input_exits_2_with_one_line(layers: Path, args: list[str], message: str) -> None:
    r = run_cli_here("check-layer", *(a.format(layers=layers) for a in args))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"symgrad check-layer: error: {message.format(layers=layers)}\n"


def test_the_help_says_the_file_is_run_as_the_users_own_code() -> None:
    r = run_cli_here("check-layer", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert ("FILE.py is loaded and run as a Python module: it is your own code, run with your "
            "rights, so check only files you trust.") in text
