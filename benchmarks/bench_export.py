"""Benchmark the PyTorch and JAX exports and Dask data; prints one table of ratios.

    python benchmarks/bench_export.py [--samples N] [--batch N] [--only torch|jax|dask]

1. PyTorch (CPU, float64, a batch of ``--batch`` samples, default 10**6): the exported
   ``SymgradLoss`` forward + backward vs ``torch.autograd`` through the same network
   written the usual way (``torch.tanh``, ``log_softmax``), and through the exported
   module's own forward code. Target: <= 1.0x.
2. JAX (CPU, float64, jit): ``jax.value_and_grad`` of the exported ``jax.custom_vjp``
   ``loss`` vs of the same network written the usual way, and of the exported forward
   code without the custom rule. Target: <= 1.0x.
3. Dask: the gradient of the two-neuron network over ``--samples`` samples (default
   2*10**8: 3.2 GB of inputs and targets in two ``.npy`` files in a temporary folder,
   written chunk by chunk, read with ``symgrad.chunked.read_npy``) with ``backend="c"``
   on a ``LocalCluster`` of two worker processes of one thread. Peak resident memory of
   the first run, data written and workers started (this process and all its children,
   sampled every 20 ms with psutil): target <= 1 GB. Time per sample vs the in-memory C
   backend (default threads) on the files' first 10**7 samples held in memory, the two
   timed in alternating rounds: target <= 1.5x. Beside it, for the diagnosis: the CPU
   time of each (all processes), and one chunk summed on one thread from fresh memory
   maps and from memory, with the time two workers would take doing only that.

Times are the best of several repeats (time.perf_counter); the libraries run in child
processes so that one's threads and allocator do not skew another's timings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SMALL_MLP = ROOT / "derivations" / "small_mlp.toml"
TWO_NEURON = ROOT / "derivations" / "two_neuron.toml"
CHUNK = 4_000_000  # samples per Dask chunk: 32 MB per array
SLICE = 10_000_000  # the in-memory C backend's reference batch


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = 7) -> dict[str, float]:
    """The best time of each function over ``rounds`` rounds that run each once in turn
    (on a shared machine, each gets the same chances of a quiet moment)."""
    for fn in fns.values():
        fn()  # warm up (jit, caches)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            begin = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - begin)
    return {name: min(ts) for name, ts in times.items()}


def export(target: str, folder: Path) -> Any:
    """The exported module of small_mlp for ``target``, imported."""
    import importlib.util

    from symgrad.compile import compile
    from symgrad.derive import derive
    from symgrad.export import module_source
    from symgrad.network import load

    path = folder / f"small_mlp_{target}.py"
    path.write_text(module_source(compile(derive(load(SMALL_MLP))), str(SMALL_MLP), target))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def arguments(module: Any, n: int) -> dict[str, np.ndarray | float]:
    rng = np.random.default_rng(0)
    values: dict[str, np.ndarray | float] = {
        "x1": rng.normal(size=n), "x2": rng.normal(size=n)}
    values["T1"] = (values["x1"] > values["x2"]).astype(float)  # type: ignore[operator]
    values["T2"] = 1.0 - values["T1"]  # type: ignore[operator]
    for p in module.PARAMETERS:
        values[p] = float(rng.normal(scale=0.5))
    return values


def matrices(xp: Any, v: dict[str, Any]) -> tuple[Any, ...]:
    """small_mlp's parameters as W1 (3x2), b1, W2 (2x3), b2; inputs and targets stacked."""
    w1 = xp.stack([xp.stack([v[f"w1_{j}_{i}"] for i in (1, 2)]) for j in (1, 2, 3)])
    w2 = xp.stack([xp.stack([v[f"w2_{k}_{j}"] for j in (1, 2, 3)]) for k in (1, 2)])
    b1 = xp.stack([v[f"b1_{j}"] for j in (1, 2, 3)])
    b2 = xp.stack([v[f"b2_{k}"] for k in (1, 2)])
    x = xp.stack([v["x1"], v["x2"]], 1)
    t = xp.stack([v["T1"], v["T2"]], 1)
    return x, t, w1, b1, w2, b2


