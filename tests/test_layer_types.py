"""The layer types of the catalogue (symgrad.catalogue.layer_types): every entry's
backward pass against torch.autograd (float64, 1e-12 relative), against central
differences (always run), and against its own symbolic derivation evaluated by SymPy;
the derivations' exact forms; shapes that do not fit."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pytest
import sympy as sp

from symgrad.catalogue import LAYER_TYPES, LayerType, get_layer_type
from symgrad.catalogue.layer_types import Bound, N, evaluate, register_layer_type
from symgrad.errors import ArgumentError, ShapeError, SymgradError, UnknownNameError
from symgrad.printing import matrix_text

try:
    import torch
except ImportError:  # pragma: no cover - the torch extra is not installed
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed "
                                 "(pip install symgrad[torch]); central differences still run")


@dataclass(frozen=True)
class Case:
    """One layer type's test data: per-sample shape, hyperparameters, torch's forward."""

    layer: str
    sample_shape: tuple[int, ...]
    batch: int
    hyper: dict[str, Any]
    torch_forward: Callable[..., Any]


def _torch_batchnorm(x: Any, p: dict[str, Any], eps: float) -> Any:
    return torch.nn.functional.batch_norm(x, None, None, p["gamma"], p["beta"], training=True,
                                          eps=eps)


def _torch_dropout(x: Any, p: dict[str, Any], rate: float, mask: Any) -> Any:
    return x * mask / (1.0 - rate)


def _torch_rnn(x: Any, p: dict[str, Any], units: int, steps: int, sequence: bool) -> Any:
    """torch.nn.RNN (tanh) with our parameters: its second bias is zero."""
    rnn = torch.nn.RNN(x.shape[2], units, batch_first=True, dtype=torch.float64)
    weights = {"weight_ih_l0": p["Wx"], "weight_hh_l0": p["Wh"], "bias_ih_l0": p["b"],
               "bias_hh_l0": torch.zeros(units, dtype=torch.float64)}
    out, last = torch.func.functional_call(rnn, weights, (x,))
    return out if sequence else last[0]


TORCH_FORWARD: dict[str, Callable[..., Any]] = {
    "rnn": _torch_rnn,
    "batchnorm": _torch_batchnorm,
    "dropout": _torch_dropout,
    "softmax": lambda x, p: torch.softmax(x, dim=1),
    "log_softmax": lambda x, p: torch.log_softmax(x, dim=1),
}

CASES = [Case(name, shape, n, hyper, TORCH_FORWARD[name])
         for name, hyper in (("batchnorm", {"eps": 1e-5}), ("dropout", {"rate": 0.3}),
                             ("softmax", {}), ("log_softmax", {}))
         for n, shape in ((1 if name != "batchnorm" else 2, (3,)), (5, (4,)), (16, (7,)))] + [
    Case("rnn", (T, 3), n, {"units": 4, "steps": T, "sequence": seq}, _torch_rnn)
    for n, T, seq in ((1, 1, False), (4, 5, False), (3, 6, True), (9, 3, True))]
IDS = [f"{c.layer}-N{c.batch}-{'x'.join(map(str, c.sample_shape))}"
       + ("-seq" if c.hyper.get("sequence") else "") for c in CASES]


def _data(case: Case, seed: int = 0) -> tuple[LayerType, np.ndarray, dict[str, np.ndarray],
                                              dict[str, Any], np.ndarray]:
    """Entry, input, parameters (drawn around their initial values), hyper with the extra
    inputs, and an upstream gradient."""
    entry = get_layer_type(case.layer)
    rng = np.random.default_rng(seed)
    shape = (case.batch,) + case.sample_shape
    x = rng.normal(size=shape) * 2.0
    params = {k: v + 0.5 * rng.normal(size=v.shape)
              for k, v in entry.init(case.sample_shape, case.hyper, rng).items()}
    hyper = dict(case.hyper)
    hyper.update({k: draw(shape, hyper, rng) for k, draw in entry.inputs.items()})
    out = entry.output_shape(case.sample_shape, entry.with_defaults(case.hyper))
    return entry, x, params, hyper, rng.normal(size=(case.batch,) + out)


def _close(got: np.ndarray, want: np.ndarray, rel: float, floor: float = 0.0) -> None:
    """Equal to ``rel`` of the largest entry of ``want``, or within ``floor``: the
    rounding of the summands where the result cancels."""
    assert got.shape == want.shape
    scale = max(float(np.max(np.abs(want))), np.finfo(float).tiny)
    assert float(np.max(np.abs(got - want))) <= max(rel * scale, floor), (got, want)


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_equal_torch_autograd(case: Case) -> None:
    entry, x, params, hyper, dy = _data(case)
    y, cache = entry.forward(x, params, **hyper)
    grads = entry.backward(dy, cache)
    tx = torch.tensor(x, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    extra = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in hyper.items()}
    ty = case.torch_forward(tx, tp, **extra)
    (ty * torch.tensor(dy)).sum().backward()
    _close(y, ty.detach().numpy(), 1e-12)
    assert sorted(grads) == sorted(["x", *entry.params])
    _close(grads["x"], tx.grad.numpy(), 1e-12)
    for k in entry.params:
        _close(grads[k], tp[k].grad.numpy(), 1e-12)


def _central(f: Callable[[], float], array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.empty_like(array)
    for idx in np.ndindex(array.shape):
        keep = array[idx]
        array[idx] = keep + h
        up = f()
        array[idx] = keep - h
        down = f()
        array[idx] = keep
        out[idx] = (up - down) / (2 * h)
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_equal_central_differences(case: Case) -> None:
    entry, x, params, hyper, dy = _data(case, seed=1)
    grads = entry.backward(dy, entry.forward(x, params, **hyper)[1])

    def adjoint() -> float:
        return float(np.sum(dy * entry.forward(x, params, **hyper)[0]))

    # a central difference of sum(dy * y) with h = 1e-6 rounds to ~1e-16 of its summands'
    # size over h: 1e-8 of it bounds that (and the h**2 truncation) where the gradient
    # itself cancels (batch norm's dx at N = 2 is ~1e-7)
    floor = 1e-8 * float(np.sum(np.abs(dy * entry.forward(x, params, **hyper)[0])))
    _close(grads["x"], _central(adjoint, x), 1e-7, floor)
    for k in entry.params:
        _close(grads[k], _central(adjoint, params[k]), 1e-7, floor)


def _symbolic_arrays(case: Case, x: np.ndarray, params: dict[str, np.ndarray],
                     hyper: dict[str, Any], y: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays a derivation's result is written in, computed here independently."""
    if case.layer == "batchnorm":
        sigma = np.sqrt(x.var(axis=0) + hyper["eps"])
        return {"xhat": (x - x.mean(axis=0)) / sigma, "sigma": sigma, "gamma": params["gamma"]}
    if case.layer == "dropout":
        return {"mask": hyper["mask"]}
    return {"s": y if case.layer == "softmax" else np.exp(y)}


