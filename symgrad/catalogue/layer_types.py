"""Layer types beyond the dense layer: one :class:`LayerType` entry holds every facet of one.

An entry is registered where the layer is defined (:mod:`.layers_norm`,
:mod:`.layers_softmax`, :mod:`.layers_rnn`, :mod:`.layers_conv`) with
:func:`register_layer_type`; everything else (specs, the layer-level derivation, the
minibatch backend, training, the layer checker) looks it up with :func:`get_layer_type`
or in :data:`LAYER_TYPES`, which imports a defining module on the first lookup of one of
its names (and all of them on iteration), so a command that uses no layer type does not
pay for importing them. Samples are on axis 0 (rows), as in
:mod:`symgrad.backends.minibatch`.

The facets of an entry:

``name``, ``title``
    the spec word (``{ type = "batchnorm" }``) and a title for print.
``params``
    the trainable parameters' names, e.g. ``("gamma", "beta")``.
``hyper``
    the hyperparameters with their defaults, e.g. ``{"eps": 1e-5}``; a spec may set them.
``bounds``
    the values a numeric hyperparameter may take, as a :class:`Bound` by name
    (``{"rate": Bound(0, 1, high_open=True)}``): :meth:`LayerType.with_defaults` refuses
    a value outside, in one line naming the layer, the setting and the interval, so the
    kernels can trust what they are given.
``output_shape(shape, hyper)``
    the per-sample output shape for the per-sample input shape (``(D,)``, ``(T, D)``, ...);
    an input that does not fit raises :class:`~symgrad.errors.ShapeError` naming the layer
    and both shapes.
``init(shape, hyper, rng)``
    the initial parameters for per-sample input shape ``shape``.
``forward(x, params, **hyper)``
    ``(y, cache)`` for a batch ``x`` (samples on axis 0); NumPy with BLAS products.
``backward(dy, cache)``
    ``{"x": dx, <param>: d<param>, ...}``: the gradients of ``sum(dy * y)``.
``derivation(**hyper)``
    the symbolic derivation at a symbolic batch size ``N``: a :class:`MatrixSteps` whose
    steps have shapes, text and LaTeX, and whose ``gradients`` are matrix expressions
    that :func:`evaluate` computes for concrete arrays (the tests compare them with
    ``backward``).
``inputs``
    extra inputs of ``forward`` besides ``x`` (dropout's ``mask``), each with a sampler
    ``draw(batch_shape, hyper, rng)`` used in training and by the layer checker.
``predict(x, params, **hyper)``
    the output at evaluation (``forward`` and ``predict`` after training) where it differs
    from training (dropout: ``x``); ``None`` means ``forward``'s output. For a layer with
    state, ``params`` holds the state's arrays too.
``state``, ``init_state(shape, hyper)``, ``update_state(x, state, **hyper)``
    the names of arrays the layer keeps besides its parameters (batch norm's
    ``running_mean``, ``running_var``): no gradient, not updated by SGD, not counted as
    parameters, but kept with them after training. ``init_state`` gives their starting
    values, each training forward replaces them with ``update_state``'s for its batch
    ``x``, and ``predict`` evaluates with them.
``sample_shape(inputs, hyper)``
    the per-sample input shape of a network of ``inputs`` inputs that starts with this
    layer, where it is not ``(inputs,)`` (the recurrent layer: ``(steps, inputs)``).
``input_grad_optional``
    whether ``forward`` takes ``input_grad=False``, after which ``backward`` leaves out
    ``"x"``: a network's first layer, whose input gradient nobody needs (convolution, the
    recurrent layer).
``compiled``
    the module of symgrad whose ``forward_arguments(hyper)`` gives extra arguments of
    ``forward`` that run the layer's steps as C loops (the recurrent layer:
    ``"native_rnn"``, its ``loops``), built on first use: a
    :class:`~symgrad.errors.MissingDependencyError` without a C compiler, a
    :class:`~symgrad.errors.CompileError` when the build fails; ``None``: NumPy only. A
    name, not a function: the catalogue does not import the compiler's modules. The stack
    backend passes them when it may (``CompiledStack(native=True)``).

>>> sorted(LAYER_TYPES)[:4]
['avgpool1d', 'avgpool2d', 'batchnorm', 'conv1d']
>>> get_layer_type("batchnorm").params
('gamma', 'beta')
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp
from sympy import Expr, MatrixSymbol

from ..errors import ArgumentError, ShapeError, SymgradError, UnknownNameError

__all__ = ["LayerType", "Bound", "Step", "MatrixSteps", "LAYER_TYPES", "LayerTypes", "DEFINED_IN",
           "register_layer_type", "get_layer_type", "unregister_layer_type", "evaluate", "N",
           "vector_shape"]

#: The symbolic batch size every derivation is written at.
N = sp.Symbol("N", integer=True, positive=True)

Shape = tuple[int, ...]
Printer = Callable[[Expr], str]
# "np.random.Generator" as text: evaluating it would import numpy.random at start-up
Draw = Callable[[Shape, Mapping[str, Any], "np.random.Generator"], np.ndarray]


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs = rhs`` with the shape of both (``()`` for a
    scalar) and a note saying what was used (``sum_k xhat_k = 0``)."""

    lhs: Expr
    rhs: Expr
    shape: tuple[Expr, ...] = ()
    note: str = ""

    def shape_text(self) -> str:
        return " x ".join(map(str, self.shape)) if self.shape else "scalar"

    def text(self, printer: Printer = sp.sstr) -> str:
        """``lhs = rhs   [N x D]`` (SymPy's text printer unless another is given)."""
        return f"{printer(self.lhs)} = {printer(self.rhs)}   [{self.shape_text()}]"

    def latex(self, printer: Printer = sp.latex) -> str:
        """``lhs &= rhs`` for an ``aligned`` block, the shape after it."""
        shape = r" \times ".join(sp.latex(s) for s in self.shape) if self.shape else "1"
        return rf"{printer(self.lhs)} &= {printer(self.rhs)} \quad [{shape}]"


