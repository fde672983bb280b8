"""Batch sums over Dask arrays: data larger than memory, on disk or on a cluster.

When the inputs or targets given to :meth:`CompiledNetwork.loss`, ``grad`` or
``value_and_grad`` are Dask arrays, each chunk of samples is summed by the network's own
in-memory kernels (NumPy or the fused C loop, :meth:`CompiledNetwork.sums`) and the
chunks' sums are added as a tree (:meth:`dask.array.Array.sum` with ``split_every``), so
no more than a few chunks are in memory at once: a ``.npy`` memory map or a Zarr array
wrapped with :func:`dask.array.from_array`, or a ``dask.distributed`` cluster, run the
same call. Dask is imported only here, and only when a Dask array is passed.

The compiled network travels to the workers pickled (its derivation; a worker compiles
it once and keeps it, by the digest of its pickle, for the chunks that follow). A task
runs the C loop on one thread: Dask already runs one task per worker thread (and its
workers set ``OMP_NUM_THREADS=1`` for the same reason), and a loop that started a thread
per core in each task oversubscribed the cores (``benchmarks/README.md``).

:func:`read_npy` makes a 1-D ``.npy`` file a Dask array whose every chunk is a memory map
of its samples, opened by the task that sums it: only the path travels in the graph (a
NumPy memory map given to :func:`dask.array.from_array` is pickled with all its data),
and the samples go from the page cache to the C loop without a copy.

>>> is_dask(1.0), is_dask([1.0])
(False, False)
"""

from __future__ import annotations

import os
import pickle
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

import numpy

from . import runtime
from .errors import FileError

if TYPE_CHECKING:
    import dask.array

__all__ = ["is_dask", "read_npy", "reduce_chunked", "SPLIT_EVERY"]

#: Chunks' sums added at each node of the reduction tree.
SPLIT_EVERY = 8

#: Unpickled networks of this process, by the digest of their pickle (a few at most).
_NETWORKS: dict[str, Any] = {}


class Summing(Protocol):
    """What the chunks need of a compiled network (:class:`symgrad.compile.CompiledNetwork`)."""

    arguments: tuple[str, ...]
    data_names: tuple[str, ...]
    parameters: tuple[str, ...]
    dtype: numpy.dtype

    def sums(self, name: str, values: Mapping[str, Any], threads: int | None = None
             ) -> tuple[Sequence[Any], int, numpy.dtype]: ...


def is_dask(value: object) -> bool:
    """Whether ``value`` is a Dask array, told without importing Dask."""
    return type(value).__module__.startswith("dask.array")


class _Shipped:
    """A network pickled once for the workers and unpickled once per process."""

    def __init__(self, network: Summing) -> None:
        import hashlib  # (OpenSSL: not loaded by every command that reads a spec)

        import cloudpickle  # Dask's own: it takes the catalogue's lambdas and read-only maps

        self.payload = cloudpickle.dumps(network)
        self.key = hashlib.sha256(self.payload).hexdigest()
        _NETWORKS[self.key] = network  # this process (a threaded scheduler) has it already

    def get(self) -> Summing:
        network = _NETWORKS.get(self.key)
        if network is None:
            if len(_NETWORKS) >= 8:
                _NETWORKS.clear()
            network = _NETWORKS[self.key] = pickle.loads(self.payload)
        return network


def _chunk_sums(*chunks: numpy.ndarray, shipped: _Shipped, kernel: str,
                names: Sequence[str], fixed: Mapping[str, Any]) -> numpy.ndarray:
    """One row: the chunk's sample count, then the kernel's sums over its samples."""
    values = dict(fixed)
    values.update(zip(names, chunks))
    totals, n, _ = shipped.get().sums(kernel, values, threads=1)  # one per task
    return numpy.array([[n, *map(float, totals)]], dtype=numpy.float64)


