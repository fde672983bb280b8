"""The rules both derivation levels apply to an output or a hidden unit, written once.

``dE/da`` of an output comes from the per-sample loss; the delta is ``dE/da`` times the
activation's derivative in its own-output form (the catalogue's rule); at the output a
loss that takes probabilities cancels against its activation's derivative (binary
cross-entropy after a sigmoid: ``(a - T)/(a (1 - a)) · a (1 - a) = a - T``); and a softmax
output under categorical cross-entropy has ``delta_i = a_i · sum_k T_k - T_i``, which is
``a_i - T_i`` when a sample's targets sum to 1 (:func:`softmax_cross_entropy`). The unit
level (:mod:`.unit`) and the matrix level (:mod:`.matrix`) both call these functions.

>>> import sympy as sp
>>> from symgrad.catalogue import get_activation, get_loss
>>> a, T, z = sp.symbols("a T z")
>>> bce, sigmoid = get_loss("bce"), get_activation("sigmoid")
>>> upstream = output_upstream(bce.per_sample([a], [T]), a)
>>> unit_delta(upstream, sigmoid.local(z, a), bce, sigmoid, output=True).expression
-T + a
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import sympy as sp
from sympy import Dummy, Expr, IndexedBase, Symbol

from ..catalogue import Activation, Loss
from ..errors import DerivationError

__all__ = ["UnitDelta", "output_upstream", "unit_delta", "softmax_cross_entropy",
           "ONE_HOT"]

#: What the collapsed softmax cross-entropy delta assumes of the data.
ONE_HOT = "the targets sum to 1 in every sample"


class UnitDelta(NamedTuple):
    """A unit's delta as the derivation shows it, the form before a simplification (or
    ``None``), a note saying which simplification was applied, and what ``expression``
    assumes of the data: ``""`` when it equals ``general`` for any data; otherwise only
    ``general`` is the gradient of the loss everywhere, and numbers are computed from it."""

    expression: Expr
    general: Expr | None
    note: str
    assumption: str = ""


def output_upstream(error: Expr, output: Symbol) -> Expr:
    """``dE/da`` of one output of the per-sample ``error``, with common factors out."""
    return sp.factor_terms(error.diff(output))


def unit_delta(upstream: Expr, local: Expr | None, loss: Loss, activation: Activation | None,
               *, output: bool) -> UnitDelta:
    """``delta = dE/da · da/dz`` of an elementwise unit, and the form before the
    cancellation where the loss's denominator cancels against the activation's derivative."""
    expr = upstream if local is None else upstream * local
    if output and loss.needs_probabilities and activation is not None:
        return UnitDelta(sp.factor_terms(sp.cancel(expr)), expr,
                         f"{loss.title} after a {activation.name} output: the activation's "
                         "derivative cancels the loss's denominator")
    return UnitDelta(expr, None, "")


@lru_cache(maxsize=1)
def _softmax_cross_entropy() -> tuple[Expr, Dummy, Dummy, Dummy]:
    """``dE/dz_i`` of ``E = -sum_k y_k log softmax_k(z)`` over a symbolic number ``n`` of
    classes, derived once with indexed sums, as ``s * total - y`` in three placeholders
    (``s_i``, ``y_i`` and ``sum_k y_k``)."""
    i, j, k = sp.symbols("i j k", integer=True)
    n = Symbol("n", integer=True, positive=True)
    z, y = IndexedBase("z"), IndexedBase("y")
    total = sp.Sum(sp.exp(z[j]), (j, 1, n))
    # E = -sum_k y_k log softmax_k(z) = -sum_k y_k (z_k - log sum_j exp z_j)
    error = -sp.Sum(y[k] * (z[k] - sp.log(total)), (k, 1, n))
    derivative = error.diff(z[i]).doit()
    # the Piecewise splits off i outside 1..n, where z_i is not an input at all
    derivative = sp.expand(derivative.replace(
        lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr))
    # constants (in k) out of the sum over k: sum_k exp(z_i) y_k / S = s_i sum_k y_k
    derivative = derivative.replace(lambda e: isinstance(e, sp.Sum),
                                    lambda e: sp.factor_terms(e.expand()))
    s, target, targets = Dummy("s"), Dummy("y"), Dummy("total")
    general = derivative.subs(sp.exp(z[i]) / total, s).subs(
        sp.Sum(y[k], (k, 1, n)), targets).subs(y[i], target)
    if sp.expand(general - (s * targets - target)) != 0:
        raise DerivationError(f"softmax with cross-entropy gave {general}, not s*sum(y) - y")
    return general, s, target, targets


def softmax_cross_entropy(output: Expr, target: Expr, targets: Expr) -> UnitDelta:
    """The delta of softmax output ``output`` under categorical cross-entropy: ``a - T``
    (``expression``), which assumes the targets of a sample sum to 1, and
    ``a · targets - T`` (``general``), right for any targets; ``targets`` is the sum of the
    sample's targets (``T1 + T2``, or an indexed sum).

    >>> a1, T1, T2 = sp.symbols("a1 T1 T2")
    >>> d = softmax_cross_entropy(a1, T1, T1 + T2)
    >>> d.expression, d.general
    (-T1 + a1, -T1 + a1*(T1 + T2))
    """
    general, s, y, total = _softmax_cross_entropy()
    return UnitDelta(general.xreplace({s: output, y: target, total: 1}),
                     general.xreplace({s: output, y: target, total: targets}),
                     f"softmax with cross-entropy: a - T when {ONE_HOT} (one-hot labels); "
                     "symgrad's numbers use the general form, right for any targets", ONE_HOT)