@dataclass(frozen=True)
class MatrixSteps:
    """A layer type's derivation: the forward equations, the backward steps (index form,
    then the matrix form over the batch), and ``gradients``, the batch-form result for
    ``"x"`` and each parameter, in the matrix symbols ``inputs`` names (by array name:
    ``{"x": X, "dy": dY, ...}``) and the scalars ``scalars`` names: sizes and
    hyperparameters (``{"N": N, "D": D, "rate": p}``)."""

    layer: str
    forward: tuple[Step, ...]
    backward: tuple[Step, ...]
    gradients: Mapping[str, Expr]
    inputs: Mapping[str, MatrixSymbol]
    scalars: Mapping[str, sp.Symbol]
    notes: tuple[str, ...] = ()

    def text(self, printer: Printer = sp.sstr) -> str:
        """The derivation as ``symgrad derive --level layer`` prints it."""
        lines = [f"layer '{self.layer}' (N samples as rows):", "  forward:"]
        lines += [f"    {s.text(printer)}" for s in self.forward]
        lines.append("  backward (dy = dE/dy, the gradient arriving from above):")
        for s in self.backward:
            lines.append(f"    {s.text(printer)}")
            if s.note:
                lines.append(f"      <- {s.note}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def latex_lines(self, printer: Printer = sp.latex) -> list[str]:
        """Every step as ``lhs &= rhs`` for an ``aligned`` block."""
        return [s.latex(printer) for s in self.forward + self.backward]


@dataclass(frozen=True)
class Bound:
    """The interval a numeric setting must lie in: ``low`` to ``high``, each end included
    unless it is open. NaN lies in none.

    >>> rate = Bound(0, 1, high_open=True)
    >>> 0.5 in rate, 1.0 in rate, float("nan") in rate, rate.text(whole=False)
    (True, False, False, 'in [0, 1)')
    >>> Bound(1).text(whole=True), Bound(0, low_open=True).text(whole=False)
    ('an integer >= 1', 'a number > 0')
    """

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and (value < self.high if self.high_open else value <= self.high)

    def text(self, whole: bool) -> str:
        """What the setting must be: ``in [0, 1)``, or ``an integer >= 1`` without a top."""
        if self.high == math.inf:
            kind = "an integer" if whole else "a number"
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        return (f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.high_open else ']'}")


@dataclass(frozen=True)
class LayerType:
    """A catalogue entry: every facet of one layer type (see the module docstring)."""

    name: str
    title: str
    params: tuple[str, ...]
    hyper: Mapping[str, Any]
    output_shape: Callable[[Shape, Mapping[str, Any]], Shape]
    init: Callable[[Shape, Mapping[str, Any], np.random.Generator], dict[str, np.ndarray]]
    forward: Callable[..., tuple[np.ndarray, Any]]
    backward: Callable[[np.ndarray, Any], dict[str, np.ndarray]]
    derivation: Callable[..., MatrixSteps]
    inputs: Mapping[str, Draw] = field(default_factory=dict)
    predict: Callable[..., np.ndarray] | None = None
    state: tuple[str, ...] = ()
    init_state: Callable[[Shape, Mapping[str, Any]], dict[str, np.ndarray]] | None = None
    update_state: Callable[..., dict[str, np.ndarray]] | None = None
    sample_shape: Callable[[int, Mapping[str, Any]], Shape] | None = None
    input_grad_optional: bool = False
    compiled: str | None = None
    bounds: Mapping[str, Bound] = field(default_factory=dict)

    def with_defaults(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """The hyperparameters with defaults filled in; an unknown one, one of the wrong kind
        or one outside its :class:`Bound` is an error naming it.

        >>> get_layer_type("dropout").with_defaults({"rate": 1.5})
        Traceback (most recent call last):
        ...
        symgrad.errors.ArgumentError: layer 'dropout': rate must be in [0, 1), got 1.5
        """
        unknown = sorted(set(hyper) - set(self.hyper))
        if unknown:
            raise UnknownNameError(f"setting of layer type '{self.name}'", unknown[0],
                                   list(self.hyper) or ["(none)"])
        for key, value in hyper.items():  # of the default's kind: true/false, whole, number
            default = self.hyper[key]
            kind = next(k for k in (bool, int, float, object) if isinstance(default, k))
            fits = isinstance(value, bool) == (kind is bool) and (
                kind is object or isinstance(value, int if kind is int else (int, float)))
            if not fits:
                raise ArgumentError(f"layer '{self.name}': setting '{key}' must be "
                                    f"{_KINDS[kind]}, got {value!r}")
            bound = self.bounds.get(key)
            if bound is not None and value not in bound:
                raise ArgumentError(f"layer '{self.name}': {key} must be "
                                    f"{bound.text(whole=kind is int)}, got {value!r}")
        return {**self.hyper, **hyper}

    def check_input(self, x: np.ndarray, shape: Shape, what: str = "input") -> None:
        """A :class:`ShapeError` unless ``x`` is a batch of per-sample shape ``shape``."""
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
            raise ShapeError(self.name, tuple(x.shape), "(N, " + ", ".join(map(str, shape))
                             + ")", what)


def vector_shape(name: str, what: str) -> Callable[[Shape, Mapping[str, Any]], Shape]:
    """The ``output_shape`` of layer ``name`` that maps one vector per sample (``what``)
    to one of the same size.

    >>> vector_shape("softmax", "one vector of scores")((2, 3), {})
    Traceback (most recent call last):
    ...
    symgrad.errors.ShapeError: layer 'softmax': per-sample input of shape (2, 3) does not fit; it needs (D,), one vector of scores per sample
    """
    def shape_of(shape: Shape, hyper: Mapping[str, Any]) -> Shape:
        if len(shape) != 1:
            raise ShapeError(name, shape, f"(D,), {what} per sample", "per-sample input")
        return shape
    return shape_of


_KINDS = {bool: "true or false", int: "a whole number", float: "a number", object: "a value"}

#: The module of this package that defines each shipped layer type: imported on the first
#: lookup of one of its names, not at start-up (the four took 60-90 ms of every command's
#: start-up, by ``python -X importtime``). tests/test_startup.py checks it against what the
#: modules register.
DEFINED_IN: Mapping[str, str] = {
    "batchnorm": "layers_norm", "dropout": "layers_norm",
    "softmax": "layers_softmax", "log_softmax": "layers_softmax",
    "conv1d": "layers_conv", "conv2d": "layers_conv", "maxpool1d": "layers_conv",
    "maxpool2d": "layers_conv", "avgpool1d": "layers_conv", "avgpool2d": "layers_conv",
    "flatten": "layers_conv", "relu": "layers_conv",
    "rnn": "layers_rnn",
}


class LayerTypes(MutableMapping[str, LayerType]):
    """The registry of layer types by spec word: a mapping that imports the module
    ``defined_in`` names for a name on its first lookup, and every such module when it is
    iterated or sized, so it always holds the whole catalogue to whoever reads it.

    >>> "dropout" in LAYER_TYPES, "dense" in LAYER_TYPES
    (True, False)
    """

    def __init__(self, defined_in: Mapping[str, str]) -> None:
        self._entries: dict[str, LayerType] = {}
        self._defined_in = defined_in
        self._imported: set[str] = set()

    def _load(self, module: str) -> None:
        if module in self._imported:
            return
        self._imported.add(module)  # first: the module registers its entries while it runs
        try:
            importlib.import_module(f"{__package__}.{module}")
        except BaseException:
            self._imported.discard(module)
            raise

    def _load_for(self, name: str) -> None:
        if name not in self._entries and name in self._defined_in:
            self._load(self._defined_in[name])

    def _load_all(self) -> None:
        for module in dict.fromkeys(self._defined_in.values()):
            self._load(module)

    def __getitem__(self, name: str) -> LayerType:
        self._load_for(name)
        return self._entries[name]

    def __setitem__(self, name: str, entry: LayerType) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        self._load_for(name)
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter(dict(self._entries))

    def __len__(self) -> int:
        self._load_all()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"LayerTypes({sorted(self)})"


LAYER_TYPES: LayerTypes = LayerTypes(DEFINED_IN)


def register_layer_type(entry: LayerType) -> LayerType:
    """Add a layer type; its name must be new, state needs its three facets, and each bound
    belongs to a numeric setting whose default lies in it."""
    if entry.name in LAYER_TYPES:
        raise SymgradError(f"layer type '{entry.name}' is already in the catalogue")
    for key, bound in entry.bounds.items():
        if key not in entry.hyper or entry.hyper[key] not in bound:
            raise SymgradError(f"layer type '{entry.name}': bound of '{key}' needs a "
                               "setting of that name whose default lies in it")
    if entry.state and None in (entry.init_state, entry.update_state, entry.predict):
        raise SymgradError(f"layer type '{entry.name}' has state {', '.join(entry.state)}: "
                           "give init_state, update_state and predict")
    LAYER_TYPES[entry.name] = entry
    return entry


def unregister_layer_type(name: str) -> None:
    """Remove a layer type (for throwaway entries in tests)."""
    del LAYER_TYPES[name]


def get_layer_type(name: str) -> LayerType:
    """The entry named ``name``; an unknown name lists the known ones.

    >>> get_layer_type("dropout").hyper["rate"]
    0.5
    """
    try:
        return LAYER_TYPES[name]
    except KeyError:
        raise UnknownNameError("layer type", name, sorted(LAYER_TYPES)) from None


def evaluate(steps: MatrixSteps, name: str, arrays: Mapping[str, np.ndarray],
             scalars: Mapping[str, float]) -> np.ndarray:
    """The gradient ``steps.gradients[name]`` for concrete ``arrays`` (by the names of
    ``steps.inputs``) and ``scalars`` (``{"N": 4, "D": 3}``), as SymPy evaluates the matrix
    expression, in float64: the second way to compute a layer's gradient."""
    at = {steps.scalars[k]: v for k, v in scalars.items()}
    table = {}
    for key, symbol in steps.inputs.items():
        concrete = symbol.subs(at)
        value = np.asarray(arrays[key], dtype=float).reshape(concrete.shape)
        table[concrete] = sp.ImmutableMatrix(value)
    expr = steps.gradients[name].subs(at).xreplace(table)
    return np.array(sp.ImmutableMatrix(expr.doit()).evalf(), dtype=float)

