"""Batch norm's running statistics (the catalogue entry's state): moved by each training
batch as torch.nn.BatchNorm1d moves them, used by forward and predict after training (one
sample on its own), kept with the trained parameters, never by value_and_grad, SGD or the
parameter count."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from symgrad.backends.stack import CompiledStack
from symgrad.catalogue import get_layer_type, register_layer_type
from symgrad.datasets import load_dataset
from symgrad.derive.stack import derive_stack
from symgrad.errors import ArgumentError, SymgradError
from symgrad.spec import parse_spec, read_spec
from symgrad.train import train

from .conftest import DERIVATIONS

BN = DERIVATIONS / "digits_batchnorm.toml"

NET = """
[network]
inputs = 4
layers = [{ units = 5, activation = "tanh" },
          { type = "batchnorm", eps = 0.001, momentum = 0.3 },
          { units = 3, activation = "none" }, { type = "log_softmax" }]
loss = "cce"
"""

ALONE = """
[network]
inputs = 2
layers = [{ type = "batchnorm", eps = 0.0 }, { units = 2, activation = "none" },
          { type = "log_softmax" }]
loss = "cce"
"""


def _compiled(text: str) -> CompiledStack:
    return CompiledStack(derive_stack(parse_spec(text, path="net.toml")))


def _data(seed: int = 5, samples: int = 23) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(1.5, 2.0, size=(samples, 4))
    return x, np.eye(3)[rng.integers(0, 3, samples)], rng.permutation(samples)


def _torch_net(torch: object, params: dict[str, np.ndarray]) -> object:
    """NET in torch, float64, starting from ``params``."""
    nn = torch.nn  # type: ignore[attr-defined]
    first, bn, last = nn.Linear(4, 5), nn.BatchNorm1d(5, eps=0.001, momentum=0.3), \
        nn.Linear(5, 3)
    model = nn.Sequential(first, nn.Tanh(), bn, last, nn.LogSoftmax(dim=1)).double()
    with torch.no_grad():  # type: ignore[attr-defined]
        for module, names in ((first, ("W1", "b1")), (bn, ("gamma2", "beta2")),
                              (last, ("W3", "b3"))):
            module.weight.copy_(torch.tensor(params[names[0]]))  # type: ignore[attr-defined]
            module.bias.copy_(torch.tensor(params[names[1]]))  # type: ignore[attr-defined]
    return model


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_running_statistics_and_evaluation_equal_torch_batchnorm1d() -> None:
    """Two epochs of minibatch SGD (batches of 5, the last of 3) against torch's SGD on the
    same batches: the parameters, running_mean and the unbiased running_var agree to
    1e-12 relative; in evaluation one sample's outputs equal model.eval()'s."""
    torch = pytest.importorskip("torch")
    c = _compiled(NET)
    params = c.derivation.initial_parameters(2)
    assert sorted(set(params) - set(c.names)) == ["running_mean2", "running_var2"]
    np.testing.assert_array_equal(params["running_mean2"], np.zeros(5))
    np.testing.assert_array_equal(params["running_var2"], np.ones(5))
    model = _torch_net(torch, params)
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    x, y, order = _data()
    model.train()
    for _ in range(2):
        c.sgd_epoch(params, x, y, order, 5, 0.2)
        for start in range(0, len(order), 5):
            rows = order[start:start + 5]
            opt.zero_grad()
            out = model(torch.tensor(x[rows]))
            (-(torch.tensor(y[rows]) * out).sum() / len(rows)).backward()
            opt.step()
    bn = model[2]
    assert _rel(params["running_mean2"], bn.running_mean.numpy()) <= 1e-12
    assert _rel(params["running_var2"], bn.running_var.numpy()) <= 1e-12
    assert _rel(params["gamma2"], bn.weight.detach().numpy()) <= 1e-12
    assert _rel(params["W3"], model[3].weight.detach().numpy()) <= 1e-12
    model.eval()
    for row in (x[:1], x[7:8], x[:4]):
        want = model(torch.tensor(row)).detach().numpy()
        assert _rel(c.forward(**params, x=row), want) <= 1e-12


def test_one_sample_is_normalized_with_the_running_statistics() -> None:
    """y = gamma (x - running_mean) / sqrt(running_var) + beta, then W = I, b = 0 and a
    log-softmax: [3, -1] -> y = [2.5, -1], class 0; [-3, 2] -> y = [-3.5, 2], class 1."""
    c = _compiled(ALONE)
    params = {"gamma1": np.array([2.0, 1.0]), "beta1": np.array([0.5, 0.0]),
              "running_mean1": np.array([1.0, 0.0]), "running_var1": np.array([4.0, 1.0]),
              "W2": np.eye(2), "b2": np.zeros(2)}
    for sample, y, label in (([3.0, -1.0], [2.5, -1.0], 0), ([-3.0, 2.0], [-3.5, 2.0], 1)):
        want = np.array(y) - np.log(np.exp(y[0]) + np.exp(y[1]))
        got = c.forward(**params, x=np.array([sample]))
        np.testing.assert_allclose(got, [want], rtol=1e-15, atol=1e-15)
        assert c.predict(**params, x=np.array([sample])).tolist() == [label]


def test_gradient_checks_use_the_batch_and_leave_the_state_alone() -> None:
    """value_and_grad at given parameters: the batch's statistics (the derivation's), the
    same with or without the state, which it neither moves nor returns a gradient for."""
    c = _compiled(NET)
    params = c.derivation.initial_parameters(2)
    params["running_mean2"] = np.full(5, 7.0)
    x, y, _ = _data()
    with_state = c.value_and_grad(**params, x=x, y=y)
    without = c.value_and_grad(**{k: params[k] for k in c.names}, x=x, y=y)
    assert with_state[0] == without[0] and sorted(with_state[1]) == sorted(c.names)
    for k in c.names:
        np.testing.assert_array_equal(with_state[1][k], without[1][k])
    np.testing.assert_array_equal(params["running_mean2"], np.full(5, 7.0))
    assert c.stack.parameter_count == 5 * 4 + 5 + 2 * 5 + 3 * 5 + 3


def test_a_trained_network_predicts_one_sample_as_all_at_once() -> None:
    """digits_batchnorm.toml: the result keeps the running statistics with the
    parameters; the test set one sample at a time gives the classes (and the accuracy)
    of the whole set at once."""
    result = train(BN, progress=False)
    params = result.params
    assert set(params) - set(result.history[-1].grads) == {"running_mean2", "running_var2"}
    assert np.min(params["running_var2"]) > 0 and np.max(np.abs(params["running_mean2"])) > 0.1
    c = CompiledStack(result.derivation)
    data = load_dataset(read_spec(BN))
    together = c.predict(**params, x=data.x_test)
    alone = np.array([c.predict(**params, x=data.x_test[i:i + 1])[0]
                      for i in range(len(data.x_test))])
    np.testing.assert_array_equal(alone, together)
    accuracy = float(np.mean(alone == data.labels_test))
    assert accuracy == result.accuracy["test"] and accuracy >= 0.96
    assert len(set(alone.tolist())) == 10  # one sample's class depends on the sample


def test_evaluation_needs_the_state_and_training_batches_of_two() -> None:
    c = _compiled(ALONE)
    params = {k: v for k, v in c.derivation.initial_parameters(0).items()
              if k != "running_var1"}
    with pytest.raises(ArgumentError) as exc:
        c.forward(**params, x=np.zeros((1, 2)))
    assert str(exc.value) == ("missing argument 'running_var1'; the arguments are: gamma1, "
                              "beta1, W2, b2, running_mean1, running_var1, x")
    with pytest.raises(ArgumentError) as exc:
        c.sgd_epoch(params, np.arange(6.0).reshape(3, 2), np.eye(2)[[0, 1, 0]], np.arange(3),
                    2, 0.1)
    assert str(exc.value) == ("layer 'batchnorm': a training batch of one sample has no "
                              "variance for the running statistics; use batches of 2 or more")
    entry = get_layer_type("batchnorm")
    assert entry.state == ("running_mean", "running_var") and entry.hyper["momentum"] == 0.1
    with pytest.raises(SymgradError) as exc:
        register_layer_type(replace(entry, name="stateful", update_state=None))
    assert str(exc.value) == ("layer type 'stateful' has state running_mean, running_var: "
                              "give init_state, update_state and predict")
