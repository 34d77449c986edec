"""How this report differs from the study, and the files a reader can download.

``differences.qmd``: a box beside the summary table — the training schedule of every
bundle (preset, frames, iterations, batch size, from ``bundle.json``) beside the
study's (the ``paper`` presets), whether each bundle's loss was still falling when
training stopped, how its recovery scores moved over the last 30,000 iterations (is a gap
to the published value one that more training would close?), the stimulus, and where
every published number comes from.

``downloads.qmd``: the summary table as CSV (``results/downloads/summary.csv``, written
here) and every condition's ``metrics.json`` and ``per-type.csv``: links in HTML, file
names in the PDF.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flygnn.bundle import META_FILE
from flygnn.conditions import Condition
from flygnn.metric_format import format_value
from flygnn.metric_names import R2, lookup
from flygnn.project import ProjectLayout
from flygnn.report.deviations import STUDY_PRESET, deviations_part
from flygnn.report.markdown import Cell, GridTable, Row, escape_markdown, escape_message, escape_prose, keep_together
from flygnn.report.summary import NOT_PUBLISHED, PublishedTable, metric_cell
from flygnn.report.training import RECOVERY_WINDOW, TREND_FRACTION, TrainingRecord

DOWNLOADS = "downloads"  # under results/
SUMMARY_CSV = "summary.csv"
# a loss that changed by less than this over the last part of training counts as flat
FLAT = 0.02


def study_schedule(sigma: float) -> dict[str, Any] | None:
    """The study's training schedule at ``sigma`` (the ``paper`` presets); None when the study has no such σ."""
    from flygnn.simulate import preset
    from flygnn.train.config import load_training_config

    config = load_training_config(STUDY_PRESET, sigma)
    if config.derived_from is not None:
        return None
    return {
        "preset": STUDY_PRESET,
        "training_frames": preset(STUDY_PRESET)["train_frames"],
        "iterations": config.iterations,
        "batch_size": config.batch_size,
    }


