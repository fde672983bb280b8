"""``symgrad activations [SPEC]``: the catalogue of activations, and a spec's own formulas."""

from __future__ import annotations

import argparse

import sympy as sp

from ..analysis.accuracy_line import builtin
from ..catalogue import ACTIVATIONS, Activation
from ..printing import formula_text, range_text, text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("activations", help="list the activations: formula, derivative, range, "
                                           "convention at kinks",
                       description="The activation catalogue; with a spec, also the spec's "
                                   "formula-defined activations with their measured accuracy.")
    p.add_argument("spec", nargs="?", help="a spec whose [activations.NAME] to list too")
    p.set_defaults(handler=run)


def textbook(act: Activation) -> tuple[str, str]:
    """A spec's formula entry as its ``formula`` and ``derivative`` lines
    (:func:`~symgrad.formulas.textbook_forms`): parameters by name (their values in the
    heading), the derivative in the unit's own output ``name(z)`` where SymPy found that
    form, a two-piece function as ``where(u, x, y)``; each reads back through the parser
    (with the spec's entries and formula functions)."""
    from ..formulas import A, Z, textbook_forms

    definition, slope, own = textbook_forms(act)
    shown = sp.Function(act.name)(Z)  # printed name(z)
    slope = slope if own is None else own.xreplace({A: shown})
    return (f"{shown} = {formula_text(definition)}", f"d/dz {shown} = {formula_text(slope)}")


def _block(act: Activation, accuracy: str | None = None, spec_formula: bool = False) -> str:
    z = sp.Symbol("z")
    if spec_formula:
        formula, derivative = textbook(act)
    elif act.elementwise:
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
    return "\n".join([
        f"{act.title}  [{names}]" + (f"  (parameters: {params})" if params else ""),
        f"  formula:    {formula}",
        f"  derivative: {derivative}",
        f"  range:      {range_text(act.range)}",
        f"  at kinks:   {act.kink}",
    ] + ([f"  accuracy:   {accuracy}"] if accuracy else []))


def run(args: argparse.Namespace) -> int:
    recorded = {name: builtin(name) for name in ACTIVATIONS}  # swept when symgrad was built
    blocks = [_block(act, None if recorded[name] is None else recorded[name].line())
              for name, act in ACTIVATIONS.items()]
    if args.spec is not None:  # the sweep compiles: imported only for a spec's formulas
        from ..analysis.accuracy import sweep
        from ..architecture import Architecture
        from ..spec import read_spec

        spec = read_spec(args.spec)
        arch = Architecture.from_spec(spec)
        for act in arch.formula_activations.values():
            blocks.append(_block(act, sweep(act).line(), spec_formula=True))
    print("\n\n".join(blocks))
    return 0
