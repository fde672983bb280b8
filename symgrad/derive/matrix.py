"""Layer-level (matrix) derivations of dense networks: the unit level's rules, lifted.

The scalar derivation (:mod:`symgrad.derive.unit`) writes one expression per weight; a
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

:class:`symgrad.backends.minibatch.CompiledLayers` turns the derivation into NumPy
matrix products over a minibatch, and :func:`symgrad.train` trains with it.

>>> from symgrad.spec import parse_spec
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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp
from sympy import (Expr, HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixExpr,
                   MatrixSymbol, OneMatrix, Symbol, Trace, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..architecture import SCALAR_LIMIT, Architecture, LayerShape
from ..catalogue import Loss
from ..errors import ArgumentError, DerivationError
from ..network import Network
from ..printing import aligned_display, matrix_latex, matrix_text, text, tidy
from ..spec import Spec, read_spec
from .elementwise import Elementwise
from .rules import output_upstream, softmax_cross_entropy, unit_delta
from .unit import DeltaStep

__all__ = ["LayerStep", "LayerDerivation", "derive_layers", "SCALAR_LIMIT"]


def _applied(function: sp.Lambda, matrix: MatrixExpr) -> MatrixExpr:
    """``function`` applied elementwise to ``matrix``. SymPy's constructor calls the function
    on a 1 x 1 matrix itself, which fails for a one-unit layer (``Heaviside`` of a matrix,
    comparisons in a Piecewise): the node is built directly instead, for every shape."""
    return MatrixExpr.__new__(ElementwiseApplyFunction, function, matrix)


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


# -- lifting scalar derivatives to matrices ------------------------------------------------

Table = Mapping[Symbol, MatrixExpr]
Shape = tuple[Any, Any]


def _elementwise(expr: Expr, table: Table) -> MatrixExpr:
    """``expr`` of unit symbols as an elementwise function of their matrices."""
    free = [s for s in table if expr.has(s)]
    if not free:
        raise DerivationError(f"cannot write {expr} elementwise in one of "
                              f"{', '.join(map(str, table))}")
    if len(free) > 1:  # a formula loss's l'(a, y): one function of both matrices
        names = [sp.Dummy(str(s)) for s in free]
        return Elementwise(sp.Lambda(tuple(names), expr.xreplace(dict(zip(free, names)))),
                           *(table[s] for s in free))
    var = sp.Dummy("u")
    return _applied(sp.Lambda(var, expr.xreplace({free[0]: var})), table[free[0]])


def _lift_sum(expr: Expr, table: Table, shape: Shape) -> MatrixExpr:
    terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
    return MatAdd(*(_lift(t, table, shape) for t in terms), evaluate=False)


def _lift_product(expr: Expr, table: Table, shape: Shape) -> MatrixExpr:
    coeff = sp.Mul(*(f for f in expr.args if f.is_number))
    lifted = [_lift(f, table, shape) for f in expr.args if not f.is_number]
    body = lifted[0] if len(lifted) == 1 else HadamardProduct(*lifted, evaluate=False)
    return body if coeff == 1 else MatMul(coeff, body, evaluate=False)


def _lift_power(expr: Expr, table: Table, shape: Shape) -> MatrixExpr:
    if expr.exp.is_Integer and expr.exp > 0:
        return HadamardPower(_lift(expr.base, table, shape), expr.exp)
    return _elementwise(expr, table)


#: Sums become matrix sums, products Hadamard products, integer powers Hadamard powers.
_LIFTS: dict[type, Callable[[Expr, Table, Shape], MatrixExpr]] = {
    sp.Add: _lift_sum, sp.Mul: _lift_product, sp.Pow: _lift_power}


def _lift(expr: Expr, table: Table, shape: Shape) -> MatrixExpr:
    """A scalar expression in per-unit symbols as the elementwise matrix expression;
    anything but a sum, product or power of one symbol is an elementwise function of
    that symbol's matrix."""
    if expr in table:
        return table[expr]
    free = [s for s in table if expr.has(s)]
    if len(free) == 1 and not expr.is_polynomial(free[0]):
        # one function of one matrix, e.g. Heaviside(z1, 0) or GELU's slope: no Hadamard split
        return _elementwise(expr, table)
    if expr.is_number:
        if expr == 0:
            return ZeroMatrix(*shape)
        return OneMatrix(*shape) if expr == 1 else MatMul(expr, OneMatrix(*shape),
                                                          evaluate=False)
    rule = _LIFTS.get(type(expr))
    return _elementwise(expr, table) if rule is None else rule(expr, table, shape)


