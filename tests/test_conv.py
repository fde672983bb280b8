"""Convolution and pooling kernels: values and gradients against torch.autograd (float64,
1e-12 relative to the size of what is summed) and central differences (always run)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from symgrad.catalogue.conv import (conv_backward, conv_forward, conv_output_shape,
                                    pool_backward, pool_forward, pool_output_shape)
from symgrad.errors import ArgumentError

# (name, per-sample input shape, hyper): batch sizes, strides, paddings and channel counts
CONV_CASES = [
    ("1d", 1, (1, 9), {"channels": 1, "kernel": 3, "stride": 1, "padding": 0}),
    ("1d-stride2-pad1", 4, (3, 10), {"channels": 5, "kernel": 4, "stride": 2, "padding": 1}),
    ("1d-stride3-pad2", 2, (2, 11), {"channels": 3, "kernel": 3, "stride": 3, "padding": 2}),
    ("2d", 3, (1, 8, 8), {"channels": 4, "kernel": 3, "stride": 1, "padding": 1}),
    ("2d-stride2", 5, (3, 7, 9), {"channels": 2, "kernel": (3, 2), "stride": 2, "padding": 0}),
    ("2d-mixed", 2, (2, 6, 5), {"channels": 3, "kernel": (2, 3), "stride": (1, 2),
                                 "padding": (2, 1)}),
    ("2d-pad>k-1", 1, (2, 4, 4), {"channels": 2, "kernel": 2, "stride": 1, "padding": 2}),
]
POOL_CASES = [
    ("max1d", 3, (2, 8), {"kernel": 2, "mode": "max"}),
    ("max1d-overlap", 2, (3, 9), {"kernel": 3, "stride": 2, "padding": 1, "mode": "max"}),
    ("max2d", 4, (3, 8, 8), {"kernel": 2, "mode": "max"}),
    ("max2d-rest", 3, (3, 7, 9), {"kernel": 2, "mode": "max"}),
    ("max1d-pad-rest", 2, (2, 7), {"kernel": 2, "padding": 1, "mode": "max"}),
    ("max2d-overlap", 2, (2, 7, 6), {"kernel": 3, "stride": 1, "padding": 1, "mode": "max"}),
    ("avg1d", 3, (2, 7), {"kernel": 3, "stride": 2, "padding": 1, "mode": "avg"}),
    ("avg2d", 4, (3, 8, 8), {"kernel": 2, "mode": "avg"}),
    ("avg2d-overlap", 2, (2, 7, 6), {"kernel": (3, 2), "stride": (2, 1), "padding": 1,
                                     "mode": "avg"}),
]


def _conv_params(shape: tuple[int, ...], hyper: dict[str, Any],
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    kernel = hyper["kernel"]
    kernel = (kernel,) * (len(shape) - 1) if isinstance(kernel, int) else kernel
    return {"W": rng.standard_normal((hyper["channels"], shape[0]) + tuple(kernel)),
            "b": rng.standard_normal(hyper["channels"])}


def _conv(x: np.ndarray, params: dict[str, np.ndarray], hyper: dict[str, Any]) -> np.ndarray:
    return conv_forward(x, params, **hyper)[0]


def _torch_conv(torch: Any, x: Any, w: Any, b: Any, hyper: dict[str, Any]) -> Any:
    fn = torch.nn.functional.conv1d if x.dim() == 3 else torch.nn.functional.conv2d
    return fn(x, w, b, stride=hyper["stride"], padding=hyper["padding"])


def _torch_pool(torch: Any, x: Any, hyper: dict[str, Any]) -> Any:
    f = torch.nn.functional
    d = x.dim() - 2
    fn = {("max", 1): f.max_pool1d, ("max", 2): f.max_pool2d,
          ("avg", 1): f.avg_pool1d, ("avg", 2): f.avg_pool2d}[hyper["mode"], d]
    return fn(x, hyper["kernel"], hyper.get("stride") or hyper["kernel"],
              hyper.get("padding", 0))


def _close(mine: np.ndarray, theirs: np.ndarray, scale: np.ndarray, rtol: float) -> None:
    """Equal to ``rtol`` times the size of the summands (``scale``, same shape or scalar)."""
    assert mine.shape == theirs.shape
    np.testing.assert_array_less(np.abs(mine - theirs), rtol * (scale + 1e-300))


@pytest.mark.parametrize("n, shape, hyper", [c[1:] for c in CONV_CASES],
                         ids=[c[0] for c in CONV_CASES])
def test_conv_matches_torch_autograd(n: int, shape: tuple[int, ...],
                                     hyper: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch "
                                "comparison is skipped; central differences still run")
    rng = np.random.default_rng(len(shape) * 10 + n)
    x = rng.standard_normal((n,) + shape)
    params = _conv_params(shape, hyper, rng)
    y, cache = conv_forward(x, params, **hyper)
    dy = rng.standard_normal(y.shape)
    grads = conv_backward(dy, cache)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, params["W"], params["b"]))
    ty = _torch_conv(torch, tx, tw, tb, hyper)
    ty.backward(torch.tensor(dy))
    assert y.shape == tuple(ty.shape) and y.shape[1:] == conv_output_shape(shape, hyper)
    # each entry is a sum of products: bound by the sum of their sizes (|x| |w|, |dy| |x| ...)
    absolute = _conv(np.abs(x), {"W": np.abs(params["W"]), "b": np.abs(params["b"])}, hyper)
    _close(y, ty.detach().numpy(), absolute, 1e-12)
    abs_grads = conv_backward(np.abs(dy), conv_forward(np.abs(x), {
        "W": np.abs(params["W"]), "b": params["b"]}, **hyper)[1])
    for name, theirs in (("x", tx), ("W", tw), ("b", tb)):
        _close(grads[name], theirs.grad.numpy(), abs_grads[name], 1e-12)


@pytest.mark.parametrize("n, shape, hyper", [c[1:] for c in POOL_CASES],
                         ids=[c[0] for c in POOL_CASES])
def test_pool_matches_torch_autograd(n: int, shape: tuple[int, ...],
                                     hyper: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch "
                                "comparison is skipped; central differences still run")
    rng = np.random.default_rng(n + len(shape))
    x = rng.standard_normal((n,) + shape)
    y, cache = pool_forward(x, **hyper)
    dy = rng.standard_normal(y.shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = _torch_pool(torch, tx, hyper)
    ty.backward(torch.tensor(dy))
    assert y.shape == tuple(ty.shape) and y.shape[1:] == pool_output_shape(shape, hyper)
    _close(y, ty.detach().numpy(), np.abs(x).max(), 1e-12)
    _close(pool_backward(dy, cache)["x"], tx.grad.numpy(), np.abs(dy).sum(), 1e-12)


def _central(f: Callable[[np.ndarray], float], a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``f`` with respect to every entry of ``a`` (changed in place)."""
    grad = np.zeros_like(a)
    for i in np.ndindex(*a.shape):
        keep = a[i]
        a[i] = keep + h
        up = f(a)
        a[i] = keep - h
        grad[i] = (up - f(a)) / (2 * h)
        a[i] = keep
    return grad


