"""Tied parameters: ``[network] tie`` and ``shared_bias``, through every stage.

The oracle is the classic 2-2-2 example (derivations/two_two_two.toml), whose published
numbers are given to 9 digits; tied gradients are also checked against central
differences of a float64 forward pass written here, independent of symgrad.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import Dense, Network, derive, load, parse_spec
from symgrad.compile import compile
from symgrad.errors import SpecError, UnknownNameError
from symgrad.derive import LayerDerivation, derive_layers

from .conftest import DERIVATIONS, run_cli, run_cli_here

SPEC = DERIVATIONS / "two_two_two.toml"
#: The published example's numbers (9 digits): its names mapped onto symgrad's.
PUBLISHED_LOSS = 0.298371109
PUBLISHED_WEIGHTS = {  # after one update with learning rate 0.5
    "w2_1_1": 0.35891648,   # w5
    "w2_1_2": 0.408666186,  # w6
    "w2_2_1": 0.511301270,  # w7
    "w2_2_2": 0.561370121,  # w8
    "w1_1_1": 0.149780716,  # w1
    "w1_1_2": 0.19956143,   # w2
    "w1_2_1": 0.24975114,   # w3
    "w1_2_2": 0.29950229,   # w4
}
TOL = 5e-9  # the published numbers' last digit


def _np_loss(values: dict[str, float]) -> float:
    """The 2-2-2 network's loss in float64: one bias per layer, added to both units."""
    x = np.array([values["x1"], values["x2"]])
    w1 = np.array([[values["w1_1_1"], values["w1_1_2"]], [values["w1_2_1"], values["w1_2_2"]]])
    w2 = np.array([[values["w2_1_1"], values["w2_1_2"]], [values["w2_2_1"], values["w2_2_2"]]])
    h = 1 / (1 + np.exp(-(w1 @ x + values["b1"])))
    o = 1 / (1 + np.exp(-(w2 @ h + values["b2"])))
    t = np.array([values["T1"], values["T2"]])
    return float(0.5 * ((t - o) ** 2).sum())


def _central(values: dict[str, float], name: str, h: float = 1e-6) -> float:
    return (_np_loss({**values, name: values[name] + h})
            - _np_loss({**values, name: values[name] - h})) / (2 * h)


# -- the published example ---------------------------------------------------------------

def test_two_two_two_matches_the_published_example_through_train() -> None:
    net = load(SPEC)
    result = symgrad.train(net, iterations=1)
    assert result.history[0].loss == pytest.approx(PUBLISHED_LOSS, abs=TOL)
    for name, want in PUBLISHED_WEIGHTS.items():
        assert result.params[name] == pytest.approx(want, abs=TOL), name
    # symgrad updates the biases too (the published example keeps them): by their summed
    # gradients, dE/db1 = delta1_1 + delta1_2 and dE/db2 = delta2_1 + delta2_2
    grads = result.history[0].grads
    assert result.params["b1"] == pytest.approx(0.35 - 0.5 * grads["b1"], abs=1e-15)
    assert result.params["b2"] == pytest.approx(0.60 - 0.5 * grads["b2"], abs=1e-15)


def test_two_two_two_matches_the_published_example_through_the_cli() -> None:
    r = run_cli("train", SPEC, "--iterations", "1")
    assert r.returncode == 0, r.stderr
    loss = re.search(r"^  E +  = (\S+)", r.stdout, re.M)
    assert loss is not None and float(loss.group(1)) == pytest.approx(PUBLISHED_LOSS, abs=TOL)
    for name, want in PUBLISHED_WEIGHTS.items():
        line = re.search(rf"^  {name} = .* = (\S+)$", r.stdout, re.M)
        assert line is not None, name
        assert float(line.group(1)) == pytest.approx(want, abs=TOL), name
    assert re.search(r"^  b1 = 0\.35 - 0\.5 \* 0\.01872560939 = 0\.3406371953$", r.stdout, re.M)


