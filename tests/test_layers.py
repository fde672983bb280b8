"""Layer-level derivations: exact matrix forms, every entry against the scalar derivation
(symbolically and numerically), float64 central differences, numerical stability, the
digits network's accuracy, the `derive --level` command and bad input."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad import Dense, Network, derive, derive_layers, train
from symgrad.catalogue import ACTIVATIONS
from symgrad.errors import ArgumentError, SpecError
from symgrad.compile import activation_kernel
from symgrad.derive import LayerDerivation
from symgrad.backends import CompiledLayers
from symgrad.spec import parse_spec

from .conftest import DERIVATIONS
from .conftest import run_cli_here as run_cli

DIGITS = DERIVATIONS / "digits_mlp.toml"
DIGITS_RELU = DERIVATIONS / "digits_mlp_relu.toml"
ELEMENTWISE = [name for name, a in ACTIVATIONS.items() if a.elementwise]
LOSS_CASES = [  # (hidden, output, loss): every loss, elementwise and softmax outputs
    ("tanh", "sigmoid", "bce"),
    ("relu", "sigmoid", "half_sse"),
    ("elu", "none", "mse"),
    ("silu", "softplus", "half_mse"),
    ("leaky_relu", "tanh", "sse"),
    ("gelu", "sigmoid", "cce"),
]




def _spec(layers: str, loss: str, inputs: int = 4) -> LayerDerivation:
    return derive_layers(parse_spec(f"[network]\ninputs = {inputs}\nlayers = [{layers}]\n"
                                    f"loss = \"{loss}\"\n", path="inline.toml"))


# -- exact forms ---------------------------------------------------------------------------

def test_digits_derivation_matches_the_textbook_forms() -> None:
    d = derive_layers(DIGITS)
    text = d.text(unicode=True).splitlines()
    assert "  delta2 = s - y" in text
    assert "  delta1 = (W2^T · delta2) ⊙ σ'(z1) = (W2^T · delta2) ⊙ a1 ⊙ (1 - a1)" in text
    assert "  dE/dW2 = delta2 · a1^T,   dE/db2 = delta2" in text
    assert "  dE/dW1 = delta1 · x^T,   dE/db1 = delta1" in text
    assert "  dE/dW1 = (1/m) · Delta1 · X^T,   dE/db1 = (1/m) · Delta1 · 1_m" in text
    assert d.parameter_count == 2410
    assert d.sizes == (64, 32, 10)


def test_matrix_expressions_are_sympy_objects() -> None:
    d = derive_layers(DIGITS)
    out, hidden = d.steps
    assert out.weight_gradient == d.delta[2] * d.a[1].T
    assert hidden.weight_gradient == d.delta[1] * d.a[0].T
    assert hidden.upstream == d.W[2].T * d.delta[2]
    assert hidden.batch_bias_gradient == d.Delta[1] * sp.OneMatrix(d.m, 1)
    assert out.delta_scalar == sp.Symbol("s_i") - sp.IndexedBase("y")[sp.Symbol("i",
                                                                                  integer=True)]


@pytest.mark.parametrize("name, own_output", [
    ("sigmoid", "(W2^T*delta2) .* a1 .* (1 - a1)"),
    ("tanh", "(W2^T*delta2) .* (1 - a1^2)"),
    ("relu", "(W2^T*delta2) .* Heaviside(z1, 0)"),
    ("softplus", "(W2^T*delta2) .* sigmoid(z1)"),
    ("linear", "W2^T*delta2"),
], ids=lambda v: v if v in ELEMENTWISE else None)
def test_hidden_delta_in_own_output_form(name: str, own_output: str) -> None:
    d = _spec(f'{{ units = 3, activation = "{name}" }}, {{ units = 2, activation = "softmax" }}',
              "cce")
    line = next(l for l in d.text(unicode=False).splitlines() if l.startswith("  delta1 = "))
    assert line.endswith(own_output)


def test_sigmoid_with_bce_collapses_to_a_minus_y() -> None:
    d = _spec('{ units = 3, activation = "tanh" }, { units = 2, activation = "sigmoid" }', "bce")
    a, y = sp.symbols("a y", real=True)
    assert d.steps[0].delta_scalar == a - y
    assert "the activation's derivative cancels" in d.steps[0].note


def test_latex_lines_render_the_recursion() -> None:
    lines = derive_layers(DIGITS).latex_lines()
    assert lines[5] == r"\delta_{2} &= s - y"
    assert lines[6] == (r"\delta_{1} &= \left(W_{2}^{T} \delta_{2}\right) \odot "
                        r"\sigma'\left(z_{1}\right) = \left(W_{2}^{T} \delta_{2}\right) \odot "
                        r"a_{1} \odot \left(1 - a_{1}\right)")
    assert lines[7] == r"\frac{\partial E}{\partial W_{2}} &= \delta_{2} a_{1}^{T}"


# -- against the scalar derivation ---------------------------------------------------------

def _explicit(d: LayerDerivation, net: Network, expr: object) -> sp.ImmutableMatrix:
    """A matrix expression with the scalar network's symbols in place of its matrices."""
    subs = {d.a[0]: sp.ImmutableMatrix(net.inputs), d.y: sp.ImmutableMatrix(net.targets)}
    for layer in net.layers:
        l = layer.index
        subs.update({d.W[l]: sp.ImmutableMatrix(layer.weights),
                     d.b[l]: sp.ImmutableMatrix(layer.biases),
                     d.z[l]: sp.ImmutableMatrix(layer.pre),
                     d.a[l]: sp.ImmutableMatrix(layer.post),
                     d.delta[l]: sp.ImmutableMatrix(layer.deltas)})
    return expr.xreplace(subs).doit()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"])
