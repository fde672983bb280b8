"""The catalogue page, generated from :data:`symgrad.ACTIVATIONS`, :data:`symgrad.LOSSES`
and :data:`symgrad.catalogue.LAYER_TYPES`: one section per entry with its names, formula,
derivative, range, convention at kinks and a small plot (a layer type: its parameters,
settings with the values they may take, state, and the gradients of its derivation), all
computed from the entry when the documentation is built.

``{symgrad-catalogue} activations``, ``losses`` or ``layers`` in a page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from symgrad.analysis.experiments import CHECK_POINTS, activation_check
from symgrad.catalogue import ACTIVATIONS, LAYER_TYPES, LOSSES, Activation, LayerType, Loss
from symgrad.numbers import evaluate
from symgrad.printing import latex, matrix_latex

from . import nodes as n

__all__ = ["CatalogueDirective"]

_Z, _A = sp.Symbol("z"), sp.Symbol("a")
_INIT = {"glorot": "Glorot (Xavier) uniform", "he": "He normal"}


def _activation_maths(act: Activation) -> list[tuple[str, str]]:
    """(what, LaTeX) rows: the formula, the derivative and, where the entry has it, the
    derivative in the unit's own output."""
    if not act.elementwise:  # softmax: component k of n inputs, its Jacobian in its outputs
        s, z = sp.IndexedBase("s"), sp.IndexedBase("z")
        k, j, size = sp.symbols("k j n", integer=True, positive=True)
        formula = sp.exp(z[k]) / sp.Sum(sp.exp(z[j]), (j, 1, size))
        jacobian = s[k] * (sp.KroneckerDelta(k, j) - s[j])
        return [("formula", rf"s_{{k}} = {latex(formula)}"),
                ("derivative", rf"\frac{{\partial s_{{k}}}}{{\partial z_{{j}}}} = "
                               f"{latex(jacobian)}")]
    f = rf"{act.latex}\left(z\right)"
    rows = [("formula", f"{f} = {latex(act.definition(_Z))}"),
            ("derivative", rf"\frac{{d}}{{dz}} {f} = {latex(act(_Z).diff(_Z))}")]
    if act.own_output is not None:
        rows.append(("in the output a", rf"\frac{{da}}{{dz}} = {latex(act.local(_Z, _A))}"
                                        rf"\quad\text{{with }} a = {f}"))
    return rows


def _activation_plot(act: Activation, check: Any) -> nodes.raw:
    labels = ("f(z)", "f'(z)") if act.elementwise else ("s1(z, 0)", "ds1/dz1")

    def draw(ax: Any) -> None:
        ax.plot(check.grid, check.values, color="black", linestyle="-", label=labels[0])
        ax.plot(check.grid, check.slopes, color="tab:blue", linestyle="--", label=labels[1])
        ax.set_xlabel("z" if act.elementwise else "z1 (z2 = 0)")
        ax.legend(loc="best", fontsize=7)
    return n.svg_figure(draw, f"activation-{act.name}", f"{act.title} and its derivative")


def _activation(directive: SphinxDirective, act: Activation) -> nodes.section:
    check = activation_check(act, {})
    section = n.section(directive.state.document, f"{act.name}: {act.title}",
                        f"activation-{act.name}")
    params = ", ".join(f"{p} = {v:g}" for p, v in act.params.items())
    section += n.paragraph("Names in a spec: ", *n.literals(act.names),
                           *([". Parameter (default): ", n.literal(params)] if params else []),
                           ".")
    rows: list[list[nodes.Node | str]] = [[what, n.math(tex)]
                                          for what, tex in _activation_maths(act)]
    rows += [["range", n.math(n.mixed_math(act.range))],
             ["at kinks", act.kink],
             ["weights initialized", _INIT.get(act.init, act.init)],
             ["checked", f"the derivative rule against the derivative of the definition at "
                         f"z = {', '.join(f'{t:g}' for t in CHECK_POINTS)}: largest "
                         f"difference {check.error:.2g}"]]
    section += n.table(["facet", "value"], rows, [18, 82])
    section += _activation_plot(act, check)
    return section