@pytest.mark.parametrize("case", CASES[1:12:3], ids=IDS[1:12:3])
def test_symbolic_derivation_equals_the_kernels(case: Case) -> None:
    """SymPy evaluates each derivation's batch-form gradients for concrete arrays at
    N = 5, D = 4: equal to the NumPy kernels."""
    entry, x, params, hyper, dy = _data(case, seed=2)
    y, cache = entry.forward(x, params, **hyper)
    grads = entry.backward(dy, cache)
    steps = entry.derivation(**{k: v for k, v in hyper.items() if k in entry.hyper})
    arrays = {"dy": dy, **_symbolic_arrays(case, x, params, hyper, y)}
    scalars = {"N": case.batch, "D": case.sample_shape[0], **{
        k: v for k, v in hyper.items() if k in steps.scalars and k not in ("N", "D")}}
    assert sorted(steps.gradients) == sorted(["x", *entry.params])
    for name, value in grads.items():
        _close(evaluate(steps, name, arrays, scalars).reshape(value.shape), value, 1e-12)


def test_batchnorm_input_gradient_is_the_compact_form_with_its_mean_terms() -> None:
    steps = get_layer_type("batchnorm").derivation()
    i, j = sp.symbols("i j", integer=True)
    dy, xhat = sp.IndexedBase("dy"), sp.IndexedBase("xhat")
    gamma, sigma = sp.Symbol("gamma", real=True), sp.Symbol("sigma", positive=True)
    want = gamma * (N * dy[j] - sp.Sum(dy[i], (i, 1, N))
                    - xhat[j] * sp.Sum(dy[i] * xhat[i], (i, 1, N))) / (N * sigma)
    dx = next(s for s in steps.backward if s.lhs == sp.IndexedBase("dx")[j])
    assert sp.simplify(dx.rhs - want) == 0
    assert dx.rhs.has(sp.Sum(dy[i], (i, 1, N)))  # the mean terms are there
    text = steps.text()
    assert "dgamma = Sum(dy[i]*xhat[i], (i, 1, N))   [scalar]" in text
    assert "dbeta = Sum(dy[i], (i, 1, N))   [scalar]" in text
    assert "[N x D]" in text and "[1 x D]" in text


