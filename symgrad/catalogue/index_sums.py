"""Index calculus at a symbolic size, and its lift to matrix form over a batch.

A layer type is derived as SymPy differentiates it: the adjoint ``sum_i dy_i y_i`` (the
gradient arriving from above times the layer's output) written with indexed sums over a
symbolic size, differentiated by ``x[j]`` or a parameter. SymPy leaves sums of
Kronecker deltas and sums of a linear combination; :func:`sums_out` takes them apart
(``sum_i dy_i delta_ij = dy_j``, for an index in range) and drops sums known to vanish
(``sum_k xhat_k = 0``). :func:`lift` writes the index form as a matrix expression over a
batch of ``N`` rows: indexed vectors become ``N x D`` matrices, a sum over the summed axis
a product with a ones vector, products Hadamard products.

>>> import sympy as sp
>>> i, j = sp.symbols("i j", integer=True)
>>> dy = sp.IndexedBase("dy")
>>> sums_out(sp.Sum(dy[i] * sp.KroneckerDelta(i, j), (i, 1, sp.Symbol("N"))))
dy[j]
"""

from __future__ import annotations

from typing import Collection, Literal, Mapping

import sympy as sp
from sympy import (Expr, HadamardPower, HadamardProduct, KroneckerDelta, MatAdd, MatMul,
                   MatrixExpr, OneMatrix, Piecewise, Sum, Transpose)

__all__ = ["sums_out", "lift", "ones_t"]


def ones_t(n: Expr) -> MatrixExpr:
    """``1_n^T``, the row of ``n`` ones that sums the rows it multiplies."""
    return Transpose(OneMatrix(n, 1))


def _sum_apart(s: Sum, zero: Collection[Expr]) -> Expr:
    """One sum as a sum of sums of single terms, constants outside, deltas evaluated."""
    if len(s.limits) > 1:
        return _delta_summed(s, zero)
    (index, *_), = s.limits
    out: Expr = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(s.function)):
        coeff, rest = term.as_independent(index, as_Add=False)
        if rest in zero:
            continue
        if rest.has(KroneckerDelta) or not rest.has(index):  # a constant sums to N of it
            value = Sum(rest, *s.limits).doit()
            # the free index lies in 1..N: the delta's sum is its other factor there
            value = value.replace(lambda e: isinstance(e, Piecewise), lambda e: e.args[0][0])
        else:
            value = Sum(rest, *s.limits)
        out += coeff * value
    return out


def _delta_summed(s: Sum, zero: Collection[Expr]) -> Expr:
    """A sum over several indices: the first index a Kronecker delta holds summed out
    (finite sums commute), the others kept; unchanged when no delta holds one."""
    held = {arg for delta in s.function.atoms(KroneckerDelta) for arg in delta.args}
    for k, limit in enumerate(s.limits):
        if limit[0] in held:
            inner = _sum_apart(Sum(s.function, limit), zero)
            return Sum(inner, *(s.limits[:k] + s.limits[k + 1:]))
    return s


def sums_out(expr: Expr, zero: Collection[Expr] = ()) -> Expr:
    """``expr`` with every sum split into sums of single terms and Kronecker deltas summed
    out; a sum whose term is in ``zero`` is dropped (``xhat[k]``: ``sum_k xhat_k = 0``)."""
    previous = None
    while previous != expr:
        previous = expr
        expr = expr.replace(lambda e: isinstance(e, Sum), lambda e: _sum_apart(e, zero))
    return expr


Axis = Literal[0, 1]


def _ones_sum(body: MatrixExpr, axis: Axis, n: Expr, d: Expr) -> MatrixExpr:
    """``sum`` over the rows (axis 0: ``1_N 1_N^T B``) or the columns (axis 1:
    ``B 1_D 1_D^T``), broadcast back to ``N x D``."""
    if axis == 0:
        return MatMul(OneMatrix(n, 1), Transpose(OneMatrix(n, 1)), body)
    return MatMul(body, OneMatrix(d, 1), Transpose(OneMatrix(d, 1)))


def lift(expr: Expr, index: sp.Symbol, table: Mapping[Expr, MatrixExpr], axis: Axis,
         n: Expr, d: Expr) -> MatrixExpr:
    """The index form ``expr`` (free index ``index``) as an ``n x d`` matrix expression.

    ``table`` maps indexed bases to their ``n x d`` matrices and per-column (axis 0) or
    per-row (axis 1) symbols to their ``1 x d`` or ``n x 1`` matrices; sums run over
    ``axis``; symbols not in ``table`` (sizes, hyperparameters) stay scalar coefficients.
    """
    if isinstance(expr, sp.Indexed):
        return table[expr.base]
    if expr in table:
        vector = table[expr]
        return MatMul(OneMatrix(n, 1), vector) if axis == 0 else \
            MatMul(vector, ones_t(d))
    if isinstance(expr, Sum):
        (summed, *_), = expr.limits
        return _ones_sum(lift(expr.function.xreplace({summed: index}), index, table, axis, n, d),
                         axis, n, d)
    if isinstance(expr, sp.Add):
        return MatAdd(*(lift(t, index, table, axis, n, d) for t in expr.args))
    if isinstance(expr, sp.Mul):
        coeff = sp.Mul(*(f for f in expr.args if not _is_array(f, table)))
        arrays = [lift(f, index, table, axis, n, d) for f in expr.args if _is_array(f, table)]
        body = arrays[0] if len(arrays) == 1 else HadamardProduct(*arrays)
        return body if coeff == 1 else MatMul(coeff, body)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        return HadamardPower(lift(expr.base, index, table, axis, n, d), expr.exp)
    raise ValueError(f"cannot lift {expr} to matrix form")


def _is_array(expr: Expr, table: Mapping[Expr, MatrixExpr]) -> bool:
    """Whether ``expr`` holds a table entry (an array), not only sizes and numbers."""
    return any(expr.has(key) for key in table)
