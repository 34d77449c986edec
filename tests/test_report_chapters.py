"""Generated chapter parts: σ-grids, ids and references, figures, tables, bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml
from grid_tables import grid_cells
from project_fixtures import PNG_1x1, analysed_copy, make_project

from flygnn.conditions import Condition, load_conditions
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout
from flygnn.report import book_check, chapters
from flygnn.report.provenance import shown_path
from flygnn.report.summary import format_value
from flygnn.sections import SECTIONS, FigureFamily, Section, figure_families

ROOT = Path(__file__).resolve().parents[1]
THREE = [
    Condition("sigma-0", 0.0, "σ = 0"),
    Condition("sigma-0p05", 0.05, "σ = 0.05"),
    Condition("sigma-0p5", 0.5, "σ = 0.5"),
]


def test_sigma_grid_known_answer(tmp_path):
    layout = ProjectLayout.at(tmp_path)
    family = FigureFamily("weights-corrected", "Gauge-corrected weights", "Corrected weights W* against W.")
    assert chapters.sigma_grid(family, THREE, layout) == (
        "::::: {.sigma-grid}\n"
        "\n"
        "::: {#fig-weights-corrected}\n"
        "\n"
        ":::: {layout-ncol=3}\n"
        "\n"
        '![σ = 0](../results/sigma-0/figures/weights-corrected.png){#fig-weights-corrected-sigma-0 group="weights-corrected"}\n'
        "\n"
        '![σ = 0.05](../results/sigma-0p05/figures/weights-corrected.png){#fig-weights-corrected-sigma-0p05 group="weights-corrected"}\n'
        "\n"
        '![σ = 0.5](../results/sigma-0p5/figures/weights-corrected.png){#fig-weights-corrected-sigma-0p5 group="weights-corrected"}\n'
        "\n"
        "::::\n"
        "\n"
        "**Gauge-corrected weights.** Corrected weights W\\* against W.\n"
        ":::\n"
        "\n"
        ":::::\n"
    )


def test_sigma_grid_of_a_family_with_the_type_legend_shows_it_once(tmp_path):
    layout = ProjectLayout.at(tmp_path)
    family = FigureFamily("tau", "Time constants", "τ̂ against τ.", type_legend=True, stack_in_pdf=True)
    # panels 2:1 and 3:1, the 2:1 one the taller: 6.8 in / 2 rows − 0.3 in sub-caption = 3.1 in
    # high (the PDF prints the legend once, not under the grid), so 6.2 in wide, 0.92 of the 6.77 in
    # text width
    for name, (width, height) in (("sigma-0", (400, 200)), ("sigma-0p05", (600, 200))):
        write_png(layout.result_dir(name) / "figures" / "tau-panel.png", width, height)
    assert chapters.png_size(layout.result_dir("sigma-0") / "figures" / "tau-panel.png") == (400, 200)
    assert chapters.sigma_grid(family, THREE[:2], layout) == (
        '::::: {.sigma-grid pdf-stacked-width="0.92"}\n'
        "\n"
        "::: {#fig-tau}\n"
        "\n"
        ":::: {layout-ncol=2}\n"
        "\n"
        '![σ = 0](../results/sigma-0/figures/tau-panel.png){#fig-tau-sigma-0 group="tau" '
        'description="![](../results/sigma-0/figures/type-legend.png){alt=\\"Cell-type colours\\"}"}\n'
        "\n"
        '![σ = 0.05](../results/sigma-0p05/figures/tau-panel.png){#fig-tau-sigma-0p05 group="tau" '
        'description="![](../results/sigma-0/figures/type-legend.png){alt=\\"Cell-type colours\\"}"}\n'
        "\n"
        "::::\n"
        "\n"
        '![](../results/sigma-0/figures/type-legend.png){.type-legend fig-alt="Cell-type colours, grouped by family"}\n'
        "\n"
        "**Time constants.** τ̂ against τ.\n"
        ":::\n"
        "\n"
        ":::::\n"
    )


def test_a_wide_grid_is_stacked_in_the_pdf_only_as_wide_as_fits_a_page(tmp_path):
    layout = ProjectLayout.at(tmp_path)
    family = FigureFamily("weights", "Weights", "Ŵ against W.", stack_in_pdf=True)
    assert "pdf-stacked-width" not in chapters.sigma_grid(family, THREE, layout)  # no panel to measure
    for condition in THREE:
        write_png(layout.result_dir(condition.name) / "figures" / "weights.png", 100, 100)
    # square panels, three rows: 6.8 / 3 − 0.3 = 1.97 in high, so 1.97 of the 6.77 in text width
    assert 'pdf-stacked-width="0.29"' in chapters.sigma_grid(family, THREE, layout)
    assert "pdf-stacked-width" not in chapters.sigma_grid(
        dataclasses.replace(family, stack_in_pdf=False), THREE, layout
    )
    (layout.result_dir("sigma-0") / "figures" / "weights.png").write_bytes(b"not a png")
    assert chapters.png_size(layout.result_dir("sigma-0") / "figures" / "weights.png") is None
    assert 'pdf-stacked-width="0.29"' in chapters.sigma_grid(family, THREE, layout)  # measured on the others
    # a grid that must share its page with more text: 5.4 / 3 − 0.3 = 1.5 in high
    lower = dataclasses.replace(family, pdf_height_in=5.4)
    assert 'pdf-stacked-width="0.22"' in chapters.sigma_grid(lower, THREE, layout)


def test_the_printed_width_of_a_panel_stacked_or_side_by_side(tmp_path):
    panels = [tmp_path / f"{name}.png" for name in "abc"]
    for panel in panels:
        write_png(panel, 400, 100)  # 4:1
    stacked = FigureFamily("spectral", "Spectra", "σ of W.", stack_in_pdf=True)
    # three rows of 1.97 in: a 4:1 panel would be 7.9 in wide, more than the 6.77 in text width
    assert chapters.pdf_panel_width_in(stacked, panels) == pytest.approx(chapters.PDF_TEXT_WIDTH_IN)
    # side by side: a third of the text width less the two gaps between the panels
    abreast = dataclasses.replace(stacked, stack_in_pdf=False)
    assert chapters.pdf_panel_width_in(abreast, panels) == pytest.approx((6.77 - 2 * 0.15) / 3)


def write_png(path: Path, width: int, height: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), "white").save(path)


def test_generated_book_references_only_existing_figures_and_defined_ids(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    check = book_check.check_book(layout)
    assert check.problems == []
    # every σ-grid and every panel is defined exactly once in the whole book
    for family in figure_families():
        assert check.definitions[f"fig-{family.name}"] == [check.definitions[f"fig-{family.name}"][0]]
        for condition in conditions:
            assert len(check.definitions[f"fig-{family.name}-{condition.name}"]) == 1
    # and every id that is referenced is defined (dangling ones would read "?@fig-…")
    assert set(check.references) <= set(check.definitions)
    assert {"tbl-summary", "tbl-additional-metrics", "tbl-provenance"} <= set(check.definitions)
    assert check.definitions["tbl-key-findings"] == check.definitions["sec-key-findings"] == ["index.qmd"]
    # every image shown exists: one per family and condition (without its type legend where it has
    # one, then that legend once per grid and once per panel as its lightbox description), and the
    # two figures across conditions (the stand-in bundles have no training-loss.png), and the PDF's
    # single key of the type colours (#fig-type-colours)
    images = [image for page_images in check.images.values() for image in page_images]
    with_legend = [family for family in figure_families() if family.type_legend]
    legends = len(with_legend) * (1 + len(conditions)) + 1
    assert len(images) == len(figure_families()) * len(conditions) + legends + 2
    assert {i.name for i in images if i.name.endswith("-panel.png")} == {f"{f.name}-panel.png" for f in with_legend}
    assert sum(i.name == "type-legend.png" for i in images) == legends
    assert all(image.is_file() for image in images)
    assert {i.name for i in images if i.parent.name == "book-figures"} == {
        "recovery-curves.png",
        "metrics-vs-sigma.png",
    }


def test_each_chapter_links_the_pages_of_its_executed_notebooks(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    for section in SECTIONS:
        text = book_check.expand_includes(layout.chapters / f"{section.name}.qmd")
        for condition in conditions:
            # a page of the site (the book's chapters are one folder down from its root)
            assert text.count(f"(../notebooks/{condition.name}/{section.name}.html)") == 1
        assert ".ipynb)" not in text, "no raw notebook (a browser downloads it as JSON)"
        assert f"results/\\<condition\\>/notebooks/{section.name}.ipynb" in text, "the PDF names the files"
    index = (layout.generated / "notebook-index.qmd").read_text()
    for condition in conditions:
        for section in SECTIONS:
            assert f"[page](../notebooks/{condition.name}/{section.name}.html)" in index
            link = f"(../results/{condition.name}/notebooks/{section.name}.ipynb)"
            assert link in index and (layout.chapters / link[1:-1]).resolve().is_file()


def test_generated_summary_table_matches_metrics_json(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    table = (layout.generated / "summary-table.qmd").read_text()
    rows = {cells[0]: cells[1:] for cells in grid_cells(table)[2:]}
    labels = {
        "W_corrected_R2": "W corrected R²",
        "W_corrected_slope": "W corrected slope",
        "tau_R2": "τ R²",
        "V_rest_R2": "V~rest~ R²",
        "clustering_accuracy": "Clustering accuracy",
    }
    for index, condition in enumerate(conditions):
        metrics = json.loads((layout.result_dir(condition.name) / "metrics.json").read_text())["metrics"]
        for metric, label in labels.items():
            assert rows[label][2 * index] == format_value(metrics[metric]["value"])


def test_adding_a_condition_needs_no_hand_edit(tmp_path):
    layout = analysed_copy(tmp_path)
    # a third σ whose (copied) bundle and results exist
    shutil.copytree(layout.bundle_dir("sigma-0p5"), layout.bundle_dir("sigma-1"))
    shutil.copytree(layout.result_dir("sigma-0p5"), layout.result_dir("sigma-1"))
    document = yaml.safe_load(layout.conditions_file.read_text())
    document["conditions"].append({"name": "sigma-1", "sigma": 1.0, "label": "σ = 1"})
    layout.conditions_file.write_text(yaml.safe_dump(document, allow_unicode=True))
    hand_written = {
        p: p.read_text() for p in [*layout.chapters.glob("*.qmd"), layout.root / "index.qmd", layout.quarto_config]
    }
    chapters.build_chapters(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    grid = (layout.generated / "fig-weights-raw.qmd").read_text()
    assert "layout-ncol=3" in grid and "{#fig-weights-raw-sigma-1 " in grid and "![σ = 1]" in grid
    assert grid_cells((layout.generated / "summary-table.qmd").read_text())[0][-1] == "σ\u00a0=\u00a01"
    assert book_check.check_book(layout).problems == []
    assert {p: p.read_text() for p in hand_written} == hand_written, "no hand-written file changed"


def test_new_figure_family_appears_without_editing_the_chapter(tmp_path, monkeypatch):
    layout = analysed_copy(tmp_path)
    extra = FigureFamily("spectral-gap", "Spectral gap", "The gap between the leading eigenvalues.")
    sections = tuple(Section(s.name, s.title, s.figures + (extra,)) if s.name == "spectral" else s for s in SECTIONS)
    monkeypatch.setattr(chapters, "SECTIONS", sections)
    for name in ("sigma-0", "sigma-0p5"):
        (layout.result_dir(name) / "figures" / "spectral-gap.png").write_bytes(b"png")
    chapters.build_chapters(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    more = (layout.generated / "spectral-more.qmd").read_text()
    assert "::: {#fig-spectral-gap}\n\n:::: {layout-ncol=2}" in more and "## Spectral gap" in more
    assert "fig-spectral " not in more, "families placed by the chapter are not repeated"
    assert book_check.check_book(layout).problems == []


def test_unchanged_rebuild_rewrites_nothing(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    assert chapters.build_chapters(layout, conditions, log=lambda m: None)
    stamps = {p: p.stat().st_mtime_ns for p in layout.generated.iterdir()}
    assert chapters.build_chapters(layout, conditions, log=lambda m: None) == []
    assert {p: p.stat().st_mtime_ns for p in layout.generated.iterdir()} == stamps


def test_book_is_not_built_from_stale_or_missing_results(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    before = {p: p.read_text() for p in layout.generated.iterdir()}
    (layout.bundle_dir("sigma-0") / "model.safetensors").write_bytes(b"retrained")
    shutil.rmtree(layout.result_dir("sigma-0p5"))
    with pytest.raises(FlygnnError) as error:
        chapters.build_chapters(layout, conditions, log=lambda m: None)
    message = str(error.value)
    assert "sigma-0: the results were made from another bundle than data/bundles/sigma-0/ holds" in message
    assert "sigma-0p5: not analysed (no results/sigma-0p5/manifest.json)" in message
    assert {p: p.read_text() for p in layout.generated.iterdir()} == before, "generated chapters untouched"


def test_missing_include_is_reported_before_quarto_runs(tmp_path):
    layout = analysed_copy(tmp_path)
    chapters.build_chapters(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    (layout.generated / "fig-tau.qmd").unlink()
    with pytest.raises(FlygnnError, match=r"includes _generated/fig-tau.qmd, which does not exist"):
        book_check.check_book(layout)


def test_duplicate_ids_and_dangling_references_are_found(tmp_path):
    layout = analysed_copy(tmp_path)
    chapters.build_chapters(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    spectral = layout.chapters / "spectral.qmd"
    spectral.write_text(spectral.read_text() + "\n{{< include _generated/fig-tau.qmd >}}\n\nSee @fig-nowhere.\n")
    problems = book_check.check_book(layout).problems
    assert any(p.startswith("id #fig-tau is defined 2 times") for p in problems)
    assert any(p.startswith("id #fig-tau-sigma-0 is defined 2 times") for p in problems)
    assert "@fig-nowhere is referenced in ['chapters/spectral.qmd'] but defined nowhere" in problems


def test_a_reference_to_an_unnumbered_section_is_found(tmp_path):
    """Quarto renders it as "?@sec-preface" (and the HTML check then fails the build)."""
    layout = analysed_copy(tmp_path)
    chapters.build_chapters(layout, load_conditions(layout.conditions_file), log=lambda m: None)
    assert book_check.check_book(layout).unnumbered == {"sec-key-findings", "sec-preface"}
    spectral = layout.chapters / "spectral.qmd"
    spectral.write_text(spectral.read_text() + "\nAs @sec-preface says, and @sec-summary.\n")
    (problem,) = book_check.check_book(layout).problems
    assert problem.startswith("@sec-preface is referenced in ['chapters/spectral.qmd'] but is an unnumbered section")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: "project: [\n", "is not valid YAML"),
        (lambda c: {**c, "book": {k: v for k, v in c["book"].items() if k != "author"}}, "book.author is required"),
        (lambda c: {**c, "project": {**c["project"], "type": "website"}}, "project.type must be 'book'"),
        (lambda c: {**c, "execute": {"enabled": True}}, "execute.enabled must be false"),
        (
            lambda c: {
                **c,
                "book": {**c["book"], "chapters": [ch for ch in c["book"]["chapters"] if "spectral" not in ch]},
            },
            r"book.chapters lacks \['chapters/spectral.qmd'\]",
        ),
        (
            lambda c: {**c, "book": {**c["book"], "chapters": [*c["book"]["chapters"], "chapters/absent.qmd"]}},
            r"chapter file\(s\) \['chapters/absent.qmd'\] listed in book.chapters do not exist",
        ),
    ],
)
def test_malformed_quarto_config_is_a_clear_message(tmp_path, edit, message):
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)], bundles=False)
    config = yaml.safe_load(layout.quarto_config.read_text())
    edited = edit(config)
    layout.quarto_config.write_text(edited if isinstance(edited, str) else yaml.safe_dump(edited))
    with pytest.raises(FlygnnError, match=message):
        book_check.chapter_files(layout, book_check.load_quarto_config(layout))


def test_report_command_reports_malformed_inputs(tmp_path, monkeypatch, capsys):
    from flygnn.cli import main

    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)], bundles=False)
    monkeypatch.chdir(layout.root)
    layout.conditions_file.write_text("conditions:\n  - name: Sigma 0\n    sigma: 0\n")
    assert main(["report", "--no-render"]) == 2
    assert "conditions.yaml, conditions #1.name: String should match pattern" in capsys.readouterr().err
    layout.conditions_file.write_text("conditions:\n  - name: sigma-0\n    sigma: 0\n")
    layout.quarto_config.write_text("project:\n  type: book\n book: {\n")
    assert main(["report", "--no-render"]) == 2
    assert "_quarto.yml is not valid YAML" in capsys.readouterr().err


def test_placeholders_let_a_fresh_clone_load(tmp_path):
    layout = make_project(tmp_path, bundles=False)
    conditions = load_conditions(layout.conditions_file)
    chapters.generate_parts(layout, conditions, None).write()
    check = book_check.check_book(layout)
    assert [p for p in check.problems if "does not exist" not in p] == [], "ids and references are consistent"
    table = (layout.generated / "summary-table.qmd").read_text()
    assert ["W corrected R²", "n/a", "0.9263", "n/a", "0.9898"] in grid_cells(table)
    assert "Not available for σ\u00a0=\u00a00 and σ\u00a0=\u00a00.5 (not analysed yet)" in table, "one line for both"
    findings = (layout.generated / "key-findings.qmd").read_text()
    assert "No condition has been analysed yet" in findings and "{#tbl-key-findings}" in findings
    assert "| W corrected R² | n/a vs 0.9263 — not analysed yet | n/a vs 0.9898 — not analysed yet |" in findings


def test_committed_book_loads_in_a_fresh_clone():
    """Quarto resolves includes when it loads the project, before the pre-render step:
    every include of the committed chapters must exist and the ids must be consistent."""
    layout = ProjectLayout.at(ROOT)
    check = book_check.check_book(layout)
    assert [p for p in check.problems if "does not exist" not in p] == []
    for family in figure_families():
        assert f"fig-{family.name}" in check.definitions


def test_the_book_opens_with_the_key_findings():
    """The landing page (HTML) and the first chapter (PDF) are the key findings; the preface follows."""
    layout = ProjectLayout.at(ROOT)
    config = book_check.load_quarto_config(layout)
    assert [layout.relative(p) for p in book_check.chapter_files(layout, config)[:2]] == [
        "index.qmd",
        "chapters/preface.qmd",
    ]
    check = book_check.check_book(layout, config)
    # the verdicts and the numbers behind them on one page: two unnumbered chapters would both have a "Table 1"
    for identifier in ("sec-key-findings", "tbl-key-findings", "tbl-summary"):
        assert check.definitions[identifier] == ["index.qmd"], identifier
    assert check.definitions["sec-preface"] == ["chapters/preface.qmd"]
    assert not [
        i for i, pages in check.definitions.items() if i.startswith("tbl-") and pages == ["chapters/preface.qmd"]
    ]
    assert {"fig-weights-corrected", "fig-tau", "fig-v-rest", "tbl-summary"} <= set(
        i for i, pages in check.references.items() if "index.qmd" in pages
    ), "each verdict links its evidence"


def test_png_fixture_is_a_png():
    import base64

    assert base64.b64decode(PNG_1x1)[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "recorded, shown",
    [
        ("/work/shared/data/flyvis_pretrained/flow/0000/000", "…/flow/0000/000"),
        ("C:\\Users\\me\\flyvis\\flow\\0000\\000", "…/flow/0000/000"),
        ("data/datasets/cpu/sigma-0.zarr", "data/datasets/cpu/sigma-0.zarr"),
        ("synthetic (seed=0)", "synthetic (seed=0)"),
    ],
)
def test_recorded_paths_are_printed_without_the_machine(tmp_path, recorded, shown):
    assert shown_path(recorded, ProjectLayout.at(tmp_path)) == shown
    inside = tmp_path / "data" / "bundles" / "sigma-0"
    assert shown_path(str(inside), ProjectLayout.at(tmp_path)) == "data/bundles/sigma-0"


def test_provenance_is_readable_and_prints_no_absolute_path(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    manifest_path = layout.result_dir("sigma-0") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["bundle"]["groundtruth"] = {"source": "/home/someone/flyvis/flow/0000/000", "synthetic": False}
    manifest["parameters"]["synthetic_groundtruth"] = False
    manifest["bundle"]["dataset"]["path"] = str(tmp_path / "data" / "datasets" / "sigma-0.zarr")
    manifest["bundle"]["training"]["wall_time_s"] = 4403.1
    manifest_path.write_text(json.dumps(manifest))
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    text = (layout.generated / "provenance.qmd").read_text()
    assert "/home/" not in text and str(tmp_path) not in text
    rows = {
        line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in text.splitlines() if line.startswith("| ")
    }
    assert rows["Ground truth"][0] == "flyvis …/flow/0000/000"
    assert rows["Training dataset"][0] == "data/datasets/sigma-0.zarr"
    assert rows["Wall time"][0] == "4403 s (1 h 13 min)"
    assert rows["Bundle"][0] == "data/bundles/sigma-0"
    # the same ground truth (one fingerprint) loaded from two places has one name, the first column's
    other = layout.result_dir(conditions[1].name) / "manifest.json"
    record = json.loads(other.read_text())
    record["bundle"]["groundtruth"] = {"source": "flyvis flow/0000/000 (shipped with flygnn)", "fingerprint": "gt1"}
    record["parameters"]["synthetic_groundtruth"] = False
    other.write_text(json.dumps(record))
    manifest["bundle"]["groundtruth"]["fingerprint"] = "gt1"
    manifest_path.write_text(json.dumps(manifest))
    chapters.build_chapters(layout, conditions, log=lambda m: None)
    provenance = (layout.generated / "provenance.qmd").read_text()
    truths = next(line for line in provenance.splitlines() if line.startswith("| Ground truth |"))
    assert [t.strip() for t in truths.strip("|").split("|")[1:]] == ["flyvis …/flow/0000/000"] * 2
    # the long software lists are printed once below the table, not per column
    assert text.count("Trained with (every noise level): flygnn 0.1.0, torch 2.x.") == 1
    assert "{#tbl-provenance}" in text
