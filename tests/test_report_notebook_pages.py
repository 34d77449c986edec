"""The executed notebooks as pages of the site: the sources of the notebook site and its checks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from project_fixtures import analysed_copy, make_project

from flygnn.conditions import load_conditions
from flygnn.errors import FlygnnError
from flygnn.report import notebook_pages
from flygnn.sections import SECTIONS


def test_page_href_from_the_book():
    assert notebook_pages.page_href("sigma-0", "spectral") == "notebooks/sigma-0/spectral.html"
    assert notebook_pages.page_href("sigma-0", "spectral", "chapters") == "../notebooks/sigma-0/spectral.html"


def test_one_page_per_section_and_condition_embedding_the_executed_notebook(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    files = notebook_pages.site_sources(layout, conditions, "The book")
    folder = layout.results / notebook_pages.SOURCE_FOLDER
    pages = {p for p in files if p.suffix == ".qmd" and p.name != "index.qmd"}
    assert pages == {folder / c.name / f"{s.name}.qmd" for c in conditions for s in SECTIONS}
    for condition in conditions:
        for section in SECTIONS:
            text = files[folder / condition.name / f"{section.name}.qmd"]
            front = yaml.safe_load(text.split("---")[1])
            assert front["title"] == f"{section.title}: {condition.label}"
            embed = re.search(r"\{\{< embed (\S+) echo=true >\}\}", text).group(1)
            embedded = folder / condition.name / embed
            assert embedded in files, "the page embeds the site's copy of the executed notebook"
            executed = layout.result_dir(condition.name) / "notebooks" / f"{section.name}.ipynb"
            assert json.loads(files[embedded]) == json.loads(executed.read_text()), (
                "the whole executed notebook, with its code (no Markdown cell here to make literal)"
            )
            assert embedded.parent.name.startswith("_"), "Quarto renders no page of its own for the copy"
            # links are relative to the page in <book>/notebooks/<condition>/
            assert f"](../../results/{condition.name}/notebooks/{section.name}.ipynb)" in text
            assert f'download="{section.name}-{condition.name}.ipynb"' in text
            assert f"](../../chapters/{section.name}.html)" in text
    config = yaml.safe_load(files[folder / "_quarto.yml"])
    assert config["execute"] == {"enabled": False}, "Quarto shows the stored outputs, never runs a notebook"
    assert config["project"]["type"] == "website", "a book would print the pages into its PDF"
    listed = [item["href"] for part in config["website"]["sidebar"]["contents"][1:] for item in part["contents"]]
    assert sorted(listed) == sorted(os.path.relpath(p, folder) for p in pages)


def test_missing_or_incomplete_pages_are_named(tmp_path):
    conditions = load_conditions(make_project(tmp_path / "project", bundles=False).conditions_file)
    site = tmp_path / "site"
    for condition in conditions:
        for section in SECTIONS:
            page = notebook_pages.page_path(site, condition.name, section.name)
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text('<div class="cell" data-tags="[&quot;injected-parameters&quot;]"></div>')
    assert notebook_pages.missing_pages(site, conditions) == []
    notebook_pages.page_path(site, "sigma-0", "spectral").unlink()
    notebook_pages.page_path(site, "sigma-0p5", "functions").write_text("<html></html>")
    assert notebook_pages.missing_pages(site, conditions) == [
        "the notebook page notebooks/sigma-0/spectral.html was not produced",
        "notebooks/sigma-0p5/functions.html does not show the parameters papermill injected",
    ]


def test_pages_need_the_executed_notebooks(tmp_path):
    layout = analysed_copy(tmp_path)
    (layout.result_dir("sigma-0p5") / "notebooks" / "embeddings.ipynb").unlink()
    with pytest.raises(
        FlygnnError, match=r"executed notebooks are missing: \['results/sigma-0p5/notebooks/embeddings.ipynb'\]"
    ):
        notebook_pages.render_notebook_pages(
            layout, load_conditions(layout.conditions_file), tmp_path / "_book", Path("quarto"), "T", log=lambda m: None
        )


# The notebooks' prose as analysis/<section>.py writes it: the paper's notation, where
# "W*" and "s_f" are symbols, beside identifiers in code spans.
NOTATION = (
    "## Gauge-corrected weights\n\n"
    "W*ₑ = −Ŵₑ / s_f(i) · s_g(j), undefined W* set to 0, edges with |W* − W| ≤ 5; "
    "parameters flyvis_model and _excluding_zero_range, `W_corrected_R2` and `jacobian_*`."
)


@pytest.mark.parametrize(
    "markdown, literal",
    [
        ("W* and W*", "W\\* and W\\*"),
        ("s_f and s_g, _excluding_zero_range_", "s\\_f and s\\_g, \\_excluding\\_zero\\_range\\_"),
        ("`W_corrected_R2` and ``a_b`c*``", "`W_corrected_R2` and ``a_b`c*``"),
        ("$a_i$ and $$\\tau_i^*$$", "$a_i$ and $$\\tau_i^*$$"),
        ("```python\nx_y = a*b\n```\nx_y", "```python\nx_y = a*b\n```\nx\\_y"),
        (
            "[the W_R2 page](chapters/a_b.html) <https://x.org/a_b>",
            "[the W\\_R2 page](chapters/a_b.html) <https://x.org/a_b>",
        ),
        ("* item_one\n  * item_two", "* item\\_one\n  * item\\_two"),
        ("already \\* escaped", "already \\* escaped"),
    ],
)
def test_literal_prose_escapes_emphasis_outside_code_maths_and_links(markdown, literal):
    assert notebook_pages.literal_prose(markdown) == literal


def test_the_pages_show_the_notebook_prose_as_written(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    executed = layout.result_dir("sigma-0") / "notebooks" / "connectivity.ipynb"
    notebook = json.loads(executed.read_text())
    notebook["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": NOTATION.splitlines(keepends=True)})
    executed.write_text(json.dumps(notebook))
    files = notebook_pages.site_sources(layout, conditions, "The book")
    shown = json.loads(files[notebook_pages.embedded_path(layout, "sigma-0", "connectivity")])
    # as a list of lines, as Jupyter stores them: from one string Quarto lost the line breaks
    # and the heading ran into its paragraph
    assert shown["cells"][0]["source"] == notebook_pages.literal_prose(NOTATION).splitlines(keepends=True)
    assert shown["cells"][0]["source"][0] == "## Gauge-corrected weights\n"
    assert shown["cells"][1:] == notebook["cells"][1:], "code cells and their outputs untouched"
    assert json.loads(executed.read_text()) == notebook, "the downloadable notebook stays papermill's"


@pytest.mark.skipif(shutil.which("quarto") is None, reason="needs `quarto` on PATH (Pandoc comes with it)")
def test_pandoc_sets_no_italics_in_the_literal_prose():
    def html(markdown):
        return subprocess.run(
            ["quarto", "pandoc", "-f", "markdown", "-t", "html"],
            input=markdown,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert "<em>" in html(NOTATION), "the unescaped notation is read as emphasis (W* … W*)"
    shown = html(notebook_pages.literal_prose(NOTATION))
    assert "<em>" not in shown and "<strong>" not in shown
    assert "W*ₑ = −Ŵₑ / s_f(i)" in shown and "flyvis_model and _excluding_zero_range" in shown
    assert "<code>W_corrected_R2</code>" in shown and "<code>jacobian_*</code>" in shown


def test_rendered_pages_name_no_folder_of_the_machine(tmp_path):
    folder = tmp_path / "results" / notebook_pages.SOURCE_FOLDER
    page = tmp_path / "_book" / "notebooks" / "sigma-0" / "spectral.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<div class="quarto-embed-nb-cell" data-notebook="{folder}/sigma-0/_notebooks/spectral.ipynb">')
    notebook_pages.forget_source_folder(page, folder)
    assert page.read_text() == '<div class="quarto-embed-nb-cell" data-notebook="sigma-0/_notebooks/spectral.ipynb">'


@pytest.mark.parametrize(
    "listed, made",
    [
        ("_book/index.html\n_book/chapters/summary.html\n_book/flygnn-report.pdf", True),
        ("_book/flygnn-report.pdf", False),  # quarto render --to typst
        ("", True),  # a Quarto that lists nothing: render the pages as before
    ],
)
def test_the_pages_are_made_only_when_the_render_made_html(listed, made):
    from flygnn.report.post_render import made_html

    assert made_html({"QUARTO_PROJECT_OUTPUT_FILES": listed}) is made
    assert made_html({}) is True


def test_html_outputs_reach_the_page_as_raw_html_so_no_cdn_script_is_loaded():
    from flygnn.report.notebook_pages import embedded_notebook

    table = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
             "data": {"text/html": ["<table>\n", "<tr><td>1</td></tr></table>"], "text/plain": ["   a\n0  1"]}}  # fmt: skip
    image = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR", "text/plain": ["<Figure>"]}}
    widget = {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<div></div><script>x()</script>"}}
    notebook = {"cells": [{"cell_type": "code", "source": "df", "outputs": [table, image, widget], "metadata": {}}]}
    (shown_table, shown_image, shown_widget) = embedded_notebook(notebook)["cells"][0]["outputs"]
    # Quarto loads require.js and jQuery from a CDN for any text/html output: none is left for a table
    assert set(shown_table["data"]) == {"text/markdown"}
    assert shown_table["data"]["text/markdown"] == "```{=html}\n<table>\n<tr><td>1</td></tr></table>\n```\n"
    assert shown_image == image, "other outputs are untouched"
    assert shown_widget == widget, "a real widget keeps its HTML (and the scripts it needs)"
    assert notebook["cells"][0]["outputs"][0] is table, "the executed notebook itself is not changed"
