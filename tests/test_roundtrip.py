"""What symgrad prints parses back: every chain line, factor, delta, forward equation,
factored and expanded form, as text (the terminal) and as LaTeX (``derive --latex`` and
the reports), read by :mod:`symgrad.check.parse` to an expression equal to the symbolic one.

Equality is checked exactly (the same SymPy tree) or, failing that, numerically: both
sides evaluated at 30 significant digits at three random points with every symbol in
(0.1, 0.9) (softmax components, Heaviside steps and logs included) must agree to 1e-20
relative; expressions that differ would differ in the leading digits.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
from sympy import Expr

from symgrad.catalogue import ACTIVATIONS
from symgrad.derive import Derivation, derive
from symgrad.catalogue import LOSSES
from symgrad.network import Dense, Network, load
from symgrad.check.parse import MAX_LENGTH, parse, parse_expression
from symgrad.printing import (chain_factors, factor_latexes, latex, negated, product_latex,
                              product_text, text)
from symgrad.report.layout import product_rows

from .conftest import ALL_SPECS, DERIVATIONS, run_cli_here

#: Renamed base names: lowercase and uppercase targets, other pre- and post-activations.
RENAMES: dict[str, dict[str, str]] = {
    "target_z_pre_y": {"target": "z", "pre": "y"},  # the README's example
    "target_t": {"target": "t"},
    "target_y": {"target": "y"},
    "target_Y": {"target": "Y"},
    "target_word": {"target": "target"},
    "pre_y_post_s": {"pre": "y", "post": "s"},
    "pre_h": {"pre": "h"},
}
#: The digits networks have 2,410 parameters: their first parameters of each layer stand
#: for the rest (the same printing code runs for every one).
FIRST_FEW = ("w1_1_1", "b1_1", "w2_1_1", "b2_1")
#: A printed form longer than this is not read back (the parser's own input limit).
TOO_LONG = MAX_LENGTH


@dataclass(frozen=True)
class Case:
    """A shipped spec, or a copy of one with other base names (and loss, and penalty)."""

    name: str
    source: Path
    names: tuple[tuple[str, str], ...] = ()
    loss: str | None = None
    penalty: str | None = None

    def path(self, tmp: Path) -> Path:
        """The spec file: the shipped one, or its renamed copy written to ``tmp``."""
        if not self.names and self.loss is None and self.penalty is None:
            return self.source
        names = dict(self.names)
        spec = self.source.read_text()
        inline = ", ".join(f'{role} = "{base}"' for role, base in names.items())
        if names:
            spec = spec.replace("[network]\n", f"[network]\nnames = {{ {inline} }}\n", 1)
        if self.penalty is not None:
            spec = spec.replace("[network]\n", f"[network]\npenalty = {self.penalty}\n", 1)
        if "target" in names:  # the data's targets T, T1, T2 take the new name
            spec = re.sub(r"(?m)^T(\d*) = ", lambda m: f"{names['target']}{m.group(1)} = ",
                          spec)
        if self.loss is not None:
            spec = re.sub(r'(?m)^loss = "\w+"', f'loss = "{self.loss}"', spec)
        path = tmp / f"{self.name}.toml"
        path.write_text(spec)
        return path


def _cases() -> list[Case]:
    cases = [Case(p.stem, p) for p in ALL_SPECS]
    two, mlp = DERIVATIONS / "two_neuron.toml", DERIVATIONS / "small_mlp.toml"
    for label, names in RENAMES.items():
        pairs = tuple(names.items())
        cases.append(Case(f"two_neuron-{label}", two, pairs))
        cases.append(Case(f"two_neuron-{label}-half_mse", two, pairs, "half_mse"))
        if names.get("target") not in ("z", "y"):  # z1 would be a target and a pre-activation
            cases.append(Case(f"small_mlp-{label}", mlp, pairs))
    # a penalty adds its term (lambda*w2, lambda*sign(w2)) to the printed gradients
    cases += [Case("two_neuron-l2", two, penalty="{ l2 = 0.01 }"),
              Case("two_neuron-pre_h-l1-biases", two, (("pre", "h"),),
                   penalty="{ l1 = 0.01, biases = true }"),
              Case("small_mlp-l2-biases", mlp, penalty="{ l2 = 0.001, biases = true }")]
    return cases


CASES = _cases()
IDS = [c.name for c in CASES]


def _same(got: Expr, want: Expr) -> bool:
    if got == want:
        return True
    rng = random.Random(7)
    symbols = sorted(got.free_symbols | want.free_symbols, key=str)
    for _ in range(3):
        point = {s: sp.Float(rng.uniform(0.1, 0.9), 30) for s in symbols}
        a, b = sp.N(got.xreplace(point), 30), sp.N(want.xreplace(point), 30)
        if not abs(a - b) <= sp.Float("1e-20") * (1 + abs(b)):
            return False
    return True


def _reads_back(printed: str, want: Expr, net: Network, latex_: bool = False) -> None:
    got = parse(printed, net, latex=latex_)
    assert _same(got, want), (printed, got, want)


def _chosen(d: Derivation) -> list[str]:
    names = list(d)
    return [n for n in FIRST_FEW if n in d] if len(names) > 200 else names


def _loaded(case: Case, tmp: Path) -> tuple[Path, Network, Derivation]:
    path = case.path(tmp)
    net = load(path)
    return path, net, derive(net)


def _chain(d: Derivation, name: str) -> Expr:
    """The chain line's expression: a product of factors, or a sum of them for a quantity
    used in several places (a tied parameter); and the penalty's term, if any."""
    return sp.Add(*(sp.Mul(*(f.expression for f in term)) for term in d[name].terms)) \
        + d[name].penalty


