"""One exception hierarchy for everything symgrad raises on purpose.

Every message names what is wrong (the file, field, line, symbol or argument), so
the command line can print it as one line and exit with status 2.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SymgradError",
    "SpecError",
    "UnknownNameError",
    "DerivationError",
    "CompileError",
    "ArgumentError",
    "DivergenceError",
    "ParseError",
    "CheckError",
    "ReportError",
    "ExportError",
    "MissingDependencyError",
]


class SymgradError(Exception):
    """Base class of every error symgrad raises deliberately."""


class SpecError(SymgradError):
    """A spec file cannot be read: TOML syntax, a missing or mistyped field, a bad value.

    The message starts with the file (and line where one is known) and names the field.
    """

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None,
                 line: int | None = None) -> None:
        self.path = path
        self.field = field
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        what = f"field '{field}': " if field is not None else ""
        super().__init__(f"{where}{what}{message}")


class UnknownNameError(SymgradError, KeyError):
    """A name (activation, loss, parameter, symbol) that no registry or network knows.

    The message lists the names that are known.
    """

    def __init__(self, kind: str, name: str, known: "list[str] | tuple[str, ...]") -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown {kind} '{name}'; known: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class DerivationError(SymgradError):
    """A network for which a derivation cannot be built (e.g. a non-elementwise hidden layer)."""


class CompileError(SymgradError):
    """Compiled functions cannot be built for a derivation."""


class ArgumentError(SymgradError, ValueError):
    """A bad argument to a compiled function or the API: missing, non-numeric, wrong shape."""


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


class CheckError(SymgradError):
    """A hand-derivation check that cannot be carried out (bad file, unknown parameter)."""


class ReportError(SymgradError):
    """A report that cannot be rendered or compiled (template, TeX engine, output path)."""


class MissingDependencyError(SymgradError):
    """An optional package a feature needs is not installed; the message says how to install it."""


class ExportError(SymgradError):
    """An exported module that cannot be written (the output path names what is wrong)."""
