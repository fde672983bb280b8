"""``symgrad export SPEC [--to numpy|torch|jax] -o FILE.py``: a standalone module of
compiled gradients."""

from __future__ import annotations

import argparse

from ..compile import compile
from ..derive import derive
from ..errors import listed
from ..export import TARGETS, module_source, write_module
from ..network import load
from ._limits import add_no_limits, read_limited
from ._output import refuse_input


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a spec's compiled gradients as a standalone module",
                       description="Write a standalone Python module (NumPy, PyTorch or JAX; "
                                   "no SymPy, no symgrad) with the spec's compiled loss and "
                                   "symbolic gradients.")
    p.add_argument("spec", help="a spec file (TOML), for example derivations/two_neuron.toml")
    p.add_argument("-o", "--output", required=True, metavar="FILE.py",
                   help="the module to write (replaced atomically if it exists)")
    p.add_argument("--to", choices=list(TARGETS), default="numpy",
                   help="; ".join(f"{k}: {v.what}" for k, v in TARGETS.items())
                   + " (default numpy)")
    add_no_limits(p, "export")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    refuse_input("-o", args.output, [("spec", args.spec)])
    net = load(read_limited(args.spec, args, "export"))
    compiled = compile(derive(net))
    path = write_module(args.output, module_source(compiled, args.spec, args.to))
    print(f"wrote {path} ({len(compiled.parameters)} gradients; arguments "
          f"{listed(compiled.arguments)})")
    return 0
