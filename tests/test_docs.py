"""The documentation holds together: README stays short, links resolve, design references exist.

A docstring that says "docs/design.md, section 7.8" must lead to a heading "7.8" there, and
no file may point at a design document that is not in the repository. Known answers first:
each checker is run on a small made-up project with one planted fault that it must report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN_DOC = Path("docs") / "design.md"
README_MAX_LINES = 150

# where references live: sources, tests, notebooks, chapters, docs, CI and the root's files
SEARCHED = ("src", "tests", "analysis", "benchmarks", "chapters", "docs", ".github", ".ci", "profiles")
ROOT_FILES = ("*.md", "*.qmd", "*.toml", "*.yml", "*.yaml", "Snakefile")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".quarto"}
MAX_BYTES = 2_000_000  # bundles and datasets are not documentation

# spelled in two parts so that this file does not match its own pattern
OUTSIDE_SPEC = re.compile(r"\b" + "DES" + r"IGN\b")
# "docs/design.md, section 7.8", "[design.md](design.md), section 6", wrapped over lines too
SECTION_REFERENCE = re.compile(r"design\.md\)?,\s+section\s+(\d+(?:\.\d+)*)")
# inside design.md: "(section 3)", "section 7.8"
SELF_REFERENCE = re.compile(r"\bsection\s+(\d+(?:\.\d+)*)")
HEADING_NUMBER = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def text_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every text file of the searched folders and the root's own files, with its text."""
    candidates: list[Path] = []
    for pattern in ROOT_FILES:
        candidates.extend(root.glob(pattern))
    for folder in SEARCHED:
        if (root / folder).is_dir():
            candidates.extend(p for p in (root / folder).rglob("*") if p.is_file())
    for path in sorted(set(candidates)):
        parts = path.relative_to(root).parts
        # an editable install's egg-info copies README into PKG-INFO: a stale copy is not ours to check
        if SKIPPED_DIRS & set(parts) or any(p.endswith(".egg-info") for p in parts) or path.stat().st_size > MAX_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary: figures, safetensors
            continue
        yield path, text


def design_sections(design: Path) -> set[str]:
    """The section numbers of the design document's headings: {"1", ..., "7.8", ...}."""
    return set(HEADING_NUMBER.findall(design.read_text(encoding="utf-8")))


def outside_spec_references(root: Path) -> list[str]:
    """``path:line`` of every mention of the design spec that is not in the repository."""
    found = []
    for path, text in text_files(root):
        if path.relative_to(root) == DESIGN_DOC:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_SPEC.search(line):
                found.append(f"{path.relative_to(root)}:{number}")
    return found


def missing_sections(root: Path) -> list[str]:
    """References to design sections that have no heading: ``path: section N``."""
    sections = design_sections(root / DESIGN_DOC)
    missing = []
    for path, text in text_files(root):
        numbers = SECTION_REFERENCE.findall(text)
        if path.relative_to(root) == DESIGN_DOC:
            numbers += SELF_REFERENCE.findall(text)
        missing += [f"{path.relative_to(root)}: section {n}" for n in numbers if n not in sections]
    return missing


def markdown_files(root: Path) -> list[Path]:
    return sorted({root / "README.md", *(root / "docs").glob("*.md"), *(root / "benchmarks").glob("*.md")})


def broken_links(root: Path) -> list[str]:
    """Relative links in the Markdown documentation whose target is not in the repository."""
    broken = []
    for path in markdown_files(root):
        if not path.is_file():
            continue
        # links inside code blocks are examples, not links
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        for match in MARKDOWN_LINK.finditer(text):
            target = (match.group(1) or match.group(2)).split("#", 1)[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):  # an anchor, http:, mailto:
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(root)}: {target}")
    return broken


# --- known answers: a made-up project with one fault of each kind --------------------------


def _planted(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "docs" / "design.md").write_text(
        "# design\n## 1. Flow\n### 1.2 Detail\nSee section 1.2 and section 4.\n", encoding="utf-8"
    )
    (tmp_path / "docs" / "other.md").write_text("[ok](design.md) [gone](missing.md) [web](https://x.org)\n")
    (tmp_path / "README.md").write_text("[docs](docs/other.md#top)\n```\n[example](nowhere.md)\n```\n")
    (tmp_path / "src" / "a.py").write_text(
        '"""Flow (docs/design.md, section 1), detail (docs/design.md,\n    section 1.2), gone (docs/design.md, '
        'section 7.8)."""\n# see ' + "DES" + "IGN 7.8\n",
        encoding="utf-8",
    )
    return tmp_path


def test_design_sections_read_from_headings(tmp_path):
    assert design_sections(_planted(tmp_path) / DESIGN_DOC) == {"1", "1.2"}


def test_planted_faults_are_found(tmp_path):
    root = _planted(tmp_path)
    assert outside_spec_references(root) == ["src/a.py:3"]
    assert sorted(missing_sections(root)) == ["docs/design.md: section 4", "src/a.py: section 7.8"]
    assert broken_links(root) == ["docs/other.md: missing.md"]


# --- the repository -------------------------------------------------------------------------


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it at most {README_MAX_LINES} (move detail to docs/)"
    )


def test_relative_links_resolve():
    assert broken_links(ROOT) == []


def test_no_reference_to_a_design_document_outside_the_repository():
    assert outside_spec_references(ROOT) == [], "point at docs/design.md and its section instead"


def test_every_design_section_reference_has_its_heading():
    assert (ROOT / DESIGN_DOC).is_file()
    assert missing_sections(ROOT) == []


def test_design_keeps_its_numbered_sections():
    # docstrings cite these numbers; renumbering would silently break their meaning
    sections = design_sections(ROOT / DESIGN_DOC)
    assert {str(n) for n in range(1, 11)} <= sections
    assert {"7.8", "7.9"} <= sections
