"""What the quick commands import: ``symgrad activations``, ``derive`` and ``check`` load
neither report rendering nor plotting, the compiler or the layer types they do not use
(their time is measured in benchmarks/bench_startup.py, not here); the layer-type
registry imports a defining module on first use. Beyond ``import sympy, numpy`` they also
leave out ``sympy.codegen`` (its C functions are imported where forms are built),
``hashlib``/``secrets`` (OpenSSL), the layer-type registry itself for a dense spec, and
``symgrad activations`` builds no SymPy sum (its lines are recorded), so it never loads
``sympy.tensor.tensor`` and ``sympy.combinatorics``, which the first sum imports."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.catalogue import LAYER_TYPES, get_layer_type
from symgrad.catalogue.layer_types import (DEFINED_IN, LayerType, register_layer_type,
                                           unregister_layer_type)
from symgrad.check.parse import parse_expression
from symgrad.check.tables import formula_functions
from symgrad.errors import SymgradError
from symgrad.numbers import evaluate

ROOT = Path(__file__).resolve().parents[1]
SPEC = "derivations/two_neuron.toml"

#: Run the command line in this process's interpreter and print, at exit, what it imported.
PROBE = """import atexit, json, runpy, sys
atexit.register(lambda: print("\\nMODULES " + json.dumps(sorted(sys.modules))))
sys.argv = ["symgrad"] + json.loads(sys.argv[1])
runpy.run_module("symgrad.cli", run_name="__main__")
"""

HEAVY = ("matplotlib", "jinja2", "latex2mathml", "symgrad.report", "symgrad.compile",
         "symgrad.backends", "symgrad.train", "symgrad.derive.matrix", "symgrad.derive.stack",
         "sympy.codegen.rewriting", "numpy.random", "symgrad.catalogue.layers_norm",
         "symgrad.catalogue.layers_softmax", "symgrad.catalogue.layers_conv",
         "symgrad.catalogue.layers_rnn", "symgrad.catalogue.conv")

#: More that each quick command (dense two_neuron.toml) leaves out, beyond :data:`HEAVY`.
NOT_AT_START = ("sympy.codegen", "hashlib", "_hashlib", "secrets",
                "symgrad.catalogue.layer_types", "symgrad.stack")
#: ... and per command.
NOT_FOR = {"activations": ("sympy.tensor.tensor", "sympy.combinatorics", "symgrad.spec", "tomllib",
                           "symgrad.derive", "symgrad.check", "symgrad.files"),
           "derive": ("symgrad.check", "symgrad.formulas"),
           "check": ("symgrad.formulas", "symgrad.check.hand")}

COMMANDS = {
    "activations": ["activations"],
    "derive": ["derive", SPEC, "--wrt", "w2"],
    "check": ["check", SPEC, "--wrt", "w2", "--expr", "-(T - a2)*a2*(1 - a2)*a1"],
}


def _imported(args: list[str]) -> set[str]:
    run = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.rsplit("MODULES ", 1)[1]))


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_quick_commands_import_nothing_heavy(args: list[str]) -> None:
    modules = _imported(args)
    assert "symgrad.catalogue.base" in modules  # the probe sees what ran
    assert sorted(m for m in modules if m.split(".")[0] in ("matplotlib", "jinja2")
                  or m.startswith(HEAVY)) == []


@pytest.mark.parametrize("name", COMMANDS)
def test_quick_commands_leave_out_what_they_do_not_use(name: str) -> None:
    modules = _imported(COMMANDS[name])
    assert f"symgrad.cli.{name}" in modules
    assert sorted(m for m in modules if m.startswith(NOT_AT_START + NOT_FOR[name])) == []


def test_a_layer_type_spec_imports_only_the_modules_of_its_layer_types() -> None:
    """batchnorm, dropout and log_softmax: not convolution, pooling or the recurrent layer."""
    modules = _imported(["derive", "derivations/digits_batchnorm.toml"])
    layers = sorted(m for m in modules if m.startswith("symgrad.catalogue.layers_"))
    assert layers == ["symgrad.catalogue.layers_norm", "symgrad.catalogue.layers_softmax"]


def test_the_table_of_defining_modules_is_what_the_modules_register() -> None:
    """DEFINED_IN names each shipped layer type and the module whose entry it is."""
    assert sorted(LAYER_TYPES) == sorted(DEFINED_IN)
    for name, module in DEFINED_IN.items():
        defined = sys.modules[f"symgrad.catalogue.{module}"]
        assert get_layer_type(name) in vars(defined).values(), name


def _throwaway(name: str) -> LayerType:
    dropout = get_layer_type("dropout")
    return LayerType(name, "Throwaway", (), {}, dropout.output_shape, dropout.init,
                     dropout.forward, dropout.backward, dropout.derivation)


def test_a_throwaway_registration_is_seen_and_removed() -> None:
    entry = register_layer_type(_throwaway("throwaway"))
    try:
        assert get_layer_type("throwaway") is entry and "throwaway" in set(LAYER_TYPES)
        with pytest.raises(SymgradError, match="layer type 'throwaway' is already in the "
                                               "catalogue"):
            register_layer_type(_throwaway("throwaway"))
    finally:
        unregister_layer_type("throwaway")
    assert "throwaway" not in LAYER_TYPES and len(LAYER_TYPES) == len(DEFINED_IN)
    with pytest.raises(SymgradError, match="layer type 'rnn' is already in the catalogue"):
        register_layer_type(_throwaway("rnn"))  # a shipped name, even before first use


def test_the_float_evaluator_finds_sympys_c_functions_by_name() -> None:
    """numbers.evaluate no longer imports sympy.codegen; log1p and expm1 still evaluate."""
    from sympy.codegen.cfunctions import expm1, log1p

    x = sp.Symbol("x")
    out = evaluate(log1p(x) + expm1(x), {x: np.array([1e-20, 1.0])})
    assert out[0] == 2e-20  # 1 + 1e-20 would round to 1: both keep every digit
    assert abs(out[1] - (math.log(2.0) + math.e - 1.0)) <= 4e-16


def test_a_formula_builds_log1p_and_expm1_on_demand() -> None:
    """The parser's table imports sympy.codegen when a formula calls one of them."""
    from sympy.codegen.cfunctions import expm1, log1p

    x = sp.Symbol("x")
    with formula_functions():
        parsed = parse_expression("log1p(x) - expm1(2*x)", {"x": x})
    assert parsed == log1p(x) - expm1(2 * x)
    assert str(parsed) == "-expm1(2*x) + log1p(x)"
