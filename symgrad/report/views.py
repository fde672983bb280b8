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
    range: str
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
    forward: list[Row]
    deltas: list[DeltaView]
    gradients: list[GradientView]
    has_point: bool
    loss_value: str | None
    update: Update | None
    training: Training | None
    one_parameter: OneParameter | None
    activations: list[ActivationView]
    vanishing: Vanishing | None
    checks: list[CheckView] | None
    figures: list[FigureData] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)  # sentences: what was left out, and why
