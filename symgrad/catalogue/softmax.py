r"""Softmax: the one activation that mixes its units, with its max-shifted numeric forms.

The Jacobian comes out as ``ds_k/dz_j = s_k (delta_kj - s_j)``:

>>> from sympy import symbols
>>> z1, z2 = symbols("z1 z2")
>>> softmax(1, z1, z2).diff(z2)
-softmax(1, z1, z2)*softmax(2, z1, z2)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import mpmath
import sympy as sp
from sympy import Expr, Integer, KroneckerDelta, S, Symbol

from .base import Activation, CatalogueFunction, UnitForms

__all__ = ["softmax", "softmax_forms", "SOFTMAX"]


class softmax(CatalogueFunction):
    r"""Component ``k`` (1-based) of the softmax of ``z_1, ..., z_n``: ``exp(z_k) / sum_j exp(z_j)``."""

    latex_name = r"\operatorname{softmax}"

    @classmethod
    def eval(cls, k: Expr, *z: Expr) -> Expr | None:
        if not (k.is_Integer and 1 <= int(k) <= len(z)):
            raise ValueError(f"softmax index {k} is not one of 1..{len(z)}")
        if len(z) == 1:
            return S.One
        return None

    @classmethod
    def definition(cls, k: Expr, *z: Expr) -> Expr:
        return sp.exp(z[int(k) - 1]) / sp.Add(*(sp.exp(zj) for zj in z))

    @staticmethod
    def mpmath_value(k: mpmath.mpf, *z: mpmath.mpf) -> mpmath.mpf:
        top = max(z)
        return mpmath.exp(z[int(k) - 1] - top) / mpmath.fsum(mpmath.exp(zj - top) for zj in z)

    def fdiff(self, argindex: int = 1) -> Expr:
        self._check_index(argindex, len(self.args))
        if argindex == 1:
            return S.Zero  # the index is not a variable
        k, z = self.args[0], self.args[1:]
        j = argindex - 1
        return self * (KroneckerDelta(k, j) - softmax(Integer(j), *z))

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args[1:]) else None

    def _eval_is_positive(self) -> bool | None:
        return self._eval_is_real()

    def _latex(self, printer: Any, exp: Any = None) -> str:
        k, z = self.args[0], self.args[1:]
        inner = ", ".join(printer._print(a) for a in z)
        out = rf"\operatorname{{softmax}}_{{{printer._print(k)}}}\left({inner}\right)"
        return rf"{out}^{{{exp}}}" if exp is not None else out


def softmax_forms(layer: int, zs: Sequence[Symbol], outputs: Sequence[Symbol]) -> UnitForms:
    """Max-shifted softmax of one layer, with ``1 - a_k`` as the sum of the other shares,
    ``log a_k = z_k - m - log(s)`` (log-softmax), ``log(1 - a_k)`` as a log-sum-exp of the
    others, and ``a_j / (1 - a_k)`` (role ``"over_complement:a_k"``) as ``exp(z_j - lse_k)``
    with ``lse_k`` that log-sum-exp: a share of the others, at most 1, where the quotient
    of the two shares would be 0/0 or overflow.
    """
    from sympy.codegen.cfunctions import log1p  # (6 ms to import: when forms are built)

    forms = UnitForms()
    m = forms.add(Symbol(f"softmax{layer}_max"), sp.Max(*zs) if len(zs) > 1 else zs[0])
    shares = [forms.add(Symbol(f"{a}_e"), sp.exp(z - m)) for z, a in zip(zs, outputs)]
    total = forms.add(Symbol(f"softmax{layer}_sum"), sp.Add(*shares))
    lse = forms.add(Symbol(f"softmax{layer}_lse"), m + sp.log(total))
    for k, (z, a) in enumerate(zip(zs, outputs)):
        forms.add(a, shares[k] / total)
        others = [s for j, s in enumerate(shares) if j != k]
        if not others:
            continue
        rest_shares = forms.add(Symbol(f"{a}_o"), sp.Add(*others))
        forms.add(Symbol(f"{a}_c"), rest_shares / total, a, "complement")
        # the largest share: log a = -log(1 + others), which keeps the others where the sum
        # 1 + others would round them away; the others: z - lse, at least log 2 from 0
        forms.add(Symbol(f"{a}_log"), sp.Piecewise((-log1p(rest_shares), z >= m),
                                                   (z - lse, True)), a, "log")
        rest = [zj for j, zj in enumerate(zs) if j != k]
        m_rest = sp.Max(*rest) if len(rest) > 1 else rest[0]
        rest_sum = sp.Add(*(sp.exp(zj - m_rest) for zj in rest))
        others_lse = forms.add(Symbol(f"{a}_lseo"), m_rest + sp.log(rest_sum))
        # log(1 - a) of a share below the largest is log1p(-a): lseo - lse would keep only
        # 1e-16 of it absolutely, where it is about -a
        forms.add(Symbol(f"{a}_logc"), sp.Piecewise((log1p(-sp.Min(a, S.Half)), z < m),
                                                    (others_lse - lse, True)),
                  a, "log_complement")
        for j, (zj, aj) in enumerate(zip(zs, outputs)):
            if j != k:
                forms.add(Symbol(f"{aj}_div_c{k + 1}"), sp.exp(zj - others_lse), aj,
                          f"over_complement:{a}")
    return forms


def _no_unit_forms(out: UnitForms, z: Symbol, a: Symbol, p: Mapping[str, Expr]) -> None:
    raise TypeError("softmax mixes its units: use softmax_forms for a whole layer")


SOFTMAX = Activation("softmax", "Softmax", softmax, "(0, 1), components sum to 1",
                     _no_unit_forms, elementwise=False, probabilities=True,
                     layer_forms=softmax_forms)
