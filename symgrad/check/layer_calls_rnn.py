"""The calling conventions of a recurrent (Elman, tanh) layer: CS231n's ``rnn_step`` and
``rnn`` over a sequence.

``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)`` with ``x`` ``(N, D)``,
``prev_h`` ``(N, H)``, ``Wx`` ``(D, H)``, ``Wh`` ``(H, H)``, ``b`` ``(H,)``;
``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``.
``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` with ``x`` ``(N, T, D)`` and ``h``
``(N, T, H)``; ``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``, where ``dh`` is the
upstream gradient of every hidden state. Both caches are the user's own, so the forward
is needed.

symgrad's values (each convention's ``reference``) come from the catalogue's recurrent
layer type (:func:`catalogue_rnn`), its weights transposed at the boundary: the
conventions have ``Wx`` ``(D, H)`` and ``prev_h @ Wh``, the catalogue ``Wx`` ``(H, D)`` and
``h @ Wh.T``.

:func:`bptt` is back-propagation through time in matrix form,

    δ_t = (dh_t + δ_{t+1} W_hᵀ) ⊙ (1 − h_t²),   dW_h = Σ_t h_{t−1}ᵀ δ_t,

the model of the usual mistakes that :mod:`.layer_diagnose` tries, one switch each (no
recurrent term, ``h_t`` where ``h_{t−1}`` belongs, the upstream gradient one step off,
the slope of the previous state). With every switch off it gives the catalogue's values
(to rounding; tests/test_check_layer.py).

>>> from symgrad.check.layer_calls import get_convention
>>> get_convention("rnn").outputs
('dx', 'dh0', 'dWx', 'dWh', 'db')
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..catalogue.layer_types import get_layer_type
from .layer_convention import Arrays, Convention, activation

__all__ = ["bptt", "catalogue_rnn", "ENTRIES"]


def _states(a: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Hidden states ``h`` ``(N, T, H)`` and slopes ``1 − h²``, from ``h0`` on."""
    x, prev = a["x"], a["h0"]
    h, slope = np.empty(x.shape[:2] + prev.shape[1:]), np.empty(x.shape[:2] + prev.shape[1:])
    for t in range(x.shape[1]):
        h[:, t], slope[:, t] = activation("tanh")(x[:, t] @ a["Wx"] + prev @ a["Wh"] + a["b"])
        prev = h[:, t]
    return h, slope


def catalogue_rnn(a: Arrays) -> dict[str, np.ndarray]:
    """symgrad's ``out`` and gradients of the ``rnn`` convention: the catalogue's layer
    type from ``h0``, over every step's upstream gradient ``dout``."""
    x, H = a["x"], a["Wh"].shape[0]
    entry = get_layer_type("rnn")
    params = {"Wx": a["Wx"].T, "Wh": a["Wh"].T, "b": a["b"]}
    out, cache = entry.forward(x, params, units=H, steps=x.shape[1], sequence=True,
                               h0=a["h0"])
    g = entry.backward(a["dout"], cache)
    return {"out": out, "dx": g["x"], "dh0": g["h0"], "dWx": g["Wx"].T, "dWh": g["Wh"].T,
            "db": g["b"]}


def bptt(a: Arrays, recurrent: bool = True, h_lag: int = 1, dh_shift: int = 0,
         slope_lag: int = 0) -> dict[str, np.ndarray]:
    """``out`` and the gradients of an Elman RNN over ``T`` steps, written out step by
    step to model the usual mistakes (:mod:`.layer_diagnose` tries each switch; with every
    switch off, the catalogue's values). ``recurrent=False`` drops the term
    ``δ_{t+1} W_hᵀ``; ``h_lag=0`` uses ``h_t`` in ``dW_h`` where ``h_{t−1}`` belongs;
    ``dh_shift`` takes step ``t``'s upstream gradient from step ``t + shift``;
    ``slope_lag=1`` takes the tanh slope of the previous state."""
    x, dh = a["x"], a["dout"]
    h, slope = _states(a)
    n, steps = x.shape[:2]
    before = np.concatenate([a["h0"][:, None], h], axis=1)  # before[:, t + 1] = h_t
    slopes = np.concatenate([1 - a["h0"][:, None] ** 2, slope], axis=1)
    g = {"dx": np.zeros_like(x), "dWx": np.zeros_like(a["Wx"]),
         "dWh": np.zeros_like(a["Wh"]), "db": np.zeros_like(a["b"])}
    carry = np.zeros_like(a["h0"])
    for t in reversed(range(steps)):
        s = t + dh_shift
        upstream = dh[:, s] if 0 <= s < steps else 0.0
        dz = (upstream + carry) * slopes[:, t + 1 - slope_lag]
        g["dx"][:, t] = dz @ a["Wx"].T
        g["dWx"] += x[:, t].T @ dz
        g["dWh"] += before[:, t + 1 - h_lag].T @ dz
        g["db"] += dz.sum(axis=0)
        carry = dz @ a["Wh"].T if recurrent else np.zeros_like(carry)
        if t == 0:
            g["dh0"] = dz @ a["Wh"].T
    return {"out": h, **g}


