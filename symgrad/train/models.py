"""What the training loop trains: a network's gradients at one of the two levels.

Both models answer the same four questions, so :func:`symgrad.train.train` runs one loop
for a two-neuron chain and for the digits MLP alike:

* ``start`` -- the starting parameters (the network's values, or seeded ones);
* ``evaluate`` -- the loss and gradient of the whole data set at some parameters;
* ``advance`` -- the parameters after a number of updates, one per batch of sample indices;
* ``accuracy`` -- the share of samples classified right, where the data have classes.

:class:`ScalarModel` uses :func:`symgrad.compile`'s functions of one gradient per
parameter (``w1``, ``b1``, ... as floats); :class:`LayerModel` the layer level's
minibatch kernels (``W1``, ``b1``, ... as arrays). :func:`choose_level` picks one by size,
as ``symgrad derive --level auto`` does.

>>> from symgrad.spec import read_spec
>>> choose_level(read_spec("derivations/two_neuron.toml")), choose_level(
...     read_spec("derivations/digits_mlp.toml"))
('scalar', 'layer')
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from ..architecture import LEVELS, SCALAR_LIMIT, Architecture
from ..backends.minibatch import CompiledLayers
from ..backends.stack import CompiledStack
from ..chunked import is_dask
from ..compile import compile as compile_derivation
from ..datasets import Dataset, load_dataset
from ..derive.matrix import LayerDerivation
from ..derive.stack import StackDerivation
from ..derive.unit import derive
from ..errors import ArgumentError, UnknownNameError
from ..network import Network
from ..spec import Spec
from ..stack import has_layer_types

__all__ = ["Model", "ScalarModel", "LayerModel", "GradientFunctions", "choose_level"]

Params = dict[str, Any]  # floats at the scalar level, arrays at the layer level


class GradientFunctions(Protocol):
    """What training needs from :func:`symgrad.compile`'s result."""

    @property
    def parameters(self) -> tuple[str, ...]: ...

    @property
    def data_names(self) -> tuple[str, ...]: ...

    def value_and_grad(self, **values: object) -> tuple[float, dict[str, float]]: ...


class Model(Protocol):
    """One level's gradients over one data set, as the training loop uses them."""

    level: str
    samples: int
    spec: Spec | None
    loss_symbol: str
    derivation: Any
    setup_seconds: float

    def start(self, seed: int, reseed: bool) -> Params: ...

    def evaluate(self, params: Params) -> tuple[float, dict[str, Any]]: ...

    def advance(self, params: Params, grads: Mapping[str, Any],
                batches: Sequence[np.ndarray] | None, learning_rate: float
                ) -> tuple[Params, bool]: ...

    def snapshot(self, params: Params) -> Params: ...

    def accuracy(self, params: Params) -> dict[str, float]: ...


def choose_level(source: Spec | Architecture, level: str = "auto") -> str:
    """``"scalar"`` or ``"layer"``: ``auto`` takes the layer level for a named data set or
    above :data:`SCALAR_LIMIT` parameters, unless parameters are tied (scalar only)."""
    if level not in LEVELS:
        raise UnknownNameError("level", level, LEVELS)
    if isinstance(source, Spec) and has_layer_types(source) and level != "scalar":
        return "layer"  # a stack (at the scalar level, Architecture says it cannot be)
    arch = source if isinstance(source, Architecture) else Architecture.from_spec(source)
    spec = arch.spec
    named_data = spec is not None and spec.data.source is not None
    if level == "scalar" and named_data:
        raise arch.error("data.source", "a named data set is trained at the layer level; "
                         "drop --level scalar")
    if level == "layer" and arch.tied is not None:
        raise arch.error(arch.tied, "tied parameters are trained at the scalar level only")
    if level != "auto":
        return level
    big = arch.parameter_count > SCALAR_LIMIT
    return "layer" if (named_data or big) and arch.tied is None else "scalar"


