"""Run a student's layer functions on random data and compare every output with symgrad's.

:func:`check_layer` calls the forward (when given) and the backward by the layer's
calling convention (:mod:`.layer_calls`), checks what they return (how many arrays, their
shapes, NaN), compares each with symgrad's value and, for each that differs, asks
:mod:`.layer_diagnose` which matrix-form mistake explains it. What the user's code
raises is re-raised as :class:`~symgrad.errors.LayerCodeError` *from* their exception,
so their traceback stays theirs.

>>> import numpy as np
>>> def relu_backward(dout, cache):
...     return dout * (cache > 0)
>>> report = check_layer(relu_backward, "relu", dims={"N": 3})
>>> report.failed, [c.name for c in report.checks]
([], ['dx'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ArgumentError, LayerCodeError
from .layer_calls import Arrays, Convention, get_convention
from .layer_diagnose import Case, diagnose_output

__all__ = ["OutputCheck", "LayerReport", "check_layer", "RTOL", "ATOL"]

#: |yours - symgrad| <= RTOL |symgrad| + ATOL max(1, max |symgrad|): float64 round-off of
#: the sums a layer computes (a batch of a few hundred) stays below 1e-12 relative.
RTOL, ATOL = 1e-7, 1e-9


@dataclass
class OutputCheck:
    """One output compared: ``ok``, the largest difference and where, the diagnosis."""

    name: str
    ok: bool
    yours: np.ndarray
    expected: np.ndarray
    form: str
    kind: str | None = None
    words: str = ""


@dataclass
class LayerReport:
    """What :func:`check_layer` compared; ``failed`` lists the outputs that differ."""

    layer: str
    label: str
    dims: dict[str, int]
    seed: int
    checks: list[OutputCheck] = field(default_factory=list)

    @property
    def failed(self) -> list[OutputCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def kinds(self) -> dict[str, str | None]:
        """Each failing output's mistake kind (``None``: no usual mistake explains it)."""
        return {c.name: c.kind for c in self.failed}

    def message(self) -> str:
        """Each differing output: what is wrong, the expected form, the largest difference."""
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        verb = "differs" if len(self.failed) == 1 else "differ"
        head = (f"{', '.join(c.name for c in self.failed)} of {self.label} {verb} from "
                f"symgrad's ({self.layer}, {dims}, seed {self.seed}):")
        blocks = [head] + [_block(c) for c in self.failed]
        fine = [c.name for c in self.checks if c.ok]
        if fine:
            blocks.append(f"  ({', '.join(fine)} match{'es' if len(fine) == 1 else ''})")
        return "\n".join(blocks)


def _block(c: OutputCheck) -> str:
    lines = [f"  {c.name}: {c.words}", f"    expected: {c.form}"]
    if c.yours.shape == c.expected.shape:
        diff = np.abs(c.yours - c.expected)
        at = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        where = f" at [{', '.join(str(int(i)) for i in at)}]" if at else ""
        lines.append(f"    largest difference {float(diff.max()):.3g}{where} (yours "
                     f"{float(c.yours[at]):.6g}, symgrad's {float(c.expected[at]):.6g}); "
                     f"{int((~_close(c.yours, c.expected)).sum())} of {diff.size} entries "
                     "differ")
    else:
        lines.append(f"    shape: yours {c.yours.shape}, symgrad's {c.expected.shape}")
    return "\n".join(lines)


def _close(yours: np.ndarray, want: np.ndarray) -> np.ndarray:
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return np.abs(yours - want) <= RTOL * np.abs(want) + ATOL * scale


def _label(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))


def _call(fn: Callable[..., Any], args: Sequence[Any], call: str) -> Any:
    """``fn(*args)``, with arrays copied; what it raises becomes the cause of a
    :class:`LayerCodeError` naming ``call``."""
    copied = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    try:
        return fn(*copied)
    except Exception as exc:  # the user's code: any exception is theirs, shown as theirs
        raise LayerCodeError(f"{call} raised {type(exc).__name__}: {exc} (the traceback "
                             "above is from your code)", call=call) from exc


