"""``symgrad derive --level layer``: the layer-level (matrix) derivation of a spec.

``--level auto`` (the default) keeps the scalar derivation, one gradient per weight, for
networks of at most :data:`symgrad.derive.SCALAR_LIMIT` parameters and shows the layer-level
derivation above that. ``--level scalar`` on a larger network without ``--wrt`` is an error
that says what to use instead.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import ArgumentError, MissingDependencyError
from ..architecture import SCALAR_LIMIT, Architecture
from ..spec import Spec, has_layer_types
from ._output import supports_unicode

if TYPE_CHECKING:
    from ..derive import LayerDerivation


def _values_block(d: LayerDerivation, uni: bool) -> list[str]:
    """Gradient norms at the spec's values (seeded parameters, its data set), if any."""
    from ..backends import CompiledLayers  # numbers: loaded only on this path
    from ..datasets import load_dataset

    spec = d.spec
    if spec.data.source is None:
        return []
    try:
        data = load_dataset(spec)
    except MissingDependencyError as exc:
        return [f"(no values: {exc})"]
    params = d.initial_parameters(spec.training.seed)
    grads = CompiledLayers(d).grad(**params, x=data.x_train, y=data.y_train)
    E = d.loss.symbol
    bar = "‖" if uni else "|"
    lines = [f"gradients at the initial parameters (seed {spec.training.seed}), over the "
             f"{len(data.x_train):,} training samples (Frobenius norms):"]
    for name, g in grads.items():
        lines.append(f"  {bar}d{E}/d{name}{bar} = {float(np.linalg.norm(g)):.6g}   "
                     "(at the spec's values)")
    return lines


def layer_level(args: argparse.Namespace, spec: Spec) -> bool:
    """Print the layer-level derivation of ``spec`` when ``args`` ask for it; ``False``
    if they don't."""
    level = getattr(args, "level", "auto")
    if level == "scalar" and args.wrt:
        return False
    if has_layer_types(spec) and level != "scalar":
        return _stack_level(spec, args)
    count = Architecture.from_spec(spec).parameter_count
    if level == "scalar" and count > SCALAR_LIMIT:
        raise ArgumentError(f"this network has {count:,} parameters, too many to print one "
                            f"gradient each (the limit is {SCALAR_LIMIT}); use --level layer, "
                            "or --wrt P for single parameters")
    if level == "scalar" or (level == "auto" and (count <= SCALAR_LIMIT or args.wrt
                                                  or spec.network.tied_field() is not None)):
        return False  # tied parameters: the unit level only
    from ..derive import LayerDerivation  # the matrix level: loaded only on this path

    if args.wrt:
        raise ArgumentError("--wrt picks scalar gradients; use it with --level scalar")
    return _show(LayerDerivation(spec), args, _values_block)


def _stack_level(spec: Spec, args: argparse.Namespace) -> bool:
    """Print the derivation of a network with layer types (batch norm, dropout, ...)."""
    if args.wrt:
        raise ArgumentError("--wrt picks scalar gradients; a network with layer types is "
                            "derived at the layer level only")
    from ..derive.stack import StackDerivation  # loaded only on this path

    return _show(StackDerivation(spec), args)


def _show(d: Any, args: argparse.Namespace,
          values: Callable[[Any, bool], list[str]] | None = None) -> bool:
    """Print a layer-level derivation ``d`` (a :class:`LayerDerivation` or a
    :class:`StackDerivation`): its LaTeX lines with ``--latex``, else its text and the
    lines ``values(d, unicode)`` gives after it."""
    if getattr(args, "form", "factored") != "factored":
        raise ArgumentError(f"--form {args.form} applies to the scalar derivation; the "
                            "layer-level derivation always shows its steps")
    if args.latex:
        print("\\begin{aligned}\n" + " \\\\\n".join(d.latex_lines()) + "\n\\end{aligned}")
        return True
    uni = supports_unicode()
    blocks = [d.text(unicode=uni)]
    shown = values(d, uni) if values is not None else []
    if shown:
        blocks.append("\n".join(shown))
    print("\n".join(blocks))
    return True
