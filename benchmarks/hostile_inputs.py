"""Hostile inputs: the corpus timed against its budget, and a fuzzing run with Hypothesis.

``--corpus``: time every input of the hostile corpus (tests/test_hostile.py) against the
1 s budget, the parser alone and ``symgrad check`` in-process, one row per input with the
ratio time / budget.

Default: a fuzzing run (Hypothesis, derandomized: the same inputs every run, no example
database) over

* the parser (``symgrad.check.parse``): text and LaTeX built from the tokens it knows,
  and from any characters;
* spec files: mutations of every shipped spec in ``derivations/`` (a value replaced by a
  hostile one, a key dropped or added, the text cut, lines doubled, bytes flipped), each
  run through ``derive``, ``train``, ``report`` and ``export``;
* hand files: mutations of ``derivations/two_neuron_hand.toml``, through ``check --file``.

Each run of a command is a forked child of a process that has imported symgrad once, so
each costs the command's work rather than SymPy's import; the parent reads the child's
exit status, CPU time and peak resident memory (``os.wait4``) and kills it at
:data:`HARD_STOP` seconds of wall-clock time. The parser runs in this process. Counted: a
**traceback** (an exception that is not a symgrad error: exit status other than 0, 1 or
2), a **slow** run (over :data:`SLOW` seconds of CPU time), and a run over
:data:`MEMORY` bytes of resident memory: all three must be zero. Run from the repository
root (``nice``: it takes a while)::

    nice .venv/bin/python benchmarks/hostile_inputs.py --parser 5000 --specs 500 --hands 200
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import random
import resource
import signal
import sys
import tempfile
import time
import tomllib
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings, strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad.cli import main as cli_main  # noqa: E402
from symgrad.errors import ParseError, SymgradError  # noqa: E402
from symgrad.network import load  # noqa: E402
from symgrad.check.parse import parse  # noqa: E402

BUDGET = 1.0  # the corpus: seconds an input may take
SLOW = 10.0  # seconds: a run that takes longer counts as slow
MEMORY = 1 << 30  # bytes of resident memory a run may use
HARD_STOP = 600.0  # seconds of wall-clock time after which a child is killed, counted slow
SPEC = ROOT / "derivations" / "two_neuron.toml"
HAND = ROOT / "derivations" / "two_neuron_hand.toml"
SHIPPED = sorted(p for p in (ROOT / "derivations").glob("*.toml")
                 if not p.stem.endswith("_hand"))
COMMANDS = ("derive", "train", "report", "export")


@dataclass
class Tally:
    """Outcomes of one kind of run: exit statuses, tracebacks, slow runs, memory."""

    runs: int = 0
    statuses: Counter = field(default_factory=Counter)
    tracebacks: int = 0
    slow: int = 0
    memory: int = 0
    slowest: float = 0.0
    largest: int = 0  # bytes
    examples: list[str] = field(default_factory=list)  # the first few failures

    def add(self, status: int, seconds: float, rss: int, what: str,
            killed: bool = False) -> None:
        """One run; ``killed``: stopped at :data:`HARD_STOP` (slow, not a traceback)."""
        self.runs += 1
        self.statuses[status] += 1
        self.slowest, self.largest = max(self.slowest, seconds), max(self.largest, rss)
        bad = [name for name, hit in (("traceback", status not in (0, 1, 2) and not killed),
                                      ("slow", seconds > SLOW or killed),
                                      ("memory", rss > MEMORY))
               if hit]
        self.tracebacks += "traceback" in bad
        self.slow += "slow" in bad
        self.memory += "memory" in bad
        if bad and len(self.examples) < 5:
            self.examples.append(f"{'/'.join(bad)} (status {status}, {seconds:.1f} s, "
                                 f"{rss >> 20} MB): {what[:300]!r}")

    @property
    def clean(self) -> bool:
        return self.tracebacks == self.slow == self.memory == 0


# -- running one input ---------------------------------------------------------------------

def _child(job: Callable[[], int]) -> None:
    """In the forked child: run ``job`` with output discarded; exit with its status, or 70
    (and the traceback on the real stderr) for an exception that is not a symgrad error."""
    status = 70
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            status = job()
    except SymgradError:  # outside the CLI (the parser): a clean refusal
        status = 2
    except BaseException:  # noqa: BLE001 - this is what is counted
        traceback.print_exc()
    finally:
        os._exit(status)


def run_forked(job: Callable[[], int], tally: Tally, what: str) -> None:
    """Run ``job`` in a forked child and add its status, time and peak memory to ``tally``."""
    start = time.perf_counter()
    with warnings.catch_warnings():  # fork of a threaded process: the child only runs job
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        _child(job)
    status, usage, killed = _wait(pid, start + HARD_STOP)
    # CPU time, not the wall clock: on a shared machine the wall clock measures the others
    tally.add(status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, what, killed)


def run_here(job: Callable[[], int], tally: Tally, what: str) -> None:
    """Run ``job`` in this process (the parser: a fork would cost more than the parsing);
    the memory counted is this process's peak so far."""
    start = time.process_time()
    try:
        status = job()
    except SymgradError:
        status = 2
    except Exception:  # noqa: BLE001 - this is what is counted
        status = 70
    tally.add(status, time.process_time() - start, _peak_here(), what)


