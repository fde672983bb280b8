"""What an exercise can ask, one entry per kind of question, and the computations of one
variant that answer them (:class:`Work`).

Each :class:`Kind` holds every facet of its questions: what ``of`` must name, the prompt
on the sheet (text with ``$...$`` LaTeX, generated from the network's symbols), the short
label, the exact answer (from the derivation: :meth:`Derivation.at`, ``loss_at``,
``evaluate``, or training for a count of iterations) and the answer of a hand computation
(:class:`~symgrad.exercises.hand.Hand`), which the usual mistakes and rounding change.

>>> sorted(KINDS)
['forward', 'gradient', 'iterations', 'loss', 'symbolic', 'update']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Callable, Mapping

from sympy import Symbol

from ..errors import DivergenceError, listed
from ..network import Network
from ..printing import latex, partial_latex, partial_text, text
from ..spec import Spec
from .hand import NO_SLIP, Hand, Slip

if TYPE_CHECKING:
    from .template import Question, Template

__all__ = ["Kind", "KINDS", "Work", "Degenerate", "MAX_ITERATIONS", "number_latex"]

#: A count of iterations is looked for up to this many updates.
MAX_ITERATIONS = 10_000
#: A gradient norm this close (relatively) to the tolerance makes a count of iterations a
#: matter of rounding.
BORDERLINE = 1e-6


class Degenerate(Exception):
    """A variant whose numbers make a poor exercise: ``reason`` is a key of
    :data:`~symgrad.exercises.variants.REASONS`, ``detail`` what was found."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def number_latex(value: float) -> str:
    r"""A number as LaTeX: ``0.001``, ``10^{-9}``, ``2.5 \cdot 10^{-7}``.

    >>> number_latex(0.001), number_latex(1e-9), number_latex(2.5e-7)
    ('0.001', '10^{-9}', '2.5 \\cdot 10^{-7}')
    """
    shown = f"{value:g}"
    if "e" not in shown:
        return shown
    mantissa, exponent = shown.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else f"{mantissa} \\cdot {power}"


class Work:
    """The computations of one variant: exact values from the derivation, and hand
    computations (cached by slip and rounding). ``values`` holds every parameter, input
    and target; ``spec`` is the variant's spec (for training)."""

    def __init__(self, template: "Template", values: Mapping[str, object],
                 rate: float | None, spec: Spec) -> None:
        self.template = template
        self.derivation = template.derivation
        self.values = values
        self.rate = rate
        self.spec = spec
        self._hands: dict[tuple[Slip, int | None], Hand] = {}

    @property
    def network(self) -> Network:
        return self.derivation.network

    @cached_property
    def point(self) -> dict[Symbol, float]:
        """Every symbol's exact value (the first sample)."""
        return self.derivation.evaluate(self.values)[0]

    @cached_property
    def gradients(self) -> dict[str, float]:
        return self.derivation.at(self.values)

    @cached_property
    def loss(self) -> float:
        return self.derivation.loss_at(self.values)

    def hand(self, slip: Slip = NO_SLIP, digits: int | None = None) -> Hand:
        key = (slip, digits)
        if key not in self._hands:
            forward = None if slip == NO_SLIP or slip.forward else self.hand(NO_SLIP, digits)
            self._hands[key] = Hand(self.derivation, self.values, digits=digits, slip=slip,
                                    forward=forward)
        return self._hands[key]

    def parameter(self, name: str) -> float:
        return float(self.values[name])  # type: ignore[arg-type]  # parameters are numbers

    @cached_property
    def iterations(self) -> int:
        """Updates until the gradient norm is at most the spec's tolerance."""
        from ..train import train

        tolerance = self.spec.training.tolerance or 0.0  # the template requires one
        try:
            result = train(Network.from_spec(self.spec), learning_rate=self.rate,
                           iterations=MAX_ITERATIONS, tolerance=tolerance, progress=False,
                           compiled=self.template.compiled)
        except DivergenceError as exc:
            raise Degenerate("diverges", f"gradient descent diverges at iteration "
                                         f"{exc.iteration}") from None
        norms = [step.grad_norm for step in result.history]
        if norms[-1] > tolerance:
            raise Degenerate("slow", f"the gradient norm is still {norms[-1]:.3g} after "
                                     f"{MAX_ITERATIONS} updates")
        close = [n for n in norms[-2:] if abs(n - tolerance) <= BORDERLINE * tolerance]
        if close:
            raise Degenerate("borderline", f"the gradient norm {close[0]:.9g} is within "
                                           f"rounding of the tolerance {tolerance:g}")
        return result.iterations


