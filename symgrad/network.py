"""A spec (or code) becomes a symbolic network: ordered symbols and forward equations.

Naming follows the source material. In a chain of one-neuron layers the symbols are
``x1, w1, b1, z1, a1, w2, b2, z2, a2, T``; a network of a single neuron drops the
index (``x, w, b, z, a, T``). In wider networks a weight of layer ``l`` from unit ``j``
to unit ``i`` is ``w{l}_{i}_{j}`` (LaTeX ``w^{(l)}_{i,j}``), and so on for ``b``, ``z``,
``a`` and the error signals ``delta``. Names are plain :class:`sympy.Symbol` objects,
so ``Symbol("a2")`` typed by a user is the network's ``a2``.

Parameters can be tied: one symbol replaces several parameters (``ties``, or a layer's
``shared_bias``, whose biases become ``b{l}``), and :attr:`Network.ties` maps it to the
names it replaces.

>>> wide = Network(2, [Dense(2, "sigmoid", shared_bias=True)], "half_sse")
>>> wide.equations[wide.symbol("z1_2")], dict(wide.ties)
(b1 + w1_2_1*x1 + w1_2_2*x2, {b1: (b1_1, b1_2)})

>>> net = Network(1, [Dense(1, "sigmoid"), Dense(1, "sigmoid")], "half_sse")
>>> [str(s) for s in net.parameters]
['w1', 'b1', 'w2', 'b2']
>>> net.equations[net.symbol("z2")]
a1*w2 + b2
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from .architecture import NO_ACTIVATION, Architecture, Dense, dense_only
from .catalogue import Activation, Loss, Penalty
from .chunked import is_dask
from .errors import SpecError, SymgradError, UnknownNameError, listed
from .printing import latex
from .spec import NAME_ROLES, Spec, read_spec

__all__ = ["Dense", "Layer", "Network", "load", "NO_ACTIVATION"]

_DEFAULT_NAMES = {"input": "x", "target": "T", "weight": "w", "bias": "b", "pre": "z",
                  "post": "a"}
_INDEXED = re.compile(r"^([A-Za-z]+?)(\d+)_(\d+)(?:_(\d+))?$")
_LAYER_NAME = re.compile(r"^([A-Za-z]+?)(\d+)$")


@dataclass(frozen=True)
class Layer:
    """A built layer: its symbols and equations.

    ``post`` is ``pre`` itself when the layer has no activation.
    """

    index: int
    activation: Activation | None
    params: Mapping[str, float]
    inputs: tuple[Symbol, ...]
    weights: tuple[tuple[Symbol, ...], ...]
    biases: tuple[Symbol, ...]
    pre: tuple[Symbol, ...]
    post: tuple[Symbol, ...]
    deltas: tuple[Symbol, ...]

    @property
    def units(self) -> int:
        return len(self.pre)

    @property
    def parameters(self) -> tuple[Symbol, ...]:
        """Weights row by row, then biases; a tied parameter once, where it first appears."""
        return tuple(dict.fromkeys(tuple(w for row in self.weights for w in row) + self.biases))

    def pre_expr(self, i: int) -> Expr:
        """``z_i = sum_j w_ij a_j + b_i``."""
        total = sp.Add(*(w * a for w, a in zip(self.weights[i], self.inputs)))
        return total + self.biases[i] if self.biases else total

    def post_expr(self, i: int) -> Expr:
        """``a_i = f(z)``: ``f(z_i)`` for an elementwise activation, component ``i`` otherwise."""
        if self.activation is None:
            return self.pre[i]
        if self.activation.elementwise:
            return self.activation(self.pre[i], **self.params)
        return self.activation(sp.Integer(i + 1), *self.pre, **self.params)


class Network:
    """A feed-forward network of dense layers with a loss, built symbolically.

    Parameters
    ----------
    inputs : number of inputs.
    layers : the layers, input side first.
    loss : a loss name from :data:`symgrad.losses.LOSSES` or a :class:`Loss`.
    names : base names overriding the defaults for the roles ``input``, ``target``,
        ``weight``, ``bias``, ``pre`` and ``post``.
    parameters, data : values of parameters, inputs and targets (numbers, or arrays of
        samples for inputs and targets). Missing parameters are initialized with ``seed``.
    ties : tied parameters: a new name -> the names of the parameters it replaces
        (``{"b1": ["b1_1", "b1_2"]}``); their gradient sums the contributions of every use.
    title : a title for reports.
    spec : the spec this network was built from, if any (errors then name its fields).
    penalty : a regularization term added to the cost (default: the spec's
        ``[network] penalty``, if any); see :mod:`symgrad.catalogue.penalties`.
    """

    def __init__(self, inputs: int, layers: Sequence[Dense], loss: str | Loss, *,
                 names: Mapping[str, str] | None = None,
                 parameters: Mapping[str, float] | None = None,
                 data: Mapping[str, float | Sequence[float]] | None = None,
                 seed: int = 0, title: str = "", spec: Spec | None = None,
                 ties: Mapping[str, Sequence[str]] | None = None,
                 penalty: Penalty | None = None) -> None:
        self.spec = spec
        self.title = title
        tied = spec.network.tied_field() if spec is not None else (
            "network.tie" if ties or any(d.shared_bias for d in layers) else None)
        #: The layers resolved against the catalogue, shared with the layer level.
        self.architecture = Architecture.build(inputs, layers, loss, spec=spec, tied=tied,
                                               penalty=penalty)
        self.loss: Loss = self.architecture.loss
        self.penalty: Penalty | None = self.architecture.penalty
        self.is_chain = inputs == 1 and all(layer.units == 1 for layer in layers)
        self._single = self.is_chain and len(layers) == 1
        base = {**_DEFAULT_NAMES, **(names or {})}
        unknown_roles = sorted(set(names or {}) - set(NAME_ROLES))
        if unknown_roles:
            raise UnknownNameError("name role", unknown_roles[0], NAME_ROLES)
        self._base = base
        self.latex_names: dict[Symbol, str] = {}
        self.symbols: dict[str, Symbol] = {}

        self._outputs = layers[-1].units
        self.inputs = tuple(self._new("input", None, j) for j in range(inputs))
        built: list[Layer] = []
        previous = self.inputs
        for l in range(1, len(layers) + 1):
            built.append(self._layer(l, previous))
            previous = built[-1].post
        self.layers: tuple[Layer, ...] = tuple(built)
        self.targets = tuple(self._new("target", None, k) for k in range(len(previous)))
        #: Tied parameters: the shared symbol -> the parameters it replaces.
        self.ties: Mapping[Symbol, tuple[Symbol, ...]] = MappingProxyType(
            self._tie(ties or {}, [dense.shared_bias for dense in layers]))
        self.parameters: tuple[Symbol, ...] = tuple(dict.fromkeys(
            p for layer in self.layers for p in layer.parameters))
        #: The parameters the penalty applies to (the weights, and the biases if asked).
        self.penalized: tuple[Symbol, ...] = () if self.penalty is None else tuple(
            p for p in self.parameters if self.penalty.biases or any(
                p in row for layer in self.layers for row in layer.weights))
        self.equations: dict[Symbol, Expr] = {}
        for layer in self.layers:
            for i in range(layer.units):
                self.equations[layer.pre[i]] = layer.pre_expr(i)
            if layer.activation is not None:
                for i in range(layer.units):
                    self.equations[layer.post[i]] = layer.post_expr(i)
        self.error: Expr = self.loss.per_sample(self.outputs, self.targets)
        #: True when no parameter values were given, so ``values`` holds seeded ones.
        self.seeded: bool = not parameters
        self.values: Mapping[str, float | np.ndarray] = MappingProxyType(
            self._values(parameters or {}, data or {}, seed))

    # -- construction -------------------------------------------------------------------

    def _name(self, role: str, layer: int | None, *index: int) -> str:
        base = self._base.get(role, role)
        if role == "input":
            return base if self._single else f"{base}{index[0] + 1}"
        if role == "target":
            return base if self._outputs == 1 else f"{base}{index[0] + 1}"
        if self._single:
            return base
        if self.is_chain:
            return f"{base}{layer}"
        return f"{base}{layer}_" + "_".join(str(i + 1) for i in index)

    def _new(self, role: str, layer: int | None, *index: int) -> Symbol:
        name = self._name(role, layer, *index)
        if name in self.symbols:
            raise SymgradError(f"two symbols of the network would both be named '{name}'; "
                               "choose different base names in [network.names]")
        symbol = Symbol(name)
        self.symbols[name] = symbol
        self._latex_name(symbol)
        return symbol

    def _latex_name(self, symbol: Symbol) -> None:
        name = str(symbol)
        match = _INDEXED.match(name)
        if match:
            head, l, i, j = match.groups()
            sub = f"{i},{j}" if j else i
            self.latex_names[symbol] = f"{sp.latex(Symbol(head))}^{{({l})}}_{{{sub}}}"

    def _layer(self, l: int, inputs: tuple[Symbol, ...]) -> Layer:
        shape = self.architecture.layers[l - 1]
        units = range(shape.units)
        weights = tuple(tuple(self._new("weight", l, i, j) for j in range(len(inputs)))
                        for i in units)
        biases = tuple(self._new("bias", l, i) for i in units) if shape.bias else ()
        pre = tuple(self._new("pre", l, i) for i in units)
        post = pre if shape.activation is None else tuple(self._new("post", l, i)
                                                           for i in units)
        deltas = tuple(self._new("delta", l, i) for i in units)
        return Layer(l, shape.activation, shape.params, inputs, weights, biases, pre, post,
                     deltas)

    def _tie_groups(self, ties: Mapping[str, Sequence[str]], shared: Sequence[bool]
                    ) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(field, new name, members)`` of every tie: shared biases, then ``ties``."""
        groups = [(f"network.layers[{layer.index - 1}].shared_bias",
                   f"{self._base['bias']}{layer.index}", tuple(map(str, layer.biases)))
                  for layer, share in zip(self.layers, shared)
                  if share and len(layer.biases) > 1]  # one bias is shared already
        groups += [(f"network.tie.{name}", name, tuple(members))
                   for name, members in ties.items()]
        owner: dict[str, str] = {}
        parameters = [str(p) for layer in self.layers for p in layer.parameters]
        for field_name, name, members in groups:
            if len(set(members)) < 2:
                raise self._fail(field_name, "a tie needs at least two different parameters")
            for member in members:
                if member not in parameters:
                    raise self._fail(field_name, f"'{member}' is not a parameter of this "
                                     f"network; its parameters are: {listed(parameters)}",
                                     member)
                if member in owner:
                    raise self._fail(field_name, f"'{member}' is tied twice: in "
                                     f"{owner[member]} and here", member)
                owner[member] = field_name
            if name in self.symbols or name in owner:
                raise self._fail(field_name, f"'{name}' is already the name of a symbol of the "
                                 "network; a tie needs a new name")
            owner[name] = field_name
        return groups

    def _tie(self, ties: Mapping[str, Sequence[str]], shared: Sequence[bool]
             ) -> dict[Symbol, tuple[Symbol, ...]]:
        """Replace tied parameters by their shared symbol, in the layers and the symbols
        (where the first one stood)."""
        tied: dict[Symbol, tuple[Symbol, ...]] = {}
        new: dict[Symbol, Symbol] = {}
        for _, name, members in self._tie_groups(ties, shared):
            symbol = Symbol(name)
            tied[symbol] = tuple(self.symbols[m] for m in members)
            new.update({self.symbols[m]: symbol for m in members})
        if not new:
            return tied
        symbols = {}
        for name, symbol in self.symbols.items():
            if symbol in new:
                symbols[str(new[symbol])] = new[symbol]  # a member keeps its LaTeX name
            else:
                symbols[name] = symbol
        self.symbols = symbols
        for symbol in tied:
            self._latex_name(symbol)
            layer_wide = _LAYER_NAME.match(str(symbol))
            if layer_wide and not self.is_chain:  # b1 of a wide layer: b^{(1)}, as b^{(1)}_{2}
                head, l = layer_wide.groups()
                self.latex_names[symbol] = f"{sp.latex(Symbol(head))}^{{({l})}}"
        self.layers = tuple(replace(layer, biases=tuple(new.get(b, b) for b in layer.biases),
                                    weights=tuple(tuple(new.get(w, w) for w in row)
                                                  for row in layer.weights))
                            for layer in self.layers)
        return tied

    def _fail(self, field_name: str, message: str, value: object = None) -> SymgradError:
        """An error naming ``field_name`` (a :class:`SpecError` with its line for a spec)."""
        if self.spec is not None:
            return self.spec.error(field_name, message, value=value)
        return SymgradError(f"{field_name}: {message}")

    def _values(self, parameters: Mapping[str, float], data: Mapping[str, object],
                seed: int) -> dict[str, float | np.ndarray]:
        names = [str(p) for p in self.parameters]
        tied_into = {str(m): str(t) for t, members in self.ties.items() for m in members}
        for key in parameters:
            if key in tied_into:
                raise self._fail(f"parameters.{key}", f"'{key}' is tied: give the value of "
                                 f"'{tied_into[key]}' instead")
            if key not in names:
                raise self._fail(f"parameters.{key}", f"'{key}' is not a parameter of this "
                                 f"network; its parameters are: {listed(names)}")
        given = [n for n in names if n in parameters]
        if given and len(given) != len(names):
            missing = [n for n in names if n not in parameters]
            raise self._fail("parameters", f"values for {listed(missing)} are missing "
                             "(give every parameter, or none for a seeded initialization)")
        values: dict[str, float | np.ndarray] = {}
        values.update(parameters if given else self.initial_parameters(seed))
        io_names = [str(s) for s in self.inputs + self.targets]
        for key, value in data.items():
            if key not in io_names:
                raise self._fail(f"data.{key}", f"'{key}' is not an input or target of this "
                                 f"network; they are: {listed(io_names)}")
            values[key] = (value if is_dask(value)  # read chunk by chunk when summed
                           else np.asarray(value, dtype=np.float64)
                           if isinstance(value, (tuple, list, np.ndarray))
                           else float(value))  # type: ignore[arg-type]  # spec-checked number
        if data:
            missing = [n for n in io_names if n not in data]
            if missing:
                raise self._fail("data", f"values for {listed(missing)} are missing")
        return values

    def initial_parameters(self, seed: int = 0) -> dict[str, float]:
        """Seeded initial values, the entries of :meth:`Architecture.initial_arrays` (the
        layer level's ``W1, b1, ...``) under the units' names.

        >>> net = Network(2, [Dense(3, "tanh")], "half_sse")
        >>> W1 = net.architecture.initial_arrays(0)["W1"]
        >>> net.initial_parameters(0)["w1_2_1"] == float(W1[1, 0])
        True
        """
        return self.from_arrays(self.architecture.initial_arrays(seed))

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
        """The layer level's ``W1, b1, ...`` (values or gradients) under the units' names
        ``w1_1_1, b1_1, ...``."""
        out: dict[str, float] = {}
        for layer in self.layers:
            W = arrays[f"W{layer.index}"]
            for i, row in enumerate(layer.weights):
                for j, w in enumerate(row):
                    out[str(w)] = float(W[i, j])
            for i, b in enumerate(layer.biases):
                out[str(b)] = float(arrays[f"b{layer.index}"][i])
        return out

    def to_arrays(self, values: Mapping[str, object] | None = None) -> dict[str, np.ndarray]:
        """Parameter values (the network's own by default) as the layer level's
        ``W1, b1, ...`` arrays."""
        given = {str(k): v for k, v in (self.values if values is None else values).items()}
        out: dict[str, np.ndarray] = {}
        for layer in self.layers:
            out[f"W{layer.index}"] = np.array([[float(given[str(w)]) for w in row]  # type: ignore[arg-type]
                                               for row in layer.weights])
            if layer.biases:
                out[f"b{layer.index}"] = np.array([float(given[str(b)])  # type: ignore[arg-type]
                                                   for b in layer.biases])
        return out

    # -- queries -------------------------------------------------------------------------

    @classmethod
    def from_spec(cls, spec: Spec) -> "Network":
        """Build the network a spec describes (errors name the spec's fields)."""
        dense_only(spec)
        n = spec.network
        layers = [Dense(layer.units, layer.activation, layer.bias, dict(layer.params),
                        layer.shared_bias) for layer in n.layers]
        return cls(n.inputs, layers, n.loss, names=dict(n.names),
                   parameters=dict(spec.parameters), data=dict(spec.data.values),
                   seed=spec.training.seed, title=spec.title, spec=spec, ties=dict(n.tie))

    @property
    def outputs(self) -> tuple[Symbol, ...]:
        """The last layer's outputs."""
        return self.layers[-1].post

    @property
    def loss_symbol(self) -> Symbol:
        """``E`` or ``J``, as the loss names itself."""
        return Symbol(self.loss.symbol)

    def symbol(self, name: str) -> Symbol:
        """The network's symbol called ``name``; an unknown name lists the known ones."""
        try:
            return self.symbols[name]
        except KeyError:
            raise UnknownNameError("symbol", name, list(self.symbols)) from None

    def parameter(self, name: str) -> Symbol:
        """The parameter called ``name``; an unknown name lists the parameters."""
        names = {str(p): p for p in self.parameters}
        try:
            return names[name]
        except KeyError:
            raise UnknownNameError("parameter", name, list(names)) from None

    def layer_of(self, symbol: Symbol) -> Layer:
        """The layer a weight, bias, pre-activation, output or delta symbol belongs to."""
        for layer in self.layers:
            if symbol in layer.parameters or symbol in layer.pre or symbol in layer.post \
                    or symbol in layer.deltas:
                return layer
        raise UnknownNameError("layer symbol", str(symbol), list(self.symbols))

    def _repr_latex_(self) -> str:
        r"""A notebook's display: the forward equations, layer by layer, and the loss.

        >>> print(load("derivations/two_neuron.toml")._repr_latex_())
        $\displaystyle\begin{aligned}z_{1} &= w_{1} x_{1} + b_{1} \\ a_{1} &= \sigma\left(z_{1}\right) \\ z_{2} &= a_{1} w_{2} + b_{2} \\ a_{2} &= \sigma\left(z_{2}\right) \\ E &= \frac{\left(T - a_{2}\right)^{2}}{2}\end{aligned}$
        """
        rows = [f"{latex(lhs, self)} &= {latex(rhs, self)}"
                for lhs, rhs in self.equations.items()]
        rows.append(f"{self.loss.symbol} &= {latex(self.error, self)}")
        return r"$\displaystyle\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$"

    def __repr__(self) -> str:
        shape = " -> ".join([str(len(self.inputs))] + [
            f"{layer.units} {layer.activation.name if layer.activation else NO_ACTIVATION}"
            for layer in self.layers])
        return f"Network({shape}; loss {self.loss.name})"


def load(path: str | Path | Spec) -> Network:
    """Read a spec file (or take a spec read already) and build its network.

    >>> net = load("derivations/two_neuron.toml")
    >>> net.values["w2"]
    0.45
    """
    spec = path if isinstance(path, Spec) else read_spec(path)
    try:
        return Network.from_spec(spec)
    except SpecError:
        raise
    except SymgradError as exc:
        raise SpecError(str(exc), path=spec.path, field="network") from None
