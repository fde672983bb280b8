"""A network becomes a derivation: the chain rule for every weight and bias.

The derivation never differentiates the fully substituted loss. It works on the
intermediate symbols (``z``, ``a``) and the error signals ``delta = dE/dz`` of each
layer, computed backwards by the delta recursion:

* output layer: ``delta_L = dE/da_L * da_L/dz_L`` (summed over the softmax Jacobian
  for a softmax output),
* hidden layer: ``delta_l = (sum_k delta_{l+1,k} w_{l+1,k}) * da_l/dz_l``,
* ``dE/dw_l,ij = delta_l,i a_{l-1,j}`` and ``dE/db_l,i = delta_l,i``.

A tied parameter (one symbol in several units) gets one term per unit it enters, and its
gradient is their sum. ``d["a1"]``, ``d["z2"]`` or ``d["x1"]`` give the gradient with
respect to an intermediate or an input the same way (built on request; iterating a
derivation lists the parameters only).

The work is linear in depth. Activation derivatives are written in terms of the
layer's own output where the activation allows it (``a (1 - a)`` for the sigmoid,
``1 - a**2`` for tanh). The fully substituted (expanded) form is built only on request.

>>> from symgrad.network import load
>>> d = derive(load("derivations/two_neuron.toml"))
>>> d["w2"].factored
a1*a2*(1 - a2)*(-T + a2)
>>> round(d["w2"].at(d.network.values), 5)
0.05707
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Mapping

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from ..errors import UnknownNameError, listed
from ..network import Layer, Network
from ..numbers import ExactPoint, exact_points, finite_float
from ..printing import aligned_display, latex, partial_latex
from .rules import UnitDelta, output_upstream, softmax_cross_entropy, unit_delta

__all__ = ["Factor", "DeltaStep", "Gradient", "Derivation", "derive"]



@dataclass(frozen=True)
class Factor:
    """One partial derivative in a chain: ``d numerator / d denominator = expression``.

    ``kind`` says which rule produced it: ``"loss"`` (differentiating the loss),
    ``"activation"`` (the activation's derivative), ``"weight"`` (``dz/da`` is a weight),
    ``"input"`` (``dz/dw`` is the layer's input, or the sum of the inputs a tied weight
    multiplies), ``"bias"`` (``dz/db = 1``) or ``"delta"`` (the error signal of a unit,
    defined by the delta recursion). ``source`` is the expression that was differentiated.
    """

    numerator: Symbol
    denominator: Symbol
    expression: Expr
    kind: str
    source: Expr


@dataclass(frozen=True)
class DeltaStep:
    """The error signal ``delta = dE/dz`` of one unit, as the recursion defines it.

    ``upstream`` is ``dE/da`` of the unit (from the loss, or from the next layer's deltas
    and weights), ``local`` its activation derivative ``da/dz`` (``None`` for a softmax,
    whose Jacobian mixes units), and ``expression`` the delta in terms of intermediates and
    the next layer's delta symbols. ``general`` is set when a known simplification was
    applied (softmax with cross-entropy collapsing to ``a - T``): it holds the form before.
    ``assumption`` says what ``expression`` assumes of the data (``""``: nothing, it equals
    ``general``); numbers come from :attr:`unconditional`, right for any data.
    """

    symbol: Symbol
    pre: Symbol
    layer: int
    upstream: Expr
    local: Expr | None
    expression: Expr
    general: Expr | None = None
    note: str = ""
    assumption: str = ""

    @property
    def unconditional(self) -> Expr:
        """The delta for any data: ``general`` where ``expression`` assumes something."""
        return self.general if self.assumption and self.general is not None \
            else self.expression


Chain = tuple[Factor, ...]


class Gradient:
    """The derivative of the loss with respect to one parameter, or one named quantity.

    Attributes
    ----------
    parameter : the weight or bias (for ``d["a1"]`` and the like: that symbol); also ``wrt``.
    terms : one chain of factors per way the loss depends on ``parameter``, output side
        first; the gradient is the sum of their products. An untied parameter has one
        term; a tied one a term per unit it enters; ``a1`` of a wide network a term per
        unit of the next layer.
    chain : the factors of all terms, term by term (the one chain of an untied parameter).
    delta_form : in the units' error signals: ``delta * input``, summed over the terms.
    factored : the sum of products in intermediates (``z``, ``a``), every delta substituted.
    expanded : in inputs, targets and parameters only (built on first use).
    note : why the gradient is a sum (a tied parameter) or what an alias means, else ``""``.
    penalty : what the network's penalty adds, once, after the samples are reduced
        (``lambda*w2``; ``0`` without a penalty, for a bias unless it is penalized, and for
        an input or intermediate): ``factored`` and ``expanded`` include it, ``delta_form``
        (per sample) does not.
    """

    def __init__(self, derivation: "Derivation", parameter: Symbol, terms: tuple[Chain, ...],
                 delta_form: Expr, note: str = "", penalty: Expr = sp.S.Zero) -> None:
        self.derivation = derivation
        self.parameter = parameter
        self.terms = terms
        self.delta_form = delta_form
        self.note = note
        self.penalty = penalty

    @property
    def name(self) -> str:
        return str(self.parameter)

    @property
    def wrt(self) -> Symbol:
        """The symbol differentiated with respect to (``parameter``)."""
        return self.parameter

    @property
    def chain(self) -> Chain:
        return tuple(f for term in self.terms for f in term)

    @cached_property
    def factored(self) -> Expr:
        if self.derivation.network.is_chain:
            chains = sp.Add(*(sp.Mul(*(f.expression for f in term)) for term in self.terms))
        else:
            chains = self.derivation.in_intermediates(self.delta_form)
        return chains + self.penalty

    @cached_property
    def expanded(self) -> Expr:
        return self.derivation.expand(self.factored)

    def at(self, values: Mapping[str | Symbol, object]) -> float | np.ndarray:
        """The gradient's value at ``values``: for a parameter, reduced over samples as the
        loss says; for an input or intermediate, one value per sample (a float for one)."""
        d = self.derivation
        if d.gradients.get(self.name) is self:
            return d.at(values)[self.name]
        points = d._points(values)
        each = [p.value(self.delta_form, f"d/d{self.name}") for p in points]
        if d.network.loss.reduction == "mean":
            each = [v / len(points) for v in each]
        return each[0] if len(each) == 1 else np.array(each)

    def _repr_latex_(self) -> str:

        net = self.derivation.network
        lhs = partial_latex(net.loss_symbol, self.parameter, net)
        chain = " + ".join(r" \cdot ".join(partial_latex(f.numerator, f.denominator, net)
                                            for f in term) for term in self.terms)
        if self.penalty != 0:
            chain += f" + {latex(self.penalty, net)}"
        return f"$\\displaystyle {lhs} = {chain} = {latex(self.factored, net)}$"

    def __repr__(self) -> str:
        return f"Gradient(d{self.derivation.network.loss.symbol}/d{self.name} = {self.factored})"


class Derivation(Mapping[str, Gradient]):
    """Every gradient of a network's loss, keyed by parameter name, in parameter order."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.deltas: dict[Symbol, DeltaStep] = {}
        for layer in reversed(network.layers):
            for step in self._layer_deltas(layer):
                self.deltas[step.symbol] = step
        self.gradients: dict[str, Gradient] = {}
        uses = self._uses()
        for parameter in network.parameters:
            self.gradients[str(parameter)] = self._parameter_gradient(parameter,
                                                                      uses[parameter])
        self._quantities: dict[str, Gradient] = {}

    # -- the recursion -------------------------------------------------------------------

    @staticmethod
    def _local(layer: Layer, i: int) -> Expr:
        """``da_i/dz_i`` in the own-output form (``a (1 - a)`` rather than ``sigma'(z)``)."""
        if layer.activation is None:
            return sp.S.One
        return layer.activation.local(layer.pre[i], layer.post[i], **layer.params)

    def _layer_deltas(self, layer: Layer) -> list[DeltaStep]:
        net = self.network
        last = layer.index == len(net.layers)
        if last:
            upstream = [output_upstream(net.error, a) for a in layer.post]
        else:
            following = net.layers[layer.index]
            upstream = [sp.Add(*(following.deltas[k] * following.weights[k][i]
                                 for k in range(following.units)))
                        for i in range(layer.units)]
        act = layer.activation
        steps = []
        for j in range(layer.units):
            local = None if act is None or not act.elementwise else self._local(layer, j)
            if act is None or act.elementwise:
                delta = unit_delta(upstream[j], local, net.loss, act, output=last)
            elif last and net.loss.name == "cce":
                delta = softmax_cross_entropy(layer.post[j], net.targets[j],
                                              sp.Add(*net.targets))
            else:  # a mixing activation: the chain rule through its Jacobian
                delta = UnitDelta(sp.Add(*(g * act.jacobian(layer.pre, layer.post, i, j,
                                                            **layer.params)
                                           for i, g in enumerate(upstream))), None, "")
            steps.append(DeltaStep(layer.deltas[j], layer.pre[j], layer.index, upstream[j],
                                   local, *delta))
        return steps

    def _uses(self) -> dict[Symbol, list[tuple[Layer, int, Expr]]]:
        """Every unit each parameter enters, with ``dz/dp`` there: the input it multiplies,
        ``1`` for a bias, a sum for a weight tied within one unit."""
        uses: dict[Symbol, list[tuple[Layer, int, Expr]]] = {
            p: [] for p in self.network.parameters}
        for layer in self.network.layers:
            for i in range(layer.units):
                local: dict[Symbol, list[Expr]] = {}
                for w, x in zip(layer.weights[i], layer.inputs):
                    local.setdefault(w, []).append(x)
                if layer.biases:
                    local.setdefault(layer.biases[i], []).append(sp.S.One)
                for p, parts in local.items():
                    uses[p].append((layer, i, sp.Add(*parts)))
        return uses

    def _to_pre(self, layer: Layer, i: int) -> Chain:
        """``dE/dz`` of unit ``i``: the path from the loss in a chain of one-unit layers,
        otherwise the unit's error signal."""
        if self.network.is_chain:
            return self._paths[layer.index]
        delta = layer.deltas[i]
        return (Factor(self.network.loss_symbol, layer.pre[i], delta, "delta",
                       self.deltas[delta].expression),)

    def _parameter_gradient(self, parameter: Symbol, uses: list[tuple[Layer, int, Expr]]
                            ) -> Gradient:
        terms = tuple(self._to_pre(layer, i) + (Factor(
            layer.pre[i], parameter, dz_dp, "bias" if dz_dp == 1 else "input",
            layer.pre_expr(i)),) for layer, i, dz_dp in uses)
        form = sp.Add(*(layer.deltas[i] * dz_dp for layer, i, dz_dp in uses))
        members = self.network.ties.get(parameter)
        note = "" if members is None else (
            f"{parameter} is shared by {listed(members)}: its gradient sums "
            "their contributions")
        penalty = self.network.penalty
        extra = penalty.term(parameter) if penalty is not None and \
            parameter in self.network.penalized else sp.S.Zero
        return Gradient(self, parameter, terms, form, note, extra)

    @cached_property
    def _paths(self) -> dict[int, tuple[Factor, ...]]:
        """For one-unit chains: ``dE/da_L, da_L/dz_L, dz_L/da_{L-1}, ...`` down to ``z_l``,
        for every layer ``l``; each path extends the one of the layer above."""
        net = self.network
        top = net.layers[-1]
        path: tuple[Factor, ...] = (Factor(net.loss_symbol, top.post[0],
                                           self.deltas[top.deltas[0]].upstream, "loss",
                                           net.error),)
        paths: dict[int, tuple[Factor, ...]] = {}
        for layer in reversed(net.layers):
            if layer is not top:
                following = net.layers[layer.index]
                path += (Factor(following.pre[0], layer.post[0], following.weights[0][0],
                                "weight", following.pre_expr(0)),)
            if layer.activation is not None:
                path += (Factor(layer.post[0], layer.pre[0], self.deltas[layer.deltas[0]].local,
                                "activation", layer.post_expr(0)),)
            paths[layer.index] = path
        return paths

    # -- any named quantity ------------------------------------------------------------

    def _through(self, following: Layer, j: int) -> tuple[tuple[Chain, ...], Expr]:
        """``dE/d`` (input ``j`` of layer ``following``): a term per unit of that layer."""
        terms = tuple(self._to_pre(following, k) + (Factor(
            following.pre[k], following.inputs[j], following.weights[k][j], "weight",
            following.pre_expr(k)),) for k in range(following.units))
        form = sp.Add(*(following.deltas[k] * following.weights[k][j]
                        for k in range(following.units)))
        return terms, form

    def _to_post(self, layer: Layer, i: int) -> tuple[tuple[Chain, ...], Expr]:
        """``dE/da`` of unit ``i``: from the loss for the output layer, else through the
        next layer."""
        net = self.network
        if layer.index < len(net.layers):
            return self._through(net.layers[layer.index], i)
        upstream = self.deltas[layer.deltas[i]].upstream
        return ((Factor(net.loss_symbol, layer.post[i], upstream, "loss", net.error),),), \
            upstream

    def _pre_terms(self, layer: Layer, i: int) -> tuple[Chain, ...]:
        """``dE/dz`` of unit ``i`` as a sum of chains: ``dE/da · da/dz``, over the units of
        the layer for a softmax (whose output ``a_k`` depends on every ``z``)."""
        if layer.activation is None:
            return self._to_post(layer, i)[0]
        units = range(layer.units) if not layer.activation.elementwise else (i,)
        terms: list[Chain] = []
        for k in units:
            local = self._local(layer, i) if layer.activation.elementwise else \
                layer.activation.jacobian(layer.pre, layer.post, k, i, **layer.params)
            step = Factor(layer.post[k], layer.pre[i], local, "activation", layer.post_expr(k))
            terms += [term + (step,) for term in self._to_post(layer, k)[0]]
        return tuple(terms)

    def _quantity(self, name: str) -> Gradient:
        """The gradient with respect to the input, ``z``, ``a`` or ``delta`` called ``name``."""
        net = self.network
        symbol = net.symbols.get(name)
        if symbol in net.inputs:
            return Gradient(self, symbol, *self._through(net.layers[0], net.inputs.index(symbol)))
        for layer in net.layers:
            for i in range(layer.units):
                if symbol in (layer.pre[i], layer.deltas[i]):
                    note = "" if symbol == layer.pre[i] else (
                        f"{symbol} is d{net.loss.symbol}/d{layer.pre[i]} by definition: "
                        f"this is the gradient with respect to {layer.pre[i]}")
                    return Gradient(self, layer.pre[i], self._pre_terms(layer, i),
                                    layer.deltas[i], note)
                if symbol == layer.post[i]:
                    return Gradient(self, symbol, *self._to_post(layer, i))
        raise self._unknown(name)

    def _unknown(self, name: str) -> UnknownNameError:
        """An unknown name: the kinds of names a gradient can be taken with respect to."""
        net = self.network
        tied = {str(m): str(t) for t, members in net.ties.items() for m in members}
        if name in tied:
            error = UnknownNameError("parameter", name, [tied[name]])
            error.args = (f"'{name}' is tied into '{tied[name]}': differentiate with respect "
                          f"to '{tied[name]}'",)
            return error
        post = [s for layer in net.layers if layer.activation is not None for s in layer.post]
        kinds = [("parameters", net.parameters), ("inputs", net.inputs),
                 ("pre-activations", [s for layer in net.layers for s in layer.pre]),
                 ("activations", post),
                 (f"error signals, aliases of d{net.loss.symbol}/dz",
                  [s for layer in net.layers for s in layer.deltas])]
        known = [f"{kind} ({', '.join(map(str, symbols[:4]))}{', ...' * (len(symbols) > 4)})"
                 for kind, symbols in kinds if symbols]
        return UnknownNameError("parameter or quantity", name, known)

    def wrt(self, name: str | Symbol) -> Gradient:
        """The gradient with respect to a parameter, an input, a ``z``, an ``a`` or a
        ``delta`` (an alias of its ``z``: ``delta2`` is ``dE/dz2`` itself). Same as
        ``d[name]``.

        >>> from symgrad.network import load
        >>> d = derive(load("derivations/two_neuron.toml"))
        >>> d.wrt("a1").factored
        a2*w2*(1 - a2)*(-T + a2)
        >>> [f"d{f.numerator}/d{f.denominator}" for f in d["a1"].chain]
        ['dE/da2', 'da2/dz2', 'dz2/da1']
        """
        key = str(name)
        if key in self.gradients:
            return self.gradients[key]
        if key not in self._quantities:
            self._quantities[key] = self._quantity(key)
        return self._quantities[key]

    # -- forms -------------------------------------------------------------------------

    @cached_property
    def _delta_values(self) -> dict[Symbol, Expr]:
        full: dict[Symbol, Expr] = {}
        for symbol, step in self.deltas.items():  # output layer first
            full[symbol] = step.expression.xreplace(full)
        return full

    @cached_property
    def _forward_values(self) -> dict[Symbol, Expr]:
        full: dict[Symbol, Expr] = {}
        for symbol, eq in self.network.equations.items():
            full[symbol] = eq.xreplace(full)
        return full

    def in_intermediates(self, expr: Expr) -> Expr:
        """Replace every delta symbol in ``expr`` by its definition (intermediates remain)."""
        return expr.xreplace(self._delta_values)

    def expand(self, expr: Expr) -> Expr:
        """``expr`` in inputs, targets and parameters only."""
        return self.in_intermediates(expr).xreplace(self._forward_values)

    # -- numbers -----------------------------------------------------------------------

    def _points(self, values: Mapping[str | Symbol, object]) -> list[ExactPoint]:
        net = self.network
        return exact_points(net.parameters, net.inputs + net.targets, net.equations,
                            {z for layer in net.layers for z in layer.pre},
                            {s: step.unconditional for s, step in self.deltas.items()}, values)

    def evaluate(self, values: Mapping[str | Symbol, object]) -> list[dict[Symbol, float]]:
        """Every symbol's value per sample: inputs, parameters, ``z``, ``a``, deltas."""
        return [{k: finite_float(v, str(k)) for k, v in point.values.items()}
                for point in self._points(values)]

    def at(self, values: Mapping[str | Symbol, object]) -> dict[str, float]:
        """Every gradient at ``values``, summed or averaged over samples as the loss says.
        Exact: each value keeps 30 significant digits before it is rounded to a float,
        whatever cancels on the way (see :class:`symgrad.numbers.ExactPoint`)."""
        points = self._points(values)
        totals = {name: sum(p.value(g.delta_form, f"d/d{name}") for p in points)
                  for name, g in self.gradients.items()}
        if self.network.loss.reduction == "mean":
            totals = {k: v / len(points) for k, v in totals.items()}
        return {k: v + self._penalized(points[0], self.gradients[k].penalty, f"d/d{k}")
                for k, v in totals.items()}

    @property
    def penalty_cost(self) -> Expr:
        """What the penalty adds to the cost, once (``lambda*(w1**2 + w2**2)/2``), or 0."""
        net = self.network
        return sp.S.Zero if net.penalty is None else net.penalty.cost(net.penalized)

    def _penalized(self, point: ExactPoint, expr: Expr, what: str) -> float:
        """The value of a penalty term (in lambda and parameters) at ``point``."""
        if expr == 0 or self.network.penalty is None:
            return 0.0
        return point.value(expr.xreplace(self.network.penalty.values), what)

    def loss_at(self, values: Mapping[str | Symbol, object]) -> float:
        """The loss at ``values``, reduced over samples, with the penalty (once)."""
        points = self._points(values)
        total = sum(p.value(self.network.error, "the loss") for p in points)
        total = total / len(points) if self.network.loss.reduction == "mean" else total
        return total + self._penalized(points[0], self.penalty_cost, "the penalty")

    # -- Mapping -----------------------------------------------------------------------

    def __getitem__(self, name: str | Symbol) -> Gradient:
        return self.wrt(name)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is a parameter (the keys; ``d["a1"]`` works all the same)."""
        return str(name) in self.gradients

    def __iter__(self) -> Iterator[str]:
        return iter(self.gradients)

    def __len__(self) -> int:
        return len(self.gradients)

    def _repr_latex_(self) -> str:

        net = self.network
        rows = [f"{partial_latex(net.loss_symbol, g.parameter, net)} &= {latex(g.factored, net)}"
                for g in self.gradients.values()]
        return aligned_display(rows)

    def __repr__(self) -> str:
        return f"Derivation({self.network!r}; {len(self)} gradients)"


def derive(network: Network) -> Derivation:
    """Derive every gradient of ``network``'s loss by the chain rule and the delta recursion.

    >>> from symgrad.network import Network, Dense
    >>> net = Network(1, [Dense(1, "sigmoid"), Dense(1, "sigmoid")], "half_sse")
    >>> derive(net)["w1"].factored
    a1*a2*w2*x1*(1 - a1)*(1 - a2)*(-T + a2)
    """
    return Derivation(network)
