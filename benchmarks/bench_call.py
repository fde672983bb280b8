"""One call of the compiled two-neuron gradients on Python floats: ``grad``, ``loss`` and
``value_and_grad`` by name (they take the scalar kernels by themselves when every value is a
Python number) against the positional ``*_scalar`` kernels, and against the batch path
that the same call takes on 1-element arrays. Prints one table of times and ratios.

    .venv/bin/python benchmarks/bench_call.py     (from the repository root)

Times are the best of 7 repeats of 20,000 calls (timeit).
"""

from __future__ import annotations

import timeit
from pathlib import Path

import numpy as np

import symgrad

SPEC = Path(__file__).resolve().parents[1] / "derivations" / "two_neuron.toml"
VALUES = {"x1": 0.1, "T": 0.25, "w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}
CALLS = 20_000


def best(call: object) -> float:
    """Seconds per call, the best of 7 repeats."""
    return min(timeit.repeat(call, number=CALLS, repeat=7)) / CALLS  # type: ignore[arg-type]


def main() -> None:
    f = symgrad.compile(symgrad.derive(symgrad.load(SPEC)))
    args = [VALUES[a] for a in f.arguments]
    arrays = {k: np.array([v]) for k, v in VALUES.items()}
    print(f"{'call':<16}{'by name, floats':>18}{'*_scalar':>12}{'ratio':>8}"
          f"{'by name, arrays':>18}{'ratio':>8}")
    for name in ("grad", "loss", "value_and_grad"):
        named, positional = getattr(f, name), getattr(f, f"{name}_scalar")
        fast = best(lambda: named(**VALUES))
        kernel = best(lambda: positional(*args))
        batch = best(lambda: named(**arrays))
        print(f"{name:<16}{fast * 1e6:>15.2f} µs{kernel * 1e6:>9.2f} µs{fast / kernel:>8.1f}"
              f"{batch * 1e6:>15.2f} µs{batch / fast:>8.1f}")


if __name__ == "__main__":
    main()
