"""Softmax as a layer of its own (its full Jacobian) and log-softmax, row by row.

Each sample (row) of ``D`` values is mapped on its own; the derivation differentiates
the adjoint ``sum_k dy_k y_k`` of one row at a symbolic ``D`` (:mod:`.index_sums`), so
softmax's full Jacobian ``ds_k/dz_j = s_k (delta_kj - s_j)`` gives
``dz = s ⊙ (dy - (s^T dy))``, not the diagonal ``s ⊙ (1 - s) ⊙ dy``.

>>> s, cache = softmax_forward(np.array([[0.0, np.log(3.0)]]), {})
>>> np.round(s, 6)
array([[0.25, 0.75]])
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from ..errors import ShapeError
from .index_sums import lift, sums_out
from .layer_types import N, LayerType, MatrixSteps, Step, register_layer_type, vector_shape

__all__ = ["SOFTMAX", "LOG_SOFTMAX", "softmax_forward", "softmax_backward",
           "log_softmax_forward", "log_softmax_backward"]

_j, _k, _l = sp.symbols("j k l", integer=True)
_D = sp.Symbol("D", integer=True, positive=True)


def _check(name: str, z: np.ndarray) -> None:
    if z.ndim != 2:
        raise ShapeError(name, z.shape, "(N, D)")


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """``z - max - log(sum(exp(z - max)))`` per row: no overflow, no log of 0."""
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))


def softmax_forward(z: np.ndarray, params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, Any]:
    """``s_k = exp(z_k) / sum_l exp(z_l)`` per row, shifted by the row's maximum."""
    _check("softmax", z)
    shifted = np.exp(z - np.max(z, axis=1, keepdims=True))
    s = shifted / np.add.reduce(shifted, axis=1, keepdims=True)
    return s, s


def softmax_backward(dy: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    """The full Jacobian's product: ``dz = s ⊙ (dy - sum_k dy_k s_k)`` per row."""
    s = cache
    return {"x": s * (dy - np.add.reduce(dy * s, axis=1, keepdims=True))}


def log_softmax_forward(z: np.ndarray, params: Mapping[str, np.ndarray]
                        ) -> tuple[np.ndarray, Any]:
    """``y_k = z_k - log sum_l exp(z_l)`` per row."""
    _check("log_softmax", z)
    y = _log_softmax(z)
    return y, np.exp(y)


def log_softmax_backward(dy: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    """``dz = dy - s sum_k dy_k`` per row, ``s = exp(y)``."""
    return {"x": dy - cache * np.add.reduce(dy, axis=1, keepdims=True)}


def _in_shares(expr: sp.Expr, total: sp.Expr, s: sp.IndexedBase) -> sp.Expr:
    """``exp(z_k) / sum_l exp(z_l)`` written as the share ``s_k``."""
    sigma = sp.Dummy("Sigma", positive=True)
    expr = expr.xreplace({total: sigma}).replace(
        lambda e: isinstance(e, sp.exp) and isinstance(e.args[0], sp.Indexed),
        lambda e: s[e.args[0].indices[0]] * sigma)
    return sp.collect(sp.expand(sp.simplify(expr)), s[_j])


def _row_steps(name: str, forward: Step, extra: tuple[Step, ...], grad: sp.Expr,
               s: sp.IndexedBase, dy: sp.IndexedBase, note: str) -> MatrixSteps:
    """The steps of a row-wise layer: index form, then the batch (rows) form."""
    S, dY = MatrixSymbol("S", N, _D), MatrixSymbol("dY", N, _D)
    batch = lift(grad, _j, {s: S, dy: dY}, 1, N, _D)
    backward = extra + (Step(sp.Indexed("dz", _j), grad, (), note),
                        Step(MatrixSymbol("dZ", N, _D), batch, (N, _D),
                             "each row alike; the row sums as products with 1_D"))
    return MatrixSteps(name, (forward,), backward, {"x": batch}, {"s": S, "dy": dY},
                       {"N": N, "D": _D})


def softmax_derivation() -> MatrixSteps:
    """Softmax differentiated at symbolic ``D``: the full Jacobian, then its product."""
    z, dy, s = (sp.IndexedBase(n) for n in ("z", "dy", "s"))
    total = sp.Sum(sp.exp(z[_l]), (_l, 1, _D))
    share = sp.exp(z[_k]) / total
    jacobian = _in_shares(sums_out(sp.diff(share, z[_j])), total, s)
    grad = _in_shares(sums_out(sp.expand(sp.diff(sp.Sum(dy[_k] * share, (_k, 1, _D)), z[_j]))),
                      total, s)
    s_vec = MatrixSymbol("s", _D, 1)
    full = Step(sp.Symbol("J"), sp.DiagMatrix(s_vec) - s_vec * s_vec.T, (_D, _D),
                "the full Jacobian ds/dz of one row, not its diagonal")
    return _row_steps("softmax", Step(s[_k], share), (
        Step(sp.Derivative(s[_k], z[_j]), sp.factor(jacobian)), full), grad, s, dy,
        "dz = J^T dy, summed over k")


def log_softmax_derivation() -> MatrixSteps:
    """Log-softmax differentiated at symbolic ``D``."""
    z, dy, s = (sp.IndexedBase(n) for n in ("z", "dy", "s"))
    total = sp.Sum(sp.exp(z[_l]), (_l, 1, _D))
    y_k = z[_k] - sp.log(total)
    grad = _in_shares(sums_out(sp.expand(sp.diff(sp.Sum(dy[_k] * y_k, (_k, 1, _D)), z[_j]))),
                      total, s)
    return _row_steps("log_softmax", Step(sp.Indexed("y", _k), y_k), (), grad, s, dy,
                      "s_j = exp(y_j), the softmax of the row")


SOFTMAX = register_layer_type(LayerType(
    name="softmax", title="softmax (a layer, full Jacobian)", params=(), hyper={},
    output_shape=vector_shape("softmax", "one vector of scores"),
    init=lambda shape, hyper, rng: {}, forward=softmax_forward, backward=softmax_backward,
    derivation=softmax_derivation))

LOG_SOFTMAX = register_layer_type(LayerType(
    name="log_softmax", title="log-softmax", params=(), hyper={},
    output_shape=vector_shape("log_softmax", "one vector of scores"),
    init=lambda shape, hyper, rng: {}, forward=log_softmax_forward,
    backward=log_softmax_backward, derivation=log_softmax_derivation))
