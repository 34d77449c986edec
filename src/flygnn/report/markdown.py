"""Markdown for the book's generated parts: literal text and Pandoc grid tables.

Grid tables rather than pipe tables because they give what a reader of the PDF needs
and a pipe table cannot: header cells that span columns (a σ group over "ours |
published"), full-width rows that title a group of rows, cells that wrap over several
source lines, and column widths that follow the source (Pandoc takes each column's
share of the text width from its width in the source), so a column of metric names is
as wide as its longest name and numbers get narrow columns. Quarto turns them into
HTML tables and Typst tables alike (pandas' HTML tables break the PDF).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|@$~^])")
_CODE_SPAN = re.compile(r"(`[^`]+`)")  # a command quoted in a message
# Pandoc makes a grid table the full text width only when its source is at least this
# wide (its default --columns); narrower tables are scaled up to it.
FULL_WIDTH = 72
ALIGNMENTS = {"left": (":", "="), "right": ("=", ":"), "center": (":", ":")}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _literal(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown (captions and table cells come from data files)."""
    return _literal(_one_line(text))


# a symbol with a subscript as prose writes it ("V_rest", "f_θ", "g_φ", "s_g", "V̂_rest", "τ_max"), escaped
# (``V\_rest``) or not: one letter (with an optional hat) before the underscore, a known subscript
# after it and no identifier going on (``V_rest_R2`` is a metric's name and stays literal)
_SUBSCRIPTED = re.compile(r"(?<![\w\\])([A-Za-zτμσ]\u0302?)\\?_(rest|θ|φ|g|f|i|j|e|max|min)(?![A-Za-z0-9_\\])")


def subscripts(markdown: str) -> str:
    r"""``markdown`` with the symbols' subscripts as Pandoc subscripts (``V\_rest`` → ``V~rest~``),
    so headings, captions and prose read V_rest as the equations write it, in HTML and PDF alike."""
    return _SUBSCRIPTED.sub(r"\1~\2~", markdown)


def escape_prose(text: str) -> str:
    """:func:`escape_markdown` with the symbols' subscripts typeset (:func:`subscripts`)."""
    return subscripts(escape_markdown(text))


def escape_message(text: str) -> str:
    """A reason or error message as Markdown: literal, like :func:`escape_markdown`, except that
    its paired backticks stay code spans (our messages quote commands: "re-run `flygnn analyze`")."""
    parts = _CODE_SPAN.split(_one_line(text))
    # split() puts each code span at an odd index
    return "".join(part if i % 2 else _literal(part) for i, part in enumerate(parts))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a grid table's source as Pandoc counts them: combining marks
    (the hat of "τ̂") and zero-width characters take none, wide East Asian characters two."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def keep_together(text: str) -> str:
    """``text`` with non-breaking spaces, for short labels such as "σ = 0.05" in headers."""
    return str(text).replace(" ", "\u00a0")


@dataclass(frozen=True)
class Cell:
    """Markdown text of one cell that spans ``span`` columns."""

    text: str
    span: int = 1


Row = Sequence["Cell | str"]


def _cells(row: Row) -> list[Cell]:
    return [c if isinstance(c, Cell) else Cell(str(c)) for c in row]


_LIST_MARKER = re.compile(r"^([-*+]|\d+[.)])(?= |$)")


