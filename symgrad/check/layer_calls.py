"""The calling conventions of course-assignment layer code, one entry per layer.

Each :class:`Convention` says how a student's NumPy functions are called (CS231n's
``affine_forward(x, w, b) -> (out, cache)``, ``affine_backward(dout, cache) -> (dx, dw,
db)``, ...), which random arrays they get, the cache a backward pass gets when no forward
is given, the names of what it returns, symgrad's values for each (the reference) and the
expected form of each in matrix notation. Another convention is adapted by a small
wrapper (see ``docs/tutorials/check-layer.md``).

Rows are samples unless the layout is ``"columns"`` (``Z = W X + b``, samples as
columns), which a convention offers where course code uses it (the affine layer, the
elementwise activations, the softmax loss).

>>> conv = get_convention("affine")
>>> conv.outputs, conv.signature.split(";")[0]
(('dx', 'dw', 'db'), 'affine_forward(x, w, b) -> (out, cache)')
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from ..catalogue.layer_types import get_layer_type
from ..errors import ArgumentError
from .layer_calls_conv import ENTRIES as _CONV_ENTRIES
from .layer_calls_rnn import ENTRIES as _RNN_ENTRIES
from .layer_convention import Arrays, Convention, Maker, activation

__all__ = ["Convention", "CONVENTIONS", "get_convention", "Arrays"]


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


# -- affine ---------------------------------------------------------------------------

def _affine_make(columns: bool) -> Maker:
    def make(d: Mapping[str, int], h: Mapping[str, float], rng: np.random.Generator) -> Arrays:
        n, i, o = d["N"], d["D"], d["M"]
        if columns:  # Z = W X + b: w (M, D), x (D, N), b (M, 1)
            return {"x": _normal(rng, i, n), "w": _normal(rng, o, i), "b": _normal(rng, o, 1),
                    "dout": _normal(rng, o, n), "N": n}
        return {"x": _normal(rng, n, i), "w": _normal(rng, i, o), "b": _normal(rng, o),
                "dout": _normal(rng, n, o), "N": n}
    return make


def _affine_rows(a: Arrays) -> dict[str, np.ndarray]:
    # symgrad's matrix rule with samples as rows: dE/dW = A^T delta, dE/dA = delta W^T
    x, w, dout = a["x"], a["w"], a["dout"]
    return {"out": x @ w + a["b"], "dx": dout @ w.T, "dw": x.T @ dout, "db": dout.sum(axis=0)}


def _affine_columns(a: Arrays) -> dict[str, np.ndarray]:
    # the same rule with samples as columns: dE/dW = delta A^T, dE/dA = W^T delta
    x, w, dout = a["x"], a["w"], a["dout"]
    return {"out": w @ x + a["b"], "dx": w.T @ dout, "dw": dout @ x.T,
            "db": dout.sum(axis=1, keepdims=True)}


_AFFINE_FORMS = {"out": "out = X W + 1 bᵀ  (N×M)", "dx": "dX = dout Wᵀ  (N×D)",
                 "dw": "dW = Xᵀ dout  (D×M)", "db": "db = doutᵀ 1 = Σ_n dout_n  (M)"}
_AFFINE_COLUMN_FORMS = {"out": "out = W X + b 1ᵀ  (M×N)", "dx": "dX = Wᵀ dout  (D×N)",
                        "dw": "dW = dout Xᵀ  (M×D)", "db": "db = dout 1 = Σ_n dout_n  (M×1)"}


# -- elementwise activations ------------------------------------------------------------

def _elementwise_make(columns: bool) -> Maker:
    def make(d: Mapping[str, int], h: Mapping[str, float], rng: np.random.Generator) -> Arrays:
        shape = (d["D"], d["N"]) if columns else (d["N"], d["D"])
        return {"x": _normal(rng, *shape), "dout": _normal(rng, *shape), "N": d["N"]}
    return make


def _elementwise_reference(name: str) -> Callable[[Arrays], dict[str, np.ndarray]]:
    def reference(a: Arrays) -> dict[str, np.ndarray]:
        out, slope = activation(name)(a["x"])
        return {"out": out, "dx": a["dout"] * slope, "slope": slope}
    return reference


_ELEMENTWISE_FORMS = {
    "relu": {"out": "out = max(X, 0)", "dx": "dX = dout ⊙ H(X)  (H(0) = 0)"},
    "sigmoid": {"out": "out = σ(X)", "dx": "dX = dout ⊙ σ(X) ⊙ (1 − σ(X))"},
    "tanh": {"out": "out = tanh(X)", "dx": "dX = dout ⊙ (1 − tanh²(X))"},
}


# -- softmax with cross-entropy --------------------------------------------------------

def _softmax_loss_make(columns: bool) -> Maker:
    def make(d: Mapping[str, int], h: Mapping[str, float], rng: np.random.Generator) -> Arrays:
        n, c = d["N"], d["C"]
        x = _normal(rng, c, n) if columns else _normal(rng, n, c)
        return {"x": x, "y": rng.integers(0, c, size=n), "N": n, "columns": columns}
    return make


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softmax_loss(a: Arrays) -> dict[str, np.ndarray]:
    # symgrad's softmax output with cross-entropy, averaged: delta = (S - Y) / N
    x = a["x"].T if a["columns"] else a["x"]
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_s = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    dx = np.exp(log_s)
    dx[rows, a["y"]] -= 1.0
    dx /= n
    return {"loss": np.asarray(-log_s[rows, a["y"]].mean()), "dx": dx.T if a["columns"] else dx}


_SOFTMAX_LOSS_FORMS = {"loss": "L = −(1/N) Σ_n log softmax(x_n)[y_n]",
                       "dx": "dX = (S − Y) / N, S = softmax of each sample, Y one-hot"}


# -- layer types of the catalogue: batch normalization, dropout, softmax, log-softmax -------

def _from_catalogue(name: str, hyper: Callable[[Arrays], dict[str, Any]] = lambda a: {},
                    extra: Callable[[Arrays], dict[str, Any]] = lambda a: {}
                    ) -> Callable[[Arrays], dict[str, np.ndarray]]:
    """symgrad's values from the catalogue entry's forward and backward: ``out`` and
    ``dx``, ``d<param>`` for each parameter (and what ``extra`` adds for the diagnosis)."""
    entry = get_layer_type(name)

    def reference(a: Arrays) -> dict[str, np.ndarray]:
        y, cache = entry.forward(a["x"], {p: a[p] for p in entry.params}, **hyper(a))
        grads = entry.backward(a["dout"], cache)
        return {"out": y, **{f"d{k}": v for k, v in grads.items()}, **extra(a)}
    return reference


def _batchnorm_make(d: Mapping[str, int], h: Mapping[str, float],
                    rng: np.random.Generator) -> Arrays:
    n, i = d["N"], d["D"]
    return {"x": 3 * _normal(rng, n, i) + _normal(rng, 1, i), "gamma": _normal(rng, i),
            "beta": _normal(rng, i), "dout": _normal(rng, n, i), "eps": h["eps"], "N": n}


_BATCHNORM_FORMS = {
    "out": "out = γ ⊙ X̂ + β, X̂ = (X − 1μᵀ) / σ, σ² = Σ_n (x_n − μ)² / N + ε",
    "dx": "dX = (γ/σ) ⊙ (dout − 1 mean(dout) − X̂ ⊙ 1 mean(dout ⊙ X̂))  (N×D)",
    "dgamma": "dγ = 1ᵀ (dout ⊙ X̂) = Σ_n dout_n ⊙ x̂_n  (D)",
    "dbeta": "dβ = 1ᵀ dout = Σ_n dout_n  (D)"}


def _dropout_make(d: Mapping[str, int], h: Mapping[str, float],
                  rng: np.random.Generator) -> Arrays:
    n, i = d["N"], d["D"]
    if not 0 < h["p"] <= 1:
        raise ArgumentError(f"layer dropout: p, the probability of keeping a unit, must be "
                            f"in (0, 1], got {h['p']}")
    draw = get_layer_type("dropout").inputs["mask"]  # kept with probability 1 - rate = p
    return {"x": _normal(rng, n, i), "dout": _normal(rng, n, i), "p": h["p"], "N": n,
            "mask": draw((n, i), {"rate": 1 - h["p"]}, rng) > 0,
            "seed": int(rng.integers(0, 2 ** 31))}


def _observe_mask(a: Arrays, out: np.ndarray) -> None:
    """The mask the user's forward drew: where its output is not 0 (x has no zeros)."""
    if out.shape == a["x"].shape:
        a["mask"] = out != 0