def test_tie_and_shared_bias_are_the_same_network() -> None:
    text = SPEC.read_text().replace(", shared_bias = true", "").replace(
        "# the same ties written out: tie", "tie")
    tied = Network.from_spec(parse_spec(text, "tie.toml"))
    shared = load(SPEC)
    assert tied.parameters == shared.parameters
    assert tied.equations == shared.equations
    assert derive(tied).at(tied.values) == derive(shared).at(shared.values)


# -- the derivation ----------------------------------------------------------------------

def test_a_tied_gradient_is_a_sum_of_one_chain_per_unit() -> None:
    d = derive(load(SPEC))
    g = d["b1"]
    assert len(g.terms) == 2
    assert [[(str(f.numerator), str(f.denominator), f.kind) for f in t] for t in g.terms] == [
        [("E", "z1_1", "delta"), ("z1_1", "b1", "bias")],
        [("E", "z1_2", "delta"), ("z1_2", "b1", "bias")]]
    delta1_1, delta1_2 = d.network.layers[0].deltas
    assert g.delta_form == delta1_1 + delta1_2
    want = d.in_intermediates(delta1_1) + d.in_intermediates(delta1_2)
    assert sp.simplify(g.factored - want) == 0
    assert g.note == "b1 is shared by b1_1, b1_2: its gradient sums their contributions"
    assert d["w1_1_1"].note == "" and len(d["w1_1_1"].terms) == 1
    assert list(d) == ["w1_1_1", "w1_1_2", "w1_2_1", "w1_2_2", "b1",
                       "w2_1_1", "w2_1_2", "w2_2_1", "w2_2_2", "b2"]


def test_tied_gradients_match_central_differences_in_every_backend() -> None:
    net = load(SPEC)
    values = {k: float(v) for k, v in net.values.items()}  # type: ignore[arg-type]
    want = {name: _central(values, name) for name in map(str, net.parameters)}
    d = derive(net)
    got = {"symbolic": d.at(values), "numpy": compile(d).grad(**values),
           "c": compile(d, backend="c").grad(**values)}
    for backend, grads in got.items():
        for name, w in want.items():
            assert float(grads[name]) == pytest.approx(w, rel=1e-6, abs=1e-10), (backend, name)
    assert want["b1"] == pytest.approx(0.01872560939, rel=1e-6)


def test_a_weight_tied_across_layers_of_a_chain() -> None:
    net = Network(1, [Dense(1, "sigmoid"), Dense(1, "sigmoid")], "half_sse",
                  ties={"w": ["w1", "w2"]},
                  parameters={"w": 0.3, "b1": 0.4, "b2": 0.65}, data={"x1": 0.1, "T": 0.25})
    d = derive(net)
    w = net.symbol("w")
    assert [str(p) for p in net.parameters] == ["w", "b1", "b2"]
    assert [[str(f.denominator) for f in t] for t in d["w"].terms] == [
        ["a2", "z2", "a1", "z1", "w"], ["a2", "z2", "w"]]

    def loss(wv: float) -> float:
        a1 = 1 / (1 + np.exp(-(wv * 0.1 + 0.4)))
        a2 = 1 / (1 + np.exp(-(wv * a1 + 0.65)))
        return 0.5 * (0.25 - a2) ** 2

    h = 1e-6
    want = (loss(0.3 + h) - loss(0.3 - h)) / (2 * h)
    assert d["w"].at(net.values) == pytest.approx(want, rel=1e-7)
    assert float(compile(d).grad(**net.values)["w"]) == pytest.approx(want, rel=1e-7)
    assert d["w"].factored.has(w)


# -- spec errors -------------------------------------------------------------------------

BASE = """\
[network]
inputs = 2
layers = [
  { units = 2, activation = "sigmoid" },
  { units = 1, activation = "sigmoid" },
]
loss = "half_sse"
"""

