"""The training work limit: how much computing a run asks for, checked before any of it.

The sizes of :data:`symgrad.limits.LIMITS` bound a network and its data one at a time;
a run multiplies them. Each record of a run (the whole-data loss and gradient: every
update at the scalar level, every epoch at the layer level, whose updates between two
records pass over the data once more) costs about samples × parameters and keeps the
parameters; each update calls compiled code once per parameter (scalar level) or per
layer (layer level), a cost of its own when the batches are small. So a command's
``work`` bounds passes × samples × parameters (epochs × samples × parameters;
iterations × samples × parameters for full batch and at the scalar level), its
``calls`` bound updates × calls, and its ``history`` bounds records × parameters.
:func:`check_training` refuses a run beyond any of them with one line naming the
fields, the numbers and the way past it (``--no-limits`` on the command line);
:func:`symgrad.train` itself is not limited, so a Python caller who wants the
command's limits calls it first.

Measured (CPU time, on a loaded 2-core machine): the layer level does about 5e7
sample-parameter terms a second (digits_mlp.toml, 50 epochs: 1.6e8 terms, 3.0 s), and
a compiled call costs about 16 µs (small_mlp.toml, 50,000 iterations of 17 calls:
13.7 s; digits stochastic, 2 calls an update: 43 µs an update); so ``train`` takes
5e8 terms and 500,000 calls, about 10 s each.

>>> from symgrad.spec import read_spec
>>> spec = read_spec("derivations/digits_mlp.toml")
>>> training_work(spec)
Work(passes=50, samples=1348, parameters=2410, updates=2150, calls=2, records=51, what='50 epochs', per_sample=2410)
>>> check_training(spec, epochs=500)
Traceback (most recent call last):
...
symgrad.errors.ArgumentError: --epochs: 1,624,340,000 sample-parameter terms (500 epochs × 1,348 samples × 2,410 parameters) are more than symgrad train takes (at most 500,000,000); pass --no-limits to go beyond
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..datasets import training_samples
from ..errors import ArgumentError
from ..limits import LIMITS, beyond, check_limits, parameter_count, sample_count
from ..spec import Spec
from .loop import _plan
from ..stack import Stack, has_layer_types
from .models import choose_level

__all__ = ["Work", "training_work", "check_training", "SETTINGS"]

#: The keyword arguments of :func:`symgrad.train` that set a run's length and batches.
SETTINGS = ("learning_rate", "iterations", "epochs", "batch_size", "mode", "tolerance", "seed")


@dataclass(frozen=True)
class Work:
    """What a training run computes: ``passes`` over ``samples`` samples of a network of
    ``parameters`` parameters (``per_sample`` terms a sample) in ``updates`` updates of
    ``calls`` compiled calls each (one per parameter at the scalar level, one per layer
    at the layer level), keeping ``records`` records; ``what`` says the passes in the
    run's own terms."""

    passes: int
    samples: int
    parameters: int
    updates: int
    calls: int
    records: int
    what: str
    per_sample: int  #: terms a sample: the parameters, or a stack's multiply-adds

    def sizes(self) -> dict[str, tuple[int, str]]:
        """Each quantity the limits bound: its size and what it is made of."""
        per_sample = "parameters" if self.per_sample == self.parameters else \
            "operations a sample"
        return {
            "work": (self.passes * self.samples * self.per_sample,
                     f"sample-parameter terms ({self.what} × {self.samples:,} samples × "
                     f"{self.per_sample:,} {per_sample})"),
            "calls": (self.updates * self.calls,
                      f"compiled calls ({self.updates:,} updates × {self.calls:,} calls each)"),
            "history": (self.records * self.parameters,
                        f"values of history ({self.records:,} records of "
                        f"{self.parameters:,} parameters)"),
        }


