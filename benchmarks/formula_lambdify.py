"""Plain ``sympy.lambdify`` against symgrad's stable forms, for every formula of the corpus.

For each activation of ``tests/formula_corpus.py`` (given only as spec text): the derivative
SymPy derives from the formula as typed (catalogue functions written out with ``exp``), made
into NumPy code by plain ``sympy.lambdify(z, f', "numpy")``, evaluated on 100,000 points over
|z| <= 700; the table says whether it gives NaN or infinity anywhere there (and the first
such z), then the worst relative error of symgrad's compiled value and slope against mpmath
(50 digits, ``symgrad.analysis.accuracy.sweep``) and whether those are finite everywhere.

Run:  .venv/bin/python benchmarks/formula_lambdify.py [--points N]

Nothing here is a test: the tests (tests/test_formulas.py) assert the 1e-10 bound.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.analysis.accuracy import sweep  # noqa: E402
from symgrad.architecture import Architecture  # noqa: E402
from symgrad.spec import parse_spec  # noqa: E402
from tests.formula_corpus import ACTIVATIONS, Record, network_spec, spec_of  # noqa: E402


def _entry(record: Record):  # type: ignore[no-untyped-def]
    spec = parse_spec(network_spec(record.name, extra=spec_of(record)))
    return Architecture.from_spec(spec).formula_activations[record.name]


def _plain(record: Record, zs: np.ndarray) -> str:
    """Where plain lambdify of the typed formula's derivative is not finite."""
    entry = _entry(record)
    z = sp.Symbol("z", real=True)
    typed = entry.function.definition(z, *(sp.Float(v) for v in record.params.values()))
    derivative = typed.diff(z)
    for _ in range(4):
        derivative = derivative.rewrite(sp.exp)
    f = sp.lambdify(z, derivative, "numpy")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        values = np.broadcast_to(np.asarray(f(zs), dtype=float), zs.shape)
    bad = ~np.isfinite(values)
    if not bad.any():
        return "finite"
    kind = "NaN" if np.isnan(values[bad]).any() else "inf"
    return f"{kind} at {bad.sum()} points (first z = {zs[bad][0]:.4g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=401, help="mpmath sweep grid size")
    args = parser.parse_args()
    zs = np.linspace(-700.0, 700.0, 100_000)
    print("| formula | plain lambdify of f' on 1e5 points, abs(z) <= 700 | "
          "symgrad vs mpmath (value and slope) |")
    print("|---|---|---|")
    for record in ACTIVATIONS:
        result = sweep(_entry(record), record.params, points=args.points)
        ours = result.line().replace("|z|", "abs(z)")
        print(f"| {record.name} | {_plain(record, zs)} | {ours} |")


if __name__ == "__main__":
    main()
