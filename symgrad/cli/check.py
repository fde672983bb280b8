"""``symgrad check SPEC --wrt P (--expr TEXT | --latex-expr TEXT) | --file HAND.toml [--json]``.

Exit status: 0 when every checked gradient is equal (proved, or numerically equal, or
equal almost everywhere), 1 when any is not equal or undecided, 2 on bad input (the spec,
the file, the expression).
"""

from __future__ import annotations

import argparse
import re

from ..derive import derive
from ..errors import ArgumentError, CheckError, ParseError, UnknownNameError
from ..network import load
from ..check import CheckResult, check
from ..check.result import distinct
from . import EXIT_FAIL, EXIT_OK
from ._limits import add_no_limits, read_limited


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check hand-derived gradients against the symbolic ones",
                       description="Check a gradient derived by hand (plain math or LaTeX) "
                                   "against symgrad's, and say what is wrong with it.",
                       epilog="exit status: 0 when every gradient checked is as expected (equal, "
                              "or for a --file row what its `expect` says), 1 otherwise, 2 on "
                              "bad input")
    p.add_argument("spec", help="a spec file (TOML), for example derivations/two_neuron.toml")
    p.add_argument("--wrt", metavar="P", help="the parameter the hand expression is the "
                                              "gradient for (with --expr or --latex-expr); also "
                                              "an input, a z, an a or a delta")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--expr", metavar="TEXT",
                       help='plain math, e.g. "-(T - a2)*a2*(1 - a2)*a1"')
    given.add_argument("--latex-expr", metavar="TEXT",
                       help=r"LaTeX, e.g. '-(T-a_2)\,a_2(1-a_2)a_1' (derive's --latex prints LaTeX)")
    given.add_argument("--file", metavar="HAND.toml",
                       help="a TOML file of [[gradient]] tables (wrt, expr or latex, note, "
                            "expect)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_no_limits(p, "check")
    # A hand expression often starts with a minus ("-(T-a_2)..."); argparse would take it
    # for an option. This parser has no short option but -h, so a word that starts with a
    # single '-' (and is not -h) is read as a value, as argparse reads a negative number.
    p._negative_number_matcher = re.compile(r"^-(?!-|h$)")
    p.set_defaults(handler=run)


def _counterexample(r: CheckResult) -> str:
    if r.counterexample is None or r.yours_value is None or r.symbolic_value is None:
        return ""
    net_values = ", ".join(f"{k}={v:.6g}" for k, v in r.counterexample.items())
    yours, symbolic = distinct([r.yours_value, r.symbolic_value], 6)  # 1e-12 apart too
    return (f"  counterexample: {net_values}\n"
            f"  yours={yours}, symbolic={symbolic}")


def _one(r: CheckResult) -> str:
    lines = [f"dE/d{r.wrt}: {r.summary}. {r.diagnosis}"]
    extra = _counterexample(r)
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def _table(results: list[CheckResult]) -> str:
    rows = [("#", "line", "wrt", "verdict", "mistake", "expected", "as expected")]
    for i, r in enumerate(results, start=1):
        matches = "-" if r.expected is None else ("yes" if r.as_expected else "NO")
        rows.append((str(i), str(r.line or ""), r.wrt, r.verdict, r.kind or "-",
                     r.expected or "-", matches))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    out.append("")
    for i, r in enumerate(results, start=1):
        out.append(f"{i}. dE/d{r.wrt}: {r.diagnosis}")
        if r.note:
            out.append(f"   note: {r.note}")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    if args.file is None and args.wrt is None:
        raise ArgumentError("--wrt P is needed with --expr or --latex-expr")
    if args.file is not None and args.wrt is not None:
        raise ArgumentError("--wrt goes with --expr or --latex-expr; --file names its parameters")
    d = derive(load(read_limited(args.spec, args, "check")))
    if args.file is not None:
        from ..check import check_file  # hand files: read by this path only

        results = check_file(d, args.file)
    else:
        try:
            d.wrt(args.wrt)  # a parameter, or an input, z, a or delta (dE/da1 ...)
        except UnknownNameError as exc:
            raise CheckError(f"--wrt: {exc}") from None
        given = args.expr if args.expr is not None else args.latex_expr
        try:
            results = [check(d, args.wrt, given, latex=args.latex_expr is not None)]
        except ParseError as exc:
            flag = "--expr" if args.expr is not None else "--latex-expr"
            raise CheckError(f"{flag}: {exc}") from None
    if args.json:
        import json

        print(json.dumps([r.as_dict() for r in results], indent=2))
    elif args.file is not None:
        print(_table(results))
    else:
        print(_one(results[0]))
    return EXIT_OK if all(r.as_expected for r in results) else EXIT_FAIL
