"""How the parser's time grows with the length of the text: it should grow linearly.

For runs of juxtaposed symbols (the input that was super-linear: ``a1a1...a1q`` took
3.3 s at 5,000 characters, a LaTeX run of letters 14 s), in plain text and LaTeX, it
times the tokenizer alone at 1,000 and 8,000 characters and the whole parser (tokens,
grammar, SymPy) at 625 and 5,000 (its length limit), best of 20 each in CPU time (the
machine is shared: wall time under a load of 5 gave ratios of 8 to 27 for the same code),
and prints the ratio of the two times. Linear work gives a ratio near 8, quadratic work
near 64. Run from the repository root:

    .venv/bin/python benchmarks/parse_speed.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.check.lexer import tokenize  # noqa: E402
from symgrad.check.parse import parse  # noqa: E402
from symgrad.errors import ParseError  # noqa: E402
from symgrad.network import load  # noqa: E402

NET = load(ROOT / "derivations" / "two_neuron.toml")
REPEAT = 20

def _run_of(unit: str, last: str = "") -> Callable[[int], str]:
    """About ``n`` characters: whole copies of ``unit`` (so every size parses alike), with
    the last character replaced by ``last`` if given."""
    def make(n: int) -> str:
        text = unit * (n // len(unit))
        return text[:-1] + last if last else text
    return make


#: (name, LaTeX?, the text of a given length).
INPUTS: list[tuple[str, bool, Callable[[int], str]]] = [
    ("text a1a1...a1q (unknown)", False, _run_of("a1", "q")),
    ("text a1x1a1x1...", False, _run_of("a1x1")),
    ("text a1 a1 a1 ...", False, _run_of("a1 ")),
    ("text +2.5e-3*a1+...", False, _run_of("+2.5e-3*a1")),
    ("latex TTT...", True, _run_of("T")),
    ("latex a_1a_1...", True, _run_of("a_1")),
    ("latex w^{(2)}...", True, _run_of("w^{(2)} ")),
]


def _best(run: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.process_time()  # CPU time: waiting for a busy core is not counted
        try:
            run()
        except ParseError:
            pass  # the unknown name is found: that is the work timed
        times.append(time.process_time() - start)
    return min(times)


def main() -> int:
    print(f"load average: {os.getloadavg()[0]:.2f}; best of {REPEAT}; linear = ratio near 8")
    print(f"{'input':28} {'tokens 1k s':>12} {'tokens 8k s':>12} {'ratio':>6} "
          f"{'parse 625 s':>12} {'parse 5k s':>11} {'ratio':>6}")
    worst = 0.0
    for name, latex, make in INPUTS:
        small = _best(lambda: tokenize(make(1000), NET.symbols, latex=latex))
        large = _best(lambda: tokenize(make(8000), NET.symbols, latex=latex))
        p_small = _best(lambda: parse(make(625), NET, latex=latex))
        p_large = _best(lambda: parse(make(5000), NET, latex=latex))
        worst = max(worst, large / small, p_large / p_small)
        print(f"{name:28} {small:12.5f} {large:12.5f} {large / small:6.2f} "
              f"{p_small:12.5f} {p_large:11.5f} {p_large / p_small:6.2f}")
    print(f"\nlargest ratio: {worst:.2f} (8 for linear work, 64 for quadratic)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
