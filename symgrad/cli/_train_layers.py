"""``symgrad train`` at the layer level (a named data set, or a large network): the loop
of :func:`symgrad.train` on the layer level's minibatch kernels, a progress bar per epoch
on a terminal, the whole-data loss every few epochs, and the accuracy where the data have
classes."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from ..errors import ArgumentError, DivergenceError
from ..spec import Spec
from ..train import Step, train
from . import EXIT_FAIL, EXIT_OK

_ROWS = 10  # loss rows printed (every n-th record, the first and the last)
_METHODS = {"batch": "batch gradient descent", "minibatch": "minibatch SGD",
            "stochastic": "stochastic gradient descent"}


def train_layers(spec: Spec, args: argparse.Namespace) -> int:
    """Train ``spec`` at the layer level with the command line's settings; print the
    result."""
    if getattr(args, "history", None) is not None:
        raise ArgumentError("--history writes one column per parameter; it applies at the "
                            "scalar level (--level scalar), not to matrices of weights")
    quiet = bool(getattr(args, "quiet", False))
    bars: list[tqdm] = []  # made at the first record, so loading the data is not timed

    def progress(step: Step) -> None:
        if not bars:
            bars.append(tqdm(unit="it", desc="training", leave=False, file=sys.stderr,
                             disable=quiet or not sys.stderr.isatty()))
        bars[0].set_postfix(loss=f"{step.loss:.4f}", refresh=False)
        bars[0].update(step.iteration - bars[0].n)

    try:
        result = train(spec, level="layer", learning_rate=args.learning_rate,
                       iterations=args.iterations, epochs=args.epochs,
                       batch_size=args.batch_size, mode=args.mode, tolerance=args.tolerance,
                       seed=args.seed, progress=progress)
    except DivergenceError as exc:
        print(f"symgrad train: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        for bar in bars:
            bar.close()
    d = result.derivation
    shape = d.shape_text()
    per_epoch = -(-result.samples // result.batch_size)
    length = (f"{result.epochs} epochs" if result.epochs is not None
              else f"{result.iterations} iterations")
    lines = [f"{_METHODS[result.mode]} on {spec.path} ({spec.title})",
             f"{shape}, loss {d.loss.name}; learning rate {result.learning_rate:g}, batch "
             f"{result.batch_size}, {length}; layer-level gradients",
             f"derivation and compilation {result.setup_seconds:.2f} s, "
             f"{result.seconds_per_epoch * 1e3:.2f} ms an epoch", result.reason]
    if not quiet:
        every = max(1, -(-(len(result.history) - 1) // _ROWS))
        lines.append(f"epoch  iteration  {result.loss_symbol} "
                     f"(all {result.samples:,} training samples)")
        for n, step in enumerate(result.history):
            if n % every == 0 or n == len(result.history) - 1:
                lines.append(f"{step.iteration / per_epoch:>5g}  {step.iteration:>9}  "
                             f"{step.loss:.6f}")
    lines += [f"{name} accuracy: {' ' * (5 - len(name))}{value:.2%}"
              for name, value in result.accuracy.items()]
    print("\n".join(lines))
    return EXIT_OK
