"""Fused C loops: a compiled network's sums over samples in one pass (``backend="c"``).

The NumPy kernels of :mod:`symgrad.compile` run one array operation per assignment, each a
pass over a block of samples. A :class:`FusedLoop` runs the same assignments, printed as
C99 by :class:`~symgrad.printers_numeric.StableCPrinter` (the same stable forms), inside
one loop over the samples: the temporaries live in registers, and the loop is vectorized
(glibc's libmvec gives SIMD ``exp``, ``log``, ``log1p``, ``expm1``, ``tanh`` and ``erfc``).
Large batches are split into runs of blocks, one per core, on POSIX threads that the C
function starts and joins within the call. Not OpenMP, whose idle threads outlive a call:
GNU OpenMP hangs in a child process forked after its threads started (``multiprocessing``,
servers that fork).

The C source comes from the Jinja template ``templates/fused_loop.c.j2``. It is built
with the system C compiler (``$CC``, else Python's own, else ``cc``; stopped after
``$SYMGRAD_CC_TIMEOUT`` seconds) into a shared library cached under
``$SYMGRAD_CACHE_DIR`` (default ``~/.cache/symgrad``), keyed by a hash of the source, the
compiler and the machine, and loaded with :mod:`ctypes`: only from a folder no other user
can change, and only after the library is checked against the SHA-256 recorded beside it
when it was built (else it is built again). When the compiler refuses the fastest flags
(no libmvec, say), fewer are tried.

The sums agree with the NumPy backend to a few units in the last place, not to the last
bit (another summation order, libmvec's ``exp``): :mod:`symgrad.export` writes the NumPy
kernels, so exported modules match ``backend="numpy"`` exactly.

>>> import sympy as sp
>>> x, w, y = sp.symbols("x w y")
>>> loop = FusedLoop("demo", "the sum of y", data=(x,), parameters=(w,),
...                  body=[(y, w * x)], outputs=[y])
>>> loop([numpy.array([1.0, 2.0, 3.0]), 2.0], 3)
array([12.])
>>> "const double y = w*x;" in loop.source((True,), numpy.dtype(numpy.float64))
True
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import platform
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sysconfig
from pathlib import Path
from typing import Any, Sequence

import numpy
from sympy import Expr, Symbol

from .errors import CompileError, MissingDependencyError
from .files import create_temporary, write_atomic
from .printers_numeric import StableCPrinter

__all__ = ["FusedLoop", "BLOCK", "COMPILE_TIMEOUT", "cache_dir", "compiler", "compile_timeout",
           "threads"]

#: Samples per block; each block writes one row of partial sums.
BLOCK = 8192
#: A thread gets at least this many blocks: below, handing work over costs more than it saves.
_MIN_BLOCKS_PER_THREAD = 4
#: Functions of one argument that libmvec vectorizes (declared ``omp declare simd``).
_VECTOR_MATH = ("exp", "log", "log1p", "expm1", "tanh", "erfc")
#: Compiler flags, fastest first; the first set the compiler accepts is used.
_FLAG_SETS: tuple[tuple[str, ...], ...] = (
    ("-O3", "-march={march}", "-fopenmp-simd", "-fno-math-errno", "-pthread",
     "-DSYMGRAD_VECTOR_MATH", "-lmvec"),
    ("-O3", "-march={march}", "-fopenmp-simd", "-fno-math-errno", "-pthread"),
    ("-O2", "-fno-math-errno", "-pthread"),
)
#: Seconds the compiler may take on one loop (``$SYMGRAD_CC_TIMEOUT`` overrides): gcc -O3
#: took 10.8 s on the loop of a 680-parameter network here, near the largest ctypes can
#: call; a compiler that hangs is stopped, with whatever it started, after this long.
COMPILE_TIMEOUT = 60.0
#: ctypes calls a C function with at most this many arguments.
_MAX_ARGUMENTS = 1024
#: A cached library larger than this is not read (the 680-parameter loop is 118 kB).
_MAX_LIBRARY_BYTES = 64 << 20
_CTYPES = {"float64": "double", "float32": "float"}
#: Mode bits that let someone other than the owner change a file or a folder's entries.
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def cache_dir() -> Path:
    """Where built loops are kept: ``$SYMGRAD_CACHE_DIR``, else ``$XDG_CACHE_HOME/symgrad``,
    else ``~/.cache/symgrad``."""
    if os.environ.get("SYMGRAD_CACHE_DIR"):
        return Path(os.environ["SYMGRAD_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "symgrad"


def compiler() -> list[str]:
    """The C compiler command: ``$CC``, else the one Python was built with, else ``cc``."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # No closing quotation
        raise CompileError(f"cannot read CC={command!r} as a command: {exc}") from None
    if not argv or shutil.which(argv[0]) is None:
        name = argv[0] if argv else command
        raise MissingDependencyError(
            f"backend 'c' needs a C compiler and '{name}' was not found; install one "
            "(apt-get install gcc) or set CC, or use backend 'numpy'")
    return argv


