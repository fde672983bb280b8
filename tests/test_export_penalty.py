"""``symgrad export --to torch|jax`` of a network with a penalty (``[network] penalty``):
the exported loss holds the penalty's cost once, after the reduction over the samples, and
each penalized parameter's gradient its ``lambda * w`` (L2) or ``lambda * sign(w)`` (L1,
sign(0) = 0) term, as symgrad's own compiled functions do.

Checked against symgrad's ``value_and_grad`` (float64, to 1e-12 of the size of what is
summed), against ``torch.autograd`` on the same network and penalty written here with
torch alone, and by finite differences (``gradcheck``, ``check_grads``). The file imports
neither torch nor JAX at the top: without them its tests skip, saying why.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from symgrad.compile import CompiledNetwork, compile
from symgrad.derive import derive
from symgrad.export import module_source
from symgrad.network import load
from symgrad.spec import parse_spec

from .conftest import exported

#: 2 inputs, 3 tanh units, 2 sigmoid outputs; the loss and penalty are each case's.
SPEC = """
[network]
inputs = 2
layers = [{{ units = 3, activation = "tanh" }}, {{ units = 2, activation = "sigmoid" }}]
loss = "{loss}"
penalty = {{ {kind} = {strength}, biases = {biases} }}
"""


@dataclass(frozen=True)
class Case:
    """A penalty (kind, lambda, whether biases count) on a loss averaged or summed."""

    kind: str
    strength: float
    biases: bool
    loss: str

    @property
    def id(self) -> str:
        return f"{self.kind}{'-biases' if self.biases else ''}-{self.loss}"

    @property
    def mean(self) -> bool:
        return self.loss == "half_mse"


CASES = [Case("l2", 0.05, False, "half_mse"), Case("l2", 0.3, True, "half_sse"),
         Case("l1", 0.1, False, "half_sse"), Case("l1", 0.02, True, "half_mse")]
IDS = [c.id for c in CASES]
TORCH = "PyTorch is not installed (extra 'torch')"
JAX = "JAX is not installed (extra 'jax')"


@functools.lru_cache(maxsize=None)
def _compiled(case: Case) -> CompiledNetwork:
    text = SPEC.format(loss=case.loss, kind=case.kind, strength=case.strength,
                       biases=str(case.biases).lower())
    return compile(derive(load(parse_spec(text, f"{case.id}.toml"))))


@functools.lru_cache(maxsize=None)
def _module(case: Case, target: str, export_folder: str) -> ModuleType:
    """The exported module of ``case`` for ``target``, written and imported."""
    name = f"penalty_{case.id.replace('-', '_')}_{target}"
    return exported(_compiled(case), f"{case.id}.toml", target,
                    Path(export_folder) / f"{name}.py")


def _values(f: CompiledNetwork, n: int | None, seed: int = 0) -> dict[str, Any]:
    """``n`` samples of the inputs (normal) and targets (uniform on [0, 1]); one sample of
    Python floats when ``n`` is None. Every parameter is at least 0.2 from 0 (|w| has its
    kink there), of either sign."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for name in f.data_names:
        draw = rng.normal if name.startswith("x") else rng.uniform
        out[name] = float(draw()) if n is None else draw(size=n)
    for name in f.parameters:
        out[name] = float(rng.uniform(0.2, 0.9) * rng.choice([-1.0, 1.0]))
    return out


def _independent_loss(torch: Any, case: Case, values: dict[str, Any]) -> Any:
    """The loss and the penalty written with torch alone, from the spec: z = W a + b,
    tanh, then sigmoid; half the squared error over the 2 outputs (divided by 2 more for
    half_mse), summed or averaged over the samples; the penalty added once."""
    x = torch.stack([torch.atleast_1d(values["x1"]), torch.atleast_1d(values["x2"])])
    T = torch.stack([torch.atleast_1d(values["T1"]), torch.atleast_1d(values["T2"])])

    def weights(layer: int, units: int, inputs: int) -> tuple[Any, Any]:
        W = torch.stack([torch.stack([values[f"w{layer}_{i}_{j}"] for j in
                                      range(1, inputs + 1)]) for i in range(1, units + 1)])
        b = torch.stack([values[f"b{layer}_{i}"] for i in range(1, units + 1)])
        return W, b

    (W1, b1), (W2, b2) = weights(1, 3, 2), weights(2, 2, 3)
    a2 = torch.sigmoid(W2 @ torch.tanh(W1 @ x + b1[:, None]) + b2[:, None])
    per_sample = ((T - a2) ** 2).sum(dim=0) / (4 if case.mean else 2)
    data = per_sample.mean() if case.mean else per_sample.sum()
    penalized = [W1, W2] + ([b1, b2] if case.biases else [])
    if case.kind == "l2":
        return data + case.strength / 2 * sum((p ** 2).sum() for p in penalized)
    return data + case.strength * sum(p.abs().sum() for p in penalized)


