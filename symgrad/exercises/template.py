"""Exercise templates: a spec with an ``[exercise]`` table, read into a :class:`Template`.

The spec part is read by :func:`symgrad.spec.parse_spec` (which leaves ``[exercise]`` to
this module); the ``[exercise]`` table says which numbers vary and how, what is asked,
with which tolerance and for how many points, and the partial credit of each usual
mistake. It is data: names are looked up in the network and in the tables of question
kinds (:data:`~symgrad.exercises.questions.KINDS`) and mistakes, never evaluated. Every
error is a :class:`~symgrad.errors.SpecError` naming the file, the line and the field.

.. code-block:: toml

    [exercise]
    title = "Backpropagation by hand"  # default: the spec's title
    instructions = "..."                # printed on each sheet
    digits = 4                          # decimals of the intermediates on the sheet
    points = 1                          # default points of a question
    tolerance = "1%"                    # default: a number (absolute) or "N%" (relative)

    [exercise.vary]                     # parameters, single inputs or targets, learning_rate
    x1 = { from = 0.1, to = 0.9, step = 0.1 }   # at most two decimals: nice numbers
    b1 = [0.1, 0.25, 0.4]                       # or a list of choices

    [exercise.credit]                   # fraction of the points for a usual mistake
    sign = 0.5

    [[exercise.question]]
    ask = "gradient"                    # forward, loss, gradient, symbolic, update, iterations
    of = "w2"
    points = 2
    tolerance = 0.0005

>>> t = load_template("derivations/two_neuron_exercise.toml")
>>> [q.label for q in t.questions][:3], t.vary[0].name, t.vary[0].choices[:3]
(['a1', 'a2', 'E'], 'x1', (0.75, 1.25, 1.5))
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..derive import Derivation, derive
from ..errors import SpecError, SymgradError, listed
from ..files import parse_toml, read_text
from ..network import Network
from ..spec import Spec, parse_spec
from .mistakes import CREDIT_NAMES, DEFAULT_CREDIT
from .questions import KINDS, Kind

if TYPE_CHECKING:
    from ..compile import CompiledNetwork
    from .variants import Variant

__all__ = ["Tolerance", "Question", "Vary", "Template", "parse_template", "load_template",
           "LEARNING_RATE", "MAX_CHOICES"]

#: The name under which ``[exercise.vary]`` varies the spec's learning rate.
LEARNING_RATE = "learning_rate"
#: Most values one range may have (a range is expanded into its choices).
MAX_CHOICES = 100_000
#: Largest template read, in bytes.
MAX_BYTES = 1_000_000
_KEYS = ("title", "instructions", "digits", "points", "tolerance", "vary", "credit",
         "question")
_QUESTION_KEYS = ("ask", "of", "points", "tolerance")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Tolerance:
    """How far an answer may be from the right one: ``value`` itself, or ``value`` times
    the size of the right answer when ``relative``.

    >>> Tolerance(0.01, relative=True).around(-0.5), str(Tolerance(0.01, True))
    (0.005, '±1%')
    """

    value: float
    relative: bool = False

    def around(self, answer: float) -> float:
        """The absolute tolerance around ``answer``."""
        return self.value * abs(answer) if self.relative else self.value

    def __str__(self) -> str:
        return f"±{self.value * 100:g}%" if self.relative else f"±{self.value:g}"


@dataclass(frozen=True)
class Question:
    """One asked quantity: ``number`` (1, 2, ...; its id is ``q1``...), the ``kind`` (a key of
    :data:`~symgrad.exercises.questions.KINDS`), ``of`` (the symbol or parameter asked
    about, or ``""``), ``points``, ``tolerance`` and a short ``label``."""

    number: int
    kind: str
    of: str
    points: float
    tolerance: Tolerance
    #: what is asked, briefly: ``a2``, ``E``, ``dE/dw2``, ``w2 after one update``
    label: str

    @property
    def id(self) -> str:
        return f"q{self.number}"

    @property
    def numeric(self) -> bool:
        return KINDS[self.kind].numeric


@dataclass(frozen=True)
class Vary:
    """One varied number and the values it takes (a range expanded, or the choices)."""

    name: str
    choices: tuple[float, ...]


@dataclass(frozen=True)
class Template:
    """An exercise template: the spec, what varies, what is asked, the partial credits.

    ``network`` and ``derivation`` are built once from the spec: the derivation is
    symbolic, so every variant shares it and differs only in its numbers.
    """

    spec: Spec
    title: str
    instructions: str
    digits: int
    vary: tuple[Vary, ...]
    questions: tuple[Question, ...]
    credit: Mapping[str, float]
    fingerprint: str
    network: Network = field(repr=False, compare=False)
    derivation: Derivation = field(repr=False, compare=False)
    #: results computed once per template (the checks of symbolic answers, by text)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def learning_rate(self) -> float | None:
        """The spec's learning rate (a variant may vary it)."""
        return self.spec.training.learning_rate

    def question(self, key: str | int) -> Question:
        """The question ``q3`` (or number 3); an unknown one is a :class:`KeyError`."""
        number = key if isinstance(key, int) else (
            int(key[1:]) if re.fullmatch(r"q[1-9]\d*", str(key)) else 0)
        if not 1 <= number <= len(self.questions):
            raise KeyError(f"no question {key!r}; the questions are q1 to "
                           f"q{len(self.questions)}")
        return self.questions[number - 1]

    @cached_property
    def compiled(self) -> CompiledNetwork:
        """The derivation compiled once, for the variants' training runs."""
        from ..compile import compile as compile_derivation

        return compile_derivation(self.derivation)

    def variant(self, code: str) -> "Variant":
        """The variant with this code: its numbers, answers and sheet (see
        :func:`symgrad.exercises.variants.make_variant`)."""
        from .variants import make_variant

        return make_variant(self, code)


