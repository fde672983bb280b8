"""The layer-level derivation as NumPy code over minibatches.

Rows are samples, so a layer is ``Z = A W^T + b``; every activation's value and slope come
from one kernel generated from its catalogue entry's stable forms
(:func:`symgrad.compile.activation_kernel`), an elementwise output layer's loss and delta
from the same forms and rewrites as the unit level's compiled code
(:func:`symgrad.compile.output_kernel`: ``sigma(z) - 1`` as ``-sigma(-z)``), a softmax
output from its max-shifted log-sum-exp, with ``delta = s · sum(y) - y`` (in ``grad``,
``loss`` and ``value_and_grad`` computed so that no entry cancels; see
:meth:`CompiledLayers._output_layer`); work arrays are preallocated per batch size; there
is no per-weight code.

>>> from symgrad.derive import derive_layers
>>> c = CompiledLayers(derive_layers("derivations/digits_mlp.toml"), 32)
>>> params = c.derivation.initial_parameters(0)
>>> c.forward(**params, x=np.zeros((2, 64))).shape
(2, 10)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..compile import activation_kernel, output_kernel
from ..derive.matrix import LayerDerivation, _unit_symbols
from ..errors import ArgumentError, listed
from ..printing import html_table

__all__ = ["CompiledLayers", "layer_level_html"]


_Kernel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


OneHot = tuple[np.ndarray, np.ndarray]

#: The cost and gradient terms of no penalty.
_NO_PENALTY: tuple[float, dict[str, np.ndarray]] = (0.0, {})

# The minibatch loop makes some 30 NumPy calls a batch on arrays of a few hundred entries,
# where a keyword ``out=`` and a module attribute look-up cost some 50 and 30 ns a call
# (about 4% of the digits epoch): the elementwise calls are bound here and given ``out``
# by position.
_matmul, _add, _subtract, _multiply = np.matmul, np.add, np.subtract, np.multiply


def _targets(Y: np.ndarray, exact: bool) -> tuple[np.ndarray | None, OneHot | None]:
    """What a softmax output needs of targets ``Y``: each row's sum where the rows do not
    all sum to 1 (else ``None``); for an exact delta of one-hot targets (one 1 a row, else
    0), ``1 - Y`` and the flat index of each row's 1 (else ``None``)."""
    totals = np.add.reduce(Y, axis=1, keepdims=True)
    if not np.all(totals == 1):
        return totals, None
    if not exact:
        return None, None
    n, k = Y.shape
    # one-hot: each row is 1 at its label (Y @ (0..k-1), 3x faster than argmax), sums to 1
    # and has no negative entry
    at = np.arange(n) * k + np.clip((Y @ np.arange(k)).astype(np.intp), 0, k - 1)
    if not np.all(Y.ravel()[at] == 1) or Y.min() < 0:
        return None, None
    return None, (1.0 - Y, at)


@dataclass
class _Buffers:
    z: list[np.ndarray]
    a: list[np.ndarray]
    slope: list[np.ndarray]
    d: list[np.ndarray]
    gW: list[np.ndarray]
    gb: list[np.ndarray]
    rowmax: np.ndarray
    rowsum: np.ndarray
    others: np.ndarray


