"""What compiled functions need at run time: argument checks, batch reductions, helpers.

This module imports NumPy and ``math`` only, never SymPy or the rest of
symgrad: :mod:`symgrad.export` copies its source verbatim into every exported module, so
the exported functions run the very same code as :func:`symgrad.compile` and return the
same numbers to the last bit.

A batch is evaluated in blocks of :data:`BLOCK` samples, so the temporaries of the
generated code stay in the processor's cache instead of streaming through memory; the
blocks' sums are added up in block order.

>>> values, n, dtype = prepare({"x": [1.0, 2.0], "w": 3}, ("x", "w"), 1, numpy.float64)
>>> n, values[1], dtype.name
(2, np.float64(3.0), 'float64')
>>> _bdot(numpy.array([1.0, 2.0]), numpy.array([3.0, 4.0]), 2)
np.float64(11.0)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only; exported modules import NumPy and math alone
    from typing import Any, Callable, Iterable, Mapping, Sequence

    Kernel = Callable[..., Sequence[Any]]

import numpy

#: Samples per block of a batch evaluation. A block's temporaries (64 KiB each) stay in
#: the cache, and below the allocator's 128 KiB threshold, above which every temporary
#: would be a fresh mmap with page faults (16384 samples measured 4x slower than 8192).
BLOCK = 8192


class ArgumentError(ValueError):
    """A bad argument: missing, unknown, not numeric, or of a shape that cannot broadcast."""


def _bsum(u: Any, n: int) -> Any:
    """``u`` summed over the ``n`` samples of a block (``u`` may be one number for all)."""
    if type(u) is numpy.ndarray and u.ndim:
        return u.sum()
    return u * n


def _bdot(u: Any, v: Any, n: int) -> Any:
    """``u * v`` summed over the ``n`` samples of a block."""
    u_many = type(u) is numpy.ndarray and u.ndim
    v_many = type(v) is numpy.ndarray and v.ndim
    if u_many and v_many:
        return numpy.dot(u, v)
    if u_many:
        return u.sum() * v
    if v_many:
        return v.sum() * u
    return u * v * n


_erfc_object = numpy.frompyfunc(math.erfc, 1, 1)


def _erfc(x: Any) -> Any:
    """The complementary error function elementwise (NumPy has none; ``math.erfc`` is exact
    to about one ulp), keeping the floating dtype of ``x``."""
    if type(x) is float:
        return math.erfc(x)
    x = numpy.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else numpy.dtype(numpy.float64)
    return numpy.asarray(_erfc_object(x), dtype=dtype)[()]


def prepare(values: Mapping[str, Any], names: Sequence[str], n_data: int,
            default_dtype: Any) -> tuple[list[Any], int, numpy.dtype]:
    """Check ``values`` (a mapping of argument name to value) and order them as ``names``.

    The first ``n_data`` names are inputs and targets (a number, or a 1-D array of samples);
    the rest are parameters (one number each). Returns the values, cast to one floating
    dtype, and the number of samples. The dtype is that of the NumPy floating values among
    the inputs and targets (float32 stays float32), else ``default_dtype``.
    """
    known = set(names)
    for key in values:
        if key not in known:
            raise ArgumentError(f"unknown argument '{key}'; the arguments are: "
                                f"{', '.join(names)}")
    arrays: list[numpy.ndarray] = []
    dtypes: list[numpy.dtype] = []
    n = 1
    owner: str | None = None
    for index, name in enumerate(names):
        try:
            value = values[name]
        except KeyError:
            raise ArgumentError(f"missing value for '{name}'") from None
        try:
            array = numpy.asarray(value)
        except (TypeError, ValueError):
            raise ArgumentError(f"value of '{name}' is not numeric: {value!r}") from None
        if array.dtype.kind not in "iuf":
            raise ArgumentError(f"value of '{name}' is not numeric: {value!r}")
        if index < n_data:
            if array.ndim > 1:
                raise ArgumentError(f"value of '{name}' has shape {array.shape}; expected a "
                                    "number or a 1-D array of samples")
            if array.ndim == 1:
                size = array.shape[0]
                if size == 0:
                    raise ArgumentError(f"value of '{name}' has no samples")
                if size != 1:
                    if owner is None:
                        n, owner = size, name
                    elif size != n:
                        raise ArgumentError(f"'{name}' has {size} samples but '{owner}' has "
                                            f"{n}; the shapes cannot broadcast")
            if array.dtype.kind == "f" and isinstance(value, (numpy.ndarray, numpy.generic)):
                dtypes.append(array.dtype)
        elif array.ndim and array.size != 1:
            raise ArgumentError(f"parameter '{name}' takes one number, got an array of shape "
                                f"{array.shape}")
        arrays.append(array)
    dtype = numpy.result_type(*dtypes) if dtypes else numpy.dtype(default_dtype)
    if dtype not in (numpy.float32, numpy.float64):
        dtype = numpy.dtype(default_dtype)
    out = []
    for index, array in enumerate(arrays):
        array = array.astype(dtype, copy=False)
        if index >= n_data or array.ndim == 0 or (owner is not None and array.shape[0] == 1):
            array = array.reshape(())[()]  # one number for every sample
        out.append(array)
    return out, n, dtype


def batch_shape(args: Sequence[Any], n_data: int) -> tuple[int, ...]:
    """``(n,)`` when an input or target is an array of samples, else ``()``."""
    for value in args[:n_data]:
        if type(value) is numpy.ndarray and value.ndim:
            return value.shape
    return ()


def evaluate_forward(kernel: Kernel, names: Sequence[str], outputs: Sequence[str],
                     values: Mapping[str, Any], n_data: int,
                     default_dtype: Any) -> dict[str, Any]:
    """Every forward quantity of ``kernel`` (named ``outputs``) as an array of the batch's
    shape; a number (of the dtype) when every value is one number."""
    args, _, dtype = prepare(values, names, n_data, default_dtype)
    shape = batch_shape(args, n_data)
    out = {}
    for name, value in zip(outputs, kernel(*args)):
        array = numpy.asarray(value, dtype=dtype)
        if not shape:  # one sample: a number, as the gradients are
            out[name] = dtype.type(array)
        else:
            out[name] = numpy.full(shape, array) if array.shape != shape else array
    return out


def _blocks(kernel: Kernel, args: Sequence[Any], n_data: int, starts: Iterable[int],
            n: int) -> list[Sequence[Any]]:
    """The kernel's sums for each block starting at ``starts``."""
    parts = []
    for start in starts:
        stop = min(start + BLOCK, n)
        block = [a[start:stop] if i < n_data and type(a) is numpy.ndarray and a.ndim else a
                 for i, a in enumerate(args)]
        parts.append(kernel(*block, stop - start))
    return parts


