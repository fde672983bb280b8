"""Compiled functions written out as a standalone Python module that needs only NumPy.

The module holds, in this order: a header naming the spec and the symgrad version, the
run-time helpers (the source of :mod:`symgrad.runtime`, copied verbatim), one generated
function per quantity (the very code :func:`symgrad.compile` runs, with its named
temporaries and a docstring listing its arguments in order), and ``forward``, ``loss``,
``grad`` and ``value_and_grad`` taking values by name, as :class:`CompiledNetwork` does.
Running the same code, it returns the same numbers to the last bit.

>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> from symgrad.compile import compile
>>> text = module_source(compile(derive(load("derivations/two_neuron.toml"))),
...                      "derivations/two_neuron.toml")
>>> "def grad_scalar(x1, T, w1, b1, w2, b2):" in text and "import sympy" not in text
True
"""

from __future__ import annotations

import inspect
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import runtime
from .compile import KERNELS, CompiledNetwork
from .errors import ExportError
from .files import write_atomic
from .printers_numeric import MATH_NAMES

__all__ = ["module_source", "write_module"]


def _version() -> str:
    try:
        return version("symgrad")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(version unknown)"


def _runtime_body() -> str:
    """The run-time module's code after its docstring and imports."""
    lines = inspect.getsource(runtime).splitlines()
    start = next(i for i, line in enumerate(lines) if line == "import numpy") + 1
    return "\n".join(lines[start:]).strip("\n")


def module_source(compiled: CompiledNetwork, spec_path: str | None = None) -> str:
    """The text of a standalone module with every compiled function of ``compiled``."""
    net = compiled.network
    origin = f"from {spec_path}" if spec_path else "from a network built in Python"
    data = ", ".join(compiled.data_names)
    params = ", ".join(compiled.parameters)
    title = net.title or repr(net)
    header = f'''"""Gradients of "{title}", exported by symgrad {_version()} {origin}.

Network: {net!r}. Loss: {net.loss.title}, {net.loss.reduction} over samples.
Generated code: it imports NumPy and math only (no SymPy, no symgrad),
and returns the same numbers as symgrad.compile to the last bit.

Arguments, in this order everywhere: inputs and targets {data} (numbers or 1-D arrays of
samples), then parameters {params} (numbers).

By name:     forward(**values), loss(**values), grad(**values), value_and_grad(**values)
Positional:  {", ".join(KERNELS)}
"""

from __future__ import annotations

import math
from math import {", ".join(MATH_NAMES)}

import numpy
'''
    parts = [header, "# -- run-time helpers (symgrad.runtime) " + "-" * 48, "",
             _runtime_body(), "", "",
             "# -- generated functions, one per quantity " + "-" * 45, ""]
    for name in KERNELS:
        parts += [compiled.source(name).rstrip("\n"), "", ""]
    dtype = f"numpy.{compiled.dtype.name}"
    n = len(compiled.data_names)
    parts.append(f'''# -- calls by name {"-" * 71}

ARGUMENTS = {compiled.arguments!r}
DATA_NAMES = {compiled.data_names!r}
PARAMETERS = {compiled.parameters!r}
FORWARD_NAMES = {compiled.forward_names!r}
MEAN = {compiled.mean!r}  # the loss reduces over samples by its {net.loss.reduction}


def forward(**values):
    """Every z and a of the forward pass, by symbol name."""
    return evaluate_forward(forward_arrays, ARGUMENTS, FORWARD_NAMES, values, {n},
                            {dtype})


def loss(**values):
    """The loss, reduced over the samples."""
    return reduce_batch(loss_sums, ARGUMENTS, values, {n}, {dtype}, MEAN)[0]


def grad(**values):
    """Every parameter's gradient, reduced over the samples like the loss."""
    return dict(zip(PARAMETERS, reduce_batch(grad_sums, ARGUMENTS, values, {n},
                                             {dtype}, MEAN)))


def value_and_grad(**values):
    """The loss and every gradient, from one pass over the samples."""
    total, *grads = reduce_batch(value_and_grad_sums, ARGUMENTS, values, {n},
                                 {dtype}, MEAN)
    return total, dict(zip(PARAMETERS, grads))
''')
    return "\n".join(parts)


def write_module(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`symgrad.files.write_atomic`: a
    temporary file in the same folder, then a rename), so an interrupted export never
    leaves half a module behind; the file gets the mode :func:`open` would give it."""
    target = Path(path)
    if target.suffix != ".py":
        raise ExportError("a Python module's name must end in .py", path=target)
    if not target.stem.isidentifier():
        raise ExportError(f"'{target.stem}' is not an importable module name", path=target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"the folder '{folder}' does not exist", path=target)
    write_atomic(target, text, what="the module", error=ExportError)
    return target
