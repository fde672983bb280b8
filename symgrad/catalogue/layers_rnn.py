"""The recurrent (Elman) layer, unrolled over ``T`` steps, and backpropagation through time.

``z_t = W_x x_t + W_h h_{t-1} + b``, ``h_t = tanh(z_t)``, ``h_0 = 0`` (or given: the
kernels take ``h0`` and then give its gradient ``W_h^T delta_1``), for a batch of
sequences ``x`` of shape ``(N, T, D)``; the output is every ``h_t`` (``sequence = true``,
shape ``(N, T, H)``) or the last one (``(N, H)``). The derivation differentiates one step's
adjoint ``tr(delta_t^T z_t)`` with SymPy's matrix calculus, and the adjoint over all steps
and samples in index form at symbolic ``N``, ``T``, ``H``, ``D``: the weight gradients are
sums over the steps, ``dE/dW_h = sum_t delta_t h_{t-1}^T``, with
``delta_t = (W_h^T delta_{t+1} + dE_t/dh_t) ⊙ (1 - h_t ⊙ h_t)`` (tanh's derivative in its
own output, from the catalogue).

>>> y, _ = rnn_forward(np.ones((1, 3, 1)), {"Wx": np.ones((1, 1)), "Wh": np.zeros((1, 1)),
...                    "b": np.zeros(1)}, units=1, steps=3)
>>> np.round(y, 6)
array([[0.761594]])
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, Trace

from ..errors import ShapeError
from .base import get_activation
from .index_sums import sums_out
from .layer_types import N, Bound, LayerType, MatrixSteps, Step, register_layer_type

__all__ = ["RNN", "RNNCache", "RNNLoops", "NUMPY_LOOPS", "rnn_forward", "rnn_backward",
           "rnn_derivation"]

_T, _H, _D = (sp.Symbol(n, integer=True, positive=True) for n in ("T", "H", "D"))
_n, _t, _i, _j, _a, _c, _p, _q = sp.symbols("n t i j a c p q", integer=True)


def _output_shape(shape: tuple[int, ...], hyper: Mapping[str, Any]) -> tuple[int, ...]:
    steps, units = int(hyper["steps"]), int(hyper["units"])
    if len(shape) != 2 or (steps and shape[0] != steps):
        raise ShapeError("rnn", shape, f"(T, D), a sequence of {steps or 'T'} steps per "
                         "sample", "per-sample input")
    return (shape[0], units) if hyper["sequence"] else (units,)


def _sample_shape(inputs: int, hyper: Mapping[str, Any]) -> tuple[int, ...]:
    """A network starting with the layer takes sequences of ``steps`` input vectors."""
    if int(hyper["steps"]) < 1:
        raise ShapeError("rnn", (inputs,), "(steps, inputs): set steps, the sequence length",
                         "network input")
    return (int(hyper["steps"]), inputs)


def _init(shape: tuple[int, ...], hyper: Mapping[str, Any],
          rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uniform in ``±1/sqrt(H)``, as PyTorch's ``nn.RNN``; a zero bias."""
    H, D = int(hyper["units"]), shape[-1]
    bound = 1.0 / np.sqrt(H)
    return {"Wx": rng.uniform(-bound, bound, (H, D)), "Wh": rng.uniform(-bound, bound, (H, H)),
            "b": np.zeros(H)}


def _numpy_recurrence(hs: np.ndarray, Wh: np.ndarray, h0: np.ndarray | None) -> None:
    """``h_t = tanh(z_t + h_{t-1} W_h^T)`` in place of ``hs``'s ``z_t``, step by step: the
    recurrent product on strided rows (BLAS takes them) into one ``(N, H)`` buffer."""
    step = np.empty(hs.shape[::2])
    for t in range(hs.shape[1]):
        prev = hs[:, t - 1] if t else h0
        if prev is None:
            np.tanh(hs[:, t], out=hs[:, t])
            continue
        np.matmul(prev, Wh.T, out=step)
        step += hs[:, t]
        np.tanh(step, out=hs[:, t])


