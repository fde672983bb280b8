"""A stack's layer-level derivation as NumPy code over minibatches (rows are samples).

Dense layers are ``Z = A W^T + b`` with their activation's value and slope from the
catalogue's stable forms (:func:`symgrad.compile.activation_kernel`); a layer type runs its
catalogue entry's ``forward`` and ``backward`` kernels, the forms its derivation ends with.
The loss's gradient follows the derivation's output rule
(:data:`symgrad.derive.stack.OUTPUT_RULES`).

Three modes. Training (:meth:`sgd_epoch`) draws the extra inputs of layer types (dropout's
mask, from a generator seeded once) and moves each layer's state (batch norm's running
mean and variance, ``running_mean2, running_var2``: arrays kept in the parameters' dict,
without gradient) with every batch. :meth:`value_and_grad`,
:meth:`loss` and :meth:`grad` check gradients at given parameters: nothing drawn (dropout
passes its input through), batch norm on the batch's statistics as its derivation says,
the state neither used nor moved. :meth:`forward` and :meth:`predict` evaluate the network
as after training, one sample as well as many: every layer type's ``predict``, batch norm
with its running statistics, which they need as arguments.

A layer type with C loops (its catalogue entry's ``compiled``: the recurrent layer's
steps) runs them when a C compiler is found (``native=False``: NumPy's everywhere);
without one, NumPy's.

>>> from symgrad.derive.stack import derive_stack
>>> c = CompiledStack(derive_stack("derivations/digits_batchnorm.toml"))
>>> params = c.derivation.initial_parameters(0)
>>> c.forward(**params, x=np.zeros((2, 64))).shape
(2, 10)
"""

from __future__ import annotations

import importlib
import math
import warnings
from typing import Any, Callable, Literal, Mapping

import numpy as np

from ..compile import activation_kernel, numpy_kernel
from ..derive.matrix import _unit_symbols
from ..derive.stack import StackDerivation
from ..errors import ArgumentError, CompileError, MissingDependencyError
from ..stack import StackLayer
from .minibatch import layer_level_html

__all__ = ["CompiledStack"]

Params = dict[str, np.ndarray]
#: ``train`` (sgd_epoch), ``check`` (value_and_grad at given parameters), ``eval`` (forward).
Mode = Literal["train", "check", "eval"]
Cache = tuple[StackLayer, Any]


def _native(s: StackLayer) -> dict[str, Any]:
    """The C loops' arguments for layer ``s``, or none: no loops for its type, no C
    compiler, or a compiler that failed (a warning: NumPy's kernels are used)."""
    if s.entry is None or s.entry.compiled is None:
        return {}
    try:  # the module is imported on first use: a stack without C loops does not load it
        return importlib.import_module(f"symgrad.{s.entry.compiled}").forward_arguments(
            s.hyper)
    except MissingDependencyError:
        return {}
    except CompileError as exc:
        warnings.warn(f"layer {s.index} ({s.entry.name}) runs on NumPy: {exc}", stacklevel=3)
        return {}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.add.reduce(e, axis=1, keepdims=True)


