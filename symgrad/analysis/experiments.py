"""What a report shows beyond the derivation, computed here so the report only formats it:
training runs, the one-parameter cost and its learning-rate sweep, the activations'
self-checks, and the vanishing gradient along a sigmoid chain.

>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> study = one_parameter_study(derive(load("derivations/linear_cost.toml")))
>>> study.minimum, [run.outcome for run in study.runs]
(2.0, ['not yet converged', 'converged', 'diverged'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from ..catalogue import Activation, exact
from ..derive import Derivation
from ..errors import DivergenceError, SymgradError
from ..network import Network
from ..train import train

__all__ = ["Run", "run_training", "REPORT_ITERATIONS", "cost_function", "RateRun", "OneParameterStudy",
           "one_parameter_study", "ActivationCheck", "activation_check", "ChainVanishing",
           "chain_vanishing", "CHECK_POINTS", "spec_rate"]

#: Where a report checks each activation's derivative against its definition.
CHECK_POINTS = (-2.0, -0.5, 0.3, 1.7)
#: Learning rates tried, as multiples of the spec's, to find one that diverges.
_FACTORS = (2, 3, 4, 5, 6, 8, 10, 16, 32, 64)
_Z = Symbol("z", real=True)  # activations are real functions: d|z|/dz = sign(z)


#: The most updates a training run for a report makes: its tables show tens of rows, and
#: the spec's own count (10**9, say) is for ``symgrad train``.
REPORT_ITERATIONS = 200


@dataclass(frozen=True)
class Run:
    """One training run: its history, why it stopped, and whether it diverged."""

    history: list[Any]
    reason: str
    diverged: bool


class _Enough(Exception):
    """Raised from the progress callback to end a run at :data:`REPORT_ITERATIONS`."""


def run_training(net: Network, **settings: Any) -> Run:
    """:func:`symgrad.train`, stopped after at most :data:`REPORT_ITERATIONS` updates; a
    divergence is a result, and settings training cannot use give an empty history with
    the reason."""
    steps: list[Any] = []

    def record(step: Any) -> None:
        steps.append(step)
        if step.iteration >= REPORT_ITERATIONS:
            raise _Enough

    try:
        result = train(net, progress=record, **settings)
    except _Enough:
        return Run(steps, f"stopped after {steps[-1].iteration} iterations, the most a report "
                          "runs (symgrad train runs all the spec asks for)", False)
    except DivergenceError as exc:
        return Run(list(exc.history or []), str(exc), True)
    except SymgradError as exc:
        return Run([], str(exc), False)
    return Run(result.history, result.reason, False)


def spec_rate(net: Network) -> float | None:
    """The spec's learning rate, if it gives one."""
    return net.spec.training.learning_rate if net.spec is not None else None


def _samples(net: Network) -> int:
    sizes = [np.size(net.values[str(s)]) for s in net.inputs + net.targets
             if str(s) in net.values]
    return max(sizes, default=1)


def cost_function(d: Derivation, p: Symbol) -> Expr:
    """The whole-data cost as an exact expression in the one parameter ``p``."""
    net = d.network
    per_sample = d.expand(net.error)
    samples = _samples(net)
    total = sp.Integer(0)
    for i in range(samples):
        point = {}
        for s in net.inputs + net.targets:
            arr = np.atleast_1d(np.asarray(net.values[str(s)], dtype=np.float64))
            point[s] = exact(float(arr[i if arr.size > 1 else 0]))
        total += per_sample.xreplace(point)
    if net.loss.reduction == "mean":
        total = total / samples
    return sp.expand(total)


@dataclass(frozen=True)
class RateRun:
    """One learning rate of the sweep: its label, the run and how it ended."""

    label: str
    rate: float
    run: Run
    outcome: str


@dataclass(frozen=True)
class OneParameterStudy:
    """A one-parameter model: its exact cost and derivative, the minimum of a quadratic
    cost with its curvature (rates below ``2 / curvature`` converge), the spec's run over
    a grid of the cost, and a sweep of learning rates (too small, the spec's, too large)."""

    parameter: Symbol
    cost: Expr
    derivative: Expr
    minimum: float | None
    minimum_cost: float | None
    curvature: float | None
    rate: float | None
    spec_run: Run | None
    grid: list[float]
    grid_cost: list[float]
    runs: list[RateRun]


def _quadratic(cost: Expr, p: Symbol) -> tuple[float | None, float | None, float | None]:
    poly = sp.Poly(cost, p) if cost.is_polynomial(p) else None
    if poly is None or poly.degree() != 2 or poly.LC() <= 0:
        return None, None, None
    root = sp.solve(cost.diff(p), p)[0]
    values = float(root), float(cost.xreplace({p: root})), float(cost.diff(p, 2))
    if not (all(math.isfinite(v) for v in values) and values[2] > 0):
        return None, None, None  # beyond float64 (a curvature of 1e-600 is 0.0)
    return values


