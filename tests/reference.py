"""mpmath references for the accuracy sweeps (``tests/test_accuracy.py`` and
``benchmarks/accuracy.py``), written from the textbook formulas and independent of symgrad's
code: the error signal ``dE/dz`` of one output unit, and the loss, under each loss, at up to
800 digits, enough for every cancellation over |z| <= 700 (``1 - tanh(700)**2`` is 1e-608).

One case is an output activation under a loss, for one sample: an elementwise activation
with one output ``a = f(z)``, or a softmax of two units ``(z, 0)`` with targets
``(T, 1 - T)``; the reference is ``dE/dz`` of the first unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import mpmath as mp
import numpy as np

from .test_stability import CATALOGUE  # each elementwise activation's value and slope

#: Working digits of the references: 800 for the outputs that tend to +-1, whose
#: differences to a target of 1 cancel to 608 digits at |z| = 700; 100 for the others.
DIGITS = 800
SATURATING = ("sigmoid", "tanh", "softmax")
#: Below this a value is (nearly) subnormal in float64: it is compared in absolute terms.
FLOOR = 1e-300
#: The points of a sweep: every 20 up to |z| = 700, finer near 0, and where float64
#: sigmoid and tanh round to +-1 (|z| = 19, 37, 40).
SWEEP = np.unique(np.concatenate([np.linspace(-700.0, 700.0, 71), np.linspace(-5.0, 5.0, 41),
                                  [-40.0, -37.0, -19.0, 19.0, 37.0, 40.0, 1e-8, -1e-8]]))
TARGETS = (0.0, 1.0, 0.25)
#: Losses that need outputs in (0, 1), and the activations that give them.
PROBABILITY_LOSSES = ("bce", "cce")
PROBABILITY_OUTPUTS = ("sigmoid", "softmax")

Mpf = mp.mpf

#: The loss of one output ``a`` with target ``t``, of ``K`` outputs; ``log(1 - a)`` given
#: as ``c``, the log of ``1 - a`` computed without the difference.
LOSSES: dict[str, Callable[[Mpf, Mpf, Mpf, int], Mpf]] = {
    "sse": lambda a, t, c, K: (t - a) ** 2,
    "half_sse": lambda a, t, c, K: (t - a) ** 2 / 2,
    "mse": lambda a, t, c, K: (t - a) ** 2 / K,
    "half_mse": lambda a, t, c, K: (t - a) ** 2 / (2 * K),
    "bce": lambda a, t, c, K: -(t * mp.log(a) + (1 - t) * c),
    "cce": lambda a, t, c, K: -t * mp.log(a),
}
#: dE/da_k of each loss for one of ``K`` outputs.
LOSS_SLOPES: dict[str, Callable[[Mpf, Mpf, int], Mpf]] = {
    "sse": lambda a, t, K: 2 * (a - t),
    "half_sse": lambda a, t, K: a - t,
    "mse": lambda a, t, K: 2 * (a - t) / K,
    "half_mse": lambda a, t, K: (a - t) / K,
    "bce": lambda a, t, K: (a - t) / (a * (1 - a)),
    "cce": lambda a, t, K: -t / a,
}
_ACTIVATIONS = {c.name: c for c in CATALOGUE}


@dataclass(frozen=True)
class Case:
    """An output activation under a loss."""

    activation: str
    loss: str

    @property
    def units(self) -> int:
        return 2 if self.activation == "softmax" else 1

    @property
    def name(self) -> str:
        return f"{self.activation}-{self.loss}"

    @property
    def digits(self) -> int:
        return DIGITS if self.activation in SATURATING else 100

    def delta(self, z: float, t: float) -> Mpf:
        """``dE/dz`` of the first output unit at ``z`` with target ``t``, exactly."""
        with mp.workdps(self.digits):
            zz, tt = mp.mpf(z), mp.mpf(t)
            slope = LOSS_SLOPES[self.loss]
            if self.activation != "softmax":
                act = _ACTIVATIONS[self.activation]
                return +(slope(mp.mpf(act.value(zz)), tt, 1) * act.slope(zz))
            # softmax of (z, 0): a_1 = sigma(z), a_2 = sigma(-z); da_k/dz_1 = a_k (d_k1 - a_1)
            a = (1 / (1 + mp.exp(-zz)), 1 / (1 + mp.exp(zz)))
            targets = (tt, 1 - tt)
            return +sum(slope(a[k], targets[k], 2) * a[k] * ((k == 0) - a[0])
                        for k in range(2))


    def loss_value(self, z: float, t: float) -> Mpf:
        """The loss of the sample, exactly."""
        with mp.workdps(self.digits):
            zz, tt = mp.mpf(z), mp.mpf(t)
            loss = LOSSES[self.loss]
            if self.activation != "softmax":
                a = mp.mpf(_ACTIVATIONS[self.activation].value(zz))
                return +loss(a, tt, -mp.log1p(mp.exp(zz)), 1)  # log(1 - sigma(z)) if used
            pairs = ((1 / (1 + mp.exp(-zz)), tt, -mp.log1p(mp.exp(zz))),
                     (1 / (1 + mp.exp(zz)), 1 - tt, -mp.log1p(mp.exp(-zz))))
            return +sum(loss(a, t_k, c, 2) for a, t_k, c in pairs)


def cases() -> list[Case]:
    """Every output activation under every loss it can take."""
    names = [c.name for c in CATALOGUE] + ["softmax"]
    return [Case(act, loss) for act in names for loss in LOSS_SLOPES
            if loss not in PROBABILITY_LOSSES or act in PROBABILITY_OUTPUTS]


def relative_error(got: float, want: Mpf) -> float:
    """``|got - want| / |want|``, with ``|want|`` taken as at least :data:`FLOOR`."""
    if not math.isfinite(got):
        return math.inf
    with mp.workdps(DIGITS):
        return float(abs(mp.mpf(got) - want) / max(abs(want), mp.mpf(FLOOR)))
