"""The ``symgrad`` command: argparse, then the pipeline, then print or write.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``handler``. Every deliberate
error (:class:`~symgrad.errors.SymgradError`) becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn, Sequence

from ..errors import SymgradError, printable

__all__ = ["main", "run", "COMMANDS"]

#: Subcommand modules, in the order ``symgrad --help`` lists them.
COMMANDS = ("derive", "activations", "check", "check-layer", "export", "vanishing", "train",
            "report", "examples", "exercises", "grade", "serve")

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it cleans up as after Ctrl-C (work
    folders, temporary files, child processes) instead of dying on the spot."""


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit status 2, as for every bad input
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the command ``only`` alone: a command imports
    only what it uses, so it starts without loading the others' modules."""
    from .. import __version__

    parser = _Parser(prog="symgrad", description="Derive, check and compile neural-network "
                     "gradients symbolically.")
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"{__name__}.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    if not words:  # bare `symgrad`: what it can do
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(words)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return int(args.handler(args) or EXIT_OK)
    except SymgradError as exc:  # path:line: field: message, on one line (printable)
        print(f"symgrad {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"symgrad {args.command}: {'terminated' if terminated else 'interrupted'}",
              file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    except BrokenPipeError:
        return EXIT_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run() -> NoReturn:
    """The ``symgrad`` program: :func:`main`, then exit with its status.

    Before exiting, every object left is frozen (:func:`gc.freeze`): the interpreter's
    last collection would otherwise walk all of SymPy's and the derivation's objects once
    more to free memory the process is about to give back (0.2 to 0.3 s of a 0.8 s
    ``symgrad derive``). Only here, not in :func:`main`, which tests and programs call in
    a process that goes on.
    """
    status = main()
    gc.freeze()
    sys.exit(status)
