"""Batch sums over Dask arrays: data larger than memory, on disk or on a cluster.

When the inputs or targets given to :meth:`CompiledNetwork.loss`, ``grad`` or
``value_and_grad`` are Dask arrays, each chunk of samples is summed by the network's own
in-memory kernels (NumPy or the fused C loop, :meth:`CompiledNetwork.sums`) and the
chunks' sums are added as a tree (:meth:`dask.array.Array.sum` with ``split_every``), so
no more than a few chunks are in memory at once: a ``.npy`` memory map or a Zarr array
wrapped with :func:`dask.array.from_array`, or a ``dask.distributed`` cluster, run the
same call. Dask is imported only here, and only when a Dask array is passed.

The compiled network travels to the workers pickled (its derivation; a worker compiles
it once and keeps it, by the digest of its pickle, for the chunks that follow).

>>> is_dask(1.0), is_dask([1.0])
(False, False)
"""

from __future__ import annotations

import hashlib
import pickle
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

import numpy

from . import runtime

if TYPE_CHECKING:
    import dask.array

__all__ = ["is_dask", "reduce_chunked", "SPLIT_EVERY"]

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

    def sums(self, name: str, values: Mapping[str, Any]
             ) -> tuple[Sequence[Any], int, numpy.dtype]: ...


def is_dask(value: object) -> bool:
    """Whether ``value`` is a Dask array, told without importing Dask."""
    return type(value).__module__.startswith("dask.array")


class _Shipped:
    """A network pickled once for the workers and unpickled once per process."""

    def __init__(self, network: Summing) -> None:
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
    totals, n, _ = shipped.get().sums(kernel, values)
    return numpy.array([[n, *map(float, totals)]], dtype=numpy.float64)


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
