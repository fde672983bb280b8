"""Benchmark symgrad's compiled gradients; prints one table of ratios from one run.

    .venv/bin/python benchmarks/bench_compile.py     (from the repository root)

1. Batch gradients on 1,000,000 samples (two-neuron network; 16-layer sigmoid chain):
   symgrad.compile with backend "c" (fused C loop) and backend "numpy" (the default, the
   code ``symgrad export`` writes) vs hand-written NumPy forward+backward vs PyTorch CPU
   autograd (float64) vs plain ``lambdify(cse=True)`` of the expanded gradients.
2. One call on scalars (two-neuron gradients): symgrad's ``grad_scalar`` vs hand-written
   pure Python with ``math`` vs PyTorch autograd.
3. Derivation + compilation time for sigmoid chains of depth 2..64 vs ``sympy.diff`` of the
   fully substituted loss (run in a subprocess capped at REFERENCE_TIMEOUT seconds).

Times are the best of several repeats (time.perf_counter). PyTorch is optional: it is
measured when installed (``pip install torch``), and never a dependency of symgrad.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
import timeit

# NumPy's OpenBLAS runs one thread: after a large dot product (the hand-written version's
# delta @ a) its idle threads spin for a while on the other core, and whatever ran next
# lost that core (backend "c", two threads, measured 3.4 ms there instead of 1.8 ms).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import symgrad  # noqa: E402
from symgrad.network import Dense, Network  # noqa: E402

N = 1_000_000
REFERENCE_TIMEOUT = 120.0
DEPTHS = (2, 4, 8, 16, 32, 64)

# PyTorch runs in a child process: importing it changes the allocator's behaviour and its
# idle OpenMP threads spin, which would skew the NumPy timings of this process.
HAS_TORCH = importlib.util.find_spec("torch") is not None
torch = None  # imported in the child process only


def chain(depth: int) -> Network:
    return Network(1, [Dense(1, "sigmoid")] * depth, "half_sse")


def params_for(depth: int) -> dict[str, float]:
    rng = np.random.default_rng(depth)
    out = {}
    for l in range(1, depth + 1):
        out[f"w{l}"] = float(rng.uniform(0.5, 1.5))
        out[f"b{l}"] = float(rng.uniform(-0.5, 0.5))
    return out


def hand_numpy(x, t, p, depth):
    """Hand-written NumPy forward and backward for a sigmoid chain, half SSE, summed."""
    acts = [x]
    for l in range(1, depth + 1):
        acts.append(1 / (1 + np.exp(-(p[f"w{l}"] * acts[-1] + p[f"b{l}"]))))
    a = acts[-1]
    delta = (a - t) * a * (1 - a)
    grads = {}
    for l in range(depth, 0, -1):
        grads[f"w{l}"] = delta @ acts[l - 1]
        grads[f"b{l}"] = delta.sum()
        if l > 1:
            a = acts[l - 1]
            delta = delta * p[f"w{l}"] * a * (1 - a)
    return grads


def torch_grad(x, t, p, depth):
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    a = x
    for l in range(1, depth + 1):
        a = torch.sigmoid(params[f"w{l}"] * a + params[f"b{l}"])
    loss = 0.5 * ((t - a) ** 2).sum()
    loss.backward()
    return {k: v.grad for k, v in params.items()}


def plain_lambdify(d, names):
    """SymPy's lambdify with cse=True of the expanded gradients, per-sample, then summed."""
    net = d.network
    args = [str(s) for s in net.inputs + net.targets + net.parameters]
    fn = sp.lambdify(args, [d[n].expanded.rewrite(sp.exp) for n in names], "numpy", cse=True)
    return lambda **v: [np.sum(g) for g in fn(*[v[a] for a in args])]


def interleaved(fns: dict[str, object], rounds: int = 10) -> dict[str, float]:
    """Best time of each function, measured in alternating rounds so that a slow spell of
    the machine (or the allocator's state) does not favour one of them."""
    best_times = {name: float("inf") for name in fns}
    for fn in fns.values():
        fn()  # warm up
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best_times[name] = min(best_times[name], time.perf_counter() - start)
    return best_times


def batch_rows(rows):
    rng = np.random.default_rng(0)
    x = rng.normal(size=N)
    t = rng.uniform(size=N)
    for label, depth in (("two-neuron", 2), ("16-layer sigmoid chain", 16)):
        p = params_for(depth)
        d = symgrad.derive(chain(depth))
        f = symgrad.compile(d)
        fc = symgrad.compile(d, backend="c")
        check = hand_numpy(x, t, p, depth)
        errors = {}
        for backend, g in (("c", fc), ("numpy", f)):
            got = g.grad(x1=x, T=t, **p)
            errors[backend] = max(abs(float(got[k]) - check[k]) / max(abs(check[k]), 1e-300)
                                  for k in check)
        plain = plain_lambdify(d, f.parameters)
        fns = {"c": lambda: fc.grad(x1=x, T=t, **p),
               "numpy": lambda: f.grad(x1=x, T=t, **p),
               "hand": lambda: hand_numpy(x, t, p, depth),
               "plain": lambda: plain(x1=x, T=t, **p)}
        times = interleaved(fns)
        if HAS_TORCH:
            times["torch"] = torch_child("batch", depth)
        for backend in ("c", "numpy"):
            ours = times[backend]
            who = f"symgrad[{backend}]"
            rows.append((f"batch 1e6, {label}: {who} / hand NumPy", ours, times["hand"],
                         f"max rel diff {errors[backend]:.1e}"))
            if HAS_TORCH:
                rows.append((f"batch 1e6, {label}: {who} / PyTorch autograd", ours,
                             times["torch"], ""))
            rows.append((f"batch 1e6, {label}: {who} / plain lambdify(cse=True)", ours,
                         times["plain"], ""))
        rows.append((f"batch 1e6, {label}: plain lambdify / hand NumPy", times["plain"],
                     times["hand"], ""))


