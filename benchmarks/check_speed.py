"""How long ``symgrad.check.check`` takes per gradient, on every inline spec.

For each gradient: a correct hand expression (symgrad's own factored form printed as
text: decided symbolically) and a sign error (decided numerically, then diagnosed).
Prints the median time per check and the ratio to a 1 s interactive budget. Run from
the repository root:

    .venv/bin/python benchmarks/check_speed.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.derive import derive  # noqa: E402
from symgrad.network import load  # noqa: E402
from symgrad.printing import text  # noqa: E402
from symgrad.check import check  # noqa: E402

BUDGET = 1.0


def main() -> int:
    specs = sorted(p for p in (ROOT / "derivations").glob("*.toml")
                   if not p.stem.endswith("_hand") and "source =" not in p.read_text())
    print(f"{'spec':22} {'grads':>5} {'equal: median s':>16} {'sign error: median s':>21} "
          f"{'worst/budget':>12} {'verdicts ok':>11}")
    worst_all = 0.0
    for path in specs:
        d = derive(load(path))
        equal_times, wrong_times, ok = [], [], True
        for name, g in d.items():
            start = time.perf_counter()
            r = check(d, name, text(g.factored))
            equal_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            w = check(d, name, -g.factored)
            wrong_times.append(time.perf_counter() - start)
            ok &= r.verdict == "equal" and (w.kind == "sign" or g.factored == 0)
        worst = max(equal_times + wrong_times)
        worst_all = max(worst_all, worst)
        print(f"{path.stem:22} {len(d):5d} {statistics.median(equal_times):16.4f} "
              f"{statistics.median(wrong_times):21.4f} {worst / BUDGET:12.3f} {str(ok):>11}")
    print(f"\nslowest single check: {worst_all:.3f} s ({worst_all / BUDGET:.3f} of {BUDGET:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