def test_every_entry_equals_the_scalar_derivation_symbolically(name: str) -> None:
    net = Network(2, [Dense(3, name), Dense(2, "softmax")], "cce")
    scalar = derive(net)
    d = derive_layers(net)
    for step in d.steps:
        layer = net.layers[step.index - 1]
        deltas = _explicit(d, net, step.expression)
        for i, symbol in enumerate(layer.deltas):
            assert sp.simplify(deltas[i, 0] - scalar.deltas[symbol].expression) == 0
        grads = _explicit(d, net, step.weight_gradient)
        for i, row in enumerate(layer.weights):
            for j, w in enumerate(row):
                assert sp.expand(grads[i, j] - scalar[str(w)].delta_form) == 0
        biases = _explicit(d, net, step.bias_gradient)
        for i, b in enumerate(layer.biases):
            assert biases[i, 0] == scalar[str(b)].delta_form


def _random_point(net: Network, rng: np.random.Generator, samples: int = 5
                  ) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    X = rng.normal(size=(samples, len(net.inputs)))
    K = len(net.targets)
    if net.loss.name == "cce":
        Y = np.eye(K)[rng.integers(0, K, samples)]
    else:
        Y = rng.uniform(0.1, 0.9, size=(samples, K))
    values: dict[str, object] = dict(net.values)
    values.update({str(s): X[:, j] for j, s in enumerate(net.inputs)})
    values.update({str(s): Y[:, k] for k, s in enumerate(net.targets)})
    return values, X, Y


