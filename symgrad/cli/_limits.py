"""``--no-limits`` and the checked read of a spec, for every command that takes one."""

from __future__ import annotations

import argparse

from ..limits import LIMITS, NO_LIMITS_FLAG, OPTION_LIMITS, check_limits
from ..spec import Spec, read_spec


def add_no_limits(parser: argparse.ArgumentParser, command: str) -> None:
    """The flag that lifts ``command``'s :data:`symgrad.limits.LIMITS` (or its
    :data:`~symgrad.limits.OPTION_LIMITS`), its help naming them."""
    if command in LIMITS:
        limits = LIMITS[command]
        what = (f"a spec of any size (without it: at most {limits.units:,} units a layer, "
                f"{limits.parameters:,} parameters, {limits.samples:,} samples")
    else:
        what = "any size (without it: at most " + ", ".join(
            f"{most:,} {name}" for name, most in OPTION_LIMITS[command].items())
    parser.add_argument(NO_LIMITS_FLAG, action="store_true", dest="no_limits",
                        help=f"take {what}; see the README's Security section)")


def read_limited(path: str, args: argparse.Namespace, command: str) -> Spec:
    """The spec at ``path``, refused (before any work) if it is beyond ``command``'s
    limits, unless ``--no-limits`` was given."""
    spec = read_spec(path)
    if not args.no_limits:
        check_limits(spec, command, iterations=getattr(args, "iterations", None),
                     epochs=getattr(args, "epochs", None))
    return spec
