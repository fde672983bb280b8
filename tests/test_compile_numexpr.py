"""The opt-in numexpr backend: the same numbers as the NumPy backend (to rel 1e-13), the
same stability at extreme inputs, float32 kept, the NumPy fallback for GELU, and its errors."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from symgrad.compile import FUSED_BLOCK, CompiledNetwork, compile
from symgrad.derive import derive
from symgrad.errors import ArgumentError, MissingDependencyError
from symgrad.network import Dense, Network, load

from .conftest import SPECS

pytest.importorskip("numexpr")

REL = 1e-13
#: Activations whose stable forms numexpr can evaluate (GELU needs erfc: NumPy fallback).
FUSED = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "silu", "binary_step",
         "linear")
EXTREMES = np.array([0.0, 1.0, -1.0, 30.0, -30.0, 1e3, -1e3, 1e4, -1e4])


def _pair(net: Network) -> tuple[CompiledNetwork, CompiledNetwork]:
    d = derive(net)
    return compile(d), compile(d, backend="numexpr")


def _assert_close(got: Any, want: Any, what: str) -> None:
    got, want = float(got), float(want)
    assert abs(got - want) <= REL * max(abs(want), 1e-300), (what, got, want)


def _assert_same(fused: CompiledNetwork, plain: CompiledNetwork,
                 values: dict[str, Any]) -> None:
    loss, grads = fused.value_and_grad(**values)
    want_loss, want_grads = plain.value_and_grad(**values)
    _assert_close(loss, want_loss, "loss")
    _assert_close(fused.loss(**values), want_loss, "loss()")
    for name in plain.parameters:
        _assert_close(grads[name], want_grads[name], name)
    only_grads = fused.grad(**values)
    for name in plain.parameters:
        _assert_close(only_grads[name], want_grads[name], name)
    got_forward, want_forward = fused.forward(**values), plain.forward(**values)
    assert got_forward.keys() == want_forward.keys()
    for name, want in want_forward.items():
        # numexpr's exp/tanh (the C library's) and NumPy's (SIMD) can differ in the last bit;
        # where z = b + sum w a cancels to near 0 that bit is large relative to z itself, so
        # the bound is relative to the array's largest value
        np.testing.assert_allclose(got_forward[name], want, rtol=REL,
                                   atol=REL * float(np.max(np.abs(want))), err_msg=name)


def _random_values(net: Network, f: CompiledNetwork, n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    values: dict[str, Any] = {str(s): rng.normal(size=n) for s in net.inputs}
    if net.loss.needs_probabilities and len(net.targets) > 1:
        labels = rng.integers(0, len(net.targets), size=n)
        values.update({str(s): (labels == k).astype(float) for k, s in enumerate(net.targets)})
    elif net.loss.needs_probabilities:
        values.update({str(s): rng.uniform(size=n) for s in net.targets})
    else:
        values.update({str(s): rng.normal(size=n) for s in net.targets})
    values.update({p: float(rng.normal()) for p in f.parameters})
    return values


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_agrees_with_numpy_backend_on_the_spec_values(path: Any) -> None:
    net = load(path)
    plain, fused = _pair(net)
    assert fused.kernel_backend("grad_sums") == "numexpr"
    _assert_same(fused, plain, dict(net.values))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_agrees_with_numpy_backend_on_random_batches(path: Any) -> None:
    net = load(path)
    plain, fused = _pair(net)
    n = 2 * FUSED_BLOCK + 123  # three blocks, the last one short
    _assert_same(fused, plain, _random_values(net, plain, n, seed=len(path.stem)))


@pytest.mark.parametrize("layers, loss", [
    ([Dense(3, "relu"), Dense(2, "leaky_relu", params={"alpha": 0.05}), Dense(1, "sigmoid")], "bce"),
    ([Dense(2, "elu"), Dense(2, "softplus"), Dense(3, "softmax")], "cce"),
    ([Dense(2, "silu"), Dense(2, "tanh"), Dense(1, "linear")], "mse"),
], ids=["relu-leaky-sigmoid-bce", "elu-softplus-softmax-cce", "silu-tanh-linear-mse"])
def test_agrees_on_random_networks(layers: list[Dense], loss: str) -> None:
    net = Network(2, layers, loss)
    plain, fused = _pair(net)
    assert fused.kernel_backend("value_and_grad_sums") == "numexpr"
    _assert_same(fused, plain, _random_values(net, plain, 5000, seed=7))


@pytest.mark.parametrize("activation", FUSED)
def test_finite_without_warnings_at_extremes(activation: str) -> None:
    # pytest turns RuntimeWarnings into errors; numexpr is also checked against NumPy's values
    plain, fused = _pair(Network(1, [Dense(1, activation)], "half_sse"))
    assert fused.kernel_backend("forward_arrays") == "numexpr"
    values = {"x": EXTREMES, "T": 0.5, "w": 1.0, "b": 0.0}
    forward = fused.forward(**values)
    assert all(np.all(np.isfinite(v)) for v in forward.values())
    np.testing.assert_array_equal(forward["a"], plain.forward(**values)["a"])
    for x in EXTREMES:  # one sample at a time: each gradient on its own
        loss, grads = fused.value_and_grad(x=np.array([x]), T=0.5, w=1.0, b=0.0)
        want_loss, want = plain.value_and_grad(x=np.array([x]), T=0.5, w=1.0, b=0.0)
        assert np.isfinite(loss) and all(np.isfinite(g) for g in grads.values())
        _assert_close(loss, want_loss, f"loss at {x}")
        for name in ("w", "b"):
            assert abs(grads[name] - want[name]) <= REL * abs(want[name]), (x, name)


@pytest.mark.parametrize("loss", ["bce", "cce"])
def test_cross_entropy_from_z_at_extremes(loss: str) -> None:
    units = 1 if loss == "bce" else 3
    activation = "sigmoid" if loss == "bce" else "softmax"
    plain, fused = _pair(Network(1, [Dense(units, activation)], loss))
    values: dict[str, Any] = {a: 1.0 for a in plain.arguments}
    values.update({p: 0.0 for p in plain.parameters if p.startswith("b")})
    for name in plain.data_names:
        values[name] = EXTREMES if name == plain.data_names[0] else \
            np.where(EXTREMES > 0, 0.0, 1.0)
    got_loss, got = fused.value_and_grad(**values)
    want_loss, want = plain.value_and_grad(**values)
    assert np.isfinite(got_loss)
    _assert_close(got_loss, want_loss, "loss")
    for name in plain.parameters:
        assert np.isfinite(got[name])
        _assert_close(got[name], want[name], name)


def test_float32_is_kept() -> None:
    net = load("derivations/two_neuron.toml")
    plain, fused = _pair(net)
    rng = np.random.default_rng(1)
    x = rng.normal(size=10_000).astype(np.float32)
    t = rng.uniform(size=10_000).astype(np.float32)
    params = {p: net.values[p] for p in plain.parameters}
    loss, grads = fused.value_and_grad(x1=x, T=t, **params)
    assert loss.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(v.dtype == np.float32 for v in fused.forward(x1=x, T=t, **params).values())
    want_loss, want = plain.value_and_grad(x1=x.astype(np.float64), T=t.astype(np.float64),
                                           **params)
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-5)
    for name in plain.parameters:
        assert float(grads[name]) == pytest.approx(float(want[name]), rel=1e-4)


def test_gelu_falls_back_to_the_numpy_kernel() -> None:
    plain, fused = _pair(Network(1, [Dense(1, "gelu"), Dense(1, "sigmoid")], "half_sse"))
    assert fused.kernel_backend("grad_sums") == "numpy"
    assert fused.kernel_backend("forward_arrays") == "numpy"
    assert fused.source("grad_sums") == plain.source("grad_sums")
    values = {"x1": EXTREMES, "T": 0.5, "w1": 1.0, "b1": 0.0, "w2": 2.0, "b2": 0.1}
    assert fused.grad(**values) == plain.grad(**values)  # the very same code: bit-identical


def test_fused_source_names_its_temporaries() -> None:
    fused = compile(derive(load("derivations/two_neuron.toml")), backend="numexpr")
    lines = fused.source("grad_sums").splitlines()
    assert lines[0] == "def grad_sums(x1, T, w1, b1, w2, b2, n_block):"
    assert "    a1_e = _ne('exp(-abs(z1))', {'z1': z1})" in lines
    assert lines[-1] == ("    return (_bdot(delta1, x1, n_block), _bsum(delta1, n_block), "
                         "_bdot(delta2, a1, n_block), _bsum(delta2, n_block),)")


def test_default_backend_is_numpy() -> None:
    f = compile(derive(load("derivations/two_neuron.toml")))
    assert f.backend == "numpy"
    assert f.kernel_backend("grad_sums") == "numpy"


def test_unknown_backend_is_named() -> None:
    d = derive(load("derivations/two_neuron.toml"))
    with pytest.raises(ArgumentError) as info:
        compile(d, backend="jax")
    assert str(info.value) == "unknown backend 'jax'; the backends are: numpy, numexpr"


def test_missing_numexpr_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    d = derive(load("derivations/two_neuron.toml"))
    monkeypatch.setitem(sys.modules, "numexpr", None)  # makes `import numexpr` fail
    with pytest.raises(MissingDependencyError) as info:
        compile(d, backend="numexpr")
    assert str(info.value) == ("backend 'numexpr' needs the numexpr package: "
                               "pip install 'symgrad[fast]'")


def test_argument_errors_are_the_same() -> None:
    net = load("derivations/two_neuron.toml")
    fused = compile(derive(net), backend="numexpr")
    values = dict(net.values)
    del values["T"]
    with pytest.raises(ArgumentError, match=r"^missing value for 'T'$"):
        fused.grad(**values)
    with pytest.raises(ArgumentError, match="'T' has 3 samples but 'x1' has 2"):
        fused.forward(**{**net.values, "x1": np.ones(2), "T": np.ones(3)})
