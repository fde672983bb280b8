"""``symgrad exercises TEMPLATE [--variants N] [--seed S | --code CODE...] [--outdir DIR]
[--to pdf,html,moodle]``: a class's question sheets, worked solutions, answer key and
Moodle quiz; with ``--code``, the files of the variants with these codes, made again."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._limits import add_no_limits
from ._output import refuse_input

DEFAULT_FORMATS = "pdf,html"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exercises", help="write a class's exercise sheets, worked solutions and answer key",
        description="Draw variants of an exercise template (a spec with an [exercise] "
                    "table) and write one question sheet and one worked solution per "
                    "variant, the answer key (CSV and PDF/HTML) and, with --to moodle, a "
                    "Moodle XML quiz. The same seed gives the same variants.")
    p.add_argument("template", help="an exercise template, for example "
                                    "derivations/two_neuron_exercise.toml")
    p.add_argument("--variants", type=int, default=40, metavar="N",
                   help="how many variants (default: 40)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="draws the variants (default: 0)")
    p.add_argument("--code", action="append", metavar="CODE",
                   help="make the files of the variant with this code again (repeatable; "
                        "instead of --variants and --seed)")
    p.add_argument("--outdir", default="exercises", metavar="DIR",
                   help="the folder to write into (made if missing; default: exercises)")
    p.add_argument("--to", default=DEFAULT_FORMATS, metavar="FORMATS",
                   help=f"comma-separated: pdf, html, moodle (default: {DEFAULT_FORMATS}); "
                        "key.csv is always written")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="TeX runs at a time (default: the number of cores)")
    add_no_limits(p, "exercises")
    p.set_defaults(handler=run)


def _formats(text: str) -> tuple[str, ...]:
    from ..errors import ArgumentError
    from ..exercises.publish import FORMATS

    chosen = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ArgumentError(f"--to: unknown format '{unknown[0] if unknown else text}'; "
                            f"choose from {', '.join(FORMATS)}")
    return chosen


def run(args: argparse.Namespace) -> int:
    from ..errors import ArgumentError, FileError, ReportError
    from ..exercises import generate, load_template
    from ..exercises.variants import from_codes
    from ..exercises.publish import class_files
    from ..files import write_atomic
    from ..limits import check_option
    from ..report.render import INSTALL_TEX, tex_engine

    formats = _formats(args.to)
    if args.variants < 1 or (args.jobs is not None and args.jobs < 1):
        raise ArgumentError("--variants and --jobs take a whole number of at least 1")
    if not args.no_limits:
        check_option("exercises", "variants", args.variants, "variants")
        check_option("exercises", "jobs", args.jobs or 0, "jobs")
    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise FileError("is not a folder", path=str(outdir))
    if "pdf" in formats and tex_engine() is None:
        raise ReportError(f"no TeX engine found (latexmk or pdflatex) to make PDFs; install "
                          f"one with {INSTALL_TEX}, or use --to html")
    template = load_template(args.template)
    generation = (from_codes(template, args.code) if args.code
                  else generate(template, args.variants, args.seed))
    files = class_files(generation, formats, jobs=args.jobs)  # everything before any write
    for name in files:
        refuse_input("--outdir", outdir / name, [("template", args.template)])
    for name, data in files.items():
        write_atomic(outdir / name, data, what="the file", parents=True)
    count = len(generation.variants)
    print(f"wrote {count} variant{'s' * (count != 1)} of {args.template} "
          f"({generation.origin}) to {outdir}/: " + ", ".join(_listing(files)))
    if generation.summary():
        print(generation.summary())
    left_out = [q.id for q in template.questions if not q.numeric]
    if "moodle" in formats and left_out:
        print(f"moodle.xml leaves out {', '.join(left_out)}: a question in symbols has no "
              "numerical form")
    return 0


def _listing(files: dict[str, bytes]) -> list[str]:
    """``sheets/ (40 pdf, 40 html)`` for folders, file names for the rest."""
    folders: dict[str, dict[str, int]] = {}
    plain = []
    for name in files:
        if "/" in name:
            folder, leaf = name.split("/", 1)
            kinds = folders.setdefault(folder, {})
            kinds[leaf.rsplit(".", 1)[-1]] = kinds.get(leaf.rsplit(".", 1)[-1], 0) + 1
        else:
            plain.append(name)
    return [f"{folder}/ ({', '.join(f'{n} {ext}' for ext, n in kinds.items())})"
            for folder, kinds in folders.items()] + plain
