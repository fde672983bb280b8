"""Stability of the generated code: finite, warning-free and accurate for large |z|.

pytest runs with ``filterwarnings = error``, so an overflow or invalid-value RuntimeWarning
anywhere below fails the test. Accuracy is checked against mpmath at 50 digits.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Callable

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from symgrad.catalogue import get_activation
from symgrad.compile import activation_functions, activation_kernel, compile, numpy_kernel
from symgrad.derive import derive
from symgrad.network import Dense, Network

mp.mp.dps = 50
EXTREMES = np.array([0.0, 1.0, -1.0, 30.0, -30.0, 1e3, -1e3, 1e4, -1e4, 1e300, -1e300])
SWEEP = np.concatenate([np.linspace(-700.0, 700.0, 1401), np.linspace(-5.0, 5.0, 201),
                        [40.0, -40.0, 1e-8, -1e-8, 1e-300]])
TINY = 1e-300  # below this a true value is (nearly) subnormal: relative accuracy is moot


def _sigmoid(z: mp.mpf) -> mp.mpf:
    return 1 / (1 + mp.exp(-z))


def _phi_big(z: mp.mpf) -> mp.mpf:
    return mp.erfc(-z / mp.sqrt(2)) / 2


@dataclass(frozen=True)
class Case:
    """One activation: its reference value and derivative, and limits at +-infinity."""

    name: str
    value: Callable[[mp.mpf], mp.mpf]
    slope: Callable[[mp.mpf], mp.mpf]


CATALOGUE = [
    Case("sigmoid", _sigmoid, lambda z: _sigmoid(z) * _sigmoid(-z)),
    Case("tanh", mp.tanh, lambda z: mp.sech(z) ** 2),
    Case("softplus", lambda z: mp.log1p(mp.exp(z)), _sigmoid),
    Case("elu", lambda z: z if z > 0 else mp.expm1(z), lambda z: 1 if z > 0 else mp.exp(z)),
    Case("gelu", lambda z: z * _phi_big(z),
         lambda z: _phi_big(z) + z * mp.exp(-z**2 / 2) / mp.sqrt(2 * mp.pi)),
    Case("silu", lambda z: z * _sigmoid(z),
         lambda z: _sigmoid(z) + z * _sigmoid(z) * _sigmoid(-z)),
    Case("relu", lambda z: max(z, 0), lambda z: 1 if z > 0 else 0),
    Case("leaky_relu", lambda z: z if z > 0 else z / 100,
         lambda z: 1 if z > 0 else mp.mpf(1) / 100),
    Case("binary_step", lambda z: 1 if z >= 0 else 0, lambda z: 0),
    Case("linear", lambda z: z, lambda z: 1),
]
IDS = [c.name for c in CATALOGUE]


def _relative_errors(got: np.ndarray, reference: Callable[[mp.mpf], mp.mpf],
                     points: np.ndarray) -> list[tuple[float, float, float]]:
    """``(z, got, want)`` for every point whose relative error exceeds 1e-12."""
    bad = []
    for z, g in zip(points, got):
        want = reference(mp.mpf(float(z)))
        if abs(want) < TINY:
            if abs(g) > 1e-290:
                bad.append((float(z), float(g), float(want)))
            continue
        if abs(mp.mpf(float(g)) - want) > 1e-12 * abs(want):
            bad.append((float(z), float(g), float(want)))
    return bad


@pytest.mark.parametrize("case", CATALOGUE, ids=IDS)
def test_finite_without_warnings_at_extremes(case: Case) -> None:
    value, slope = activation_functions(case.name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (value, slope):
            out = f(EXTREMES)
            assert out.shape == EXTREMES.shape
            assert np.all(np.isfinite(out)), (case.name, out)


@pytest.mark.parametrize("case", CATALOGUE, ids=IDS)
def test_value_accurate_against_mpmath(case: Case) -> None:
    value, _ = activation_functions(case.name)
    points = np.concatenate([SWEEP, [1e3, -1e3, 1e4, -1e4]])
    assert _relative_errors(value(points), case.value, points) == []


@pytest.mark.parametrize("case", CATALOGUE, ids=IDS)
def test_derivative_accurate_against_mpmath(case: Case) -> None:
    _, slope = activation_functions(case.name)
    points = np.concatenate([SWEEP, [1e3, -1e3, 1e4, -1e4]])
    assert _relative_errors(slope(points), case.slope, points) == []


def test_sigmoid_slope_at_40_is_not_rounded_to_zero() -> None:
    # a (1 - a) gives exactly 0 here, as PyTorch and JAX do; the true value is 4.248e-18
    _, slope = activation_functions("sigmoid")
    assert float(slope(np.array(40.0))) == pytest.approx(4.248354255291589e-18, rel=1e-14)
    a = 1 / (1 + np.exp(-40.0))
    assert a * (1 - a) == 0.0


def test_plain_lambdify_overflows_where_ours_does_not() -> None:
    z = sp.Symbol("z")
    plain = sp.lambdify((z,), 1 / (1 + sp.exp(-z)), "numpy")
    with pytest.warns(RuntimeWarning, match="overflow"):
        plain(np.array([-1000.0]))
    value, slope = activation_functions("sigmoid")
    assert value(np.array([-1000.0]))[0] == 0.0
    assert slope(np.array([-1000.0]))[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_array_forms_give_the_sign_splits_numbers_without_a_where(dtype: type) -> None:
    """The layer kernels' branch-free sigmoid (two exp of min(+-z, 0)) against the
    sign-split stable forms the other backends print: the same bits everywhere, the
    infinities, the zeros' signs and the overflow range of each dtype included."""
    z, a = sp.Symbol("z"), sp.Symbol("a")
    split = get_activation("sigmoid").stable_forms(z, a)
    reference = numpy_kernel((z,), (a, split.roles[(a, "slope")]), split.assignments)
    kernel = activation_kernel("sigmoid")
    assert [str(s) for s, _ in get_activation("sigmoid").array_stable_forms(z, a).assignments] \
        == ["a_m", "a_u", "a_v", "a_q", "a", "a_c", "a_d"]
    assert "where" not in inspect.getsource(kernel.raw)
    rng = np.random.default_rng(3)
    far = float(np.finfo(dtype).max)
    points = np.concatenate([rng.normal(size=20000) * s for s in (1.0, 10.0, 100.0)] + [
        np.linspace(-800.0, 800.0, 16001),
        [0.0, -0.0, far, -far, np.inf, -np.inf, 1e-45, -1e-45, 88.7, -88.7, 103.9, -103.9]],
    ).astype(dtype)
    for got, want in zip(kernel(points), reference(points)):
        assert got.dtype == want.dtype == dtype
        assert got.tobytes() == want.tobytes()


