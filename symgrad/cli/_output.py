"""Terminal helpers shared by the subcommands."""

from __future__ import annotations

import sys
from typing import TextIO


def supports_unicode(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stdout by default) can print ``∂`` and ``·``."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "∂·σ⊙".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
