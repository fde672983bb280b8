"""Time per epoch and test accuracy of the digits CNN (derivations/digits_cnn.toml): symgrad's
NumPy convolution and pooling kernels vs the same network in PyTorch CPU.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cnn.py [--repeats 5]

The network: 8x8 image -> conv2d 3x3, zero padding 1, 16 channels -> ReLU -> 2x2 max pool
-> dense 10 -> softmax with mean cross-entropy, minibatch SGD (no momentum), float64 in
both, both starting from the same parameters and visiting the samples in the same order.
One thread each: torch.set_num_threads(1), and OPENBLAS_NUM_THREADS=1 (set here before
NumPy loads unless already set). A row for PyTorch in float32 is printed for reference;
the target (<= 1.0x) is against float64, the same arithmetic.

The symgrad rows: :func:`train_numpy`, a small loop over the catalogue's kernels
(conv_forward/backward, pool_forward/backward) with the dense softmax layer written out,
which leaves out the first layer's input gradient as PyTorch does; and
:func:`train_spec`, the spec's own layer-level kernels, what ``symgrad train`` runs (the
stack of catalogue entries, every layer's input gradient computed).
With ``--keep-freed-memory`` glibc's malloc is told (``mallopt``, for the whole process,
so for PyTorch as for NumPy) to keep freed memory instead of returning it to the system:
each minibatch's arrays of 256 KB are then reused rather than mapped and faulted in anew,
which took the NumPy step from 0.85 to 0.39 ms of CPU time (measured per step).

Each method trains ``--repeats`` times, taking turns; the table shows its fastest epoch
time (training only, shuffling included, accuracy evaluation excluded). Nothing here is a
test: the target is printed as a ratio with "met" or "NOT met".
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.catalogue.conv import (conv_backward, conv_forward, conv_init,  # noqa: E402
                                    pool_backward, pool_forward)
from symgrad.catalogue import get_layer_type  # noqa: E402
from symgrad.datasets import Dataset, load_dataset  # noqa: E402
from symgrad.spec import read_spec  # noqa: E402

SPEC = ROOT / "derivations" / "digits_cnn.toml"


def _network() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The convolution's and the pool's settings and the training settings, from the spec
    (conv2d, relu, maxpool2d, flatten, dense softmax: the loop below is that network)."""
    spec = read_spec(SPEC)
    kinds = [layer.type for layer in spec.network.layers]
    if kinds != ["conv2d", "relu", "maxpool2d", "flatten", "dense"]:
        raise SystemExit(f"{SPEC.name}: expected conv2d, relu, maxpool2d, flatten, dense; "
                         f"got {', '.join(kinds)}")
    conv = get_layer_type("conv2d").with_defaults(spec.network.layers[0].settings)
    pool = get_layer_type("maxpool2d").with_defaults(spec.network.layers[2].settings)
    t = spec.training
    return ({k: v for k, v in conv.items() if k != "in_channels"}, {**pool, "mode": "max"},
            {"learning_rate": t.learning_rate, "epochs": t.epochs, "batch_size": t.batch_size,
             "seed": t.seed})


CONV, POOL, SETTINGS = _network()

Params = dict[str, np.ndarray]


def images(x: np.ndarray) -> np.ndarray:
    """Rows of 64 pixels as (N, 1, 8, 8) images."""
    return np.ascontiguousarray(x.reshape(-1, 1, 8, 8))


def init_params(seed: int) -> Params:
    """He-uniform conv kernel (the catalogue's init), Glorot-uniform dense layer, zero biases."""
    rng = np.random.default_rng(seed)
    conv = conv_init((1, 8, 8), CONV, rng)
    fan_in = CONV["channels"] * 16
    bound = np.sqrt(6.0 / (fan_in + 10))
    return {"W1": conv["W"], "b1": conv["b"],
            "W2": rng.uniform(-bound, bound, (10, fan_in)), "b2": np.zeros(10)}


