"""Layer types: seconds to derive each one symbolically (target < 2 s each), and one
forward + backward pass of its NumPy kernels against PyTorch CPU autograd (float64, one
thread), as a ratio (below 1: symgrad is faster). The recurrent layer has a second row:
its steps on the C loops (symgrad.native_rnn) that ``symgrad train`` runs when a C
compiler is found (it needs one).

    python benchmarks/bench_layer_types.py
"""

from __future__ import annotations

import os

# one thread each, as PyTorch is set to below: on a shared machine a second BLAS thread
# spins and the per-step products of the recurrent layer measured 5x slower
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

from symgrad.catalogue import LAYER_TYPES, get_layer_type  # noqa: E402
from symgrad.native_rnn import rnn_loops  # noqa: E402

try:
    import torch
except ImportError:  # the table shows the derivation times alone
    torch = None

N, D, T, H = 256, 64, 16, 32
#: Per-sample shapes of the layer types on feature maps (channels first), besides (D,):
#: 4 channels of 64 samples or of 8x8 pixels.
MAPS = {"conv1d": (4, D), "maxpool1d": (4, D), "avgpool1d": (4, D)}
MAPS.update({name: (4, 8, 8) for name in ("conv2d", "maxpool2d", "avgpool2d", "relu",
                                          "flatten")})


def _best(run: Callable[[], Any], rounds: int = 20) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _torch_pass(name: str, x: np.ndarray, params: dict[str, np.ndarray], hyper: dict,
                dy: np.ndarray) -> Callable[[], None]:
    tx = torch.tensor(x, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tdy = torch.tensor(dy)
    mask = torch.tensor(hyper.get("mask", np.ones(1)))
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64) if name == "rnn" else None
    forward = {
        "batchnorm": lambda: torch.nn.functional.batch_norm(
            tx, None, None, tp["gamma"], tp["beta"], training=True, eps=1e-5),
        "dropout": lambda: tx * mask / (1 - hyper["rate"]),
        "softmax": lambda: torch.softmax(tx, dim=1),
        "log_softmax": lambda: torch.log_softmax(tx, dim=1),
        "rnn": lambda: rnn(tx)[1][0],
    }[name]

    def run() -> None:
        tx.grad = None
        forward().backward(tdy)
    return run


def _row(name: str, label: str, rng: np.random.Generator, derive: float,
         extra: dict[str, Any]) -> None:
    """One line: a forward + backward pass of layer type ``name`` (its forward given the
    ``extra`` arguments), and PyTorch's where it has the layer."""
    entry = get_layer_type(name)
    sample = (T, D) if name == "rnn" else MAPS.get(name, (D,))
    hyper = entry.with_defaults({"units": H, "steps": T} if name == "rnn" else {})
    x = rng.normal(size=(N,) + sample)
    params = entry.init(sample, hyper, rng)
    hyper.update({k: draw(x.shape, hyper, rng) for k, draw in entry.inputs.items()})
    dy = rng.normal(size=(N,) + entry.output_shape(sample, hyper))
    ours = _best(lambda: entry.backward(dy, entry.forward(x, params, **hyper, **extra)[1]))
    if torch is None or name not in ("batchnorm", "dropout", "softmax", "log_softmax", "rnn"):
        print(f"{label:<12} {derive:>9.3f} {ours * 1e3:>9.3f}")
        return
    theirs = _best(_torch_pass(name, x, params, hyper, dy))
    print(f"{label:<12} {derive:>9.3f} {ours * 1e3:>9.3f} {theirs * 1e3:>9.3f} "
          f"{ours / theirs:>6.2f}")


def main() -> None:
    torch is not None and torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"{'layer':<12} {'derive s':>9} {'ours ms':>9} {'torch ms':>9} {'ratio':>6}"
          f"   (N = {N}, D = {D}; rnn T = {T}, H = {H})")
    for name in sorted(LAYER_TYPES):
        start = time.perf_counter()
        get_layer_type(name).derivation()
        derive = time.perf_counter() - start
        _row(name, name, rng, derive, {})
        if name == "rnn":  # the C loops symgrad train's stack runs when a compiler is found
            _row(name, "rnn C loops", rng, derive, {"loops": rnn_loops(H)})


if __name__ == "__main__":
    main()
