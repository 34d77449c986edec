"""Reading back the grid tables Pandoc lays out, cell by cell (shared by the report tests)."""

from __future__ import annotations

import unicodedata


def columns(line: str) -> list[str]:
    """``line`` as Pandoc lays it out: one entry per column (a combining mark joins its base)."""
    out: list[str] = []
    for char in line:
        if out and unicodedata.combining(char):
            out[-1] += char
        else:
            out.append(char)
    return out


def grid_cells(markdown: str) -> list[list[str]]:
    """The rows of a grid table as cell texts (continuation lines joined, spans as one cell)."""
    lines = [columns(line) for line in markdown.splitlines() if line.startswith(("+", "|"))]
    corners = [i for i, ch in enumerate(lines[0]) if ch == "+"]  # every column boundary
    rows, block = [], []
    for line in lines[1:]:
        if line[0] == "+":
            if block:
                bars = [i for i in corners if all(b[i] == "|" for b in block)]
                rows.append(
                    [
                        " ".join("".join(b[s + 1 : e]).strip() for b in block).strip()
                        for s, e in zip(bars, bars[1:], strict=False)
                    ]
                )
            block = []
        else:
            block.append(line)
    return rows
