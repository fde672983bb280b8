"""Chain-rule derivations: exact forms, the delta recursion, and every gradient of every
spec against float64 finite differences of an independent NumPy forward pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgrad
import symgrad.printing
from symgrad import numbers
from symgrad import Dense, Network, derive, load
from symgrad.errors import ArgumentError, DerivationError, UnknownNameError

from .conftest import DERIVATIONS, SPECS

T, a1, a2, x1, w2, z1, z2 = sp.symbols("T a1 a2 x1 w2 z1 z2")


@pytest.fixture(scope="module")
def two_neuron() -> symgrad.Derivation:
    return derive(load(DERIVATIONS / "two_neuron.toml"))


def test_two_neuron_factored_forms_are_exact(two_neuron: symgrad.Derivation) -> None:
    d = two_neuron
    assert d["w2"].factored == -(T - a2) * a2 * (1 - a2) * a1
    assert d["b2"].factored == -(T - a2) * a2 * (1 - a2)
    assert d["w1"].factored == -(T - a2) * a2 * (1 - a2) * w2 * a1 * (1 - a1) * x1
    assert d["b1"].factored == -(T - a2) * a2 * (1 - a2) * w2 * a1 * (1 - a1)
    assert list(d) == ["w1", "b1", "w2", "b2"]


def test_two_neuron_chain(two_neuron: symgrad.Derivation) -> None:
    chain = two_neuron["w2"].chain
    E = sp.Symbol("E")
    assert [(f.numerator, f.denominator) for f in chain] == [(E, a2), (a2, z2),
                                                              (z2, sp.Symbol("w2"))]
    assert [f.expression for f in chain] == [a2 - T, a2 * (1 - a2), a1]
    assert [f.kind for f in chain] == ["loss", "activation", "input"]
    assert chain[1].source == symgrad.catalogue.sigmoid(z2)
    w1_chain = two_neuron["w1"].chain
    assert [f.kind for f in w1_chain] == ["loss", "activation", "weight", "activation", "input"]
    assert w1_chain[2].expression == w2


def test_two_neuron_expanded_is_in_inputs_and_parameters(two_neuron: symgrad.Derivation) -> None:
    net = two_neuron.network
    allowed = set(net.inputs + net.targets + net.parameters)
    for g in two_neuron.values():
        assert g.expanded.free_symbols <= allowed
    sig = symgrad.catalogue.sigmoid
    w1, b1, b2 = (net.symbol(n) for n in ("w1", "b1", "b2"))
    s1 = sig(w1 * x1 + b1)
    s2 = sig(w2 * s1 + b2)
    assert sp.simplify(two_neuron["w2"].expanded - (s2 - T) * s2 * (1 - s2) * s1) == 0


def test_two_neuron_values(two_neuron: symgrad.Derivation) -> None:
    values = two_neuron.network.values
    got = two_neuron.at(values)
    assert got["w2"] == pytest.approx(0.0570703982010549, rel=1e-12)
    assert got["b2"] == pytest.approx(0.0947562809690847, rel=1e-12)
    assert got["w1"] == pytest.approx(0.00102139588147634, rel=1e-12)
    assert got["b1"] == pytest.approx(0.0102139588147634, rel=1e-12)
    assert two_neuron["w2"].at(values) == got["w2"]
    assert two_neuron.loss_at(values) == pytest.approx(0.10822956298900614, rel=1e-12)


def test_expanded_form_is_built_only_on_request() -> None:
    d = derive(load(DERIVATIONS / "deep_sigmoid_chain.toml"))
    assert all("expanded" not in g.__dict__ for g in d.values())
    d["w8"].expanded
    assert "expanded" in d["w8"].__dict__ and "expanded" not in d["w1"].__dict__


def test_linear_cost_gradient_is_the_sum_over_the_data() -> None:
    d = derive(load(DERIVATIONS / "linear_cost.toml"))
    y, z, x = sp.symbols("y z x")
    assert d["w"].factored == 2 * x * (y - z)
    assert d["w"].expanded == 2 * x * (sp.Symbol("w") * x - z)
    # on x = 0.1..0.5 with z = 2x, dJ/dw = 2 (w - 2) sum(x^2) = 1.1 (w - 2)
    assert d["w"].at(d.network.values) == pytest.approx(1.1 * (0.2 - 2), rel=1e-13)
    assert d["w"].at({**d.network.values, "w": 2.0}) == pytest.approx(0.0, abs=1e-15)


def test_softmax_cross_entropy_collapses_to_a_minus_t() -> None:
    d = derive(load(DERIVATIONS / "small_mlp.toml"))
    net = d.network
    for k, (delta, a, t) in enumerate(zip(net.layers[-1].deltas, net.outputs, net.targets)):
        step = d.deltas[delta]
        assert step.expression == a - t
        assert step.general == a * (net.targets[0] + net.targets[1]) - t
        assert "targets sum to 1" in step.note


def test_sigmoid_binary_cross_entropy_collapses_to_a_minus_t() -> None:
    net = Network(1, [Dense(1, "sigmoid")], "bce")
    d = derive(net)
    a, t = net.outputs[0], net.targets[0]
    assert d.deltas[net.layers[0].deltas[0]].expression == a - t


def test_tanh_derivative_in_own_output_form() -> None:
    net = Network(1, [Dense(1, "tanh"), Dense(1, "sigmoid")], "half_sse")
    d = derive(net)
    assert d["w1"].chain[3].expression == 1 - a1**2


def test_wide_names_and_latex() -> None:
    net = load(DERIVATIONS / "small_mlp.toml")
    assert [str(p) for p in net.parameters[:3]] == ["w1_1_1", "w1_1_2", "w1_2_1"]
    assert net.latex_names[net.symbol("w2_1_3")] == "w^{(2)}_{1,3}"
    assert net.latex_names[net.symbol("delta1_2")] == r"\delta^{(1)}_{2}"
    assert symgrad.printing.latex(net.symbol("b2_1") * net.symbol("x1"), net) == \
        "b^{(2)}_{1} x_{1}"


def test_delta_recursion_is_linear_in_depth() -> None:
    """Op count of dE/dw1 grows linearly with depth, and every delta has the same size."""
    ops = {}
    for depth in (4, 8, 16, 32):
        d = derive(Network(1, [Dense(1, "sigmoid")] * depth, "half_sse"))
        ops[depth] = sp.count_ops(d["w1"].factored)
        sizes = {sp.count_ops(step.expression) for step in list(d.deltas.values())[1:]}
        assert len(sizes) == 1  # each hidden delta: previous delta * weight * a (1 - a)
    assert ops[8] - ops[4] == 4 * (ops[32] - ops[16]) // 16
    assert ops[32] - ops[16] == 2 * (ops[16] - ops[8])


def test_unknown_parameter() -> None:
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    with pytest.raises(UnknownNameError) as info:
        d["w3"]
    assert str(info.value) == (
        "unknown parameter or quantity 'w3'; known: parameters (w1, b1, w2, b2), inputs (x1), "
        "pre-activations (z1, z2), activations (a1, a2), error signals, aliases of dE/dz "
        "(delta1, delta2)")


def test_missing_and_bad_values() -> None:
    d = derive(load(DERIVATIONS / "two_neuron.toml"))
    values = dict(d.network.values)
    del values["x1"]
    with pytest.raises(ArgumentError, match="missing value for 'x1'"):
        d.at(values)
    with pytest.raises(ArgumentError, match="value of 'T' is not numeric: 'high'"):
        d.at({**d.network.values, "T": "high"})


def test_repr_latex(two_neuron: symgrad.Derivation) -> None:
    text = two_neuron["w2"]._repr_latex_()
    assert text.startswith(r"$\displaystyle \frac{\partial E}{\partial w_{2}} = ")
    assert r"\frac{\partial E}{\partial a_{2}} \cdot \frac{\partial a_{2}}{\partial z_{2}}" in text
    whole = two_neuron._repr_latex_()
    assert whole.startswith(r"$\displaystyle \begin{aligned}\displaystyle \frac{\partial E}"
                            r"{\partial w_{1}} &= \displaystyle ")
    assert whole.count(r"\displaystyle") == 1 + 2 * len(two_neuron)  # every side of every row


# -- every spec against an independent NumPy forward pass ------------------------------

def _np_activation(name: str | None, z: np.ndarray) -> np.ndarray:
    if name is None:
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=0))
        return e / e.sum(axis=0)
    if name == "mish":  # derivations/mish.toml's formula activation
        return z * np.tanh(np.logaddexp(0.0, z))
    raise NotImplementedError(name)


def _np_loss(net: Network, values: Mapping[str, object]) -> float:
    """The loss from the network's structure alone, in float64 (no SymPy)."""
    a = np.array([np.atleast_1d(np.asarray(values[str(s)], float)) for s in net.inputs])
    for layer in net.layers:
        W = np.array([[values[str(w)] for w in row] for row in layer.weights], float)
        b = np.array([values[str(s)] for s in layer.biases], float) if layer.biases else 0.0
        zz = W @ a + (b[:, None] if layer.biases else 0.0)
        a = _np_activation(layer.activation.name if layer.activation else None, zz)
    t = np.array([np.atleast_1d(np.asarray(values[str(s)], float)) for s in net.targets])
    per_sample = {
        "sse": lambda: ((t - a) ** 2).sum(axis=0),
        "half_sse": lambda: 0.5 * ((t - a) ** 2).sum(axis=0),
        "cce": lambda: -(t * np.log(a)).sum(axis=0),
    }[net.loss.name]()
    data = float(per_sample.sum() if net.loss.reduction == "sum" else per_sample.mean())
    return data + _np_penalty(net, values)