def test_softmax_layer_uses_the_full_jacobian() -> None:
    steps = get_layer_type("softmax").derivation()
    j, k = sp.symbols("j k", integer=True)
    dy, s = sp.IndexedBase("dy"), sp.IndexedBase("s")
    D = steps.scalars["D"]
    dz = next(st for st in steps.backward if st.lhs == sp.Indexed("dz", j))
    assert sp.expand(dz.rhs - s[j] * (dy[j] - sp.Sum(dy[k] * s[k], (k, 1, D)))) == 0
    jac = next(st for st in steps.backward if isinstance(st.lhs, sp.Derivative))
    assert sp.expand(jac.rhs - s[k] * (sp.KroneckerDelta(j, k) - s[j])) == 0
    assert steps.backward[1].shape == (D, D)


def test_log_softmax_and_dropout_forms() -> None:
    j, k = sp.symbols("j k", integer=True)
    dy, s, m = sp.IndexedBase("dy"), sp.IndexedBase("s"), sp.IndexedBase("m")
    log_sm = get_layer_type("log_softmax").derivation()
    D = log_sm.scalars["D"]
    assert sp.expand(log_sm.backward[0].rhs - (dy[j] - s[j] * sp.Sum(dy[k], (k, 1, D)))) == 0
    drop = get_layer_type("dropout").derivation()
    p = drop.scalars["rate"]
    assert sp.simplify(drop.backward[0].rhs - dy[j] * m[j] / (1 - p)) == 0


def test_dropout_predict_passes_through_and_mask_keeps_its_rate() -> None:
    entry = get_layer_type("dropout")
    x = np.arange(6.0).reshape(2, 3)
    assert entry.predict is not None and entry.predict(x, {}, rate=0.4) is x
    mask = entry.inputs["mask"]((200, 50), {"rate": 0.4}, np.random.default_rng(0))
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert abs(mask.mean() - 0.6) < 0.02  # 10,000 draws: sd 0.005


def test_shapes_that_do_not_fit_name_both_shapes_and_the_layer() -> None:
    bn = get_layer_type("batchnorm")
    with pytest.raises(ShapeError) as err:
        bn.forward(np.zeros((4, 5)), bn.init((3,), {}, np.random.default_rng(0)))
    assert str(err.value) == ("layer 'batchnorm': input of shape (4, 5) does not fit; it needs "
                              "(N, 3) to match gamma (3,)")
    with pytest.raises(ShapeError) as err:
        get_layer_type("softmax").output_shape((3, 4), {})
    assert str(err.value) == ("layer 'softmax': per-sample input of shape (3, 4) does not fit; "
                              "it needs (D,), one vector of scores per sample")
    with pytest.raises(ShapeError, match=r"layer 'dropout': mask of shape \(2, 2\) does not "
                       r"fit; it needs \(2, 3\), the input's shape"):
        get_layer_type("dropout").forward(np.zeros((2, 3)), {}, rate=0.5, mask=np.ones((2, 2)))
    with pytest.raises(ArgumentError, match=r"rate must be in \[0, 1\), got 1.0"):
        get_layer_type("dropout").with_defaults({"rate": 1.0})


def test_unknown_layer_type_and_setting_list_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as err:
        get_layer_type("batchnrom")
    assert str(err.value) == "unknown layer type 'batchnrom'; known: " + ", ".join(
        sorted(LAYER_TYPES))
    assert {"avgpool1d", "avgpool2d", "batchnorm", "conv1d", "conv2d", "dropout",
            "log_softmax", "rnn", "softmax"} <= set(LAYER_TYPES)
    with pytest.raises(UnknownNameError, match="unknown setting of layer type 'batchnorm' "
                       "'affine'; known: eps, momentum"):
        get_layer_type("batchnorm").with_defaults({"affine": False})


@pytest.mark.parametrize("name, setting, value, message", [
    ("dropout", "rate", 1.0, "rate must be in [0, 1), got 1.0"),
    ("dropout", "rate", -0.1, "rate must be in [0, 1), got -0.1"),
    ("dropout", "rate", float("nan"), "rate must be in [0, 1), got nan"),
    ("batchnorm", "momentum", 1.5, "momentum must be in [0, 1], got 1.5"),
    ("batchnorm", "eps", -1e-5, "eps must be a number >= 0, got -1e-05"),
    ("rnn", "units", 0, "units must be an integer >= 1, got 0"),
    ("rnn", "steps", -2, "steps must be an integer >= 0, got -2"),
    ("conv1d", "in_channels", 0, "in_channels must be an integer >= 1, got 0"),
])
def test_settings_outside_their_bounds_name_the_layer_the_setting_and_the_interval(
        name: str, setting: str, value: float, message: str) -> None:
    entry = get_layer_type(name)
    with pytest.raises(ArgumentError) as err:
        entry.with_defaults({setting: value})
    assert str(err.value) == f"layer '{name}': {message}"
    assert entry.with_defaults({setting: entry.hyper[setting]})[setting] == entry.hyper[setting]


