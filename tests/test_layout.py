"""The package's shape: data flows one way, and nothing evaluates text.

Modules are ranked from left (errors) to right (cli); a module may import only from
modules of a lower rank. The ranks follow STYLE.md:
errors <- files <- spec <- catalogue <- architecture <- numbers/network <- derive <-
compile/verify/report <- cli.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "symgrad"

RANK = {
    "errors": 0, "callable_module": 0,  # modules callable as their function
    "files": 0.5,  # the one reader and writer: errors only, used from spec (1) up
    "spec": 1, "limits": 1.5,  # size limits per command, read off a spec
    "catalogue": 2, "printing": 2.2, "numbers": 3,  # every activation and loss, and float64
    "architecture": 2.5,  # layers and loss resolved once, for both derivation levels
    "stack": 2.6,  # dense layers and catalogue layer types (layer level only), on architecture
    "network": 3,
    "derive": 4,
    "printers_numeric": 3, "printers_tensor": 4, "runtime": 0, "chunked": 0.2, "kernel": 0.1, "compile": 5, "export": 6,  # runtime: NumPy only
    "kernel_terms": 4.5,  # a kernel's terms beyond delta * input (penalty, data), for compile
    "native": 4,  # fused C loops of printed assignments, used by compile (5)
    "native_rnn": 4.1,  # the recurrent layer's steps as C loops (native's machinery), for backends (6)
    "check": 6, "testing": 7,
    # the safe parser of maths knows the catalogue's names only; spec formulas use it
    "check.tables": 2.1, "check.lexer": 2.1, "check.parse": 2.1,
    "formulas": 2.3,  # formula-defined activations and losses from spec text  # check (parse, prove, diagnose) uses compile (5) for numbers
    "train": 7,  # gradient descent on compiled functions (5) and minibatch kernels (6)
    "datasets": 2, "backends": 6,  # minibatch kernels from compile (5)
    "analysis": 7.5,  # vanishing gradients and the experiments a report shows (train, 7)
    "report": 8,  # runs training (7) and checks hand derivations (check, 6) for its sections
    "exercises": 8.5,  # sheets and worked solutions through the report (8), grading by check
    "serve": 9,  # the practice page: a web app on the exercises (8.5)
}
CLI_RANK = 99


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _is_module(parts: list[str]) -> bool:
    path = PACKAGE.joinpath(*parts)
    return path.with_suffix(".py").exists() or path.is_dir()


def _rank(module: str) -> int | None:
    if module in ("", "__main__") or module.startswith("cli"):
        return CLI_RANK
    return RANK.get(module, RANK.get(module.split(".")[0]))


def _imports(path: Path) -> list[tuple[str, int]]:
    """symgrad modules imported by ``path`` (relative or absolute), with line numbers."""
    tree = ast.parse(path.read_text())
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", None) == "TYPE_CHECKING"
                   for n in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:  # annotations only, never run
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # from . import x, y: modules, or names of the package
                    found += [(".".join(base + [a.name]) if _is_module(base + [a.name])
                               else ".".join(base), node.lineno) for a in node.names]
                    continue
            elif node.module and node.module.startswith("symgrad"):
                target = node.module.removeprefix("symgrad").lstrip(".")
            else:
                continue
            found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name.removeprefix("symgrad").lstrip("."), node.lineno)
                      for a in node.names if a.name.startswith("symgrad")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "__init__" for p in MODULES])
def test_imports_flow_left_to_right(path: Path) -> None:
    me = _module_name(path)
    if me == "":  # the package's __init__ re-exports everything
        return
    mine = _rank(me)
    assert mine is not None, f"symgrad.{me} has no rank in tests/test_layout.py"
    for target, line in _imports(path):
        theirs = _rank(target)
        assert theirs is not None, f"{path.name}:{line} imports unranked symgrad.{target}"
        same_package = target.split(".")[0] == me.split(".")[0]
        assert theirs < mine or same_package or mine == theirs == CLI_RANK, (
            f"symgrad.{me} (rank {mine}) imports symgrad.{target} (rank {theirs}) at line {line}")


FORBIDDEN = {"eval", "exec", "sympify", "parse_expr", "S", "compile_restricted"}


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "__init__" for p in MODULES])
def test_nothing_evaluates_text(path: Path) -> None:
    """No call to eval, exec, sympify, parse_expr or S(...) anywhere in the package."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            assert name not in FORBIDDEN, f"{path.name}:{node.lineno} calls {name}()"


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "__init__" for p in MODULES])
def test_no_assert_on_input(path: Path) -> None:
    """Asserts vanish under python -O; user input needs real errors."""
    assert not any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(path.read_text())))


#: One job per module, one step per function (issue "One catalogue, one core").
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 600, 60


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "__init__" for p in MODULES])
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text()
    assert len(source.splitlines()) < MAX_MODULE_LINES, f"{path.name} is too long"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == [], f"{path.name}: {', '.join(long)}"
