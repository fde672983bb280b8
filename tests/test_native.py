"""The fused C loops of ``backend="c"``: same numbers as the NumPy backend, stable, cached,
independent of the thread count, and clear errors when no C compiler is at hand."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Mapping

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import runtime
from symgrad.catalogue import get_activation
from symgrad.compile import CompiledNetwork, activation_functions, compile
from symgrad.derive import derive
from symgrad.errors import ArgumentError, CompileError, MissingDependencyError
from symgrad.native import BLOCK, FusedLoop, cache_dir, threads
from symgrad.network import Dense, Network, load

from .conftest import ROOT, SPECS
from .test_stability import CATALOGUE, EXTREMES, IDS, SWEEP, Case, _relative_errors

pytestmark = pytest.mark.usefixtures("private_cache")  # its C builds in a fresh folder


def _pair(net: Network) -> tuple[CompiledNetwork, CompiledNetwork]:
    d = derive(net)
    return compile(d), compile(d, backend="c")


def _close(a: float, b: float, rel: float) -> bool:
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def _abs_bsum(u: Any, n: int) -> Any:
    return runtime._bsum(np.abs(u), n)


def _abs_bdot(u: Any, v: Any, n: int) -> Any:
    return runtime._bdot(np.abs(u), np.abs(v), n)


def summand_scales(f: CompiledNetwork, values: Mapping[str, Any]) -> tuple[float, ...]:
    """``sum_i |t_i|`` for the loss and every gradient (divided by n for a mean): the size
    of the per-sample terms ``t_i`` whose sum the kernels return. A sum that cancels can be
    far smaller than its terms, and its rounding error is bounded by theirs, not by it.

    The NumPy kernel ``value_and_grad_sums`` is rerun with its two reductions (``_bsum``,
    ``_bdot``) summing absolute values; no code is generated or evaluated from text."""
    kernel = f.kernel("value_and_grad_sums")
    namespace = {**kernel.__globals__, "_bsum": _abs_bsum, "_bdot": _abs_bdot}
    magnitudes = types.FunctionType(kernel.__code__, namespace, kernel.__name__,
                                    kernel.__defaults__, kernel.__closure__)
    return tuple(float(s) for s in runtime.reduce_batch(
        magnitudes, f.arguments, values, len(f.data_names), np.float64, f.mean))


#: ``|c - numpy| <= SUM_ULPS * eps * sum_i |t_i|``. Both backends round each term some
#: ulps apart (glibc's SIMD exp and log vs NumPy's; a cross-entropy term is a difference
#: inside log-sum-exp) and add the terms in different orders (blocks and threads vs NumPy's
#: pairwise sums). Measured: 5.6 eps * sum |t_i| on the specs (24,593 samples), 82 on a
#: ReLU-softmax cross-entropy loss; relative to the result, small_mlp's cancelling gradient
#: sum differed by 7e-15 here and by 3e-14 on an AVX-512 machine, so a bound on the result
#: alone is flaky. 1024 eps is 2.3e-13 of the summands.
SUM_ULPS = 1024


def assert_sums_agree(f: CompiledNetwork, values: Mapping[str, Any],
                      want: tuple[float, dict[str, Any]],
                      got: tuple[float, dict[str, Any]]) -> None:
    """The loss and every gradient of two backends agree within ``SUM_ULPS`` ulps of the
    size of their summands (see :func:`summand_scales`)."""
    scales = summand_scales(f, values)
    names = [f.network.loss.symbol, *f.parameters]
    pairs = zip(names, [want[0], *want[1].values()], [got[0], *got[1].values()], scales)
    for name, w, g, scale in pairs:
        bound = SUM_ULPS * np.finfo(np.float64).eps * scale
        assert abs(float(w) - float(g)) <= bound, (name, float(w), float(g), scale)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_matches_the_numpy_backend(path: Path) -> None:
    net = load(path)
    f, fc = _pair(net)
    rng = np.random.default_rng(3)
    n = 3 * BLOCK + 17  # several blocks, threads, and a ragged last block
    values: dict[str, object] = {}
    for name in f.data_names:
        values[name] = rng.uniform(0.05, 0.95, size=n)
    for name in f.parameters:
        values[name] = float(net.values[name]) if name in net.values else float(rng.normal())
    want = f.value_and_grad(**values)
    assert_sums_agree(f, values, want, fc.value_and_grad(**values))
    assert_sums_agree(f, values, want, (fc.loss(**values), fc.grad(**values)))
    # and at the spec's own values (the course's numbers)
    assert_sums_agree(f, net.values, f.value_and_grad(**net.values),
                      fc.value_and_grad(**net.values))


def test_two_neuron_gradients_of_the_course() -> None:
    net = load(ROOT / "derivations" / "two_neuron.toml")
    g = compile(derive(net), backend="c").grad(**net.values)
    assert {k: round(float(v), 10) for k, v in g.items()} == {
        "w1": 0.0010213959, "b1": 0.0102139588, "w2": 0.0570703982, "b2": 0.094756281}


def test_mean_loss_divides_by_the_sample_count() -> None:
    net = Network(1, [Dense(1, "sigmoid")], "half_mse")
    f, fc = _pair(net)
    x = np.linspace(-3, 3, 1000)
    values = {"x": x, "T": 0.25, "w": 0.7, "b": -0.2}
    assert _close(float(fc.loss(**values)), float(f.loss(**values)), 1e-13)
    assert _close(float(fc.loss(**values)),
                  float(np.mean(0.5 * (0.25 - 1 / (1 + np.exp(-(0.7 * x - 0.2)))) ** 2)), 1e-13)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "elu", "gelu", "softplus"])
def test_softmax_cross_entropy_networks_match(activation: str) -> None:
    net = Network(2, [Dense(3, activation), Dense(3, "softmax")], "cce")
    f, fc = _pair(net)
    rng = np.random.default_rng(5)
    n = 2 * BLOCK + 3
    labels = rng.integers(0, 3, size=n)
    values: dict[str, object] = {str(x): rng.normal(size=n) for x in net.inputs}
    values.update({str(t): (labels == k).astype(float) for k, t in enumerate(net.targets)})
    values.update({str(p): float(rng.normal()) for p in net.parameters})
    assert_sums_agree(f, values, f.value_and_grad(**values), fc.value_and_grad(**values))


def test_scalar_data_broadcast_like_numpy() -> None:
    net = load(ROOT / "derivations" / "two_neuron.toml")
    f, fc = _pair(net)
    params = {p: net.values[p] for p in f.parameters}
    for x1, t in ((np.linspace(-1, 1, 50), 0.25), (0.1, np.linspace(0, 1, 50)), (0.1, 0.25)):
        values = {"x1": x1, "T": t, **params}
        assert_sums_agree(f, values, f.value_and_grad(**values), fc.value_and_grad(**values))


def test_float32_inputs_give_float32_results() -> None:
    net = load(ROOT / "derivations" / "two_neuron.toml")
    f, fc = _pair(net)
    x = np.linspace(-1, 1, 20_000, dtype=np.float32)
    t = np.full(20_000, 0.25, dtype=np.float32)
    params = {p: net.values[p] for p in f.parameters}
    got, want = fc.grad(x1=x, T=t, **params), f.grad(x1=x, T=t, **params)
    for name in f.parameters:
        assert got[name].dtype == np.float32
        assert _close(float(want[name]), float(got[name]), 1e-4), name


def test_bad_arguments_raise_the_same_errors() -> None:
    fc = compile(derive(load(ROOT / "derivations" / "two_neuron.toml")), backend="c")
    with pytest.raises(ArgumentError, match=r"^missing value for 'b2'$"):
        fc.grad(x1=1.0, T=0.25, w1=0.15, b1=0.4, w2=0.45)
    with pytest.raises(ArgumentError, match=r"^'T' has 3 samples but 'x1' has 2; the shapes "
                                            r"cannot broadcast$"):
        fc.grad(x1=[1.0, 2.0], T=[0.1, 0.2, 0.3], w1=0.15, b1=0.4, w2=0.45, b2=0.65)


def test_unknown_backend_is_named() -> None:
    d = derive(load(ROOT / "derivations" / "two_neuron.toml"))
    with pytest.raises(CompileError, match=r"^unknown backend 'cuda'; known: numpy, c$"):
        compile(d, backend="cuda")


def test_only_batch_sums_have_a_fused_loop() -> None:
    fc = compile(derive(load(ROOT / "derivations" / "two_neuron.toml")), backend="c")
    with pytest.raises(CompileError, match=r"^kernel 'grad_scalar' has no fused C loop; "
                                           r"only the batch sums do$"):
        fc.fused_loop("grad_scalar")


def _unit_loop(name: str) -> FusedLoop:
    """One unit's value and slope (default parameters), as the sums over one sample."""
    z, a = sp.Symbol("z"), sp.Symbol("a")
    forms = get_activation(name).stable_forms(z, a)
    slope = forms.roles[(a, "slope")]
    return FusedLoop(f"unit_{name}", "the value and slope of one unit", data=(z,),
                     parameters=(), body=forms.assignments, outputs=[a, slope])


