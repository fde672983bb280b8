"""Compiled functions written out as a standalone Python module: NumPy, PyTorch or JAX.

The three targets (:data:`TARGETS`) differ by a Jinja template and a printer only. The
NumPy module holds, in this order: a header naming the spec and the symgrad version, the
run-time helpers (the source of :mod:`symgrad.runtime`, copied verbatim), one generated
function per quantity (the very code :func:`symgrad.compile` runs, with its named
temporaries and a docstring listing its arguments in order), and ``forward``, ``loss``,
``grad`` and ``value_and_grad`` taking values by name, as :class:`CompiledNetwork` does.
Running the same code, it returns the same numbers to the last bit.

The PyTorch and JAX modules hold the per-sample terms of the same program
(:meth:`CompiledNetwork.per_sample`: the same assignments, common subexpressions and
stable forms, printed by :mod:`symgrad.printers_tensor`), with every input's and target's
gradient too, and the sums over the batch: a ``torch.autograd.Function`` (with an
``nn.Module`` of the parameters) or a ``jax.custom_vjp`` function whose derivative is
symgrad's gradient. They import only their library.

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
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import sympy as sp
from sympy.printing.codeprinter import CodePrinter

from . import runtime
from .compile import KERNELS, CompiledNetwork
from .kernel_terms import penalized_outputs
from .errors import ExportError
from .files import write_atomic
from .printers_numeric import MATH_NAMES, StableNumPyPrinter
from .printers_tensor import TENSOR_NAMES, StableJaxPrinter, StableTorchPrinter

__all__ = ["module_source", "write_module", "docstring_literal", "comment_text", "TARGETS",
           "Target"]


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


def _runtime_typing() -> str:
    """The run-time module's names for annotations (imported there for type checkers
    only), as plain imports: the exported module's type hints resolve."""
    lines = inspect.getsource(runtime).splitlines()
    start = lines.index("if TYPE_CHECKING:  # annotations only; exported modules import "
                        "NumPy and math alone") + 1
    stop = lines.index("import numpy")
    return "\n".join(line.removeprefix("    ") for line in lines[start:stop]).strip("\n")


def _escaped(ch: str) -> str:
    """``ch`` as it stands inside a Python string literal: itself if printable, else the
    escape :func:`repr` gives it (a backslash and ``x1b``, ``u2028``)."""
    return ch if ch.isprintable() else repr(ch)[1:-1]


def docstring_literal(text: str) -> str:
    r'''``text`` as a triple-quoted Python string literal whose value is ``text`` exactly.

    Spec text (a title, a file name) can hold three double quotes, a backslash escape
    such as ``\x`` or ``\U``, or control characters. Every backslash is doubled, a double
    quote is escaped where the next character is another or the literal's end (so no
    three of them stand together), and every character that is not printable (except the
    newline) is written as the escape :func:`repr` gives it: no text can end the literal.

    >>> literal = docstring_literal('say "hi" """ \\x1 \x1b\n')
    >>> print(literal)
    """say "hi" \"\"" \\x1 \x1b
    """
    >>> import ast
    >>> ast.literal_eval(literal) == 'say "hi" """ \\x1 \x1b\n'
    True
    '''
    def escaped(i: int, ch: str) -> str:
        if ch == '"':
            return '\\"' if text[i + 1:i + 2] in ('"', "") else ch
        return "\\\\" if ch == "\\" else ch if ch == "\n" else _escaped(ch)

    return '"""' + "".join(escaped(i, ch) for i, ch in enumerate(text)) + '"""'


def comment_text(text: str) -> str:
    r"""``text`` for a ``#`` comment: no line break or control character in it survives.

    >>> print(comment_text("mean\nimport os"))
    mean\nimport os
    """
    return "".join(_escaped(ch) for ch in text)


@dataclass(frozen=True)
class Target:
    """One kind of exported module: its template and how its generated functions are
    printed (``printer`` None: the NumPy kernels of :func:`symgrad.compile`, verbatim)."""

    template: str
    printer: Callable[..., CodePrinter] | None
    what: str
    #: the generated functions of per-sample terms: (name, scalar kernel, with the
    #: inputs' and targets' gradients)
    functions: tuple[tuple[str, str, bool], ...] = ()


#: Per-sample terms: the loss; the loss and every argument's gradient.
_TERMS = (("_loss_terms", "loss_scalar", False),
          ("_value_and_grad_terms", "value_and_grad_scalar", True))

#: The targets of ``symgrad export --to``: they differ by template and printer only.
TARGETS: dict[str, Target] = {
    "numpy": Target("exported_module.py.j2", None, "NumPy only, the numbers of "
                    "symgrad.compile to the last bit"),
    "torch": Target("exported_torch.py.j2", StableTorchPrinter,
                    "a torch.autograd.Function and an nn.Module",
                    # without the data's gradients too, for data that needs none
                    _TERMS + (("_value_and_parameter_grad_terms", "value_and_grad_scalar",
                               False),)),
    "jax": Target("exported_jax.py.j2", StableJaxPrinter, "a jax.custom_vjp function",
                  _TERMS),  # XLA drops the gradients that no one asks for
}


