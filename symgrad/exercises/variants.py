"""Variants of an exercise: codes, the numbers a code stands for, the answers, the checks
that skip degenerate numbers, and the generation of a class's set from a seed.

A code is five letters and a check letter from an alphabet without look-alikes
(no 0/O, 1/I/L). Everything follows from the code and the template: the numbers are drawn
from SHA-256 of the template's fingerprint and the code, so ``Template.variant(code)``
rebuilds a sheet from the code printed on it, and the check letter (which depends on the
template too) turns most typos and codes of another template into an error. The codes
of a class are drawn from the seed the same way; a variant whose numbers are degenerate
(:data:`REASONS`) is skipped and counted.

>>> from symgrad.exercises import load_template
>>> t = load_template("derivations/two_neuron_exercise.toml")
>>> g = generate(t, 3, seed=7)
>>> [v.code for v in g.variants] == [v.code for v in generate(t, 3, seed=7).variants]
True
>>> v = t.variant(g.variants[0].code)
>>> v.numbers == g.variants[0].numbers, len(v.answers) == len(t.questions)
(True, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sympy import Symbol

from ..errors import ExerciseError, SpecError
from ..numbers import evaluate
from ..printing import latex, text
from ..spec import Spec
from .mistakes import Wrong, wrong_answers
from .questions import KINDS, MAX_ITERATIONS, Degenerate, Work
from .template import LEARNING_RATE, Question, Template

__all__ = ["ALPHABET", "REASONS", "Answer", "Sheet", "SheetQuestion", "Variant", "Generation",
           "make_variant", "generate", "from_codes", "code_at", "normal_code", "SATURATED",
           "SMALL_GRADIENT"]

#: The letters of a code: no 0/O and no 1/I/L, which are read one for the other.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_BODY = 5  # letters before the check letter: 31**5 = 28.6 million codes per template
#: A unit with |da/dz| below this is saturated.
SATURATED = 1e-4
#: A gradient smaller than this in size is too small to ask about.
SMALL_GRADIENT = 1e-3

#: Why a variant is skipped, by the key generation counts it under.
REASONS: Mapping[str, str] = {
    "saturated": f"a saturated unit (|da/dz| < {SATURATED:g})",
    "small_gradient": f"a gradient below {SMALL_GRADIENT:g} in size",
    "same_answer": "two questions with the same answer",
    "invisible_mistake": "a usual mistake that gives the right answer",
    "ambiguous": "two usual mistakes that give the same answer",
    "duplicate": "the numbers of an earlier variant",
    "diverges": "gradient descent diverges",
    "slow": f"no convergence within {MAX_ITERATIONS} updates",
    "borderline": "a count of iterations that rounding decides",
}


# -- codes -------------------------------------------------------------------------------


def _number(*parts: str) -> int:
    """A 64-bit number drawn from ``parts`` (SHA-256: the same on every machine)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _check_letter(template: Template, body: str) -> str:
    return ALPHABET[_number(template.fingerprint, "check", body) % len(ALPHABET)]


def code_at(template: Template, seed: int, k: int) -> str:
    """The ``k``-th candidate code of the class drawn with ``seed``."""
    n = _number(template.fingerprint, "code", str(seed), str(k))
    body = ""
    for _ in range(_BODY):
        n, digit = divmod(n, len(ALPHABET))
        body += ALPHABET[digit]
    return body + _check_letter(template, body)


def normal_code(template: Template, code: str) -> str:
    """``code`` in capitals without spaces or dashes, if it is one of ``template``'s;
    otherwise an :class:`ExerciseError` saying why not."""
    shown = str(code).strip()
    clean = shown.upper().replace("-", "").replace(" ", "")
    if len(clean) != _BODY + 1 or any(c not in ALPHABET for c in clean):
        raise ExerciseError(f"unknown variant code '{shown}': a code is {_BODY + 1} letters "
                            f"and digits from {ALPHABET}")
    if _check_letter(template, clean[:-1]) != clean[-1]:
        raise ExerciseError(f"unknown variant code '{shown}': it is not a code of "
                            f"'{template.title}' (mistyped?)")
    return clean


def _numbers(template: Template, code: str) -> dict[str, float]:
    return {v.name: v.choices[_number(template.fingerprint, "value", code[:-1], v.name)
                              % len(v.choices)] for v in template.vary}