def load_template(path: str | os.PathLike[str]) -> Template:
    """Read the exercise template at ``path`` (errors: :class:`SpecError`)."""
    name = os.fspath(path)
    return parse_template(read_text(name, what="an exercise template", limit=MAX_BYTES,
                                    error=SpecError), name)


def parse_template(text: str, path: str = "<template>") -> Template:
    """The template in ``text``, a spec with an ``[exercise]`` table (``path`` names it in
    error messages)."""
    spec = parse_spec(text, path)
    raw = parse_toml(text, path, error=SpecError)
    table = raw.get("exercise")
    if not isinstance(table, dict):
        raise SpecError("missing table [exercise]: this spec is not an exercise template"
                        if table is None else "expected a table", path=path,
                        field=None if table is None else "exercise")
    reader = _Reader(spec)
    reader.only(table, _KEYS, "exercise")
    try:
        network = Network.from_spec(spec)
    except SpecError:
        raise
    except SymgradError as exc:  # as symgrad.network.load says it: the spec's network
        raise SpecError(str(exc), path=path, field="network") from None
    digits = reader.integer(table, "digits", 4, 1, 8)
    default_points = reader.positive(table, "points", "exercise", 1.0)
    default_tol = reader.tolerance(table, "exercise", Tolerance(0.01, relative=True))
    vary = _vary(reader, table.get("vary"), network)
    questions = tuple(_question(reader, raw_q, n, network, default_points, default_tol,
                                any(v.name == LEARNING_RATE for v in vary))
                      for n, raw_q in enumerate(_question_tables(reader, table), start=1))
    fingerprint = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str)
                                 .encode("utf-8")).hexdigest()
    return Template(spec, reader.string(table, "title", spec.title),
                    reader.string(table, "instructions", ""), digits, vary, questions,
                    _credit(reader, table.get("credit")), fingerprint, network,
                    derive(network))