def _softmax_make(d: Mapping[str, int], h: Mapping[str, float],
                  rng: np.random.Generator) -> Arrays:
    return {"x": _normal(rng, d["N"], d["D"]), "dout": _normal(rng, d["N"], d["D"]),
            "N": d["N"]}


def _entry(name: str, layout: str, **kw: Any) -> tuple[tuple[str, str], Convention]:
    return (name, layout), Convention(name=name, layout=layout, **kw)


def _affine(layout: str) -> tuple[tuple[str, str], Convention]:
    columns = layout == "columns"
    return _entry(
        "affine", layout, title="affine (dense) layer",
        signature=("affine_forward(x, w, b) -> (out, cache); affine_backward(dout, cache) "
                   "-> (dx, dw, db); cache = (x, w, b)"),
        dims={"N": 4, "D": 5, "M": 3}, outputs=("dx", "dw", "db"), make=_affine_make(columns),
        forward_args=lambda a: (a["x"], a["w"], a["b"]),
        cache=lambda a: (a["x"], a["w"], a["b"]),
        reference=_affine_columns if columns else _affine_rows,
        forms=_AFFINE_COLUMN_FORMS if columns else _AFFINE_FORMS)


def _elementwise(name: str, layout: str) -> tuple[tuple[str, str], Convention]:
    return _entry(
        name, layout, title=f"{name} activation",
        signature=(f"{name}_forward(x) -> (out, cache); {name}_backward(dout, cache) -> dx; "
                   "cache = x"),
        dims={"N": 4, "D": 5}, outputs=("dx",), make=_elementwise_make(layout == "columns"),
        forward_args=lambda a: (a["x"],), cache=lambda a: a["x"],
        reference=_elementwise_reference(name), forms=_ELEMENTWISE_FORMS[name])


