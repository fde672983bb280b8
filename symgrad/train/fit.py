"""Minibatch training of the layer-level derivation on a data set (:func:`fit`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..architecture import Architecture
from ..backends.minibatch import CompiledLayers
from ..datasets import Dataset, load_dataset
from ..derive.matrix import LayerDerivation, _architecture_of
from ..errors import ArgumentError, DivergenceError
from ..network import Network
from ..spec import TRAINING_MODES, Spec, TrainingSpec

__all__ = ["FitResult", "fit"]


@dataclass
class FitResult:
    """What :func:`fit` returns.

    ``history`` holds one mean training loss per epoch (the mean of the batch losses,
    each taken before its update); ``epoch_seconds`` the time of each epoch's updates;
    ``setup_seconds`` the time to derive and compile (not to load the data).
    """

    history: np.ndarray
    params: dict[str, np.ndarray]
    train_accuracy: float
    test_accuracy: float
    epoch_seconds: np.ndarray
    setup_seconds: float
    derivation: LayerDerivation = field(repr=False)
    epochs: int = 0
    batch_size: int = 0
    learning_rate: float = 0.0
    mode: str = "minibatch"

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.median(self.epoch_seconds))


def _setting(value: Any, spec_value: Any, arch: Architecture, field_name: str) -> Any:
    if value is not None:
        return value
    if spec_value is None:
        raise arch.error(field_name, "missing; give it in the spec or as an argument")
    return spec_value


def fit(net: Network | Spec | str | Path, *, epochs: int | None = None,
        batch_size: int | None = None, learning_rate: float | None = None,
        seed: int | None = None,
        progress: Callable[[int, float], object] | None = None,
        data: Dataset | None = None, mode: str | None = None) -> FitResult:
    """Train a spec that names a data set with minibatch SGD on the layer-level gradients.

    Parameters
    ----------
    net : a :class:`Network` built from a spec, a :class:`Spec`, or a spec file's path.
    epochs, batch_size, learning_rate, seed, mode : override the spec's ``[training]``
        settings; ``seed`` seeds the initial parameters (unless a network with given
        parameters is passed) and the order of the samples in each epoch; ``mode`` is
        ``"batch"`` (all samples per update), ``"minibatch"`` or ``"stochastic"``.
    progress : called after each epoch with the epoch (1-based) and its mean loss.
    data : an already loaded :class:`Dataset` (skips loading the spec's).

    Returns
    -------
    FitResult : loss history, final parameters ``W1, b1, ...``, train and test accuracy,
        seconds per epoch and the time to derive and compile.

    Raises
    ------
    SpecError : a missing setting or a network that does not fit the data (names the field).
    DivergenceError : the loss stopped being finite.

    >>> r = fit("derivations/digits_mlp.toml", epochs=3)
    >>> r.history.shape, bool(r.history[2] < r.history[0])
    ((3,), True)
    """
    start = time.perf_counter()
    arch = _architecture_of(net)
    derivation = LayerDerivation(arch)
    setup = time.perf_counter() - start
    plan = _plan(arch, epochs, batch_size, learning_rate, seed, mode, data)
    start = time.perf_counter()
    compiled = CompiledLayers(derivation, plan.batch_size)
    if plan.samples % plan.batch_size:
        compiled._buffers_for(plan.samples % plan.batch_size)
    setup += time.perf_counter() - start
    if isinstance(net, Network) and (net.spec is None or dict(net.spec.parameters)):
        params = net.to_arrays()
    else:
        params = derivation.initial_parameters(plan.seed)
    history, seconds = _epochs(compiled, params, plan, progress)
    data = plan.data
    train_acc = float(np.mean(compiled.predict(**params, x=data.x_train) == data.labels_train))
    test_acc = float(np.mean(compiled.predict(**params, x=data.x_test) == data.labels_test))
    return FitResult(history, params, train_acc, test_acc, seconds, setup, derivation,
                     plan.epochs, plan.batch_size, plan.learning_rate, plan.mode)


@dataclass(frozen=True)
class _Plan:
    """The settings of a run, each from the caller, else the spec."""

    data: Dataset
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    mode: str

    @property
    def samples(self) -> int:
        return len(self.data.x_train)


def _plan(arch: Architecture, epochs: int | None, batch_size: int | None,
          learning_rate: float | None, seed: int | None, mode: str | None,
          data: Dataset | None) -> _Plan:
    t = arch.spec.training if arch.spec is not None else TrainingSpec()
    epochs = int(_setting(epochs, t.epochs, arch, "training.epochs"))
    learning_rate = float(_setting(learning_rate, t.learning_rate, arch,
                                   "training.learning_rate"))
    if data is None:
        if arch.spec is None:
            raise ArgumentError("a network built in code names no data set: pass data=")
        data = load_dataset(arch.spec)
    mode = t.mode if mode is None else mode
    if mode not in TRAINING_MODES:
        raise ArgumentError(f"unknown training mode '{mode}'; known: {', '.join(TRAINING_MODES)}")
    if batch_size is None:
        batch_size = {"batch": len(data.x_train), "stochastic": 1}.get(mode) or int(
            _setting(None, t.batch_size, arch, "training.batch_size"))
    if epochs < 1 or batch_size < 1 or not learning_rate > 0:
        raise ArgumentError(f"epochs and batch_size must be at least 1 and learning_rate "
                            f"positive, got {epochs}, {batch_size}, {learning_rate}")
    return _Plan(data, epochs, batch_size, learning_rate,
                 int(seed if seed is not None else t.seed), mode)


def _epochs(compiled: CompiledLayers, params: dict[str, np.ndarray], plan: _Plan,
            progress: Callable[[int, float], object] | None) -> tuple[np.ndarray, np.ndarray]:
    """Run the epochs in place on ``params``: each epoch's mean loss and seconds."""
    data, n = plan.data, plan.samples
    rng = np.random.default_rng(plan.seed)
    work = (np.empty_like(data.x_train), np.empty_like(data.y_train))
    history = np.empty(plan.epochs)
    seconds = np.empty(plan.epochs)
    for epoch in range(plan.epochs):
        order = rng.permutation(n)
        t0 = time.perf_counter()
        loss = compiled.sgd_epoch(params, data.x_train, data.y_train, order, plan.batch_size,
                                  plan.learning_rate, work)
        seconds[epoch] = time.perf_counter() - t0
        history[epoch] = loss
        if not math.isfinite(loss):
            raise DivergenceError(f"the loss is not finite after epoch {epoch + 1}; try a "
                                  f"smaller learning rate than {plan.learning_rate}",
                                  iteration=epoch + 1, history=history[:epoch + 1].copy())
        if progress is not None:
            progress(epoch + 1, loss)
    return history, seconds