def compile_timeout() -> float:
    """Seconds the compiler may take on one loop: ``$SYMGRAD_CC_TIMEOUT``, else
    :data:`COMPILE_TIMEOUT`."""
    setting = os.environ.get("SYMGRAD_CC_TIMEOUT", "")
    if not setting:
        return COMPILE_TIMEOUT
    try:
        seconds = float(setting)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise CompileError(f"SYMGRAD_CC_TIMEOUT must be a positive number of seconds, "
                           f"got {setting!r}")
    return seconds


def march() -> str:
    """The instruction set loops are built for: ``$SYMGRAD_MARCH`` (``x86-64``,
    ``x86-64-v3``, ...: gcc's ``-march`` names), else ``native``. Results agree whatever it
    is, to the bounds the tests state; a lower one runs on more machines, slower.

    >>> march() if "SYMGRAD_MARCH" not in os.environ else "native"
    'native'
    """
    setting = os.environ.get("SYMGRAD_MARCH", "") or "native"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}", setting):
        raise CompileError(f"SYMGRAD_MARCH must be a -march name of the compiler (letters, "
                           f"digits, '.', '_' and '-'), got {setting!r}")
    return setting


def threads() -> int:
    """How many threads share a large batch: ``$SYMGRAD_THREADS``, else the cores this
    process may run on."""
    setting = os.environ.get("SYMGRAD_THREADS", "")
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _template(name: str = "fused_loop.c.j2") -> Any:
    """A C template of ``symgrad/templates`` (Jinja is imported on first use: ``import
    symgrad`` stays quick)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("symgrad", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    return env.get_template(name)


# -- the cache: what it trusts ------------------------------------------------------------------
#
# A library in the cache is code this process will run, and its name is predictable, so
# the cache trusts nothing it cannot vouch for: the folder and every folder above it must
# be safe from other users (else another user could put a library there, or swap the
# folder), and a library is loaded only if it is this user's own file, writable by no one
# else, with the SHA-256 recorded beside it when it was built (a truncated, damaged or
# foreign file is rebuilt, not mapped: mapping one gave SIGBUS or SIGILL).

def _owner(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _unsafe(folder: Path, info: os.stat_result, own: bool) -> str | None:
    """Why another user could change the entries of ``folder`` (``own``: the folder that
    holds the libraries, which must be ours; those above may be root's or sticky)."""
    me = os.geteuid()
    owners = (me,) if own else (me, 0)
    if info.st_uid not in owners:
        return f"{folder} belongs to {_owner(info.st_uid)}, not to you"
    sticky = not own and info.st_mode & stat.S_ISVTX  # /tmp: others cannot rename our entries
    writers = [who for bit, who in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "others"))
               if info.st_mode & bit]
    if writers and not sticky:
        return (f"{folder} is writable by {' and '.join(writers)} "
                f"(mode {stat.S_IMODE(info.st_mode):04o})")
    return None


def _private_folder() -> Path:
    """``cache_dir()/c``, made (mode 0700, as each missing folder above it) if missing;
    a :class:`CompileError` if it cannot be made or another user could change it."""
    folder = cache_dir() / "c"
    try:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for path in reversed(missing):
            path.mkdir(mode=0o700, exist_ok=True)
        real = Path(os.path.realpath(folder))
        problem = _unsafe(real, real.stat(), own=True) or next(
            filter(None, (_unsafe(p, p.stat(), own=False) for p in real.parents)), None)
    except OSError as exc:
        raise CompileError(f"cannot write to the kernel cache {folder}: {exc.strerror}; "
                           "set SYMGRAD_CACHE_DIR to a writable folder") from None
    if problem is not None:
        raise CompileError(f"the kernel cache {folder} is not safe to load code from: "
                           f"{problem}; use a folder only you can write to (chmod go-w, or "
                           "set SYMGRAD_CACHE_DIR)")
    return folder


def _read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of ours that no one else may write
    (not through a symbolic link, at most ``limit`` bytes), else ``None``."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # missing, a symbolic link, unreadable
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_mode & _OTHERS_WRITE or info.st_size > limit):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _record(library: bytes, name: str) -> str:
    """The line kept beside a library, in ``sha256sum`` format (``sha256sum -c`` reads it)."""
    return f"{hashlib.sha256(library).hexdigest()}  {name}\n"


