"""The fuzzing run of benchmarks/hostile_inputs.py, bounded (issue 16): parser inputs,
mutated shipped specs through derive, train, report and export, and mutated hand files;
no traceback, no run over 10 s of CPU time, none over 1 GB. The long run is by hand
(``benchmarks/hostile_inputs.py``, defaults: 5,000 parser inputs and 500 specs)."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import subprocess
import sys
import tomllib
from typing import Any

from .conftest import ROOT

_SPEC = importlib.util.spec_from_file_location("hostile_inputs",
                                               ROOT / "benchmarks" / "hostile_inputs.py")
hostile = sys.modules.setdefault("hostile_inputs", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(hostile)  # type: ignore[union-attr]


#: Runs in a fresh interpreter: the fuzzer forks (harmless there, but not in a test process
#: holding JAX's threads) and measures its own peak memory, which in the test process would
#: be the whole session's.
_PRELUDE = (f"import importlib.util, json, sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"s = importlib.util.spec_from_file_location('hostile_inputs', "
            f"{str(ROOT / 'benchmarks' / 'hostile_inputs.py')!r}); "
            "hostile = importlib.util.module_from_spec(s); "
            "sys.modules['hostile_inputs'] = hostile; s.loader.exec_module(hostile)\n")


def _fresh(code: str) -> dict[str, Any]:
    """What ``code`` (after loading the fuzzer as ``hostile``) prints as JSON, run in a
    fresh Python."""
    run = subprocess.run([sys.executable, "-c", _PRELUDE + code], capture_output=True,
                         text=True, cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_a_bounded_fuzzing_run_has_no_traceback_no_slow_run_and_no_memory_hog() -> None:
    out = _fresh("t = hostile.fuzz(parser=150, specs=3, hands=3)\n"
                 "print(json.dumps({'table': hostile.table(t), 'runs': {k: v.runs for k, v in "
                 "t.items()}, 'bad': {k: [v.tracebacks, v.slow, v.memory] for k, v in "
                 "t.items()}}))")
    assert out["runs"] == {
        "parser, text": 150, "parser, LaTeX": 150, "spec, derive": 3, "spec, train": 3,
        "spec, report": 3, "spec, export": 3, "hand file, check": 3}
    assert out["bad"] == {name: [0, 0, 0] for name in out["runs"]}, out["table"]


def test_the_fuzzer_counts_what_it_is_meant_to_count() -> None:
    tally = hostile.Tally()
    for status, seconds, rss in ((0, 0.1, 1), (2, 0.1, 1), (70, 0.1, 1), (-11 % 256, 0.1, 1),
                                 (0, 11.0, 1), (0, 0.1, 2 << 30)):
        tally.add(status, seconds, rss, "x")
    tally.add(137, 0.5, 1, "stopped at the hard stop", killed=True)
    assert (tally.runs, tally.tracebacks, tally.slow, tally.memory) == (7, 2, 2, 1)
    assert not tally.clean
    out = _fresh("t = hostile.Tally()\n"
                 "hostile.run_forked(lambda: 1 // 0, t, 'a ZeroDivisionError')\n"
                 "hostile.run_forked(lambda: 2, t, 'a refusal')\n"
                 "print(json.dumps([t.statuses[70], t.statuses[2], t.tracebacks]))")
    assert out == [1, 1, 1]  # the ZeroDivisionError is not a symgrad error: a traceback


def test_mutations_of_a_spec_are_toml_and_differ_from_it() -> None:
    text = (ROOT / "derivations" / "two_neuron.toml").read_text()
    values = copy.deepcopy(hostile.HOSTILE_VALUES)
    outs = [hostile.mutate(text, random.Random(seed), 4) for seed in range(40)]
    assert all(out != text for out in outs)
    assert hostile.HOSTILE_VALUES == values  # mutations work on copies
    parsed = 0
    for out in outs:
        try:
            tomllib.loads(out)
            parsed += 1
        except tomllib.TOMLDecodeError:  # the text-level mutations (cut, flipped) may break it
            pass
    assert parsed >= 20