def _per_point(loop: FusedLoop, points: np.ndarray) -> np.ndarray:
    """The loop's outputs at each point: 16 equal samples, so that the vectorized path
    (libmvec) computes them, and their sum is exactly 16 times the value."""
    return np.array([loop([np.full(16, z)], 16) / 16 for z in points])


@pytest.mark.parametrize("case", CATALOGUE, ids=IDS)
def test_activation_forms_in_c_match_numpy_at_extremes(case: Case) -> None:
    got = _per_point(_unit_loop(case.name), EXTREMES)
    value, slope = activation_functions(case.name)
    assert np.all(np.isfinite(got))
    for column, want in ((0, value(EXTREMES)), (1, slope(EXTREMES))):
        for z, g, w in zip(EXTREMES, got[:, column], want):
            assert _close(float(g), float(w), 1e-13), (case.name, z, column, g, w)


@pytest.mark.parametrize("case", CATALOGUE, ids=IDS)
def test_activation_forms_in_c_are_accurate_against_mpmath(case: Case) -> None:
    got = _per_point(_unit_loop(case.name), SWEEP)
    assert _relative_errors(got[:, 0], case.value, SWEEP) == []
    assert _relative_errors(got[:, 1], case.slope, SWEEP) == []


def test_sigmoid_slope_at_40_in_c() -> None:
    got = _unit_loop("sigmoid")([np.array([40.0])], 1)
    want = 1 / (1 + mp.exp(-40)) / (1 + mp.exp(40))
    assert abs(got[1] - float(want)) <= 1e-15 * float(want)
    assert f"{got[1]:.4g}" == "4.248e-18"


