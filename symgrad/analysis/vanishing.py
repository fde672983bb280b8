"""The vanishing gradient: how the gradient of each layer shrinks on its way back.

In the delta recursion ``delta_l = (W_{l+1}^T delta_{l+1}) ⊙ f'(z_l)`` every layer the
error signal passes multiplies it by the activation's slope. The gradient of the first
layer of ``L`` thus carries the product ``f'(z_1) f'(z_2) ... f'(z_L)``, which is at most
``B^L`` when ``|f'| <= B``: ``(1/4)^L`` for the sigmoid, ``1`` for tanh and ReLU.

:func:`factor_product` gives that product and its bound symbolically;
:func:`measure` measures, at random initialization, the size of each layer's gradient
in a deep dense network (or a chain of one-unit layers) with the median over seeds;
:func:`plot` draws the result and :func:`reading` puts it in words.

>>> factor_product("sigmoid", 3)[1]
1/64
>>> derivative_bound("tanh")
1
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import sympy as sp
from sympy import Expr, Symbol
from sympy.calculus.util import maximum

from ..architecture import Architecture, Dense
from ..catalogue import get_activation
from ..errors import ArgumentError
from ..files import output_folder, write_atomic
from ..backends import CompiledLayers
from ..derive import LayerDerivation
from ..spec import Spec

__all__ = ["derivative_bound", "factor_product", "VanishingResult", "measure", "measure_spec",
           "plot", "reading", "FIGURE_FORMATS"]

#: File extensions :func:`plot` can write.
FIGURE_FORMATS = ("svg", "pdf", "png")


def _sup_numeric(expr: Expr, z: Symbol) -> Expr:
    """``sup expr`` over the reals found numerically (grid, then Newton on ``expr'``)."""
    grid = [sp.Rational(k, 4) for k in range(-40, 41)]
    values = [float(expr.subs(z, g).evalf(20)) for g in grid]
    start = grid[int(np.argmax(values))]
    root = sp.nsolve(expr.diff(z), z, start, prec=30)
    return sp.Float(max(float(expr.subs(z, root).evalf(30)), max(values)), 15)


@lru_cache(maxsize=None)
def _bound(name: str, params: tuple[tuple[str, float], ...]) -> Expr:
    return _derivative_bound(name, **dict(params))


def derivative_bound(name: str, **params: float) -> Expr:
    """``sup |f'(z)|`` over the reals, exactly where SymPy can find it (else a Float).

    >>> derivative_bound("sigmoid"), derivative_bound("relu")
    (1/4, 1)
    """
    return _bound(name, tuple(sorted(params.items())))


def _derivative_bound(name: str, **params: float) -> Expr:
    act = get_activation(name)
    if not act.elementwise:
        raise ArgumentError(f"activation '{act.name}' is not elementwise; the bound on its "
                            "slope is defined for elementwise activations only")
    z = Symbol("z", real=True)
    derivative = act(z, **params).diff(z).rewrite(sp.exp).rewrite(sp.Piecewise)
    derivative = sp.piecewise_fold(derivative)
    pieces = derivative.args if isinstance(derivative, sp.Piecewise) else ((derivative, sp.true),)
    best: list[Expr] = []
    covered: sp.Set = sp.EmptySet
    for expr, cond in pieces:
        where = (sp.Reals if cond is sp.true else cond.as_set()) - covered
        covered = covered | where
        if where is sp.EmptySet:
            continue
        if not expr.has(z):
            best.append(sp.Abs(expr))
            continue
        best.append(_sup_abs(expr, z, where))
    return sp.Max(*best)


def _sup_abs(expr: Expr, z: Symbol, where: sp.Set) -> Expr:
    """``sup |expr|`` over ``where``: at the critical points and the ends when SymPy
    solves ``expr' = 0`` (fast), else by SymPy's ``maximum`` and ``minimum``, else
    numerically."""
    if where == sp.Reals:
        try:
            critical = [c for c in sp.solve(expr.diff(z), z) if c.is_real]
        except NotImplementedError:
            critical = None
        if critical is not None:
            values = [sp.simplify(expr.subs(z, c)) for c in critical]
            values += [sp.limit(expr, z, sp.oo), sp.limit(expr, z, -sp.oo)]
            if all(v.is_real for v in values):
                return sp.Max(*(sp.Abs(v) for v in values))
    try:
        return sp.Max(maximum(expr, z, where), -sp.Min(0, sp.calculus.util.minimum(
            expr, z, where)))
    except (NotImplementedError, ValueError):
        return _sup_numeric(expr, z)


def factor_product(name: str, layers: int, **params: float) -> tuple[Expr, Expr]:
    """The product of ``layers`` activation-derivative factors and its bound ``B**layers``.

    The product is written in the layers' own outputs where the activation allows it:

    >>> factor_product("sigmoid", 10)
    (Product((1 - a[l])*a[l], (l, 1, 10)), 1/1048576)
    """
    act = get_activation(name)
    z = Symbol("z", real=True)
    a = Symbol("a", real=True)
    fz = act(z, **params)
    derivative = fz.diff(z)
    own = derivative if fz == z else derivative.xreplace({fz: a})
    l = Symbol("l", integer=True, positive=True)
    per_layer = own.xreplace({a: sp.IndexedBase("a")[l], z: sp.IndexedBase("z")[l]})
    return sp.Product(per_layer, (l, 1, layers)), derivative_bound(name, **params) ** layers


@dataclass(frozen=True)
class VanishingResult:
    """Per-layer figures of one activation (layer 1 is the input side).

    ``gradient`` is the median over seeds of the RMS of ``dE/dW_l``; ``factors`` the median
    of the product of the mean slopes ``mean |f'(z_k)|`` from layer ``l`` to the last, and
    ``bound`` the symbolic bound ``B**(L - l + 1)`` of that product.
    """

    activation: str
    depth: int
    width: int
    seeds: int
    gradient: np.ndarray
    factors: np.ndarray
    bound: np.ndarray
    slope_bound: Expr

    @property
    def ratio(self) -> float:
        """First layer's gradient over the last layer's."""
        return float(self.gradient[0] / self.gradient[-1])


def _deep(name: str, depth: int, width: int) -> Architecture:
    return Architecture.build(width, [Dense(width, name)] * depth, "half_sse")


def measure(name: str, depth: int = 10, width: int = 32, *, seeds: int = 20,
            samples: int = 64) -> VanishingResult:
    """Per-layer gradient sizes at random initialization, median over ``seeds``.

    The network has ``depth`` dense layers of ``width`` units (``width = 1`` is a chain),
    all with activation ``name``, initialized as :meth:`Network.initial_parameters` does
    (Glorot uniform, He normal for ReLU-like activations), and a half sum-of-squares loss
    against random targets; inputs are standard normal.

    >>> r = measure("sigmoid", depth=4, width=8, seeds=3)
    >>> bool(np.all(np.diff(r.gradient) > 0))
    True
    """
    if depth < 1 or width < 1 or seeds < 1 or samples < 1:
        raise ArgumentError(f"depth, width, seeds and samples must be at least 1, got "
                            f"{depth}, {width}, {seeds}, {samples}")
    act = get_activation(name)
    if not act.elementwise:
        raise ArgumentError(f"activation '{act.name}' is not elementwise; choose one of the "
                            "elementwise activations for the vanishing-gradient figures")
    derivation = LayerDerivation(_deep(act.name, depth, width))
    return _measure(derivation, act.name, seeds, samples)


def measure_spec(spec: Spec, *, seeds: int = 20, samples: int = 64) -> VanishingResult:
    """The same figures for the architecture of a spec (its layers, activations and loss),
    e.g. for the report of a deep spec; parameters are drawn anew for every seed.

    >>> from symgrad.spec import read_spec
    >>> r = measure_spec(read_spec("derivations/deep_sigmoid_chain.toml"), seeds=5)
    >>> r.activation, r.depth, float(r.bound[0]) == 0.25 ** 8
    ('sigmoid', 8, True)
    """
    if seeds < 1 or samples < 1:
        raise ArgumentError(f"seeds and samples must be at least 1, got {seeds}, {samples}")
    derivation = LayerDerivation(spec)
    names = sorted({s.label for s in derivation.shapes})
    return _measure(derivation, names[0] if len(names) == 1 else "/".join(names), seeds,
                    samples)


def _measure(derivation: LayerDerivation, label: str, seeds: int,
             samples: int) -> VanishingResult:
    compiled = CompiledLayers(derivation)
    shapes = derivation.shapes
    depth = len(shapes)
    # slope bound per layer; 1 for a layer without activation and for a softmax output,
    # whose error signal s - y is not a product with a slope
    bounds = [derivative_bound(s.activation.name, **s.params)
              if s.activation is not None and s.activation.elementwise else sp.Integer(1)
              for s in shapes]
    n_in, n_out = derivation.sizes[0], derivation.sizes[-1]
    grads = np.empty((seeds, depth))
    factors = np.empty((seeds, depth))
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        params = derivation.initial_parameters(seed)
        X = rng.normal(size=(samples, n_in))
        if derivation.loss.name == "cce":
            Y = np.eye(n_out)[rng.integers(0, n_out, samples)]
        else:
            Y = rng.uniform(size=(samples, n_out))
        g = compiled.grad(**params, x=X, y=Y)
        buf = compiled._buffers_for(samples)
        slopes = np.empty(depth)
        for l in range(1, depth + 1):
            grads[seed, l - 1] = np.sqrt(np.mean(g[f"W{l}"] ** 2))
            kernel = compiled._kernels[l - 1]
            if kernel is None:  # a slope of 1 everywhere
                slopes[l - 1] = 1.0
                continue
            slopes[l - 1] = np.mean(np.abs(kernel(buf.z[l])[1]))
        factors[seed] = np.cumprod(slopes[::-1])[::-1]
    per_layer = np.array([float(b) for b in bounds])
    bound = np.cumprod(per_layer[::-1])[::-1]
    slope_bound = bounds[0] if len(set(bounds)) == 1 else sp.Max(*bounds)
    return VanishingResult(label, depth, max(derivation.sizes[1:]), seeds,
                           np.median(grads, axis=0), np.median(factors, axis=0), bound,
                           slope_bound)


_STYLES = (("o", "-", "0.0"), ("s", "--", "0.35"), ("^", ":", "0.55"), ("D", "-.", "0.2"),
           ("v", (0, (5, 1, 1, 1)), "0.45"))


def plot(results: Sequence[VanishingResult], path: str | Path) -> Path:
    """Draw the per-layer gradient sizes (left) and the slope products with their bounds
    (right), log scale, black and white; the format follows the extension (svg, pdf, png).

    The file is written to a temporary name and moved into place, so a failure leaves
    nothing half-written; one that cannot be written, or whose folder does not exist, is a
    :class:`~symgrad.errors.FileError`.
    """
    target = Path(path)
    ext = target.suffix.lower().lstrip(".")
    if ext not in FIGURE_FORMATS:
        raise ArgumentError(f"cannot write a figure as '{target.suffix or target.name}'; "
                            f"use one of: {', '.join('.' + f for f in FIGURE_FORMATS)}")
    if not results:
        raise ArgumentError("no results to plot")
    output_folder(target)
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for k, r in enumerate(results):
        marker, line, grey = _STYLES[k % len(_STYLES)]
        layers = np.arange(1, r.depth + 1)
        left.semilogy(layers, r.gradient, marker=marker, linestyle=line, color=grey,
                      label=r.activation)
        right.semilogy(layers, r.factors, marker=marker, linestyle=line, color=grey,
                       label=f"{r.activation}: measured")
        same = [q.activation for q in results if q.slope_bound == r.slope_bound]
        if same[0] == r.activation:  # one set of hollow markers per distinct bound
            right.semilogy(layers, r.bound, linestyle="none", marker=marker, mfc="none",
                           color=grey, label=f"bound $B^{{L-l+1}}$, B = "
                                             f"{sp.sstr(r.slope_bound)} ({', '.join(same)})")
    depth, width, seeds = results[0].depth, results[0].width, results[0].seeds
    left.set_xlabel("layer l (1 = input side)")
    left.set_ylabel(r"RMS of $\partial E / \partial W_l$ (median)")
    left.set_title(f"gradient size at initialization\n{depth} layers x {width} units, "
                   f"{seeds} seeds")
    right.set_xlabel("layer l (1 = input side)")
    right.set_ylabel(r"$\prod_{k=l}^{L}$ mean $|f'(z_k)|$ (median)")
    right.set_title("product of activation slopes\nfrom layer l to the output")
    for ax in (left, right):
        ax.set_xticks(np.arange(1, depth + 1))
        ax.grid(True, which="major", color="0.85", linewidth=0.6)
        ax.legend(fontsize="small", frameon=False)
    image = io.BytesIO()  # drawn in memory, then written by the one atomic writer
    fig.savefig(image, format=ext, metadata={"Date": None} if ext == "svg" else None)
    return write_atomic(target, image.getvalue(), what="the figure")


def reading(results: Sequence[VanishingResult]) -> str:
    """One paragraph that reads the figures, in our own words, from the measured numbers."""
    depth = results[0].depth
    parts = []
    for r in results:
        parts.append(f"with {r.activation} (slope at most {sp.sstr(r.slope_bound)}) the first "
                     f"layer's gradient is {r.ratio:.2g} times the last layer's, and the "
                     f"product of the mean slopes over all {depth} layers is "
                     f"{r.factors[0]:.2g} (bound {r.bound[0]:.3g})")
    text = f"At random initialization, in {depth} layers of {results[0].width} units: " + \
        "; ".join(parts) + ". "
    by_name: Mapping[str, VanishingResult] = {r.activation: r for r in results}
    if "sigmoid" in by_name:
        s = by_name["sigmoid"]
        falls = "falls below the smallest float64 (0)"  # a deep chain underflows
        if s.ratio > 0:
            shrink = s.ratio ** (-1 / max(depth - 1, 1))
            falls = f"falls by a factor of about {shrink:.2g} per layer"
        text += ("Every sigmoid layer the error signal passes on its way back multiplies it by "
                 "a slope a(1 - a), never more than 1/4, and the weights do not make up for "
                 f"it: the gradient {falls}, so the "
                 "layers near the input get updates orders of magnitude smaller than those "
                 "near the output and learn slowly. ")
    kept = [r.activation for r in results if r.ratio > 0.1]
    if kept:
        text += (f"With {' and '.join(kept)} the gradient keeps its order of magnitude from the "
                 "last layer to the first: the slope is close to 1 where units are active "
                 "(tanh near z = 0, ReLU for every z > 0), and the initialization scales the "
                 "weights so that the rest is compensated")
        if "relu" in kept:
            text += (" (half the ReLU units are off, a mean slope of about 1/2, which He "
                     "initialization's doubled weight variance offsets)")
        text += ". This is why sigmoid is avoided in the hidden layers of deep networks."
    return text.strip()
