"""Gradient descent on compiled gradients: full batch, minibatch and stochastic.

One *iteration* is one update ``p <- p - learning_rate * dL/dp``. In ``"batch"`` mode the
gradient is that of the whole data set; in ``"minibatch"`` mode that of a batch of
``batch_size`` samples, and in ``"stochastic"`` mode that of one sample. The batches of an
epoch (one pass over the data) are drawn from a permutation seeded by ``seed``. The loss
reduces over a batch as its definition says (a sum or a mean); nothing is rescaled.

The history has one :class:`Step` per iteration and one for the final parameters: step
``k`` holds the parameters before update ``k`` and the loss and gradient *of the whole data
set* at them (in the minibatch modes that is one extra evaluation per update).

Training stops

* after ``iterations`` updates, or ``epochs`` passes over the data;
* *converged*, when the Euclidean norm of the whole-data gradient over all parameters is at
  most ``tolerance`` (checked before each update, so the last step satisfies it);
* *diverged*, raising :class:`~symgrad.errors.DivergenceError`, when the loss or a gradient
  is not finite (an arithmetic failure of the compiled code counts as not finite), or when
  the loss rose in each of the last :data:`GROWTH_STEPS` iterations to above its value at
  the start. The error carries the history of the finite steps.

>>> from symgrad.network import load
>>> result = train(load("derivations/linear_cost.toml"), iterations=20, progress=False)
>>> round(result.params["w"], 4), result.reason
(2.0, 'stopped after 20 iterations; the gradient norm 1.82e-05 is above the tolerance 1e-09')
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np
from tqdm import tqdm

from ..compile import compile as compile_derivation
from ..derive.unit import derive
from ..errors import ArgumentError, DivergenceError, SymgradError, UnknownNameError
from ..files import write_atomic
from ..network import Network
from ..spec import TRAINING_MODES, TrainingSpec

__all__ = ["train", "Step", "TrainingResult", "write_history_csv", "GROWTH_STEPS",
           "DEFAULT_ITERATIONS"]

#: The loss must rise this many iterations in a row (to above its start) to count as diverging.
GROWTH_STEPS = 3
#: Iterations when neither the caller nor the spec says how long to train.
DEFAULT_ITERATIONS = 100
_PROGRESS_DELAY = 0.5  # seconds a run must last before its progress bar appears


class GradientFunctions(Protocol):
    """What training needs from :func:`symgrad.compile`'s result."""

    @property
    def parameters(self) -> tuple[str, ...]: ...

    @property
    def data_names(self) -> tuple[str, ...]: ...

    def value_and_grad(self, **values: object) -> tuple[float, dict[str, float]]: ...


@dataclass(frozen=True)
class Step:
    """Parameters before update ``iteration``, and the whole-data loss and gradient there."""

    iteration: int
    params: dict[str, float]
    loss: float
    grads: dict[str, float]

    @property
    def grad_norm(self) -> float:
        """Euclidean norm of the gradient over all parameters."""
        return math.hypot(*self.grads.values())


@dataclass(frozen=True)
class TrainingResult:
    """A finished run: its history, why it stopped, and the settings it used."""

    history: list[Step]
    converged: bool
    reason: str
    learning_rate: float
    mode: str
    batch_size: int
    samples: int
    loss_symbol: str

    @property
    def params(self) -> dict[str, float]:
        """The final parameters."""
        return self.history[-1].params

    @property
    def loss(self) -> float:
        """The loss at the final parameters."""
        return self.history[-1].loss

    @property
    def iterations(self) -> int:
        """How many updates were made."""
        return self.history[-1].iteration

    def to_csv(self, path: str | Path) -> None:
        """Write the history as CSV (see :func:`write_history_csv`)."""
        write_history_csv(self.history, path, self.loss_symbol)