def hand_scalar(x1, T, w1, b1, w2, b2):
    a1 = 1 / (1 + math.exp(-(w1 * x1 + b1)))
    a2 = 1 / (1 + math.exp(-(w2 * a1 + b2)))
    d2 = (a2 - T) * a2 * (1 - a2)
    d1 = d2 * w2 * a1 * (1 - a1)
    return d1 * x1, d1, d2 * a1, d2


def scalar_rows(rows):
    net = symgrad.load("derivations/two_neuron.toml")
    f = symgrad.compile(symgrad.derive(net))
    g = f.grad_scalar
    args = tuple(float(net.values[a]) for a in f.arguments)
    number = 200_000

    def per_call(fn, n=number):
        return min(timeit.repeat(lambda: fn(*args), number=n, repeat=7)) / n

    ours = per_call(g)
    hand = per_call(hand_scalar)
    rows.append(("scalar call, two-neuron: symgrad grad_scalar / hand math", ours, hand, ""))
    if HAS_TORCH:
        rows.append(("scalar call, two-neuron: symgrad grad_scalar / PyTorch", ours,
                     torch_child("scalar", 2), ""))


def torch_child(kind: str, depth: int) -> float:
    """PyTorch's best time, measured in a child process (see HAS_TORCH)."""
    proc = subprocess.run([sys.executable, __file__, "--torch", kind, str(depth)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return float(proc.stdout)


def torch_main(kind: str, depth: int) -> None:
    global torch
    import torch

    p = params_for(depth)
    if kind == "batch":
        rng = np.random.default_rng(0)
        x = torch.from_numpy(rng.normal(size=N))
        t = torch.from_numpy(rng.uniform(size=N))
        print(interleaved({"torch": lambda: torch_grad(x, t, p, depth)})["torch"])
    else:
        net = symgrad.load("derivations/two_neuron.toml")
        p = {k: net.values[k] for k in ("w1", "b1", "w2", "b2")}
        x = torch.tensor(net.values["x1"], dtype=torch.float64)
        t = torch.tensor(net.values["T"], dtype=torch.float64)
        print(min(timeit.repeat(lambda: torch_grad(x, t, p, 2), number=2000, repeat=5)) / 2000)


_REFERENCE = r"""
import sys, time, sympy as sp
sys.setrecursionlimit(100000)
from symgrad.network import Network, Dense
net = Network(1, [Dense(1, "sigmoid")] * int(sys.argv[1]), "half_sse")
full = {}
for s, e in net.equations.items():
    full[s] = e.xreplace(full)
loss = net.error.xreplace(full).rewrite(sp.exp)
start = time.perf_counter()
grads = [sp.diff(loss, p) for p in net.parameters]
fns = sp.lambdify([str(s) for s in net.inputs + net.targets + net.parameters], grads, "numpy",
                  cse=True)
print(time.perf_counter() - start)
"""


def compile_rows(rows):
    for depth in DEPTHS:
        ours = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            f = symgrad.compile(symgrad.derive(chain(depth)))
            f.kernel("grad_sums")
            ours = min(ours, time.perf_counter() - start)
        try:
            proc = subprocess.run([sys.executable, "-c", _REFERENCE, str(depth)],
                                  capture_output=True, text=True, timeout=REFERENCE_TIMEOUT)
            if proc.returncode != 0:
                ref = float("nan")
                note = "sympy.diff reference failed: " + proc.stderr.strip().splitlines()[-1]
            else:
                ref = float(proc.stdout.strip())
                note = ""
        except subprocess.TimeoutExpired:
            ref = float("nan")
            note = f"sympy.diff reference stopped after {REFERENCE_TIMEOUT:.0f} s"
        rows.append((f"derive+compile, chain depth {depth}: symgrad / sympy.diff+lambdify",
                     ours, ref, note))
    for depth in (2, 16, 64):  # backend "c": generating C and one run of the C compiler
        f = symgrad.compile(symgrad.derive(chain(depth)), backend="c")
        with tempfile.TemporaryDirectory() as cache:
            os.environ["SYMGRAD_CACHE_DIR"] = cache
            start = time.perf_counter()
            f.fused_loop("grad_sums")([np.ones(2), np.ones(2)] + [1.0] * len(f.parameters), 2)
            built = time.perf_counter() - start
            del os.environ["SYMGRAD_CACHE_DIR"]
        rows.append((f"backend c: generate + build the C loop, chain depth {depth}", built,
                     float("nan"), "first use only; cached afterwards"))


def main() -> None:
    rows: list[tuple[str, float, float, str]] = []
    batch_rows(rows)
    scalar_rows(rows)
    compile_rows(rows)
    print(f"symgrad {symgrad.__version__}, numpy {np.__version__}, sympy {sp.__version__}, "
          f"torch {'installed' if HAS_TORCH else 'not installed'}; "
          f"{os.cpu_count()} CPUs; load average at the end "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    width = max(len(r[0]) for r in rows)
    print(f"{'comparison':<{width}}  {'ours':>11}  {'other':>11}  {'ratio':>7}  note")
    for label, ours, other, note in rows:
        ratio = ours / other if other == other else float("nan")
        print(f"{label:<{width}}  {_fmt(ours):>11}  {_fmt(other):>11}  {ratio:>7.3f}  {note}")


def _fmt(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--torch"]:
        torch_main(sys.argv[2], int(sys.argv[3]))
    else:
        main()