def _against_scalar(net: Network, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values, X, Y = _random_point(net, rng)
    scalar = derive(net)
    d = derive_layers(net)
    c = CompiledLayers(d)
    params = net.to_arrays()
    layer = net.from_arrays(c.grad(**params, x=X, y=Y))
    expected = scalar.at(values)
    assert list(layer) == list(expected)
    for name, value in expected.items():
        assert layer[name] == pytest.approx(value, rel=1e-10, abs=1e-13), name
    assert c.loss(**params, x=X, y=Y) == pytest.approx(scalar.loss_at(values), rel=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_softmax_cce_network_matches_scalar_gradients(name: str) -> None:
    _against_scalar(Network(3, [Dense(4, name), Dense(3, "softmax")], "cce", seed=5), 1)


@pytest.mark.parametrize("hidden, output, loss", LOSS_CASES,
                         ids=[f"{h}-{o}-{l}" for h, o, l in LOSS_CASES])
def test_elementwise_outputs_match_scalar_gradients(hidden: str, output: str, loss: str) -> None:
    _against_scalar(Network(3, [Dense(4, hidden), Dense(2, output)], loss, seed=2), 3)


def test_three_layers_without_bias_match_scalar_gradients() -> None:
    net = Network(2, [Dense(3, "tanh", bias=False), Dense(3, "sigmoid"), Dense(2, "softmax")],
                  "cce", seed=4)
    _against_scalar(net, 4)


def test_initial_parameters_match_the_scalar_network() -> None:
    net = Network(3, [Dense(4, "relu"), Dense(2, "softmax")], "cce", seed=11)
    d = derive_layers(net)
    mine = d.initial_parameters(11)
    theirs = net.to_arrays()
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_array_equal(mine[key], theirs[key])


# -- central differences -------------------------------------------------------------------

def _central(c, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
             h: float = 1e-6) -> dict[str, np.ndarray]:
    out = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + h
            up = c.loss(**params, x=X, y=Y)
            value[idx] = old - h
            down = c.loss(**params, x=X, y=Y)
            value[idx] = old
            g[idx] = (up - down) / (2 * h)
        out[key] = g
    return out


@pytest.mark.parametrize("hidden, output, loss",
                         [("sigmoid", "softmax", "cce")] + LOSS_CASES,
                         ids=["sigmoid-softmax-cce"] + [f"{h}-{o}-{l}" for h, o, l in LOSS_CASES])
def test_gradients_match_central_differences(hidden: str, output: str, loss: str) -> None:
    d = _spec(f'{{ units = 5, activation = "{hidden}" }}, {{ units = 3, activation = "{output}" }}',
              loss)
    rng = np.random.default_rng(7)
    params = d.initial_parameters(7)
    for key in params:
        params[key] = params[key] + rng.normal(0, 0.1, size=params[key].shape)
    X = rng.normal(size=(6, 4))
    Y = np.eye(3)[rng.integers(0, 3, 6)] if loss == "cce" else rng.uniform(0.1, 0.9, (6, 3))
    c = CompiledLayers(d)
    analytic = c.grad(**params, x=X, y=Y)
    numeric = _central(c, params, X, Y)
    for key in params:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-6, atol=1e-8,
                                   err_msg=key)


# -- compiled code -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_kernels_equal_the_activation_and_do_not_overflow(name: str) -> None:
    z = np.array([-1e4, -30.0, -1.5, -0.25, 0.0, 0.25, 1.5, 30.0, 1e4])
    act = ACTIVATIONS[name]
    out, _ = activation_kernel(name, **act.params)(z)  # filterwarnings=error: no overflow
    zs = sp.Symbol("z")
    for value, got in zip(z[1:-1], out[1:-1]):  # the symbolic side needs moderate z
        want = float(act(zs).subs(zs, sp.Float(value, 30)).evalf(30))
        assert got == pytest.approx(want, rel=1e-14, abs=1e-15)
    assert np.all(np.isfinite(out))


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    d = _spec('{ units = 2, activation = "relu" }, { units = 3, activation = "softmax" }', "cce",
              inputs=1)
    params = {"W1": np.array([[1.0], [0.0]]), "b1": np.zeros(2),
              "W2": np.array([[1e4, 0.0], [-1e4, 0.0], [0.0, 0.0]]), "b2": np.zeros(3)}
    X, Y = np.array([[1.0]]), np.array([[0.0, 1.0, 0.0]])
    c = CompiledLayers(d)
    assert c.loss(**params, x=X, y=Y) == pytest.approx(2e4)  # log-softmax: no log(0)
    grads = c.grad(**params, x=X, y=Y)
    np.testing.assert_allclose(grads["b2"], [1.0, -1.0, 0.0])


def test_sigmoid_bce_loss_is_stable_for_huge_logits() -> None:
    d = _spec('{ units = 1, activation = "linear" }, { units = 1, activation = "sigmoid" }',
              "bce", inputs=1)
    params = {"W1": np.array([[1.0]]), "b1": np.zeros(1), "W2": np.array([[1.0]]),
              "b2": np.zeros(1)}
    loss = CompiledLayers(d).loss(**params, x=np.array([[800.0]]), y=np.array([[0.0]]))
    assert loss == pytest.approx(800.0)


def test_compiled_arguments_are_checked() -> None:
    d = _spec('{ units = 3, activation = "tanh" }, { units = 2, activation = "softmax" }', "cce")
    c = CompiledLayers(d)
    params = d.initial_parameters(0)
    with pytest.raises(ArgumentError, match=r"^inputs X must have shape \(samples, 4\), got "
                                            r"\(2, 3\)$"):
        c.forward(**params, x=np.zeros((2, 3)))
    with pytest.raises(ArgumentError, match=r"^parameter 'W2' has shape \(2, 2\), "
                                            r"expected \(2, 3\)$"):
        c.forward(**{**params, "W2": np.zeros((2, 2))}, x=np.zeros((2, 4)))
    with pytest.raises(ArgumentError, match="^missing parameter 'b1'$"):
        c.forward(**{k: v for k, v in params.items() if k != "b1"}, x=np.zeros((2, 4)))


# -- training on the digits ----------------------------------------------------------------

@pytest.mark.parametrize("path", [DIGITS, DIGITS_RELU], ids=["sigmoid", "relu"])
def test_digits_network_reaches_96_percent(path: Path) -> None:
    seen: list[int] = []
    result = train(path, progress=lambda step: seen.append(step.iteration))
    assert result.level == "layer" and result.epochs == 50
    assert result.accuracy["test"] >= 0.96
    assert result.accuracy["train"] >= 0.99
    per_epoch = math.ceil(result.samples / result.batch_size)
    assert len(result.history) == 51 and seen == [per_epoch * e for e in range(51)]
    assert result.history[-1].loss < result.history[1].loss / 10
    assert result.params["W1"].shape == (32, 64) and result.params["b2"].shape == (10,)
    assert result.setup_seconds < 5  # generous; the 2 s target is measured in benchmarks/


def test_layer_training_is_reproducible_with_a_seed() -> None:
    a = train(DIGITS, epochs=2)
    b = train(DIGITS, epochs=2)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.params["W2"], b.params["W2"])