def _loss_plot(loss: Loss) -> nodes.raw:
    """The loss of one output against a target of 1, and its slope."""
    a, t = sp.Symbol("a"), sp.Symbol("T")
    per_sample = loss.per_sample([a], [t])
    grid = np.linspace(0.02, 0.98, 97)
    values = evaluate(per_sample, {a: grid, t: 1.0})
    slopes = evaluate(per_sample.diff(a), {a: grid, t: 1.0})

    def draw(ax: Any) -> None:
        ax.plot(grid, values, color="black", linestyle="-", label="L(a) at T = 1")
        ax.plot(grid, slopes, color="tab:blue", linestyle="--", label="dL/da")
        low, high = min(values.min(), slopes.min()), max(values.max(), slopes.max())
        ax.set_ylim(max(low, -6.0) - 0.2, min(high, 6.0) + 0.2)
        ax.set_xlabel("output a")
        ax.legend(loc="best", fontsize=7)
    return n.svg_figure(draw, f"loss-{loss.name}", f"{loss.title} of one output")


def _loss(directive: SphinxDirective, loss: Loss) -> nodes.section:
    a1, a2, t1, t2 = sp.symbols("a1 a2 T1 T2")
    per_sample = loss.per_sample([a1, a2], [t1, t2])
    total = r"\sum_{i=1}^{N}" if loss.reduction == "sum" else r"\frac{1}{N} \sum_{i=1}^{N}"
    section = n.section(directive.state.document, f"{loss.name}: {loss.title}",
                        f"loss-{loss.name}")
    section += n.paragraph("Names in a spec: ", *n.literals((loss.name,) + loss.aliases), ".")
    rows: list[list[nodes.Node | str]] = [
        ["one sample, two outputs", n.math(f"L = {latex(per_sample)}")],
        ["derivative", n.math(rf"\frac{{\partial L}}{{\partial a_{{1}}}} = "
                              f"{latex(per_sample.diff(a1))}")],
        [f"over N samples ({loss.reduction})", n.math(f"{loss.symbol} = {total} L_{{i}}")]]
    if loss.needs_probabilities:
        fits = [act.name for act in ACTIVATIONS.values() if act.probabilities]
        rows.append(["needs", "outputs that are probabilities, from an output layer of "
                              + " or ".join(fits)])
    section += n.table(["facet", "value"], rows, [22, 78])
    section += _loss_plot(loss)
    return section


def _settings(entry: LayerType) -> nodes.Node | str:
    """``rate = 0.5`` (in [0, 1)); ...: each setting's default and, where it is bounded,
    what it may be."""
    parts: list[nodes.Node] = []
    for name, default in entry.hyper.items():
        value = str(default).lower() if isinstance(default, bool) else default
        bound = entry.bounds.get(name)
        whole = isinstance(default, int) and not isinstance(default, bool)
        parts += [nodes.Text("; ")] if parts else []
        parts += [n.literal(f"{name} = {value}")]
        parts += [nodes.Text(f" ({bound.text(whole=whole)})")] if bound is not None else []
    return nodes.inline("", "", *parts) if parts else "none"


def _layer_type(directive: SphinxDirective, entry: LayerType) -> nodes.section:
    section = n.section(directive.state.document, f"{entry.name}: {entry.title}",
                        f"layer-{entry.name}")
    section += n.paragraph("In a spec: ", n.literal(f'{{ type = "{entry.name}" }}'), ".")
    steps = entry.derivation()
    gradients = r" \\ ".join(
        rf"\frac{{\partial E}}{{\partial {latex(sp.Symbol(name))}}} &= {matrix_latex(expr)}"
        for name, expr in steps.gradients.items())

    def listed(texts: tuple[str, ...]) -> nodes.Node | str:
        return nodes.inline("", "", *(nodes.Text(p) if isinstance(p, str) else p
                                      for p in n.literals(texts))) if texts else "none"
    rows: list[list[nodes.Node | str]] = [
        ["parameters", listed(entry.params)],
        ["settings (default)", _settings(entry)],
        ["state", listed(entry.state)],
        ["gradients", n.math(rf"\begin{{aligned}} {gradients} \end{{aligned}}")]]
    rows += [["note", note] for note in steps.notes]
    section += n.table(["facet", "value"], rows, [18, 82])
    return section


class CatalogueDirective(SphinxDirective):
    """``{symgrad-catalogue} activations``, ``losses`` or ``layers``: one section per
    entry."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        kind = self.arguments[0]
        if kind == "activations":
            return [_activation(self, act) for act in ACTIVATIONS.values()]
        if kind == "losses":
            return [_loss(self, loss) for loss in LOSSES.values()]
        if kind == "layers":
            return [_layer_type(self, LAYER_TYPES[name]) for name in sorted(LAYER_TYPES)]
        raise self.error(f"symgrad-catalogue: expected 'activations', 'losses' or 'layers', "
                         f"got '{kind}'")