def _cli(path: Path, chosen: list[str], *options: str) -> str:
    wrt = [arg for name in chosen for arg in ("--wrt", name)]
    r = run_cli_here("derive", path, "--level", "scalar", *wrt, *options)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_terminal_chain_lines_and_factored_forms_read_back(case: Case, tmp_path: Path) -> None:
    path, net, d = _loaded(case, tmp_path)
    chosen = _chosen(d)
    blocks = _cli(path, chosen).rstrip("\n").split("\n\n")
    assert len(blocks) == len(chosen)
    for name, block in zip(chosen, blocks):
        # the partials line is notation; then the chain line, the factored form, the value
        rhs = [line.split(" = ", 1)[1] for line in block.splitlines()[1:] if " = " in line]
        _reads_back(rhs[0], _chain(d, name), net)
        if not net.is_chain or len(d[name].terms) > 1:
            _reads_back(rhs[1], d[name].factored, net)
        if len(d[name].terms) == 1:
            penalty = f" + {text(d[name].penalty)}" if d[name].penalty != 0 else ""
            assert rhs[0] == product_text(chain_factors(d[name].chain)) + penalty
        for term in d[name].terms:
            for f, shown in zip(term, chain_factors(term)):
                _reads_back(text(shown), f.expression, net)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_terminal_steps_read_back(case: Case, tmp_path: Path) -> None:
    path, net, d = _loaded(case, tmp_path)
    if len(d) > 200:
        pytest.skip("2,410 forward equations of 65 terms: the small networks run the same "
                    "printing code")
    lines = _cli(path, [next(iter(d))], "--form", "steps").split("\n\n")[0].splitlines()
    by_name = {str(s): e for s, e in net.equations.items()}
    by_name.update({str(s): step.expression for s, step in d.deltas.items()})
    checked, general = 0, {str(s): step.general for s, step in d.deltas.items()}
    last = ""
    for line in lines:
        if line.startswith(f"  {net.loss.symbol} += "):  # the penalty, added once
            _reads_back(line.split(" += ", 1)[1].split("   (", 1)[0], d.penalty_cost, net)
            checked += 1
        elif line.strip().startswith(("←", "<-")):  # the form before a simplification
            shown = line.strip().split(" ", 1)[1].split(": ", 1)[0]
            _reads_back(shown, general[last], net)
            checked += 1
        elif line.startswith("  ") and " = " in line:
            lhs, rhs = (part.strip() for part in line.split(" = ", 1))
            if lhs == net.loss.symbol:
                _reads_back(rhs.split("   (", 1)[0], net.error, net)
            else:
                _reads_back(rhs, by_name[lhs], net)
            last, checked = lhs, checked + 1
    assert checked == len(net.equations) + 1 + len(d.deltas) + sum(
        g is not None for g in general.values()) + (net.penalty is not None)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expanded_forms_read_back(case: Case, tmp_path: Path) -> None:
    path, net, d = _loaded(case, tmp_path)
    if len(d) > 200:
        pytest.skip("an expanded gradient of the digits networks has thousands of terms, far "
                    f"above the parser's {MAX_LENGTH}-character limit")
    chosen = _chosen(d)
    plain = _cli(path, chosen, "--form", "expanded").rstrip("\n").split("\n\n")
    tex = _cli(path, chosen, "--form", "expanded", "--latex").rstrip("\n").split("\n")
    read = 0
    for name, line, line_tex in zip(chosen, plain, tex):
        shown, shown_tex = line.split(" = ", 1)[1], line_tex.split(" = ", 1)[1]
        if len(shown) <= TOO_LONG:
            _reads_back(shown, d[name].expanded, net)
            read += 1
        if len(shown_tex) <= TOO_LONG:
            _reads_back(shown_tex, d[name].expanded, net, latex_=True)
    assert read >= 1  # at least the gradients of the last layer are short enough


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_latex_of_cli_and_reports_reads_back(case: Case, tmp_path: Path) -> None:
    path, net, d = _loaded(case, tmp_path)
    chosen = _chosen(d)
    for name, line in zip(chosen, _cli(path, chosen, "--latex").rstrip("\n").split("\n")):
        g = d[name]
        _reads_back(line.split(" = ", 1)[1], g.factored, net, latex_=True)
        products = [product_latex(chain_factors(term), net) for term in g.terms]
        products += [latex(g.penalty, net)] if g.penalty != 0 else []
        _reads_back(" + ".join(products), _chain(d, name), net, latex_=True)
        for term in g.terms:
            for f, shown in zip(term, factor_latexes(chain_factors(term), net)):
                _reads_back(shown, f.expression, net, latex_=True)
                _reads_back(latex(f.expression, net, negated=f.kind == "loss"), f.expression,
                            net, latex_=True)
        rows = product_rows("=", g.factored, net)  # the report's factored form, line by line
        joined = rows[0].right.removeprefix("= ") + "".join(
            r" \cdot " + r.right.removeprefix(r"\quad \cdot ") for r in rows[1:])
        if r"\cdots" in joined:  # a sum of more than SUM_TERMS terms is shown elided
            assert len(d) > 200, joined
        else:
            _reads_back(joined, g.factored, net, latex_=True)
    if len(d) <= 200:
        for s, e in net.equations.items():
            _reads_back(latex(e, net), e, net, latex_=True)
        _reads_back(latex(net.error, net), net.error, net, latex_=True)
        if net.penalty is not None and net.penalty.kind.name == "l2":  # |w| is not read
            _reads_back(latex(d.penalty_cost, net), d.penalty_cost, net, latex_=True)
        for step in d.deltas.values():
            _reads_back(latex(step.expression, net), step.expression, net, latex_=True)


