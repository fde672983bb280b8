"""Size limits: the largest network, data and training run each command takes.

A spec is data from anyone (a student's submission, a file on a shared course server),
and nothing in TOML bounds a number: ``units = 9223372036854775807`` was accepted, and
``train`` or ``report`` then ran until killed or out of memory. Each command checks the
spec against its row of :data:`LIMITS` right after reading it, before any work, and
refuses with one line naming the field, the limit and the way past it: ``--no-limits``,
for those who mean it.

The bounds are what each command can do in seconds and well under 1 GB of memory.
``train`` keeps every record of a run (parameters and gradients), so its iterations
and parameters bound the memory of the history; ``derive``, ``check`` and ``export``
build one SymPy symbol per weight on the unit level (``derive`` prints the layer level
above 200 parameters, whose size does not matter, except for evaluating it on the data);
``report`` writes one section per gradient and evaluates every sample exactly, and trains
at most :data:`symgrad.analysis.experiments.REPORT_ITERATIONS` updates on a spec's own
data whatever the spec asks, so its iterations are not limited but its network and samples
are, the most; on a named data set it trains the spec's epochs, limited too.

>>> from symgrad.spec import parse_spec
>>> spec = parse_spec('[network]\\ninputs = 1\\nlayers = [{ units = 5000, activation = '
...                   '"relu" }]\\nloss = "half_sse"\\n', path="big.toml")
>>> check_limits(spec, "report")
Traceback (most recent call last):
...
symgrad.errors.SpecError: big.toml:3: field 'network.layers[0].units': 5,000 units are more than symgrad report takes (at most 100); pass --no-limits to go beyond
>>> check_limits(spec, "train")  # within train's limits
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Mapping

from .errors import ArgumentError
from .spec import Spec

__all__ = ["Limits", "LIMITS", "OPTION_LIMITS", "check_limits", "check_option",
           "parameter_count", "sample_count", "beyond", "NO_LIMITS_FLAG"]

#: The command-line flag that lifts the limits.
NO_LIMITS_FLAG = "--no-limits"


@dataclass(frozen=True)
class Limits:
    """The most of each quantity a command takes; ``None``: not limited (the command does
    not do what the quantity measures, or caps it itself)."""

    inputs: int
    units: int  # in any one layer
    layers: int
    parameters: int
    samples: int
    iterations: int | None = None
    epochs: int | None = None
    #: a training run's passes × samples × parameters, updates × compiled calls, and
    #: records × parameters kept (:mod:`symgrad.train.budget`, which checks them)
    work: int | None = None
    calls: int | None = None
    history: int | None = None


#: Per command. Measured on the machine of the issue: ``train`` of a 1,000,000-parameter
#: network at the layer level holds about 8 MB a record; a scalar run holds about 1 KB
#: an iteration for a handful of parameters (10**6 iterations: about 1 GB), so
#: iterations stop at 100,000. ``derive --level scalar --wrt P`` builds every weight's
#: symbol: 41 s of CPU time for 93,310 parameters, so ``derive`` stops at 20,000 (about
#: 9 s; its layer level costs the same at any size). ``export`` of the 2,410 parameters of digits_mlp.toml, one
#: compiled gradient each, took 58 s (on a busy machine), so ``check`` and ``export``
#: stop at 1,000 parameters; ``report`` evaluates each of its samples exactly (about 7 ms
#: a sample for two sigmoid units), so 1,000 samples, and shows a network of more than 40
#: parameters in matrix form and by the first unit of each layer: the shipped
#: digits_mlp.toml (2,410 parameters) took 6 s, so 5,000 parameters. On a named data set
#: ``report`` trains the spec's epochs: the 50 of digits_mlp.toml took 4.0 s, the 20 of
#: digits_cnn.toml 6.0 s and the 40 of rnn_bit_count.toml 5.9 s, so 50 epochs.
LIMITS: Mapping[str, Limits] = MappingProxyType({
    "train": Limits(inputs=100_000, units=10_000, layers=100, parameters=1_000_000,
                    samples=1_000_000, iterations=100_000, epochs=10_000,
                    work=500_000_000, calls=500_000, history=20_000_000),
    "derive": Limits(inputs=10_000, units=10_000, layers=100, parameters=20_000,
                     samples=1_000_000),
    "check": Limits(inputs=1_000, units=1_000, layers=50, parameters=1_000, samples=10_000),
    "export": Limits(inputs=1_000, units=1_000, layers=50, parameters=1_000, samples=1_000_000),
    "report": Limits(inputs=100, units=100, layers=20, parameters=5_000, samples=1_000,
                     epochs=50),
})

#: The numeric options of commands, the most each takes (``--no-limits`` lifts these
#: too). ``vanishing``: layers, units a layer, seeds; the layers it derives (activations ×
#: depth: 12 s of CPU time for one activation at depth 200) and the weights it measures
#: (activations × seeds × depth × width², about 8 s for 5e7 on a loaded machine).
#: ``exercises``: variants (a sheet and a worked solution each, PDFs included) and jobs
#: (processes). ``check-layer``: the values of ``--shape`` multiplied (the elements of its
#: largest array), and any value of ``--hyper`` (a padding or a stride).
OPTION_LIMITS: Mapping[str, Mapping[str, int]] = MappingProxyType({
    "vanishing": MappingProxyType({"depth": 200, "width": 4096, "seeds": 1_000,
                                   "derived": 300, "weights": 50_000_000}),
    "exercises": MappingProxyType({"variants": 1_000, "jobs": 64}),
    "check-layer": MappingProxyType({"shape": 10_000_000, "hyper": 1_000}),
})


def check_option(command: str, option: str, size: float, quantity: str,
                 named: str | None = None) -> None:
    """Raise an :class:`~symgrad.errors.ArgumentError` if ``size`` (of ``quantity``,
    given by ``named``, ``--option`` by default) is more than ``command`` takes.

    >>> check_option("vanishing", "seeds", 5000, "seeds")
    Traceback (most recent call last):
    ...
    symgrad.errors.ArgumentError: --seeds: 5,000 seeds are more than symgrad vanishing takes (at most 1,000); pass --no-limits to go beyond
    """
    most = OPTION_LIMITS[command][option]
    if size > most:
        raise ArgumentError(f"{named or '--' + option}: "
                            f"{beyond(size, quantity, command, most)}")


def parameter_count(spec: Spec) -> int:
    """Weights and biases of the spec's layers, before any tie (an upper bound); plain
    arithmetic on the sizes, so it costs nothing whatever they are.

    >>> from symgrad.spec import read_spec
    >>> parameter_count(read_spec("derivations/two_neuron.toml"))
    4
    """
    count, previous = 0, spec.network.inputs
    for layer in spec.network.layers:
        count += layer.units * previous + (layer.units if layer.bias else 0)
        previous = layer.units
    return count


def sample_count(spec: Spec) -> tuple[int, str | None]:
    """The most samples an input or target of ``spec`` has, and its field (``None`` for
    single values or a named data set, whose size the data set fixes)."""
    longest = max(spec.data.values.items(), default=None,
                  key=lambda item: len(item[1]) if isinstance(item[1], tuple) else 1)
    if longest is None or not isinstance(longest[1], tuple):
        return 1, None
    return len(longest[1]), f"data.{longest[0]}"


def _measured(spec: Spec, iterations: int | None, epochs: int | None
              ) -> dict[str, tuple[int, str, object]]:
    """Each quantity of :class:`Limits` in ``spec``: its size, its field, and the value
    to find the field's line by."""
    layers = spec.network.layers
    widest = max(range(len(layers)), key=lambda i: layers[i].units)
    samples, data_field = sample_count(spec)
    training = spec.training
    out: dict[str, tuple[int, str, object]] = {
        "inputs": (spec.network.inputs, "network.inputs", spec.network.inputs),
        "units": (layers[widest].units, f"network.layers[{widest}].units", None),
        "layers": (len(layers), "network.layers", None),
        "parameters": (parameter_count(spec), "network", None),
        "samples": (samples, data_field or "data", None),
    }
    if iterations is None and epochs is None:  # else the flags replace both, as in training
        for name, own in (("iterations", training.iterations), ("epochs", training.epochs)):
            if own is not None:
                out[name] = (own, f"training.{name}", own)
    return out