# -- the derivation ------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerStep:
    """The error signal of one layer and the gradients it gives.

    ``delta = upstream ⊙ local`` (``local`` is ``None`` for a softmax output, whose
    Jacobian mixes units, and for a layer without activation). ``general`` is the
    factor before the own-output rewrite (``sigma'(z1)``); ``scalar_local`` is the
    per-unit derivative as SymPy gives it, in the unit symbols ``z``, ``a``.
    ``unit`` is the output layer's per-unit step in ``z``, ``a``, ``y`` (the unit level's
    :class:`~symgrad.derive.unit.DeltaStep`, with the rules of :mod:`.rules`), and ``note``
    says which simplification was applied.
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
    unit: DeltaStep | None = None
    note: str = ""

    @property
    def delta_scalar(self) -> Expr | None:
        """The output layer's per-unit delta (in ``a``, ``y``, ``z``; ``s_i``, ``y[i]`` for
        a softmax), as shown; ``None`` for a hidden layer."""
        return None if self.unit is None else self.unit.expression


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

    def _penalized(self, l: int, *gradients: MatrixExpr) -> tuple[MatrixExpr, ...]:
        """``dE/dW, dE/db`` (one sample, then a minibatch) with the penalty's term added
        once (``+ lambda W``; the biases' only if the penalty takes them)."""
        penalty = self.architecture.penalty
        if penalty is None:
            return gradients
        names = self.architecture.penalized_arrays
        own = [self.W[l] if f"W{l}" in names else None, self.b[l] if f"b{l}" in names else None]
        u = sp.Dummy("u")
        slope = penalty.kind.slope(u)  # elementwise: sign(W) for L1, W itself for L2
        return tuple(g if p is None else MatAdd(g, penalty.symbol * (
            p if slope == u else _applied(sp.Lambda(u, slope), p)), evaluate=False)
                     for g, p in zip(gradients, own * 2))

    def _output_delta(self, shape: LayerShape) -> tuple[MatrixExpr, MatrixExpr,
                                                         MatrixExpr | None, MatrixExpr | None,
                                                         DeltaStep, str]:
        """The output layer's delta (lifted), its upstream, local factor and general
        factor, the per-unit step in ``z``, ``a``, ``y`` it is lifted from, and the note."""
        z, a, y = _unit_symbols()
        L = shape.index
        if self._softmax_out:
            i, k = sp.symbols("i k", integer=True)
            n = Symbol("n", integer=True, positive=True)
            s_i, y_ = Symbol("s_i"), sp.IndexedBase("y")
            rule = softmax_cross_entropy(s_i, y_[i], sp.Sum(y_[k], (k, 1, n)))
            unit = DeltaStep(Symbol("delta_i"), Symbol("z_i"), L, -y_[i] / s_i, None, *rule)
            delta = MatAdd(self.a[L], -self.y, evaluate=False)
            return delta, delta, None, None, unit, f"dE/dz_i = {text(rule.general)}; {rule.note}"
        # an elementwise output: E = sum_k l(a_k, y_k); dE/da_1 of K outputs is l'(a, y)
        # (built in a and y, not substituted after: 2*(a - y) would become 2*a - 2*y)
        K = shape.units
        outs = [a, *sp.symbols(f"o2:{K + 1}", real=True)]
        tgts = [y, *sp.symbols(f"t2:{K + 1}", real=True)]
        upstream = output_upstream(self.loss.per_sample(outs, tgts), a)
        _, local = _own_output(shape, z, a)
        rule = unit_delta(upstream, local, self.loss, shape.activation, output=True)
        unit = DeltaStep(Symbol("delta"), z, L, upstream, None if local == 1 else local, *rule)
        table = {a: self.a[L], y: self.y, z: self.z[L]}
        shape2 = (shape.units, 1)
        delta = _lift(rule.expression, table, shape2)
        lifted_local = None if local == 1 else _lift(local, table, shape2)
        general = None if local == 1 else self._general(shape)
        try:
            lifted_upstream: MatrixExpr = _lift(upstream, table, shape2)
        except DerivationError:  # shown only as the simplified delta
            lifted_upstream = delta
        return delta, lifted_upstream, lifted_local, general, unit, rule.note

    def unit_loss(self) -> Expr:
        """One output's term of the per-sample loss in the unit symbols ``a`` and ``y``
        (``1/K`` of it for a mean over ``K`` outputs): the loss of ``K`` equal outputs over
        ``K``, so no term is expanded (``(y - a)**2`` stays a square).

        >>> derive_layers("derivations/digits_mlp.toml").unit_loss()
        -y*log(a)
        """
        K = self.sizes[-1]
        _, a, y = _unit_symbols()
        return self.loss.per_sample([a] * K, [y] * K) / K

    def _general(self, shape: LayerShape) -> MatrixExpr:
        """``f'(z_l)`` as an elementwise function, printed ``sigma'(z1)``."""
        var = sp.Dummy("u")
        function = sp.Lambda(var, sp.Function(f"{shape.label}_prime")(var))
        return _applied(function, self.z[shape.index])

    def _step(self, shape: LayerShape) -> LayerStep:
        l = shape.index
        dW, db, bdW, bdb = self._penalized(l, *self._linear_gradients(l, self.delta[l]))
        if not shape.bias:
            db = bdb = None
        if l == len(self.shapes):
            out, upstream, local, general, unit, note = self._output_delta(shape)
            return LayerStep(l, self.delta[l], upstream, local, general, out, dW, db, bdW, bdb,
                             unit.local, unit, note)
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
            out.append((self.a[l], _applied(sp.Lambda(var, f(var)), self.z[l])))
        return out

    def _loss_expr(self) -> Expr:
        k = Symbol("k", integer=True)
        _, a, y = _unit_symbols()
        term = sp.factor_terms(tidy(self.unit_loss()).xreplace(
            {a: sp.IndexedBase(self.output_name)[k], y: sp.IndexedBase("y")[k]}))
        if term.could_extract_minus_sign():
            return -sp.Sum(-term, (k, 1, self.sizes[-1]))
        return sp.Sum(term, (k, 1, self.sizes[-1]))

    def shape_text(self) -> str:
        """``64 -> 32 sigmoid -> 10 softmax``: the inputs, then each layer."""
        return " -> ".join([str(self.sizes[0])] + [f"{s.units} {s.label}" for s in self.shapes])

    def text(self, unicode: bool = True) -> str:
        """The derivation step by step, as ``symgrad derive --level layer`` prints it."""
        dot = " · " if unicode else "*"
        arrow = "←" if unicode else "<-"
        lines = [f"layer-level derivation: {self.shape_text()}; loss {self.loss.name} "
                 f"({self.loss.reduction} over samples); {self.parameter_count:,} "
                 f"parameter{'s' if self.parameter_count != 1 else ''}",
                 "forward (one sample; x, z_l, a_l, y are column vectors):"]
        lines += [f"  {matrix_text(lhs, unicode)} = {matrix_text(rhs, unicode)}"
                  for lhs, rhs in self.forward_equations()]
        lines.append(f"  {self.loss.symbol} = {matrix_text(self._loss_expr(), unicode)}")
        penalty = self.architecture.penalty
        if penalty is not None:
            lines.append(f"  {self.loss.symbol} += {penalty.kind.title} over "
                         f"{', '.join(self.architecture.penalized_arrays)}, once "
                         f"(lambda = {penalty.strength:g})")
        lines.append(f"error signals (delta_l = d{self.loss.symbol}/dz_l), output layer first:")
        for step in self.steps:
            lhs = f"  {matrix_text(step.delta, unicode)} = "
            if step.general is not None:
                upstream = matrix_text(step.upstream, unicode)
                lines.append(f"{lhs}({upstream}){' ⊙ ' if unicode else ' .* '}"
                             f"{matrix_text(step.general, unicode)} = {matrix_text(step.expression, unicode)}")
            else:
                lines.append(f"{lhs}{matrix_text(step.expression, unicode)}")
            if step.note:
                lines.append(f"  {' ' * len(str(step.delta))}   {arrow} {step.note}")
        lines.append("gradients (one sample):")
        for step in self.steps:
            l = step.index
            row = (f"  d{self.loss.symbol}/dW{l} = {matrix_text(step.weight_gradient, unicode)}")
            if step.bias_gradient is not None:
                row += f",   d{self.loss.symbol}/db{l} = {matrix_text(step.bias_gradient, unicode)}"
            lines.append(row)
        scale = "(1/m)" + dot if self.loss.reduction == "mean" else ""
        lines.append(f"over a minibatch of m samples (the columns of X, A_l, Delta_l), "
                     f"{'averaged' if scale else 'summed'}:")
        for step in self.steps:
            l = step.index
            row = (f"  d{self.loss.symbol}/dW{l} = {scale}"
                   f"{matrix_text(step.batch_weight_gradient, unicode)}")
            if step.batch_bias_gradient is not None:
                row += (f",   d{self.loss.symbol}/db{l} = {scale}"
                        f"{matrix_text(step.batch_bias_gradient, unicode)}")
            lines.append(row)
        return "\n".join(lines)

    def latex_lines(self) -> list[str]:
        r"""The derivation as LaTeX lines (``lhs &= rhs``) for an ``aligned`` block.

        >>> from symgrad.spec import parse_spec
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
        lines = [f"{matrix_latex(lhs)} &= {matrix_latex(rhs)}" for lhs, rhs in self.forward_equations()]
        lines.append(f"{E} &= {matrix_latex(self._loss_expr())}")
        if self.architecture.penalty is not None:  # once, over the penalized arrays
            lines[-1] += f" + {self.architecture.penalty.kind.latex}"
        for step in self.steps:
            if step.general is not None:
                rhs = (rf"\left({matrix_latex(step.upstream)}\right) \odot {matrix_latex(step.general)} = "
                       f"{matrix_latex(step.expression)}")
            else:
                rhs = matrix_latex(step.expression)
            lines.append(f"{matrix_latex(step.delta)} &= {rhs}")
        for step in self.steps:
            l = step.index
            lines.append(rf"\frac{{\partial {E}}}{{\partial W_{{{l}}}}} &= "
                         f"{matrix_latex(step.weight_gradient)}")
            if step.bias_gradient is not None:
                lines.append(rf"\frac{{\partial {E}}}{{\partial b_{{{l}}}}} &= "
                             f"{matrix_latex(step.bias_gradient)}")
        return lines

    def _repr_latex_(self) -> str:
        return aligned_display(self.latex_lines())

    def __repr__(self) -> str:
        return (f"LayerDerivation({' -> '.join(map(str, self.sizes))}; loss {self.loss.name}; "
                f"{self.parameter_count} parameters)")

    # -- parameters -------------------------------------------------------------------

    def initial_parameters(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded ``W1, b1, ...``: the arrays :meth:`Network.initial_parameters` draws too."""
        return self.architecture.initial_arrays(seed)


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