def _numpy_deltas(dy: np.ndarray, hs: np.ndarray, Wh: np.ndarray, sequence: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The deltas ``(N, T, H)``, ``sum_{t >= 2} delta_t h_{t-1}^T``, ``sum_t delta_t`` and
    ``delta_1 W_h``: one array turned into the slopes ``1 - h_t²``, then the deltas in
    place; each sum one product."""
    n, T, H = hs.shape
    deltas = np.multiply(hs, hs)
    np.subtract(1.0, deltas, out=deltas)
    carried = np.zeros((n, H))  # delta_{t+1} W_h, plus dE_t/dh_t
    for t in range(T - 1, -1, -1):
        if sequence or t == T - 1:
            carried += dy[:, t] if sequence else dy
        delta = deltas[:, t]
        np.multiply(carried, delta, out=delta)
        np.matmul(delta, Wh, out=carried)
    flat = deltas.reshape(n * T, H)
    # the rows shifted by one pair each delta_t with h_{t-1}, and delta_1 with the sample
    # before's h_T: zeroed for the product
    first = deltas[:, 0].copy()
    deltas[:, 0] = 0.0
    dWh = flat[1:].T @ hs.reshape(n * T, H)[:-1]
    deltas[:, 0] = first
    return deltas, dWh, np.add.reduce(flat, axis=0), carried


class RNNLoops(NamedTuple):
    """The layer's steps, the rest being one product each: ``forward(hs, Wh, h0)`` turns
    ``hs``'s ``z_t`` (``(N, T, H)``, float64) into ``h_t`` in place (``h0`` ``None``: zeros);
    ``backward(dy, hs, Wh, sequence)`` gives the deltas, ``sum_{t >= 2} delta_t h_{t-1}^T``,
    ``sum_t delta_t`` and ``delta_1 W_h``. NumPy's, or C's (:mod:`symgrad.native_rnn`)."""

    name: str
    forward: Callable[[np.ndarray, np.ndarray, np.ndarray | None], None]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray, bool],
                       tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


NUMPY_LOOPS = RNNLoops("numpy", _numpy_recurrence, _numpy_deltas)


class RNNCache(NamedTuple):
    """What the backward pass needs: the input and every state, sample-major (the forward
    pass's own arrays, not copies: the caller keeps ``x`` as it was until ``backward``)."""

    x: np.ndarray  # (N, T, D)
    hs: np.ndarray  # h_1 ... h_T, (N, T, H); the output of a sequence, read-only
    Wx: np.ndarray
    Wh: np.ndarray
    h0: np.ndarray | None  # None: zeros, and no gradient "h0"
    sequence: bool
    input_grad: bool  # False for a network's first layer: dE/dx is not needed
    loops: RNNLoops


def rnn_forward(x: np.ndarray, params: Mapping[str, np.ndarray], units: int = 8,
                steps: int = 0, sequence: bool = False, input_grad: bool = True,
                h0: np.ndarray | None = None, loops: RNNLoops = NUMPY_LOOPS
                ) -> tuple[np.ndarray, RNNCache]:
    """Every ``h_t`` (``sequence``; a read-only view of the cache's states) or the last,
    for ``x`` of shape ``(N, T, D)``, from ``h0`` ``(N, H)`` (``None``: zeros). With
    ``input_grad=False`` the backward pass leaves out ``"x"`` (a first layer's); with
    ``h0`` given it adds ``"h0"``; ``loops`` runs the steps.

    Sample-major throughout, one array of states: every step's ``W_x x_t + b`` in one 2-D
    product over the ``N T`` rows of ``x``, turned into the states in place. Fresh
    megabyte temporaries cost more than the arithmetic here (page faults: a time-major
    copy of ``x`` and an array per step's sum made the pass 2x slower at ``N = 256,
    T = 16, D = 64, H = 32``)."""
    Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
    if x.ndim != 3 or x.shape[2] != Wx.shape[1]:
        raise ShapeError("rnn", x.shape, f"(N, T, {Wx.shape[1]}) to match Wx {Wx.shape}")
    n, T, D = x.shape
    if h0 is not None and h0.shape != (n, Wh.shape[0]):
        raise ShapeError("rnn", h0.shape, f"({n}, {Wh.shape[0]}), one state per sample",
                         "initial state h0")
    hs = (x.reshape(n * T, D) @ Wx.T).reshape(n, T, Wh.shape[0])  # z_t but W_h h_{t-1}
    hs += b
    loops.forward(hs, Wh, h0)
    if sequence:
        out = hs.view()
        out.flags.writeable = False  # the cache's states: a change would spoil the gradient
    else:
        out = hs[:, T - 1].copy()
    return out, RNNCache(x, hs, Wx, Wh, h0, sequence, input_grad, loops)


def rnn_backward(dy: np.ndarray, cache: RNNCache) -> dict[str, np.ndarray]:
    """Backpropagation through time: ``delta_t = (delta_{t+1} W_h + dE_t/dh_t) ⊙ (1 - h_t²)``
    (rows are samples), the weight gradients summed over the steps; ``"h0"``,
    ``delta_1 W_h``, if the forward pass was given ``h0``."""
    x, hs, Wx, Wh, h0, sequence, input_grad, loops = cache
    n, T, H = hs.shape
    deltas, dWh, db, dh0 = loops.backward(dy, hs, Wh, sequence)
    flat = deltas.reshape(n * T, H)
    grads = {"Wx": flat.T @ x.reshape(n * T, -1), "Wh": dWh, "b": db}
    if input_grad:
        grads["x"] = (flat @ Wx).reshape(x.shape)
    if h0 is not None:  # step 1's term of dW_h, delta_1 h_0^T
        dWh += deltas[:, 0].T @ h0
        grads["h0"] = dh0
    return grads


def _step_steps() -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    """One step in matrix form (one sample, column vectors): SymPy's matrix calculus."""
    x_t, h_prev = MatrixSymbol("x_t", _D, 1), MatrixSymbol("h_{t-1}", _H, 1)
    Wx, Wh, b = MatrixSymbol("W_x", _H, _D), MatrixSymbol("W_h", _H, _H), MatrixSymbol("b", _H, 1)
    delta, delta_next = MatrixSymbol("delta_t", _H, 1), MatrixSymbol("delta_{t+1}", _H, 1)
    z = MatAdd(Wx * x_t, Wh * h_prev, b)
    adjoint = Trace(delta.T * z)
    h_t, g_t = MatrixSymbol("h_t", _H, 1), MatrixSymbol("g_t", _H, 1)
    zz, aa = sp.symbols("z a", real=True)
    slope = get_activation("tanh").local(zz, aa)  # 1 - a**2
    own = MatAdd(sp.OneMatrix(_H, 1), MatMul(-1, HadamardProduct(h_t, h_t)))
    carried = Trace(delta_next.T * Wh * h_t).diff(h_t)  # W_h^T delta_{t+1}
    forward = (Step(MatrixSymbol("z_t", _H, 1), z, (_H, 1),
                    "h_0 = 0, or given (its gradient W_h^T delta_1)"),
               Step(h_t, sp.Function("tanh")(MatrixSymbol("z_t", _H, 1)), (_H, 1),
                    f"tanh' = {sp.sstr(slope)} in its own output a"))
    backward = (
        Step(delta, HadamardProduct(MatAdd(carried, g_t), own), (_H, 1),
             "g_t = dE_t/dh_t from above (0 but at t = T for the last output only); "
             "delta_{T+1} = 0"),
        Step(MatrixSymbol("dWh_t", _H, _H), adjoint.diff(Wh), (_H, _H),
             "step t's term of dW_h; the total sums them over the steps (below)"),
        Step(MatrixSymbol("dWx_t", _H, _D), adjoint.diff(Wx), (_H, _D)),
        Step(MatrixSymbol("db_t", _H, 1), adjoint.diff(b), (_H, 1)),
        Step(MatrixSymbol("dx_t", _D, 1), adjoint.diff(x_t), (_D, 1)))
    return forward, backward


def _through_time() -> dict[str, sp.Expr]:
    """The adjoint over every step and sample in index form, differentiated: each weight
    gradient is a sum over the steps (and samples) of its one-step term."""
    x, h, Wx, Wh, b, delta = (sp.IndexedBase(k) for k in ("x", "h", "W_x", "W_h", "b", "delta"))
    z = (sp.Sum(Wx[_i, _j] * x[_n, _t, _j], (_j, 1, _D))
         + sp.Sum(Wh[_i, _j] * h[_n, _t - 1, _j], (_j, 1, _H)) + b[_i])
    adjoint = sp.Sum(sp.Sum(sp.Sum(delta[_n, _t, _i] * z, (_i, 1, _H)), (_t, 1, _T)), (_n, 1, N))
    return {"x": sums_out(adjoint.diff(x[_p, _q, _c])),
            "Wh": sums_out(adjoint.diff(Wh[_a, _c])), "Wx": sums_out(adjoint.diff(Wx[_a, _c])),
            "b": sums_out(adjoint.diff(b[_a]))}


def rnn_derivation(units: int = 8, steps: int = 0, sequence: bool = False) -> MatrixSteps:
    """The Elman layer's BPTT derivation at symbolic ``N``, ``T``, ``H``, ``D``."""
    forward, backward = _step_steps()
    summed = _through_time()
    names = {"x": ("dx", (_p, _q, _c)), "Wh": ("dW_h", (_a, _c)), "Wx": ("dW_x", (_a, _c)),
             "b": ("db", (_a,))}
    totals = tuple(Step(sp.Indexed(names[k][0], *names[k][1]), v, (),
                        "summed over the T steps and N samples" if k != "x" else
                        "sample p, step q: its own step only") for k, v in summed.items())
    return MatrixSteps("rnn", forward, backward + totals, summed,
                       {}, {"N": N, "T": _T, "H": _H, "D": _D},
                       ("delta_t = dE/dz_t holds every path through the later steps, so a "
                        "weight used at every step gets the sum of its one-step terms",))


RNN = register_layer_type(LayerType(
    name="rnn", title="recurrent (Elman) layer, tanh, unrolled over T steps",
    params=("Wx", "Wh", "b"), hyper={"units": 8, "steps": 0, "sequence": False},
    bounds={"units": Bound(1), "steps": Bound(0)},
    output_shape=_output_shape, init=_init, forward=rnn_forward, backward=rnn_backward,
    derivation=rnn_derivation, sample_shape=_sample_shape, input_grad_optional=True,
    compiled="native_rnn"))
