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

import importlib

#: Where each public name lives. They load on first use, so that the safe parser
#: (:mod:`.parse`, :mod:`.lexer`, :mod:`.tables`: catalogue names only) can be imported by
#: the spec's formula entries (:mod:`symgrad.formulas`) without loading the checker,
#: which needs compiled code (:mod:`symgrad.compile`) built from those entries.
_HOMES = {"check": "compare", "check_file": "hand", "read_hand_file": "hand",
          "HandEntry": "hand", "MAX_FILE_BYTES": "hand", "CheckResult": "result",
          "VERDICTS": "result", "MISTAKES": "result", "sample_points": "sampling"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)


__all__ = ["check", "check_file", "read_hand_file", "HandEntry", "MAX_FILE_BYTES",
           "CheckResult", "VERDICTS", "MISTAKES", "sample_points"]


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls :func:`check`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return __getattr__("check")(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
