"""Time per epoch and test accuracy on the digits network (64-32-10, sigmoid, softmax, cce):
symgrad's layer-level SGD vs hand-written NumPy backprop vs PyTorch CPU vs scikit-learn's
MLPClassifier, all in float64 with the spec's settings (minibatch SGD, no momentum, no
weight decay), plus the time to derive and compile the symgrad network.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_digits.py [--repeats 15]
          [--spec derivations/digits_mlp.toml]

Each method trains ``--repeats`` times from the same start, the methods taking turns. Every
epoch is timed (shuffling included, accuracy evaluation excluded) on two clocks: the wall
clock, and the CPU time of the training thread, which other work on a shared machine does
not add to (it only slows it through shared caches). The table shows each method's median
epoch on each clock over all its runs (750 epochs at the defaults): steadier than the
fastest epoch on a loaded machine, and free of PyTorch's slow first epochs; the ratios are
the row's time over symgrad's. scikit-learn trains in one call: its epoch is that call's time
divided by the epochs.
Everything runs on one thread, so that the thread's CPU time is all the work: NumPy's BLAS
(OPENBLAS_NUM_THREADS=1, set here before NumPy loads unless already set) and PyTorch
(``--torch-threads``; at these sizes intra-op threads only add synchronization).
symgrad, NumPy and PyTorch start from the same initial parameters and visit the samples
in the same order; MLPClassifier uses its own initialization and shuffling (it offers no
way to set them). PyTorch is optional: without it its row says so. Nothing here is a
test: the targets are printed as ratios with "met" or "NOT met".
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.datasets import Dataset, load_dataset  # noqa: E402
from symgrad.backends import CompiledLayers  # noqa: E402
from symgrad.derive import LayerDerivation  # noqa: E402
from symgrad.train import train  # noqa: E402
from symgrad.spec import read_spec  # noqa: E402

Clocks = tuple[float, float]  # wall time and this thread's CPU time, in seconds


def _clocks() -> Clocks:
    return time.perf_counter(), time.thread_time()


def _since(start: Clocks) -> Clocks:
    now = _clocks()
    return now[0] - start[0], now[1] - start[1]


def hand_numpy(data: Dataset, params: dict[str, np.ndarray], epochs: int, batch: int,
               lr: float, seed: int, hidden: str = "sigmoid"
               ) -> tuple[list[Clocks], dict[str, np.ndarray]]:
    """Textbook minibatch backprop for sigmoid (or ReLU) -> softmax + mean cross-entropy."""
    relu = hidden == "relu"
    W1, b1, W2, b2 = (params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    X, Y = data.x_train, data.y_train
    n = len(X)
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(epochs):
        order = rng.permutation(n)
        t0 = _clocks()
        Xs, Ys = X[order], Y[order]
        total = 0.0
        for start in range(0, n, batch):
            xb, yb = Xs[start:start + batch], Ys[start:start + batch]
            m = len(xb)
            z1 = xb @ W1.T + b1
            a1 = np.maximum(z1, 0.0) if relu else 1.0 / (1.0 + np.exp(-z1))
            z2 = a1 @ W2.T + b2
            z2 -= z2.max(axis=1, keepdims=True)
            e = np.exp(z2)
            se = e.sum(axis=1, keepdims=True)
            total += (np.log(se).sum() - np.vdot(yb, z2)) / m
            d2 = (e / se - yb) / m
            d1 = (d2 @ W2) * (z1 > 0) if relu else (d2 @ W2) * a1 * (1.0 - a1)
            W2 -= lr * (d2.T @ a1)
            b2 -= lr * d2.sum(axis=0)
            W1 -= lr * (d1.T @ xb)
            b1 -= lr * d1.sum(axis=0)
        times.append(_since(t0))
    return times, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def numpy_accuracy(p: dict[str, np.ndarray], X: np.ndarray, labels: np.ndarray,
                   hidden: str = "sigmoid") -> float:
    z1 = X @ p["W1"].T + p["b1"]
    a1 = np.maximum(z1, 0.0) if hidden == "relu" else 1.0 / (1.0 + np.exp(-z1))
    return float(np.mean(np.argmax(a1 @ p["W2"].T + p["b2"], axis=1) == labels))


def pytorch(data: Dataset, params: dict[str, np.ndarray], epochs: int, batch: int, lr: float,
            seed: int, threads: int, hidden: str = "sigmoid") -> tuple[list[Clocks], float, str]:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    n0, n1 = params["W1"].shape[1], params["W1"].shape[0]
    n2 = params["W2"].shape[0]
    model = nn.Sequential(nn.Linear(n0, n1), nn.ReLU() if hidden == "relu" else nn.Sigmoid(),
                          nn.Linear(n1, n2)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(params["W1"]))
        model[0].bias.copy_(torch.from_numpy(params["b1"]))
        model[2].weight.copy_(torch.from_numpy(params["W2"]))
        model[2].bias.copy_(torch.from_numpy(params["b2"]))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    X = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.labels_train.astype(np.int64))
    n = len(X)
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        t0 = _clocks()
        Xs, ys = X[order], y[order]
        for start in range(0, n, batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xs[start:start + batch]), ys[start:start + batch])
            loss.backward()
            opt.step()
        times.append(_since(t0))
    with torch.no_grad():
        pred = model(torch.from_numpy(data.x_test)).argmax(dim=1).numpy()
    return times, float(np.mean(pred == data.labels_test)), \
        f"PyTorch {torch.__version__} CPU ({threads} thread{'s' if threads != 1 else ''})"


def sklearn_mlp(data: Dataset, epochs: int, batch: int, lr: float, seed: int,
                hidden: str = "sigmoid", units: int = 32) -> tuple[list[Clocks], float, str]:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(units,),
                        activation="relu" if hidden == "relu" else "logistic", solver="sgd",
                        learning_rate="constant", learning_rate_init=lr, batch_size=batch,
                        max_iter=epochs, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                        shuffle=True, random_state=seed, tol=0.0, n_iter_no_change=epochs + 1,
                        early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = _clocks()
        clf.fit(data.x_train, data.labels_train)
        total = _since(t0)
    if clf.n_iter_ != epochs:
        raise RuntimeError(f"MLPClassifier ran {clf.n_iter_} epochs, not {epochs}")
    return [(total[0] / epochs, total[1] / epochs)], \
        float(clf.score(data.x_test, data.labels_test)), \
        f"scikit-learn {sklearn.__version__} MLPClassifier"


def median(epochs: list[Clocks]) -> Clocks:
    """The median epoch on each clock."""
    return float(np.median([e[0] for e in epochs])), float(np.median([e[1] for e in epochs]))


NAMES = {"symgrad": "symgrad (layer-level, compiled)", "numpy": "hand-written NumPy backprop",
         "torch": "PyTorch (not installed)", "sklearn": "scikit-learn MLPClassifier (sgd)"}


def _runs(spec: object, data: Dataset, params: dict[str, np.ndarray], settings: tuple,
          hidden: str, units: int, repeats: int, threads: int
          ) -> tuple[dict[str, list[Clocks]], dict[str, float], dict[str, str]]:
    """Every method's epoch times over ``repeats`` runs, the methods taking turns run after
    run so that load from other work on the machine falls on all of them alike; and each
    method's test accuracy (of its last run: the same in every run but scikit-learn's)."""
    epochs, batch, lr, seed = settings
    epoch_times: dict[str, list[Clocks]] = {k: [] for k in NAMES}
    acc: dict[str, float] = {}
    names = dict(NAMES)
    have_torch = True
    for _ in range(repeats):
        r = train(spec, data=data, progress=False)
        epoch_times["symgrad"] += zip(r.seconds.tolist(), r.cpu_seconds.tolist())
        acc["symgrad"] = r.accuracy["test"]
        times, final = hand_numpy(data, params, epochs, batch, lr, seed, hidden)
        epoch_times["numpy"] += times
        acc["numpy"] = numpy_accuracy(final, data.x_test, data.labels_test, hidden)
        if have_torch:
            try:
                times, acc["torch"], names["torch"] = pytorch(data, params, epochs, batch, lr,
                                                              seed, threads, hidden)
                epoch_times["torch"] += times
            except ImportError:
                have_torch = False
        times, acc["sklearn"], label = sklearn_mlp(data, epochs, batch, lr, seed, hidden, units)
        names["sklearn"] = label + " (sgd)"
        epoch_times["sklearn"] += times
    return epoch_times, acc, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "derivations" / "digits_mlp.toml"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()

    t0 = time.perf_counter()
    spec = read_spec(args.spec)
    t1 = time.perf_counter()
    derivation = LayerDerivation(spec)
    t2 = time.perf_counter()
    t = spec.training
    CompiledLayers(derivation, t.batch_size)
    t3 = time.perf_counter()
    data = load_dataset(spec)
    settings = (int(t.epochs or 0), int(t.batch_size or 0), float(t.learning_rate or 0), t.seed)
    hidden = derivation.shapes[0].label
    if len(derivation.shapes) != 2 or hidden not in ("sigmoid", "relu") \
            or derivation.shapes[1].label != "softmax" or derivation.loss.name != "cce":
        parser.error("the comparison implementations cover one sigmoid or relu hidden layer, "
                     "a softmax output and loss cce")
    epoch_times, acc, names = _runs(spec, data, derivation.initial_parameters(t.seed),
                                    settings, hidden, derivation.sizes[1], args.repeats,
                                    args.torch_threads)
    rows = {k: median(v) for k, v in epoch_times.items() if v}
    epochs, batch, lr, _ = settings
    print(f"digits {' -> '.join(map(str, derivation.sizes))} ({spec.network.layers[0].activation}"
          f" hidden, softmax, cce); minibatch SGD, learning rate {lr:g}, batch {batch}, "
          f"{epochs} epochs; {len(data.x_train)} train / {len(data.x_test)} test samples; "
          f"float64")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}; time per epoch = the median of "
          f"{args.repeats} runs x {epochs} epochs, on each clock")
    _table(rows, acc, names)
    print(f"derivation + compilation: {t3 - t0:.3f} s (read spec {t1 - t0:.3f} s, layer-level "
          f"derivation {t2 - t1:.3f} s, compilation {t3 - t2:.4f} s)")
    print()
    _targets(rows, acc, t3 - t0)


def _table(rows: dict[str, Clocks], acc: dict[str, float], names: dict[str, str]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} (after the runs)")
    print()
    base = rows["symgrad"]
    header = (f"{'method':<44} {'wall ms':>8} {'x symgrad':>10} {'CPU ms':>8} {'x symgrad':>10} "
              f"{'test acc':>9} {'acc diff':>9}")
    print(header)
    print("-" * len(header))
    for key in NAMES:
        if key not in rows:
            print(f"{names[key]:<44} {'-':>8} {'-':>10} {'-':>8} {'-':>10} {'-':>9} {'-':>9}")
            continue
        (wall, cpu), a = rows[key], acc[key]
        print(f"{names[key]:<44} {wall * 1e3:>8.3f} {wall / base[0]:>9.2f}x {cpu * 1e3:>8.3f} "
              f"{cpu / base[1]:>9.2f}x {a:>8.2%} {(a - acc['symgrad']) * 100:>+8.2f}")
    print()


def _targets(rows: dict[str, Clocks], acc: dict[str, float], setup: float) -> None:
    def target(label: str, ratio: float, ok: bool) -> None:
        print(f"  {label:<58} {ratio:>7.2f}x  {'met' if ok else 'NOT met'}")

    print("targets:")
    base = rows["symgrad"]
    for k, clock in enumerate(("wall", "CPU")):
        ratio = base[k] / rows["numpy"][k]
        target(f"symgrad time / hand NumPy time, {clock} (<= 1.1)", ratio, ratio <= 1.1)
    for key, label in (("torch", "PyTorch"), ("sklearn", "MLPClassifier")):
        if key in rows:
            for k, clock in enumerate(("wall", "CPU")):
                ratio = rows[key][k] / base[k]
                target(f"{label} time / symgrad time, {clock} (>= 3)", ratio, ratio >= 3)
    worst = max(abs(a - acc["symgrad"]) for a in acc.values())
    print(f"  {'largest accuracy difference to symgrad (<= 1 point)':<58} {worst * 100:>6.2f}pt"
          f"  {'met' if worst <= 0.01 else 'NOT met'}")
    print(f"  {'derivation + compilation (< 2 s)':<58} {setup:>7.3f}s  "
          f"{'met' if setup < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
