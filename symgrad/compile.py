"""A derivation becomes fast, numerically stable NumPy functions.

This is the only module that calls SymPy's :func:`~sympy.utilities.lambdify.lambdify`. It
compiles from the derivation's intermediate forms, never from the expanded gradients: the
generated code is a sequence of named assignments (forward equations, stable activation
forms from :mod:`symgrad.printers_numeric`, the per-sample loss, the error signals output
layer first), so its length grows linearly with the depth of the network. The per-sample
gradients ``delta * input`` are summed over the samples of a batch afterwards (and divided
by the sample count when the loss is a mean).

Two backends evaluate the batch sums (``loss``, ``grad``, ``value_and_grad``):
``"numpy"`` (the default) runs the lambdified NumPy kernels block by block, the very code
that :mod:`symgrad.export` writes out; ``"c"`` runs the same assignments as one fused,
vectorized, multi-threaded C loop (:mod:`symgrad.native`), several times faster on large
batches and equal to the NumPy sums to about 1e-15 relative, not to the last bit.

>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> net = load("derivations/two_neuron.toml")
>>> f = compile(derive(net))
>>> f.arguments
('x1', 'T', 'w1', 'b1', 'w2', 'b2')
>>> round(float(f.grad(**net.values)["w2"]), 5)
0.05707
>>> round(f.forward(**net.values)["a2"].item(), 6)
0.715252
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from . import chunked, runtime
from .callable_module import make_callable
from .derive import Derivation, DeltaStep
from .errors import ArgumentError, CompileError
from .native import FusedLoop
from .catalogue import Activation, UnitForms, get_activation
from .printers_numeric import MATH_NAMES, RESERVED_NAMES, ScalarMathPrinter, StableNumPyPrinter
from .kernel import Kernel, kernel_docstring
from .kernel_terms import data_gradient_terms, penalized_outputs, penalized_sums
from .printing import html_table

__all__ = ["CompiledNetwork", "compile", "activation_kernel", "activation_functions",
           "output_kernel", "stable_rewrites", "stable_delta", "mpmath_function", "KERNELS",
           "BACKENDS", "numpy_kernel"]

#: Ways to evaluate the batch sums: lambdified NumPy kernels, or one fused C loop.
BACKENDS = ("numpy", "c")

Program = list[tuple[Symbol, Expr]]

#: The generated functions: name -> (what it computes, whether it runs on ``math`` scalars).
KERNELS: dict[str, tuple[str, bool]] = {
    "forward_arrays": ("every z and a of the forward pass, per sample", False),
    "loss_sums": ("the loss summed over the block's samples", False),
    "grad_sums": ("every parameter's gradient summed over the block's samples", False),
    "value_and_grad_sums": ("the loss, then every gradient, summed over the block's samples",
                            False),
    "loss_scalar": ("the loss of one sample", True),
    "grad_scalar": ("every parameter's gradient for one sample", True),
    "value_and_grad_scalar": ("the loss, then every gradient, for one sample", True),
}

_SAMPLES = Symbol("n_block")  # the number of samples in a block, for sums of constants
_BSUM = sp.Function("_bsum")
_BDOT = sp.Function("_bdot")
_NUMPY_NAMESPACE: dict[str, Any] = {"_bsum": runtime._bsum, "_bdot": runtime._bdot,
                                    "_erfc": runtime._erfc}
_MATH_NAMESPACE: dict[str, Any] = {name: getattr(math, name) for name in MATH_NAMES}
_MATH_NAMESPACE["_erfc"] = runtime._erfc


def _layer_forms(layer: Any) -> UnitForms:
    if layer.activation is None:
        return UnitForms()
    if not layer.activation.elementwise:
        if layer.activation.layer_forms is None:
            raise CompileError(f"no numeric form for activation '{layer.activation.name}'")
        return layer.activation.layer_forms(layer.index, layer.pre, layer.post)
    merged = UnitForms()
    for z, a in zip(layer.pre, layer.post):
        merged.merge(layer.activation.stable_forms(z, a, **layer.params))
    return merged


Roles = Mapping[tuple[Symbol, str], Symbol]


def _minus_target(a: Symbol, t: Expr, c: Symbol, total: Expr = sp.S.One) -> dict[Expr, Expr]:
    """``a total - t`` (and its negation) as ``a (total - t) - t (1 - a)`` with ``c = 1 - a``
    computed from z: two terms that never cancel each other, exact for ``t = total = 1``
    where ``a - t`` would round to 0 (``sigma(z) - 1 = -sigma(-z)``)."""
    stable = a * (total - t) - t * c
    return {a * total - t: stable, t - a * total: -stable}


def stable_rewrites(roles: Roles, posts: Sequence[Symbol], outputs: Sequence[Symbol],
                    targets: Sequence[Expr]) -> dict[Expr, Expr]:
    """What would lose its digits or overflow in float64, written from z through the
    activations' roles (:class:`symgrad.catalogue.UnitForms`): ``log a`` and ``log(1 - a)``
    (log-sigmoid, log-softmax), ``1 - a``, and ``a - T`` of every output (for a softmax
    also ``a · sum T - T``, the general form of its cross-entropy delta). Both levels'
    compiled code apply them with ``xreplace``, outermost match first.

    >>> from symgrad.catalogue import get_activation
    >>> z, a, T = sp.symbols("z a T")
    >>> forms = get_activation("sigmoid").stable_forms(z, a)
    >>> stable_rewrites(forms.roles, [a], [a], [T])[a - T]
    -T*a_c + a*(1 - T)
    """
    out: dict[Expr, Expr] = {}
    for a in posts:
        if (a, "log") in roles:
            out[sp.log(a)] = roles[(a, "log")]
        if (a, "log_complement") in roles:
            out[sp.log(1 - a)] = roles[(a, "log_complement")]
        if (a, "complement") in roles:
            out[1 - a] = roles[(a, "complement")]
            out[a - 1] = -roles[(a, "complement")]
    total = sp.Add(*targets)
    for a, t in zip(outputs, targets):
        c = roles.get((a, "complement"))
        if c is not None:
            out.update(_minus_target(a, t, c))
            if len(targets) > 1:
                out.update(_minus_target(a, t, c, total))
    return out


def stable_delta(step: DeltaStep, slope: Symbol | None, rewrites: Mapping[Expr, Expr]) -> Expr:
    """A unit's delta for float64: ``upstream`` times the activation's slope computed from
    z where the delta is that plain product (``sigma(z) sigma(-z)``, not ``a (1 - a)``),
    else the form right for any data (:attr:`DeltaStep.unconditional`), both rewritten
    with :func:`stable_rewrites`."""
    if step.general is None and step.local is not None and slope is not None:
        return step.upstream.xreplace(rewrites) * slope
    return step.unconditional.xreplace(rewrites)


def _program(d: Derivation) -> tuple[Program, Symbol]:
    """Every quantity as a named assignment, in evaluation order; and the loss's symbol."""
    net = d.network
    program: Program = []
    roles: dict[tuple[Symbol, str], Symbol] = {}
    for layer in net.layers:
        program += [(layer.pre[i], layer.pre_expr(i)) for i in range(layer.units)]
        forms = _layer_forms(layer)
        program += forms.assignments
        roles.update(forms.roles)
    posts = net.outputs + tuple(s for layer in net.layers[:-1] for s in layer.post)
    rewrites = stable_rewrites(roles, posts, net.outputs, net.targets)
    loss = Symbol(f"{net.loss.symbol}_sample")
    program.append((loss, net.error.xreplace(rewrites)))
    outputs = net.layers[-1]
    softmax_bce = net.loss.name == "bce" and outputs.activation is not None \
        and outputs.activation.name == "softmax" and outputs.units > 1
    for symbol, step in d.deltas.items():
        post = net.layers[step.layer - 1].post
        unit = net.layers[step.layer - 1].pre.index(step.pre)
        if softmax_bce and step.layer == len(net.layers):
            expr = _softmax_bce_delta(unit, net.outputs, net.targets, rewrites, roles)
        else:
            expr = stable_delta(step, roles.get((post[unit], "slope")), rewrites)
        program.append((symbol, expr))
    return program, loss


