"""The book's first page: one verdict per row of the study's summary table and noise level.

For every row of ``data/published.yaml`` with published values and every condition whose σ the
study reports, the committed bundle's value (from ``results/<condition>/metrics.json``, as
``#tbl-summary`` shows it) is set against the published one: it **matches** when the two are
within :data:`MATCH_TOLERANCE` of each other, **exceeds** or falls **short** when it is better
or worse by more. Where the replicate records (``data/replicates/*.csv``) hold at least two
runs of the replicate recipe at that σ, the verdict also says whether the published value lies
within their run-to-run spread (:mod:`flygnn.report.replicates`, which computes it).

Python computes; the template ``templates/key-findings.qmd.j2`` words it (the table
``#tbl-key-findings`` and the sentences above it). A value that is missing reads why
("not analysed yet", "not computed", …), never a blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flygnn import metric_names as names
from flygnn.analysis.replicates import Spread
from flygnn.conditions import Condition, same_sigma
from flygnn.metric_format import format_value
from flygnn.metric_names import FRACTION, R2, SLOPE, lookup
from flygnn.project import ProjectLayout
from flygnn.report.findings import Reader
from flygnn.report.markdown import escape_markdown, escape_prose, keep_together
from flygnn.report.replicates import REPLICATE_RECIPE, spreads_by_sigma, where_published_lies
from flygnn.report.summary import PublishedTable, metric_cell
from flygnn.report.template import render
from flygnn.sections import TAU, UMAP_CLUSTERS, V_REST, WEIGHTS_CORRECTED, FigureFamily

# ours and the study's agree when they differ by at most this (for the slope: in distance from 1);
# the published values have four decimals, so 0.005 is fifty steps of their last digit
MATCH_TOLERANCE = 0.005
MATCHES, EXCEEDS, SHORT = "matches", "exceeds", "short"
# where the published value lies against the replicates' spread (flygnn.report.replicates)
WITHIN, ABOVE, BELOW = "within", "above", "below"
# the figure that shows each row of the study's table, per σ
EVIDENCE: Mapping[str, FigureFamily] = {
    names.W_CORRECTED_R2: WEIGHTS_CORRECTED,
    names.W_CORRECTED_SLOPE: WEIGHTS_CORRECTED,
    names.TAU_R2: TAU,
    names.V_REST_R2: V_REST,
    names.CLUSTERING_ACCURACY: UMAP_CLUSTERS,
}


def _merit(kind: str, value: float) -> float:
    """How good a value of this kind is, larger being better: an R² or a share as it is, a slope by
    its distance from 1 (the scale of the true weights)."""
    if kind == SLOPE:
        return -abs(value - 1.0)
    if kind in (R2, FRACTION):
        return value
    raise ValueError(f"no rule says which {kind} is better; key findings compare R², slopes and shares")


def verdict(metric: str, ours: float | None, published: float | None) -> str | None:
    """:data:`MATCHES`, :data:`EXCEEDS` or :data:`SHORT` for our value of ``metric`` against the
    published one; None when either is missing.

    Higher is better for an R² or a share; for a slope, closer to 1. Values within
    :data:`MATCH_TOLERANCE` of each other match (a slope as far from 1 on the other side matches too:
    neither is the better).
    """
    if ours is None or published is None:
        return None
    kind = lookup(metric).kind
    gain = _merit(kind, ours) - _merit(kind, published)
    # rounded: 0.9902 − 0.9852 is 0.0050000000000001155 in binary, and is 0.005
    if round(abs(gain), 9) <= MATCH_TOLERANCE:
        return MATCHES
    return EXCEEDS if gain > 0 else SHORT


def spread_position(spread: Spread | None, published: float | None) -> str | None:
    """Where ``published`` lies against a :class:`~flygnn.analysis.replicates.Spread`: :data:`WITHIN`,
    :data:`ABOVE` or :data:`BELOW`; None without a spread of at least two runs (or without a value)."""
    if spread is None or published is None:
        return None
    position = where_published_lies(spread, published)
    return position if position in (WITHIN, ABOVE, BELOW) else None


@dataclass(frozen=True)
class Cell:
    """One metric at one noise level, as text for the template.

    ``ours``/``published``: the values as the summary table writes them ("n/a" / None when there is
    none); ``verdict``: matches / exceeds / short, None without both values, and then ``missing``
    says why ours is absent; ``spread``: within / above / below, None with fewer than two replicate
    runs at this σ; ``runs``: how many.
    """

    label: str
    condition: str
    ours: str
    published: str | None
    verdict: str | None
    missing: str | None
    spread: str | None
    runs: int


@dataclass(frozen=True)
class Row:
    """A row of ``#tbl-key-findings``: a metric of the study's table, a cell per column, the ids of its evidence."""

    label: str
    cells: tuple[Cell, ...]
    evidence: tuple[str, ...]


