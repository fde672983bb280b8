"""Regularization penalties (issue 11, item 2): ``[network] penalty = { l2 = ... }`` or
``{ l1 = ..., biases = true }``, added once to the cost, and its ``+ lambda w`` in every
output: derive, check, compile (both backends, batch and scalar), both training levels,
the layer level's matrices, the NumPy export and the reports (the torch and JAX exports:
tests/test_export_penalty.py).

Gradients are checked a second way by central differences in float64 on a cost written
here with NumPy alone, and against PyTorch's autograd and ``SGD(weight_decay=...)``.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.backends.minibatch import CompiledLayers
from symgrad.catalogue import LAMBDA
from symgrad.check import check
from symgrad.compile import compile
from symgrad.derive import derive, derive_layers
from symgrad.derive.stack import derive_stack
from symgrad.errors import CheckError, SpecError
from symgrad.export import module_source
from symgrad.network import load
from symgrad.spec import FIELDS, parse_spec
from symgrad.train import train

from .conftest import run_cli_here

TWO_NEURON = """
[network]
inputs = 1
layers = [{{ units = 1, activation = "sigmoid" }}, {{ units = 1, activation = "sigmoid" }}]
loss = "half_sse"
penalty = {penalty}
[parameters]
w1 = 0.15
b1 = 0.4
w2 = 0.45
b2 = 0.65
[data]
x1 = 0.1
T = 0.25
"""

#: 2 inputs, 3 tanh units, 2 sigmoid outputs; four samples; every weight distinct.
WIDE = """
[network]
inputs = 2
layers = [{{ units = 3, activation = "tanh" }}, {{ units = 2, activation = "sigmoid" }}]
loss = "{loss}"
penalty = {penalty}
[data]
x1 = [0.5, -1.0, 1.5, -0.5]
x2 = [-1.0, 0.5, 1.0, -1.5]
T1 = [1.0, 0.0, 1.0, 0.0]
T2 = [0.0, 1.0, 0.0, 1.0]
[training]
seed = 3
"""


def _net(text: str, path: str = "penalty.toml"):
    return load(parse_spec(text, path))


def _spec_file(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- the spec -------------------------------------------------------------------------

BAD = [
    ("{ l3 = 0.1 }", "field 'network.penalty.l3': unknown field; expected one of: l2, l1, "
                     "biases"),
    ("{ l2 = 0.1, l1 = 0.2 }", "field 'network.penalty': give one penalty kind, one of: l2, "
                               "l1 (got l2, l1)"),
    ("{ biases = true }", "field 'network.penalty': give one penalty kind, one of: l2, l1 "
                          "(got none)"),
    ("{ l2 = -0.001 }", "field 'network.penalty.l2': must be at least 0, got -0.001"),
    ("{ l1 = nan }", "field 'network.penalty.l1': expected a finite number, got nan"),
    ("{ l2 = inf }", "field 'network.penalty.l2': expected a finite number, got inf"),
    ('{ l2 = "big" }', "field 'network.penalty.l2': expected a number, got a string 'big'"),
    ("{ l2 = 0.1, biases = 1 }", "field 'network.penalty.biases': expected true or false, "
                                 "got 1"),
    ("0.001", "field 'network.penalty': expected a table, got a number"),
]


@pytest.mark.parametrize("penalty,message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_penalty_is_one_line_naming_the_field(penalty: str, message: str,
                                                     tmp_path: Path) -> None:
    text = TWO_NEURON.format(penalty=penalty)
    with pytest.raises(SpecError) as info:
        parse_spec(text, "p.toml")
    assert str(info.value) == f"p.toml:6: {message}"
    path = _spec_file(tmp_path, text)
    r = run_cli_here("derive", path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"symgrad derive: error: {path}:6: {message}\n"


def test_the_penalty_fields_are_the_catalogues_kinds() -> None:
    from symgrad.catalogue import PENALTIES

    assert set(FIELDS["network.penalty"]) == {*PENALTIES, "biases"}
    assert "penalty" in FIELDS["network"]


def test_layer_types_refuse_a_penalty() -> None:
    text = """
[network]
inputs = 2
layers = [{ units = 3, activation = "relu" }, { type = "dropout", rate = 0.5 },
          { units = 2, activation = "softmax" }]
