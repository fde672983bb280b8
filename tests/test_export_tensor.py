"""``symgrad export --to torch|jax``: modules whose derivative is symgrad's symbolic
gradient, checked against finite differences (``gradcheck``, ``check_grads``) and against
symgrad's own NumPy gradients; they import neither SymPy nor symgrad."""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from symgrad.compile import CompiledNetwork, compile
from symgrad.derive import derive
from symgrad.export import TARGETS, module_source
from symgrad.network import load

from .conftest import (ALL_SPECS, DERIVATIONS, ONE_NEURON_TABLES, exported, import_file,
                       run_cli_here)
from .test_export_hostile import TITLES

#: Specs small enough for a finite-difference check of every argument.
SMALL = ["two_neuron", "small_mlp", "linear_cost", "deep_sigmoid_chain", "two_two_two"]


@functools.lru_cache(maxsize=None)
def _compiled(stem: str) -> CompiledNetwork:
    return compile(derive(load(DERIVATIONS / f"{stem}.toml")))


@functools.lru_cache(maxsize=None)
def _module(stem: str, target: str, export_folder: str) -> ModuleType:
    """The exported module of spec ``stem`` for ``target``, written and imported."""
    return exported(_compiled(stem), f"derivations/{stem}.toml", target,
                    Path(export_folder) / f"{stem}_{target}.py")


def _values(f: CompiledNetwork, n: int, seed: int = 0) -> dict[str, Any]:
    """``n`` samples of every input (normal) and target (uniform on [0, 1]), and the
    spec's parameter values (normal where it gives none)."""
    rng = np.random.default_rng(seed)
    n_in = len(f.network.inputs)
    out: dict[str, Any] = {}
    for k, name in enumerate(f.data_names):
        out[name] = rng.normal(size=n) if k < n_in else rng.uniform(size=n)
    for name in f.parameters:
        out[name] = float(f.network.values.get(name, rng.normal(scale=0.5)))
    return out


def _assert_close(got: list[float], expected: list[float], bound: list[float]) -> None:
    """Equal to 1e-12 relative to the size of what was summed (``bound``: the sums of
    the per-sample terms' magnitudes)."""
    for g, e, b in zip(got, expected, bound):
        assert abs(g - e) <= 1e-12 * b, (g, e, b)


def _torch_terms(torch: Any, module: ModuleType, args: list[Any]) -> list[float]:
    """The sum of each per-sample term's magnitude (over the batch), in argument order."""
    n = max(a.numel() for a in args)
    terms = module._value_and_grad_terms(*args)
    mean = n if module.MEAN else 1
    return [float(torch.as_tensor(t).abs().sum()) * (n if torch.as_tensor(t).ndim == 0 else 1)
            / mean for t in terms]


@pytest.mark.parametrize("stem", SMALL)
def test_torch_export_passes_gradcheck_and_equals_numpy(stem: str, export_folder: str) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra 'torch')")
    module, f = _module(stem, "torch", export_folder), _compiled(stem)
    small = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
             for v in _values(f, 6, seed=1).values()]
    assert torch.autograd.gradcheck(module.SymgradLoss.apply, small)

    values = _values(f, 3000)
    args = [torch.tensor(values[a], dtype=torch.float64, requires_grad=True)
            for a in f.arguments]
    loss = module.SymgradLoss.apply(*args)
    loss.backward()
    expected_loss, expected = f.value_and_grad(**values)
    bound = _torch_terms(torch, module, [a.detach() for a in args])
    n_data = len(f.data_names)
    _assert_close([float(loss.detach())] + [float(a.grad) for a in args[n_data:]],
                  [float(expected_loss)] + [float(expected[p]) for p in f.parameters],
                  bound[:1] + bound[1 + n_data:])


