"""Convolution and pooling in NumPy: forward and backward kernels, 1-D and 2-D alike.

Arrays hold samples on axis 0 and channels on axis 1, then ``d`` spatial axes (``d`` = 1
or 2): ``(N, C, L)`` or ``(N, C, H, W)``, as PyTorch lays them out. A convolution's
kernel is ``(F, C, k)`` or ``(F, C, kh, kw)`` with ``F`` output channels; its bias is
``(F,)``. What deep-learning libraries call convolution is a cross-correlation,

    Y[n, f, i] = b[f] + sum_c sum_u W[f, c, u] X~[n, c, s*i + u]

with ``X~`` the input padded with ``p`` zeros on each side, ``s`` the stride and
``L_out = (L + 2p - k) // s + 1``; 2-D sums over ``u`` and ``v`` the same way. The
backward pass is two more correlations (:func:`conv_backward`):

* ``dE/dW[f, c, u] = sum_n sum_i delta[n, f, i] X~[n, c, s*i + u]``: the input correlated
  with ``delta``;
* ``dE/dX = `` the full convolution of ``delta`` (dilated by the stride) with the kernel:
  a correlation with the kernel flipped in space and its channels swapped, over ``delta``
  padded with ``k - 1 - p`` zeros.

Each correlation is one matrix product over windows gathered with a strided view
(im2col): for the 8x8 digits, one product per layer and pass.

Max pooling sends each window's gradient to its maximum. **Ties:** the whole gradient
goes to the first maximal entry of the window in row-major order (PyTorch's choice),
not split among the tied ones; where windows overlap, an entry gets the sum of what the
windows it wins send it. Average pooling sends ``1/k^d`` of it to every entry of the
window, padding included (PyTorch's ``count_include_pad=True``).

>>> x = np.arange(8.0).reshape(1, 1, 8)
>>> w = np.array([[[1.0, -1.0]]])
>>> y, cache = conv_forward(x, {"W": w, "b": np.zeros(1)}, stride=2, padding=0)
>>> y
array([[[-1., -1., -1., -1.]]])
>>> grads = conv_backward(np.ones_like(y), cache)
>>> grads["x"], grads["W"], grads["b"]
(array([[[ 1., -1.,  1., -1.,  1., -1.,  1., -1.]]]), array([[[12., 16.]]]), array([4.]))
>>> pool_forward(np.array([[[3.0, 3.0, 1.0, 2.0]]]), kernel=2, mode="max")[0]
array([[[3., 2.]]])
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import ArgumentError, ShapeError

__all__ = ["conv_output_shape", "pool_output_shape", "conv_init", "conv_forward",
           "conv_backward", "pool_forward", "pool_backward", "POOL_MODES"]

#: Pooling modes: what a window's entries become.
POOL_MODES = ("max", "avg")


# -- shapes ----------------------------------------------------------------------------------

def _ints(value: int | tuple[int, ...], d: int, name: str, layer: str, low: int) -> tuple[int, ...]:
    """``value`` as ``d`` integers >= ``low`` (one integer stands for all spatial axes)."""
    values = (value,) * d if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != d or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                               or v < low for v in values):
        some = f" (or {d} of them, one per axis)" if d > 1 else ""
        raise ArgumentError(f"layer '{layer}': {name} must be an integer >= {low}{some}, "
                            f"got {value!r}")
    return tuple(int(v) for v in values)


def _spatial_out(shape: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                 padding: tuple[int, ...], layer: str) -> tuple[int, ...]:
    """Output size per spatial axis; an error naming the shapes where one would be < 1."""
    out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(shape, kernel, stride, padding))
    if any(o < 1 or n + 2 * p < k for o, n, k, p in zip(out, shape, kernel, padding)):
        raise ArgumentError(
            f"layer '{layer}': input {_dims(shape)} with kernel {_dims(kernel)}, stride "
            f"{_dims(stride)} and padding {_dims(padding)} leaves no output")
    return out


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def conv_output_shape(shape: tuple[int, ...], hyper: Mapping[str, Any],
                      layer: str = "conv") -> tuple[int, ...]:
    """Per-sample output shape ``(F, *spatial)`` of a convolution on per-sample ``shape``
    ``(C, *spatial)``; hyper has ``channels`` (F), ``kernel``, ``stride``, ``padding``.

    >>> conv_output_shape((1, 8, 8), {"channels": 16, "kernel": 3, "stride": 1, "padding": 1})
    (16, 8, 8)
    >>> conv_output_shape((3, 5), {"channels": 2, "kernel": 7, "stride": 1, "padding": 0})
    Traceback (most recent call last):
    symgrad.errors.ArgumentError: layer 'conv': input 5 with kernel 7, stride 1 and padding 0 leaves no output
    """
    d = len(shape) - 1
    if d < 1:
        raise ArgumentError(f"layer '{layer}': input {_dims(shape)} needs a channel axis and "
                            "at least one spatial axis")
    kernel, stride, padding = _geometry(hyper, d, layer)
    _ints(hyper["channels"], 1, "channels", layer, 1)
    return (int(hyper["channels"]),) + _spatial_out(shape[1:], kernel, stride, padding, layer)


def pool_output_shape(shape: tuple[int, ...], hyper: Mapping[str, Any],
                      layer: str = "pool") -> tuple[int, ...]:
    """Per-sample output shape of a pooling layer: channels kept, space shrunk.

    >>> pool_output_shape((16, 8, 8), {"kernel": 2})
    (16, 4, 4)
    """
    kernel, stride, padding = _geometry(hyper, len(shape) - 1, layer, pooling=True)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ArgumentError(f"layer '{layer}': padding {_dims(padding)} must be at most half "
                            f"the kernel {_dims(kernel)}")
    return shape[:1] + _spatial_out(shape[1:], kernel, stride, padding, layer)


def _geometry(hyper: Mapping[str, Any], d: int, layer: str,
              pooling: bool = False) -> tuple[tuple[int, ...], ...]:
    """Kernel, stride (default 1, or the kernel for pooling) and padding (default 0)."""
    kernel = _ints(hyper["kernel"], d, "kernel", layer, 1)
    stride = hyper.get("stride")
    stride = _ints(stride if stride is not None else kernel if pooling else 1, d, "stride",
                   layer, 1)
    return kernel, stride, _ints(hyper.get("padding", 0), d, "padding", layer, 0)


def _check_input(x: np.ndarray, w: np.ndarray, layer: str) -> None:
    if x.ndim != w.ndim or x.shape[1] != w.shape[1]:
        space = "L" if w.ndim == 3 else ", ".join("HWD"[:w.ndim - 2])
        raise ShapeError(layer, x.shape, f"(N, {w.shape[1]}, {space}) to match the kernel "
                         f"{w.shape}")


# -- windows (im2col) ------------------------------------------------------------------------

def _pad(x: np.ndarray, before: tuple[int, ...], after: tuple[int, ...],
         value: float = 0.0) -> np.ndarray:
    """``x`` padded (or, for a negative amount, cropped) on its spatial axes. One slice
    assignment into a filled array: 5x faster than ``np.pad`` at these sizes."""
    if not any(before) and not any(after):
        return x
    crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for n, b, a in
                 zip(x.shape[2:], before, after))
    x = x[(slice(None), slice(None)) + crop]
    shape = x.shape[:2] + tuple(n + max(b, 0) + max(a, 0) for n, b, a in
                                zip(x.shape[2:], before, after))
    out = np.full(shape, value, x.dtype)
    out[(Ellipsis,) + tuple(slice(max(b, 0), max(b, 0) + n) for n, b in
                            zip(x.shape[2:], before))] = x
    return out


def _windows(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    """View ``(N, C, *out, *kernel)`` of the windows of ``x`` (N, C, *spatial); no copy."""
    out = tuple((n - k) // s + 1 for n, k, s in zip(x.shape[2:], kernel, stride))
    strides = x.strides[:2] + tuple(t * s for t, s in zip(x.strides[2:], stride)) + x.strides[2:]
    return as_strided(x, x.shape[:2] + out + kernel, strides, writeable=False)


def _columns(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    """Im2col per sample, ``(N, C * prod(kernel), prod(out))``: a column per output position,
    its window's entries ordered channel first, as a kernel ``(F, C, *kernel)`` flattens.
    Positions last, so that ``W @ columns`` is the output laid out ``(N, F, *out)`` with no
    copy; and with it every array downstream (ReLU, pooling, their gradients) is contiguous,
    which halved their time against the positions-first layout."""
    d = len(kernel)
    win = _windows(x, kernel, stride)
    order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    n_out = int(np.prod(win.shape[2:2 + d]))
    return np.ascontiguousarray(win.transpose(order)).reshape(x.shape[0], -1, n_out)


# -- convolution -----------------------------------------------------------------------------

class ConvCache(NamedTuple):
    """What the backward pass of a convolution needs from its forward pass."""

    columns: np.ndarray  # im2col of the padded input, (N, C * prod(kernel), prod(out))
    weight: np.ndarray  # the kernel, (F, C, *kernel)
    x_shape: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    input_grad: bool  # False for a network's first layer: dE/dX is not needed


def conv_init(shape: tuple[int, ...], hyper: Mapping[str, Any],
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-uniform kernel (bound ``sqrt(6 / fan_in)``, fan_in = C * prod(kernel), suited to
    ReLU) and a zero bias.

    >>> p = conv_init((1, 8, 8), {"channels": 4, "kernel": 3}, np.random.default_rng(0))
    >>> p["W"].shape, p["b"].shape
    ((4, 1, 3, 3), (4,))
    """
    kernel = _ints(hyper["kernel"], len(shape) - 1, "kernel", "conv", 1)
    size = (int(hyper["channels"]), shape[0]) + kernel
    bound = np.sqrt(6.0 / (shape[0] * int(np.prod(kernel))))
    return {"W": rng.uniform(-bound, bound, size), "b": np.zeros(size[0])}