@pytest.mark.parametrize("z", [0.0, 30.0, -30.0, 1e3, -1e3, 1e4, -1e4, 1e300, -1e300])
def test_cross_entropies_from_z_in_c(z: float) -> None:
    for net in (Network(1, [Dense(1, "sigmoid")], "bce"),
                Network(1, [Dense(3, "softmax")], "cce")):
        f, fc = _pair(net)
        values: dict[str, object] = {str(x): 1.0 for x in net.inputs}
        values.update({str(t): float(k == 0) for k, t in enumerate(net.targets)})
        values.update({str(p): (z if str(p).startswith("w") and k % 2 == 0 else 0.0)
                       for k, p in enumerate(net.parameters)})
        want_loss, want = f.value_and_grad(**values)
        got_loss, got = fc.value_and_grad(**values)
        assert np.isfinite(float(got_loss)) and all(np.isfinite(float(v)) for v in got.values())
        assert _close(float(got_loss), float(want_loss), 1e-13), (net, got_loss, want_loss)
        for name in f.parameters:
            assert _close(float(got[name]), float(want[name]), 1e-13), (net, name)


_THREADS = """
import numpy as np, symgrad
f = symgrad.compile(symgrad.derive(symgrad.load("derivations/deep_sigmoid_chain.toml")), backend="c")
rng = np.random.default_rng(0)
n = 40 * 8192 + 5
values = {name: rng.normal(size=n) for name in f.data_names}
values.update({name: float(v) for name, v in zip(f.parameters, rng.uniform(0.5, 1.5, 100))})
loss, grads = f.value_and_grad(**values)
print(float(loss).hex(), *(float(g).hex() for g in grads.values()))
"""


