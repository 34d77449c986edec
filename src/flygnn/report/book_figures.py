"""The book's figures across conditions, drawn when the chapters are generated.

``results/book-figures/<stem>.png`` and ``.pdf`` (atomically, :func:`flygnn.figures.style.save_figure`):

``recovery-curves``   ``#fig-recovery-curves``: the four recovery metrics (upstream's rules)
                      against training iterations and wall time per σ, from each bundle's
                      training history, the published values as dashed lines
``metrics-vs-sigma``  ``#fig-metrics-vs-sigma``: each summary metric against σ, ours and published
``stimulus-ablation`` ``#fig-stimulus-ablation``: the replicate runs of one recipe on each stimulus
``sigma-sweep``       ``#fig-sigma-sweep``: the noise sweep's runs, every metric against σ

and the Markdown that shows them, plus ``#fig-training-loss``, the σ-grid of the bundles'
own ``training-loss.png``. A figure is redrawn only when what it shows changed (its
numbers and this drawing code, recorded in ``<stem>.key``), so an unchanged rebuild
draws nothing. A condition without data is named in the caption, never a failure.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.bundle import LOSS_FIGURE, LOSS_FIGURE_STEM
from flygnn.conditions import Condition
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.project import ProjectLayout
from flygnn.report.markdown import escape_markdown, escape_message
from flygnn.report.summary import PublishedTable, metric_cell
from flygnn.report.training import TrainingRecord
from flygnn.train.history import rate_changes

FOLDER = "book-figures"  # under results/
RECOVERY_CURVES = "recovery-curves"
METRICS_VS_SIGMA = "metrics-vs-sigma"
TRAINING_LOSS = LOSS_FIGURE_STEM  # the book figure (#fig-training-loss) that shows each bundle's loss figure


def figure_dir(layout: ProjectLayout) -> Path:
    return layout.results / FOLDER


def _relative(path: Path, layout: ProjectLayout) -> str:
    import os

    return Path(os.path.relpath(path, layout.chapters)).as_posix()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _draw_if_changed(directory: Path, stem: str, inputs: Any, draw: Callable[[], Any], code_module: Any = None) -> Path:
    """Draw and save ``stem`` unless ``<stem>.key`` records the same inputs and drawing code
    (``code_module``: the module that draws it, :mod:`flygnn.figures.book` by default, with the
    flygnn modules it imports: the style, the limits)."""
    from flygnn.atomic import write_text
    from flygnn.code_digest import source_digest
    from flygnn.figures import book
    from flygnn.figures.style import apply_style, save_figure

    code = source_digest([(code_module or book).__name__]).encode()
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode() + code).hexdigest()
    record = directory / f"{stem}.key"
    png, pdf = directory / f"{stem}.png", directory / f"{stem}.pdf"
    if record.is_file() and record.read_text().strip() == key and png.is_file() and pdf.is_file():
        return png
    directory.mkdir(parents=True, exist_ok=True)
    apply_style()
    save_figure(draw(), directory, stem)
    write_text(record, key + "\n")
    return png


def _series_inputs(record: TrainingRecord) -> dict[str, list[Any]] | None:
    """The columns of the scored rows (floats) and ``rate_changes``, [iteration, factor] pairs."""
    rows = record.scored
    if not rows:
        return None
    columns: dict[str, list[Any]] = {
        "iteration": [float(r["iteration"]) for r in rows],
        "wall_time_s": [float(r.get("wall_time_s", math.nan)) for r in rows],
    }
    for metric in RECOVERY_METRICS:
        columns[metric] = [float(r.get(metric, math.nan)) for r in rows]
    columns["rate_changes"] = [[float(i), f] for i, f in rate_changes(record.training.get("legs") or [])]
    return columns


def recovery_curves(
    layout: ProjectLayout, records: Sequence[TrainingRecord], published: PublishedTable, draw: bool = True
) -> str:
    """Draw ``#fig-recovery-curves`` and return its Markdown (caption names conditions without history)."""
    from flygnn.figures.book import RecoverySeries, message_figure, recovery_curves_figure

    labels = [r.condition.label for r in records]
    series = [_series_inputs(r) for r in records]
    # rows: the scores the training history carries, labelled as in the summary table
    titles = {row.metric: row.label for row in published.rows}
    rows = {metric: titles[metric] for metric in RECOVERY_METRICS}
    reference = {
        row.metric: [_number(row.published_at(r.condition.sigma)) for r in records]
        for row in published.rows
        if row.metric in RECOVERY_METRICS
    }
    path = figure_dir(layout) / f"{RECOVERY_CURVES}.png"
    if draw:

        def figure():
            if not any(series):
                return message_figure("No condition's bundle has a training history with recovery scores.")
            return recovery_curves_figure(
                [
                    None
                    if s is None
                    else RecoverySeries(
                        label,
                        np.array(s["iteration"]),
                        np.array(s["wall_time_s"]),
                        {m: np.array(s[m]) for m in RECOVERY_METRICS},
                        [tuple(change) for change in s["rate_changes"]],
                    )
                    for label, s in zip(labels, series, strict=False)
                ],
                labels,
                rows,
                reference,
            )

        path = _draw_if_changed(figure_dir(layout), RECOVERY_CURVES, [labels, rows, series, reference], figure)
    missing = [
        f"{escape_markdown(r.condition.label)}: {escape_message(r.no_curves_reason)}"
        for r in records
        if r.no_curves_reason
    ]
    caption = (
        "**Recovery during training.** The four recovery metrics by upstream's rules (rows), scored "
        "during training on the bundle's sampled training frames, against training iterations (left) "
        "and training wall time (right), one colour per noise level; dashed lines: the published value "
        "at that σ (@tbl-summary). R² rows with values near 0 or 1 are on the log-odds scale "
        "log₁₀(R² / (1 − R²)), which spreads both ends (0.1, 0.5, 0.9, 0.99, 0.999 about one step apart; "
        "linear below 0.05). Dotted lines in a condition's colour: where its training changed the "
        "learning-rate factor (each bundle's training-loss figure names the factor). "
        "From each bundle's training-history.csv."
    )
    if missing:
        caption += " Not available — " + "; ".join(missing) + "."
    return f"::::: {{.sigma-grid}}\n\n![{caption}]({_relative(path, layout)}){{#fig-{RECOVERY_CURVES}}}\n\n:::::\n"


