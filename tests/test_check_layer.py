"""Checking a student's layer code: the catalogue of right and wrong backward passes,
symgrad's reference values against PyTorch, the messages and the bad input."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad.check.layer_calls import CONVENTIONS, get_convention
from symgrad.check.layer_check import check_layer
from symgrad.errors import ArgumentError, LayerCodeError
from symgrad.testing import LayerMismatch, assert_layer_backward_matches

from .layer_code import CORRECT, WRONG, Code, batchnorm_forward, batchnorm_no_mean_terms


def _run(code: Code, seed: int = 0):
    return check_layer(code.backward, code.layer, forward=code.forward, dims=code.shape,
                       hyper=code.hyper, layout=code.layout, seed=seed)


def test_the_catalogue_is_large_enough() -> None:
    assert len(WRONG) >= 24 and len(CORRECT) >= 24
    assert len({c.id for c in WRONG + CORRECT}) == len(WRONG) + len(CORRECT)


@pytest.mark.parametrize("code", CORRECT, ids=[c.id for c in CORRECT])
def test_a_right_backward_pass_passes(code: Code) -> None:
    report = assert_layer_backward_matches(code.backward, code.layer, forward=code.forward,
                                           shape=code.shape, hyper=code.hyper,
                                           layout=code.layout)
    names = set(get_convention(code.layer, code.layout).outputs)
    assert names <= {c.name for c in report.checks}


@pytest.mark.parametrize("code", WRONG, ids=[c.id for c in WRONG])
def test_a_wrong_backward_pass_is_rejected_with_its_diagnosis(code: Code) -> None:
    with pytest.raises(LayerMismatch) as info:
        assert_layer_backward_matches(code.backward, code.layer, forward=code.forward,
                                      shape=code.shape, hyper=code.hyper, layout=code.layout)
    kinds = info.value.report.kinds
    assert {k: kinds.get(k, "(passed)") for k in code.expect} == code.expect


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_diagnosis_rates(seed: int) -> None:
    """>= 90 % of the wrong ones get the expected diagnosis; none of the right ones fails
    (at seeds 0 to 19 all 45 were diagnosed as expected and none of the 41 rejected)."""
    diagnosed = sum(all(_run(c, seed).kinds.get(k, "(passed)") == v
                        for k, v in c.expect.items()) for c in WRONG)
    rejected = [c.id for c in CORRECT if _run(c, seed).failed]
    assert diagnosed / len(WRONG) >= 0.9, f"{diagnosed} of {len(WRONG)} diagnosed"
    assert rejected == []


def test_the_message_names_the_output_the_mistake_and_the_expected_form() -> None:
    with pytest.raises(LayerMismatch) as info:
        assert_layer_backward_matches(batchnorm_no_mean_terms, "batchnorm",
                                      forward=batchnorm_forward, shape={"N": 8, "D": 5})
    lines = str(info.value).splitlines()
    assert lines[0] == ("dx of batchnorm_no_mean_terms differs from symgrad's (batchnorm, N=8, "
                        "D=5, seed 0):")
    assert lines[1] == ("  dx: batch norm without the mean terms: yours is γ ⊙ dout / σ, as "
                        "if μ and σ² did not depend on X (both −mean(dout) and −x̂ ⊙ "
                        "mean(dout ⊙ x̂) are missing)")
    assert lines[2] == ("    expected: dX = (γ/σ) ⊙ (dout − 1 mean(dout) − X̂ ⊙ 1 mean(dout "
                        "⊙ X̂))  (N×D)")
    assert lines[3].startswith("    largest difference ") and lines[3].endswith(
        "; 40 of 40 entries differ")
    assert lines[4] == "  (out, dgamma, dbeta match)"


def test_an_unexplained_difference_names_the_largest_entry() -> None:
    def relu_backward(dout, cache):
        dx = dout * (cache > 0)
        dx[1, 2] += 0.5
        return dx
    with pytest.raises(LayerMismatch) as info:
        assert_layer_backward_matches(relu_backward, "relu")
    text = str(info.value)
    assert "dx: differs, and no usual matrix-form mistake explains it" in text
    assert "largest difference 0.5 at [1, 2]" in text and "; 1 of 20 entries differ" in text


# -- symgrad's values against PyTorch (float64, autograd of sum(out * dout)) ------------

def _torch_rnn(torch, t: dict):
    h, states = t["h0"], []
    for step in range(t["x"].shape[1]):
        h = torch.tanh(t["x"][:, step] @ t["Wx"] + h @ t["Wh"] + t["b"])
        states.append(h)
    return torch.stack(states, dim=1)


def _torch_grads(layer: str, a: dict) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    t = {k: torch.tensor(v, requires_grad=True) for k, v in a.items()
         if isinstance(v, np.ndarray) and v.dtype.kind == "f" and k != "dout"}
    f = torch.nn.functional
    x = t["x"]
    outs = {
        "affine": lambda: (x @ t["w"] + t["b"]) if a["x"].shape[0] == a["dout"].shape[0]
        else t["w"] @ x + t["b"],
        "relu": lambda: torch.relu(x), "sigmoid": lambda: torch.sigmoid(x),
        "tanh": lambda: torch.tanh(x), "softmax": lambda: torch.softmax(x, 1),
        "log_softmax": lambda: torch.log_softmax(x, 1),
        "batchnorm": lambda: f.batch_norm(x, None, None, t["gamma"], t["beta"], True, 0.0,
                                          a["eps"]),
        "dropout": lambda: x * torch.tensor(a["mask"] / a["p"]),
        "conv": lambda: f.conv2d(x, t["w"], t["b"], stride=a.get("stride"),
                                 padding=a.get("pad")),
        "max_pool": lambda: f.max_pool2d(x, a.get("kernel"), a.get("stride")),
        "avg_pool": lambda: f.avg_pool2d(x, a.get("kernel"), a.get("stride")),
        "rnn": lambda: _torch_rnn(torch, t), "rnn_step": lambda: _torch_rnn(torch, t),
    }
    out = outs[layer]()
    (out * torch.tensor(a["dout"])).sum().backward()
    found = {"out": out.detach().numpy()}
    found.update({"d" + k: v.grad.numpy() for k, v in t.items()})
    return found


KEYS = sorted(CONVENTIONS)


@pytest.mark.parametrize("key", KEYS, ids=["-".join(k) for k in KEYS])
def test_symgrad_values_equal_torch_autograd(key: tuple[str, str]) -> None:
    conv = CONVENTIONS[key]
    a = conv.make({**conv.dims, "N": 7}, conv.hyper, np.random.default_rng(3))
    mine = conv.reference(a)
    if conv.loss:
        torch = pytest.importorskip("torch", reason="PyTorch is not installed")
        x = torch.tensor(a["x"].T if a["columns"] else a["x"], requires_grad=True)
        loss = torch.nn.functional.cross_entropy(x, torch.tensor(a["y"]))
        loss.backward()
        theirs = {"loss": loss.detach().numpy(),
                  "dx": x.grad.numpy().T if a["columns"] else x.grad.numpy()}
    else:
        theirs = _torch_grads(conv.name, a)
    theirs["dprev_h"] = theirs.get("dh0")  # rnn_step's name for it
    for name in ("out",) * (not conv.loss) + conv.outputs:
        scale = np.abs(theirs[name]).max() + 1
        np.testing.assert_allclose(mine[name].reshape(theirs[name].shape), theirs[name],
                                   rtol=1e-12, atol=1e-13 * scale, err_msg=name)


@pytest.mark.parametrize("layer", ["rnn", "rnn_step"])
def test_bptt_with_every_switch_off_is_the_catalogues_rnn(layer: str) -> None:
    """The step-by-step model of the mistakes, no mistake switched on, gives the values of
    the catalogue's layer type, which are the conventions' reference."""
    from symgrad.check.layer_calls_rnn import bptt, catalogue_rnn

    conv = get_convention(layer)
    a = conv.make({**conv.dims, "N": 6}, conv.hyper, np.random.default_rng(11))
    mine, model = catalogue_rnn(a), bptt(a)
    assert sorted(mine) == sorted(model) == ["dWh", "dWx", "db", "dh0", "dx", "out"]
    for name, want in model.items():
        np.testing.assert_allclose(mine[name], want, rtol=1e-12,
                                   atol=1e-12 * np.abs(want).max(), err_msg=name)


def test_the_catalogues_dh0_is_torch_rnns_h0_gradient() -> None:
    """torch.nn.RNN (tanh, batch first) with the catalogue's weights and a zero second
    bias, from h0: the gradient of sum(out * dout) in h0, and in every weight."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    from symgrad.catalogue import get_layer_type

    rng = np.random.default_rng(12)
    n, T, D, H = 5, 6, 3, 4
    x, h0, dout = (rng.standard_normal(s) for s in ((n, T, D), (n, H), (n, T, H)))
    p = {"Wx": rng.standard_normal((H, D)) / 2, "Wh": rng.standard_normal((H, H)) / 2,
         "b": rng.standard_normal(H)}
    entry = get_layer_type("rnn")
    out, cache = entry.forward(x, p, units=H, steps=T, sequence=True, h0=h0)
    mine = entry.backward(dout, cache)
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    t = {"weight_ih_l0": torch.tensor(p["Wx"], requires_grad=True),
         "weight_hh_l0": torch.tensor(p["Wh"], requires_grad=True),
         "bias_ih_l0": torch.tensor(p["b"], requires_grad=True),
         "bias_hh_l0": torch.zeros(H, dtype=torch.float64)}
    th0 = torch.tensor(h0[None], requires_grad=True)  # (layers, N, H)
    tx = torch.tensor(x, requires_grad=True)
    theirs, _ = torch.func.functional_call(rnn, t, (tx, th0))
    (theirs * torch.tensor(dout)).sum().backward()
    for name, got, want in (("out", out, theirs.detach()), ("h0", mine["h0"], th0.grad[0]),
                            ("x", mine["x"], tx.grad), ("Wx", mine["Wx"], t["weight_ih_l0"].grad),
                            ("Wh", mine["Wh"], t["weight_hh_l0"].grad),
                            ("b", mine["b"], t["bias_ih_l0"].grad)):
        want = want.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max(),
                                   err_msg=name)
    assert "h0" not in entry.backward(dout, entry.forward(x, p, units=H, steps=T,
                                                          sequence=True)[1])