def _count(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a"
    return f"{int(value):,}"


def trend_sentence(record: TrainingRecord) -> str:
    label = keep_together(escape_markdown(record.condition.label))
    trend = record.loss_trend()
    changes = record.rate_changes()
    if trend is None and changes and record.history_file:
        return (
            f"{label}: not available (fewer than four losses logged since the learning-rate change at "
            f"iteration {changes[-1][0]:,})"
        )
    if trend is None:
        source = record.history_file or "no loss history"
        return (
            f"{label}: not available ({escape_markdown(source)} has fewer than four logged losses)"
            if record.history_file
            else f"{label}: not available (the bundle has no loss history)"
        )
    change = trend.change
    percent = f"{100 * change:+.1f}".replace("-", "−")
    verdict = "still falling" if change < -FLAT else "rising" if change > FLAT else "flat (within ±2 %)"
    rate = "" if trend.rate_since is None else f", both at the rate set at iteration {trend.rate_since:,}"
    return (
        f"{label}: mean loss {trend.last:.4g} over iterations {trend.split_iteration:,}–{trend.last_iteration:,} "
        f"against {trend.before:.4g} over {trend.first_iteration:,}–{trend.split_iteration:,}{rate} "
        f"({percent} %): **{verdict}** when training stopped"
    )


def _signed(value: float, decimals: int) -> str:
    return f"{value:+.{decimals}f}".replace("-", "−")


def recovery_trend_sentence(record: TrainingRecord, labels: Mapping[str, str]) -> str:
    """How the R² scores moved over the last :data:`RECOVERY_WINDOW` iterations (labels: metric → name)."""
    label = keep_together(escape_markdown(record.condition.label))
    trend = record.recovery_trend()
    if trend is None:
        reason = record.no_curves_reason or "it has fewer than two scored rows"
        return f"{label}: not available, {escape_message(reason)}"
    span = f"iterations {trend.first_iteration:,}–{trend.last_iteration:,}"
    if trend.whole:
        span += f" (all it has: {trend.last_iteration - trend.first_iteration:,} iterations)"
    parts = [
        f"{escape_prose(labels.get(m, m))} {format_value(trend.before[m])} → {format_value(trend.last[m])} "
        f"({_signed(trend.change(m), 5)})"
        for m in trend.last
        if lookup(m).kind == R2
    ]
    return f"{label}, {span}: " + ", ".join(parts)


def schedule_sentence(records: Sequence[TrainingRecord]) -> str:
    """Which bundles were trained with the study's preset, which with another one."""
    column = f"the study's column is its published configuration (`flygnn train --preset {STUDY_PRESET}`)."
    study = [r for r in records if r.setting("preset") == STUDY_PRESET]
    if not study:
        return "Our bundles were trained on this project's machines, not with the study's schedule; " + column
    if len(study) == len(records):
        return "Our bundles were trained on this project's machines with the study's preset; " + column
    labels = ", ".join(keep_together(escape_markdown(r.condition.label)) for r in study)
    plural = len(study) > 1
    return (
        f"The bundle{'s' if plural else ''} at {labels} {'were' if plural else 'was'} trained with the "
        f"study's preset, the other{'s' if len(records) - len(study) > 1 else ''} with another one, all on "
        "this project's machines; " + column
    )


def differences(records: Sequence[TrainingRecord], published: PublishedTable, loss_figure: bool) -> str:
    """The "Differences from the study" box."""
    header: list[Row] = [
        [""] + [Cell(keep_together(escape_markdown(r.condition.label)), span=2) for r in records],
        [""] + ["ours", "study"] * len(records),
    ]
    schedules = [study_schedule(r.condition.sigma) for r in records]
    rows: list[list[str]] = []
    unrecorded: dict[str, list[str]] = {}
    for label, key in (
        ("Training preset", "preset"),
        ("Training frames", "training_frames"),
        ("Iterations", "iterations"),
        ("Batch size (frames per iteration)", "batch_size"),
    ):
        cells = [label]
        for record, study in zip(records, schedules, strict=False):
            ours = record.setting(key)
            theirs = None if study is None else study[key]
            shown = _count if key != "preset" else (lambda v: escape_markdown(str(v)) if v else "n/a")
            cells += [shown(ours), NOT_PUBLISHED if theirs is None else shown(theirs)]
            if shown(ours) == "n/a":
                unrecorded.setdefault(record.condition.label, []).append(label.lower())
        rows.append(cells)
    grid = GridTable(header, rows, ["left"] + ["right"] * (2 * len(records)), [22] + [8] * (2 * len(records)))
    problems = [
        f"- {keep_together(escape_markdown(r.condition.label))}: {escape_markdown(r.problem)}."
        for r in records
        if r.problem
    ]
    problems += [
        f"- n/a for {keep_together(escape_markdown(c))}: {META_FILE} does not record the "
        f"{escape_markdown(', '.join(what))}."
        for c, what in unrecorded.items()
    ]
    trend = "\n".join(f"    - {trend_sentence(r)}." for r in records)
    labels = {row.metric: row.label for row in published.rows}
    recovery = "\n".join(f"    - {recovery_trend_sentence(r, labels)}." for r in records)
    figure = " (@fig-training-loss)" if loss_figure else ""
    notes = [f"{escape_markdown(row.label)}: {escape_markdown(row.note)}" for row in published.rows if row.note]
    sources = (
        f"Every published value beside ours (@tbl-summary, @fig-metrics-vs-sigma, @fig-recovery-curves) is from "
        f"{escape_markdown(published.source) or 'data/published.yaml'}"
        + (" — " + "; ".join(notes) if notes else "")
        + "."
    )
    return (
        '::: {.callout-note collapse="false"}\n## Differences from the study\n\n'
        + schedule_sentence(records)
        + "\n\n"
        + grid.markdown()
        + ("\n" + "\n".join(problems) + "\n" if problems else "")
        + f"\n- **Training loss{figure}.** The mean loss over the last {round(100 * TREND_FRACTION)} % of the "
        "logged iterations against the same span before it, both after the last learning-rate change when "
        "there was one (a lower rate lowers the loss at once: less gradient noise, not progress):\n" + trend + "\n"
        f"- **Recovery over the last {RECOVERY_WINDOW:,} iterations** (@fig-recovery-curves; upstream's rules, "
        "on the training frames): each R² at the last score against the score that many iterations before "
        "it. A change near 0 beside a gap to the published value means that more of the same training is "
        "unlikely to close the gap:\n" + recovery + "\n" + deviations_part(records) + "\n"
        "- **Stimulus.** Ours: saccadic movies over stock photographs shipped with scikit-image, scikit-learn "
        "and matplotlib, rendered on the hexagonal eye (no download at run time), split into training and test "
        "by source image. The study's: the DAVIS video data set. The inputs differ in content and statistics, "
        "so our numbers and the published ones come from different stimuli.\n"
        f"- **Published numbers.** {sources}\n"
        ":::\n"
    )


def summary_rows(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], published: PublishedTable
) -> list[dict[str, str]]:
    """The summary table in long form: one row per metric and condition (value "" with the reason when n/a)."""
    rows = []
    for row in published.rows:
        for condition in conditions:
            shown = metric_cell(metrics.get(condition.name), row.metric, condition)
            entry = (metrics.get(condition.name) or {}).get(row.metric)
            value = entry.get("value") if isinstance(entry, Mapping) else entry
            theirs = row.published_at(condition.sigma)
            rows.append(
                {
                    "metric": row.metric,
                    "label": row.label,
                    "condition": condition.name,
                    "sigma": f"{condition.sigma:g}",
                    "ours": "" if shown.reason else repr(float(value)) if isinstance(value, float) else str(value),
                    "published": "" if theirs is None else format_value(theirs),
                    "note": shown.reason or "",
                }
            )
    return rows


