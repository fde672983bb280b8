"""Formula-defined losses at the layer (matrix) level (issue 11, item 2): ``symgrad derive
--level layer``, the minibatch kernels (:class:`symgrad.backends.CompiledLayers`) and
``symgrad train --level layer`` take a ``[losses.NAME] formula``, elementwise over the
outputs, reduced by sum or mean. Checked against central differences of the compiled loss,
against PyTorch (``huber_loss`` and hand-written formulas) where installed, and against the
scalar level's training."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad import train
from symgrad.backends import CompiledLayers
from symgrad.derive import derive_layers
from symgrad.network import load
from symgrad.spec import parse_spec

from .formula_corpus import LOSSES, Record, spec_of

try:
    import torch
except ImportError:  # pragma: no cover - the torch extra is optional
    torch = None

IDS = [r.name for r in LOSSES]
SAMPLES = 40


def layer_spec(record: Record, reduction: str = "sum", samples: int = 0) -> str:
    """A 2 -> 3 tanh -> 2 network under ``record``'s loss; its output is a sigmoid for the
    focal loss (which takes probabilities), else linear; ``samples`` rows of data."""
    out = "sigmoid" if record.name == "focal" else "identity"
    text = (f'{spec_of(record, "losses")}reduction = "{reduction}"\n[network]\ninputs = 2\n'
            f'layers = [{{ units = 3, activation = "tanh" }}, '
            f'{{ units = 2, activation = "{out}" }}]\nloss = "{record.name}"\n')
    if samples:
        rng = np.random.default_rng(5)
        x = rng.uniform(-2, 2, (2, samples))
        t = rng.uniform(0.05, 0.95, (2, samples)) if record.name == "focal" else \
            rng.uniform(-3, 3, (2, samples))
        rows = [f"x{i + 1} = {list(map(float, x[i]))}" for i in range(2)] + \
               [f"T{i + 1} = {list(map(float, t[i]))}" for i in range(2)]
        text += "[data]\n" + "\n".join(rows) + "\n"
    return text


def data(record: Record) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3),
              "W2": rng.normal(size=(2, 3)) * 2, "b2": rng.normal(size=2)}
    X = rng.uniform(-2, 2, (SAMPLES, 2))
    Y = rng.uniform(0.05, 0.95, (SAMPLES, 2)) if record.name == "focal" else \
        rng.uniform(-3, 3, (SAMPLES, 2))
    return params, X, Y


def compiled(record: Record, reduction: str) -> CompiledLayers:
    return CompiledLayers(derive_layers(parse_spec(layer_spec(record, reduction))))


def torch_grads(record: Record, params: dict, X: np.ndarray, Y: np.ndarray,
                mean: bool) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients by torch.autograd, from the record's own torch formula."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a = torch.tanh(torch.tensor(X) @ P["W1"].T + P["b1"]) @ P["W2"].T + P["b2"]
    a = torch.sigmoid(a) if record.name == "focal" else a
    loss = record.torch_f(torch, a, torch.tensor(Y))
    loss = loss / len(X) if mean else loss
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy() for k, v in P.items()}


def test_a_formula_loss_was_refused_at_the_layer_level_before() -> None:
    """The output delta of Huber is a function of both a2 and y: lifted as one
    elementwise function of the two matrices (it raised "cannot write ... elementwise")."""
    huber = next(r for r in LOSSES if r.name == "huber")
    d = derive_layers(parse_spec(layer_spec(huber)))
    out = d.steps[0]
    assert [str(m) for m in out.expression.matrices] == ["a2", "y"]
    assert d.loss.name == "huber" and d.loss.reduction == "sum"


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("record", LOSSES, ids=IDS)
def test_layer_gradients_match_central_differences(record: Record, reduction: str) -> None:
    c = compiled(record, reduction)
    params, X, Y = data(record)
    _, grads = c.value_and_grad(**params, x=X, y=Y)
    h = 1e-6
    for name, value in params.items():
        for index in np.ndindex(value.shape):
            up, down = {k: v.copy() for k, v in params.items()}, \
                {k: v.copy() for k, v in params.items()}
            up[name][index] += h
            down[name][index] -= h
            central = (c.loss(**up, x=X, y=Y) - c.loss(**down, x=X, y=Y)) / (2 * h)
            # a sum of 40 samples' terms of size up to ~10: the difference quotient's
            # rounding is ~1e-16 * 400 / 1e-6, its truncation h^2 times a third derivative
            assert grads[name][index] == pytest.approx(central, rel=1e-6, abs=1e-6), \
                (name, index)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the torch extra)")
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("record", LOSSES, ids=IDS)
def test_layer_gradients_match_torch(record: Record, reduction: str) -> None:
    c = compiled(record, reduction)
    params, X, Y = data(record)
    loss, grads = c.value_and_grad(**params, x=X, y=Y)
    want_loss, want = torch_grads(record, params, X, Y, reduction == "mean")
    # sums of 40 samples x 2 outputs, each term below 10 in size: 1e-13 of that
    bound = 1e-13 * SAMPLES * 2 * 10
    assert abs(loss - want_loss) <= bound
    for name, value in want.items():
        np.testing.assert_allclose(grads[name], value, rtol=0, atol=bound)


def test_huber_at_the_layer_level_is_torch_huber_loss() -> None:
    """torch.nn.functional.huber_loss itself (mean over every entry: the sum over the two
    outputs, then the mean over samples, halved)."""
    if torch is None:
        pytest.skip("PyTorch is not installed (the torch extra)")
    huber = next(r for r in LOSSES if r.name == "huber")
    c = compiled(huber, "mean")
    params, X, Y = data(huber)
    loss = c.loss(**params, x=X, y=Y)
    a = c.forward(**params, x=X)
    want = 2 * float(torch.nn.functional.huber_loss(torch.tensor(a), torch.tensor(Y),
                                                     delta=1.0))
    assert abs(loss - want) <= 1e-13 * 10


@pytest.mark.parametrize("record", LOSSES, ids=IDS)
def test_both_levels_train_a_formula_loss_alike(record: Record) -> None:
    net = load(parse_spec(layer_spec(record, "mean", samples=12)))
    settings = dict(mode="minibatch", batch_size=4, epochs=2, seed=3, learning_rate=0.05,
                    progress=False)
    scalar = train(net, level="scalar", **settings)
    layer = train(net, level="layer", **settings)
    at = {s.iteration: s.loss for s in scalar.history}
    for step in layer.history:
        assert step.loss == pytest.approx(at[step.iteration], rel=1e-12, abs=1e-14)
    final = net.to_arrays(scalar.params)
    for key, value in layer.params.items():
        np.testing.assert_allclose(value, final[key], rtol=1e-11, atol=1e-13)


def test_the_command_line_derives_and_trains_a_formula_loss_at_the_layer_level(
        tmp_path, capsys) -> None:
    from symgrad.cli import main
    huber = next(r for r in LOSSES if r.name == "huber")
    spec = tmp_path / "huber.toml"
    spec.write_text(layer_spec(huber, "mean", samples=12))
    assert main(["derive", str(spec), "--level", "layer"]) == 0
    out = capsys.readouterr().out
    assert "  delta2 = where(1 - abs(a2 - y), a2 - y, sign(a2 - y))\n" in out
    assert "  dE/dW2 = (1/m) · Delta2 · A1^T" in out
    assert main(["train", str(spec), "--level", "layer", "--mode", "minibatch",
                 "--batch-size", "4", "--epochs", "2", "--learning-rate", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "batch 4, 2 epochs; layer-level gradients" in out