def test_layer_training_needs_the_training_settings() -> None:
    spec = parse_spec('[network]\ninputs = 64\nlayers = [{ units = 10, activation = '
                      '"softmax" }]\nloss = "cce"\n[data]\nsource = "digits"\n', "s.toml")
    with pytest.raises(SpecError, match=r"^s.toml: field 'training.epochs': missing; give it "
                                        r"in the spec or as an argument$"):
        train(spec, learning_rate=0.1)
    result = train(spec, epochs=1, learning_rate=0.1, mode="minibatch", batch_size=64)
    assert result.batch_size == 64 and len(result.history) == 2


# -- bad input -----------------------------------------------------------------------------

def _digits_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DIGITS.read_text()
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_inputs_that_do_not_match_the_features(tmp_path: Path) -> None:
    path = _digits_variant(tmp_path, "inputs = 64", "inputs = 63")
    with pytest.raises(SpecError) as exc:
        train(path)
    assert str(exc.value) == (f"{path}:11: field 'network.inputs': the digits data set has 64 "
                              "features, but the network has 63 inputs")


def test_outputs_that_do_not_match_the_classes(tmp_path: Path) -> None:
    path = _digits_variant(tmp_path, "units = 10", "units = 9")
    with pytest.raises(SpecError) as exc:
        train(path)
    assert str(exc.value) == (f"{path}:14: field 'network.layers[1].units': the digits data "
                              "set has 10 classes, but the last layer has 9 units")


def test_softmax_in_a_hidden_layer(tmp_path: Path) -> None:
    path = _digits_variant(tmp_path, '{ units = 32, activation = "sigmoid" }',
                           '{ units = 32, activation = "softmax" }')
    with pytest.raises(SpecError) as exc:
        derive_layers(path)
    assert str(exc.value) == (f"{path}:13: field 'network.layers[0].activation': activation "
                              "'softmax' is not elementwise; the layer-level derivation needs an "
                              "elementwise activation in hidden layer 1 (use it in the output "
                              "layer only)")


def test_softmax_output_needs_cross_entropy() -> None:
    with pytest.raises(SpecError, match=r"^inline.toml:4: field 'network.loss': a softmax output "
                                        r"is derived at the layer level with loss 'cce' only, "
                                        r"not 'mse'$"):
        _spec('{ units = 3, activation = "tanh" }, { units = 2, activation = "softmax" }', "mse")


