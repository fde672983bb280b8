"""The catalogue of usual numeric mistakes: one :class:`Mistake` entry each, with its name,
the kinds of question it can happen in, its default partial credit, and how to compute the
wrong values it gives at a variant's numbers, each with the sentence that names it.

Most entries are a :class:`~symgrad.exercises.hand.Slip` in the hand computation (a bias
forgotten, a chain factor dropped, the activation's derivative taken at ``z``); the others
change the result (its sign, a factor 2, the update's direction, a count off by one).
Grading (:mod:`.grading`) compares a student's number with every wrong value of the
question; the nearest within the tolerance names the mistake.

>>> [m.name for m in CATALOGUE]  # doctest: +NORMALIZE_WHITESPACE
['sign', 'factor_two', 'missing_factor', 'activation_derivative', 'wrong_layer',
 'no_bias', 'plus_update', 'early_update', 'off_by_one']
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

import sympy as sp
from sympy import Expr, Symbol

from ..check.result import MISTAKES as CHECK_MISTAKES
from ..network import Layer
from ..printing import partial_text, text
from .hand import Slip
from .questions import KINDS, Work

if TYPE_CHECKING:
    from .template import Question

__all__ = ["Mistake", "Wrong", "CATALOGUE", "DEFAULT_CREDIT", "CREDIT_NAMES", "TITLES",
           "wrong_answers"]

Found = Iterator[tuple[float, str]]  # wrong values, each with its diagnosis


@dataclass(frozen=True)
class Wrong:
    """A wrong answer one usual mistake gives: its name, the value, the diagnosis."""

    mistake: str
    value: float
    diagnosis: str


@dataclass(frozen=True)
class Mistake:
    """One usual mistake: ``kinds`` of question it happens in, default ``credit`` (the
    fraction of the points it still earns), and ``wrong``: its values and diagnoses."""

    name: str
    title: str
    kinds: tuple[str, ...]
    credit: float
    wrong: Callable[[Work, "Question"], Found]


# -- helpers -------------------------------------------------------------------------------


def _slipped(w: Work, q: "Question", slip: Slip) -> float:
    by_hand = KINDS[q.kind].by_hand
    if by_hand is None:  # pragma: no cover - entries list only kinds computed by hand
        raise ValueError(q.kind)
    return by_hand(w.hand(slip), w, q)


def _layers_above(w: Work, q: "Question") -> list[Layer]:
    """The layer of the parameter ``q`` asks about and every layer after it."""
    net = w.network
    return list(net.layers[net.layer_of(net.symbol(q.of)).index - 1:])


def _factors(pairs: Sequence[tuple[Expr, Symbol, Symbol]], negated: bool = False) -> str:
    """``the factor a1*(1 - a1) (da1/dz1)``: expressions with the derivatives they are,
    several joined by "and"; ``negated`` prints a loss's ``a2 - T`` as ``-(T - a2)``."""
    shown = [f"{text(e, negated=negated)} (d{n}/d{d})" for e, n, d in pairs]
    return ("the factor " if len(shown) == 1 else "the factors ") + " and ".join(shown)


def _outputs(w: Work) -> list[Symbol]:
    return list(w.network.layers[-1].deltas)


def _pairs(symbols: Sequence[Symbol], value: Expr) -> tuple[tuple[Symbol, Expr], ...]:
    return tuple((s, value) for s in dict.fromkeys(symbols))


# -- the entries ---------------------------------------------------------------------------


def _sign(w: Work, q: "Question") -> Found:
    net = w.network
    step = w.derivation.deltas[_outputs(w)[0]]
    yield -w.gradients[q.of], (
        f"Your value is the negative of {q.label} (sign error: "
        f"{partial_text(net.loss_symbol, net.layers[-1].post[0], unicode=False)} = "
        f"{text(step.upstream, negated=True)}).")


