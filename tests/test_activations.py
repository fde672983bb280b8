"""The activation catalogue, checked a second way: one record per activation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import sympy as sp

from symgrad.catalogue import ACTIVATIONS, get_activation, sigmoid, softmax
from symgrad.errors import UnknownNameError

z = sp.Symbol("z", real=True)
H = 1e-6  # central-difference step


@dataclass(frozen=True)
class Record:
    """What we know about one activation, independently of symgrad."""

    name: str
    reference: Callable[[np.ndarray], np.ndarray]  # NumPy, written here from the formula
    derivative: Callable[[np.ndarray], np.ndarray]
    derivative_form: sp.Expr  # the idiomatic derivative symgrad must produce
    low: float
    high: float
    closed_low: bool = False
    kinks: tuple[float, ...] = ()
    special: dict[float, sp.Expr] = field(default_factory=dict)
    tol: float = 1e-7


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


CATALOGUE = [
    Record("sigmoid", _np_sigmoid, lambda x: _np_sigmoid(x) * (1 - _np_sigmoid(x)),
           sigmoid(z) * (1 - sigmoid(z)), 0.0, 1.0, special={0.0: sp.Rational(1, 2)}),
    Record("tanh", np.tanh, lambda x: 1 - np.tanh(x) ** 2, 1 - sp.tanh(z) ** 2, -1.0, 1.0,
           special={0.0: sp.S.Zero}),
    Record("relu", lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float),
           sp.Heaviside(z, 0), 0.0, math.inf, closed_low=True, kinks=(0.0,),
           special={0.0: sp.S.Zero, 2.5: sp.Float(2.5)}),
    Record("binary_step", lambda x: (x >= 0).astype(float), lambda x: np.zeros_like(x),
           sp.S.Zero, 0.0, 1.0, closed_low=True, kinks=(0.0,),
           special={0.0: sp.S.One, -3.0: sp.S.Zero}),
    Record("linear", lambda x: x, lambda x: np.ones_like(x), sp.S.One, -math.inf, math.inf,
           special={1.5: sp.Float(1.5)}),
    Record("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x),
           lambda x: np.where(x > 0, 1.0, 0.01),
           sp.Piecewise((1, z > 0), (sp.Rational(1, 100), True)), -math.inf, math.inf,
           kinks=(0.0,), special={-2.0: sp.Float(-0.02)}),
    Record("elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
           lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))),
           sp.Piecewise((1, z > 0), (sp.exp(z), True)), -1.0, math.inf, kinks=(0.0,),
           special={0.0: sp.S.Zero}),
    Record("softplus", lambda x: np.log1p(np.exp(x)), _np_sigmoid, sigmoid(z), 0.0, math.inf,
           special={0.0: sp.log(2)}),
    Record("silu", lambda x: x * _np_sigmoid(x),
           lambda x: _np_sigmoid(x) * (1 + x * (1 - _np_sigmoid(x))),
           sigmoid(z) * (1 + z * (1 - sigmoid(z))), -0.2785, math.inf,
           special={0.0: sp.S.Zero}),
    Record("gelu", lambda x: x * _phi(x),
           lambda x: _phi(x) + x * np.exp(-x**2 / 2) / math.sqrt(2 * math.pi),
           (1 + sp.erf(z / sp.sqrt(2))) / 2 + z * sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi),
           -0.17, math.inf, special={0.0: sp.S.Zero}),
]
IDS = [r.name for r in CATALOGUE]


def _points(record: Record, n: int = 25, seed: int = 0) -> np.ndarray:
    """Random points in [-6, 6], at least 1e-3 away from every kink."""
    pts = np.random.default_rng(seed).uniform(-6, 6, size=4 * n)
    for kink in record.kinks:
        pts = pts[np.abs(pts - kink) > 1e-3]
    return pts[:n]


def _value(expr: sp.Expr, x: float) -> float:
    return float(expr.subs(z, sp.Float(x, 30)).evalf(30))


def test_catalogue_covers_the_registry() -> None:
    assert sorted(IDS + ["softmax"]) == sorted(ACTIVATIONS)


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_derivative_has_the_idiomatic_form(record: Record) -> None:
    assert ACTIVATIONS[record.name](z).diff(z) == record.derivative_form


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_derivative_matches_the_elementary_definition(record: Record) -> None:
    act = ACTIVATIONS[record.name]
    mine = act(z).diff(z)
    reference = act.definition(z).diff(z)
    if not record.kinks:  # smooth: equal as expressions
        assert sp.simplify(mine.rewrite(sp.exp) - reference) == 0
    for x in _points(record):
        assert _value(mine, x) == pytest.approx(_value(reference, x), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_values_and_derivative_match_numpy_and_central_differences(record: Record) -> None:
    act = ACTIVATIONS[record.name]
    f, df = act(z), act(z).diff(z)
    for x in _points(record):
        value = _value(f, x)
        assert value == pytest.approx(float(record.reference(np.array(x))), rel=1e-12,
                                      abs=1e-14)
        slope = _value(df, x)
        central = (_value(f, x + H) - _value(f, x - H)) / (2 * H)
        assert slope == pytest.approx(central, rel=record.tol, abs=1e-9)
        assert slope == pytest.approx(float(record.derivative(np.array(x))), rel=1e-12,
                                      abs=1e-14)


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_special_values(record: Record) -> None:
    act = ACTIVATIONS[record.name]
    for x, expected in record.special.items():
        got = act(sp.Float(x) if x != 0 else sp.S.Zero)
        assert sp.N(got - expected, 20) == 0


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_range(record: Record) -> None:
    act = ACTIVATIONS[record.name]
    xs = np.concatenate([np.linspace(-15, 15, 61), [0.0]])
    values = [_value(act(z), x) for x in xs]
    assert min(values) >= record.low - 1e-12
    assert max(values) <= record.high
    if not record.closed_low and math.isfinite(record.low):
        assert min(values) > record.low


def test_kink_conventions() -> None:
    zero = sp.S.Zero
    assert ACTIVATIONS["relu"](z).diff(z).subs(z, zero) == 0  # ReLU'(0) = 0
    assert ACTIVATIONS["binary_step"](zero) == 1  # step(0) = 1
    assert ACTIVATIONS["binary_step"](z).diff(z) == 0  # 0 almost everywhere, 0 at 0 too
    assert ACTIVATIONS["leaky_relu"](z).diff(z).subs(z, zero) == sp.Rational(1, 100)
    assert ACTIVATIONS["leaky_relu"](z, alpha=0.2).diff(z).subs(z, zero) == sp.Rational(1, 5)
    assert ACTIVATIONS["elu"](z, alpha=0.5).diff(z).subs(z, zero) == sp.Rational(1, 2)
    # the ReLU derivative is the Heaviside step: 1 on the right, 0 on the left
    assert ACTIVATIONS["relu"](z).diff(z).subs(z, 3) == 1
    assert ACTIVATIONS["relu"](z).diff(z).subs(z, -3) == 0


def test_leaky_relu_slope_is_a_parameter() -> None:
    act = ACTIVATIONS["leaky_relu"]
    assert act(sp.Integer(-2), alpha=0.1) == sp.Rational(-1, 5)
    with pytest.raises(UnknownNameError, match="unknown parameter of activation 'leaky_relu' "
                                                "'beta'; known: alpha"):
        act(z, beta=0.1)


def test_softmax_jacobian() -> None:
    zs = sp.symbols("z1:4", real=True)
    s = [softmax(sp.Integer(k), *zs) for k in (1, 2, 3)]
    for i in range(3):
        for j in range(3):
            expected = s[i] * ((1 if i == j else 0) - s[j])
            assert sp.expand(s[i].diff(zs[j]) - expected) == 0
            # second way: the elementary definition, at a point
            ref = softmax.definition(sp.Integer(i + 1), *zs).diff(zs[j])
            point = {zs[0]: 0.3, zs[1]: -1.2, zs[2]: 2.0}
            assert float(s[i].diff(zs[j]).subs(point).evalf()) == pytest.approx(
                float(ref.subs(point).evalf()), rel=1e-12)
    total = sum(float(c.subs({zs[0]: 1, zs[1]: 2, zs[2]: 3}).evalf()) for c in s)
    assert total == pytest.approx(1.0, rel=1e-15)


def test_softmax_index_must_be_in_range() -> None:
    with pytest.raises(ValueError, match=r"softmax index 3 is not one of 1\.\.2"):
        softmax(sp.Integer(3), *sp.symbols("a b"))


def test_latex_forms() -> None:
    assert sp.latex(sigmoid(z)) == r"\sigma\left(z\right)"
    assert sp.latex(ACTIVATIONS["relu"](z)) == r"\operatorname{ReLU}\left(z\right)"
    assert sp.latex(softmax(sp.Integer(1), *sp.symbols("z1 z2"))) == \
        r"\operatorname{softmax}_{1}\left(z_{1}, z_{2}\right)"


def test_unknown_activation_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_activation("sigmod")
    assert str(info.value) == ("unknown activation 'sigmod'; known: sigmoid, tanh, relu, "
                               "softmax, binary_step, linear, leaky_relu, elu, softplus, silu, "
                               "gelu")


def test_aliases() -> None:
    assert get_activation("swish").name == "silu"
    assert get_activation("step").name == "binary_step"
