"""The summary tables of the book, generated from ``results/<condition>/metrics.json``.

Pandoc grid tables (:mod:`flygnn.report.markdown`) with a Quarto caption and id, so
``@tbl-summary`` resolves in HTML and PDF. Our numbers come only from the metrics
files, the published ones only from ``data/published.yaml``: nothing is typed by hand.
A value that cannot be shown reads "n/a" in its cell and the reason is printed below
the table (not computed, undefined, not analysed yet, unreadable).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.metric_format import NOT_AVAILABLE, format_value
from flygnn.metric_names import COUNT, METRICS, UPSTREAM_METRICS, check_keys, lookup
from flygnn.project import ResultFolder
from flygnn.report.markdown import (
    Cell,
    GridTable,
    Row,
    escape_markdown,
    escape_message,
    escape_prose,
    keep_together,
    listed,
    table,
)
from flygnn.schema import Number, Strict, read_yaml, validated
from flygnn.sections import SECTIONS

NOT_PUBLISHED = "—"


@dataclass(frozen=True)
class PublishedRow:
    """One row of the summary table: our metric name and the published value per σ."""

    metric: str
    label: str
    published: dict[float, float]
    note: str | None = None

    def published_at(self, sigma: float) -> float | None:
        return value_at(self.published, sigma)


def value_at(values: Mapping[float, float], sigma: float) -> float | None:
    """The published value at ``sigma`` in a σ → value mapping (None when the study has none there)."""
    for published_sigma, value in values.items():
        if math.isclose(float(published_sigma), sigma, abs_tol=1e-12):
            return float(value)
    return None


@dataclass(frozen=True)
class PublishedTable:
    source: str
    rows: tuple[PublishedRow, ...]

    @property
    def metrics(self) -> list[str]:
        return [row.metric for row in self.rows]

    @property
    def labels(self) -> dict[str, str]:
        """metric → its row's text, escaped for the book's prose."""
        return {row.metric: escape_prose(row.label) for row in self.rows}


class PublishedRowEntry(Strict):
    """One row of data/published.yaml."""

    metric: str = Field(
        description=f"one of upstream's metric names, {', '.join(UPSTREAM_METRICS)} (flygnn.metric_names)"
    )
    label: str | None = Field(default=None, description="the row's text in the book (default: the metric)")
    published: dict[Number, Number] | None = Field(
        default=None, description="a mapping from σ to the published value, e.g. {0.05: 0.9852} ({} for none)"
    )
    note: str | None = Field(default=None, description="a note shown below the table")

    @field_validator("metric")
    @classmethod
    def _upstream_metric(cls, metric: str) -> str:
        if metric not in UPSTREAM_METRICS:
            raise ValueError(f"unknown metric {metric!r}; the summary table compares the metrics with upstream's names")
        return metric


class PublishedFile(Strict):
    """a mapping with 'source:' (the citation) and 'rows:', one per metric with upstream's name"""

    source: str = Field(default="", description="the citation of the published values")
    rows: list[PublishedRowEntry] = Field(
        min_length=1, description=f"one row per metric: {', '.join(UPSTREAM_METRICS)}"
    )

    @field_validator("rows")
    @classmethod
    def _each_metric_once(cls, rows: list[PublishedRowEntry]) -> list[PublishedRowEntry]:
        metrics = [row.metric for row in rows]
        repeated = sorted({m for m in metrics if metrics.count(m) > 1})
        if repeated:
            raise ValueError(f"metric(s) {repeated} have more than one row; give each metric one row")
        missing = [name for name in UPSTREAM_METRICS if name not in metrics]
        if missing:
            raise ValueError(
                f"no row for {', '.join(missing)}: every metric with upstream's name is a row of the summary "
                "table; add one (with 'published: {}' if the study gives no value)"
            )
        return rows


def load_published(path: str | Path) -> PublishedTable:
    """Read ``data/published.yaml``; errors name the file, the row and the field.

    Its rows are the metrics of :data:`flygnn.metric_names.UPSTREAM_METRICS`, each once:
    a name that is not among them, or one of them without a row, is an error.
    """
    document = read_yaml(path, "it holds the published values of the summary table.")
    checked = validated(PublishedFile, document, path)
    rows = tuple(
        PublishedRow(
            metric=row.metric,
            label=row.label if row.label is not None else row.metric,
            published=dict(row.published or {}),
            note=row.note,
        )
        for row in checked.rows
    )
    return PublishedTable(source=checked.source, rows=rows)