loss = "cce"
penalty = { l2 = 0.1 }
"""
    with pytest.raises(SpecError, match=r"^p.toml:7: field 'network.penalty': a penalty is "
                                        r"taken by networks of dense layers only"):
        derive_stack(parse_spec(text, "p.toml"))


# -- the unit level: exact forms --------------------------------------------------------

def test_l2_adds_lambda_w_to_each_weight_and_not_to_the_biases() -> None:
    net = _net(TWO_NEURON.format(penalty="{ l2 = 0.01 }"))
    d = derive(net)
    T, a1, a2, w1, w2, x1 = (net.symbol(n) for n in ("T", "a1", "a2", "w1", "w2", "x1"))
    assert d["w2"].penalty == LAMBDA * w2
    assert d["w2"].factored == -(T - a2) * a2 * (1 - a2) * a1 + LAMBDA * w2
    assert d["w1"].factored == -(T - a2) * a2 * (1 - a2) * w2 * a1 * (1 - a1) * x1 \
        + LAMBDA * w1
    assert d["b2"].penalty == 0 and d["b2"].factored == -(T - a2) * a2 * (1 - a2)
    assert d.penalty_cost == LAMBDA * (w1**2 + w2**2) / 2
    # the chain rule's value 0.0570703982 (two_neuron) plus 0.01 * 0.45
    assert d.at(net.values)["w2"] == pytest.approx(0.0570703982 + 0.0045, rel=1e-9)
    assert d.at(net.values)["b2"] == pytest.approx(0.0947562809690847, rel=1e-12)
    a2 = 1 / (1 + math.exp(-(0.45 / (1 + math.exp(-(0.15 * 0.1 + 0.4))) + 0.65)))
    loss = (0.25 - a2) ** 2 / 2 + 0.01 * (0.15**2 + 0.45**2) / 2
    assert d.loss_at(net.values) == pytest.approx(loss, rel=1e-14)


def test_l1_with_biases_adds_lambda_sign_to_every_parameter() -> None:
    net = _net(TWO_NEURON.format(penalty="{ l1 = 0.01, biases = true }"))
    d = derive(net)
    for name in ("w1", "b1", "w2", "b2"):
        assert d[name].penalty == LAMBDA * sp.sign(net.symbol(name))
    assert d.penalty_cost == LAMBDA * sum(sp.Abs(net.symbol(n)) for n in ("w1", "b1", "w2",
                                                                        "b2"))


def test_terminal_derive_shows_the_term_in_the_chain(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, TWO_NEURON.format(penalty="{ l2 = 0.01 }"))
    out = run_cli_here("derive", path, "--wrt", "w2").stdout.splitlines()
    assert out == ["∂E/∂w2 = ∂E/∂a2 · ∂a2/∂z2 · ∂z2/∂w2 + lambda*w2",
                   "       = -(T - a2) · a2*(1 - a2) · a1 + lambda*w2",
                   "       = 0.0615703982   (at the spec's values)"]
    steps = run_cli_here("derive", path, "--wrt", "b2", "--form", "steps").stdout
    assert "  E += lambda*(w1**2 + w2**2)/2   (L2 penalty (weight decay), lambda/2 sum " \
           "w^2, once, lambda = 0.01)\n" in steps
    latex = run_cli_here("derive", path, "--wrt", "w2", "--latex").stdout
    assert latex == (r"\frac{\partial E}{\partial w_{2}} = a_{1} a_{2} \left(1 - a_{2}\right)"
                     r" \left(a_{2} - T\right) + \lambda w_{2}" "\n")


# -- numbers: a cost written with NumPy alone, central differences ----------------------

def _cost(P: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, loss: str, kind: str,
          lam: float, biases: bool) -> float:
    """The WIDE network's cost, by hand: tanh then sigmoid, the loss summed or averaged,
    plus the penalty once."""
    a1 = np.tanh(X @ P["W1"].T + P["b1"])
    a2 = 1 / (1 + np.exp(-(a1 @ P["W2"].T + P["b2"])))
    squares = np.sum((Y - a2) ** 2, axis=1)
    # half_sse: sum over samples of half the squares; half_mse: mean of them over 2 K
    data = squares.sum() / 2 if loss == "half_sse" else squares.mean() / (2 * Y.shape[1])
    names = ["W1", "W2"] + (["b1", "b2"] if biases else [])
    if kind == "l2":
        return data + lam / 2 * sum(np.sum(P[n] ** 2) for n in names)
    return data + lam * sum(np.sum(np.abs(P[n])) for n in names)


def _central(f, P: dict[str, np.ndarray], h: float = 1e-6) -> dict[str, np.ndarray]:
    out = {}
    for name, value in P.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in P.items()}
            minus = {k: v.copy() for k, v in P.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            g[idx] = (f(plus) - f(minus)) / (2 * h)
        out[name] = g
    return out


CASES = [("half_sse", "l2", 0.3, False), ("half_mse", "l2", 0.05, True),
         ("half_sse", "l1", 0.2, False), ("half_mse", "l1", 0.1, True)]


@pytest.mark.parametrize("loss,kind,lam,biases", CASES,
                         ids=[f"{c[0]}-{c[1]}-biases{c[3]}" for c in CASES])
def test_every_level_and_backend_equals_central_differences(loss: str, kind: str, lam: float,
                                                             biases: bool) -> None:
    penalty = f"{{ {kind} = {lam}, biases = {'true' if biases else 'false'} }}"
    net = _net(WIDE.format(loss=loss, penalty=penalty))
    arrays = net.to_arrays()
    X = np.column_stack([net.values["x1"], net.values["x2"]])
    Y = np.column_stack([net.values["T1"], net.values["T2"]])
    want = _central(lambda P: _cost(P, X, Y, loss, kind, lam, biases), arrays)
    cost = _cost(arrays, X, Y, loss, kind, lam, biases)
    d = derive(net)
    assert d.loss_at(net.values) == pytest.approx(cost, rel=1e-12)
    exact = net.to_arrays(d.at(net.values))
    layers = CompiledLayers(derive_layers(net))
    layer_loss, layer_grads = layers.value_and_grad(**arrays, x=X, y=Y)
    assert layer_loss == pytest.approx(cost, rel=1e-12)
    for backend in ("numpy", "c"):
        loss_value, grads = compile(d, backend=backend).value_and_grad(**net.values)
        assert loss_value == pytest.approx(cost, rel=1e-12)
        unit = net.to_arrays(grads)
        for name in want:
            # central differences with h = 1e-6: error h^2 f''' ~ 1e-12 plus rounding
            # eps * E / h ~ 1e-10 (E < 2). L1: every weight is far from its kink (|w| > 0.01),
            # the biases start at 0, where (|h| - |-h|) / 2h = 0 is the convention sign(0) = 0
            np.testing.assert_allclose(unit[name], want[name], rtol=1e-7, atol=1e-9)
            # the levels and backends agree with the exact (30-digit) values to rounding
            np.testing.assert_allclose(unit[name], exact[name], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(layer_grads[name], exact[name], rtol=1e-12,
                                       atol=1e-15)


def test_one_sample_scalar_kernels_include_the_penalty() -> None:
    net = _net(TWO_NEURON.format(penalty="{ l1 = 0.01, biases = true }"))
    d = derive(net)
    f = compile(d)
    args = [net.values[a] for a in f.arguments]
    exact = d.at(net.values)
    assert f.grad_scalar(*args) == pytest.approx([exact[p] for p in f.parameters], rel=1e-13)
    assert f.loss_scalar(*args) == pytest.approx(d.loss_at(net.values), rel=1e-13)
    # the batch path (an array of one sample) adds it once after the sums, the same numbers
    batch = {**net.values, "x1": np.array([0.1]), "T": np.array([0.25])}
    assert [float(v) for v in f.grad(**batch).values()] == pytest.approx(
        list(f.grad_scalar(*args)), rel=1e-14)


def test_l1_at_a_weight_of_zero_adds_nothing_at_either_level() -> None:
    text = TWO_NEURON.format(penalty="{ l1 = 0.5 }").replace("w2 = 0.45", "w2 = 0.0")
    net = _net(text)
    plain = _net(text.replace("penalty = { l1 = 0.5 }\n", ""))
    with_l1, without = derive(net).at(net.values), derive(plain).at(plain.values)
    assert with_l1["w2"] == without["w2"]  # sign(0) = 0
    assert with_l1["w1"] == pytest.approx(without["w1"] + 0.5, rel=1e-14)
    layers = CompiledLayers(derive_layers(net))
    grads = layers.grad(**net.to_arrays(), x=np.array([[0.1]]), y=np.array([[0.25]]))
    assert grads["W2"][0, 0] == pytest.approx(without["w2"], rel=1e-14)


def test_the_layer_level_shows_lambda_w_in_every_weight_gradient() -> None:
    d = derive_layers(parse_spec(WIDE.format(loss="half_sse", penalty="{ l2 = 0.1 }")))
    text = d.text(unicode=False)
    assert "  dE/dW1 = delta1*x^T + lambda*W1,   dE/db1 = delta1" in text
    assert "  dE/dW2 = Delta2*A1^T + lambda*W2,   dE/db2 = Delta2*1_m" in text
    assert "  E += L2 penalty (weight decay), lambda/2 sum w^2 over W1, W2, once " \
           "(lambda = 0.1)" in text
    assert r"\frac{\partial E}{\partial W_{1}} &= \delta_{1} x^{T} + \lambda W_{1}" in \
        d.latex_lines()
    l1 = derive_layers(parse_spec(WIDE.format(loss="half_sse",
                                              penalty="{ l1 = 0.1, biases = true }")))
    assert "  dE/dW2 = delta2*a1^T + lambda*sign(W2),   dE/db2 = delta2 + lambda*sign(b2)" \
        in l1.text(unicode=False)


# -- training ---------------------------------------------------------------------------

def test_both_levels_train_alike_in_minibatch_mode() -> None:
    net = _net(WIDE.format(loss="half_mse", penalty="{ l2 = 0.05, biases = true }"))
    kw = dict(mode="minibatch", batch_size=2, epochs=3, learning_rate=0.5)
    scalar, layer = train(net, level="scalar", **kw), train(net, level="layer", **kw)
    assert scalar.loss == pytest.approx(layer.loss, rel=1e-12)
    for name, value in net.from_arrays(layer.params).items():
        assert scalar.params[name] == pytest.approx(value, rel=1e-11, abs=1e-14)
    # and the penalty made a difference: without it the weights end elsewhere
    plain = train(_net(WIDE.format(loss="half_mse", penalty="{ l2 = 0.0 }")), level="layer",
                  **kw)
    assert not np.allclose(plain.params["W1"], layer.params["W1"], rtol=1e-6)


def test_one_l2_step_equals_weight_decay_by_hand() -> None:
    """One batch step: w <- w - eta (dE/dw + lambda w) for weights, biases without."""
    lam, eta = 0.1, 0.3
    net = _net(WIDE.format(loss="half_sse", penalty=f"{{ l2 = {lam} }}"))
    plain = _net(WIDE.format(loss="half_sse", penalty="{ l2 = 0.0 }"))
    g = derive(plain).at(plain.values)
    for level in ("scalar", "layer"):
        after = train(net, level=level, iterations=1, learning_rate=eta).params
        after = after if level == "scalar" else net.from_arrays(after)
        for p in net.parameters:
            name, w = str(p), float(net.values[str(p)])
            decay = lam * w if name.startswith("w") else 0.0
            assert after[name] == pytest.approx(w - eta * (g[name] + decay), rel=1e-12,
                                                abs=1e-15)


# -- PyTorch ---------------------------------------------------------------------------

torch = None
if importlib.util.find_spec("torch") is not None:
    import torch
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _torch_cost(P, X, Y, lam: float, biases: bool):
    a1 = torch.tanh(X @ P["W1"].T + P["b1"])
    a2 = torch.sigmoid(a1 @ P["W2"].T + P["b2"])
    names = ["W1", "W2"] + (["b1", "b2"] if biases else [])
    return 0.5 * ((Y - a2) ** 2).sum() + lam / 2 * sum((P[n] ** 2).sum() for n in names)


@needs_torch
@pytest.mark.parametrize("biases", [False, True])
def test_torch_autograd_of_the_penalized_cost_agrees(biases: bool) -> None:
    lam = 0.2
    penalty = f"{{ l2 = {lam}, biases = {'true' if biases else 'false'} }}"
    net = _net(WIDE.format(loss="half_sse", penalty=penalty))
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in net.to_arrays().items()}
    X = torch.tensor(np.column_stack([net.values["x1"], net.values["x2"]]))
    Y = torch.tensor(np.column_stack([net.values["T1"], net.values["T2"]]))
    cost = _torch_cost(P, X, Y, lam, biases)
    cost.backward()
    loss, grads = compile(derive(net), backend="c").value_and_grad(**net.values)
    assert loss == pytest.approx(cost.item(), rel=1e-13)
    mine = net.to_arrays(grads)
    for name, tensor in P.items():
        np.testing.assert_allclose(mine[name], tensor.grad.numpy(), rtol=1e-12, atol=1e-15)


@needs_torch
def test_one_step_equals_torch_sgd_with_weight_decay() -> None:
    lam, eta = 0.1, 0.25
    net = _net(WIDE.format(loss="half_sse", penalty=f"{{ l2 = {lam} }}"))
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in net.to_arrays().items()}
    X = torch.tensor(np.column_stack([net.values["x1"], net.values["x2"]]))
    Y = torch.tensor(np.column_stack([net.values["T1"], net.values["T2"]]))
    sgd = torch.optim.SGD([{"params": [P["W1"], P["W2"]], "weight_decay": lam},
                           {"params": [P["b1"], P["b2"]], "weight_decay": 0.0}], lr=eta)
    sgd.zero_grad()
    _torch_cost(P, X, Y, 0.0, False).backward()  # the data's loss: SGD adds lambda w
    sgd.step()
    for level in ("scalar", "layer"):
        after = train(net, level=level, iterations=1, learning_rate=eta).params
        arrays = net.to_arrays(after) if level == "scalar" else after
        for name, tensor in P.items():
            np.testing.assert_allclose(arrays[name], tensor.detach().numpy(), rtol=1e-13,
                                       atol=1e-15)


# -- check --expr -------------------------------------------------------------------------

def test_check_passes_with_the_term_and_names_it_when_missing(tmp_path: Path) -> None:
    net = _net(TWO_NEURON.format(penalty="{ l2 = 0.01 }"))
    d = derive(net)
    assert check(d, "w2", "-(T - a2)*a2*(1 - a2)*a1 + lambda*w2").verdict == "equal"
    assert check(d, "w2", r"-(T-a_2)\,a_2(1-a_2)a_1 + \lambda w_2", latex=True).verdict \
        == "equal"
    r = check(d, "w2", "-(T - a2)*a2*(1 - a2)*a1")
    assert (r.verdict, r.kind) == ("not equal", "missing_path")  # a term of the sum
    assert r.diagnosis == ("Your expression leaves out the penalty's term lambda*w2 (the L2 "
                           "penalty (weight decay), lambda/2 sum w^2, lambda = 0.01).")
    path = _spec_file(tmp_path, TWO_NEURON.format(penalty="{ l1 = 0.01 }"))
    ok = run_cli_here("check", path, "--wrt", "w1", "--expr",
                      "-(T - a2)*a2*(1 - a2)*w2*a1*(1 - a1)*x1 + lambda*sign(w1)")
    assert ok.returncode == 0 and ok.stdout.startswith("dE/dw1: equal.")


def test_check_takes_a_sympy_expression_with_lambda() -> None:
    """A gradient as SymPy gives it (``d[name].factored`` holds the symbol lambda) is
    checked as its text is; a lambda of other assumptions is not the network's."""
    d = derive(_net(TWO_NEURON.format(penalty="{ l1 = 0.01 }")))
    assert [check(d, p, d[p].factored).verdict for p in ("w1", "w2")] == ["equal"] * 2
    r = check(d, "w2", d["w2"].factored - d["w2"].penalty)
    assert (r.verdict, r.kind) == ("not equal", "missing_path")
    with pytest.raises(CheckError, match=r"^the expression's symbol lambda is not the "
                                         r"network's: it has other assumptions;"):
        check(d, "w2", d["w2"].factored.subs(LAMBDA, sp.Symbol("lambda", positive=True)))


