"""``symgrad derive SPEC [--wrt P ...] [--form factored|expanded|steps] [--latex]``."""

from __future__ import annotations

import argparse

from ..derive import Derivation, Gradient, derive
from ..network import Network, load
from ..printing import (base_name, chain_factors, latex, partial_latex, partial_text,
                        product_text, text)
from ..architecture import LEVELS
from ..limits import sample_count
from ._layers import layer_level
from ._limits import add_no_limits, read_limited
from ._output import supports_unicode

FORMS = ("factored", "expanded", "steps")
#: The most samples at which derive shows each gradient's value: it evaluates every sample
#: exactly (30 digits), about 7 ms a sample for two sigmoid units, and 30,000 samples took
#: 13 s, all of it for one line a gradient; above this the derivation is printed alone.
EXACT_SAMPLES = 100


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("derive", help="derive every gradient of a spec by the chain rule",
                       description="Derive the gradients of a spec's loss by the chain rule.")
    p.add_argument("spec", help="a spec file (TOML), for example derivations/two_neuron.toml")
    p.add_argument("--wrt", action="append", metavar="P",
                   help="a parameter to differentiate with respect to (repeatable; "
                        "default: all); also an input (x1), a z, an a, or a delta (an alias "
                        "of its z)")
    p.add_argument("--form", choices=FORMS, default="factored",
                   help="factored: chain and product in intermediates (default); expanded: in "
                        "inputs and parameters only; steps: forward equations, deltas, chains")
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    p.add_argument("--level", choices=LEVELS, default="auto",
                   help="scalar: one gradient per weight; layer: the matrix derivation (delta "
                        "recursion); auto (default): layer above 200 parameters")
    add_no_limits(p, "derive")
    p.set_defaults(handler=run)


def _has_point(net: Network) -> bool:
    names = {str(s) for s in net.parameters + net.inputs + net.targets}
    return names <= set(net.values)


def _text_gradient(g: Gradient, form: str, values: dict[str, float] | None, uni: bool) -> str:
    net = g.derivation.network
    dot = " · " if uni else " * "
    lhs = partial_text(net.loss_symbol, g.parameter, uni)
    pad = " " * len(lhs)
    if form == "expanded":
        return f"{lhs} = {text(g.expanded)}"
    extra = [] if g.penalty == 0 else [text(g.penalty)]  # the penalty's term, once
    lines = [f"{lhs} = " + " + ".join([dot.join(partial_text(f.numerator, f.denominator, uni)
                                                for f in term) for term in g.terms] + extra),
             f"{pad} = " + _sum([product_text(chain_factors(term), uni)
                                 for term in g.terms] + extra)]
    if not net.is_chain or len(g.terms) > 1:
        lines.append(f"{pad} = {text(g.factored)}")
    if values is not None:
        lines.append(f"{pad} = {_value_text(g, values)}   (at the spec's values)")
    if g.note:
        lines.append(f"{pad}   ({g.note})")
    return "\n".join(lines)


def _sum(terms: list[str]) -> str:
    """Terms joined by ``+``, or by ``-`` before a term that starts with a minus."""
    out = terms[0]
    for term in terms[1:]:
        out += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
    return out


def _value_text(g: Gradient, values: dict[str, float]) -> str:
    """The parameter's value from ``values``; an intermediate's from the derivation,
    one per sample."""
    if g.name in values and g.derivation.gradients.get(g.name) is g:
        return f"{values[g.name]:.10g}"
    value = g.at(g.derivation.network.values)
    if isinstance(value, float):
        return f"{value:.10g}"
    return "[" + ", ".join(f"{v:.10g}" for v in value) + "]"


def _steps(d: Derivation, uni: bool) -> str:
    net = d.network
    arrow = "←" if uni else "<-"
    out = ["forward:"]
    out += [f"  {s} = {text(e)}" for s, e in net.equations.items()]
    out.append(f"  {net.loss.symbol} = {text(net.error)}   ({net.loss.title}, "
               f"{net.loss.reduction} over samples)")
    if net.penalty is not None:
        out.append(f"  {net.loss.symbol} += {text(d.penalty_cost)}   ({net.penalty.kind.title}, "
                   f"once, lambda = {net.penalty.strength:g})")
    pre = base_name(net.layers[0].pre[0])
    out.append(f"error signals (delta = d{net.loss.symbol}/d{pre}), output layer first:")
    for step in d.deltas.values():
        out.append(f"  {step.symbol} = {text(step.expression)}")
        if step.general is not None:
            out.append(f"  {' ' * len(str(step.symbol))}   {arrow} {text(step.general)}: "
                       f"{step.note}")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    spec = read_limited(args.spec, args, "derive")
    if layer_level(args, spec):
        return 0
    net = load(spec)
    d = derive(net)
    chosen = [d[name] for name in args.wrt] if args.wrt else list(d.values())
    if args.latex:
        for g in chosen:
            body = latex(g.expanded if args.form == "expanded" else g.factored, net)
            print(f"{partial_latex(net.loss_symbol, g.parameter, net)} = {body}")
        return 0
    uni = supports_unicode()
    samples = sample_count(spec)[0]
    evaluate = _has_point(net) and samples <= EXACT_SAMPLES
    values = d.at(net.values) if evaluate else None
    blocks = [_steps(d, uni)] if args.form == "steps" else []
    form = "factored" if args.form == "steps" else args.form
    blocks += [_text_gradient(g, form, values, uni) for g in chosen]
    if _has_point(net) and not evaluate:
        blocks.append(f"(not evaluated at the spec's values: its {samples:,} samples are more "
                      f"than the {EXACT_SAMPLES} at which derive evaluates each gradient "
                      "exactly)")
    print("\n\n".join(blocks))
    return 0
