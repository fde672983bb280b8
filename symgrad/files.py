"""One reader and one atomic writer for every file symgrad reads or writes.

Reading (:func:`read_text`, :func:`read_toml`): UTF-8 only, at most a size limit, and
every failure a :class:`~symgrad.errors.LocatedError` carrying the path (and the line
and column of a TOML syntax error or of the first byte that is not UTF-8).

Writing (:func:`write_atomic`): the data goes to a temporary file in the target's
folder, is flushed to disk, then renamed over the target, so a reader sees the old file
or the new one, never half of one, and a failed write leaves neither the temporary file
nor a changed target. The new file gets the mode :func:`open` would give it: that of the
file it replaces, or ``0o666`` less the umask (``tempfile.mkstemp`` would give ``0o600``).

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     target = write_atomic(pathlib.Path(folder) / "note.toml", 'title = "hi"\\n')
...     read_toml(target)[0]
{'title': 'hi'}
"""

from __future__ import annotations

import errno
import os
import re
import select
import stat
import tomllib
from pathlib import Path
from typing import Any

from .errors import FileError, LocatedError

__all__ = ["read_text", "read_toml", "parse_toml", "write_atomic", "create_temporary",
           "output_folder", "same_file", "DEFAULT_LIMIT"]

#: Bytes a file may have unless the caller says otherwise. tomllib parses about 2 MB a
#: second (1.3 MB of numbers took 0.66 s), so 10 MB is some five seconds: more than any
#: spec needs, and a bound on what a mistaken path (a data dump, /dev/zero) can cost.
DEFAULT_LIMIT = 10_000_000
#: Seconds to wait for a named pipe (FIFO) given as a file to be written to: opening one
#: waits for a writer, and with none it blocked forever.
PIPE_WAIT = 5.0

ErrorType = type[LocatedError]


def _reason(exc: OSError | ValueError) -> str:
    """``No such file or directory``: the OS's words, without errno or the path (or
    Python's, ``embedded null byte``, for a name the OS cannot be given)."""
    return getattr(exc, "strerror", None) or str(exc)


def _read_bytes(path: str | os.PathLike[str], what: str, limit: int, error: ErrorType
                ) -> bytes:
    """At most ``limit`` bytes of ``path``; reads ``limit + 1`` so that an endless file
    (a FIFO, a device) is refused without being read to its end."""
    try:
        with os.fdopen(_open_reading(path, error), "rb") as handle:
            data = handle.read(limit + 1)
            info = os.fstat(handle.fileno())
    except (OSError, ValueError) as exc:
        raise error(f"cannot read the file: {_reason(exc)}", path=path) from None
    if len(data) > limit:
        size = (f"has {info.st_size} bytes" if stat.S_ISREG(info.st_mode)
                else f"has more than {limit} bytes")
        raise error(f"the file {size}; the limit for {what} is {limit}", path=path)
    return data


def _open_reading(path: str | os.PathLike[str], error: ErrorType) -> int:
    """A descriptor of ``path`` open for reading. It is opened without blocking, so a FIFO
    with no writer cannot hold the program; a pipe must have something to read (or its
    end) within :data:`PIPE_WAIT` seconds. Raises :class:`OSError` or ``error``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode) and not select.select([fd], [], [],
                                                                     PIPE_WAIT)[0]:
            raise error(f"nothing was written to the pipe within {PIPE_WAIT:g} s", path=path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_text(path: str | os.PathLike[str], *, what: str = "a file",
              limit: int = DEFAULT_LIMIT, error: ErrorType = FileError) -> str:
    """The text of the UTF-8 file ``path``.

    Raises ``error`` (a :class:`~symgrad.errors.FileError` unless the caller names its
    own subclass of :class:`~symgrad.errors.LocatedError`) with ``path`` set when the
    file cannot be opened (missing, a folder, no permission), has more than ``limit``
    bytes (the message names ``what`` and the limit), or is not UTF-8 (with the line and
    the byte offset of the first bad byte).

    >>> read_text("no/such/file.toml")
    Traceback (most recent call last):
    ...
    symgrad.errors.FileError: no/such/file.toml: cannot read the file: No such file or directory
    """
    data = _read_bytes(path, what, limit, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"not UTF-8 text (byte {exc.start})", path=path, line=line) from None


def parse_toml(text: str, path: str | os.PathLike[str] | None = None, *,
               error: ErrorType = FileError) -> dict[str, Any]:
    """``text`` parsed as TOML; a syntax error is ``error`` with the path, line and column.

    >>> parse_toml("a = 1\\nb = ?\\n", path="x.toml")
    Traceback (most recent call last):
    ...
    symgrad.errors.FileError: x.toml:2:5: TOML syntax error: Invalid value
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line, column = _toml_place(str(exc), text)
        raise error(f"TOML syntax error: {message}", path=path, line=line,
                    column=column) from None
    except RecursionError:  # tomllib recurses once per level of nesting
        depth, line, column = _deepest(text)
        raise error(f"arrays or inline tables nested {depth} levels deep; the TOML reader "
                    "cannot follow them", path=path, line=line, column=column) from None


#: What can open or close a level of nesting in TOML, and what hides brackets (strings,
#: comments).
_NESTING = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\''
                      r"|#[^\n]*|[\[\]{}]")


