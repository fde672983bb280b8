"""Checking hand-derived gradients: parse, compare, prove, diagnose.

The pipeline, by module: :mod:`.parse` reads the text safely (never ``eval``),
:mod:`.sampling` picks the points, :mod:`.proof` proves equality within a budget,
:mod:`.diagnose` names the mistake, :mod:`.compare` runs the stages for one gradient, and
:mod:`.hand` reads a file of hand derivations and checks each entry; :mod:`.result` holds
what they say. The package itself is callable, as :func:`check` (``symgrad.check(d,
"w2", "...")``), so that ``symgrad.check`` names both the function and this package.

>>> import symgrad
>>> symgrad.check.compare.check is symgrad.check.check
True
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .compare import check
from .hand import MAX_FILE_BYTES, HandEntry, check_file, read_hand_file
from .result import MISTAKES, VERDICTS, CheckResult
from .sampling import sample_points

__all__ = ["check", "check_file", "read_hand_file", "HandEntry", "MAX_FILE_BYTES",
           "CheckResult", "VERDICTS", "MISTAKES", "sample_points"]


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls :func:`check`."""

    def __call__(self, *args: Any, **kwargs: Any) -> CheckResult:
        return check(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
