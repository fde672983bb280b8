"""The documentation site builds with warnings as errors, its tutorials run, and its
reference pages show everything the code has: every activation and loss, every command
and option, every spec field, every public name.

The whole site is built once (``sphinx-build -W --keep-going -b html docs OUT`` in a
subprocess, tutorials executed: about two minutes on two cores); a small second project
shows that a spec table or a public name left off the pages fails the build.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docutils.nodes import make_id

for _module in ("sphinx", "myst_nb", "furo", "ipykernel"):
    pytest.importorskip(_module, reason=f"the docs extra is not installed (no {_module}): "
                                        "pip install -e '.[docs]'")

import symgrad  # noqa: E402
from symgrad.catalogue import ACTIVATIONS, LAYER_TYPES, LOSSES  # noqa: E402
from symgrad.cli import COMMANDS, build_parser  # noqa: E402
from symgrad.spec import FIELDS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
if not (DOCS / "conf.py").exists():  # an sdist carries the tests, not the docs
    pytest.skip("no docs/ in this tree", allow_module_level=True)
sys.path.insert(0, str(DOCS / "_ext"))

from symgrad_docs.docstrings import describe  # noqa: E402
from symgrad_docs.streams import merge  # noqa: E402


def _build(source: Path, out: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           str(source), str(out)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (its notebooks write beside it, in the same scratch folder)."""
    out = tmp_path_factory.mktemp("docs") / "html"
    proc = _build(DOCS, out, timeout=1500)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-4000:]}"
    return out


def _page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def _html(text: str) -> str:
    """``text`` as Sphinx writes it into a page (double quotes escaped, single ones not)."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def test_the_catalogue_page_has_a_section_and_a_plot_per_entry(site: Path) -> None:
    page = _page(site, "reference/catalogue.html")
    for name, act in ACTIVATIONS.items():
        assert f'id="{make_id("activation-" + name)}"' in page
        assert _html(act.kink) in page
    for name in LOSSES:
        assert f'id="{make_id("loss-" + name)}"' in page
    plots = re.findall(r'<div class="symgrad-plot"><svg ', page)
    assert len(plots) == len(ACTIVATIONS) + len(LOSSES)
    # the build checked each derivative rule against its definition
    assert page.count("the derivative rule against the derivative of the definition") \
        == len(ACTIVATIONS)
    for name in LAYER_TYPES:  # each layer type with its bounded settings
        assert f'id="{make_id("layer-" + name)}"' in page, name
    for name, value, bound in (("rate", "0.5", " (in [0, 1))"), ("momentum", "0.1", " (in [0, "
                               "1])"), ("eps", "1e-05", " (a number &gt;= 0)"), ("units", "8",
                               " (an integer &gt;= 1)"), ("sequence", "false", "")):
        assert (f'<span class="pre">{name}</span> <span class="pre">=</span> '
                f'<span class="pre">{value}</span></code>{bound}') in page, name


def test_the_cli_page_lists_every_command_and_option(site: Path) -> None:
    page = _page(site, "reference/cli.html")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    for name in COMMANDS:
        assert f'id="command-{name}"' in page
        section = page[page.index(f'id="command-{name}"'):]
        sub = commands.choices[name]
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f'<span class="pre">{option}' in section, (name, option)
        if sub.epilog:
            assert _html(sub.epilog) in section, name
    assert "\u2013" not in page  # no en dash: `--expr` copied from the page must work


def test_the_spec_page_lists_every_field_with_its_meaning(site: Path) -> None:
    page = _page(site, "reference/spec.html")
    for table, fields in FIELDS.items():
        for field, meaning in fields.items():
            row = (rf'<span class="pre">{re.escape(field)}</span></code></p></td>\s*'
                   rf"<td><p>{re.escape(_html(meaning))}</p></td>")
            assert re.search(row, page), (table, field)


def test_the_api_page_documents_every_public_name(site: Path) -> None:
    page = _page(site, "reference/api.html")
    for name in symgrad.__all__:
        anchors = (f'id="symgrad.{name}"', f'id="symgrad.{name}.{name}"')
        assert any(a in page for a in anchors), name
    # the functions a callable module stands for are documented as functions
    for name in ("derive", "compile", "train", "check"):
        assert f'id="symgrad.{name}.{name}"' in page


def test_the_tutorials_ran_and_show_their_results(site: Path) -> None:
    # numbers that only a run prints: dE/dw2 of two_neuron.toml, the tutorial's own spec
    assert "0.0570703982" in _page(site, "getting-started.html")
    assert "-0.007560613367" in _page(site, "tutorials/report.html")
    assert "exit status: 1" in _page(site, "tutorials/check.html")
    assert "1 passed" in _page(site, "tutorials/backprop.html")
    layer = _page(site, "tutorials/check-layer.html")
    assert "dx: batch norm without the mean terms" in layer and "exit status: 1" in layer
    training = _page(site, "tutorials/training.html")
    assert "epoch 3: training loss" in training and "'W1': (32, 64)" in training


def test_a_spec_table_or_name_left_off_the_pages_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'symgrad_docs']\n",
        encoding="utf-8")
    (tmp_path / "index.rst").write_text(
        "Part\n====\n\n.. symgrad-spec-fields:: top\n\n.. symgrad-api::\n\n   Spec load\n",
        encoding="utf-8")
    proc = _build(tmp_path, tmp_path / "out", timeout=300)
    assert proc.returncode != 0
    assert "no page shows the spec table 'network'" in proc.stderr
    assert "no page shows the public name 'derive'" in proc.stderr
    assert "the spec table 'top'" not in proc.stderr
    assert "the public name 'load'" not in proc.stderr


def test_notebook_streams_are_joined_as_they_came() -> None:
    chunks = [{"output_type": "stream", "name": "stdout", "text": "title = \"One inp"},
              {"output_type": "display_data", "data": {}},
              {"output_type": "stream", "name": "stdout", "text": "ut\"\n"},
              {"output_type": "stream", "name": "stderr", "text": "warn\n"}]
    merged = merge(chunks)
    assert [o.get("text") for o in merged] == ['title = "One input"\n', None, "warn\n"]


def test_symgrad_fields_are_read_as_descriptions() -> None:
    lines = ["Run it.", "", "Parameters", "----------", "net, spec : a network, or a spec.",
             "    More about it.", "level : ``\"auto\"``.", "", "Returns", "-------",
             "Result", "    what it did.", "", ">>> 1 + 1", "2"]
    assert describe(lines) == [
        "Run it.", "", "Parameters", "----------", "net, spec", "    a network, or a spec.",
        "    More about it.", "level", "    ``\"auto\"``.", "", "Returns", "-------",
        "Result", "    what it did.", "", "Examples", "--------", ">>> 1 + 1", "2"]
