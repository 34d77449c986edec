"""Rendering: the real Quarto render when a ``quarto`` executable is on PATH, and the
publishing logic around it (install help, staging, checks, keeping the old book)
with a stand-in ``quarto`` that writes a site like Quarto's."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from test_report_project import analysed_copy

from flygnn.cli import main
from flygnn.conditions import load_conditions
from flygnn.errors import FlygnnError
from flygnn.report import chapters, quarto
from flygnn.report.project import ProjectLayout
from flygnn.sections import figure_families

QUARTO = shutil.which("quarto")
needs_quarto = pytest.mark.skipif(
    QUARTO is None,
    reason="no `quarto` executable on PATH: install Quarto >= 1.9 (pip install quarto-cli) to run the render tests",
)

FAKE_QUARTO = textwrap.dedent(
    '''\
    #!{python}
    """A stand-in for `quarto`: writes one HTML page per chapter with the ids and images of
    its (include-expanded) Markdown, and the book PDF. FAKE_QUARTO_MODE: ok | fail |
    unresolved | nopdf."""
    import os, re, shutil, sys
    from pathlib import Path
    import yaml

    if sys.argv[1:] == ["--version"]:
        print("1.11.3")
        sys.exit(0)
    assert sys.argv[1] == "render" and sys.argv[2] == "--output-dir", sys.argv
    mode = os.environ.get("FAKE_QUARTO_MODE", "ok")
    site = Path(sys.argv[3]).resolve()
    site.mkdir(parents=True, exist_ok=True)
    Path(os.environ["FAKE_QUARTO_LOG"]).write_text(os.environ.get("FLYGNN_REPORT_UPDATED", "unset"))
    if mode == "fail":
        (site / "index.html").write_text("<html>half</html>")
        sys.exit(1)
    include = re.compile(r"\\{{\\{{<\\s*include\\s+(\\S+?)\\s*>\\}}\\}}")
    def expand(path):
        return include.sub(lambda m: expand(path.parent / m.group(1)), path.read_text())
    config = yaml.safe_load(Path("_quarto.yml").read_text())
    for chapter in config["book"]["chapters"]:
        source = Path(chapter)
        text = expand(source)
        ids = re.findall(r"\\{{#([\\w-]+)", text)
        images = re.findall(r"!\\[[^\\]]*\\]\\(([^)]+)\\)", text)
        page = site / source.with_suffix(".html")
        page.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f'<div id="{{i}}"></div>' for i in ids)
        for image in images:
            target = (page.parent / image).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source.parent / image, target)
            body += f'<img src="{{image}}">'
        if mode == "unresolved" and chapter == "index.qmd":
            body += "<strong>?@fig-nowhere</strong>"
        page.write_text(f"<html><body>{{body}}</body></html>")
    if mode != "nopdf":
        (site / (config["book"]["output-file"] + ".pdf")).write_bytes(b"%PDF-1.7 fake")
    '''
)


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch):
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    script = folder / "quarto"
    script.write_text(FAKE_QUARTO.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(tmp_path / "fake-quarto-env.txt"))
    return script


def book_project(root: Path) -> ProjectLayout:
    layout = analysed_copy(root)
    chapters.build_chapters(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    old_book = layout.root / "_book"
    old_book.mkdir()
    (old_book / "index.html").write_text("previous book")
    return layout


def test_complete_render_replaces_the_book(tmp_path, fake_quarto, monkeypatch):
    layout = book_project(tmp_path / "project")
    monkeypatch.setenv("FAKE_QUARTO_MODE", "ok")
    target = quarto.render_book(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    assert target == layout.root / "_book"
    assert (target / "flygnn-report.pdf").is_file()
    assert "previous book" not in (target / "index.html").read_text()
    assert (target / "results" / "sigma-0" / "figures" / "weights-corrected.png").is_file()
    assert not (layout.results / ".book-render").exists()
    record = json.loads((layout.results / "book-render.json").read_text())
    assert record["quarto"] == "1.11.3" and record["output"] == "_book"
    # the pre-render step inside this render must not update a second time
    assert (tmp_path / "fake-quarto-env.txt").read_text() == "1"


@pytest.mark.parametrize(
    "mode, problem",
    [
        ("fail", "quarto render failed (exit status 1"),
        ("unresolved", "index.html has unresolved cross-references ['?@fig-nowhere']"),
        ("nopdf", "the PDF flygnn-report.pdf was not produced"),
    ],
)
def test_failed_or_incomplete_render_keeps_the_previous_book(tmp_path, fake_quarto, monkeypatch, mode, problem):
    layout = book_project(tmp_path / "project")
    monkeypatch.setenv("FAKE_QUARTO_MODE", mode)
    with pytest.raises(FlygnnError) as error:
        quarto.render_book(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    assert problem in str(error.value)
    assert "the published book in _book/ was left as it was" in str(error.value)
    assert (layout.root / "_book" / "index.html").read_text() == "previous book"


def test_render_check_finds_missing_figures(tmp_path, fake_quarto, monkeypatch):
    layout = book_project(tmp_path / "project")
    monkeypatch.setenv("FAKE_QUARTO_MODE", "ok")
    site = tmp_path / "site"
    monkeypatch.chdir(layout.root)
    os.system(f"{fake_quarto} render --output-dir {site}")
    config = chapters.load_quarto_config(layout)
    conditions = load_conditions(layout.conditions_file)
    assert quarto.verify_render(site, layout, config, conditions) == []
    (site / "results" / "sigma-0p5" / "figures" / "tau.png").unlink()
    page = site / "chapters" / "biophysics.html"
    page.write_text(page.read_text().replace('id="fig-tau-sigma-0"', 'id="x"'))
    problems = quarto.verify_render(site, layout, config, conditions)
    assert "chapters/biophysics.html shows ../results/sigma-0p5/figures/tau.png, which is not in the site" in problems
    assert "figure #fig-tau-sigma-0 is missing from the HTML book" in problems


def test_without_quarto_everything_up_to_the_render_is_done(tmp_path, monkeypatch, capfd):
    layout = analysed_copy(tmp_path / "project")
    for name in ("sigma-0", "sigma-0p5"):
        (layout.result_dir(name) / ".analyzed").touch()
    monkeypatch.setattr(quarto, "find_quarto", lambda: None)
    monkeypatch.chdir(layout.root)
    assert main(["report"]) == 3
    out = capfd.readouterr().out
    assert "Quarto is not installed" in out
    assert "pip install quarto-cli" in out and "https://quarto.org/docs/get-started/" in out
    assert (layout.results / "book.json").is_file(), "the analyses and chapters are up to date"
    assert "{#fig-weights-raw-sigma-0p5}" in (layout.generated / "fig-weights-raw.qmd").read_text()


@needs_quarto
def test_quarto_renders_the_html_book_and_the_pdf(tmp_path, monkeypatch):
    layout = analysed_copy(tmp_path / "project")
    monkeypatch.chdir(layout.root)
    assert main(["report"]) == 0
    book = layout.root / "_book"
    assert (book / "index.html").is_file()
    assert (book / "flygnn-report.pdf").read_bytes()[:5] == b"%PDF-"
    config = chapters.load_quarto_config(layout)
    conditions = load_conditions(layout.conditions_file)
    assert quarto.verify_render(book, layout, config, conditions) == []
    html = "".join(p.read_text() for p in book.rglob("*.html"))
    assert "?@" not in html
    for family in figure_families():
        for condition in conditions:
            assert f'id="fig-{family.name}-{condition.name}"' in html