def _peak_here() -> int:
    """This process's peak resident memory in bytes: ``VmHWM``, which starts afresh at
    ``exec``; ``ru_maxrss`` keeps the peak of the process that exec'd this one (a test
    runner of 1.2 GB, say), so it is only the fallback where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _wait(pid: int, deadline: float) -> tuple[int, Any, bool]:
    """The child's exit status (128 + signal when killed), resource usage, and whether
    it was killed here at ``deadline``."""
    killed = False
    while True:
        done, code, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() > deadline and not killed:
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.01)
    status = os.waitstatus_to_exitcode(code)
    return (128 - status if status < 0 else status), usage, killed


def _command(argv: list[str]) -> Callable[[], int]:
    def job() -> int:
        return cli_main(argv)
    return job


# -- the parser ----------------------------------------------------------------------------

_NET = None
TOKENS = ["w1", "w2", "b1", "b2", "x1", "T", "a1", "a2", "z1", "z2", "E", "sigma", "sigmoid",
          "exp", "log", "tanh", "relu", "max", "sqrt", "(", ")", "[", "]", "{", "}", "+", "-",
          "*", "/", "^", "**", "·", "×", "−", "'", ",", " ", "0", "1", "2.5", "1e308",
          "9" * 40, "10^99", "e", "pi", "|", "!", "=", "\\frac{", "\\left(", "\\right)",
          "\\cdot", "\\sigma", "\\exp", "\\ln", "\\sqrt{", "_", "\\partial", "\\mathrm{",
          "\\,", "\\\\", "\\begin{aligned}", "&", "%", "\x00", "\x1b[31m", "\u202e", "σ", "∂"]
expressions = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=60).map("".join),
    st.text(max_size=200),
    st.builds(lambda t, n: t * n, st.sampled_from(["a1", "(", "-", "^2", "\\frac{1}{",
                                                   "sigma(", "w1*"]),
              st.integers(1, 3000)),
)


def _parse_job(text: str, latex: bool) -> Callable[[], int]:
    def job() -> int:
        try:
            parse(text, _NET, latex=latex)
        except ParseError:
            return 2
        return 0
    return job


def fuzz_parser(examples: int, tallies: dict[str, Tally]) -> None:
    """``examples`` inputs, each parsed as text and as LaTeX."""
    global _NET
    _NET = load(SPEC)

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(expressions)
    def each(text: str) -> None:
        for latex in (False, True):
            name = "parser, LaTeX" if latex else "parser, text"
            run_here(_parse_job(text, latex), tallies.setdefault(name, Tally()), text)

    each()


# -- spec files and hand files -------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    0, -1, 1, 2, 2 ** 63 - 1, -2 ** 63, 10 ** 6, 3.5, 1e308, -1e308, 5e-324, 0.0, "", "x",
    "sigmoid", "softmax", "relu", "none", "half_sse", "cce", "\x1b[2J", "a\nb", '"""', "\\x",
    "{{ x }}", "$(rm -rf ~)", "é" * 300, True, [], [1.0] * 50, [[1.0]], {}, {"units": 1},
    [{"units": 1, "activation": "sigmoid"}] * 3,
]
_KEYS = ["units", "activation", "inputs", "layers", "loss", "learning_rate", "iterations",
         "epochs", "batch_size", "mode", "seed", "tolerance", "bias", "shared_bias", "alpha",
         "title", "source", "x1", "T", "w1", "b1", "wrt", "expr", "latex", "expect", "zz"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # JSON's escapes are TOML's (\\uXXXX included)
        import json
        return json.dumps(value)
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _key(key: str) -> str:
    return key if key.replace("_", "").isalnum() and key.isascii() else _toml_value(key)


def to_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML: top-level scalars, then one ``[table]`` or ``[[array]]`` each."""
    lines = [f"{_key(k)} = {_toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and not _tables(v)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += [f"[{_key(k)}]"] + [f"{_key(a)} = {_toml_value(b)}" for a, b in v.items()]
        elif _tables(v):
            for row in v:
                lines += [f"[[{_key(k)}]]"] + [f"{_key(a)} = {_toml_value(b)}"
                                                for a, b in row.items()]
    return "\n".join(lines) + "\n"


def _tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _places(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``data`` (dict keys and list indices)."""
    out = [path] if path else []
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for k, v in items:
        out += _places(v, path + (k,))
    return out


def _nearby(value: Any, rng: random.Random) -> Any:
    """A value a spec could well hold in place of ``value``: a number scaled, a flag
    flipped, a name from the catalogue."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return max(value * rng.choice([0, 2, 3, 10, 100]) + rng.choice([-1, 0, 1]), 0)
    if isinstance(value, float):
        return value * rng.choice([-1.0, 0.5, 2.0, 10.0, 1e3])
    if isinstance(value, str):
        return rng.choice(["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax", "none",
                           "half_sse", "mse", "bce", "cce", "minibatch", "stochastic", value])
    return copy.deepcopy(rng.choice(HOSTILE_VALUES))


def mutate(text: str, rng: random.Random, count: int) -> str:
    """``count`` mutations of the TOML ``text``: values replaced (by a nearby value or a
    hostile one), keys dropped or added, then perhaps the text itself cut, doubled or
    flipped."""
    data = tomllib.loads(text)
    for _ in range(count):
        places = _places(data)
        place = rng.choice(places)
        *parent_path, last = place
        parent = data
        for step in parent_path:
            parent = parent[step]
        action = rng.randrange(4)
        if action == 0 and isinstance(parent, dict):
            del parent[last]
        elif action == 1 and isinstance(parent, dict):
            parent[rng.choice(_KEYS)] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        elif action == 2:
            parent[last] = _nearby(parent[last], rng)
        else:  # a copy: a later mutation must not change the list (nor make it a cycle)
            parent[last] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
    out = to_toml(data)
    kind = rng.randrange(10)
    if kind == 0 and out:
        out = out[:rng.randrange(len(out))]
    elif kind == 1:
        lines = out.splitlines(keepends=True)
        out = "".join(lines + rng.sample(lines, min(2, len(lines))))
    elif kind == 2 and out:
        i = rng.randrange(len(out))
        out = out[:i] + chr(rng.randrange(1, 0x3000)) + out[i + 1:]
    return out


def _warm(folder: str) -> None:
    """Each command once in this process, so that the forked children find every module
    imported (a report's figures, the compiler) and spend their time on the input."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for argv in (["derive"], ["train", "--quiet"], ["report", "-o", f"{folder}/r.md"],
                     ["export", "-o", f"{folder}/m.py"], ["check", "--file", str(HAND)]):
            cli_main([argv[0], str(SPEC), *argv[1:]])


def fuzz_specs(examples: int, tallies: dict[str, Tally], shard: tuple[int, int] = (0, 1)
               ) -> None:
    """``examples`` mutated specs, each through derive, train, report and export; with
    ``shard = (k, n)``, only the k-th of every n (n processes share a long run)."""
    texts = [p.read_text() for p in SHIPPED]
    drawn = iter(range(10 ** 9))
    with tempfile.TemporaryDirectory() as folder:
        _warm(folder)

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(texts) - 1), st.integers(0, 2 ** 32), st.integers(1, 4))
    def each(which: int, seed: int, count: int) -> None:
        if next(drawn) % shard[1] != shard[0]:
            return
        text = mutate(texts[which], random.Random(seed), count)
        with tempfile.TemporaryDirectory() as folder:
            spec = Path(folder, "spec.toml")
            spec.write_text(text, encoding="utf-8", errors="surrogatepass")
            for command in COMMANDS:
                extra = {"report": ["-o", f"{folder}/r.md"], "export": ["-o", f"{folder}/m.py"],
                         "train": ["--quiet"]}.get(command, [])
                run_forked(_command([command, str(spec), *extra]),
                           tallies.setdefault(f"spec, {command}", Tally()), text)
        if tallies["spec, export"].runs % 10 == 0:  # a long run shows where it is
            print(table(tallies), file=sys.stderr, flush=True)

    each()


