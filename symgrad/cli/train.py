"""``symgrad train SPEC [--learning-rate R] [--iterations N | --epochs N] [--mode M] ...``.

What it prints depends on the run:

* one batch update: the forward pass (every ``z`` and ``a`` and the loss), each gradient,
  and each parameter's update with the learning rate;
* one or two parameters: a row per iteration with the parameters, the loss, the gradient
  and the step ``-learning_rate * gradient``;
* more parameters: the loss and gradient norm every few iterations, then the final
  parameters.

A diverging run prints one line on stderr and exits with status 1 (status 2 is for bad
input).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..architecture import LEVELS, SCALAR_LIMIT
from ..compile import CompiledNetwork, compile as compile_derivation
from ..derive import derive
from ..errors import DivergenceError
from ..network import Network
from ..printing import NOISE, settled, text
from ..spec import TRAINING_MODES, Spec, read_spec
from ..train import Step, TrainingResult, choose_level, train, write_history_csv
from ..train.budget import SETTINGS, check_training
from . import EXIT_FAIL, EXIT_OK
from ._limits import add_no_limits
from ._output import refuse_input

_MAX_ROWS = 40  # a longer iteration table shows every n-th row (n = 1, 2, 5, 10, 20, 50, ...)
_SUMMARY_ROWS = 20  # rows of the loss table of a network with many parameters


def _number_type(kind: str, convert: Callable[[str], float | int],
                 ok: Callable[[float], bool]) -> Callable[[str], float | int]:
    def parse(raw: str) -> float | int:
        try:
            value = convert(raw)
            finite = math.isfinite(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got '{raw}'") from None
        except OverflowError:  # an integer beyond float64: no count, seed or rate is that
            raise argparse.ArgumentTypeError(f"expected {kind}, got a number of {len(raw):,} "
                                             "digits") from None
        if not (finite and ok(value)):
            raise argparse.ArgumentTypeError(f"expected {kind}, got '{raw}'")
        return value
    return parse


_positive_number = _number_type("a positive number", float, lambda v: v > 0)
_non_negative_number = _number_type("a number of at least 0", float, lambda v: v >= 0)
_positive_integer = _number_type("an integer of at least 1", int, lambda v: v >= 1)
_non_negative_integer = _number_type("an integer of at least 0", int, lambda v: v >= 0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a spec's network by gradient descent",
                       description="Train a spec's network by gradient descent. Settings not "
                                   "given here come from the spec's [training] table.")
    p.add_argument("spec", help="a spec file (TOML), for example derivations/linear_cost.toml")
    p.add_argument("--learning-rate", type=_positive_number, metavar="RATE",
                   help="step size of each update")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--iterations", type=_positive_integer, metavar="N",
                        help="number of updates")
    length.add_argument("--epochs", type=_positive_integer, metavar="N",
                        help="number of passes over the data")
    p.add_argument("--mode", choices=TRAINING_MODES,
                   help="gradient of all samples (batch), of batches, or of one sample")
    p.add_argument("--batch-size", type=_positive_integer, metavar="N",
                   help="samples per update in minibatch mode")
    p.add_argument("--tolerance", type=_non_negative_number, metavar="TOL",
                   help="stop once the gradient norm is at most TOL")
    p.add_argument("--seed", type=_non_negative_integer, metavar="N",
                   help="seeds the batch order, and the initial parameters if the spec "
                        "gives none")
    p.add_argument("--history", type=Path, metavar="FILE.csv",
                   help="write every iteration's parameters, loss and gradients as CSV")
    p.add_argument("--level", choices=LEVELS, default="auto",
                   help="scalar: one compiled gradient per parameter; layer: matrix kernels "
                        "over minibatches; auto (default): layer for a named data set or "
                        f"above {SCALAR_LIMIT} parameters")
    p.add_argument("--quiet", action="store_true",
                   help="print only the outcome: no table, no progress bar")
    add_no_limits(p, "train")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.history is not None:
        refuse_input("--history", args.history, [("spec", args.spec)])
    spec = read_spec(args.spec)
    if not args.no_limits:  # the sizes, then the work of the run, before any of it
        check_training(spec, level=args.level, **{k: getattr(args, k) for k in SETTINGS})
    if choose_level(spec, args.level) == "layer":  # a named data set, or a large network
        from ._train_layers import train_layers
        return train_layers(spec, args)
    return _train_network(spec, args)


def _train_network(spec: Spec, args: argparse.Namespace) -> int:
    """Gradient descent on the network and the data values the spec gives."""
    net = Network.from_spec(spec)
    f = compile_derivation(derive(net))
    try:
        result = train(net, level="scalar", learning_rate=args.learning_rate, iterations=args.iterations,
                       epochs=args.epochs, batch_size=args.batch_size, mode=args.mode,
                       tolerance=args.tolerance, seed=args.seed,
                       progress=False if args.quiet else None, compiled=f)
    except DivergenceError as exc:
        if args.history is not None and exc.history:
            write_history_csv(exc.history, args.history, net.loss.symbol)  # type: ignore[arg-type]
        print(f"symgrad train: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if args.history is not None:
        result.to_csv(args.history)
    if args.quiet:
        print(_outcome(net, result))
    elif len(result.history) == 2 and result.mode == "batch":
        print(_one_step(net, f, result))
    else:
        print(_iterations(net, result))
    return EXIT_OK


# -- rendering ------------------------------------------------------------------------------


def _ordinal(n: int) -> str:
    """``2nd``, ``5th``, ``21st``, ``112th``: English ordinals of the table's strides.

    >>> [_ordinal(n) for n in (1, 2, 3, 5, 11, 12, 21, 22, 50, 102, 113)]
    ['1st', '2nd', '3rd', '5th', '11th', '12th', '21st', '22nd', '50th', '102nd', '113th']
    """
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _num(value: float, digits: int = 10) -> str:
    return f"{value:.{digits}g}" if value != 0 else "0"  # -0.0 prints as 0


def _bracketed(value: float) -> str:
    """A number as a factor: ``(-0.0226)`` in brackets when negative."""
    return f"({_num(value)})" if value < 0 else _num(value)


def _values(value: object) -> str:
    """A number, or the samples of an array (the first and last few of a long one)."""
    arr = np.ravel(np.asarray(value, dtype=np.float64))
    if arr.size == 1:
        return _num(float(arr[0]))
    shown = [_num(float(v)) for v in arr]
    if arr.size > 6:
        shown = shown[:3] + ["..."] + shown[-2:]
    return "[" + ", ".join(shown) + "]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def _heading(net: Network, result: TrainingResult) -> str:
    spec = net.spec
    name = f"{spec.path} ({spec.title})" if spec is not None and spec.title else \
        (spec.path if spec is not None else repr(net))
    batch = f", batches of {result.batch_size}" if result.mode == "minibatch" else ""
    return (f"gradient descent on {name}\n{result.mode} mode{batch}, learning rate "
            f"{result.learning_rate:g}, {result.samples} sample"
            f"{'s' * (result.samples != 1)}")


def _outcome(net: Network, result: TrainingResult) -> str:
    symbol = net.loss.symbol
    params = "\n".join(f"  {n} = {_num(v)}" for n, v in result.params.items())
    return (f"{result.reason}\nfinal {symbol} = {_num(result.loss)}\n"
            f"final parameters:\n{params}")


def _one_step(net: Network, f: CompiledNetwork, result: TrainingResult) -> str:
    start, end = result.history
    symbol = net.loss.symbol
    data = {str(s): net.values[str(s)] for s in net.inputs + net.targets}
    forward = f.forward(**start.params, **data)
    symbols = [s for layer in net.layers
               for s in (layer.pre + (layer.post if layer.activation is not None else ()))]
    width = max(len(str(s)) for s in symbols + [net.loss_symbol])
    lines = [_heading(net, result), "",
             "forward pass at " + ", ".join(f"{k} = {_values(v)}" for k, v in data.items())
             + ":"]
    lines += [f"  {str(s).ljust(width)} = {text(net.equations[s])} = {_values(forward[str(s)])}"
              for s in symbols]
    title = net.loss.title[0].lower() + net.loss.title[1:]
    how = "summed" if net.loss.reduction == "sum" else "averaged"
    lines.append(f"  {symbol.ljust(width)} = {_num(start.loss)}   ({title}, {how} over samples)")
    lines += ["", "gradients:"]
    lines += [f"  d{symbol}/d{n} = {_num(g)}" for n, g in start.grads.items()]
    rate = _num(result.learning_rate)
    lines += ["", f"update, p <- p - {rate} * d{symbol}/dp:"]
    shown = {n: settled(end.params[n], v, result.learning_rate * start.grads[n])
             for n, v in start.params.items()}
    lines += [f"  {n} = {_num(v)} - {rate} * {_bracketed(start.grads[n])} = {_num(shown[n])}"
              for n, v in start.params.items()]
    if any(shown[n] != end.params[n] and end.params[n] != 0 for n in shown):
        lines.append(f"  (a new value below {NOISE:g} times its terms is rounding noise: "
                     "shown as 0)")
    lines += ["", f"{symbol} after the update: {_num(end.loss)} (before: {_num(start.loss)})"]
    return "\n".join(lines)


def _stride(count: int, rows: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that shows ``count`` items in ``rows`` rows."""
    stride, steps = 1, (2, 2.5, 2)
    i = 0
    while math.ceil(count / stride) > rows:
        stride = int(stride * steps[i % 3])
        i += 1
    return stride


