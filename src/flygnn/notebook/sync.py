"""The section notebooks ``analysis/<section>.ipynb``, generated from their sources ``analysis/<section>.py``.

The sources are jupytext percent scripts (``# %%`` code cells, ``# %% [markdown]`` text
cells, the papermill cell marked ``# %% tags=["parameters"]``): the files people edit,
lint (ruff) and open in an editor. The notebooks are what papermill executes and what the
runner fingerprints, so they are committed, and regenerated after editing a script with

    python -m flygnn.notebook.sync            # write every analysis/<section>.ipynb that changed
    python -m flygnn.notebook.sync --check    # only report: exit 1 when a notebook is out of date

from anywhere inside the project (``--notebooks DIR`` for another folder). ``tests/test_notebooks.py``
fails when a notebook differs from what its script generates.

The output depends on the script alone: cell ids ``<section>-<n>``, no outputs or execution
counts, the ``python3`` kernelspec, and no cell metadata but the ``tags``. A notebook whose
text would not change is not rewritten, so Snakemake, which compares file times, sees no edit.
Before writing, each script is checked against the contracts it shares with the package:
one ``parameters`` cell assigning the fields of
:class:`~flygnn.notebook.parameters.NotebookParameters` in order (the names the runner
injects), and ``ctx.save_figure`` calls that save exactly the figure families that
:mod:`flygnn.sections` lists for the section, in order.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path

import jupytext
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from flygnn.atomic import write_text
from flygnn.errors import FlygnnError
from flygnn.notebook.parameters import NotebookParameters
from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS, Section

# Commented magics stay comments: the notebook runs exactly the script's code, which ruff checked.
SCRIPT_FORMAT = {"extension": ".py", "format_name": "percent", "comment_magics": False}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
COMMAND = "python -m flygnn.notebook.sync"


def script_path(directory: Path, section: Section) -> Path:
    return directory / f"{section.name}.py"


def notebook_path(directory: Path, section: Section) -> Path:
    return directory / f"{section.name}.ipynb"


def build(script: str, section: Section, shown: str) -> nbformat.NotebookNode:
    """The notebook of ``section`` from the text of its script (``shown``: the script's name in messages).

    Raises FlygnnError when the script is not valid Python or breaks a contract (module docstring).
    """
    try:
        ast.parse(script, filename=shown)
    except SyntaxError as error:
        raise FlygnnError(f"{shown}:{error.lineno}: {error.msg}; fix the code and run {COMMAND} again") from None
    cells = []
    for number, cell in enumerate(jupytext.reads(script, fmt=SCRIPT_FORMAT).cells):
        if cell.cell_type == "markdown":
            new = new_markdown_cell(cell.source)
        else:
            tags = cell.metadata.get("tags")
            new = new_code_cell(cell.source, metadata={"tags": list(tags)} if tags else {})
        new["id"] = f"{section.name}-{number}"
        cells.append(new)
    code = {cell.id: _parse(cell, shown) for cell in cells if cell.cell_type == "code"}
    _check_parameters(cells, code, shown)
    _check_figures(cells, code, section, shown)
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def notebook_text(script: Path, section: Section) -> str:
    """What ``<section>.ipynb`` beside ``script`` must contain."""
    if not script.is_file():
        raise FlygnnError(
            f"{script}: no such file; section {section.name!r} (flygnn.sections) needs its notebook source there"
        )
    return nbformat.writes(build(script.read_text(encoding="utf-8"), section, str(script))) + "\n"


def sync(directory: Path, sections: Sequence[Section] = SECTIONS, check: bool = False) -> list[Path]:
    """Bring every section's notebook in ``directory`` up to date with its script.

    Returns the notebooks that were out of date: written, or with ``check`` only listed.
    Every script is built before any notebook is written, so one broken script writes nothing.
    """
    expected = {notebook_path(directory, s): notebook_text(script_path(directory, s), s) for s in sections}
    stale = [path for path, text in expected.items() if not path.is_file() or path.read_text("utf-8") != text]
    if not check:
        for path in stale:
            write_text(path, expected[path])
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Generate the analysis notebooks (<section>.ipynb) from their jupytext percent scripts "
        "(<section>.py).",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a notebook is out of date")
    parser.add_argument("--notebooks", metavar="DIR", help="the notebooks' folder (default: the project's analysis/)")
    args = parser.parse_args(argv)
    try:
        layout = ProjectLayout.find(required=args.notebooks is None, notebooks=args.notebooks)
        stale = sync(layout.notebooks, check=args.check)
    except FlygnnError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in stale:
        shown = layout.relative(path)
        print(f"{shown} is out of date with {Path(shown).with_suffix('.py')}" if args.check else f"wrote {shown}")
    if args.check and stale:
        print(f"run: {COMMAND}", file=sys.stderr)
        return 1
    if not stale:
        print("notebooks up to date")
    return 0


def _parse(cell: nbformat.NotebookNode, shown: str) -> ast.Module:
    try:
        return ast.parse(cell.source)
    except SyntaxError as error:  # the script parses as a whole: a cell marker splits a statement
        raise FlygnnError(
            f"{shown}: cell {cell.id.rsplit('-', 1)[1]} is not valid Python on its own ({error.msg}, its line "
            f"{error.lineno}): move the # %% marker out of the statement it splits"
        ) from None


def _check_parameters(cells: list[nbformat.NotebookNode], code: dict[str, ast.Module], shown: str) -> None:
    tagged = [cell for cell in cells if "parameters" in cell.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise FlygnnError(
            f'{shown}: {len(tagged)} cells are tagged "parameters", papermill needs exactly one: mark the cell '
            'that assigns the parameters with # %% tags=["parameters"]'
        )
    assigned = [
        target.id
        for statement in code[tagged[0].id].body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    ]
    if tuple(assigned) != NotebookParameters.names():
        raise FlygnnError(
            f"{shown}: the parameters cell assigns {assigned}, but the runner injects "
            f"{list(NotebookParameters.names())} (flygnn.notebook.parameters): assign each, in that order"
        )


def _check_figures(
    cells: list[nbformat.NotebookNode], code: dict[str, ast.Module], section: Section, shown: str
) -> None:
    saved = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        calls = [
            node
            for node in ast.walk(code[cell.id])
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "save_figure"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "ctx"
        ]
        saved += [_stem(call) for call in sorted(calls, key=lambda call: (call.lineno, call.col_offset))]
    families = [family.name for family in section.figures]
    if saved != families:
        raise FlygnnError(
            f"{shown}: the {section.name} notebook saves {saved} (ctx.save_figure), but flygnn.sections lists "
            f"{families} for it: save each family once, in that order, under its name"
        )


def _stem(call: ast.Call) -> str:
    """The figure name a ``ctx.save_figure(fig, stem)`` call saves under (its source text unless a literal)."""
    stem = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "stem"), None)
    if isinstance(stem, ast.Constant) and isinstance(stem.value, str):
        return stem.value
    return ast.unparse(stem) if stem is not None else "<no name>"


if __name__ == "__main__":
    sys.exit(main())