def _softmax_bce_delta(j: int, outputs: Sequence[Symbol], targets: Sequence[Symbol],
                       stable: Mapping[Expr, Expr],
                       roles: Mapping[tuple[Symbol, str], Symbol]) -> Expr:
    """Output unit ``j``'s delta for binary cross-entropy on a softmax, without ``1/a``.

    With ``g_k = a_k - T_k``, ``dE/da_k = g_k / (a_k (1 - a_k))`` and the softmax Jacobian
    ``a_k (delta_kj - a_j)`` give ``delta_j = g_j - sum_{k != j} g_k a_j / (1 - a_k)``: each
    quotient ``a_j / (1 - a_k)`` is a share of the units other than ``k`` (at most 1), and
    ``g_k`` is taken in its form exact for ``T_k = 1``.
    """
    g = [stable.get(a - t, a - t) for a, t in zip(outputs, targets)]
    a_j = outputs[j]
    return g[j] - sp.Add(*(g[k] * roles[(a_j, f"over_complement:{a_k}")]
                           for k, a_k in enumerate(outputs) if k != j))


def _prune(program: Program, outputs: Sequence[Expr]) -> Program:
    """Only the assignments that ``outputs`` need, in their order."""
    needed: set[Symbol] = set().union(*(o.free_symbols for o in outputs))
    kept: Program = []
    for symbol, expr in reversed(program):
        if symbol in needed:
            kept.append((symbol, expr))
            needed |= expr.free_symbols
    return kept[::-1]


