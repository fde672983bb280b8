"""Spec files: TOML in, validated and frozen spec objects out.

A spec describes a network (inputs, layers, loss), the values at which to evaluate
its gradients (parameters and data), and training settings. It is data, never code:
strings in it are only looked up in registries, never evaluated.

Every error is a :class:`~symgrad.errors.SpecError` whose message names the file, the
field and, where it can be found, the line.

>>> spec = parse_spec('''
... [network]
... inputs = 1
... layers = [{ units = 1, activation = "sigmoid" }]
... loss = "half_sse"
... ''', path="inline.toml")
>>> spec.network.layers[0].activation
'sigmoid'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import SpecError, listed
from .files import parse_toml, read_text

__all__ = [
    "LayerSpec",
    "NetworkSpec",
    "DataSpec",
    "TrainingSpec",
    "Spec",
    "FormulaSpec",
    "parse_spec",
    "read_spec",
    "TRAINING_MODES",
    "NAME_ROLES",
    "FIELDS",
    "PenaltySpec",
    "has_layer_types",
    "typed_field",
]

Number = float
Value = float | tuple[float, ...]

TRAINING_MODES = ("batch", "minibatch", "stochastic")
#: Every field of each table the reader checks (``""`` is the top level, ``network.layers``
#: each layer's table), with what it holds: the reader accepts these and no others, and
#: the documentation's spec-format reference is generated from this table.
FIELDS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "": {"title": "the title of reports (default: the file's name)",
         "description": "a paragraph or more that reports print under the title",
         "network": "the network: inputs, layers, loss",
         "parameters": "every weight and bias by name (w1 = 0.15), or none for a seeded "
                       "initialization",
         "data": "inputs and targets by name (x1 = 0.1, T = 0.25), one number each or an "
                 "array of samples; or a named data set (source = \"digits\")",
         "training": "gradient-descent settings",
         "activations": "formula-defined activations, one table each: [activations.NAME]",
         "losses": "formula-defined losses, one table each: [losses.NAME]",
         "exercise": "makes the spec an exercise template: what varies, what is asked "
                     "(read by symgrad exercises and symgrad grade; see symgrad.exercises)"},
    "network": {"inputs": "how many inputs feed the first layer",
                "layers": "an array of layer tables, the input side first",
                "loss": "the loss, by a name or alias from the catalogue",
                "names": "base names that replace the default ones, by role",
                "tie": "NAME = [members]: one new parameter NAME replaces the members",
                "penalty": "a regularization term added to the cost, as a table: "
                           "{ l2 = 1e-3 } or { l1 = 1e-3, biases = true }"},
    "network.penalty": {"l2": "lambda of the L2 penalty (weight decay): adds lambda/2 times "
                              "the sum of the squared weights to the cost, so each weight's "
                              "gradient gains lambda w",
                        "l1": "lambda of the L1 penalty: adds lambda times the sum of |w| to "
                              "the cost, so each weight's gradient gains lambda sign(w), with "
                              "sign(0) = 0",
                        "biases": "whether the biases are penalized too (default false: the "
                                  "weights only)"},
    "network.layers": {"type": "the layer type: \"dense\" (the default) or one from the "
                               "catalogue's layer types (\"batchnorm\", \"dropout\", "
                               "\"log_softmax\", \"softmax\", \"rnn\"); a typed layer's other "
                               "fields are its settings (rate = 0.2), and it is derived and "
                               "trained at the layer level",
                       "units": "how many units the layer has",
                       "activation": "the activation, by a name or alias from the catalogue, "
                                     "or \"none\" for a = z",
                       "bias": "whether the units have a bias (default true)",
                       "shared_bias": "whether the units share one bias, b{layer} (default "
                                      "false)"},
    "activations.NAME": {"formula": "the activation in z, as text (z * tanh(softplus(z)))",
                         "derivative": "optional: its derivative, checked against the "
                                       "derived one",
                         "parameters": "optional: numbers the formula uses by name, with "
                                       "their defaults ({ beta = 1.0 })"},
    "losses.NAME": {"formula": "the loss of one output a and its target T, as text",
                    "reduction": "how samples combine: sum or mean (default sum)",
                    "parameters": "optional: numbers the formula uses by name "
                                  "({ delta = 1.0 })"},
    "network.names": {"input": "the inputs' base name", "target": "the targets' base name",
                      "weight": "the weights' base name", "bias": "the biases' base name",
                      "pre": "the weighted sums' (pre-activations') base name",
                      "post": "the activations' (the units' outputs') base name"},
    "training": {"learning_rate": "the step size, a positive number",
                 "iterations": "how many updates",
                 "epochs": "how many passes over the data (instead of iterations)",
                 "batch_size": "samples per update in minibatch mode",
                 "mode": f"how samples are grouped into updates: {', '.join(TRAINING_MODES)} "
                         "(default batch)",
                 "tolerance": "stop once the gradient's norm is at most this",
                 "seed": "seeds the shuffling and a missing initialization (default 0)"},
})
#: Roles whose base names a spec may override in ``[network.names]``.
NAME_ROLES = tuple(FIELDS["network.names"])
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_TIE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # a parameter's name, as b1 or b1_1


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer: how many units, which activation (or ``"none"``), a bias or not,
    and whether its units share one bias (``shared_bias``); or, when ``type`` is not
    ``"dense"``, a layer type of the catalogue with its ``settings`` (numbers and
    booleans, checked against the layer type by :mod:`symgrad.stack`)."""

    units: int
    activation: str
    bias: bool = True
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    shared_bias: bool = False
    type: str = "dense"
    settings: Mapping[str, float | bool] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PenaltySpec:
    """``[network] penalty``: the kind (``"l2"`` or ``"l1"``, a key of
    :data:`symgrad.catalogue.PENALTIES`), its strength lambda (finite, at least 0) and
    whether the biases are penalized too."""

    kind: str
    strength: float
    biases: bool = False


