"""Softmax with categorical cross-entropy, for any targets (issue 15, item 1).

The loss is ``-sum_k T_k log a_k`` whatever the targets; its error signal is
``delta_i = a_i sum_k T_k - T_i``, which is ``a_i - T_i`` only when a sample's targets sum to
1. Derivations show ``a - T`` and say so; every number symgrad computes (compiled NumPy, C
and scalar code, exported modules, exact evaluation, the layer level and its training
step) uses the general form. References: central differences of an independent NumPy
forward pass, and SymPy's Jacobian sum for the rule itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.backends import CompiledLayers
from symgrad.compile import compile
from symgrad.derive import derive, derive_layers
from symgrad.derive.rules import ONE_HOT, softmax_cross_entropy
from symgrad.export import module_source
from symgrad.network import Dense, Network

from .conftest import run_cli_here

#: The issue's example: two inputs, one softmax layer of two units, both targets 1.
ISSUE = dict(x1=0.3, x2=-0.7, T1=1.0, T2=1.0, w1_1_1=0.2, w1_1_2=-0.4, w1_2_1=0.5,
             w1_2_2=0.1, b1_1=0.0, b1_2=0.0)
#: Targets per sample (rows) for the 3-class network: one-hot, multi-hot, unnormalized,
#: label-smoothed, all zero.
TARGETS = {
    "one_hot": [[1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]],
    "multi_hot": [[1, 1, 0], [0, 1, 1], [1, 1, 1], [1, 0, 1]],
    "unnormalized": [[0.5, 2.0, 0.0], [3.0, 0.0, 0.25], [0.0, 0.0, 7.0], [1.5, 1.5, 0.0]],
    "smoothed": [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]],
    "zero": [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]],
}


# -- an independent reference ------------------------------------------------------------

def _arrays(net: Network, values: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each layer's ``W`` and ``b`` from the unit level's named values."""
    return [(np.array([[values[str(w)] for w in row] for row in layer.weights]),
             np.array([values[str(b)] for b in layer.biases])) for layer in net.layers]


def _loss(net: Network, values: dict[str, Any]) -> float:
    """Mean over samples of ``-sum_k T_k log softmax_k(z)``, tanh hidden layers, in NumPy."""
    a = np.array([np.atleast_1d(values[str(x)]) for x in net.inputs], dtype=float)
    T = np.array([np.atleast_1d(values[str(t)]) for t in net.targets], dtype=float)
    for l, (W, b) in enumerate(_arrays(net, values), start=1):
        z = W @ a + b[:, None]
        a = np.tanh(z) if l < len(net.layers) else z
    log_s = a - a.max(axis=0) - np.log(np.exp(a - a.max(axis=0)).sum(axis=0))
    return float(np.mean(-(T * log_s).sum(axis=0)))


def _central(net: Network, values: dict[str, Any], name: str, h: float = 1e-6) -> float:
    up, down = dict(values), dict(values)
    up[name] += h
    down[name] -= h
    return (_loss(net, up) - _loss(net, down)) / (2 * h)


# -- every path to the numbers -----------------------------------------------------------