def _deepest(text: str) -> tuple[int, int, int]:
    """How deep arrays and inline tables nest in ``text``, and the line and column where
    they first get that deep.

    >>> _deepest('a = [[1], "]]]"]\\nb = {c = [[[2]]]}')
    (4, 2, 12)
    """
    depth, deepest, offset = 0, 0, 0
    for match in _NESTING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest, offset = depth, match.start()
        elif token in "]}":
            depth = max(depth - 1, 0)
    line = text.count("\n", 0, offset) + 1
    return deepest, line, offset - text.rfind("\n", 0, offset)


def _toml_place(message: str, text: str) -> tuple[str, int | None, int | None]:
    """The message of a ``TOMLDecodeError`` without its place, and the place: tomllib
    (before Python 3.14) gives it only in the text, "(at line 2, column 5)" or "(at end
    of document)"."""
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        return message[:match.start()], int(match.group(1)), int(match.group(2))
    match = re.search(r"\s*\(at end of document\)$", message)
    if match:
        return (message[:match.start()], text.count("\n") + 1,
                len(text) - text.rfind("\n"))
    return message, None, None


def read_toml(path: str | os.PathLike[str], *, what: str = "a file",
              limit: int = DEFAULT_LIMIT, error: ErrorType = FileError
              ) -> tuple[dict[str, Any], str]:
    """The TOML file ``path``, parsed, and its text (to find the lines of fields in).

    Errors as for :func:`read_text` and :func:`parse_toml`.

    >>> data, text = read_toml("derivations/two_neuron.toml")
    >>> data["network"]["loss"], text.count("\\n") > 10
    ('half_sse', True)
    """
    text = read_text(path, what=what, limit=limit, error=error)
    return parse_toml(text, path, error=error), text


def create_temporary(folder: str | os.PathLike[str], name: str, *, suffix: str = ".tmp"
                     ) -> tuple[int, Path]:
    """A new empty file in ``folder`` named after ``name`` (``.name.1a2b3c4d.tmp``; a
    compiler wants ``suffix=".c"``), open for writing: the descriptor and the path.

    The file is created by :func:`os.open` with mode ``0o666``, so the kernel applies the
    umask as it does for :func:`open`; reading the umask instead would mean setting it,
    which races with other threads. Raises :class:`OSError`.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fd, path = create_temporary(folder, "x.svg")
    ...     os.close(fd)
    ...     path.name.startswith(".x.svg.") and path.suffix == ".tmp"
    True
    """
    import secrets  # hmac, hashlib and OpenSSL: loaded by the commands that write only

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        token = secrets.token_hex(4)
        path = Path(folder, f".{name[:200]}.{token}{suffix}")  # NAME_MAX is 255
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name in {folder}")


def output_folder(path: str | os.PathLike[str], *, error: ErrorType = FileError) -> Path:
    """The folder ``path`` is to be written in, which must exist: an output names a file,
    and a mistyped path should not make folders (``/typo/x.svg`` made ``/typo``).

    >>> output_folder("no/such/folder/x.svg")
    Traceback (most recent call last):
    ...
    symgrad.errors.FileError: no/such/folder/x.svg: the folder 'no/such/folder' does not exist
    """
    folder = Path(path).parent
    try:
        if folder.is_dir():
            return folder
        problem = "is not a folder" if folder.exists() else "does not exist"
    except (OSError, ValueError) as exc:  # too long a name, a NUL character
        problem = f"cannot be used: {_reason(exc)}"
    raise error(f"the folder '{folder}' {problem}", path=path)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one existing file, by whatever path or link: writing
    one would replace the other.

    >>> same_file("derivations/../derivations/two_neuron.toml", "derivations/two_neuron.toml")
    True
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet)
        return False


def _write_synced(fd: int, data: bytes, mode: int | None) -> None:
    """Write all of ``data`` to ``fd``, give it ``mode`` if set, flush it to disk, close."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, what: str = "the file",
                 parents: bool = False, error: ErrorType = FileError) -> Path:
    """Write ``data`` (text is encoded as UTF-8) to ``path`` atomically; returns the path.

    The data goes to a temporary file beside ``path``, is flushed to disk and renamed
    over ``path``. The file keeps the permissions of the one it replaces, or gets
    ``0o666`` less the umask, as with :func:`open`; a symbolic link is written through,
    and a device or a pipe (``/dev/stdout``) is written in place, as :func:`open` does.
    ``parents`` creates missing folders first.

    On failure, raises ``error`` (:class:`~symgrad.errors.FileError` unless the caller
    names its own) with ``path`` set, for example ``out/x.svg: cannot write the figure:
    No such file or directory``; the temporary file is removed and ``path`` is left as
    it was.

    >>> write_atomic("/proc/nope/x.svg", "<svg/>", what="the figure")
    Traceback (most recent call last):
    ...
    symgrad.errors.FileError: /proc/nope/x.svg: cannot write the figure: No such file or directory
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        if parents:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            info: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            info = None  # a new file: the mode from os.open, 0o666 less the umask
        if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            with open(path, "wb") as stream:  # nothing to rename over: write, as open() does
                stream.write(payload)
        else:
            target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
            _replace(target, payload, None if info is None else stat.S_IMODE(info.st_mode))
    except (OSError, ValueError) as exc:
        raise error(f"cannot write {what}: {_reason(exc)}", path=path) from None
    return Path(path)


def _replace(target: Path, payload: bytes, mode: int | None) -> None:
    """Put ``payload`` in place of ``target`` through a temporary file that is removed
    if anything fails; raises :class:`OSError`."""
    fd, temporary = create_temporary(target.parent, target.name)
    try:
        _write_synced(fd, payload, mode)
        os.replace(temporary, target)
    except BaseException:  # an interrupt too: never leave the temporary file behind
        temporary.unlink(missing_ok=True)
        raise
