"""Dask arrays as data: ``grad``, ``loss`` and ``value_and_grad`` chunk by chunk on a
``LocalCluster`` of two worker processes (and from ``.npy`` memory maps), equal to the
in-memory results; training in minibatch mode on such data; Dask imported only when used."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from symgrad import native
from symgrad.chunked import read_npy
from symgrad.compile import CompiledNetwork, compile
from symgrad.derive import derive
from symgrad.errors import ArgumentError, FileError
from symgrad.network import Dense, Network, load
from symgrad.train import train

from .conftest import DERIVATIONS

da = pytest.importorskip("dask.array", reason="Dask is not installed (extra 'dask')")
dask = pytest.importorskip("dask", reason="Dask is not installed (extra 'dask')")
distributed = pytest.importorskip("distributed",
                                  reason="dask.distributed is not installed (extra 'dask')")

N = 60_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One cluster of two single-threaded worker processes for this module, the default
    scheduler while its client is open."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        yield client


def _network(backend: str) -> CompiledNetwork:
    return compile(derive(load(DERIVATIONS / "small_mlp.toml")), backend=backend)


def _data(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {"x1": rng.normal(size=n), "x2": rng.normal(size=n),
            "T1": rng.uniform(size=n), "T2": rng.uniform(size=n)}


def _close(got: Any, expected: Any) -> None:
    assert float(got) == pytest.approx(float(expected), rel=1e-12, abs=0)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_dask_sums_on_a_cluster_equal_the_in_memory_ones(cluster: Any, backend: str) -> None:
    f = _network(backend)
    params = {p: v for p, v in f.network.values.items() if p in f.parameters}
    data = _data()
    chunked = {k: da.from_array(v, chunks=7_000) for k, v in data.items()}  # 9 chunks
    loss, grads = f.value_and_grad(**chunked, **params)
    # the workers ran the network's kernels on their chunks (none loaded the whole data)
    kept = cluster.run(lambda: sorted(getattr(sys.modules.get("symgrad.chunked"),
                                              "_NETWORKS", {}).values(), key=repr))
    assert len(kept) == 2 and any(repr(f) in map(repr, networks) for networks in kept.values())
    expected_loss, expected = f.value_and_grad(**data, **params)
    _close(loss, expected_loss)
    _close(f.loss(**chunked, **params), expected_loss)
    for name, value in f.grad(**chunked, **params).items():
        _close(value, expected[name])
        _close(grads[name], expected[name])


def test_dask_sums_read_npy_memory_maps(cluster: Any, tmp_path: Path) -> None:
    """Mean loss (the division by the total count, not the chunks'), a scalar target and
    float32 data read from ``.npy`` files on disk."""
    net = Network(1, [Dense(3, "tanh"), Dense(1, "sigmoid")], "bce",
                  parameters={"w1_1_1": 0.3, "w1_2_1": -0.2, "w1_3_1": 0.1, "b1_1": 0.0,
                              "b1_2": 0.1, "b1_3": -0.1, "w2_1_1": 0.5, "w2_1_2": 0.4,
                              "w2_1_3": -0.6, "b2_1": 0.05})
    f = compile(derive(net))
    assert f.mean
    x = np.random.default_rng(1).normal(size=N).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    disk = da.from_array(np.load(tmp_path / "x.npy", mmap_mode="r"), chunks=8_192)
    params = {p: v for p, v in net.values.items() if p in f.parameters}
    got = f.grad(x1=disk, T=1.0, **params)
    expected = f.grad(x1=x.astype(np.float64), T=1.0, **params)
    assert {type(v) for v in got.values()} == {np.float32}
    for name in f.parameters:  # float32 data, summed in float64 per chunk
        assert float(got[name]) == pytest.approx(float(expected[name]), rel=1e-4)


def test_mismatched_sample_counts_are_refused_in_one_line(cluster: Any) -> None:
    f = _network("numpy")
    data = {k: da.from_array(v, chunks=10_000) for k, v in _data().items()}
    data["T2"] = data["T2"][:100]
    params = {p: 0.1 for p in f.parameters}
    with pytest.raises(ArgumentError, match=r"^'T2' has 100 samples but 'x1' has 60000; "
                                            r"the shapes cannot broadcast$"):
        f.grad(**data, **params)
    data["T2"] = da.zeros((N, 2), chunks=10_000)
    with pytest.raises(ArgumentError, match=r"^value of 'T2' has shape \(60000, 2\); "
                                            r"expected a number or a 1-D array of samples$"):
        f.grad(**data, **params)


def test_training_in_minibatch_mode_on_dask_data(cluster: Any) -> None:
    """The same run on Dask arrays as on NumPy arrays: each minibatch read from its
    chunks, each record's whole-data gradient summed on the cluster."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=2_000)
    t = (x > 0.3).astype(float)
    results = []
    for data in ({"x": x, "T": t},
                 {"x": da.from_array(x, chunks=500), "T": da.from_array(t, chunks=500)}):
        net = Network(1, [Dense(1, "sigmoid")], "half_sse",
                      parameters={"w": 0.1, "b": 0.0}, data=data)
        results.append(train(net, mode="minibatch", batch_size=100, iterations=6,
                             learning_rate=0.05, seed=3, progress=False))
    memory, chunked = results
    assert len(chunked.history) == len(memory.history) == 7
    for a, b in zip(memory.history, chunked.history):
        _close(b.loss, a.loss)
        for name in ("w", "b"):
            _close(b.params[name], a.params[name])
    assert memory.params["w"] != 0.1  # it did move


_LAZY = r"""
import sys
import numpy
from symgrad.network import load
from symgrad.derive import derive
from symgrad.compile import compile
f = compile(derive(load(sys.argv[1])))
f.grad(x1=numpy.ones(10), T=0.5, w1=0.1, b1=0.2, w2=0.3, b2=0.4)
print("dask" in sys.modules, "distributed" in sys.modules)
"""


def test_dask_is_imported_only_when_a_dask_array_is_passed() -> None:
    proc = subprocess.run([sys.executable, "-c", _LAZY, str(DERIVATIONS / "two_neuron.toml")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_read_npy_chunks_are_memory_maps_summed_on_the_cluster(cluster: Any,
                                                               tmp_path: Path) -> None:
    """Each chunk a memory map of its slice of the file (no copy, only the path in the
    graph); the sums equal the in-memory ones, with a last chunk shorter than the others."""
    f = _network("c")
    params = {p: v for p, v in f.network.values.items() if p in f.parameters}
    data = _data()
    for name, values in data.items():
        np.save(tmp_path / f"{name}.npy", values)
    disk = {name: read_npy(tmp_path / f"{name}.npy", chunks=25_000) for name in data}
    assert disk["x1"].chunks == ((25_000, 25_000, 10_000),)
    piece = disk["x1"].blocks[2].compute(scheduler="sync")
    assert isinstance(piece, np.memmap)
    assert len(pickle.dumps(disk["x1"].dask)) < 5_000  # the path, not 480,000 bytes of data
    assert piece.tolist() == data["x1"][50_000:].tolist()
    loss, grads = f.value_and_grad(**disk, **params)
    expected_loss, expected = f.value_and_grad(**data, **params)
    _close(loss, expected_loss)
    for name in f.parameters:
        _close(grads[name], expected[name])


def test_read_npy_refuses_what_is_not_a_1d_float_npy_file(tmp_path: Path) -> None:
    np.save(tmp_path / "m.npy", np.zeros((3, 2)))
    with pytest.raises(FileError, match=r"m\.npy: holds float64 values of shape \(3, 2\); "
                                        r"expected a 1-D array of float samples$"):
        read_npy(tmp_path / "m.npy", chunks=2)
    (tmp_path / "t.npy").write_text("not numpy")
    with pytest.raises(FileError, match=r"t\.npy: cannot read as a \.npy file: "):
        read_npy(tmp_path / "t.npy", chunks=2)


def test_a_chunk_task_runs_the_c_loop_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask runs one task per worker thread: a C loop that started a thread per core in
    each task oversubscribed the cores (benchmarks/README.md). The sums do not
    depend on the thread count, to the last bit."""
    f = compile(derive(load(DERIVATIONS / "two_neuron.toml")), backend="c")
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=300_000), rng.uniform(size=300_000)
    params = {"w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}
    loop = f.fused_loop("grad_sums")
    args = [x, t, *params.values()]
    assert loop(args, x.size, 1).tolist() == loop(args, x.size, 2).tolist()
    asked: list[int | None] = []
    call = native.FusedLoop.__call__

    def counted(self: native.FusedLoop, a: Any, n: int, parts: int | None = None) -> Any:
        asked.append(parts)
        return call(self, a, n, parts)

    monkeypatch.setattr(native.FusedLoop, "__call__", counted)
    with dask.config.set(scheduler="sync"):  # in this process, where the patch is
        got = f.grad(x1=da.from_array(x, chunks=100_000), T=da.from_array(t, chunks=100_000),
                     **params)
    assert asked == [1, 1, 1]
    for name, value in f.grad(x1=x, T=t, **params).items():
        _close(got[name], value)
