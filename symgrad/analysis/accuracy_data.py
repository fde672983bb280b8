"""The measured accuracy of the built-in activations: written by
``python -m symgrad.analysis.accuracy`` (:func:`~symgrad.analysis.accuracy.builtin_sweeps`);
do not edit. tests/test_accuracy_lines.py sweeps again and compares."""

from __future__ import annotations

from typing import Any

SWEPT: dict[str, Any] = {"points": 401, "limit": 700.0}
BUILTIN: dict[str, dict[str, Any]] = {
    "sigmoid": {"worst": 3.8683775283806117e-16, "at": -0.5336699231206312, "holds": 700.0, "nonfinite": None},
    "tanh": {"worst": 2.791940552382973e-16, "at": -7.0, "holds": 700.0, "nonfinite": None},
    "relu": {"worst": 0.0, "at": -700.0, "holds": 700.0, "nonfinite": None},
    "binary_step": {"worst": 0.0, "at": -700.0, "holds": 700.0, "nonfinite": None},
    "linear": {"worst": 0.0, "at": -700.0, "holds": 700.0, "nonfinite": None},
    "leaky_relu": {"worst": 1.2250736823450005e-16, "at": -406.0, "holds": 700.0, "nonfinite": None},
    "elu": {"worst": 9.746901640912742e-17, "at": -0.001, "holds": 700.0, "nonfinite": None},
    "softplus": {"worst": 2.261919468286835e-16, "at": -0.5336699231206312, "holds": 700.0, "nonfinite": None},
    "silu": {"worst": 2.891222590974947e-15, "at": -1.2328467394420684, "holds": 700.0, "nonfinite": None},
    "gelu": {"worst": 1.0013768425311891e-13, "at": -31.5, "holds": 700.0, "nonfinite": None},
}
