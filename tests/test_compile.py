"""Compiled gradients: against the symbolic ones, central differences and a hand-written
NumPy backprop; reductions, dtypes, the scalar path and argument errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.compile import KERNELS, CompiledNetwork, compile
from symgrad.derive import derive
from symgrad.errors import ArgumentError, CompileError
from symgrad.network import Dense, Network, load

from .conftest import ALL_SPECS
from .test_native import SUM_ULPS, summand_scales


def _point(net: Network) -> dict[str, object]:
    """The spec's values; inputs and targets it takes from a data source are drawn here
    (one sample, seeded, to keep the 30-digit reference quick; one-hot targets for a loss
    on probabilities)."""
    values: dict[str, object] = dict(net.values)
    rng = np.random.default_rng(0)
    if not all(str(s) in values for s in net.inputs + net.targets):
        for s in net.inputs:
            values[str(s)] = rng.normal(size=1)
        labels = rng.integers(0, len(net.targets), size=1)
        for k, s in enumerate(net.targets):
            values[str(s)] = ((labels == k).astype(float) if net.loss.needs_probabilities
                              else rng.normal(size=1))
    return values


@pytest.fixture(scope="module", params=ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def spec(request: pytest.FixtureRequest) -> tuple[dict[str, object], CompiledNetwork]:
    net = load(request.param)
    return _point(net), compile(derive(net))


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def _some(names: tuple[str, ...]) -> tuple[str, ...]:
    """Every parameter, or a seeded sample of 60 for a large network."""
    if len(names) <= 60:
        return names
    return tuple(str(n) for n in np.random.default_rng(0).choice(names, 60, replace=False))


def test_gradients_equal_the_symbolic_ones(spec: tuple[dict[str, object], CompiledNetwork]) \
        -> None:
    values, f = spec
    d = f.derivation
    points = d.evaluate(values)  # every intermediate per sample, evalf at 30 digits
    compiled = f.grad(**values)
    assert list(compiled) == list(f.parameters)
    for name in _some(f.parameters):
        want = sum(float(d[name].delta_form.xreplace(p)) for p in points)
        want /= len(points) if f.mean else 1
        want += _once(d[name].penalty, f, points[0])
        assert float(compiled[name]) == pytest.approx(want, rel=1e-12, abs=1e-16), name
    loss = sum(float(f.network.error.xreplace({k: sp.Float(v, 30) for k, v in p.items()})
                     .evalf(30)) for p in points) / (len(points) if f.mean else 1)
    loss += _once(d.penalty_cost, f, points[0])
    assert _rel(float(f.loss(**values)), loss) <= 1e-13


def _once(term: sp.Expr, f: CompiledNetwork, point: dict[sp.Symbol, object]) -> float:
    """A penalty's term (its cost, or its term in a gradient) at the parameters of
    ``point``, lambda a number: added once, after the reduction (0 without a penalty)."""
    penalty = f.network.penalty
    return 0.0 if penalty is None else float(term.xreplace(penalty.values).xreplace(point))


def test_gradients_agree_with_central_differences(
        spec: tuple[dict[str, object], CompiledNetwork]) -> None:
    values, f = spec
    grads = f.grad(**values)
    for name in _some(f.parameters):
        h = 1e-6 * max(1.0, abs(values[name]))
        up, down = dict(values), dict(values)
        up[name] = values[name] + h
        down[name] = values[name] - h
        numeric = (float(f.loss(**up)) - float(f.loss(**down))) / (2 * h)
        assert float(grads[name]) == pytest.approx(numeric, rel=1e-6, abs=1e-9), name


def test_scalar_path_matches_the_batch_path() -> None:
    net = load("derivations/deep_sigmoid_chain.toml")
    f = compile(derive(net))
    args = [float(net.values[a]) for a in f.arguments]
    batch = f.grad(**net.values)
    scalar = f.grad_scalar(*args)
    assert all(isinstance(g, float) for g in scalar)
    for name, got in zip(f.parameters, scalar):
        assert _rel(got, float(batch[name])) <= 1e-14
    loss, *grads = f.value_and_grad_scalar(*args)
    assert _rel(loss, float(f.loss(**net.values))) <= 1e-14
    assert list(grads) == list(scalar)
    assert f.loss_scalar(*args) == loss


def test_named_calls_on_python_numbers_take_the_scalar_kernels() -> None:
    f, values = _two_neuron()
    floats = {k: float(v) for k, v in values.items()}  # type: ignore[arg-type]
    grads = f.grad(**floats)
    loss, both = f.value_and_grad(**floats)
    assert f.loss(**floats) == loss
    assert set(f._kernels) == {"grad_scalar", "value_and_grad_scalar", "loss_scalar"}
    assert all(type(g) is float for g in [loss, *grads.values()])
    assert grads == both
    # the course's values (tests/test_report.py derives them by hand)
    assert grads["w2"] == pytest.approx(0.05707039820105494, rel=1e-14)
    assert loss == pytest.approx(0.1082295629890061, rel=1e-14)
    batch = compile(f.derivation).grad(**{k: np.array([v]) for k, v in floats.items()})
    for name, g in grads.items():
        assert _rel(g, float(batch[name])) <= 1e-14
    assert f.grad(**{**floats, "x1": 1}) == f.grad(**{**floats, "x1": 1.0})  # ints too


@pytest.mark.parametrize("change", [{"x1": np.float64(0.1)}, {"T": [0.25]}, {"w1": True}],
                         ids=["numpy-scalar", "list", "bool"])
def test_anything_but_python_numbers_takes_the_batch_path(change: dict[str, object]) -> None:
    f, values = _two_neuron()
    values.update(change)
    try:
        f.grad(**values)
    except ArgumentError:
        pass  # a bool is refused, by the batch path's own message
    assert "grad_scalar" not in f._kernels and "grad_sums" in f._kernels


def test_float32_c_and_out_of_range_numbers_take_the_batch_path() -> None:
    f, values = _two_neuron()
    f32 = compile(f.derivation, dtype=np.float32)
    f32.grad(**values)
    assert "grad_scalar" not in f32._kernels
    c = compile(f.derivation, backend="c")  # the C loop, as asked, even on one sample
    c.grad(**values)
    assert "grad_scalar" not in c._kernels and "grad_sums" in c._loops
    # (T - a2)**2 at T = 1e200 overflows a Python float (OverflowError) where NumPy gives
    # inf: the call falls back to the batch path and answers as it always did
    huge = {**values, "T": 1e200}
    with np.errstate(over="ignore"):
        assert f.loss(**huge) == np.inf
    assert {"loss_scalar", "loss_sums"} <= set(f._kernels)


def test_two_neuron_values_of_the_course() -> None:
    net = load("derivations/two_neuron.toml")
    f = compile(derive(net))
    forward = f.forward(**net.values)
    assert list(forward) == ["z1", "a1", "z2", "a2"]
    assert float(forward["z1"]) == pytest.approx(0.415, rel=1e-15)
    assert float(forward["a2"]) == pytest.approx(0.7152516802527555, rel=1e-14)
    loss, grads = f.value_and_grad(**net.values)
    assert float(loss) == pytest.approx(0.1082295629890061, rel=1e-14)
    assert float(grads["w2"]) == pytest.approx(0.05707039820105494, rel=1e-14)


def test_linear_cost_sums_over_samples() -> None:
    net = load("derivations/linear_cost.toml")
    f = compile(derive(net))
    # J = sum (z - w x)^2 and dJ/dw = 2 sum x (w x - z) = 1.1 (w - 2) on these points
    assert float(f.grad(**net.values)["w"]) == pytest.approx(1.1 * (0.2 - 2), rel=1e-14)
    assert float(f.loss(**net.values)) == pytest.approx(0.55 * 1.8**2, rel=1e-14)


def test_mean_reduction_divides_by_the_sample_count() -> None:
    net = load("derivations/small_mlp.toml")  # cce, a mean
    f = compile(derive(net))
    each = []
    for s in range(4):
        one = {k: (v[s] if isinstance(v, np.ndarray) else v) for k, v in net.values.items()}
        each.append(float(f.loss(**one)))
    assert float(f.loss(**net.values)) == pytest.approx(sum(each) / 4, rel=1e-15)


def test_blocks_of_a_large_batch_add_up() -> None:
    f = compile(derive(Network(1, [Dense(1, "sigmoid"), Dense(1, "sigmoid")], "half_sse")))
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=20001), rng.uniform(size=20001)
    params = {"w1": 0.3, "b1": -0.2, "w2": 1.5, "b2": 0.1}
    whole = f.grad(x1=x, T=t, **params)
    parts = [f.grad(x1=x[i:i + 5000], T=t[i:i + 5000], **params) for i in range(0, 20001, 5000)]
    scales = dict(zip(f.parameters, summand_scales(f, {"x1": x, "T": t, **params})[1:]))
    for name in whole:  # the gradients cancel: bound by their summands, not by the sum
        added = sum(float(p[name]) for p in parts)
        assert abs(float(whole[name]) - added) <= SUM_ULPS * np.finfo(float).eps * scales[name]


def test_float32_is_kept_and_float64_is_the_default() -> None:
    f = compile(derive(Network(1, [Dense(2, "tanh"), Dense(1, "sigmoid")], "bce")))
    params = {p: 0.1 * (k + 1) for k, p in enumerate(f.parameters)}
    x = np.linspace(-2, 2, 7)
    t = (x > 0).astype(np.float64)
    g64 = f.grad(x1=x, T=t, **params)
    g32 = f.grad(x1=x.astype(np.float32), T=t.astype(np.float32), **params)
    assert all(v.dtype == np.float64 for v in g64.values())
    assert all(v.dtype == np.float32 for v in g32.values())
    assert f.forward(x1=x.astype(np.float32), T=t, **params)["a2_1"].dtype == np.float64
    assert f.forward(x1=x.astype(np.float32), T=t.astype(np.float32), **params)["a2_1"].dtype \
        == np.float32
    for name in g64:
        assert float(g32[name]) == pytest.approx(float(g64[name]), rel=1e-4, abs=1e-6)


def test_forward_broadcasts_scalars_over_the_batch() -> None:
    f = compile(derive(Network(1, [Dense(1, "relu")], "half_sse")))
    out = f.forward(x=2.0, T=np.array([1.0, 2.0, 3.0]), w=-1.0, b=0.5)
    assert out["z"].tolist() == [-1.5] * 3
    assert out["a"].tolist() == [0.0] * 3


def test_generated_code_grows_linearly_with_depth() -> None:
    def lines(depth: int) -> int:
        net = Network(1, [Dense(1, "sigmoid")] * depth, "half_sse")
        return len(compile(derive(net)).source("grad_sums").splitlines())

    # each sigmoid layer adds 9 lines: w and b in the docstring, z, a_e, a_r, a_s, a, a_d,
    # delta; the output layer 2 more, its complement 1 - a (for a - T from z) and the
    # condition it shares with a
    assert [lines(d) for d in (4, 8, 16, 32)] == [16 + 9 * d for d in (4, 8, 16, 32)]


def test_kernels_have_docstrings_listing_arguments_in_order() -> None:
    f = compile(derive(load("derivations/two_neuron.toml")))
    for name in KERNELS:
        source = f.source(name)
        assert source.startswith(f"def {name}(x1, T, w1, b1, w2, b2")
    doc = f.kernel("grad_sums").__doc__ or ""
    assert doc.index("x1 :") < doc.index("T :") < doc.index("w1 :") < doc.index("b2 :")
    assert "dE/dw1, dE/db1, dE/dw2, dE/db2" in doc


def _two_neuron() -> tuple[CompiledNetwork, dict[str, object]]:
    net = load("derivations/two_neuron.toml")
    return compile(derive(net)), dict(net.values)


@pytest.mark.parametrize("change, message", [
    ({"x1": "abc"}, "value of 'x1' is not numeric: 'abc'"),
    ({"T": [0.1, "b"]}, "value of 'T' is not numeric: [0.1, 'b']"),
    ({"T": True}, "value of 'T' is not numeric: True"),
    ({"x1": [1.0, 2.0], "T": [1.0, 2.0, 3.0]},
     "'T' has 3 samples but 'x1' has 2; the shapes cannot broadcast"),
    ({"x1": np.ones((2, 2))}, "value of 'x1' has shape (2, 2); expected a number or a 1-D "
                              "array of samples"),
    ({"w1": [1.0, 2.0]}, "parameter 'w1' takes one number, got an array of shape (2,)"),
    ({"x1": []}, "value of 'x1' has no samples"),
    ({"q": 1.0}, "unknown argument 'q'; the arguments are: x1, T, w1, b1, w2, b2"),
], ids=["string", "mixed-list", "bool", "broadcast", "2-D", "array-parameter", "empty",
        "unknown"])
def test_bad_arguments_name_the_argument(change: dict[str, object], message: str) -> None:
    f, values = _two_neuron()
    values.update(change)
    for call in (f.grad, f.loss, f.forward, f.value_and_grad):
        with pytest.raises(ArgumentError) as info:
            call(**values)
        assert str(info.value) == message


def test_missing_argument() -> None:
    f, values = _two_neuron()
    del values["b2"]
    with pytest.raises(ArgumentError, match=r"^missing value for 'b2'$"):
        f.grad(**values)


# -- an independent implementation: hand-written NumPy backprop -----------------------------

def _hand_backprop(net: Network, values: dict[str, np.ndarray | float]) -> dict[str, float]:
    """Matrix backprop written from the textbook, sharing nothing with symgrad's code."""
    x = np.stack([np.asarray(values[str(s)], dtype=float) for s in net.inputs])  # (in, n)
    t = np.stack([np.asarray(values[str(s)], dtype=float) for s in net.targets])
    acts, pres, mats = [x], [], []
    for layer in net.layers:
        W = np.array([[values[str(w)] for w in row] for row in layer.weights])
        b = np.array([values[str(v)] for v in layer.biases])[:, None]
        z = W @ acts[-1] + b
        name = layer.activation.name
        if name == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif name == "tanh":
            a = np.tanh(z)
        elif name == "relu":
            a = np.maximum(z, 0)
        else:  # softmax over units
            e = np.exp(z - z.max(axis=0))
            a = e / e.sum(axis=0)
        mats.append(W)
        pres.append(z)
        acts.append(a)
    n = x.shape[1]
    delta = (acts[-1] - t) / n  # softmax + cross-entropy, mean over samples
    grads: dict[str, float] = {}
    for l in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[l]
        gw = delta @ acts[l].T
        gb = delta.sum(axis=1)
        for i, row in enumerate(layer.weights):
            for j, w in enumerate(row):
                grads[str(w)] = gw[i, j]
            grads[str(layer.biases[i])] = gb[i]
        if l:
            a = acts[l]
            name = net.layers[l - 1].activation.name
            slope = {"sigmoid": a * (1 - a), "tanh": 1 - a**2,
                     "relu": (pres[l - 1] > 0).astype(float)}[name]
            delta = (mats[l].T @ delta) * slope
    return grads


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_hand_written_numpy_backprop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = Network(3, [Dense(4, "sigmoid"), Dense(3, "tanh"), Dense(4, "relu"),
                      Dense(3, "softmax")], "cce")
    values: dict[str, np.ndarray | float] = {str(p): float(rng.normal()) for p in net.parameters}
    n = 40
    for s in net.inputs:
        values[str(s)] = rng.normal(size=n)
    labels = rng.integers(0, 3, size=n)
    for k, s in enumerate(net.targets):
        values[str(s)] = (labels == k).astype(float)
    got = compile(derive(net)).grad(**values)
    want = _hand_backprop(net, values)
    assert set(got) == set(want)
    for name in want:
        assert float(got[name]) == pytest.approx(want[name], rel=1e-10, abs=1e-13), name