def _factor_two(w: Work, q: "Question") -> Found:
    net = w.network
    halved = net.loss.name in ("half_sse", "half_mse")
    if q.kind == "loss" and halved:
        yield 2 * w.loss, (f"Your value is 2 {net.loss_symbol}: the 1/2 of "
                           f"{net.loss_symbol} = {text(net.error)} is left out.")
    elif q.kind == "gradient" and halved:
        yield 2 * w.gradients[q.of], (
            f"Your value is 2 times {q.label}: the 2 from differentiating the square is kept "
            f"although the 1/2 in {net.loss_symbol} cancels it.")
    elif q.kind == "gradient" and net.loss.name in ("sse", "mse"):
        yield w.gradients[q.of] / 2, (f"Your value is 1/2 times {q.label}: the 2 from "
                                      "differentiating the square is missing.")


def _missing_factor(w: Work, q: "Question") -> Found:
    net = w.network
    deltas = w.derivation.deltas
    outputs = _outputs(w)
    yield _slipped(w, q, Slip(upstream=_pairs(outputs, sp.Integer(1)))), (
        f"Your value is {q.label} without " + _factors(
            [(deltas[d].upstream, net.loss_symbol, a)
             for d, a in zip(outputs, net.layers[-1].post)], negated=True) + ".")
    layers = _layers_above(w, q)
    for layer in layers:
        if layer.activation is None:
            continue
        yield _slipped(w, q, Slip(local=_pairs(layer.deltas, sp.Integer(1)))), (
            f"Your value is {q.label} without " + _factors(
                [(deltas[d].local, a, z) for d, a, z in
                 zip(layer.deltas, layer.post, layer.pre)]) + ".")
    for layer in layers[1:]:
        weights = [x for row in layer.weights for x in row]
        yield _slipped(w, q, Slip(weights=_pairs(weights, sp.Integer(1)))), (
            f"Your value is {q.label} without the weights of layer {layer.index} "
            f"({', '.join(map(str, dict.fromkeys(weights)))}) in the backward pass.")
    inputs = [t[-1].expression for t in w.derivation[q.of].terms
              if t[-1].kind == "input"]
    if inputs:
        last = w.derivation[q.of].terms[0][-1]
        yield _slipped(w, q, Slip(dz=_pairs(inputs, sp.Integer(1)))), (
            f"Your value is {q.label} without the factor {text(last.expression)} "
            f"(d{last.numerator}/d{last.denominator}).")


def _activation_derivative(w: Work, q: "Question") -> Found:
    deltas = w.derivation.deltas
    for layer in _layers_above(w, q):
        wrong = {d: deltas[d].local.xreplace(dict(zip(layer.post, layer.pre)))
                 for d in layer.deltas if deltas[d].local is not None}
        if not wrong or all(wrong[d] == deltas[d].local for d in wrong):
            continue
        d0, a0, z0 = layer.deltas[0], layer.post[0], layer.pre[0]
        yield _slipped(w, q, Slip(local=tuple(wrong.items()))), (
            f"Your value takes d{a0}/d{z0} as {text(wrong[d0])} instead of "
            f"{text(deltas[d0].local)}: the derivative of the {layer.activation.name} "
            "is written in its output a, not in z.")


def _wrong_layer(w: Work, q: "Question") -> Found:
    terms = w.derivation[q.of].terms
    if len(terms) != 1 or terms[0][-1].kind != "input":
        return
    last = terms[0][-1]
    layer = w.network.layer_of(last.numerator)
    own = layer.post[layer.pre.index(last.numerator)]
    yield _slipped(w, q, Slip(dz=((last.expression, own),))), (
        f"Your value uses {own}, the output of layer {layer.index}, for "
        f"d{last.numerator}/d{last.denominator} instead of its input {text(last.expression)}.")


def _no_bias(w: Work, q: "Question") -> Found:
    net = w.network
    last = net.layer_of(net.symbol(q.of)).index if q.kind == "forward" else len(net.layers)
    for layer in net.layers[:last]:  # a forward value depends on its layer and those before
        if not layer.biases:
            continue
        biases = list(dict.fromkeys(layer.biases))
        yield _slipped(w, q, Slip(forward=_pairs(biases, sp.Integer(0)))), (
            f"Your value is {q.label} computed without the bias "
            f"{', '.join(map(str, biases))} of layer {layer.index}.")


