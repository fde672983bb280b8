"""The recurrent layer's steps, NumPy's loops against the C loops (symgrad.native_rnn):
one forward + backward pass at the layer-type benchmark's size and at rnn_bit_count's,
and one training epoch of rnn_bit_count's network (``CompiledStack.sgd_epoch``, 1,500
sequences of 8 bits, batch 32). CPU time, taking turns, best and median of the rounds;
the ratio is NumPy's time over C's (above 1: the C loops are faster). Needs a C compiler.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_rnn.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

from symgrad.backends.stack import CompiledStack  # noqa: E402
from symgrad.catalogue.layers_rnn import NUMPY_LOOPS, rnn_backward, rnn_forward  # noqa: E402
from symgrad.derive.stack import derive_stack  # noqa: E402
from symgrad.native_rnn import rnn_loops  # noqa: E402

ROUNDS = 9
#: N, T, D, H and whether dx is wanted: bench_layer_types' rnn, rnn_bit_count's first layer.
SIZES = ((256, 16, 64, 32, True), (32, 8, 1, 16, False))


def _turns(runs: dict[str, Callable[[], Any]], number: int) -> dict[str, list[float]]:
    """Seconds of CPU time per call of each run, ``ROUNDS`` rounds taking turns."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            start = time.process_time()
            for _ in range(number):
                run()
            times[name].append((time.process_time() - start) / number)
    return times


def _line(what: str, times: dict[str, list[float]], unit: float, label: str) -> None:
    (a, numpy), (b, c) = ((min(v), float(np.median(v))) for v in times.values())
    print(f"{what:<34} numpy {a * unit:8.2f} {label}  C {b * unit:8.2f} {label}   "
          f"numpy/C best {a / b:.2f}x, median {numpy / c:.2f}x")


def _pass(n: int, T: int, D: int, H: int, input_grad: bool) -> None:
    rng = np.random.default_rng(0)
    x, dy = rng.normal(size=(n, T, D)), rng.normal(size=(n, H))
    bound = 1 / np.sqrt(H)
    params = {"Wx": rng.uniform(-bound, bound, (H, D)), "b": np.zeros(H),
              "Wh": rng.uniform(-bound, bound, (H, H))}
    runs = {name: (lambda loops=loops: rnn_backward(dy, rnn_forward(
        x, params, units=H, steps=T, input_grad=input_grad, loops=loops)[1]))
        for name, loops in (("numpy", NUMPY_LOOPS), ("c", rnn_loops(H)))}
    _line(f"N={n} T={T} D={D} H={H} fwd+bwd", _turns(runs, 20 if n > 100 else 300), 1e6,
          "us")


def _epoch() -> None:
    d = derive_stack("derivations/rnn_bit_count.toml")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (1500, 8, 1)).astype(float)
    Y = np.eye(9)[X.sum(axis=(1, 2)).astype(int)]
    order = rng.permutation(1500)
    runs = {}
    for name, native in (("numpy", False), ("c", True)):
        stack, params = CompiledStack(d, native=native), d.initial_parameters(0)
        runs[name] = lambda s=stack, p=params: s.sgd_epoch(p, X, Y, order, 32, 0.1)
    _line("rnn_bit_count epoch (batch 32)", _turns(runs, 5), 1e3, "ms")


def main() -> None:
    for size in SIZES:
        _pass(*size)
    _epoch()
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