def _symbol_of(of: str, network: Network, spec: Spec) -> str | None:
    if of not in {str(s) for s in network.equations}:
        return (f"'{of}' is not a forward quantity of the network; they are: "
                f"{listed(network.equations)}")
    many = [k for k, v in spec.data.values.items() if isinstance(v, tuple)]
    if many:
        return (f"a forward value needs one sample; data.{many[0]} has "
                f"{len(spec.data.values[many[0]])}")  # type: ignore[arg-type]
    return None


def _parameter_of(of: str, network: Network, spec: Spec) -> str | None:
    names = [str(p) for p in network.parameters]
    if of not in names:
        return f"'{of}' is not a parameter of the network; they are: {listed(names)}"
    return None


def _nothing_of(of: str, network: Network, spec: Spec) -> str | None:
    return None if of == "" else "this kind of question takes no 'of'"


def _convergence_of(of: str, network: Network, spec: Spec) -> str | None:
    if spec.training.tolerance is None:
        return ("a count of iterations needs training.tolerance: the gradient norm at which "
                "descent stops")
    return _nothing_of(of, network, spec)


def _gradient_text(net: Network, of: str) -> str:
    return partial_text(net.loss_symbol, net.symbol(of), unicode=False)


def _gradient_latex(w: Work, q: "Question") -> str:
    net = w.network
    return partial_latex(net.loss_symbol, net.symbol(q.of), net)


def _iterations_prompt(w: Work, q: "Question") -> str:
    net = w.network
    tol = number_latex(w.spec.training.tolerance or 0.0)
    norm = (rf"\left|{partial_latex(net.loss_symbol, net.parameters[0], net)}\right|"
            if len(net.parameters) == 1 else rf"\lVert \nabla {latex(net.loss_symbol)} \rVert")
    return (f"Starting from the given values, how many gradient-descent updates does it take "
            f"until ${norm} \\le {tol}$?")


@dataclass(frozen=True)
class Kind:
    """One kind of question and every facet of it."""

    name: str
    #: what ``of`` must name: checks it, returning the problem or ``None``
    check_of: Callable[[str, Network, Spec], str | None]
    #: the short label of a question about ``of``: ``a2``, ``dE/dw2``
    label: Callable[[Network, str], str]
    #: the sentence on the sheet, with ``$...$`` math
    prompt: Callable[[Work, "Question"], str]
    #: the right answer: a number, or an expression as text
    exact: Callable[[Work, "Question"], float | str]
    #: the answer of a hand computation (slipped or rounded); ``None``: not by hand
    by_hand: Callable[[Hand, Work, "Question"], float] | None = None
    numeric: bool = True
    needs_rate: bool = False
    #: the tolerance unless the question says (``None``: the exercise's default)
    tolerance: float | None = None


def _update(g: float, w: Work, q: "Question") -> float:
    return w.parameter(q.of) - (w.rate or 0.0) * g


KINDS: Mapping[str, Kind] = {k.name: k for k in (
    Kind("forward", _symbol_of, lambda net, of: of,
         lambda w, q: f"Compute ${latex(w.network.symbol(q.of), w.network)}$.",
         lambda w, q: w.point[w.network.symbol(q.of)],
         lambda h, w, q: h.value(q.of)),
    Kind("loss", _nothing_of, lambda net, of: str(net.loss_symbol),
         lambda w, q: f"Compute the loss ${latex(w.network.loss_symbol)}$.",
         lambda w, q: w.loss, lambda h, w, q: h.loss()),
    Kind("gradient", _parameter_of, _gradient_text,
         lambda w, q: f"Compute ${_gradient_latex(w, q)}$ at the given values.",
         lambda w, q: w.gradients[q.of], lambda h, w, q: h.gradient(q.of)),
    Kind("symbolic", _parameter_of, lambda net, of: f"{_gradient_text(net, of)} in symbols",
         lambda w, q: (f"Write ${_gradient_latex(w, q)}$ in symbols: in the forward "
                       "quantities ($z$, $a$), the inputs, the parameters and the target."),
         lambda w, q: text(w.derivation[q.of].factored), numeric=False),
    Kind("update", _parameter_of, lambda net, of: f"{of} after one update",
         lambda w, q: (f"Compute ${latex(w.network.symbol(q.of), w.network)}$ after one "
                       r"gradient-descent update with the learning rate $\alpha$."),
         lambda w, q: _update(w.gradients[q.of], w, q),
         lambda h, w, q: _update(h.gradient(q.of), w, q), needs_rate=True),
    Kind("iterations", _convergence_of, lambda net, of: "updates to converge",
         _iterations_prompt,
         lambda w, q: float(w.iterations), needs_rate=True, tolerance=0.0),
)}
