"""The digits CNN (derivations/digits_cnn.toml) trained with the catalogue's convolution and
pooling kernels through the benchmark's own loop (benchmarks/bench_cnn.py): its test
accuracy, and its parameters after training against PyTorch's from the same start."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np
import pytest

from symgrad.datasets import load_dataset
from symgrad.spec import read_spec

from .conftest import ROOT


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_cnn", ROOT / "benchmarks" / "bench_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    pytest.importorskip("sklearn", reason="scikit-learn (the digits) is not installed")
    return _bench()


def test_digits_cnn_reaches_97_percent(bench: ModuleType) -> None:
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
