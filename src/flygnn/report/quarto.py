"""Find Quarto, render the book into a staging folder, check it, then publish it.

A failed or incomplete render never replaces the book in ``_book/``: Quarto writes
into ``results/.book-render/`` (``--output-dir``), the result is checked (every
format produced, every figure present, every cross-reference resolved) and only
then swapped into the project's output folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flygnn.atomic import write_json
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout
from flygnn.report.book_check import SUMMARY_CHAPTER, chapter_files, load_quarto_config
from flygnn.report.chapters import figure_id
from flygnn.report.notebook_pages import missing_pages
from flygnn.sections import figure_families

# Typst books (the PDF) need Quarto 1.9 or later; the book was verified with 1.11.
MINIMUM_VERSION = (1, 9)
# set while `flygnn report` runs Quarto, so the pre-render step does not update twice
UPDATED_ENV = "FLYGNN_REPORT_UPDATED"
# what every book shows besides the σ-grids (flygnn.report.chapters.book_parts)
BOOK_IDS = {
    "sec-key-findings": "the key-findings page",
    "tbl-key-findings": "the key-findings table",
    "tbl-summary": "the summary table",
    "fig-metrics-vs-sigma": "the figure of the summary metrics against σ",
    "fig-recovery-curves": "the figure of recovery during training",
    "tbl-per-type-recovery": "the per-type table",
}
UNRESOLVED_REF = re.compile(r"\?@(?:fig|tbl|sec|eq)-[\w-]+")

Log = Callable[[str], None]


def install_help() -> str:
    return (
        "Quarto is not installed (no `quarto` on PATH). Everything up to the render is done: "
        "results/ holds the analyses and chapters/_generated/ the σ-grids and tables. To render "
        f"the book (HTML site and PDF) install Quarto {'.'.join(map(str, MINIMUM_VERSION))} or later, either\n"
        f"  {sys.executable} -m pip install quarto-cli      (into this environment; downloads Quarto)\n"
        "or the official installer from https://quarto.org/docs/get-started/ — then run "
        "`flygnn report` again (or `quarto render`)."
    )


def find_quarto() -> Path | None:
    """``quarto`` on PATH, or beside this interpreter (``pip install quarto-cli`` in a venv)."""
    found = shutil.which("quarto")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / "quarto"
    return beside if beside.is_file() and os.access(beside, os.X_OK) else None


def quarto_version(quarto: Path) -> tuple[int, ...]:
    try:
        out = subprocess.run([str(quarto), "--version"], capture_output=True, text=True, timeout=120, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise FlygnnError(f"{quarto} does not run ({exc}); reinstall Quarto. {install_help()}") from exc
    numbers = re.findall(r"\d+", out.stdout.strip())
    return tuple(int(n) for n in numbers[:3])


class _PageScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.unresolved: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if ident := values.get("id"):
            self.ids.add(ident)
        if tag == "img" and (source := values.get("src")):
            self.images.append(source)
        if "quarto-unresolved-ref" in (values.get("class") or ""):
            self.unresolved = True


# the root of a PDF's page tree, as Typst writes it (uncompressed): its /Count is the page count
PAGE_TREE = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)")


def pdf_page_count(pdf: Path) -> int | None:
    """The number of pages of ``pdf``, from its page tree (the largest /Count of a /Pages node);
    None where the tree is not readable as plain text (an object stream)."""
    counts = [int(n) for n in PAGE_TREE.findall(pdf.read_bytes())]
    return max(counts) if counts else None


def output_file_stem(config: dict[str, Any]) -> str:
    return str(config["book"].get("output-file") or "index")


def verify_render(
    site: Path, layout: ProjectLayout, config: dict[str, Any], conditions: Sequence[Condition]
) -> list[str]:
    """Problems of a rendered book in ``site`` (empty when it is complete)."""
    problems = []
    formats = config.get("format") or {}
    pages = {}
    for chapter in chapter_files(layout, config):
        page = site / Path(os.path.relpath(chapter, layout.root)).with_suffix(".html")
        if not page.is_file():
            problems.append(f"HTML page {page.relative_to(site)} was not produced")
            continue
        pages[page] = page.read_text(errors="replace")
    if {"typst", "pdf"} & set(formats):
        pdf = site / f"{output_file_stem(config)}.pdf"
        if not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
            problems.append(f"the PDF {pdf.name} was not produced")
    ids: set[str] = set()
    for page, html in pages.items():
        scan = _PageScan()
        scan.feed(html)
        ids |= scan.ids
        unresolved = sorted(set(UNRESOLVED_REF.findall(html)))
        if unresolved or scan.unresolved:
            problems.append(f"{page.relative_to(site)} has unresolved cross-references {unresolved or ''}")
        for src in scan.images:
            parts = urlsplit(src)
            if parts.scheme or src.startswith("data:"):
                continue
            if not (page.parent / unquote(parts.path)).resolve().is_file():
                problems.append(f"{page.relative_to(site)} shows {src}, which is not in the site")
    for family in figure_families():
        for condition in conditions:
            if figure_id(family, condition) not in ids:
                problems.append(f"figure #{figure_id(family, condition)} is missing from the HTML book")
    for identifier, what in BOOK_IDS.items():
        if identifier not in ids:
            problems.append(f"{what} #{identifier} is missing from the HTML book")
    if not (site / Path(SUMMARY_CHAPTER).with_suffix(".html")).is_file():
        problems.append(f"{SUMMARY_CHAPTER} was not rendered")
    # made by the book's post-render step (flygnn.report.post_render)
    problems += missing_pages(site, conditions)
    return problems


def _swap_into_place(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        shutil.move(str(target), str(old))
    try:
        shutil.move(str(staging), str(target))
    except BaseException:
        if old.exists() and not target.exists():
            shutil.move(str(old), str(target))
        raise
    shutil.rmtree(old, ignore_errors=True)


def render_book(
    layout: ProjectLayout, conditions: Sequence[Condition], quarto: Path | None = None, log: Log = print
) -> Path:
    """Run ``quarto render`` for the whole book; publish it to the output folder if complete.

    Returns the output folder (``_book/``). Raises FlygnnError when Quarto is
    missing, fails, or produces an incomplete book; the previous book is then kept.
    """
    config = load_quarto_config(layout)
    quarto = quarto or find_quarto()
    if quarto is None:
        raise FlygnnError(install_help())
    version = quarto_version(quarto)
    if version and version[:2] < MINIMUM_VERSION:
        log(
            f"warning: Quarto {'.'.join(map(str, version))} is older than "
            f"{'.'.join(map(str, MINIMUM_VERSION))}; its Typst output may not support books"
        )
    target = layout.project_root / str(config["project"].get("output-dir") or "_book")
    staging = layout.results / ".book-render"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    command = [str(quarto), "render", "--output-dir", os.path.relpath(staging, layout.root)]
    log(f"render: {' '.join(command)}")
    # the pre-render step calls `flygnn`: make it this environment's, even when not activated
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, UPDATED_ENV: "1", "PATH": path}
    completed = subprocess.run(command, cwd=layout.root, env=env)
    kept = f"the published book in {layout.relative(target)}/ was left as it was"
    if completed.returncode != 0:
        raise FlygnnError(
            f"quarto render failed (exit status {completed.returncode}, see its messages above); {kept}. "
            f"The partial output is in {layout.relative(staging)}/."
        )
    problems = verify_render(staging, layout, config, conditions)
    if problems:
        raise FlygnnError(
            "quarto render finished but the book is incomplete:\n"
            + "\n".join(f"- {p}" for p in problems)
            + f"\n{kept}; the render is in {layout.relative(staging)}/ for inspection."
        )
    _swap_into_place(staging, target)
    pdf = target / f"{output_file_stem(config)}.pdf"
    pages = pdf_page_count(pdf) if pdf.is_file() else None
    write_json(
        layout.render_record,
        {
            "rendered": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quarto": ".".join(map(str, version)),
            "output": layout.relative(target),
            "pdf_pages": pages,
        },
    )
    shown = f" and {layout.relative(pdf)}" + (f" ({pages} pages)" if pages else "") if pdf.is_file() else ""
    log(f"book: {layout.relative(target)}/index.html{shown}")
    return target
