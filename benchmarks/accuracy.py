"""Accuracy of every output activation under every loss, at both levels and through every
backend, against mpmath; and the time exact evaluation takes far out.

For each activation x loss x level x backend: the worst relative error of the error signal
``dE/dz`` of one output unit, and of the loss, over |z| <= 700 (every 20, finer near 0, and |z| = 19, 37, 40)
with targets 0, 1 and 0.25, against mpmath at 800 digits (``tests/reference.py``; a
reference below 1e-300 counts as 1e-300). Backends: the unit level's compiled NumPy, C and
scalar code and its exact evaluation (``Derivation.at``), the layer level's minibatch
NumPy kernels (a softmax output there with ``cce`` only). Then, for exact evaluation, the
slowest of ``Derivation.at`` at z = +-1e4 over the three targets.

Run:  .venv/bin/python benchmarks/accuracy.py [--exact-points N]

Nothing here is a test: the table ends with the worst error per backend and whether it
meets 1e-12, and the slowest exact evaluation and whether it is under 1 s.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.errors import DerivationError  # noqa: E402
from tests.reference import SWEEP, TARGETS, Case, cases, relative_error  # noqa: E402
from tests.sweep import PATHS, runner, supported  # noqa: E402

FAR = 1e4


def worst(case: Case, level: str, backend: str, points: np.ndarray,
          references: dict[tuple[float, float, bool], object],
          loss: bool = False) -> tuple[float, float, float]:
    """The largest relative error of ``dE/dz`` (or of the loss) over ``points`` and the
    targets, and where it is."""
    run = runner(case, level, backend, loss)
    found = (0.0, math.nan, math.nan)
    for t in TARGETS:
        for z in points:
            key = (float(z), t, loss)
            if key not in references:
                references[key] = case.loss_value(z, t) if loss else case.delta(z, t)
            error = relative_error(run(z, t), references[key])  # type: ignore[arg-type]
            if error > found[0] or math.isnan(found[1]):
                found = (error, float(z), t)
    return found


def far_out(case: Case) -> tuple[float, str]:
    """The slowest exact evaluation at z = +-1e4 over the targets, and what came back."""
    run = runner(case, "unit", "exact")
    slowest, what = 0.0, "value"
    for z in (FAR, -FAR):
        for t in TARGETS:
            start = time.perf_counter()
            try:
                run(z, t)
            except DerivationError:
                what = "out of reach"
            slowest = max(slowest, time.perf_counter() - start)
    return slowest, what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact-points", type=int, default=0,
                        help="evaluate exactly at this many of the sweep's points, evenly "
                             "spread (default: all of them)")
    args = parser.parse_args()
    exact_points = SWEEP if not args.exact_points else \
        SWEEP[np.linspace(0, len(SWEEP) - 1, args.exact_points).round().astype(int)]
    print(f"accuracy of dE/dz against mpmath (800 digits): {len(SWEEP)} points over "
          f"|z| <= 700 x targets {', '.join(map(str, TARGETS))}; exact evaluation at "
          f"{len(exact_points)} of them")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}; load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    header = (f"{'activation':<12}{'loss':<10}{'level':<7}{'backend':<8}{'dE/dz error':>12}"
              f"{'at z':>8}{'T':>6}{'loss error':>12}{'exact at |z|=1e4':>20}")
    print(header)
    print("-" * len(header))
    summary: dict[tuple[str, str], tuple[float, float]] = {}
    slowest = (0.0, "")
    for case in cases():
        references: dict[tuple[float, float, bool], object] = {}
        for level, backend in PATHS:
            if not supported(case, level):
                continue
            points = exact_points if backend == "exact" else SWEEP
            error, z, t = worst(case, level, backend, points, references)
            loss_error = worst(case, level, backend, points, references, loss=True)[0]
            before = summary.get((level, backend), (0.0, 0.0))
            summary[(level, backend)] = (max(before[0], error), max(before[1], loss_error))
            far = ""
            if backend == "exact":
                seconds, what = far_out(case)
                far = f"{seconds:.3f} s ({what})"
                slowest = max(slowest, (seconds, case.name))
            print(f"{case.activation:<12}{case.loss:<10}{level:<7}{backend:<8}{error:>12.2e}"
                  f"{z:>8g}{t:>6g}{loss_error:>12.2e}{far:>20}", flush=True)
    print("\nworst relative error per level and backend, dE/dz and loss (target <= 1e-12):")
    for (level, backend), (error, loss_error) in summary.items():
        met = "met" if max(error, loss_error) <= 1e-12 else "NOT met"
        print(f"  {level:<6}{backend:<8}{error:10.2e}{loss_error:10.2e}  {met}")
    print(f"slowest exact evaluation at |z| = 1e4: {slowest[0]:.3f} s ({slowest[1]}), "
          f"target < 1 s: {'met' if slowest[0] < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
