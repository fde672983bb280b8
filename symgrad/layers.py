"""Layer-level (matrix) derivations of dense networks, compiled to minibatch NumPy.

The scalar derivation (:mod:`symgrad.derive`) writes one expression per weight; a
network of a few thousand weights needs the matrix form instead. Here every layer is
one matrix equation, ``z_l = W_l a_{l-1} + b_l`` and ``a_l = f(z_l)``, and SymPy
derives, with matrix expressions, the delta recursion

* ``delta_L = dE/dz_L``: ``s - y`` for a softmax output with cross-entropy (derived with
  indexed sums over a symbolic number of classes), otherwise the loss's derivative times
  the activation's, elementwise;
* ``delta_l = (W_{l+1}^T delta_{l+1}) ⊙ f'(z_l)``, with ``f'`` written in the layer's own
  output where the activation allows it (``a_l ⊙ (1 - a_l)`` for the sigmoid);
* ``dE/dW_l = delta_l a_{l-1}^T`` and ``dE/db_l = delta_l`` per sample; over a minibatch
  of ``m`` samples (columns) ``Delta_l A_{l-1}^T`` and ``Delta_l 1_m``, divided by ``m``
  when the loss is a mean.

The linear steps come from differentiating ``tr(Delta^T W A)`` with SymPy's matrix
calculus; the elementwise factor is SymPy's scalar derivative of the activation
(its ``fdiff``), lifted to a Hadamard product.

:meth:`LayerDerivation.compile` turns the derivation into NumPy matrix products over a
minibatch (rows are samples, so a layer is ``Z = A W^T + b``), with preallocated
buffers, a stable sigmoid (through ``tanh``), a max-shifted softmax and log-softmax
inside the cross-entropy; there is no per-weight code. :func:`fit` trains a spec that
names a data set with minibatch SGD.

>>> d = derive_layers(parse_spec('''
... [network]
... inputs = 4
... layers = [{ units = 3, activation = "sigmoid" }, { units = 2, activation = "softmax" }]
... loss = "cce"
... '''))
>>> print(next(line for line in d.text(unicode=False).splitlines() if "delta1 =" in line))
  delta1 = (W2^T*delta2) .* sigma'(z1) = (W2^T*delta2) .* a1 .* (1 - a1)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import (Expr, HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixExpr,
                   MatrixSymbol, OneMatrix, Symbol, Trace, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .architecture import Architecture, LayerShape
from .catalogue import Loss, get_activation
from .compile import activation_kernel
from .datasets import Dataset, load_dataset
from .errors import ArgumentError, DerivationError, DivergenceError
from .numbers import evaluate
from .printing import text
from .network import Network
from .spec import (TRAINING_MODES, Spec, TrainingSpec,
                   parse_spec, read_spec)  # noqa: F401 (parse_spec: doctests)

__all__ = ["LayerStep", "LayerDerivation", "CompiledLayers", "FitResult",
           "derive_layers", "fit", "SCALAR_LIMIT"]

#: Above this many parameters ``symgrad derive`` shows the layer-level derivation.
SCALAR_LIMIT = 200



# -- shapes --------------------------------------------------------------------------------

def _hidden_elementwise(arch: Architecture) -> None:
    """The matrix form lifts per-unit derivatives: a mixing activation only at the output."""
    for shape in arch.layers[:-1]:
        if shape.activation is not None and not shape.activation.elementwise:
            raise arch.error(f"network.layers[{shape.index - 1}].activation",
                             f"activation '{shape.activation.name}' is not elementwise; the "
                             "layer-level derivation needs an elementwise activation in hidden "
                             f"layer {shape.index} (use it in the output layer only)",
                             value=shape.activation.name)


# -- printing ------------------------------------------------------------------------------

_Elementwise = ElementwiseApplyFunction


def _display(name: str, style: str) -> str:
    """How an activation name prints: ``sigma`` as a Greek letter, a ``_prime`` suffix as '."""
    base = name.removesuffix("_prime")
    prime = "'" if name.endswith("_prime") else ""
    entry = get_activation(base)
    shown = {"unicode": entry.text or base, "ascii": entry.ascii or base,
             "latex": entry.latex}[style]
    return shown + prime


def _wrap(printer: Any, arg: Any) -> str:
    """Parenthesize a matrix product or sum inside a Hadamard product."""
    text = printer._print(arg)
    if isinstance(arg, (MatMul, MatAdd)) or (isinstance(arg, MatrixExpr) and
                                             arg.could_extract_minus_sign()) or (
            isinstance(arg, _Elementwise) and isinstance(arg.function.expr, sp.Add)):
        return f"({text})" if not isinstance(printer, LatexPrinter) else rf"\left({text}\right)"
    return text


class _TextPrinter(StrPrinter):
    """Plain text of matrix expressions: ``W2^T · delta2``, ``a1 ⊙ (1 - a1)``."""

    def __init__(self, unicode: bool) -> None:
        super().__init__({"order": "none"})
        self.style = "unicode" if unicode else "ascii"
        self.dot = " · " if unicode else "*"
        self.had = " ⊙ " if unicode else " .* "

    def _print_MatMul(self, expr: Any) -> str:
        c, rest = expr.as_coeff_mmul()
        body = self.dot.join(self.parenthesize(a, PRECEDENCE["Mul"], strict=False)
                             for a in rest.args)
        if c == 1:
            return body
        return f"{self._print(c)}{self.dot}{body}" if c != -1 else f"-{body}"

    def _print_HadamardProduct(self, expr: Any) -> str:
        return self.had.join(_wrap(self, a) for a in expr.args)

    def _print_HadamardPower(self, expr: Any) -> str:
        return f"{self.parenthesize(expr.base, PRECEDENCE['Pow'])}^{self._print(expr.exp)}"

    def _print_Transpose(self, expr: Any) -> str:
        return f"{self.parenthesize(expr.arg, PRECEDENCE['Pow'])}^T"

    def _print_OneMatrix(self, expr: Any) -> str:
        sym = [n for n in expr.shape if not n.is_Integer]
        return f"1_{sym[0]}" if sym else "1"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        return self._print(expr.function.expr.xreplace(
            {expr.function.variables[0]: Symbol(str(expr.expr))}))

    def _print_Function(self, expr: Any) -> str:
        if isinstance(expr.func, sp.core.function.UndefinedFunction):
            inner = ", ".join(self._print(a) for a in expr.args)
            return f"{_display(expr.func.__name__, self.style)}({inner})"
        return super()._print_Function(expr)