# -- activations and losses -------------------------------------------------------------

_Z = sp.Symbol("z")
ELEMENTWISE = [a for a in ACTIVATIONS.values() if a.elementwise]
#: LaTeX that is a display, not an expression: SymPy's cases environment for a function
#: defined piecewise. The reports show it as is; the text form reads back (as Heaviside
#: steps, see symgrad.printing), and the parser reads no environments.
CASES_ENV = {("relu", "definition"), ("leaky_relu", "definition"), ("elu", "definition"),
             ("leaky_relu", "derivative"), ("elu", "derivative")}


@pytest.fixture(scope="module")
def listing() -> dict[str, tuple[str, str]]:
    """``symgrad activations``: each activation's formula and derivative lines."""
    out = run_cli_here("activations").stdout
    found = {}
    for block in out.split("\n\n"):
        names = block.split("[", 1)[1].split("]", 1)[0].split(", ")
        lines = {k.strip(): v.strip() for k, v in
                 (line.split(":", 1) for line in block.splitlines()[1:])}
        found[names[0]] = (lines["formula"], lines["derivative"])
    return found


@pytest.mark.parametrize("act", ELEMENTWISE, ids=[a.name for a in ELEMENTWISE])
def test_activation_listing_reads_back(act: Any, listing: dict[str, tuple[str, str]]) -> None:
    table = {"z": _Z}
    f = act(_Z)
    formula, derivative = listing[act.name]
    lhs, rhs = formula.split(" = ")
    assert parse_expression(lhs, table) == f
    assert _same(parse_expression(rhs, table), act.definition(_Z))
    # the identity evaluates to z itself, so it is listed by its name: linear(z) = z
    assert lhs == (text(f) if f != _Z else f"{act.name}(z)")
    named = lhs
    lhs, rhs = derivative.split(" = ")
    assert lhs == f"d/dz {named}"
    assert _same(parse_expression(rhs, table), f.diff(_Z))