# -- a variant ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The answer to one question of a variant: ``value`` (a number, or an expression as
    text), ``by_hand`` (the number computed from intermediates rounded to the sheet's
    digits, also accepted), the absolute ``tolerance``, and the ``wrong`` values the usual
    mistakes give."""

    question: Question
    value: float | str
    by_hand: float | None
    tolerance: float
    wrong: tuple[Wrong, ...] = ()

    def accepts(self, number: float) -> bool:
        """Whether ``number`` is right: within the tolerance of the value or of the
        value computed from rounded intermediates."""
        return any(abs(number - v) <= self.tolerance * (1 + 1e-9) + 1e-12
                   for v in (self.value, self.by_hand) if isinstance(v, float))


@dataclass(frozen=True)
class SheetQuestion:
    number: int
    prompt: str  # text with $...$ math
    points: float
    tolerance: str


@dataclass(frozen=True)
class Sheet:
    """What a question sheet says; math fields hold LaTeX that symgrad generated, the
    title and instructions are user text."""

    title: str
    code: str
    instructions: str
    equations: tuple[tuple[str, str], ...]
    givens: tuple[tuple[str, str], ...]
    digits: int
    questions: tuple[SheetQuestion, ...]


@dataclass(frozen=True)
class Variant:
    """One variant: its ``code``, the varied ``numbers`` by name, its ``spec`` (the
    template's spec with these numbers), ``answers`` (one per question) and ``sheet``."""

    code: str
    numbers: Mapping[str, float]
    learning_rate: float | None
    spec: Spec = field(repr=False)
    answers: tuple[Answer, ...] = field(repr=False)
    sheet: Sheet = field(repr=False)
    template: Template = field(repr=False, compare=False)

    def answer(self, question: str | int | Question) -> Answer:
        """The answer to ``q3`` (or number 3, or the question itself)."""
        number = question.number if isinstance(question, Question) else \
            self.template.question(question).number
        return self.answers[number - 1]


def _variant_spec(template: Template, numbers: Mapping[str, float], code: str) -> Spec:
    spec = template.spec
    net = template.network
    params = {str(p): float(net.values[str(p)]) for p in net.parameters}  # seeded ones too
    params.update({k: v for k, v in numbers.items() if k in params})
    data = {**spec.data.values, **{k: v for k, v in numbers.items()
                                   if k not in params and k != LEARNING_RATE}}
    training = spec.training
    if LEARNING_RATE in numbers:
        training = dataclasses.replace(training, learning_rate=numbers[LEARNING_RATE])
    return dataclasses.replace(
        spec, parameters=params, data=dataclasses.replace(spec.data, values=data),
        training=training, title=f"{template.title} (variant {code})")


def _saturation(work: Work) -> None:
    hand = work.hand()
    for step in work.derivation.deltas.values():
        if step.local is None or step.local.is_number:
            continue
        slope = evaluate(step.local, hand.env)
        if abs(slope).min() < SATURATED:
            raise Degenerate("saturated", f"{text(step.local)} = {abs(slope).min():.2g} "
                                          f"< {SATURATED:g}")


def _answer(work: Work, q: Question, digits: int) -> Answer:
    kind = KINDS[q.kind]
    value = kind.exact(work, q)
    if isinstance(value, str):
        return Answer(q, value, None, 0.0)
    by_hand = None if kind.by_hand is None else kind.by_hand(work.hand(digits=digits), work, q)
    tolerance = q.tolerance.around(value)
    if q.kind in ("gradient", "update") and abs(work.gradients[q.of]) < SMALL_GRADIENT:
        raise Degenerate("small_gradient", f"{q.label} = {work.gradients[q.of]:.2g}")
    answer = Answer(q, float(value), by_hand, tolerance, tuple(wrong_answers(work, q)))
    for i, wrong in enumerate(answer.wrong):
        if answer.accepts(wrong.value):
            raise Degenerate("invisible_mistake", f"{wrong.mistake} gives the right answer "
                                                  f"to question {q.number}")
        for other in answer.wrong[i + 1:]:
            if abs(other.value - wrong.value) <= q.tolerance.around(wrong.value):
                raise Degenerate("ambiguous", f"{wrong.mistake} and {other.mistake} give "
                                              f"the same answer to question {q.number}")
    return answer


def _same_answers(answers: Sequence[Answer]) -> None:
    numeric = [a for a in answers if isinstance(a.value, float)]
    for i, a in enumerate(numeric):
        for b in numeric[i + 1:]:
            if abs(a.value - b.value) <= max(a.tolerance, b.tolerance):  # type: ignore[operator]
                raise Degenerate("same_answer", f"questions {a.question.number} and "
                                                f"{b.question.number} both have {a.value:.6g}")


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    return format(float(value), ".10g")  # type: ignore[arg-type]


def _tolerance_text(q: Question) -> str:
    if not q.numeric:
        return ""
    return "exact" if q.tolerance.value == 0 else str(q.tolerance)


def _sheet(template: Template, work: Work, code: str) -> Sheet:
    net = template.network
    equations = [(latex(lhs, net), latex(rhs, net)) for lhs, rhs in net.equations.items()]
    samples = max((len(v) for v in work.spec.data.values.values() if isinstance(v, tuple)),
                  default=1)
    error = latex(net.error, net)
    if samples > 1:
        total = rf"\sum_{{i=1}}^{{{samples}}} {error}"
        error = rf"\frac{{1}}{{{samples}}} {total}" if net.loss.reduction == "mean" else total
    equations.append((latex(net.loss_symbol), error))
    values = {**{str(p): work.values[str(p)] for p in net.parameters},
              **{str(s): work.spec.data.values[str(s)] for s in net.inputs + net.targets
                 if str(s) in work.spec.data.values}}
    givens = [(latex(Symbol(k) if k not in net.symbols else net.symbols[k], net), _shown(v))
              for k, v in values.items()]
    if work.rate is not None:
        givens.append((r"\alpha", _shown(work.rate)))  # the report's name for it
    questions = tuple(SheetQuestion(q.number, KINDS[q.kind].prompt(work, q), q.points,
                                    _tolerance_text(q))
                      for q in template.questions)
    return Sheet(template.title, code, template.instructions, tuple(equations),
                 tuple(givens), template.digits, questions)


def _build(template: Template, code: str) -> Variant | Degenerate:
    numbers = _numbers(template, code)
    spec = _variant_spec(template, numbers, code)
    values = {**template.network.values,
              **{k: v for k, v in numbers.items() if k != LEARNING_RATE}}
    work = Work(template, values, spec.training.learning_rate, spec)
    try:
        _saturation(work)
        answers = tuple(_answer(work, q, template.digits) for q in template.questions)
        _same_answers(answers)
    except Degenerate as found:
        return found
    return Variant(code, numbers, work.rate, spec, answers, _sheet(template, work, code),
                   template)


def make_variant(template: Template, code: str) -> Variant:
    """The variant of ``template`` with this code (:meth:`Template.variant`).

    Raises :class:`ExerciseError` for a code that is not the template's, or whose numbers
    are degenerate (no class is handed such a variant).
    """
    clean = normal_code(template, code)
    built = _build(template, clean)
    if isinstance(built, Degenerate):
        raise ExerciseError(f"unknown variant code '{code}': no sheet has it (its numbers "
                            f"are degenerate: {built.detail})")
    return built


# -- a class's set --------------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    """The variants generated for a class, and the candidates skipped, by reason."""

    template: Template
    seed: int | None  # None: the variants of codes given
    variants: tuple[Variant, ...]
    skipped: Mapping[str, int]
    tried: int

    @property
    def origin(self) -> str:
        """``seed 7``, or ``the codes given``: how the variants were chosen."""
        return "the codes given" if self.seed is None else f"seed {self.seed}"

    def summary(self) -> str:
        """``skipped 3 degenerate variants: 2 a saturated unit ..., 1 ...`` or ``""``."""
        total = sum(self.skipped.values())
        if not total:
            return ""
        parts = [f"{n} {REASONS[r]}" for r, n in Counter(self.skipped).most_common()]
        return (f"skipped {total} degenerate variant{'s' * (total != 1)}: "
                + ", ".join(parts))


def _possible(template: Template) -> int:
    total = 1
    for v in template.vary:
        total *= len(v.choices)
    return total


def generate(template: Template, count: int, seed: int = 0) -> Generation:
    """``count`` variants of ``template`` drawn with ``seed`` (the same ones every time),
    skipping degenerate and repeated numbers.

    Raises :class:`SpecError` naming the template when its ranges do not allow ``count``
    variants: too few combinations, or too many degenerate ones (with the reason most
    often hit).
    """
    possible = _possible(template)
    if possible < count:
        raise template.spec.error("exercise.vary", f"the ranges allow only {possible} "
                                  f"different variants; {count} were asked for")
    limit = max(200, 20 * count)
    variants: list[Variant] = []
    seen: set[tuple[tuple[str, float], ...]] = set()
    skipped: Counter[str] = Counter()
    details: dict[str, str] = {}
    tried = 0
    while len(variants) < count and tried < limit and len(seen) < possible:
        code = code_at(template, seed, tried)
        tried += 1
        key = tuple(sorted(_numbers(template, code).items()))
        if key in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(key)
        built = _build(template, code)
        if isinstance(built, Degenerate):
            skipped[built.reason] += 1
            details.setdefault(built.reason, built.detail)
        else:
            variants.append(built)
    if len(variants) < count:
        raise _too_few(template, count, len(variants), len(seen), skipped, details)
    return Generation(template, seed, tuple(variants), dict(skipped), tried)


def from_codes(template: Template, codes: Sequence[str]) -> Generation:
    """The variants with these codes, to make their sheets again (:class:`ExerciseError`
    for a code that is not the template's)."""
    variants = {v.code: v for v in (make_variant(template, code) for code in codes)}
    return Generation(template, None, tuple(variants.values()), {}, len(codes))


def _too_few(template: Template, count: int, found: int, distinct: int,
             skipped: Counter[str], details: Mapping[str, str]) -> SpecError:
    """Why fewer than ``count`` variants were found: the degenerate reason hit most often
    (a repeat of numbers only when nothing else was hit)."""
    degenerate = Counter({k: n for k, n in skipped.items() if k != "duplicate"})
    reason, times = (degenerate or skipped).most_common(1)[0]
    detail = f": {details[reason]}" if reason in details else ""
    what = (f"no variant possible: all {distinct} variants tried were degenerate" if not found
            else f"only {found} of {count} variants found among {distinct} tried")
    return template.spec.error("exercise.vary", f"{what}; most often ({times} times) "
                                                f"{REASONS[reason]}{detail}")
