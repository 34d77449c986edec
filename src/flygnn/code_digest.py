"""Which of flygnn's own source files a piece of work runs, as one content digest.

An analysis notebook draws its figures with ``flygnn.figures`` and computes its numbers
with ``flygnn.analysis``; a book figure is drawn by ``flygnn.figures.book``, which styles it
with ``flygnn.figures.style``. Their outputs are stale when any of that code changes, at the
same version number. :func:`source_digest` hashes the files of the named modules and of every
flygnn module they import, transitively (imports inside functions included, and the
packages above each module, whose ``__init__`` runs on import), so that a staleness check
can put the code beside the data it reads. Nothing is imported: the files are found from
their names under the installed package and parsed with :mod:`ast`, in milliseconds.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "flygnn"
_ROOT = Path(__file__).resolve().parent


def module_file(name: str, root: Path = _ROOT) -> Path | None:
    """The source file of module ``name`` (``flygnn.figures.style``) under the package folder
    ``root``; None when ``name`` is not a flygnn module (``flygnn.analysis.SomeClass``)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    folder = root.joinpath(*parts[1:])
    for path in (folder / "__init__.py", folder.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def imported_modules(source: str, package: str | None = None) -> set[str]:
    """The flygnn modules that Python ``source`` imports, anywhere in it, and every name
    ``from flygnn.x import name`` brings in as ``flygnn.x.name`` (a submodule or not:
    :func:`module_file` tells). ``package``: the package a relative import starts from."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _with_parents(name: str) -> list[str]:
    """``flygnn.a.b`` → ``flygnn``, ``flygnn.a``, ``flygnn.a.b`` (importing one runs them all)."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(roots: Iterable[str], root: Path = _ROOT) -> dict[str, Path]:
    """Module name → source file for ``roots`` and every flygnn module they import, transitively."""
    files: dict[str, Path] = {}
    pending = [parent for name in roots for parent in _with_parents(name)]
    while pending:
        name = pending.pop()
        if name in files:
            continue
        path = module_file(name, root)
        if path is None:
            continue
        files[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in imported_modules(path.read_text(encoding="utf-8"), package):
            pending.extend(_with_parents(imported))
    return dict(sorted(files.items()))


def source_digest(roots: Iterable[str], extra: Iterable[Path] = (), root: Path = _ROOT) -> str:
    """The sha256 of the source files of :func:`module_closure` ``(roots)``, named by module, and
    of the ``extra`` files (templates the code reads), named by their path under ``root``."""
    digest = hashlib.sha256()
    for name, path in module_closure(roots, root).items():
        digest.update(f"{name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for path in sorted(extra):
        resolved = path.resolve()
        shown = resolved.relative_to(root.parent) if resolved.is_relative_to(root.parent) else Path(path.name)
        digest.update(f"{shown.as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def notebook_imports(notebook: Path) -> set[str]:
    """The flygnn modules imported by the code cells of a Jupyter notebook (``.ipynb``)."""
    import json

    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    names: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        # IPython magics (%matplotlib, !pip) are not Python; drop those lines before parsing
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            names |= imported_modules("\n".join(lines))
        except SyntaxError:
            continue  # a cell that is not Python cannot import flygnn; papermill reports it
    return names
