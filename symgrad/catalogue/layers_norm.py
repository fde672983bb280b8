"""Batch normalization and dropout (inverted, the mask an input).

Both are derived from the adjoint ``sum_i dy_i y_i`` at a symbolic batch size ``N``
(:mod:`.index_sums`) and lifted to matrix form over the batch; the NumPy kernels compute
the forms the derivation ends with: batch norm's compact input gradient
``dx = gamma / (N sigma) (N dy - sum dy - xhat sum(dy xhat))``, its mean terms visible.

Batch norm trains on the batch's statistics and keeps running ones, as PyTorch's
``BatchNorm1d`` does: ``running_mean`` and ``running_var`` (state, not parameters) start
at 0 and 1, and each training batch moves them by ``momentum`` towards its mean and
unbiased variance; evaluation normalizes with them, so one sample's output depends on it.

>>> x = np.arange(6.0).reshape(3, 2)
>>> params = {"gamma": np.ones(2), "beta": np.zeros(2)}
>>> y, cache = batchnorm_forward(x, params, eps=0.0)
>>> np.round(y[:, 0], 6)
array([-1.224745,  0.      ,  1.224745])
>>> state = batchnorm_update_state(x, batchnorm_init_state((2,), {}), momentum=0.5)
>>> state["running_mean"], state["running_var"]
(array([1. , 1.5]), array([2.5, 2.5]))
>>> batchnorm_predict(x[:1], {**params, **state}, eps=0.0)
array([[-0.63245553, -0.31622777]])
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy as sp
from sympy import MatMul, MatrixSymbol

from ..errors import ArgumentError, ShapeError
from .index_sums import lift, ones_t, sums_out
from .layer_types import (N, Bound, LayerType, MatrixSteps, Step, register_layer_type,
                          vector_shape)

__all__ = ["BATCHNORM", "DROPOUT", "batchnorm_forward", "batchnorm_backward",
           "batchnorm_init_state", "batchnorm_update_state", "batchnorm_predict",
           "dropout_forward", "dropout_backward"]

_i, _j, _k = sp.symbols("i j k", integer=True)
_D = sp.Symbol("D", integer=True, positive=True)


# -- batch normalization -----------------------------------------------------------------

def _check_batch(x: np.ndarray, gamma: np.ndarray) -> None:
    if x.ndim != 2 or x.shape[1] != gamma.shape[0]:
        raise ShapeError("batchnorm", x.shape, f"(N, {gamma.shape[0]}) to match gamma "
                         f"{gamma.shape}")


def batchnorm_forward(x: np.ndarray, params: Mapping[str, np.ndarray],
                      eps: float = 1e-5, momentum: float = 0.1) -> tuple[np.ndarray, Any]:
    """``y = gamma xhat + beta`` with ``xhat = (x - mean) / sqrt(var + eps)``, the batch's
    mean and (biased, 1/N) variance per feature (training mode; ``momentum`` is the
    running statistics', :func:`batchnorm_update_state`)."""
    gamma, beta = params["gamma"], params["beta"]
    _check_batch(x, gamma)
    centred = x - np.add.reduce(x, axis=0) / len(x)
    inv = 1.0 / np.sqrt(np.add.reduce(centred * centred, axis=0) / len(x) + eps)
    xhat = centred * inv
    return xhat * gamma + beta, (xhat, inv, gamma)


def batchnorm_backward(dy: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    """The derivation's compact form: ``dx = gamma/(N sigma) (N dy - sum dy - xhat
    sum(dy xhat))``, ``dgamma = sum(dy xhat)``, ``dbeta = sum dy`` (sums over samples)."""
    xhat, inv, gamma = cache
    dbeta = np.add.reduce(dy, axis=0)
    dgamma = np.add.reduce(dy * xhat, axis=0)
    dx = (gamma * inv / len(dy)) * (len(dy) * dy - dbeta - xhat * dgamma)
    return {"x": dx, "gamma": dgamma, "beta": dbeta}


def batchnorm_init_state(shape: tuple[int, ...], hyper: Mapping[str, Any]
                         ) -> dict[str, np.ndarray]:
    """``running_mean`` 0 and ``running_var`` 1 per feature, as ``BatchNorm1d`` starts."""
    return {"running_mean": np.zeros(shape), "running_var": np.ones(shape)}


def batchnorm_update_state(x: np.ndarray, state: Mapping[str, np.ndarray],
                           eps: float = 1e-5, momentum: float = 0.1) -> dict[str, np.ndarray]:
    """``running = (1 - momentum) running + momentum batch``: the batch's mean and its
    unbiased (1/(N-1)) variance per feature; a batch of one sample has no such variance."""
    if len(x) < 2:
        raise ArgumentError("layer 'batchnorm': a training batch of one sample has no "
                            "variance for the running statistics; use batches of 2 or more")
    mean = np.add.reduce(x, axis=0) / len(x)
    centred = x - mean
    var = np.add.reduce(centred * centred, axis=0) / (len(x) - 1)
    keep = 1.0 - momentum
    return {"running_mean": keep * state["running_mean"] + momentum * mean,
            "running_var": keep * state["running_var"] + momentum * var}


def batchnorm_predict(x: np.ndarray, params: Mapping[str, np.ndarray], eps: float = 1e-5,
                      momentum: float = 0.1) -> np.ndarray:
    """Evaluation: ``y = gamma (x - running_mean) / sqrt(running_var + eps) + beta``, each
    sample on its own."""
    gamma = params["gamma"]
    _check_batch(x, gamma)
    scale = gamma / np.sqrt(params["running_var"] + eps)
    return (x - params["running_mean"]) * scale + params["beta"]


def batchnorm_derivation(eps: float = 1e-5, momentum: float = 0.1) -> MatrixSteps:
    """Batch norm differentiated at symbolic ``N`` (one feature; every feature alike)."""
    x, dy, xhat, dx = (sp.IndexedBase(n) for n in ("x", "dy", "xhat", "dx"))
    gamma, beta, epsilon = sp.symbols("gamma beta epsilon", real=True)
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    total = sp.Sum(x[_k], (_k, 1, N))
    mean = total / N
    var = sp.Sum((x[_k] - mean) ** 2, (_k, 1, N)) / N
    y_i = gamma * (x[_i] - mean) / sp.sqrt(var + epsilon) + beta
    adjoint = sp.Sum(dy[_i] * y_i, (_i, 1, N))

    def tidy(expr: sp.Expr) -> sp.Expr:  # in mu, sigma and xhat = (x - mu) / sigma
        expr = expr.xreplace({var: sigma ** 2 - epsilon}).xreplace({mean: mu})
        expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == x,
                            lambda e: mu + sigma * xhat[e.indices[0]])
        return sp.factor(sums_out(sp.expand(expr), zero={xhat[_k], xhat[_i]}))

    grads = {"x": tidy(sp.diff(adjoint, x[_j])), "gamma": tidy(sp.diff(adjoint, gamma)),
             "beta": tidy(sp.diff(adjoint, beta))}
    X, dY, Xhat = (MatrixSymbol(n, N, _D) for n in ("X", "dY", "Xhat"))
    g_row, s_row = MatrixSymbol("gamma", 1, _D), MatrixSymbol("sigma", 1, _D)
    table = {dy: dY, xhat: Xhat, gamma: g_row, sigma: s_row}
    batch = {"x": lift(grads["x"], _j, table, 0, N, _D)}
    for name in ("gamma", "beta"):  # a sum over the samples: 1_N^T (...)
        batch[name] = MatMul(ones_t(N), lift(grads[name].function, _i, table, 0, N, _D))
    forward = (Step(mu, mean), Step(sigma, sp.sqrt(var.xreplace({total: N * mu}) + epsilon)),
               Step(xhat[_j], (x[_j] - mu) / sigma, (), "j = 1..N, the samples"),
               Step(sp.Indexed("y", _j), gamma * xhat[_j] + beta))
    backward = (Step(dx[_j], grads["x"], (), "sum_k xhat_k = 0 (x - mu sums to 0)"),
                Step(sp.Symbol("dgamma"), grads["gamma"]), Step(sp.Symbol("dbeta"), grads["beta"]),
                Step(MatrixSymbol("dX", N, _D), batch["x"], (N, _D), "every feature column alike"),
                Step(MatrixSymbol("dgamma", 1, _D), batch["gamma"], (1, _D)),
                Step(MatrixSymbol("dbeta", 1, _D), batch["beta"], (1, _D)))
    return MatrixSteps("batchnorm", forward, backward, batch,
                       {"dy": dY, "xhat": Xhat, "gamma": g_row, "sigma": s_row},
                       {"N": N, "D": _D}, ("training mode: the batch's mean and biased (1/N) "
                                           "variance; sigma = sqrt(var + eps)",
                                           "evaluation: running mean, unbiased variance: "
                                           "r = (1 - momentum) r + momentum batch"))


BATCHNORM = register_layer_type(LayerType(
    name="batchnorm", title="batch normalization", params=("gamma", "beta"),
    hyper={"eps": 1e-5, "momentum": 0.1},
    bounds={"eps": Bound(0), "momentum": Bound(0, 1)},  # eps = 0 (as torch): exact examples
    output_shape=vector_shape("batchnorm", "one feature vector"),
    init=lambda shape, hyper, rng: {"gamma": np.ones(shape), "beta": np.zeros(shape)},
    forward=batchnorm_forward, backward=batchnorm_backward, derivation=batchnorm_derivation,
    predict=batchnorm_predict, state=("running_mean", "running_var"),
    init_state=batchnorm_init_state, update_state=batchnorm_update_state))


# -- dropout ----------------------------------------------------------------------------

def dropout_forward(x: np.ndarray, params: Mapping[str, np.ndarray], rate: float = 0.5,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
    """``y = x ⊙ mask / (1 - rate)`` (inverted dropout: ``predict`` passes ``x`` through);
    ``mask`` holds 0 (dropped) or 1 (kept), of ``x``'s shape."""
    if mask is None:
        raise ArgumentError("layer 'dropout': the mask is an input; pass mask=")
    if mask.shape != x.shape:
        raise ShapeError("dropout", mask.shape, f"{x.shape}, the input's shape", "mask")
    scaled = mask * (1.0 / (1.0 - rate))
    return x * scaled, scaled


def dropout_backward(dy: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    """``dx = dy ⊙ mask / (1 - rate)``."""
    return {"x": dy * cache}


def _draw_mask(shape: tuple[int, ...], hyper: Mapping[str, Any],
               rng: np.random.Generator) -> np.ndarray:
    """Each entry kept (1) with probability ``1 - rate``, else dropped (0)."""
    return (rng.random(shape) >= hyper["rate"]).astype(float)


def dropout_derivation(rate: float = 0.5) -> MatrixSteps:
    """Dropout differentiated at symbolic ``N``: an elementwise product with a constant."""
    x, dy, m, dx = (sp.IndexedBase(n) for n in ("x", "dy", "m", "dx"))
    p = sp.Symbol("p", nonnegative=True)
    y_i = x[_i] * m[_i] / (1 - p)
    grad = sums_out(sp.diff(sp.Sum(dy[_i] * y_i, (_i, 1, N)), x[_j]))
    dY, M = MatrixSymbol("dY", N, _D), MatrixSymbol("M", N, _D)
    batch = lift(grad, _j, {dy: dY, m: M}, 0, N, _D)
    forward = (Step(sp.Indexed("y", _j), y_i.xreplace({_i: _j}), (),
                    "m_j in {0, 1} is an input; p the rate"),)
    backward = (Step(dx[_j], grad), Step(MatrixSymbol("dX", N, _D), batch, (N, _D)))
    return MatrixSteps("dropout", forward, backward, {"x": batch}, {"dy": dY, "mask": M},
                       {"N": N, "D": _D, "rate": p},
                       ("inverted scaling: kept entries are divided by 1 - p, so predict "
                        "passes x through",))


DROPOUT = register_layer_type(LayerType(
    name="dropout", title="dropout (inverted)", params=(), hyper={"rate": 0.5},
    bounds={"rate": Bound(0, 1, high_open=True)}, output_shape=lambda shape, hyper: shape,
    init=lambda shape, hyper, rng: {}, forward=dropout_forward, backward=dropout_backward,
    derivation=dropout_derivation, inputs={"mask": _draw_mask},
    predict=lambda x, params, **hyper: x))
