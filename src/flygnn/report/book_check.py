"""The book's structure, checked before Quarto is run: ``_quarto.yml``, its chapter files and,
across the whole book with every ``{{< include >}}`` expanded, duplicate ids, cross-references
to ids defined nowhere (or to unnumbered sections) and images that do not exist.

Quarto reads includes when it loads the project, so a missing part stops it before its
pre-render step; these checks name the file and id instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS

SUMMARY_CHAPTER = "chapters/summary.qmd"
INCLUDE = re.compile(r"\{\{<\s*include\s+(\S+?)\s*>\}\}")
ID_DEFINITION = re.compile(r"\{#((?:fig|tbl|sec|eq)-[A-Za-z0-9_-]+)[\s}]")
UNNUMBERED = re.compile(r"\{#(sec-[A-Za-z0-9_-]+)\s[^}]*\.unnumbered[\s}]")
CROSS_REFERENCE = re.compile(r"(?<![\w\\])@((?:fig|tbl|sec|eq)-[A-Za-z0-9_-]*[A-Za-z0-9_])")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _flatten_chapters(entries: Any, where: str) -> list[str]:
    files = []
    for entry in entries or []:
        if isinstance(entry, str):
            files.append(entry)
        elif isinstance(entry, dict) and "chapters" in entry:
            files += _flatten_chapters(entry["chapters"], where)
        elif isinstance(entry, dict) and isinstance(name := entry.get("href") or entry.get("file"), str):
            files.append(name)
        else:
            raise FlygnnError(f"{where}: cannot read the chapter entry {entry!r} (expected a file name or a part).")
    return files


def load_quarto_config(layout: ProjectLayout) -> dict[str, Any]:
    """Read ``_quarto.yml`` and check what this book relies on; errors say what to fix."""
    path = layout.quarto_config
    if not path.is_file():
        raise FlygnnError(f"{path} not found: the book's Quarto project file belongs at the project root.")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FlygnnError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise FlygnnError(f"{path} must be a YAML mapping with project:, book:, format: keys.")
    project = config.get("project") or {}
    book = config.get("book") or {}
    problems = []
    if not isinstance(project, dict) or project.get("type") != "book":
        problems.append("project.type must be 'book' (the only type with cross-chapter references and one PDF)")
    if not isinstance(book, dict) or not book.get("chapters"):
        problems.append("book.chapters must list index.qmd and the chapters")
    if isinstance(book, dict) and not book.get("author"):
        problems.append("book.author is required (the Typst book template fails without it)")
    execute = config.get("execute") or {}
    if not isinstance(execute, dict) or execute.get("enabled") is not False:
        problems.append("execute.enabled must be false (papermill runs the notebooks, Quarto never does)")
    formats = config.get("format") or {}
    if not isinstance(formats, dict) or "html" not in formats:
        problems.append("format.html is missing")
    if isinstance(formats, dict) and not ({"typst", "pdf"} & set(formats)):
        problems.append("a PDF format (typst or pdf) is missing")
    if problems:
        raise FlygnnError(f"{path}: " + "; ".join(problems) + ".")
    return config


def chapter_files(layout: ProjectLayout, config: dict[str, Any]) -> list[Path]:
    book = config["book"]
    names = _flatten_chapters(book.get("chapters"), f"{layout.quarto_config} book.chapters")
    names += _flatten_chapters(book.get("appendices"), f"{layout.quarto_config} book.appendices")
    files = [layout.project_root / name for name in names]
    missing = [name for name, f in zip(names, files, strict=False) if not f.is_file()]
    if missing:
        raise FlygnnError(f"{layout.quarto_config}: chapter file(s) {missing} listed in book.chapters do not exist.")
    expected = [f"chapters/{s.name}.qmd" for s in SECTIONS] + ["index.qmd", SUMMARY_CHAPTER]
    absent = [name for name in expected if name not in names]
    if absent:
        raise FlygnnError(
            f"{layout.quarto_config}: book.chapters lacks {absent}; every analysis section of "
            "flygnn.sections needs its chapter chapters/<section>.qmd in the book."
        )
    return files


def expand_includes(path: Path, seen: tuple[Path, ...] = ()) -> str:
    """``path``'s text with ``{{< include >}}`` resolved like Quarto (relative to the includer)."""
    if path in seen:
        raise FlygnnError(f"include cycle: {' -> '.join(map(str, (*seen, path)))}")
    text = path.read_text()

    def replace(match: re.Match) -> str:
        target = (path.parent / match.group(1)).resolve()
        if not target.is_file():
            raise FlygnnError(
                f"{path} includes {match.group(1)}, which does not exist; Quarto would stop at load time. "
                "Run `flygnn report --no-render` to generate chapters/_generated/."
            )
        return expand_includes(target, (*seen, path))

    return INCLUDE.sub(replace, text)


def missing_includes(layout: ProjectLayout) -> list[str]:
    """The ``{{< include >}}`` targets of the book's chapter files that do not exist (as written,
    relative to the project): a generated part deleted since the chapters were last written."""
    config = load_quarto_config(layout)
    missing = []
    for chapter in chapter_files(layout, config):
        for match in INCLUDE.finditer(chapter.read_text()):
            target = (chapter.parent / match.group(1)).resolve()
            if not target.is_file():
                missing.append(layout.relative(target))
    return missing


def _without_code(text: str) -> str:
    return FENCED_CODE.sub("", HTML_COMMENT.sub("", text))


@dataclass
class BookCheck:
    """Ids, cross-references and images of the whole book, after include expansion."""

    definitions: dict[str, list[str]] = field(default_factory=dict)  # id -> files defining it
    unnumbered: set[str] = field(default_factory=set)  # ids of the sections without a number
    references: dict[str, list[str]] = field(default_factory=dict)  # id -> files referencing it
    images: dict[str, list[Path]] = field(default_factory=dict)  # file -> image paths (resolved)

    @property
    def problems(self) -> list[str]:
        problems = [
            f"id #{i} is defined {len(f)} times ({sorted(set(f))})" for i, f in self.definitions.items() if len(f) > 1
        ]
        problems += [
            f"@{i} is referenced in {sorted(set(f))} but defined nowhere"
            for i, f in self.references.items()
            if i not in self.definitions
        ]
        # Quarto leaves "?@sec-x" for a section it cannot number; a Markdown link to its file works
        problems += [
            f"@{i} is referenced in {sorted(set(f))} but is an unnumbered section, which Quarto cannot "
            "cross-reference: link its file instead, e.g. [Preface](chapters/preface.qmd)"
            for i, f in self.references.items()
            if i in self.unnumbered
        ]
        problems += [
            f"{page} shows {image}, which does not exist"
            for page, imgs in self.images.items()
            for image in imgs
            if not image.is_file()
        ]
        return problems


def check_book(layout: ProjectLayout, config: dict[str, Any] | None = None) -> BookCheck:
    """Scan every chapter (includes expanded) for duplicate ids, dangling refs and missing images."""
    config = config if config is not None else load_quarto_config(layout)
    check = BookCheck()
    for chapter in chapter_files(layout, config):
        page = layout.relative(chapter)
        text = _without_code(expand_includes(chapter))
        for identifier in ID_DEFINITION.findall(text):
            check.definitions.setdefault(identifier, []).append(page)
        check.unnumbered.update(UNNUMBERED.findall(text))
        for identifier in CROSS_REFERENCE.findall(text):
            check.references.setdefault(identifier, []).append(page)
        images = [m for m in IMAGE.findall(text) if "://" not in m]
        check.images[page] = [(chapter.parent / m).resolve() for m in images]
    return check
