"""The vanishing gradient: slope bounds, the symbolic product, the measured per-layer sizes
(sigmoid shrinks and stays under its bound, ReLU does not shrink), the figure, the command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.errors import ArgumentError
from symgrad.analysis.vanishing import (derivative_bound, factor_product, measure, measure_spec, plot,
                               reading)

from .conftest import run_cli_here as run_cli



BOUNDS = [  # activation, sup |f'|, tolerance (0: exact)
    ("sigmoid", sp.Rational(1, 4), 0),
    ("tanh", sp.Integer(1), 0),
    ("relu", sp.Integer(1), 0),
    ("binary_step", sp.Integer(0), 0),
    ("linear", sp.Integer(1), 0),
    ("leaky_relu", sp.Integer(1), 0),
    ("elu", sp.Integer(1), 0),
    ("softplus", sp.Integer(1), 0),
    ("silu", 1.0998393, 1e-6),  # at z = 2.3994, where silu'' = 0
    ("gelu", 1.1289041, 1e-6),  # at z = sqrt(2)
]


@pytest.mark.parametrize("name, bound, tol", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_slope_bounds(name: str, bound: object, tol: float) -> None:
    got = derivative_bound(name)
    if tol:
        assert float(got) == pytest.approx(float(bound), abs=tol)  # type: ignore[arg-type]
    else:
        assert got == bound


def test_symbolic_product_and_its_bound() -> None:
    product, bound = factor_product("sigmoid", 10)
    a, l = sp.IndexedBase("a"), sp.Symbol("l", integer=True, positive=True)
    assert product == sp.Product(a[l] * (1 - a[l]), (l, 1, 10))
    assert bound == sp.Rational(1, 4) ** 10
    assert factor_product("tanh", 5) == (sp.Product(1 - a[l] ** 2, (l, 1, 5)), 1)


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    return {name: measure(name, depth=8, width=16, seeds=9) for name in ("sigmoid", "relu",
                                                                         "tanh")}


def test_sigmoid_gradients_shrink_layer_by_layer_under_the_bound(results) -> None:
    s = results["sigmoid"]
    assert np.all(np.diff(s.gradient) > 0)  # layer 1 smallest, each layer smaller than the next
    assert s.ratio < 1e-3
    assert np.all(s.factors <= s.bound)
    np.testing.assert_allclose(s.bound, 0.25 ** np.arange(8, 0, -1))


def test_relu_gradients_do_not_shrink(results) -> None:
    r = results["relu"]
    assert r.ratio > 0.2
    assert np.min(r.gradient) > 0.2 * r.gradient[-1]
    assert np.all(r.factors <= r.bound)


def test_a_chain_of_sigmoid_units_shrinks_too() -> None:
    chain = measure("sigmoid", depth=6, width=1, seeds=9)
    assert np.all(np.diff(chain.gradient) > 0)
    assert np.all(chain.factors <= chain.bound)


def test_reading_quotes_the_numbers(results) -> None:
    text = reading([results["sigmoid"], results["tanh"], results["relu"]])
    s = results["sigmoid"]
    assert f"the first layer's gradient is {s.ratio:.2g} times the last layer's" in text
    assert "never more than 1/4" in text
    assert "With tanh and relu the gradient keeps its order of magnitude" in text


@pytest.mark.parametrize("ext, magic", [("svg", b"<?xml"), ("pdf", b"%PDF"),
                                        ("png", b"\x89PNG")])
def test_plot_writes_the_format_of_the_extension(results, tmp_path: Path, ext: str,
                                                 magic: bytes) -> None:
    path = plot([results["sigmoid"], results["relu"]], tmp_path / f"v.{ext}")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"v.{ext}"]  # no temporary left behind


def test_plot_rejects_an_unknown_extension(results, tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match=r"^cannot write a figure as '.jpg'; use one of: "
                                            r"\.svg, \.pdf, \.png$"):
        plot([results["sigmoid"]], tmp_path / "v.jpg")
    assert list(tmp_path.iterdir()) == []


def test_measure_rejects_softmax() -> None:
    with pytest.raises(ArgumentError, match="^activation 'softmax' is not elementwise"):
        measure("softmax", depth=3)


def test_cli_vanishing(tmp_path: Path) -> None:
    out = tmp_path / "v.svg"
    r = run_cli("vanishing", "--depth", "6", "--width", "8", "--seeds", "5", "--activations",
                "sigmoid,relu", "--plot", out)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("median RMS of dE/dW_l at initialization (6 layers, 8 units a layer, 5 "
                        "seeds); layer 1 is the input side")
    assert lines[1].split() == ["layer", "sigmoid", "relu"]
    assert "  sigmoid: Product((1 - a[l])*a[l], (l, 1, 6)) <= 1/4096   (measured: " in r.stdout
    assert out.read_bytes().startswith(b"<?xml")


@pytest.mark.parametrize("args, message", [
    (["--activations", "sigmod"], "unknown activation 'sigmod'; known: sigmoid, tanh"),
    (["--depth", "0"], "--depth must be between 1 and 200, got 0"),
    (["--plot", "v.gif"], "--plot: cannot write 'v.gif'; use a file ending in .svg, .pdf, .png"),
], ids=["activation", "depth", "plot"])
def test_cli_vanishing_bad_input(args: list[str], message: str) -> None:
    r = run_cli("vanishing", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"symgrad vanishing: error: {message}")
    assert len(r.stderr.splitlines()) == 1


def test_measure_spec_follows_the_spec_architecture() -> None:
    from symgrad.spec import read_spec

    from .conftest import DERIVATIONS

    chain = measure_spec(read_spec(DERIVATIONS / "deep_sigmoid_chain.toml"), seeds=7)
    assert (chain.activation, chain.depth, chain.width) == ("sigmoid", 8, 1)
    assert np.all(np.diff(chain.gradient) > 0) and np.all(chain.factors <= chain.bound)
    digits = measure_spec(read_spec(DERIVATIONS / "digits_mlp.toml"), seeds=3)
    assert digits.activation == "sigmoid/softmax"
    np.testing.assert_array_equal(digits.bound, [0.25, 1.0])  # softmax output: no slope factor