def scalar_arguments(values: Mapping[str, Any], names: Sequence[str]) -> list[Any] | None:
    """The arguments in ``names`` order when every one is given as a finite Python number
    (one sample, which the scalar kernels take directly), else ``None``.

    >>> scalar_arguments({"w": 2, "x": 0.5}, ("x", "w")), scalar_arguments({"x": [0.5]}, "x")
    ([0.5, 2], None)
    """
    if len(values) != len(names):
        return None
    try:
        args = [values[name] for name in names]
    except KeyError:
        return None  # the batch path names what is missing
    for v in args:
        if (type(v) is not float and type(v) is not int) or not math.isfinite(v):
            return None
    return args


def scalar_results(kernel: Callable[..., Any], args: Sequence[Any]) -> tuple[float, ...] | None:
    """``kernel(*args)`` as a tuple of floats; ``None`` where a plain float overflows (an
    ``OverflowError`` that NumPy answers with inf: the batch path then answers)."""
    try:
        out = kernel(*args)
    except ArithmeticError:
        return None
    return (float(out),) if isinstance(out, (int, float)) else tuple(map(float, out))


def reduce_batch(kernel: Kernel, names: Sequence[str], values: Mapping[str, Any], n_data: int,
                 default_dtype: Any, mean: bool) -> tuple[Any, ...]:
    """The sums over samples that ``kernel`` returns, blockwise, added in block order;
    divided by the number of samples when ``mean``. ``kernel`` takes the arguments, then
    the block's sample count."""
    args, n, dtype = prepare(values, names, n_data, default_dtype)
    if n <= BLOCK:
        totals = kernel(*args, n)
    else:
        parts = _blocks(kernel, args, n_data, range(0, n, BLOCK), n)
        totals = list(parts[0])
        for part in parts[1:]:
            for i, value in enumerate(part):
                totals[i] = totals[i] + value
    if mean:
        return tuple(dtype.type(t / n) for t in totals)
    return tuple(dtype.type(t) for t in totals)
