"""``symgrad activations``: the catalogue of activations."""

from __future__ import annotations

import argparse

import sympy as sp

from ..catalogue import ACTIVATIONS
from ..printing import range_text, text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("activations", help="list the activations: formula, derivative, range, "
                                           "convention at kinks",
                       description="The activation catalogue.")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    z = sp.Symbol("z")
    blocks = []
    for act in ACTIVATIONS.values():
        if act.elementwise:
            f = act(z)
            name = text(f) if f != z else f"{act.name}(z)"  # the identity evaluates to z
            formula = f"{name} = {text(act.definition(z))}"
            derivative = f"d/dz {name} = {text(f.diff(z))}"
        else:  # softmax, written with an index k over components and j over inputs
            s, zz = sp.IndexedBase("s"), sp.IndexedBase("z")
            k, j, n = sp.symbols("k j n", integer=True, positive=True)
            formula = f"s[k] = {text(sp.exp(zz[k]) / sp.Sum(sp.exp(zz[j]), (j, 1, n)))}"
            derivative = f"ds[k]/dz[j] = {text(s[k] * (sp.KroneckerDelta(k, j) - s[j]))}"
        params = ", ".join(f"{name} = {value:g}" for name, value in act.params.items())
        names = ", ".join((act.name,) + act.aliases)
        blocks.append("\n".join([
            f"{act.title}  [{names}]" + (f"  (parameters: {params})" if params else ""),
            f"  formula:    {formula}",
            f"  derivative: {derivative}",
            f"  range:      {range_text(act.range)}",
            f"  at kinks:   {act.kink}",
        ]))
    print("\n\n".join(blocks))
    return 0
