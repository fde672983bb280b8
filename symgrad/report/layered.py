"""The layer level in a report: a network with layer types (batch norm, dropout,
convolution, pooling, a recurrent layer, ...) shown as its matrix-form derivation, layer by
layer with shapes, and the training on a named data set, epoch by epoch, with its test
accuracy.

The derivation's lines come from the same :class:`~symgrad.derive.stack.StackDerivation`
steps and the same printer (:func:`symgrad.printing.matrix_latex`) that ``symgrad derive
--level layer`` prints; the training run is computed by
:func:`symgrad.analysis.layer_training.layer_training`. This module only lays them out.

>>> from symgrad.derive.stack import derive_stack
>>> c = build_report(derive_stack("derivations/digits_batchnorm.toml"), epochs=1)
>>> [b.kind for b in c.stack.blocks]
['dense 32 relu', 'batchnorm', 'dropout', 'dense 10 none', 'log_softmax']
>>> c.epochs.epochs, c.epochs.test_accuracy.endswith("%")
(1, True)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

from ..analysis.layer_training import LayerRun, layer_training
from ..catalogue import Step
from ..derive import Derivation
from ..derive.stack import StackDerivation
from ..errors import ArgumentError
from ..printing import matrix_latex
from ..spec import Spec
from .content import _version, build, number
from .escape import paragraphs
from .layout import Row
from .views import Content, EpochRow, EpochTraining, FigureData, LayerBlock, StackView

__all__ = ["build_report", "stack_view", "epoch_training", "EPOCH_ROWS", "NO_HAND_CHECK"]

#: Why a network with layer types takes no hand derivations to check.
NO_HAND_CHECK = ("hand derivations are checked against the scalar level, and a network with "
                 "layer types is derived at the layer level only")
#: An epoch table longer than this shows every n-th epoch (and the last).
EPOCH_ROWS = 21


def _row(step: Step) -> Row:
    left, right = step.latex(matrix_latex).split(" &= ", 1)
    return Row(left, f"= {right}")


def _shape(shape: tuple[int, ...]) -> str:
    """A per-sample shape as text: ``64``, ``16 x 4 x 4``."""
    return " x ".join(map(str, shape))


def stack_view(d: StackDerivation) -> StackView:
    """The matrix-form derivation of ``d``, one block per layer, input side first."""
    blocks = []
    for layer, steps in d.blocks:
        kind = (f"dense {layer.dense.units} {layer.dense.label}" if layer.dense is not None
                else layer.kind)
        shown = steps.forward + steps.backward
        notes = [Row(_row(s).left, s.note) for s in shown if s.note]
        notes += [Row("", note) for note in steps.notes]
        blocks.append(LayerBlock(layer.index, kind, _shape(layer.in_shape),
                                 _shape(layer.out_shape), [_row(s) for s in shown],
                                 notes))
    source = Path(d.spec.path).name if d.spec is not None and d.spec.path else "SPEC"
    return StackView(d.shape_text(), f"{d.parameter_count:,}",
                     f"symgrad derive --level layer {source}", blocks, _row(d.output),
                     d.output.note)


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _thinned(count: int) -> list[int]:
    """Which of ``count`` records an epoch table shows: all, or every n-th and the last."""
    every = max(1, -(-(count - 1) // (EPOCH_ROWS - 1)))
    return [k for k in range(count) if k % every == 0 or k == count - 1]


def epoch_training(run: LayerRun, figures: list[FigureData]) -> EpochTraining:
    """``run`` laid out: its table, its result, and the training-curve figure (added to
    ``figures``)."""
    records = run.records
    rows = [EpochRow(records[k].epoch, number(records[k].loss),
                     _percent(records[k].test_accuracy)) for k in _thinned(len(records))]
    caption = (f"The loss {run.loss_symbol} over the {run.samples:,} training samples after "
               f"each epoch, and the accuracy on the {run.test_samples:,} test samples.")
    figures.append(FigureData("epochs", "epochs", caption, {
        "epochs": [r.epoch for r in records], "losses": [r.loss for r in records],
        "accuracy": [r.test_accuracy for r in records], "symbol": run.loss_symbol}))
    return EpochTraining(run.epochs, run.asked, run.given, run.capped,
                         number(run.learning_rate), run.batch_size, run.mode,
                         f"{run.samples:,}", f"{run.test_samples:,}", rows,
                         number(records[-1].loss), _percent(run.accuracy["train"]),
                         _percent(run.accuracy["test"]), run.reason,
                         f"{run.seconds:.1f}", run.loss_symbol, "epochs")


def _stack_content(d: StackDerivation) -> Content:
    """A report of a network with layer types: title, description, its derivation."""
    spec = d.spec
    source = Path(spec.path).name if spec is not None and spec.path else ""
    title = (spec.title if spec is not None and spec.title else
             Path(source).stem or "symgrad report")
    return Content(
        title=title, description=paragraphs(spec.description if spec is not None else ""),
        source=source, version=_version(), inputs=math.prod(d.stack.inputs), layers=[],
        loss_title=d.loss.title, loss_symbol=d.loss.symbol, reduction=d.loss.reduction,
        samples=0, error="", cost="", parameters=[], parameter_count=d.parameter_count,
        large=True, data_source=spec.data.source or "" if spec is not None else "",
        point=[], seeded=True, seed=spec.training.seed if spec is not None else 0,
        is_chain=False, names={"pre": "z", "post": "a"}, forward=[], deltas=[],
        gradients=[], matrix=[], has_point=False, loss_value=None, update=None,
        training=None, one_parameter=None, activations=[], vanishing=None, checks=None,
        stack=stack_view(d))


def _spec(d: Derivation | StackDerivation) -> Spec | None:
    return d.spec if isinstance(d, StackDerivation) else d.network.spec


def _results(d: Derivation, check: Any) -> Sequence[Any] | None:
    if check is None:
        return None
    if isinstance(check, (str, os.PathLike)):
        from ..check import check_file

        return check_file(d, check)
    return list(check)


def build_report(d: Derivation | StackDerivation, check: Any = None, *,
                 epochs: int | None = None, limited: bool = True,
                 progress: bool | None = None) -> Content:
    """Everything a report of ``d`` shows: :func:`symgrad.report.content.build` for a
    unit-level derivation (``check``: a hand-derivation file or its results), the matrix
    form for a network with layer types, and for a spec with a named data set the training
    on it (``epochs``: instead of the spec's; without it a report trains at most the
    report limit's epochs while ``limited``)."""
    if isinstance(d, StackDerivation):
        if check is not None:
            raise ArgumentError(NO_HAND_CHECK)
        content = _stack_content(d)
    else:
        content = build(d, _results(d, check))
    spec = _spec(d)
    if spec is not None and spec.data.source is not None:
        run = layer_training(spec, epochs, progress, limited=limited)
        content.epochs = epoch_training(run, content.figures)
    elif isinstance(d, StackDerivation):
        content.omitted.append("Training is left out: a network with layer types trains on "
                               "a named data set ([data] source = ...), and this spec names "
                               "none.")
    return content