# -- bad input -------------------------------------------------------------------------

def test_the_users_exception_is_theirs_and_the_message_names_the_call() -> None:
    def affine_backward(dout, cache):
        x, w, b = cache
        return dout @ w, x.T @ dout, dout.sum(0)  # (4, 3) @ (5, 3): does not fit
    with pytest.raises(LayerCodeError) as info:
        assert_layer_backward_matches(affine_backward, "affine")
    assert str(info.value).startswith("affine_backward(dout, cache) raised ValueError: "
                                      "matmul: Input operand 1 has a mismatch")
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.__cause__.__traceback__.tb_next.tb_frame.f_code.co_name == \
        "affine_backward"


@pytest.mark.parametrize("backward, message", [
    (lambda dout, cache: (dout, dout),
     "<lambda>(dout, cache) returned 2 values; expected 3: (dx, dw, db)"),
    (lambda dout, cache: dout, "<lambda>(dout, cache) returned one ndarray; expected 3: "
                               "(dx, dw, db)"),
    (lambda dout, cache: (dout @ cache[1].T, np.ones((2, 2)), dout.sum(0)),
     "<lambda> returned dw of shape (2, 2); expected (5, 3) (dW = Xᵀ dout  (D×M))"),
    (lambda dout, cache: (dout @ cache[1].T * np.nan, cache[0].T @ dout, dout.sum(0)),
     "<lambda>(dout, cache) returned dx with 20 NaN or infinite entries of 20 (first at "
     "[0, 0])"),
    (lambda dout, cache: ("dx", 1, 2), "<lambda>(dout, cache) returned str for dx; expected "
                                       "a NumPy array of numbers"),
])
def test_bad_returns_are_named(backward, message: str) -> None:
    with pytest.raises(LayerCodeError) as info:
        check_layer(backward, "affine")
    assert str(info.value) == message


