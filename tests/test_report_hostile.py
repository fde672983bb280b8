"""Reports under attack and accident: the figures folder, hostile text in every field and
format, specs a report cannot fully compute, and a build killed by SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symgrad import derive, load
from symgrad.errors import ReportError
from symgrad.report.folder import MANIFEST
from symgrad.report.render import render_report

from .conftest import DERIVATIONS, run_cli_here

TWO = DERIVATIONS / "two_neuron.toml"
LINEAR = DERIVATIONS / "linear_cost.toml"  # figures: cost, rates, loss


def _tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (links as ``-> target``), by relative path."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = f"-> {p.readlink()}"
        elif p.is_file():
            out[rel] = p.read_bytes().hex()[:40]
    return out


# -- the figures folder (item 3) ----------------------------------------------------------


def test_a_file_symgrad_did_not_write_stops_the_report_and_survives(tmp_path: Path) -> None:
    assert run_cli_here("report", LINEAR, "-o", tmp_path / "r.md").returncode == 0
    figures = tmp_path / "r-figures"
    (figures / "my-plot.svg").write_text("mine")
    (tmp_path / "r.md").unlink()
    before = _tree(tmp_path)
    result = run_cli_here("report", TWO, "-o", tmp_path / "r.md")
    assert result.returncode == 2
    assert result.stderr == (
        f"symgrad report: error: {figures}: the figures folder holds a file symgrad did not "
        "write (my-plot.svg); move it away, or give --force to write beside it (symgrad "
        "removes only files it wrote)\n")
    assert _tree(tmp_path) == before  # nothing written, nothing removed


def test_force_writes_beside_foreign_files_and_removes_only_its_own(tmp_path: Path) -> None:
    assert run_cli_here("report", LINEAR, "-o", tmp_path / "r.md").returncode == 0
    figures = tmp_path / "r-figures"
    assert sorted(p.name for p in figures.glob("*.svg")) == \
        ["cost.svg", "loss.svg", "rates.svg"]
    (figures / "my-plot.svg").write_text("mine")
    (figures / "notes.txt").write_text("notes")
    result = run_cli_here("report", TWO, "-o", tmp_path / "r.md", "--force")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in figures.iterdir()) == \
        [MANIFEST, "activation-sigmoid.svg", "my-plot.svg", "notes.txt"]
    assert (figures / "my-plot.svg").read_text() == "mine"
    manifest = json.loads((figures / MANIFEST).read_text())
    assert sorted(manifest["written"]) == ["activation-sigmoid.svg"]


def test_a_tex_and_a_md_report_share_the_folder(tmp_path: Path) -> None:
    d = derive(load(LINEAR))
    render_report(d, tmp_path / "r.tex")
    render_report(d, tmp_path / "r.md")
    render_report(derive(load(TWO)), tmp_path / "r.md")  # its SVGs replace the others
    names = sorted(p.name for p in (tmp_path / "r-figures").iterdir())
    assert names == [MANIFEST, "activation-sigmoid.svg", "cost.pdf", "loss.pdf", "rates.pdf"]


def test_a_symlinked_figures_folder_is_refused_even_with_force(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "thesis-figure.pdf").write_text("precious")
    (elsewhere / "loss.svg").write_text("precious too")
    out = tmp_path / "out"
    out.mkdir()
    (out / "r-figures").symlink_to(elsewhere)
    before = _tree(tmp_path)
    for extra in ((), ("--force",)):
        for ext in ("md", "tex"):
            result = run_cli_here("report", LINEAR, "-o", out / f"r.{ext}", *extra)
            assert result.returncode == 2
            assert result.stderr == (
                f"symgrad report: error: {out / 'r-figures'}: the figures folder is a "
                "symbolic link; symgrad writes figures only into a real folder: remove the "
                "link, or name the report otherwise\n")
    assert _tree(tmp_path) == before


def test_a_link_inside_the_folder_is_never_written_through(tmp_path: Path) -> None:
    render_report(derive(load(TWO)), tmp_path / "r.md")
    figures = tmp_path / "r-figures"
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite")
    (figures / "activation-sigmoid.svg").unlink()
    (figures / "activation-sigmoid.svg").symlink_to(victim)
    with pytest.raises(ReportError, match=r"did not write \(activation-sigmoid\.svg\)"):
        render_report(derive(load(TWO)), tmp_path / "r.md")
    render_report(derive(load(TWO)), tmp_path / "r.md", force=True)
    assert victim.read_text() == "do not overwrite"
    figure = figures / "activation-sigmoid.svg"
    assert not figure.is_symlink() and figure.read_text().startswith("<?xml")


def test_a_figure_changed_by_hand_counts_as_the_users(tmp_path: Path) -> None:
    d = derive(load(TWO))
    render_report(d, tmp_path / "r.md")
    figure = tmp_path / "r-figures" / "activation-sigmoid.svg"
    original = figure.read_bytes()
    figure.write_bytes(original.replace(b"<svg", b"<svg data-edited='yes'", 1))
    with pytest.raises(ReportError, match=r"did not write \(activation-sigmoid\.svg\)"):
        render_report(d, tmp_path / "r.md")
    render_report(d, tmp_path / "r.md", force=True)
    assert figure.read_bytes() == original


def test_a_lost_manifest_still_accepts_the_very_figures_about_to_be_written(
        tmp_path: Path) -> None:
    d = derive(load(TWO))
    render_report(d, tmp_path / "r.md")
    (tmp_path / "r-figures" / MANIFEST).unlink()  # as after an interrupted first report
    render_report(d, tmp_path / "r.md")
    assert (tmp_path / "r-figures" / MANIFEST).exists()


def test_a_forged_manifest_cannot_direct_a_removal_outside_the_folder(tmp_path: Path) -> None:
    d = derive(load(LINEAR))
    render_report(d, tmp_path / "r.md")
    outside = tmp_path / "outside.svg"
    outside.write_text("x")
    manifest = tmp_path / "r-figures" / MANIFEST
    data = json.loads(manifest.read_text())
    data["written"]["../outside.svg"] = data["written"]["cost.svg"]
    manifest.write_text(json.dumps(data))
    render_report(derive(load(TWO)), tmp_path / "r.md")
    assert outside.read_text() == "x"