def fuzz_hands(examples: int, tallies: dict[str, Tally]) -> None:
    """``examples`` mutated hand files, each through ``check SPEC --file``."""
    text = HAND.read_text()

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2 ** 32), st.integers(1, 4))
    def each(seed: int, count: int) -> None:
        hand = mutate(text, random.Random(seed), count)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder, "hand.toml")
            path.write_text(hand, encoding="utf-8", errors="surrogatepass")
            run_forked(_command(["check", str(SPEC), "--file", str(path)]),
                       tallies.setdefault("hand file, check", Tally()), hand)

    each()


def fuzz(parser: int, specs: int, hands: int, shard: tuple[int, int] = (0, 1)
         ) -> dict[str, Tally]:
    """The whole run: ``parser`` expressions (each as text and LaTeX), ``specs`` mutated
    specs (four commands each) and ``hands`` mutated hand files; one :class:`Tally` per
    kind of run."""
    tallies: dict[str, Tally] = {}
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash is counted, not dumped
    if parser > 0:  # Hypothesis wants at least one example
        fuzz_parser(parser, tallies)
    if specs > 0:
        fuzz_specs(specs, tallies, shard)
    if hands > 0:
        fuzz_hands(hands, tallies)
    return tallies


def table(tallies: dict[str, Tally]) -> str:
    """One row per kind of run: runs, exits 0/1/2, tracebacks, slow, memory, the slowest
    run and the largest resident memory."""
    head = (f"{'runs of':20} {'runs':>6} {'exit 0':>7} {'exit 1':>7} {'exit 2':>7} "
            f"{'traceback':>9} {'>10 s':>6} {'>1 GB':>6} {'slowest s':>9} {'max MB':>7}")
    rows = [head, "-" * len(head)]
    for name, t in tallies.items():
        rows.append(f"{name:20} {t.runs:6d} {t.statuses[0]:7d} {t.statuses[1]:7d} "
                    f"{t.statuses[2]:7d} {t.tracebacks:9d} {t.slow:6d} {t.memory:6d} "
                    f"{t.slowest:9.2f} {t.largest >> 20:7d}")
    for name, t in tallies.items():
        rows += [f"{name}: {example}" for example in t.examples]
    return "\n".join(rows)