def test_sums_do_not_depend_on_the_number_of_threads(private_cache: Path) -> None:
    outputs = set()
    for count in ("1", "2", "3"):
        env = {**os.environ, "SYMGRAD_THREADS": count, "SYMGRAD_CACHE_DIR": str(private_cache)}
        run = subprocess.run([sys.executable, "-c", _THREADS], capture_output=True, text=True,
                             cwd=ROOT, env=env, timeout=300)
        assert run.returncode == 0, run.stderr
        outputs.add(run.stdout)
    assert len(outputs) == 1


_FORK = """
import os, numpy as np, symgrad
f = symgrad.compile(symgrad.derive(symgrad.load("derivations/two_neuron.toml")), backend="c")
x = np.linspace(-1, 1, 20 * 8192)
before = f.grad(x1=x, T=0.25, w1=0.15, b1=0.4, w2=0.45, b2=0.65)["w1"]  # threads started
pid = os.fork()
if pid == 0:
    after = f.grad(x1=x, T=0.25, w1=0.15, b1=0.4, w2=0.45, b2=0.65)["w1"]
    os._exit(0 if after == before else 3)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_a_forked_child_can_use_the_loops(private_cache: Path) -> None:
    """GNU OpenMP would hang here; the loop's threads live only as long as a call."""
    env = {**os.environ, "SYMGRAD_THREADS": "2", "SYMGRAD_CACHE_DIR": str(private_cache)}
    run = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert (run.returncode, run.stdout.strip()) == (0, "0"), run.stderr


def test_thread_count_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_THREADS", "3")
    assert threads() == 3
    monkeypatch.setenv("SYMGRAD_THREADS", "zero")  # not a count: the cores of this process
    assert threads() == len(os.sched_getaffinity(0))


def test_a_built_loop_is_reused_from_the_cache(private_cache: Path) -> None:
    net = Network(1, [Dense(1, "tanh")] * 3, "half_sse")
    values = {"x1": np.linspace(0, 1, 10), "T": 0.5, **{str(p): 0.3 for p in net.parameters}}
    first = compile(derive(net), backend="c").grad(**values)
    libraries = sorted((private_cache / "c").glob("grad_sums_*.so"))
    stamps = [p.stat().st_mtime_ns for p in libraries]
    again = compile(derive(net), backend="c").grad(**values)
    assert sorted((private_cache / "c").glob("grad_sums_*.so")) == libraries
    assert [p.stat().st_mtime_ns for p in libraries] == stamps
    assert first == again
    sources = [p.with_suffix(".c") for p in libraries]
    assert all(s.exists() for s in sources)  # the C source is kept beside its library


@pytest.mark.skipif(platform.machine() != "x86_64" or not Path("/lib/x86_64-linux-gnu/"
                    "libmvec.so.1").exists(), reason="libmvec is glibc's, on x86_64")