def test_compile_module_is_the_only_caller_of_lambdify() -> None:
    root = Path(__file__).resolve().parents[1] / "symgrad"
    callers = sorted(p.name for p in root.rglob("*.py") if "lambdify(" in p.read_text())
    assert callers == ["compile.py"]


ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "silu", "gelu",
               "binary_step", "linear"]


@pytest.mark.parametrize("activation", ELEMENTWISE)
def test_every_activation_in_a_network_matches_the_symbolic_gradients(activation: str) -> None:
    net = Network(2, [Dense(3, activation), Dense(1, "sigmoid")], "bce")
    rng = np.random.default_rng(11)
    values: dict[str, object] = {str(p): float(rng.normal()) for p in net.parameters}
    values.update(x1=rng.normal(size=3) * 3, x2=rng.normal(size=3) * 3,
                  T=np.array([0.0, 1.0, 1.0]))
    f = compile(derive(net))
    symbolic = f.derivation.at(values)
    for name, got in f.grad(**values).items():
        assert float(got) == pytest.approx(symbolic[name], rel=1e-12, abs=1e-15), name
    assert float(f.loss(**values)) == pytest.approx(f.derivation.loss_at(values), rel=1e-13)


def test_float32_default_dtype_and_bad_dtype() -> None:
    d = derive(load("derivations/two_neuron.toml"))
    g = compile(d, dtype=np.float32).grad(x1=0.1, T=0.25, w1=0.15, b1=0.4, w2=0.45, b2=0.65)
    assert all(v.dtype == np.float32 for v in g.values())
    assert float(g["w2"]) == pytest.approx(0.05707039820105494, rel=1e-6)
    with pytest.raises(CompileError, match=r"^dtype must be float32 or float64, not int64$"):
        compile(d, dtype=np.int64)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_binary_cross_entropy_on_softmax_matches_the_symbolic_gradients(backend: str) -> None:
    """The output deltas are compiled from a rearranged form (no 1/a): same values."""
    net = Network(2, [Dense(3, "tanh"), Dense(3, "softmax")], "bce")
    d = derive(net)
    f = compile(d, backend=backend)
    rng = np.random.default_rng(11)
    for hot in range(3):
        values = {str(s): float(rng.normal()) for s in net.inputs + net.parameters}
        values.update({str(t): float(k == hot) for k, t in enumerate(net.targets)})
        got = f.grad(**values)
        want = d.at(values)
        for name in f.parameters:
            assert float(got[name]) == pytest.approx(float(want[name]), rel=1e-11), name


def test_a_notebook_displays_a_compiled_network_as_a_table() -> None:
    f, _ = _two_neuron()
    html = f._repr_html_()
    root = ET.fromstring(html)  # well-formed
    cells = {tr[0].text: tr[1].text for tr in root.iter("tr")}
    assert cells == {"network": "Network(1 -> 1 sigmoid -> 1 sigmoid; loss half_sse)",
                     "inputs and targets": "x1, T", "parameters": "w1, b1, w2, b2",
                     "backend": "numpy, float64",
                     "by name": "forward, loss, grad, value_and_grad",
                     "positional": "loss_scalar, grad_scalar, value_and_grad_scalar"}