@pytest.mark.parametrize("stem", SMALL)
def test_jax_export_passes_check_grads_and_equals_numpy(stem: str, export_folder: str) -> None:
    jax = pytest.importorskip("jax", reason="JAX is not installed (extra 'jax')")
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    module, f = _module(stem, "jax", export_folder), _compiled(stem)
    small = [jax.numpy.asarray(v) for v in _values(f, 6, seed=1).values()]
    check_grads(module.loss, small, order=1, modes=("rev",))

    values = _values(f, 3000)
    args = [jax.numpy.asarray(values[a]) for a in f.arguments]
    n_data = len(f.data_names)
    loss, grads = jax.jit(jax.value_and_grad(module.loss, argnums=tuple(
        range(n_data, len(args)))))(*args)
    expected_loss, expected = f.value_and_grad(**values)
    torch_bound = [float(np.sum(np.abs(np.broadcast_to(np.asarray(t), (3000,)))))
                   / (3000 if module.MEAN else 1) for t in module._value_and_grad_terms(*args)]
    _assert_close([float(loss)] + [float(g) for g in grads],
                  [float(expected_loss)] + [float(expected[p]) for p in f.parameters],
                  torch_bound[:1] + torch_bound[1 + n_data:])


def test_torch_data_gradients_equal_central_differences(export_folder: str) -> None:
    """dE/dx and dE/dT per sample (what gradcheck checks too), against central
    differences of symgrad's NumPy loss."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra 'torch')")
    module, f = _module("small_mlp", "torch", export_folder), _compiled("small_mlp")
    values = _values(f, 5, seed=2)
    args = [torch.tensor(values[a], dtype=torch.float64, requires_grad=True)
            for a in f.arguments]
    module.SymgradLoss.apply(*args).backward()
    for k, name in enumerate(f.data_names):
        for i in range(5):
            h = 1e-6
            up, down = dict(values), dict(values)
            up[name], down[name] = values[name].copy(), values[name].copy()
            up[name][i] += h
            down[name][i] -= h
            central = (float(f.loss(**up)) - float(f.loss(**down))) / (2 * h)
            assert float(args[k].grad[i]) == pytest.approx(central, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_float32_in_gives_float32_out(target: str, export_folder: str) -> None:
    f = _compiled("small_mlp")
    values = _values(f, 100)
    if target == "torch":
        torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra 'torch')")
        model = _module("small_mlp", "torch", export_folder).Model(dtype=torch.float32)
        data = {k: torch.tensor(values[k], dtype=torch.float32) for k in f.data_names}
        loss = model(**data)
        loss.backward()
        dtypes = {loss.dtype} | {p.grad.dtype for p in model.params.values()}
        assert dtypes == {torch.float32}
        expected = f.grad(**values)
        assert float(model.params["w2_1_1"].grad) == pytest.approx(
            float(expected["w2_1_1"]), rel=1e-4)
    else:
        jax = pytest.importorskip("jax", reason="JAX is not installed (extra 'jax')")
        jax.config.update("jax_enable_x64", True)  # float32 stays so even where 64 bits can
        module = _module("small_mlp", "jax", export_folder)
        args = [jax.numpy.asarray(values[a], dtype=jax.numpy.float32) for a in f.arguments]
        loss, grads = jax.value_and_grad(module.loss, argnums=(0, 5))(*args)
        assert {loss.dtype, grads[0].dtype, grads[1].dtype} == {np.dtype(np.float32)}


def test_torch_export_runs_on_every_device_present(export_folder: str) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra 'torch')")
    f = _compiled("two_neuron")
    values = _values(f, 50)
    expected = f.grad(**values)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        model = _module("two_neuron", "torch", export_folder).Model(device=device)
        data = {k: torch.tensor(values[k], device=device) for k in f.data_names}
        with torch.no_grad():
            for p in f.parameters:
                model.params[p].fill_(values[p])
        model(**data).backward()
        for p in f.parameters:
            assert model.params[p].grad.device.type == device
            assert float(model.params[p].grad) == pytest.approx(float(expected[p]), rel=1e-12)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_every_shipped_spec_exports_and_imports(spec: Path, export_folder: str) -> None:
    """Each target's module imports, and at the spec's values (random data where the spec
    names a data set) gives symgrad's loss."""
    f = _compiled(spec.stem)
    values = _values(f, 20)
    expected = float(f.loss(**values))
    for target in ("torch", "jax"):
        text = module_source(f, str(spec), target)
        builtins.compile(text, f"{spec.stem}_{target}.py", "exec")  # valid without the library
        if importlib.util.find_spec(target) is None:
            continue
        module = _module(spec.stem, target, export_folder)
        if target == "jax":
            jax = importlib.import_module("jax")
            jax.config.update("jax_enable_x64", True)
            got = module.loss_of(**{k: jax.numpy.asarray(v) for k, v in values.items()})
        else:
            torch = importlib.import_module("torch")
            got = module.loss_of(**{k: torch.tensor(v, dtype=torch.float64)
                                    for k, v in values.items()})
        assert float(got) == pytest.approx(expected, rel=1e-12)