@pytest.mark.parametrize("n, shape, hyper", [c[1:] for c in CONV_CASES],
                         ids=[c[0] for c in CONV_CASES])
def test_conv_matches_central_differences(n: int, shape: tuple[int, ...],
                                          hyper: dict[str, Any]) -> None:
    rng = np.random.default_rng(7 + n)
    x = rng.standard_normal((n,) + shape)
    params = _conv_params(shape, hyper, rng)
    y, cache = conv_forward(x, params, **hyper)
    dy = rng.standard_normal(y.shape)
    grads = conv_backward(dy, cache)
    # E = sum(dy * Y) is linear in each argument: central differences are exact up to
    # rounding, about 1e-16 * sum|dy * Y| / h
    bound = 1e-16 * float(np.abs(dy).sum() * (np.abs(y).max() + 1)) / 1e-6 * 10
    energy = {"x": lambda a: float((dy * _conv(a, params, hyper)).sum()),
              "W": lambda a: float((dy * _conv(x, {**params, "W": a}, hyper)).sum()),
              "b": lambda a: float((dy * _conv(x, {**params, "b": a}, hyper)).sum())}
    for name, array in (("x", x), ("W", params["W"]), ("b", params["b"])):
        np.testing.assert_allclose(grads[name], _central(energy[name], array.copy()),
                                   atol=bound, rtol=0)