# -- the corpus, timed ---------------------------------------------------------------------

def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def corpus() -> int:
    """Time every input of the hostile corpus: the parser alone and ``symgrad check``."""
    from tests.test_hostile import CORPUS

    global _NET
    _NET = load(SPEC)
    rows = []
    for name, text, is_latex, _ in CORPUS:
        flag = "--latex" if is_latex else "--expr"
        with contextlib.redirect_stderr(io.StringIO()), \
                contextlib.redirect_stdout(io.StringIO()):
            t_parse, _ = _timed(lambda: _parse_job(text, is_latex)())
            t_cli, status = _timed(lambda: cli_main(["check", str(SPEC), "--wrt", "w2",
                                                      f"{flag}={text}"]))
        rows.append((name, len(text), status, t_parse, t_cli))
    print(f"{'input':28} {'chars':>9} {'exit':>4} {'parse s':>9} {'check s':>9} "
          f"{'check/budget':>12}")
    for name, n, status, tp, tc in rows:
        print(f"{name:28} {n:9d} {status:4d} {tp:9.5f} {tc:9.5f} {tc / BUDGET:12.4f}")
    worst = max(rows, key=lambda r: r[4])
    print(f"\n{len(rows)} inputs; slowest check: {worst[0]} at {worst[4]:.4f} s; "
          f"all exit 2: {all(r[2] == 2 for r in rows)}")
    return 0 if all(r[2] == 2 and r[4] < BUDGET for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", action="store_true", help="time the hostile corpus instead")
    p.add_argument("--parser", type=int, default=5000, help="parser inputs (default 5000)")
    p.add_argument("--specs", type=int, default=500, help="mutated specs (default 500)")
    p.add_argument("--hands", type=int, default=200, help="mutated hand files (default 200)")
    p.add_argument("--shard", default="0/1", metavar="K/N",
                   help="run only the K-th of every N specs (N processes share a long run)")
    args = p.parse_args(argv)
    k, n = map(int, args.shard.split("/"))
    if args.corpus:
        return corpus()
    start = time.perf_counter()
    tallies = fuzz(args.parser, args.specs, args.hands, (k, n))
    print(table(tallies))
    print(f"\n{time.perf_counter() - start:.0f} s; all clean: "
          f"{all(t.clean for t in tallies.values())}")
    return 0 if all(t.clean for t in tallies.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
