"""Loss functions and their registry.

A loss is written per sample, in the network's output symbols ``a`` and target symbols
``T``; its ``reduction`` says how the per-sample values combine over a data set
(``sum`` or ``mean``). Derivatives are left to SymPy.

>>> from sympy import symbols
>>> a, T = symbols("a T")
>>> LOSSES["half_sse"].per_sample([a], [T])
(T - a)**2/2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import sympy as sp
from sympy import Expr, Rational

from ..errors import UnknownNameError

__all__ = ["Loss", "LOSSES", "get_loss"]

Reduction = Literal["sum", "mean"]


@dataclass(frozen=True)
class Loss:
    """A registry entry: the per-sample loss and how it reduces over samples."""

    name: str
    title: str
    symbol: str
    reduction: Reduction
    build: Callable[[Sequence[Expr], Sequence[Expr]], Expr]
    needs_probabilities: bool = False
    aliases: tuple[str, ...] = ()

    def per_sample(self, outputs: Sequence[Expr], targets: Sequence[Expr]) -> Expr:
        """The loss of one sample as a SymPy expression."""
        if len(outputs) != len(targets):
            raise ValueError(f"{len(outputs)} outputs but {len(targets)} targets")
        return self.build(outputs, targets)


def _squares(outputs: Sequence[Expr], targets: Sequence[Expr]) -> Expr:
    return sp.Add(*((t - a) ** 2 for a, t in zip(outputs, targets)))


def _bce(outputs: Sequence[Expr], targets: Sequence[Expr]) -> Expr:
    return -sp.Add(*(t * sp.log(a) + (1 - t) * sp.log(1 - a) for a, t in zip(outputs, targets)))


def _cce(outputs: Sequence[Expr], targets: Sequence[Expr]) -> Expr:
    return -sp.Add(*(t * sp.log(a) for a, t in zip(outputs, targets)))


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("sse", "Sum of squared errors", "J", "sum", _squares,
             aliases=("sum_of_squares",)),
        Loss("half_sse", "Half the sum of squared errors", "E", "sum",
             lambda a, t: Rational(1, 2) * _squares(a, t), aliases=("squared_error",)),
        Loss("mse", "Mean squared error", "E", "mean",
             lambda a, t: _squares(a, t) / len(a)),
        Loss("half_mse", "Half the mean squared error, 1/(2m)", "E", "mean",
             lambda a, t: _squares(a, t) / (2 * len(a))),
        Loss("bce", "Binary cross-entropy", "E", "mean", _bce, needs_probabilities=True,
             aliases=("binary_cross_entropy",)),
        Loss("cce", "Categorical cross-entropy", "E", "mean", _cce, needs_probabilities=True,
             aliases=("cross_entropy", "categorical_cross_entropy")),
    )
}

_ALIASES: dict[str, str] = {alias: l.name for l in LOSSES.values() for alias in l.aliases}


def get_loss(name: str) -> Loss:
    """Look a loss up by name or alias; an unknown name lists the known ones.

    >>> get_loss("cross_entropy").name
    'cce'
    """
    try:
        return LOSSES[_ALIASES.get(name, name)]
    except KeyError:
        raise UnknownNameError("loss", name, list(LOSSES)) from None
