"""Files of hand derivations: one reader, and a check of every entry."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from ..derive import Derivation
from ..errors import CheckError, ParseError, listed
from ..files import read_toml
from .compare import check
from .result import MISTAKES, CheckResult

__all__ = ["HandEntry", "MAX_FILE_BYTES", "read_hand_file", "check_file"]


@dataclass(frozen=True)
class HandEntry:
    """One ``[[gradient]]`` table of a hand-derivation file."""

    wrt: str
    text: str
    latex: bool
    note: str = ""
    expected: str | None = None
    line: int | None = None
    field: str = ""


#: Largest file of hand derivations read, in bytes.
MAX_FILE_BYTES = 1_000_000


_ENTRY_KEYS = ("wrt", "expr", "latex", "note", "expect")


_EXPECT = ("equal",) + MISTAKES + ("wrong",)


def _entry_lines(text: str) -> list[int]:
    return [i + 1 for i, line in enumerate(text.splitlines())
            if re.match(r"^\s*\[\[\s*gradient\s*\]\]", line)]


def _field_line(text: str, start: int | None, key: str) -> int | None:
    if start is None:
        return None
    lines = text.splitlines()
    for i in range(start, len(lines)):
        if i > start - 1 and re.match(r"^\s*\[", lines[i]):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start


def read_hand_file(path: str | os.PathLike[str]) -> tuple[str, list[HandEntry]]:
    """Read and validate a file of hand derivations; returns its title and entries.

    The format (TOML)::

        title = "..."                # optional
        [[gradient]]
        wrt = "w2"                   # the parameter
        expr = "-(T - a2)*a2*(1 - a2)*a1"   # plain math, or instead:
        # latex = '-(T-a_2)\\,a_2(1-a_2)\\,a_1'
        note = "..."                 # optional
        expect = "sign"              # optional: "equal" or the mistake the entry contains

    Every error is a :class:`CheckError` naming the file, the line and the field.
    """
    name = str(path)
    data, body = read_toml(name, what="a file of hand derivations", limit=MAX_FILE_BYTES,
                           error=CheckError)  # the limit is checked before TOML parsing
    for key in data:
        if key not in ("title", "description", "gradient"):
            raise CheckError("unknown field; expected one of: title, description, gradient",
                             path=name, field=key)
    title = data.get("title", "")
    if not isinstance(title, str):
        raise CheckError("expected a string", path=name, field="title")
    entries_raw = data.get("gradient")
    if not isinstance(entries_raw, list) or not entries_raw:
        raise CheckError("expected one or more [[gradient]] tables", path=name, field="gradient")
    starts = _entry_lines(body)
    entries = []
    for i, raw in enumerate(entries_raw):
        start = starts[i] if i < len(starts) else None
        where = f"gradient[{i}]"

        def fail(key: str, message: str) -> CheckError:
            line = _field_line(body, start, key) if key else start
            return CheckError(message, path=name, line=line,
                              field=f"{where}{'.' + key if key else ''}")

        if not isinstance(raw, dict):
            raise fail("", "expected a table")
        for key in raw:
            if key not in _ENTRY_KEYS:
                raise fail(key, f"unknown field; expected one of: {', '.join(_ENTRY_KEYS)}")
        for key in raw:
            if not isinstance(raw[key], str):
                raise fail(key, f"expected a string, got {type(raw[key]).__name__}")
        if "wrt" not in raw:
            raise fail("", "missing field 'wrt' (the parameter)")
        has = [k for k in ("expr", "latex") if k in raw]
        if len(has) != 1:
            raise fail("", "give exactly one of 'expr' (plain math) or 'latex'")
        expect = raw.get("expect")
        if expect is not None and expect not in _EXPECT:
            raise fail("expect", f"unknown value '{expect}'; expected one of: "
                                 f"{', '.join(_EXPECT)}")
        key = has[0]
        entries.append(HandEntry(raw["wrt"], raw[key], key == "latex", raw.get("note", ""),
                                 expect, _field_line(body, start, key), f"{where}.{key}"))
    return title, entries


def check_file(derivation: Derivation, path: str | os.PathLike[str], **options: Any
               ) -> list[CheckResult]:
    """Check every entry of a hand-derivation file (see :func:`read_hand_file`).

    A bad entry (unknown parameter, unparsable expression) is a :class:`CheckError`
    naming the file, line, field and, for an expression, the column.

    >>> from symgrad.network import load
    >>> from symgrad.derive import derive
    >>> d = derive(load("derivations/two_neuron.toml"))
    >>> results = check_file(d, "derivations/two_neuron_hand.toml")
    >>> all(r.verdict == "equal" for r in results if r.expected == "equal")
    True
    """
    name = str(path)
    _, entries = read_hand_file(path)
    results = []
    for entry in entries:
        if entry.wrt not in derivation:
            raise CheckError(f"'{entry.wrt}' is not a parameter of the network; its "
                             f"parameters are: {listed(derivation)}", path=name,
                             line=entry.line, field=f"{entry.field.rsplit('.', 1)[0]}.wrt")
        try:
            result = check(derivation, entry.wrt, entry.text, latex=entry.latex, **options)
        except ParseError as exc:
            raise CheckError(str(exc), path=name, line=entry.line, field=entry.field) from None
        result.note, result.expected, result.line = entry.note, entry.expected, entry.line
        results.append(result)
    return results