def conv_forward(x: np.ndarray, params: Mapping[str, np.ndarray], *, stride: Any = 1,
                 padding: Any = 0, layer: str = "conv", input_grad: bool = True,
                 **_: Any) -> tuple[np.ndarray, ConvCache]:
    """``Y = b + W ⋆ X`` (correlation, zero padding) for ``x`` ``(N, C, *spatial)``.
    With ``input_grad=False`` the backward pass leaves out ``"x"`` (a first layer's)."""
    w = params["W"]
    d = w.ndim - 2
    _check_input(x, w, layer)
    kernel = w.shape[2:]
    stride, padding = (_ints(stride, d, "stride", layer, 1), _ints(padding, d, "padding", layer, 0))
    out = _spatial_out(x.shape[2:], kernel, stride, padding, layer)
    columns = _columns(_pad(x, padding, padding), kernel, stride)
    y = np.matmul(w.reshape(w.shape[0], -1), columns)
    y += params["b"][:, None]
    return y.reshape((x.shape[0], w.shape[0]) + out), ConvCache(columns, w, x.shape, stride, padding, input_grad)


def conv_backward(dy: np.ndarray, cache: ConvCache) -> dict[str, np.ndarray]:
    """Gradients of a convolution: ``x`` (full convolution of ``dy`` with the kernel),
    ``W`` (the input correlated with ``dy``) and ``b`` (``dy`` summed over all but ``F``)."""
    w, stride, padding = cache.weight, cache.stride, cache.padding
    delta = dy.reshape(dy.shape[:2] + (-1,))
    grad_w = np.matmul(delta, cache.columns.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    grads = {"W": grad_w, "b": delta.sum(axis=(0, 2))}
    if cache.input_grad:
        # the same sum either way; the smaller matrix product wins: scattering makes
        # C * prod(kernel) rows per position, the flipped-kernel correlation F * prod(kernel)
        # (the digits' first layer, C = 1, F = 16: backward 120 instead of 300 us a batch)
        full = _scattered_convolution if w.shape[1] < w.shape[0] else _full_convolution
        grads["x"] = full(dy, w, cache.x_shape, stride, padding)
    return grads


def _scattered_convolution(dy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...],
                           stride: tuple[int, ...], padding: tuple[int, ...]) -> np.ndarray:
    """dE/dX as ``dxt[n, c, s*i + u] += sum_f W[f, c, u] dy[n, f, i]``: the full convolution
    summed kernel entry by kernel entry (col2im), then the padding cut off."""
    kernel, out = w.shape[2:], dy.shape[2:]
    parts = np.matmul(w.reshape(w.shape[0], -1).T, dy.reshape(dy.shape[:2] + (-1,)))
    parts = parts.reshape((len(dy), w.shape[1]) + kernel + out)
    dx = np.zeros(x_shape[:2] + tuple(n + 2 * p for n, p in zip(x_shape[2:], padding)), dy.dtype)
    for offset in np.ndindex(*kernel):
        dx[(Ellipsis,) + tuple(slice(o, o + s * (m - 1) + 1, s) for o, s, m in
                               zip(offset, stride, out))] += parts[(slice(None),) * 2 + offset]
    return dx[(Ellipsis,) + tuple(slice(p, p + n) for p, n in zip(padding, x_shape[2:]))]