def _exported(f: symgrad.CompiledNetwork, tmp_path: Path) -> Any:
    path = tmp_path / "softmax_grads.py"
    path.write_text(module_source(f))
    spec = importlib.util.spec_from_file_location("softmax_grads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _layer_level(net: Network, values: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Loss and gradients from the layer level's minibatch kernels, by unit-level name."""
    c = CompiledLayers(derive_layers(net))
    params = {}
    for l, (W, b) in enumerate(_arrays(net, values), start=1):
        params[f"W{l}"], params[f"b{l}"] = W, b
    x = np.array([np.atleast_1d(values[str(s)]) for s in net.inputs], dtype=float).T
    y = np.array([np.atleast_1d(values[str(s)]) for s in net.targets], dtype=float).T
    loss, grads = c.value_and_grad(**params, x=x, y=y)
    named = {}
    for layer in net.layers:
        l = layer.index
        for i, row in enumerate(layer.weights):
            named.update({str(w): float(grads[f"W{l}"][i, j]) for j, w in enumerate(row)})
        named.update({str(b): float(grads[f"b{l}"][i]) for i, b in enumerate(layer.biases)})
    return loss, named


def _paths(net: Network, tmp_path: Path) -> dict[str, Callable[[dict[str, Any]], dict]]:
    d = derive(net)
    f, fc = compile(d), compile(d, backend="c")
    module = _exported(f, tmp_path)
    return {
        "numpy": lambda v: {k: float(g) for k, g in f.grad(**v).items()},
        "c": lambda v: {k: float(g) for k, g in fc.grad(**v).items()},
        "value_and_grad": lambda v: {k: float(g) for k, g in f.value_and_grad(**v)[1].items()},
        "exported": lambda v: {k: float(g) for k, g in module.grad(**v).items()},
        "exact": d.at,
        "layer": lambda v: _layer_level(net, v)[1],
    }


PATHS = ["numpy", "c", "value_and_grad", "exported", "exact", "layer"]


@pytest.mark.parametrize("path", PATHS)
def test_the_issue_example_gets_the_gradient_of_its_loss(path: str, tmp_path: Path) -> None:
    net = Network(2, [Dense(2, "softmax")], "cce")
    got = _paths(net, tmp_path)[path](ISSUE)
    for name in net.parameters:
        want = _central(net, ISSUE, str(name))
        assert got[str(name)] == pytest.approx(want, rel=1e-8, abs=1e-10), name
    # the issue's numbers: b = [0.1293, -0.1293], where a - T gave [-0.4354, -0.5646]
    assert round(got["b1_1"], 4) == 0.1293 and round(got["b1_2"], 4) == -0.1293


def test_the_issue_example_through_the_scalar_kernel() -> None:
    net = Network(2, [Dense(2, "softmax")], "cce")
    f = compile(derive(net))
    got = dict(zip(f.parameters, f.grad_scalar(*(ISSUE[a] for a in f.arguments))))
    for name in f.parameters:
        assert got[name] == pytest.approx(_central(net, ISSUE, name), rel=1e-8, abs=1e-10)


def _hidden_network(kind: str) -> tuple[Network, dict[str, Any]]:
    net = Network(2, [Dense(3, "tanh"), Dense(3, "softmax")], "cce")
    rng = np.random.default_rng(15)
    values: dict[str, Any] = {str(p): float(rng.normal()) for p in net.parameters}
    values.update({str(x): rng.normal(size=4) for x in net.inputs})
    rows = np.array(TARGETS[kind], dtype=float)
    values.update({str(t): rows[:, k] for k, t in enumerate(net.targets)})
    return net, values


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", list(TARGETS))
def test_any_targets_give_the_gradient_of_the_loss(kind: str, path: str,
                                                   tmp_path: Path) -> None:
    net, values = _hidden_network(kind)
    got = _paths(net, tmp_path)[path](values)
    for name in net.parameters:
        want = _central(net, values, str(name))
        assert got[str(name)] == pytest.approx(want, rel=1e-7, abs=1e-9), name


@pytest.mark.parametrize("kind", list(TARGETS))
def test_losses_agree_for_any_targets(kind: str) -> None:
    net, values = _hidden_network(kind)
    want = _loss(net, values)
    d = derive(net)
    assert d.loss_at(values) == pytest.approx(want, rel=1e-12)
    assert compile(d).loss(**values) == pytest.approx(want, rel=1e-12)
    assert _layer_level(net, values)[0] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("kind", list(TARGETS))
def test_a_training_step_of_the_layer_level_follows_the_gradient(kind: str) -> None:
    """One epoch of one batch: the loss it reports is the loss before the step, and the
    step is ``-learning_rate`` times the gradient (the training path's own output layer)."""
    net, values = _hidden_network(kind)
    c = CompiledLayers(derive_layers(net))
    params = {}
    for l, (W, b) in enumerate(_arrays(net, values), start=1):
        params[f"W{l}"], params[f"b{l}"] = W.copy(), b.copy()
    x = np.array([values[str(s)] for s in net.inputs]).T
    y = np.array([values[str(s)] for s in net.targets]).T
    loss = c.sgd_epoch(params, x, y, np.arange(4), 4, 0.5)
    assert loss == pytest.approx(_loss(net, values), rel=1e-12)
    W2 = params["W2"]
    for i, row in enumerate(net.layers[1].weights):
        for j, w in enumerate(row):
            want = values[str(w)] - 0.5 * _central(net, values, str(w))
            assert W2[i, j] == pytest.approx(want, rel=1e-8, abs=1e-10)


# -- the rule and what the derivation says -----------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_rule_is_the_chain_rule_through_the_softmax_jacobian(n: int) -> None:
    net = Network(1, [Dense(n, "softmax")], "cce")
    layer = net.layers[0]
    act = layer.activation
    upstream = [sp.factor_terms(net.error.diff(a)) for a in layer.post]
    for j in range(n):
        chain = sp.Add(*(g * act.jacobian(layer.pre, layer.post, i, j)
                         for i, g in enumerate(upstream)))
        rule = softmax_cross_entropy(layer.post[j], net.targets[j], sp.Add(*net.targets))
        assert sp.expand(chain - rule.general) == 0
        assert rule.expression == layer.post[j] - net.targets[j]
        assert sp.expand(rule.general.subs(net.targets[-1],
                                           1 - sp.Add(*net.targets[:-1]))) == \
            sp.expand(rule.expression.subs(net.targets[-1], 1 - sp.Add(*net.targets[:-1])))


def test_both_levels_show_a_minus_t_and_say_what_it_assumes() -> None:
    net = Network(2, [Dense(3, "softmax")], "cce")
    d = derive(net)
    T1, T2, T3 = net.targets
    for delta, a, t in zip(net.layers[0].deltas, net.outputs, net.targets):
        step = d.deltas[delta]
        assert step.expression == a - t
        assert step.general == a * (T1 + T2 + T3) - t
        assert step.unconditional == step.general
        assert step.assumption == ONE_HOT == "the targets sum to 1 in every sample"
        assert step.note == ("softmax with cross-entropy: a - T when the targets sum to 1 in "
                             "every sample (one-hot labels); symgrad's numbers use the general "
                             "form, right for any targets")
    layer = derive_layers(net).steps[0]
    assert layer.delta_scalar == sp.Symbol("s_i") - sp.IndexedBase("y")[sp.Symbol("i",
                                                                                  integer=True)]
    assert layer.unit.assumption == ONE_HOT
    assert layer.note.startswith("dE/dz_i = s_i*Sum(y[k], (k, 1, n)) - y[i]; softmax with "
                                 "cross-entropy: a - T when the targets sum to 1")


def test_the_cli_shows_the_general_form_under_the_collapsed_one(tmp_path: Path) -> None:
    spec = tmp_path / "softmax.toml"
    spec.write_text('[network]\ninputs = 1\nlayers = [{ units = 2, activation = "softmax" }]\n'
                    'loss = "cce"\n')
    out = run_cli_here("derive", spec, "--form", "steps")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = lines.index("  delta1_1 = a1_1 - T1")
    assert lines[at + 1].strip().startswith("← a1_1*(T1 + T2) - T1: softmax with "
                                            "cross-entropy: a - T when the targets sum to 1")