def _named_cse(body: Program) -> Callable[[Any], tuple[Program, Any]]:
    """A ``cse`` for lambdify: the program's named assignments, with the subexpressions that
    repeat across them (SymPy's ``cse``) pulled out as ``cse_0, cse_1, ...`` just before
    their first use."""

    def run(outputs: Sequence[Expr] | Expr) -> tuple[Program, Any]:
        if isinstance(outputs, Expr):  # one result, returned bare
            program, (out,) = run([outputs])
            return program, out
        exprs = [e for _, e in body] + list(outputs)
        replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("cse_"),
                                       order="none")
        # a temporary for a bare symbol or its negation only hides what is computed
        trivial: dict[Symbol, Expr] = {}
        pending: dict[Symbol, Expr] = {}
        for s, v in replacements:
            v = v.xreplace(trivial)
            if v.is_Symbol or (v.is_Mul and len(v.args) == 2 and v.args[0] == -1
                               and v.args[1].is_Symbol):
                trivial[s] = v
            else:
                pending[s] = v
        reduced = [r.xreplace(trivial) for r in reduced]
        order = {s: k for k, s in enumerate(pending)}
        rename: dict[Symbol, Symbol] = {}
        result: Program = []

        def emit(expr: Expr) -> None:
            for s in sorted(expr.free_symbols & pending.keys(), key=order.__getitem__):
                if s in pending:
                    value = pending.pop(s).xreplace(rename)
                    emit(value)
                    result.append((s, value))

        for (symbol, _), new in zip(body, reduced):
            new = new.xreplace(rename)
            emit(new)
            if result and new.is_Symbol and result[-1][0] == new and new in order:
                # the temporary was made just for this assignment: give it the real name
                temporary, new = result.pop()
                rename[temporary] = symbol
            result.append((symbol, new))
        outs = [o.xreplace(rename) for o in reduced[len(body):]]
        for out in outs:
            emit(out)
        return result, tuple(outs)

    return run


#: The scalar kernel that computes a batch kernel's results for one sample of floats.
_SCALAR_KERNEL = {"loss_sums": "loss_scalar", "grad_sums": "grad_scalar",
                  "value_and_grad_sums": "value_and_grad_scalar"}