def _np_penalty(net: Network, values: Mapping[str, object]) -> float:
    """The spec's penalty, once: lambda/2 sum w^2 (l2) or lambda sum |w| (l1) over the
    weights, and the biases if it says so, each parameter once (0 without a penalty)."""
    if net.penalty is None:
        return 0.0
    names = [w for layer in net.layers for row in layer.weights for w in row]
    names += [b for layer in net.layers for b in layer.biases] if net.penalty.biases else []
    w = np.array([values[str(s)] for s in dict.fromkeys(names)], float)
    l2 = net.penalty.kind.name == "l2"
    return net.penalty.strength * float(0.5 * np.sum(w**2) if l2 else np.sum(np.abs(w)))


def _central(net: Network, values: dict[str, object], name: str, h: float = 1e-3) -> float:
    """Five-point central difference in float64: error O(h^4)."""
    def at(delta: float) -> float:
        return _np_loss(net, {**values, name: float(values[name]) + delta})  # type: ignore
    return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)


def _random_values(net: Network, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    values: dict[str, object] = {str(p): float(rng.uniform(-1, 1)) for p in net.parameters}
    n = 3
    for s in net.inputs:
        values[str(s)] = rng.uniform(-2, 2, size=n)
    if net.loss.name == "cce":
        hot = rng.integers(0, len(net.targets), size=n)
        for k, s in enumerate(net.targets):
            values[str(s)] = (hot == k).astype(float)
    else:
        for s in net.targets:
            values[str(s)] = rng.uniform(0.05, 0.95, size=n)
    return values


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
@pytest.mark.parametrize("where", ["spec", "random"])
def test_every_gradient_matches_central_differences(path: Path, where: str) -> None:
    net = load(path)
    d = derive(net)
    values = dict(net.values) if where == "spec" else _random_values(net, seed=len(path.stem))
    got = d.at(values)
    for name in d:
        assert got[name] == pytest.approx(_central(net, values, name), rel=1e-7, abs=1e-13), name
    assert d.loss_at(values) == pytest.approx(_np_loss(net, values), rel=1e-12)


@pytest.mark.parametrize("z", [30.0, 60.0, 1e3, 1e4])
def test_evaluation_keeps_its_digits_for_saturated_units(z: float) -> None:
    """1 - a = exp(-z) / (1 + exp(-z)) must survive: the working precision grows with |z|."""
    d = derive(Network(1, [Dense(1, "sigmoid")], "bce"))
    values = {"x": 1.0, "T": 0.0, "w": z, "b": 0.0}
    with mpmath.workdps(50):
        want_loss = float(mpmath.log1p(mpmath.exp(z)))
        want_slope = float(1 / (1 + mpmath.exp(-z)))
    assert d.loss_at(values) == pytest.approx(want_loss, rel=1e-15)
    assert d.at(values) == {"w": pytest.approx(want_slope, rel=1e-15),
                            "b": pytest.approx(want_slope, rel=1e-15)}


def test_evaluation_beyond_the_precision_cap_is_a_clear_error() -> None:
    # -log(1 - sigma(1e5)) = 1e5 + log1p(exp(-1e5)): 1 - sigma is taken as sigma(-z), so the
    # value that was out of reach (evaluated as zoo) comes out
    d = derive(Network(1, [Dense(1, "sigmoid")], "bce"))
    assert d.loss_at({"x": 1.0, "T": 0.0, "w": 1e5, "b": 0.0}) == 1e5
    # ELU + 1 = exp(z) for z <= 0 cancels to 43,430 digits at z = -1e5, beyond the cap: the
    # gradient, exp(-2e5), is below float64's range whatever its digits
    d = derive(Network(1, [Dense(1, "elu")], "half_sse"))
    assert d.at({"x": -1e5, "T": -1.0, "w": 1.0, "b": 0.0}) == {"w": 0.0, "b": 0.0}


def test_a_value_beyond_the_precision_cap_is_a_one_line_error(monkeypatch: Any) -> None:
    # ELU + 1 = exp(z) at z = -200 cancels to 87 digits: within the cap, the delta
    # (a + 1) exp(z) = exp(-400) keeps its digits; with a cap of 20 digits it is out of reach
    d = derive(Network(1, [Dense(1, "elu")], "half_sse"))
    values = {"x": -200.0, "T": -1.0, "w": 1.0, "b": 0.0}
    with mpmath.workdps(30):
        assert d.at(values)["b"] == pytest.approx(float(mpmath.exp(-400)), rel=1e-15)
    monkeypatch.setattr(numbers, "MAX_DIGITS", 20)
    with pytest.raises(DerivationError, match=r"^delta is out of reach of exact evaluation at "
                       r"these values \(it needs more than 20 digits\)$"):
        d.at(values)