@pytest.mark.parametrize("act", ELEMENTWISE, ids=[a.name for a in ELEMENTWISE])
def test_activation_latex_reads_back(act: Any) -> None:
    f = act(_Z)
    forms = {"function": f, "definition": act.definition(_Z), "derivative": f.diff(_Z)}
    for part, expr in forms.items():
        shown = latex(expr)
        if (act.name, part) in CASES_ENV:
            assert shown.startswith(r"\begin{cases}"), shown
            continue
        assert _same(parse_expression(shown, {"z": _Z}, latex=True), expr), (part, shown)


def test_softmax_components_read_back() -> None:
    """The softmax listing is a formula over an index (``s[k]``, ``Sum``, ``KroneckerDelta``),
    not an expression in a network's symbols; its components, as networks print them, are."""
    z1, z2 = sp.symbols("z1 z2")
    table = {"z1": z1, "z2": z2}
    s1 = ACTIVATIONS["softmax"](sp.Integer(1), z1, z2)
    for expr in (s1, s1.diff(z1), s1.diff(z2)):
        assert parse_expression(text(expr), table) == expr
        assert parse_expression(latex(expr), table, latex=True) == expr


def _loss_network(loss: str) -> Network:
    if loss == "cce":
        return Network(2, [Dense(3, "softmax")], loss)
    return Network(1, [Dense(1, "sigmoid")], loss)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_and_its_derivative_read_back(loss: str) -> None:
    net = _loss_network(loss)
    d = derive(net)
    _reads_back(text(net.error), net.error, net)
    _reads_back(latex(net.error, net), net.error, net, latex_=True)
    for g in d.values():
        factors = chain_factors(g.chain)
        _reads_back(product_text(factors), _chain(d, g.name), net)
        _reads_back(product_latex(factors, net), _chain(d, g.name), net, latex_=True)
        _reads_back(text(g.factored), g.factored, net)
        _reads_back(latex(g.factored, net), g.factored, net, latex_=True)
        for step in d.deltas.values():
            _reads_back(text(step.expression), step.expression, net)
            if step.general is not None:
                _reads_back(text(step.general), step.general, net)


# -- the order and the brackets, as exact strings ---------------------------------------


def test_lowercase_target_chain_line_has_its_brackets(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "two_neuron-target_z_pre_y")
    out = _cli(case.path(tmp_path), ["w2"])
    assert out.splitlines()[1:3] == ["       = -(z - a2) · a2*(1 - a2) · a1",
                                     "       = 0.0570703982   (at the spec's values)"]


@pytest.mark.parametrize("target", ["T", "z", "t", "y", "Y", "target"])
def test_a_difference_prints_alike_whatever_the_target_is_called(target: str) -> None:
    t, a1, a2 = sp.symbols(f"{target} a1 a2")
    assert text(a2 - t) == f"a2 - {target}"
    assert text(a2 - t, negated=True) == f"-({target} - a2)"
    assert text(a1 * a2 * (1 - a2) * (a2 - t)) == f"a1*a2*(1 - a2)*(a2 - {target})"
    assert product_text([a2 - t, a2 * (1 - a2), a1]) == f"(a2 - {target}) · a2*(1 - a2) · a1"
    assert product_text([negated(a2 - t), a2 * (1 - a2), a1], unicode=False) == \
        f"-({target} - a2) * a2*(1 - a2) * a1"
    assert latex(a2 - t, negated=True) == rf"-\left({sp.latex(t)} - a_{{2}}\right)"