def write_summary_csv(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: PublishedTable,
) -> Path:
    from flygnn.atomic import write_text

    rows = summary_rows(conditions, metrics, published)
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, ["metric", "label", "condition", "sigma", "ours", "published", "note"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    path = layout.results / DOWNLOADS / SUMMARY_CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != buffer.getvalue():
        write_text(path, buffer.getvalue())
    return path


def downloads(layout: ProjectLayout, conditions: Sequence[Condition]) -> str:
    """Links to the summary CSV and each condition's metrics.json and per-type.csv."""

    def href(path: Path) -> str:
        return Path(os.path.relpath(path, layout.chapters)).as_posix()

    summary = layout.results / DOWNLOADS / SUMMARY_CSV
    items = [
        f"- The summary table (@tbl-summary) as CSV, one row per metric and noise level: [summary.csv]({href(summary)})"
    ]
    held: dict[str, tuple[str, ...]] = {}  # condition label → the files its folder holds
    for condition in conditions:
        folder = layout.result(condition.name)
        links = [f"[{folder.metrics.name}]({href(folder.metrics)})"]
        names = [folder.metrics.name]
        if folder.per_type.is_file():
            links.append(f"[{folder.per_type.name}]({href(folder.per_type)}) (@tbl-per-type-recovery)")
            names.append(folder.per_type.name)
        label = keep_together(escape_markdown(condition.label))
        items.append(f"- {label}: " + ", ".join(links))
        held[f"{label}: {escape_markdown(layout.relative(folder.path))}/"] = tuple(names)
    # in print, one short paragraph: a list of paths that link nowhere is not worth a third of a page
    if len(set(held.values())) == 1:
        files = " and ".join(next(iter(held.values())))
        each = f"each noise level's {escape_markdown(files)} ({'; '.join(held)})"
    else:
        each = "; ".join(f"{where} ({escape_markdown(' and '.join(names))})" for where, names in held.items())
    return (
        '::: {.content-visible when-format="html"}\n' + "\n".join(items) + "\n:::\n\n"
        '::: {.content-visible unless-format="html"}\n'
        f"The HTML version of this report links these files: the summary table as CSV "
        f"({escape_markdown(layout.relative(summary))}) and {each}.\n:::\n"
    )