def test_ends_of_the_bounds_are_in_or_out_as_written() -> None:
    assert get_layer_type("dropout").with_defaults({"rate": 0.0})["rate"] == 0.0
    assert get_layer_type("batchnorm").with_defaults({"momentum": 1, "eps": 0}) == {
        "momentum": 1, "eps": 0}  # eps = 0 as torch allows: exact numbers for hand examples
    assert get_layer_type("rnn").with_defaults({"units": 1, "steps": 0})["units"] == 1
    assert Bound(0, 1, low_open=True).text(whole=False) == "in (0, 1]"
    assert 0 not in Bound(0, 1, low_open=True) and 1 in Bound(0, 1, low_open=True)


def test_a_bound_needs_a_setting_whose_default_lies_in_it() -> None:
    base = get_layer_type("dropout")
    for bounds in ({"rate": Bound(0.6, 1)}, {"p": Bound(0, 1)}):
        with pytest.raises(SymgradError) as err:
            register_layer_type(replace(base, name="dropout_bounded", bounds=bounds))
        key = next(iter(bounds))
        assert str(err.value) == (f"layer type 'dropout_bounded': bound of '{key}' needs a "
                                  "setting of that name whose default lies in it")
    assert "dropout_bounded" not in LAYER_TYPES


def test_every_entry_has_every_facet() -> None:
    for name, entry in LAYER_TYPES.items():
        assert entry.name == name and entry.title
        steps = entry.derivation()
        assert steps.layer == name and steps.backward and set(steps.gradients) == {
            "x", *entry.params}
        assert all(st.text() and st.latex() for st in steps.forward + steps.backward)
        if entry.compiled is not None:  # names a module that builds its C loops
            module = importlib.import_module(f"symgrad.{entry.compiled}")
            assert callable(module.forward_arguments), name
        if entry.state:  # its initial values, their update, an evaluation that reads them
            assert entry.update_state is not None and entry.predict is not None
            assert tuple(entry.init_state((3,), entry.hyper)) == entry.state


def _indexed_value(expr: sp.Expr, arrays: dict[str, np.ndarray], free: tuple[sp.Symbol, ...],
                   shape: tuple[int, ...], sizes: dict[sp.Symbol, int]) -> np.ndarray:
    """An index-form result evaluated entry by entry: SymPy sums out the (1-based) indices
    over the given arrays (padded by one in front, so index k reads entry k - 1)."""
    table = {sp.IndexedBase(k): sp.ImmutableDenseNDimArray(v) for k, v in arrays.items()}
    out = np.empty(shape)
    body = expr.subs(sizes)
    for idx in np.ndindex(shape):
        value = body.subs(dict(zip(free, (k + 1 for k in idx)))).doit()
        value = value.replace(lambda e: isinstance(e, sp.Indexed),
                              lambda e: table[e.base][tuple(e.indices)])
        out[idx] = float(value)
    return out


