"""Regularization penalties: a term added once to the cost (not per sample).

``[network] penalty = { l2 = 1e-3 }`` adds ``lambda/2 * sum(w**2)`` over the weights to
the cost, ``{ l1 = 1e-3 }`` adds ``lambda * sum(|w|)``; ``biases = true`` penalizes the
biases too. The penalty adds ``lambda * w`` (L2) or ``lambda * sign(w)`` (L1) to each
penalized parameter's gradient, at the unit level (``dE/dw2 = ... + lambda w2``) and the
layer level (``dE/dW = delta a^T + lambda W``) alike. It is added after the samples are
reduced (summed, or averaged for a mean loss): ``E = sum_n E_n + lambda/2 sum w^2``.

|w| has a kink at 0; the convention, as for the kinked activations: sign(0) = 0, so a
weight at exactly 0 gets no L1 term.

>>> import numpy as np
>>> from sympy import Symbol
>>> l2 = Penalty(PENALTIES["l2"], 0.5)
>>> w = Symbol("w2")
>>> l2.term(w), l2.cost([w])
(lambda*w2, lambda*w2**2/2)
>>> cost, terms = l2.at({"w": np.array([2.0, -4.0]), "b": 3.0}, ["w"])
>>> cost, terms["w"].tolist()
(5.0, [1.0, -2.0])
>>> Penalty(PENALTIES["l1"], 0.5).term(w)
lambda*sign(w2)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

__all__ = ["PenaltyKind", "Penalty", "PENALTIES", "LAMBDA"]

#: The strength's symbol in every printed form: ``lambda`` (LaTeX ``\lambda``).
LAMBDA = Symbol("lambda")


@dataclass(frozen=True)
class PenaltyKind:
    """One kind of penalty: its cost and gradient per parameter, without lambda and the
    ``scale`` in front, both symbolically and on NumPy arrays; the convention at a kink
    (``""``: none), and the cost as a formula for reports (``latex``)."""

    name: str
    title: str
    cost: Callable[[Expr], Expr]
    slope: Callable[[Expr], Expr]
    cost_of: Callable[[np.ndarray], Any]
    slope_of: Callable[[np.ndarray], Any]
    kink: str = ""
    scale: Expr = sp.S.One
    latex: str = ""


#: The kinds ``[network] penalty`` takes, by the spec's key.
PENALTIES: Mapping[str, PenaltyKind] = MappingProxyType({
    "l2": PenaltyKind("l2", "L2 penalty (weight decay), lambda/2 sum w^2",
                      lambda w: w**2, lambda w: w,
                      lambda w: np.square(w).sum(), lambda w: w, scale=sp.Rational(1, 2),
                      latex=r"\frac{\lambda}{2} \sum w^{2}"),
    "l1": PenaltyKind("l1", "L1 penalty, lambda sum |w|", sp.Abs, sp.sign,
                      lambda w: np.abs(w).sum(), np.sign,
                      "d|w|/dw at w = 0 is sign(0) = 0 (a weight at 0 gets no L1 term)",
                      latex=r"\lambda \sum \left|w\right|"),
})


@dataclass(frozen=True)
class Penalty:
    """A penalty of a network: its kind, its strength lambda, and whether biases count."""

    kind: PenaltyKind
    strength: float
    biases: bool = False

    @property
    def symbol(self) -> Symbol:
        return LAMBDA

    @property
    def values(self) -> dict[Symbol, Expr]:
        """Lambda's value, to substitute into a printed form for numbers."""
        return {LAMBDA: sp.Float(self.strength, 17)}

    def term(self, parameter: Expr) -> Expr:
        """What the penalty adds to the gradient of ``parameter``: ``lambda * w``."""
        return LAMBDA * self.kind.slope(parameter)

    def cost(self, parameters: Iterable[Expr]) -> Expr:
        """What the penalty adds to the cost: ``lambda * sum(w**2) / 2`` for L2."""
        return self.kind.scale * LAMBDA * sp.Add(*(self.kind.cost(p) for p in parameters))

    def at(self, params: Mapping[str, Any], names: Iterable[str]
           ) -> tuple[float, dict[str, Any]]:
        """The penalty's cost and its term in each gradient at the parameter values
        ``params``, for the parameters ``names`` (numbers or arrays): what both levels add
        to the loss and gradients reduced over the samples."""
        cost, terms = 0.0, {}
        for name in names:
            value = np.asarray(params[name])
            value = value if value.dtype.kind == "f" else value.astype(np.float64)
            cost += float(self.kind.scale) * self.strength * float(self.kind.cost_of(value))
            terms[name] = self.strength * self.kind.slope_of(value)
        return cost, terms
