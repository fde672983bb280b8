"""symgrad's docstrings read by NumPy-style sections, in symgrad's way of writing them.

symgrad's ``Parameters``, ``Attributes`` and ``Raises`` sections write
``name : what it is`` (the types are in the annotations), where the NumPy convention has
``name : type``. Before napoleon reads a docstring, :func:`describe` moves the text after
the colon onto the next line, where napoleon takes it as the description (autodoc then
adds the types from the annotations), and heads examples that follow a section. An
attribute's or property's docstring is a sentence, never napoleon's ``type:
description``, so it is kept as written ("Tied parameters: the shared symbol ..." would
otherwise become a type named "Tied parameters").
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

__all__ = ["describe", "setup"]

_SECTIONS = {"Parameters", "Attributes", "Other Parameters", "Raises"}
_FIELD = re.compile(r"^(\*{0,2}\w+(?:, \*{0,2}\w+)*) : (.+)$")


def _underline(line: str) -> bool:
    return bool(line.strip()) and set(line.strip()) == {"-"}


def describe(lines: list[str]) -> list[str]:
    """The docstring's lines with each ``name : text`` field of a parameters or attributes
    section written as ``name`` and, indented below it, ``text``. Examples after a
    section, with no heading of their own, get an ``Examples`` heading, so that they are
    not read as part of it.

    >>> out = describe(["Parameters", "----------", "net : the network.", "", ">>> 1", "1"])
    >>> out[2:4], out[5:7]
    (['net', '    the network.'], ['Examples', '--------'])
    """
    out: list[str] = []
    section = ""
    for k, line in enumerate(lines):
        if k + 1 < len(lines) and _underline(lines[k + 1]):
            section = line.strip()
        elif section not in ("", "Examples") and line.startswith(">>>"):
            section = "Examples"
            out += [section, "-" * len(section)]
        field = _FIELD.match(line) if section in _SECTIONS else None
        out += [field.group(1), "    " + field.group(2)] if field else [line]
    return out


_AS_WRITTEN = {"attribute", "property", "data"}


def setup(app: Sphinx) -> None:
    """Run :func:`describe` before napoleon (which listens with priority 500), and put an
    attribute's docstring back as it was after it."""
    kept: dict[str, list[str]] = {}

    def before(app: Sphinx, what: str, name: str, obj: Any, options: Any,
               lines: list[str]) -> None:
        if what in _AS_WRITTEN:
            kept[name] = list(lines)
        lines[:] = describe(lines)

    def after(app: Sphinx, what: str, name: str, obj: Any, options: Any,
              lines: list[str]) -> None:
        if what in _AS_WRITTEN and name in kept:
            lines[:] = kept.pop(name)

    app.connect("autodoc-process-docstring", before, priority=400)
    app.connect("autodoc-process-docstring", after, priority=600)