def test_activation_parameters_reach_the_forms() -> None:
    value, slope = activation_functions("elu", alpha=0.5)
    assert value(np.array([-1e4, 0.0, 2.0])).tolist() == [-0.5, 0.0, 2.0]
    assert slope(np.array([0.0])).tolist() == [0.5]  # ELU'(0) = alpha by convention


# -- losses computed from z (log-sigmoid, log-softmax), and their gradients --------------------

def _one_unit(loss: str):  # type: ignore[no-untyped-def]
    return compile(derive(Network(1, [Dense(1, "sigmoid")], loss)))


@pytest.mark.parametrize("target", [0.0, 1.0])
@pytest.mark.parametrize("z", [0.0, 1.0, -1.0, 30.0, -30.0, 1e3, -1e3, 1e4, -1e4, 1e300, -1e300])
def test_binary_cross_entropy_from_z(z: float, target: float) -> None:
    f = _one_unit("bce")
    loss, grads = f.value_and_grad(x=1.0, T=target, w=z, b=0.0)
    zm = mp.mpf(z)
    want = target * mp.log1p(mp.exp(-zm)) + (1 - target) * mp.log1p(mp.exp(zm))
    want_delta = _sigmoid(zm) - target
    assert np.isfinite(loss) and np.isfinite(grads["b"])
    assert float(loss) == pytest.approx(float(want), rel=1e-12, abs=1e-300)
    assert float(grads["b"]) == pytest.approx(float(want_delta), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("scale", [0.0, 1.0, 30.0, 1e3, 1e4, 1e300])
def test_softmax_cross_entropy_from_z(scale: float) -> None:
    f = compile(derive(Network(1, [Dense(3, "softmax")], "cce")))
    values = {"x1": 1.0, "T1": 0.0, "T2": 1.0, "T3": 0.0, "w1_1_1": scale, "w1_2_1": -scale,
              "w1_3_1": scale / 2, "b1_1": 0.0, "b1_2": 0.0, "b1_3": 0.0}
    loss, grads = f.value_and_grad(**values)
    z = [mp.mpf(scale), mp.mpf(-scale), mp.mpf(scale / 2)]
    lse = mp.log(sum(mp.exp(v) for v in z))
    assert float(loss) == pytest.approx(float(lse - z[1]), rel=1e-12)
    shares = [mp.exp(v - lse) for v in z]
    for k, t in enumerate((0.0, 1.0, 0.0)):
        want = shares[k] - t
        assert float(grads[f"b1_{k + 1}"]) == pytest.approx(float(want), rel=1e-12, abs=1e-300)


def _softmax_bce_reference(z: list[mp.mpf], targets: list[float]) -> tuple[mp.mpf, list[mp.mpf],
                                                                          list[mp.mpf]]:
    """Loss, deltas and, per delta, the sum of the absolute values of its terms (the scale
    that rounding errors are measured against where the terms cancel), at 100 digits."""
    with mp.workdps(100):
        e = [mp.exp(v) for v in z]
        total = sum(e)
        a = [v / total for v in e]
        c = [sum(e[i] for i in range(len(e)) if i != k) / total for k in range(len(e))]
        loss = -sum(t * mp.log(ak) + (1 - t) * mp.log(ck) for t, ak, ck in zip(targets, a, c))
        slope = [-t / ak + (1 - t) / ck for t, ak, ck in zip(targets, a, c)]
        terms = [[slope[k] * a[k] * (c[j] if k == j else -a[j]) for k in range(len(e))]
                 for j in range(len(e))]
        return loss, [sum(t) for t in terms], [sum(abs(x) for x in t) for t in terms]


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("units", [2, 3, 4])
def test_binary_cross_entropy_on_softmax_from_z(units: int, backend: str) -> None:
    """No 1/a and no 1/(1 - a): finite and warning-free up to |z| = 1e4, and within 1e-12
    of the terms' scale (plus the rounding of z itself for the loss's log-softmax)."""
    f = compile(derive(Network(1, [Dense(units, "softmax")], "bce")), backend=backend)
    for scale in (0.0, 1.0, -30.0, 30.0, 1e3, -1e3, 1e4, -1e4):
        z = [scale, scale / 2] + [0.0] * (units - 2)
        for hot in range(units):
            targets = [float(k == hot) for k in range(units)]
            values = {"x1": 1.0, **{f"T{k + 1}": t for k, t in enumerate(targets)},
                      **{f"w1_{k + 1}_1": v for k, v in enumerate(z)},
                      **{f"b1_{k + 1}": 0.0 for k in range(units)}}
            loss, grads = f.value_and_grad(**values)
            want_loss, want, sizes = _softmax_bce_reference([mp.mpf(v) for v in z], targets)
            slack = 4 * np.finfo(float).eps * units * abs(scale)
            assert abs(float(loss) - want_loss) <= 1e-12 * abs(want_loss) + slack, \
                (scale, hot, float(loss), float(want_loss))
            for k in range(units):
                got = float(grads[f"b1_{k + 1}"])
                assert np.isfinite(got)
                assert abs(got - want[k]) <= 1e-12 * sizes[k] + 1e-300, \
                    (scale, hot, k, got, float(want[k]))


def test_float32_extremes_stay_finite() -> None:
    f = _one_unit("bce")
    z = np.array([-1e4, -30, 0, 30, 1e4], dtype=np.float32)
    loss, grads = f.value_and_grad(x=z, T=np.ones(5, dtype=np.float32), w=1.0, b=0.0)
    assert loss.dtype == np.float32 and np.isfinite(loss)
    assert float(loss) == pytest.approx((1e4 + 30 + np.log(2) + 2 * 9.357623e-14) / 5, rel=1e-6)
