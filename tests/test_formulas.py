"""Formula-defined activations and losses, checked over the corpus of tests/formula_corpus.py:
the derivative against central differences and PyTorch, the NumPy and C code against each
other and against mpmath; the conventions at kinks, the own-output forms, the scoping of
a spec's entries, and the refusal of bad formulas."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.analysis.accuracy import TOLERANCE, sweep
from symgrad.architecture import Architecture
from symgrad.catalogue import ACTIVATIONS
from symgrad.check.tables import FUNCTIONS
from symgrad.compile import activation_kernel
from symgrad.native import FusedLoop
from symgrad.spec import parse_spec

from .formula_corpus import ACTIVATIONS as CORPUS, LOSSES, Record, network_spec, spec_of

try:
    import torch
except ImportError:  # pragma: no cover - the torch extra is optional
    torch = None

IDS = [r.name for r in CORPUS]


def entry_of(record: Record):
    spec = parse_spec(network_spec(record.name, extra=spec_of(record)), f"{record.name}.toml")
    return Architecture.from_spec(spec).formula_activations[record.name]


def away_from_kinks(record: Record, zs: np.ndarray, margin: float) -> np.ndarray:
    keep = np.ones(zs.shape, bool)
    for k in record.kinks:
        keep &= np.abs(zs - k) > margin
    return zs[keep]


def test_the_corpus_has_fifteen_formulas_or_more() -> None:
    assert len(CORPUS) + len(LOSSES) >= 15


@pytest.mark.parametrize("record", CORPUS, ids=IDS)
def test_derivative_matches_central_differences(record: Record) -> None:
    """The compiled slope against (f(z + h) - f(z - h)) / 2h of the compiled value."""
    kernel = activation_kernel(entry_of(record), **record.params)
    zs = away_from_kinks(record, np.random.default_rng(0).uniform(-30, 30, 400), 1e-3)
    h = 1e-6 * np.maximum(1.0, np.abs(zs))
    value_up, value_down = kernel(zs + h)[0], kernel(zs - h)[0]
    slope = kernel(zs)[1]
    central = (value_up - value_down) / (2 * h)
    # the difference quotient's rounding error is eps |f| / h; its truncation error h^2 f'''
    bound = 1e-6 * (np.abs(slope) + np.abs(value_up) + 1e-3)
    assert np.all(np.abs(central - slope) <= bound), record.name


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the torch extra)")
@pytest.mark.parametrize("record", CORPUS, ids=IDS)
def test_derivative_matches_torch_autograd(record: Record) -> None:
    """The compiled value and slope against torch's, written independently from the textbook."""
    kernel = activation_kernel(entry_of(record), **record.params)
    zs = away_from_kinks(record, np.random.default_rng(1).uniform(-20, 20, 500), 1e-6)
    x = torch.tensor(zs, dtype=torch.float64, requires_grad=True)
    y = record.torch_f(torch, x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    value, slope = kernel(zs)
    # torch computes the textbook form as written (1 + tanh(u) in GELU cancels): its
    # rounding error is eps times the size of the terms, at most |z|^3 here
    size = 1e-15 * (1 + np.abs(zs)) ** 3
    assert np.all(np.abs(value - y.detach().numpy()) <= 1e-9 * np.abs(value) + size)
    assert np.all(np.abs(slope - grad.numpy()) <= 1e-9 * np.abs(slope) + size)


def c_values(entry, record: Record, zs: np.ndarray) -> np.ndarray:
    """Value and slope per point from the C loop (one call per point: the loop sums)."""
    z, a = sp.Symbol("z"), sp.Symbol("a")
    forms = entry.stable_forms(z, a, **record.params)
    loop = FusedLoop(f"formula_{record.name}", "value and slope", data=(z,), parameters=(),
                     body=forms.assignments, outputs=[a, forms.roles[(a, "slope")]])
    return np.array([loop([float(v)], 1) for v in zs])


@pytest.mark.parametrize("record", CORPUS, ids=IDS)
def test_numpy_and_c_agree_on_1e5_points_without_warnings(record: Record) -> None:
    entry = entry_of(record)
    zs = np.linspace(-700.0, 700.0, 100_000)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value, slope = activation_kernel(entry, **record.params)(zs)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(slope)), record.name
    c = c_values(entry, record, zs)
    np.testing.assert_allclose(c[:, 0], value, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(c[:, 1], slope, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("record", CORPUS, ids=IDS)
def test_within_1e_10_of_mpmath_over_the_whole_range(record: Record) -> None:
    result = sweep(entry_of(record), record.params, points=601)
    assert result.nonfinite is None and result.holds == 700.0, (record.name, result)
    assert result.worst <= TOLERANCE, (record.name, result)


@pytest.mark.parametrize("name, at, slope", [
    ("hard_sigmoid", 2.5, 0.0),      # where(u, x, y) takes y's slope at u = 0
    ("hard_sigmoid", -2.5, 0.0),
    ("hard_sigmoid", 0.0, 0.2),
    ("hard_tanh", 1.0, 0.5),         # min(1, z) at a tie: the mean of 0 and 1
    ("softsign", 0.0, 1.0),          # sign(0) = 0
    ("selu", 0.0, 1.0507009873554805 * 1.6732632423543772),  # z > 0 is strict: left slope
])
def test_conventions_at_kinks(name: str, at: float, slope: float) -> None:
    record = next(r for r in CORPUS if r.name == name)
    entry = entry_of(record)
    assert entry.kinked
    assert float(activation_kernel(entry, **record.params)(np.array([at]))[1][0]) == \
        pytest.approx(slope, rel=1e-15)


def test_kink_conventions_are_stated() -> None:
    by_name = {r.name: entry_of(r) for r in CORPUS}
    assert by_name["softsign"].kink == "|u|' = sign(u), taken as 0 at u = 0"
    assert by_name["hard_tanh"].kink == ("max and min take the mean of their arguments' "
                                         "slopes at a tie (H(0) = 1/2, as jax.lax.max)")
    assert by_name["hard_sigmoid"].kink == ("where(u, x, y) takes the slope of y at u = 0 "
                                            "(u > 0 is strict)")
    assert by_name["mish"].kink == "smooth everywhere" and not by_name["mish"].kinked


def test_derivatives_in_the_own_output_where_sympy_finds_one() -> None:
    z, a = sp.Symbol("z"), sp.Symbol("a")
    by_name = {r.name: (entry_of(r), r.params) for r in CORPUS}
    swish, params = by_name["swish_beta"]
    assert str(swish.local(z, a, **params)) == "3*a*(1 - sigmoid(3*z/2))/2 + sigmoid(3*z/2)"
    scaled, _ = by_name["scaled_tanh"]
    assert scaled.local(z, a) == sp.Rational(17159, 15000) - sp.Rational(20000, 51477) * a**2
    mish, _ = by_name["mish"]  # no own-output form: f' as SymPy derives it
    assert str(mish.local(z, a)) == \
        "z*(1 - tanh(softplus(z))**2)*sigmoid(z) + tanh(softplus(z))"


def test_ranges_where_sympy_finds_them() -> None:
    by_name = {r.name: entry_of(r) for r in CORPUS}
    assert by_name["scaled_tanh"].range == "(-1.7159, 1.7159)"
    assert by_name["gaussian"].range == "(0, 1]"
    assert by_name["mish"].range == "unknown"


def test_entries_are_scoped_to_their_spec() -> None:
    """Two specs may define one name differently; neither joins the global catalogue."""
    first = parse_spec(network_spec("act", extra='[activations.act]\nformula = "2 z"'))
    second = parse_spec(network_spec("act", extra='[activations.act]\nformula = "z^3"'))
    one = Architecture.from_spec(first).layers[0].activation
    two = Architecture.from_spec(second).layers[0].activation
    z = sp.Symbol("z")
    assert one.function(z).diff(z) == 2 and two.function(z).diff(z) == 3 * z**2
    assert "act" not in ACTIVATIONS and "act" not in FUNCTIONS


def test_a_given_derivative_that_is_right_is_accepted() -> None:
    extra = '[activations.sq]\nformula = "z^2 + sigmoid(z)"\n' \
            'derivative = "2 z + sigmoid(z) (1 - sigmoid(z))"'
    arch = Architecture.from_spec(parse_spec(network_spec("sq", extra=extra)))
    assert arch.layers[0].activation.name == "sq"


def run_cli(tmp_path: Path, extra: str, activation: str = "bad") -> subprocess.CompletedProcess:
    spec = tmp_path / "bad.toml"
    spec.write_text(network_spec(activation, extra=extra))
    out = tmp_path / "out.md"
    result = subprocess.run([sys.executable, "-m", "symgrad", "report", str(spec), "-o",
                             str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and not out.exists(), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result


BAD = [
    ('[activations.bad]\nformula = "z * tanhh(z)"',
     "unknown name 'tanhh' at column 5; the network's symbols are: z; functions: sigmoid",
     "abs, min, cosh, sinh, log1p, expm1, where"),
    ('[activations.bad]\nformula = "z * (1 + z"', "'(' opened at column 5 is never closed", ""),
    ('[activations.relu]\nformula = "max(z, 0)"',
     "activation name 'relu' clashes with a built-in name", ""),
    ('[losses.mse]\nformula = "(a - T)^2"', "field 'losses.mse': loss name 'mse' clashes with "
     "a built-in name; choose another", ""),
    ('[activations.bad]\nformula = "3.5"', "formula '3.5' does not depend on z", ""),
    ('[activations.bad]\nformula = "z^2"\nderivative = "-2 z"',
     "field 'activations.bad.derivative': not equal: your derivative is the negative of "
     "bad'(z) (sign error)", ""),
    ('[activations.bad]\nformula = "z * sigmoid(z)"\nderivative = "sigmoid(z)"',
     "not equal: your derivative is missing the factor", ""),
    ('[activations.bad]\nformula = "' + "z + " * 130 + 'z"',
     "formula is 521 characters long; the limit is 500", ""),
    ('[activations.bad]\nformula = "' + "(" * 60 + "z" + ")" * 60 + '"',
     "brackets nested deeper than 50 levels at column 51", ""),
]


@pytest.mark.parametrize("extra, message, also", BAD, ids=[
    "unknown", "syntax", "clash", "loss-clash", "constant", "sign", "factor", "long", "deep"])
def test_bad_formulas_are_one_line_exit_2_nothing_written(tmp_path: Path, extra: str,
                                                         message: str, also: str) -> None:
    activation = "relu" if "activations.relu" in extra else "bad"
    result = run_cli(tmp_path, extra, activation)
    assert message in result.stderr and also in result.stderr, result.stderr
    assert "bad.toml:" in result.stderr


LOSS_IDS = [r.name for r in LOSSES]


def loss_network(record: Record, reduction: str = "sum"):
    from symgrad.network import Network
    extra = spec_of(record, "losses") + f'reduction = "{reduction}"\n'
    activation = "sigmoid" if record.name == "focal" else "none"
    return Network.from_spec(parse_spec(network_spec(activation, record.name, extra=extra)))


def loss_data(record: Record, n: int) -> dict[str, np.ndarray | float]:
    rng = np.random.default_rng(2)
    x = rng.uniform(-3, 3, n)
    target = rng.uniform(0, 1, n) if record.name == "focal" else rng.uniform(-3, 3, n)
    return {"x": x, "T": target, "w": 0.7, "b": -0.2}


def torch_grads(record: Record, data: dict, mean: bool) -> dict[str, float]:
    w = torch.tensor(data["w"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(data["b"], dtype=torch.float64, requires_grad=True)
    z = w * torch.tensor(data["x"]) + b
    a = torch.sigmoid(z) if record.name == "focal" else z
    loss = record.torch_f(torch, a, torch.tensor(data["T"]))
    loss = loss / len(data["x"]) if mean else loss
    gw, gb = torch.autograd.grad(loss, (w, b))
    return {"w": float(gw), "b": float(gb)}


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the torch extra)")
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("record", LOSSES, ids=LOSS_IDS)
def test_formula_losses_numpy_c_and_torch_agree(record: Record, reduction: str) -> None:
    from symgrad.compile import compile
    from symgrad.derive import derive
    d = derive(loss_network(record, reduction))
    data = loss_data(record, 1000)
    numpy_grads = compile(d, backend="numpy").grad(**data)
    c_grads = compile(d, backend="c").grad(**data)
    expected = torch_grads(record, data, reduction == "mean")
    for name in ("w", "b"):
        # a sum of 1000 terms of size up to 10: bounded by the summands, not the total
        assert abs(c_grads[name] - numpy_grads[name]) <= 1e-12 * 1000 * 10
        assert numpy_grads[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("record", LOSSES, ids=LOSS_IDS)
def test_formula_loss_gradient_matches_central_differences(record: Record) -> None:
    from symgrad.compile import compile
    from symgrad.derive import derive
    f = compile(derive(loss_network(record)), backend="numpy")
    data = loss_data(record, 50)
    h = 1e-6
    up, down = dict(data, b=data["b"] + h), dict(data, b=data["b"] - h)
    central = (float(f.loss(**up)) - float(f.loss(**down))) / (2 * h)
    assert float(f.grad(**data)["b"]) == pytest.approx(central, rel=1e-6, abs=1e-6)


def test_huber_is_piecewise_with_its_kink_convention() -> None:
    record = next(r for r in LOSSES if r.name == "huber")
    net = loss_network(record)
    a, t = net.outputs[0], net.targets[0]
    size = sp.Max(a - t, t - a)  # |a - T|, whose slope at 0 is the mean of 1 and -1
    expected = sp.Piecewise(((a - t) ** 2 / 2, size < 1), (size - sp.Rational(1, 2), True))
    assert net.loss.per_sample([a], [t]) == expected


EXAMPLE = Path(__file__).resolve().parents[1] / "derivations" / "mish.toml"


def test_symgrad_activations_lists_a_specs_formulas_with_their_accuracy(capsys) -> None:
    from symgrad.cli import main
    assert main(["activations", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "mish (formula: z * tanh(softplus(z)))  [mish]\n" in out
    assert "  derivative: d/dz mish(z) = z*(1 - tanh(softplus(z))**2)*sigmoid(z) + " \
           "tanh(softplus(z))\n" in out
    line = next(li for li in out.splitlines() if li.startswith("  accuracy:"))
    worst = float(line.split("worst relative error ")[1].split()[0])
    assert worst <= 1e-13 and line.endswith("over |z| <= 700 (mpmath, 50 digits)")
    assert "mish" not in ACTIVATIONS


def test_reports_state_the_measured_accuracy(tmp_path: Path) -> None:
    from symgrad.cli import main
    out = tmp_path / "r.md"
    assert main(["report", str(EXAMPLE), "-o", str(out)]) == 0
    text = out.read_text()
    assert "Compiled code against mpmath: worst relative error " in text
    assert "### mish (formula: z \\* tanh(softplus(z)))" in text


def test_a_formula_that_cannot_be_made_accurate_says_so_in_one_line() -> None:
    from symgrad.formulas import activation_entry
    cancels = activation_entry("one", "exp(z) - exp(z) * (1 - exp(-z))")  # 1, by cancelling
    line = sweep(cancels, points=41).line()
    assert line.startswith("cannot be made accurate") and "\n" not in line


def test_both_levels_and_backends_agree_on_a_formula_network() -> None:
    from symgrad.backends import CompiledLayers
    from symgrad.compile import compile
    from symgrad.derive import derive, derive_layers
    from symgrad.network import load
    rng = np.random.default_rng(3)
    x, target = rng.uniform(-40, 40, 2000), rng.uniform(0, 1, 2000)
    values = dict(x1=x, T=target, w1=0.8, b1=0.1, w2=1.3, b2=-0.2)
    d = derive(load(EXAMPLE))
    unit = {backend: compile(d, backend=backend).grad(**values) for backend in ("numpy", "c")}
    layer = CompiledLayers(derive_layers(str(EXAMPLE))).grad(
        W1=np.array([[0.8]]), b1=np.array([0.1]), W2=np.array([[1.3]]), b2=np.array([-0.2]),
        x=x[:, None], y=target[:, None])
    for name in ("w1", "b1", "w2", "b2"):
        matrix = float(layer[name.upper() if name[0] == "w" else name].ravel()[0])
        # sums of 2000 terms, each below 40 in size
        assert abs(unit["c"][name] - unit["numpy"][name]) <= 1e-12 * 2000 * 40
        assert abs(matrix - unit["numpy"][name]) <= 1e-12 * 2000 * 40