_NO_LIBRARIES = r"""
import sys
sys.modules["torch"] = None
sys.modules["jax"] = None
from symgrad.cli import main
status = main(["export", sys.argv[1], "--to", sys.argv[2], "-o", sys.argv[3]])
print(status)
"""


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_export_writes_the_module_without_torch_or_jax(target: str, tmp_path: Path) -> None:
    out = tmp_path / f"grads_{target}.py"
    proc = subprocess.run([sys.executable, "-c", _NO_LIBRARIES,
                           str(DERIVATIONS / "two_neuron.toml"), target, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0"
    text = out.read_text()
    assert f"import {target}\n" in text and "sympy" not in text and "symgrad." not in text


def test_an_unknown_target_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run_cli_here("export", DERIVATIONS / "two_neuron.toml", "--to", "tensorflow",
                          "-o", tmp_path / "m.py")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "argument --to: invalid choice: 'tensorflow'" in result.stderr
    assert not (tmp_path / "m.py").exists()
    assert list(TARGETS) == ["numpy", "torch", "jax"]


@pytest.mark.parametrize("target", ["torch", "jax"])
@pytest.mark.parametrize("title", TITLES.values(), ids=TITLES.keys())
def test_a_hostile_title_gives_an_importable_tensor_module(tmp_path: Path, title: str,
                                                           target: str) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text(f"title = {json.dumps(title)}\n" + ONE_NEURON_TABLES, encoding="utf-8")
    out = tmp_path / "grads.py"
    result = run_cli_here("export", spec, "--to", target, "-o", out)
    assert result.returncode == 0, result.stderr
    tree = ast.parse(out.read_text())  # parses (and shows the title) without the library
    assert ast.get_docstring(tree, clean=False).startswith(f'Gradients of "{title}" for ')
    assert [type(node).__name__ for node in tree.body[:2]] == ["Expr", "ImportFrom"]
    if importlib.util.find_spec(target) is not None:
        module = import_file(out, "grads")
        assert module.PARAMETERS == ("w", "b")
    assert not list(tmp_path.rglob("CANARY")) and not Path("CANARY").exists()


def test_a_symbol_named_like_the_library_is_refused_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text('[network]\ninputs = 1\nlayers = [{ units = 1, activation = "sigmoid" }]\n'
                    'loss = "half_sse"\nnames = { input = "torch" }\n'
                    "[parameters]\nw = 0.5\nb = 0.1\n[data]\ntorch = 1.0\nT = 0.3\n")
    result = run_cli_here("export", spec, "--to", "jax", "-o", tmp_path / "m.py")
    assert result.returncode == 2
    assert result.stderr == ("symgrad export: error: symbol name 'torch' is reserved in torch "
                             "and JAX code; choose another base name in [network.names]\n")
    assert not (tmp_path / "m.py").exists()
