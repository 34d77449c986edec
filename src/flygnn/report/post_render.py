"""The book's post-render step (``_quarto.yml``: ``post-render: python -m flygnn.report.post_render``).

Quarto runs it after every render of the book, in the project folder, with the book's
output folder in ``QUARTO_PROJECT_OUTPUT_DIR``; it renders the executed notebooks into
``<book>/notebooks/`` (:mod:`flygnn.report.notebook_pages`). A render that made no HTML
(``quarto render --to typst``, the PDF alone) gets no notebook pages: they are pages of the
site, and their download links point at files only the HTML render copies. It sits above
the modules it calls so that none of them imports another back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from flygnn.conditions import load_conditions
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout, find_project_root
from flygnn.report.book_check import load_quarto_config
from flygnn.report.notebook_pages import render_notebook_pages
from flygnn.report.quarto import find_quarto


def made_html(environ: Mapping[str, str]) -> bool:
    """Whether the render that just ended wrote HTML, by the output files Quarto lists for its
    post-render step (``QUARTO_PROJECT_OUTPUT_FILES``, one per line); True when it lists none."""
    listed = [line.strip() for line in environ.get("QUARTO_PROJECT_OUTPUT_FILES", "").splitlines() if line.strip()]
    return not listed or any(line.lower().endswith((".html", ".htm")) for line in listed)


def main() -> int:
    """Render the notebook pages into the folder Quarto just filled; 1 with one message on failure."""
    if not made_html(os.environ):
        print("notebook pages: not made, this render wrote no HTML (they are pages of the HTML site)")
        return 0
    try:
        layout = ProjectLayout.at(find_project_root())
        config = load_quarto_config(layout)
        output = os.environ.get("QUARTO_PROJECT_OUTPUT_DIR") or str(config["project"].get("output-dir") or "_book")
        book = Path(output) if Path(output).is_absolute() else layout.project_root / output
        quarto = find_quarto()
        if quarto is None:
            raise FlygnnError("no `quarto` on PATH for the notebook pages.")
        render_notebook_pages(
            layout, load_conditions(layout.conditions_file), book, quarto, str(config["book"].get("title", ""))
        )
    except FlygnnError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
