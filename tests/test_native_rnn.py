"""The recurrent layer's C loops: NumPy's values to rounding (bounded by T H units in the
last place of the largest value), what the stack backend runs for an rnn layer when a C
compiler is found, and NumPy's loops without one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from symgrad.backends.stack import CompiledStack
from symgrad.catalogue.layers_rnn import NUMPY_LOOPS, RNNLoops, rnn_backward, rnn_forward
from symgrad.derive.stack import derive_stack
from symgrad.native_rnn import MAX_UNITS, forward_arguments, rnn_loops

from .conftest import DERIVATIONS

EPS = np.finfo(np.float64).eps
#: |C - NumPy| <= BOUND * T * H * eps * scale per array, where the scale is the size of
#: what is summed (from NumPy's deltas: sum |delta| for db, |delta|^T |x| for dW_x, ...):
#: each state and delta is a chain of T steps of H-term sums in another order (and
#: libmvec's tanh). 300 random layers (N <= 11, T <= 19, H <= 39, half from h0) measured
#: at most 2.1 (the deltas).
BOUND = 16


pytestmark = pytest.mark.usefixtures("private_cache")  # its C builds in a fresh folder


def _layer(n: int, T: int, D: int, H: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return 2 * rng.normal(size=(n, T, D)), {
        "Wx": rng.normal(size=(H, D)), "Wh": 1.5 / np.sqrt(H) * rng.normal(size=(H, H)),
        "b": rng.normal(size=H)}


def _pass(loops: RNNLoops, x: np.ndarray, params: dict[str, np.ndarray], sequence: bool,
          input_grad: bool = True, h0: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The output, every gradient, and the deltas."""
    T, H = x.shape[1], params["Wh"].shape[0]
    y, cache = rnn_forward(x, params, units=H, steps=T, sequence=sequence,
                           input_grad=input_grad, h0=h0, loops=loops)
    assert cache.loops is loops
    dy = np.random.default_rng(99).normal(size=y.shape)
    deltas = loops.backward(dy, cache.hs, params["Wh"], sequence)[0]
    return {"y": y, "deltas": deltas, **rnn_backward(dy, cache)}


def _agree(ours: dict[str, np.ndarray], numpy: dict[str, np.ndarray], x: np.ndarray,
           params: dict[str, np.ndarray]) -> None:
    """Within the bound, each array by the size of what it sums (``|h| <= 1``); ``dh0``
    by the largest delta (its error comes from the later steps' deltas, which can be far
    larger than delta_1 when the gradient vanishes)."""
    assert sorted(ours) == sorted(numpy)
    n, T, H = numpy["deltas"].shape
    flat = np.abs(numpy["deltas"]).reshape(n * T, H)
    scales = {"y": 1.0, "deltas": flat.max(), "b": flat.sum(axis=0).max(),
              "Wh": flat.sum(axis=0).max(),
              "Wx": (flat.T @ np.abs(x.reshape(n * T, -1))).max(),
              "x": (flat @ np.abs(params["Wx"])).max(),
              "h0": flat.max() * np.abs(params["Wh"]).sum(axis=0).max()}
    for name, want in numpy.items():
        assert np.abs(ours[name] - want).max() <= BOUND * T * H * EPS * scales[name], name


@pytest.mark.parametrize("n, T, D, H, sequence, start", [
    (1, 1, 1, 1, False, False), (3, 1, 2, 5, True, True), (5, 7, 3, 4, True, False),
    (9, 8, 1, 16, False, True), (13, 16, 6, 32, True, True), (6, 3, 2, 33, False, False)])
def test_c_loops_give_numpys_values(n: int, T: int, D: int, H: int, sequence: bool,
                                    start: bool) -> None:
    """Whole blocks of 4 samples and the rest; from h0 (``start``: and its gradient)."""
    x, params = _layer(n, T, D, H, seed=n * T + H)
    h0 = np.random.default_rng(n).uniform(-1, 1, (n, H)) if start else None
    ours = _pass(rnn_loops(H), x, params, sequence, h0=h0)
    assert ("h0" in ours) == start
    _agree(ours, _pass(NUMPY_LOOPS, x, params, sequence, h0=h0), x, params)


def test_c_loops_leave_out_dx_when_told() -> None:
    x, params = _layer(4, 5, 3, 6, seed=1)
    grads = _pass(rnn_loops(6), x, params, sequence=False, input_grad=False)
    assert sorted(grads) == ["Wh", "Wx", "b", "deltas", "y"]


def test_float32_arrays_go_to_numpys_loops() -> None:
    """The C loops are float64: float32 states take NumPy's steps, and NumPy's values."""
    x, params = _layer(5, 4, 2, 3, seed=2)
    x32, p32 = x.astype(np.float32), {k: v.astype(np.float32) for k, v in params.items()}
    ours, numpy = _pass(rnn_loops(3), x32, p32, True), _pass(NUMPY_LOOPS, x32, p32, True)
    for name, want in numpy.items():
        assert ours[name].dtype == np.float32
        np.testing.assert_array_equal(ours[name], want)


def test_above_max_units_the_stack_keeps_numpys_loops() -> None:
    assert forward_arguments({"units": MAX_UNITS + 1}) == {}
    assert forward_arguments({"units": 2})["loops"] is rnn_loops(2)


def _stack_pass(native: bool) -> tuple[str, float, dict[str, np.ndarray]]:
    """The loops the rnn of rnn_bit_count.toml ran on, and the loss and gradients of a
    batch of 9 sequences."""
    c = CompiledStack(derive_stack(DERIVATIONS / "rnn_bit_count.toml"), native=native)
    params = c.derivation.initial_parameters(0)
    x = np.random.default_rng(3).integers(0, 2, (9, 8, 1)).astype(float)
    y = np.eye(9)[x.sum(axis=(1, 2)).astype(int)]
    (_, cache), _ = c._forward(params, x, "train")[1]
    loss, grads = c.value_and_grad(**params, x=x, y=y)
    return cache.loops.name, loss, grads


def test_the_stack_runs_an_rnn_on_c_loops_and_numpys_values() -> None:
    name, loss, grads = _stack_pass(native=True)
    assert name == "c"
    numpy_name, numpy_loss, numpy_grads = _stack_pass(native=False)
    assert numpy_name == "numpy"
    assert abs(loss - numpy_loss) <= BOUND * 8 * 16 * EPS * abs(numpy_loss)
    for name, want in numpy_grads.items():  # 9 samples' rows summed: a sum of 9 |rows|
        assert np.abs(grads[name] - want).max() <= BOUND * 8 * 16 * EPS * 9 * np.abs(want).max(), name


def test_without_a_c_compiler_the_stack_runs_numpys_loops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc")
    rnn_loops.cache_clear()  # built ones would be used without asking for the compiler
    try:
        assert _stack_pass(native=True)[0] == "numpy"
    finally:
        rnn_loops.cache_clear()


def test_a_failing_compiler_is_a_warning_and_numpys_loops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # exits 1 without a word
    rnn_loops.cache_clear()
    try:
        with pytest.warns(UserWarning, match=r"^layer 1 \(rnn\) runs on NumPy: the C "
                                             r"compiler failed on rnn16: no output$"):
            assert _stack_pass(native=True)[0] == "numpy"
    finally:
        rnn_loops.cache_clear()