def metrics_vs_sigma(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: PublishedTable,
    draw: bool = True,
) -> str:
    """Draw ``#fig-metrics-vs-sigma`` and return its Markdown; missing values are named below it."""
    from flygnn.figures.book import metrics_vs_sigma_figure

    labels = [c.label for c in conditions]
    titles = {row.metric: row.label for row in published.rows}
    ours: dict[str, list[float | None]] = {}
    missing: list[str] = []
    for row in published.rows:
        values = []
        for condition in conditions:
            shown = metric_cell(metrics.get(condition.name), row.metric, condition)
            entry = (metrics.get(condition.name) or {}).get(row.metric)
            value = _number(entry.get("value") if isinstance(entry, Mapping) else entry) if not shown.reason else None
            values.append(value)
            if shown.reason:
                missing.append(
                    f"{escape_markdown(row.label)} at {escape_markdown(condition.label)} "
                    f"({escape_message(shown.reason)})"
                )
        ours[row.metric] = values
    theirs = {row.metric: [_number(row.published_at(c.sigma)) for c in conditions] for row in published.rows}
    path = figure_dir(layout) / f"{METRICS_VS_SIGMA}.png"
    if draw:
        path = _draw_if_changed(
            figure_dir(layout),
            METRICS_VS_SIGMA,
            [labels, titles, ours, theirs],
            lambda: metrics_vs_sigma_figure(labels, titles, ours, theirs),
        )
    unpublished = [
        escape_markdown(row.label) for row in published.rows if not any(v is not None for v in theirs[row.metric])
    ]
    caption = (
        "**The summary metrics against noise.** Each metric of @tbl-summary at every noise level: ours "
        "(filled, solid) and the published value (open, dashed); the noise levels are equally spaced, "
        "in order of σ."
    )
    if unpublished:
        caption += " Not published for any σ: " + ", ".join(unpublished) + "."
    if missing:
        caption += " Not available (n/a in the figure): " + "; ".join(missing) + "."
    return f"![{caption}]({_relative(path, layout)}){{#fig-{METRICS_VS_SIGMA}}}\n"


def training_loss_grid(layout: ProjectLayout, records: Sequence[TrainingRecord]) -> str:
    """``#fig-training-loss``: each bundle's own training-loss.png side by side (those that have one)."""
    shown = [(r, r.loss_figure) for r in records if r.loss_figure is not None]
    absent = [escape_markdown(r.condition.label) for r in records if r.loss_figure is None]
    note = f"Not available for {', '.join(absent)}: the bundle has no {LOSS_FIGURE}.\n" if absent else ""
    if not shown:
        return f"No bundle has a training-loss figure ({LOSS_FIGURE}).\n"
    # one above the other: each is a wide two-panel figure, unreadable three abreast; in the PDF at
    # four fifths of the text width, so that three leave room on their page (sigma-grid-stack.lua)
    # (the panels in a row div inside the figure, as chapters.sigma_grid writes them: straight in a
    # `layout-ncol` figure, Quarto's Typst layout would apply the width twice)
    lines = [
        '::::: {.sigma-grid pdf-stacked-width="0.80"}',
        "",
        f"::: {{#fig-{TRAINING_LOSS}}}",
        "",
        ":::: {layout-ncol=1}",
        "",
    ]
    for record, figure in shown:
        lines += [
            f"![{escape_markdown(record.condition.label)}]({_relative(figure, layout)})"
            f'{{#fig-{TRAINING_LOSS}-{record.condition.name} group="{TRAINING_LOSS}"}}',
            "",
        ]
    lines += [
        "::::",
        "",
        "**Training loss.** Each bundle's loss terms (mean per logged window, log scale) against training "
        "iterations, and the training speed; dotted lines: where a training leg changed the learning-rate "
        'factor ("lr ×0.3": 0.3 times the preset\'s rates from there on). Drawn by `flygnn train` '
        "from the bundle's history.",
        ":::",
        "",
        ":::::",
        "",
    ]
    return "\n".join(lines) + ("\n" + note if note else "")


