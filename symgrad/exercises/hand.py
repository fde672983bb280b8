"""The computation a student does by hand, step by step in float64: the forward pass, the
error signals from the output back, the gradients; each intermediate rounded to the
sheet's significant digits if asked, and with one :class:`Slip` if asked (a bias forgotten, a chain
factor dropped, a derivative taken wrongly).

It walks the derivation's own pieces (the network's forward equations, each unit's
``dE/da`` and ``da/dz`` from :attr:`Derivation.deltas`, each gradient's terms), so a slip
is a substitution into one of them, and without a slip it computes what
:meth:`Derivation.at` computes exactly (the tests hold the two together).

>>> import symgrad
>>> d = symgrad.derive(symgrad.load("derivations/two_neuron.toml"))
>>> hand = Hand(d, d.network.values)
>>> round(hand.gradient("w2"), 6), Hand(d, d.network.values, digits=2).value("a1")
(0.05707, 0.6)
>>> from sympy import Integer
>>> forgot = Slip(local=((d.network.symbol("delta1"), Integer(1)),))
>>> round(Hand(d, d.network.values, slip=forgot).gradient("w1") / hand.gradient("w1"), 6)
4.174711
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from sympy import Expr, Symbol

from ..derive import DeltaStep, Derivation
from ..numbers import evaluate

__all__ = ["Slip", "NO_SLIP", "Hand", "significant"]

Pairs = tuple[tuple[Symbol, Expr], ...]


def significant(values: object, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits, as on a sheet (and as ``printf``
    rounds: the decimal digits, not a product in binary).

    >>> significant(np.array([0.000368757, 0.37754, -12.345, 0.0]), 3)
    array([ 3.69e-04,  3.78e-01, -1.23e+01,  0.00e+00])
    """
    array = np.asarray(values, dtype=float)
    return np.array([float(f"{v:.{digits}g}") for v in array.ravel()]).reshape(array.shape)


@dataclass(frozen=True)
class Slip:
    """How one hand computation departs from the right one (hashable: pairs, not dicts).

    ``forward`` is substituted into the forward equations (``{b2: 0}``: the bias forgotten);
    ``upstream`` replaces a unit's ``dE/da`` and ``local`` its ``da/dz``, by the unit's
    error-signal symbol (``{delta1: 1}``: the factor dropped); ``weights`` is substituted
    into the ``dE/da`` of hidden units (``{w2: 1}``: dropped; ``{w2: 0.42}``: the updated
    weight used too early); ``dz`` into each ``dz/dp`` (``{x1: 1}``, ``{a1: a2}``).
    """

    forward: Pairs = ()
    upstream: Pairs = ()
    weights: Pairs = ()
    local: Pairs = ()
    dz: Pairs = ()


NO_SLIP = Slip()


class Hand:
    """One hand computation of a derivation at ``values`` (numbers, or arrays of samples
    for inputs and targets), rounding every intermediate to ``digits`` significant digits
    if set."""

    def __init__(self, derivation: Derivation, values: Mapping[str, object], *,
                 digits: int | None = None, slip: Slip = NO_SLIP,
                 forward: "Hand | None" = None) -> None:
        """``forward``: a computation at the same values and digits whose forward pass
        this one shares (its slip, if any, must leave the forward pass alone)."""
        net = derivation.network
        self.derivation = derivation
        self.digits = digits
        self.slip = slip
        env: dict[Symbol, np.ndarray] = {
            s: np.asarray(values[str(s)], dtype=float).ravel()
            for s in net.parameters + net.inputs + net.targets}
        if forward is not None and not slip.forward:
            env.update({s: forward.env[s] for s in net.equations})
        else:
            changed = dict(slip.forward)
            for symbol, equation in net.equations.items():
                shown = equation.xreplace(changed) if changed else equation
                env[symbol] = self._round(evaluate(shown, env))
        for symbol, step in derivation.deltas.items():  # the output layer first
            env[symbol] = self._round(evaluate(self._delta(step), env))
        self.env = env
        self.samples = max(len(v) for v in env.values())
        self._delta_of = {z: delta for layer in net.layers
                          for z, delta in zip(layer.pre, layer.deltas)}

    def _round(self, value: np.ndarray) -> np.ndarray:
        return value if self.digits is None else significant(value, self.digits)

    def _delta(self, step: DeltaStep) -> Expr:
        """``dE/dz`` of one unit: ``dE/da · da/dz`` with the slip's replacements (``da/dz``
        is 1 without an activation; a softmax unit, whose ``da/dz`` mixes units, keeps the
        derivation's expression)."""
        plain = self.derivation.network.layers[step.layer - 1].activation is None
        if step.local is None and not plain:
            return step.expression
        upstream = dict(self.slip.upstream).get(step.symbol, step.upstream)
        local = dict(self.slip.local).get(step.symbol, step.local if not plain else 1)
        if self.slip.weights:
            upstream = upstream.xreplace(dict(self.slip.weights))
        return upstream * local

    def _reduce(self, per_sample: np.ndarray) -> float:
        total = float(np.sum(np.broadcast_to(per_sample, (self.samples,))))
        if self.derivation.network.loss.reduction == "mean":
            total /= self.samples
        return total

    def value(self, name: str | Symbol) -> float:
        """The value of an input, parameter, ``z``, ``a`` or ``delta`` (first sample)."""
        return float(self.env[self.derivation.network.symbol(str(name))][0])

    def loss(self) -> float:
        """The loss, reduced over the samples as the network's loss says."""
        return self._reduce(evaluate(self.derivation.network.error, self.env))

    def gradient(self, name: str) -> float:
        """The gradient of a parameter: each term's error signal times its ``dz/dp``."""
        dz = dict(self.slip.dz)
        total = np.zeros(self.samples)
        for term in self.derivation[name].terms:
            last = term[-1]  # dz/dp of the unit the term ends in
            total = total + self.env[self._delta_of[last.numerator]] * evaluate(
                last.expression.xreplace(dz), self.env)
        return self._reduce(total)