def _verified(library: Path) -> bool:
    """Whether ``library`` is ours, private, and has the SHA-256 recorded when it was built."""
    record = _read_private(library.with_suffix(".sha256"), 1024)
    data = _read_private(library, _MAX_LIBRARY_BYTES)
    return (record is not None and data is not None
            and record.decode("utf-8", "replace") == _record(data, library.name))


def _dlopen(path: Path, name: str, symbol: str) -> Any:
    """The function ``symbol`` of the library ``path``, loaded."""
    try:
        return getattr(ctypes.CDLL(str(path)), symbol)
    except (OSError, AttributeError) as exc:  # not a library, not for this machine, not ours
        raise CompileError(f"cannot load {name} from the library the C compiler made: "
                           f"{exc}") from None


def _library(source: str, name: str, symbol: str) -> Any:
    """The function ``symbol`` of the shared library of ``source``, loaded: from the cache
    if the library there passes :func:`_verified`, else built now and put in the cache
    (atomically)."""
    cc = compiler()
    folder = _private_folder()
    key = hashlib.sha256("\0".join([source, *cc, march(), platform.machine(),
                                    platform.node()]).encode()).hexdigest()[:24]
    library = folder / f"{name}-{key}.so"
    if _verified(library):
        return _dlopen(library, name, symbol)
    try:
        fd, c_file = create_temporary(folder, name, suffix=".c")  # mode as open() gives
    except OSError as exc:
        raise CompileError(f"cannot write to the kernel cache {folder}: {exc.strerror}; "
                           "set SYMGRAD_CACHE_DIR to a writable folder") from None
    built = c_file.with_suffix(".so")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(source)
        _compile(cc, c_file, built, name)
        data = _built(built)
        if not data:
            raise CompileError(f"the C compiler '{' '.join(cc)}' reported no error but "
                               f"wrote no library for {name}; set CC to a C compiler "
                               "(gcc, clang)")
        loaded = _dlopen(built, name, symbol)  # before it is installed: no bad build cached
        _install(c_file, built, library, _record(data, library.name))
        return loaded
    except OSError as exc:
        raise CompileError(f"cannot write to the kernel cache {folder}: {exc.strerror}; "
                           "set SYMGRAD_CACHE_DIR to a writable folder") from None
    finally:
        for leftover in (c_file, built):
            leftover.unlink(missing_ok=True)