def _finite_or_nan(call: Any, *args: Any, **kwargs: Any) -> tuple[float, dict[str, Any]]:
    """``call``'s loss and gradient; an overflow or math-domain failure gives a NaN loss."""
    with np.errstate(all="ignore"):
        try:
            return call(*args, **kwargs)
        except ArithmeticError:  # OverflowError of the scalar (math module) code
            return math.nan, {}
        except ValueError as exc:
            if str(exc) != "math domain error":  # bad arguments are not divergence
                raise
            return math.nan, {}


class ScalarModel:
    """One compiled gradient per parameter, on the data values a network holds."""

    level = "scalar"

    def __init__(self, net: Network, compiled: GradientFunctions | None = None) -> None:
        begin = time.perf_counter()
        self.network = net
        self.spec, self.loss_symbol = net.spec, net.loss.symbol
        self.compiled = compiled if compiled is not None else compile_derivation(derive(net))
        self.derivation = getattr(self.compiled, "derivation", None)
        self.setup_seconds = time.perf_counter() - begin
        self.data: dict[str, float | np.ndarray] = {}
        for name in self.compiled.data_names:
            if name not in net.values:
                raise ArgumentError(f"no value for '{name}': training needs every input and "
                                    "target ([data] in the spec)")
            self.data[name] = net.values[name]
        self.samples = max((math.prod(np.shape(v)) for v in self.data.values()), default=1)

    def start(self, seed: int, reseed: bool) -> Params:
        """The network's parameter values, or seeded ones when ``reseed`` and it was given
        none."""
        net = self.network
        if reseed and net.seeded:
            return dict(net.initial_parameters(seed))
        return {str(p): float(net.values[str(p)]) for p in net.parameters}  # type: ignore[arg-type]

    def evaluate(self, params: Params, data: Mapping[str, object] | None = None
                 ) -> tuple[float, dict[str, Any]]:
        loss, grads = _finite_or_nan(self.compiled.value_and_grad, **params,
                                     **(self.data if data is None else data))
        return float(loss), {k: float(v) for k, v in grads.items()}

    def advance(self, params: Params, grads: Mapping[str, Any],
                batches: Sequence[np.ndarray] | None, learning_rate: float
                ) -> tuple[Params, bool]:
        """One update per batch of sample indices, or one on ``grads`` (the whole data's)
        when ``batches`` is ``None``; ``False`` when a batch's gradient is not finite."""
        for batch in batches if batches is not None else [None]:
            if batch is not None:
                _, grads = self.evaluate(params, {k: self._rows(v, batch)
                                                  for k, v in self.data.items()})
                if not grads or not all(map(math.isfinite, grads.values())):
                    return params, False
            params = {n: v - learning_rate * grads[n] for n, v in params.items()}
        return params, True

    def _rows(self, value: Any, batch: np.ndarray) -> Any:
        """A batch's samples of one input or target; a Dask array's are read into memory,
        in index order (out of order, Dask would split its chunks)."""
        if is_dask(value):
            return value[np.sort(batch)].compute()
        return value[batch] if isinstance(value, np.ndarray) and value.size == self.samples \
            else value

    def snapshot(self, params: Params) -> Params:
        return dict(params)

    def accuracy(self, params: Params) -> dict[str, float]:
        return {}