def _cell(
    metric: str,
    label: str,
    condition: Condition,
    metrics: Mapping[str, Any] | None,
    published: float | None,
    spreads: Mapping[str, Spread] | None,
) -> Cell:
    shown = metric_cell(metrics, metric, condition)
    ours = Reader(metrics, condition).value(metric)
    spread = (spreads or {}).get(metric)
    return Cell(
        label=label,
        condition=keep_together(escape_markdown(condition.label)),
        ours=shown.text,
        published=None if published is None else format_value(published),
        verdict=verdict(metric, ours, published),
        # "not computed: absent from results/…/metrics.json": the table has room for the first words
        missing=shown.reason.split(":")[0] if shown.reason else None,
        spread=spread_position(spread, published),
        runs=spread.n if spread is not None else 0,
    )


def _spreads_at(spreads: Mapping[float, Mapping[str, Spread]], sigma: float) -> Mapping[str, Spread] | None:
    return next((by_metric for s, by_metric in spreads.items() if same_sigma(s, sigma)), None)


def key_findings_table(
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: PublishedTable,
    spreads: Mapping[float, Mapping[str, Spread]],
) -> tuple[list[Condition], list[Row]]:
    """The columns (the conditions whose σ the study reports) and rows (the rows of the study's table
    with a published value) of ``#tbl-key-findings``; ``spreads``: σ → metric → Spread of the replicates."""
    rows = [row for row in published.rows if row.published]
    columns = [c for c in conditions if any(row.published_at(c.sigma) is not None for row in rows)]
    table = []
    for row in rows:
        label = escape_prose(row.label)
        cells = tuple(
            _cell(
                row.metric,
                label,
                c,
                metrics.get(c.name),
                row.published_at(c.sigma),
                _spreads_at(spreads, c.sigma),
            )
            for c in columns
        )
        evidence = [f"fig-{EVIDENCE[row.metric].name}"] if row.metric in EVIDENCE else []
        evidence.append("tbl-summary")
        if any(cell.spread and cell.verdict for cell in cells):  # a verdict that quotes the spread
            evidence.append("tbl-replicates")
        table.append(Row(label, cells, tuple(evidence)))
    return columns, table


def _spread_groups(columns: Sequence[Condition], rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per column with replicates: its label, the number of runs, the labels of the metrics whose
    published value lies within their spread and the cells of those whose value lies beyond it."""
    groups = []
    for index, condition in enumerate(columns):
        cells = [row.cells[index] for row in rows if row.cells[index].spread]
        if cells:
            groups.append(
                {
                    "label": keep_together(escape_markdown(condition.label)),
                    "runs": max(cell.runs for cell in cells),
                    "within": [cell.label for cell in cells if cell.spread == WITHIN],
                    "beyond": [cell for cell in cells if cell.spread != WITHIN],
                }
            )
    return groups


def key_findings_part(
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: PublishedTable,
    replicate_rows: Sequence[Mapping[str, Any]],
    recipe: str = REPLICATE_RECIPE,
) -> str:
    """``chapters/_generated/key-findings.qmd``: the sentences and ``#tbl-key-findings``.

    ``metrics``: condition name → its metrics (None: not analysed yet); ``replicate_rows``: the
    replicate records (:func:`flygnn.replicate_runs.read_replicates`).
    """
    columns, rows = key_findings_table(conditions, metrics, published, spreads_by_sigma(replicate_rows, recipe))
    cells = [cell for row in rows for cell in row.cells if cell.published is not None]
    groups = _spread_groups(columns, rows)
    labels = [keep_together(escape_markdown(c.label)) for c in columns]
    with_replicates = {group["label"] for group in groups}
    return render(
        "key-findings.qmd.j2",
        columns=labels,
        rows=rows,
        compared=len(cells),
        counts={v: sum(cell.verdict == v for cell in cells) for v in (MATCHES, EXCEEDS, SHORT)},
        missing=sum(cell.verdict is None for cell in cells),
        analysed=any(metrics.get(c.name) is not None for c in columns),
        shortfalls=[cell for cell in cells if cell.verdict == SHORT],
        spread_groups=groups,
        without_replicates=[label for label in labels if label not in with_replicates],
        unpublished=[escape_prose(row.label) for row in published.rows if not row.published],
        tolerance=f"{MATCH_TOLERANCE:g}",
        recipe=recipe,
    )


def project_key_findings_part(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: PublishedTable,
) -> str:
    """:func:`key_findings_part` for a project: its replicate records (``data/replicates``)."""
    from flygnn.replicate_runs import REPLICATES_FOLDER, read_replicates

    return key_findings_part(conditions, metrics, published, read_replicates(layout.project_root / REPLICATES_FOLDER))
