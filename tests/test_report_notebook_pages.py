"""The executed notebooks as pages of the site: the sources of the notebook site and its checks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from test_report_project import analysed_copy, make_project

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
            assert (folder / condition.name / embed).resolve() == (
                layout.result_dir(condition.name) / "notebooks" / f"{section.name}.ipynb"
            ), "the whole executed notebook, with its code"
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
    with pytest.raises(FlygnnError, match=r"executed notebooks are missing: \['results/sigma-0p5/notebooks/embeddings.ipynb'\]"):
        notebook_pages.render_notebook_pages(
            layout, load_conditions(layout.conditions_file), tmp_path / "_book", Path("quarto"), "T", log=lambda m: None
        )