@needs_torch
def test_rnn_bptt_sums_equal_the_kernels_with_torchs_deltas() -> None:
    """The derivation's sums over steps and samples, evaluated with delta_t = dE/dz_t that
    torch.autograd computes, equal the BPTT kernels' gradients."""
    entry = get_layer_type("rnn")
    rng = np.random.default_rng(5)
    n, T, D, H = 2, 3, 2, 3
    x = rng.normal(size=(n, T, D))
    p = {k: v + 0.5 * rng.normal(size=v.shape)
         for k, v in entry.init((T, D), {"units": H}, rng).items()}
    dy = rng.normal(size=(n, T, H))
    grads = entry.backward(dy, entry.forward(x, p, units=H, steps=T, sequence=True)[1])
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    h, zs, hs = torch.zeros(n, H, dtype=torch.float64), [], [np.zeros((n, H))]
    for t in range(T):
        z = torch.tensor(x[:, t]) @ tp["Wx"].T + h @ tp["Wh"].T + tp["b"]
        z.retain_grad()
        h = torch.tanh(z)
        zs.append(z)
        hs.append(h.detach().numpy())
    (torch.stack([torch.tanh(z) for z in zs], 1) * torch.tensor(dy)).sum().backward()
    delta = np.stack([z.grad.numpy() for z in zs], 1)
    pad = np.pad  # 1-based indices: one entry in front (h's step axis starts at h_0)
    arrays = {"delta": pad(delta, ((1, 0), (1, 0), (1, 0))), "x": pad(x, ((1, 0),) * 3),
              "h": pad(np.stack(hs, 1), ((1, 0), (0, 0), (1, 0))),
              "W_x": pad(p["Wx"], ((1, 0), (1, 0)))}
    steps = entry.derivation(units=H, steps=T, sequence=True)
    sizes = {steps.scalars[k]: v for k, v in {"N": n, "T": T, "H": H, "D": D}.items()}
    a, c, pp, q = sp.symbols("a c p q", integer=True)
    free = {"x": (pp, q, c), "Wh": (a, c), "Wx": (a, c), "b": (a,)}
    for name, value in grads.items():
        got = _indexed_value(steps.gradients[name], arrays, free[name], value.shape, sizes)
        _close(got, value, 1e-12)
    dwh = next(s for s in steps.backward if s.lhs == sp.Indexed("dW_h", a, c))
    assert sp.sstr(dwh.rhs) == "Sum(delta[n, t, a]*h[n, t - 1, c], (t, 1, T), (n, 1, N))"


def test_rnn_delta_recursion_is_shown_with_the_recurrent_term() -> None:
    text = get_layer_type("rnn").derivation().text(matrix_text)
    assert ("    delta_t = (W_h^T · delta_{t+1} + g_t) ⊙ (1_H - (h_t ⊙ h_t))   [H x 1]"
            in text.splitlines())
    assert "    dWh_t = delta_t · h_{t-1}^T   [H x H]" in text.splitlines()
    # the forward notes, as the report lists them: tanh's slope from the catalogue, in a
    notes = [step.note for step in get_layer_type("rnn").derivation().forward]
    assert notes == ["h_0 = 0, or given (its gradient W_h^T delta_1)",
                     "tanh' = 1 - a**2 in its own output a"]


def test_rnn_shapes_that_do_not_fit() -> None:
    rnn = get_layer_type("rnn")
    hyper = rnn.with_defaults({"units": 4, "steps": 5})
    assert rnn.output_shape((5, 3), hyper) == (4,)
    assert rnn.output_shape((5, 3), {**hyper, "sequence": True}) == (5, 4)
    with pytest.raises(ShapeError) as err:
        rnn.output_shape((6, 3), hyper)
    assert str(err.value) == ("layer 'rnn': per-sample input of shape (6, 3) does not fit; it "
                              "needs (T, D), a sequence of 5 steps per sample")
    with pytest.raises(ShapeError, match=r"layer 'rnn': input of shape \(2, 5, 2\) does not "
                       r"fit; it needs \(N, T, 3\) to match Wx \(4, 3\)"):
        rnn.forward(np.zeros((2, 5, 2)), rnn.init((5, 3), hyper, np.random.default_rng(0)),
                    **hyper)


def test_rnn_sequence_output_is_the_read_only_states() -> None:
    """The output of every step is the cache's array of states (no copy), read-only: a
    change to it would spoil the backward pass."""
    rnn = get_layer_type("rnn")
    hyper = rnn.with_defaults({"units": 4, "steps": 5, "sequence": True})
    params = rnn.init((5, 3), hyper, np.random.default_rng(0))
    y, cache = rnn.forward(np.ones((2, 5, 3)), params, **hyper)
    assert y.shape == (2, 5, 4) and np.shares_memory(y, cache.hs)
    with pytest.raises(ValueError, match="read-only"):
        y[0, 0, 0] = 1.0
    last, _ = rnn.forward(np.ones((2, 5, 3)), params, **{**hyper, "sequence": False})
    np.testing.assert_array_equal(last, y[:, -1])


def test_rnn_h0_of_another_shape_is_named() -> None:
    rnn = get_layer_type("rnn")
    hyper = rnn.with_defaults({"units": 4, "steps": 5})
    params = rnn.init((5, 3), hyper, np.random.default_rng(0))
    with pytest.raises(ShapeError) as err:
        rnn.forward(np.ones((2, 5, 3)), params, **hyper, h0=np.zeros((2, 3)))
    assert str(err.value) == ("layer 'rnn': initial state h0 of shape (2, 3) does not fit; "
                              "it needs (2, 4), one state per sample")
