"""``symgrad examples [DIR] [--force]``: copy the example specs that ship with symgrad
(the package ``symgrad.examples``, the repository's ``derivations/``) into ``DIR``
(``derivations`` by default, so the README's commands run as written)."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ..errors import FileError
from ..files import read_text, write_atomic


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("examples", help="copy the example specs into a folder",
                       description="Copy the example spec files that ship with symgrad into "
                                   "DIR, so that the README's commands work on them.")
    p.add_argument("dir", nargs="?", default="derivations", type=Path, metavar="DIR",
                   help="the folder to copy them into (made if missing; default: derivations)")
    p.add_argument("--force", action="store_true", help="replace files that differ")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    specs = sorted((f for f in resources.files("symgrad.examples").iterdir()
                    if f.name.endswith(".toml")), key=lambda f: f.name)
    target: Path = args.dir
    if target.exists() and not target.is_dir():
        raise FileError("is not a folder", path=str(target))
    texts = {target / f.name: read_text(f, what="an example spec") for f in specs}
    clashes = [p for p, t in texts.items()
               if p.exists() and (not p.is_file() or read_text(p, what="a spec") != t)]
    if clashes and not args.force:  # checked before anything is written
        raise FileError(f"holds a different {clashes[0].name}; nothing was copied (use "
                        "--force to replace it)", path=str(target))
    for path, text in texts.items():
        write_atomic(path, text, what="the example", parents=True)
    print(f"copied {len(texts)} example specs into {target}/: "
          + ", ".join(p.name for p in texts))
    return 0