class _Reader:
    """Typed fields of the ``[exercise]`` table; errors name the field and its line."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def fail(self, field_name: str, message: str, value: object = None,
             line: int | None = None) -> SpecError:
        """An error at ``line``, or at the line the spec finds for the field."""
        if line is None:
            return self.spec.error(field_name, message, value=value)
        return SpecError(message, path=self.spec.path, line=line, field=field_name)

    def only(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str,
             locate: Callable[[str], int | None] | None = None) -> None:
        """Refuse keys not ``allowed``; ``locate`` finds a key's line where the spec's
        own search would not (in an array of tables)."""
        for key in table:
            if key not in allowed:
                raise self.fail(f"{where}.{key}", "unknown field; expected one of: "
                                f"{', '.join(allowed)}", line=locate(key) if locate else None)

    def string(self, table: Mapping[str, Any], key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"exercise.{key}", f"expected a string, got {value!r}")
        return value

    def integer(self, table: Mapping[str, Any], key: str, default: int, low: int,
                high: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"exercise.{key}", f"expected a whole number from {low} to "
                            f"{high}, got {value!r}", value)
        return value

    def positive(self, table: Mapping[str, Any], key: str, where: str, default: float,
                 line: int | None = None) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise self.fail(f"{where}.{key}", f"expected a positive number, got {value!r}",
                            value, line)
        return float(value)

    def tolerance(self, table: Mapping[str, Any], where: str, default: Tolerance,
                  line: int | None = None) -> Tolerance:
        if "tolerance" not in table:
            return default
        value = table["tolerance"]
        if isinstance(value, str) and _PERCENT.match(value):
            return Tolerance(float(_PERCENT.match(value).group(1)) / 100, relative=True)
        if not isinstance(value, bool) and isinstance(value, (int, float)) \
                and math.isfinite(value) and value >= 0:
            return Tolerance(float(value))
        raise self.fail(f"{where}.tolerance", "expected a number (absolute) or a percentage "
                        f"such as \"1%\" (relative), got {value!r}", value, line)


def _hundredths(reader: _Reader, where: str, value: object) -> int:
    """``value`` in hundredths: a number of at most two decimals, or an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise reader.fail(where, f"expected a number, got {value!r}", value)
    scaled = round(value * 100)
    if abs(scaled - value * 100) > 1e-6:
        raise reader.fail(where, f"{value} has more than two decimals; a range gives nice "
                                 "numbers (list the values as choices for others)", value)
    return scaled


