"""How long ``assert_layer_backward_matches`` takes per layer, diagnosis included.

For every layer of the checker: the right implementations and the wrong ones of
``tests/layer_code.py`` (a wrong one raises, after its diagnosis), at the catalogue's
sizes and at a larger batch (N = 64) unless the code sets N (square shapes). Prints the
slowest call per layer and its ratio to the 2 s budget of issue 12, then the time of a
cold start (a fresh interpreter importing symgrad and checking one wrong batch-norm
backward pass). Run from the repository root:

    .venv/bin/python benchmarks/check_layer_speed.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.testing import LayerMismatch, assert_layer_backward_matches  # noqa: E402
from tests.layer_code import CORRECT, WRONG, Code  # noqa: E402

BUDGET = 2.0
COLD = """
import time
start = time.perf_counter()
from symgrad.testing import LayerMismatch, assert_layer_backward_matches
from tests.layer_code import batchnorm_forward, batchnorm_no_mean_terms
try:
    assert_layer_backward_matches(batchnorm_no_mean_terms, "batchnorm",
                                  forward=batchnorm_forward)
except LayerMismatch:
    pass
print(time.perf_counter() - start)
"""


def _time(code: Code, batch: int | None) -> float:
    shape = dict(code.shape)
    if batch is not None:
        shape["N"] = batch
    start = time.perf_counter()
    try:
        assert_layer_backward_matches(code.backward, code.layer, forward=code.forward,
                                      shape=shape, hyper=code.hyper, layout=code.layout)
    except LayerMismatch:
        pass
    return time.perf_counter() - start


def main() -> int:
    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for kind, codes in (("right", CORRECT), ("wrong", WRONG)):
        for code in codes:
            # a code that sets N itself (square shapes) keeps it
            for batch, label in ((None, ""),) + (((64, " N=64"),) * ("N" not in code.shape)):
                t = min(_time(code, batch) for _ in range(3))
                cell = rows[code.layer]
                cell[kind + label] = max(cell[kind + label], t)
    columns = ("right", "wrong", "right N=64", "wrong N=64")
    print(f"{'layer':14}" + "".join(f"{c + ' (s)':>16}" for c in columns)
          + f"{'worst/budget':>14}")
    worst = 0.0
    for layer in sorted(rows):
        values = [rows[layer][c] for c in columns]
        worst = max(worst, *values)
        print(f"{layer:14}" + "".join(f"{v:16.4f}" for v in values)
              + f"{max(values) / BUDGET:14.4f}")
    cold = float(subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout)
    print(f"\nslowest call, diagnosis included: {worst:.4f} s ({worst / BUDGET:.4f} of "
          f"{BUDGET:g} s)")
    print(f"cold start (import symgrad, check a wrong batchnorm_backward): {cold:.3f} s "
          f"({cold / BUDGET:.3f} of {BUDGET:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