def check_limits(spec: Spec, command: str, *, iterations: int | None = None,
                 epochs: int | None = None) -> None:
    """Raise a :class:`~symgrad.errors.SpecError` naming the first quantity of ``spec``
    beyond ``command``'s :data:`LIMITS` (the field's line where it can be found; the
    value of ``--iterations`` or ``--epochs``, if given, in place of the spec's, as
    training reads them); a command without a row is not limited."""
    limits = LIMITS.get(command)
    if limits is None:
        return
    for quantity, given in (("iterations", iterations), ("epochs", epochs)):
        most = getattr(limits, quantity)
        if given is not None and most is not None and given > most:
            raise ArgumentError(f"--{quantity}: {beyond(given, quantity, command, most)}")
    measured = _measured(spec, iterations, epochs)
    for quantity in (f.name for f in fields(Limits)):
        most = getattr(limits, quantity)
        if most is None or quantity not in measured or measured[quantity][0] <= most:
            continue
        size, where, value = measured[quantity]
        raise spec.error(where, beyond(size, quantity, command, most), value=value)


def beyond(size: int, quantity: str, command: str, most: int) -> str:
    """The end of a refusal: the size, the most ``command`` takes, the way past it."""
    return (f"{size:,} {quantity} are more than symgrad {command} takes (at most {most:,}); "
            f"pass {NO_LIMITS_FLAG} to go beyond")