def _choices(reader: _Reader, where: str, raw: object) -> tuple[float, ...]:
    """A range ``{ from, to, step }`` expanded, or a list of choices, checked."""
    if isinstance(raw, list):
        if not raw:
            raise reader.fail(where, "expected at least one choice, got an empty array")
        for value in raw:
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise reader.fail(where, f"expected numbers, got {value!r}", value)
        return tuple(dict.fromkeys(float(v) for v in raw))
    if not isinstance(raw, dict):
        raise reader.fail(where, "expected a range { from = 0.1, to = 0.9, step = 0.1 } or "
                                 "a list of choices")
    reader.only(raw, ("from", "to", "step"), where)
    missing = [key for key in ("from", "to", "step") if key not in raw]
    if missing:
        raise reader.fail(where, f"a range needs from, to and step; '{missing[0]}' is missing")
    low, high, step = (_hundredths(reader, f"{where}.{key}", raw[key])
                       for key in ("from", "to", "step"))
    if step <= 0 or high < low:
        raise reader.fail(where, "a range goes from 'from' up to 'to' (at least 'from') in "
                                 "positive steps")
    if (high - low) % step:
        raise reader.fail(f"{where}.step", f"the step {raw['step']} does not divide "
                          f"{raw['to']} - {raw['from']}", raw["step"])
    if (high - low) // step + 1 > MAX_CHOICES:
        raise reader.fail(where, f"the range has more than {MAX_CHOICES} values")
    return tuple((low + k * step) / 100 for k in range((high - low) // step + 1))


def _vary(reader: _Reader, raw: object, network: Network) -> tuple[Vary, ...]:
    if not isinstance(raw, dict) or not raw:
        raise reader.fail("exercise.vary", "expected a table naming at least one number to "
                          "vary, such as x1 = { from = 0.1, to = 0.9, step = 0.1 }")
    data = reader.spec.data.values
    names = [str(s) for s in network.parameters + network.inputs + network.targets]
    out = []
    for name, spec_raw in raw.items():
        where = f"exercise.vary.{name}"
        if name != LEARNING_RATE and name not in names:
            raise reader.fail(where, f"'{name}' is not a parameter, input or target of the "
                              f"network, nor {LEARNING_RATE}; they are: {listed(names)}")
        if isinstance(data.get(name), tuple):
            raise reader.fail(where, f"'{name}' has {len(data[name])} samples in [data]; "
                                     "only single numbers vary")
        choices = _choices(reader, where, spec_raw)
        if name == LEARNING_RATE and min(choices) <= 0:
            raise reader.fail(where, "a learning rate must be positive")
        out.append(Vary(name, choices))
    return tuple(out)


def _question_tables(reader: _Reader, table: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = table.get("question")
    if not isinstance(raw, list) or not raw or not all(isinstance(q, dict) for q in raw):
        raise reader.fail("exercise.question", "expected one or more [[exercise.question]] "
                          "tables, each with ask = \"...\" (and of = \"...\")")
    return raw


def _question_line(text: str, index: int, key: str) -> int | None:
    """The line of ``key`` in the ``index``-th ``[[exercise.question]]`` table (or of its
    header)."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines)
               if re.match(r"^\s*\[\[\s*exercise\.question\s*\]\]", line)]
    if index >= len(headers):
        return None
    start = headers[index]
    for i in range(start + 1, len(lines)):
        if re.match(r"^\s*\[", lines[i]):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1


def _question(reader: _Reader, raw: dict[str, Any], number: int, network: Network,
              points: float, tolerance: Tolerance, varied_rate: bool) -> Question:
    where = f"exercise.question[{number - 1}]"

    def line(key: str) -> int | None:
        return _question_line(reader.spec.text, number - 1, key)

    reader.only(raw, _QUESTION_KEYS, where, line)
    ask = raw.get("ask")
    if ask not in KINDS:
        raise reader.fail(f"{where}.ask", f"expected one of: {', '.join(KINDS)}; got "
                          f"{ask!r}", line=line("ask"))
    kind: Kind = KINDS[ask]
    of = raw.get("of", "")
    problem = kind.check_of(of, network, reader.spec)
    if problem is None and kind.needs_rate and reader.spec.training.learning_rate is None \
            and not varied_rate:
        problem = (f"'{ask}' needs a learning rate: set training.learning_rate or vary "
                   f"{LEARNING_RATE}")
    if problem is not None:
        raise reader.fail(f"{where}.{'of' if 'of' in raw else 'ask'}", problem,
                          line=line("of" if "of" in raw else "ask"))
    default = tolerance if kind.tolerance is None else Tolerance(kind.tolerance)
    return Question(number, ask, of, reader.positive(raw, "points", where, points,
                                                     line("points")),
                    reader.tolerance(raw, where, default, line("tolerance")),
                    kind.label(network, of))


def _credit(reader: _Reader, raw: object) -> Mapping[str, float]:
    credit = dict(DEFAULT_CREDIT)
    if raw is None:
        return MappingProxyType(credit)
    if not isinstance(raw, dict):
        raise reader.fail("exercise.credit", "expected a table such as { sign = 0.5 }")
    for name, value in raw.items():
        where = f"exercise.credit.{name}"
        if name not in CREDIT_NAMES:
            raise reader.fail(where, f"unknown mistake '{name}'; known: "
                                     f"{', '.join(CREDIT_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value <= 1:
            raise reader.fail(where, f"expected a fraction of the points from 0 to 1, got "
                                     f"{value!r}", value)
        credit[name] = float(value)
    return MappingProxyType(credit)
