"""Where a check compares: the points, and every symbol's float64 value at them."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from sympy import Symbol

from ..derive import Derivation
from ..numbers import evaluate

__all__ = ["sample_points", "environment"]

def sample_points(derivation: Derivation, count: int = 32, seed: int = 0, *,
                  include_spec: bool = True) -> list[dict[str, float]]:
    """Points (values of inputs, parameters and targets) at which to compare gradients.

    The spec's own values come first (its first sample, if it has several), then
    ``count`` seeded random points: parameters and inputs uniform in (-1.5, 1.5) and
    (-2, 2), targets uniform in (0, 1) (a random probability vector for categorical
    cross-entropy, whose derivation assumes the targets sum to 1). When a layer's
    activation has a kink, a point whose pre-activation lies within 1e-3 of it is drawn
    again.

    >>> from symgrad.network import load
    >>> from symgrad.derive import derive
    >>> points = sample_points(derive(load("derivations/two_neuron.toml")), 2)
    >>> len(points), points[0]["w2"]
    (3, 0.45)
    """
    net = derivation.network
    names = [str(s) for s in net.inputs + net.parameters + net.targets]
    points: list[dict[str, float]] = []
    if include_spec and set(names) <= set(net.values):
        first = {}
        for name in names:
            value = np.asarray(net.values[name], dtype=float).ravel()
            first[name] = float(value[0])
        points.append(first)
    rng = np.random.default_rng(seed)
    kinked = [layer for layer in net.layers
              if layer.activation is not None and layer.activation.kinked]
    tries = 0
    wanted = len(points) + count
    while len(points) < wanted and tries < 20 * count:
        tries += 1
        point = {str(s): float(rng.uniform(-2.0, 2.0)) for s in net.inputs}
        point.update({str(s): float(rng.uniform(-1.5, 1.5)) for s in net.parameters})
        if net.loss.name == "cce":
            targets = rng.dirichlet(np.ones(len(net.targets)))
        else:
            targets = rng.uniform(0.0, 1.0, len(net.targets))
        point.update({str(s): float(t) for s, t in zip(net.targets, targets)})
        if kinked:
            env = environment(derivation, [point])
            if any(abs(env[z][0]) < 1e-3 for layer in kinked for z in layer.pre):
                continue
        points.append(point)
    return points


def environment(derivation: Derivation, points: Sequence[Mapping[str, float]]
                 ) -> dict[Symbol, np.ndarray]:
    """The value of every symbol (intermediates and deltas too) at every point, in float64.

    The forward equations, then the error signals output layer first, evaluated at all
    points at once by :func:`evaluate`.
    """
    net = derivation.network
    env: dict[Symbol, np.ndarray] = {
        s: np.array([float(p[str(s)]) for p in points])
        for s in net.inputs + net.parameters + net.targets}
    for symbol, eq in net.equations.items():
        env[symbol] = evaluate(eq, env)
    for symbol, step in derivation.deltas.items():
        env[symbol] = evaluate(step.expression, env)
    return env
