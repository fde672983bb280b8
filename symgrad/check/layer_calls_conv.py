"""The calling conventions of convolution and pooling code (CS231n's naive layers).

``conv_forward_naive(x, w, b, conv_param) -> (out, cache)`` with ``x`` ``(N, C, H, W)``,
``w`` ``(F, C, HH, WW)``, ``conv_param = {"stride": s, "pad": p}`` and ``cache = (x, w,
b, conv_param)``; ``conv_backward_naive(dout, cache) -> (dx, dw, db)``.
``max_pool_forward_naive(x, pool_param) -> (out, cache)`` with ``pool_param =
{"pool_height": ph, "pool_width": pw, "stride": s}`` and ``cache = (x, pool_param)``;
``max_pool_backward_naive(dout, cache) -> dx`` (``avg_pool`` alike). symgrad's values come
from the catalogue's layer types ``conv2d``, ``maxpool2d`` and ``avgpool2d``. The entries join :data:`.layer_calls.CONVENTIONS`.

>>> from symgrad.check.layer_calls import get_convention
>>> get_convention("conv").outputs
('dx', 'dw', 'db')
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..catalogue.layer_types import get_layer_type
from .layer_convention import Arrays, Convention

__all__ = ["conv_grads", "pool", "ENTRIES"]


def conv_grads(x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray, stride: int,
               pad: int, flip: bool = False) -> dict[str, np.ndarray]:
    """symgrad's ``out``, ``dx``, ``dw``, ``db`` of a 2-D convolution (``flip``: with the
    kernel flipped in ``dx``'s full convolution, i.e. the correlation left unflipped)."""
    entry = get_layer_type("conv2d")
    y, cache = entry.forward(x, {"W": w, "b": b}, stride=stride, padding=pad)
    if flip:  # the layer's cache: the convolution's own, and how its input was given
        inner, given = cache
        cache = (inner._replace(weight=w[:, :, ::-1, ::-1]), given)
    grads = entry.backward(dout.reshape(y.shape), cache)
    return {"out": y, "dx": grads["x"], "dw": grads["W"], "db": grads["b"]}


def _conv_make(d: Mapping[str, int], h: Mapping[str, float],
               rng: np.random.Generator) -> Arrays:
    s, p = int(h["stride"]), int(h["pad"])
    x = rng.standard_normal((d["N"], d["C"], d["H"], d["W"]))
    w = rng.standard_normal((d["F"], d["C"], d["HH"], d["WW"]))
    y, _ = get_layer_type("conv2d").forward(x, {"W": w, "b": np.zeros(d["F"])}, stride=s,
                                            padding=p)
    return {"x": x, "w": w, "b": rng.standard_normal(d["F"]), "stride": s, "pad": p,
            "dout": rng.standard_normal(y.shape), "N": d["N"]}


def _conv(a: Arrays) -> dict[str, np.ndarray]:
    return conv_grads(a["x"], a["w"], a["b"], a["dout"], a["stride"], a["pad"])


def _pool_make(d: Mapping[str, int], h: Mapping[str, float],
               rng: np.random.Generator) -> Arrays:
    kernel, s = (int(h["pool_height"]), int(h["pool_width"])), int(h["stride"])
    x = rng.standard_normal((d["N"], d["C"], d["H"], d["W"]))
    y, _ = pool(x, kernel, s, "max")
    return {"x": x, "kernel": kernel, "stride": s, "dout": rng.standard_normal(y.shape),
            "N": d["N"], "param": {"pool_height": kernel[0], "pool_width": kernel[1],
                                   "stride": s}}


def pool(x: np.ndarray, kernel: tuple[int, int], stride: int, mode: str,
         dout: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """symgrad's ``out`` of a 2-D pooling layer (``mode``: max or avg), and ``dx`` for
    ``dout`` when given."""
    entry = get_layer_type(f"{mode}pool2d")
    y, cache = entry.forward(x, {}, kernel=kernel, stride=stride)
    return y, None if dout is None else entry.backward(dout, cache)["x"]


def _pool(mode: str) -> Any:
    def reference(a: Arrays) -> dict[str, np.ndarray]:
        y, dx = pool(a["x"], a["kernel"], a["stride"], mode, a["dout"])
        return {"out": y, "dx": dx}
    return reference


_SPATIAL = {"N": 2, "C": 3, "H": 7, "W": 7}


def _pool_entry(name: str, mode: str, rule: str) -> tuple[tuple[str, str], Convention]:
    return (name, "rows"), Convention(
        name=name, layout="rows", title=f"{mode} pooling",
        signature=(f"{name}_forward_naive(x, pool_param) -> (out, cache); "
                   f"{name}_backward_naive(dout, cache) -> dx; pool_param = {{'pool_height': "
                   "ph, 'pool_width': pw, 'stride': s}; cache = (x, pool_param)"),
        dims=_SPATIAL, hyper={"pool_height": 2, "pool_width": 2, "stride": 2},
        outputs=("dx",), make=_pool_make, forward_args=lambda a: (a["x"], dict(a["param"])),
        cache=lambda a: (a["x"], dict(a["param"])), reference=_pool(mode),
        forms={"out": f"out[n, c, i, j] = {mode} of the window at (s i, s j)", "dx": rule})


ENTRIES: dict[tuple[str, str], Convention] = dict([
    (("conv", "rows"), Convention(
        name="conv", layout="rows", title="2-D convolution (cross-correlation, zero padding)",
        signature=("conv_forward_naive(x, w, b, conv_param) -> (out, cache); "
                   "conv_backward_naive(dout, cache) -> (dx, dw, db); conv_param = "
                   "{'stride': s, 'pad': p}; cache = (x, w, b, conv_param)"),
        dims={**_SPATIAL, "F": 4, "HH": 3, "WW": 3}, hyper={"stride": 2, "pad": 1},
        outputs=("dx", "dw", "db"), make=_conv_make,
        forward_args=lambda a: (a["x"], a["w"], a["b"], {"stride": a["stride"],
                                                         "pad": a["pad"]}),
        cache=lambda a: (a["x"], a["w"], a["b"], {"stride": a["stride"], "pad": a["pad"]}),
        reference=_conv,
        forms={"out": "out = b + W ⋆ X̃ (correlation with stride s; X̃: X padded with p zeros)",
               "dx": "dX = dout (dilated by s) full-convolved with W: a correlation with the "
                     "kernel flipped in space, channels swapped; then the padding cropped",
               "dw": "dW[f, c] = Σ_n X̃[n, c] ⋆ dout[n, f] (the input correlated with dout, "
                     "stride s)",
               "db": "db[f] = Σ_{n, i, j} dout[n, f, i, j]"})),
    _pool_entry("max_pool", "max", "dX: each window's dout goes to its maximum (ties: the "
                                   "first in row-major order); overlapping windows add"),
    _pool_entry("avg_pool", "avg", "dX: each window's dout / (ph pw) goes to every entry of "
                                   "the window"),
])
