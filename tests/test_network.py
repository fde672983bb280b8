"""Networks: names, equations, values, seeded initialization, spec parsing."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symgrad import Dense, Network, load, parse_spec
from symgrad.catalogue import sigmoid
from symgrad.errors import SpecError, SymgradError

from .conftest import DERIVATIONS


def test_chain_names_follow_the_source() -> None:
    net = load(DERIVATIONS / "two_neuron.toml")
    assert list(net.symbols) == ["x1", "w1", "b1", "z1", "a1", "delta1", "w2", "b2", "z2", "a2",
                                 "delta2", "T"]
    z1, a1, w1, b1, x1 = (net.symbol(n) for n in ("z1", "a1", "w1", "b1", "x1"))
    assert net.equations[z1] == w1 * x1 + b1
    assert net.equations[a1] == sigmoid(z1)
    assert net.error == (net.symbol("T") - net.symbol("a2")) ** 2 / 2
    assert net.values == {"w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65, "x1": 0.1, "T": 0.25}
    assert repr(net) == "Network(1 -> 1 sigmoid -> 1 sigmoid; loss half_sse)"


def test_single_neuron_drops_the_index_and_names_can_be_overridden() -> None:
    net = load(DERIVATIONS / "linear_cost.toml")
    assert list(net.symbols) == ["x", "w", "y", "delta", "z"]
    x, w, y, z = (net.symbol(n) for n in "xwyz")
    assert net.equations == {y: w * x}
    assert net.error == (z - y) ** 2
    assert np.array_equal(net.values["x"], [0.1, 0.2, 0.3, 0.4, 0.5])


def test_wide_names() -> None:
    net = Network(2, [Dense(3, "tanh"), Dense(1, "sigmoid")], "half_sse")
    assert [str(s) for s in net.inputs] == ["x1", "x2"]
    assert [str(s) for s in net.targets] == ["T"]
    assert [str(p) for p in net.parameters] == [
        "w1_1_1", "w1_1_2", "w1_2_1", "w1_2_2", "w1_3_1", "w1_3_2", "b1_1", "b1_2", "b1_3",
        "w2_1_1", "w2_1_2", "w2_1_3", "b2_1"]
    assert net.equations[net.symbol("z2_1")] == sum(
        net.symbol(f"w2_1_{j}") * net.symbol(f"a1_{j}") for j in (1, 2, 3)) + net.symbol("b2_1")


def test_colliding_names_are_an_error() -> None:
    with pytest.raises(SymgradError, match="two symbols of the network would both be named 'z'"):
        Network(1, [Dense(1, None, bias=False)], "sse", names={"target": "z"})


def test_seeded_initialization_is_reproducible_and_scaled() -> None:
    net = load(DERIVATIONS / "small_mlp.toml")
    again = load(DERIVATIONS / "small_mlp.toml")
    names = [str(p) for p in net.parameters]
    assert [net.values[n] for n in names] == [again.values[n] for n in names]
    weights = [net.values[str(w)] for row in net.layers[0].weights for w in row]
    limit = np.sqrt(6 / (2 + 3))  # Glorot uniform for a 2 -> 3 tanh layer
    assert max(abs(w) for w in weights) <= limit
    assert len(set(weights)) == 6
    assert [net.values[str(b)] for b in net.layers[0].biases] == [0.0, 0.0, 0.0]
    other = net.initial_parameters(seed=8)
    assert other["w1_1_1"] != net.values["w1_1_1"]


def test_layer_parameters_and_softmax_output() -> None:
    net = load(DERIVATIONS / "small_mlp.toml")
    out = net.layers[1]
    assert net.equations[out.post[1]].func.__name__ == "softmax"
    assert net.equations[out.post[1]].args[0] == sp.Integer(2)
    assert net.layer_of(net.symbol("delta2_1")) is out


SPEC_HEAD = '[network]\ninputs = 1\nlayers = [{ units = 1, activation = "sigmoid" }]\n'


def test_parse_spec_defaults_and_training() -> None:
    spec = parse_spec(SPEC_HEAD + 'loss = "mse"\n[training]\nmode = "minibatch"\n'
                      "batch_size = 4\n", path="t.toml")
    assert spec.title == "t"
    assert spec.training.mode == "minibatch"
    assert spec.training.batch_size == 4
    assert spec.training.seed == 0
    assert spec.network.layers[0].bias is True


@pytest.mark.parametrize("tail,message", [
    ('loss = "mse"\n[training]\nmode = "adam"\n',
     "t.toml:6: field 'training.mode': unknown mode 'adam'; known: batch, minibatch, stochastic"),
    ('loss = "mse"\n[data]\nx = [1, 2]\nT = [1, 2, 3]\n',
     "t.toml:6: field 'data.x': arrays differ in length (x has 2, T has 3)"),
    ('loss = "mse"\n[data]\nx = []\n',
     "t.toml:6: field 'data.x': expected at least one value, got an empty array"),
    ('loss = "mse"\nnames = { pre = "2z" }\n',
     "t.toml:5: field 'network.names.pre': '2z' is not a name of letters and digits starting "
     "with a letter"),
    ('loss = "mse"\nnames = { output = "y" }\n',
     "t.toml:5: field 'network.names.output': unknown field; expected one of: input, target, "
     "weight, bias, pre, post"),
    ('loss = 3\n', "t.toml:4: field 'network.loss': expected a string, got an integer 3"),
])
def test_parse_spec_errors(tail: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC_HEAD + tail, path="t.toml")
    assert str(info.value) == message


def test_data_name_that_is_not_an_input() -> None:
    with pytest.raises(SpecError) as info:
        Network.from_spec(parse_spec(SPEC_HEAD + 'loss = "mse"\n[data]\nu = 1.0\nT = 0.5\n',
                                     path="t.toml"))
    assert str(info.value) == ("t.toml:6: field 'data.u': 'u' is not an input or target of this "
                               "network; they are: x, T")
