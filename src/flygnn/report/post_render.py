"""The book's post-render step (``_quarto.yml``: ``post-render: python -m flygnn.report.post_render``).

Quarto runs it after every render of the book, in the project folder, with the book's
output folder in ``QUARTO_PROJECT_OUTPUT_DIR``; it renders the executed notebooks into
``<book>/notebooks/`` (:mod:`flygnn.report.notebook_pages`). It sits above the modules it
calls so that none of them imports another back.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flygnn.conditions import load_conditions
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout, find_project_root
from flygnn.report.chapters import load_quarto_config
from flygnn.report.notebook_pages import render_notebook_pages
from flygnn.report.quarto import find_quarto


def main() -> int:
    """Render the notebook pages into the folder Quarto just filled; 1 with one message on failure."""
    try:
        layout = ProjectLayout.at(find_project_root())
        config = load_quarto_config(layout)
        output = os.environ.get("QUARTO_PROJECT_OUTPUT_DIR") or str(config["project"].get("output-dir") or "_book")
        book = Path(output) if Path(output).is_absolute() else layout.root / output
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
