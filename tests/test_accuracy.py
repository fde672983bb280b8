"""Every loss on every output activation keeps 1e-12 of mpmath over |z| <= 700 (issue 15,
items 3 and 4), at both levels and through every backend, with targets 0, 1 and 0.25.

Where the output saturates towards its target (``sigma(z) -> 1`` with ``T = 1``), ``a - T``
computed as a difference keeps nothing: ``sigma(40) - 1`` rounds to 0 where the truth is
``-sigma(-40) = -4.2e-18``. symgrad computes it from z instead (``a (1 - T) - T (1 - a)``
with ``1 - a = sigma(-z)``). The references are :mod:`tests.reference` (mpmath at 800
digits); exact evaluation (``Derivation.at``) is checked too, at fewer points, and at
|z| up to 1e4 (item 5).
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from symgrad.compile import compile
from symgrad.derive import derive
from symgrad.network import Dense, Network
from symgrad.printers_numeric import ScalarMathPrinter

from .reference import SWEEP, TARGETS, Case, cases, relative_error
from .sweep import PATHS, runner, supported

TOLERANCE = 1e-12
CASES = cases()
COMPILED = [(case, level, backend) for case in CASES for level, backend in PATHS
            if backend != "exact" and supported(case, level)]
#: Exact evaluation takes milliseconds a point: these points stand for the sweep.
EXACT_POINTS = (-700.0, -40.0, -1.0, 0.0, 1e-8, 1.0, 40.0, 700.0)


@lru_cache(maxsize=None)
def _reference(case: Case, z: float, t: float, loss: bool) -> mp.mpf:
    return case.loss_value(z, t) if loss else case.delta(z, t)


def _worst(case: Case, level: str, backend: str, points: object,
           loss: bool = False) -> list[tuple[float, ...]]:
    run = runner(case, level, backend, loss)
    bad = []
    for t in TARGETS:
        for z in points:  # type: ignore[attr-defined]
            got, want = run(float(z), t), _reference(case, float(z), t, loss)
            error = relative_error(got, want)
            if error > TOLERANCE:
                bad.append((float(z), t, got, float(want), error))
    return bad


@pytest.mark.parametrize("case, level, backend", COMPILED,
                         ids=[f"{c.name}-{level}-{backend}" for c, level, backend in COMPILED])
def test_error_signal_within_1e_12_of_mpmath(case: Case, level: str, backend: str) -> None:
    assert _worst(case, level, backend, SWEEP) == []


@pytest.mark.parametrize("case, level, backend", COMPILED,
                         ids=[f"{c.name}-{level}-{backend}" for c, level, backend in COMPILED])
def test_loss_within_1e_12_of_mpmath(case: Case, level: str, backend: str) -> None:
    assert _worst(case, level, backend, SWEEP, loss=True) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_exact_evaluation_within_1e_12_of_mpmath(case: Case) -> None:
    assert _worst(case, "unit", "exact", EXACT_POINTS) == []
    assert _worst(case, "unit", "exact", EXACT_POINTS, loss=True) == []


def test_sigmoid_at_40_with_target_1_is_not_rounded_to_zero() -> None:
    """The issue's example: half_sse on a sigmoid output at z = 40, T = 1."""
    f = compile(derive(Network(1, [Dense(1, "sigmoid")], "half_sse")))
    got = f.grad(x=40.0, T=1.0, w=1.0, b=0.0)["b"]
    with mp.workdps(50):
        s = 1 / (1 + mp.exp(40))  # sigma(-40)
        want = float(-s * s * (1 - s))  # (sigma(40) - 1) sigma'(40)
    assert got == pytest.approx(want, rel=1e-15, abs=0.0)
    assert want == pytest.approx(-1.8048513878454153e-35, rel=1e-15, abs=0.0)


# -- exact evaluation far out (item 5) ---------------------------------------------------

def _gelu_slope(z: mp.mpf) -> mp.mpf:
    return mp.erfc(-z / mp.sqrt(2)) / 2 + z * mp.exp(-z**2 / 2) / mp.sqrt(2 * mp.pi)


