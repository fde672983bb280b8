"""Convolution and pooling as layer types: conv1d, conv2d, maxpool1d, maxpool2d, avgpool1d,
avgpool2d, and the two a convolutional network needs between them and a dense layer: relu
(on feature maps) and flatten. Each is one catalogue entry (kernels in :mod:`.conv`).

The derivations are SymPy's: the adjoint ``sum dy * y`` written with indexed sums at
symbolic sizes (batch ``N``, channels ``C`` and ``F``, kernel ``k``, stride ``s``), differentiated
by an entry of the kernel or of the (padded) input; :func:`collapse` then sums the Kronecker
deltas out. What is left is the textbook result:

* ``dW[f, c, u] = sum_n sum_i delta[n, f, i] xt[n, c, s*i + u]``, the input correlated with
  ``delta``;
* ``dxt[n, c, t] = sum_f sum_i delta[n, f, i] W[f, c, t - s*i]`` (``W`` is zero outside its
  ``k`` entries): the full convolution of ``delta`` with the kernel, which is the correlation
  of ``delta`` (dilated by ``s``, padded with ``k - 1`` zeros) with the flipped kernel.

The batch form is im2col's: one matrix product per gradient.

>>> print(CONV1D.derivation().backward[0].text())
dW[f, c, u] = Sum(delta[n, f, i]*xt[n, c, i*s + u], (n, 1, N), (i, 0, L_out - 1))   [F x C x k]
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

import numpy as np
import sympy as sp
from sympy import HadamardProduct, KroneckerDelta, MatMul, MatrixSymbol, OneMatrix, Sum

from ..errors import ShapeError
from .conv import (conv_backward, conv_forward, conv_init, conv_output_shape, pool_backward,
                   pool_forward, pool_output_shape)
from .activations import relu
from .layer_types import N, Bound, LayerType, MatrixSteps, Step, register_layer_type

__all__ = ["CONV1D", "CONV2D", "MAXPOOL1D", "MAXPOOL2D", "AVGPOOL1D", "AVGPOOL2D", "RELU",
           "FLATTEN",
           "collapse", "conv_derivation", "pool_derivation"]

_SPATIAL = {1: "(C, L)", 2: "(C, H, W)"}
_F, _C, _K, _S = (sp.Symbol(n, integer=True, positive=True) for n in ("F", "C", "k", "s"))
_P, _Q = (sp.Symbol(n, integer=True, positive=True) for n in ("P", "Q"))


# -- index calculus --------------------------------------------------------------------------

def _merge(s: Sum) -> Sum:
    """A sum whose term holds sums: one sum over all their limits."""
    body, limits = s.function, list(s.limits)
    while True:
        factors = sp.Mul.make_args(body)
        inner = next((f for f in factors if isinstance(f, Sum)), None)
        if inner is None:
            return Sum(body, *limits)
        body = sp.Mul(*(f for f in factors if f is not inner)) * inner.function
        limits += list(inner.limits)


def _sum_deltas(s: Sum, indicator: frozenset[sp.Symbol]) -> sp.Expr:
    """Each ``KroneckerDelta(a, b)`` whose ``a - b`` holds a summed index with coefficient
    +-1 summed out: that index replaced by its solution, its limit dropped. For an index in
    ``indicator`` (a pooling window's offset) the solution's range stays as an indicator;
    otherwise the free index is in range (a sample, a channel) or the array read is zero
    outside it (a convolution's kernel)."""
    body, limits = s.function, list(s.limits)
    for delta in [f for f in sp.Mul.make_args(body) if isinstance(f, KroneckerDelta)]:
        gap = delta.args[0] - delta.args[1]
        found = next(((k, v, lo, hi) for k, (v, lo, hi) in enumerate(limits)
                      if abs(sp.expand(gap).coeff(v)) == 1), None)
        if found is None:
            continue
        k, v, lo, hi = found
        value = sp.solve(gap, v)[0]
        rest = sp.Mul(*(f for f in sp.Mul.make_args(body) if f is not delta))
        body = rest.xreplace({v: value})
        if v in indicator:
            body *= sp.Piecewise((1, sp.And(lo <= value, value <= hi)), (0, True))
        limits.pop(k)
    return Sum(body, *limits) if limits else body


def collapse(expr: sp.Expr, indicator: frozenset[sp.Symbol] = frozenset()) -> sp.Expr:
    """``expr`` with nested sums merged and Kronecker deltas summed out.

    >>> i, j, n = sp.symbols("i j n", integer=True)
    >>> a = sp.IndexedBase("a")
    >>> collapse(Sum(a[i] * KroneckerDelta(i, j), (i, 1, n)))
    a[j]
    """
    expr = expr.replace(lambda e: isinstance(e, Sum), _merge)
    return expr.replace(lambda e: isinstance(e, Sum), lambda e: _sum_deltas(e, indicator))


def _indices(prefix: str, d: int) -> tuple[sp.Symbol, ...]:
    names = (prefix,) if d == 1 else (prefix + "1", prefix + "2")
    return tuple(sp.Symbol(n, integer=True) for n in names)


def _window(i: tuple[sp.Symbol, ...], u: tuple[sp.Symbol, ...]) -> tuple[sp.Expr, ...]:
    return tuple(_S * a + b for a, b in zip(i, u))


def _limits(symbols: tuple[sp.Symbol, ...], size: sp.Expr) -> list[tuple[Any, ...]]:
    return [(v, 1 if size is N else 0, size if size is N else size - 1) for v in symbols]


# -- convolution -----------------------------------------------------------------------------

def conv_derivation(d: int = 1, **hyper: Any) -> MatrixSteps:
    """Convolution with ``d`` spatial axes, differentiated at symbolic sizes (the kernel
    ``k`` and output size ``L_out`` alike on every axis); the layer's settings (``hyper``)
    leave the form as it is: sizes, stride and padding stay symbols."""
    n, f, c = (sp.Symbol(v, integer=True) for v in ("n", "f", "c"))
    i, u, t = _indices("i", d), _indices("u", d), _indices("t", d)
    out = sp.Symbol("L_out", integer=True, positive=True)
    xt, w, b, delta = (sp.IndexedBase(v) for v in ("xt", "W", "b", "delta"))
    y = b[f] + Sum(w[(f, c) + u] * xt[(n, c) + _window(i, u)], (c, 0, _C - 1), *_limits(u, _K))
    adjoint = Sum(delta[(n, f) + i] * y, (n, 1, N), (f, 0, _F - 1), *_limits(i, out))
    n2, f2, c2 = (sp.Symbol(v + "'", integer=True) for v in ("n", "f", "c"))
    u2 = _indices("u'", d)

    def rename(expr: sp.Expr) -> sp.Expr:  # the primed free indices read as the plain ones
        return expr.xreplace({n2: n, f2: f, c2: c, **dict(zip(u2, u))})

    grad_w = rename(collapse(sp.diff(adjoint, w[(f2, c2) + u2])))
    grad_b = rename(collapse(sp.diff(adjoint, b[f2])))
    grad_x = rename(collapse(sp.diff(adjoint, xt[(n2, c2) + t])))
    flipped = _flipped_form(d, n, f, c, t)
    return _conv_steps(d, (xt, w, b, delta), (n, f, c, i, u, t), y,
                       (grad_w, grad_b, grad_x, flipped))


def _flipped_form(d: int, n: sp.Symbol, f: sp.Symbol, c: sp.Symbol,
                  t: tuple[sp.Symbol, ...]) -> sp.Expr:
    """``sum_f sum_v dhat[n, f, t - (k - 1) + v] Wflip[c, f, v]``, ``Wflip[c, f, v] =
    W[f, c, k - 1 - v]``: the full convolution written as a correlation."""
    v = _indices("v", d)
    dhat, wflip = sp.IndexedBase("deltahat"), sp.IndexedBase("Wflip")
    return Sum(dhat[(n, f) + tuple(a - (_K - 1) + b for a, b in zip(t, v))]
               * wflip[(c, f) + v], (f, 0, _F - 1), *_limits(v, _K))


def _conv_steps(d: int, bases: tuple[sp.IndexedBase, ...], idx: tuple[Any, ...],
                y: sp.Expr, grads: tuple[sp.Expr, ...]) -> MatrixSteps:
    xt, w, b, delta = bases
    n, f, c, i, u, t = idx
    grad_w, grad_b, grad_x, flipped = grads
    cols, dy = MatrixSymbol("X_col", N * _P, _C * _K ** d), MatrixSymbol("dY", N * _P, _F)
    wmat = MatrixSymbol("W", _F, _C * _K ** d)
    dcols, wflip = MatrixSymbol("dY_col", N * _Q, _F * _K ** d), MatrixSymbol("W_flip", _C,
                                                                            _F * _K ** d)
    batch = {"W": MatMul(dy.T, cols), "b": MatMul(dy.T, OneMatrix(N * _P, 1)),
             "x": MatMul(dcols, wflip.T)}
    space = "k" if d == 1 else "k x k"
    forward = (Step(sp.Indexed("y", *((n, f) + i)), y, (), "xt: the input with p zeros on "
                    "each side; L_out = floor((L + 2p - k)/s) + 1 per axis"),
               Step(MatrixSymbol("Y", N * _P, _F), MatMul(cols, wmat.T) + MatMul(
                   OneMatrix(N * _P, 1), MatrixSymbol("b", _F, 1).T), (N * _P, _F),
                    "im2col: a row of X_col per output position, its window channel first"))
    backward = (
        Step(sp.Indexed("dW", *((f, c) + u)), grad_w, (_F, _C, *(_K,) * d),
             "the input correlated with delta"),
        Step(sp.Indexed("db", f), grad_b, (_F,)),
        Step(sp.Indexed("dxt", *((n, c) + t)), grad_x, (), "the full convolution of delta "
             "with W (W is zero outside its entries)"),
        Step(sp.Indexed("dxt", *((n, c) + t)), flipped, (), "v = k - 1 - (t - s*i): the "
             "kernel flipped, delta dilated by s and padded with k - 1 zeros (deltahat); dx "
             "is dxt without its p-wide border"),
        Step(MatrixSymbol("dW", _F, _C * _K ** d), batch["W"], (_F, _C * _K ** d)),
        Step(MatrixSymbol("db", _F, 1), batch["b"], (_F, 1)),
        Step(MatrixSymbol("dX", N * _Q, _C), batch["x"], (N * _Q, _C),
             "dY_col: im2col of deltahat cut to the input's size"))
    return MatrixSteps(
        f"conv{d}d", forward, backward, batch,
        {"columns": cols, "dy": dy, "delta_columns": dcols, "flipped": wflip},
        {"N": N, "C": _C, "F": _F, "k": _K, "P": _P, "Q": _Q},
        (f"P output and Q input positions per sample; the kernel is {space}; dY and dX have "
         "a row per sample and position (sample first), a column per channel",))


# -- pooling ---------------------------------------------------------------------------------

def pool_derivation(d: int = 1, mode: str = "max", **hyper: Any) -> MatrixSteps:
    """Max or average pooling, differentiated at symbolic sizes."""
    n, c = sp.symbols("n c", integer=True)
    i, u, t = _indices("i", d), _indices("u", d), _indices("t", d)
    out = sp.Symbol("L_out", integer=True, positive=True)
    xt, delta = sp.IndexedBase("xt"), sp.IndexedBase("delta")
    if mode == "max":
        m = _indices("m", d)
        y = xt[(n, c) + tuple(_S * a + sp.IndexedBase(b)[(n, c) + i] for a, b in zip(i, m))]
        note = (f"{', '.join(map(str, m))}: the offset of the window's first maximum in "
                "row-major order "
                "(ties: the whole gradient to the first)")
    else:
        y = Sum(xt[(n, c) + _window(i, u)], *_limits(u, _K)) / _K ** d
        note = "every entry of the window, padding included, weighs 1/k^d"
    adjoint = Sum(delta[(n, c) + i] * y, (n, 1, N), (c, 0, _C - 1), *_limits(i, out))
    n2, c2 = sp.symbols("n' c'", integer=True)
    grad = collapse(sp.diff(adjoint, xt[(n2, c2) + t]), frozenset(u)).xreplace(
        {n2: n, c2: c})
    select, dy = MatrixSymbol("S", N * _C * _P, N * _C * _Q), MatrixSymbol("dY", N * _C * _P, 1)
    batch = {"x": MatMul(select.T, dy)}
    forward = (Step(sp.Indexed("y", *((n, c) + i)), y, (), note),
               Step(MatrixSymbol("Y", N * _C * _P, 1), MatMul(select, MatrixSymbol(
                   "X", N * _C * _Q, 1)), (N * _C * _P, 1),
                    "S: a row per output entry, " + ("1 at its window's maximum" if mode ==
                                                     "max" else "1/k^d at its window")))
    backward = (Step(sp.Indexed("dxt", *((n, c) + t)), grad, (), "overlapping windows add"),
                Step(MatrixSymbol("dX", N * _C * _Q, 1), batch["x"], (N * _C * _Q, 1)))
    return MatrixSteps(f"{mode}pool{d}d", forward, backward, batch,
                       {"select": select, "dy": dy},
                       {"N": N, "C": _C, "k": _K, "P": _P, "Q": _Q},
                       ("X, Y: every entry of the batch in one column (sample, channel, "
                        "position)",))


# -- entries ---------------------------------------------------------------------------------

def _spatial(name: str, d: int, shape: tuple[int, ...]) -> None:
    if len(shape) != d + 1:
        raise ShapeError(name, shape, _SPATIAL[d], "per-sample input")


def _conv_shape(name: str, d: int, shape: tuple[int, ...],
                hyper: Mapping[str, Any]) -> tuple[int, ...]:
    if len(shape) == 1:
        shape = _image_shape(name, d, shape[0], hyper)
    _spatial(name, d, shape)
    return conv_output_shape(shape, hyper, name)


def _conv_layer_forward(x: np.ndarray, params: Mapping[str, np.ndarray], *, layer: str,
                        in_channels: int = 1, **hyper: Any) -> tuple[np.ndarray, Any]:
    """:func:`conv_forward`, rows of features read as images first (see :func:`_image_shape`)."""
    d = params["W"].ndim - 2
    flat = x.shape if x.ndim == 2 else None
    if flat is not None:
        x = x.reshape((len(x),) + _image_shape(layer, d, x.shape[1], {"in_channels": in_channels}))
    y, cache = conv_forward(x, params, layer=layer, **hyper)
    return y, (cache, flat)


def _conv_layer_backward(dy: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
    inner, flat = cache
    grads = conv_backward(dy, inner)
    if flat is not None and "x" in grads:
        grads["x"] = grads["x"].reshape(flat)
    return grads


def _pool_shape(name: str, d: int, shape: tuple[int, ...],
                hyper: Mapping[str, Any]) -> tuple[int, ...]:
    _spatial(name, d, shape)
    return pool_output_shape(shape, hyper, name)


def _image_shape(name: str, d: int, inputs: int, hyper: Mapping[str, Any]) -> tuple[int, ...]:
    """How a convolution reads a flat per-sample input of ``inputs`` features (a network's
    input rows): ``in_channels`` channels of a signal (1-D) or of a square image (2-D), as
    the digits' 64 pixels are one 8x8 channel."""
    channels = hyper["in_channels"]
    side = round((inputs / channels) ** (1 / d))
    if channels * side ** d != inputs:
        raise ShapeError(name, (inputs,), f"in_channels x {'L' if d == 1 else 'side x side'} "
                         f"with in_channels = {channels}", "flat input")
    return (channels,) + (side,) * d


def _conv_init(name: str, d: int, shape: tuple[int, ...], hyper: Mapping[str, Any],
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    return conv_init(_image_shape(name, d, shape[0], hyper) if len(shape) == 1 else shape,
                     hyper, rng)


def _conv_entry(d: int) -> LayerType:
    name = f"conv{d}d"
    return register_layer_type(LayerType(
        name=name, title=f"{d}-D convolution (cross-correlation, zero padding)",
        params=("W", "b"), hyper={"channels": 1, "kernel": 3, "stride": 1, "padding": 0,
                                  "in_channels": 1},
        bounds={"in_channels": Bound(1)},
        output_shape=partial(_conv_shape, name, d), init=partial(_conv_init, name, d),
        forward=partial(_conv_layer_forward, layer=name), backward=_conv_layer_backward,
        derivation=partial(conv_derivation, d), input_grad_optional=True))


def _pool_entry(d: int, mode: str) -> LayerType:
    name = f"{mode}pool{d}d"
    return register_layer_type(LayerType(
        name=name, title=f"{d}-D {'max' if mode == 'max' else 'average'} pooling",
        params=(), hyper={"kernel": 2, "stride": None, "padding": 0},
        output_shape=partial(_pool_shape, name, d),
        init=lambda shape, hyper, rng: {},
        forward=partial(pool_forward, layer=name, mode=mode), backward=pool_backward,
        derivation=partial(pool_derivation, d, mode)))


def _flatten_forward(x: np.ndarray, params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, Any]:
    return x.reshape(len(x), -1), x.shape


def _flatten_derivation() -> MatrixSteps:
    dy = MatrixSymbol("dY", N, _Q)
    step = Step(MatrixSymbol("dX", N, _Q), dy, (N, _Q), "the same entries, reshaped back")
    return MatrixSteps("flatten", (Step(MatrixSymbol("Y", N, _Q), MatrixSymbol("X", N, _Q),
                                        (N, _Q), "each sample's entries in one row"),),
                       (step,), {"x": dy}, {"dy": dy}, {"N": N, "Q": _Q})


CONV1D, CONV2D = _conv_entry(1), _conv_entry(2)
MAXPOOL1D, MAXPOOL2D = _pool_entry(1, "max"), _pool_entry(2, "max")
AVGPOOL1D, AVGPOOL2D = _pool_entry(1, "avg"), _pool_entry(2, "avg")
def _relu_forward(x: np.ndarray, params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, Any]:
    return np.maximum(x, 0.0), x > 0


def _relu_derivation() -> MatrixSteps:
    """ReLU on every entry, derived with the catalogue's ``relu`` (``H(0) = 0``)."""
    i, j = sp.symbols("i j", integer=True)
    x, dy = sp.IndexedBase("x"), sp.IndexedBase("dy")
    grad = collapse(sp.diff(Sum(dy[i] * relu(x[i]), (i, 1, N)), x[j]))
    dY, step = MatrixSymbol("dY", N, _Q), MatrixSymbol("H", N, _Q)
    batch = {"x": HadamardProduct(dY, step)}
    return MatrixSteps(
        "relu", (Step(sp.Indexed("y", j), relu(x[j]), (), "every entry of a sample, j"),),
        (Step(sp.Indexed("dx", j), grad, (), "relu'(x) = H(x), H(0) = 0"),
         Step(MatrixSymbol("dX", N, _Q), batch["x"], (N, _Q), "H = [X > 0]")),
        batch, {"dy": dY, "step": step}, {"N": N, "Q": _Q},
        ("each sample's entries in a row (a feature map flattened)",))


RELU = register_layer_type(LayerType(
    name="relu", title="ReLU on every entry (any shape: feature maps too)", params=(),
    hyper={}, output_shape=lambda shape, hyper: shape, init=lambda shape, hyper, rng: {},
    forward=_relu_forward, backward=lambda dy, positive: {"x": dy * positive},
    derivation=_relu_derivation))
FLATTEN = register_layer_type(LayerType(
    name="flatten", title="flatten (channels and space into one feature vector)", params=(),
    hyper={}, output_shape=lambda shape, hyper: (int(np.prod(shape)),),
    init=lambda shape, hyper, rng: {}, forward=_flatten_forward,
    backward=lambda dy, shape: {"x": dy.reshape(shape)}, derivation=_flatten_derivation))
