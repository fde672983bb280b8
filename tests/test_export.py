"""``symgrad export``: a standalone module that needs no SymPy and gives identical numbers."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest

from symgrad import __version__
from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.network import load

from .conftest import ROOT, import_file

# Run in a child process in which ``import sympy`` fails, print every result bit for bit.
_CHILD = r"""
import json, sys
sys.modules["sympy"] = None
sys.path.insert(0, sys.argv[1])
import numpy
module = __import__(sys.argv[2])
values = json.loads(open(sys.argv[3]).read())
values = {k: numpy.array(v) if isinstance(v, list) else v for k, v in values.items()}
loss, grads = module.value_and_grad(**values)
out = {"loss": float(module.loss(**values)).hex(), "vg_loss": float(loss).hex(),
       "grad": {k: float(v).hex() for k, v in module.grad(**values).items()},
       "vg": {k: float(v).hex() for k, v in grads.items()},
       "forward": {k: [float(x).hex() for x in numpy.ravel(v)]
                   for k, v in module.forward(**values).items()},
       "sympy_loaded": "sympy" in sys.modules and sys.modules["sympy"] is not None,
       "symgrad_loaded": any(m.startswith("symgrad") for m in sys.modules)}
if all(not isinstance(v, numpy.ndarray) for v in values.values()):
    args = [values[a] for a in module.ARGUMENTS]
    out["scalar"] = [float(g).hex() for g in module.grad_scalar(*args)]
print(json.dumps(out))
"""


def _values(spec: str) -> dict[str, object]:
    net = load(ROOT / "derivations" / spec)
    values = dict(net.values)
    if spec == "two_neuron.toml":  # a batch large enough to be summed in several blocks
        rng = np.random.default_rng(3)
        values["x1"] = rng.normal(size=20000)
        values["T"] = rng.uniform(size=20000)
    return values


@pytest.mark.parametrize("spec", ["two_neuron.toml", "small_mlp.toml", "linear_cost.toml",
                                  "deep_sigmoid_chain.toml"])
def test_exported_module_gives_identical_numbers_without_sympy(cli, tmp_path: Path,
                                                               spec: str) -> None:
    module = spec.removesuffix(".toml") + "_grads"
    result = cli("export", f"derivations/{spec}", "-o", tmp_path / f"{module}.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path / module}.py")
    values = _values(spec)
    plain = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in values.items()}
    (tmp_path / "values.json").write_text(json.dumps(plain))
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path), module,
                           str(tmp_path / "values.json")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    child = json.loads(proc.stdout)
    assert child["sympy_loaded"] is False and child["symgrad_loaded"] is False

    f = compile(derive(load(ROOT / "derivations" / spec)))
    loss, grads = f.value_and_grad(**values)
    assert child["loss"] == float(f.loss(**values)).hex()
    assert child["vg_loss"] == float(loss).hex()
    assert child["grad"] == {k: float(v).hex() for k, v in f.grad(**values).items()}
    assert child["vg"] == {k: float(v).hex() for k, v in grads.items()}
    assert child["forward"] == {k: [float(x).hex() for x in np.ravel(v)]
                                for k, v in f.forward(**values).items()}
    if "scalar" in child:
        args = [values[a] for a in f.arguments]
        assert child["scalar"] == [float(g).hex() for g in f.grad_scalar(*args)]


def test_exported_module_is_readable(cli, tmp_path: Path) -> None:
    target = tmp_path / "two_neuron_grads.py"
    assert cli("export", "derivations/two_neuron.toml", "-o", target).returncode == 0
    text = target.read_text()
    first = text.splitlines()[0]
    assert first == (f'"""Gradients of "One input, two sigmoid neurons", exported by symgrad '
                     f'{__version__} from derivations/two_neuron.toml.')
    imports = sorted(line for line in text.splitlines()
                     if line.startswith(("import ", "from ")))
    assert imports == ["from __future__ import annotations",
                       "from math import exp, log, log1p, expm1, tanh, erfc, sqrt",
                       "from typing import Any, Callable, Iterable, Mapping, Sequence",
                       "import math", "import numpy"]
    for name in ("forward_arrays", "loss_sums", "grad_sums", "value_and_grad_sums",
                 "loss_scalar", "grad_scalar", "value_and_grad_scalar"):
        assert f"\ndef {name}(x1, T, w1, b1, w2, b2" in text
    for name in ("forward", "loss", "grad", "value_and_grad"):
        assert f"\ndef {name}(**values: Any) -> " in text
    assert "    a1_e = numpy.exp(-abs(z1))\n" in text  # named temporaries
    assert "    delta1 = a1_d*delta2*w2\n" in text
    assert "x1 : number or 1-D array of samples\n    T : number" in text


def test_exported_module_has_resolving_type_hints_all_and_numbers(cli, tmp_path: Path) -> None:
    target = tmp_path / "two_neuron_hints.py"
    assert cli("export", "derivations/two_neuron.toml", "-o", target).returncode == 0
    module = import_file(target)
    assert module.__all__[:4] == ["forward", "loss", "grad", "value_and_grad"]
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            typing.get_type_hints(obj)  # raises NameError where a name is not imported
    for name in ("reduce_batch", "evaluate_forward", "prepare"):
        assert typing.get_type_hints(getattr(module, name))["values"] == \
            typing.Mapping[str, typing.Any]
    values = dict(x1=0.1, T=0.25, w1=0.15, b1=0.4, w2=0.45, b2=0.65)
    forward, grads = module.forward(**values), module.grad(**values)
    assert all(isinstance(v, float) and np.ndim(v) == 0 for v in forward.values())
    assert all(isinstance(v, float) for v in grads.values())
    assert forward["z1"] == pytest.approx(0.415, rel=1e-15)
    assert grads["w2"] == pytest.approx(0.05707039820105494, rel=1e-14)


@pytest.mark.parametrize("args, message", [
    (["derivations/missing.toml", "-o", "{tmp}/m.py"],
     "derivations/missing.toml: cannot read the file: No such file or directory"),
    (["derivations/two_neuron.toml", "-o", "{tmp}/no/such/m.py"],
     "{tmp}/no/such/m.py: the folder '{tmp}/no/such' does not exist"),
    (["derivations/two_neuron.toml", "-o", "{tmp}/m.txt"],
     "{tmp}/m.txt: a Python module's name must end in .py"),
    (["derivations/two_neuron.toml", "-o", "{tmp}/two-neuron.py"],
     "{tmp}/two-neuron.py: 'two-neuron' is not an importable module name"),
], ids=["missing-spec", "missing-folder", "suffix", "module-name"])
def test_bad_input_exits_2_and_writes_nothing(cli, tmp_path: Path, args: list[str],
                                              message: str) -> None:
    result = cli("export", *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2
    assert result.stderr == f"symgrad export: error: {message.format(tmp=tmp_path)}\n"
    assert "Traceback" not in result.stderr
    assert list(tmp_path.rglob("*")) == []
