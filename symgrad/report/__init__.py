"""Derivation reports: LaTeX (and PDF), Markdown and self-contained HTML.

:func:`render_report` does the work. The package itself is callable, so that after
``import symgrad`` both ``symgrad.report(d, "two_neuron.tex")`` (the function's short
name in the public API) and ``symgrad.report.render`` (this package's module) work:
a plain function bound to ``symgrad.report`` would hide the package.

>>> import symgrad
>>> callable(symgrad.report), symgrad.report.render.render_report is render_report
(True, True)
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any, Iterable

from ..derive import Derivation
from ..derive.stack import StackDerivation
from .render import FORMATS, render_report

__all__ = ["render_report", "FORMATS"]


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls :func:`render_report`."""

    def __call__(self, derivation: Derivation | StackDerivation, path: str | os.PathLike[str], *,
                 check: str | os.PathLike[str] | Iterable[Any] | None = None,
                 force: bool = False, epochs: int | None = None, limited: bool = True,
                 progress: bool | None = None) -> Path:
        return render_report(derivation, path, check=check, force=force, epochs=epochs,
                             limited=limited, progress=progress)


sys.modules[__name__].__class__ = _CallableModule
