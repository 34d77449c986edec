"""The glossary of metrics (``#tbl-glossary``): every metric of the metrics files, once.

Per metric: its definition (the text of :data:`flygnn.metric_names.DEFINITIONS`
for the definition name metrics.json records, or the entry's own description for a
count), the set it is computed on (edges, neurons, types, ranks k, seeds, points — the
sizes metrics.json records, per σ when they differ) and its unit (the registry's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flygnn.conditions import Condition
from flygnn.metric_names import DEFINITIONS, lookup
from flygnn.report.markdown import GridTable, escape_markdown, table
from flygnn.sections import SECTIONS

# metrics.json detail keys that say what a metric is computed on, and how the book names them
SET_KEYS = {
    "edges": "edges",
    "neurons": "neurons",
    "types": "cell types",
    "k": "top k",
    "seeds": "GMM seeds",
    "points": "(neuron, voltage) points",
    "shuffles": "shuffles",
}
UNITLESS = "—"


def metric_names(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], first: Sequence[str]
) -> list[str]:
    """Every metric name, once: ``first`` (the summary table's), then by section and file order."""
    order = {s.name: i for i, s in enumerate(SECTIONS)}
    seen: dict[str, tuple[int, int]] = {}
    for condition in conditions:
        for position, (name, entry) in enumerate((metrics.get(condition.name) or {}).items()):
            if name in seen:
                continue
            section = entry.get("section", "") if isinstance(entry, Mapping) else ""
            seen[name] = (order.get(section, len(order)), position)
    rest = sorted((n for n in seen if n not in first), key=lambda n: seen[n])
    return [*first, *rest]


def _entries(name: str, conditions: Sequence[Condition], metrics) -> list[tuple[Condition, Mapping[str, Any]]]:
    out = []
    for condition in conditions:
        entry = (metrics.get(condition.name) or {}).get(name)
        if isinstance(entry, Mapping):
            out.append((condition, entry))
    return out


def definition_text(entries: Sequence[tuple[Condition, Mapping[str, Any]]]) -> str:
    """ "<definition name>: <its text>" (a count: its description), as metrics.json records it."""
    for _, entry in entries:
        if entry.get("description"):
            return str(entry["description"])
        name = entry.get("definition")
        if name in DEFINITIONS:
            return f"{name}: {DEFINITIONS[name]}"
        if name:
            return str(name)
    return "not recorded in any metrics.json"


def referenced_terms(texts: Sequence[str]) -> list[str]:
    """The definition names (keys of DEFINITIONS) that the shown texts use inside their
    sentences ("upstream-r2 of W* …") and that no row shows as its own definition, so that
    each is explained once below the table."""
    import re

    found: list[str] = []
    pending = list(texts)
    while pending:
        text = pending.pop()
        body = text.split(": ", 1)[1] if re.match(r"^[A-Za-z0-9-]+: ", text) else text
        for name in DEFINITIONS:
            if (
                name not in found
                and name not in ("count", "fraction")
                and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", body)
            ):
                found.append(name)
                pending.append(DEFINITIONS[name])
    own = {text.split(": ", 1)[0] for text in texts}
    return sorted(name for name in found if name not in own)


def computed_on(entries: Sequence[tuple[Condition, Mapping[str, Any]]]) -> str:
    parts = []
    for key, noun in SET_KEYS.items():
        values = [
            (c, e[key]) for c, e in entries if isinstance(e.get(key), (int, float)) and not isinstance(e.get(key), bool)
        ]
        if not values:
            continue
        distinct = {v for _, v in values}
        if len(distinct) == 1:
            parts.append(f"{noun}: {int(values[0][1]):,}")
        else:
            parts.append(f"{noun}: " + ", ".join(f"{int(v):,} ({escape_markdown(c.label)})" for c, v in values))
    return "; ".join(parts) or UNITLESS


def unit(name: str) -> str:
    """Metric ``name``'s unit, as the registry (:mod:`flygnn.metric_names`) gives it."""
    return escape_markdown(lookup(name).unit)


def glossary_table(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], first: Sequence[str]
) -> str:
    rows, texts = [], []
    for name in metric_names(conditions, metrics, first):
        entries = _entries(name, conditions, metrics)
        texts.append(definition_text(entries))
        rows.append([escape_markdown(name), escape_markdown(texts[-1]), computed_on(entries), unit(name)])
    if not rows:
        rows = [["(no metrics yet)", "", "", ""]]
    longest = max(len(r[0]) for r in rows)
    grid = GridTable([["Metric", "Definition", "Computed on", "Unit"]], rows, ["left"] * 4, [longest, 52, 26, 13])
    caption = (
        "Glossary: every metric of the report with its definition, the set it is computed on (the sizes "
        "metrics.json records) and its unit. R² and slopes are dimensionless; τ is in seconds, V\\_rest in "
        "flyvis' arbitrary units."
    )
    terms = referenced_terms(texts)
    listed = "".join(f"- *{escape_markdown(t)}*: {escape_markdown(DEFINITIONS[t])}\n" for t in terms)
    return table(grid, caption, "tbl-glossary") + (
        "\nThe definitions above use these terms:\n\n" + listed if listed else ""
    )