@pytest.mark.parametrize("z", [-30.0, -100.0, -200.0, -300.0, -1e4, 1e4])
def test_gelu_exact_values_far_out(z: float) -> None:
    """At z = -100 ``erf`` was evaluated at thousands of digits (6 s; -300 did not finish):
    the value comes from ``erfc``, at a precision set by the quantity."""
    d = derive(Network(1, [Dense(1, "gelu")], "half_sse"))
    with mp.workdps(60):
        zz = mp.mpf(z)
        a = zz * mp.erfc(-zz / mp.sqrt(2)) / 2
        want = float((a - 1) * _gelu_slope(zz))
    got = d.at({"x": z, "T": 1.0, "w": 1.0, "b": 0.0})["b"]
    assert got == pytest.approx(want, rel=1e-14, abs=0.0)


@pytest.mark.parametrize("z", [-200.0, 200.0, -700.0, 1e4, -1e4])
@pytest.mark.parametrize("target", [1.0, -1.0, 0.25])
def test_tanh_exact_values_far_out(z: float, target: float) -> None:
    """``1 - tanh(z)**2`` loses 2|z|/ln 10 digits: at z = -200 the delta is -1.5e-173,
    which a precision raised by |z|/ln 10 gave as 0."""
    d = derive(Network(1, [Dense(1, "tanh")], "half_sse"))
    with mp.workdps(9000):
        a = mp.tanh(mp.mpf(z))
        want = float((a - target) * (1 - a**2))
    got = d.at({"x": z, "T": target, "w": 1.0, "b": 0.0})["b"]
    assert got == pytest.approx(want, rel=1e-14, abs=0.0)


def _mp_loss(net: Network, values: dict[str, float]) -> float:
    """Binary cross-entropy of a GELU -> softmax network for one sample, in mpmath:
    ``log(1 - a_k)`` as the log of the other shares."""
    with mp.workdps(80):
        a = [mp.mpf(values[str(x)]) for x in net.inputs]
        for layer in net.layers:
            z = [sum(mp.mpf(values[str(w)]) * v for w, v in zip(row, a)) +
                 mp.mpf(values[str(b)]) for row, b in zip(layer.weights, layer.biases)]
            a = [u * mp.erfc(-u / mp.sqrt(2)) / 2 for u in z]
        top = max(z)
        lse = top + mp.log(mp.fsum(mp.exp(v - top) for v in z))
        log_rest = [mp.log(mp.fsum(mp.exp(z[j] - lse) for j in range(len(z)) if j != k))
                    for k in range(len(z))]
        T = [mp.mpf(values[str(t)]) for t in net.targets]
        return float(-mp.fsum(t * (v - lse) + (1 - t) * r for t, v, r in zip(T, z, log_rest)))


def test_gelu_softmax_bce_sample_that_evaluated_as_nan() -> None:
    """A 3-4-3 GELU / softmax / binary cross-entropy sample whose output share is within
    1e-300 of 1 where its target is 1: exact evaluation gave "evaluated as nan"
    (``0 * log(0)``); ``log(1 - a)`` is now the log of the other shares."""
    net = Network(3, [Dense(4, "gelu"), Dense(3, "softmax")], "bce")
    rng = np.random.default_rng(6)
    values = {str(p): float(rng.normal(scale=6)) for p in net.parameters}
    values.update({str(x): float(rng.normal(scale=3)) for x in net.inputs})
    values.update(zip(map(str, net.targets), map(float, rng.integers(0, 2, 3))))
    want = _mp_loss(net, values)
    assert want == pytest.approx(774.3748721925808, rel=1e-12)
    d = derive(net)
    assert d.loss_at(values) == pytest.approx(want, rel=1e-14, abs=0.0)
    assert compile(d).loss(**values) == pytest.approx(want, rel=1e-12, abs=0.0)


def test_a_square_in_a_quotient_keeps_its_brackets_in_scalar_code() -> None:
    """tanh's slope 4e/(1 + e)**2 shares 1 + e with its complement: the square of that
    temporary printed as c*c divided 4e by c and multiplied by c again."""
    e, c = sp.symbols("e c")
    assert ScalarMathPrinter().doprint(4 * e / c**2) == "4*e/(c*c)"