def _bounds(module: ModuleType, args: list[Any], f: CompiledNetwork, case: Case
            ) -> list[float]:
    """The size of what each of the loss and the parameters' gradients sums: the per-sample
    terms' magnitudes (divided by the batch's size for a mean) and the penalty's."""
    n_data, n = len(f.data_names), int(np.size(np.asarray(args[0])))
    terms = module._value_and_grad_terms(*args)
    sizes = [float(np.sum(np.abs(np.broadcast_to(np.asarray(t), (n,)))))
             / (n if case.mean else 1) for t in terms]
    penalty = [abs(float(np.asarray(t))) for t in module._penalty_terms(*args[n_data:])]
    return [s + p for s, p in zip(sizes[:1] + sizes[1 + n_data:], penalty)]


def _assert_close(got: list[float], expected: list[float], bounds: list[float]) -> None:
    for g, e, b in zip(got, expected, bounds, strict=True):
        assert abs(g - e) <= 1e-12 * b, (g, e, b)


def _symgrad(f: CompiledNetwork, values: dict[str, Any]) -> list[float]:
    loss, grads = f.value_and_grad(**values)
    return [float(loss)] + [float(grads[p]) for p in f.parameters]


def _torch_run(torch: Any, module: ModuleType, f: CompiledNetwork, values: dict[str, Any],
               data_grad: bool) -> tuple[list[Any], list[float]]:
    """The arguments as float64 tensors (the parameters, and the data if ``data_grad``,
    needing a gradient), and the exported loss and parameters' gradients."""
    n_data = len(f.data_names)
    args = [torch.tensor(values[a], dtype=torch.float64, requires_grad=k >= n_data or data_grad)
            for k, a in enumerate(f.arguments)]
    loss = module.SymgradLoss.apply(*args)
    loss.backward()
    return args, [float(loss.detach())] + [float(a.grad) for a in args[n_data:]]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("data_grad", [False, True], ids=["parameters", "all"])
def test_torch_export_equals_symgrad_and_autograd(case: Case, data_grad: bool,
                                                  export_folder: str) -> None:
    torch = pytest.importorskip("torch", reason=TORCH)
    module, f = _module(case, "torch", export_folder), _compiled(case)
    values = _values(f, 200)
    args, got = _torch_run(torch, module, f, values, data_grad)
    bounds = _bounds(module, [a.detach() for a in args], f, case)
    _assert_close(got, _symgrad(f, values), bounds)

    named = {a: torch.tensor(values[a], dtype=torch.float64, requires_grad=True)
             for a in f.arguments}
    _independent_loss(torch, case, named).backward()  # the same, written here
    _assert_close(got[1:], [float(named[p].grad) for p in f.parameters], bounds[1:])
    with torch.no_grad():  # the loss alone (no gradient wanted) has the penalty too
        alone = module.SymgradLoss.apply(*(a.detach() for a in args))
    _assert_close([float(alone)], got[:1], bounds[:1])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_export_of_one_sample_equals_symgrads_scalar_functions(case: Case,
                                                                     export_folder: str) -> None:
    """One sample of Python floats: symgrad's scalar kernels add the penalty themselves;
    the export's 0-d tensors take its batch path. Both hold the penalty once."""
    torch = pytest.importorskip("torch", reason=TORCH)
    module, f = _module(case, "torch", export_folder), _compiled(case)
    values = _values(f, None, seed=4)
    _, got = _torch_run(torch, module, f, values, data_grad=False)
    expected = _symgrad(f, values)
    assert got == pytest.approx(expected, rel=1e-13, abs=1e-15)
    loss, penalty = float(f.loss(**values)), module._penalty_terms(
        *(torch.tensor(values[p], dtype=torch.float64) for p in f.parameters))[0]
    without = compile(derive(load(parse_spec(SPEC.split("penalty")[0].format(
        loss=case.loss), "plain.toml")))).loss(**values)
    assert loss == pytest.approx(float(without) + float(penalty), rel=1e-14)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_export_passes_gradcheck(case: Case, export_folder: str) -> None:
    torch = pytest.importorskip("torch", reason=TORCH)
    module, f = _module(case, "torch", export_folder), _compiled(case)
    small = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
             for v in _values(f, 5, seed=1).values()]
    assert torch.autograd.gradcheck(module.SymgradLoss.apply, small)


