"""`symgrad derive` and `symgrad activations`, and every bad-input case of a spec file."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import DERIVATIONS, SPECS, run_cli

TWO = DERIVATIONS / "two_neuron.toml"


def test_derive_wrt_w2_prints_the_chain_the_factors_and_the_value() -> None:
    r = run_cli("derive", TWO, "--wrt", "w2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "∂E/∂w2 = ∂E/∂a2 · ∂a2/∂z2 · ∂z2/∂w2",
        "       = -(T - a2) · a2*(1 - a2) · a1",
        "       = 0.0570703982   (at the spec's values)",
    ]


def test_derive_expanded_has_inputs_and_parameters_only() -> None:
    r = run_cli("derive", TWO, "--form", "expanded", "--wrt", "w2")
    assert r.returncode == 0
    assert r.stdout.strip() == (
        "∂E/∂w2 = (1 - sigmoid(w2*sigmoid(w1*x1 + b1) + b2))*(sigmoid(w2*sigmoid(w1*x1 + b1) "
        "+ b2) - T)*sigmoid(w1*x1 + b1)*sigmoid(w2*sigmoid(w1*x1 + b1) + b2)")


def test_derive_steps_shows_forward_equations_and_deltas() -> None:
    r = run_cli("derive", DERIVATIONS / "small_mlp.toml", "--form", "steps", "--wrt", "b2_1")
    assert r.returncode == 0
    out = r.stdout
    assert "  a2_1 = softmax(1, z2_1, z2_2)" in out
    assert "  delta2_1 = a2_1 - T1" in out
    assert "targets sum to 1" in out
    assert "  delta1_3 = (1 - a1_3**2)*(delta2_1*w2_1_3 + delta2_2*w2_2_3)" in out


def test_derive_latex() -> None:
    r = run_cli("derive", TWO, "--latex", "--wrt", "w1")
    assert r.stdout.strip() == (r"\frac{\partial E}{\partial w_{1}} = a_{1} a_{2} w_{2} x_{1} "
                                r"\left(1 - a_{1}\right) \left(1 - a_{2}\right) "
                                r"\left(a_{2} - T\right)")


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_derive_every_spec(path: Path) -> None:
    r = run_cli("derive", path)
    assert r.returncode == 0, r.stderr
    assert "(at the spec's values)" in r.stdout


def test_activations_catalogue() -> None:
    r = run_cli("activations")
    assert r.returncode == 0
    out = r.stdout
    assert out.count("  at kinks:") == 11
    assert "  derivative: d/dz sigmoid(z) = (1 - sigmoid(z))*sigmoid(z)" in out
    assert "  derivative: d/dz tanh(z) = 1 - tanh(z)**2" in out
    assert "  derivative: d/dz relu(z) = Heaviside(z, 0)" in out
    assert "  derivative: ds[k]/dz[j] = (KroneckerDelta(j, k) - s[j])*s[k]" in out
    assert "  at kinks:   ReLU'(0) = 0 (the Heaviside step with H(0) = 0)" in out
    assert "Leaky ReLU  [leaky_relu]  (parameters: alpha = 0.01)" in out


# -- bad input: one line on stderr naming file, field and line; exit status 2 ----------

def _variant(tmp_path: Path, name: str, old: str, new: str, count: int = 1) -> Path:
    text = TWO.read_text()
    assert old in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, count))
    return path


BAD = [
    ("syntax", 'loss = "half_sse"', 'loss = "half_sse',
     "syntax.toml:13:17: TOML syntax error: Illegal character '\\n'"),
    ("missing", 'loss = "half_sse"\n', "",
     "missing.toml:7: missing field 'network.loss'"),
    ("mistyped", "units = 1,", 'units = "one",',
     "mistyped.toml:10: field 'network.layers[0].units': expected an integer, got a string "
     "'one'"),
    ("unknown_activation", '"sigmoid"', '"sigmod"',
     "unknown_activation.toml:10: field 'network.layers[0].activation': unknown activation "
     "'sigmod'; known: sigmoid, tanh, relu, softmax, binary_step, linear, leaky_relu, elu, "
     "softplus, silu, gelu"),
    ("unknown_loss", '"half_sse"', '"huber"',
     "unknown_loss.toml:13: field 'network.loss': unknown loss 'huber'; known: sse, half_sse, "
     "mse, half_mse, bce, cce"),
    ("non_finite", "w2 = 0.45", "w2 = nan",
     "non_finite.toml:18: field 'parameters.w2': expected a finite number, got nan"),
    ("infinite", "x1 = 0.1", "x1 = inf",
     "infinite.toml:22: field 'data.x1': expected a finite number, got inf"),
    ("non_numeric", "w2 = 0.45", 'w2 = "0.45"',
     "non_numeric.toml:18: field 'parameters.w2': expected a number, got a string '0.45'"),
    ("unknown_field", "inputs = 1", "input = 1",
     "unknown_field.toml:8: field 'network.input': unknown field; expected one of: inputs, "
     "layers, loss, names, tie, penalty"),
    ("unknown_parameter", "w2 = 0.45", "w3 = 0.45",
     "unknown_parameter.toml:18: field 'parameters.w3': 'w3' is not a parameter of this "
     "network; its parameters are: w1, b1, w2, b2"),
    ("missing_parameter", "w2 = 0.45\n", "",
     "missing_parameter.toml:15: field 'parameters': values for w2 are missing (give every "
     "parameter, or none for a seeded initialization)"),
    ("bad_learning_rate", "learning_rate = 0.4", "learning_rate = -0.4",
     "bad_learning_rate.toml:26: field 'training.learning_rate': must be positive, got -0.4"),
    ("wrong_loss_for_output", '{ units = 1, activation = "sigmoid" },\n]\nloss = "half_sse"',
     '{ units = 1, activation = "linear" },\n]\nloss = "cce"',
     "wrong_loss_for_output.toml:11: field 'network.layers[1].activation': loss 'cce' takes "
     "probabilities: the last layer's activation must be sigmoid or softmax, not 'linear'"),
]


@pytest.mark.parametrize("name,old,new,message", BAD, ids=[b[0] for b in BAD])
def test_bad_spec(tmp_path: Path, name: str, old: str, new: str, message: str) -> None:
    path = _variant(tmp_path, name, old, new)
    r = run_cli("derive", path, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == f"symgrad derive: error: {tmp_path}/{message}\n"


def test_unknown_wrt_parameter() -> None:
    r = run_cli("derive", TWO, "--wrt", "w9")
    assert r.returncode == 2
    assert r.stderr == (
        "symgrad derive: error: unknown parameter or quantity 'w9'; known: parameters (w1, b1, "
        "w2, b2), inputs (x1), pre-activations (z1, z2), activations (a1, a2), error signals, "
        "aliases of dE/dz (delta1, delta2)\n")


def test_missing_file() -> None:
    r = run_cli("derive", "no/such/spec.toml")
    assert r.returncode == 2
    assert r.stderr == ("symgrad derive: error: no/such/spec.toml: cannot read the file: "
                        "No such file or directory\n")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('title = "caf\xe9"\n'.encode("latin-1"))
    r = run_cli("derive", path)
    assert r.returncode == 2
    assert r.stderr == f"symgrad derive: error: {path}:1: not UTF-8 text (byte 12)\n"


def test_usage_error_is_exit_2() -> None:
    r = run_cli("derive", TWO, "--form", "tabular")
    assert r.returncode == 2
    assert "invalid choice: 'tabular'" in r.stderr