def _terms_source(compiled: CompiledNetwork, printer: CodePrinter, name: str,
                  kernel: str, data_gradients: bool) -> str:
    """A function ``name`` of the arguments returning the per-sample terms of scalar
    ``kernel`` (:meth:`CompiledNetwork.per_sample`): its named assignments, printed."""
    body, terms = compiled.per_sample(kernel, data_gradients)
    what = KERNELS[kernel][0].replace("for one sample", "per sample")
    what = what.replace("every gradient", "the gradient of every argument in order"
                        if data_gradients else "every parameter's gradient")
    lines = [f"def {name}({', '.join(compiled.arguments)}):", f'    """Return {what}."""']
    lines += [f"    {symbol} = {printer.doprint(expr)}" for symbol, expr in body]
    lines.append(f"    return ({''.join(printer.doprint(t) + ', ' for t in terms)})")
    return "\n".join(lines)


def _penalty_source(compiled: CompiledNetwork, printer: CodePrinter, name: str) -> str:
    """``name(parameters...)``: the penalty's cost, then its term in every parameter's
    gradient (``0`` where it adds none), which the batch sums get once, printed by
    ``printer``; ``""`` without a penalty."""
    if compiled.network.penalty is None:
        return ""
    zero = sp.S.Zero
    cost, grads = penalized_outputs(compiled.derivation, compiled.parameters, [zero],
                                    [zero] * len(compiled.parameters))
    return "\n".join([f"def {name}({', '.join(compiled.parameters)}):",
                      '    """Return the penalty\'s cost, then its term in every gradient."""',
                      f"    return ({''.join(printer.doprint(e) + ', ' for e in cost + grads)})"])


def _target_context(compiled: CompiledNetwork, target: Target) -> dict[str, Any]:
    """What the target's template needs beyond what every template needs."""
    penalty = compiled.network.penalty
    if target.printer is None:
        signs = ("copysign",) if penalty is not None else ()  # sign(w)
        return dict(kernels=list(KERNELS), math_names=MATH_NAMES + signs,
                    runtime=_runtime_body(),
                    penalty=_penalty_source(compiled, StableNumPyPrinter(), "penalty_terms"),
                    typing=_runtime_typing(), float64=repr(compiled.dtype == "float64"),
                    sources=[compiled.source(name).rstrip("\n") for name in KERNELS],
                    dtype=f"numpy.{compiled.dtype.name}")
    clash = sorted(set(compiled.network.symbols) & TENSOR_NAMES)
    if clash:
        raise ExportError(f"symbol name '{clash[0]}' is reserved in torch and JAX code; "
                          "choose another base name in [network.names]")
    printer = target.printer(like=compiled.arguments[0])  # an input: a float tensor
    values = compiled.network.values
    return dict(signature=", ".join(compiled.arguments), n_args=len(compiled.arguments),
                initial=repr({p: float(values[p]) for p in compiled.parameters
                              if p in values}),
                penalty=_penalty_source(compiled, printer, "_penalty_terms"),
                penalty_title="" if penalty is None else
                f"{penalty.kind.title}, lambda = {penalty.strength!r}",
                sources=[_terms_source(compiled, printer, *function)
                         for function in target.functions])


def module_source(compiled: CompiledNetwork, spec_path: str | None = None,
                  target: str = "numpy") -> str:
    """The text of a standalone module with the compiled functions of ``compiled``, for
    ``target`` (one of :data:`TARGETS`), from its Jinja template in ``templates/``."""
    import jinja2  # on first use: ``import symgrad`` stays quick

    if target not in TARGETS:
        raise ExportError(f"unknown target '{target}'; known: {', '.join(TARGETS)}")
    env = jinja2.Environment(loader=jinja2.PackageLoader("symgrad", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    # all spec text reaches the module inside the docstring or a comment, through these
    env.filters["docstring"] = docstring_literal
    env.filters["comment"] = comment_text
    net = compiled.network
    return env.get_template(TARGETS[target].template).render(
        title=net.title or repr(net), version=_version(),
        origin=f"from {spec_path}" if spec_path else "from a network built in Python",
        network=repr(net), loss_title=net.loss.title, reduction=net.loss.reduction,
        data=compiled.data_names, parameters=compiled.parameters,
        arguments=repr(compiled.arguments), data_names=repr(compiled.data_names),
        parameter_names=repr(compiled.parameters), forward_names=repr(compiled.forward_names),
        mean=repr(compiled.mean), n=len(compiled.data_names),
        **_target_context(compiled, TARGETS[target]))


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
