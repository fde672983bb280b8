"""The recurrent layer's steps as C loops: what ``symgrad train``'s stack backend runs for
an ``rnn`` layer when a C compiler is found.

The catalogue's :func:`~symgrad.catalogue.layers_rnn.rnn_forward` does a step's work in
NumPy calls on ``(N, H)`` arrays, a few microseconds each however small the arrays: at
rnn_bit_count's size (batch 32, T = 8, H = 16) the calls, not the arithmetic, are the
time. :func:`rnn_loops` gives the same steps (:class:`~.catalogue.layers_rnn.RNNLoops`)
as one C function each way, generated from ``templates/rnn_loop.c.j2`` for the number of
units and built, cached and loaded by :mod:`symgrad.native`'s machinery; the products
over the input (``W_x x_t``, ``dW_x``, ``dx``) stay NumPy's. ``tanh`` is libmvec's SIMD
one where the compiler takes ``-lmvec``.

Measured (benchmarks/README.md): forward and backward 2.4x faster at batch 32, T = 8,
H = 16, a training epoch of rnn_bit_count 1.5x; about even at N = 256, T = 16, D = 64,
H = 32, where the products dominate. The values agree with NumPy's to rounding: another
order of the sums in ``W_h h_{t-1}``, ``dW_h`` and ``db``, and libmvec's ``tanh``.

>>> import numpy as np
>>> from symgrad.catalogue.layers_rnn import rnn_forward
>>> params = {"Wx": np.ones((2, 1)), "Wh": np.eye(2) / 2, "b": np.zeros(2)}
>>> y, cache = rnn_forward(np.ones((1, 3, 1)), params, loops=rnn_loops(2))
>>> cache.loops.name, np.round(y, 6)
('c', array([[0.893811, 0.893811]]))
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any, Mapping

import numpy as np

from .catalogue.layers_rnn import NUMPY_LOOPS, RNNLoops
from .native import _library, _template

__all__ = ["rnn_loops", "forward_arguments", "MAX_UNITS", "BLOCK"]

#: Samples whose steps the loops interleave: independent chains of products.
BLOCK = 4
#: Above this many units the C loops are not used: the products are the time there, and
#: BLAS does them better (and the loops keep a few H-vectors per sample on the C stack).
MAX_UNITS = 256

_POINTER, _INT = ctypes.c_void_p, ctypes.c_int64


@functools.cache
def rnn_loops(units: int) -> RNNLoops:
    """The C loops for a layer of ``units`` units, built on first use (a
    :class:`~symgrad.errors.MissingDependencyError` without a C compiler, a
    :class:`~symgrad.errors.CompileError` if it fails). Arrays that are not float64 go to
    NumPy's loops."""
    name = f"rnn{units}"
    source = _template("rnn_loop.c.j2").render(name=name, units=units, block=BLOCK)
    forward = _library(source, name, f"{name}_forward")
    forward.argtypes, forward.restype = [_INT, _INT, _POINTER, _POINTER, _POINTER], None
    backward = _library(source, name, f"{name}_backward")
    backward.argtypes, backward.restype = [_INT, _INT, _INT] + [_POINTER] * 7, None

    def recurrence(hs: np.ndarray, Wh: np.ndarray, h0: np.ndarray | None) -> None:
        if hs.dtype != np.float64 or not hs.flags.c_contiguous:
            return NUMPY_LOOPS.forward(hs, Wh, h0)
        WhT = np.ascontiguousarray(Wh.T, dtype=np.float64)
        start = None if h0 is None else np.ascontiguousarray(h0, dtype=np.float64)
        forward(hs.shape[0], hs.shape[1], hs.ctypes.data, WhT.ctypes.data,
                None if start is None else start.ctypes.data)

    def deltas(dy: np.ndarray, hs: np.ndarray, Wh: np.ndarray, sequence: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if hs.dtype != np.float64 or not hs.flags.c_contiguous:
            return NUMPY_LOOPS.backward(dy, hs, Wh, sequence)
        n, T, H = hs.shape
        dy = np.ascontiguousarray(dy, dtype=np.float64)
        Wh = np.ascontiguousarray(Wh, dtype=np.float64)
        out, dh0, dWh, db = np.empty(hs.shape), np.empty((n, H)), np.zeros((H, H)), np.zeros(H)
        backward(n, T, int(sequence), dy.ctypes.data, hs.ctypes.data, Wh.ctypes.data,
                 out.ctypes.data, dh0.ctypes.data, dWh.ctypes.data, db.ctypes.data)
        return out, dWh, db, dh0

    return RNNLoops("c", recurrence, deltas)


def forward_arguments(hyper: Mapping[str, Any]) -> dict[str, Any]:
    """What a stack passes to the rnn's forward besides its settings: the C loops (built
    now), or nothing above :data:`MAX_UNITS` units."""
    units = int(hyper["units"])
    return {"loops": rnn_loops(units)} if units <= MAX_UNITS else {}