class _NpySlices:
    """A 1-D ``.npy`` file as an array that :func:`dask.array.from_array` slices: each
    slice a read-only memory map of its samples (its pages freed when the chunk is)."""

    ndim = 1

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            header = numpy.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise FileError(f"cannot read as a .npy file: {exc}", path=path) from None
        if header.ndim != 1 or header.dtype.kind != "f":
            raise FileError(f"holds {header.dtype} values of shape {header.shape}; expected "
                            "a 1-D array of float samples", path=path)
        self.path, self.offset = os.fspath(path), header.offset
        self.shape, self.dtype = header.shape, header.dtype

    def __getitem__(self, index: Any) -> numpy.ndarray:
        (piece,) = index if isinstance(index, tuple) else (index,)
        start, stop, step = piece.indices(self.shape[0])
        if step != 1 or stop <= start:  # not a chunk of Dask's: read the slice plainly
            return numpy.load(self.path, mmap_mode="r")[piece].copy()
        offset = self.offset + start * self.dtype.itemsize
        return numpy.memmap(self.path, self.dtype, "r", offset, (stop - start,))


def read_npy(path: str | os.PathLike[str], chunks: int) -> dask.array.Array:
    """The samples of a 1-D ``.npy`` file as a Dask array of ``chunks`` samples a chunk,
    each chunk a memory map opened by the task that needs it.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> numpy.save(path, numpy.arange(5.0))
    >>> x = read_npy(path, chunks=2)
    >>> x.chunks, float(x.sum().compute(scheduler="sync"))
    (((2, 2, 1),), 10.0)
    """
    import dask.array as da

    return da.from_array(_NpySlices(path), chunks=chunks, asarray=False)


def _aligned(values: Mapping[str, Any], data: Sequence[str]
             ) -> tuple[dict[str, dask.array.Array], dict[str, Any]]:
    """The data given as Dask arrays (and 1-D NumPy arrays beside them), chunked alike,
    and the other values; a wrong shape is an :class:`runtime.ArgumentError`."""
    import dask.array as da

    arrays = {k: v for k, v in values.items()
              if k in data and (is_dask(v) or numpy.size(v) != 1)}
    for key, value in arrays.items():
        if numpy.ndim(value) != 1:
            raise runtime.ArgumentError(f"value of '{key}' has shape {numpy.shape(value)}; "
                                        "expected a number or a 1-D array of samples")
    sizes = {k: numpy.shape(v)[0] for k, v in arrays.items()}
    first = next(iter(sizes))
    for other, size in sizes.items():
        if size != sizes[first]:
            raise runtime.ArgumentError(f"'{other}' has {size} samples but '{first}' has "
                                        f"{sizes[first]}; the shapes cannot broadcast")
    lead = next(v for v in arrays.values() if is_dask(v))
    chunks = lead.chunks[0]
    aligned = {k: da.asarray(v).rechunk((chunks,)) for k, v in arrays.items()}
    return aligned, {k: v for k, v in values.items() if k not in aligned}


def reduce_chunked(network: Summing, name: str, values: Mapping[str, Any], width: int
                   ) -> tuple[list[float], int, numpy.dtype]:
    """The sums of batch kernel ``name`` (``width`` of them) over Dask arrays of samples,
    chunk by chunk, added as a tree; with the sample count and the result's dtype."""
    import dask.array as da

    aligned, fixed = _aligned(values, network.data_names)
    # names, numbers and the dtype checked as for NumPy data, on a one-sample stand-in
    probe = {k: numpy.zeros(1, dtype=v.dtype) if k in aligned else v
             for k, v in values.items()}
    _, _, dtype = runtime.prepare(probe, network.arguments, len(network.data_names),
                                  network.dtype)
    names = list(aligned)
    blocks = len(next(iter(aligned.values())).chunks[0])
    rows = da.map_blocks(_chunk_sums, *aligned.values(), shipped=_Shipped(network),
                         kernel=name, names=names, fixed=fixed, dtype=numpy.float64,
                         chunks=((1,) * blocks, (width + 1,)), new_axis=1)
    total = rows.sum(axis=0, split_every=SPLIT_EVERY).compute()
    return [float(t) for t in total[1:]], int(total[0]), dtype
