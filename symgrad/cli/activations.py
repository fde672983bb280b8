"""``symgrad activations [SPEC]``: the catalogue of activations, and a spec's own formulas.

The built-in entries' formula and derivative lines are recorded in :mod:`.activations_data`
(``python -m symgrad.cli.activations`` writes it), so that the listing does no SymPy
arithmetic: the first sum SymPy builds imports ``sympy.tensor.tensor`` and
``sympy.combinatorics`` (about 20 ms), and the rewrites and derivatives as much again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sympy as sp

from ..analysis.accuracy_line import builtin
from ..catalogue import ACTIVATIONS, Activation
from ..printing import formula_text, range_text, text
from .activations_data import LISTED, SYMPY


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


def _formulas(act: Activation) -> tuple[str, str]:
    """The ``formula`` and ``derivative`` lines of a catalogue entry, worked out by SymPy:
    its elementary definition, and the derivative its ``fdiff`` gives."""
    z = sp.Symbol("z")
    if act.elementwise:
        f = act(z)
        name = text(f) if f != z else f"{act.name}(z)"  # the identity evaluates to z
        return f"{name} = {text(act.definition(z))}", f"d/dz {name} = {text(f.diff(z))}"
    # softmax, written with an index k over components and j over inputs
    s, zz = sp.IndexedBase("s"), sp.IndexedBase("z")
    k, j, n = sp.symbols("k j n", integer=True, positive=True)
    return (f"s[k] = {text(sp.exp(zz[k]) / sp.Sum(sp.exp(zz[j]), (j, 1, n)))}",
            f"ds[k]/dz[j] = {text(s[k] * (sp.KroneckerDelta(k, j) - s[j]))}")


def _function_name(act: Activation) -> str:
    return f"{act.function.__module__}.{act.function.__qualname__}"


def recorded(act: Activation) -> tuple[str, str] | None:
    """The entry's :func:`_formulas` as recorded in :mod:`.activations_data` (no SymPy
    arithmetic: start-up), or ``None`` when the record does not hold for it: another
    SymPy (printing may differ), or an entry the catalogue did not ship (the same name
    registered anew, other parameters).

    >>> from symgrad.catalogue import get_activation
    >>> recorded(get_activation("relu"))
    ('relu(z) = z*Heaviside(z, 0)', 'd/dz relu(z) = Heaviside(z, 0)')
    """
    found = LISTED.get(act.name)
    if (found is None or sp.__version__ != SYMPY or found["function"] != _function_name(act)
            or found["params"] != dict(act.params)):
        return None
    return found["formula"], found["derivative"]


def _block(act: Activation, accuracy: str | None = None, spec_formula: bool = False) -> str:
    formula, derivative = (textbook(act) if spec_formula
                           else recorded(act) or _formulas(act))
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
    swept = {name: builtin(name) for name in ACTIVATIONS}  # swept when symgrad was built
    blocks = [_block(act, None if swept[name] is None else swept[name].line())
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


def data_module() -> str:
    """The text of :mod:`.activations_data`: every built-in entry's formula and derivative
    lines, worked out now (``python -m symgrad.cli.activations`` writes it)."""
    rows = []
    for name, act in ACTIVATIONS.items():
        formula, derivative = _formulas(act)
        fields = {"function": _function_name(act), "params": dict(act.params),
                  "formula": formula, "derivative": derivative}
        rows += [f"    {name!r}: {{"] + [f"        {k!r}: {v!r}," for k, v in fields.items()]
        rows.append("    },")
    return "\n".join([
        '"""The formula and derivative lines of ``symgrad activations`` for the built-in',
        "entries, as SymPy prints them: written by ``python -m symgrad.cli.activations``; do",
        "not edit. tests/test_activations_listing.py works them out again and compares.\"\"\"",
        "", "from __future__ import annotations", "", "from typing import Any", "",
        f"SYMPY = {sp.__version__!r}", "LISTED: dict[str, dict[str, Any]] = {", *rows, "}", ""])


def main() -> int:
    """Write :mod:`.activations_data` from the catalogue as it is."""
    from ..files import write_atomic  # (tomllib and the rest: not needed to list)

    target = Path(__file__).with_name("activations_data.py")
    write_atomic(target, data_module(), what="the activation listing")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
