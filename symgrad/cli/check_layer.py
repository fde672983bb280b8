"""``symgrad check-layer FILE.py:FUNCTION --layer NAME [--shape N=8,D=5] [--forward F]``.

Exit status: 0 when every output matches symgrad's, 1 when one differs (the message says
what is wrong with it), 2 on bad input or when the user's code raises, returns the wrong
number of arrays, wrong shapes or NaN (its traceback first, then one line naming the
call).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from ..errors import ArgumentError, LayerCodeError
from ..limits import check_option
from . import EXIT_FAIL, EXIT_OK
from ._limits import add_no_limits

_PACKAGE = Path(__file__).resolve().parents[1]


def register(sub: argparse._SubParsersAction) -> None:
    from ..check.layer_calls import CONVENTIONS

    layers = ", ".join(sorted({n for n, _ in CONVENTIONS}))
    p = sub.add_parser(
        "check-layer", help="check your NumPy layer's backward pass against symgrad's",
        description="Call your layer's backward function (and its forward) on random data "
                    "and compare every output with symgrad's gradients; for an output that "
                    "differs, say which matrix-form mistake explains it. FILE.py is loaded "
                    "and run as a Python module: it is your own code, run with your rights, "
                    "so check only files you trust.",
        epilog=f"layers: {layers}. exit status: 0 when every output matches, 1 when one "
               "differs, 2 on bad input or when your function raises, returns the wrong "
               "number of arrays, wrong shapes or NaN")
    p.add_argument("target", metavar="FILE.py:FUNCTION",
                   help="your file and the backward function in it, e.g. "
                        "my_layers.py:batchnorm_backward (for softmax_loss, the loss "
                        "function)")
    p.add_argument("--layer", required=True, help="the layer type, e.g. batchnorm")
    p.add_argument("--forward", metavar="FUNCTION",
                   help="the forward function in FILE.py (default: the backward's name with "
                        "_backward replaced by _forward, when FILE.py has it)")
    p.add_argument("--shape", metavar="N=8,D=5", default="",
                   help="sizes of the layer's dimensions (the others keep their defaults)")
    p.add_argument("--hyper", metavar="stride=2,pad=1", default="",
                   help="the layer's settings (conv: stride, pad; pooling: pool_height, "
                        "pool_width, stride; dropout: p, the probability of keeping; "
                        "batchnorm: eps)")
    p.add_argument("--layout", choices=("rows", "columns"), default="rows",
                   help="samples as rows (default) or as columns, where the layer offers it")
    p.add_argument("--seed", type=int, default=0, help="seed of the random data")
    add_no_limits(p, "check-layer")
    p.set_defaults(handler=run)


def _pairs(text: str, option: str, example: str) -> dict[str, float]:
    """``N=8,D=5`` as ``{"N": 8, "D": 5}`` (a float where the value has a point)."""
    found: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, eq, value = (t.strip() for t in item.partition("="))
        try:
            number = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            number = None
        if not eq or not name.isidentifier() or number is None:
            raise ArgumentError(f"{option}: expected NAME=VALUE items such as {example}, "
                                f"got {item!r}")
        found[name] = number
    return found


def _load(path: Path) -> ModuleType:
    """The user's file run as a module (on purpose: it is their code they asked to check)."""
    if path.suffix != ".py" or not path.is_file():
        raise ArgumentError(f"{path}: not a Python file (expected FILE.py:FUNCTION)")
    spec = importlib.util.spec_from_file_location(f"_symgrad_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ArgumentError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: shown as theirs
        raise LayerCodeError(f"loading {path} raised {type(exc).__name__}: {exc}",
                             call=f"import {path}") from exc
    return module


def _function(module: ModuleType, name: str, path: Path) -> Callable[..., Any]:
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ArgumentError(f"{path} has no function {name!r}")
    return fn


def _show_user_traceback(exc: LayerCodeError) -> None:
    """The user's exception with their frames only (symgrad's frames left out)."""
    cause = exc.__cause__
    if cause is None:
        return
    tb = traceback.TracebackException.from_exception(cause)
    tb.stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not Path(f.filename).resolve().is_relative_to(_PACKAGE)])
    sys.stderr.write("".join(tb.format()))


def run(args: argparse.Namespace) -> int:
    from ..check.layer_check import check_layer

    file, colon, name = args.target.rpartition(":")
    if not colon or not file or not name.isidentifier():
        raise ArgumentError(f"expected FILE.py:FUNCTION, got {args.target!r}")
    dims = _pairs(args.shape, "--shape", "N=8,D=5")
    hyper = _pairs(args.hyper, "--hyper", "stride=2,pad=1")
    if args.seed < 0:
        raise ArgumentError(f"--seed must be at least 0, got {args.seed}")
    if not args.no_limits:  # before the user's code is even loaded
        check_option("check-layer", "shape", math.prod(dims.values()),
                     f"elements ({' × '.join(f'{k}={v}' for k, v in dims.items())})")
        for key, value in hyper.items():
            check_option("check-layer", "hyper", value, key, f"--hyper {key}")
    path = Path(file)
    try:
        module = _load(path)
        backward = _function(module, name, path)
        forward_name = args.forward or (name.replace("_backward", "_forward")
                                        if "_backward" in name else None)
        forward = None
        if args.forward or (forward_name and callable(getattr(module, forward_name, None))):
            forward = _function(module, forward_name or "", path)
        report = check_layer(backward, args.layer, forward=forward,
                             dims=dims, hyper=hyper,
                             layout=args.layout, seed=args.seed)
    except LayerCodeError as exc:
        _show_user_traceback(exc)
        raise
    if report.failed:
        print(report.message())
        return EXIT_FAIL
    dims = ", ".join(f"{k}={v}" for k, v in report.dims.items())
    print(f"{report.label} matches symgrad's {report.layer} "
          f"({', '.join(c.name for c in report.checks)}; {dims}, seed {report.seed})")
    return EXIT_OK
