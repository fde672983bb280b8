"""symgrad.testing.assert_gradient_matches against hand-written NumPy backpropagation."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad.derive import derive
from symgrad.errors import UnknownNameError
from symgrad.network import load
from symgrad.testing import TOLERANCES, assert_gradient_matches

from .conftest import DERIVATIONS

TWO = DERIVATIONS / "two_neuron.toml"
MLP = DERIVATIONS / "small_mlp.toml"


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def two_neuron_backprop(x1, T, w1, b1, w2, b2):
    """Backpropagation through the two-neuron network, written out by hand."""
    a1 = _sigmoid(w1 * x1 + b1)
    a2 = _sigmoid(w2 * a1 + b2)
    delta2 = -(T - a2) * a2 * (1 - a2)
    delta1 = delta2 * w2 * a1 * (1 - a1)
    return {"w1": delta1 * x1, "b1": delta1, "w2": delta2 * a1, "b2": delta2}


def planted_mistake(x1, T, w1, b1, w2, b2):
    """The same, with sigma'(z1) taken as sigma(z1): a classic slip."""
    a1 = _sigmoid(w1 * x1 + b1)
    a2 = _sigmoid(w2 * a1 + b2)
    delta2 = -(T - a2) * a2 * (1 - a2)
    delta1 = delta2 * w2 * a1
    return {"w1": delta1 * x1, "b1": delta1, "w2": delta2 * a1, "b2": delta2}


def mlp_backprop(**v):
    """2 inputs, 3 tanh units, 2 softmax outputs, categorical cross-entropy averaged over
    samples: matrices, as one would write it in NumPy."""
    X = np.atleast_1d(np.array([v["x1"], v["x2"]], dtype=float))        # (2, m)
    Y = np.atleast_1d(np.array([v["T1"], v["T2"]], dtype=float))        # (2, m)
    X, Y = X.reshape(2, -1), Y.reshape(2, -1)
    W1 = np.array([[v[f"w1_{i}_{j}"] for j in (1, 2)] for i in (1, 2, 3)])
    b1 = np.array([[v[f"b1_{i}"]] for i in (1, 2, 3)])
    W2 = np.array([[v[f"w2_{i}_{j}"] for j in (1, 2, 3)] for i in (1, 2)])
    b2 = np.array([[v[f"b2_{i}"]] for i in (1, 2)])
    A1 = np.tanh(W1 @ X + b1)
    Z2 = W2 @ A1 + b2
    E = np.exp(Z2 - Z2.max(axis=0))
    A2 = E / E.sum(axis=0)
    m = X.shape[1]
    D2 = (A2 - Y) / m
    D1 = (W2.T @ D2) * (1 - A1**2)
    gW2, gb2 = D2 @ A1.T, D2.sum(axis=1)
    gW1, gb1 = D1 @ X.T, D1.sum(axis=1)
    out = {}
    for i in range(3):
        for j in range(2):
            out[f"w1_{i + 1}_{j + 1}"] = gW1[i, j]
        out[f"b1_{i + 1}"] = gb1[i]
    for i in range(2):
        for j in range(3):
            out[f"w2_{i + 1}_{j + 1}"] = gW2[i, j]
        out[f"b2_{i + 1}"] = gb2[i]
    return out


def test_correct_backprop_passes() -> None:
    c = assert_gradient_matches(two_neuron_backprop, TWO)
    assert (c.dtype, c.rtol, c.atol, c.note) == ("float64", 1e-7, 1e-12, "")
    assert len(c.points) == 6
    assert c.points[0] == {"x1": 0.1, "T": 0.25, "w1": 0.15, "b1": 0.4, "w2": 0.45,
                           "b2": 0.65}
    yours, symgrad = c.rows[0]["w2"]
    assert yours == pytest.approx(0.0570703982010549, rel=1e-12)
    assert symgrad == pytest.approx(0.0570703982010549, rel=1e-12)


def test_correct_matrix_backprop_of_a_softmax_network_passes() -> None:
    c = assert_gradient_matches(mlp_backprop, MLP, points=4, seed=2)
    assert np.asarray(c.points[0]["x1"]).shape == (4,)  # the spec's four samples at once
    assert len(c.parameters) == 17


