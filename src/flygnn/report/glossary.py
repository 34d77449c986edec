"""The glossary of metrics (``#tbl-glossary``): one entry per definition, naming every metric that uses it.

A definition (the name metrics.json records beside each value, its text in
:data:`flygnn.metric_names.DEFINITIONS`) is one concept: "upstream-slope" is the same rule for
three metrics. Each row gives the definition once, then the metrics that follow it with the
set each is computed on (edges, neurons, types, ranks k, seeds, points — the sizes
metrics.json records, per σ when they differ) and the unit (the registry's). Counts and
fractions share one row each: what a count counts is its own description, which the table of
all metrics prints beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flygnn.conditions import Condition
from flygnn.metric_names import DEFINITIONS, lookup
from flygnn.report.markdown import GridTable, escape_markdown, escape_prose, table
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


def _concept(entries: Sequence[tuple[Condition, Mapping[str, Any]]]) -> str:
    """The definition a metric follows: its recorded name, "count" for a described count."""
    for _, entry in entries:
        name = entry.get("definition")
        if name:
            return str(name)
        if entry.get("description"):
            return "count"
    return ""


def glossary_table(
    conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], first: Sequence[str]
) -> str:
    groups: dict[str, list[str]] = {}
    for name in metric_names(conditions, metrics, first):
        groups.setdefault(_concept(_entries(name, conditions, metrics)), []).append(name)
    rows, texts = [], []
    for concept, names in groups.items():
        entries = _entries(names[0], conditions, metrics)
        text = f"{concept}: {DEFINITIONS[concept]}" if concept in DEFINITIONS else definition_text(entries)
        texts.append(text)
        shown = []
        for name in names:
            on = computed_on(_entries(name, conditions, metrics))
            shown.append(escape_markdown(name) + ("" if on == UNITLESS else f" ({on})"))
        units = list(dict.fromkeys(unit(name) for name in names))
        rows.append([escape_prose(text), "; ".join(shown), ", ".join(units)])
    if not rows:
        rows = [["(no metrics yet)", "", ""]]
    grid = GridTable([["Definition", "Metrics (computed on)", "Unit"]], rows, ["left"] * 3, [50, 40, 13])
    caption = (
        "Glossary: each definition once, with the metrics of the report that follow it, the set each is "
        "computed on (the sizes metrics.json records) and its unit. What each count counts is given beside "
        "it in @tbl-additional-metrics. R² and slopes are dimensionless; τ is in seconds, V~rest~ in "
        "flyvis' arbitrary units."
    )
    terms = referenced_terms(texts)
    listed = "".join(f"- *{escape_markdown(t)}*: {escape_markdown(DEFINITIONS[t])}\n" for t in terms)
    return table(grid, caption, "tbl-glossary") + (
        "\nThe definitions above use these terms:\n\n" + listed if listed else ""
    )