def write_history_csv(history: Sequence[Step], path: str | Path, loss_symbol: str = "E") -> None:
    """Write ``history`` to ``path`` as CSV, atomically (a failed write leaves no file and
    is a :class:`~symgrad.errors.FileError`; see :func:`symgrad.files.write_atomic`).

    Columns: ``iteration``, ``loss``, each parameter, then each gradient named
    ``d<loss>/d<parameter>`` (``dE/dw1``). Numbers are written to full precision.
    """
    path = Path(path)
    names = list(history[0].params) if history else []
    header = ["iteration", "loss", *names, *(f"d{loss_symbol}/d{n}" for n in names)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for step in history:
        writer.writerow([step.iteration, repr(step.loss), *(repr(step.params[n]) for n in names),
                         *(repr(step.grads[n]) for n in names)])
    write_atomic(path, buffer.getvalue(), what="the history")


# -- settings -------------------------------------------------------------------------------


def _number(name: str, value: object, sign: str = "") -> float:
    """``value`` as a finite float; ``sign`` is ``""``, ``"positive"`` or ``"non-negative"``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number, got {value!r}")
    number = float(value)
    wrong_sign = number <= 0 if sign == "positive" else sign == "non-negative" and number < 0
    if not math.isfinite(number) or wrong_sign:
        raise ArgumentError(f"{name} must be a {sign + ' ' if sign else ''}finite number, "
                            f"got {value!r}")
    return number


def _count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ArgumentError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class _Plan:
    learning_rate: float
    updates: int
    epochs: int | None
    mode: str
    batch_size: int
    tolerance: float | None
    seed: int


def _plan(net: Network, samples: int, learning_rate: float | None, iterations: int | None,
          epochs: int | None, batch_size: int | None, mode: str | None,
          tolerance: float | None, seed: int | None) -> _Plan:
    spec = net.spec.training if net.spec is not None else TrainingSpec()
    rate = learning_rate if learning_rate is not None else spec.learning_rate
    if rate is None:
        raise ArgumentError("no learning rate: set learning_rate in the spec's [training] "
                            "table or pass learning_rate")
    rate = _number("learning_rate", rate, "positive")
    mode = spec.mode if mode is None else mode
    if mode not in TRAINING_MODES:
        raise UnknownNameError("training mode", str(mode), TRAINING_MODES)
    if batch_size is not None:
        batch_size = _count("batch_size", batch_size)
        if mode != "minibatch" and not (mode == "stochastic" and batch_size == 1):
            raise ArgumentError(f"batch_size={batch_size} needs mode 'minibatch' "
                                f"(the mode is '{mode}')")
    size = {"batch": samples, "stochastic": 1}.get(mode, batch_size or spec.batch_size)
    if size is None:
        raise ArgumentError("mode 'minibatch' needs a batch_size")
    if size > samples:
        raise ArgumentError(f"batch_size {size} is larger than the number of samples "
                            f"({samples})")
    if iterations is not None and epochs is not None:
        raise ArgumentError("give iterations or epochs, not both")
    if iterations is None and epochs is None:
        iterations, epochs = spec.iterations, spec.epochs
        if iterations is not None and epochs is not None and net.spec is not None:
            raise net.spec.error("training.epochs", "give iterations or epochs, not both")
        if iterations is None and epochs is None:
            iterations = DEFAULT_ITERATIONS
    if epochs is not None:
        epochs = _count("epochs", epochs)
        updates = epochs * math.ceil(samples / size)
    else:
        updates = _count("iterations", iterations)
    tol = spec.tolerance if tolerance is None else tolerance
    return _Plan(rate, updates, epochs, mode, size,
                 None if tol is None else _number("tolerance", tol, "non-negative"),
                 _count("seed", spec.seed if seed is None else seed, minimum=0))


def _data(net: Network, names: Sequence[str]) -> tuple[dict[str, float | np.ndarray], int]:
    data: dict[str, float | np.ndarray] = {}
    for name in names:
        if name not in net.values:
            raise ArgumentError(f"no value for '{name}': training needs every input and target "
                                "([data] in the spec)")
        data[name] = net.values[name]
    samples = max((np.size(v) for v in data.values()), default=1)
    return data, samples


def _start(net: Network, params: Mapping[str, float] | None, seed: int,
           reseed: bool) -> dict[str, float]:
    names = [str(p) for p in net.parameters]
    if reseed and net.seeded:
        start = net.initial_parameters(seed)
    else:
        start = {n: float(net.values[n]) for n in names}
    for name, value in (params or {}).items():
        if name not in start:
            raise UnknownNameError("parameter", name, names)
        start[name] = _number(f"params['{name}']", value)
    return start


def _batches(samples: int, size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches, one seeded permutation per epoch."""
    while True:
        order = rng.permutation(samples)
        for first in range(0, samples, size):
            yield order[first:first + size]


def _select(data: Mapping[str, float | np.ndarray], index: np.ndarray,
            samples: int) -> dict[str, float | np.ndarray]:
    return {k: v[index] if isinstance(v, np.ndarray) and v.size == samples else v
            for k, v in data.items()}


# -- the loop -------------------------------------------------------------------------------


def _evaluate(f: GradientFunctions, params: Mapping[str, float],
              data: Mapping[str, object]) -> tuple[float, dict[str, float]]:
    """Loss and gradient; an overflow or math-domain failure gives a NaN loss."""
    with np.errstate(all="ignore"):
        try:
            loss, grads = f.value_and_grad(**params, **data)
        except ArithmeticError:  # OverflowError of the scalar (math module) code
            return math.nan, {}
        except ValueError as exc:
            if str(exc) != "math domain error":  # bad arguments are not divergence
                raise
            return math.nan, {}
    return float(loss), {k: float(v) for k, v in grads.items()}


def _not_finite(k: int, history: list[Step], loss: float, grads: Mapping[str, float],
                symbol: str, batch_size: int = 0) -> SymgradError:
    """The error for a non-finite loss or gradient at iteration ``k`` (of a batch, if
    ``batch_size`` is given)."""
    if not history:
        return ArgumentError(f"the loss or its gradient is not finite at the starting "
                             f"parameters (the loss is {loss})")
    was = f"{history[-1].loss:.6g} at iteration {history[-1].iteration}"
    bad = next((name for name, g in grads.items() if not math.isfinite(g)), None)
    if batch_size:
        of = "one sample" if batch_size == 1 else f"a batch of {batch_size} samples"
        why = f"the gradient of {of} is not finite (the loss was {was})"
    elif math.isinf(loss):
        why = f"the loss grew from {was} to {loss}"
    elif bad is None:
        why = f"the loss became nan (it was {was})"
    else:
        why = f"the gradient d{symbol}/d{bad} became {grads[bad]} (the loss was {was})"
    return DivergenceError(f"diverged at iteration {k}: {why}; try a smaller learning rate",
                           iteration=k, history=history)


def _growing(history: list[Step]) -> DivergenceError | None:
    losses = [s.loss for s in history]
    if len(losses) <= GROWTH_STEPS or losses[-1] <= losses[0]:
        return None
    if not all(b > a for a, b in zip(losses[-GROWTH_STEPS - 1:], losses[-GROWTH_STEPS:])):
        return None
    first = len(losses) - 1
    while first > 0 and losses[first - 1] < losses[first]:
        first -= 1
    k = history[-1].iteration
    return DivergenceError(f"diverged at iteration {k}: the loss grew from {losses[first]:.6g} "
                           f"at iteration {first} to {losses[-1]:.6g}; try a smaller "
                           "learning rate", iteration=k, history=history)


def train(net: Network, *, learning_rate: float | None = None, iterations: int | None = None,
          epochs: int | None = None, batch_size: int | None = None, mode: str | None = None,
          tolerance: float | None = None, seed: int | None = None,
          params: Mapping[str, float] | None = None, progress: bool | None = None,
          compiled: GradientFunctions | None = None) -> TrainingResult:
    """Train ``net``'s parameters by gradient descent on its data.

    Every setting left as ``None`` comes from the spec's ``[training]`` table, then from
    the defaults below.

    Parameters
    ----------
    net : the network; its ``values`` give the data and the starting parameters.
    learning_rate : step size (required here or in the spec).
    iterations, epochs : how many updates, or how many passes over the data (one of them;
        :data:`DEFAULT_ITERATIONS` updates when neither is given anywhere).
    batch_size : samples per update in ``"minibatch"`` mode.
    mode : ``"batch"`` (default), ``"minibatch"`` or ``"stochastic"``.
    tolerance : stop, converged, once the whole-data gradient norm is at most this
        (default: never).
    seed : seeds the shuffling of batches and, when the network was given no parameter
        values, draws the initial ones (:meth:`Network.initial_parameters`).
    params : starting values overriding some or all of the network's.
    progress : ``True`` or ``False`` to show or hide a progress bar on stderr; ``None``
        (default) shows it only when stderr is a terminal and the run lasts over half a
        second.
    compiled : ``symgrad.compile(symgrad.derive(net))``, to reuse it across runs.

    Returns
    -------
    TrainingResult

    Raises
    ------
    DivergenceError : the loss or a gradient stopped being finite, or the loss grew (see
        the module's documentation); ``.iteration`` and ``.history`` say where.
    ArgumentError, UnknownNameError : a bad setting, named.

    >>> from symgrad.network import load
    >>> r = train(load("derivations/two_neuron.toml"), progress=False)
    >>> r.iterations, round(r.params["w2"], 10)
    (1, 0.4271718407)
    """
    f = compiled if compiled is not None else compile_derivation(derive(net))
    data, samples = _data(net, f.data_names)
    plan = _plan(net, samples, learning_rate, iterations, epochs, batch_size, mode, tolerance,
                 seed)
    current = _start(net, params, plan.seed, reseed=seed is not None)
    symbol = net.loss.symbol
    bar = tqdm(total=plan.updates, desc="training", unit="it", leave=False,
               delay=_PROGRESS_DELAY, disable=None if progress is None else not progress)
    try:
        history, converged = _descend(f, current, data, samples, plan, bar, symbol)
    finally:
        bar.close()
    return TrainingResult(history, converged, _reason(history[-1], converged, plan),
                          plan.learning_rate, plan.mode, plan.batch_size, samples, symbol)


def _descend(f: GradientFunctions, current: dict[str, float],
             data: dict[str, float | np.ndarray],
             samples: int, plan: _Plan, bar: Any, symbol: str
             ) -> tuple[list[Step], bool]:
    """The updates: the whole-data loss and gradient before each (the history), a step on
    a batch's gradient; stops converged, or at the last update, or raises on divergence."""
    batches = _batches(samples, plan.batch_size, np.random.default_rng(plan.seed))
    history: list[Step] = []
    for k in range(plan.updates + 1):
        loss, grads = _evaluate(f, current, data)
        if not (math.isfinite(loss) and all(map(math.isfinite, grads.values()))):
            raise _not_finite(k, history, loss, grads, symbol)
        history.append(Step(k, dict(current), loss, grads))
        growing = _growing(history)
        if growing is not None:
            raise growing
        if plan.tolerance is not None and history[-1].grad_norm <= plan.tolerance:
            return history, True
        if k == plan.updates:
            break
        if plan.mode != "batch":
            loss, grads = _evaluate(f, current, _select(data, next(batches), samples))
            if not grads or not all(map(math.isfinite, grads.values())):
                raise _not_finite(k, history, loss, grads, symbol, plan.batch_size)
        current = {n: v - plan.learning_rate * grads[n] for n, v in current.items()}
        bar.update()
        bar.set_postfix(loss=f"{history[-1].loss:.4g}", refresh=False)
    return history, False


def _reason(last: Step, converged: bool, plan: _Plan) -> str:
    norm = "the gradient norm"
    if converged:
        return (f"converged at iteration {last.iteration}: {norm} {last.grad_norm:.3g} is at "
                f"most the tolerance {plan.tolerance:g}")
    done = (f"{plan.epochs} epoch{'s' * (plan.epochs != 1)} ({last.iteration} iterations)"
            if plan.epochs is not None else
            f"{last.iteration} iteration{'s' * (last.iteration != 1)}")
    if plan.tolerance is None:
        return f"stopped after {done}; {norm} is {last.grad_norm:.3g}"
    return (f"stopped after {done}; {norm} {last.grad_norm:.3g} is above the tolerance "
            f"{plan.tolerance:g}")
