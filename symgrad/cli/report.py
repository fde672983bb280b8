"""``symgrad report SPEC... (-o FILE | --outdir DIR [--format F]) [--check HAND.toml]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..check import check_file
from ..derive import Derivation, derive
from ..derive.stack import StackDerivation
from ..errors import ArgumentError, FileError, ReportError
from ..files import same_file
from ..network import load
from ..spec import Spec
from ..stack import has_layer_types
from ..report.layered import NO_HAND_CHECK
from ..report.render import FORMATS, INSTALL_TEX, render_report, tex_engine
from . import EXIT_FAIL, EXIT_OK
from ._limits import add_no_limits, read_limited
from ._output import refuse_input

DEFAULT_FORMAT = "pdf"
#: Hand-derivation files (``two_neuron_hand.toml``) sit beside the specs; a glob such as
#: ``derivations/*.toml`` picks them up, and they are skipped.
HAND_SUFFIX = "_hand"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a derivation report: LaTeX, PDF, Markdown or HTML",
        description="Write a report of a spec's derivation: the model and cost, the forward "
                    "pass, every gradient by the chain rule with the reason for each factor, "
                    "a gradient-descent step, training, activations and figures.",
        epilog="exit status: 0 when the reports are written (and, with --check, every hand "
               "derivation is as its `expect` says), 1 when one is not, 2 on bad input")
    p.add_argument("specs", nargs="+", metavar="SPEC",
                   help="spec files (TOML), for example derivations/two_neuron.toml")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="FILE",
                       help="the report to write; its extension (.tex, .pdf, .md, .html) "
                            "chooses the format")
    where.add_argument("--outdir", metavar="DIR",
                       help="write one report per spec into DIR (created if missing), "
                            "named after the spec")
    p.add_argument("--format", choices=FORMATS,
                   help=f"format of the reports written with --outdir (default: "
                        f"{DEFAULT_FORMAT})")
    p.add_argument("--check", metavar="HAND.toml",
                   help="a file of hand derivations to check and report on (one SPEC only)")
    p.add_argument("--force", action="store_true",
                   help="write the figures of a .tex or .md report into its figures folder "
                        "even if that holds files symgrad did not write (they are kept: "
                        "symgrad removes only files it wrote)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="for a spec trained on a named data set: train N epochs instead of "
                        "the spec's (a quick report)")
    add_no_limits(p, "report")
    p.set_defaults(handler=run)


def _derivation(spec: Spec) -> Derivation | StackDerivation:
    """A network with layer types is derived at the layer level, any other one by unit."""
    return StackDerivation(spec) if has_layer_types(spec) else derive(load(spec))


def _targets(args: argparse.Namespace) -> list[tuple[str, Path]]:
    for option, name in (("-o", args.output), ("--outdir", args.outdir)):
        if name is not None and "\0" in name:  # checked first: nothing is made for it
            raise ArgumentError(f"{option}: '{name}' holds a NUL character, which no file "
                                "name can")
    if args.output is not None:
        if len(args.specs) > 1:
            raise ArgumentError(f"-o writes one report but {len(args.specs)} specs were "
                                "given; use --outdir DIR for several")
        if args.format is not None:
            raise ArgumentError("--format goes with --outdir; with -o the extension of FILE "
                                "chooses the format")
        return [(args.specs[0], Path(args.output))]
    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ArgumentError(f"--outdir '{outdir}' exists and is not a folder")
    fmt = args.format or DEFAULT_FORMAT
    return [(spec, outdir / f"{Path(spec).stem}.{fmt}") for spec in args.specs]


def _skipped(spec: str, targets: list[tuple[str, Path]]) -> bool:
    return len(targets) > 1 and Path(spec).stem.endswith(HAND_SUFFIX)


def _refuse_overwrites(args: argparse.Namespace, targets: list[tuple[str, Path]]) -> None:
    """No report may replace a file being read, nor another report of the same run."""
    option = "-o" if args.output is not None else "--outdir"
    inputs = [("spec", spec) for spec in args.specs] + [("file of hand derivations",
                                                          args.check)]
    seen: dict[str, str] = {}
    for spec, path in targets:
        if _skipped(spec, targets):
            continue
        refuse_input(option, path, inputs)
        first = seen.setdefault(_identity(path), spec)
        if first != spec and not same_file(first, spec):  # one spec twice loses nothing
            raise ArgumentError(f"--outdir: the reports of {first} and {spec} would both be "
                                f"'{path}'; write them to separate folders")


def _identity(path: Path) -> object:
    """What tells files apart: device and inode for a file that exists (one file under two
    names, by a hard link, or by case on a case-insensitive file system), else the path
    with its links resolved."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return info.st_dev, info.st_ino


def run(args: argparse.Namespace) -> int:
    if args.check is not None and len(args.specs) != 1:
        raise ArgumentError(f"--check needs exactly one SPEC, got {len(args.specs)}")
    targets = _targets(args)
    _refuse_overwrites(args, targets)
    if any(path.suffix.lower() == ".pdf" for _, path in targets) and tex_engine() is None:
        raise ReportError(f"no TeX engine found (latexmk or pdflatex) to make a PDF; install "
                          f"one with {INSTALL_TEX}, or write .tex, .md or .html instead")
    specs = {spec: read_limited(spec, args, "report") for spec, _ in targets
             if not _skipped(spec, targets)}  # every spec read and sized before any work
    if args.check is not None and any(has_layer_types(s) for s in specs.values()):
        raise ArgumentError(f"--check: {NO_HAND_CHECK}")
    if args.outdir is not None:
        try:
            Path(args.outdir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileError(f"cannot make the folder: {exc.strerror or exc}",
                            path=args.outdir) from None
    status = EXIT_OK
    for spec, path in targets:
        if _skipped(spec, targets):
            print(f"skipped {spec}: a hand-derivation file (give it to --check)",
                  file=sys.stderr)
            continue
        d = _derivation(specs[spec])
        checked = None if args.check is None else check_file(d, args.check)
        written = render_report(d, path, check=checked, force=args.force, epochs=args.epochs,
                                limited=not args.no_limits)
        print(f"wrote {written}")
        if checked is not None and not all(r.as_expected for r in checked):
            # the rule of `symgrad check --file`: 1 when a row is not as it expects
            status = EXIT_FAIL
    return status
