"""``symgrad train`` for a spec that names a data set: minibatch SGD on the layer-level
gradients (:func:`symgrad.train.fit`), a progress bar per epoch on a terminal, the loss
every few epochs, and the final train and test accuracy."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from ..errors import ArgumentError, DivergenceError
from ..train import fit
from ..spec import Spec
from . import EXIT_FAIL, EXIT_OK

_ROWS = 10  # loss rows printed (every n-th epoch, and the last)


def train_dataset(spec: Spec, args: argparse.Namespace) -> int:
    """Train ``spec`` on its data set with the command line's settings; print the result."""
    for option, name in (("iterations", "--iterations"), ("tolerance", "--tolerance"),
                         ("history", "--history")):
        if getattr(args, option, None) is not None:
            raise ArgumentError(f"{name} does not apply to a spec with a data set "
                                f"([data] source = \"{spec.data.source}\"); it trains by epochs")
    quiet = bool(getattr(args, "quiet", False))
    epochs = args.epochs if args.epochs is not None else spec.training.epochs
    bars: list[tqdm] = []  # made at the first epoch's end, so loading the data is not timed

    def progress(epoch: int, loss: float) -> None:
        if not bars:
            bars.append(tqdm(total=epochs, unit="epoch", desc="training", leave=False,
                             file=sys.stderr, disable=quiet or not sys.stderr.isatty()))
        bars[0].set_postfix(loss=f"{loss:.4f}", refresh=False)
        bars[0].update(1)

    try:
        result = fit(spec, epochs=args.epochs, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, seed=args.seed, mode=args.mode,
                     progress=progress)
    except DivergenceError as exc:
        print(f"symgrad train: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        for bar in bars:
            bar.close()
    d = result.derivation
    shape = " -> ".join([str(d.sizes[0])] + [f"{s.units} {s.label}" for s in d.shapes])
    method = {"batch": "batch gradient descent", "minibatch": "minibatch SGD",
              "stochastic": "stochastic gradient descent"}[result.mode]
    lines = [f"{method} on {spec.path} ({spec.title})",
             f"{shape}, loss {d.loss.name}; learning rate {result.learning_rate:g}, batch "
             f"{result.batch_size}, {result.epochs} epochs; layer-level gradients",
             f"derivation and compilation {result.setup_seconds:.2f} s, "
             f"{result.seconds_per_epoch * 1e3:.2f} ms an epoch"]
    if not quiet:
        step = max(1, -(-result.epochs // _ROWS))
        lines.append("epoch  mean loss")
        for epoch in range(result.epochs):
            if (epoch + 1) % step == 0 or epoch == 0 or epoch + 1 == result.epochs:
                lines.append(f"{epoch + 1:>5}  {result.history[epoch]:.6f}")
    lines += [f"train accuracy: {result.train_accuracy:.2%}",
              f"test accuracy:  {result.test_accuracy:.2%}"]
    print("\n".join(lines))
    return EXIT_OK