BAD_TIES = [
    ("unknown_member", 'tie = { b1 = ["b1_1", "b1_3"] }', "network.tie.b1",
     "'b1_3' is not a parameter of this network; its parameters are: w1_1_1, w1_1_2, "
     "w1_2_1, w1_2_2, b1_1, b1_2, w2_1_1, w2_1_2, b2_1"),
    ("tied_twice", 'tie = { b1 = ["b1_1", "b1_2"], c = ["b1_2", "w1_1_1"] }',
     "network.tie.c", "'b1_2' is tied twice: in network.tie.b1 and here"),
    ("name_clash", 'tie = { w1_1_1 = ["b1_1", "b1_2"] }', "network.tie.w1_1_1",
     "'w1_1_1' is already the name of a symbol of the network; a tie needs a new name"),
    ("one_member", 'tie = { b1 = ["b1_1"] }', "network.tie.b1",
     "a tie needs at least two different parameters"),
    ("listed_twice", 'tie = { b1 = ["b1_1", "b1_1", "b1_2"] }', "network.tie.b1",
     "'b1_1' is listed twice"),
    ("not_an_array", 'tie = { b1 = "b1_1" }', "network.tie.b1",
     'expected an array of parameter names, such as ["b1_1", "b1_2"]'),
    ("not_a_name", 'tie = { 1b = ["b1_1", "b1_2"] }', "network.tie.1b",
     "'1b' is not a name of letters, digits and underscores starting with a letter"),
]


@pytest.mark.parametrize("case, line, field, message", BAD_TIES, ids=[c[0] for c in BAD_TIES])
def test_bad_ties_name_the_field_and_line(case: str, line: str, field: str,
                                          message: str) -> None:
    text = BASE + line + "\n"
    with pytest.raises(SpecError) as info:
        Network.from_spec(parse_spec(text, f"{case}.toml"))
    assert (info.value.field, info.value.line) == (field, 8)
    assert str(info.value) == f"{case}.toml:8: field '{field}': {message}"


def test_shared_bias_errors() -> None:
    shared = BASE.replace('{ units = 2, activation = "sigmoid" }',
                          '{ units = 2, activation = "sigmoid", shared_bias = true }')
    with pytest.raises(SpecError) as info:  # b1_1 is shared by layer 1's b1 already
        Network.from_spec(parse_spec(shared + 'tie = { c = ["b1_1", "w1_1_1"] }\n', "s.toml"))
    assert str(info.value) == ("s.toml:8: field 'network.tie.c': 'b1_1' is tied twice: in "
                               "network.layers[0].shared_bias and here")
    no_bias = BASE.replace('"sigmoid" }', '"sigmoid", bias = false, shared_bias = true }', 1)
    with pytest.raises(SpecError) as info:
        parse_spec(no_bias, "n.toml")
    assert str(info.value) == ("n.toml:4: field 'network.layers[0].shared_bias': a layer "
                               "without a bias has none to share")
    given = shared + "[parameters]\nb1_1 = 0.1\n"
    with pytest.raises(SpecError, match=r"'b1_1' is tied: give the value of 'b1' instead"):
        Network.from_spec(parse_spec(given, "g.toml"))


def test_shared_bias_names_follow_the_naming_scheme() -> None:
    net = Network(2, [Dense(2, "tanh", shared_bias=True), Dense(1, "sigmoid", shared_bias=True)],
                  "half_sse")
    assert [str(p) for p in net.layers[0].biases] == ["b1", "b1"]
    assert [str(p) for p in net.layers[1].biases] == ["b2_1"]  # one unit: its own bias
    assert symgrad.printing.latex(net.symbol("b1"), net) == "b^{(1)}"
    assert "b1_1" not in net.symbols and dict(net.ties) == {
        net.symbol("b1"): (sp.Symbol("b1_1"), sp.Symbol("b1_2"))}


