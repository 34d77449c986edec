"""Shared figure style: 65 distinguishable cell-type colours, the type legend by family, saving.

Every figure is saved twice with a fixed stem: PNG for the HTML book and PDF for
print, each written atomically so a failed run never leaves a half-written image.

The 65-type legend is laid out by family: each family (R, L, Mi, Tm, …) is a block
headed by its name in bold, blocks flow down the columns like an index, and a
block is only broken when it is longer than a column — so a colour is found by
looking up the family first. A figure keeps its own legend (the notebooks show it
whole); the book's σ-grids show the figure without it (:func:`remove_type_legend`)
above one shared legend (:func:`type_legend_figure`): three legends side by side
on a page are too small to read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import colorcet
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from flygnn.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
}


_SUBSCRIPTED = re.compile(r"\b([A-Za-z])_(rest|corrected)\b")


def typeset_symbols(text: str) -> str:
    """A metric's label for a figure: the symbols' subscripts as mathtext ("V_rest R²" →
    "$V_\\mathrm{rest}$ R²"), the rest of the text unchanged."""
    return _SUBSCRIPTED.sub(lambda m: f"${m.group(1)}_\\mathrm{{{m.group(2)}}}$", text)


def apply_style() -> None:
    """Apply the report's matplotlib style. Called by whoever draws (the notebook context,
    the training and dataset figure writers), never as a side effect of an import."""
    matplotlib.rcParams.update(RC)
    # flyvis turns logging up to INFO; PDF font subsetting would then print hundreds of lines
    logging.getLogger("fontTools").setLevel(logging.WARNING)


# the layout engines a Figure takes by name
LayoutName = Literal["constrained", "compressed", "tight"]


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], layout: LayoutName | None = None, **kwargs
):
    """``(fig, axes)`` like ``pyplot.subplots`` on a bare :class:`Figure`.

    Figures here are files: a bare Figure needs no backend, opens no window, is not kept
    in pyplot's registry (nothing to close) and leaves the caller's backend alone — so
    importing flygnn in a notebook or a GUI session changes nothing there. It draws on an
    Agg canvas, so text extents can be measured before saving. ``layout``: the Figure's
    layout engine (e.g. "constrained"); ``kwargs`` go to ``Figure.subplots``.
    """
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def type_colors(n_types: int) -> list[str]:
    """``n_types`` distinguishable colours (Glasbey palette, light colours skipped).

    The same type index gets the same colour in every figure of the report.
    """
    palette = list(colorcet.glasbey_dark)
    if n_types > len(palette):
        raise ValueError(f"only {len(palette)} distinguishable colours, asked for {n_types}")
    return palette[:n_types]


# Families used for legends: a type's family is its name without the trailing
# numbers/letters that index subtypes (T4a -> T4, Mi12 -> Mi, TmY5a -> TmY, R7 -> R).
_FAMILY_PATTERN = re.compile(r"^(Lawf|TmY|Tm|Mi|CT1|C|T1|T2|T3|T4|T5|L|R|Am)")


def type_family(type_name: str) -> str:
    match = _FAMILY_PATTERN.match(type_name)
    return match.group(1) if match else type_name


def family_blocks(type_names: Sequence[str]) -> list[tuple[str, list[int]]]:
    """[(family, type indices)] in order of first appearance."""
    families: dict[str, list[int]] = {}
    for index, name in enumerate(type_names):
        families.setdefault(type_family(name), []).append(index)
    return list(families.items())


def type_order(type_names: Sequence[str]) -> list[int]:
    """Type indices grouped by family (first appearance order)."""
    return [index for _, members in family_blocks(type_names) for index in members]


LegendEntry = tuple[str, Any]  # ("family", name) or ("type", index)


def _pack(blocks: list[tuple[str, list[int]]], rows: int) -> list[list[LegendEntry]]:
    columns: list[list[LegendEntry]] = [[]]
    for family, members in blocks:
        entries: list[LegendEntry] = [("family", family)] + [("type", i) for i in members]
        free = rows - len(columns[-1])
        # a block that fits a column starts a new one rather than break; a longer one
        # flows on (a header alone at the bottom of a column helps nobody)
        if columns[-1] and len(entries) > free and (len(entries) <= rows or free < 3):
            columns.append([])
        while entries:
            if len(columns[-1]) == rows:
                columns.append([])
            free = rows - len(columns[-1])
            columns[-1] += entries[:free]
            entries = entries[free:]
    return columns


# At least this many rows, so that a family of up to 9 types (of flyvis': all but Mi and
# Tm) always stays in one column, even where the figure is wide enough for shorter columns.
MIN_LEGEND_ROWS = 10


def legend_columns(type_names: Sequence[str], max_columns: int) -> list[list[LegendEntry]]:
    """The type legend as columns of entries: the fewest rows (at least :data:`MIN_LEGEND_ROWS`, at most
    the whole list) that fit in ``max_columns`` columns."""
    blocks = family_blocks(type_names)
    total = sum(len(members) + 1 for _, members in blocks)
    for rows in range(min(total, max(MIN_LEGEND_ROWS, -(-total // max_columns))), total + 1):
        columns = _pack(blocks, rows)
        if len(columns) <= max_columns:
            return columns
    return _pack(blocks, total)


def add_type_legend(fig: Figure, type_names: Sequence[str], ncol: int = 7, **kwargs) -> Legend:
    """A figure legend of the cell-type colours below the axes, in at most ``ncol`` columns of family blocks."""
    from matplotlib.lines import Line2D

    colors = type_colors(len(type_names))
    columns = legend_columns(type_names, ncol)
    rows = max(len(column) for column in columns)
    # matplotlib fills a legend column by column; padding every column to the same
    # height keeps each block where the layout put it
    entries = [entry for column in columns for entry in column + [("blank", "")] * (rows - len(column))]
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=4, color=colors[value])
        if kind == "type"
        else Line2D([], [], linestyle="", marker="")
        for kind, value in entries
    ]
    labels = [type_names[value] if kind == "type" else str(value) for kind, value in entries]
    options: dict[str, Any] = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "frameon": False, "fontsize": 6.5}
    options.update(kwargs)
    legend = fig.legend(handles, labels, ncol=len(columns), columnspacing=1.0, handletextpad=0.2, **options)
    legend.set_gid(TYPE_LEGEND_GID)
    for text, (kind, _) in zip(legend.get_texts(), entries, strict=False):
        if kind == "family":
            text.set_fontweight("bold")
    return legend


TYPE_LEGEND_GID = "flygnn-type-legend"


def remove_type_legend(fig: Figure) -> bool:
    """Take the type legend(s) of :func:`add_type_legend` off ``fig``; whether it had one."""
    legends = [legend for legend in fig.legends if legend.get_gid() == TYPE_LEGEND_GID]
    for legend in legends:
        legend.remove()
    return bool(legends)


def type_legend_figure(type_names: Sequence[str], width: float = 7.5, ncol: int = 13) -> Figure:
    """The type legend alone, ``width`` inches wide in at most ``ncol`` columns: shown once
    below a σ-grid whose panels were saved without theirs."""
    fig = Figure(figsize=(width, 0.1))
    FigureCanvasAgg(fig)
    add_type_legend(fig, type_names, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, 1.0), fontsize=7)
    return fig


PDF_RASTER_DPI = 300  # the rasterized layers of a PDF (the PNG keeps savefig.dpi, 200: the screen's)


def save_figure(fig: Figure, directory: str | Path, stem: str, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``directory/stem.png`` and ``.pdf`` atomically.

    The same figure gives the same bytes on every run: the PDF carries no creation date
    (matplotlib writes the current time there by default). The PDF is vector; what a figure
    rasterizes in it (dense scatters, hexagons) is drawn at :data:`PDF_RASTER_DPI`. Returns the written paths.
    """
    directory = Path(directory)
    paths = []
    for fmt in formats:
        path = directory / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            if fmt == "pdf":
                # vector, but dense scatters and densities are rasterized inside it: at print resolution
                fig.savefig(tmp, format=fmt, metadata={"CreationDate": None}, dpi=PDF_RASTER_DPI)
            else:
                fig.savefig(tmp, format=fmt)
        paths.append(path)
    return paths