def _plus_update(w: Work, q: "Question") -> Found:
    yield w.parameter(q.of) + (w.rate or 0.0) * w.gradients[q.of], (
        f"Your value is {q.of} + learning rate times d{w.network.loss_symbol}/d{q.of}: the "
        "update adds the gradient instead of subtracting it.")


def _early_update(w: Work, q: "Question") -> Found:
    if w.rate is None:
        return
    later = [x for layer in _layers_above(w, q)[1:] for row in layer.weights for x in row]
    if not later:
        return
    updated = tuple((x, sp.Float(w.parameter(str(x)) - w.rate * w.gradients[str(x)]))
                    for x in dict.fromkeys(later))
    names = ", ".join(str(x) for x, _ in updated)
    yield _slipped(w, q, Slip(weights=updated)), (
        f"Your value uses the updated {names} in the backward pass; every gradient of one "
        "update is taken at the old weights.")


def _off_by_one(w: Work, q: "Question") -> Found:
    count = w.iterations
    yield count + 1.0, ("Your count is one more than the number of updates: the starting "
                        "point is not an update.")
    if count > 0:
        yield count - 1.0, ("Your count is one less than the number of updates: the update "
                            "that reaches the tolerance counts too.")


#: Every usual mistake, in the order grading prefers them when two give the same value.
CATALOGUE: tuple[Mistake, ...] = (
    Mistake("sign", "a sign error", ("gradient",), 0.5, _sign),
    Mistake("factor_two", "a factor 2 from the 1/2", ("gradient", "loss"), 0.5, _factor_two),
    Mistake("missing_factor", "a missing chain factor", ("gradient",), 0.25, _missing_factor),
    Mistake("activation_derivative", "the wrong activation derivative", ("gradient",), 0.25,
            _activation_derivative),
    Mistake("wrong_layer", "the wrong layer's activation", ("gradient",), 0.25, _wrong_layer),
    Mistake("no_bias", "the bias forgotten", ("forward", "loss", "gradient"), 0.5, _no_bias),
    Mistake("plus_update", "updating with + instead of -", ("update",), 0.5, _plus_update),
    Mistake("early_update", "the updated weight used too early", ("gradient", "update"), 0.5,
            _early_update),
    Mistake("off_by_one", "a count off by one", ("iterations",), 0.5, _off_by_one),
)

#: The partial credit of each mistake unless a template says otherwise: the catalogue's,
#: and for symbolic answers that of each kind ``symgrad check`` names.
DEFAULT_CREDIT: Mapping[str, float] = MappingProxyType({
    **{kind: 0.25 for kind in CHECK_MISTAKES}, "sign": 0.5, "constant_factor": 0.5,
    **{m.name: m.credit for m in CATALOGUE}})
#: Every name ``[exercise.credit]`` may set.
CREDIT_NAMES: tuple[str, ...] = tuple(DEFAULT_CREDIT)
#: Each mistake's name in words, for reports (``None``: wrong, but no usual mistake).
TITLES: Mapping[str | None, str] = MappingProxyType({
    **{kind: kind.replace("_", " ") for kind in CHECK_MISTAKES},
    "constant_factor": "a constant factor", "layer_index": "a layer index mixed up",
    "unit_index": "a unit index mixed up", "extra_factor": "an extra chain factor",
    **{m.name: m.title for m in CATALOGUE}, None: "wrong, no usual mistake"})


def wrong_answers(w: Work, q: "Question") -> list[Wrong]:
    """Every wrong value the catalogue's mistakes give for ``q`` at ``w``'s numbers, in
    catalogue order; values that are not finite are left out."""
    out = []
    for mistake in CATALOGUE:
        if q.kind in mistake.kinds:
            out += [Wrong(mistake.name, value, said) for value, said in mistake.wrong(w, q)
                    if value == value and abs(value) != float("inf")]
    return out