def _built(path: Path) -> bytes | None:
    """The library the compiler wrote at ``path``, made writable by its owner only (as
    :func:`_verified` wants it); ``None`` if it wrote none."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(info.st_mode):
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~_OTHERS_WRITE)
    return _read_private(path, _MAX_LIBRARY_BYTES)


def _compile(cc: list[str], c_file: Path, built: Path, name: str) -> None:
    """Build ``c_file`` into ``built`` with the first flags the compiler accepts."""
    errors = ""
    for pattern in _FLAG_SETS:
        flags = [f.format(march=march()) for f in pattern]
        libraries = [f for f in flags if f.startswith("-l")]
        options = [f for f in flags if not f.startswith("-l")]
        status, errors = _run([*cc, *options, "-fPIC", "-shared", str(c_file), "-o",
                               str(built), *libraries, "-lm"], name)
        if status == 0:
            return
    first = next((line for line in errors.splitlines() if "error" in line),
                 errors.strip().splitlines()[0] if errors.strip() else "no output")
    raise CompileError(f"the C compiler failed on {name}: {first.strip()}")


def _run(command: list[str], name: str) -> tuple[int, str]:
    """The exit status and error output of the compiler ``command``, stopped with all
    it started (its own process group) after :func:`compile_timeout` seconds or on an
    interrupt. ``subprocess.run`` would kill only the compiler, and then wait for its
    children (``cc1``, a wrapper's ``sleep``) to close the output pipes."""
    timeout = compile_timeout()
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        raise CompileError(f"cannot run the C compiler '{command[0]}': "
                           f"{exc.strerror or exc}") from None
    with process:
        try:
            _, errors = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise CompileError(f"the C compiler did not finish {name} within {timeout:g} s; "
                               "set SYMGRAD_CC_TIMEOUT to allow it longer") from None
        except BaseException:  # an interrupt: the compiler is not in our process group
            os.killpg(process.pid, signal.SIGKILL)
            raise
    return process.returncode, errors


def _install(c_file: Path, built: Path, library: Path, record: str) -> None:
    """Put the source, the record of the library and the library in their places in the
    cache: the library last, as its presence is what says the build is done (a reader
    that comes between finds no record or another, and builds again). Raises
    :class:`OSError` or :class:`~symgrad.errors.FileError`."""
    os.replace(c_file, library.with_suffix(".c"))  # kept beside the library, to be read
    kept = write_atomic(library.with_suffix(".sha256"), record, what="the library's record")
    os.chmod(kept, stat.S_IMODE(kept.stat().st_mode) & ~_OTHERS_WRITE)  # as for the library
    os.replace(built, library)


class FusedLoop:
    """The sums over samples of per-sample ``outputs``, by one generated C function.

    ``body`` is a list of ``(symbol, expression)`` assignments in evaluation order, over the
    ``data`` symbols (one value per sample, or one for all) and the ``parameters`` (one
    value for all samples). A variant is built per combination of which data values are
    arrays and of their dtype (float64 or float32; arithmetic is float64 either way), on
    first use.
    """

    def __init__(self, name: str, what: str, data: Sequence[Symbol],
                 parameters: Sequence[Symbol], body: Sequence[tuple[Symbol, Expr]],
                 outputs: Sequence[Expr]) -> None:
        self.name, self.what = name, what
        self.data, self.parameters = tuple(data), tuple(parameters)
        printer = StableCPrinter()
        self._names = [printer.doprint(s) for s in self.data + self.parameters]
        try:
            self._body = [(printer.doprint(s), printer.doprint(e)) for s, e in body]
            self._outputs = [printer.doprint(e) for e in outputs]
        except NotImplementedError as exc:  # a function with no C form
            raise CompileError(f"no C form for part of {name}: {exc}") from None
        self._variants: dict[tuple[tuple[bool, ...], str], Any] = {}

    def source(self, arrays: Sequence[bool], dtype: numpy.dtype) -> str:
        """The C source of the variant whose data values are arrays where ``arrays`` is true."""
        ctype = _CTYPES[numpy.dtype(dtype).name]
        arguments, loads = [], []
        for k, name in enumerate(self._names):
            if k < len(self.data) and arrays[k]:
                arguments.append((f"const {ctype} *", f"p__{name}"))
                loads.append((name, f"p__{name}"))
            else:
                arguments.append(("double", name))
        return _template().render(
            name=self.name, what=self.what, block=BLOCK,
            unary=_VECTOR_MATH, arguments=arguments, loads=loads, body=self._body,
            outputs=self._outputs)

    def _function(self, arrays: tuple[bool, ...], dtype: numpy.dtype) -> Any:
        key = (arrays, dtype.name)
        if key not in self._variants:
            count = len(arrays) + len(self.parameters) + 3  # n, threads, out
            if count > _MAX_ARGUMENTS:
                raise CompileError(f"backend 'c' cannot call {self.name} with {count} "
                                   f"arguments (ctypes passes at most {_MAX_ARGUMENTS}); "
                                   "use backend 'numpy'")
            tag = "".join("a" if a else "s" for a in arrays) + dtype.name[-2:]
            function = _library(self.source(arrays, dtype), f"{self.name}_{tag}", self.name)
            function.argtypes = ([ctypes.c_void_p if a else ctypes.c_double for a in arrays]
                                 + [ctypes.c_double] * len(self.parameters)
                                 + [ctypes.c_int64] * 2 + [ctypes.c_void_p])
            function.restype = None
            self._variants[key] = function
        return self._variants[key]

    def __call__(self, args: Sequence[Any], n: int, parts: int | None = None
                 ) -> numpy.ndarray:
        """The float64 sums over the ``n`` samples, for ``args`` in data-then-parameter
        order (data values are numbers or 1-D arrays of ``n`` samples, one dtype), on at
        most ``parts`` threads (default :func:`threads`)."""
        n_data = len(self.data)
        arrays = tuple(type(a) is numpy.ndarray and a.ndim == 1 for a in args[:n_data])
        dtype = next((a.dtype for a, many in zip(args, arrays) if many),
                     numpy.dtype(numpy.float64))
        function = self._function(arrays, dtype)
        values: list[Any] = []
        keep = []  # contiguous copies must outlive the call
        for a, many in zip(args[:n_data], arrays):
            if many:
                a = numpy.ascontiguousarray(a, dtype=dtype)
                keep.append(a)
                values.append(a.ctypes.data)
            else:
                values.append(float(a))
        values += [float(p) for p in args[n_data:]]
        blocks = -(-n // BLOCK)
        out = numpy.empty((blocks, len(self._outputs)))
        parts = max(1, min(parts or threads(), blocks // _MIN_BLOCKS_PER_THREAD))
        function(*values, n, parts, out.ctypes.data)
        return out.sum(axis=0)
