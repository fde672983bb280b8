"""The figures folder beside a ``.tex`` or ``.md`` report: symgrad removes only what it wrote.

A manifest in the folder (:data:`MANIFEST`) records each figure symgrad wrote there, with
the SHA-256 of the bytes it wrote. A new report whose figures go to the folder

* refuses a folder that is a symbolic link, or a file, whatever it is asked;
* refuses a folder that holds anything else: a file the manifest does not list, or one
  changed since symgrad wrote it (unless it already holds exactly the figure about to be
  written under its name), unless ``force`` is given; then those files stay, except one
  in the way of a figure of the same name, which is replaced (a link itself, never
  written through);
* writes its figures, and removes the figures of its own kind (``.pdf`` for LaTeX,
  ``.svg`` for Markdown: a ``.tex`` and an ``.md`` report of one spec share the folder)
  that symgrad wrote before and this report no longer has. Nothing else is removed.

The folder is read and cleaned through a descriptor opened without following links, so
a link put in its place later cannot redirect a removal into another folder.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     folder = pathlib.Path(tmp, "r-figures")
...     install(folder, {"a.svg": b"<svg/>"}, "svg")
...     (folder / "notes.txt").write_text("mine")
...     try:
...         install(folder, {"b.svg": b"<svg/>"}, "svg")
...     except ReportError as exc:
...         print(str(exc).split(": ", 1)[1])
...     install(folder, {"b.svg": b"<svg/>"}, "svg", force=True)
...     sorted(p.name for p in folder.iterdir())
4
the figures folder holds a file symgrad did not write (notes.txt); move it away, or give --force to write beside it (symgrad removes only files it wrote)
['.symgrad-figures.json', 'b.svg', 'notes.txt']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Iterator, Mapping

from ..errors import ReportError
from ..files import write_atomic

__all__ = ["install", "MANIFEST"]

#: The manifest's name in the figures folder: ``{"written": {file name: sha256}}``.
MANIFEST = ".symgrad-figures.json"
_MANIFEST_LIMIT = 1_000_000  # bytes; a manifest lists a few figures
_SHOWN = 5  # file names a refusal lists


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _opened(folder: Path) -> Iterator[int]:
    """A descriptor of ``folder``, refused if it is a symbolic link or not a folder."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(folder, flags)
    except OSError as exc:
        if os.path.islink(folder):
            raise ReportError("the figures folder is a symbolic link; symgrad writes figures "
                              "only into a real folder: remove the link, or name the report "
                              "otherwise", path=folder) from None
        if folder.exists():
            raise ReportError("the figures folder's name is taken by something that is not "
                              "a folder", path=folder) from None
        raise ReportError(f"cannot open the figures folder: {exc.strerror or exc}",
                          path=folder) from None
    try:
        yield fd
    finally:
        os.close(fd)


def _regular_digest(fd: int, name: str) -> str | None:
    """SHA-256 of the regular file ``name`` in the folder ``fd``; ``None`` for a link,
    a folder or anything else."""
    try:
        file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                          dir_fd=fd)
    except OSError:
        return None
    with os.fdopen(file_fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _manifest(fd: int) -> dict[str, str]:
    """What the manifest says symgrad wrote: ``{name: sha256}``; a missing, linked or
    unreadable manifest says nothing."""
    try:
        manifest_fd = os.open(MANIFEST, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        with os.fdopen(manifest_fd, "rb") as handle:
            data = json.loads(handle.read(_MANIFEST_LIMIT + 1).decode("utf-8"))
        return {str(k): str(v) for k, v in data["written"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _refusal(foreign: list[str]) -> str:
    shown = ", ".join(foreign[:_SHOWN])
    if len(foreign) > _SHOWN:
        shown += f", ... and {len(foreign) - _SHOWN} more"
    files, them, it = (("a file", "it", "it") if len(foreign) == 1
                       else (f"{len(foreign)} files", "them", "them"))
    return (f"the figures folder holds {files} symgrad did not write ({shown}); move {them} "
            f"away, or give --force to write beside {it} (symgrad removes only files it "
            "wrote)")


def _survey(fd: int, images: Mapping[str, bytes]) -> tuple[dict[str, str], list[str]]:
    """The files of the folder that symgrad wrote (``{name: sha256}``), and the others."""
    recorded = _manifest(fd)
    ours: dict[str, str] = {}
    foreign: list[str] = []
    for name in sorted(os.listdir(fd)):
        if name == MANIFEST:
            if _regular_digest(fd, name) is None:  # a link or a folder in its place
                foreign.append(name)
            continue
        digest = _regular_digest(fd, name) if name in recorded or name in images else None
        if digest is not None and (digest == recorded.get(name)
                                   or (name in images and digest == _digest(images[name]))):
            ours[name] = digest
        else:
            foreign.append(name)
    return ours, foreign


def _clear(fd: int, name: str, foreign: list[str]) -> None:
    """Remove ``name`` from the folder if it is another's file in the way (given
    ``force``): a link is replaced, never written through."""
    if name in foreign:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.unlink(name, dir_fd=fd)


def install(folder: str | os.PathLike[str], images: Mapping[str, bytes], ext: str, *,
            force: bool = False) -> None:
    """Write ``images`` (file name to bytes) into ``folder`` and remove the ``.ext`` files
    that symgrad wrote there before and ``images`` no longer has; see the module's notes.

    Raises :class:`~symgrad.errors.ReportError`, before anything is written, for a folder
    that is a link or not a folder, or (without ``force``) that holds files symgrad did
    not write.
    """
    folder = Path(folder)
    try:
        if not os.path.lexists(folder):
            folder.mkdir()
        with _opened(folder) as fd:
            ours, foreign = _survey(fd, images)
            if foreign and not force:
                raise ReportError(_refusal(foreign), path=folder)
            for name in sorted(images):
                _clear(fd, name, foreign)
                write_atomic(folder / name, images[name], what="the figure", error=ReportError)
            for name in ours:
                if name.endswith(f".{ext}") and name not in images:
                    os.unlink(name, dir_fd=fd)
            kept = {k: v for k, v in ours.items() if not k.endswith(f".{ext}")}
            written = {**kept, **{name: _digest(data) for name, data in images.items()}}
            _clear(fd, MANIFEST, foreign)
            write_atomic(folder / MANIFEST, json.dumps({"written": dict(sorted(written.items()))},
                                                       indent=1) + "\n",
                         what="the figures' manifest", error=ReportError)
    except OSError as exc:
        raise ReportError(f"cannot update the figures: {exc.strerror or exc}",
                          path=folder) from None