def _step(p: Params, xb: np.ndarray, yb: np.ndarray, lr: float) -> None:
    """One SGD step on a minibatch: forward, backward through the kernels, update."""
    z1, conv_cache = conv_forward(xb, {"W": p["W1"], "b": p["b1"]}, input_grad=False, **CONV)
    a1 = np.maximum(z1, 0.0)
    h, pool_cache = pool_forward(a1, **POOL)
    flat = h.reshape(len(xb), -1)
    z2 = flat @ p["W2"].T + p["b2"]
    z2 -= z2.max(axis=1, keepdims=True)
    s = np.exp(z2)
    s /= s.sum(axis=1, keepdims=True)
    delta2 = (s - yb) / len(xb)  # softmax with mean cross-entropy
    dh = (delta2 @ p["W2"]).reshape(h.shape)
    p["W2"] -= lr * (delta2.T @ flat)
    p["b2"] -= lr * delta2.sum(axis=0)
    da1 = pool_backward(dh, pool_cache)["x"]
    da1 *= z1 > 0
    grads = conv_backward(da1, conv_cache)
    p["W1"] -= lr * grads["W"]
    p["b1"] -= lr * grads["b"]


def predict_numpy(p: Params, x: np.ndarray) -> np.ndarray:
    z1 = conv_forward(images(x), {"W": p["W1"], "b": p["b1"]}, **CONV)[0]
    h = pool_forward(np.maximum(z1, 0.0), **POOL)[0]
    return (h.reshape(len(x), -1) @ p["W2"].T + p["b2"]).argmax(axis=1)


Clocks = tuple[float, float]
SPEC_ROW = "symgrad train (the spec)"


def _clocks() -> Clocks:
    """Wall time, and the CPU time of this thread: all the work of one-threaded NumPy and
    PyTorch, and what other processes on a shared machine do not add to."""
    return time.perf_counter(), time.thread_time()


def _since(start: Clocks) -> Clocks:
    now = _clocks()
    return now[0] - start[0], now[1] - start[1]


def train_numpy(data: Dataset, params: Params, settings: dict[str, Any]
                ) -> tuple[list[Clocks], Params]:
    """Minibatch SGD with the catalogue's kernels; returns per-epoch times and parameters."""
    p = {k: v.copy() for k, v in params.items()}
    x, y = images(data.x_train), data.y_train
    rng = np.random.default_rng(settings["seed"])
    batch, lr, times = settings["batch_size"], settings["learning_rate"], []
    for _ in range(settings["epochs"]):
        order = rng.permutation(len(x))
        start_time = _clocks()
        xs, ys = x[order], y[order]
        for start in range(0, len(x), batch):
            _step(p, xs[start:start + batch], ys[start:start + batch], lr)
        times.append(_since(start_time))
    return times, p


def build_torch(params: Params, kind: Any) -> Any:
    """The same network in PyTorch, with ``params`` copied in, in dtype ``kind``."""
    import torch
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, CONV["channels"], CONV["kernel"], padding=CONV["padding"]),
        torch.nn.ReLU(), torch.nn.MaxPool2d(POOL["kernel"]), torch.nn.Flatten(),
        torch.nn.Linear(CONV["channels"] * 16, 10)).to(kind)
    with torch.no_grad():
        for module, w, b in ((net[0], "W1", "b1"), (net[4], "W2", "b2")):
            module.weight.copy_(torch.tensor(params[w]))
            module.bias.copy_(torch.tensor(params[b]))
    return net


def train_torch_net(net: Any, data: Dataset, settings: dict[str, Any]) -> list[Clocks]:
    """Minibatch SGD on ``net``, visiting the samples in :func:`train_numpy`'s order."""
    import torch
    kind = next(net.parameters()).dtype
    x = torch.tensor(images(data.x_train), dtype=kind)
    labels = torch.tensor(data.labels_train)
    opt = torch.optim.SGD(net.parameters(), lr=settings["learning_rate"])
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(settings["seed"])
    batch, times = settings["batch_size"], []
    for _ in range(settings["epochs"]):
        order = torch.from_numpy(rng.permutation(len(x)))
        start_time = _clocks()
        xs, ls = x[order], labels[order]
        for start in range(0, len(x), batch):
            opt.zero_grad()
            loss_fn(net(xs[start:start + batch]), ls[start:start + batch]).backward()
            opt.step()
        times.append(_since(start_time))
    return times


def train_torch(data: Dataset, params: Params, settings: dict[str, Any],
                dtype: str = "float64") -> tuple[list[Clocks], Callable[[np.ndarray], np.ndarray]]:
    """The same network, initialization and sample order in PyTorch (one thread)."""
    import torch
    kind = getattr(torch, dtype)
    net = build_torch(params, kind)
    times = train_torch_net(net, data, settings)

    def predict(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.tensor(images(rows), dtype=kind)).argmax(dim=1).numpy()
    return times, predict


