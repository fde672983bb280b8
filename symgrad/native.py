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
with the system C compiler (``$CC``, else Python's own, else ``cc``) into a shared library
cached under ``$SYMGRAD_CACHE_DIR`` (default ``~/.cache/symgrad``), keyed by a hash of the
source, the compiler and the machine, and loaded with :mod:`ctypes`. When the compiler
refuses the fastest flags (no libmvec, say), fewer are tried.

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
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any, Sequence

import numpy
from sympy import Expr, Symbol

from .errors import CompileError, MissingDependencyError
from .files import create_temporary
from .printers_numeric import StableCPrinter

__all__ = ["FusedLoop", "BLOCK", "cache_dir", "compiler", "threads"]

#: Samples per block; each block writes one row of partial sums.
BLOCK = 8192
#: A thread gets at least this many blocks: below, handing work over costs more than it saves.
_MIN_BLOCKS_PER_THREAD = 4
#: Functions of one argument that libmvec vectorizes (declared ``omp declare simd``).
_VECTOR_MATH = ("exp", "log", "log1p", "expm1", "tanh", "erfc")
#: Compiler flags, fastest first; the first set the compiler accepts is used.
_FLAG_SETS: tuple[tuple[str, ...], ...] = (
    ("-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-pthread",
     "-DSYMGRAD_VECTOR_MATH", "-lmvec"),
    ("-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-pthread"),
    ("-O2", "-fno-math-errno", "-pthread"),
)
_COMPILE_TIMEOUT = 600.0
_CTYPES = {"float64": "double", "float32": "float"}


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
    argv = shlex.split(command)
    if not argv or shutil.which(argv[0]) is None:
        name = argv[0] if argv else command
        raise MissingDependencyError(
            f"backend 'c' needs a C compiler and '{name}' was not found; install one "
            "(apt-get install gcc) or set CC, or use backend 'numpy'")
    return argv


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
def _template() -> Any:
    """The C template (Jinja is imported on first use: ``import symgrad`` stays quick)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("symgrad", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    return env.get_template("fused_loop.c.j2")


def _build(source: str, name: str) -> Path:
    """The shared library of ``source``, from the cache or built now (atomically)."""
    cc = compiler()
    key = hashlib.sha256("\0".join([source, *cc, platform.machine(), platform.node()])
                         .encode()).hexdigest()[:24]
    folder = cache_dir() / "c"
    library = folder / f"{name}-{key}.so"
    if library.exists():
        return library
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, c_file = create_temporary(folder, name, suffix=".c")  # mode as open() gives
    except OSError as exc:
        raise CompileError(f"cannot write to the kernel cache {folder}: {exc.strerror}; "
                           "set SYMGRAD_CACHE_DIR to a writable folder") from None
    built = c_file.with_suffix(".so")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(source)
        errors = ""
        for flags in _FLAG_SETS:
            libraries = [f for f in flags if f.startswith("-l")]
            options = [f for f in flags if not f.startswith("-l")]
            command = [*cc, *options, "-fPIC", "-shared", str(c_file), "-o", str(built),
                       *libraries, "-lm"]
            try:
                run = subprocess.run(command, capture_output=True, text=True,
                                     timeout=_COMPILE_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors = str(exc)
                continue
            if run.returncode == 0:
                _install(c_file, built, library)
                return library
            errors = run.stderr
        first = next((line for line in errors.splitlines() if "error" in line),
                     errors.strip().splitlines()[0] if errors.strip() else "no output")
        raise CompileError(f"the C compiler failed on {name}: {first.strip()}")
    finally:
        for leftover in (c_file, built):
            leftover.unlink(missing_ok=True)


def _install(c_file: Path, built: Path, library: Path) -> None:
    """Rename the source and the library built from it to their names in the cache: the
    library last, as its presence is what says the build is done."""
    try:
        os.replace(c_file, library.with_suffix(".c"))  # kept beside the library, to be read
        os.replace(built, library)
    except OSError as exc:
        raise CompileError(f"cannot write to the kernel cache {library.parent}: "
                           f"{exc.strerror}; set SYMGRAD_CACHE_DIR to a writable folder"
                           ) from None


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
            tag = "".join("a" if a else "s" for a in arrays) + dtype.name[-2:]
            library = ctypes.CDLL(str(_build(self.source(arrays, dtype),
                                             f"{self.name}_{tag}")))
            function = getattr(library, self.name)
            function.argtypes = ([ctypes.c_void_p if a else ctypes.c_double for a in arrays]
                                 + [ctypes.c_double] * len(self.parameters)
                                 + [ctypes.c_int64] * 2 + [ctypes.c_void_p])
            function.restype = None
            self._variants[key] = function
        return self._variants[key]

    def __call__(self, args: Sequence[Any], n: int) -> numpy.ndarray:
        """The float64 sums over the ``n`` samples, for ``args`` in data-then-parameter
        order (data values are numbers or 1-D arrays of ``n`` samples, one dtype)."""
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
        parts = max(1, min(threads(), blocks // _MIN_BLOCKS_PER_THREAD))
        function(*values, n, parts, out.ctypes.data)
        return out.sum(axis=0)
