"""A network's architecture: the layers, their activations and the loss, resolved against
the catalogue and checked once.

Both derivation levels are built from it: :class:`symgrad.network.Network` gives each
unit its symbols, and :class:`symgrad.derive.LayerDerivation` gives each layer its
matrices; both draw their initial parameters from :meth:`Architecture.initial_arrays`, so
the same seed gives the same numbers at either level.

>>> arch = Architecture.build(2, [Dense(3, "relu"), Dense(1, "sigmoid")], "bce")
>>> arch.sizes, arch.parameter_count
((2, 3, 1), 13)
>>> {k: v.shape for k, v in arch.initial_arrays(0).items()}
{'W1': (3, 2), 'b1': (3,), 'W2': (1, 3), 'b2': (1,)}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .catalogue import (ACTIVATIONS, PENALTIES, Activation, Loss, Penalty, get_activation,
                        get_loss)
from .errors import SpecError, SymgradError, UnknownNameError
from .spec import Spec

__all__ = ["Dense", "LayerShape", "Architecture", "NO_ACTIVATION", "LEVELS", "SCALAR_LIMIT",
           "dense_only"]

#: The spec word for a layer whose output is its pre-activation ``z`` itself.
NO_ACTIVATION = "none"
#: The two levels a network is derived and trained at, and ``auto``: one by size.
LEVELS = ("auto", "scalar", "layer")
#: Above this many parameters, ``auto`` picks the layer level (one gradient each is too many
#: to print, and matrix kernels train faster).
SCALAR_LIMIT = 200


@dataclass(frozen=True)
class Dense:
    """A dense layer as a user describes it: units, activation name, bias, activation params.

    ``activation=None`` (``"none"`` in a spec) means no activation: the output is ``z``.
    ``shared_bias=True`` gives the layer's units one bias between them.
    """

    units: int
    activation: str | None
    bias: bool = True
    params: Mapping[str, float] = field(default_factory=dict)
    shared_bias: bool = False


@dataclass(frozen=True)
class LayerShape:
    """One dense layer resolved: its catalogue entry and full parameters (``index`` from 1)."""

    index: int
    inputs: int
    units: int
    activation: Activation | None
    params: Mapping[str, float]
    bias: bool

    @property
    def label(self) -> str:
        return self.activation.name if self.activation is not None else NO_ACTIVATION


@dataclass(frozen=True)
class Architecture:
    """The layers and the loss of a network; ``spec`` (if any) locates errors, and
    ``tied`` names the spec field that ties parameters, if one does."""

    inputs: int
    layers: tuple[LayerShape, ...]
    loss: Loss
    spec: Spec | None = None
    tied: str | None = None
    #: The spec's formula-defined activations by name (entries of this spec only).
    formula_activations: Mapping[str, Activation] = field(
        default_factory=lambda: MappingProxyType({}))
    #: The regularization term added to the cost (``[network] penalty``), if any.
    penalty: Penalty | None = None

    @classmethod
    def build(cls, inputs: int, layers: Sequence[Dense], loss: str | Loss, *,
              spec: Spec | None = None, tied: str | None = None,
              penalty: Penalty | None = None) -> Architecture:
        """Resolve names against the spec's formula entries, then the catalogue; every
        error names the spec field. The penalty is ``penalty``, else the spec's."""
        own, own_losses = _formula_entries(spec)
        if not isinstance(loss, Loss):
            loss = own_losses.get(loss) or _lookup(get_loss, loss, "network.loss", spec)
        if inputs < 1 or not layers:
            raise SymgradError("a network needs at least one input and one layer")
        shapes, previous = [], inputs
        for l, dense in enumerate(layers, start=1):
            shapes.append(_shape(l, previous, dense, spec, own))
            previous = dense.units
        given = spec.network.penalty if spec is not None else None
        if penalty is None and given is not None:
            penalty = Penalty(PENALTIES[given.kind], given.strength, given.biases)
        arch = cls(inputs, tuple(shapes), loss, spec, tied, MappingProxyType(own), penalty)
        arch._check_loss_fits()
        return arch

    @classmethod
    def from_spec(cls, spec: Spec) -> Architecture:
        n = spec.network
        dense_only(spec)
        layers = [Dense(layer.units, layer.activation, layer.bias, dict(layer.params))
                  for layer in n.layers]
        return cls.build(n.inputs, layers, n.loss, spec=spec, tied=n.tied_field())

    def error(self, field_name: str, message: str, value: object = None) -> SymgradError:
        """An error naming ``field_name`` (a :class:`SpecError` with its line for a spec)."""
        return _error(self.spec, field_name, message, value)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs,) + tuple(s.units for s in self.layers)

    @property
    def parameter_count(self) -> int:
        return sum(s.units * s.inputs + (s.units if s.bias else 0) for s in self.layers)

    @property
    def penalized_arrays(self) -> tuple[str, ...]:
        """The layer level's arrays the penalty applies to: ``W1, W2, ...``, and the biases
        ``b1, ...`` if it asks; none without a penalty."""
        if self.penalty is None:
            return ()
        return tuple(f"W{s.index}" for s in self.layers) + tuple(
            f"b{s.index}" for s in self.layers if s.bias and self.penalty.biases)

    def initial_arrays(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded ``W1, b1, ...``: Glorot uniform weights, He normal for the activations
        whose entry asks for it (ReLU-like), zero biases."""
        rng = np.random.default_rng(seed)
        out: dict[str, np.ndarray] = {}
        for s in self.layers:
            if s.activation is not None and s.activation.init == "he":
                W = rng.normal(0.0, np.sqrt(2.0 / s.inputs), size=(s.units, s.inputs))
            else:
                limit = np.sqrt(6.0 / (s.inputs + s.units))
                W = rng.uniform(-limit, limit, size=(s.units, s.inputs))
            out[f"W{s.index}"] = W
            if s.bias:
                out[f"b{s.index}"] = np.zeros(s.units)
        return out

    def _check_loss_fits(self) -> None:
        last = self.layers[-1]
        if self.loss.needs_probabilities and not (last.activation is not None
                                                  and last.activation.probabilities):
            raise self.error(f"network.layers[{last.index - 1}].activation",
                             f"loss '{self.loss.name}' takes probabilities: the last layer's "
                             f"activation must be {_probability_names()}, not '{last.label}'")


def dense_only(spec: Spec) -> None:
    """A spec of dense layers passes; one with a layer type (a stack, see
    :mod:`symgrad.stack`) is an error naming the layer: no symbol per weight for it."""
    typed = [(i, layer.type) for i, layer in enumerate(spec.network.layers)
             if layer.type != "dense"]
    if typed:
        raise spec.error(f"network.layers[{typed[0][0]}].type", f"layer type "
                         f"'{typed[0][1]}' is derived and trained at the layer level only; "
                         "use --level layer", value=typed[0][1])


def _probability_names() -> str:
    """``sigmoid or softmax``: the activations whose outputs are probabilities."""
    names = [e.name for e in ACTIVATIONS.values() if e.probabilities]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _error(spec: Spec | None, field_name: str, message: str,
           value: object = None) -> SymgradError:
    """A :class:`SpecError` naming the field (and, for a spec file, its path and line)."""
    if spec is not None:
        return spec.error(field_name, message, value=value)
    return SpecError(message, field=field_name)


def _lookup(getter: Callable[[str], Any], name: str, field_name: str,
            spec: Spec | None) -> Any:
    """``getter(name)``; an unknown name is a located error in a spec, else itself."""
    try:
        return getter(name)
    except UnknownNameError as exc:
        if spec is None:
            raise
        raise spec.error(field_name, str(exc), value=name) from None


def _formula_entries(spec: Spec | None) -> tuple[dict[str, Activation], dict[str, Loss]]:
    """The spec's formula-defined activations and losses as catalogue entries of its own
    (never registered globally: another spec may define the same name differently)."""
    if spec is None or not (spec.activations or spec.losses):
        return {}, {}
    from .formulas import FormulaError, activation_entry, loss_entry  # the parser: on demand

    try:
        return ({n: activation_entry(n, f.formula, derivative=f.derivative,
                                     parameters=f.parameters) for n, f in spec.activations.items()},
                {n: loss_entry(n, f.formula, reduction=f.reduction, parameters=f.parameters)
                 for n, f in spec.losses.items()})
    except FormulaError as exc:
        raise spec.error(exc.field or "activations", exc.message) from None


def _get_activation(name: str, own: Mapping[str, Activation]) -> Activation:
    """A catalogue activation; an unknown name lists the spec's formula entries too."""
    try:
        return get_activation(name)
    except UnknownNameError as exc:
        raise UnknownNameError("activation", name, [*own, *exc.known]) from None


def _shape(l: int, inputs: int, dense: Dense, spec: Spec | None,
           own: Mapping[str, Activation]) -> LayerShape:
    activation = None
    params: dict[str, float] = {}
    if dense.activation in own:
        activation = own[str(dense.activation)]
    elif dense.activation not in (None, NO_ACTIVATION):
        activation = _lookup(lambda name: _get_activation(name, own), str(dense.activation),
                             f"network.layers[{l - 1}].activation", spec)
    if activation is not None:
        try:
            params = activation.with_defaults(dense.params)
        except UnknownNameError as exc:
            if spec is None:
                raise
            raise spec.error(f"network.layers[{l - 1}].{exc.name}", str(exc)) from None
        if not activation.elementwise and dense.units < 2:  # softmax: always 1 on one unit
            raise _error(spec, f"network.layers[{l - 1}].units",
                         f"a {activation.name} layer needs at least 2 units: on one unit it is "
                         "the constant 1, whose gradients are all zero (sigmoid gives one "
                         "probability)", dense.units)
    elif dense.params:
        raise SymgradError(f"layer {l} has no activation but parameters "
                           f"{', '.join(dense.params)}")
    return LayerShape(l, inputs, dense.units, activation, MappingProxyType(params), dense.bias)
