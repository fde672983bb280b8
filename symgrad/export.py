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
    """The text of a standalone module with every compiled function of ``compiled``,
    from the Jinja template ``templates/exported_module.py.j2``."""
    import jinja2  # on first use: ``import symgrad`` stays quick

    env = jinja2.Environment(loader=jinja2.PackageLoader("symgrad", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    net = compiled.network
    return env.get_template("exported_module.py.j2").render(
        title=net.title or repr(net), version=_version(),
        origin=f"from {spec_path}" if spec_path else "from a network built in Python",
        network=repr(net), loss_title=net.loss.title, reduction=net.loss.reduction,
        data=compiled.data_names, parameters=compiled.parameters, kernels=list(KERNELS),
        math_names=MATH_NAMES, runtime=_runtime_body(),
        sources=[compiled.source(name).rstrip("\n") for name in KERNELS],
        arguments=repr(compiled.arguments), data_names=repr(compiled.data_names),
        parameter_names=repr(compiled.parameters), forward_names=repr(compiled.forward_names),
        mean=repr(compiled.mean), n=len(compiled.data_names),
        dtype=f"numpy.{compiled.dtype.name}")


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
