"""Terminal helpers shared by the subcommands."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TextIO

from ..errors import ArgumentError
from ..files import same_file


def supports_unicode(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stdout by default) can print ``∂`` and ``·``."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "∂·σ⊙".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def refuse_input(option: str, output: str | os.PathLike[str],
                 inputs: Iterable[tuple[str, str | os.PathLike[str] | None]]) -> None:
    """An :class:`~symgrad.errors.ArgumentError` if ``output`` is one of ``inputs``
    (``(role, path)`` pairs): writing it would replace what the command reads."""
    for role, given in inputs:
        if given is not None and same_file(output, given):
            raise ArgumentError(f"{option}: '{os.fspath(output)}' is the {role} being read; "
                                "write to another file")