def _unpack(result: Any, names: Sequence[str], call: str) -> dict[str, np.ndarray]:
    """The arrays ``call`` returned, by name; one output may come bare or in a 1-tuple."""
    items = (result,) if len(names) == 1 and not isinstance(result, (tuple, list)) else result
    if not isinstance(items, (tuple, list)) or len(items) != len(names):
        got = f"{len(items)} values" if isinstance(items, (tuple, list)) else \
            f"one {type(items).__name__}"
        raise LayerCodeError(f"{call} returned {got}; expected {len(names)}: "
                             f"({', '.join(names)})", call=call)
    out = {}
    for name, value in zip(names, items):
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            raise LayerCodeError(f"{call} returned {type(value).__name__} for {name}; "
                                 "expected a NumPy array of numbers", call=call)
        bad = ~np.isfinite(arr)
        if bad.any():
            first = np.argwhere(bad)[0] if arr.ndim else ()
            raise LayerCodeError(
                f"{call} returned {name} with {int(bad.sum())} NaN or infinite entries of "
                f"{arr.size} (first at [{', '.join(str(int(i)) for i in first)}])", call=call)
        out[name] = arr.astype(np.float64)
    return out


def _dims(conv: Convention, given: Mapping[str, int] | None) -> dict[str, int]:
    dims = dict(conv.dims)
    for name, value in (given or {}).items():
        if name not in dims:
            raise ArgumentError(f"layer {conv.name} has no dimension {name!r}; its "
                                f"dimensions: {', '.join(dims)}")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ArgumentError(f"dimension {name} of layer {conv.name} must be a positive "
                                f"integer, got {value!r}")
        dims[name] = int(value)
    return dims


def _hyper(conv: Convention, given: Mapping[str, float] | None) -> dict[str, float]:
    hyper = dict(conv.hyper)
    for name, value in (given or {}).items():
        if name not in hyper:
            known = ", ".join(hyper) or "(none)"
            raise ArgumentError(f"layer {conv.name} has no setting {name!r}; its settings: "
                                f"{known}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value):
            raise ArgumentError(f"setting {name} of layer {conv.name} must be a number, got "
                                f"{value!r}")
        hyper[name] = value
    return hyper


def _run_user(conv: Convention, a: Arrays, backward: Callable[..., Any],
              forward: Callable[..., Any] | None) -> dict[str, np.ndarray]:
    """The user's outputs by name (``out`` too when a forward is given)."""
    bname = _label(backward)
    if conv.loss:
        return _unpack(_call(backward, conv.forward_args(a), f"{bname}(x, y)"),
                       conv.outputs, f"{bname}(x, y)")
    yours: dict[str, np.ndarray] = {}
    if forward is not None:
        call = f"{_label(forward)}({', '.join(_args(conv))})"
        result = _call(forward, conv.forward_args(a), call)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise LayerCodeError(f"{call} returned {type(result).__name__}; expected "
                                 "(out, cache)", call=call)
        yours["out"] = _unpack(result[0], ("out",), call)["out"]
        cache = result[1]
        if conv.observe is not None:
            conv.observe(a, yours["out"])
    elif conv.cache is not None:
        cache = conv.cache(a)
    else:
        raise ArgumentError(f"layer {conv.name}: give the forward function too (forward=...; "
                            "the CLI's --forward): its backward reads a cache of its own")
    call = f"{bname}(dout, cache)"
    dout = a["dout"] if conv.upstream is None else conv.upstream(a)
    yours.update(_unpack(_call(backward, (dout, cache), call), conv.outputs, call))
    return yours


def _args(conv: Convention) -> list[str]:
    return conv.signature.split("(", 1)[1].split(")", 1)[0].split(", ")


def check_layer(backward: Callable[..., Any], layer: str, *,
                forward: Callable[..., Any] | None = None,
                dims: Mapping[str, int] | None = None,
                hyper: Mapping[str, float] | None = None, layout: str = "rows",
                seed: int = 0) -> LayerReport:
    """Call the user's ``backward`` (and ``forward``) on seeded random data of ``layer``
    and compare each output with symgrad's; a differing output gets a diagnosis.
    ``dims`` and ``hyper`` change the convention's sizes and settings (a stride, a
    dropout's p)."""
    conv = get_convention(layer, layout)
    sizes = _dims(conv, dims)
    a = conv.make(sizes, _hyper(conv, hyper), np.random.default_rng(seed))
    yours = _run_user(conv, a, backward, forward)
    expected = conv.reference(a)
    report = LayerReport(layer + ("" if layout == "rows" else f" ({layout})"),
                         _label(backward), sizes, seed)
    for name, got in yours.items():
        want = np.asarray(expected[name], dtype=np.float64)
        ok = got.shape == want.shape and bool(_close(got, want).all())
        check = OutputCheck(name, ok, got, want, conv.forms.get(name, ""))
        if not ok:
            check.kind, check.words = diagnose_output(Case(conv, a, name, got, want, expected))
            if check.kind is None and got.shape != want.shape:
                raise LayerCodeError(f"{report.label} returned {name} of shape {got.shape}; "
                                     f"expected {want.shape} ({check.form})",
                                     call=report.label)
        report.checks.append(check)
    return report