def test_the_layer_level_refuses_tied_parameters() -> None:
    with pytest.raises(SpecError) as info:
        LayerDerivation(load(SPEC).spec)  # type: ignore[arg-type]
    assert info.value.field == "network.layers[0].shared_bias"
    assert str(info.value).endswith("tied parameters are derived at the unit level only")
    code = Network(2, [Dense(2, "sigmoid")], "half_sse", ties={"b": ["b1_1", "b1_2"]})
    with pytest.raises(SpecError, match="field 'network.tie': tied parameters are derived"):
        derive_layers(code)
    r = run_cli_here("derive", SPEC, "--level", "layer")
    assert r.returncode == 2
    assert r.stderr == (f"symgrad derive: error: {SPEC}:20: field "
                        "'network.layers[0].shared_bias': tied parameters are derived at the "
                        "unit level only\n")


# -- downstream: CLI, check, export, report ----------------------------------------------

def test_cli_derive_shows_the_sum() -> None:
    r = run_cli_here("derive", SPEC, "--wrt", "b1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "∂E/∂b1 = ∂E/∂z1_1 · ∂z1_1/∂b1 + ∂E/∂z1_2 · ∂z1_2/∂b1"
    assert lines[1] == "       = delta1_1 · 1 + delta1_2 · 1"
    assert lines[3] == "       = 0.01872560939   (at the spec's values)"
    assert lines[4] == "         (b1 is shared by b1_1, b1_2: its gradient sums their contributions)"
    member = run_cli_here("derive", SPEC, "--wrt", "b1_1")
    assert member.returncode == 2
    assert member.stderr == ("symgrad derive: error: 'b1_1' is tied into 'b1': differentiate "
                             "with respect to 'b1'\n")


def test_check_a_tied_gradient() -> None:
    d = derive(load(SPEC))
    assert symgrad.check(d, "b1", "delta1_1 + delta1_2").verdict == "equal"
    assert symgrad.check(d, "b1", "delta1_1").verdict == "not equal"
    r = run_cli_here("check", SPEC, "--wrt", "b2", "--expr", "delta2_1 + delta2_2")
    assert (r.returncode, r.stdout.split(".")[0]) == (0, "dE/db2: equal")


def test_export_a_tied_network(tmp_path: Path) -> None:
    out = tmp_path / "two_two_two_grads.py"
    r = run_cli_here("export", SPEC, "-o", out)
    assert r.returncode == 0, r.stderr
    spec = importlib.util.spec_from_file_location("two_two_two_grads", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = load(SPEC)
    assert module.grad(**net.values) == compile(derive(net)).grad(**net.values)


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_report_shows_the_sum(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"two_two_two.{suffix}"
    r = run_cli_here("report", SPEC, "-o", out)
    assert r.returncode == 0, r.stderr
    body = out.read_text()
    if suffix == "md":
        assert (r"\frac{\partial E}{\partial b^{(1)}} &= \frac{\partial E}{\partial z^{(1)}_{1}}"
                r" \cdot \frac{\partial z^{(1)}_{1}}{\partial b^{(1)}} + \frac{\partial E}"
                r"{\partial z^{(1)}_{2}} \cdot \frac{\partial z^{(1)}_{2}}{\partial b^{(1)}}"
                ) in body
        assert ("$b^{(1)}$ is one parameter shared by $b^{(1)}_{1}$, $b^{(1)}_{2}$: its "
                "gradient is the sum of their contributions") in body
    assert body.count("is one parameter shared by") == 2
    assert body.count("With respect to") == 10  # each tied bias once


def test_unknown_member_is_a_key_error() -> None:
    d = derive(load(SPEC))
    with pytest.raises(UnknownNameError):
        d["b2_2"]
    assert "b2_2" not in d and "b2" in d


def test_auto_level_keeps_a_large_tied_network_at_the_unit_level(tmp_path: Path) -> None:
    import argparse

    from symgrad.cli._layers import layer_level
    from symgrad.spec import read_spec

    path = tmp_path / "wide.toml"
    path.write_text(BASE.replace("inputs = 2", "inputs = 30").replace(
        "units = 2", "units = 8, shared_bias = true"))  # 257 parameters before the tie
    args = argparse.Namespace(spec=path, level="auto", wrt=None, form="factored", latex=False)
    assert layer_level(args, read_spec(path)) is False