def _sweep(net: Network, name: str, rate: float, minimum: float | None,
           spec_diverged: bool) -> list[RateRun]:
    iterations = (net.spec.training.iterations if net.spec is not None else None) or 30
    choices = [("too small", rate / 10), ("the spec's", rate)]
    for factor in () if spec_diverged else _FACTORS:
        if run_training(net, learning_rate=rate * factor, iterations=iterations,
                        tolerance=0).diverged:
            choices.append(("too large", rate * factor))
            break
    runs = []
    for label, r in choices:
        run = run_training(net, learning_rate=r, iterations=iterations, tolerance=0)
        if not run.history:
            continue
        last = run.history[-1].params[name]
        outcome = "diverged" if run.diverged else (
            "converged" if minimum is not None and abs(last - minimum) < 1e-3
            else "not yet converged")
        runs.append(RateRun(label, r, run, outcome))
    return runs


def one_parameter_study(d: Derivation) -> OneParameterStudy | None:
    """The study of a network with one parameter and data, else ``None``."""
    net = d.network
    if len(net.parameters) != 1 or not all(str(s) in net.values
                                           for s in net.inputs + net.targets):
        return None
    p = net.parameters[0]
    name = str(p)
    cost = cost_function(d, p)
    minimum, minimum_cost, curvature = _quadratic(cost, p)
    rate = spec_rate(net)
    if rate is None:
        return OneParameterStudy(p, cost, sp.expand(cost.diff(p)), minimum, minimum_cost,
                                 curvature, None, None, [], [], [])
    spec_run = run_training(net)
    if not spec_run.history:  # settings training cannot use: the cost alone
        return OneParameterStudy(p, cost, sp.expand(cost.diff(p)), minimum, minimum_cost,
                                 curvature, rate, spec_run, [], [], [])
    w0 = float(net.values[name])  # type: ignore[arg-type]
    path = [s.params[name] for s in spec_run.history]
    ends = path + [minimum if minimum is not None else w0]
    pad = max(0.25 * (max(ends) - min(ends)), 0.5)
    grid = np.linspace(min(ends) - pad, max(ends) + pad, 161).tolist()
    # a plot needs float64, not exact values: exact evaluation of a sigmoid's cost at
    # w = 1e300 took 0.11 s a point (18 s for the report), 30-digit floats 0.3 ms
    grid_cost = [_at(cost, {p: w}) for w in grid]
    return OneParameterStudy(p, cost, sp.expand(cost.diff(p)), minimum, minimum_cost,
                             curvature, rate, spec_run, grid, grid_cost,
                             _sweep(net, name, rate, minimum, spec_run.diverged))


@dataclass(frozen=True)
class ActivationCheck:
    """An activation's derivative as SymPy gives it, beside its elementary definition, the
    largest difference of the two derivatives at :data:`CHECK_POINTS`, and both curves
    on a grid (for softmax: component 1 of two inputs, the second held at 0)."""

    function: Expr
    derivatives: list[tuple[Symbol, Expr]]
    definition: Expr
    error: float
    grid: list[float]
    values: list[float]
    slopes: list[float]


def _at(expr: Expr, point: Mapping[Symbol, float]) -> float:
    return float(expr.xreplace({s: sp.Float(v, 30) for s, v in point.items()}).evalf(30))


def activation_check(act: Activation, params: Mapping[str, float]) -> ActivationCheck:
    """Check ``act``'s derivative rule against the derivative of its definition."""
    if act.elementwise:
        z, others = _Z, {}
        f = act(z, **params)
        definition = act.definition(z, **params)
        derivatives = [(z, f.diff(z))]
    else:
        z, z2 = sp.symbols("z1 z2")
        others = {z2: 0.0}
        f = act(sp.Integer(1), z, z2, **params)
        definition = act.definition(sp.Integer(1), z, z2, **params)
        derivatives = [(z, f.diff(z)), (z2, f.diff(z2))]
    df, reference = derivatives[0][1], definition.diff(z)
    error = max(abs(_at(df, {z: t, **others}) - _at(reference, {z: t, **others}))
                for t in CHECK_POINTS)
    grid = np.linspace(-5, 5, 201).tolist()
    return ActivationCheck(f, derivatives, definition, error, grid,
                           [_at(f, {z: t, **others}) for t in grid],
                           [_at(df, {z: t, **others}) for t in grid])


@dataclass(frozen=True)
class ChainVanishing:
    """The gradient along a chain of sigmoid layers at the spec's point: each layer's
    slope ``a (1 - a)``, the product of the slopes from it to the output and its bound
    ``(1/4)^k``, and the size of its weight's and bias's gradient."""

    slopes: list[float]
    products: list[float]
    bounds: list[float]
    weights: list[float]
    biases: list[float]


def chain_vanishing(d: Derivation, values: Mapping[str, float]) -> ChainVanishing | None:
    """The figures for a chain of at least three sigmoid layers, else ``None``."""
    net = d.network
    layers = net.layers
    if not (net.is_chain and len(layers) >= 3 and all(
            layer.activation is not None and layer.activation.name == "sigmoid"
            for layer in layers)):
        return None
    point = d.evaluate(net.values)[0]
    slopes = [point[layer.post[0]] * (1 - point[layer.post[0]]) for layer in layers]
    count = len(layers)
    return ChainVanishing(
        slopes, [math.prod(slopes[layer.index - 1:]) for layer in layers],
        [0.25 ** (count - layer.index + 1) for layer in layers],
        [abs(values[str(layer.weights[0][0])]) for layer in layers],
        [abs(values[str(layer.biases[0])]) if layer.biases else math.nan for layer in layers])