def training_work(spec: Spec, *, level: str = "auto", **settings: Any) -> Work:
    """The work of ``symgrad.train(spec, level=level, **settings)`` (the settings of
    :func:`symgrad.train`: ``iterations``, ``epochs``, ``mode``, ``batch_size`` and so
    on; the spec's ``[training]`` table for those not given), from the sizes alone:
    nothing is derived, loaded or trained. Settings that training would refuse are
    refused here, with the same error."""
    samples = training_samples(spec)[0] if spec.data.source is not None \
        else sample_count(spec)[0]
    chosen = choose_level(spec, level)
    plan = _plan(spec, samples, **{k: settings.get(k) for k in SETTINGS})
    parameters = parameter_count(spec)
    per_sample = max(parameters, _stack_terms(spec)) if has_layer_types(spec) else parameters
    if chosen == "scalar":  # every update evaluates all samples, one call a parameter
        passes, calls = plan.updates, parameters
        what = _count(passes, "iteration") if plan.epochs is None else \
            f"{_count(passes, 'iteration')} ({_count(plan.epochs, 'epoch')})"
    else:  # a record, and a pass of updates over the data, per epoch
        passes = math.ceil(plan.updates / math.ceil(samples / plan.batch_size))
        calls = len(spec.network.layers)
        what = (_count(passes, "epoch") if plan.epochs is not None else
                _count(passes, "iteration") if plan.mode == "batch" else
                f"{_count(passes, 'pass')} over the data ({_count(plan.updates, 'iteration')})")
    return Work(passes, samples, parameters, plan.updates, calls, passes + 1, what,
                per_sample)


def _stack_terms(spec: Spec) -> int:
    """Multiply-adds a sample costs in a network of layer types, from its shapes alone
    (their parameters are few and say little): a dense layer inputs × outputs, a
    convolution or a pooling every output × its window (× the input channels, for a
    convolution), a recurrent layer steps × units × (features + units), any other layer
    its inputs and outputs.

    >>> from symgrad.spec import read_spec
    >>> _stack_terms(read_spec("derivations/digits_cnn.toml"))  # conv 16x8x8 of 3x3, ...
    15360
    """
    total = 0
    for layer in Stack.from_spec(spec).layers:
        n_in, n_out, hyper = math.prod(layer.in_shape), math.prod(layer.out_shape), layer.hyper
        if layer.dense is not None:
            total += n_in * n_out
        elif "kernel" in hyper:
            channels = layer.in_shape[0] if len(layer.in_shape) > 1 else \
                hyper.get("in_channels", 1)
            kernel = hyper["kernel"]
            window = math.prod(kernel) if isinstance(kernel, (tuple, list)) else \
                kernel ** (len(layer.out_shape) - 1)
            total += n_out * window * (channels if layer.entry and layer.entry.params else 1)
        elif "steps" in hyper:
            units = hyper["units"]
            total += hyper["steps"] * units * (layer.in_shape[-1] + units)
        else:
            total += n_in + n_out
    return total


def _count(n: int, noun: str) -> str:
    """``1 epoch``, ``2 passes``, ``1,000 iterations``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def check_training(spec: Spec, command: str = "train", *, level: str = "auto",
                   **settings: Any) -> None:
    """Refuse (:class:`~symgrad.errors.SpecError`, or :class:`~symgrad.errors.
    ArgumentError` naming ``--iterations`` or ``--epochs`` when given in ``settings``)
    a run of ``spec`` beyond ``command``'s :data:`~symgrad.limits.LIMITS`: its sizes
    (:func:`symgrad.limits.check_limits`), then the samples of a named data set, the work,
    the compiled calls and the history of :func:`training_work`. A command without a
    work limit is checked for its sizes only."""
    check_limits(spec, command, iterations=settings.get("iterations"),
                 epochs=settings.get("epochs"))
    limits = LIMITS[command]
    if spec.data.source is not None:
        samples, field = training_samples(spec)
        if samples > limits.samples:
            raise spec.error(field, beyond(samples, "samples", command, limits.samples))
    if limits.work is None:
        return
    for quantity, (size, made_of) in training_work(spec, level=level, **settings).sizes().items():
        most = getattr(limits, quantity)
        if most is not None and size > most:
            raise _where(spec, settings, beyond(size, made_of, command, most))


def _where(spec: Spec, settings: dict[str, Any], message: str) -> Exception:
    """The error at the run's length: the option given, else the spec's field."""
    for name in ("iterations", "epochs"):
        if settings.get(name) is not None:
            return ArgumentError(f"--{name}: {message}")
    for name in ("iterations", "epochs"):
        value = getattr(spec.training, name)
        if value is not None:
            return spec.error(f"training.{name}", message, value=value)
    return spec.error("training", message)