def load_metrics(results: Path, conditions: Sequence[Condition]) -> dict[str, dict[str, Any]]:
    """``results/<condition>/metrics.json`` of every condition: name → its "metrics" mapping.

    A metric name the registry does not know (:mod:`flygnn.metric_names`; a file written by another
    version) is an error naming the file and the name, not a row the book cannot explain.
    """
    loaded = {}
    missing = []
    for condition in conditions:
        path = ResultFolder(results / condition.name).metrics
        if not path.is_file():
            missing.append(condition.name)
            continue
        try:
            document = json.loads(path.read_text())
            loaded[condition.name] = document["metrics"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise FlygnnError(f"{path} is not a flygnn metrics file ({exc}); re-run `flygnn analyze --force`.") from exc
        check_keys(
            loaded[condition.name], str(path), "re-run `flygnn analyze --force` to write this version's metrics."
        )
    if missing:
        raise FlygnnError(
            f"no metrics.json for condition(s) {missing} in {results}: run `flygnn report` (or `flygnn analyze`)."
        )
    return loaded


@dataclass(frozen=True)
class Shown:
    """What a table cell shows for one metric of one condition, and why when it is "n/a"."""

    text: str
    reason: str | None = None


def metric_cell(metrics: Mapping[str, Any] | None, name: str, condition: Condition) -> Shown:
    """The cell for metric ``name`` of ``condition``; ``metrics`` is None when it was not analysed.

    ``name`` must be registered (:mod:`flygnn.metric_names`): a misspelt name raises
    :class:`~flygnn.metric_names.UnknownMetricError` instead of reading "n/a". Otherwise never
    raises on bad input: a metric that is absent, null, NaN or not a number gives "n/a" with
    the reason, so one broken value cannot break the table.
    """
    kind = lookup(name).kind
    if metrics is None:
        return Shown(NOT_AVAILABLE, "not analysed yet")
    if name not in metrics:
        return Shown(NOT_AVAILABLE, f"not computed: absent from results/{condition.name}/metrics.json")
    entry = metrics[name]
    value = entry.get("value") if isinstance(entry, Mapping) else entry
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        reason = entry.get("reason") if isinstance(entry, Mapping) else None
        return Shown(NOT_AVAILABLE, "undefined: " + (str(reason) if reason else "metrics.json holds no finite value"))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Shown(NOT_AVAILABLE, f"unreadable: metrics.json holds {str(value)[:40]!r}, not a number")
    if kind == COUNT and isinstance(value, float) and value.is_integer():
        return Shown(str(int(value)))  # counts stay integers
    return Shown(format_value(value))


UNFILTERED = "_unfiltered"
LISTED_NAMES = 6  # more "n/a" cells of one column and reason are counted, not all named


def _reasons(missing: dict[tuple[str, str], list[str]]) -> str:
    """The "n/a" cells of a table, one line per reason and set of metrics (the conditions that
    share both on one line)."""
    if not missing:
        return ""
    grouped: dict[tuple[str, str], list[str]] = {}
    for (label, reason), names in missing.items():
        shown = ", ".join(names[:LISTED_NAMES])
        if len(names) > LISTED_NAMES:
            shown += f" and {len(names) - LISTED_NAMES} more"
        grouped.setdefault((reason, shown), []).append(keep_together(label))
    lines = []
    for (reason, shown), labels in grouped.items():
        lines.append(f"- Not available for {listed(labels)} ({escape_message(reason)}): {shown}.")
    return "\n" + "\n".join(lines) + "\n"


def _value_width(texts: Sequence[str], *headers: str) -> int:
    return max(len(t) for t in (*texts, *headers))


def summary_table(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], published: PublishedTable
) -> str:
    """The upstream summary table (``#tbl-summary``): per σ, our value beside the published one."""
    rows: list[list[str]] = []
    missing: dict[tuple[str, str], list[str]] = {}
    for row in published.rows:
        label = escape_prose(row.label)
        cells = [label]
        for condition in conditions:
            ours = metric_cell(metrics.get(condition.name), row.metric, condition)
            if ours.reason:
                missing.setdefault((escape_markdown(condition.label), ours.reason), []).append(label)
            theirs = row.published_at(condition.sigma)
            cells += [ours.text, NOT_PUBLISHED if theirs is None else format_value(theirs)]
        rows.append(cells)
    header: list[Row] = [
        [""] + [Cell(keep_together(escape_markdown(c.label)), span=2) for c in conditions],
        ["Metric"] + ["ours", "published"] * len(conditions),
    ]
    values = [cell for r in rows for cell in r[1:]]
    # the labels get room to spare: they should not wrap even in the wider HTML font
    widths = [max(len(r[0]) for r in rows) + 6] + [_value_width(values, "published")] * (2 * len(conditions))
    grid = GridTable(header, rows, ["left"] + ["right"] * (2 * len(conditions)), widths)
    caption = (
        "Recovery of connectivity, biophysical parameters and cell types for each noise level σ: "
        f"our value beside the published one. {NOT_PUBLISHED} = not published for this σ; "
        f"{NOT_AVAILABLE} = not available (the reason is given below the table). "
        "Generated from results/<condition>/metrics.json and data/published.yaml."
    )
    text = table(grid, escape_markdown(caption), "tbl-summary") + _reasons(missing)
    notes = [f"{escape_markdown(row.label)}: {escape_markdown(row.note)}." for row in published.rows if row.note]
    if published.source:
        notes.append(f"Published values: {escape_markdown(published.source)}.")
    if notes:
        text += "\n" + "\n".join(f"- {note}" for note in notes) + "\n"
    return text


