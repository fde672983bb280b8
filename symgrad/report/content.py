"""What a report says, independent of its format: LaTeX math, numbers and figure data.

:func:`build` turns a derivation (and, where they exist, training runs and hand-derivation
checks) into plain data that the templates lay out. All math is printed here, through
:mod:`symgrad.printing` with the network's symbol names; all prose lives in the templates.

>>> from symgrad.network import load
>>> from symgrad.derive import derive
>>> c = build(derive(load("derivations/two_neuron.toml")))
>>> [g.name for g in c.gradients]
['w2', 'b2', 'w1', 'b1']
>>> c.gradients[0].value
'0.0570704'
"""

from __future__ import annotations

import math
from importlib.metadata import PackageNotFoundError, version as _dist_version
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
import sympy as sp
from sympy import Expr, Symbol

from ..catalogue import Activation
from ..derive import Derivation, Factor, Gradient, derive_layers
from ..errors import DerivationError, SymgradError
from ..formulas import textbook_forms
from ..network import Layer, Network
from ..printing import (chain_factors, factor_latexes, latex, partial_latex, range_parts,
                        NOISE, base_name, settled)
from ..analysis.accuracy import accuracy_line
from ..analysis.experiments import (CHECK_POINTS, ActivationCheck, activation_check,
                                    chain_vanishing, one_parameter_study, run_training,
                                    spec_rate)
from .escape import paragraphs
from .penalty import cost_term, penalized, penalty_factor
from .layout import (LINE_BUDGET, SUM_TERMS, Row, chain_rows, number, product_rows, short_sum,
                     sum_rows, values_text, width, with_left)
from .views import (FactorView, GradientView, DeltaView, ValueRow, LayerView, UpdateRow, Update,
                    IterationRow, Training, RateRun, OneParameter, ActivationView, LayerGradient,
                    Vanishing, CheckView, FigureData, Content)

__all__ = ["Content", "build", "number", "EXPANDED_MAX_OPS"]

#: The expanded form (in inputs and parameters only) is shown up to this many operations.
EXPANDED_MAX_OPS = 40
#: An iteration table longer than this shows the first ten rows, every tenth, and the last.
TABLE_ROWS = 25
#: Networks with more parameters are reported by representatives: the first unit of each
#: layer (its equations, error signal, first weight and bias) stands for the others.
LARGE = 40
#: Figure values beyond this size, or not finite, cannot be plotted: the axis range
#: overflows float64 (a leaky ReLU with alpha = 1e308 is -inf on the grid).
PLOT_LIMIT = 1e300
#: What an optional part of a report raises for extreme numbers (an overflow, a singular
#: system, a value that is not finite); the part is left out with a sentence saying why.
_CANNOT_COMPUTE = (ArithmeticError, np.linalg.LinAlgError, DerivationError)

T = TypeVar("T")


