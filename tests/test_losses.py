"""The loss registry: one record per loss, each derivative checked a second way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import sympy as sp

from symgrad.errors import UnknownNameError
from symgrad.catalogue import LOSSES, get_loss

A = sp.symbols("a1:3", real=True)
T = sp.symbols("T1:3", real=True)


@dataclass(frozen=True)
class Record:
    name: str
    reference: Callable[[np.ndarray, np.ndarray], float]  # per sample, NumPy, from the formula
    reduction: str
    symbol: str


CATALOGUE = [
    Record("sse", lambda a, t: float(np.sum((t - a) ** 2)), "sum", "J"),
    Record("half_sse", lambda a, t: float(0.5 * np.sum((t - a) ** 2)), "sum", "E"),
    Record("mse", lambda a, t: float(np.mean((t - a) ** 2)), "mean", "E"),
    Record("half_mse", lambda a, t: float(0.5 * np.mean((t - a) ** 2)), "mean", "E"),
    Record("bce", lambda a, t: float(-np.sum(t * np.log(a) + (1 - t) * np.log(1 - a))), "mean",
           "E"),
    Record("cce", lambda a, t: float(-np.sum(t * np.log(a))), "mean", "E"),
]
IDS = [r.name for r in CATALOGUE]
POINT_A = np.array([0.3, 0.6])
POINT_T = np.array([0.2, 0.8])


def _subs(expr: sp.Expr, a: np.ndarray, t: np.ndarray) -> float:
    env = {**{s: sp.Float(v, 30) for s, v in zip(A, a)},
           **{s: sp.Float(v, 30) for s, v in zip(T, t)}}
    return float(expr.xreplace(env).evalf(30))


def test_catalogue_covers_the_registry() -> None:
    assert sorted(IDS) == sorted(LOSSES)


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_value_matches_numpy(record: Record) -> None:
    loss = LOSSES[record.name]
    assert loss.reduction == record.reduction
    assert loss.symbol == record.symbol
    expr = loss.per_sample(A, T)
    assert _subs(expr, POINT_A, POINT_T) == pytest.approx(record.reference(POINT_A, POINT_T),
                                                          rel=1e-13)


@pytest.mark.parametrize("record", CATALOGUE, ids=IDS)
def test_derivative_matches_central_differences(record: Record) -> None:
    expr = LOSSES[record.name].per_sample(A, T)
    h = 1e-6
    for k in range(2):
        slope = _subs(expr.diff(A[k]), POINT_A, POINT_T)
        up, down = POINT_A.copy(), POINT_A.copy()
        up[k] += h
        down[k] -= h
        central = (record.reference(up, POINT_T) - record.reference(down, POINT_T)) / (2 * h)
        assert slope == pytest.approx(central, rel=1e-7)


def test_exact_forms() -> None:
    a, t = sp.symbols("a T")
    assert LOSSES["sse"].per_sample([a], [t]) == (t - a) ** 2
    assert LOSSES["half_sse"].per_sample([a], [t]) == (t - a) ** 2 / 2
    assert LOSSES["half_sse"].per_sample([a], [t]).diff(a) == a - t
    assert LOSSES["half_mse"].per_sample(A, T) == ((T[0] - A[0]) ** 2 + (T[1] - A[1]) ** 2) / 4
    assert LOSSES["cce"].per_sample([a], [t]) == -t * sp.log(a)


def test_mismatched_outputs_and_targets() -> None:
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        LOSSES["sse"].per_sample(A, T[:1])


def test_unknown_loss_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_loss("huber")
    assert str(info.value) == "unknown loss 'huber'; known: sse, half_sse, mse, half_mse, bce, cce"
    assert get_loss("cross_entropy").name == "cce"
