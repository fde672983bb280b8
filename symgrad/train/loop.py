"""Gradient descent on compiled gradients: full batch, minibatch and stochastic, at the
scalar level (one gradient per parameter) or the layer level (matrix kernels), in one loop.

One *iteration* is one update ``p <- p - learning_rate * dL/dp``. In ``"batch"`` mode the
gradient is that of the whole data set; in ``"minibatch"`` mode that of a batch of
``batch_size`` samples, and in ``"stochastic"`` mode that of one sample. The batches of an
epoch (one pass over the data) are drawn from a permutation seeded by ``seed``. The loss
reduces over a batch as its definition says (a sum or a mean); nothing is rescaled.

The history holds :class:`Step` records: step ``k`` holds the parameters before update
``k`` and the loss and gradient *of the whole data set* at them. The scalar level records
every iteration (in the minibatch modes that is one extra evaluation per update); the layer
level, made for data sets of thousands of samples, records once an epoch. The last step
holds the final parameters.

Training stops

* after ``iterations`` updates, or ``epochs`` passes over the data;
* *converged*, when the Euclidean norm of the whole-data gradient over all parameters is at
  most ``tolerance`` (checked at each record, so the last step satisfies it);
* *diverged*, raising :class:`~symgrad.errors.DivergenceError`, when the loss or a gradient
  is not finite (an arithmetic failure of the compiled code counts as not finite), or when
  the loss rose at each of the last :data:`GROWTH_STEPS` records to above its value at
  the start. The error carries the history of the finite steps.

>>> from symgrad.network import load
>>> result = train(load("derivations/linear_cost.toml"), iterations=20, progress=False)
>>> round(result.params["w"], 4), result.reason
(2.0, 'stopped after 20 iterations; the gradient norm 1.82e-05 is above the tolerance 1e-09')
>>> digits = train("derivations/digits_mlp.toml", epochs=2, progress=False)
>>> digits.level, digits.iterations, [s.iteration for s in digits.history]
('layer', 86, [0, 43, 86])
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from ..datasets import Dataset
from ..errors import ArgumentError, DivergenceError, SymgradError, UnknownNameError
from ..files import write_atomic
from ..network import Network
from ..spec import TRAINING_MODES, Spec, TrainingSpec, read_spec
from ..stack import has_layer_types
from .models import GradientFunctions, LayerModel, Model, ScalarModel, choose_level

__all__ = ["train", "Step", "TrainingResult", "write_history_csv", "GROWTH_STEPS",
           "DEFAULT_ITERATIONS"]

#: The loss must rise this many iterations in a row (to above its start) to count as diverging.
GROWTH_STEPS = 3
#: Iterations when neither the caller nor the spec says how long to train.
DEFAULT_ITERATIONS = 100
_PROGRESS_DELAY = 0.5  # seconds a run must last before its progress bar appears


@dataclass(frozen=True)
class Step:
    """Parameters before update ``iteration``, and the whole-data loss and gradient there
    (floats at the scalar level, ``W1, b1, ...`` arrays at the layer level)."""

    iteration: int
    params: dict[str, Any]
    loss: float
    grads: dict[str, Any]

    @property
    def grad_norm(self) -> float:
        """Euclidean norm of the gradient over all parameters.

        >>> Step(0, {}, 0.0, {"W1": np.array([[3.0]]), "b1": np.array([-4.0])}).grad_norm
        5.0
        """
        return math.hypot(*(float(np.linalg.norm(np.ravel(g))) for g in self.grads.values()))


@dataclass(frozen=True, repr=False)
class TrainingResult:
    """A finished run at either level: its history, why it stopped, the settings it used.

    ``accuracy`` holds the train and test accuracy when the data set has classes;
    ``seconds`` the time of the updates between two records (not of the whole-data
    evaluations) and ``cpu_seconds`` the CPU time this thread spent on them (what other
    work on a shared machine does not add to), ``setup_seconds`` the time to derive and
    compile; ``derivation`` is the
    :class:`~symgrad.derive.Derivation` or :class:`~symgrad.derive.LayerDerivation` used.
    """

    history: list[Step]
    converged: bool
    reason: str
    learning_rate: float
    mode: str
    batch_size: int
    samples: int
    loss_symbol: str
    level: str = "scalar"
    epochs: int | None = None
    accuracy: Mapping[str, float] = field(default_factory=dict)
    seconds: np.ndarray = field(default_factory=lambda: np.empty(0))
    setup_seconds: float = 0.0
    derivation: Any = None
    cpu_seconds: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def params(self) -> dict[str, Any]:
        """The final parameters; a stack's hold its layer types' state too (batch norm's
        ``running_mean2, running_var2``: no gradient), so ``predict(**result.params, x=x)``
        evaluates as after training."""
        return self.history[-1].params

    @property
    def loss(self) -> float:
        """The loss at the final parameters."""
        return self.history[-1].loss

    @property
    def losses(self) -> np.ndarray:
        """The whole-data loss at each step of the history."""
        return np.array([s.loss for s in self.history])

    @property
    def iterations(self) -> int:
        """How many updates were made."""
        return self.history[-1].iteration

    @property
    def seconds_per_epoch(self) -> float:
        """The median time of an epoch's updates (layer level: one record per epoch)."""
        per_update = float(np.median(self.seconds)) / max(1, self._updates_per_record)
        return per_update * math.ceil(self.samples / self.batch_size)

    @property
    def _updates_per_record(self) -> int:
        return self.history[1].iteration if len(self.history) > 1 else 1

    def to_csv(self, path: str | Path) -> None:
        """Write the history as CSV (see :func:`write_history_csv`)."""
        write_history_csv(self.history, path, self.loss_symbol)

    def __repr__(self) -> str:
        return (f"TrainingResult(level={self.level!r}, iterations={self.iterations}, "
                f"loss={self.loss:.6g}, reason={self.reason!r})")

    def _repr_html_(self) -> str:
        """A notebook's display: the settings, the loss at the start and the end, the
        accuracy, why it stopped, and the loss curve as an inline SVG."""
        import jinja2  # on first use: ``import symgrad`` stays quick

        env = jinja2.Environment(loader=jinja2.PackageLoader("symgrad", "templates"),
                                 autoescape=True, undefined=jinja2.StrictUndefined)
        return env.get_template("training_result.html.j2").render(r=self, curve=_curve(self))