def _description(entries: Sequence[Any]) -> str:
    """What a metric is, from the first entry that says: its label, description or definition."""
    for entry in entries:
        if isinstance(entry, Mapping):
            for key in ("label", "description", "definition"):
                if entry.get(key):
                    return str(entry[key])
    return ""


def additional_metrics_table(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], published: PublishedTable
) -> str:
    """Every other metric of the metrics files (``#tbl-additional-metrics``), grouped by section.

    Whatever metrics.json holds is shown, in the order of the sections and of the file;
    a row titled by its section starts each group.
    """
    titles = {s.name: s.title for s in SECTIONS}
    order = {s.name: i for i, s in enumerate(SECTIONS)}
    names: dict[str, tuple[int, int, str]] = {}
    for condition in conditions:
        for position, (name, entry) in enumerate((metrics.get(condition.name) or {}).items()):
            if name in published.metrics or name in names:
                continue
            section = str(entry.get("section", "")) if isinstance(entry, Mapping) else ""
            names[name] = (order.get(section, len(order)), position, section)
    rows: list[Row] = []  # a section's heading (one cell across the table) and its metrics' rows
    metric_rows: list[list[str]] = []
    missing: dict[tuple[str, str], list[str]] = {}
    current: str | None = None
    repeated: list[str] = []
    width = 2 + len(conditions)
    for name, (_, _, section) in sorted(names.items(), key=lambda item: item[1][:2]):
        if section != current:
            title = titles.get(section) or (section.capitalize() if section else "Other metrics")
            rows.append([Cell(f"**{escape_markdown(title)}**", span=width)])
            current = section
        label = escape_markdown(name)
        if _same_as_filtered(name, conditions, metrics):
            repeated.append(label)
            continue
        # what the metric means in words (the registry), not the slug of its definition's rules
        description = (
            METRICS[name].words
            if name in METRICS
            else _description([(metrics.get(c.name) or {}).get(name) for c in conditions])
        )
        cells = [label, escape_prose(description)]
        for condition in conditions:
            shown = metric_cell(metrics.get(condition.name), name, condition)
            if shown.reason:
                missing.setdefault((escape_markdown(condition.label), shown.reason), []).append(label)
            cells.append(shown.text)
        rows.append(cells)
        metric_rows.append(cells)
    if not rows:
        rows = [[Cell("(none recorded)", span=width)]]
    header = [["Metric", "Definition"] + [keep_together(escape_markdown(c.label)) for c in conditions]]
    values = [cell for r in metric_rows for cell in r[2:]]
    # the printed length of a name (its Markdown escapes do not print); the definitions, words
    # that wrap, get the room the names leave
    longest_name = max((len(r[0].replace("\\", "")) for r in metric_rows), default=10)
    widths = [longest_name, 48] + [_value_width(values or ["0"], *header[0][2:])] * len(conditions)
    grid = GridTable(header, rows, ["left", "left"] + ["right"] * len(conditions), widths)
    caption = (
        "Metrics beyond the published summary table, by section, for each noise level σ "
        f"({NOT_AVAILABLE} = not available, the reason is given below the table). "
        "Generated from results/<condition>/metrics.json."
    )
    text = table(grid, escape_markdown(caption), "tbl-additional-metrics") + _reasons(missing)
    if repeated:
        text += (
            f"\n{', '.join(repeated)}: the values of the metric without the suffix at every noise level, as "
            "written here (upstream's \\|W\\* − W\\| ≤ 5 filter changes nothing they show); not repeated.\n"
        )
    return text


def _same_as_filtered(
    name: str, conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None]
) -> bool:
    """Whether ``name`` is an ``_unfiltered`` variant whose every value, as the book writes it, is that of the
    filtered metric: then the row would repeat one the tables already show."""
    if not name.endswith(UNFILTERED):
        return False
    base = name[: -len(UNFILTERED)]
    if base not in METRICS:
        return False
    shown = [(metric_cell(metrics.get(c.name), name, c), metric_cell(metrics.get(c.name), base, c)) for c in conditions]
    return all(ours.reason is None and ours.text == theirs.text for ours, theirs in shown)