class CompiledNetwork:
    """The compiled numeric functions of a derivation (build it with :func:`compile`).

    Values are passed by name: inputs and targets as numbers or 1-D arrays of samples,
    parameters as numbers. Results are float64, or float32 when the inputs are float32
    NumPy arrays. ``loss`` and ``grad`` reduce over the samples as the loss says (``sum`` or
    ``mean``), with the ``backend`` named in :data:`BACKENDS`. The ``*_scalar`` attributes
    are plain positional functions of Python floats, in :attr:`arguments` order, for the
    fastest possible call on one sample; ``loss``, ``grad`` and ``value_and_grad`` call them
    by themselves when every value is a Python number (NumPy backend, float64).
    """

    def __init__(self, derivation: Derivation, dtype: Any = np.float64,
                 backend: str = "numpy") -> None:
        self.derivation = derivation
        self.network = net = derivation.network
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise CompileError(f"dtype must be float32 or float64, not {self.dtype}")
        if backend not in BACKENDS:
            raise CompileError(f"unknown backend '{backend}'; known: {', '.join(BACKENDS)}")
        self.backend = backend
        clash = sorted(set(net.symbols) & RESERVED_NAMES)
        if clash:
            raise CompileError(f"symbol name '{clash[0]}' is reserved in generated code; "
                               "choose another base name in [network.names]")
        data = net.inputs + net.targets
        self._symbols = data + net.parameters
        self.data_names: tuple[str, ...] = tuple(map(str, data))
        self.parameters: tuple[str, ...] = tuple(map(str, net.parameters))
        self.arguments: tuple[str, ...] = self.data_names + self.parameters
        self.forward_names: tuple[str, ...] = tuple(map(str, net.equations))
        self.mean = net.loss.reduction == "mean"
        # one sample of floats: the scalar kernels, on the NumPy backend (the exported module
        # does the same); backend "c" always runs its C loop, as asked
        self._scalar_ready = self.dtype == np.float64 and backend == "numpy"
        self._program, self._loss = _program(derivation)
        self._kernels: dict[str, Callable[..., Any]] = {}
        self._sources: dict[str, str] = {}
        self._loops: dict[str, FusedLoop] = {}

    # -- building --------------------------------------------------------------------------

    def _gradient_terms(self, reduced: bool) -> list[Expr]:
        """Each gradient's ``delta * input``; a tied parameter's is a sum of such terms,
        one per unit it enters, each reduced over the samples by itself."""
        terms = []
        for name in self.parameters:
            uses = []
            for term in sp.Add.make_args(self.derivation[name].delta_form):
                delta = next(s for s in term.free_symbols if s in self.derivation.deltas)
                factor = term.xreplace({delta: sp.S.One})
                if not reduced:
                    uses.append(delta * factor)
                elif factor == 1:
                    uses.append(_BSUM(delta, _SAMPLES))
                else:
                    uses.append(_BDOT(delta, factor, _SAMPLES))
            terms.append(sp.Add(*uses))
        return terms

    def _outputs(self, name: str, penalty: bool = False) -> tuple[list[Expr], list[str]]:
        """The kernel's outputs and their names; with ``penalty`` (the scalar kernels, whose
        one sample is the whole batch) the network's penalty is added, lambda a number."""
        if name == "forward_arrays":
            return list(self.network.equations), list(self.forward_names)
        reduced = not KERNELS[name][1]
        loss = [_BSUM(self._loss, _SAMPLES) if reduced else self._loss]
        grads = self._gradient_terms(reduced)
        if penalty:
            loss, grads = penalized_outputs(self.derivation, self.parameters, loss, grads)
        names = [f"d{self.network.loss.symbol}/d{p}" for p in self.parameters]
        if name.startswith("loss"):
            return loss, [self.network.loss.symbol]
        if name.startswith("grad"):
            return grads, names
        return loss + grads, [self.network.loss.symbol] + names

    def _check_kernel(self, name: str) -> None:
        if name not in KERNELS:
            raise CompileError(f"unknown kernel '{name}'; known: {', '.join(KERNELS)}")

    def kernel(self, name: str) -> Callable[..., Any]:
        """The generated function ``name`` (one of :data:`KERNELS`), built on first use."""
        if name in self._kernels:
            return self._kernels[name]
        self._check_kernel(name)
        scalar = KERNELS[name][1]
        outputs, returns = self._outputs(name, penalty=scalar)
        args = self._symbols if scalar or name == "forward_arrays" else \
            self._symbols + (_SAMPLES,)
        body = _prune(self._program, outputs)
        printer = ScalarMathPrinter() if scalar else StableNumPyPrinter()
        modules = [_MATH_NAMESPACE] if scalar else [_NUMPY_NAMESPACE, "numpy"]
        result = outputs[0] if name == "loss_scalar" else tuple(outputs)
        fn = sp.lambdify(args, result, modules=modules, printer=printer,
                         cse=_named_cse(body), docstring_limit=0)
        source = inspect.getsource(fn)
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = kernel_docstring(*KERNELS.get(name, (name, False)), [str(a) for a in args],
                                      len(self.data_names), str(_SAMPLES), returns)
        self._kernels[name] = fn
        self._sources[name] = source
        return fn

    def fused_loop(self, name: str) -> FusedLoop:
        """The C loop of batch kernel ``name`` (``loss_sums``, ``grad_sums`` or
        ``value_and_grad_sums``): its per-sample terms, summed in one pass."""
        if name not in self._loops:
            self._check_kernel(name)
            if KERNELS[name][1] or name == "forward_arrays":
                raise CompileError(f"kernel '{name}' has no fused C loop; only the batch "
                                   "sums do")
            body, terms = self.per_sample(name.replace("_sums", "_scalar"))
            n_data = len(self.data_names)
            self._loops[name] = FusedLoop(name, KERNELS[name][0],
                                          self._symbols[:n_data], self._symbols[n_data:],
                                          body, terms)
        return self._loops[name]

    def per_sample(self, name: str, data_gradients: bool = False
                   ) -> tuple[Program, tuple[Expr, ...]]:
        """The assignments and the per-sample terms of scalar kernel ``name`` (a loss, then
        each parameter's ``delta * input``), common subexpressions pulled out: what the
        fused C loop and the PyTorch and JAX exports sum over the samples. With
        ``data_gradients``, each input's and target's per-sample gradient comes before the
        parameters' ones: the gradients are in :attr:`arguments` order."""
        self._check_kernel(name)
        outputs, _ = self._outputs(name)
        if data_gradients:
            first = 0 if name.startswith("grad") else 1  # after the loss
            outputs[first:first] = data_gradient_terms(self.derivation, dict(self._program),
                                                       self._loss)
        return _named_cse(_prune(self._program, outputs))(outputs)

    def source(self, name: str) -> str:
        """The Python source of kernel ``name``, named ``name``, with its docstring."""
        self.kernel(name)
        text = self._sources[name].replace("def _lambdifygenerated(", f"def {name}(", 1)
        head, _, body = text.partition("\n")
        doc = self._kernels[name].__doc__ or ""
        indented = "\n".join(("    " + line) if line else "" for line in doc.splitlines())
        return f'{head}\n    """{indented.lstrip()}\n    """\n{body}'

    # -- calling -------------------------------------------------------------------------

    def forward(self, **values: Any) -> dict[str, Any]:
        """Every ``z`` and ``a`` of the forward pass, by symbol name: arrays of the samples,
        or numbers when every value is one number."""
        try:
            return runtime.evaluate_forward(self.kernel("forward_arrays"), self.arguments,
                                   self.forward_names, values, len(self.data_names), self.dtype)
        except runtime.ArgumentError as exc:
            raise ArgumentError(str(exc)) from None

    def sums(self, name: str, values: Mapping[str, Any], threads: int | None = None
             ) -> tuple[Sequence[Any], int, np.dtype]:
        """Batch kernel ``name``'s sums over the samples of in-memory ``values`` (not divided
        by their count), the sample count and the dtype; C loops on ``threads`` threads."""
        args, n, dtype = runtime.prepare(values, self.arguments, len(self.data_names),
                                         self.dtype)
        if self.backend == "numpy":
            return runtime.reduce_batch(self.kernel(name), self.arguments, values,
                                        len(self.data_names), self.dtype, False), n, dtype
        return self.fused_loop(name)(args, n, threads), n, dtype

    def _reduce(self, name: str, values: Mapping[str, Any]) -> tuple[Any, ...]:
        # one sample of Python numbers: the scalar kernel, several times quicker than the
        # batch path's array handling (benchmarks/bench_call.py)
        scalar = runtime.scalar_arguments(values, self.arguments) if self._scalar_ready \
            else None
        if scalar is not None:
            out = runtime.scalar_results(self.kernel(_SCALAR_KERNEL[name]), scalar)
            if out is not None:
                return out  # the scalar kernels add the penalty themselves
        return penalized_sums(self.network, name, self._reduce_samples(name, values), values,
                              self.parameters)

    def _reduce_samples(self, name: str, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """Batch kernel ``name``'s results, reduced over the samples (no penalty)."""
        try:
            if any(map(chunked.is_dask, values.values())):
                width = len(self._outputs(name)[1])
                totals, n, dtype = chunked.reduce_chunked(self, name, values, width)
            elif self.backend == "numpy":  # the exported modules' code, to the last bit
                return runtime.reduce_batch(self.kernel(name), self.arguments, values,
                                            len(self.data_names), self.dtype, self.mean)
            else:
                totals, n, dtype = self.sums(name, values)
        except runtime.ArgumentError as exc:
            raise ArgumentError(str(exc)) from None
        return tuple(dtype.type(t / n if self.mean else t) for t in totals)

    def loss(self, **values: Any) -> float:
        """The loss, reduced over the samples (sum or mean, as the loss says)."""
        return self._reduce("loss_sums", values)[0]

    def grad(self, **values: Any) -> dict[str, float]:
        """Every parameter's gradient, reduced over the samples like the loss."""
        return dict(zip(self.parameters, self._reduce("grad_sums", values)))

    def value_and_grad(self, **values: Any) -> tuple[float, dict[str, float]]:
        """The loss and every gradient, from one pass over the samples."""
        loss, *grads = self._reduce("value_and_grad_sums", values)
        return loss, dict(zip(self.parameters, grads))

    @property
    def loss_scalar(self) -> Callable[..., float]:
        """``loss_scalar(*arguments)``: the loss of one sample, in plain Python floats."""
        return self.kernel("loss_scalar")

    @property
    def grad_scalar(self) -> Callable[..., tuple[float, ...]]:
        """``grad_scalar(*arguments)``: the gradients of one sample, in parameter order."""
        return self.kernel("grad_scalar")

    @property
    def value_and_grad_scalar(self) -> Callable[..., tuple[float, ...]]:
        """``value_and_grad_scalar(*arguments)``: ``(loss, *gradients)`` of one sample."""
        return self.kernel("value_and_grad_scalar")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its derivation (for Dask's workers); kernels are rebuilt on use."""
        return CompiledNetwork, (self.derivation, self.dtype, self.backend)

    def __repr__(self) -> str:
        return f"CompiledNetwork({self.network!r}; arguments {', '.join(self.arguments)})"

    def _repr_html_(self) -> str:
        """A notebook's display: the network, the arguments in order, backend and dtype."""
        return html_table("compiled", [
            ("network", repr(self.network)), ("inputs and targets", ", ".join(self.data_names)),
            ("parameters", ", ".join(self.parameters)),
            ("backend", f"{self.backend}, {self.dtype.name}"),
            ("by name", "forward, loss, grad, value_and_grad"),
            ("positional", ", ".join(f"{k}_scalar" for k in ("loss", "grad", "value_and_grad")))])


def compile(derivation: Derivation, dtype: Any = np.float64,  # noqa: A001
            backend: str = "numpy") -> CompiledNetwork:
    """Compile a derivation into NumPy functions of named values.

    Parameters
    ----------
    derivation : the result of :func:`symgrad.derive`.
    dtype : the floating type for values that carry none (Python numbers and lists):
        ``numpy.float64`` (default) or ``numpy.float32``.
    backend : how batch sums are evaluated: ``"numpy"`` (default; the code that
        :mod:`symgrad.export` writes) or ``"c"`` (a fused C loop, built with the system
        C compiler on first use and cached; see :mod:`symgrad.native`).

    >>> from symgrad.network import Network, Dense
    >>> from symgrad.derive import derive
    >>> f = compile(derive(Network(1, [Dense(1, "sigmoid")], "half_sse")))
    >>> f.arguments
    ('x', 'T', 'w', 'b')
    >>> g = f.grad(x=np.array([1.0, -1.0]), T=0.0, w=0.0, b=0.0)
    >>> float(g["w"]), float(g["b"])
    (0.0, 0.25)
    """
    return CompiledNetwork(derivation, dtype, backend)


def numpy_kernel(arguments: Sequence[Symbol], outputs: tuple[Expr, Expr],
                 body: Program) -> Kernel:
    """The two ``outputs`` as one NumPy function of ``arguments``, after the assignments
    they need from ``body`` (``[(symbol, expr), ...]``: a catalogue entry's stable forms);
    both results shaped as the first argument (:func:`activation_kernel` is one)."""
    return Kernel(sp.lambdify(tuple(arguments), outputs,
                              modules=[_NUMPY_NAMESPACE, "numpy"], printer=StableNumPyPrinter(),
                              cse=_named_cse(_prune(body, outputs)), docstring_limit=0),
                  len(arguments))


def activation_kernel(name: str | Activation, **params: float) -> Kernel:
    """One NumPy function computing the stable value and slope of elementwise activation
    ``name`` (or a spec's own entry) from its catalogue forms for arrays
    (:meth:`~symgrad.catalogue.Activation.array_stable_forms`): ``a, da/dz = kernel(z)``
    (arrays shaped as ``z``).

    >>> kernel = activation_kernel("sigmoid")
    >>> [float(v) for v in kernel(np.array(40.0))]
    [1.0, 4.248354255291589e-18]
    """
    z, a = Symbol("z"), Symbol("a")
    entry = name if isinstance(name, Activation) else get_activation(name)
    forms = entry.array_stable_forms(z, a, **params)
    return numpy_kernel((z,), (a, forms.roles[(a, "slope")]), forms.assignments)


def output_kernel(activation: Activation | None, params: Mapping[str, float], step: DeltaStep,
                  loss: Expr, z: Symbol, a: Symbol, y: Symbol
                  ) -> Kernel:
    """One NumPy function ``(z, y) -> (loss, delta)`` of an elementwise output unit, per
    element: ``loss`` (in ``a``, ``y``) and the unit's delta ``step`` from the activation's
    stable forms, rewritten as the unit level's compiled code is (:func:`stable_rewrites`,
    :func:`stable_delta`): the matrix level's output layer in float64.

    >>> from symgrad.derive import derive_layers
    >>> d = derive_layers("derivations/two_neuron.toml")
    >>> z, a, y = sp.symbols("z a y", real=True)
    >>> kernel = output_kernel(d.shapes[-1].activation, {}, d.steps[0].unit, d.unit_loss(),
    ...                        z, a, y)
    >>> loss, delta = kernel(np.array(40.0), np.array(1.0))  # delta = -sigma(-40)**2
    >>> f"{float(loss):.6e}, {float(delta):.6e}"
    '9.024257e-36, -1.804851e-35'
    """
    forms = UnitForms([(a, z)]) if activation is None else \
        activation.stable_forms(z, a, **params)
    rewrites = stable_rewrites(forms.roles, [a], [a], [y])
    outputs = (loss.xreplace(rewrites),
               stable_delta(step, forms.roles.get((a, "slope")), rewrites))
    return numpy_kernel((z, y), outputs, forms.assignments)


def activation_functions(name: str, **params: float) -> tuple[Callable[..., Any],
                                                                Callable[..., Any]]:
    """The compiled stable value and derivative of elementwise activation ``name`` (NumPy).

    >>> f, df = activation_functions("sigmoid")
    >>> float(df(40.0))
    4.248354255291589e-18
    """
    kernel = activation_kernel(name, **params)
    return (lambda z: kernel(z)[0]), (lambda z: kernel(z)[1])


def mpmath_function(z: Symbol, expr: Expr) -> Callable[[Any], Any]:
    """``expr`` as a function of ``z`` in mpmath, at mpmath's working precision: the
    reference of accuracy sweeps (:mod:`symgrad.analysis.accuracy`).

    >>> import mpmath
    >>> z = Symbol("z")
    >>> with mpmath.workdps(30):
    ...     str(mpmath_function(z, sp.exp(z))(1))
    '2.71828182845904523536028747135'
    """
    return sp.lambdify(z, expr, modules="mpmath")


make_callable(__name__, compile)  # symgrad.compile(d), whichever is bound