@pytest.mark.parametrize("n, shape, hyper", [c[1:] for c in POOL_CASES],
                         ids=[c[0] for c in POOL_CASES])
def test_pool_matches_central_differences(n: int, shape: tuple[int, ...],
                                          hyper: dict[str, Any]) -> None:
    rng = np.random.default_rng(11 + n)
    # distinct values at least 0.01 apart: a step of 1e-6 never changes a window's max
    x = rng.permutation(np.prod((n,) + shape)).reshape((n,) + shape) * 0.01
    y, cache = pool_forward(x, **hyper)
    dy = rng.standard_normal(y.shape)
    numeric = _central(lambda a: float((dy * pool_forward(a, **hyper)[0]).sum()), x.copy())
    bound = 1e-16 * float(np.abs(dy).sum() * np.abs(x).max()) / 1e-6 * 10
    np.testing.assert_allclose(pool_backward(dy, cache)["x"], numeric, atol=bound, rtol=0)


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order() -> None:
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]]]])
    y, cache = pool_forward(x, kernel=2, mode="max")
    dx = pool_backward(np.array([[[[3.0]], [[7.0]]]]), cache)["x"]
    np.testing.assert_array_equal(y, [[[[5.0]], [[2.0]]]])
    np.testing.assert_array_equal(dx, [[[[0.0, 3.0], [0.0, 0.0]], [[7.0, 0.0], [0.0, 0.0]]]])


def test_overlapping_max_windows_add_what_they_send() -> None:
    x = np.array([[[0.0, 9.0, 1.0, 2.0]]])
    y, cache = pool_forward(x, kernel=2, stride=1, mode="max")
    np.testing.assert_array_equal(y, [[[9.0, 9.0, 2.0]]])
    np.testing.assert_array_equal(pool_backward(np.array([[[1.0, 10.0, 100.0]]]), cache)["x"],
                                  [[[0.0, 11.0, 0.0, 100.0]]])


@pytest.mark.parametrize("call, message", [
    (lambda: conv_output_shape((1, 4, 4), {"channels": 2, "kernel": 5}, "conv1"),
     "layer 'conv1': input 4x4 with kernel 5x5, stride 1x1 and padding 0x0 leaves no output"),
    (lambda: conv_output_shape((1, 4, 4), {"channels": 2, "kernel": 3, "stride": 0}, "c"),
     "layer 'c': stride must be an integer >= 1 (or 2 of them, one per axis), got 0"),
    (lambda: conv_forward(np.zeros((2, 3, 5, 5)), {"W": np.zeros((4, 2, 3, 3)),
                                                   "b": np.zeros(4)}, layer="conv2"),
     "layer 'conv2': input of shape (2, 3, 5, 5) does not fit; it needs (N, 2, H, W) to "
     "match the kernel (4, 2, 3, 3)"),
    (lambda: pool_forward(np.zeros((1, 1, 3, 3)), kernel=4, layer="pool1"),
     "layer 'pool1': input 3x3 with kernel 4x4, stride 4x4 and padding 0x0 leaves no output"),
    (lambda: pool_output_shape((1, 6), {"kernel": 2, "padding": 2}, "pool2"),
     "layer 'pool2': padding 2 must be at most half the kernel 2"),
])
def test_shapes_that_do_not_fit_name_the_shapes_and_the_layer(call: Callable[[], Any],
                                                               message: str) -> None:
    with pytest.raises(ArgumentError) as error:
        call()
    assert str(error.value) == message