def test_numbered_names_sort_naturally() -> None:
    targets = sp.symbols("T1:12")
    assert text(sp.Add(*targets)) == " + ".join(f"T{k}" for k in range(1, 12))
    assert latex(sp.Add(*targets)).startswith("T_{1} + T_{2} + T_{3}")
    assert latex(sp.Add(*targets)).endswith("T_{9} + T_{10} + T_{11}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_bias_ends_every_forward_equation(case: Case, tmp_path: Path) -> None:
    net = load(case.path(tmp_path))
    for layer in net.layers:
        for pre, bias in zip(layer.pre, layer.biases):
            assert text(net.equations[pre]).endswith(f" + {bias}"), net.equations[pre]
            assert latex(net.equations[pre], net).endswith(f" + {latex(bias, net)}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_report_delta_rows_read_back(case: Case, tmp_path: Path) -> None:
    """Each error signal as the reports show it: ``upstream · local``, then the product."""
    from symgrad.report.content import _delta_views

    path, net, d = _loaded(case, tmp_path)
    if len(d) > 200:
        pytest.skip("a digits delta sums 10 or 32 terms, shown elided with \\cdots")
    for view, step in zip(_delta_views(d), d.deltas.values()):
        for i, row in enumerate(view.rows):  # first the general form, where one was kept
            want = step.general if i == 0 and step.general is not None else step.expression
            assert row.right.startswith("= "), row  # one line each in these networks
            _reads_back(row.right.removeprefix("= "), want, net, latex_=True)


# -- every activation in a chain (issue 15, item 6) --------------------------------------

_CHAIN_CASES = [(hidden, output, loss) for hidden in ELEMENTWISE for output in ("tanh", "sigmoid")
                for loss in LOSSES if loss not in ("bce", "cce") or output == "sigmoid"]


@pytest.mark.parametrize("hidden, output, loss", _CHAIN_CASES,
                         ids=[f"{h.name}-{o}-{l}" for h, o, l in _CHAIN_CASES])
def test_chain_lines_of_every_activation_read_back(hidden: Any, output: str, loss: str) -> None:
    """Every factor that is a sum keeps its brackets in the chain line, text and LaTeX
    (``w2 · (1 - a1**2) · x1``, not ``w2 · 1 - a1**2 · x1``)."""
    net = Network(1, [Dense(1, hidden.name), Dense(1, output)], loss)
    d = derive(net)
    for g in d.values():
        factors = chain_factors(g.chain)
        _reads_back(product_text(factors), _chain(d, g.name), net)
        _reads_back(product_text(factors, unicode=False), _chain(d, g.name), net)
        if (hidden.name, "derivative") not in CASES_ENV:  # a cases display is not read
            _reads_back(product_latex(factors, net), _chain(d, g.name), net, latex_=True)


def test_the_tanh_chain_line_brackets_its_derivative() -> None:
    net = Network(1, [Dense(1, "tanh"), Dense(1, "tanh")], "half_sse")
    factors = chain_factors(derive(net)["w1"].chain)
    assert product_text(factors) == "-(T - a2) · (1 - a2**2) · w2 · (1 - a1**2) · x1"
    assert product_latex(factors, net) == (
        r"-\left(T - a_{2}\right) \cdot \left(1 - a_{2}^{2}\right) \cdot w_{2} \cdot "
        r"\left(1 - a_{1}^{2}\right) \cdot x_{1}")


# -- a spec's formula entries (issue 11, item 1) -------------------------------------------

def _formula_entry(record: Any) -> Any:
    from symgrad.architecture import Architecture
    from symgrad.spec import parse_spec

    from .formula_corpus import network_spec, spec_of
    spec = parse_spec(network_spec(record.name, extra=spec_of(record)), f"{record.name}.toml")
    return Architecture.from_spec(spec).formula_activations[record.name]


def _formula_reads_back(entry: Any, formula: str, derivative: str) -> None:
    """Both lines parse, with the spec's entries and formula functions known, to the
    entry's value and derivative at its parameters' values (named in the lines)."""
    from symgrad.check.tables import formula_functions, scoped_activations

    z = sp.Symbol("z", real=True)
    params = {p: sp.Symbol(p, real=True) for p in entry.params}
    values = {s: sp.Rational(str(entry.params[p])) for p, s in params.items()}
    f = entry(z)
    for line, want in ((formula, f), (derivative, f.diff(z))):
        lhs, rhs = line.split(" = ", 1)
        with scoped_activations([entry]), formula_functions():
            got = parse_expression(rhs, {"z": z, **params}).xreplace(values)
            called = parse_expression(lhs.removeprefix("d/dz "), {"z": z})
        assert called == f, line
        assert _same(got, want), (line, got, want)


def _formula_records() -> list[Any]:
    from .formula_corpus import ACTIVATIONS as CORPUS
    return list(CORPUS)


@pytest.mark.parametrize("record", _formula_records(), ids=lambda r: r.name)
def test_formula_entries_textbook_lines_read_back(record: Any) -> None:
    from symgrad.cli.activations import textbook
    entry = _formula_entry(record)
    _formula_reads_back(entry, *textbook(entry))


def test_formula_listing_of_symgrad_activations_reads_back() -> None:
    from symgrad.architecture import Architecture
    from symgrad.spec import read_spec
    path = DERIVATIONS / "mish.toml"
    entry = Architecture.from_spec(read_spec(path)).formula_activations["mish"]
    block = run_cli_here("activations", path).stdout.split("\n\n")[-1]
    lines = {k.strip(): v.strip() for k, v in (li.split(":", 1) for li in block.splitlines()[1:])}
    _formula_reads_back(entry, lines["formula"], lines["derivative"])


def test_formula_textbook_lines_are_these() -> None:
    """Parameters by name, the own output where SymPy finds it, cases as ``where``."""
    from symgrad.cli.activations import textbook
    by_name = {r.name: r for r in _formula_records()}
    assert textbook(_formula_entry(by_name["swish_beta"])) == (
        "swish_beta(z) = z*sigmoid(beta*z)",
        "d/dz swish_beta(z) = beta*(1 - sigmoid(beta*z))*swish_beta(z) + sigmoid(beta*z)")
    assert textbook(_formula_entry(by_name["hard_sigmoid"])) == (
        "hard_sigmoid(z) = where(z + 5/2, where(5/2 - z, z/5 + 1/2, 1), 0)",
        "d/dz hard_sigmoid(z) = where(z + 5/2, where(5/2 - z, 1/5, 0), 0)")
    assert textbook(_formula_entry(by_name["softsign"]))[1] == \
        "d/dz softsign(z) = 1/(abs(z) + 1) - softsign(z)*sign(z)/(abs(z) + 1)"


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_a_formula_losss_layer_level_delta_reads_back(reduction: str) -> None:
    """Huber's output delta at the layer level, as ``derive --level layer`` prints it:
    the cases as the spec writes them, ``|a - y|`` and ``sign(a - y)`` (derived as
    ``max(u, -u)`` and a difference of steps), read back to the derived delta."""
    from symgrad.check.tables import formula_functions
    from symgrad.derive import derive_layers
    from symgrad.spec import parse_spec

    from .formula_corpus import LOSSES
    from .test_formula_layers import layer_spec
    huber = next(r for r in LOSSES if r.name == "huber")
    d = derive_layers(parse_spec(layer_spec(huber, reduction)))
    line = next(li for li in d.text(unicode=False).splitlines() if "delta2 = " in li)
    shown = line.split(" = ", 1)[1]
    assert shown == "where(1 - abs(a2 - y), a2 - y, sign(a2 - y))"
    a, y = sp.Symbol("a", real=True), sp.Symbol("y", real=True)
    a2, yy = sp.Symbol("a2", real=True), sp.Symbol("y", real=True)
    with formula_functions():
        got = parse_expression(shown, {"a2": a2, "y": yy})
    want = d.steps[0].unit.expression.xreplace({a: a2, y: yy})
    for point in ("-5/2", "-7/10", "0", "1/3", "2/5", "4/3", "19/10"):  # both branches, kinks
        at = {a2: sp.Rational(point), yy: sp.Rational(1, 3)}
        assert got.xreplace(at) == want.xreplace(at), point


def _report_view(record: Any) -> Any:
    from symgrad.analysis.experiments import activation_check
    from symgrad.report.content import _activation_view, _formula_view
    entry = _formula_entry(record)
    return entry, _formula_view(entry, _activation_view(entry, activation_check(entry, {}),
                                                        None))


def test_a_reports_formula_activation_is_in_textbook_form() -> None:
    """Parameters by name, and the own-output row, as for a built-in (``with a = ...``)."""
    swish = next(r for r in _formula_records() if r.name == "swish_beta")
    _, view = _report_view(swish)
    called = r"\operatorname{swish\_beta}\left(z\right)"
    sig = r"\sigma\left(\beta z\right)"
    assert view.definition == rf"{called} = z {sig}"
    assert [(r.left, r.right) for r in view.derivative] == [
        (rf"\frac{{d}}{{dz}} {called}", rf"= \beta z \left(1 - {sig}\right) {sig} + {sig}"),
        ("", rf"= a \beta \left(1 - {sig}\right) + {sig}\quad\text{{with }} a = {called}")]


def test_a_reports_formula_rows_read_back_as_latex() -> None:
    """mish's rows, read by the LaTeX parser (which reads no Greek parameter names, no
    ``\\left|`` and no cases environment: those entries are read back as text above)."""
    from symgrad.check.tables import formula_functions, scoped_activations
    mish = next(r for r in _formula_records() if r.name == "mish")
    entry, view = _report_view(mish)
    z = sp.Symbol("z", real=True)
    f = entry(z)
    lhs, rhs = view.definition.split(" = ", 1)
    with scoped_activations([entry]), formula_functions():
        assert parse_expression(lhs, {"z": z}, latex=True) == f
        assert _same(parse_expression(rhs, {"z": z}, latex=True), f)
        for row in view.derivative:
            got = parse_expression(row.right.removeprefix("= "), {"z": z}, latex=True)
            assert _same(got, f.diff(z)), row
