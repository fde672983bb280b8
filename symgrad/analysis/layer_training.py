"""The training run a layer-level report shows: the spec's minibatch training on its data
set, at most :data:`symgrad.limits.LIMITS` ``["report"].epochs`` epochs unless told
otherwise, with the whole-data loss and the test accuracy after every epoch.

A report formats this; it computes nothing itself (:mod:`symgrad.report.layered`).

>>> run = layer_training("derivations/digits_mlp.toml", epochs=2, progress=False)
>>> run.epochs, len(run.records), run.records[0].epoch
(2, 3, 0)
>>> run.accuracy["test"] > 0.8
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..backends import CompiledLayers
from ..backends.stack import CompiledStack
from ..datasets import load_dataset
from ..derive import LayerDerivation
from ..derive.stack import StackDerivation
from ..errors import ArgumentError
from ..limits import LIMITS
from ..spec import Spec, read_spec
from ..train import train

__all__ = ["EpochRecord", "LayerRun", "layer_training", "report_epochs"]

#: The kernels of each layer-level derivation, for the classes its parameters predict.
_PREDICTORS: Mapping[type, Callable[[Any], Any]] = {StackDerivation: CompiledStack,
                                                    LayerDerivation: CompiledLayers}


@dataclass(frozen=True)
class EpochRecord:
    """The state after ``epoch`` epochs (0: the initial parameters): the loss over every
    training sample, and the share of test samples classified right (every named data set
    has classes)."""

    epoch: int
    loss: float
    test_accuracy: float


@dataclass(frozen=True)
class LayerRun:
    """A layer-level training run for a report: its settings, one record per epoch, the
    final train and test accuracy, why it stopped, and how long it took (seconds, the
    derivation and compilation included)."""

    epochs: int
    asked: int | None  # the epochs the spec asks for (None: it asks for iterations)
    given: bool  # the epochs were given in place of the spec's (``--epochs``)
    learning_rate: float
    batch_size: int
    mode: str
    samples: int
    test_samples: int
    records: list[EpochRecord]
    accuracy: Mapping[str, float]
    reason: str
    seconds: float
    loss_symbol: str

    @property
    def capped(self) -> bool:
        """Whether the report's limit cut the epochs the spec asks for."""
        return not self.given and self.asked is not None and self.epochs < self.asked


def report_epochs(spec: Spec, epochs: int | None = None, limited: bool = True) -> int:
    """The epochs a report trains: ``epochs`` if given, else the spec's, at most the
    report's limit (:data:`symgrad.limits.LIMITS`) while ``limited``; a spec that sets no
    epochs, with none given, is an error naming the field.

    >>> report_epochs(read_spec("derivations/digits_cnn.toml")), report_epochs(
    ...     read_spec("derivations/digits_cnn.toml"), 3)
    (20, 3)
    """
    if epochs is not None:
        if epochs < 1:
            raise ArgumentError(f"--epochs: {epochs} is not a positive number of epochs")
        return epochs
    most = LIMITS["report"].epochs if limited else None
    asked = spec.training.epochs
    if asked is None:
        raise spec.error("training.epochs", "a report of a network trained on a data set "
                         "needs the number of epochs (or pass --epochs)")
    return asked if most is None else min(asked, most)


def layer_training(source: Spec | str | Path, epochs: int | None = None,
                   progress: bool | None = None, *, limited: bool = True) -> LayerRun:
    """Train ``source`` at the layer level for :func:`report_epochs` epochs; the test
    accuracy of every epoch's parameters is measured after the run. ``progress``: as
    :func:`symgrad.train` takes it (``None``: a bar on a terminal for a long run)."""
    spec = source if isinstance(source, Spec) else read_spec(source)
    count = report_epochs(spec, epochs, limited)
    begin = time.perf_counter()
    data = load_dataset(spec)
    result = train(spec, level="layer", epochs=count, iterations=None, progress=progress,
                   data=data)
    # the run's own derivation, compiled again for predict only: deriving is the cost
    # (3.2 s for digits_batchnorm.toml on a busy machine), compiling it 0.04 s (CNN 0.65 s)
    predict = _PREDICTORS[type(result.derivation)](result.derivation).predict
    per_epoch = -(-result.samples // result.batch_size)
    records = [EpochRecord(step.iteration // per_epoch, step.loss, float(np.mean(
        predict(**step.params, x=data.x_test) == data.labels_test)))
        for step in result.history]
    return LayerRun(count, spec.training.epochs, epochs is not None, result.learning_rate,
                    result.batch_size, result.mode, result.samples, len(data.x_test),
                    records, dict(result.accuracy), result.reason,
                    time.perf_counter() - begin, result.loss_symbol)