class _LatexPrinter(LatexPrinter):
    """LaTeX of matrix expressions with ``\\odot`` for the Hadamard product."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})

    def _print_HadamardProduct(self, expr: Any) -> str:
        return r" \odot ".join(_wrap(self, a) for a in expr.args)

    def _print_HadamardPower(self, expr: Any) -> str:
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
        return rf"{base}^{{\odot {self._print(expr.exp)}}}"

    def _print_OneMatrix(self, expr: Any) -> str:
        sym = [n for n in expr.shape if not n.is_Integer]
        return rf"\mathbf{{1}}_{{{self._print(sym[0])}}}" if sym else "1"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        return self._print(expr.function.expr.xreplace(
            {expr.function.variables[0]: Symbol(str(expr.expr))}))

    def _print_Function(self, expr: Any, exp: Any = None) -> str:
        if isinstance(expr.func, sp.core.function.UndefinedFunction):
            inner = ", ".join(self._print(a) for a in expr.args)
            return rf"{_display(expr.func.__name__, 'latex')}\left({inner}\right)"
        return super()._print_Function(expr, exp)


def _text(expr: Expr | MatrixExpr, unicode: bool) -> str:
    return _TextPrinter(unicode).doprint(expr)


def _latex(expr: Expr | MatrixExpr) -> str:
    return _LatexPrinter().doprint(expr)


# -- lifting scalar derivatives to matrices ------------------------------------------------

def _lift(expr: Expr, table: Mapping[Symbol, MatrixExpr], shape: tuple[Any, Any]) -> MatrixExpr:
    """A scalar expression in per-unit symbols as the elementwise matrix expression.

    Sums become matrix sums, products Hadamard products, integer powers Hadamard powers;
    anything else of one symbol becomes an elementwise function of that matrix.
    """
    if expr in table:
        return table[expr]
    free = [s for s in table if expr.has(s)]
    if len(free) == 1 and not expr.is_polynomial(free[0]):
        # one function of one matrix, e.g. Heaviside(z1, 0) or GELU's slope: no Hadamard split
        var = sp.Dummy("u")
        return _Elementwise(
            sp.Lambda(var, expr.xreplace({free[0]: var})), table[free[0]])
    if expr.is_number:
        if expr == 0:
            return ZeroMatrix(*shape)
        return OneMatrix(*shape) if expr == 1 else MatMul(expr, OneMatrix(*shape),
                                                          evaluate=False)
    if isinstance(expr, sp.Add):
        terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
        return MatAdd(*(_lift(t, table, shape) for t in terms), evaluate=False)
    if isinstance(expr, sp.Mul):
        coeff = sp.Mul(*(f for f in expr.args if f.is_number))
        factors = [f for f in expr.args if not f.is_number]
        lifted = [_lift(f, table, shape) for f in factors]
        body = lifted[0] if len(lifted) == 1 else HadamardProduct(*lifted, evaluate=False)
        return body if coeff == 1 else MatMul(coeff, body, evaluate=False)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return HadamardPower(_lift(expr.base, table, shape), expr.exp)
    free = [s for s in table if expr.has(s)]
    if len(free) != 1:
        raise DerivationError(f"cannot write {expr} elementwise in one of "
                              f"{', '.join(map(str, table))}")
    var = sp.Dummy("u")
    return _Elementwise(
        sp.Lambda(var, expr.xreplace({free[0]: var})), table[free[0]])


# -- the derivation ------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerStep:
    """The error signal of one layer and the gradients it gives.

    ``delta = upstream ⊙ local`` (``local`` is ``None`` for a softmax output, whose
    Jacobian mixes units, and for a layer without activation). ``general`` is the
    factor before the own-output rewrite (``sigma'(z1)``); ``scalar_local`` is the
    per-unit derivative as SymPy gives it, in the unit symbols ``z``, ``a``.
    ``delta_scalar`` is the per-unit delta in ``a``, ``y``, ``z`` for an output layer,
    and ``note`` says which simplification was applied.
    """

    index: int
    delta: MatrixSymbol
    upstream: MatrixExpr
    local: MatrixExpr | None
    general: MatrixExpr | None
    expression: MatrixExpr
    weight_gradient: MatrixExpr
    bias_gradient: MatrixExpr | None
    batch_weight_gradient: MatrixExpr
    batch_bias_gradient: MatrixExpr | None
    scalar_local: Expr | None = None
    delta_scalar: Expr | None = None
    note: str = ""


def _unit_symbols() -> tuple[Symbol, Symbol, Symbol]:
    return Symbol("z", real=True), Symbol("a", real=True), Symbol("y", real=True)


def _own_output(shape: LayerShape, z: Symbol, a: Symbol) -> tuple[Expr, Expr]:
    """``f'(z)`` as SymPy differentiates it, and in the layer's own output ``a``."""
    if shape.activation is None:
        return sp.Integer(1), sp.Integer(1)
    return (shape.activation(z, **shape.params).diff(z),
            shape.activation.local(z, a, **shape.params))


class LayerDerivation:
    """The layer-level derivation of a dense network's gradients (see the module doc).

    Build it with :func:`derive_layers`. ``steps`` are output layer first. ``W``, ``b``,
    ``z``, ``a`` and ``delta`` are per-layer matrix symbols (``a[0]`` is the input ``x``);
    ``A``, ``Delta`` their minibatch versions with ``m`` columns.
    """

    def __init__(self, source: Architecture | Spec) -> None:
        arch = source if isinstance(source, Architecture) else Architecture.from_spec(source)
        self.architecture = arch
        self.spec = arch.spec
        if arch.tied is not None:
            raise arch.error(arch.tied, "tied parameters are derived at the unit level only")
        _hidden_elementwise(arch)
        self.loss: Loss = arch.loss
        self.shapes = arch.layers
        last = self.shapes[-1]
        if last.activation is not None and not last.activation.elementwise \
                and self.loss.name != "cce":
            raise arch.error("network.loss", f"a {last.activation.name} output is derived at "
                             f"the layer level with loss 'cce' only, not '{self.loss.name}'",
                             value=self.loss.name)
        self.m = Symbol("m", integer=True, positive=True)
        sizes = list(arch.sizes)
        L = len(self.shapes)
        self.output_name = "s" if self._softmax_out else f"a{L}"
        self.a = [MatrixSymbol("x", sizes[0], 1)] + [
            MatrixSymbol(self.output_name if l == L else f"a{l}", sizes[l], 1)
            for l in range(1, L + 1)]
        self.A = [MatrixSymbol("X", sizes[0], self.m)] + [
            MatrixSymbol("S" if (l == L and self._softmax_out) else f"A{l}", sizes[l], self.m)
            for l in range(1, L + 1)]
        self.W = [None] + [MatrixSymbol(f"W{l}", sizes[l], sizes[l - 1]) for l in range(1, L + 1)]
        self.b = [None] + [MatrixSymbol(f"b{l}", sizes[l], 1) for l in range(1, L + 1)]
        self.z = [None] + [MatrixSymbol(f"z{l}", sizes[l], 1) for l in range(1, L + 1)]
        self.delta = [None] + [MatrixSymbol(f"delta{l}", sizes[l], 1) for l in range(1, L + 1)]
        self.Delta = [None] + [MatrixSymbol(f"Delta{l}", sizes[l], self.m)
                               for l in range(1, L + 1)]
        self.y = MatrixSymbol("y", sizes[-1], 1)
        self.sizes = tuple(sizes)
        self.steps: list[LayerStep] = []
        for shape in reversed(self.shapes):
            self.steps.append(self._step(shape))
        self.steps_by_layer = {s.index: s for s in self.steps}

    @property
    def _softmax_out(self) -> bool:
        act = self.shapes[-1].activation
        return act is not None and not act.elementwise

    @property
    def parameter_count(self) -> int:
        return sum(s.units * s.inputs + (s.units if s.bias else 0) for s in self.shapes)

    # -- the recursion ----------------------------------------------------------------

    def _linear_gradients(self, l: int, delta: MatrixExpr) -> tuple[MatrixExpr, ...]:
        """``dE/dW``, ``dE/db`` and ``dE/da_{l-1}`` from ``tr(delta^T (W a + b))``."""
        W, b, a_prev = self.W[l], self.b[l], self.a[l - 1]
        first_order = Trace(delta.T * W * a_prev)
        dW = first_order.diff(W)
        db = Trace(delta.T * b).diff(b)
        D, A = self.Delta[l], self.A[l - 1]
        ones = OneMatrix(self.m, 1)
        batch_dW = Trace(D.T * W * A).diff(W)
        batch_db = Trace(D.T * b * ones.T).diff(b)
        return dW, db, batch_dW, batch_db

    def _output_delta(self, shape: LayerShape) -> tuple[MatrixExpr, MatrixExpr,
                                                         MatrixExpr | None, MatrixExpr | None,
                                                         Expr | None, Expr, str]:
        z, a, y = _unit_symbols()
        L = shape.index
        if self._softmax_out:
            # E = -sum_k y_k log softmax_k(z) = -sum_k y_k (z_k - log sum_j exp z_j)
            i, j, k = sp.symbols("i j k", integer=True)
            n = Symbol("n", integer=True, positive=True)
            zi, yi = sp.IndexedBase("z"), sp.IndexedBase("y")
            logsum = sp.log(sp.Sum(sp.exp(zi[j]), (j, 1, n)))
            error = -sp.Sum(yi[k] * (zi[k] - logsum), (k, 1, n))
            derivative = error.diff(zi[i]).doit()
            # the Piecewise splits off i outside 1..n, where z_i is not an input at all
            derivative = sp.expand(derivative.replace(
                lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr))
            # constants (in k) out of the sum over k: sum_k exp(z_i) y_k / S = s_i sum_k y_k
            derivative = derivative.replace(lambda e: isinstance(e, sp.Sum),
                                            lambda e: sp.factor_terms(e.expand()))
            s_i = Symbol("s_i")
            general = derivative.subs(sp.exp(zi[i]) / sp.Sum(sp.exp(zi[j]), (j, 1, n)), s_i)
            collapsed = general.subs(sp.Sum(yi[k], (k, 1, n)), 1)
            if sp.expand(collapsed - (s_i - yi[i])) != 0:
                raise DerivationError(f"softmax with cross-entropy gave {collapsed}, "
                                      "not s_i - y_i")
            note = (f"softmax with cross-entropy: dE/dz_i = {text(general)}, "
                    "and the targets sum to 1")
            delta = MatAdd(self.a[L], -self.y, evaluate=False)
            return delta, delta, None, None, None, s_i - yi[i], note
        # an elementwise output: E = sum_k l(a_k, y_k); dE/da_1 of K outputs is l'(a, y)
        K = shape.units
        outs = sp.symbols(f"o1:{K + 1}", real=True)
        tgts = sp.symbols(f"t1:{K + 1}", real=True)
        upstream = sp.factor_terms(self.loss.per_sample(list(outs), list(tgts)).diff(
            outs[0]).xreplace({outs[0]: a, tgts[0]: y}))
        general_local, local = _own_output(shape, z, a)
        scalar = upstream * local
        note = ""
        if self.loss.needs_probabilities and shape.activation is not None:
            simplified = sp.factor_terms(sp.cancel(scalar))
            if simplified != scalar:
                note = (f"{self.loss.title} after a {shape.activation.name} output: the "
                        "activation's derivative cancels the loss's denominator")
            scalar = simplified
        table = {a: self.a[L], y: self.y, z: self.z[L]}
        shape2 = (shape.units, 1)
        delta = _lift(scalar, table, shape2)
        lifted_local = None if local == 1 else _lift(local, table, shape2)
        general = None if local == 1 else self._general(shape)
        try:
            lifted_upstream: MatrixExpr = _lift(upstream, table, shape2)
        except DerivationError:  # shown only as the simplified delta
            lifted_upstream = delta
        return delta, lifted_upstream, lifted_local, general, local, scalar, note

    def _general(self, shape: LayerShape) -> MatrixExpr:
        """``f'(z_l)`` as an elementwise function, printed ``sigma'(z1)``."""
        var = sp.Dummy("u")
        function = sp.Lambda(var, sp.Function(f"{shape.label}_prime")(var))
        return _Elementwise(function,
                                                                         self.z[shape.index])

    def _step(self, shape: LayerShape) -> LayerStep:
        l = shape.index
        dW, db, bdW, bdb = self._linear_gradients(l, self.delta[l])
        if not shape.bias:
            db = bdb = None
        if l == len(self.shapes):
            out, upstream, local, general, scalar_local, delta_scalar, note = \
                self._output_delta(shape)
            return LayerStep(l, self.delta[l], upstream, local, general, out, dW, db, bdW, bdb,
                             scalar_local, delta_scalar, note)
        # dE/da_l: differentiate tr(delta_{l+1}^T W_{l+1} a_l) by a_l
        upstream = Trace(self.delta[l + 1].T * self.W[l + 1] * self.a[l]).diff(self.a[l])
        z, a, _ = _unit_symbols()
        general_local, local = _own_output(shape, z, a)
        table = {a: self.a[l], z: self.z[l]}
        if local == 1:
            return LayerStep(l, self.delta[l], upstream, None, None, upstream, dW, db, bdW, bdb,
                             local)
        lifted = _lift(local, table, (shape.units, 1))
        if isinstance(lifted, ZeroMatrix):
            expr: MatrixExpr = lifted
        else:
            parts = list(lifted.args) if isinstance(lifted, HadamardProduct) else [lifted]
            expr = HadamardProduct(upstream, *parts, evaluate=False)
        return LayerStep(l, self.delta[l], upstream, lifted, self._general(shape), expr, dW, db,
                         bdW, bdb, local)

    # -- showing it -------------------------------------------------------------------

    def forward_equations(self) -> list[tuple[MatrixExpr, Any]]:
        """``(lhs, rhs)`` pairs of the forward pass, one sample (column vectors)."""
        out: list[tuple[MatrixExpr, Any]] = []
        for shape in self.shapes:
            l = shape.index
            pre = self.W[l] * self.a[l - 1]
            out.append((self.z[l], MatAdd(pre, self.b[l], evaluate=False) if shape.bias else pre))
            if shape.activation is None:
                continue
            f = sp.Function(shape.label)
            var = sp.Dummy("u")
            out.append((self.a[l], _Elementwise(
                sp.Lambda(var, f(var)), self.z[l])))
        return out

    def _loss_expr(self) -> Expr:
        k = Symbol("k", integer=True)
        K = self.sizes[-1]
        out, tgt = sp.IndexedBase(self.output_name), sp.IndexedBase("y")
        outs = sp.symbols(f"o1:{K + 1}", real=True)
        tgts = sp.symbols(f"t1:{K + 1}", real=True)
        per = self.loss.per_sample(list(outs), list(tgts))
        first = sum((t for t in sp.Add.make_args(sp.expand(per)) if t.has(outs[0]) or
                     t.has(tgts[0])), sp.Integer(0))
        general = sp.factor_terms(first.xreplace({outs[0]: out[k], tgts[0]: tgt[k]}))
        if general.could_extract_minus_sign():
            return -sp.Sum(-general, (k, 1, K))
        return sp.Sum(general, (k, 1, K))

    def text(self, unicode: bool = True) -> str:
        """The derivation step by step, as ``symgrad derive --level layer`` prints it."""
        dot = " · " if unicode else "*"
        arrow = "←" if unicode else "<-"
        shape_text = " -> ".join([str(self.sizes[0])] + [f"{s.units} {s.label}"
                                                       for s in self.shapes])
        lines = [f"layer-level derivation: {shape_text}; loss {self.loss.name} "
                 f"({self.loss.reduction} over samples); {self.parameter_count:,} "
                 f"parameter{'s' if self.parameter_count != 1 else ''}",
                 "forward (one sample; x, z_l, a_l, y are column vectors):"]
        lines += [f"  {_text(lhs, unicode)} = {_text(rhs, unicode)}"
                  for lhs, rhs in self.forward_equations()]
        lines.append(f"  {self.loss.symbol} = {_text(self._loss_expr(), unicode)}")
        lines.append(f"error signals (delta_l = d{self.loss.symbol}/dz_l), output layer first:")
        for step in self.steps:
            lhs = f"  {_text(step.delta, unicode)} = "
            if step.general is not None:
                upstream = _text(step.upstream, unicode)
                lines.append(f"{lhs}({upstream}){' ⊙ ' if unicode else ' .* '}"
                             f"{_text(step.general, unicode)} = {_text(step.expression, unicode)}")
            else:
                lines.append(f"{lhs}{_text(step.expression, unicode)}")
            if step.note:
                lines.append(f"  {' ' * len(str(step.delta))}   {arrow} {step.note}")
        lines.append("gradients (one sample):")
        for step in self.steps:
            l = step.index
            row = (f"  d{self.loss.symbol}/dW{l} = {_text(step.weight_gradient, unicode)}")
            if step.bias_gradient is not None:
                row += f",   d{self.loss.symbol}/db{l} = {_text(step.bias_gradient, unicode)}"
            lines.append(row)
        scale = "(1/m)" + dot if self.loss.reduction == "mean" else ""
        lines.append(f"over a minibatch of m samples (the columns of X, A_l, Delta_l), "
                     f"{'averaged' if scale else 'summed'}:")
        for step in self.steps:
            l = step.index
            row = (f"  d{self.loss.symbol}/dW{l} = {scale}"
                   f"{_text(step.batch_weight_gradient, unicode)}")
            if step.batch_bias_gradient is not None:
                row += (f",   d{self.loss.symbol}/db{l} = {scale}"
                        f"{_text(step.batch_bias_gradient, unicode)}")
            lines.append(row)
        return "\n".join(lines)

    def latex_lines(self) -> list[str]:
        r"""The derivation as LaTeX lines (``lhs &= rhs``) for an ``aligned`` block.

        >>> d = derive_layers(parse_spec('''
        ... [network]
        ... inputs = 2
        ... layers = [{ units = 2, activation = "sigmoid" }, { units = 2, activation = "softmax" }]
        ... loss = "cce"
        ... '''))
        >>> print(d.latex_lines()[6])
        \delta_{1} &= \left(W_{2}^{T} \delta_{2}\right) \odot \sigma'\left(z_{1}\right) = \left(W_{2}^{T} \delta_{2}\right) \odot a_{1} \odot \left(1 - a_{1}\right)
        """
        E = self.loss.symbol
        lines = [f"{_latex(lhs)} &= {_latex(rhs)}" for lhs, rhs in self.forward_equations()]
        lines.append(f"{E} &= {_latex(self._loss_expr())}")
        for step in self.steps:
            if step.general is not None:
                rhs = (rf"\left({_latex(step.upstream)}\right) \odot {_latex(step.general)} = "
                       f"{_latex(step.expression)}")
            else:
                rhs = _latex(step.expression)
            lines.append(f"{_latex(step.delta)} &= {rhs}")
        for step in self.steps:
            l = step.index
            lines.append(rf"\frac{{\partial {E}}}{{\partial W_{{{l}}}}} &= "
                         f"{_latex(step.weight_gradient)}")
            if step.bias_gradient is not None:
                lines.append(rf"\frac{{\partial {E}}}{{\partial b_{{{l}}}}} &= "
                             f"{_latex(step.bias_gradient)}")
        return lines

    def _repr_latex_(self) -> str:
        return "$\\begin{aligned}" + r" \\ ".join(self.latex_lines()) + "\\end{aligned}$"

    def __repr__(self) -> str:
        return (f"LayerDerivation({' -> '.join(map(str, self.sizes))}; loss {self.loss.name}; "
                f"{self.parameter_count} parameters)")

    # -- parameters -------------------------------------------------------------------

    def initial_parameters(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded ``W1, b1, ...``: the arrays :meth:`Network.initial_parameters` draws too."""
        return self.architecture.initial_arrays(seed)

    def params_from_network(self, net: Network,
                            values: Mapping[str, object] | None = None) -> dict[str, np.ndarray]:
        """The scalar network's parameter values as ``W1, b1, ...`` arrays."""
        values = net.values if values is None else values
        given = {str(k): v for k, v in values.items()}
        out: dict[str, np.ndarray] = {}
        for layer in net.layers:
            out[f"W{layer.index}"] = np.array([[float(given[str(w)]) for w in row]  # type: ignore[arg-type]
                                               for row in layer.weights])
            if layer.biases:
                out[f"b{layer.index}"] = np.array([float(given[str(b)])  # type: ignore[arg-type]
                                                   for b in layer.biases])
        return out

    @staticmethod
    def to_scalar(net: Network, grads: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Layer-level gradients ``W1, b1, ...`` as the scalar names ``w1_1_1, b1_1, ...``."""
        out: dict[str, float] = {}
        for layer in net.layers:
            W = grads[f"W{layer.index}"]
            for i, row in enumerate(layer.weights):
                for j, w in enumerate(row):
                    out[str(w)] = float(W[i, j])
            for i, b in enumerate(layer.biases):
                out[str(b)] = float(grads[f"b{layer.index}"][i])
        return out

    def compile(self, batch_size: int | None = None) -> "CompiledLayers":
        """NumPy functions of this derivation (see :class:`CompiledLayers`)."""
        return CompiledLayers(self, batch_size)


def derive_layers(source: Network | Spec | str | Path) -> LayerDerivation:
    """The layer-level derivation of a network, a spec or a spec file.

    A :class:`Network` is derived from the spec it was built from (or from its layers
    when it was built in code); building the scalar network is not needed, which keeps
    a network of thousands of weights fast to derive.

    >>> d = derive_layers("derivations/digits_mlp.toml")
    >>> d.sizes, d.parameter_count
    ((64, 32, 10), 2410)
    >>> d.steps[1].weight_gradient  # dE/dW1 = delta1 x^T
    delta1*x.T
    """
    return LayerDerivation(_architecture_of(source))


def _architecture_of(source: Network | Spec | str | Path) -> Architecture:
    if isinstance(source, Network):
        return source.architecture
    return Architecture.from_spec(_spec_of(source))


def _spec_of(source: Network | Spec | str | Path) -> Spec | None:
    if isinstance(source, Spec):
        return source
    if isinstance(source, (str, Path)):
        return read_spec(source)
    if isinstance(source, Network):
        return source.spec
    raise ArgumentError(f"expected a Network, a Spec or a spec path, got "
                        f"{type(source).__name__}")


# -- compilation ---------------------------------------------------------------------------

_Kernel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _evaluator(expr: Expr, names: Mapping[Symbol, str]) -> Callable[..., np.ndarray]:
    """``expr`` in per-unit symbols, evaluated on arrays passed by the names in ``names``."""
    def run(**arrays: np.ndarray) -> np.ndarray:
        return evaluate(expr, {symbol: arrays[key] for symbol, key in names.items()})
    return run


@dataclass
class _Buffers:
    z: list[np.ndarray]
    a: list[np.ndarray]
    slope: list[np.ndarray]
    d: list[np.ndarray]
    gW: list[np.ndarray]
    gb: list[np.ndarray]
    rowmax: np.ndarray
    rowsum: np.ndarray


class CompiledLayers:
    """The layer-level derivation as NumPy code over minibatches (rows are samples).

    ``forward``, ``loss``, ``gradients`` and ``predict`` take parameters
    ``{"W1": (n1, n0), "b1": (n1,), ...}`` and inputs ``X`` of shape ``(m, n0)`` (and
    one-hot or real targets ``Y`` of shape ``(m, nL)``); ``sgd_epoch`` runs one epoch of
    minibatch SGD in place. Work arrays for a batch size are allocated once and reused.
    With a softmax output the targets of each sample must sum to 1 (one-hot labels), as
    the derivation of ``delta_L = s - y`` assumes.
    """

    def __init__(self, derivation: LayerDerivation, batch_size: int | None = None) -> None:
        self.derivation = derivation
        d = derivation
        self.shapes = d.shapes
        self.L = len(d.shapes)
        self.softmax_out = d._softmax_out
        self.mean = d.loss.reduction == "mean"
        # value and slope of each elementwise activation, from the catalogue's stable forms
        self._kernels: list[_Kernel | None] = [
            activation_kernel(s.activation.name, **s.params)
            if s.activation is not None and s.activation.elementwise else None
            for s in d.shapes]
        out_step = d.steps_by_layer[self.L]
        z_s, a_s, y_s = _unit_symbols()
        self._out_fast = self.softmax_out or sp.simplify(out_step.delta_scalar - (a_s - y_s)) == 0
        self._out_delta = None if self._out_fast else _evaluator(
            out_step.delta_scalar, {z_s: "z", a_s: "a", y_s: "y"})
        self._loss_terms = self._loss_kernel()
        self._buffers: dict[int, _Buffers] = {}
        if batch_size is not None:
            self._buffers_for(batch_size)

    # -- pieces ----------------------------------------------------------------------

    def _loss_kernel(self) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
        """Total (not yet reduced) loss of a batch from ``(z_L, a_L, Y)``, stable."""
        d = self.derivation
        name = d.loss.name
        if self.softmax_out:
            def cce_softmax(z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> float:
                shift = z - z.max(axis=1, keepdims=True)
                log_s = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
                return float(-np.vdot(Y, log_s))
            return cce_softmax
        last = d.shapes[-1]
        if last.label == "sigmoid" and name in ("bce", "cce"):
            def from_logits(z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> float:
                # -log sigma(z) = log(1 + exp(-z)), -log(1 - sigma(z)) = log(1 + exp(z))
                total = np.vdot(Y, np.logaddexp(0.0, -z))
                if name == "bce":
                    total += np.vdot(1.0 - Y, np.logaddexp(0.0, z))
                return float(total)
            return from_logits
        K = last.units
        outs = sp.symbols(f"o1:{K + 1}", real=True)
        tgts = sp.symbols(f"t1:{K + 1}", real=True)
        per = d.loss.per_sample(list(outs), list(tgts))
        _, a_s, y_s = _unit_symbols()
        term = sum((t for t in sp.Add.make_args(sp.expand(per))
                    if t.has(outs[0]) or t.has(tgts[0])), sp.Integer(0))
        terms = _evaluator(term.xreplace({outs[0]: a_s, tgts[0]: y_s}), {a_s: "a", y_s: "y"})
        return lambda z, a, Y: float(np.sum(terms(a=a, y=Y)))

    def _buffers_for(self, m: int) -> _Buffers:
        buf = self._buffers.get(m)
        if buf is None:
            sizes = self.derivation.sizes
            z = [np.empty(0)] + [np.empty((m, n)) for n in sizes[1:]]
            a = [np.empty(0)] + [np.empty((m, n)) if l == self.L and self.softmax_out
                                 else z[l] for l, n in enumerate(sizes[1:], start=1)]
            buf = _Buffers(z=z, a=a, d=[np.empty(0)] + [np.empty((m, n)) for n in sizes[1:]],
                           slope=[np.empty(0)] * len(sizes),
                           gW=[np.empty(0)] + [np.empty((sizes[l], sizes[l - 1]))
                                              for l in range(1, len(sizes))],
                           gb=[np.empty(0)] + [np.empty(n) for n in sizes[1:]],
                           rowmax=np.empty((m, 1)), rowsum=np.empty((m, 1)))
            self._buffers[m] = buf
        return buf

    def _check(self, params: Mapping[str, np.ndarray]) -> None:
        for s in self.shapes:
            expected: list[tuple[str, tuple[int, ...]]] = [(f"W{s.index}", (s.units, s.inputs))]
            if s.bias:
                expected.append((f"b{s.index}", (s.units,)))
            for key, shape in expected:
                if key not in params:
                    raise ArgumentError(f"missing parameter '{key}'")
                if np.shape(params[key]) != shape:
                    raise ArgumentError(f"parameter '{key}' has shape {np.shape(params[key])}, "
                                        f"expected {shape}")

    def _plan(self, P: Mapping[str, np.ndarray]) -> list[tuple[Any, ...]]:
        """Per layer: ``W``, ``W^T`` (a view), ``b`` or ``None`` and the activation's kernel
        (value and slope); built once per call or epoch, not per batch."""
        return [(P[f"W{s.index}"], P[f"W{s.index}"].T, P[f"b{s.index}"] if s.bias else None,
                 self._kernels[s.index - 1]) for s in self.shapes]

    def _run_forward(self, plan: Sequence[tuple[Any, ...]], X: np.ndarray,
                     buf: _Buffers) -> None:
        prev = X
        last = self.L
        for l, (_, WT, b, kernel) in enumerate(plan, start=1):
            z = buf.z[l]
            np.matmul(prev, WT, out=z)
            if b is not None:
                np.add(z, b, out=z)
            if kernel is not None:
                buf.a[l], buf.slope[l] = kernel(z)
            elif l == last and self.softmax_out:
                # shifted by the row maximum in place: exp cannot overflow, and the
                # log-softmax (hence the loss) is the same for the shifted z
                s = buf.a[l]
                np.maximum.reduce(z, axis=1, keepdims=True, out=buf.rowmax)
                np.subtract(z, buf.rowmax, out=z)
                np.exp(z, out=s)
                np.add.reduce(s, axis=1, keepdims=True, out=buf.rowsum)
                np.divide(s, buf.rowsum, out=s)
            prev = buf.a[l]

    def _batch_loss(self, buf: _Buffers, Y: np.ndarray) -> float:
        """The batch's total loss right after :meth:`_run_forward`."""
        L = self.L
        if self.softmax_out:
            # -sum y log s = sum_n log sum_k exp(z_nk) - y.z for max-shifted z, targets
            # summing to 1 per sample (as s - y assumes)
            np.log(buf.rowsum, out=buf.rowmax)
            return float(np.add.reduce(buf.rowmax, axis=None) - np.vdot(Y, buf.z[L]))
        return self._loss_terms(buf.z[L], buf.a[L], Y)

    def _run_backward(self, plan: Sequence[tuple[Any, ...]], X: np.ndarray, Y: np.ndarray,
                      buf: _Buffers, scale: float) -> None:
        """Gradients, times ``scale``, into ``buf.gW`` and ``buf.gb``."""
        L = self.L
        dL = buf.d[L]
        if self._out_fast:
            np.subtract(buf.a[L], Y, out=dL)
        else:
            np.copyto(dL, self._out_delta(z=buf.z[L], a=buf.a[L], y=Y))  # type: ignore[misc]
        np.multiply(dL, scale, out=dL)
        for l in range(L, 0, -1):
            W, _, b, _ = plan[l - 1]
            delta = buf.d[l]
            np.matmul(delta.T, X if l == 1 else buf.a[l - 1], out=buf.gW[l])
            if b is not None:
                np.add.reduce(delta, axis=0, out=buf.gb[l])
            if l == 1:
                break
            below = buf.d[l - 1]
            np.matmul(delta, W, out=below)
            if plan[l - 2][3] is not None:
                np.multiply(below, buf.slope[l - 1], out=below)

    # -- public --------------------------------------------------------------------------

    def _inputs(self, X: object, Y: object | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        Xa = np.ascontiguousarray(X, dtype=np.float64)
        n0, nL = self.derivation.sizes[0], self.derivation.sizes[-1]
        if Xa.ndim != 2 or Xa.shape[1] != n0:
            raise ArgumentError(f"inputs X must have shape (samples, {n0}), got {Xa.shape}")
        if Y is None:
            return Xa, None
        Ya = np.ascontiguousarray(Y, dtype=np.float64)
        if Ya.shape != (Xa.shape[0], nL):
            raise ArgumentError(f"targets Y must have shape ({Xa.shape[0]}, {nL}), "
                                f"got {Ya.shape}")
        return Xa, Ya

    def forward(self, params: Mapping[str, np.ndarray], X: object) -> np.ndarray:
        """The network's outputs, one row per sample (a fresh array)."""
        self._check(params)
        Xa, _ = self._inputs(X)
        buf = self._buffers_for(len(Xa))
        self._run_forward(self._plan(params), Xa, buf)
        return buf.a[self.L].copy()

    def loss(self, params: Mapping[str, np.ndarray], X: object, Y: object) -> float:
        """The loss over ``X, Y``, reduced as the loss says (log-softmax inside the CCE)."""
        self._check(params)
        Xa, Ya = self._inputs(X, Y)
        buf = self._buffers_for(len(Xa))
        self._run_forward(self._plan(params), Xa, buf)
        total = self._loss_terms(buf.z[self.L], buf.a[self.L], Ya)  # type: ignore[arg-type]
        return total / len(Xa) if self.mean else total

    def gradients(self, params: Mapping[str, np.ndarray], X: object,
                  Y: object) -> dict[str, np.ndarray]:
        """``{"W1": dE/dW1, "b1": dE/db1, ...}`` over ``X, Y`` (fresh arrays)."""
        self._check(params)
        Xa, Ya = self._inputs(X, Y)
        buf = self._buffers_for(len(Xa))
        plan = self._plan(params)
        self._run_forward(plan, Xa, buf)
        self._run_backward(plan, Xa, Ya, buf,  # type: ignore[arg-type]
                           1.0 / len(Xa) if self.mean else 1.0)
        out: dict[str, np.ndarray] = {}
        for s in self.shapes:
            out[f"W{s.index}"] = buf.gW[s.index].copy()
            if s.bias:
                out[f"b{s.index}"] = buf.gb[s.index].copy()
        return out

    def predict(self, params: Mapping[str, np.ndarray], X: object) -> np.ndarray:
        """The class of each sample: the index of its largest output."""
        return np.argmax(self.forward(params, X), axis=1)

    def sgd_epoch(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                  order: np.ndarray, batch_size: int, learning_rate: float,
                  work: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        """One epoch of minibatch SGD in place, in the sample ``order``; returns the mean of
        the batch losses (each taken before its update)."""
        n = len(X)
        if work is None:
            work = (np.empty_like(X), np.empty_like(Y))
        Xs, Ys = work
        np.take(X, order, axis=0, out=Xs)
        np.take(Y, order, axis=0, out=Ys)
        plan = self._plan(params)
        updates: dict[int, list[tuple[Any, ...]]] = {}
        total = 0.0
        for start in range(0, n, batch_size):
            Xb = Xs[start:start + batch_size]
            Yb = Ys[start:start + batch_size]
            m = Xb.shape[0]
            buf = self._buffers.get(m) or self._buffers_for(m)
            self._run_forward(plan, Xb, buf)
            loss = self._batch_loss(buf, Yb)
            total += loss / m if self.mean else loss
            # folding the learning rate (and 1/m of a mean) into delta_L scales every
            # gradient at once, so the update is a plain subtraction
            self._run_backward(plan, Xb, Yb, buf,
                               learning_rate / m if self.mean else learning_rate)
            step = updates.get(m)
            if step is None:
                step = updates[m] = [(W, buf.gW[l], b, buf.gb[l])
                                     for l, (W, _, b, _) in enumerate(plan, start=1)]
            for W, gW, b, gb in step:
                np.subtract(W, gW, out=W)
                if b is not None:
                    np.subtract(b, gb, out=b)
        return total / math.ceil(n / batch_size)


# -- training ------------------------------------------------------------------------------

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
    t = arch.spec.training if arch.spec is not None else TrainingSpec()
    epochs = int(_setting(epochs, t.epochs, arch, "training.epochs"))
    learning_rate = float(_setting(learning_rate, t.learning_rate, arch,
                                   "training.learning_rate"))
    seed = int(seed if seed is not None else t.seed)
    if data is None:
        if arch.spec is None:
            raise ArgumentError("a network built in code names no data set: pass data=")
        data = load_dataset(arch.spec)
    n = len(data.x_train)
    mode = t.mode if mode is None else mode
    if mode not in TRAINING_MODES:
        raise ArgumentError(f"unknown training mode '{mode}'; known: {', '.join(TRAINING_MODES)}")
    if batch_size is None:
        if mode == "batch":
            batch_size = n
        elif mode == "stochastic":
            batch_size = 1
        else:
            batch_size = int(_setting(None, t.batch_size, arch, "training.batch_size"))
    if epochs < 1 or batch_size < 1 or not learning_rate > 0:
        raise ArgumentError(f"epochs and batch_size must be at least 1 and learning_rate "
                            f"positive, got {epochs}, {batch_size}, {learning_rate}")
    start = time.perf_counter()
    compiled = derivation.compile(batch_size)
    if n % batch_size:
        compiled._buffers_for(n % batch_size)
    setup += time.perf_counter() - start
    if isinstance(net, Network) and (net.spec is None or dict(net.spec.parameters)):
        params = derivation.params_from_network(net)
    else:
        params = derivation.initial_parameters(seed)
    rng = np.random.default_rng(seed)
    work = (np.empty_like(data.x_train), np.empty_like(data.y_train))
    history = np.empty(epochs)
    seconds = np.empty(epochs)
    for epoch in range(epochs):
        order = rng.permutation(n)
        t0 = time.perf_counter()
        loss = compiled.sgd_epoch(params, data.x_train, data.y_train, order, batch_size,
                                  learning_rate, work)
        seconds[epoch] = time.perf_counter() - t0
        history[epoch] = loss
        if not math.isfinite(loss):
            raise DivergenceError(f"the loss is not finite after epoch {epoch + 1}; try a "
                                  f"smaller learning rate than {learning_rate}",
                                  iteration=epoch + 1, history=history[:epoch + 1].copy())
        if progress is not None:
            progress(epoch + 1, loss)
    train_acc = float(np.mean(compiled.predict(params, data.x_train) == data.labels_train))
    test_acc = float(np.mean(compiled.predict(params, data.x_test) == data.labels_test))
    return FitResult(history, params, train_acc, test_acc, seconds, setup, derivation,
                     epochs, batch_size, learning_rate, mode)