def _softmax_loss_entry(layout: str) -> tuple[tuple[str, str], Convention]:
    return _entry(
        "softmax_loss", layout, title="softmax with cross-entropy (mean over the batch)",
        signature="softmax_loss(x, y) -> (loss, dx); y holds integer labels",
        dims={"N": 6, "C": 4}, outputs=("loss", "dx"),
        make=_softmax_loss_make(layout == "columns"),
        forward_args=lambda a: (a["x"], a["y"]), cache=None, reference=_softmax_loss,
        forms=_SOFTMAX_LOSS_FORMS, loss=True)


def _more() -> list[tuple[tuple[str, str], Convention]]:
    both = "(out, cache); cache = out"
    return [
        _entry("batchnorm", "rows", title="batch normalization (training mode)",
               signature=("batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); "
                          "batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta); "
                          "bn_param = {'mode': 'train', 'eps': eps}"),
               dims={"N": 8, "D": 5}, hyper={"eps": 1e-5}, outputs=("dx", "dgamma", "dbeta"),
               make=_batchnorm_make, cache=None, forms=_BATCHNORM_FORMS,
               reference=_from_catalogue("batchnorm", lambda a: {"eps": a["eps"]}),
               forward_args=lambda a: (a["x"], a["gamma"], a["beta"],
                                       {"mode": "train", "eps": a["eps"]})),
        _entry("dropout", "rows", title="inverted dropout (p: probability of keeping)",
               signature=("dropout_forward(x, dropout_param) -> (out, cache); "
                          "dropout_backward(dout, cache) -> dx; dropout_param = {'p': p, "
                          "'mode': 'train', 'seed': seed}; cache = (dropout_param, mask)"),
               dims={"N": 8, "D": 6}, hyper={"p": 0.6}, outputs=("dx",), make=_dropout_make,
               forward_args=lambda a: (a["x"], {"p": a["p"], "mode": "train",
                                                "seed": a["seed"]}),
               cache=lambda a: ({"p": a["p"], "mode": "train"}, a["mask"] / a["p"]),
               reference=_from_catalogue(  # the catalogue's rate is 1 - p
                   "dropout", lambda a: {"rate": 1 - a["p"], "mask": a["mask"] * 1.0},
                   lambda a: {"slope": a["mask"] / a["p"]}),
               observe=_observe_mask,
               forms={"out": "out = X ⊙ M / p", "dx": "dX = dout ⊙ M / p"}),
        _entry("softmax", "rows", title="softmax as a layer (full Jacobian)",
               signature=f"softmax_forward(x) -> {both}; softmax_backward(dout, cache) -> dx",
               dims={"N": 4, "D": 5}, outputs=("dx",), make=_softmax_make,
               forward_args=lambda a: (a["x"],), cache=lambda a: _softmax_rows(a["x"]),
               reference=_from_catalogue("softmax"),
               forms={"out": "S = softmax of each row of X",
                      "dx": "dX = S ⊙ (dout − ((dout ⊙ S) 1) 1ᵀ)  (each row: J_sᵀ dout, "
                            "J_s = diag(s) − s sᵀ)"}),
        _entry("log_softmax", "rows", title="log-softmax as a layer",
               signature=(f"log_softmax_forward(x) -> {both}; log_softmax_backward(dout, "
                          "cache) -> dx"),
               dims={"N": 4, "D": 5}, outputs=("dx",), make=_softmax_make,
               forward_args=lambda a: (a["x"],),
               cache=lambda a: np.log(_softmax_rows(a["x"])),
               reference=_from_catalogue("log_softmax"),
               forms={"out": "log S, S = softmax of each row of X",
                      "dx": "dX = dout − S ⊙ ((dout 1) 1ᵀ)"}),
    ]


#: Every convention, by (layer name, layout).
CONVENTIONS: dict[tuple[str, str], Convention] = dict(
    [_affine("rows"), _affine("columns"), _softmax_loss_entry("rows"),
     _softmax_loss_entry("columns")] + _more()
    + [_elementwise(n, lay) for n in _ELEMENTWISE_FORMS for lay in ("rows", "columns")]
    + list(_CONV_ENTRIES.items()) + list(_RNN_ENTRIES.items()))


def get_convention(name: str, layout: str = "rows") -> Convention:
    """The convention of layer ``name`` in ``layout`` (``"rows"`` or ``"columns"``).

    >>> get_convention("relu", "columns").dims
    {'N': 4, 'D': 5}
    """
    if (name, layout) in CONVENTIONS:
        return CONVENTIONS[(name, layout)]
    names = sorted({n for n, _ in CONVENTIONS})
    if name not in names:
        raise ArgumentError(f"unknown layer {name!r}; known layers: {', '.join(names)}")
    layouts = sorted(lay for n, lay in CONVENTIONS if n == name)
    raise ArgumentError(f"layer {name!r} has no layout {layout!r}; it has: "
                        f"{', '.join(layouts)}")