def _full_convolution(dy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...],
                      stride: tuple[int, ...], padding: tuple[int, ...]) -> np.ndarray:
    """dE/dX: ``dy`` dilated by the stride, padded by ``k - 1 - p`` (and by what the
    stride left over at the end), correlated with the flipped, channel-swapped kernel."""
    d = w.ndim - 2
    kernel = w.shape[2:]
    if any(s > 1 for s in stride):
        dilated = np.zeros(dy.shape[:2] + tuple((n - 1) * s + 1 for n, s in
                                                 zip(dy.shape[2:], stride)), dy.dtype)
        dilated[(Ellipsis,) + tuple(slice(None, None, s) for s in stride)] = dy
        dy = dilated
    rest = tuple((n + 2 * p - k) % s for n, p, k, s in zip(x_shape[2:], padding, kernel, stride))
    before = tuple(k - 1 - p for k, p in zip(kernel, padding))
    padded = _pad(dy, before, tuple(b + r for b, r in zip(before, rest)))
    flipped = w[(slice(None), slice(None)) + (slice(None, None, -1),) * d].swapaxes(0, 1)
    dx = np.matmul(flipped.reshape(flipped.shape[0], -1), _columns(padded, kernel, (1,) * d))
    return dx.reshape(x_shape)


# -- pooling ---------------------------------------------------------------------------------

