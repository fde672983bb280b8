"""Specs with layer types (symgrad.stack): parsed, derived at the layer level with shapes,
trained at the layer level, their gradients equal torch.autograd's and central differences;
the scalar level and shapes that do not fit say so in one line, exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from symgrad.backends.stack import CompiledStack
from symgrad.catalogue import LAYER_TYPES
from symgrad.derive.stack import derive_stack
from symgrad.errors import SpecError
from symgrad.spec import parse_spec
from symgrad.stack import Stack
from symgrad.train import train

from .conftest import DERIVATIONS, run_cli_here

try:
    import torch
except ImportError:  # pragma: no cover - the torch extra is not installed
    torch = None

BN = DERIVATIONS / "digits_batchnorm.toml"

SMALL = """
[network]
inputs = 4
layers = [{ units = 5, activation = "tanh" }, { type = "batchnorm", eps = 0.001 },
          { type = "dropout", rate = 0.25 }, { units = 3, activation = "none" },
          { type = "log_softmax" }]
loss = "cce"
"""


def _small(text: str = SMALL) -> tuple[CompiledStack, dict[str, np.ndarray], np.ndarray,
                                       np.ndarray]:
    d = derive_stack(parse_spec(text, path="small.toml"))
    rng = np.random.default_rng(4)
    params = {k: v + 0.3 * rng.normal(size=v.shape)
              for k, v in d.initial_parameters(1).items()}
    x = rng.normal(size=(6, 4))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    return CompiledStack(d), params, x, y


def test_a_spec_layer_can_be_a_layer_type_with_its_settings() -> None:
    spec = parse_spec(SMALL)
    assert [layer.type for layer in spec.network.layers] == [
        "dense", "batchnorm", "dropout", "dense", "log_softmax"]
    assert dict(spec.network.layers[2].settings) == {"rate": 0.25}
    stack = Stack.from_spec(spec)
    assert stack.layers[1].hyper == {"eps": 0.001, "momentum": 0.1}
    assert stack.parameter_count == 5 * 4 + 5 + 2 * 5 + 3 * 5 + 3


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed; central differences "
                    "still run")
def test_stack_gradients_equal_torch_autograd() -> None:
    """Evaluation mode (dropout passes its input through; batch norm on the batch)."""
    c, p, x, y = _small()
    loss, grads = c.value_and_grad(**p, x=x, y=y)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    h = torch.tanh(torch.tensor(x) @ t["W1"].T + t["b1"])
    h = torch.nn.functional.batch_norm(h, None, None, t["gamma2"], t["beta2"], training=True,
                                       eps=0.001)
    out = torch.log_softmax(h @ t["W4"].T + t["b4"], dim=1)
    want = -(torch.tensor(y) * out).sum() / len(x)
    want.backward()
    assert abs(loss - want.item()) <= 1e-12 * abs(want.item())
    for k, g in grads.items():
        ref = t[k].grad.numpy()
        assert np.max(np.abs(g - ref)) <= 1e-12 * np.max(np.abs(ref)), k


def test_stack_gradients_equal_central_differences_in_training_mode() -> None:
    """Training mode with fixed dropout masks: the generator is reset before each pass."""
    c, p, x, y = _small()

    def run() -> tuple[float, dict[str, np.ndarray]]:
        c.rng = np.random.default_rng(11)
        return c._step(p, x, y, training=True)

    _, grads = run()
    h = 1e-6
    for name in ("W1", "gamma2", "beta2", "b4"):
        for idx in [(0,) * p[name].ndim, tuple(s - 1 for s in p[name].shape)]:
            keep = p[name][idx]
            p[name][idx] = keep + h
            up = run()[0]
            p[name][idx] = keep - h
            down = run()[0]
            p[name][idx] = keep
            assert abs(grads[name][idx] - (up - down) / (2 * h)) <= 1e-7, (name, idx)


def test_derive_layer_level_prints_each_layer_with_shapes() -> None:
    r = run_cli_here("derive", BN, "--level", "layer")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("layer-level derivation of a stack: 64 -> 32 relu -> batchnorm -> "
                        "dropout -> 10 none -> log_softmax; loss cce (mean over samples)")
    for line in ("    dW1 = dZ1^T · A0   [32 x 64]",
                 "    db1 = dZ1^T · 1_N   [32 x 1]",
                 "    dA0 = dZ1 · W1   [N x 64]   (the gradient passed to the layer below)",
                 "    dgamma = 1_N^T · (dY ⊙ Xhat)   [1 x D]",
                 "    dX = 1/(1 - p) · (dY ⊙ M)   [N x D]",
                 "    dA5 = -1/N · Y   [N x 10]   (E = -sum(Y ⊙ A) over the "
                 "log-probabilities A)"):
        assert line in lines, line
    assert ("    dx[j] = gamma*(-Σ_{i=1..N} dy[i] + N*dy[j] - xhat[j]*Σ_{i=1..N} dy[i]*xhat[i])"
            "/(sigma*N)   [scalar]") in lines
    assert "    mu = (Σ_{k=1..N} x[k])/N   [scalar]" in lines  # a sum in a product: bracketed
    assert run_cli_here("derive", BN).stdout == r.stdout  # auto: the layer level
    latex = run_cli_here("derive", BN, "--latex").stdout
    assert latex.startswith("\\begin{aligned}\nZ_{1} &= A_{0} W_{1}^{T} + \\mathbf{1}_{N} "
                            "b_{1}^{T} \\quad [N \\times 32] \\\\\n")


def test_scalar_level_refuses_layer_types_in_one_line() -> None:
    for args in (("derive", BN, "--level", "scalar"), ("train", BN, "--level", "scalar"),
                 ("derive", BN, "--level", "scalar", "--wrt", "W1")):
        r = run_cli_here(*args)
        assert r.returncode == 2
        assert r.stderr == (f"symgrad {args[0]}: error: {BN}:13: field 'network.layers[1].type': "
                         "layer type 'batchnorm' is derived and trained at the layer level "
                         "only; use --level layer\n")


def _spec_error(tmp_path: Path, layers: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace(SMALL.split("layers = ")[1].split("\nloss")[0], layers))
    r = run_cli_here("derive", path)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r
    return r.stderr.split("error: ", 1)[1].strip()


#: A first layer that is wrong, and the message after "{path}:4: field ": the field and
#: what is wrong (the second layer is a softmax of 3 units unless given).
BAD_LAYERS = [
    ('{ type = "batchnrom" }', "'network.layers[0].type': unknown layer type 'batchnrom'; "
     "known: " + ", ".join(sorted(LAYER_TYPES))),  # batchnorm, dropout, log_softmax, ...
    ('{ type = "dropout", rate = 1.5 }', "'network.layers[0]': layer 'dropout': rate must be "
     "in [0, 1), got 1.5"),
    ('{ type = "batchnorm", mommentum = 0.9 }', "'network.layers[0].mommentum': unknown "
     "setting of layer type 'batchnorm' 'mommentum'; known: eps, momentum"),
    ('{ type = "batchnorm", momentum = 1.5 }', "'network.layers[0]': layer 'batchnorm': "
     "momentum must be in [0, 1], got 1.5"),
    ('{ type = "rnn", units = 0, steps = 4 }', "'network.layers[0]': layer 'rnn': units must "
     "be an integer >= 1, got 0"),
    ('{ type = "dropout", rate = true }', "'network.layers[0]': layer 'dropout': setting "
     "'rate' must be a number, got True"),
    ('{ type = "batchnorm" }, { units = 3, activation = "none" }', "'network.layers[1]': loss "
     "'cce' takes probabilities: end with a sigmoid or softmax activation, or a softmax or "
     "log_softmax layer"),
]


@pytest.mark.parametrize("layers, message", BAD_LAYERS,
                         ids=[m.split(": ", 1)[1][:40] for _, m in BAD_LAYERS])
def test_bad_layers_name_the_field_and_what_is_wrong(tmp_path: Path, layers: str,
                                                     message: str) -> None:
    if "units = 3" not in layers:
        layers += ', { units = 3, activation = "softmax" }'
    assert _spec_error(tmp_path, f"[{layers}]") == \
        f"{tmp_path / 'bad.toml'}:4: field {message}"


def test_training_the_digits_with_batchnorm_and_dropout() -> None:
    """20 epochs of minibatch SGD (seed 0): measured test accuracy 96.9 % (batch norm with
    its running statistics), final loss 0.023."""
    result = train(BN, progress=False)
    assert result.level == "layer" and result.epochs == 20
    assert result.loss < 0.05
    assert result.accuracy["test"] >= 0.96
    with pytest.raises(SpecError, match="at the layer level only"):
        train(BN, level="scalar", progress=False)


RNN_SPEC = DERIVATIONS / "rnn_bit_count.toml"


def test_rnn_bit_count_trains_to_the_stated_loss() -> None:
    """40 epochs (seed 0): measured loss 0.1006 on the C loops (0.0991 on NumPy's: rounding
    amplified over 1880 steps), test accuracy 99.8 %, about 4 ms an epoch."""
    result = train(RNN_SPEC, progress=False)
    assert result.loss < 0.15
    assert result.accuracy["test"] >= 0.97


def test_rnn_spec_derives_its_bptt_sum() -> None:
    r = run_cli_here("derive", RNN_SPEC)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("layer-level derivation of a stack: 8x1 -> rnn -> 9 softmax; loss cce "
                        "(mean over samples)")
    assert "    delta_t = (W_h^T · delta_{t+1} + g_t) ⊙ (1_H - (h_t ⊙ h_t))   [H x 1]" in lines
    assert ("    dW_h[a, c] = Σ_{n=1..N} Σ_{t=1..T} delta[n, t, a]*h[n, t - 1, c]   "
            "[scalar]") in lines
    assert "    dZ2 = 1/N · (-Y + S)   [N x 9]   (softmax with cross-entropy: s - y per sample)" \
        in lines


@pytest.mark.parametrize("change, command, message", [
    ("steps = 8 }", "derive", "{path}:12: field 'network.layers[1].units': layer 'dense (9 "
     "units)': per-sample input of shape (8, 16) does not fit; it needs (D,), a feature "
     "vector per sample"),
    ("steps = 6 }", "train", "{path}:9: field 'network.inputs': the bit_counts data set's "
     "samples have shape (8, 1), the network takes (6, 1)"),
    ("steps = 0 }", "derive", "{path}:10: field 'network.layers[0]': layer 'rnn': network "
     "input of shape (1,) does not fit; it needs (steps, inputs): set steps, the sequence "
     "length"),
], ids=["dense-after-a-sequence", "steps-against-the-data", "no-steps"])
def test_rnn_shapes_that_do_not_fit_name_both_and_the_layer(tmp_path: Path, change: str,
                                                             command: str, message: str) -> None:
    text = RNN_SPEC.read_text()
    if change == "steps = 8 }":
        change = "steps = 8, sequence = true }"
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("steps = 8 }", change))
    r = run_cli_here(command, path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"symgrad {command}: error: {message.format(path=path)}\n"


def test_a_notebook_displays_a_compiled_stack_as_a_table() -> None:
    """The recurrent stack: per-sample inputs of two axes, parameters of the layer type
    named with their layer's index, shapes those of the initial parameters."""
    import xml.etree.ElementTree as ET

    c = CompiledStack(derive_stack(DERIVATIONS / "rnn_bit_count.toml"))
    root = ET.fromstring(c._repr_html_())
    cells = {tr[0].text: tr[1].text for tr in root.iter("tr")}
    assert cells == {"network": "8x1 -> rnn -> 9 softmax",
                     "loss": "cce, the mean over the samples",
                     "parameters": "Wx1 (16 x 1), Wh1 (16 x 16), b1 (16), W2 (9 x 16), b2 (9)",
                     "inputs and targets": "x (m x 8 x 1), y (m x 9)",
                     "by name": "forward, loss, grad, value_and_grad, predict",
                     "training": "sgd_epoch (minibatch SGD in place)"}
    assert repr(c) == "CompiledStack(8x1 -> rnn -> 9 softmax; loss cce)"
    params = c.derivation.initial_parameters(0)
    assert c.forward(**params, x=np.zeros((2, 8, 1))).shape == (2, 9)


def test_a_first_rnn_leaves_out_its_input_gradient() -> None:
    """The stack tells a first recurrent layer that nobody needs dE/dx: its backward
    returns only the weights' gradients, equal to those of the full pass (on the same
    loops: C's where a compiler is found)."""
    c = CompiledStack(derive_stack(RNN_SPEC))
    params = c.derivation.initial_parameters(0)
    x = np.random.default_rng(1).integers(0, 2, (5, 8, 1)).astype(float)
    (first, cache), _ = c._forward(params, x, "train")[1]
    dy = np.random.default_rng(2).normal(size=(5, 16))
    skipped = first.entry.backward(dy, cache)
    assert sorted(skipped) == ["Wh", "Wx", "b"]
    own = {k: params[v] for k, v in first.parameter_names.items()}
    full = first.entry.backward(dy, first.entry.forward(x, own, **first.hyper,
                                                      loops=cache.loops)[1])
    assert sorted(full) == ["Wh", "Wx", "b", "x"]
    for k, v in skipped.items():
        np.testing.assert_array_equal(v, full[k])
