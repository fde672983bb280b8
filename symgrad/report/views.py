"""What a report shows, as plain data the templates lay out (built by :mod:`.content`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .layout import Row

# -- views --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorView:
    """One factor of a chain and what is needed to say where it comes from."""

    kind: str
    partial: str
    expression: str
    numerator: str
    wrt: str
    source: str
    new: bool
    activation: str = ""
    rule: str = ""
    rule_at: str = ""


@dataclass(frozen=True)
class GradientView:
    name: str
    symbol: str
    lhs: str
    rows: list[Row]
    factors: list[FactorView]
    factored: str
    expanded: list[Row] | None
    expanded_ops: int
    value: str
    value_float: float
    layer: int
    shared: list[str] = field(default_factory=list)  # a tied parameter: the names it replaces


@dataclass(frozen=True)
class DeltaView:
    symbol: str
    rows: list[Row]
    note: str


@dataclass(frozen=True)
class ValueRow:
    symbol: str
    role: str
    value: str


@dataclass(frozen=True)
class LayerView:
    index: int
    units: int
    activation: str
    bias: bool


@dataclass(frozen=True)
class UpdateRow:
    symbol: str
    old: str
    gradient: str
    step: str
    new: str


@dataclass(frozen=True)
class Update:
    rate: str
    rule: str
    rows: list[UpdateRow]
    loss_before: str
    loss_after: str
    loss_symbol: str
    noise: str = ""  # the threshold (math) when a new value was rounding noise, shown as 0


@dataclass(frozen=True)
class IterationRow:
    iteration: int
    cells: list[str]
    gap_before: bool


@dataclass(frozen=True)
class Training:
    rate: str
    iterations: int
    header: list[str]
    rows: list[IterationRow]
    reason: str
    diverged: bool
    final_loss: str
    figure: str | None


@dataclass(frozen=True)
class RateRun:
    label: str
    rate: str
    iterations: int
    final: str
    final_loss: str
    outcome: str


@dataclass(frozen=True)
class OneParameter:
    """A one-parameter model: its cost as a function of the parameter."""

    symbol: str
    cost: str
    derivative: str
    minimum: str | None
    minimum_cost: str | None
    curvature: str | None
    stable_below: str | None
    runs: list[RateRun]
    cost_figure: str | None
    rates_figure: str | None


@dataclass(frozen=True)
class ActivationView:
    name: str
    title: str
    definition: str
    derivative: list[Row]
    range: str  # math: the interval
    range_words: str  # text after it ("components sum to 1"), or ""
    kink: str
    elementwise: bool
    checked_at: str
    check_error: str
    figure: str | None  # None: left out, its values cannot be plotted
    accuracy: str | None = None  # a formula entry's sweep against mpmath, in one line


@dataclass(frozen=True)
class LayerGradient:
    layer: int
    slope: str
    bound: str
    weight_gradient: str
    bias_gradient: str


@dataclass(frozen=True)
class Vanishing:
    layers: int
    bound: str
    product: str
    product_float: float
    first: str
    last: str
    ratio: str
    rows: list[LayerGradient]
    sample_note: bool
    figure: str | None
    formula: str
    first_symbol: str
    last_symbol: str


@dataclass(frozen=True)
class CheckView:
    wrt: str
    symbol: str
    partial: str
    yours: str
    ours: str
    verdict: str
    kind: str
    correct: bool
    note: str
    diagnosis: str
    diagnosis_latex: str
    counterexample: list[ValueRow]


@dataclass(frozen=True)
class LayerBlock:
    """One layer of a stack's matrix-form derivation: its shapes, its steps as display
    rows (math, each with its shape), and what the derivation notes about them (rows of
    the step's left side, math or "" for the layer, and the note, text)."""

    index: int
    kind: str
    in_shape: str
    out_shape: str
    rows: list[Row]
    notes: list[Row]


@dataclass(frozen=True)
class StackView:
    """A network with layer types: its layers and their matrix-form derivation, as
    ``symgrad derive --level layer`` prints it (``command``)."""

    shape: str
    parameters: str  # their count, with thousands separators
    command: str
    blocks: list[LayerBlock]
    output: Row
    output_note: str


@dataclass(frozen=True)
class EpochRow:
    epoch: int
    loss: str
    test_accuracy: str  # a percentage


@dataclass(frozen=True)
class EpochTraining:
    """Minibatch training on the spec's data set, one row per epoch (thinned), and the
    result: the final loss and the train and test accuracy (percentages)."""

    epochs: int
    asked: int | None
    given: bool
    capped: bool
    rate: str
    batch_size: int
    mode: str
    samples: str  # counts, with thousands separators
    test_samples: str
    rows: list[EpochRow]
    final_loss: str
    train_accuracy: str
    test_accuracy: str
    reason: str
    seconds: str
    loss_symbol: str
    figure: str | None


@dataclass(frozen=True)
class FigureData:
    """What a figure shows; :mod:`symgrad.report.figures` draws it."""

    name: str
    kind: str
    caption: str
    data: dict[str, Any]


@dataclass
class Content:
    """Everything a report shows. Text fields hold user text (escaped by the templates);
    fields documented as math hold LaTeX that symgrad generated."""

    title: str
    description: list[str]
    source: str
    version: str
    inputs: int
    layers: list[LayerView]
    loss_title: str
    loss_symbol: str
    reduction: str
    samples: int
    error: str
    cost: str
    parameters: list[str]
    parameter_count: int
    large: bool
    data_source: str
    point: list[ValueRow]
    seeded: bool
    seed: int
    is_chain: bool
    names: dict[str, str]  # math: the names of the roles "pre" (z) and "post" (a, or "")
    forward: list[Row]
    deltas: list[DeltaView]
    gradients: list[GradientView]
    matrix: list[Row]  # math: a large network's layer-level derivation, else empty
    has_point: bool
    loss_value: str | None
    update: Update | None
    training: Training | None
    one_parameter: OneParameter | None
    activations: list[ActivationView]
    vanishing: Vanishing | None
    checks: list[CheckView] | None
    stack: StackView | None = None  # a network with layer types: its matrix derivation
    epochs: EpochTraining | None = None  # training on a named data set, epoch by epoch
    figures: list[FigureData] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)  # sentences: what was left out, and why
