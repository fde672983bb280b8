"""Time every input of the hostile corpus (tests/test_hostile.py) against the 1 s budget.

For each input: the parser alone, and ``symgrad check`` in-process (load, derive, parse,
print the error). Prints one row per input with the ratio time / budget; a ratio above 1
is a failure of the issue's "under 1 s" requirement. Run from the repository root:

    .venv/bin/python benchmarks/hostile_inputs.py
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.cli import main  # noqa: E402
from symgrad.errors import ParseError  # noqa: E402
from symgrad.network import load  # noqa: E402
from symgrad.check.parse import parse  # noqa: E402
from tests.test_hostile import CORPUS  # noqa: E402

BUDGET = 1.0
SPEC = ROOT / "derivations" / "two_neuron.toml"


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main_() -> int:
    net = load(SPEC)
    rows = []
    for name, text, is_latex, _ in CORPUS:
        def parse_once() -> str:
            try:
                parse(text, net, latex=is_latex)
            except ParseError as exc:
                return type(exc).__name__
            return "accepted"

        def cli_once() -> int:
            flag = "--latex" if is_latex else "--expr"
            with contextlib.redirect_stderr(io.StringIO()), \
                    contextlib.redirect_stdout(io.StringIO()):
                return main(["check", str(SPEC), "--wrt", "w2", f"{flag}={text}"])

        t_parse, outcome = _timed(parse_once)
        t_cli, status = _timed(cli_once)
        rows.append((name, len(text), outcome, status, t_parse, t_cli))
    print(f"{'input':28} {'chars':>9} {'outcome':>10} {'exit':>4} {'parse s':>9} "
          f"{'check s':>9} {'check/budget':>12}")
    for name, n, outcome, status, tp, tc in rows:
        print(f"{name:28} {n:9d} {outcome:>10} {status:4d} {tp:9.5f} {tc:9.5f} "
              f"{tc / BUDGET:12.4f}")
    worst = max(rows, key=lambda r: r[5])
    print(f"\n{len(rows)} inputs; slowest check: {worst[0]} at {worst[5]:.4f} s "
          f"({worst[5] / BUDGET:.4f} of the {BUDGET:g} s budget); "
          f"all exit 2: {all(r[3] == 2 for r in rows)}")
    return 0 if all(r[3] == 2 and r[5] < BUDGET for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main_())