def _curve(result: TrainingResult, width: int = 360, height: int = 160) -> dict[str, Any] | None:
    """Where the loss curve's points go in an SVG of ``width`` x ``height`` (log scale
    when the loss falls over more than two decades); ``None`` for a single step."""
    iterations = np.array([s.iteration for s in result.history], dtype=float)
    losses = result.losses
    if len(losses) < 2 or not np.all(np.isfinite(losses)):
        return None
    log = bool(np.all(losses > 0) and losses.max() > 100 * losses.min())
    y = np.log10(losses) if log else losses
    left, top, plot_width, plot_height = 64, 8, width - 72, height - 28
    span = (y.max() - y.min()) or 1.0
    xs = left + plot_width * iterations / max(iterations[-1], 1)
    ys = top + plot_height * (y.max() - y) / span
    return {"width": width, "height": height, "left": left, "top": top, "log": log,
            "plot_width": plot_width, "plot_height": plot_height,
            "high": f"{losses.max():.3g}", "low": f"{losses.min():.3g}",
            "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))}


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


def _plan(source: Spec | None, samples: int, learning_rate: float | None, iterations: int | None,
          epochs: int | None, batch_size: int | None, mode: str | None,
          tolerance: float | None, seed: int | None) -> _Plan:
    spec = source.training if source is not None else TrainingSpec()
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
        if iterations is not None and epochs is not None and source is not None:
            raise source.error("training.epochs", "give iterations or epochs, not both")
        if iterations is None and epochs is None and source is not None \
                and source.data.source is not None:
            raise source.error("training.epochs", "missing; give it in the spec or as an "
                               "argument")
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


def _override(start: dict[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``start`` with the caller's ``params`` put in: numbers at the scalar level, arrays
    of the parameter's shape at the layer level."""
    for name, value in (params or {}).items():
        if name not in start:
            raise UnknownNameError("parameter", name, list(start))
        if np.ndim(start[name]) == 0:
            start[name] = _number(f"params['{name}']", value)
            continue
        array = np.array(value, dtype=np.float64)
        if array.shape != start[name].shape or not np.all(np.isfinite(array)):
            raise ArgumentError(f"params['{name}'] must be a finite array of shape "
                                f"{start[name].shape}")
        start[name] = array
    return start


def _batches(samples: int, size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches, one seeded permutation per epoch."""
    while True:
        order = rng.permutation(samples)
        for first in range(0, samples, size):
            yield order[first:first + size]


def _not_finite(k: int, history: list[Step], loss: float, grads: Mapping[str, float],
                symbol: str, batch_size: int = 0) -> SymgradError:
    """The error for a non-finite loss or gradient at iteration ``k`` (of a batch, if
    ``batch_size`` is given)."""
    if not history:
        return ArgumentError(f"the loss or its gradient is not finite at the starting "
                             f"parameters (the loss is {loss})")
    was = f"{history[-1].loss:.6g} at iteration {history[-1].iteration}"
    bad = next((name for name, g in grads.items() if not np.all(np.isfinite(g))), None)
    if batch_size:
        of = "one sample" if batch_size == 1 else f"a batch of {batch_size} samples"
        why = f"the gradient of {of} is not finite (the loss was {was})"
    elif math.isinf(loss):
        why = f"the loss grew from {was} to {loss}"
    elif bad is None:
        why = f"the loss became nan (it was {was})"
    else:
        became = grads[bad] if np.ndim(grads[bad]) == 0 else "not finite"
        why = f"the gradient d{symbol}/d{bad} became {became} (the loss was {was})"
    return DivergenceError(f"diverged at iteration {k}: {why}; try a smaller learning rate",
                           iteration=k, history=history)


def _growing(history: list[Step]) -> DivergenceError | None:
    """The divergence, if the loss rose the last :data:`GROWTH_STEPS` records in a row to
    above its start; reads only those records until it finds one (it runs after every
    record: reading them all made a run quadratic in its length)."""
    if len(history) <= GROWTH_STEPS or history[-1].loss <= history[0].loss:
        return None
    tail = [s.loss for s in history[-GROWTH_STEPS - 1:]]
    if not all(b > a for a, b in zip(tail, tail[1:])):
        return None
    losses = [s.loss for s in history]
    first = len(losses) - 1
    while first > 0 and losses[first - 1] < losses[first]:
        first -= 1
    k = history[-1].iteration
    return DivergenceError(f"diverged at iteration {k}: the loss grew from {losses[first]:.6g} "
                           f"at iteration {first} to {losses[-1]:.6g}; try a smaller "
                           "learning rate", iteration=k, history=history)


def train(net: Network | Spec | str | Path, *, level: str = "auto",
          learning_rate: float | None = None, iterations: int | None = None,
          epochs: int | None = None, batch_size: int | None = None, mode: str | None = None,
          tolerance: float | None = None, seed: int | None = None,
          params: Mapping[str, Any] | None = None,
          progress: bool | None | Callable[[Step], object] = None,
          compiled: GradientFunctions | None = None, data: Dataset | None = None
          ) -> TrainingResult:
    """Train a network's parameters by gradient descent on its data, at either level.

    Every setting left as ``None`` comes from the spec's ``[training]`` table, then from
    the defaults below.

    Parameters
    ----------
    net : a :class:`Network` (its ``values`` give the data and the starting parameters), a
        :class:`Spec` or a spec file's path.
    level : ``"scalar"`` (one compiled gradient per parameter), ``"layer"`` (matrix
        kernels over minibatches) or ``"auto"`` (default): the layer level for a named data
        set or above :data:`~symgrad.architecture.SCALAR_LIMIT` parameters.
    learning_rate : step size (required here or in the spec).
    iterations, epochs : how many updates, or how many passes over the data (one of them;
        :data:`DEFAULT_ITERATIONS` updates when neither is given anywhere, except for a
        named data set, which needs one).
    batch_size : samples per update in ``"minibatch"`` mode.
    mode : ``"batch"`` (default), ``"minibatch"`` or ``"stochastic"``.
    tolerance : stop, converged, once the whole-data gradient norm is at most this
        (default: never).
    seed : seeds the shuffling of batches and, when the network was given no parameter
        values, draws the initial ones.
    params : starting values overriding some or all of the network's (numbers at the
        scalar level, ``W1, b1, ...`` arrays at the layer level).
    progress : ``True`` or ``False`` to show or hide a progress bar on stderr; ``None``
        (default) shows it only when stderr is a terminal and the run lasts over half a
        second; a function is called with each :class:`Step` as it is recorded.
    compiled : ``symgrad.compile(symgrad.derive(net))``, to reuse it across scalar runs.
    data : an already loaded :class:`~symgrad.datasets.Dataset` (layer level).

    Returns
    -------
    TrainingResult

    Raises
    ------
    DivergenceError : the loss or a gradient stopped being finite, or the loss grew (see
        the module's documentation); ``.iteration`` and ``.history`` say where.
    ArgumentError, UnknownNameError, SpecError : a bad setting, named.

    >>> from symgrad.network import load
    >>> r = train(load("derivations/two_neuron.toml"), progress=False)
    >>> r.iterations, round(r.params["w2"], 10)
    (1, 0.4271718407)
    """
    model = _model(net, level, compiled, data)
    plan = _plan(model.spec, model.samples, learning_rate, iterations, epochs, batch_size, mode,
                 tolerance, seed)
    current = _override(model.start(plan.seed, reseed=seed is not None), params)
    return _run(model, plan, current, progress)


def _run(model: Model, plan: _Plan, current: dict[str, Any],
         progress: bool | None | Callable[[Step], object]) -> TrainingResult:
    """The descent with its progress bar (and callback), as a :class:`TrainingResult`."""
    symbol = model.loss_symbol
    bar = tqdm(total=plan.updates, desc="training", unit="it", leave=False,
               delay=_PROGRESS_DELAY,
               disable=(not progress) if isinstance(progress, bool) else None)
    try:
        history, converged, clocks = _descend(model, current, plan, bar, symbol,
                                              progress if callable(progress) else None)
    finally:
        bar.close()
    return TrainingResult(history, converged, _reason(history[-1], converged, plan),
                          plan.learning_rate, plan.mode, plan.batch_size, model.samples,
                          symbol, model.level, plan.epochs,
                          model.accuracy(history[-1].params), clocks[:, 0], model.setup_seconds,
                          model.derivation, clocks[:, 1])


def _model(net: Network | Spec | str | Path, level: str,
           compiled: GradientFunctions | None, data: Dataset | None) -> Model:
    """The level's model of ``net``; a spec is built as a scalar network only when that
    level is chosen (the layer level never needs one symbol per weight)."""
    if isinstance(net, (str, Path)):
        net = read_spec(net)
    if not isinstance(net, (Network, Spec)):
        raise ArgumentError(f"expected a Network, a Spec or a spec path, got "
                            f"{type(net).__name__}")
    chosen = choose_level(net.architecture if isinstance(net, Network) else net, level)
    if chosen == "layer" and (isinstance(net, Network) or net.data.source is not None
                              or data is not None or has_layer_types(net)):
        return LayerModel(net, data)
    # the spec's own values: its network holds them, under the names it gives
    network = net if isinstance(net, Network) else Network.from_spec(net)
    return LayerModel(network) if chosen == "layer" else ScalarModel(network, compiled)


def _descend(model: Model, current: dict[str, Any], plan: _Plan, bar: Any, symbol: str,
             report: Callable[[Step], object] | None
             ) -> tuple[list[Step], bool, np.ndarray]:
    """The records (whole-data loss and gradient) and, between them, the updates on the
    batches' gradients, each update's wall and thread CPU time a row of the clocks; stops
    converged, or at the last update, or raises on divergence."""
    batches = _batches(model.samples, plan.batch_size, np.random.default_rng(plan.seed))
    every = math.ceil(model.samples / plan.batch_size) if model.level == "layer" else 1
    history: list[Step] = []
    clocks: list[tuple[float, float]] = []
    k = 0
    while True:
        loss, grads = model.evaluate(current)
        if not (math.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())):
            raise _not_finite(k, history, loss, grads, symbol)
        history.append(Step(k, model.snapshot(current), loss, grads))
        if report is not None:
            report(history[-1])
        growing = _growing(history)
        if growing is not None:
            raise growing
        if plan.tolerance is not None and history[-1].grad_norm <= plan.tolerance:
            return history, True, np.array(clocks).reshape(-1, 2)
        if k == plan.updates:
            return history, False, np.array(clocks).reshape(-1, 2)
        count = min(every, plan.updates - k)
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        chosen = None if plan.mode == "batch" else [next(batches) for _ in range(count)]
        current, finite = model.advance(current, grads, chosen, plan.learning_rate)
        clocks.append((time.perf_counter() - begin, time.thread_time() - begin_cpu))
        if not finite:
            raise _not_finite(k, history, math.nan, {}, symbol, plan.batch_size)
        k += count
        bar.update(count)
        bar.set_postfix(loss=f"{history[-1].loss:.4g}", refresh=False)


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
