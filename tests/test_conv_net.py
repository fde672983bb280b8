"""The digits CNN (derivations/digits_cnn.toml): trained by ``symgrad train`` (the layer
level's stack of catalogue entries) to its test accuracy; the benchmark's own loop over the
same kernels (benchmarks/bench_cnn.py) against PyTorch from the same start; and specs whose
convolution or pooling does not fit, refused by the command line in one line."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from symgrad.datasets import load_dataset
from symgrad.spec import read_spec

from .conftest import DERIVATIONS, ROOT, import_file, run_cli_here

CNN = DERIVATIONS / "digits_cnn.toml"


def _bench() -> ModuleType:
    return import_file(ROOT / "benchmarks" / "bench_cnn.py")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    pytest.importorskip("sklearn", reason="scikit-learn (the digits) is not installed")
    return _bench()


def test_symgrad_train_takes_the_digits_cnn_to_97_percent() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn (the digits) is not installed")
    from symgrad.train import train
    result = train(CNN, progress=False)
    assert result.level == "layer" and result.epochs == 20
    assert result.accuracy["test"] >= 0.97, result.accuracy


def test_the_benchmark_loop_reaches_97_percent(bench: ModuleType) -> None:
    data = load_dataset(read_spec(bench.SPEC))
    _, params = bench.train_numpy(data, bench.init_params(0), bench.SETTINGS)
    accuracy = bench.accuracy(data.labels_test, bench.predict_numpy(params, data.x_test))
    assert accuracy >= 0.97, accuracy


def test_two_epochs_equal_pytorch_from_the_same_start(bench: ModuleType) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    data = load_dataset(read_spec(bench.SPEC))
    settings = {**bench.SETTINGS, "epochs": 2}
    start = bench.init_params(0)
    _, mine = bench.train_numpy(data, start, settings)
    net = bench.build_torch(start, torch.float64)
    bench.train_torch_net(net, data, settings)
    theirs = {"W1": net[0].weight, "b1": net[0].bias, "W2": net[4].weight, "b2": net[4].bias}
    for name, value in theirs.items():
        # 86 SGD steps of float64 sums in another order: equal to far below the step size
        np.testing.assert_allclose(mine[name], value.detach().numpy(), rtol=0, atol=1e-9)


def test_the_spec_leaves_out_the_first_convolutions_input_gradient(bench: ModuleType) -> None:
    """Nobody needs dE/dX of a network's first layer: ``symgrad train``'s stack tells the
    first convolution so (its backward returns only ``W`` and ``b``), and the loss and
    every gradient still equal torch.autograd's on a batch, from the benchmark's start."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    from symgrad.backends.stack import CompiledStack
    from symgrad.derive.stack import StackDerivation
    compiled = CompiledStack(StackDerivation(read_spec(CNN)))
    data = load_dataset(read_spec(CNN))
    x, y, labels = data.x_train[:7], data.y_train[:7], data.labels_train[:7]
    start = bench.init_params(0)
    params = {"W1": start["W1"], "b1": start["b1"], "W5": start["W2"], "b5": start["b2"]}
    (first, cache), *_ = compiled._forward(params, x, "train")[1]
    assert sorted(first.entry.backward(np.ones((7, 16, 8, 8)), cache)) == ["W", "b"]
    loss, grads = compiled.value_and_grad(**params, x=x, y=y)
    net = bench.build_torch(start, torch.float64)
    want = torch.nn.functional.cross_entropy(net(torch.tensor(bench.images(x))),
                                             torch.tensor(labels))
    want.backward()
    assert abs(loss - want.item()) <= 1e-12 * abs(want.item())
    theirs = {"W1": net[0].weight, "b1": net[0].bias, "W5": net[4].weight, "b5": net[4].bias}
    for name, value in theirs.items():
        ref = value.grad.numpy()
        assert np.max(np.abs(grads[name] - ref)) <= 1e-12 * np.max(np.abs(ref)), name


@pytest.mark.parametrize("old, new, message", [
    ('{ type = "conv2d", channels = 16, kernel = 3, padding = 1 }',
     '{ type = "conv2d", channels = 16, kernel = 9 }',
     "field 'network.layers[0]': layer 'conv2d': input 8x8 with kernel 9x9, stride 1x1 and "
     "padding 0x0 leaves no output"),
    ('{ type = "maxpool2d", kernel = 2 }', '{ type = "maxpool2d", kernel = 2, stride = 0 }',
     "field 'network.layers[2]': layer 'maxpool2d': stride must be an integer >= 1 (or 2 of "
     "them, one per axis), got 0"),
    ('{ type = "maxpool2d", kernel = 2 }', '{ type = "maxpool2d", kernel = 2, padding = 2 }',
     "field 'network.layers[2]': layer 'maxpool2d': padding 2x2 must be at most half the "
     "kernel 2x2"),
    ("inputs = 64", "inputs = 60",
     "field 'network.layers[0]': layer 'conv2d': flat input of shape (60,) does not fit; it "
     "needs in_channels x side x side with in_channels = 1"),
    ('{ type = "flatten" },', "",
     "field 'network.layers[3].units': layer 'dense (10 units)': per-sample input of shape "
     "(16, 4, 4) does not fit; it needs (D,), a feature vector per sample"),
])
def test_a_convolution_or_pool_that_does_not_fit_is_one_line_and_exit_2(
        tmp_path: object, old: str, new: str, message: str) -> None:
    text = CNN.read_text()
    assert old in text
    path = tmp_path / "cnn.toml"  # type: ignore[operator]
    path.write_text(text.replace(old, new))
    for command in ("train", "derive"):
        extra = ("--level", "layer") if command == "derive" else ()
        result = run_cli_here(command, path, *extra)
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].endswith(message), result.stderr