@pytest.mark.parametrize("kwargs, message", [
    ({"layer": "batchnorm"}, "layer batchnorm: give the forward function too (forward=...; "
                             "the CLI's --forward): its backward reads a cache of its own"),
    ({"layer": "convolution"}, "unknown layer 'convolution'; known layers: affine, avg_pool, "
                               "batchnorm, conv, dropout, log_softmax, max_pool, relu, rnn, "
                               "rnn_step, sigmoid, softmax, softmax_loss, tanh"),
    ({"layer": "batchnorm", "layout": "columns"}, "layer 'batchnorm' has no layout "
                                                  "'columns'; it has: rows"),
    ({"layer": "relu", "dims": {"M": 3}}, "layer relu has no dimension 'M'; its "
                                          "dimensions: N, D"),
    ({"layer": "relu", "dims": {"N": 0}}, "dimension N of layer relu must be a positive "
                                          "integer, got 0"),
    ({"layer": "dropout", "hyper": {"p": 0}}, "layer dropout: p, the probability of keeping "
                                              "a unit, must be in (0, 1], got 0"),
    ({"layer": "dropout", "hyper": {"rate": 0.5}}, "layer dropout has no setting 'rate'; its "
                                                   "settings: p"),
    ({"layer": "conv", "hyper": {"stride": "2"}}, "setting stride of layer conv must be a "
                                                  "number, got '2'"),
])
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        check_layer(lambda dout, cache: dout, **kwargs)
    assert str(info.value) == message