# -- the command line ----------------------------------------------------------------------

def test_cli_derive_level_layer() -> None:
    r = run_cli("derive", DIGITS, "--level", "layer")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("layer-level derivation: 64 -> 32 sigmoid -> 10 softmax; loss cce "
                        "(mean over samples); 2,410 parameters")
    assert "  delta2 = s - y" in lines
    assert "  delta1 = (W2^T · delta2) ⊙ σ'(z1) = (W2^T · delta2) ⊙ a1 ⊙ (1 - a1)" in lines
    assert "  dE/dW2 = delta2 · a1^T,   dE/db2 = delta2" in lines
    assert "  dE/dW1 = delta1 · x^T,   dE/db1 = delta1" in lines
    norms = [l for l in lines if l.endswith("(at the spec's values)")]
    assert [l.split("=")[0].strip() for l in norms] == ["‖dE/dW1‖", "‖dE/db1‖", "‖dE/dW2‖",
                                                        "‖dE/db2‖"]


def test_cli_derive_without_level_shows_the_layer_form_for_a_large_network() -> None:
    r = run_cli("derive", DIGITS)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("layer-level derivation: 64 -> 32 sigmoid -> 10 softmax")


def test_cli_derive_level_scalar_refuses_thousands_of_gradients() -> None:
    r = run_cli("derive", DIGITS, "--level", "scalar")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("symgrad derive: error: this network has 2,410 parameters, too many to "
                        "print one gradient each (the limit is 200); use --level layer, or "
                        "--wrt P for single parameters\n")