def torch_part(n: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    module = export("torch", Path(tempfile.mkdtemp()))
    values = arguments(module, n)
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
    params = [tensors[p].requires_grad_() for p in module.PARAMETERS]
    data = [tensors[d] for d in module.DATA_NAMES]

    def exported() -> None:
        module.SymgradLoss.apply(*data, *params).backward()

    def usual() -> None:
        x, t, w1, b1, w2, b2 = matrices(torch, tensors)
        logits = torch.tanh(x @ w1.T + b1) @ w2.T + b2
        (-(t * torch.log_softmax(logits, 1)).sum()).backward()

    def same_code() -> None:
        (loss,) = module._loss_terms(*data, *params)
        loss.sum().backward()

    return interleaved({"exported": exported, "usual": usual, "same_code": same_code})


def jax_part(n: int) -> dict[str, float]:
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    module = export("jax", Path(tempfile.mkdtemp()))
    values = {k: jnp.asarray(v) for k, v in arguments(module, n).items()}
    data = [values[d] for d in module.DATA_NAMES]
    params = [values[p] for p in module.PARAMETERS]
    argnums = tuple(range(len(data), len(data) + len(params)))

    def usual_loss(*args: Any) -> Any:
        x, t, w1, b1, w2, b2 = matrices(jnp, dict(zip(module.ARGUMENTS, args)))
        logits = jnp.tanh(x @ w1.T + b1) @ w2.T + b2
        return -(t * jax.nn.log_softmax(logits, 1)).sum()

    def same_code(*args: Any) -> Any:
        return module._loss_terms(*args)[0].sum()

    def timed(fn: Callable[..., Any]) -> Callable[[], object]:
        step = jax.jit(jax.value_and_grad(fn, argnums=argnums))
        return lambda: jax.block_until_ready(step(*data, *params))

    return interleaved({"exported": timed(module.loss), "usual": timed(usual_loss),
                        "same_code": timed(same_code)})


def write_npy(path: Path, n: int, make: Callable[[np.random.Generator, int], np.ndarray]
              ) -> None:
    """A float64 ``.npy`` of ``n`` samples, written chunk by chunk with plain writes (never
    all in memory, and no map whose dirty pages would count in this process's memory)."""
    rng = np.random.default_rng(1)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
        for start in range(0, n, CHUNK):
            make(rng, min(CHUNK, n - start)).astype("<f8").tofile(fh)


class PeakMemory:
    """The largest sum of resident memory over this process and its children."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peak = 0
        self.running = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        import psutil

        while self.running:
            total = 0
            for proc in [self.me] + self.me.children(recursive=True):
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.02)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def cpu_seconds(fn: Callable[[], object], calls: int, rounds: int = 3) -> float:
    """The fewest CPU seconds (user and system, this process and its children: Dask's
    workers) per call of ``fn`` over ``rounds`` runs of ``calls`` calls (psutil counts in
    clock ticks of 10 ms): what other load does not inflate."""
    import psutil

    me = psutil.Process()

    def used() -> float:
        total = 0.0
        for proc in [me] + me.children(recursive=True):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    best = float("inf")
    for _ in range(rounds):
        begin = used()
        for _ in range(calls):
            fn()
        best = min(best, (used() - begin) / calls)
    return best


def chunk_seconds(f: Any, values: dict[str, Any], paths: dict[str, Path]) -> dict[str, float]:
    """One chunk summed on one thread in this process, as a Dask task sums it (best of 5):
    from fresh memory maps of the files (pages mapped in from the page cache) and from
    the same samples in memory."""
    def mapped() -> object:
        data = {k: np.load(p, mmap_mode="r")[:CHUNK] for k, p in paths.items()}
        return f.sums("grad_sums", {**values, **data}, threads=1)

    held = {k: np.array(np.load(p, mmap_mode="r")[:CHUNK]) for k, p in paths.items()}
    timed = interleaved({"mapped": mapped,
                         "memory": lambda: f.sums("grad_sums", {**values, **held}, threads=1)},
                        rounds=5)
    return {"chunk_mapped": timed["mapped"], "chunk_memory": timed["memory"]}


def dask_part(n: int) -> dict[str, float]:
    """Peak memory over the first Dask run (data written, workers started and compiling);
    then the Dask run and the in-memory C run on the files' first SLICE samples (default
    threads), timed in alternating rounds so that both meet the same load on a shared
    machine; the CPU time of each; one chunk's time on one thread."""
    memory = PeakMemory()
    import distributed

    from symgrad.chunked import read_npy
    from symgrad.compile import compile
    from symgrad.derive import derive
    from symgrad.network import load

    f = compile(derive(load(TWO_NEURON)), backend="c")
    params = {"w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}
    with tempfile.TemporaryDirectory() as folder:
        paths = {"x1": Path(folder) / "x1.npy", "T": Path(folder) / "T.npy"}
        write_npy(paths["x1"], n, lambda rng, k: rng.normal(size=k))
        write_npy(paths["T"], n, lambda rng, k: rng.uniform(size=k))
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            disk = {k: read_npy(p, CHUNK) for k, p in paths.items()}
            f.grad(**disk, **params)
            peak = memory.stop()
            k = min(SLICE, n)  # the same samples, in the same order, in memory
            held = {name: np.array(np.load(p, mmap_mode="r")[:k]) for name, p in paths.items()}
            runs = {"dask": lambda: f.grad(**disk, **params),
                    "c": lambda: f.grad(**held, **params)}
            timed = interleaved(runs, rounds=5)
            cpu = {"dask": cpu_seconds(runs["dask"], max(1, round(2e8 / n))),
                   "c": cpu_seconds(runs["c"], 20)}
        chunk = chunk_seconds(f, params, paths)
    return {"per_sample": timed["dask"] / n, "memory_per_sample": timed["c"] / k,
            "cpu_per_sample": cpu["dask"] / n, "memory_cpu_per_sample": cpu["c"] / k,
            "peak_bytes": peak, "seconds": timed["dask"], "chunks": -(-n // CHUNK), **chunk}


PARTS = {"torch": torch_part, "jax": jax_part, "dask": dask_part}


def child(part: str, n: int) -> dict[str, float] | str:
    """Run one part in a child process; its figures, or why it could not run."""
    proc = subprocess.run([sys.executable, __file__, "--part", part, "--samples", str(n)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=2e8, help="Dask samples (2e8)")
    parser.add_argument("--batch", type=float, default=1e6, help="torch/JAX batch (1e6)")
    parser.add_argument("--only", choices=list(PARTS), help="run this part only")
    parser.add_argument("--part", choices=list(PARTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(PARTS[args.part](int(args.samples))))
        return
    batch, samples = int(args.batch), int(args.samples)
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'measure':<58} {'value':>12} {'target':>8}")
    for lib in ("torch", "jax"):
        if args.only not in (None, lib):
            continue
        got = child(lib, batch)
        if isinstance(got, str):
            print(f"{lib}: not measured ({got})")
            continue
        what = f"{lib}, {batch:.0e} samples, float64, CPU"
        print(f"{what + ': exported fwd+bwd / usual autograd':<58} "
              f"{got['exported'] / got['usual']:>11.2f}x {'<= 1.0x':>8}")
        print(f"{what + ': exported / autograd of its own forward':<58} "
              f"{got['exported'] / got['same_code']:>11.2f}x {'<= 1.0x':>8}")
        print(f"{'   (seconds: exported, usual, own forward)':<58} "
              f"{got['exported']:.4f}, {got['usual']:.4f}, {got['same_code']:.4f}")
    got = child("dask", samples) if args.only in (None, "dask") else "not asked"
    if isinstance(got, str):
        print(f"dask: not measured ({got})")
        return
    dask_rows(got, samples)
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


def dask_rows(got: dict[str, float], samples: int) -> None:
    what = f"dask, {samples:.0e} samples on disk, 2 workers, backend c"
    print(f"{what + ': peak RSS (GB)':<58} {got['peak_bytes'] / 1e9:>12.3f} {'<= 1.0':>8}")
    print(f"{what + ': time/sample vs in-memory c':<58} "
          f"{got['per_sample'] / got['memory_per_sample']:>11.2f}x {'<= 1.5x':>8}")
    print(f"{'   (seconds on disk; ns/sample on disk, in memory)':<58} {got['seconds']:.2f}; "
          f"{got['per_sample'] * 1e9:.2f}, {got['memory_per_sample'] * 1e9:.2f}")
    print(f"{what + ': CPU time/sample vs in-memory c':<58} "
          f"{got['cpu_per_sample'] / got['memory_cpu_per_sample']:>11.2f}x")
    print(f"{'   (CPU ns/sample: on disk, all processes; in memory)':<58} "
          f"{got['cpu_per_sample'] * 1e9:.2f}, {got['memory_cpu_per_sample'] * 1e9:.2f}")
    busy = [got[f"{w}cpu_per_sample"] / got[f"{w}per_sample"] for w in ("", "memory_")]
    print(f"{'   (cores busy, CPU over wall-clock: on disk; in memory)':<58} "
          f"{busy[0]:.2f}; {busy[1]:.2f}")
    mapped, held = got["chunk_mapped"], got["chunk_memory"]
    ideal = got["chunks"] * mapped / 2
    print(f"{f'   (one chunk of {CHUNK:.0e}, one thread: ms mapped, in memory)':<58} "
          f"{mapped * 1e3:.1f}, {held * 1e3:.1f}")
    print(f"{'   (seconds: chunks / 2 workers x mapped; the rest)':<58} "
          f"{ideal:.2f}; {got['seconds'] - ideal:.2f}")

if __name__ == "__main__":
    main()