class LayerModel:
    """The layer level's minibatch kernels, on a named data set or a network's values."""

    level = "layer"

    def __init__(self, source: Network | Spec, data: Dataset | None = None,
                 batch_size: int | None = None) -> None:
        begin = time.perf_counter()
        self.network = source if isinstance(source, Network) else None
        self.derivation, self.compiled = _layer_kernels(source, batch_size)
        self.spec, self.loss_symbol = self.derivation.spec, self.derivation.loss.symbol
        self.setup_seconds = time.perf_counter() - begin
        self.dataset = data
        if data is None and self.spec is not None and self.spec.data.source is not None:
            self.dataset = load_dataset(self.spec)
        if isinstance(self.derivation, StackDerivation):
            _check_stack_data(self.derivation, self.dataset)
        if self.dataset is not None:
            self.x, self.y = self.dataset.x_train, self.dataset.y_train
        elif self.network is not None:
            self.x, self.y = _columns(self.network)
        else:
            raise ArgumentError("no data: the spec names no data set and gives no values")
        self.samples = len(self.x)
        self._work: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def start(self, seed: int, reseed: bool) -> Params:
        """The network's values as arrays, else seeded ones (:meth:`LayerDerivation.
        initial_parameters`, the arrays the scalar level's seeded values come from)."""
        net = self.network
        if net is not None and not (reseed and net.seeded):
            return net.to_arrays()
        return self.derivation.initial_parameters(seed)

    def evaluate(self, params: Params) -> tuple[float, dict[str, Any]]:
        loss, grads = _finite_or_nan(self.compiled.value_and_grad, **params, x=self.x, y=self.y)
        return float(loss), grads

    def advance(self, params: Params, grads: Mapping[str, Any],
                batches: Sequence[np.ndarray] | None, learning_rate: float
                ) -> tuple[Params, bool]:
        """The updates of consecutive batches of one epoch (or one update on every sample
        when ``batches`` is ``None``), in place; ``False`` when a batch's loss is not
        finite."""
        if batches is None:
            batches = [np.arange(self.samples)]
        order = np.concatenate(batches)
        work = self._work.get(len(order))
        if work is None:
            work = self._work[len(order)] = (np.empty((len(order), self.x.shape[1])),
                                             np.empty((len(order), self.y.shape[1])))
        with np.errstate(all="ignore"):
            loss = self.compiled.sgd_epoch(params, self.x, self.y, order, len(batches[0]),
                                           learning_rate, work)
        return params, math.isfinite(loss)

    def snapshot(self, params: Params) -> Params:
        return {k: v.copy() for k, v in params.items()}

    def accuracy(self, params: Params) -> dict[str, float]:
        """Train and test accuracy on a data set with classes (none otherwise)."""
        data = self.dataset
        if data is None:
            return {}
        predict = self.compiled.predict
        return {"train": float(np.mean(predict(**params, x=data.x_train) == data.labels_train)),
                "test": float(np.mean(predict(**params, x=data.x_test) == data.labels_test))}


def _layer_kernels(source: Network | Spec, batch_size: int | None
                   ) -> tuple[LayerDerivation | StackDerivation, CompiledLayers | CompiledStack]:
    """The layer level's derivation and kernels: a stack's (layer types) or a dense one's."""
    if isinstance(source, Spec) and has_layer_types(source):
        stack = StackDerivation(source)
        return stack, CompiledStack(stack, batch_size, seed=source.training.seed)
    arch = source.architecture if isinstance(source, Network) else \
        Architecture.from_spec(source)
    derivation = LayerDerivation(arch)
    return derivation, CompiledLayers(derivation, batch_size)


def _check_stack_data(d: StackDerivation, data: Dataset | None) -> None:
    """A stack trains on a named data set whose targets fit its output."""
    spec = d.spec
    if data is None or spec is None:
        raise ArgumentError("a network with layer types trains on a named data set "
                            "([data] source = ...)")
    outputs = d.stack.output_shape[0]
    if data.classes != outputs:
        last = len(spec.network.layers) - 1
        raise spec.error(f"network.layers[{last}]", f"the {data.name} data set has "
                         f"{data.classes} classes, but the network has {outputs} outputs")
    if tuple(data.x_train.shape[1:]) != d.stack.inputs:
        raise spec.error("network.inputs", f"the {data.name} data set's samples have shape "
                         f"{tuple(data.x_train.shape[1:])}, the network takes {d.stack.inputs}")


def _columns(net: Network) -> tuple[np.ndarray, np.ndarray]:
    """The network's input and target values as ``(samples, columns)`` arrays."""
    names = [str(s) for s in net.inputs + net.targets]
    missing = [n for n in names if n not in net.values]
    if missing:
        raise ArgumentError(f"no value for '{missing[0]}': training needs every input and "
                            "target ([data] in the spec)")
    columns = [np.atleast_1d(np.asarray(net.values[n], dtype=np.float64)) for n in names]
    samples = max(len(c) for c in columns)
    table = np.column_stack([np.broadcast_to(c, (samples,)) for c in columns])
    return table[:, :len(net.inputs)].copy(), table[:, len(net.inputs):].copy()
