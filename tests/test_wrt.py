"""Gradients with respect to any named quantity: ``d["a1"]``, ``d["z2"]``, ``d["x1"]``,
``d["delta2"]`` (an alias of ``z2``), in the chain form of the parameters' gradients.

Values are checked against central differences of a float64 forward pass in which the
quantity is set by hand, one sample at a time; exact forms against SymPy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy import Symbol

from symgrad import derive, load
from symgrad.errors import UnknownNameError
from symgrad.network import Network
from symgrad.numbers import evaluate

from .conftest import DERIVATIONS, SPECS, run_cli_here

TWO = DERIVATIONS / "two_neuron.toml"
WIDE = DERIVATIONS / "two_two_two.toml"
MLP = DERIVATIONS / "small_mlp.toml"


def _loss_with(net: Network, values: dict[str, object], symbol: Symbol, sample: int,
               value: float) -> float:
    """The loss in float64 with ``symbol`` of one sample set to ``value`` (what follows
    it in the forward pass is computed from it)."""
    samples = max(np.size(values[str(s)]) for s in net.inputs + net.targets)
    env = {s: np.broadcast_to(np.asarray(values[str(s)], float), (samples,)).copy()
           for s in net.inputs + net.parameters + net.targets}

    def fix(s: Symbol) -> None:
        if s == symbol:
            env[s] = env[s].copy()
            env[s][sample] = value

    for s in net.inputs:
        fix(s)
    for s, eq in net.equations.items():
        env[s] = evaluate(eq, env)
        fix(s)
    per_sample = evaluate(net.error, env)
    return float(per_sample.sum() if net.loss.reduction == "sum" else per_sample.mean())


def _quantities(net: Network) -> list[Symbol]:
    return list(net.inputs) + [s for layer in net.layers
                               for s in dict.fromkeys(layer.pre + layer.post)]


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_quantity_matches_central_differences(path: Path) -> None:
    net = load(path)
    d = derive(net)
    values = dict(net.values)
    points = d.evaluate(values)  # each sample's z and a, where the differences are taken
    for symbol in _quantities(net):
        got = np.atleast_1d(d[str(symbol)].at(values))
        assert got.shape == (len(points),)
        for s, point in enumerate(points):
            v = point[symbol]
            h = 1e-6 * max(1.0, abs(v))
            want = (_loss_with(net, values, symbol, s, v + h)
                    - _loss_with(net, values, symbol, s, v - h)) / (2 * h)
            assert got[s] == pytest.approx(want, rel=1e-6, abs=1e-9), (str(symbol), s)


def test_two_neuron_exact_forms() -> None:
    d = derive(load(TWO))
    x1, w1, w2, a1, a2, T = (d.network.symbol(n) for n in ("x1", "w1", "w2", "a1", "a2", "T"))
    cases = {
        "a1": w2 * a2 * (1 - a2) * (a2 - T),
        "z2": a2 * (1 - a2) * (a2 - T),
        "a2": a2 - T,
        "x1": w1 * a1 * (1 - a1) * w2 * a2 * (1 - a2) * (a2 - T),
    }
    for name, want in cases.items():
        assert sp.simplify(d[name].factored - want) == 0, name
    assert [(str(f.numerator), str(f.denominator), f.kind) for f in d["a1"].chain] == [
        ("E", "a2", "loss"), ("a2", "z2", "activation"), ("z2", "a1", "weight")]
    delta2 = d.network.symbol("delta2")
    assert d["z2"].delta_form == delta2
    assert sp.simplify(d["z2"].factored - d.in_intermediates(delta2)) == 0
    # a second way: differentiate the fully expanded loss by the input
    expanded_loss = d.expand(d.network.error)
    assert sp.simplify(d["x1"].expanded - expanded_loss.diff(x1)) == 0


def test_delta_is_an_alias_of_its_z() -> None:
    d = derive(load(TWO))
    g = d["delta2"]
    assert str(g.wrt) == "z2" and g.factored == d["z2"].factored
    assert g.note == "delta2 is dE/dz2 by definition: this is the gradient with respect to z2"
    assert d["z2"].note == ""


def test_wide_quantities_sum_over_the_next_layer() -> None:
    d = derive(load(WIDE))
    g = d["a1_2"]
    assert [[(str(f.numerator), str(f.denominator)) for f in t] for t in g.terms] == [
        [("E", "z2_1"), ("z2_1", "a1_2")], [("E", "z2_2"), ("z2_2", "a1_2")]]
    n = d.network.symbol
    assert g.delta_form == n("delta2_1") * n("w2_1_2") + n("delta2_2") * n("w2_2_2")
    softmax = derive(load(MLP))
    assert sp.simplify(softmax["z2_1"].factored - (n("a2_1") - n("T1"))) == 0
    assert len(softmax["z2_1"].terms) == 2  # through both softmax outputs


def test_iteration_lists_the_parameters_only() -> None:
    d = derive(load(TWO))
    d["a1"], d["x1"]
    assert list(d) == ["w1", "b1", "w2", "b2"] and len(d) == 4
    assert "a1" not in d and "w1" in d
    assert d.get("a1") is d["a1"]  # built once, on request


def test_unknown_names_list_the_allowed_kinds() -> None:
    d = derive(load(WIDE))
    with pytest.raises(UnknownNameError) as info:
        d["y1"]
    assert str(info.value) == (
        "unknown parameter or quantity 'y1'; known: parameters (w1_1_1, w1_1_2, w1_2_1, "
        "w1_2_2, ...), inputs (x1, x2), pre-activations (z1_1, z1_2, z2_1, z2_2), "
        "activations (a1_1, a1_2, a2_1, a2_2), error signals, aliases of dE/dz (delta1_1, "
        "delta1_2, delta2_1, delta2_2)")


# -- the command line --------------------------------------------------------------------

def test_cli_derive_wrt_intermediates() -> None:
    r = run_cli_here("derive", TWO, "--wrt", "a1", "--wrt", "delta2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "∂E/∂a1 = ∂E/∂a2 · ∂a2/∂z2 · ∂z2/∂a1\n"
        "       = -(T - a2) · a2*(1 - a2) · w2\n"
        "       = 0.04264032644   (at the spec's values)\n"
        "\n"
        "∂E/∂z2 = ∂E/∂a2 · ∂a2/∂z2\n"
        "       = -(T - a2) · a2*(1 - a2)\n"
        "       = 0.09475628097   (at the spec's values)\n"
        "         (delta2 is dE/dz2 by definition: this is the gradient with respect to z2)\n")
    wide = run_cli_here("derive", WIDE, "--wrt", "a1_2")
    assert wide.stdout.splitlines()[:2] == [
        "∂E/∂a1_2 = ∂E/∂z2_1 · ∂z2_1/∂a1_2 + ∂E/∂z2_2 · ∂z2_2/∂a1_2",
        "         = delta2_1 · w2_1_2 + delta2_2 · w2_2_2"]
    samples = run_cli_here("derive", MLP, "--wrt", "x2")
    assert samples.stdout.splitlines()[-1].endswith(
        "= [0.04522883233, -0.07927579544, -0.006974368246, -0.04549561219]   "
        "(at the spec's values)")


@pytest.mark.parametrize("expr, status, verdict", [
    ("w2*a2*(1 - a2)*(a2 - T)", 0, "dE/da1: equal."),
    ("w2*a2*(1 - a2)*(T - a2)", 1, "dE/da1: not equal. Your expression is the negative of "
                                   "dE/da1 (sign error: dE/da2 = -(T - a2))."),
    ("a2*(1 - a2)*(a2 - T)", 1, "dE/da1: not equal. Your expression is missing the factor w2 "
                                "(dz2/da1)."),
])
def test_cli_check_wrt_an_intermediate(expr: str, status: int, verdict: str) -> None:
    r = run_cli_here("check", TWO, "--wrt", "a1", "--expr", expr)
    assert r.returncode == status, r.stderr
    assert r.stdout.startswith(verdict)


def test_cli_check_wide_and_unknown() -> None:
    ok = run_cli_here("check", WIDE, "--wrt", "a1_2", "--expr",
                      "delta2_1*w2_1_2 + delta2_2*w2_2_2")
    assert ok.returncode == 0 and ok.stdout.startswith("dE/da1_2: equal.")
    bad = run_cli_here("check", WIDE, "--wrt", "a1_2", "--expr", "delta2_1*w2_1_2")
    assert bad.returncode == 1 and bad.stdout.startswith("dE/da1_2: not equal.")
    unknown = run_cli_here("check", TWO, "--wrt", "q", "--expr", "a2")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("symgrad check: error: --wrt: unknown parameter or "
                                     "quantity 'q'; known: parameters (w1, b1, w2, b2), ")
    assert unknown.stderr.count("\n") == 1