def train_spec(data: Dataset, params: Params, settings: dict[str, Any]
               ) -> tuple[list[Clocks], Callable[[np.ndarray], np.ndarray]]:
    """The spec's own layer-level kernels (what ``symgrad train`` runs: the stack of
    catalogue entries, :class:`CompiledStack`), epoch by epoch in :func:`train_numpy`'s
    sample order, timed as the other rows."""
    from symgrad.backends.stack import CompiledStack
    from symgrad.derive.stack import StackDerivation
    compiled = CompiledStack(StackDerivation(read_spec(SPEC)), settings["batch_size"])
    p = {"W1": params["W1"].copy(), "b1": params["b1"].copy(), "W5": params["W2"].copy(),
         "b5": params["b2"].copy()}
    rng = np.random.default_rng(settings["seed"])
    times = []
    for _ in range(settings["epochs"]):
        order = rng.permutation(len(data.x_train))
        start_time = _clocks()
        compiled.sgd_epoch(p, data.x_train, data.y_train, order, settings["batch_size"],
                           settings["learning_rate"])
        times.append(_since(start_time))
    return times, lambda rows: compiled.predict(**p, x=rows)


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float((labels == predicted).mean())


def keep_freed_memory() -> None:
    """glibc's mallopt: no mmap for blocks under 1 GB, no trimming of the heap's top."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3
    for option in (m_trim_threshold, m_mmap_threshold):
        if libc.mallopt(option, 1 << 30) != 1:
            raise OSError(f"mallopt({option}) failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="mallopt: keep freed memory in the process (both methods)")
    args = parser.parse_args()
    if args.keep_freed_memory:
        keep_freed_memory()
    data = load_dataset(read_spec(SPEC))
    settings = {**SETTINGS, "epochs": args.epochs}
    params = init_params(settings["seed"])
    best: dict[str, Clocks] = {}
    acc: dict[str, float] = {}
    methods: tuple[str, ...] = ("symgrad (NumPy kernels)", SPEC_ROW)
    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: its rows are left out")
    else:
        methods += ("PyTorch CPU float64", "PyTorch CPU float32")
    for _ in range(args.repeats):
        for name in methods:
            if name == SPEC_ROW:
                times, predict = train_spec(data, params, settings)
                acc[name] = accuracy(data.labels_test, predict(data.x_test))
            elif name.startswith("symgrad"):
                times, p = train_numpy(data, params, settings)
                acc[name] = accuracy(data.labels_test, predict_numpy(p, data.x_test))
            else:
                times, predict = train_torch(data, params, settings, name.split()[-1])
                acc[name] = accuracy(data.labels_test, predict(data.x_test))
            best[name] = tuple(min([best.get(name, (np.inf, np.inf))[k]] + [t[k] for t in times])
                               for k in (0, 1))
    _table(best, acc, settings, args.keep_freed_memory)


def _table(best: dict[str, Clocks], acc: dict[str, float], settings: dict[str, Any],
           kept: bool) -> None:
    print(f"digits CNN, one epoch (batch {settings['batch_size']}, {settings['epochs']} epochs,"
          f" OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, torch threads 1, "
          f"malloc {'keeping freed memory' if kept else 'defaults'})")
    print("(ratio: the NumPy kernels' time over the row's)")
    print(f"{'method':28s} {'wall ms':>8s} {'ratio':>6s} {'CPU ms':>8s} {'ratio':>6s} "
          f"{'test acc':>9s}")
    mine = best["symgrad (NumPy kernels)"]
    for name, (wall, cpu) in best.items():
        print(f"{name:28s} {wall * 1e3:8.2f} {mine[0] / wall:5.2f}x {cpu * 1e3:8.2f} "
              f"{mine[1] / cpu:5.2f}x {acc[name] * 100:8.2f}%")
    reference = "PyTorch CPU float64"
    if reference in best:
        for row in ("symgrad (NumPy kernels)", SPEC_ROW):
            for k, clock in enumerate(("wall", "CPU")):
                _target(row, clock, best[row][k] / best[reference][k],
                        abs(acc[row] - acc[reference]) * 100)


def _target(row: str, clock: str, ratio: float, gap: float) -> None:
    met = ratio <= 1.0 and gap <= 0.5
    print(f"target ({clock} time): {row} / PyTorch CPU float64 <= 1.0x at test accuracy "
          f"within 0.5 %: {ratio:.2f}x, accuracy gap {gap:.2f} % -> "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
