"""``symgrad vanishing [--depth L] [--width N] [--activations a,b,c] [--seeds K] [--plot FILE]``.

Prints, per layer, the median size of the gradient at random initialization for each
activation, the symbolic product of slopes with its bound, and a paragraph reading the
numbers; ``--plot`` also draws them (SVG, PDF or PNG by the file's extension).
"""

from __future__ import annotations

import argparse

from tqdm import tqdm

from ..catalogue import get_activation
from ..errors import ArgumentError
from ..files import output_folder
from ..limits import OPTION_LIMITS, check_option
from ..printing import text
from ..analysis.vanishing import FIGURE_FORMATS, factor_product, measure, plot, reading
from ._limits import add_no_limits


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vanishing", help="per-layer gradient sizes of a deep network at "
                                         "initialization (the vanishing gradient)",
                       description="Measure how the gradient shrinks from the output layer "
                                   "back to the input layer of a deep dense network.")
    p.add_argument("--depth", type=int, default=10, help="number of layers (default 10)")
    p.add_argument("--width", type=int, default=32,
                   help="units per layer (default 32; 1 gives a chain of one-unit layers)")
    p.add_argument("--activations", default="sigmoid,tanh,relu",
                   help="comma-separated elementwise activations (default sigmoid,tanh,relu)")
    p.add_argument("--seeds", type=int, default=20,
                   help="random initializations to take the median over (default 20)")
    p.add_argument("--plot", metavar="FILE",
                   help=f"also draw the figure ({', '.join('.' + f for f in FIGURE_FORMATS)})")
    add_no_limits(p, "vanishing")
    p.set_defaults(handler=run)


def _check_sizes(args: argparse.Namespace, activations: int) -> None:
    """At least one layer, unit and seed; at most what :data:`symgrad.limits.
    OPTION_LIMITS` allows (unless ``--no-limits``): the options one at a time, then the
    layers derived and the weights measured."""
    limits = OPTION_LIMITS["vanishing"]
    for name in ("depth", "width", "seeds"):
        value = getattr(args, name)
        if value < 1:
            bounds = "at least 1" if args.no_limits else f"between 1 and {limits[name]}"
            raise ArgumentError(f"--{name} must be {bounds}, got {value}")
    if args.no_limits:
        return
    check_option("vanishing", "depth", args.depth, "layers")
    check_option("vanishing", "width", args.width, "units a layer")
    check_option("vanishing", "seeds", args.seeds, "seeds")
    check_option("vanishing", "derived", activations * args.depth,
                 f"layers derived ({activations} activations × {args.depth} layers)",
                 "--activations × --depth")
    check_option("vanishing", "weights", activations * args.seeds * args.depth * args.width ** 2,
                 f"weights measured ({activations} activation{'s' * (activations != 1)} × "
                 f"{args.seeds} seeds × {args.depth} layers × {args.width}² weights)",
                 "--activations × --seeds × --depth × --width²")


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.activations.split(",") if n.strip()]
    if not names:
        raise ArgumentError("--activations: give at least one activation name")
    names = [get_activation(n).name for n in names]  # an unknown name lists the known ones
    _check_sizes(args, len(names))
    if args.plot is not None and not any(args.plot.lower().endswith("." + f)
                                         for f in FIGURE_FORMATS):
        raise ArgumentError(f"--plot: cannot write '{args.plot}'; use a file ending in "
                            f"{', '.join('.' + f for f in FIGURE_FORMATS)}")
    if args.plot is not None:
        output_folder(args.plot)  # before the measuring, which takes a while
    progress = tqdm(names, desc="deriving and measuring", unit="activation", leave=False,
                    disable=None)  # on a terminal only
    results = [measure(n, args.depth, args.width, seeds=args.seeds) for n in progress]
    shape = "a chain of one-unit layers" if args.width == 1 else f"{args.width} units a layer"
    print(f"median RMS of dE/dW_l at initialization ({args.depth} layers, {shape}, "
          f"{args.seeds} seeds); layer 1 is the input side")
    col = max(10, *(len(n) for n in names))
    print("layer  " + "  ".join(f"{n:>{col}}" for n in names))
    for l in range(args.depth):
        print(f"{l + 1:>5}  " + "  ".join(f"{r.gradient[l]:>{col}.3e}" for r in results))
    print("first/last " + "  ".join(f"{r.ratio:>{col}.2e}" for r in results))
    print()
    print("product of activation slopes over all layers, and its bound:")
    for r in results:
        product, bound = factor_product(r.activation, args.depth)
        print(f"  {r.activation}: {text(product)} <= {text(bound)}   "
              f"(measured: {r.factors[0]:.3e})")
    print()
    print(reading(results))
    if args.plot is not None:
        print(f"\nwrote {plot(results, args.plot)}")
    return 0
