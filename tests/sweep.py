"""symgrad's side of the accuracy sweeps: the error signal ``dE/dz`` of the first output
unit of a :class:`tests.reference.Case`, for one sample, through each level and backend.

The network is the case's output layer on one input ``x = 1``: the first unit's weight is
``z``, every other weight and bias 0, so ``dE/db`` of the first unit is ``dE/dz``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from symgrad.backends import CompiledLayers
from symgrad.compile import compile
from symgrad.derive import derive, derive_layers
from symgrad.network import Dense, Network

from .reference import Case

Runner = Callable[[float, float], float]
#: (level, backend) pairs; ``exact`` is ``Derivation.at``.
PATHS = (("unit", "numpy"), ("unit", "c"), ("unit", "scalar"), ("unit", "exact"),
         ("layer", "numpy"))


def network(case: Case) -> Network:
    return Network(1, [Dense(case.units, case.activation)], case.loss)


def _targets(case: Case, t: float) -> list[float]:
    return [t, 1.0 - t][:case.units]


def _unit_values(net: Network, z: float, t: float) -> dict[str, float]:
    layer = net.layers[0]
    values = {str(net.inputs[0]): 1.0}
    values.update({str(w): 0.0 for row in layer.weights for w in row})
    values.update({str(b): 0.0 for b in layer.biases})
    values[str(layer.weights[0][0])] = z
    values.update(zip(map(str, net.targets), [t, 1.0 - t]))
    return values


def _unit(case: Case, backend: str, loss: bool) -> Runner:
    net = network(case)
    d = derive(net)
    bias = str(net.layers[0].biases[0])
    if backend == "exact":
        if loss:
            return lambda z, t: d.loss_at(_unit_values(net, z, t))
        return lambda z, t: d.at(_unit_values(net, z, t))[bias]
    f = compile(d, backend="numpy" if backend == "scalar" else backend)
    if backend == "scalar":
        kernel = f.loss_scalar if loss else f.grad_scalar
        position = f.parameters.index(bias)

        def scalar(z: float, t: float) -> float:
            out = kernel(*(_unit_values(net, z, t)[a] for a in f.arguments))
            return out if loss else out[position]
        return scalar
    if loss:
        return lambda z, t: float(f.loss(**_unit_values(net, z, t)))
    return lambda z, t: float(f.grad(**_unit_values(net, z, t))[bias])


def _layer(case: Case, loss: bool) -> Runner:
    c = CompiledLayers(derive_layers(network(case)))
    k = case.units

    def run(z: float, t: float) -> float:
        W = np.zeros((k, 1))
        W[0, 0] = z
        values = dict(W1=W, b1=np.zeros(k), x=np.ones((1, 1)), y=np.array([_targets(case, t)]))
        return float(c.loss(**values)) if loss else float(c.grad(**values)["b1"][0])
    return run


def supported(case: Case, level: str) -> bool:
    """The layer level derives a softmax output with cross-entropy only."""
    return level == "unit" or case.activation != "softmax" or case.loss == "cce"


def runner(case: Case, level: str, backend: str, loss: bool = False) -> Runner:
    """``dE/dz(z, t)`` of the case's first output (or the loss ``E(z, t)``) through
    ``level`` and ``backend``."""
    return _layer(case, loss) if level == "layer" else _unit(case, backend, loss)