def test_cli_derive_scalar_single_weight_of_a_large_network() -> None:
    r = run_cli("derive", DIGITS, "--level", "scalar", "--wrt", "w2_3_5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].strip() == "= a1_5*(a2_3 - T3)"


def test_cli_derive_level_layer_latex_and_small_networks() -> None:
    r = run_cli("derive", DERIVATIONS / "small_mlp.toml", "--level", "layer", "--latex")
    assert r.returncode == 0, r.stderr
    assert r"\delta_{1} &= \left(W_{2}^{T} \delta_{2}\right) \odot " \
           r"\tanh'\left(z_{1}\right) = \left(W_{2}^{T} \delta_{2}\right) \odot " \
           r"\left(1 - a_{1}^{\odot 2}\right)" in r.stdout
    scalar = run_cli("derive", DERIVATIONS / "small_mlp.toml", "--wrt", "b2_1")
    assert scalar.returncode == 0 and "∂E/∂b2_1" in scalar.stdout  # auto: scalar when small


# -- training from the command line (symgrad train on a data-set spec) ----------------------

def _train_args(**given: object) -> argparse.Namespace:
    settings = dict(learning_rate=None, iterations=None, epochs=None, mode=None,
                    batch_size=None, tolerance=None, seed=None, history=None, quiet=False)
    settings.update(given)
    return argparse.Namespace(**settings)


def test_train_dataset_prints_losses_and_accuracies(capsys) -> None:
    from symgrad.cli._train_layers import train_layers
    from symgrad.spec import read_spec

    assert train_layers(read_spec(DIGITS), _train_args(epochs=4)) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == (f"minibatch SGD on {DIGITS} (Handwritten digits: 64 inputs, 32 sigmoid "
                        "units, 10 softmax outputs)")
    assert lines[1] == ("64 -> 32 sigmoid -> 10 softmax, loss cce; learning rate 0.5, batch 32, "
                        "4 epochs; layer-level gradients")
    assert lines[3].startswith("stopped after 4 epochs (172 iterations); the gradient norm is ")
    assert lines[4] == "epoch  iteration  E (all 1,348 training samples)"
    assert [l.split()[:2] for l in lines[5:10]] == [
        ["0", "0"], ["1", "43"], ["2", "86"], ["3", "129"], ["4", "172"]]
    assert lines[-2].startswith("train accuracy: ") and lines[-1].startswith("test accuracy:  ")
    assert err == ""  # no progress bar when stderr is not a terminal


def test_train_at_the_layer_level_refuses_a_history_file(tmp_path: Path) -> None:
    from symgrad.cli._train_layers import train_layers
    from symgrad.spec import read_spec

    with pytest.raises(ArgumentError, match=r"^--history writes one column per parameter; it "
                                            r"applies at the scalar level \(--level scalar\), "
                                            r"not to matrices of weights$"):
        train_layers(read_spec(DIGITS), _train_args(history=tmp_path / "h.csv"))
    assert not (tmp_path / "h.csv").exists()


def test_train_dataset_takes_iterations_and_a_tolerance(capsys) -> None:
    from symgrad.cli._train_layers import train_layers
    from symgrad.spec import read_spec

    assert train_layers(read_spec(DIGITS), _train_args(iterations=50, quiet=True)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("batch 32, 50 iterations; layer-level gradients")
    assert lines[3].startswith("stopped after 50 iterations; the gradient norm is ")


@pytest.mark.parametrize("args, message", [
    (["--level", "layer", "--wrt", "w1_1_1"],
     "--wrt picks scalar gradients; use it with --level scalar"),
    (["--form", "expanded"], "--form expanded applies to the scalar derivation; the layer-level "
                             "derivation always shows its steps"),
], ids=["wrt", "form"])
def test_cli_derive_layer_level_rejects_scalar_options(args: list[str], message: str) -> None:
    r = run_cli("derive", DIGITS, *args)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"symgrad derive: error: {message}\n"


def test_cli_train_on_the_digits() -> None:
    r = run_cli("train", DIGITS, "--epochs", "3", "--quiet")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == ("64 -> 32 sigmoid -> 10 softmax, loss cce; learning rate 0.5, batch 32, "
                        "3 epochs; layer-level gradients")
    assert lines[-2].startswith("train accuracy: ") and lines[-1].startswith("test accuracy:  ")
    assert r.stderr == ""


def test_compiled_layers_are_called_by_name_as_the_unit_level_is() -> None:
    d = _spec('{ units = 3, activation = "tanh" }, { units = 2, activation = "softmax" }', "cce")
    c = CompiledLayers(d)
    params = d.initial_parameters(1)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(5, 4)), np.eye(2)[rng.integers(0, 2, 5)]
    value, grads = c.value_and_grad(**params, x=X, y=Y)
    assert value == c.loss(**params, x=X, y=Y)
    assert grads.keys() == c.grad(**params, x=X, y=Y).keys() == {"W1", "b1", "W2", "b2"}
    for key, g in c.grad(**params, x=X, y=Y).items():
        np.testing.assert_array_equal(g, grads[key])
    with pytest.raises(ArgumentError, match=r"^unknown argument 'w1'; the arguments are: "
                                            r"W1, W2, b1, b2, x, y$"):
        c.loss(**params, w1=1.0, x=X, y=Y)
    with pytest.raises(ArgumentError, match=r"^missing argument 'y' \(the targets, one row "
                                            r"per sample\)$"):
        c.grad(**params, x=X)


def test_a_notebook_displays_compiled_layers_as_a_table() -> None:
    """As a compiled network's display: the network, the loss, each argument with its shape
    (those of the initial parameters) and the methods."""
    import xml.etree.ElementTree as ET

    c = CompiledLayers(derive_layers(DERIVATIONS / "digits_mlp.toml"))
    root = ET.fromstring(c._repr_html_())  # well-formed
    assert root.get("class") == "symgrad-compiled-layers"
    cells = {tr[0].text: tr[1].text for tr in root.iter("tr")}
    assert cells == {"network": "64 -> 32 sigmoid -> 10 softmax",
                     "loss": "cce, the mean over the samples",
                     "parameters": "W1 (32 x 64), b1 (32), W2 (10 x 32), b2 (10)",
                     "inputs and targets": "x (m x 64), y (m x 10)",
                     "by name": "forward, loss, grad, value_and_grad, predict",
                     "training": "sgd_epoch (minibatch SGD in place)"}
    assert repr(c) == "CompiledLayers(64 -> 32 sigmoid -> 10 softmax; loss cce)"
    assert c.parameter_shapes == {k: v.shape for k, v in
                                  c.derivation.initial_parameters(0).items()}
