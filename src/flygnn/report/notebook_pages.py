"""The executed notebooks as pages of the site.

Papermill leaves one executed notebook per analysis section and condition
(``results/<condition>/notebooks/<section>.ipynb``). A reader should see them as pages,
not download JSON; but a Quarto book prints every page it renders into its PDF, and
Quarto's notebook preview pages are not made in books. So the notebooks get a small
Quarto *website* of their own, rendered after the book (the book's ``post-render``
step, :mod:`flygnn.report.post_render`, calls :func:`render_notebook_pages`) into
``<book>/notebooks/``:

- ``notebooks/<condition>/<section>.html``: the whole executed notebook embedded with
  its code (``{{< embed … echo=true >}}``): the parameters cell, the parameters papermill
  injected, every cell and its stored outputs. Quarto never executes it
  (``execute: enabled: false``). Links: download the ``.ipynb`` (the book copies the
  files as resources), back to the chapter, to the list of all notebooks.
- ``notebooks/index.html``: every notebook, by section and condition.

The pages embed a copy of each executed notebook whose Markdown cells are made literal
(:func:`literal_prose`): the notebooks' prose is written in the paper's notation, where
``*`` and ``_`` are symbols (W*, s_f, ``W_corrected_R2``), and Pandoc would otherwise
read a pair of them as emphasis and set the text between them in italics. The
downloadable ``.ipynb`` stays the file papermill wrote.

The site's sources are derived from the conditions and sections and are written under
``results/notebook-site/`` just before each render, never committed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from flygnn.atomic import write_text
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout
from flygnn.report.markdown import escape_markdown, pipe_table
from flygnn.sections import SECTIONS, Section

SITE_FOLDER = "notebooks"  # under the book's output folder
SOURCE_FOLDER = "notebook-site"  # under results/
# the embedded copies, per condition; Quarto renders nothing in a folder whose name starts with "_"
EMBEDDED_FOLDER = "_notebooks"
Log = Callable[[str], None]


def page_href(condition: str, section: str, from_folder: str = "") -> str:
    """URL of a notebook page from a page of the book in ``from_folder`` ("" = its root, "chapters")."""
    up = "../" * len(Path(from_folder).parts) if from_folder else ""
    return f"{up}{SITE_FOLDER}/{condition}/{section}.html"


def page_path(site: Path, condition: str, section: str) -> Path:
    """Where the page of one notebook is in a rendered book ``site``."""
    return site / page_href(condition, section)


def executed_notebook(layout: ProjectLayout, condition: str, section: str) -> Path:
    return layout.result(condition).notebook(section)


def source_dir(layout: ProjectLayout) -> Path:
    return layout.results / SOURCE_FOLDER


# Markdown that already means what it says: fenced code, code spans, maths, link targets, HTML tags
# and autolinks.
_KEEP = re.compile(
    r"^(?P<fence>```|~~~).*?^(?P=fence)[^\n]*$"
    r"|(?P<ticks>`+).+?(?P=ticks)"
    r"|\$\$.+?\$\$|\$[^$\n]+\$"
    r"|\]\([^)\n]*\)"
    r"|<[A-Za-z/!][^>\n]*>",
    re.MULTILINE | re.DOTALL,
)
_EMPHASIS = re.compile(r"(?<!\\)[*_]")
_BULLET = re.compile(r"^([ \t]*)\\\*(?=[ \t])", re.MULTILINE)


def literal_prose(markdown: str) -> str:
    """``markdown`` with every ``*`` and ``_`` of its prose escaped, so none starts emphasis.

    Code (fenced or in backticks), maths, link targets, HTML tags and autolinks are left as they are,
    and so is a ``*`` that marks a list item; headings, lists and links keep working.
    """
    parts, last = [], 0
    for match in _KEEP.finditer(markdown):
        parts += [_escape_emphasis(markdown[last : match.start()]), match.group(0)]
        last = match.end()
    parts.append(_escape_emphasis(markdown[last:]))
    return "".join(parts)


def _escape_emphasis(prose: str) -> str:
    return _BULLET.sub(r"\1*", _EMPHASIS.sub(lambda m: "\\" + m.group(0), prose))


def embedded_notebook(notebook: dict) -> dict:
    """The executed notebook as its page shows it: Markdown cells made literal
    (:func:`literal_prose`), HTML outputs as raw HTML (:func:`offline_output`), code cells and
    the rest of their stored outputs untouched."""
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            literal = literal_prose("".join(source) if isinstance(source, list) else source)
            # as lines, the way Jupyter stores them: Quarto joins a cell's lines and loses the
            # line breaks of a source given as one string (a heading ran into its paragraph)
            cell = {**cell, "source": literal.splitlines(keepends=True)}
        elif cell.get("cell_type") == "code" and cell.get("outputs"):
            cell = {**cell, "outputs": [offline_output(output) for output in cell["outputs"]]}
        cells.append(cell)
    return {**notebook, "cells": cells}


def offline_output(output: dict) -> dict:
    """A stored output whose ``text/html`` (a pandas table) becomes a raw HTML block in ``text/markdown``.

    Quarto takes any ``text/html`` output for a JavaScript widget and loads require.js and jQuery
    from a CDN into the page: the page then needs the network, and our tables need neither. The
    same HTML as a raw block in a Markdown output reaches the page unchanged, without the scripts.
    """
    data = output.get("data")
    if not isinstance(data, dict) or "text/html" not in data:
        return output
    html = data["text/html"]
    html = "".join(html) if isinstance(html, list) else str(html)
    if "<script" in html:  # a real widget: keep it, and with it what it needs
        return output
    rest = {kind: value for kind, value in data.items() if kind not in ("text/html", "text/plain")}
    return {**output, "data": {**rest, "text/markdown": f"```{{=html}}\n{html}\n```\n"}}


def embedded_path(layout: ProjectLayout, condition: str, section: str) -> Path:
    """Where the notebook site keeps the copy of a notebook that its page embeds."""
    return source_dir(layout) / condition / EMBEDDED_FOLDER / f"{section}.ipynb"


def _book_relative(layout: ProjectLayout, path: Path) -> str:
    """``path`` (a file the book copies as a resource) from a notebook page: two folders down."""
    return "../../" + layout.relative(path)


def _page(layout: ProjectLayout, condition: Condition, section: Section) -> str:
    notebook = executed_notebook(layout, condition.name, section.name)
    folder = source_dir(layout) / condition.name
    front = {
        "title": f"{section.title}: {condition.label}",
        "subtitle": f"analysis/{section.name}.ipynb as papermill executed it for {condition.name}",
    }
    embed = Path(os.path.relpath(embedded_path(layout, condition.name, section.name), folder)).as_posix()
    return (
        "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n"
        f"[Download the executed notebook]({_book_relative(layout, notebook)})"
        f'{{download="{section.name}-{condition.name}.ipynb"}} · '
        f"[Back to the chapter](../../chapters/{section.name}.html) · [All notebooks](../index.html)\n\n"
        "The notebook as papermill left it; Quarto shows its stored outputs and never runs it. The second "
        "code cell holds the parameters papermill injected for this noise level.\n\n"
        f"{{{{< embed {embed} echo=true >}}}}\n"
    )


def _index(layout: ProjectLayout, conditions: Sequence[Condition], book_title: str) -> str:
    header = ["Section"] + [escape_markdown(c.label) for c in conditions]
    rows = [
        [f"[{escape_markdown(s.title)}](../chapters/{s.name}.html)"]
        + [f"[notebook]({c.name}/{s.name}.qmd)" for c in conditions]
        for s in SECTIONS
    ]
    front = {"title": "Executed notebooks"}
    return (
        "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n\n"
        f"One notebook per analysis section and noise level of [{escape_markdown(book_title)}](../index.html), "
        "executed by papermill before the book was assembled and shown here with its parameters and "
        "outputs.\n\n" + pipe_table(header, rows, ["left"] * len(header), [2.0] + [1.0] * len(conditions))
    )


def _config(conditions: Sequence[Condition], book_title: str) -> str:
    config = {
        "project": {"type": "website", "render": ["index.qmd", "*/*.qmd"]},
        "website": {
            "title": f"{book_title}: executed notebooks",
            "sidebar": {
                "style": "docked",
                "contents": ["index.qmd"]
                + [
                    {
                        "section": c.label,
                        "contents": [{"href": f"{c.name}/{s.name}.qmd", "text": s.title} for s in SECTIONS],
                    }
                    for c in conditions
                ],
            },
        },
        "execute": {"enabled": False},
        "format": {
            "html": {
                "theme": "default",
                "toc": True,
                "lightbox": True,
                "html-math-method": "mathml",
                # the page is the notebook: no extra "source notebook" links under each cell
                "notebook-links": False,
            }
        },
    }
    return "# Written by flygnn.report.notebook_pages before every render; do not edit.\n" + yaml.safe_dump(
        config, allow_unicode=True, sort_keys=False
    )


def site_sources(layout: ProjectLayout, conditions: Sequence[Condition], book_title: str) -> dict[Path, str]:
    """The files of the notebook site: its ``_quarto.yml``, index, one page per notebook and the
    copy of the executed notebook that the page embeds (read from ``results/``)."""
    folder = source_dir(layout)
    files = {
        folder / "_quarto.yml": _config(conditions, book_title),
        folder / "index.qmd": _index(layout, conditions, book_title),
    }
    for condition in conditions:
        for section in SECTIONS:
            files[folder / condition.name / f"{section.name}.qmd"] = _page(layout, condition, section)
            executed = json.loads(executed_notebook(layout, condition.name, section.name).read_text(encoding="utf-8"))
            files[embedded_path(layout, condition.name, section.name)] = (
                json.dumps(embedded_notebook(executed), ensure_ascii=False, indent=1) + "\n"
            )
    return files


def missing_pages(site: Path, conditions: Sequence[Condition]) -> list[str]:
    """Problems of the notebook pages in a rendered book ``site`` (empty when complete)."""
    problems = []
    for condition in conditions:
        for section in SECTIONS:
            page = page_path(site, condition.name, section.name)
            if not page.is_file():
                problems.append(f"the notebook page {page.relative_to(site)} was not produced")
            elif "injected-parameters" not in page.read_text(errors="replace"):
                problems.append(f"{page.relative_to(site)} does not show the parameters papermill injected")
    return problems


def forget_source_folder(page: Path, folder: Path) -> None:
    """Make the paths of the site's sources in a rendered ``page`` relative to ``folder``: Quarto
    records each embedded notebook by its absolute path (``data-notebook``), which names the
    machine's folders in the published site."""
    text = original = page.read_text(encoding="utf-8")
    for prefix in {str(folder) + os.sep, str(folder.resolve()) + os.sep}:
        text = text.replace(prefix, "")
    if text != original:
        page.write_text(text, encoding="utf-8")