def test_exp_is_vectorized_through_libmvec(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    fc = compile(derive(Network(1, [Dense(1, "sigmoid")] * 2, "half_sse")), backend="c")
    fc.grad(x1=np.ones(3), T=np.ones(3), w1=1.0, b1=0.0, w2=1.0, b2=0.0)
    (library,) = (tmp_path / "c").glob("grad_sums_aa64-*.so")
    assert b"_ZGV" in library.read_bytes() and b"v_exp" in library.read_bytes()


def _fresh() -> CompiledNetwork:
    net = Network(1, [Dense(1, "softplus")] * 2, "half_sse")  # built by no other test
    return compile(derive(net), backend="c")


def test_missing_compiler_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(MissingDependencyError, match=r"^backend 'c' needs a C compiler and "
                       r"'/nonexistent/cc' was not found; install one \(apt-get install gcc\) "
                       r"or set CC, or use backend 'numpy'$"):
        _fresh().grad(x1=1.0, T=0.0, w1=1.0, b1=0.0, w2=1.0, b2=0.0)


def test_failing_compiler_leaves_nothing_behind(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # exits 1 without a word
    with pytest.raises(CompileError, match=r"^the C compiler failed on grad_sums_ss64: "
                                           r"no output$"):
        _fresh().grad(x1=1.0, T=0.0, w1=1.0, b1=0.0, w2=1.0, b2=0.0)
    assert list((tmp_path / "c").iterdir()) == []


def test_without_libmvec_the_plain_flags_are_used(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiler that cannot link libmvec (musl, macOS): the next flags, same numbers."""
    wrapper = tmp_path / "cc-without-libmvec"
    wrapper.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = "-lmvec" ] && '
                       '{ echo "ld: cannot find -lmvec" >&2; exit 1; }; done\nexec gcc "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(wrapper))
    net = Network(1, [Dense(1, "sigmoid")] * 2, "half_sse")
    f, fc = _pair(net)
    values = {"x1": np.linspace(-2, 2, 3 * BLOCK), "T": 0.25,
              "w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}
    got, want = fc.grad(**values), f.grad(**values)
    for name in f.parameters:
        assert _close(float(got[name]), float(want[name]), 1e-13), name
    (library,) = (tmp_path / "cache" / "c").glob("grad_sums_as64-*.so")
    assert b"_ZGV" not in library.read_bytes()  # scalar exp from libm


def test_unwritable_cache_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(blocker))
    with pytest.raises(CompileError, match=rf"^cannot write to the kernel cache {blocker}/c: "
                                           r".*; set SYMGRAD_CACHE_DIR to a writable folder$"):
        _fresh().grad(x1=1.0, T=0.0, w1=1.0, b1=0.0, w2=1.0, b2=0.0)


def test_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYMGRAD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert cache_dir() == Path("/somewhere/symgrad")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "symgrad"


def test_training_runs_on_the_c_backend() -> None:
    net = load(ROOT / "derivations" / "linear_cost.toml")
    d = derive(net)
    numpy_run = symgrad.train(net, progress=False)
    c_run = symgrad.train(net, progress=False, compiled=compile(d, backend="c"))
    assert c_run.iterations == numpy_run.iterations
    assert abs(c_run.params["w"] - numpy_run.params["w"]) <= 1e-12


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((l for l in text.splitlines() if l.startswith("flags")), "")
    return set(line.partition(":")[2].split())


#: gcc's -march levels by the CPU flag each needs: baseline x86-64 (SSE2), AVX2 (v3) and
#: AVX-512 (v4), so that sums made with every vector width are held to the same bound.
_LEVELS = [("x86-64", "sse2"), ("x86-64-v3", "avx2"), ("x86-64-v4", "avx512f")]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 instruction-set levels")
@pytest.mark.parametrize("level,flag", _LEVELS, ids=[m for m, _ in _LEVELS])
@pytest.mark.parametrize("path", [p for p in SPECS if p.stem in ("small_mlp", "two_neuron")],
                         ids=lambda p: p.stem)
def test_the_c_backend_agrees_at_every_instruction_set_level(
        path: Path, level: str, flag: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if flag not in _cpu_flags():
        pytest.skip(f"this CPU has no {flag}, which -march={level} needs")
    monkeypatch.setenv("SYMGRAD_MARCH", level)
    test_every_spec_matches_the_numpy_backend(path)


def test_a_march_that_is_not_a_name_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMGRAD_MARCH", "native -fplugin=x.so")
    net = load(ROOT / "derivations" / "two_neuron.toml")
    with pytest.raises(CompileError) as info:
        compile(derive(net), backend="c").grad(**net.values)
    assert str(info.value) == ("SYMGRAD_MARCH must be a -march name of the compiler (letters, "
                               "digits, '.', '_' and '-'), got 'native -fplugin=x.so'")
