"""The catalogue is the one place of an activation: a throwaway entry registered here,
and nowhere else, works through every part of symgrad; and every shipped entry's facets
agree with each other."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pytest
import sympy as sp
from sympy import Expr, Symbol
from sympy.core.function import ArgumentIndexError

import symgrad
from symgrad.catalogue import (ACTIVATIONS, Activation, CatalogueFunction, UnitForms,
                               get_activation, register, unregister)
from symgrad.backends import CompiledLayers
from symgrad.compile import activation_kernel
from symgrad.numbers import evaluate

from .conftest import run_cli_here

z = Symbol("z")


class softsign_t(CatalogueFunction):
    """A throwaway activation, ``z / (1 + |z|)``, registered by this test only."""

    nargs = 1
    latex_name = r"\operatorname{softsign}"

    @classmethod
    def definition(cls, x: Expr) -> Expr:
        return x / (1 + sp.Abs(x))

    def fdiff(self, argindex: int = 1) -> Expr:
        self._check_index(argindex)
        return 1 / (1 + sp.Abs(self.args[0])) ** 2


def _softsign_forms(out: UnitForms, x: Symbol, a: Symbol, p: Mapping[str, Expr]) -> None:
    d = out.add(Symbol(f"{a}_q"), 1 / (1 + sp.Abs(x)))
    out.add(a, x * d)
    out.add(Symbol(f"{a}_d"), d**2, a, "slope")


SPEC = """
title = "Two softsign units"
[network]
inputs = 1
layers = [{ units = 2, activation = "softsign_t" }, { units = 1, activation = "sigmoid" }]
loss = "half_sse"
[parameters]
w1_1_1 = 0.3
w1_2_1 = -0.7
b1_1 = 0.1
b1_2 = 0.2
w2_1_1 = 0.5
w2_1_2 = -0.4
b2_1 = 0.05
[data]
x1 = [0.5, -1.5, 2.0]
T = [0.2, 0.7, 0.4]
[training]
learning_rate = 0.5
iterations = 3
"""


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[Path]:
    register(Activation("softsign_t", "Softsign (throwaway)", softsign_t, "(-1, 1)",
                        _softsign_forms, aliases=("ssign",)))
    path = tmp_path / "softsign.toml"
    path.write_text(SPEC, encoding="utf-8")
    try:
        yield path
    finally:
        unregister("softsign_t")


def _central(net: symgrad.Network, name: str, h: float = 1e-6) -> float:
    d = symgrad.derive(net)
    values = dict(net.values)
    up, down = dict(values), dict(values)
    up[name], down[name] = values[name] + h, values[name] - h
    return (d.loss_at(up) - d.loss_at(down)) / (2 * h)


def test_a_registered_activation_works_everywhere(throwaway: Path, tmp_path: Path) -> None:
    net = symgrad.load(throwaway)  # spec loading
    d = symgrad.derive(net)  # unit level
    assert d["w1_1_1"].chain[-1].expression == sp.Symbol("x1")
    grads = d.at(net.values)
    for name in ("w1_1_1", "b1_2"):  # summed over the three samples: bound 1e-8 absolute
        assert grads[name] == pytest.approx(_central(net, name), abs=1e-8)
    # the parser knows it by both names; the float64 checker evaluates it
    hand = ("(a2_1 - T)*a2_1*(1 - a2_1)*w2_1_1 / (1 + sqrt(z1_1^2))^2 * x1")
    assert symgrad.check(d, "w1_1_1", hand).ok
    assert symgrad.check(d, "b1_1", "delta2_1*w2_1_1*(1/(1 + max(z1_1, -z1_1)))^2").ok
    r = run_cli_here("check", throwaway, "--wrt", "w2_1_1", "--expr",
                     "(a2_1 - T)*a2_1*(1 - a2_1)*ssign(z1_1)")
    assert r.returncode == 0, r.stdout + r.stderr
    # compiled, both backends, agree with the exact values
    for backend in ("numpy", "c"):
        compiled = symgrad.compile(d, backend=backend).grad(**net.values)
        for name, value in grads.items():
            assert float(compiled[name]) == pytest.approx(value, rel=1e-12, abs=1e-15), backend
    # the layer level: derived with f' printed by name, and its minibatch kernels
    layers = symgrad.derive_layers(throwaway)
    assert "softsign_t'(z1)" in layers.text(unicode=False)
    compiled_layers = CompiledLayers(layers)
    params = net.to_arrays()
    X = np.array([[0.5], [-1.5], [2.0]])
    Y = np.array([[0.2], [0.7], [0.4]])
    by_layers = net.from_arrays(compiled_layers.grad(**params, x=X, y=Y))
    for name, value in grads.items():
        assert by_layers[name] == pytest.approx(value, rel=1e-12, abs=1e-15)
    before = {k: v.copy() for k, v in params.items()}
    compiled_layers.sgd_epoch(params, X, Y, np.arange(3), 3, 0.5)  # one full-batch step
    step = net.from_arrays({k: before[k] - params[k] for k in params})
    for name, value in grads.items():
        assert step[name] == pytest.approx(0.5 * value, rel=1e-12, abs=1e-15)
    result = symgrad.train(net, iterations=3, mode="minibatch", batch_size=2, seed=1)
    assert len(result.history) >= 3
    # the command line and a report
    listing = run_cli_here("activations")
    assert "Softsign (throwaway)  [softsign_t, ssign]" in listing.stdout
    assert "d/dz softsign_t(z) = (Abs(z) + 1)**(-2)" in listing.stdout
    report = tmp_path / "softsign.md"
    assert run_cli_here("report", throwaway, "-o", report).returncode == 0
    assert "softsign" in report.read_text(encoding="utf-8")


def test_a_registered_name_must_be_new() -> None:
    with pytest.raises(symgrad.SymgradError, match="activation name 'sigma' is already"):
        register(Activation("sigma", "again", softsign_t, "(-1, 1)"))
    assert "sigma" not in ACTIVATIONS  # nothing half-registered


def test_an_entry_without_forms_compiles_its_definition() -> None:
    register(Activation("softsign_bare", "Softsign without forms", softsign_t, "(-1, 1)"))
    try:
        value, slope = activation_kernel("softsign_bare")(np.array([-3.0, 0.0, 1.0]))
        np.testing.assert_allclose(value, [-0.75, 0.0, 0.5], rtol=1e-15)
        np.testing.assert_allclose(slope, [1 / 16, 1.0, 0.25], rtol=1e-15)
    finally:
        unregister("softsign_bare")


# -- every shipped entry: its facets agree ----------------------------------------------------

ELEMENTWISE = [name for name, e in ACTIVATIONS.items() if e.elementwise]
POINTS = np.array([-30.0, -2.5, -0.3, 0.4, 1.7, 30.0])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_own_output_form_equals_fdiff(name: str) -> None:
    entry = get_activation(name)
    a = Symbol("a")
    fz = entry(z)
    own = entry.local(z, a).xreplace({a: fz})
    assert sp.simplify((own - fz.diff(z)).rewrite(sp.exp)) == 0


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if n not in ("linear", "tanh")])
def test_a_wrong_argument_index_is_refused(name: str) -> None:
    entry = get_activation(name)
    with pytest.raises(ArgumentIndexError):
        entry(z).fdiff(len(entry.params) + 2)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_stable_forms_give_the_definition_and_its_derivative(name: str) -> None:
    entry = get_activation(name)
    value, slope = activation_kernel(name)(POINTS)
    evaluated = evaluate(entry(z), {z: POINTS})
    for x, v, s, e in zip(POINTS, value, slope, evaluated):
        # 300 digits: 1 + erf(-30/sqrt 2) cancels about 200 of them (GELU)
        exact_value = entry.definition(z).subs(z, sp.Float(x, 300)).evalf(300)
        exact_slope = entry(z).diff(z).rewrite(sp.exp).subs(z, sp.Float(x, 300)).evalf(300)
        assert v == pytest.approx(float(exact_value), rel=1e-13, abs=1e-300)
        assert e == pytest.approx(float(exact_value), rel=1e-13, abs=1e-300)
        assert s == pytest.approx(float(exact_slope), rel=1e-12, abs=1e-300)