def _wrap(text: str, width: int) -> list[str]:
    """Source lines of a cell: broken only at spaces (an escape like \\_ stays whole); a line
    that would start like a list item ("- x", "2. x") gets its marker escaped."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    return [_LIST_MARKER.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], line) for line in lines]


class GridTable:
    """A Pandoc grid table: header rows, body rows, one alignment and text width per column.

    ``widths`` are the wished text widths (characters per source line) of the columns,
    which set their shares of the page; a column grows to hold its longest word, and a
    narrow table is stretched to the full text width. Cells whose text is longer than
    their column wrap onto more source lines.
    """

    def __init__(self, header: Sequence[Row], body: Sequence[Row], align: Sequence[str], widths: Sequence[int]):
        self.header = [_cells(r) for r in header]
        self.body = [_cells(r) for r in body]
        self.align = list(align)
        if any(a not in ALIGNMENTS for a in self.align):
            raise ValueError(f"alignments must be among {sorted(ALIGNMENTS)}, got {self.align}")
        columns = len(self.align)
        for row in (*self.header, *self.body):
            if sum(c.span for c in row) != columns:
                raise ValueError(f"a row covers {sum(c.span for c in row)} columns, the table has {columns}: {row}")
        self.widths = self._fit(list(widths))

    def _fit(self, widths: list[int]) -> list[int]:
        """Column widths (without borders): wide enough for every word, the table full width."""
        widths = [max(w, 1) + 3 for w in widths]  # a space each side, one spare
        for row in (*self.header, *self.body):
            column = 0
            for cell in row:
                longest = max((display_width(word) for word in cell.text.split(" ")), default=0) + 3  # NBSP joins
                covered = sum(widths[column : column + cell.span]) + cell.span - 1
                if longest > covered:  # widen the last column of the span
                    widths[column + cell.span - 1] += longest - covered
                column += cell.span
        total = sum(widths) + len(widths) + 1
        if total < FULL_WIDTH:
            scale = (FULL_WIDTH - len(widths) - 1) / sum(widths)
            widths = [int(w * scale) for w in widths]
            widths[0] += FULL_WIDTH - (sum(widths) + len(widths) + 1)
        return widths

    def _rule(self, char: str = "-", align: bool = False) -> str:
        parts = []
        for width, alignment in zip(self.widths, self.align, strict=False):
            if align:
                left, right = ALIGNMENTS[alignment]
                parts.append(left + char * (width - 2) + right)
            else:
                parts.append(char * width)
        return "+" + "+".join(parts) + "+"

    def _row(self, row: list[Cell]) -> list[str]:
        spans, column = [], 0
        for cell in row:
            width = sum(self.widths[column : column + cell.span]) + cell.span - 1
            spans.append((width, _wrap(cell.text, width - 3)))  # one spare for an escaped marker
            column += cell.span
        height = max(len(lines) for _, lines in spans)

        def padded(line: str, width: int) -> str:
            return " " + line + " " * (width - 1 - display_width(line))

        return [
            "|" + "|".join(padded(lines[i] if i < len(lines) else "", width) for width, lines in spans) + "|"
            for i in range(height)
        ]

    def markdown(self) -> str:
        lines = [self._rule()]
        for number, row in enumerate(self.header):
            lines += self._row(row)
            lines.append(self._rule("=", align=True) if number == len(self.header) - 1 else self._rule())
        if not self.header:
            lines = [self._rule("-", align=True)]
        for row in self.body:
            lines += self._row(row)
            lines.append(self._rule())
        return "\n".join(lines) + "\n"


def table(grid: GridTable, caption: str, table_id: str) -> str:
    """A cross-referenceable table: the grid, then Pandoc's caption line with the Quarto id."""
    return grid.markdown() + f"\n: {caption} {{#{table_id}}}\n"


def pipe_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str], shares: Sequence[float]
) -> str:
    """A Pandoc pipe table whose columns take ``shares`` of the text width.

    For tables whose cells are cross-references (``@fig-…`` is much longer in the
    source than in print), so that a grid table's source widths would mislead: the
    separator line is made longer than Pandoc's line width, which makes Pandoc take
    the column widths from its dashes and wrap the cells.
    """
    if not (len(header) == len(align) == len(shares)) or any(len(r) != len(header) for r in rows):
        raise ValueError("header, align, shares and every row need one entry per column")
    total = sum(shares)
    dashes = [max(3, round(100 * s / total)) for s in shares]
    marks = {"left": (":", ""), "right": ("", ":"), "center": (":", ":")}
    separator = "|" + "|".join(marks[a][0] + "-" * d + marks[a][1] for a, d in zip(align, dashes, strict=False)) + "|"
    lines = ["| " + " | ".join(header) + " |", separator] + ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