def render_notebook_pages(
    layout: ProjectLayout, conditions: Sequence[Condition], book: Path, quarto: Path, book_title: str, log: Log = print
) -> Path:
    """Write the notebook site's sources and render them into ``book``/notebooks/; returns that folder."""
    absent = [
        layout.relative(executed_notebook(layout, c.name, s.name))
        for c in conditions
        for s in SECTIONS
        if not executed_notebook(layout, c.name, s.name).is_file()
    ]
    if absent:
        raise FlygnnError(
            f"the notebook pages cannot be made, these executed notebooks are missing: {absent}. "
            "Run `flygnn report` (it analyses what changed)."
        )
    folder = source_dir(layout)
    shutil.rmtree(folder, ignore_errors=True)
    for path, text in site_sources(layout, conditions, book_title).items():
        write_text(path, text)
    output = book.resolve() / SITE_FOLDER
    shutil.rmtree(output, ignore_errors=True)
    # the outer render's QUARTO_PROJECT_* describe the book, not this site
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTO_PROJECT_")}
    command = [str(quarto), "render", ".", "--output-dir", str(output)]
    log(f"notebook pages: {' '.join(command)} (in {layout.relative(folder)}/)")
    completed = subprocess.run(command, cwd=folder, env=env)
    if completed.returncode != 0:
        raise FlygnnError(
            f"rendering the notebook pages failed (exit status {completed.returncode}, see Quarto's messages "
            f"above); their sources are in {layout.relative(folder)}/."
        )
    for page in output.rglob("*.html"):
        forget_source_folder(page, folder)
    problems = missing_pages(book.resolve(), conditions)
    if problems:
        raise FlygnnError("the notebook pages are incomplete:\n" + "\n".join(f"- {p}" for p in problems))
    return output
