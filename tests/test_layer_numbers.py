"""The layer level on one-unit layers and on saturated units (issue 15, items 2 and 3).

A one-unit layer (a single-output regression head, a one-neuron bottleneck) is a 1 x 1
matrix, which SymPy's elementwise application evaluates as a scalar: the derivation raised
SymPy's ValueError/TypeError for relu, leaky_relu, elu, gelu and silu. Its numbers are
compared with the unit level's compiled gradients; saturated hidden slopes with mpmath.
"""

from __future__ import annotations

from pathlib import Path

import mpmath as mp
import numpy as np
import pytest

from symgrad.backends import CompiledLayers
from symgrad.catalogue import ACTIVATIONS
from symgrad.compile import compile
from symgrad.derive import derive, derive_layers
from symgrad.network import Dense, Network

from .conftest import run_cli_here
from .test_stability import CATALOGUE

ELEMENTWISE = [name for name, entry in ACTIVATIONS.items() if entry.elementwise]
SLOPES = {c.name: c.slope for c in CATALOGUE}


def _unit_names(net: Network, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    values = {}
    for layer in net.layers:
        l = layer.index
        for i, row in enumerate(layer.weights):
            values.update({str(w): float(arrays[f"W{l}"][i, j]) for j, w in enumerate(row)})
        values.update({str(b): float(arrays[f"b{l}"][i]) for i, b in enumerate(layer.biases)})
    return values


@pytest.mark.parametrize("where", ["hidden", "output"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_a_one_unit_layer_derives_and_matches_the_unit_level(name: str, where: str) -> None:
    layers = [Dense(1, name), Dense(2, "sigmoid")] if where == "hidden" else \
        [Dense(2, "tanh"), Dense(1, name)]
    net = Network(3, layers, "half_sse")
    d = derive_layers(net)
    text = d.text(unicode=False)
    l = 1 if where == "hidden" else 2
    assert f"  a{l} = {ACTIVATIONS[name].ascii or name}(z{l})" in text
    assert any(line.startswith(f"  delta{l} = ") for line in text.splitlines())
    assert d.latex_lines()  # renders
    rng = np.random.default_rng(2)
    arrays = {k: rng.normal(size=v.shape) for k, v in d.initial_parameters(0).items()}
    x, y = rng.normal(size=(5, 3)), rng.uniform(size=(5, net.layers[-1].units))
    grads = CompiledLayers(d).grad(**arrays, x=x, y=y)
    values = _unit_names(net, arrays)
    values.update({str(s): x[:, j] for j, s in enumerate(net.inputs)})
    values.update({str(s): y[:, k] for k, s in enumerate(net.targets)})
    want = compile(derive(net)).grad(**values)
    got = _unit_names(net, {k: np.atleast_2d(v) if k.startswith("W") else v
                            for k, v in grads.items()})
    for key, value in want.items():
        assert got[key] == pytest.approx(float(value), rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("name", ["relu", "gelu"])
def test_the_cli_derives_a_one_unit_relu_head(name: str, tmp_path: Path) -> None:
    spec = tmp_path / "head.toml"
    spec.write_text(f'[network]\ninputs = 4\nlayers = [{{ units = 3, activation = "tanh" }}, '
                    f'{{ units = 1, activation = "{name}" }}]\nloss = "half_mse"\n')
    out = run_cli_here("derive", spec, "--level", "layer")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert f"  a2 = {name}(z2)" in out.stdout


@pytest.mark.parametrize("name, z", [("sigmoid", 40.0), ("sigmoid", -40.0), ("tanh", 20.0),
                                     ("softplus", -40.0), ("elu", -700.0), ("gelu", -20.0),
                                     ("silu", -300.0)])
def test_saturated_hidden_slopes_keep_their_digits(name: str, z: float) -> None:
    """dE/dW1 = delta2 w2 f'(z1) x through a one-unit hidden layer: sigma'(+-40), tanh'(20)
    and softplus'(-40) came out 0, and the ELU slope evaluated exp(800)."""
    d = derive_layers(Network(1, [Dense(1, name), Dense(1, "linear")], "half_sse"))
    arrays = {"W1": np.array([[z]]), "b1": np.zeros(1), "W2": np.ones((1, 1)),
              "b2": np.zeros(1)}
    grads = CompiledLayers(d).grad(**arrays, x=np.ones((1, 1)), y=np.zeros((1, 1)))
    entry = next(c for c in CATALOGUE if c.name == name)
    with mp.workdps(50):
        want = float(entry.value(mp.mpf(z)) * SLOPES[name](mp.mpf(z)))  # (a2 - 0) f'(z1)
    assert want != 0.0
    assert float(grads["W1"][0, 0]) == pytest.approx(want, rel=1e-12, abs=0.0)