def test_lambda_and_sign_are_unknown_without_a_penalty(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, TWO_NEURON.format(penalty="{ l2 = 0.01 }").replace(
        "penalty = { l2 = 0.01 }\n", ""))
    r = run_cli_here("check", path, "--wrt", "w2", "--latex-expr", r"a_1 + \lambda w_2")
    assert r.returncode == 2
    assert r.stderr.startswith("symgrad check: error: --latex-expr: LaTeX command '\\lambda' "
                               "at column 7 is not allowed; allowed: \\cdot, \\delta,")
    r = run_cli_here("check", path, "--wrt", "w2", "--expr", "a1 + sign(w2)")
    assert r.returncode == 2 and "unknown name 'sign' at column 6" in r.stderr


# -- export and reports ---------------------------------------------------------------

@pytest.mark.parametrize("text", [
    WIDE.format(loss="half_mse", penalty="{ l1 = 0.1, biases = true }"),  # the batch sums
    TWO_NEURON.format(penalty="{ l1 = 0.01 }")],  # one sample: the scalar functions
    ids=["batch", "scalar"])
def test_the_numpy_export_adds_the_penalty_once(text: str, tmp_path: Path) -> None:
    net = _net(text)
    f = compile(derive(net))
    path = tmp_path / "exported_penalty.py"
    path.write_text(module_source(f))
    spec = importlib.util.spec_from_file_location("exported_penalty", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["exported_penalty"] = module
    try:
        spec.loader.exec_module(module)
        loss, grads = module.value_and_grad(**net.values)
    finally:
        del sys.modules["exported_penalty"]
    want_loss, want = f.value_and_grad(**net.values)
    assert loss == want_loss  # the same code, to the last bit
    assert grads == want
    exact = derive(net).at(net.values)
    assert list(grads.values()) == pytest.approx([exact[p] for p in grads], rel=1e-12)


def test_reports_show_the_cost_and_each_term(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, TWO_NEURON.format(penalty="{ l2 = 0.01 }"))
    out = tmp_path / "r.md"
    assert run_cli_here("report", path, "-o", out).returncode == 0
    md = out.read_text()
    assert (r"$$E = \frac{\left(T - a_{2}\right)^{2}}{2} + \frac{\lambda \left(w_{1}^{2} + "
            r"w_{2}^{2}\right)}{2}, \qquad \lambda = 0.01$$") in md
    assert (r" &= -\left(T - a_{2}\right) \cdot a_{2} \left(1 - a_{2}\right) \cdot a_{1} + "
            r"\lambda w_{2} \\") in md
    assert r"- $\frac{\partial}{\partial w_{2}} \frac{\lambda}{2} \sum w^{2} = \lambda " \
           r"w_{2}$: the derivative of the penalty" in md
    # several samples: the term stands once, after the sum over them, in every row
    wide = _spec_file(tmp_path, WIDE.format(loss="half_sse", penalty="{ l2 = 0.1 }"), "w.toml")
    assert run_cli_here("report", wide, "-o", tmp_path / "w.md").returncode == 0
    rows = [line for line in (tmp_path / "w.md").read_text().splitlines()
            if r"\right]_{i}" in line and r"w^{(2)}_{1,1}" in line]
    assert len(rows) >= 3
    assert all(line.rstrip(" \\").endswith(r"\right]_{i} + \lambda w^{(2)}_{1,1}")
               for line in rows[:3]), rows[:3]


def test_dask_data_gets_the_penalty_once_too() -> None:
    da = pytest.importorskip("dask.array")
    net = _net(WIDE.format(loss="half_mse", penalty="{ l1 = 0.1, biases = true }"))
    chunked = {k: da.from_array(np.asarray(v), chunks=2) if k[0] in "xT" else v
               for k, v in net.values.items()}
    exact = derive(net).at(net.values)
    for backend in ("numpy", "c"):
        grads = compile(derive(net), backend=backend).grad(**chunked)  # two chunks of two
        assert [float(grads[p]) for p in exact] == pytest.approx(list(exact.values()),
                                                                 rel=1e-12, abs=1e-15)
