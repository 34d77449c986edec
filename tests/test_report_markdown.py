"""Markdown of the generated parts: literal text, grid tables and pipe tables."""

from __future__ import annotations

import re

import pytest
from grid_tables import grid_cells

from flygnn.report.markdown import (
    FULL_WIDTH,
    Cell,
    GridTable,
    display_width,
    escape_markdown,
    escape_message,
    keep_together,
    pipe_table,
)


def test_escape_markdown_keeps_data_literal():
    assert escape_markdown("V_rest | W* <x> @fig-a") == "V\\_rest \\| W\\* \\<x\\> \\@fig-a"
    assert escape_markdown("a\n  b") == "a b"


def test_escape_message_keeps_quoted_commands_as_code():
    # a reason printed below a table: "re-run `flygnn analyze --force`" showed its backticks literally
    assert escape_message("per_type.csv lacks W_share; re-run `flygnn analyze --force`.") == (
        "per\\_type.csv lacks W\\_share; re-run `flygnn analyze --force`."
    )
    assert escape_message("a `b_c` d_e `f*`") == "a `b_c` d\\_e `f*`"
    assert escape_message("one ` backtick_x") == "one \\` backtick\\_x", "an unpaired backtick stays literal"
    assert escape_message("a\n  `x`  b") == "a `x` b"


def test_grid_table_known_answer():
    grid = GridTable(
        [["", Cell("σ = 0", 2)], ["Metric", "ours", "published"]],
        [["W R²", "0.9", "—"]],
        ["left", "right", "right"],
        [10, 6, 9],
    )
    text = grid.markdown()
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1, "every line of a grid table has the same length"
    assert len(lines[0]) >= FULL_WIDTH, "stretched to the full text width"
    assert lines[4].startswith("+:") and lines[4].endswith(":+"), "alignment in the header separator"
    assert lines[4].count(":") == 3, "left for the first column, right for the others"
    assert grid_cells(text) == [["", "σ = 0"], ["Metric", "ours", "published"], ["W R²", "0.9", "—"]]


def test_grid_table_wraps_long_cells_and_widens_for_long_words():
    long_name = "a_metric_name_longer_than_its_column"
    grid = GridTable([["Metric", "Definition"]], [[long_name, "word " * 30]], ["left", "left"], [10, 20])
    text = grid.markdown()
    assert all(len(line) == len(text.splitlines()[0]) for line in text.splitlines())
    assert long_name in text, "a word is never split"
    body_lines = [line for line in text.splitlines() if "word" in line]
    assert len(body_lines) > 5, "the long definition wraps over several source lines"
    assert grid_cells(text)[1] == [long_name, ("word " * 30).strip()]


def test_grid_table_full_width_row_and_list_markers():
    grid = GridTable(
        [["A", "B"]], [[Cell("**Group**", 2)], ["x", "- not a list 1. nor this"]], ["left", "right"], [3, 3]
    )
    text = grid.markdown()
    assert grid_cells(text)[1] == ["**Group**"]
    # no source line of a cell starts like a list item (Pandoc would make it one)
    assert not re.search(r"\| (- |\d+\. )", text)


def test_grid_table_rejects_rows_that_do_not_cover_the_columns():
    with pytest.raises(ValueError, match="covers 1 columns, the table has 2"):
        GridTable([["A", "B"]], [["x"]], ["left", "left"], [3, 3])


def test_keep_together_uses_non_breaking_spaces():
    assert keep_together("σ = 0.05") == "σ\u00a0=\u00a00.05"


def test_pipe_table_widths_come_from_the_shares():
    text = pipe_table(["A", "B"], [["@fig-a-very-long-reference-id", "x"]], ["left", "center"], [3, 1])
    separator = text.splitlines()[1]
    assert len(separator) > FULL_WIDTH, "longer than Pandoc's line width: Pandoc uses the dashes"
    left, right = separator.strip("|").split("|")
    assert left.startswith(":") and right.startswith(":") and right.endswith(":")
    assert left.count("-") == 3 * right.count("-")


def test_grid_table_counts_columns_like_pandoc():
    """A combining hat ("τ̂") takes no column: counting it shifted the borders of the row
    (the PDF showed the row's cells spilled into each other)."""
    assert display_width("τ̂ = V̂_rest") == 10 and display_width("a\u200bb") == 2 and display_width("表") == 2
    text = "neurons whose τ̂ lies outside [0, 1] s and is clipped in tau_R2; V̂_rest too"
    grid = GridTable(
        [["Metric", "Definition", "σ = 0"]],
        [["tau_clipped", escape_markdown(text), "0"]],
        ["left", "left", "right"],
        [12, 20, 6],
    )
    lines = grid.markdown().splitlines()
    assert len({display_width(line) for line in lines}) == 1
    assert grid_cells(grid.markdown())[1] == ["tau_clipped", escape_markdown(text), "0"]


def test_symbols_get_their_subscripts_and_identifiers_stay_literal():
    from flygnn.report.markdown import escape_prose, subscripts

    assert escape_prose("Update function f_θ") == "Update function f~θ~"
    assert escape_prose("(V_rest − v)/τ, slope s_g(j), V̂_rest") == "(V~rest~ − v)/τ, slope s~g~(j), V̂~rest~"
    # metric names are identifiers: literal underscores, escaped
    assert escape_prose("V_rest_R2 and W_corrected_R2") == "V\\_rest\\_R2 and W\\_corrected\\_R2"
    assert escape_prose("x_y and results_dir") == "x\\_y and results\\_dir"
    # prose that is already Markdown (the findings) gets the same
    assert subscripts("τ R² and V_rest R² at g_φ") == "τ R² and V~rest~ R² at g~φ~"