class CompiledStack:
    """The stack's kernels: ``forward``, ``loss``, ``grad``, ``value_and_grad`` and
    ``predict`` by name (parameters ``W1, b1, gamma2, ...``, inputs ``x`` of the per-sample
    shape, targets ``y``), and ``sgd_epoch``, the interface of
    :class:`symgrad.backends.minibatch.CompiledLayers`."""

    def __init__(self, derivation: StackDerivation, batch_size: int | None = None,
                 seed: int = 0, native: bool = True) -> None:
        self.derivation = derivation
        self.stack = derivation.stack
        self.mean = derivation.loss.reduction == "mean"
        self.rng = np.random.default_rng(seed)
        self._kernels: dict[int, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
            s.index: activation_kernel(s.dense.activation.name, **s.dense.params)
            for s in self.stack.layers if s.dense is not None and s.dense.activation is not None
            and s.dense.activation.elementwise}
        _, a, y = _unit_symbols()
        self._elementwise = numpy_kernel((a, y), (derivation.unit_loss,
                                                  derivation.unit_upstream), [])
        self.names = [n for s in self.stack.layers for n in s.parameter_names.values()]
        self.state_names = [n for s in self.stack.layers for n in s.state_names.values()]
        # the first layer's input gradient is never used: a dense layer skips its product,
        # a layer type that can leave it out is told so (a first convolution: a third of
        # its backward pass)
        self._first = self.stack.layers[0].index
        self._hyper = {s.index: {**s.hyper, **(_native(s) if native else {}),
                                 **({"input_grad": False} if s.index == self._first
                                    and s.entry.input_grad_optional else {})}
                       for s in self.stack.layers if s.entry is not None}

    # -- one layer -------------------------------------------------------------------

    def _dense_forward(self, s: StackLayer, P: Params, x: np.ndarray) -> tuple[np.ndarray, Any]:
        names = s.parameter_names
        z = x @ P[names["W"]].T
        if "b" in names:
            z += P[names["b"]]
        kernel = self._kernels.get(s.index)
        if kernel is not None:
            a, slope = kernel(z)
            return a, (x, slope)
        if s.dense is not None and s.dense.activation is not None:  # softmax, last layer
            return _softmax(z), (x, None)
        return z, (x, None)

    def _layer_forward(self, s: StackLayer, P: Params, x: np.ndarray, mode: Mode
                       ) -> tuple[np.ndarray, Any]:
        """The layer's output and cache. A layer type evaluates with its ``predict`` (its
        state among its arrays) in ``eval`` mode, and in ``check`` mode if it has no state;
        in ``train`` mode its state in ``P`` is replaced by the batch's update."""
        if s.dense is not None:
            return self._dense_forward(s, P, x)
        entry = s.entry
        own = {k: P[v] for k, v in s.parameter_names.items()}
        state = s.state_names
        if entry.predict is not None and (mode == "eval" or mode == "check" and not state):
            own.update({k: P[v] for k, v in state.items()})
            return entry.predict(x, own, **s.hyper), None  # passes dy through
        if mode == "train" and state:  # from x alone: before forward, which may refuse x
            moved = entry.update_state(x, {k: P[v] for k, v in state.items()}, **s.hyper)
            P.update({state[k]: v for k, v in moved.items()})
        extra = {k: draw(x.shape, s.hyper, self.rng) for k, draw in entry.inputs.items()}
        return entry.forward(x, own, **self._hyper[s.index], **extra)

    def _layer_backward(self, s: StackLayer, P: Params, dy: np.ndarray, cache: Any,
                        grads: dict[str, np.ndarray]) -> np.ndarray | None:
        """The layer's parameter gradients into ``grads``; its input gradient, or ``None``
        for the first layer where it is left out."""
        if s.dense is not None:
            x, slope = cache
            names = s.parameter_names
            dz = dy * slope if slope is not None else dy
            grads[names["W"]] = dz.T @ x
            if "b" in names:
                grads[names["b"]] = np.add.reduce(dz, axis=0)
            return None if s.index == self._first else dz @ P[names["W"]]
        if cache is None:
            return dy
        out = s.entry.backward(dy, cache)
        grads.update({s.parameter_names[k]: v for k, v in out.items() if k != "x"})
        return out.get("x")

    # -- the network -----------------------------------------------------------------

    def _forward(self, P: Params, X: np.ndarray, mode: Mode) -> tuple[np.ndarray, list[Cache]]:
        caches: list[Cache] = []
        for s in self.stack.layers:
            X, cache = self._layer_forward(s, P, X, mode)
            caches.append((s, cache))
        return X, caches

    def _output(self, out: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """The batch's total loss and its gradient into the last layer (not yet scaled):
        ``dZ`` for a softmax output with cross-entropy, else ``dA``."""
        rule = self.derivation.rule
        if rule == "softmax_cce":
            logs = np.log(np.maximum(out, np.finfo(float).tiny))
            return float(-np.vdot(Y, logs)), out * np.add.reduce(Y, axis=1, keepdims=True) - Y
        if rule == "log_softmax_cce":
            return float(-np.vdot(Y, out)), -Y
        loss, upstream = self._elementwise(out, Y)
        return float(np.add.reduce(loss, axis=None)), upstream

    def _backward(self, P: Params, caches: list[Cache], delta: np.ndarray
                  ) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        for s, cache in reversed(caches):  # a softmax output has no slope: delta is dZ
            delta = self._layer_backward(s, P, delta, cache, grads)  # type: ignore[assignment]
        return {n: grads[n] for n in self.names}

    def _step(self, P: Params, X: np.ndarray, Y: np.ndarray, training: bool
              ) -> tuple[float, dict[str, np.ndarray]]:
        """The loss and gradients of a batch: ``train`` mode (its state moved in ``P``), or
        ``check`` mode."""
        out, caches = self._forward(P, X, "train" if training else "check")
        total, delta = self._output(out, Y)
        scale = 1.0 / len(X) if self.mean else 1.0
        return total * scale, self._backward(P, caches, delta * scale)

    # -- public ----------------------------------------------------------------------

    def _named(self, values: Mapping[str, Any], targets: bool = True
               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """Parameters and state, inputs, targets; the state is needed at evaluation (no
        targets), and taken but not used with them."""
        data = ("x", "y") if targets else ("x",)
        arrays = (*self.names, *self.state_names)
        unknown = sorted(set(values) - set(arrays) - set(data))
        missing = [k for k in (*(self.names if targets else arrays), *data) if k not in values]
        if unknown or missing:
            raise ArgumentError(f"{'unknown' if unknown else 'missing'} argument "
                                f"'{(unknown or missing)[0]}'; the arguments are: "
                                f"{', '.join(arrays)}, {', '.join(data)}")
        P = {k: np.asarray(values[k], dtype=np.float64) for k in arrays if k in values}
        X = np.asarray(values["x"], dtype=np.float64)
        if X.shape[1:] != self.stack.inputs:
            raise ArgumentError(f"inputs x must have shape (samples, "
                                f"{', '.join(map(str, self.stack.inputs))}), got {X.shape}")
        Y = np.asarray(values["y"], dtype=np.float64) if targets else None
        if Y is not None and Y.shape != (len(X),) + self.stack.output_shape:
            raise ArgumentError(f"targets y must have shape ({len(X)}, "
                                f"{self.stack.output_shape[0]}), got {Y.shape}")
        return P, X, Y

    def forward(self, **values: Any) -> np.ndarray:
        """The network's outputs as after training, each sample on its own, for parameters,
        state (``running_mean2, ...``: a trained ``result.params`` holds both) and inputs
        ``x``."""
        P, X, _ = self._named(values, targets=False)
        return self._forward(P, X, "eval")[0]

    def loss(self, **values: Any) -> float:
        return self.value_and_grad(**values)[0]

    def grad(self, **values: Any) -> dict[str, np.ndarray]:
        return self.value_and_grad(**values)[1]

    def value_and_grad(self, **values: Any) -> tuple[float, dict[str, np.ndarray]]:
        """The loss and every gradient over ``x, y`` (dropout passing its input through,
        batch norm on the batch's statistics, as derived; state is taken, not used)."""
        P, X, Y = self._named(values)
        return self._step(P, X, Y, training=False)  # type: ignore[arg-type]

    def predict(self, **values: Any) -> np.ndarray:
        """The class of each sample: the index of its largest output."""
        return np.argmax(self.forward(**values), axis=1)

    def __repr__(self) -> str:
        d = self.derivation
        return f"CompiledStack({d.shape_text()}; loss {d.loss.name})"

    def _repr_html_(self) -> str:
        """A notebook's display, as :class:`~symgrad.backends.minibatch.CompiledLayers` has."""
        d = self.derivation
        shapes = {k: v.shape for k, v in self.stack.initial_arrays(0).items()}
        return layer_level_html(d.shape_text(), d.loss.name, self.mean, shapes,
                                self.stack.inputs, int(np.prod(self.stack.output_shape)))

    def sgd_epoch(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                  order: np.ndarray, batch_size: int, learning_rate: float,
                  work: Any = None) -> float:
        """One epoch of minibatch SGD in place over the samples in ``order``, with fresh
        dropout masks each batch and the state (put into ``params`` at its initial values
        if it is not there) moved by each; the mean of the batch losses (each before its
        update)."""
        for name, value in self.stack.initial_state().items():
            params.setdefault(name, value)
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            loss, grads = self._step(params, X[rows], Y[rows], training=True)
            total += loss
            for name, g in grads.items():
                params[name] -= learning_rate * g
        return total / math.ceil(len(order) / batch_size)

