"""One exception hierarchy for everything symgrad raises on purpose.

Every message names what is wrong (the file, field, line, symbol or argument), so
the command line can print it as one line and exit with status 2.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

__all__ = [
    "SymgradError",
    "LocatedError",
    "FileError",
    "SpecError",
    "UnknownNameError",
    "DerivationError",
    "CompileError",
    "ArgumentError",
    "ShapeError",
    "DivergenceError",
    "ParseError",
    "CheckError",
    "LayerCodeError",
    "ReportError",
    "ExportError",
    "MissingDependencyError",
    "printable",
    "listed",
    "ExerciseError",
]

#: Characters a message shows by their code instead: the control characters (a terminal
#: acts on ESC and CSI sequences; a newline breaks the one line), the line and paragraph
#: separators, and the bidirectional marks and overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                          "\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with each character of :data:`_UNPRINTABLE` shown as ``<U+001B>``, as the
    parser names a single character it rejects: one line, safe to print on a terminal.

    >>> printable("sig\\x1b[31m\\nmoid\\x00 σ")
    'sig<U+001B>[31m<U+000A>moid<U+0000> σ'
    """
    return _UNPRINTABLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def listed(items: Iterable[object], most: int = 20) -> str:
    """``items`` joined by commas, at most ``most`` of them and then how many more: a
    message that names what a network or a file holds stays one short line whatever
    its size (300,001 parameter names made one line of 3.4 MB). Twenty: every name of
    the catalogue's registries, whose lists are worth reading whole.

    >>> listed((f"w{i}" for i in range(1, 300_002)), most=5)
    'w1, w2, w3, w4, w5, ... and 299,996 more'
    >>> listed(["x1", "T"])
    'x1, T'
    """
    shown, rest = [], 0
    for item in items:
        if len(shown) < most:
            shown.append(str(item))
        else:
            rest += 1
    return ", ".join(shown) + (f", ... and {rest:,} more" if rest else "")


class SymgradError(Exception):
    """Base class of every error symgrad raises deliberately. Its text is
    :func:`printable`: names and values taken from the input (a spec's activation, a
    file name, ``--wrt``) cannot break the one line or drive the terminal."""

    def __str__(self) -> str:
        return printable(super().__str__())


class LocatedError(SymgradError):
    """An error at a place in a file: ``path``, ``line``, ``column`` and ``field`` are
    attributes (each ``None`` where unknown), and the message is formatted from them here,
    in one place, as ``path:line:column: field 'name': message``.

    As Jinja's ``TemplateSyntaxError`` does, the exception keeps the bare ``message`` and
    builds its text on demand, so callers can read the location without parsing it.

    >>> error = LocatedError("expected a number", path="net.toml", line=3, field="w1")
    >>> str(error)
    "net.toml:3: field 'w1': expected a number"
    >>> (error.path, error.line, error.column, error.field)
    ('net.toml', 3, None, 'w1')
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None,
                 line: int | None = None, column: int | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.column = column
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        column = self.column if self.line is not None else None  # shown after a line only
        if self.path is not None:
            where = self.path + "".join(f":{n}" for n in (self.line, column)
                                        if n is not None) + ": "
        elif self.line is not None:
            where = f"line {self.line}" + (f", column {column}" if column is not None
                                           else "") + ": "
        what = f"field '{self.field}': " if self.field is not None else ""
        return printable(f"{where}{what}{self.message}")

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only arguments: pickle needs help
        return _rebuild, (type(self), self.message, self.path, self.line, self.column,
                          self.field)


def _rebuild(cls: type[LocatedError], message: str, path: str | None, line: int | None,
             column: int | None, field: str | None) -> LocatedError:
    return cls(message, path=path, line=line, column=column, field=field)


class FileError(LocatedError):
    """A file that cannot be read or written: missing, a folder, unreadable, too large,
    not UTF-8, or an output that cannot be put in place. ``path`` names it."""


class SpecError(LocatedError):
    """A spec file cannot be read: TOML syntax, a missing or mistyped field, a bad value.

    The message starts with the file (and line where one is known) and names the field.
    """


class UnknownNameError(SymgradError, KeyError):
    """A name (activation, loss, parameter, symbol) that no registry or network knows.

    The message lists the names that are known.
    """

    def __init__(self, kind: str, name: str, known: "list[str] | tuple[str, ...]") -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown {kind} '{name}'; known: {listed(self.known)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return printable(str(self.args[0]))


class DerivationError(SymgradError):
    """A network for which a derivation cannot be built (e.g. a non-elementwise hidden layer)."""


class CompileError(SymgradError):
    """Compiled functions cannot be built for a derivation."""


class ArgumentError(SymgradError, ValueError):
    """A bad argument to a compiled function or the API: missing, non-numeric, wrong shape."""


class ShapeError(ArgumentError):
    """An array or a layer's input whose shape does not fit a layer: ``layer`` names the
    layer, ``shape`` the shape given and ``expected`` the one it needs (both in the message).

    >>> str(ShapeError("batchnorm", (4, 5), "(N, 3)"))
    "layer 'batchnorm': input of shape (4, 5) does not fit; it needs (N, 3)"
    """

    def __init__(self, layer: str, shape: object, expected: object, what: str = "input") -> None:
        self.layer = layer
        self.shape = shape
        self.expected = expected
        super().__init__(f"layer '{layer}': {what} of shape {shape} does not fit; "
                         f"it needs {expected}")


class DivergenceError(SymgradError):
    """Training stopped because the loss grew or stopped being finite."""

    def __init__(self, message: str, *, iteration: int, history: Any = None) -> None:
        """``history``: the steps (or per-epoch losses) up to the stop, as training kept them."""
        self.iteration = iteration
        self.history = history
        super().__init__(message)


class ParseError(SymgradError, ValueError):
    """Text (math or LaTeX typed by a user) that the safe parser rejects; names the column."""

    def __init__(self, message: str, *, column: int | None = None) -> None:
        self.column = column
        super().__init__(message)


class CheckError(LocatedError):
    """A hand-derivation check that cannot be carried out (bad file, unknown parameter);
    for a file of hand derivations, ``path``, ``line`` and ``field`` say where."""


class LayerCodeError(CheckError):
    """A user's layer function that cannot be checked: it raised (its exception is the
    ``__cause__``, with its traceback), returned the wrong number of arrays, the wrong
    shapes, or NaN. ``call`` names the call (``batchnorm_backward(dout, cache)``)."""

    def __init__(self, message: str, *, call: str | None = None, **where: Any) -> None:
        self.call = call
        super().__init__(message, **where)


class ReportError(LocatedError):
    """A report that cannot be rendered or compiled (template, TeX engine, output path)."""


class MissingDependencyError(SymgradError):
    """An optional package a feature needs is not installed; the message says how to install it."""


class ExportError(LocatedError):
    """An exported module that cannot be written (the output path names what is wrong)."""


class ExerciseError(LocatedError):
    """An answers file (or a row of one) that cannot be graded: a missing column, an unknown
    variant code; ``path``, ``line`` (the row), ``column`` and ``field`` (the column's name)
    say where."""
