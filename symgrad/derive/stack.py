"""The layer-level derivation of a stack: dense layers and catalogue layer types, each
layer's steps in matrix form over a batch of ``N`` rows, shapes shown.

A dense layer is ``Z = A W^T + 1_N b^T``, ``A' = f(Z)``; SymPy's matrix calculus
differentiates ``tr(dZ^T Z)`` by ``W``, ``b`` and ``A`` (``dW = dZ^T A``,
``db = dZ^T 1_N``, ``dA = dZ W``) and the activation's derivative in its own output is
lifted to a Hadamard product, as :mod:`.matrix` does for dense networks. A layer type shows
its catalogue entry's :class:`~symgrad.catalogue.MatrixSteps`. The loss gives the first
gradient: ``dZ = (S - Y)/N`` for a softmax output with cross-entropy, ``dY = -Y/N`` for a
log-softmax output (whose outputs are log-probabilities), else the loss's derivative
elementwise.

>>> d = derive_stack("derivations/digits_batchnorm.toml")
>>> print(d.text(unicode=False).splitlines()[0])
layer-level derivation of a stack: 64 -> 32 relu -> batchnorm -> dropout -> 10 none -> log_softmax; loss cce (mean over samples)
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp
from sympy import Expr, MatMul, MatrixSymbol, OneMatrix, Trace

from ..catalogue import MatrixSteps, Step
from ..catalogue.layer_types import N
from ..printing import matrix_latex, matrix_text
from ..spec import Spec, read_spec
from ..stack import Stack, StackLayer
from ..errors import DerivationError
from .matrix import _applied, _lift, _unit_symbols

__all__ = ["StackDerivation", "derive_stack", "OUTPUT_RULES"]

#: How the loss meets the last layer: the fused softmax with cross-entropy, cross-entropy
#: on a log-softmax layer's log-probabilities, or the loss's derivative elementwise.
OUTPUT_RULES = ("softmax_cce", "log_softmax_cce", "elementwise")


def _dense_steps(layer: StackLayer) -> MatrixSteps:
    """A dense layer's steps, derived with SymPy's matrix calculus at symbolic ``N``."""
    l, shape = layer.index, layer.dense
    if shape is None:
        raise DerivationError(f"layer {l} is not dense")
    n_in, n_out = shape.inputs, shape.units
    A, W = MatrixSymbol(f"A{l - 1}", N, n_in), MatrixSymbol(f"W{l}", n_out, n_in)
    b, dZ = MatrixSymbol(f"b{l}", n_out, 1), MatrixSymbol(f"dZ{l}", N, n_out)
    Z = A * W.T + (OneMatrix(N, 1) * b.T if shape.bias else sp.ZeroMatrix(N, n_out))
    adjoint = Trace(dZ.T * Z)
    grads = {"x": adjoint.diff(A), "W": adjoint.diff(W)}
    if shape.bias:
        grads["b"] = adjoint.diff(b)
    forward = [Step(MatrixSymbol(f"Z{l}", N, n_out), Z, (N, n_out))]
    backward = []
    if shape.activation is not None and shape.activation.elementwise:
        z, a, _ = _unit_symbols()
        out, Zs = MatrixSymbol(f"A{l}", N, n_out), MatrixSymbol(f"Z{l}", N, n_out)
        local = _lift(shape.activation.local(z, a, **shape.params), {a: out, z: Zs}, (N, n_out))
        u = sp.Dummy("u")
        forward.append(Step(out, _applied(sp.Lambda(u, sp.Function(shape.label)(u)), Zs),
                            (N, n_out), "elementwise"))
        backward.append(Step(dZ, sp.HadamardProduct(MatrixSymbol(f"dA{l}", N, n_out), local),
                             (N, n_out), f"{shape.label}' in its own output"))
    backward += [Step(MatrixSymbol(f"dW{l}", n_out, n_in), grads["W"], (n_out, n_in)),
                 *([Step(MatrixSymbol(f"db{l}", n_out, 1), grads["b"], (n_out, 1))]
                   if shape.bias else []),
                 Step(MatrixSymbol(f"dA{l - 1}", N, n_in), grads["x"], (N, n_in),
                      "the gradient passed to the layer below")]
    return MatrixSteps("dense", tuple(forward), tuple(backward), grads,
                       {"dy": dZ, "x": A, "W": W}, {"N": N})


def _output_rule(stack: Stack) -> str:
    last, loss = stack.layers[-1], stack.loss
    if loss.name == "cce" and last.kind == "log_softmax":
        return "log_softmax_cce"
    act = last.dense.activation if last.dense is not None else None
    if act is not None and not act.elementwise:
        if loss.name != "cce":
            raise stack.error(f"{last.where}.activation", f"a {act.name} output is derived "
                              f"with loss 'cce' only, not '{loss.name}'")
        return "softmax_cce"
    return "elementwise"


class StackDerivation:
    """The layer-level derivation of a stack (see the module docstring): ``blocks`` holds
    each layer with its :class:`MatrixSteps`, input side first; ``rule`` is one of
    :data:`OUTPUT_RULES`; ``unit_loss`` and ``unit_upstream`` are one output entry's loss
    and ``dE/da`` in the unit symbols ``a``, ``y`` (the elementwise rule's kernels)."""

    def __init__(self, source: Stack | Spec) -> None:
        stack = source if isinstance(source, Stack) else Stack.from_spec(source)
        self.stack, self.spec, self.loss = stack, stack.spec, stack.loss
        self.blocks = [(layer, _dense_steps(layer) if layer.kind == "dense"
                        else layer.entry.derivation(**layer.hyper))  # type: ignore[union-attr]
                       for layer in stack.layers]
        self.rule = _output_rule(stack)
        K = stack.output_shape[0]
        _, a, y = _unit_symbols()
        outs = [a, *sp.symbols(f"o2:{K + 1}", real=True)]
        tgts = [y, *sp.symbols(f"t2:{K + 1}", real=True)]
        self.unit_loss: Expr = self.loss.per_sample([a] * K, [y] * K) / K
        self.unit_upstream: Expr = self.loss.per_sample(outs, tgts).diff(a).xreplace(
            {o: a for o in outs} | {t: y for t in tgts})
        self.output = self._output_step()

    @property
    def parameter_count(self) -> int:
        return self.stack.parameter_count

    def initial_parameters(self, seed: int = 0) -> dict:
        """What training starts from: seeded parameters, as :meth:`Stack.initial_arrays`
        draws them, and the layer types' state (:meth:`Stack.initial_state`: batch norm's
        running statistics, no gradient)."""
        return {**self.stack.initial_arrays(seed), **self.stack.initial_state()}

    def _output_step(self) -> Step:
        """The gradient the loss sends into the last layer, over the batch."""
        K = self.stack.output_shape[0]
        Y = MatrixSymbol("Y", N, K)
        scale = 1 / N if self.loss.reduction == "mean" else sp.Integer(1)
        L = self.stack.layers[-1].index
        if self.rule == "softmax_cce":
            return Step(MatrixSymbol(f"dZ{L}", N, K), MatMul(scale, MatrixSymbol("S", N, K) - Y),
                        (N, K), "softmax with cross-entropy: s - y per sample")
        if self.rule == "log_softmax_cce":
            return Step(MatrixSymbol(f"dA{L}", N, K), MatMul(-scale, Y), (N, K),
                        "E = -sum(Y ⊙ A) over the log-probabilities A")
        _, a, y = _unit_symbols()
        lifted = _lift(self.unit_upstream, {a: MatrixSymbol(f"A{L}", N, K), y: Y}, (N, K))
        return Step(MatrixSymbol(f"dA{L}", N, K), MatMul(scale, lifted), (N, K),
                    f"dE/da of {self.loss.name}, elementwise")

    def shape_text(self) -> str:
        """``64 -> 32 relu -> batchnorm -> ...``: the per-sample input, then each layer."""
        inputs = self.stack.inputs
        parts = [str(inputs[0]) if len(inputs) == 1 else "x".join(map(str, inputs))]
        for layer in self.stack.layers:
            parts.append(f"{layer.dense.units} {layer.dense.label}" if layer.dense is not None
                         else layer.kind)
        return " -> ".join(parts)

    def _heading(self) -> str:
        return (f"layer-level derivation of a stack: {self.shape_text()}; loss "
                f"{self.loss.name} ({self.loss.reduction} over samples)")

    def text(self, unicode: bool = True) -> str:
        """Every layer's steps, input side first, then the loss's gradient."""
        printer = (lambda e: matrix_text(e, unicode))
        lines = [self._heading(), f"{self.parameter_count:,} parameters; A0 = X, the "
                 "inputs (N samples as rows); dA_l = dE/dA_l"]
        for layer, steps in self.blocks:
            lines.append(f"layer {layer.index}, per-sample shape {layer.in_shape} -> "
                         f"{layer.out_shape}: " + (steps.text(printer) if layer.kind != "dense"
                         else "dense\n" + "\n".join(
                             f"    {s.text(printer)}" + (f"   ({s.note})" if s.note else "")
                             for s in steps.forward + steps.backward)))
        lines.append("the loss's gradient, into the last layer:")
        lines.append(f"    {self.output.text(printer)}   ({self.output.note})")
        return "\n".join(lines)

    def latex_lines(self) -> list[str]:
        """Every step as ``lhs &= rhs`` for an ``aligned`` block."""
        out = [line for _, steps in self.blocks for line in steps.latex_lines(matrix_latex)]
        return out + [self.output.latex(matrix_latex)]


def derive_stack(source: Stack | Spec | str | Path) -> StackDerivation:
    """The layer-level derivation of a stack, a spec or a spec file."""
    if isinstance(source, (str, Path)):
        source = read_spec(source)
    return StackDerivation(source)