def _plottable(data: object) -> bool:
    """Whether every number in ``data`` (nested lists and dicts) is finite and plottable."""
    if isinstance(data, dict):
        return all(_plottable(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return all(_plottable(v) for v in data)
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return math.isfinite(data) and abs(data) <= PLOT_LIMIT
    return True


class _Gathered:
    """The figures of a report as it is built, and a sentence for each part left out."""

    def __init__(self) -> None:
        self.figures: list[FigureData] = []
        self.omitted: list[str] = []

    def figure(self, figure: FigureData) -> str | None:
        """Add ``figure``; its name, or ``None`` (and a sentence) if it cannot be drawn."""
        if not _plottable(figure.data):
            self.omitted.append(f"The figure \"{figure.caption.rstrip('.')}\" is left out: "
                                "its values are not finite or too large to plot.")
            return None
        self.figures.append(figure)
        return figure.name

    def optional(self, what: str, compute: Callable[[], T]) -> T | None:
        """``compute()``, or ``None`` (and a sentence naming ``what``) if its numbers are
        beyond float64; the figures it added are then dropped too."""
        count = len(self.figures)
        try:
            return compute()
        except _CANNOT_COMPUTE as exc:
            del self.figures[count:]
            why = str(exc).rstrip(".") if isinstance(exc, DerivationError) else \
                f"it cannot be computed in float64 ({type(exc).__name__}: {exc})"
            self.omitted.append(f"{what} is left out: {why}.")
            return None


# -- building -----------------------------------------------------------------------------


def _has_point(net: Network) -> bool:
    names = {str(s) for s in net.parameters + net.inputs + net.targets}
    return names <= set(net.values)


def _samples(net: Network) -> int:
    sizes = [np.size(net.values[str(s)]) for s in net.inputs + net.targets
             if str(s) in net.values]
    return max(sizes, default=1)


def _activation_of(net: Network, post: Symbol) -> tuple[Layer, Activation]:
    layer = net.layer_of(post)
    if layer.activation is None:  # pragma: no cover - chains only build such factors
        raise SymgradError(f"{post} has no activation")
    return layer, layer.activation


_Z = Symbol("z", real=True)  # activations are real functions: d|z|/dz = sign(z)


def _factor_view(f: Factor, net: Network, seen: set[tuple[Symbol, Symbol]]) -> FactorView:
    key = (f.numerator, f.denominator)
    new = key not in seen
    seen.add(key)
    common: dict[str, Any] = dict(
                  kind=f.kind, partial=partial_latex(f.numerator, f.denominator, net),
                  expression=latex(f.expression, net, negated=f.kind == "loss"),
                  numerator=latex(f.numerator, net), wrt=latex(f.denominator, net),
                  source=(latex(f.source, net) if f.kind == "loss"
                          else short_sum(f.source, net)),
                  new=new)
    if f.kind == "activation":
        layer, act = _activation_of(net, f.numerator)
        general = act(_Z, **layer.params)
        rule = rf"\frac{{d}}{{dz}} {_called(act, general)} = {latex(general.diff(_Z))}"
        return FactorView(**common, activation=act.title, rule=rule,
                          rule_at=latex(f.source, net))
    return FactorView(**common)


def _over_samples(net: Network) -> str:
    r"""What a gradient of several samples does to its per-sample chain:
    ``\sum_{i=1}^{5}`` (``\frac{1}{5} \sum_{i=1}^{5}`` for a mean), or ``""`` for one."""
    samples = _samples(net)
    if samples <= 1:
        return ""
    total = rf"\sum_{{i=1}}^{{{samples}}}"
    return rf"\frac{{1}}{{{samples}}} {total}" if net.loss.reduction == "mean" else total


def _summed(rows: list[Row], over: str) -> list[Row]:
    r"""``rows`` (``= ...`` and its continuation lines) as the sum ``over`` the samples of
    what they show per sample: ``= \sum_{i=1}^{5} \left[ ... \right]_{i}``."""
    if not over:
        return rows
    first = rows[0].right.removeprefix("=").lstrip()
    # \left and \right must pair on one line: a bracket across lines is a fixed size
    left, right = (r"\left[", r"\right]") if len(rows) == 1 else (r"\Bigg[", r"\Bigg]")
    out = [Row(rows[0].left, rf"= {over} {left} {first}"), *rows[1:]]
    out[-1] = Row(out[-1].left, rf"{out[-1].right} {right}_{{i}}")
    return out


def _gradient_view(g: Gradient, net: Network, value: float | None,
                   seen: set[tuple[Symbol, Symbol]], large: bool = False) -> GradientView:
    lhs = partial_latex(net.loss_symbol, g.parameter, net)
    over = _over_samples(net)
    partials = [[partial_latex(f.numerator, f.denominator, net) for f in term]
                for term in g.terms]
    pieces = [factor_latexes(chain_factors(term), net) for term in g.terms]
    rows = penalized(_summed(chain_rows(partials), over), g, net)
    rows += penalized(_summed(chain_rows(pieces), over), g, net)
    factored = g.factored  # the penalty's term, once, after the sum over samples:
    rows += penalized(_summed(sum_rows("=", factored - g.penalty, net), over), g, net)
    short = len(g.chain) <= 8 and not large
    ops = int(sp.count_ops(g.expanded)) if short else 0  # 0: too large to count
    expanded = with_left(penalized(_summed(product_rows("=", g.expanded - g.penalty, net),
                                           over), g, net), lhs) \
        if short and ops <= EXPANDED_MAX_OPS else None
    if value is not None:
        rows.append(Row("", rf"= {number(value)} \quad \text{{at the point above}}"))
    layer = net.layer_of(g.parameter).index
    return GradientView(g.name, latex(g.parameter, net), lhs, with_left(rows, lhs),
                        [_factor_view(f, net, seen) for f in g.chain] + list(filter(
                            None, [penalty_factor(g.derivation, g)])), latex(factored, net),
                        expanded, ops, number(value) if value is not None else "",
                        value if value is not None else math.nan, layer,
                        [latex(m, net) for m in net.ties.get(g.parameter, ())])


def _delta_views(d: Derivation, large: bool = False) -> list[DeltaView]:
    net = d.network
    out = []
    for step in d.deltas.values():
        if large and not _first_unit(net, step.symbol):
            continue
        sym = latex(step.symbol, net)
        rows: list[Row] = []
        if step.general is not None:
            rows += product_rows("=", step.general, net)
        elif step.local is not None and step.upstream != 0:
            up, local = factor_latexes([step.upstream, step.local], net)
            if isinstance(step.upstream, sp.Add) and len(step.upstream.args) > SUM_TERMS:
                up = rf"\left({short_sum(step.upstream, net)}\right)"  # shown elided
            rows.append(Row("", rf"= {up} \cdot {local}"))
        rows += product_rows("=", step.expression, net)
        deduped = [r for i, r in enumerate(rows) if i == 0 or r.right != rows[i - 1].right]
        out.append(DeltaView(sym, with_left(deduped, sym), step.note))
    return out


def _first_unit(net: Network, symbol: Symbol) -> bool:
    """Whether ``symbol`` (a parameter, ``z``, ``a`` or delta) belongs to the first unit of
    its layer, the representative of its layer in a large network."""
    layer = net.layer_of(symbol)
    if symbol in layer.pre or symbol in layer.post or symbol in layer.deltas:
        return symbol in (layer.pre[0], layer.post[0], layer.deltas[0])
    return symbol in (layer.weights[0][0], *layer.biases[:1])


def _backprop_order(d: Derivation, large: bool = False) -> list[Gradient]:
    net = d.network
    return [d[str(p)] for p in dict.fromkeys(p for layer in reversed(net.layers)
                                             for p in layer.parameters)
            if not large or _first_unit(net, p)]


#: The forward pass shows the values at the point for up to this many samples.
FORWARD_SAMPLES = 6


def _forward(d: Derivation, large: bool, gathered: _Gathered | None) -> list[Row]:
    """The forward equations, each with its value at the point (one number per sample)
    when the point is given (``gathered``) and has at most :data:`FORWARD_SAMPLES`."""
    net = d.network
    shown = [s for s in net.equations if not large or _first_unit(net, s)]
    points = None
    if gathered is not None and _samples(net) <= FORWARD_SAMPLES:
        points = gathered.optional("The values of the forward pass",
                                   lambda: d.evaluate(net.values))
    rows = []
    for s in shown:
        rows.append(Row(latex(s, net), f"= {short_sum(net.equations[s], net)}"))
        if points is not None:
            value = rf"= {values_text([p[s] for p in points])}"
            if width(rows[-1].right + value) <= LINE_BUDGET:
                rows[-1] = Row(rows[-1].left, f"{rows[-1].right} {value}")
            else:
                rows.append(Row("", value))
    return rows


def _matrix(net: Network) -> list[Row]:
    """The layer-level derivation (forward pass, loss, deltas, gradients) as display rows."""
    rows = [line.split(" &= ", 1) for line in derive_layers(net).latex_lines()]
    return [Row(left, f"= {right}") for left, right in rows]


def _role_names(net: Network) -> dict[str, str]:
    """LaTeX of the names the spec gives the weighted sums and the outputs (``z``, ``a``
    unless it renames them), for prose that speaks of them."""
    posts = [layer.post[0] for layer in net.layers if layer.activation is not None]
    return {"pre": latex(Symbol(base_name(net.layers[0].pre[0]))),
            "post": latex(Symbol(base_name(posts[0]))) if posts else ""}


def _point(net: Network) -> list[ValueRow]:
    rows = [ValueRow(latex(p, net), "parameter", values_text(net.values[str(p)]))
            for p in net.parameters if str(p) in net.values]
    rows += [ValueRow(latex(s, net), role, values_text(net.values[str(s)]))
             for role, group in (("input", net.inputs), ("target", net.targets))
             for s in group if str(s) in net.values]
    return rows


def _cost(net: Network, samples: int) -> str:
    lhs = latex(net.loss_symbol)
    long = isinstance(net.error, sp.Add) and len(net.error.args) > SUM_TERMS
    err = short_sum(net.error, net) if long else latex(net.error, net)
    if samples <= 1:
        return f"{lhs} = {err}"
    body = rf"\left({err}\right)_{{i}}" if isinstance(net.error, sp.Add) else \
        rf"\left[{err}\right]_{{i}}"
    total = rf"\sum_{{i=1}}^{{{samples}}} {body}"
    if net.loss.reduction == "mean":
        total = rf"\frac{{1}}{{{samples}}} {total}"
    return f"{lhs} = {total}"


def _update(d: Derivation, values: Mapping[str, float], rate: float) -> Update:
    net = d.network
    old = {str(p): float(net.values[str(p)]) for p in net.parameters}  # type: ignore[arg-type]
    new = {k: v - rate * values[k] for k, v in old.items()}
    beyond = [k for k, v in new.items() if not math.isfinite(v)]
    if beyond:
        raise OverflowError(f"{beyond[0]} after the step is beyond float64")
    shown = {k: settled(v, old[k], rate * values[k]) for k, v in new.items()}
    rows = [UpdateRow(latex(p, net), number(old[str(p)]), number(values[str(p)]),
                      number(-rate * values[str(p)]), number(shown[str(p)]))
            for p in net.parameters]
    rounded = any(shown[k] != v and v != 0 for k, v in new.items())
    after = d.loss_at({**dict(net.values), **new})
    theta = latex(Symbol("theta"))
    rule = (rf"{theta}_{{\text{{new}}}} = {theta} - \alpha "
            rf"\frac{{\partial {latex(net.loss_symbol)}}}{{\partial {theta}}}")
    return Update(number(rate), rule, rows, number(d.loss_at(net.values)), number(after),
                  latex(net.loss_symbol), number(NOISE) if rounded else "")


def _thin(n: int) -> list[int]:
    if n <= TABLE_ROWS:
        return list(range(n))
    keep = set(range(10)) | set(range(0, n, 10)) | {n - 1}
    return sorted(keep)


def _version() -> str:
    try:
        return _dist_version("symgrad")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "(development)"


def _training(net: Network, one: Symbol | None, gathered: _Gathered) -> Training | None:
    rate = spec_rate(net)
    if rate is None or not _has_point(net):
        return None
    run = run_training(net)
    history, reason, diverged = run.history, run.reason, run.diverged
    if not history:
        gathered.omitted.append(f"Training is left out: {reason.rstrip('.')}.")
        return None
    symbol = net.loss.symbol
    if one is not None:
        name = str(one)
        w = latex(one, net)
        header = ["i", f"{w}_{{i}}", f"{latex(net.loss_symbol)}({w}_{{i}})",
                  partial_latex(net.loss_symbol, one, net), r"-\alpha\, "
                  + partial_latex(net.loss_symbol, one, net)]
        cells = [[number(s.params[name]), number(s.loss), number(s.grads[name]),
                  number(-rate * s.grads[name]) if i < len(history) - 1 else ""]
                 for i, s in enumerate(history)]
    else:
        header = ["i", latex(net.loss_symbol), rf"\lVert \nabla {latex(net.loss_symbol)} \rVert",
                  rf"\alpha \lVert \nabla {latex(net.loss_symbol)} \rVert"]
        cells = [[number(s.loss), number(s.grad_norm),
                  number(rate * s.grad_norm) if i < len(history) - 1 else ""]
                 for i, s in enumerate(history)]
    keep = _thin(len(history))
    rows = [IterationRow(history[k].iteration, cells[k], i > 0 and keep[i - 1] != k - 1)
            for i, k in enumerate(keep)]
    figure = None
    if len(history) >= 3:
        figure = gathered.figure(FigureData(
            "loss", "loss", f"The loss {symbol} at each iteration of gradient descent "
            f"(learning rate {rate:g}).",
            {"iterations": [s.iteration for s in history], "losses": [s.loss for s in history],
             "symbol": symbol}))
    return Training(number(rate), history[-1].iteration, header, rows, reason, diverged,
                    number(history[-1].loss), figure)


def _floats(expr: Expr) -> Expr:
    """Exact rationals shown as 15-digit decimals."""
    return expr.xreplace({r: sp.Float(r, 15) for r in expr.atoms(sp.Rational)
                          if not r.is_Integer})


def _one_parameter(d: Derivation, gathered: _Gathered) -> OneParameter | None:
    study = one_parameter_study(d)
    if study is None:
        return None
    net, p = d.network, study.parameter
    name, symbol = str(p), net.loss.symbol
    cost_figure = rates_figure = None
    if study.spec_run is not None and study.spec_run.history:
        history = study.spec_run.history
        cost_figure = gathered.figure(FigureData(
            "cost", "cost", f"The cost {symbol}({name}) and the first steps of gradient "
            f"descent from {name}0 = {float(net.values[name]):g} with learning rate "  # type: ignore[arg-type]
            f"{study.rate:g}.",
            {"grid": study.grid, "cost": study.grid_cost,
             "path": [s.params[name] for s in history[:12]],
             "path_cost": [s.loss for s in history[:12]], "symbol": symbol,
             "parameter": name, "minimum": study.minimum}))
        rates_figure = gathered.figure(FigureData(
            "rates", "rates", f"Gradient descent with three learning rates: the cost "
            f"{symbol} and the weight {name} at each iteration.",
            {"curves": [{"label": f"{r.label}: \u03b1 = {r.rate:g}",
                         "iterations": [s.iteration for s in r.run.history],
                         "losses": [s.loss for s in r.run.history],
                         "params": [s.params[name] for s in r.run.history]}
                        for r in study.runs],
             "symbol": symbol, "parameter": name, "minimum": study.minimum}))
    runs = [RateRun(r.label, number(r.rate), r.run.history[-1].iteration,
                    number(r.run.history[-1].params[name]), number(r.run.history[-1].loss),
                    r.outcome) for r in study.runs]
    optional = (lambda x: None if x is None else number(x))
    stable = None if study.curvature is None else number(2 / study.curvature)
    return OneParameter(latex(p, net), latex(_floats(study.cost), net, full_prec=False),
                        latex(_floats(study.derivative), net, full_prec=False),
                        optional(study.minimum), optional(study.minimum_cost),
                        optional(study.curvature), stable, runs, cost_figure, rates_figure)


def _called(act: Activation, f: Expr) -> str:
    """LaTeX of the activation applied to ``z``: ``\\sigma\\left(z\\right)``, and for the
    identity, which evaluates to ``z`` itself, its name applied to ``z``."""
    return latex(f) if not isinstance(f, Symbol) else rf"{act.latex}\left({latex(f)}\right)"


def _activation_view(act: Activation, check: ActivationCheck,
                     figure: str | None) -> ActivationView:
    f = check.function
    if act.elementwise:
        z, df = check.derivatives[0]
        rows = [Row(rf"\frac{{d}}{{dz}} {_called(act, f)}", f"= {latex(df)}")]
        if df.has(type(f)) and isinstance(f, sp.Function):
            rows.append(Row("", f"= {latex(df.xreplace({f: Symbol('a')}))}"
                            rf"\quad\text{{with }} a = {latex(f)}"))
        shown_def = rf"{_called(act, f)} = {latex(check.definition)}"
    else:
        rows = [Row(partial_latex(Symbol("s1"), z), f"= {latex(dz)}")
                for z, dz in check.derivatives]
        shown_def = rf"s_{{1}} = {latex(f)} = {latex(check.definition)}"
    return ActivationView(act.name, act.title, shown_def, rows, *range_parts(act.range),
                          act.kink, act.elementwise, ", ".join(f"{t:g}" for t in CHECK_POINTS),
                          number(check.error, 2), figure)


def _formula_view(act: Activation, view: ActivationView) -> ActivationView:
    """A spec's formula entry in its parameters' names, with its derivative in its own
    output where SymPy found that form (:func:`~symgrad.formulas.textbook_forms`)."""
    definition, slope, own = textbook_forms(act)
    called = rf"{act.function.latex_name}\left(z\right)"
    rows = [Row(rf"\frac{{d}}{{dz}} {called}", f"= {latex(slope)}")]
    if own is not None:
        rows.append(Row("", rf"= {latex(own)}\quad\text{{with }} a = {called}"))
    return replace(view, definition=f"{called} = {latex(definition)}", derivative=rows)


def _activations(net: Network, gathered: _Gathered) -> list[ActivationView]:
    out: list[ActivationView] = []
    seen: set[str] = set()
    for layer in net.layers:
        act = layer.activation
        if act is None or act.name in seen:
            continue
        seen.add(act.name)
        check = activation_check(act, layer.params)
        labels = ("f(z)", "f'(z)") if act.elementwise else ("s1(z, 0)", "ds1/dz1")
        figure = gathered.figure(FigureData(
            f"activation-{act.name}", "activation", f"{act.title} and its derivative.",
            {"grid": check.grid, "values": check.values, "slopes": check.slopes,
             "label": labels[0], "dlabel": labels[1], "title": act.title}))
        view = _activation_view(act, check, figure)
        if act.name in net.architecture.formula_activations:
            view = _formula_view(act, view)
        out.append(replace(view, accuracy=accuracy_line(act, layer.params)))
    return out


def _vanishing(d: Derivation, values: Mapping[str, float],
               gathered: _Gathered) -> Vanishing | None:
    chain = chain_vanishing(d, values)
    if chain is None:
        return None
    net = d.network
    layers = net.layers
    count = len(layers)
    rows = [LayerGradient(layer.index, number(slope), number(bound), number(gw),
                          number(gb) if layer.biases else "")
            for layer, slope, bound, gw, gb in zip(layers, chain.slopes, chain.bounds,
                                                    chain.weights, chain.biases)]
    figure = gathered.figure(FigureData(
        "vanishing", "vanishing", "Size of the gradient of each layer's weight and bias "
        "(log scale), with the product of the sigmoid slopes between the layer and the "
        "output, and its bound.",
        {"layers": [layer.index for layer in layers], "weights": chain.weights,
         "biases": chain.biases, "products": chain.products, "bounds": chain.bounds,
         "symbol": net.loss.symbol}))
    first, last = chain.weights[0], chain.weights[-1]
    w1 = layers[0].weights[0][0]
    formula = (rf"{partial_latex(net.loss_symbol, w1, net)} = "
               rf"{partial_latex(net.loss_symbol, layers[-1].post[0], net)} \cdot "
               rf"\prod_{{l=1}}^{{{count}}} \sigma'(z_l) \cdot \prod_{{l=2}}^{{{count}}} w_l "
               rf"\cdot {latex(layers[0].inputs[0], net)}")
    product = chain.products[0]
    return Vanishing(count, number(0.25 ** count), number(product), product, number(first),
                     number(last), number(last / first) if first else r"\infty", rows,
                     _samples(net) > 1, figure, formula, latex(w1, net),
                     latex(layers[-1].weights[0][0], net))


def _checks(d: Derivation, results: Sequence[Any]) -> list[CheckView]:
    net = d.network
    out = []
    for r in results:
        g = d[str(r.wrt)]
        example = getattr(r, "counterexample", None)
        rows = [ValueRow(latex(net.symbols[str(k)], net) if str(k) in net.symbols
                         else latex(Symbol(str(k))), "", number(float(v)))
                for k, v in example.items()] if isinstance(example, Mapping) else []
        yours = getattr(r, "yours", None)
        out.append(CheckView(
            g.name, latex(g.parameter, net), partial_latex(net.loss_symbol, g.parameter, net),
            latex(yours, net) if yours is not None else "", latex(g.factored, net),
            str(r.verdict), str(getattr(r, "kind", None) or ""),
            bool(getattr(r, "ok", str(r.verdict).startswith("equal"))),
            str(getattr(r, "note", "") or ""), str(getattr(r, "diagnosis", "") or ""),
            str(getattr(r, "diagnosis_latex", "") or ""), rows))
    return out


def _at_point(d: Derivation, gathered: _Gathered) -> tuple[dict[str, float], str] | None:
    """The gradients and the loss at the spec's point; ``None`` if the spec gives no point,
    or (with a sentence) if its values cannot be computed."""
    net = d.network
    if not _has_point(net):
        return None
    return gathered.optional("The point of evaluation", lambda: (
        d.at(net.values), number(d.loss_at(net.values))))


def build(d: Derivation, checks: Sequence[Any] | None = None) -> Content:
    """Everything a report of ``d`` shows (``checks``: results of
    :func:`symgrad.check.check_file`, or ``None`` to leave that section out)."""
    net = d.network
    gathered = _Gathered()
    at_point = _at_point(d, gathered)
    values, loss_value = at_point or (None, None)
    large = len(net.parameters) > LARGE
    seen: set[tuple[Symbol, Symbol]] = set()
    gradients = [_gradient_view(g, net, values[g.name] if values else None, seen, large)
                 for g in _backprop_order(d, large)]
    rate = spec_rate(net)
    one = net.parameters[0] if len(net.parameters) == 1 else None
    spec = net.spec
    samples = _samples(net)
    content = Content(
        title=net.title or (Path(spec.path).stem if spec is not None else "symgrad report"),
        description=paragraphs(spec.description if spec is not None else ""),
        source=Path(spec.path).name if spec is not None else "",
        version=_version(),
        inputs=len(net.inputs),
        layers=[LayerView(layer.index, layer.units,
                          layer.activation.title if layer.activation else "",
                          bool(layer.biases)) for layer in net.layers],
        loss_title=net.loss.title, loss_symbol=latex(net.loss_symbol),
        reduction=net.loss.reduction, samples=samples,
        error=latex(net.error, net), cost=_cost(net, samples) + cost_term(d),
        parameters=[latex(p, net) for p in net.parameters[:12]],
        parameter_count=len(net.parameters), large=large,
        data_source=spec.data.source or "" if spec is not None else "",
        point=_point(net) if not large else [], seeded=net.seeded,
        seed=spec.training.seed if spec is not None else 0,
        is_chain=net.is_chain, names=_role_names(net),
        forward=_forward(d, large, gathered if at_point is not None else None),
        deltas=[] if net.is_chain else _delta_views(d, large),
        gradients=gradients, has_point=at_point is not None, loss_value=loss_value,
        matrix=(gathered.optional("The derivation in matrix form", lambda: _matrix(net))
                or []) if large else [],
        update=gathered.optional("The gradient-descent step", lambda: _update(d, values, rate))
        if values is not None and rate is not None and not large else None,
        training=None, one_parameter=None,
        activations=gathered.optional("The activations section",
                                      lambda: _activations(net, gathered)) or [],
        vanishing=gathered.optional("The vanishing-gradient section", lambda: _vanishing(
            d, values, gathered)) if values is not None else None,
        checks=_checks(d, checks) if checks is not None else None,
    )
    content.one_parameter = gathered.optional("The one-parameter study",
                                              lambda: _one_parameter(d, gathered)) \
        if net.penalty is None else None  # the study is of the loss alone
    content.training = gathered.optional("Training", lambda: _training(
        net, one, gathered)) if not large else None
    content.figures, content.omitted = gathered.figures, gathered.omitted
    return content



