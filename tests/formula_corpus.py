"""The corpus of formula-defined functions: each given only as spec text, with an
independent implementation (PyTorch, written by hand from the textbook definition) and
the points where it has kinks. Shared by tests/test_formulas.py, the export tests and
benchmarks/formula_lambdify.py.

``ACTIVATIONS``: records whose ``spec`` is a ``[activations.NAME]`` table; ``LOSSES``:
records whose ``spec`` is a ``[losses.NAME]`` table, in output ``a`` and target ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Record", "ACTIVATIONS", "LOSSES", "spec_of", "network_spec"]


@dataclass(frozen=True)
class Record:
    """One formula: its spec table, a PyTorch implementation ``torch_f(torch, x, *p)``
    (for losses ``torch_f(torch, a, T)``), the kinks (points where it is not
    differentiable) and the parameters' values."""

    name: str
    spec: str
    torch_f: Callable[..., Any]
    kinks: tuple[float, ...] = ()
    params: dict[str, float] = field(default_factory=dict)


_SELU_L, _SELU_A = 1.0507009873554805, 1.6732632423543772

ACTIVATIONS: tuple[Record, ...] = (
    Record("mish", 'formula = "z * tanh(softplus(z))"',
           lambda t, x: x * t.tanh(t.nn.functional.softplus(x))),
    Record("swish_beta", 'formula = "z * sigmoid(beta * z)"\nparameters = { beta = 1.5 }',
           lambda t, x: x * t.sigmoid(1.5 * x), params={"beta": 1.5}),
    Record("swish_exp", 'formula = "z / (1 + exp(-z))"', lambda t, x: x * t.sigmoid(x)),
    Record("softsign", 'formula = "z / (1 + abs(z))"',
           lambda t, x: t.nn.functional.softsign(x), kinks=(0.0,)),
    Record("hard_sigmoid", 'formula = "where(z + 2.5, where(2.5 - z, 0.2 z + 0.5, 1), 0)"',
           lambda t, x: t.clamp(0.2 * x + 0.5, 0.0, 1.0), kinks=(-2.5, 2.5)),
    Record("hard_tanh", 'formula = "max(-1, min(1, z))"',
           lambda t, x: t.clamp(x, -1.0, 1.0), kinks=(-1.0, 1.0)),
    Record("selu", f'formula = "lam * where(z, z, alpha * (exp(z) - 1))"\n'
                   f'parameters = {{ lam = {_SELU_L!r}, alpha = {_SELU_A!r} }}',
           lambda t, x: t.selu(x), kinks=(0.0,), params={"lam": _SELU_L, "alpha": _SELU_A}),
    Record("gelu_tanh", 'formula = "z / 2 * (1 + tanh(sqrt(2 / pi) * (z + 0.044715 z^3)))"',
           lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
    Record("scaled_tanh", 'formula = "1.7159 * tanh(2 z / 3)"',
           lambda t, x: 1.7159 * t.tanh(2 * x / 3)),
    Record("log_cosh", 'formula = "log(cosh(z))"',
           lambda t, x: t.log(t.cosh(x))),
    Record("softplus_beta", 'formula = "log(1 + exp(beta z)) / beta"\nparameters = { beta = 2.0 }',
           # torch's softplus(beta=2) is linear above beta z = 20: logaddexp is exact
           lambda t, x: t.logaddexp(0 * x, 2 * x) / 2, params={"beta": 2.0}),
    Record("log_sigmoid", 'formula = "log(sigmoid(z))"',
           lambda t, x: t.nn.functional.logsigmoid(x)),
    Record("isru", 'formula = "z / sqrt(1 + alpha z^2)"\nparameters = { alpha = 1.0 }',
           lambda t, x: x / t.sqrt(1 + x * x), params={"alpha": 1.0}),
    Record("bent_identity", 'formula = "(sqrt(z^2 + 1) - 1) / 2 + z"',
           lambda t, x: (t.sqrt(x * x + 1) - 1) / 2 + x),
    Record("gaussian", 'formula = "exp(-z^2)"', lambda t, x: t.exp(-x * x)),
    Record("tanh_exp", 'formula = "z * tanh(exp(z))"', lambda t, x: x * t.tanh(t.exp(x))),
)

LOSSES: tuple[Record, ...] = (
    Record("huber", 'formula = "where(delta - abs(a - T), (a - T)^2 / 2, '
                    'delta * (abs(a - T) - delta / 2))"\nparameters = { delta = 1.0 }',
           lambda t, a, y: t.nn.functional.huber_loss(a, y, reduction="sum", delta=1.0),
           kinks=(-1.0, 1.0), params={"delta": 1.0}),
    Record("log_cosh_loss", 'formula = "log(cosh(a - T))"',
           lambda t, a, y: t.log(t.cosh(a - y)).sum()),
    Record("focal", 'formula = "-(T (1 - a)^gamma log(a) + (1 - T) a^gamma log(1 - a))"\n'
                    'parameters = { gamma = 2.0 }',
           lambda t, a, y: -(y * (1 - a) ** 2 * t.log(a)
                             + (1 - y) * a ** 2 * t.log(1 - a)).sum(), params={"gamma": 2.0}),
)


def spec_of(record: Record, kind: str = "activations") -> str:
    """The record's table as spec text."""
    return f"[{kind}.{record.name}]\n{record.spec}\n"


def network_spec(activation: str = "sigmoid", loss: str = "half_sse", extra: str = "") -> str:
    """A one-input, one-unit network spec around ``activation`` and ``loss``."""
    return (f"{extra}\n[network]\ninputs = 1\n"
            f'layers = [{{ units = 1, activation = "{activation}" }}]\nloss = "{loss}"\n'
            "[parameters]\nw = 0.5\nb = 0.1\n[data]\nx = 0.3\nT = 0.25\n")