@dataclass(frozen=True)
class NetworkSpec:
    """Inputs, layers and loss of a network, optional base names for its symbols, and tied
    parameters: ``tie`` maps a new name to the parameters it replaces."""

    inputs: int
    layers: tuple[LayerSpec, ...]
    loss: str
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tie: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    penalty: PenaltySpec | None = None

    def tied_field(self) -> str | None:
        """The field that ties parameters (``network.tie`` or a layer's ``shared_bias``),
        or ``None`` when no parameter is shared."""
        if self.tie:
            return "network.tie"
        shared = [i for i, layer in enumerate(self.layers) if layer.shared_bias]
        return f"network.layers[{shared[0]}].shared_bias" if shared else None


@dataclass(frozen=True)
class DataSpec:
    """Input and target values (one number each, or one per sample), or a named data set."""

    values: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))
    source: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class TrainingSpec:
    """Gradient-descent settings; ``None`` where the spec leaves the choice to the caller."""

    learning_rate: float | None = None
    iterations: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    mode: str = "batch"
    tolerance: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class FormulaSpec:
    """A formula-defined activation or loss as the spec gives it (text, not yet parsed:
    :mod:`symgrad.formulas` makes the catalogue entry)."""

    name: str
    formula: str
    derivative: str | None = None
    parameters: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    reduction: str = "sum"


@dataclass(frozen=True)
class Spec:
    """A whole spec file, validated. ``text`` is kept to point errors at lines."""

    network: NetworkSpec
    parameters: Mapping[str, float]
    data: DataSpec
    training: TrainingSpec
    title: str = ""
    description: str = ""
    path: str = "<spec>"
    activations: Mapping[str, FormulaSpec] = field(default_factory=lambda: MappingProxyType({}))
    losses: Mapping[str, FormulaSpec] = field(default_factory=lambda: MappingProxyType({}))
    text: str = field(default="", repr=False, compare=False)

    def error(self, field_name: str, message: str, *, value: object = None) -> SpecError:
        """A :class:`SpecError` for ``field_name`` of this spec, with its line if found."""
        return SpecError(message, path=self.path, field=field_name,
                         line=_line_of(self.text, field_name, value))


def _line_of(text: str, field_name: str, value: object = None) -> int | None:
    """Best-effort line number of ``field_name`` (dotted path) in the TOML text."""
    if not text:
        return None
    parts = [re.sub(r"\[\d+\]$", "", p) for p in field_name.split(".")]
    key = parts[-1]
    lines = text.splitlines()
    start = 0
    for i, line in enumerate(lines):  # jump to the innermost table header that exists
        header = line.strip()
        for depth in range(len(parts) - 1, 0, -1):
            if header == "[" + ".".join(parts[:depth]) + "]":
                start = i
                break
    key_re = re.compile(rf"(^|[{{,\s]){re.escape(key)}\s*=")
    candidates = [i for i in range(start, len(lines)) if key_re.search(lines[i])]
    indices = [int(m) for m in re.findall(r"\[(\d+)\]", field_name)]
    if indices and len(candidates) > indices[-1]:  # the n-th entry of an inline array
        candidates = candidates[indices[-1]:]
    if value is not None:
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        with_value = [i for i in candidates if shown in lines[i]]
        candidates = with_value or candidates
    if candidates:
        return candidates[0] + 1
    header_re = re.compile(rf"^\s*\[{re.escape('.'.join(parts))}\]")
    for i, line in enumerate(lines):
        if header_re.match(line):
            return i + 1
    return None


