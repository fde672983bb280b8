"""Convolution and pooling layer types (symgrad.catalogue.layers_conv): their SymPy
derivations, in index form and in batch form, evaluated for concrete arrays and compared
with the NumPy kernels; the exact forms; the registry entries and their shape errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy as sp

from symgrad.catalogue import get_layer_type
from symgrad.catalogue.layer_types import evaluate
from symgrad.catalogue.layers_conv import collapse
from symgrad.errors import ArgumentError, ShapeError


class Zeroed:
    """An array read by a derivation's indices: the sample index from 1, and zero outside
    the array (a kernel beyond its entries, a dilated delta between and around its own)."""

    def __init__(self, array: np.ndarray, samples: bool = True,
                 dilation: tuple[int, ...] = ()) -> None:
        self.array, self.samples, self.dilation = array, samples, dilation

    def __getitem__(self, index: tuple[int, ...]) -> float:
        index = tuple(int(i) for i in index)
        if self.samples:
            index = (index[0] - 1,) + index[1:]
        if self.dilation:
            spatial = index[2:]
            if any(i % s for i, s in zip(spatial, self.dilation)):
                return 0.0
            index = index[:2] + tuple(i // s for i, s in zip(spatial, self.dilation))
        if any(i < 0 or i >= n for i, n in zip(index, self.array.shape)):
            return 0.0
        return float(self.array[index])


def _value(expr: sp.Expr, names: dict[str, Any]) -> float:
    """``expr`` at the numbers and arrays in ``names`` (by symbol name), through lambdify."""
    args = sorted((s for s in expr.free_symbols if isinstance(s, (sp.Symbol, sp.IndexedBase))),
                  key=str)
    return float(sp.lambdify(args, expr, modules="math")(*(names[str(a)] for a in args)))


CONV = [("conv1d", 2, (2, 7), {"channels": 3, "kernel": 3, "stride": 1, "padding": 0}),
        ("conv1d", 2, (2, 8), {"channels": 2, "kernel": 3, "stride": 2, "padding": 1}),
        ("conv2d", 2, (2, 5, 5), {"channels": 2, "kernel": 2, "stride": 2, "padding": 1})]
CONV_IDS = ["conv1d-s1p0", "conv1d-s2p1", "conv2d-s2p1"]


def _conv_case(name: str, n: int, shape: tuple[int, ...], hyper: dict[str, Any]) -> tuple:
    entry = get_layer_type(name)
    rng = np.random.default_rng(n + len(shape))
    x = rng.standard_normal((n,) + shape)
    params = {k: v + rng.standard_normal(v.shape) for k, v in
              entry.init(shape, hyper, rng).items()}
    y, cache = entry.forward(x, params, **hyper)
    dy = rng.standard_normal(y.shape)
    return entry, x, params, dy, entry.backward(dy, cache)


@pytest.mark.parametrize("name, n, shape, hyper", CONV, ids=CONV_IDS)
def test_conv_index_form_equals_the_kernels(name: str, n: int, shape: tuple[int, ...],
                                            hyper: dict[str, Any]) -> None:
    """dW (the input correlated with delta), db and dxt in both forms (full convolution
    with W, correlation with the flipped kernel) at every index, against the kernels."""
    entry, x, params, dy, grads = _conv_case(name, n, shape, hyper)
    d, k, s, p = len(shape) - 1, hyper["kernel"], hyper["stride"], hyper["padding"]
    xt = np.pad(x, [(0, 0), (0, 0)] + [(p, p)] * d)
    wflip = np.flip(params["W"], axis=tuple(range(2, 2 + d))).swapaxes(0, 1)
    names = {"N": n, "C": shape[0], "F": hyper["channels"], "k": k, "s": s,
             "L_out": dy.shape[2], "xt": Zeroed(xt), "delta": Zeroed(dy),
             "W": Zeroed(params["W"], samples=False), "b": params["b"],
             "Wflip": Zeroed(wflip, samples=False), "deltahat": Zeroed(dy, dilation=(s,) * d)}
    steps = {str(step.lhs.base.label): step.rhs for step in entry.derivation().backward[:4]}
    full, flipped = (step.rhs for step in entry.derivation().backward[2:4])
    for index in np.ndindex(*params["W"].shape):
        at = dict(zip(["f", "c"] + [f"u{j + 1}" if d > 1 else "u" for j in range(d)], index))
        assert _value(steps["dW"], {**names, **at}) == pytest.approx(grads["W"][index], 1e-12)
    for f in range(hyper["channels"]):
        assert _value(steps["db"], {**names, "f": f}) == pytest.approx(grads["b"][f], 1e-12)
    for index in np.ndindex(*x.shape):
        at = {"n": index[0] + 1, "c": index[1], **{
            f"t{j + 1}" if d > 1 else "t": i + p for j, i in enumerate(index[2:])}}
        want = grads["x"][index]
        assert _value(full, {**names, **at}) == pytest.approx(want, 1e-12, abs=1e-12)
        assert _value(flipped, {**names, **at}) == pytest.approx(want, 1e-12, abs=1e-12)


def _im2col(a: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Rows of windows of ``a`` (N, C, *spatial), channel first: written with loops here,
    independent of the kernels' strided views."""
    d = a.ndim - 2
    out = [(m - kernel) // stride + 1 for m in a.shape[2:]]
    rows = []
    for sample in range(a.shape[0]):
        for pos in np.ndindex(*out):
            window = a[(sample, slice(None)) + tuple(slice(q * stride, q * stride + kernel)
                                                     for q in pos)]
            rows.append(window.reshape(-1))
    return np.array(rows).reshape(a.shape[0] * int(np.prod(out)), a.shape[1] * kernel ** d)


@pytest.mark.parametrize("name, n, shape, hyper", CONV, ids=CONV_IDS)
def test_conv_batch_form_equals_the_kernels(name: str, n: int, shape: tuple[int, ...],
                                            hyper: dict[str, Any]) -> None:
    """SymPy evaluates dW = dY^T X_col, db = dY^T 1 and dX = dY_col W_flip^T."""
    entry, x, params, dy, grads = _conv_case(name, n, shape, hyper)
    d, k, s, p = len(shape) - 1, hyper["kernel"], hyper["stride"], hyper["padding"]
    steps = entry.derivation()
    dilated = np.zeros(dy.shape[:2] + tuple((m - 1) * s + 1 for m in dy.shape[2:]))
    dilated[(Ellipsis,) + (slice(None, None, s),) * d] = dy
    after = [k - 1 - p + (m + 2 * p - k) % s for m in shape[1:]]
    padded = np.pad(dilated, [(0, 0), (0, 0)] + [(k - 1 - p, a) for a in after])
    arrays = {"columns": _im2col(np.pad(x, [(0, 0), (0, 0)] + [(p, p)] * d), k, s),
              "dy": np.moveaxis(dy, 1, -1).reshape(-1, dy.shape[1]),
              "delta_columns": _im2col(padded, k, 1),
              "flipped": np.flip(params["W"], axis=tuple(range(2, 2 + d))).swapaxes(0, 1)}
    scalars = {"N": n, "C": shape[0], "F": hyper["channels"], "k": k,
               "P": int(np.prod(dy.shape[2:])), "Q": int(np.prod(shape[1:]))}
    dx = evaluate(steps, "x", arrays, scalars).reshape((n,) + shape[1:] + shape[:1])
    np.testing.assert_allclose(np.moveaxis(dx, -1, 1), grads["x"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(evaluate(steps, "W", arrays, scalars).reshape(
        params["W"].shape), grads["W"], rtol=1e-12)
    np.testing.assert_allclose(evaluate(steps, "b", arrays, scalars)[:, 0], grads["b"],
                               rtol=1e-12)


POOL = [("maxpool1d", 2, (2, 7), {"kernel": 3, "stride": 2, "padding": 1}),
        ("maxpool2d", 2, (2, 4, 4), {"kernel": 2, "stride": 1, "padding": 0}),
        ("avgpool1d", 2, (2, 6), {"kernel": 2, "stride": None, "padding": 1}),
        ("avgpool2d", 1, (2, 5, 5), {"kernel": 3, "stride": 2, "padding": 1})]


@pytest.mark.parametrize("name, n, shape, hyper", POOL, ids=[c[0] for c in POOL])
def test_pool_index_and_batch_forms_equal_the_kernels(name: str, n: int,
                                                      shape: tuple[int, ...],
                                                      hyper: dict[str, Any]) -> None:
    entry = get_layer_type(name)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n,) + shape)
    y, cache = entry.forward(x, {}, **hyper)
    dy = rng.standard_normal(y.shape)
    dx = entry.backward(dy, cache)["x"]
    d, k, p = len(shape) - 1, hyper["kernel"], hyper["padding"]
    steps = entry.derivation()
    names = {"N": n, "C": shape[0], "k": k, "s": cache.stride[0], "L_out": y.shape[2],
             "delta": Zeroed(dy)}
    if name.startswith("max"):  # the window offsets of the maxima, per axis
        offsets = np.unravel_index(cache.best, cache.kernel)
        names.update({"m" if d == 1 else f"m{j + 1}": Zeroed(o) for j, o in enumerate(offsets)})
    select = np.zeros((y.size, x.size))
    for index in np.ndindex(*x.shape):
        at = {"n": index[0] + 1, "c": index[1], **{
            f"t{j + 1}" if d > 1 else "t": i + p for j, i in enumerate(index[2:])}}
        column = np.ravel_multi_index(index, x.shape)
        # the selection matrix, column by column: how each output moves with this entry
        select[:, column] = [_value(steps.backward[0].rhs, {**names, **at, "delta": Zeroed(
            np.eye(y.size)[row].reshape(y.shape))}) for row in range(y.size)]
        assert _value(steps.backward[0].rhs, {**names, **at}) == pytest.approx(
            dx[index], 1e-12, abs=1e-12)
    np.testing.assert_allclose(select @ x.ravel(), y.ravel(), rtol=1e-12, atol=1e-12)
    scalars = {"N": n, "C": shape[0], "k": k, "P": int(np.prod(y.shape[2:])),
               "Q": int(np.prod(shape[1:]))}
    batch = evaluate(steps, "x", {"select": select, "dy": dy.ravel()}, scalars)
    np.testing.assert_allclose(batch.reshape(x.shape), dx, rtol=1e-12, atol=1e-12)


def test_the_derivations_read_as_the_textbook_forms() -> None:
    conv = get_layer_type("conv1d").derivation()
    assert [step.text() for step in conv.backward[:4]] == [
        "dW[f, c, u] = Sum(delta[n, f, i]*xt[n, c, i*s + u], (n, 1, N), (i, 0, L_out - 1))"
        "   [F x C x k]",
        "db[f] = Sum(delta[n, f, i], (n, 1, N), (i, 0, L_out - 1))   [F]",
        "dxt[n, c, t] = Sum(W[f, c, -i*s + t]*delta[n, f, i], (f, 0, F - 1), "
        "(i, 0, L_out - 1))   [scalar]",
        "dxt[n, c, t] = Sum(Wflip[c, f, v]*deltahat[n, f, -k + t + v + 1], (f, 0, F - 1), "
        "(v, 0, k - 1))   [scalar]"]
    assert [step.text() for step in conv.backward[4:]] == [
        "dW = dY.T*X_col   [F x C*k]", "db = dY.T*1   [F x 1]", "dX = dY_col*W_flip.T   [N*Q x C]"]
    pool = get_layer_type("maxpool1d").derivation()
    assert pool.backward[0].text() == ("dxt[n, c, t] = Sum(KroneckerDelta(t, i*s + m[n, c, i])"
                                       "*delta[n, c, i], (i, 0, L_out - 1))   [scalar]")
    assert "ties: the whole gradient to the first" in pool.forward[0].note


def test_collapse_keeps_the_window_range_as_an_indicator() -> None:
    i, u, t = sp.symbols("i u t", integer=True)
    k, n = sp.symbols("k n", integer=True, positive=True)
    a = sp.IndexedBase("a")
    summed = sp.Sum(a[i] * sp.KroneckerDelta(2 * i + u, t), (i, 0, n - 1), (u, 0, k - 1))
    assert collapse(summed) == sp.Sum(a[i], (i, 0, n - 1))
    assert collapse(summed, frozenset({u})) == sp.Sum(a[i] * sp.Piecewise(
        (1, (t - 2 * i >= 0) & (t - 2 * i <= k - 1)), (0, True)), (i, 0, n - 1))


def test_a_convolution_reads_rows_of_features_as_images() -> None:
    """A network's input rows (the digits' 64 pixels) are in_channels square images: the
    same output as on the images, and dX comes back as rows."""
    conv = get_layer_type("conv2d")
    hyper = conv.with_defaults({"channels": 2, "in_channels": 4, "padding": 1})
    assert conv.output_shape((36,), hyper) == (2, 3, 3)
    params = conv.init((36,), hyper, np.random.default_rng(1))
    assert params["W"].shape == (2, 4, 3, 3)
    rows = np.random.default_rng(2).standard_normal((5, 36))
    y, cache = conv.forward(rows, params, **hyper)
    y_images, cache_images = conv.forward(rows.reshape(5, 4, 3, 3), params, **hyper)
    np.testing.assert_array_equal(y, y_images)
    dy = np.ones_like(y)
    grads, grads_images = conv.backward(dy, cache), conv.backward(dy, cache_images)
    np.testing.assert_array_equal(grads["x"], grads_images["x"].reshape(5, 36))
    np.testing.assert_array_equal(grads["W"], grads_images["W"])
    assert get_layer_type("conv1d").output_shape((12,), {"channels": 1, "kernel": 3,
                                                         "in_channels": 3}) == (1, 2)


def test_entries_forward_the_kernels_and_flatten_round_trips() -> None:
    x = np.arange(32.0).reshape(2, 1, 4, 4)
    conv = get_layer_type("conv2d")
    params = conv.init((1, 4, 4), {"channels": 3, "kernel": 3}, np.random.default_rng(0))
    y, _ = conv.forward(x, params, **conv.with_defaults({"channels": 3, "padding": 1}))
    assert y.shape == (2, 3, 4, 4) and conv.output_shape((1, 4, 4), conv.with_defaults(
        {"channels": 3, "padding": 1})) == (3, 4, 4)
    pooled, cache = get_layer_type("maxpool2d").forward(x, {}, kernel=2, stride=None, padding=0)
    np.testing.assert_array_equal(pooled[0, 0], [[5.0, 7.0], [13.0, 15.0]])
    flat, shape = get_layer_type("flatten").forward(pooled, {})
    assert flat.shape == (2, 4) and get_layer_type("flatten").backward(flat, shape)["x"].shape \
        == pooled.shape


@pytest.mark.parametrize("name, shape, hyper, error, message", [
    ("conv2d", (60,), {}, ShapeError,
     "layer 'conv2d': flat input of shape (60,) does not fit; it needs in_channels x side x "
     "side with in_channels = 1"),
    ("conv2d", (64,), {"in_channels": 0}, ArgumentError,
     "layer 'conv2d': in_channels must be an integer >= 1, got 0"),
    ("conv1d", (2, 3, 9), {}, ShapeError,
     "layer 'conv1d': per-sample input of shape (2, 3, 9) does not fit; it needs (C, L)"),
    ("conv1d", (2, 3), {"kernel": 5}, ArgumentError,
     "layer 'conv1d': input 3 with kernel 5, stride 1 and padding 0 leaves no output"),
    ("maxpool2d", (4, 8), {}, ShapeError,
     "layer 'maxpool2d': per-sample input of shape (4, 8) does not fit; it needs (C, H, W)"),
    ("avgpool1d", (4, 3), {"kernel": 4}, ArgumentError,
     "layer 'avgpool1d': input 3 with kernel 4, stride 4 and padding 0 leaves no output"),
])
def test_shapes_that_do_not_fit_name_the_layer(name: str, shape: tuple[int, ...],
                                               hyper: dict[str, Any], error: type,
                                               message: str) -> None:
    entry = get_layer_type(name)
    with pytest.raises(error) as raised:
        entry.output_shape(shape, entry.with_defaults(hyper))
    assert str(raised.value) == message


def test_relu_layer_on_feature_maps_with_its_kink_convention() -> None:
    """relu'(0) = 0, as the catalogue's relu says and torch does; the derivation's batch
    form dX = dY ⊙ H evaluated by SymPy equals the kernel, and so do central differences
    away from the kink."""
    entry = get_layer_type("relu")
    x = np.array([[[[1.5, 0.0], [-2.0, 0.25]]], [[[0.0, -0.5], [3.0, -1.0]]]])
    dy = np.arange(1.0, 9.0).reshape(x.shape)
    y, cache = entry.forward(x, {})
    dx = entry.backward(dy, cache)["x"]
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0], [0.0, 4.0]]], [[[0.0, 0.0], [7.0, 0.0]]]])
    assert entry.output_shape((1, 2, 2), {}) == (1, 2, 2)
    steps = entry.derivation()
    batch = evaluate(steps, "x", {"dy": dy.reshape(2, -1), "step": (x > 0).reshape(2, -1)},
                     {"N": 2, "Q": 4})
    np.testing.assert_array_equal(batch.reshape(x.shape), dx)
    moved = x + np.where(x == 0, 0.1, 0.0)  # off the kink
    h = 1e-6
    numeric = np.array([(np.sum(dy * entry.forward(moved + h * e, {})[0])
                         - np.sum(dy * entry.forward(moved - h * e, {})[0])) / (2 * h)
                        for e in np.eye(moved.size).reshape((-1,) + x.shape)])
    np.testing.assert_allclose(numeric.reshape(x.shape), entry.backward(
        dy, entry.forward(moved, {})[1])["x"], atol=1e-8)