def _replicate_figure(
    layout: ProjectLayout,
    published: PublishedTable,
    stem: str,
    points: Mapping[float, Any],
    plot: Callable[[list[tuple[str, str]], dict[str, dict[float, float]]], Any],
    draw: bool,
) -> Path | None:
    """A figure of replicate runs (None without runs): ``plot(metrics, published values)`` draws it,
    ``metrics`` the study's rows as (name, label); redrawn only when its inputs changed."""
    from flygnn.figures import replicates as replicate_figures
    from flygnn.metric_names import UPSTREAM_METRICS

    if not points:
        return None
    labels = {row.metric: row.label for row in published.rows}
    metrics = [(m, labels[m]) for m in UPSTREAM_METRICS]
    values = {row.metric: row.published for row in published.rows}
    if not draw:
        return figure_dir(layout) / f"{stem}.png"
    return _draw_if_changed(
        figure_dir(layout),
        stem,
        [metrics, points, values],
        lambda: plot(metrics, values),
        code_module=replicate_figures,
    )


def stimulus_ablation(layout: ProjectLayout, published: PublishedTable, draw: bool = True) -> str:
    """Draw ``#fig-stimulus-ablation`` from the replicate records and return the Markdown of
    "What the stimulus changes" (:func:`flygnn.report.stimulus.stimulus_part`), with the runs'
    per-type records where they have them."""
    from flygnn.analysis.replicates import spread
    from flygnn.figures.replicates import MetricPoints, plot_stimulus_ablation
    from flygnn.replicate_runs import PER_TYPE_FOLDER, REPLICATES_FOLDER, read_per_type_records, read_replicates
    from flygnn.report.stimulus import STIMULUS_FIGURE, stimulus_part, stimulus_points

    rows = read_replicates(layout.project_root / REPLICATES_FOLDER)
    per_type = read_per_type_records(layout.project_root / REPLICATES_FOLDER / PER_TYPE_FOLDER)
    points = stimulus_points(rows)
    runs = {
        sigma: {
            stimulus: {m: MetricPoints(v, spread(v), keys) for m, (v, keys) in by_metric.items()}
            for stimulus, by_metric in by_stimulus.items()
        }
        for sigma, by_stimulus in points.items()
    }
    path = _replicate_figure(
        layout, published, STIMULUS_FIGURE, points, lambda m, v: plot_stimulus_ablation(m, runs, v), draw
    )
    return stimulus_part(rows, published.labels, None if path is None else _relative(path, layout), per_type=per_type)


def sigma_sweep(layout: ProjectLayout, published: PublishedTable, draw: bool = True) -> str:
    """Draw ``#fig-sigma-sweep`` from the sweep's replicate records and return its Markdown
    (:func:`flygnn.report.sweep.sweep_part`; a sentence while no sweep run is recorded)."""
    from flygnn.analysis.replicates import spread
    from flygnn.figures.replicates import MetricPoints, plot_sigma_sweep
    from flygnn.replicate_runs import REPLICATES_FOLDER, load_plan, load_recipe, read_replicates
    from flygnn.report.sweep import SWEEP_FIGURE, SWEEP_RECIPE, sweep_part, sweep_points

    rows = read_replicates(layout.project_root / REPLICATES_FOLDER)
    points = sweep_points(rows)
    plan = layout.project_root / REPLICATES_FOLDER / "plan.yaml"
    planned = sum(run.recipe == SWEEP_RECIPE for run in load_plan(plan)) if plan.is_file() else 0
    runs = {sigma: {m: MetricPoints(v, spread(v)) for m, v in by_metric.items()} for sigma, by_metric in points.items()}
    path = _replicate_figure(layout, published, SWEEP_FIGURE, points, lambda m, v: plot_sigma_sweep(m, runs, v), draw)
    configuration = f"{load_recipe(SWEEP_RECIPE, 0.05).configuration:g}"
    return sweep_part(rows, None if path is None else _relative(path, layout), planned, configuration, published.labels)