def test_planted_mistake_fails_with_values_side_by_side() -> None:
    with pytest.raises(AssertionError) as info:
        assert_gradient_matches(planted_mistake, TWO)
    lines = str(info.value).splitlines()
    assert lines[0] == ("gradients of planted_mistake differ from symgrad's for "
                        f"{TWO} in w1, b1 at point 1 (and at 5 more of the 6 points):")
    assert lines[1] == ("  point (the spec's values): x1=0.1, T=0.25, w1=0.15, b1=0.4, "
                        "w2=0.45, b2=0.65")
    assert lines[2].split() == ["parameter", "yours", "symgrad", "abs", "diff"]
    assert lines[3].split() == ["w1", "0.002568167919", "0.001021395881", "0.00155",
                                "<-", "differs"]
    assert lines[4].split()[0::2] == ["b1", "0.01021395881", "<-"]
    assert lines[5].split()[:3] == ["w2", "0.0570703982", "0.0570703982"]
    assert "<-" not in lines[5] and "<-" not in lines[6]
    assert lines[7] == "  tolerance: |yours - symgrad| <= 1e-07 * |symgrad| + 1e-12 (float64)"


def float32_backprop(**values):
    return {k: np.float32(v) for k, v in
            two_neuron_backprop(**{k: np.float32(v) for k, v in values.items()}).items()}


def test_float32_function_gets_a_float32_tolerance_and_a_note() -> None:
    c = assert_gradient_matches(float32_backprop, TWO)
    assert (c.dtype, (c.rtol, c.atol)) == ("float32", TOLERANCES["float32"])
    assert c.note == ("note: float32_backprop returns float32; compared with a tolerance "
                      "suited to float32 (rtol=0.0002, atol=1e-06; machine epsilon 1.19e-07)")
    with pytest.raises(AssertionError):  # the same function fails a float64 tolerance
        assert_gradient_matches(float32_backprop, TWO, rtol=1e-12, atol=0.0)


def test_float32_failure_message_carries_the_note() -> None:
    def wrong32(**values):
        g = float32_backprop(**values)
        g["b2"] = np.float32(2) * g["b2"]
        return g

    with pytest.raises(AssertionError) as info:
        assert_gradient_matches(wrong32, TWO)
    message = str(info.value)
    assert "tolerance: |yours - symgrad| <= 0.0002 * |symgrad| + 1e-06 (float32)" in message
    assert message.endswith("note: wrong32 returns float32; compared with a tolerance suited "
                            "to float32 (rtol=0.0002, atol=1e-06; machine epsilon 1.19e-07)")


def test_missing_and_extra_gradients_fail() -> None:
    def partial(**values):
        g = two_neuron_backprop(**values)
        del g["b1"]
        g["w3"] = 0.0
        return g

    with pytest.raises(AssertionError) as info:
        assert_gradient_matches(partial, TWO, points=1)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("gradients of partial differ from symgrad's for ")
    assert lines[0].endswith(" in b1, w3 at point 1 (and at 1 more of the 2 points):")
    assert [line.split()[0] for line in lines[3:8]] == ["w1", "b1", "w2", "b2", "w3"]
    assert [line.endswith("<- missing") for line in lines[3:8]] == [False, True, False,
                                                                     False, False]
    assert lines[7].split() == ["w3", "(not", "a", "parameter)", "<-", "extra"]


def test_not_a_mapping() -> None:
    with pytest.raises(AssertionError) as info:
        assert_gradient_matches(lambda **v: [1.0], TWO)
    assert str(info.value) == ("<lambda> returned list; expected a mapping from parameter "
                               "name to gradient (w1, b1, w2, b2)")


def test_selected_parameters_and_a_derivation() -> None:
    d = derive(load(TWO))

    def only_w2(**values):
        return {"w2": two_neuron_backprop(**values)["w2"]}

    assert assert_gradient_matches(only_w2, d, wrt=["w2"]).parameters == ("w2",)
    with pytest.raises(UnknownNameError):
        assert_gradient_matches(only_w2, d, wrt=["w9"])


def test_a_network_object_is_accepted() -> None:
    c = assert_gradient_matches(two_neuron_backprop, load(TWO), points=2, include_spec=False)
    assert len(c.points) == 2
    assert c.points[0] != {"x1": 0.1, "T": 0.25, "w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}