class _Reader:
    """Reads typed fields from the parsed TOML, raising SpecErrors that name them."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, field_name: str, message: str, value: object = None) -> SpecError:
        return SpecError(message, path=self.path, field=field_name,
                         line=_line_of(self.text, field_name, value))

    def table(self, data: Mapping[str, Any], key: str, where: str,
              required: bool = False) -> Mapping[str, Any]:
        name = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise SpecError(f"missing table [{name}]", path=self.path)
            return {}
        value = data[key]
        if not isinstance(value, dict):
            raise self.fail(name, f"expected a table, got {_type_name(value)}")
        return value

    def only(self, data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.fail(name, f"unknown field; expected one of: {listed(allowed)}")

    def integer(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = False,
                minimum: int = 1) -> int | None:
        name = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise SpecError(f"missing field '{name}'", path=self.path,
                                line=_line_of(self.text, where) if where else None)
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"expected an integer, got {_type_name(value)} {_shown(value)}", value)
        if value < minimum:
            raise self.fail(name, f"must be at least {minimum}, got {value}", value)
        return value

    def number(self, data: Mapping[str, Any], key: str, where: str, *,
               positive: bool = False) -> float | None:
        name = f"{where}.{key}" if where else key
        if key not in data:
            return None
        value = _finite(data[key], lambda msg: self.fail(name, msg, data[key]))
        if positive and value <= 0:
            raise self.fail(name, f"must be positive, got {value}", data[key])
        return value

    def string(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = False,
               default: str = "") -> str:
        name = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise SpecError(f"missing field '{name}'", path=self.path,
                                line=_line_of(self.text, where) if where else None)
            return default
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(name, f"expected a string, got {_type_name(value)} {_shown(value)}", value)
        return value


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _shown(value: object, most: int = 40) -> str:
    """``repr(value)`` cut to ``most`` characters: a message names a wrong value without
    echoing a whole nested array.

    >>> _shown([[[1.0] * 100]])
    '[[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1. ... (504 characters)'
    """
    text = repr(value)
    return text if len(text) <= most else f"{text[:most]} ... ({len(text):,} characters)"


def _finite(value: object, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"expected a number, got {_type_name(value)} {_shown(value)}")
    if not math.isfinite(value):
        raise fail(f"expected a finite number, got {value}")
    return float(value)


_LAYER_KEYS = tuple(FIELDS["network.layers"])


def _typed_layer(reader: _Reader, raw: Mapping[str, Any], kind: str, where: str) -> LayerSpec:
    """``{ type = "dropout", rate = 0.2 }``: the type and its settings, numbers or booleans
    (which names a type takes is the catalogue's to say)."""
    settings: dict[str, float | bool] = {}
    for key, value in raw.items():
        if key != "type":
            settings[key] = value if isinstance(value, (bool, int)) else _finite(
                value, lambda msg: reader.fail(f"{where}.{key}", msg, value))
    return LayerSpec(0, "none", False, type=kind, settings=MappingProxyType(settings))


def _layer(reader: _Reader, raw: object, where: str) -> LayerSpec:
    if not isinstance(raw, dict):
        raise reader.fail(where, f"expected a table such as {{ units = 1, activation = "
                                 f"\"sigmoid\" }}, got {_type_name(raw)}")
    kind = reader.string(raw, "type", where, default="dense")
    if kind != "dense":
        return _typed_layer(reader, raw, kind, where)
    raw = {k: v for k, v in raw.items() if k != "type"}
    units = reader.integer(raw, "units", where, required=True)
    activation = reader.string(raw, "activation", where, required=True)
    bias, shared = raw.get("bias", True), raw.get("shared_bias", False)
    for key, flag in (("bias", bias), ("shared_bias", shared)):
        if not isinstance(flag, bool):
            raise reader.fail(f"{where}.{key}", f"expected true or false, got {_shown(flag)}", flag)
    if shared and not bias:
        raise reader.fail(f"{where}.shared_bias", "a layer without a bias has none to share")
    params = {key: reader.number(raw, key, where) for key in raw if key not in _LAYER_KEYS}
    return LayerSpec(int(units or 1), activation, bias, MappingProxyType(
        {k: v for k, v in params.items() if v is not None}), shared)


def _tie(reader: _Reader, raw: Mapping[str, Any]) -> Mapping[str, tuple[str, ...]]:
    """``tie = { b1 = ["b1_1", "b1_2"] }``: names, each of two or more distinct members, no
    member in two ties. Whether the members exist is the network's to say."""
    table = reader.table(raw, "tie", "network")
    ties: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name, members in table.items():
        where = f"network.tie.{name}"
        if not _TIE_NAME.match(name):
            raise reader.fail(where, f"'{name}' is not a name of letters, digits and "
                                     "underscores starting with a letter")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise reader.fail(where, "expected an array of parameter names, such as "
                                     '["b1_1", "b1_2"]')
        if len(set(members)) < 2:
            raise reader.fail(where, "a tie needs at least two different parameters")
        for member in members:
            if member in owner:
                raise reader.fail(where, f"'{member}' is tied twice: in "
                                         f"network.tie.{owner[member]} and here", member)
            if members.count(member) > 1:
                raise reader.fail(where, f"'{member}' is listed twice", member)
            owner[member] = name
        ties[name] = tuple(members)
    return MappingProxyType(ties)


_PENALTY_KINDS = tuple(k for k in FIELDS["network.penalty"] if k != "biases")


def _penalty(reader: _Reader, raw: Mapping[str, Any]) -> PenaltySpec | None:
    """``penalty = { l2 = 1e-3 }``: one kind with a finite lambda >= 0, and ``biases``."""
    where = "network.penalty"
    if "penalty" not in raw:
        return None
    table = reader.table(raw, "penalty", "network")
    reader.only(table, tuple(FIELDS[where]), where)
    kinds = [k for k in table if k in _PENALTY_KINDS]
    if len(kinds) != 1:
        raise reader.fail(where, f"give one penalty kind, one of: {listed(_PENALTY_KINDS)} "
                                 f"(got {listed(kinds) or 'none'})")
    strength = reader.number(table, kinds[0], where)
    if strength is None or strength < 0:
        raise reader.fail(f"{where}.{kinds[0]}", f"must be at least 0, got {strength}",
                          table[kinds[0]])
    biases = table.get("biases", False)
    if not isinstance(biases, bool):
        raise reader.fail(f"{where}.biases", f"expected true or false, got {_shown(biases)}",
                          biases)
    return PenaltySpec(kinds[0], strength, biases)


def _network(reader: _Reader, raw: Mapping[str, Any]) -> NetworkSpec:
    reader.only(raw, tuple(FIELDS["network"]), "network")
    inputs = reader.integer(raw, "inputs", "network", required=True)
    layers_raw = raw.get("layers")
    if layers_raw is None:
        raise SpecError("missing field 'network.layers'", path=reader.path,
                        line=_line_of(reader.text, "network"))
    if not isinstance(layers_raw, list) or not layers_raw:
        raise reader.fail("network.layers", "expected a non-empty array of layer tables")
    layers = tuple(_layer(reader, layer, f"network.layers[{i}]")
                   for i, layer in enumerate(layers_raw))
    loss = reader.string(raw, "loss", "network", required=True)
    names_raw = reader.table(raw, "names", "network")
    reader.only(names_raw, NAME_ROLES, "network.names")
    names = {}
    for role in names_raw:
        base = reader.string(names_raw, role, "network.names")
        if not _IDENT.match(base):
            raise reader.fail(f"network.names.{role}",
                              f"'{base}' is not a name of letters and digits starting with a "
                              "letter", base)
        names[role] = base
    return NetworkSpec(int(inputs or 1), layers, loss, MappingProxyType(names),
                       _tie(reader, raw), _penalty(reader, raw))


def _data(reader: _Reader, raw: Mapping[str, Any]) -> DataSpec:
    values: dict[str, Value] = {}
    source: str | None = None
    options: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    if "source" in raw:
        source = reader.string(raw, "source", "data")
        options = {k: v for k, v in raw.items() if k != "source"}
        return DataSpec(MappingProxyType({}), source, MappingProxyType(options))
    for key, value in raw.items():
        name = f"data.{key}"
        if isinstance(value, list):
            if not value:
                raise reader.fail(name, "expected at least one value, got an empty array")
            values[key] = tuple(_finite(v, lambda msg: reader.fail(name, msg, v)) for v in value)
            lengths[key] = len(value)
        else:
            values[key] = _finite(value, lambda msg: reader.fail(name, msg, value))
    if len(set(lengths.values())) > 1:
        shown = listed(f"{k} has {n}" for k, n in lengths.items())
        first = next(iter(lengths))
        raise reader.fail(f"data.{first}", f"arrays differ in length ({shown})")
    return DataSpec(MappingProxyType(values), None, MappingProxyType(options))


def _training(reader: _Reader, raw: Mapping[str, Any]) -> TrainingSpec:
    where = "training"
    reader.only(raw, tuple(FIELDS[where]), where)
    mode = reader.string(raw, "mode", where, default="batch")
    if mode not in TRAINING_MODES:
        raise reader.fail("training.mode", f"unknown mode '{mode}'; known: "
                                           f"{', '.join(TRAINING_MODES)}", mode)
    seed = reader.integer(raw, "seed", where, minimum=0)
    return TrainingSpec(
        learning_rate=reader.number(raw, "learning_rate", where, positive=True),
        iterations=reader.integer(raw, "iterations", where),
        epochs=reader.integer(raw, "epochs", where),
        batch_size=reader.integer(raw, "batch_size", where),
        mode=mode,
        tolerance=reader.number(raw, "tolerance", where, positive=True),
        seed=seed if seed is not None else 0,
    )


def _formulas(reader: _Reader, raw: Mapping[str, Any], kind: str) -> Mapping[str, FormulaSpec]:
    """``[activations.NAME]`` or ``[losses.NAME]`` tables: the text and the parameters."""
    out = {}
    for name in reader.table(raw, kind, ""):
        where = f"{kind}.{name}"
        table = reader.table(raw[kind], name, kind)
        reader.only(table, tuple(FIELDS[f"{kind}.NAME"]), where)
        params_raw = reader.table(table, "parameters", where)
        params = {k: _finite(v, lambda msg: reader.fail(f"{where}.parameters.{k}", msg, v))
                  for k, v in params_raw.items()}
        derivative = reader.string(table, "derivative", where) or None
        out[name] = FormulaSpec(name, reader.string(table, "formula", where, required=True),
                                derivative, MappingProxyType(params),
                                reader.string(table, "reduction", where, default="sum"))
    return MappingProxyType(out)


def parse_spec(text: str, path: str = "<spec>") -> Spec:
    """Parse and validate the TOML text of a spec; ``path`` is used in error messages."""
    raw = parse_toml(text, path, error=SpecError)
    reader = _Reader(path, text)
    if "gradient" in raw and "network" not in raw:  # the same words from every command
        raise reader.fail("gradient", "this is a hand-derivation file ([[gradient]] tables), "
                          "not a spec: give it to 'symgrad check SPEC --file FILE' or "
                          "'symgrad report SPEC --check FILE'")
    reader.only(raw, tuple(FIELDS[""]), "")
    network = _network(reader, reader.table(raw, "network", "", required=True))
    params_raw = reader.table(raw, "parameters", "")
    parameters = {}
    for key, value in params_raw.items():
        parameters[key] = _finite(value, lambda msg: reader.fail(f"parameters.{key}", msg, value))
    return Spec(
        network=network,
        parameters=MappingProxyType(parameters),
        data=_data(reader, reader.table(raw, "data", "")),
        training=_training(reader, reader.table(raw, "training", "")),
        title=reader.string(raw, "title", "", default=Path(path).stem),
        description=reader.string(raw, "description", ""),
        path=path,
        text=text,
        activations=_formulas(reader, raw, "activations"),
        losses=_formulas(reader, raw, "losses"),
    )


def read_spec(path: str | Path) -> Spec:
    """Read and validate a spec file.

    A file that cannot be read or decoded is a :class:`SpecError` naming it.
    """
    name = str(path)
    return parse_spec(read_text(name, what="a spec file", error=SpecError), name)


def typed_field(spec: Spec) -> str | None:
    """``network.layers[i].type`` of the first layer that is not dense, or ``None``."""
    found = [i for i, layer in enumerate(spec.network.layers) if layer.type != "dense"]
    return f"network.layers[{found[0]}].type" if found else None


def has_layer_types(spec: Spec | None) -> bool:
    """Whether ``spec`` has a layer type besides dense layers (a stack)."""
    return spec is not None and typed_field(spec) is not None
