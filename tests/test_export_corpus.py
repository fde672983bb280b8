"""The formula corpus through the PyTorch and JAX exports: every formula-defined
activation and loss exports, its exported gradients pass ``gradcheck`` and
``check_grads``, agree with symgrad's NumPy gradients to 1e-12 relative, and give the
same per-sample gradients in PyTorch and JAX, finite, on 10**5 points over |z| <= 700."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from symgrad.compile import CompiledNetwork, compile
from symgrad.derive import derive
from symgrad.export import module_source
from symgrad.network import load

from .conftest import import_file
from .formula_corpus import ACTIVATIONS, LOSSES, Record, spec_of

torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra 'torch')")
jax = pytest.importorskip("jax", reason="JAX is not installed (extra 'jax')")
from jax.test_util import check_grads  # noqa: E402

RECORDS = [pytest.param(r, "activations", id=r.name) for r in ACTIVATIONS] + \
    [pytest.param(r, "losses", id=r.name) for r in LOSSES]
N = 100_000


def _setup(record: Record, kind: str, folder: Path) -> tuple[CompiledNetwork, ModuleType,
                                                              ModuleType]:
    """The one-unit network around the formula (a formula activation with half_sse, or
    a sigmoid unit with a formula loss), compiled and exported to both targets."""
    activation, loss = (record.name, "half_sse") if kind == "activations" else \
        ("sigmoid", record.name)
    spec = folder / f"{record.name}.toml"
    spec.write_text(f'{spec_of(record, kind)}\n[network]\ninputs = 1\n'
                    f'layers = [{{ units = 1, activation = "{activation}" }}]\n'
                    f'loss = "{loss}"\n[parameters]\nw = 1.0\nb = 0.0\n'
                    '[data]\nx = 0.3\nT = 0.25\n')
    f = compile(derive(load(spec)))
    modules = []
    for target in ("torch", "jax"):
        path = folder / f"{record.name}_{target}.py"
        path.write_text(module_source(f, str(spec), target))
        modules.append(import_file(path))
    return f, modules[0], modules[1]


def _points(record: Record, n: int, low: float, high: float) -> np.ndarray:
    """``n`` points of [low, high], none within 0.05 of a kink."""
    zs = np.linspace(low, high, n)
    for kink in record.kinks:
        zs = np.where(np.abs(zs - kink) < 0.05, zs + 0.1, zs)
    return zs


@pytest.fixture(scope="module", autouse=True)
def x64() -> None:
    jax.config.update("jax_enable_x64", True)


@pytest.mark.parametrize("record,kind", RECORDS)
def test_exported_corpus_gradients_agree_everywhere(record: Record, kind: str,
                                                    tmp_path: Path) -> None:
    f, torch_module, jax_module = _setup(record, kind, tmp_path)
    x = _points(record, N, -700.0, 700.0)
    params = {"w": 1.0, "b": 0.0}  # z = x over the whole range
    t_args = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for v in [x, 0.25] + [params[p] for p in f.parameters]]
    loss = torch_module.SymgradLoss.apply(*t_args)
    loss.backward()
    j_args = [jax.numpy.asarray(x), 0.25] + [params[p] for p in f.parameters]
    j_loss, j_grads = jax.value_and_grad(jax_module.loss, argnums=(0, 1, 2, 3))(*j_args)
    per_sample_torch, per_sample_jax = t_args[0].grad.numpy(), np.asarray(j_grads[0])
    assert np.all(np.isfinite(per_sample_torch)) and np.isfinite(float(loss.detach()))
    np.testing.assert_allclose(per_sample_torch, per_sample_jax, rtol=1e-12, atol=1e-300)

    expected_loss, expected = f.value_and_grad(x=x, T=0.25, **params)
    terms = torch_module._value_and_grad_terms(*[a.detach() for a in t_args])
    bound = [float(torch.broadcast_to(torch.as_tensor(t), (N,)).abs().sum()) for t in terms]
    got = {"loss": (float(loss.detach()), float(j_loss), float(expected_loss), bound[0])}
    for k, p in enumerate(f.parameters):
        got[p] = (float(t_args[2 + k].grad), float(j_grads[2 + k]), float(expected[p]),
                  bound[3 + k])
    for name, (t_value, j_value, numpy_value, size) in got.items():
        assert abs(t_value - numpy_value) <= 1e-12 * size, (name, t_value, numpy_value)
        assert abs(j_value - numpy_value) <= 1e-12 * size, (name, j_value, numpy_value)


@pytest.mark.parametrize("record,kind", RECORDS)
def test_exported_corpus_passes_gradcheck_and_check_grads(record: Record, kind: str,
                                                          tmp_path: Path) -> None:
    f, torch_module, jax_module = _setup(record, kind, tmp_path)
    x = _points(record, 5, -3.0, 3.0)
    values: list[Any] = [x, np.array([0.1, 0.9, 0.3, 0.6, 0.25]), 1.0, 0.0]  # z = x
    small = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    assert torch.autograd.gradcheck(torch_module.SymgradLoss.apply, small)
    check_grads(jax_module.loss, [jax.numpy.asarray(v) for v in values], order=1,
                modes=("rev",))