def _shown(history: list[Step], rows: int) -> tuple[list[Step], int]:
    stride = _stride(len(history), rows)
    picked = [s for s in history if s.iteration % stride == 0]
    if picked[-1] is not history[-1]:
        picked.append(history[-1])
    return picked, stride


def _iterations(net: Network, result: TrainingResult) -> str:
    symbol = net.loss.symbol
    names = list(result.params)
    few = len(names) <= 2
    picked, stride = _shown(result.history, _MAX_ROWS if few else _SUMMARY_ROWS)
    last = result.history[-1]
    if few:
        loss = f"{symbol}({names[0]}_i)" if len(names) == 1 else symbol
        header = ["i", *(f"{n}_i" for n in names), loss, *(f"d{symbol}/d{n}" for n in names),
                  *(["step"] if len(names) == 1 else [f"step {n}" for n in names])]
        rows = [[str(s.iteration), *(_num(s.params[n]) for n in names), _num(s.loss, 6),
                 *(_num(s.grads[n], 6) for n in names),
                 *(("" if s is last else _num(-result.learning_rate * s.grads[n], 6))
                   for n in names)] for s in picked]
        note = f"step = -{result.learning_rate:g} * d{symbol}/d{names[0]}" if len(names) == 1 \
            else f"step = -{result.learning_rate:g} * gradient"
    else:
        header = ["i", symbol, "gradient norm"]
        rows = [[str(s.iteration), _num(s.loss, 8), _num(s.grad_norm, 4)] for s in picked]
        note = ""
    if stride > 1:
        note = ", ".join(filter(None, [note, f"every {_ordinal(stride)} iteration shown"]))
    parts = [_heading(net, result), ""]
    parts += [f"({note})", _table(header, rows), "", result.reason] if note else \
        [_table(header, rows), "", result.reason]
    if few:
        parts.append("final: " + ", ".join(f"{n} = {_num(last.params[n])}" for n in names)
                     + f", {symbol} = {_num(last.loss)}")
    else:
        parts += [f"final {symbol} = {_num(last.loss)}", "final parameters:"]
        parts += [f"  {n} = {_num(v)}" for n, v in last.params.items()]
    return "\n".join(parts)
