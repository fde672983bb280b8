"""The spec-format reference, generated from the spec reader's own field table
(:data:`symgrad.spec.FIELDS`, the table its ``only(...)`` checks use), so a field the
reader accepts is a field the page lists.

``{symgrad-spec-fields} network`` lists the fields of ``[network]`` (``top`` for the top
level); the build fails if a table of ``FIELDS`` is on no page (see :mod:`.coverage`).
"""

from __future__ import annotations

from typing import Any, Callable

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from symgrad.catalogue import ACTIVATIONS, LOSSES
from symgrad.network import Dense, Network
from symgrad.spec import FIELDS

from . import coverage
from . import nodes as n

__all__ = ["SpecFieldsDirective", "SpecNamesDirective", "TOP"]

#: How a page names the top level, whose key in FIELDS is "".
TOP = "top"


def _choices(table: str) -> list[nodes.Node]:
    """What the catalogue adds to a table: the names a field takes, the parameters a layer
    table may give its activation."""
    if table == "network":
        aliases = [a for loss in LOSSES.values() for a in loss.aliases]
        return [n.paragraph("loss is one of ", *n.literals(list(LOSSES)), " (aliases: ",
                            *n.literals(aliases), "); see the catalogue.")]
    if table != "network.layers":
        return []
    aliases = [a for act in ACTIVATIONS.values() for a in act.aliases]
    params = [f"{p} (default {v:g}) for {act.name}" for act in ACTIVATIONS.values()
              for p, v in act.params.items()]
    return [n.paragraph("activation is one of ", *n.literals(list(ACTIVATIONS)), " (aliases: ",
                        *n.literals(aliases), "); see the catalogue."),
            n.paragraph("Any other field of a layer table is a parameter of its activation: "
                        + "; ".join(params) + ".")]


class SpecFieldsDirective(SphinxDirective):
    """``{symgrad-spec-fields} TABLE``: a table of TABLE's fields and what each holds."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        table = "" if name == TOP else name
        if table not in FIELDS:
            known = ", ".join(TOP if t == "" else t for t in FIELDS)
            raise self.error(f"symgrad-spec-fields: no table '{name}' in symgrad.spec.FIELDS "
                             f"(known: {known})")
        coverage.shown(self.env, "spec table", name)
        rows = [[n.literal(field), meaning] for field, meaning in FIELDS[table].items()]
        return [n.table(["field", "what it holds"], rows, [22, 78]), *_choices(table)]


#: The symbols of each role of ``[network.names]`` in a built network.
_SYMBOLS: dict[str, Callable[[Network], list[Any]]] = {
    "input": lambda net: list(net.inputs),
    "target": lambda net: list(net.targets),
    "weight": lambda net: [w for layer in net.layers for row in layer.weights for w in row],
    "bias": lambda net: [b for layer in net.layers for b in layer.biases],
    "pre": lambda net: [z for layer in net.layers for z in layer.pre],
    "post": lambda net: [a for layer in net.layers for a in layer.post],
}
#: The networks whose default names the page shows: a chain, a wider one, one neuron.
_EXAMPLES = (("two one-unit layers", Network(1, [Dense(1, "sigmoid"), Dense(1, "sigmoid")],
                                                 "half_sse")),
             ("2 inputs, 2 units, 1 output", Network(2, [Dense(2, "sigmoid"),
                                                         Dense(1, "sigmoid")], "half_sse")),
             ("one neuron", Network(1, [Dense(1, "sigmoid")], "half_sse")))


class SpecNamesDirective(SphinxDirective):
    """``{symgrad-spec-names}``: the default symbol names of each role of
    ``[network.names]``, as built networks have them."""

    def run(self) -> list[nodes.Node]:
        rows = [[n.literal(role)] + [", ".join(str(s) for s in _SYMBOLS[role](net))
                                     for _, net in _EXAMPLES]
                for role in FIELDS["network.names"]]
        return [n.table(["role"] + [title for title, _ in _EXAMPLES], rows, [13, 29, 29, 29])]


def expected() -> set[str]:
    """Every table a page must show."""
    return {TOP if t == "" else t for t in FIELDS}
