"""Generate the book's chapter parts from the conditions, the sections and the results.

The chapters (``index.qmd``, ``chapters/<section>.qmd``, ``chapters/preface.qmd``) are prose written by hand;
everything that depends on the conditions or on results is written here into
``chapters/_generated/`` and pulled in with ``{{< include >}}``:

``fig-<family>.qmd``         one σ-grid per figure family of :mod:`flygnn.sections`:
                             ``::: {#fig-<family> layout-ncol=<n conditions>}``
                             holding ``![<label>](…/<family>.png){#fig-<family>-<condition>}``
                             per condition, the shared caption last
``<section>-more.qmd``       σ-grids of the section's families that its chapter does
                             not place by hand (so a new family needs no edit), and
                             links to the pages of the executed notebooks of every
                             condition (:mod:`flygnn.report.notebook_pages`)
``summary-table.qmd``        ``#tbl-summary`` (ours beside published)
``key-findings.qmd``         ``#tbl-key-findings``: a verdict per row of the study's table
                             and σ, and the sentences above it, for the first page
                             (:mod:`flygnn.report.key_findings`)
``additional-metrics.qmd``   ``#tbl-additional-metrics``
``conditions.qmd``           the conditions in one sentence
``ground-truth-notice.qmd``  a warning on the first page when a ground truth is synthetic
``provenance.qmd``           ``#tbl-provenance``: bundles, training, datasets, ground
                             truth; code and library versions below it
``notebook-index.qmd``       every executed notebook: its page (HTML) or file (PDF)

The last three, and the check that every condition has current results, come from
:mod:`flygnn.report.provenance`; the parts across conditions (the figures drawn from the
results, the per-type table, the findings, …) from the modules :func:`book_parts` names.
:mod:`flygnn.report.book_check` checks the book's structure: ``_quarto.yml`` and its chapters
before the parts are written, ids, cross-references and images after.

Quarto reads a book's includes when it loads the project, *before* its pre-render
step runs, so these files are committed and rewritten in place (only when their
text changes); the pre-render step refreshes them before the pages are rendered.

Figures are referenced by paths relative to ``chapters/`` (``../results/<condition>/
figures/<family>.png``), which Quarto copies into the site and embeds in the PDF.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flygnn.atomic import write_text
from flygnn.bundle import file_sha256
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.metric_names import TAU_R2, UPSTREAM_METRICS
from flygnn.project import ProjectLayout
from flygnn.report.book_check import INCLUDE, chapter_files, check_book, load_quarto_config
from flygnn.report.markdown import GENERATED_NOTE, escape_markdown, escape_prose, listed, posix_relpath
from flygnn.report.notebook_pages import page_href
from flygnn.report.provenance import (
    ConditionResults,
    check_results,
    ground_truth_notice,
    notebook_index,
    provenance,
)
from flygnn.report.summary import additional_metrics_table, load_metrics, load_published, summary_table
from flygnn.sections import SECTIONS, TYPE_LEGEND_FIGURE, FigureFamily, Section

Log = Callable[[str], None]


def figure_id(family: FigureFamily, condition: Condition | None = None) -> str:
    """``fig-<family>`` for the σ-grid, ``fig-<family>-<condition>`` for one of its panels."""
    return f"fig-{family.name}" if condition is None else f"fig-{family.name}-{condition.name}"


# The Typst book's page (A4, measured on its render): the text block's width, and the height
# a figure of stacked panels may take with its sub-captions (0.3 in each) and caption, so that a
# few lines of text fit on its page. The type legend below a grid is left out of the PDF, which
# prints it once (#fig-type-colours, chapters/sigma-grid-stack.lua).
PDF_TEXT_WIDTH_IN = 6.77  # A4 less 1.9 cm margins (chapters/book-body.typ)
PDF_FIGURE_HEIGHT_IN = 6.8
PDF_SUBCAPTION_IN = 0.3
# between panels side by side (Typst's grid gutter in Quarto's figure layout)
PDF_COLUMN_GAP_IN = 0.15


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels of an image (Pillow reads only its header); None for a missing
    or unreadable file."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError:  # also Pillow's UnidentifiedImageError
        return None


def _pdf_stacked_width(family: FigureFamily, panels: Sequence[Path]) -> float | None:
    """The share of the PDF's text width at which a stacked σ-grid's panels (one per row) all fit one
    page with the grid's legend and caption: from the tallest panel's shape (None: not stacked, or
    no panel to measure)."""
    sizes = [size for size in map(png_size, panels) if size is not None and size[1] > 0]
    if not family.stack_in_pdf or not sizes:
        return None
    # the PDF prints the type legend once (#fig-type-colours), not under the grid
    height = family.pdf_height_in if family.pdf_height_in is not None else PDF_FIGURE_HEIGHT_IN
    per_panel = height / len(panels) - PDF_SUBCAPTION_IN
    aspect = min(width / tall for width, tall in sizes)
    return max(0.1, min(1.0, per_panel * aspect / PDF_TEXT_WIDTH_IN))


def pdf_panel_width_in(family: FigureFamily, panels: Sequence[Path]) -> float:
    """The width in inches at which the PDF prints each panel of a σ-grid of these panels: a
    stacked grid's share of the text width, or an equal share of it for panels side by side. A
    panel's text prints at its drawn size times this width over the panel's own (its pixels over
    the figures' savefig dpi); tests/test_notebooks.py holds that to a legible size."""
    stacked = _pdf_stacked_width(family, panels)
    if stacked is not None:
        return stacked * PDF_TEXT_WIDTH_IN
    n = max(1, len(panels))
    return (PDF_TEXT_WIDTH_IN - (n - 1) * PDF_COLUMN_GAP_IN) / n


def sigma_grid(family: FigureFamily, conditions: Sequence[Condition], layout: ProjectLayout) -> str:
    """One parent figure with one sub-figure per condition, side by side.

    The ``.sigma-grid`` div around it is widened to the page by the book's HTML filter
    (chapters/sigma-grid.lua); each panel opens in a lightbox whose gallery is the
    family, so a reader steps through σ at full size.
    """
    n = len(conditions)
    images = [layout.result(c.name).figure(family.panel) for c in conditions]
    legend = layout.result(conditions[0].name).figure(TYPE_LEGEND_FIGURE)
    legend_path = posix_relpath(legend, layout.chapters)
    # a panel without its legend keeps it in the lightbox: the legend is its description there
    lightbox_legend = f' description="![]({legend_path}){{alt=\\"Cell-type colours\\"}}"' if family.type_legend else ""
    panels = []
    for condition, image in zip(conditions, images, strict=False):
        panels += [
            f"![{escape_markdown(condition.label)}]({posix_relpath(image, layout.chapters)})"
            f'{{#{figure_id(family, condition)} group="{family.name}"{lightbox_legend}}}',
            "",
        ]
    # chapters/sigma-grid-stack.lua stacks the panels of a wide figure, in the PDF and in HTML
    grid = "::::: {.sigma-grid}"
    width = _pdf_stacked_width(family, images)
    if width is not None:
        grid = f'::::: {{.sigma-grid pdf-stacked-width="{width:.2f}"}}'
    # the panels in a row div inside the figure (a `layout` of rows is laid out as one column in
    # Typst; a nested row div works in both formats), the type legend below them all. With the
    # panels straight in a `layout-ncol` figure, Quarto's Typst layout takes a panel's width (the
    # stacked share, chapters/sigma-grid-stack.lua) for its cell's and applies it again inside.
    lines = [grid, "", f"::: {{#{figure_id(family)}}}", "", f":::: {{layout-ncol={n}}}", "", *panels, "::::", ""]
    if family.type_legend:
        lines += [f'![]({legend_path}){{.type-legend fig-alt="Cell-type colours, grouped by family"}}', ""]
    lines += [f"**{escape_prose(family.title)}.** {escape_prose(family.caption)}", ":::", "", ":::::", ""]
    return "\n".join(lines)


def type_colours(conditions: Sequence[Condition], layout: ProjectLayout) -> str:
    """``#fig-type-colours``, PDF only: the cell-type key printed once, in the preface, instead of
    under each σ-grid (chapters/sigma-grid-stack.lua leaves it out there; the HTML keeps it)."""
    legend = posix_relpath(layout.result(conditions[0].name).figure(TYPE_LEGEND_FIGURE), layout.chapters)
    return (
        '::: {.content-visible unless-format="html"}\n'
        f"![**Cell-type colours.** The colours of the 65 cell types, grouped by family, in every figure of "
        f"this report that colours neurons by type.]({legend}){{#fig-type-colours}}\n"
        ":::\n"
    )


def notebook_links(section: Section, conditions: Sequence[Condition]) -> str:
    """Where a chapter's executed notebooks are: their pages in HTML, their files in the PDF."""
    links = " · ".join(
        f"[{escape_markdown(c.label)}]({page_href(c.name, section.name, 'chapters')})" for c in conditions
    )
    return (
        '::: {.content-visible when-format="html"}\n'
        f"Executed notebooks of this chapter (analysis/{section.name}.ipynb run by papermill), with the "
        f"parameters papermill injected and every output: {links}\n:::\n\n"
        '::: {.content-visible unless-format="html"}\n'
        + escape_markdown(
            f"The executed notebooks of this chapter, results/<condition>/notebooks/{section.name}.ipynb, "
            "are pages of the HTML version of this report;"
        )
        + " @sec-provenance lists them.\n:::\n"
    )


def placed_families(chapter_text: str) -> set[str]:
    """Figure families a hand-written chapter includes itself."""
    return {
        Path(target).stem.removeprefix("fig-")
        for target in INCLUDE.findall(chapter_text)
        if Path(target).name.startswith("fig-")
    }


def section_more(section: Section, conditions: Sequence[Condition], layout: ProjectLayout) -> str:
    """The section's figures that no hand-written page of the book places itself (its chapter, or
    another page such as an appendix), then the links to its executed notebooks."""
    placed: set[str] = set()
    for page in sorted(layout.chapters.glob("*.qmd")):
        placed |= placed_families(page.read_text())
    parts = [GENERATED_NOTE]
    for family in section.figures:
        if family.name not in placed:
            parts += [f"## {escape_prose(family.title)}\n\n", sigma_grid(family, conditions, layout), "\n"]
    parts.append(notebook_links(section, conditions))
    return "".join(parts)


def conditions_sentence(conditions: Sequence[Condition]) -> str:
    labels = [escape_markdown(c.label) for c in conditions]
    count = "one noise level" if len(labels) == 1 else f"{len(labels)} noise levels"
    return (
        f"{GENERATED_NOTE}This report covers {count} (intrinsic noise σ of the simulator): {listed(labels)}; "
        "each figure shows them side by side.\n"
    )


@dataclass
class BookParts:
    """The generated files: path (absolute) → text."""

    files: dict[Path, str] = field(default_factory=dict)

    def write(self) -> list[Path]:
        """Write the files whose text changed (unchanged files keep their mtime)."""
        changed = []
        for path, text in self.files.items():
            if path.is_file() and path.read_text() == text:
                continue
            write_text(path, text)
            changed.append(path)
        return changed


def generate_parts(
    layout: ProjectLayout, conditions: Sequence[Condition], results: Sequence[ConditionResults] | None
) -> BookParts:
    """Every file of ``chapters/_generated/`` for these conditions and results.

    ``results=None`` writes placeholders (every value "missing"): what a fresh clone
    holds so that Quarto can load the project before the first analysis.
    """
    published = load_published(layout.published)
    if results is None:
        metrics: Mapping[str, Mapping[str, Any] | None] = {c.name: None for c in conditions}  # "not analysed yet"
        results = [ConditionResults(c, {}) for c in conditions]
    else:
        metrics = load_metrics(layout.results, conditions)
    out = layout.generated
    parts = BookParts()
    for section in SECTIONS:
        for family in section.figures:
            parts.files[out / f"fig-{family.name}.qmd"] = GENERATED_NOTE + sigma_grid(family, conditions, layout)
        parts.files[out / f"{section.name}-more.qmd"] = section_more(section, conditions, layout)
    parts.files[out / "summary-table.qmd"] = GENERATED_NOTE + summary_table(conditions, metrics, published)
    parts.files[out / "additional-metrics.qmd"] = GENERATED_NOTE + additional_metrics_table(
        conditions, metrics, published
    )
    parts.files[out / "type-colours.qmd"] = GENERATED_NOTE + type_colours(conditions, layout)
    parts.files[out / "conditions.qmd"] = conditions_sentence(conditions)
    parts.files[out / "ground-truth-notice.qmd"] = ground_truth_notice(results, layout)
    parts.files[out / "provenance.qmd"] = provenance(results, layout)
    parts.files[out / "notebook-index.qmd"] = notebook_index(conditions, layout)
    parts.files.update(book_parts(layout, conditions, metrics, published, draw=any(r.manifest for r in results)))
    return parts


def book_parts(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: Any,
    draw: bool,
) -> dict[Path, str]:
    """The parts across conditions: figures drawn from the bundles and results (``draw``: draw
    them and write the downloads; False for placeholders), the per-type table, the texts whose
    numbers come from the results, the glossary and the downloads."""
    from flygnn.metric_format import format_value
    from flygnn.report import (
        book_figures,
        budget,
        configuration,
        findings,
        key_findings,
        per_type,
        replicates,
        shortfalls,
        study,
        validation,
    )
    from flygnn.report.glossary import glossary_table
    from flygnn.report.summary import metric_cell
    from flygnn.report.training import load_training

    out = layout.generated
    records = load_training(layout, conditions)
    per_type_results = per_type.load_per_type(layout, conditions)
    scores = {
        c.name: {m: metric_cell(metrics.get(c.name), m, c).text for _, m, _ in per_type.RESIDUAL_SHARES}
        for c in conditions
    }
    tau_r2 = {name: by_metric[TAU_R2] for name, by_metric in scores.items()}
    tau_row = next((row for row in published.rows if row.metric == TAU_R2), None)
    published_tau = {
        c.name: format_value(tau_row.published_at(c.sigma))
        if tau_row and tau_row.published_at(c.sigma) is not None
        else "—"
        for c in conditions
    }
    loss_grid = book_figures.training_loss_grid(layout, records)
    files = {
        out / "fig-recovery-curves.qmd": GENERATED_NOTE
        + book_figures.recovery_curves(layout, records, published, draw),
        out / "fig-metrics-vs-sigma.qmd": GENERATED_NOTE
        + book_figures.metrics_vs_sigma(layout, conditions, metrics, published, draw),
        out / "fig-training-loss.qmd": GENERATED_NOTE + loss_grid,
        out / "per-type-table.qmd": GENERATED_NOTE
        + (per_type.ceiling_sentence(per_type_results, tau_r2) + "\n\n").lstrip()
        + per_type.per_type_table(per_type_results),
        out / "sigma-zero.qmd": GENERATED_NOTE + per_type.sigma_zero(per_type_results, published_tau, tau_r2),
        out / "residual-shares.qmd": GENERATED_NOTE + per_type.residual_shares(per_type_results, scores),
        out / "glossary.qmd": GENERATED_NOTE + glossary_table(conditions, metrics, UPSTREAM_METRICS),
        out / "differences.qmd": GENERATED_NOTE
        + study.differences(records, published, loss_figure="#fig-training-loss" in loss_grid),
        out / "downloads.qmd": GENERATED_NOTE + study.downloads(layout, conditions),
        out / "held-out.qmd": GENERATED_NOTE + validation.held_out_part(conditions, metrics),
        out / "validation-summary.qmd": GENERATED_NOTE + validation.validation_summary(conditions, metrics),
        out / "replicates.qmd": GENERATED_NOTE + replicates.project_replicates_part(layout, published),
        out / "stimulus.qmd": GENERATED_NOTE + book_figures.stimulus_ablation(layout, published, draw),
        out / "sweep.qmd": GENERATED_NOTE + book_figures.sigma_sweep(layout, published, draw),
        out / "configuration.qmd": GENERATED_NOTE + configuration.project_configuration_part(layout, published),
        out / "key-findings.qmd": GENERATED_NOTE
        + key_findings.project_key_findings_part(layout, conditions, metrics, published),
        out / "matched-budget.qmd": GENERATED_NOTE + budget.project_matched_budget_part(layout, conditions, published),
        out / "shortfalls.qmd": GENERATED_NOTE
        + shortfalls.project_shortfalls_part(layout, conditions, metrics, published),
        out / "excesses.qmd": GENERATED_NOTE + shortfalls.project_excesses_part(layout, conditions, metrics, published),
    }
    for section in SECTIONS:
        files[out / f"findings-{section.name}.qmd"] = GENERATED_NOTE + findings.findings(
            section.name, conditions, metrics
        )
    if draw:
        study.write_summary_csv(layout, conditions, metrics, published)
        per_type.copy_datatables(layout)
    return files


def build_chapters(layout: ProjectLayout, conditions: Sequence[Condition], log: Log = print) -> list[Path]:
    """Check the results, write ``chapters/_generated/`` and check the whole book.

    Returns the files that changed. Raises FlygnnError (naming conditions, files,
    ids) when anything would make Quarto fail or render a wrong book.
    """
    config = load_quarto_config(layout)
    chapter_files(layout, config)
    results = check_results(layout, conditions, log)
    parts = generate_parts(layout, conditions, results)
    changed = parts.write()
    check = check_book(layout, config)
    if check.problems:
        raise FlygnnError("the book is inconsistent:\n" + "\n".join(f"- {p}" for p in check.problems))
    stale = sorted(p for p in layout.generated.glob("*.qmd") if p not in parts.files)
    for path in stale:  # a family or section that no longer exists
        path.unlink()
    log(
        f"chapters: {len(parts.files)} generated parts ({len(changed)} changed) for "
        f"{len(conditions)} condition(s) in {layout.relative(layout.generated)}/"
    )
    return changed


def write_book_record(layout: ProjectLayout, conditions: Sequence[Condition], changed: Sequence[Path]) -> Path:
    """``results/book.json``: which results the generated parts were made from."""
    from flygnn.atomic import write_json

    record = {
        "conditions": [c.name for c in conditions],
        "manifests": {c.name: file_sha256(layout.result(c.name).manifest) for c in conditions},
        "changed": [layout.relative(p) for p in changed],
    }
    path = layout.book_record
    write_json(path, record)
    return path


def results_summary(layout: ProjectLayout, conditions: Sequence[Condition]) -> str:
    """One line per condition for the terminal: status and the upstream metrics."""
    lines = []
    for condition in conditions:
        path = layout.result(condition.name).metrics
        if not path.is_file():
            lines.append(f"  {condition.name}: no results")
            continue
        metrics = json.loads(path.read_text()).get("metrics", {})
        shown = ", ".join(
            f"{name} {entry['value']:.4f}"
            for name, entry in metrics.items()
            if name in UPSTREAM_METRICS and isinstance(entry.get("value"), (int, float))
        )
        lines.append(f"  {condition.name}: {shown or 'ok'}")
    return "\n".join(lines)
