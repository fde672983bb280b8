"""A network of dense layers and catalogue layer types, resolved and shape-checked once.

A spec whose layers include a layer type (``{ type = "batchnorm" }``,
``{ type = "dropout", rate = 0.2 }``, ``{ type = "rnn", units = 8, steps = 6 }``, ...)
is a stack: each layer maps a per-sample shape to the next (:attr:`StackLayer.in_shape`,
:attr:`StackLayer.out_shape`, from the entry's ``output_shape``), dense layers act on
feature vectors ``(D,)``. Stacks are derived and trained at the layer level only
(:mod:`symgrad.derive.stack`, :mod:`symgrad.backends.stack`); the scalar level, one
symbol per weight, has no layer types.

Parameters are named by layer position from 1: ``W1, b1`` for a dense layer, ``gamma2,
beta2`` for a batch norm second in the spec; a layer type's state likewise
(``running_mean2, running_var2``, :meth:`Stack.initial_state`).

>>> from symgrad.spec import parse_spec
>>> stack = Stack.from_spec(parse_spec('''
... [network]
... inputs = 4
... layers = [{ units = 5, activation = "relu" }, { type = "batchnorm" },
...           { type = "dropout", rate = 0.2 }, { units = 3, activation = "none" },
...           { type = "log_softmax" }]
... loss = "cce"
... '''))
>>> [(s.kind, s.out_shape) for s in stack.layers]
[('dense', (5,)), ('batchnorm', (5,)), ('dropout', (5,)), ('dense', (3,)), ('log_softmax', (3,))]
>>> sorted(stack.initial_arrays(0))
['W1', 'W4', 'b1', 'b4', 'beta2', 'gamma2']
>>> sorted(stack.initial_state())
['running_mean2', 'running_var2']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .architecture import Architecture, Dense, LayerShape
from .catalogue import LayerType, Loss, get_layer_type, get_loss
from .errors import LocatedError, ShapeError, SymgradError, UnknownNameError
from .spec import Spec, has_layer_types, typed_field

__all__ = ["StackLayer", "Stack", "has_layer_types", "typed_field"]


@dataclass(frozen=True)
class StackLayer:
    """One layer of a stack: ``dense`` (its :class:`LayerShape`) or a layer type (its
    entry and settings), with its per-sample shapes in and out (``index`` from 1)."""

    index: int
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    dense: LayerShape | None = None
    entry: LayerType | None = None
    hyper: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"network.layers[{self.index - 1}]"

    @property
    def parameter_names(self) -> dict[str, str]:
        """The layer's parameters: their own names to the stack's (``gamma`` -> ``gamma2``)."""
        if self.dense is not None:
            return {"W": f"W{self.index}", **({"b": f"b{self.index}"} if self.dense.bias else {})}
        return {p: f"{p}{self.index}" for p in (self.entry.params if self.entry else ())}

    @property
    def state_names(self) -> dict[str, str]:
        """The layer's state (no gradient): own names to the stack's (``running_mean`` ->
        ``running_mean2``)."""
        return {n: f"{n}{self.index}" for n in (self.entry.state if self.entry else ())}


@dataclass(frozen=True)
class Stack:
    """The layers of a stack and its loss; ``inputs`` is the per-sample input shape."""

    inputs: tuple[int, ...]
    layers: tuple[StackLayer, ...]
    loss: Loss
    spec: Spec | None = None

    @classmethod
    def from_spec(cls, spec: Spec) -> Stack:
        """Resolve every layer against the catalogue; errors name the spec's field."""
        net = spec.network
        if net.penalty is not None:
            raise spec.error("network.penalty", "a penalty is taken by networks of dense "
                             "layers only, not with layer types (network.layers[].type)")
        loss = _located(spec, "network.loss", lambda: get_loss(net.loss))
        first = net.layers[0]
        shape: tuple[int, ...] = (net.inputs,)
        if first.type != "dense":
            entry = _located(spec, "network.layers[0].type", lambda: get_layer_type(first.type))
            hyper = _settings(spec, "network.layers[0]", entry, first.settings)
            if entry.sample_shape is not None:
                shape = _located(spec, "network.layers[0]",
                                 lambda: entry.sample_shape(net.inputs, hyper))
        layers = []
        for index, layer in enumerate(net.layers, start=1):
            built = _layer(spec, index, layer, shape)
            layers.append(built)
            shape = built.out_shape
        stack = cls(layers[0].in_shape, tuple(layers), loss, spec)
        stack._check_output()
        return stack

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape

    @property
    def parameter_count(self) -> int:
        return sum(int(v.size) for v in self.initial_arrays(0).values())

    def initial_arrays(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded parameters: dense layers as :meth:`Architecture.initial_arrays` draws
        them, layer types from their entry's ``init``."""
        rng = np.random.default_rng(seed)
        out: dict[str, np.ndarray] = {}
        for s in self.layers:
            if s.dense is not None:
                arch = Architecture((s.in_shape[0],), (s.dense,), self.loss)  # type: ignore[arg-type]
                drawn = arch.initial_arrays(int(rng.integers(2 ** 31)))
                out.update({s.parameter_names[k[0]]: v for k, v in drawn.items()})
            elif s.entry is not None:
                drawn = s.entry.init(s.in_shape, s.hyper, rng)
                out.update({s.parameter_names[k]: v for k, v in drawn.items()})
        return out

    def initial_state(self) -> dict[str, np.ndarray]:
        """The layer types' state at the start of training (batch norm's running mean 0 and
        variance 1), by the stack's names; not parameters: no gradient, not counted."""
        out: dict[str, np.ndarray] = {}
        for s in self.layers:
            if s.entry is not None and s.entry.init_state is not None:
                drawn = s.entry.init_state(s.in_shape, s.hyper)
                out.update({s.state_names[k]: v for k, v in drawn.items()})
        return out

    def _check_output(self) -> None:
        last, loss = self.layers[-1], self.loss
        if len(self.output_shape) != 1:
            raise self.error(last.where, f"the network's output has per-sample shape "
                             f"{self.output_shape}; the loss needs a vector (D,)")
        if not loss.needs_probabilities or last.kind in ("softmax", "log_softmax"):
            return
        act = last.dense.activation if last.dense is not None else None
        if act is None or not act.probabilities:
            raise self.error(last.where, f"loss '{loss.name}' takes probabilities: end "
                             "with a sigmoid or softmax activation, or a softmax or "
                             "log_softmax layer")

    def error(self, field_name: str, message: str) -> SymgradError:
        return self.spec.error(field_name, message) if self.spec is not None else \
            SymgradError(f"{field_name}: {message}")


def _located(spec: Spec, field_name: str, lookup: Any) -> Any:
    """``lookup()``; an unknown name, a bad setting or a shape that does not fit is an
    error naming the spec's field."""
    try:
        return lookup()
    except LocatedError as exc:
        raise spec.error(f"{field_name}.{exc.field}" if exc.field else field_name,
                         exc.message) from None
    except SymgradError as exc:
        raise spec.error(field_name, str(exc)) from None


def _settings(spec: Spec, where: str, entry: LayerType, settings: Mapping[str, Any]
              ) -> dict[str, Any]:
    """The layer type's settings with defaults; an unknown one names its field, one of the
    wrong kind the layer."""
    try:
        return entry.with_defaults(settings)
    except UnknownNameError as exc:
        raise spec.error(f"{where}.{exc.name}", str(exc), value=exc.name) from None
    except SymgradError as exc:
        raise spec.error(where, str(exc)) from None


def _layer(spec: Spec, index: int, layer: Any, shape: tuple[int, ...]) -> StackLayer:
    where = f"network.layers[{index - 1}]"
    if layer.type == "dense":
        if len(shape) != 1:
            raise spec.error(f"{where}.units", str(ShapeError(
                f"dense ({layer.units} units)", shape, "(D,), a feature vector per sample",
                "per-sample input")))
        arch = _located(spec, where, lambda: Architecture.build(
            shape[0], [Dense(layer.units, layer.activation, layer.bias, dict(layer.params))],
            "half_sse"))
        dense = arch.layers[0]
        if dense.activation is not None and not dense.activation.elementwise \
                and index != len(spec.network.layers):
            raise spec.error(f"{where}.activation", f"activation '{dense.activation.name}' "
                             "mixes its units: use it in the last layer, or a softmax layer "
                             "({ type = \"softmax\" })")
        return StackLayer(index, "dense", shape, (layer.units,), dense=LayerShape(
            index, shape[0], layer.units, dense.activation, dense.params, dense.bias))
    entry = _located(spec, f"{where}.type", lambda: get_layer_type(layer.type))
    hyper = _settings(spec, where, entry, layer.settings)
    out = _located(spec, where, lambda: entry.output_shape(shape, hyper))
    return StackLayer(index, entry.name, shape, tuple(out), entry=entry,
                      hyper=MappingProxyType(hyper))
