"""The summary tables of the book, generated from ``results/<condition>/metrics.json``.

Markdown pipe tables (pandas' HTML tables break the PDF) with a Quarto caption and
id, so ``@tbl-summary`` resolves in HTML and PDF. Our numbers come only from the
metrics files, the published ones only from ``data/published.yaml``: nothing is
typed by hand.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.sections import SECTIONS

NOT_PUBLISHED = "—"
NOT_COMPUTED = "missing"
UNDEFINED = "n/a"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|@$~^])")


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown (captions and table cells come from data files)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def format_value(value: Any) -> str:
    """A metric value as table text: integers as they are, reals with 4 decimals."""
    if value is None:
        return UNDEFINED
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return UNDEFINED
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    if abs(value) >= 1000:
        return f"{value:.1f}"
    return f"{value:.4f}"


@dataclass(frozen=True)
class PublishedRow:
    """One row of the summary table: our metric name and the published value per σ."""

    metric: str
    label: str
    published: dict[float, float]
    note: str | None = None

    def published_at(self, sigma: float) -> float | None:
        for published_sigma, value in self.published.items():
            if math.isclose(published_sigma, sigma, abs_tol=1e-12):
                return value
        return None


@dataclass(frozen=True)
class PublishedTable:
    source: str
    rows: tuple[PublishedRow, ...]

    @property
    def metrics(self) -> list[str]:
        return [row.metric for row in self.rows]


def load_published(path: str | Path) -> PublishedTable:
    """Read ``data/published.yaml``; errors say which row and field is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FlygnnError(f"{path} not found: it holds the published values of the summary table.")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FlygnnError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list) or not document["rows"]:
        raise FlygnnError(f"{path} must hold 'source:' and a non-empty list 'rows:'.")
    rows = []
    for number, entry in enumerate(document["rows"], start=1):
        where = f"{path}, row #{number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("metric"), str):
            raise FlygnnError(f"{where}: needs 'metric:' (the name in metrics.json).")
        published = entry.get("published") or {}
        if not isinstance(published, dict):
            raise FlygnnError(f"{where} ({entry['metric']}): 'published:' must map σ to a value.")
        values = {}
        for sigma, value in published.items():
            if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
                raise FlygnnError(f"{where} ({entry['metric']}): σ key {sigma!r} is not a number.")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FlygnnError(f"{where} ({entry['metric']}): value at σ = {sigma} is not a number: {value!r}.")
            values[float(sigma)] = float(value)
        rows.append(
            PublishedRow(
                metric=entry["metric"],
                label=str(entry.get("label", entry["metric"])),
                published=values,
                note=entry.get("note"),
            )
        )
    return PublishedTable(source=str(document.get("source", "")), rows=tuple(rows))


def load_metrics(results: Path, conditions: Sequence[Condition]) -> dict[str, dict[str, Any]]:
    """``results/<condition>/metrics.json`` of every condition: name → its "metrics" mapping."""
    loaded = {}
    missing = []
    for condition in conditions:
        path = results / condition.name / "metrics.json"
        if not path.is_file():
            missing.append(condition.name)
            continue
        try:
            document = json.loads(path.read_text())
            loaded[condition.name] = document["metrics"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise FlygnnError(f"{path} is not a flygnn metrics file ({exc}); re-run `flygnn analyze --force`.") from exc
    if missing:
        raise FlygnnError(
            f"no metrics.json for condition(s) {missing} in {results}: run `flygnn report` (or `flygnn analyze`)."
        )
    return loaded


def format_metric(entry: Mapping[str, Any]) -> str:
    """A metrics.json entry as table text; counts (definition "count") as integers."""
    value = entry.get("value")
    if "count" in str(entry.get("definition", "")) and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format_value(value)


def _our_value(metrics: Mapping[str, Any], name: str) -> str:
    entry = metrics.get(name)
    if entry is None:
        return NOT_COMPUTED
    return format_metric(entry)


def _table(header: list[str], align: list[str], rows: list[list[str]], caption: str, table_id: str) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n: {caption} {{#{table_id}}}\n"


def summary_table(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any]], published: PublishedTable
) -> str:
    """The upstream summary table (``#tbl-summary``): ours beside published, per σ."""
    header = ["Metric"]
    for condition in conditions:
        label = escape_markdown(condition.label)
        header += [f"{label}: ours", f"{label}: published"]
    align = [":---"] + ["---:"] * (2 * len(conditions))
    rows = []
    for row in published.rows:
        cells = [escape_markdown(row.label)]
        for condition in conditions:
            ours = _our_value(metrics[condition.name], row.metric)
            theirs = row.published_at(condition.sigma)
            cells += [ours, NOT_PUBLISHED if theirs is None else format_value(theirs)]
        rows.append(cells)
    caption = (
        "Recovery of connectivity, biophysical parameters and cell types for each noise level σ: "
        "our value beside the published one. "
        f"{NOT_PUBLISHED} = not published for this σ; {UNDEFINED} = undefined for our model; "
        f"{NOT_COMPUTED} = not computed by the analysis. Generated from results/<condition>/metrics.json "
        "and data/published.yaml."
    )
    text = _table(header, align, rows, escape_markdown(caption), "tbl-summary")
    notes = [f"{escape_markdown(row.label)}: {escape_markdown(row.note)}." for row in published.rows if row.note]
    if published.source:
        notes.append(f"Published values: {escape_markdown(published.source)}.")
    if notes:
        text += "\n" + "\n".join(f"- {note}" for note in notes) + "\n"
    return text


def additional_metrics_table(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any]], published: PublishedTable
) -> str:
    """Every other metric of the metrics files (``#tbl-additional-metrics``), by section."""
    section_order = {s.name: i for i, s in enumerate(SECTIONS)}
    names: dict[str, tuple[int, int, str]] = {}
    for condition in conditions:
        for position, (name, entry) in enumerate(metrics[condition.name].items()):
            if name in published.metrics or name in names:
                continue
            section = str(entry.get("section", ""))
            names[name] = (section_order.get(section, len(section_order)), position, section)
    header = ["Metric", "Section", "Definition"] + [escape_markdown(c.label) for c in conditions]
    align = [":---", ":---", ":---"] + ["---:"] * len(conditions)
    rows = []
    for name, (_, _, section) in sorted(names.items(), key=lambda item: item[1][:2]):
        definition = ""
        for condition in conditions:
            entry = metrics[condition.name].get(name)
            if entry is not None:
                definition = str(entry.get("label") or entry.get("definition", ""))
                break
        rows.append(
            [escape_markdown(name), escape_markdown(section), escape_markdown(definition)]
            + [_our_value(metrics[c.name], name) for c in conditions]
        )
    if not rows:
        rows = [["(none recorded)", "", ""] + [""] * len(conditions)]
    caption = (
        "Metrics beyond the published summary table, for each noise level σ "
        f"({UNDEFINED} = undefined, {NOT_COMPUTED} = not computed for this σ). "
        "Generated from results/<condition>/metrics.json."
    )
    return _table(header, align, rows, escape_markdown(caption), "tbl-additional-metrics")