class PoolCache(NamedTuple):
    """What the backward pass of a pooling layer needs."""

    mode: str
    best: np.ndarray | None  # max: each window's first maximum, flat in the window
    x_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]


def _offset_views(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                  out: tuple[int, ...]) -> list[tuple[tuple[slice, ...], np.ndarray]]:
    """For each offset in the window, row-major: the index of the entries at that offset
    in every window, and their view ``(N, C, *out)``. Pooling runs over these ``prod(kernel)``
    views rather than over a copy of the windows: 5x faster for the digits' 2x2 pool."""
    views = []
    for offset in np.ndindex(*kernel):
        index = (Ellipsis,) + tuple(slice(o, o + s * (m - 1) + 1, s)
                                    for o, s, m in zip(offset, stride, out))
        views.append((index, x[index]))
    return views


def pool_forward(x: np.ndarray, params: Mapping[str, np.ndarray] | None = None, *,
                 kernel: Any, stride: Any = None, padding: Any = 0, mode: str = "max",
                 layer: str = "pool", **_: Any) -> tuple[np.ndarray, PoolCache]:
    """Max or average over windows of ``x`` ``(N, C, *spatial)``; max pooling pads with
    ``-inf``, average pooling with zeros (counted)."""
    if mode not in POOL_MODES:
        raise ArgumentError(f"layer '{layer}': pooling mode must be one of {POOL_MODES}, "
                            f"got {mode!r}")
    if x.ndim < 3:
        raise ArgumentError(f"layer '{layer}': input of shape {x.shape} has no spatial axis")
    hyper = {"kernel": kernel, "stride": stride, "padding": padding}
    out = pool_output_shape(x.shape[1:], hyper, layer)[1:]
    kernel, stride, padding = _geometry(hyper, x.ndim - 2, layer, pooling=True)
    views = _offset_views(_pad(x, padding, padding, -np.inf if mode == "max" else 0.0),
                          kernel, stride, out)
    y = views[0][1].copy()
    if mode == "avg":
        for _, view in views[1:]:
            y += view
        y /= len(views)
        return y, PoolCache(mode, None, x.shape, kernel, stride, padding)
    best = np.zeros(y.shape, np.min_scalar_type(len(views) - 1))
    for number, (_, view) in enumerate(views[1:], 1):
        np.putmask(best, view > y, number)  # strictly greater: a tie keeps the first maximum
        np.maximum(y, view, out=y)
    return y, PoolCache(mode, best, x.shape, kernel, stride, padding)


def pool_backward(dy: np.ndarray, cache: PoolCache) -> dict[str, np.ndarray]:
    """dE/dX of a pooling layer (it has no parameters): each window's ``dy`` to its first
    maximum, or ``dy / prod(kernel)`` to each of its entries; where windows overlap, an
    entry gets the sum of what they send."""
    padded = tuple(s + 2 * p for s, p in zip(cache.x_shape[2:], cache.padding))
    dx = np.zeros(dy.shape[:2] + padded, dy.dtype)
    views = _offset_views(dx, cache.kernel, cache.stride, dy.shape[2:])
    if cache.mode == "avg":
        share = dy / len(views)
        for index, _ in views:
            dx[index] += share
    elif cache.kernel == cache.stride:  # windows that tile: each entry in one window
        for number, (_, view) in enumerate(views):
            np.multiply(dy, cache.best == number, out=view)
    else:
        for number, (index, _) in enumerate(views):
            dx[index] += dy * (cache.best == number)
    crop = tuple(slice(p, p + s) for p, s in zip(cache.padding, cache.x_shape[2:]))
    return {"x": dx[(Ellipsis,) + crop]}
