"""A pytest helper: check a user's own gradient code against symgrad's symbolic gradients.

>>> import numpy as np
>>> def backprop(x1, T, w1, b1, w2, b2):
...     a1 = 1 / (1 + np.exp(-(w1 * x1 + b1)))
...     a2 = 1 / (1 + np.exp(-(w2 * a1 + b2)))
...     d2 = -(T - a2) * a2 * (1 - a2)
...     d1 = d2 * w2 * a1 * (1 - a1)
...     return {"w1": d1 * x1, "b1": d1, "w2": d2 * a1, "b2": d2}
>>> assert_gradient_matches(backprop, "derivations/two_neuron.toml").dtype
'float64'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .derive import Derivation, derive
from .errors import ArgumentError
from .network import Network, load
from .check import sample_points
from .check.layer_check import LayerReport, check_layer

__all__ = ["assert_gradient_matches", "GradientComparison", "TOLERANCES",
           "assert_layer_backward_matches", "LayerMismatch"]

#: (rtol, atol) by the floating-point type the user's function returns.
TOLERANCES = {"float64": (1e-7, 1e-12), "float32": (2e-4, 1e-6), "float16": (2e-2, 1e-3)}


@dataclass
class GradientComparison:
    """What a passing :func:`assert_gradient_matches` compared (for a look in a test)."""

    points: list[dict[str, Any]]
    parameters: tuple[str, ...]
    dtype: str
    rtol: float
    atol: float
    note: str = ""
    rows: list[dict[str, tuple[float, float]]] = field(default_factory=list)


def _derivation(spec_or_network: str | Path | Network | Derivation) -> tuple[Derivation, str]:
    if isinstance(spec_or_network, Derivation):
        return spec_or_network, repr(spec_or_network.network)
    if isinstance(spec_or_network, Network):
        return derive(spec_or_network), repr(spec_or_network)
    if isinstance(spec_or_network, (str, Path)):
        return derive(load(spec_or_network)), str(spec_or_network)
    raise ArgumentError("spec_or_network: expected a spec path, a Network or a Derivation, "
                        f"got {type(spec_or_network).__name__}")


def _symbolic(d: Derivation) -> Callable[[Mapping[str, Any]], Mapping[str, float]]:
    try:
        from .compile import compile as compile_derivation
    except ImportError:  # numbers from the derivation itself (30-digit evaluation)
        return d.at
    compiled = compile_derivation(d)
    return lambda values: compiled.grad(**values)


def _show(value: Any) -> str:
    arr = np.asarray(value)
    if arr.size == 1:
        return f"{float(arr.reshape(-1)[0]):.6g}"
    return np.array2string(arr, precision=4, separator=", ")


def _kind(values: Sequence[Any]) -> str:
    kinds = {np.asarray(v).dtype for v in values if np.asarray(v).dtype.kind == "f"}
    for name in ("float16", "float32"):
        if np.dtype(name) in kinds:
            return name
    return "float64"


def assert_gradient_matches(fn: Callable[..., Mapping[str, Any]],
                            spec_or_network: str | Path | Network | Derivation, *,
                            wrt: Sequence[str] | None = None, points: int = 5, seed: int = 0,
                            rtol: float | None = None, atol: float | None = None,
                            include_spec: bool = True) -> GradientComparison:
    """Assert that ``fn`` computes the same gradients as symgrad.

    ``fn`` is called with keyword arguments, one per input, target and parameter of the
    network (``fn(x1=..., T=..., w1=..., ...)``), and returns a mapping from parameter
    name to its gradient (summed or averaged over samples as the network's loss says).
    It is called at the spec's own values (all samples, if the spec has data) and at
    ``points`` seeded random points of one sample each.

    The tolerance is ``|yours - symgrad| <= rtol |symgrad| + atol``, with ``rtol`` and
    ``atol`` from :data:`TOLERANCES` for the floating-point type ``fn`` returns (a float32
    function gets a float32 tolerance, and the message says so) unless given.

    Returns
    -------
    GradientComparison
        What was compared, when everything matches.

    Raises
    ------
    AssertionError
        A gradient differs, is missing or is not a number. The message shows the point
        and, per parameter, your value and symgrad's side by side.
    """
    d, where = _derivation(spec_or_network)
    names = tuple(wrt) if wrt is not None else tuple(d)
    for name in names:
        d[name]  # an unknown parameter is an error naming the known ones
    chosen, has_spec = _chosen_points(d, points, seed, include_spec)
    symbolic = _symbolic(d)
    label = getattr(fn, "__name__", repr(fn))
    comparison: GradientComparison | None = None
    failures: list[tuple[int, list[str]]] = []
    first_table = ""
    for index, point in enumerate(chosen):
        yours = _call(fn, point, names, label)
        dtype = _kind([yours[n] for n in names if n in yours])
        r_tol, a_tol, note = _tolerance(dtype, rtol, atol, label)
        if comparison is None:
            comparison = GradientComparison(chosen, names, dtype, r_tol, a_tol, note)
        with np.errstate(all="ignore"):
            rows, bad, values = _compare(yours, symbolic(point), names, r_tol, a_tol,
                                         set(d) if wrt is not None else set())
        comparison.rows.append(values)
        if bad and not failures:
            origin = "the spec's values" if has_spec and index == 0 else \
                f"random point {index + 1 - has_spec}"
            first_table = _first_failure(origin, point, rows, (r_tol, a_tol, note), dtype)
        if bad:
            failures.append((index, bad))
    if failures:
        raise _failed(label, where, failures, len(chosen), first_table)
    if comparison is None:  # no points at all: nothing was compared
        raise AssertionError("no points to compare at: give points >= 1 or a spec with "
                             "values")
    return comparison


def _failed(label: str, where: str, failures: Sequence[tuple[int, list[str]]], count: int,
            first_table: str) -> AssertionError:
    """The error naming the first point where gradients differ, and how many more."""
    index, bad = failures[0]
    more = f" (and at {len(failures) - 1} more of the {count} points)" \
        if len(failures) > 1 else f" (of {count} points)"
    return AssertionError(f"gradients of {label} differ from symgrad's for {where} in "
                          f"{', '.join(bad)} at point {index + 1}{more}:\n{first_table}")


def _first_failure(origin: str, point: Mapping[str, Any], rows: Table,
                   tolerance: tuple[float, float, str], dtype: str) -> str:
    """The point, the table and the tolerance of the first point where gradients differ."""
    r_tol, a_tol, note = tolerance
    shown = ", ".join(f"{k}={_show(v)}" for k, v in point.items())
    return (f"  point ({origin}): {shown}\n{_table(rows)}\n"
            f"  tolerance: |yours - symgrad| <= {r_tol:g} * |symgrad| + "
            f"{a_tol:g} ({dtype})" + (f"\n  {note}" if note else ""))


def _chosen_points(d: Derivation, points: int, seed: int, include_spec: bool
                   ) -> tuple[list[dict[str, Any]], bool]:
    """The spec's own values (all samples) if asked and given, then seeded random points."""
    net = d.network
    arg_names = [str(s) for s in net.inputs + net.targets + net.parameters]
    chosen: list[dict[str, Any]] = []
    has_spec = include_spec and set(arg_names) <= set(net.values)
    if has_spec:
        chosen.append({k: net.values[k] for k in arg_names})
    chosen += [{k: p[k] for k in arg_names}
               for p in sample_points(d, points, seed, include_spec=False)]
    return chosen, has_spec


def _tolerance(dtype: str, rtol: float | None, atol: float | None,
               label: str) -> tuple[float, float, str]:
    """The caller's tolerances, else those of ``dtype``; and a note for a narrow type."""
    r_tol, a_tol = TOLERANCES[dtype]
    r_tol = rtol if rtol is not None else r_tol
    a_tol = atol if atol is not None else a_tol
    note = ""
    if dtype != "float64":
        note = (f"note: {label} returns {dtype}; compared with a tolerance suited to "
                f"{dtype} (rtol={r_tol:g}, atol={a_tol:g}; machine epsilon "
                f"{np.finfo(dtype).eps:.3g})")
    return r_tol, a_tol, note


Table = list[tuple[str, str, str, str, str]]


def _call(fn: Callable[..., Mapping[str, Any]], point: Mapping[str, Any],
          names: Sequence[str], label: str) -> Mapping[str, Any]:
    """``fn`` at ``point`` (arrays copied), which must return a mapping."""
    yours = fn(**{k: (np.array(v) if isinstance(v, np.ndarray) else v)
                  for k, v in point.items()})
    if not isinstance(yours, Mapping):
        raise AssertionError(f"{label} returned {type(yours).__name__}; expected a mapping "
                             f"from parameter name to gradient ({', '.join(names)})")
    return yours


def _compare(yours: Mapping[str, Any], expected: Mapping[str, Any], names: Sequence[str],
             r_tol: float, a_tol: float, unasked: set[str]
             ) -> tuple[Table, list[str], dict[str, tuple[float, float]]]:
    """Per parameter: a table row, whether it is wrong, and the two values; a name that is
    neither asked for nor in ``unasked`` (parameters not chosen) is an extra row."""
    rows: Table = [("parameter", "yours", "symgrad", "abs diff", "")]
    bad: list[str] = []
    values: dict[str, tuple[float, float]] = {}
    for name in names:
        want = float(expected[name])
        if name not in yours:
            rows.append((name, "(missing)", f"{want:.10g}", "", "<- missing"))
            bad.append(name)
            continue
        got_arr = np.asarray(yours[name])
        if got_arr.dtype.kind not in "fiu" or got_arr.size != 1:
            rows.append((name, _show(yours[name]), f"{want:.10g}", "", "<- not one number"))
            bad.append(name)
            continue
        got = float(got_arr.reshape(-1)[0])
        diff = abs(got - want)
        ok = np.isfinite(got) and diff <= r_tol * abs(want) + a_tol
        rows.append((name, f"{got:.10g}", f"{want:.10g}", f"{diff:.3g}",
                     "" if ok else "<- differs"))
        values[name] = (got, want)
        if not ok:
            bad.append(name)
    extra = sorted(set(yours) - set(names) - unasked)
    if extra:
        rows.append((", ".join(map(str, extra)), "(not a parameter)", "", "", "<- extra"))
        bad += extra
    return rows, bad, values


def _table(rows: Table) -> str:
    """The rows in aligned columns, numbers to the right."""
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    return "\n".join("  " + "  ".join(c.rjust(w) if k in (1, 2, 3) else c.ljust(w)
                                      for k, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)


class LayerMismatch(AssertionError):
    """A layer output differs from symgrad's; ``report`` holds every comparison and
    ``report.kinds`` the diagnosis of each differing output."""

    def __init__(self, report: LayerReport) -> None:
        self.report = report
        super().__init__(report.message())


def assert_layer_backward_matches(backward: Callable[..., Any], layer: str, *,
                                  forward: Callable[..., Any] | None = None,
                                  shape: Mapping[str, int] | None = None,
                                  hyper: Mapping[str, float] | None = None,
                                  layout: str = "rows", seed: int = 0) -> LayerReport:
    """Assert that a layer's backward pass (and forward, when given) computes what
    symgrad computes, on seeded random data of ``shape`` (``{"N": 8, "D": 5}``).

    ``backward`` and ``forward`` follow the course conventions of
    :mod:`symgrad.check.layer_calls` (``affine_backward(dout, cache) -> (dx, dw, db)``;
    for ``softmax_loss``, ``backward`` is ``softmax_loss(x, y) -> (loss, dx)``).
    ``hyper`` sets the layer's settings (``{"stride": 1, "pad": 0}`` for ``"conv"``, ``p``
    for ``"dropout"``); ``layout="columns"`` passes samples as columns where the layer
    offers it.

    >>> import numpy as np
    >>> def affine_backward(dout, cache):
    ...     x, w, b = cache
    ...     return dout @ w.T, x.T @ dout, dout.sum(axis=0)
    >>> assert_layer_backward_matches(affine_backward, "affine", shape={"N": 8}).failed
    []
    >>> def wrong(dout, cache):
    ...     x, w, b = cache
    ...     return dout @ w.T, dout.T @ x, dout.sum(axis=0)
    >>> assert_layer_backward_matches(wrong, "affine")
    Traceback (most recent call last):
    ...
    symgrad.testing.LayerMismatch: dw of wrong differs from symgrad's (affine, N=4, D=5, M=3, seed 0):
      dw: transposed: yours is (dw)ᵀ, of shape (3, 5) where (5, 3) belongs
        expected: dW = Xᵀ dout  (D×M)
        shape: yours (3, 5), symgrad's (5, 3)
      (dx, db match)

    Raises
    ------
    LayerMismatch
        An output differs: the message names it, says what is wrong and shows the
        expected form in matrix notation, or the largest difference and where.
    symgrad.errors.LayerCodeError
        The user's function raised (the exception is chained as the cause, with its
        traceback), returned the wrong number of arrays, a wrong shape, or NaN.
    """
    report = check_layer(backward, layer, forward=forward, dims=shape, hyper=hyper,
                         layout=layout, seed=seed)
    if report.failed:
        raise LayerMismatch(report)
    return report