def _make(sequence: bool) -> Any:
    def make(d: Mapping[str, int], h: Mapping[str, float],
             rng: np.random.Generator) -> Arrays:
        n, steps, i, k = d["N"], d["T"] if sequence else 1, d["D"], d["H"]
        scale = 1 / np.sqrt(k)  # states that use tanh's range without saturating it
        a = {"x": rng.standard_normal((n, steps, i)), "h0": rng.standard_normal((n, k)),
             "Wx": scale * rng.standard_normal((i, k)), "Wh": scale * rng.standard_normal((k, k)),
             "b": rng.standard_normal(k), "dout": rng.standard_normal((n, steps, k)), "N": n}
        a["sequence"] = sequence
        return a
    return make


def step_view(a: Arrays, g: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A one-step run's values by ``rnn_step``'s names (arrays without the T axis)."""
    return {"out": g["out"][:, 0], "dx": g["dx"][:, 0], "dprev_h": g["dh0"],
            "dWx": g["dWx"], "dWh": g["dWh"], "db": g["db"]}


_FORMS = {
    "out": "h_t = tanh(x_t W_x + h_{t−1} W_h + 1 bᵀ)",
    "dx": "dx_t = δ_t W_xᵀ, δ_t = (dh_t + δ_{t+1} W_hᵀ) ⊙ (1 − h_t²)",
    "dWx": "dW_x = Σ_t x_tᵀ δ_t",
    "dWh": "dW_h = Σ_t h_{t−1}ᵀ δ_t",
    "db": "db = Σ_t δ_tᵀ 1",
    "dh0": "dh_0 = δ_1 W_hᵀ",
    "dprev_h": "dh_prev = δ W_hᵀ, δ = dnext_h ⊙ (1 − next_h²)",
}


ENTRIES: dict[tuple[str, str], Convention] = {
    ("rnn_step", "rows"): Convention(
        name="rnn_step", layout="rows", title="one step of a recurrent (Elman, tanh) layer",
        signature=("rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache); "
                   "rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)"),
        dims={"N": 3, "D": 4, "H": 5}, outputs=("dx", "dprev_h", "dWx", "dWh", "db"),
        make=_make(False), cache=None,
        forward_args=lambda a: (a["x"][:, 0], a["h0"], a["Wx"], a["Wh"], a["b"]),
        reference=lambda a: step_view(a, catalogue_rnn(a)),
        forms={**_FORMS, "dx": "dx = δ W_xᵀ, δ = dnext_h ⊙ (1 − next_h²)",
               "dWx": "dW_x = xᵀ δ", "dWh": "dW_h = prev_hᵀ δ", "db": "db = δᵀ 1",
               "out": "next_h = tanh(x W_x + prev_h W_h + 1 bᵀ)"},
        upstream=lambda a: a["dout"][:, 0]),
    ("rnn", "rows"): Convention(
        name="rnn", layout="rows", title="a recurrent (Elman, tanh) layer over T steps",
        signature=("rnn_forward(x, h0, Wx, Wh, b) -> (h, cache); rnn_backward(dh, cache) -> "
                   "(dx, dh0, dWx, dWh, db)"),
        dims={"N": 3, "T": 4, "D": 4, "H": 5}, outputs=("dx", "dh0", "dWx", "dWh", "db"),
        make=_make(True), cache=None,
        forward_args=lambda a: (a["x"], a["h0"], a["Wx"], a["Wh"], a["b"]),
        reference=catalogue_rnn, forms=_FORMS),
}