class CompiledLayers:
    """The layer-level derivation as NumPy code over minibatches (rows are samples).

    ``forward``, ``loss``, ``grad``, ``value_and_grad`` and ``predict`` take their
    arguments by name, as the unit level's compiled functions do: parameters
    ``W1=(n1, n0), b1=(n1,), ...``, inputs ``x`` of shape ``(m, n0)`` and one-hot or real
    targets ``y`` of shape ``(m, nL)``; ``sgd_epoch`` runs one epoch of
    minibatch SGD in place. Work arrays for a batch size are allocated once and reused.
    With a softmax output, targets of any sum are right: ``delta_L = s · sum(y) - y``, which
    is ``s - y`` for one-hot labels, as the derivation shows it.
    """

    def __init__(self, derivation: LayerDerivation, batch_size: int | None = None) -> None:
        self.derivation = derivation
        d = derivation
        self.shapes = d.shapes
        self.L = len(d.shapes)
        self.softmax_out = d._softmax_out
        self.mean = d.loss.reduction == "mean"
        # value and slope of each elementwise activation, from the catalogue's stable forms
        self._kernels: list[_Kernel | None] = [
            activation_kernel(s.activation, **s.params).on_arrays
            if s.activation is not None and s.activation.elementwise else None
            for s in d.shapes]
        last, unit = d.shapes[-1], d.steps_by_layer[self.L].unit
        self._output = None if self.softmax_out or unit is None else output_kernel(
            last.activation, last.params, unit, d.unit_loss(), *_unit_symbols()).on_arrays
        self._ones = np.ones(d.sizes[-1])
        self._penalty = d.architecture.penalty
        self._penalized = d.architecture.penalized_arrays
        self._buffers: dict[int, _Buffers] = {}
        if batch_size is not None:
            self._buffers_for(batch_size)

    # -- pieces ----------------------------------------------------------------------

    def _buffers_for(self, m: int) -> _Buffers:
        buf = self._buffers.get(m)
        if buf is None:
            sizes = self.derivation.sizes
            z = [np.empty(0)] + [np.empty((m, n)) for n in sizes[1:]]
            a = [np.empty(0)] + [np.empty((m, n)) if l == self.L and self.softmax_out
                                 else z[l] for l, n in enumerate(sizes[1:], start=1)]
            buf = _Buffers(z=z, a=a, d=[np.empty(0)] + [np.empty((m, n)) for n in sizes[1:]],
                           slope=[np.empty(0)] * len(sizes),
                           gW=[np.empty(0)] + [np.empty((sizes[l], sizes[l - 1]))
                                              for l in range(1, len(sizes))],
                           gb=[np.empty(0)] + [np.empty(n) for n in sizes[1:]],
                           rowmax=np.empty((m, 1)), rowsum=np.empty((m, 1)),
                           others=np.empty(m))
            self._buffers[m] = buf
        return buf

    def _check(self, params: Mapping[str, np.ndarray]) -> None:
        for s in self.shapes:
            expected: list[tuple[str, tuple[int, ...]]] = [(f"W{s.index}", (s.units, s.inputs))]
            if s.bias:
                expected.append((f"b{s.index}", (s.units,)))
            for key, shape in expected:
                if key not in params:
                    raise ArgumentError(f"missing parameter '{key}'")
                if np.shape(params[key]) != shape:
                    raise ArgumentError(f"parameter '{key}' has shape {np.shape(params[key])}, "
                                        f"expected {shape}")

    def _plan(self, P: Mapping[str, np.ndarray]) -> list[tuple[Any, ...]]:
        """Per layer: ``W``, ``W^T`` (a view), ``b`` or ``None`` and the activation's kernel
        (value and slope); built once per call or epoch, not per batch."""
        return [(P[f"W{s.index}"], P[f"W{s.index}"].T, P[f"b{s.index}"] if s.bias else None,
                 self._kernels[s.index - 1]) for s in self.shapes]

    def _run_forward(self, plan: Sequence[tuple[Any, ...]], X: np.ndarray,
                     buf: _Buffers) -> None:
        prev = X
        last = self.L
        zs, a, slope = buf.z, buf.a, buf.slope
        for l, (_, WT, b, kernel) in enumerate(plan, start=1):
            z = zs[l]
            _matmul(prev, WT, z)
            if b is not None:
                _add(z, b, z)
            if kernel is not None:
                a[l], slope[l] = kernel(z)
            elif l == last and self.softmax_out:
                # shifted by the row maximum in place: exp cannot overflow, and the
                # log-softmax (hence the loss) is the same for the shifted z
                s = a[l]
                np.maximum.reduce(z, axis=1, keepdims=True, out=buf.rowmax)
                _subtract(z, buf.rowmax, z)
                np.exp(z, s)
                np.add.reduce(s, axis=1, keepdims=True, out=buf.rowsum)
                np.divide(s, buf.rowsum, s)
            prev = a[l]

    def _targets(self, Y: object, exact: bool = True
                 ) -> tuple[np.ndarray | None, OneHot | None]:
        return _targets(Y, exact) if self.softmax_out else (None, None)  # type: ignore[arg-type]

    def _output_layer(self, buf: _Buffers, Y: np.ndarray, totals: np.ndarray | None = None,
                      one_hot: OneHot | None = None, exact: bool = True) -> float:
        """Right after :meth:`_run_forward`: the batch's total loss, with ``delta_L`` (not
        yet scaled) in ``buf.d[L]``; ``totals`` and ``one_hot`` as :func:`_targets` gives
        them. For a softmax output ``delta = s · sum(y) - y``, right for any targets; but a
        share near 1 keeps only 1e-16 absolute of ``s - 1``, and of its loss through the log
        of the row's sum. ``exact`` takes the label's delta as minus the other shares and
        ``lse`` as ``log1p`` of all shares but the largest; training does not: 8 more array
        operations a batch measured 9% of the digits epoch."""
        L = self.L
        if self._output is not None:
            loss, delta = self._output(buf.z[L], Y)
            np.copyto(buf.d[L], delta)
            return float(np.add.reduce(loss, axis=None))
        d, s, z = buf.d[L], buf.a[L], buf.z[L]
        if one_hot is not None:  # the label's delta is minus the others' shares
            np.multiply(s, one_hot[0], out=d)  # s, with 0 at the label
            np.matmul(d, self._ones, out=buf.others)
            np.negative(buf.others, out=buf.others)
            d.put(one_hot[1], buf.others)
        elif totals is None:  # every row's targets sum to 1
            _subtract(s, Y, d)
        else:
            np.multiply(s, totals, out=d)
            np.subtract(d, Y, out=d)
            if exact:  # a row sums to 0: its largest share's entry is minus the others
                rows, top = np.arange(len(d)), np.argmax(z, axis=1)
                d[rows, top] = 0.0
                d[rows, top] = -np.add.reduce(d, axis=1)
        # -sum_k y_k log s_k = (sum_k y_k) lse - y.z, with z max-shifted
        if exact:
            shares = np.exp(z)
            shares[np.arange(len(z)), np.argmax(z, axis=1)] = 0.0
            lse = np.log1p(np.add.reduce(shares, axis=1, keepdims=True))
        else:
            lse = np.log(buf.rowsum, buf.rowmax)
        total = np.add.reduce(lse, axis=None) if totals is None else np.vdot(totals, lse)
        return float(total - np.vdot(Y, z))

    def _run_backward(self, plan: Sequence[tuple[Any, ...]], X: np.ndarray,
                      buf: _Buffers, scale: float) -> None:
        """Gradients, times ``scale``, into ``buf.gW`` and ``buf.gb``, from the ``delta_L``
        that :meth:`_output_layer` left."""
        L = self.L
        d, a, gW, gb = buf.d, buf.a, buf.gW, buf.gb
        _multiply(d[L], scale, d[L])
        for l in range(L, 0, -1):
            W, _, b, _ = plan[l - 1]
            delta = d[l]
            _matmul(delta.T, X if l == 1 else a[l - 1], gW[l])
            if b is not None:
                np.add.reduce(delta, axis=0, out=gb[l])
            if l == 1:
                break
            below = d[l - 1]
            _matmul(delta, W, below)
            if plan[l - 2][3] is not None:
                _multiply(below, buf.slope[l - 1], below)

    # -- public --------------------------------------------------------------------------

    def _inputs(self, X: object, Y: object | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        Xa = np.ascontiguousarray(X, dtype=np.float64)
        n0, nL = self.derivation.sizes[0], self.derivation.sizes[-1]
        if Xa.ndim != 2 or Xa.shape[1] != n0:
            raise ArgumentError(f"inputs X must have shape (samples, {n0}), got {Xa.shape}")
        if Y is None:
            return Xa, None
        Ya = np.ascontiguousarray(Y, dtype=np.float64)
        if Ya.shape != (Xa.shape[0], nL):
            raise ArgumentError(f"targets Y must have shape ({Xa.shape[0]}, {nL}), "
                                f"got {Ya.shape}")
        return Xa, Ya

    def _named(self, values: Mapping[str, Any], targets: bool = True
               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """Parameters ``W1, b1, ...`` and the data ``x`` (and ``y``) from keyword values."""
        data = ("x", "y") if targets else ("x",)
        known = {f"W{s.index}" for s in self.shapes} | {
            f"b{s.index}" for s in self.shapes if s.bias} | set(data)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ArgumentError(f"unknown argument '{unknown[0]}'; the arguments are: "
                                f"{listed([*sorted(known - set(data)), *data])}")
        for key in data:
            if key not in values:
                raise ArgumentError(f"missing argument '{key}' (the "
                                    f"{'inputs' if key == 'x' else 'targets'}, one row per "
                                    "sample)")
        params = {k: v for k, v in values.items() if k not in data}
        self._check(params)
        X, Y = self._inputs(values["x"], values.get("y") if targets else None)
        return params, X, Y

    def forward(self, **values: Any) -> np.ndarray:
        """The network's outputs for parameters ``W1, b1, ...`` and inputs ``x``, one row
        per sample (a fresh array)."""
        params, X, _ = self._named(values, targets=False)
        buf = self._buffers_for(len(X))
        self._run_forward(self._plan(params), X, buf)
        return buf.a[self.L].copy()

    def loss(self, **values: Any) -> float:
        """The loss over ``x, y``, reduced as the loss says (log-softmax inside the CCE)."""
        params, X, Y = self._named(values)
        buf = self._buffers_for(len(X))
        self._run_forward(self._plan(params), X, buf)
        total = self._output_layer(buf, Y, *self._targets(Y))  # type: ignore[arg-type]
        return (total / len(X) if self.mean else total) + self._penalty_at(params)[0]

    def _penalty_at(self, params: Mapping[str, np.ndarray]
                    ) -> tuple[float, dict[str, np.ndarray]]:
        """The penalty's cost and gradient terms at ``params`` (none without a penalty)."""
        if self._penalty is None:
            return 0.0, {}
        return self._penalty.at(params, self._penalized)

    def grad(self, **values: Any) -> dict[str, np.ndarray]:
        """``{"W1": dE/dW1, "b1": dE/db1, ...}`` over ``x, y`` (fresh arrays)."""
        return self.value_and_grad(**values)[1]

    def value_and_grad(self, **values: Any) -> tuple[float, dict[str, np.ndarray]]:
        """The loss and every gradient from one forward and one backward pass, called as
        :meth:`symgrad.compile.CompiledNetwork.value_and_grad` is: by name."""
        params, X, Y = self._named(values)
        buf = self._buffers_for(len(X))
        plan = self._plan(params)
        self._run_forward(plan, X, buf)
        total = self._output_layer(buf, Y, *self._targets(Y))  # type: ignore[arg-type]
        self._run_backward(plan, X, buf, 1.0 / len(X) if self.mean else 1.0)
        out: dict[str, np.ndarray] = {}
        for s in self.shapes:
            out[f"W{s.index}"] = buf.gW[s.index].copy()
            if s.bias:
                out[f"b{s.index}"] = buf.gb[s.index].copy()
        cost, terms = self._penalty_at(params)
        for name, term in terms.items():
            out[name] += term
        return (total / len(X) if self.mean else total) + cost, out

    def predict(self, **values: Any) -> np.ndarray:
        """The class of each sample: the index of its largest output."""
        return np.argmax(self.forward(**values), axis=1)

    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each parameter's shape by name, in order: ``{"W1": (n1, n0), "b1": (n1,), ...}``."""
        shapes: dict[str, tuple[int, ...]] = {}
        for s in self.shapes:
            shapes[f"W{s.index}"] = (s.units, s.inputs)
            if s.bias:
                shapes[f"b{s.index}"] = (s.units,)
        return shapes

    def __repr__(self) -> str:
        d = self.derivation
        return f"CompiledLayers({d.shape_text()}; loss {d.loss.name})"

    def _repr_html_(self) -> str:
        """A notebook's display, as :class:`symgrad.compile.CompiledNetwork` has: the
        network, the loss, the arguments with their shapes (``m`` samples) and the methods.

        >>> from symgrad.derive import derive_layers
        >>> c = CompiledLayers(derive_layers("derivations/small_mlp.toml"))
        >>> c
        CompiledLayers(2 -> 3 tanh -> 2 softmax; loss cce)
        >>> print(c._repr_html_().splitlines()[3])
        <tr><th style="text-align:left">parameters</th><td>W1 (3 x 2), b1 (3), W2 (2 x 3), b2 (2)</td></tr>
        """
        d = self.derivation
        return layer_level_html(d.shape_text(), d.loss.name, self.mean, self.parameter_shapes,
                                (d.sizes[0],), d.sizes[-1])

    def sgd_epoch(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                  order: np.ndarray, batch_size: int, learning_rate: float,
                  work: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        """One epoch of minibatch SGD in place, over the samples in ``order`` (all of them,
        or the first batches of an epoch); returns the mean of the batch losses (each taken
        before its update). ``work`` holds ``len(order)`` rows of ``X`` and ``Y``."""
        n = len(order)
        if work is None:
            work = (np.empty((n, X.shape[1])), np.empty((n, Y.shape[1])))
        Xs, Ys = work
        np.take(X, order, axis=0, out=Xs)
        np.take(Y, order, axis=0, out=Ys)
        totals, _ = self._targets(Ys, exact=False)
        plan = self._plan(params)
        updates: dict[int, list[tuple[Any, ...]]] = {}
        total = 0.0
        forward, output, backward = self._run_forward, self._output_layer, self._run_backward
        mean, penalty = self.mean, self._penalty
        for start in range(0, n, batch_size):
            stop = start + batch_size
            Xb = Xs[start:stop]
            m = Xb.shape[0]
            buf = self._buffers.get(m) or self._buffers_for(m)
            forward(plan, Xb, buf)
            loss = output(buf, Ys[start:stop], None if totals is None else totals[start:stop],
                          exact=False)
            # the penalty at the weights before this update (without one, no call a batch)
            cost, terms = _NO_PENALTY if penalty is None else self._penalty_at(params)
            total += (loss / m if mean else loss) + cost
            # folding the learning rate (and 1/m of a mean) into delta_L scales every
            # gradient at once, so the update is a plain subtraction
            backward(plan, Xb, buf, learning_rate / m if mean else learning_rate)
            step = updates.get(m)
            if step is None:
                step = updates[m] = [(W, buf.gW[l], b, buf.gb[l])
                                     for l, (W, _, b, _) in enumerate(plan, start=1)]
            for W, gW, b, gb in step:
                _subtract(W, gW, W)
                if b is not None:
                    _subtract(b, gb, b)
            for name, term in terms.items():
                params[name] -= learning_rate * term
        return total / math.ceil(n / batch_size)


def layer_level_html(network: str, loss: str, mean: bool,
                     parameters: Mapping[str, tuple[int, ...]], sample: tuple[int, ...],
                     outputs: int) -> str:
    """The notebook display of a layer-level compiled network (:class:`CompiledLayers`,
    :class:`~symgrad.backends.stack.CompiledStack`): ``network`` as its ``shape_text``,
    the loss, each parameter's shape, the inputs' per-sample shape ``sample`` and the
    targets' width ``outputs`` (``m`` samples), and the methods."""
    shape = " x ".join(map(str, ("m", *sample)))
    return html_table("compiled-layers", [
        ("network", network),
        ("loss", f"{loss}, the {'mean' if mean else 'sum'} over the samples"),
        ("parameters", ", ".join(f"{name} ({' x '.join(map(str, size))})"
                                 for name, size in parameters.items())),
        ("inputs and targets", f"x ({shape}), y (m x {outputs})"),
        ("by name", "forward, loss, grad, value_and_grad, predict"),
        ("training", "sgd_epoch (minibatch SGD in place)")])
