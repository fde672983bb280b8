"""Worked solutions: the derivation report of a variant's spec, with each asked quantity
highlighted where the report reaches it.

The report is built as for ``symgrad report`` (:func:`symgrad.report.content.build`); then
one marker per kind of question boxes the answer in place (LaTeX ``\\boxed``, which the
HTML turns into MathML's ``menclose``) and labels it with the question's number: a
gradient's value at the point, a gradient in symbols, a forward value, the loss, a
parameter after the update, the count of updates to converge. The opening paragraph
lists the answers too.

>>> from symgrad.exercises import load_template, generate
>>> v = generate(load_template("derivations/two_neuron_exercise.toml"), 1, seed=7).variants[0]
>>> content = solution_content(v)
>>> [r.right for g in content.gradients for r in g.rows if r"\\boxed" in r.right][:1]
['= \\\\boxed{-0.0168177} \\\\quad \\\\text{at the point above: answer (4)}']
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from ..files import read_text
from ..network import Network
from ..printing import latex
from ..report.layout import Row, number
from .variants import Answer, Variant

if TYPE_CHECKING:
    from ..report.views import Content

__all__ = ["solution_content", "solution_html", "MARKERS"]


def boxed(value: str, label: str) -> str:
    r"""``value`` (LaTeX) boxed, with the question's label beside it.

    >>> boxed("0.5", "answer (2)")
    '\\boxed{0.5} \\quad \\text{answer (2)}'
    """
    return rf"\boxed{{{value}}} \quad \text{{{label}}}"


def _label(answer: Answer) -> str:
    return f"answer ({answer.question.number})"


def _mark_gradient(content: Content, answer: Answer, net: Network) -> None:
    """The last line of the gradient's chain, its value at the point, boxed."""
    name = answer.question.of
    for i, g in enumerate(content.gradients):
        if g.name == name and g.value:
            last = Row(g.rows[-1].left, rf"= \boxed{{{g.value}}} \quad "
                       rf"\text{{at the point above: {_label(answer)}}}")
            content.gradients[i] = dataclasses.replace(g, rows=[*g.rows[:-1], last])


def _mark_symbolic(content: Content, answer: Answer, net: Network) -> None:
    """The gradient's factored line boxed in place (one more boxed line when the factored
    form is set over several lines)."""
    name = answer.question.of
    for i, g in enumerate(content.gradients):
        if g.name != name:
            continue
        rows = list(g.rows)
        at = next((k for k, r in enumerate(rows) if r.right == f"= {g.factored}"), None)
        if at is None:
            rows.insert(len(rows) - bool(g.value), Row("", "= " + boxed(g.factored, _label(answer))))
        else:
            rows[at] = Row(rows[at].left, "= " + boxed(g.factored, _label(answer)))
        content.gradients[i] = dataclasses.replace(g, rows=rows)


def _mark_update(content: Content, answer: Answer, net: Network) -> None:
    """The parameter's new value in the update table, boxed."""
    if content.update is None:
        return
    symbol = latex(net.symbol(answer.question.of), net)
    rows = [dataclasses.replace(r, new=boxed(r.new, _label(answer))) if r.symbol == symbol
            else r for r in content.update.rows]
    content.update = dataclasses.replace(content.update, rows=rows)


def _mark_loss(content: Content, answer: Answer, net: Network) -> None:
    """The cost at the point, boxed where the model section and the update state it."""
    if content.loss_value is not None:
        content.loss_value = boxed(content.loss_value, _label(answer))
    if content.update is not None:
        content.update = dataclasses.replace(
            content.update, loss_before=boxed(content.update.loss_before, _label(answer)))


def _mark_forward(content: Content, answer: Answer, net: Network) -> None:
    """The asked quantity's value at the end of its forward equation, boxed (added where
    the report shows no value there)."""
    symbol = latex(net.symbol(answer.question.of), net)
    value = number(float(answer.value))
    shown = f" = {value}"
    content.forward = [
        Row(r.left, f"{r.right.removesuffix(shown)} = {boxed(value, _label(answer))}")
        if r.left == symbol else r for r in content.forward]


def _mark_iterations(content: Content, answer: Answer, net: Network) -> None:
    """A sentence in the training section with the count of updates."""
    if content.training is not None:
        count = int(float(answer.value))
        reason = (f"{content.training.reason}. {_label(answer).capitalize()}: {count} "
                  "updates bring the gradient below the tolerance")
        content.training = dataclasses.replace(content.training, reason=reason)


#: How each kind of question marks its answer in the worked solution
#: (:data:`symgrad.exercises.questions.KINDS` names the kinds).
MARKERS: Mapping[str, Callable[[Content, Answer, Network], None]] = {
    "gradient": _mark_gradient, "symbolic": _mark_symbolic, "update": _mark_update,
    "loss": _mark_loss, "forward": _mark_forward, "iterations": _mark_iterations,
}


def solution_content(variant: Variant) -> Content:
    """The derivation report's content for the variant's numbers: its answers listed in the
    opening paragraph and boxed where the report reaches them."""
    from ..derive import derive
    from ..report.content import build

    net = Network.from_spec(variant.spec)
    content = build(derive(net))
    shown = []
    for a in variant.answers:
        value = a.value if isinstance(a.value, str) else f"{a.value:.6g}"
        shown.append(f"({a.question.number}) {a.question.label} = {value}")
        MARKERS[a.question.kind](content, a, net)
    content.description = [f"Worked solution of variant {variant.code}, with the numbers of "
                           "its sheet. The answers, boxed below where the derivation reaches "
                           "them: " + "; ".join(shown) + "."]
    return content


def solution_html(content: Content) -> str:
    """A worked solution (from :func:`solution_content`) as one self-contained HTML page."""
    from ..report.render import write_report

    with tempfile.TemporaryDirectory(prefix="symgrad-solution-") as scratch:
        return read_text(write_report(content, Path(scratch) / "solution.html"))