@pytest.mark.parametrize("biases", [False, True], ids=["weights", "biases"])
def test_l1_gives_a_parameter_at_zero_no_term(biases: bool, export_folder: str) -> None:
    """sign(0) = 0: a weight (and a bias, when biases count) at exactly 0 gets no L1 term,
    as in symgrad and as torch's own d|w|/dw at 0."""
    torch = pytest.importorskip("torch", reason=TORCH)
    case = next(c for c in CASES if c.kind == "l1" and c.biases == biases)
    module, f = _module(case, "torch", export_folder), _compiled(case)
    values = {**_values(f, 50, seed=2), "w2_1_2": 0.0, "b2_1": 0.0}
    _, got = _torch_run(torch, module, f, values, data_grad=False)
    terms = module._penalty_terms(*(torch.tensor(values[p], dtype=torch.float64)
                                    for p in f.parameters))[1:]
    zero = [f.parameters.index("w2_1_2"), f.parameters.index("b2_1")]
    assert [float(terms[k]) for k in zero] == [0.0, 0.0]
    assert float(terms[f.parameters.index("w2_1_1")]) == case.strength * np.sign(
        values["w2_1_1"])
    named = {a: torch.tensor(values[a], dtype=torch.float64, requires_grad=True)
             for a in f.arguments}
    _independent_loss(torch, case, named).backward()
    expected = _symgrad(f, values)
    for k in zero:
        assert got[1 + k] == pytest.approx(expected[1 + k], rel=1e-12, abs=1e-15)
        assert got[1 + k] == pytest.approx(float(named[f.parameters[k]].grad), rel=1e-12,
                                           abs=1e-15)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_export_equals_symgrad_and_passes_check_grads(case: Case, export_folder: str) -> None:
    jax = pytest.importorskip("jax", reason=JAX)
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    module, f = _module(case, "jax", export_folder), _compiled(case)
    small = [jax.numpy.asarray(v) for v in _values(f, 5, seed=1).values()]
    check_grads(module.loss, small, order=1, modes=("rev",))  # |w| >= 0.2: no kink

    values = _values(f, 200)
    args = [jax.numpy.asarray(values[a]) for a in f.arguments]
    n_data = len(f.data_names)
    loss, grads = jax.jit(jax.value_and_grad(module.loss, argnums=tuple(
        range(n_data, len(args)))))(*args)
    got = [float(loss)] + [float(g) for g in grads]
    bounds = _bounds(module, args, f, case)
    _assert_close(got, _symgrad(f, values), bounds)
    _assert_close([float(module.loss_of(**values))], got[:1], bounds[:1])


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_the_modules_import_their_library_alone(target: str) -> None:
    """Written and parsed without the library: the penalty's function is there, and the
    module imports nothing from symgrad or SymPy."""
    text = module_source(_compiled(CASES[2]), "l1.toml", target)
    tree = ast.parse(text)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    library = {"torch"} if target == "torch" else {"jax", "jax.numpy", "jax.scipy.special"}
    assert imported == {"__future__"} | library
    assert "sympy" not in text and "symgrad." not in text
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"_penalty_terms", "_penalized"} <= functions
    sign = "torch.sign(w2_1_1)" if target == "torch" else "jax.numpy.sign(w2_1_1)"
    assert f"0.1*{sign}" in text
    assert "Penalty: L1 penalty, lambda sum |w|, lambda = 0.1. Its cost is added" in text
