"""Start-up time of the command line and of ``import symgrad``, as ratios against
``python -c "import sympy, numpy"`` measured in the same run.

Targets (issue "What a new user meets first"): ``symgrad check``, ``symgrad derive`` and
``symgrad activations`` at most 1.2x the reference; ``python -c "import symgrad"`` at most
1.1x. Each command runs ``--runs`` times, taking turns with the reference so that load
from other work falls on all alike; the table shows the fastest run of each, divided by
the reference's fastest.

Every command runs with its bytecode cached, as from an installed package: the children
write and read it under a temporary ``PYTHONPYCACHEPREFIX`` (sympy's and numpy's as well),
filled by one untimed round first. ``--as-is`` runs them in this environment unchanged:
with ``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` in the checkout, every run then
compiles symgrad's sources (30 to 70 ms more for derive and check), which no installed
copy does.

    python benchmarks/bench_startup.py [--runs 7] [--as-is]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "derivations" / "two_neuron.toml")
CLI = [sys.executable, "-m", "symgrad.cli"]

COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "import sympy, numpy (reference)": ([sys.executable, "-c", "import sympy, numpy"], 1.0),
    "import symgrad": ([sys.executable, "-c", "import symgrad"], 1.1),
    "symgrad activations": (CLI + ["activations"], 1.2),
    "symgrad derive --wrt w2": (CLI + ["derive", SPEC, "--wrt", "w2"], 1.2),
    "symgrad check --expr": (CLI + ["check", SPEC, "--wrt", "w2", "--expr",
                                    "-(T - a2)*a2*(1 - a2)*a1"], 1.2),
    # no target, for reading the rows above: the command's exit skips the interpreter's
    # last collection (gc.freeze in symgrad.cli.run); these two show what that is worth
    "reference, then gc.freeze()": ([sys.executable, "-c",
                                     "import gc, sympy, numpy; gc.freeze()"], None),
    "derive, exiting without gc.freeze()": ([sys.executable, "-c",
                                             "import sys; from symgrad.cli import main; "
                                             f"sys.exit(main(['derive', {SPEC!r}, '--wrt', "
                                             "'w2']))"], None),
}


def _environment(folder: str | None) -> dict[str, str]:
    """The children's environment: bytecode cached under ``folder`` (``None``: as is)."""
    env = dict(os.environ)
    if folder is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = folder
    return env


def _timed(runs: int, env: dict[str, str]) -> tuple[dict[str, float], dict[str, float]]:
    """The fastest wall-clock and CPU seconds of each command over ``runs`` rounds."""
    wall = {name: float("inf") for name in COMMANDS}
    cpu = dict(wall)
    for _ in range(runs):
        for name, (command, _) in COMMANDS.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=env)
            wall[name] = min(wall[name], time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name] = min(cpu[name], after.ru_utime - before.ru_utime
                            + after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--as-is", action="store_true",
                        help="this environment unchanged (no bytecode cache if it has none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-pyc-") as folder:
        env = _environment(None if args.as_is else folder)
        for command, _ in COMMANDS.values():  # fills the bytecode cache; not timed
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=env)
        wall, cpu = _timed(args.runs, env)
    print("bytecode: " + ("as this environment has it" if args.as_is else "cached"))
    reference = "import sympy, numpy (reference)"
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'command':<38} {'wall':>6} {'cpu':>6} {'target':>7}")
    for name, (_, target) in COMMANDS.items():
        ratios = wall[name] / wall[reference], cpu[name] / cpu[reference]
        mark = "" if target is None or max(ratios) <= target else "  over"
        shown = "-" if target is None else f"<= {target:.1f}"
        print(f"{name:<38} {ratios[0]:>6.2f} {ratios[1]:>6.2f} {shown:>7}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
