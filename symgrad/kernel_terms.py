"""Terms of the generated kernels beyond each parameter's per-sample ``delta * input``:
the inputs' and targets' gradients (for the PyTorch and JAX exports), and the network's
penalty, which the cost takes once and not per sample.

The penalty (``[network] penalty``, :mod:`symgrad.catalogue.penalties`) enters the
kernels of one sample (``loss_scalar``, ``grad_scalar``: there one sample is the whole
batch) with lambda a number, and is added to the sums of a batch after they are reduced
(:func:`penalized_sums`), on either backend and for Dask data alike.

>>> from symgrad.spec import parse_spec
>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> d = derive(load(parse_spec('''
... [network]
... inputs = 1
... layers = [{ units = 1, activation = "sigmoid" }]
... loss = "half_sse"
... penalty = { l2 = 0.5 }
... ''')))
>>> penalized_outputs(d, ("w", "b"), [sp.S.Zero], [sp.S.Zero, sp.S.Zero])
([0.25*w**2], [0.5*w, 0])
>>> penalized_sums(d.network, "value_and_grad_sums", (1.0, 0.0, 0.0), {"w": 2.0, "b": 1.0},
...                ("w", "b"))
(2.0, 1.0, 0.0)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import sympy as sp
from sympy import Expr, Symbol

from .derive import Derivation
from .network import Network

__all__ = ["data_gradient_terms", "penalized_outputs", "penalized_sums"]


def data_gradient_terms(derivation: Derivation, program: Mapping[Symbol, Expr],
                        loss: Symbol) -> list[Expr]:
    """``dE/dx`` of each input, the sum over units of ``delta * dz/dx`` (the other
    terms of ``z`` held), and ``dE/dT`` of each target, from the loss in its stable
    form (whose stand-ins for ``log a`` and ``1 - a`` do not depend on ``T``)."""
    net = derivation.network
    deltas = {step.pre: symbol for symbol, step in derivation.deltas.items()}
    inputs = [sp.Add(*(delta * program[z].diff(x) for z, delta in deltas.items()))
              for x in net.inputs]
    cost = program[loss]  # in real symbols: |a - T|' is a sign, not re and im
    real = {s: sp.Dummy(s.name, real=True) for s in cost.free_symbols}
    back = {v: k for k, v in real.items()}
    return inputs + [cost.xreplace(real).diff(real.get(t, t)).xreplace(back)
                     for t in net.targets]


def penalized_outputs(derivation: Derivation, parameters: Sequence[str],
                      loss: list[Expr], grads: list[Expr]) -> tuple[list[Expr], list[Expr]]:
    """A kernel of one sample's loss (a list of one, or empty) and gradients with the
    penalty added, lambda a number; unchanged without a penalty."""
    penalty = derivation.network.penalty
    if penalty is None:
        return loss, grads
    lam = penalty.values
    return ([e + derivation.penalty_cost.xreplace(lam) for e in loss],
            [g + derivation[p].penalty.xreplace(lam) for g, p in zip(grads, parameters)])


#: Which results each batch kernel returns: the loss, the gradients, or both.
_PARTS = {"loss_sums": (True, False), "grad_sums": (False, True),
          "value_and_grad_sums": (True, True)}


def penalized_sums(net: Network, name: str, sums: tuple[Any, ...], values: Mapping[str, Any],
                   parameters: Sequence[str]) -> tuple[Any, ...]:
    """Batch kernel ``name``'s results, reduced over the samples, with the penalty at the
    parameter ``values`` added once; unchanged without a penalty."""
    if net.penalty is None:
        return sums
    cost, terms = net.penalty.at(values, map(str, net.penalized))
    with_loss, with_grads = _PARTS[name]
    extra = [cost] * with_loss + [terms.get(p, 0.0) for p in parameters] * with_grads
    return tuple(type(s)(s + e) for s, e in zip(sums, extra))
