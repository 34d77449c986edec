"""Rendering: the real Quarto render when a ``quarto`` executable is on PATH, and the
publishing logic around it (install help, staging, checks, keeping the old book)
with a stand-in ``quarto`` that writes a site like Quarto's."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from project_fixtures import EXTRA_METRIC, analysed_copy, write_fake_history, write_fake_per_type

from flygnn.cli import main
from flygnn.conditions import load_conditions
from flygnn.errors import FlygnnError
from flygnn.metric_names import METRICS, UPSTREAM_METRICS
from flygnn.project import ProjectLayout
from flygnn.report import book_check, chapters, quarto
from flygnn.sections import SECTIONS, figure_families

QUARTO = shutil.which("quarto")
needs_quarto = pytest.mark.skipif(
    QUARTO is None,
    reason="no `quarto` executable on PATH: install Quarto >= 1.9 (pip install quarto-cli) to run the render tests",
)

FAKE_QUARTO = textwrap.dedent(
    '''\
    #!{python}
    """A stand-in for `quarto`: writes one HTML page per chapter and appendix with the ids and images of
    its (include-expanded) Markdown, the book PDF and the notebook pages. FAKE_QUARTO_MODE:
    ok | fail | unresolved | nopdf | nonotebooks."""
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
    for chapter in config["book"]["chapters"] + config["book"].get("appendices", []):
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
    # the post-render step: one page per executed notebook
    from flygnn.sections import SECTIONS
    for condition in yaml.safe_load(Path("data/conditions.yaml").read_text())["conditions"]:
        for section in SECTIONS:
            if mode == "nonotebooks" and section.name == "spectral":
                continue
            page = site / "notebooks" / condition["name"] / f"{{section.name}}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text('<div class="cell" data-tags="[&quot;injected-parameters&quot;]"></div>')
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


@pytest.mark.slow
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
        ("nonotebooks", "the notebook page notebooks/sigma-0p5/spectral.html was not produced"),
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
    config = book_check.load_quarto_config(layout)
    conditions = load_conditions(layout.conditions_file)
    assert quarto.verify_render(site, layout, config, conditions) == []
    (site / "results" / "sigma-0p5" / "figures" / "tau-panel.png").unlink()
    page = site / "chapters" / "biophysics.html"
    page.write_text(page.read_text().replace('id="fig-tau-sigma-0"', 'id="x"'))
    problems = quarto.verify_render(site, layout, config, conditions)
    assert (
        "chapters/biophysics.html shows ../results/sigma-0p5/figures/tau-panel.png, which is not in the site"
        in problems
    )
    assert "figure #fig-tau-sigma-0 is missing from the HTML book" in problems


def test_without_quarto_everything_up_to_the_render_is_done(tmp_path, monkeypatch, capfd):
    layout = analysed_copy(tmp_path / "project")
    monkeypatch.setattr(quarto, "find_quarto", lambda: None)
    monkeypatch.chdir(layout.root)
    assert main(["report"]) == 3
    out = capfd.readouterr().out
    assert "Quarto is not installed" in out
    assert "pip install quarto-cli" in out and "https://quarto.org/docs/get-started/" in out
    assert (layout.results / "book.json").is_file(), "the analyses and chapters are up to date"
    assert "{#fig-weights-raw-sigma-0p5 " in (layout.generated / "fig-weights-raw.qmd").read_text()


# --- the real Quarto ---------------------------------------------------------------------

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="no `pdftotext` on PATH: install poppler-utils to check the PDF's layout"
)
# names of a condition's metrics that stand for many long ones: the additional-metrics
# table gets longer than a page


def stress_metrics() -> list[str]:
    """Registered metrics (the book refuses any other name) that the hand-written chapters do not mention,
    so that each is first printed in a generated table; a multiple of the sections in number, so that the
    last of them, given to the last section, is the table's last row."""
    chapters_dir = Path(__file__).resolve().parents[1] / "chapters"
    prose = " ".join(path.read_text() for path in chapters_dir.glob("*.qmd")).replace("\\_", "_")
    names = [
        name
        for name in METRICS
        if name not in UPSTREAM_METRICS and not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", prose)
    ]
    return names[: len(names) // len(SECTIONS) * len(SECTIONS)]


STRESS_METRICS = stress_metrics()


@dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def pdf_words(pdf: Path) -> list[tuple[float, float, list[Word]]]:
    """(width, height, words) of every page, from poppler's ``pdftotext -bbox``."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = []
    for number, page in enumerate(re.findall(r"<page (.*?)</page>", out, re.S), start=1):
        width, height = map(float, re.search(r'width="([\d.]+)" height="([\d.]+)"', page).groups())
        words = [
            Word(number, *map(float, m.groups()[:4]), html.unescape(m.group(5)))
            for m in re.finditer(
                r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>', page
            )
        ]
        pages.append((width, height, words))
    return pages


def typeset_math(word: Word) -> bool:
    """A glyph of typeset maths (italic maths letters, combining accents, lone symbols), whose
    boxes stack on purpose: a hat over a letter, a sub- over a superscript."""
    return any(0x1D400 <= ord(c) <= 0x1D7FF or unicodedata.combining(c) for c in word.text) or not any(
        c.isalnum() for c in word.text
    )


def overprinted(words: list[Word]) -> list[tuple[Word, Word]]:
    """Pairs of words whose boxes overlap by more than a fifth of the smaller one."""
    pairs = []
    ordered = sorted(words, key=lambda w: w.y0)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.y0 >= a.y1:
                break
            dx, dy = min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0)
            smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
            if dx > 0.5 and dy > 0 and dx * dy > 0.2 * smaller and not (typeset_math(a) or typeset_math(b)):
                pairs.append((a, b))
    return pairs


def test_the_page_count_is_read_from_the_root_of_the_page_tree(tmp_path):
    pdf = tmp_path / "book.pdf"
    pdf.write_bytes(
        b"%PDF-1.7\n1 0 obj\n<< /Type /Pages /Count 5 /Kids [2 0 R 3 0 R] >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Parent 1 0 R /Count 2 /Kids [] >>\nendobj\n"
        b"3 0 obj\n<</Type/Pages/Parent 1 0 R/Count 3/Kids[]>>\nendobj\n4 0 obj\n<< /Type /Outlines /Count 9 >>\n"
    )
    assert quarto.pdf_page_count(pdf) == 5
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /N 3 >>\nstream\nx\nendstream\n")
    assert quarto.pdf_page_count(pdf) is None, "a page tree hidden in an object stream is not guessed"


def test_the_layout_check_finds_overprinted_words():
    row = [Word(1, 10, 10, 60, 20, "W_raw_R2"), Word(1, 70, 10, 90, 20, "0.51")]
    assert overprinted(row) == []
    on_top = Word(1, 12, 12, 58, 21, "tau_R2")
    assert overprinted([*row, on_top]) == [(row[0], on_top)]
    hat = Word(1, 12, 8, 16, 12, "\u0302")
    assert overprinted([*row, hat, Word(1, 11, 9, 20, 19, "𝑊")]) == [], "maths glyphs stack on purpose"


@pytest.fixture(scope="module")
def rendered_book(tmp_path_factory):
    """The stand-in project rendered by the real Quarto, with inputs that once broke the
    layout: a table longer than a page, long metric names, a NaN, a text value, a metric
    missing for one condition, and an absolute path recorded by the training machine."""
    root = tmp_path_factory.mktemp("book")
    layout = analysed_copy(root / "project")
    conditions = load_conditions(layout.conditions_file)
    metrics_path = layout.result_dir("sigma-0") / "metrics.json"
    document = json.loads(metrics_path.read_text())
    for number, name in enumerate(STRESS_METRICS):
        document["metrics"][name] = {
            "value": number / 7,
            "definition": "stand-in",
            "section": SECTIONS[number % len(SECTIONS)].name,
            "description": "a long description that has to wrap inside its cell of the table " * (number % 3),
        }
    document["metrics"]["tau_R2"]["value"] = float("nan")
    document["metrics"][EXTRA_METRIC["connectivity"]]["value"] = "not a number"
    metrics_path.write_text(json.dumps(document))
    metrics_path = layout.result_dir("sigma-0p5") / "metrics.json"
    document = json.loads(metrics_path.read_text())
    del document["metrics"]["V_rest_R2"]
    metrics_path.write_text(json.dumps(document))
    manifest_path = layout.result_dir("sigma-0") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["bundle"]["groundtruth"]["source"] = "/home/trainer/flyvis_pretrained/flow/0000/000"
    manifest_path.write_text(json.dumps(manifest))
    # a training history and a per-type table for one condition only: the other reads "not available"
    write_fake_history(layout.bundle_dir("sigma-0p5"))
    write_fake_per_type(layout.result_dir("sigma-0"), zero_range=(1, 0))
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    # a previous book, with the resources it was given: none of them may reach the new one
    stale = layout.root / "_book" / "results" / "sigma-0" / "notebooks" / "stale.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    with fd_output() as printed:
        book = quarto.render_book(layout, conditions, log=lambda m: None)
    return layout, conditions, book, printed[0]


@contextlib.contextmanager
def fd_output():
    """What subprocesses print to file descriptors 1 and 2 meanwhile: yields a list that holds it
    (one string) once the block ends."""
    printed: list[str] = []
    saved = [os.dup(1), os.dup(2)]
    try:
        with tempfile.TemporaryFile() as sink:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(sink.fileno(), 1), os.dup2(sink.fileno(), 2)
            try:
                yield printed
            finally:
                os.dup2(saved[0], 1), os.dup2(saved[1], 2)
                sink.seek(0)
                printed.append(sink.read().decode(errors="replace"))
    finally:
        os.close(saved[0]), os.close(saved[1])


@needs_quarto
def test_quarto_renders_the_html_book_and_the_pdf(rendered_book):
    layout, conditions, book, _ = rendered_book
    assert (book / "index.html").is_file()
    assert (book / "flygnn-report.pdf").read_bytes()[:5] == b"%PDF-"
    assert quarto.pdf_page_count(book / "flygnn-report.pdf") == len(pdf_words(book / "flygnn-report.pdf"))
    config = book_check.load_quarto_config(layout)
    assert quarto.verify_render(book, layout, config, conditions) == []
    assert not list(book.rglob("stale.ipynb")), "the resource globs match the project's results/, not the old _book/"
    pages = "".join(p.read_text() for p in (book / "notebooks").rglob("*.html"))
    assert str(layout.root) not in pages, "no absolute path of this machine in the notebook pages"
    html_text = "".join(p.read_text() for p in (book / "chapters").glob("*.html")) + (book / "index.html").read_text()
    assert "?@" not in html_text
    for family in figure_families():
        for condition in conditions:
            assert f'id="fig-{family.name}-{condition.name}"' in html_text
    # every figure opens at full size; σ-grids are wider than the text column
    connectivity = (book / "chapters" / "connectivity.html").read_text()
    assert connectivity.count('class="lightbox"') == 2 * len(conditions)
    assert 'data-gallery="weights-raw"' in connectivity
    assert "column-page-right" in connectivity
    # the figures across conditions and the per-type table, cross-referenced from the summary chapter
    summary = (book / "chapters" / "summary.html").read_text()
    for identifier in ("fig-recovery-curves", "fig-metrics-vs-sigma", "tbl-per-type-recovery"):
        assert f'id="{identifier}"' in html_text, identifier
        assert re.search(rf'href="(\./)?(biophysics\.html)?#{identifier}"', summary), identifier
    assert "its bundle has no training history" in summary
    assert (book / "results" / "book-figures" / "recovery-curves.png").is_file()
    assert (book / "results" / "downloads" / "summary.csv").is_file(), "the downloads are in the site"
    assert (book / "results" / "sigma-0" / "per-type.csv").is_file()
    biophysics = (book / "chapters" / "biophysics.html").read_text()
    assert "no results/sigma-0p5/per-type.csv" in biophysics
    # searchable and sortable offline: the DataTables bundle is part of the site
    assert 'from "../results/book-assets/dt_bundle.js"' in biophysics
    assert (book / "results" / "book-assets" / "dt_bundle.js").is_file()
    # bad input shows as "n/a" with its reason, never as a broken table
    assert "Not available for σ&nbsp;=&nbsp;0 (unreadable: metrics.json holds" in summary
    assert "Not available for σ&nbsp;=&nbsp;0.5 (not computed: absent from results/sigma-0p5/metrics.json)" in (
        (book / "index.html").read_text()
    )
    # the landing page is the key findings, each verdict linked to its evidence
    landing = (book / "index.html").read_text()
    assert 'id="sec-key-findings"' in landing and 'id="tbl-key-findings"' in landing
    assert re.search(r'href="chapters/connectivity\.html#fig-weights-corrected"', landing)
    assert 'href="#tbl-summary"' in landing, "with the numbers behind the verdicts"
    # the summary table is Table 2 of that page: the preface, unnumbered too, has no table of its own
    assert "Table&nbsp;1: Key findings" in landing and "Table&nbsp;2: Recovery of connectivity" in landing


@needs_quarto
def test_quarto_renders_the_book_without_a_warning(rendered_book):
    # a warning in every render teaches users to ignore warnings
    printed = rendered_book[3]
    assert "Output created" in printed, "the render's output was captured"
    warnings = [line for line in printed.splitlines() if "WARN" in line or "WARNING" in line]
    assert not warnings, "\n".join(warnings)


@needs_quarto
def test_the_executed_notebooks_are_pages_of_the_site(rendered_book):
    layout, conditions, book, _ = rendered_book
    chapter = (book / "chapters" / "embeddings.html").read_text()
    for condition in conditions:
        assert f'href="../notebooks/{condition.name}/embeddings.html"' in chapter
        page = book / "notebooks" / condition.name / "embeddings.html"
        text = page.read_text()
        # the parameters papermill injected, with this condition's values, and the stored code
        injected = text[text.index("injected-parameters") :]
        assert f"{condition.name}" in injected[:3000]
        download = re.search(r'href="([^"]+\.ipynb)" download="embeddings-' + condition.name, text).group(1)
        assert (page.parent / download).resolve().is_file(), "the .ipynb is downloadable from its page"
    assert (book / "notebooks" / "index.html").is_file()


@needs_quarto
@needs_pdftotext
def test_pdf_words_neither_overprint_nor_leave_the_page(rendered_book):
    _, _, book, _ = rendered_book
    pages = pdf_words(book / "flygnn-report.pdf")
    problems = []
    for width, height, words in pages:
        problems += [f"page {a.page}: {a.text!r} and {b.text!r} overprint" for a, b in overprinted(words)]
        problems += [
            f"page {w.page}: {w.text!r} leaves the page"
            for w in words
            if w.x0 < 0 or w.y0 < 0 or w.x1 > width or w.y1 > height
        ]
    assert problems == []


@needs_quarto
@needs_pdftotext
def test_pdf_tables_continue_on_the_next_page_and_read_well(rendered_book):
    layout, _, book, _ = rendered_book
    pages = pdf_words(book / "flygnn-report.pdf")
    page_of = {}
    for _, _, words in pages:
        for word in words:
            page_of.setdefault(word.text.replace("\u200b", ""), word.page)
    first, last = STRESS_METRICS[0], STRESS_METRICS[-1]
    assert first in page_of and last in page_of, "every row is printed"
    assert page_of[last] > page_of[first], "the long table continues on the next page"
    header_pages = {w.page for _, _, words in pages for w in words if w.text == "Definition"}
    assert len(header_pages) >= 2, "its header row is repeated"
    text = subprocess.run(["pdftotext", str(book / "flygnn-report.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Table 1:" in text and "Table 0." not in text, "the preface's table is Table 1, as in HTML"
    assert not re.search(r"Chapter \d+\.\.", text), "no doubled full stop after a chapter reference"
    assert "/home/" not in text and str(layout.root) not in text, "no absolute path of any machine"
    assert "Not available for" in text
    assert "ITable" not in text and "dt_bundle" not in text, "the table's script stays out of the PDF"


@needs_quarto
@needs_pdftotext
def test_pdf_prints_the_type_key_once_and_opens_with_the_key_findings(rendered_book):
    _, _, book, _ = rendered_book
    pdf = book / "flygnn-report.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = text.split("\f")
    # the key findings follow the title; the contents follow them, before the preface
    assert pages[1].lstrip().startswith("Key findings")
    assert text.index("Key findings") < text.index("Contents") < text.index("Preface")
    assert text.count("Cell-type colours.") == 1, "the PDF's single key of the type colours (#fig-type-colours)"
    # the HTML keeps the key under every σ-grid coloured by type (the PDF's filter leaves it out there)
    html = "".join(p.read_text() for p in (book / "chapters").glob("*.html"))
    with_legend = [family for family in figure_families() if family.type_legend]
    assert html.count('class="type-legend') >= len(with_legend)
