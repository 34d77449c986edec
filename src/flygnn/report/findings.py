"""The chapters' results at each noise level: one small table per chapter, then what the noise levels share.

``findings-<section>.qmd`` is a pipe table (``#tbl-findings-<section>``) whose rows are the
quantities the chapter's figures show and whose columns are the noise levels, with the
numbers of ``results/<condition>/metrics.json`` written in (never typed by hand), then a
sentence or two on what is common to every σ or changes with it. Python computes the cells
and the readings; the template ``templates/findings.qmd.j2`` words them. Words claim no more
than the numbers: an R² below :data:`NOT_RECOVERED` is "not recovered", one below
:data:`PARTLY` "only in part". A metric that is missing or undefined reads "n/a" in its cell
and the reason is listed below the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flygnn import metric_names as names
from flygnn.conditions import Condition
from flygnn.metric_format import NOT_AVAILABLE
from flygnn.metric_names import lookup
from flygnn.report.markdown import display_width, escape_markdown, escape_message, escape_prose, keep_together
from flygnn.report.summary import Shown, metric_cell
from flygnn.report.template import render

NOT_RECOVERED = 0.1  # R² below this: the estimate is essentially unrelated to the truth
PARTLY = 0.7  # R² below this: recovered only in part
SCALE_TOLERANCE = 0.1  # a slope of W* further than this from 1: the corrected weights are compressed or stretched
SEPARATED = 0.99  # clustering accuracy on the embedding alone from which its type clouds count as separated
NOTHING_LEFT_OUT = "—"  # a score "without the zero-range neurons" where there are none to leave out
PER_SECOND = "s\u207b\u00b9"  # s⁻¹: no slash for a line to break after, no invisible character to keep it

Metrics = Mapping[str, Mapping[str, Any] | None]


class Reader:
    """The metrics of one condition: ``shown(name)`` for a table cell, ``text(name)`` for prose,
    ``value(name)`` for decisions.

    ``name`` is a registered metric (:mod:`flygnn.metric_names`); any other raises.
    """

    def __init__(self, metrics: Mapping[str, Any] | None, condition: Condition):
        self.metrics, self.condition = metrics, condition

    def value(self, name: str) -> float | None:
        lookup(name)  # a misspelt name is an error, never a silent "n/a"
        entry = (self.metrics or {}).get(name)
        value = entry.get("value") if isinstance(entry, Mapping) else entry
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        return value

    def shown(self, name: str) -> Shown:
        return metric_cell(self.metrics, name, self.condition)

    def text(self, name: str) -> str:
        shown = self.shown(name)
        if shown.reason:
            return f"{NOT_AVAILABLE} ({escape_message(shown.reason)})"
        return shown.text

    def detail(self, name: str, key: str) -> Any:
        lookup(name)
        entry = (self.metrics or {}).get(name)
        return entry.get(key) if isinstance(entry, Mapping) else None


def recovery(r2: float) -> str:
    """How much an R² says was recovered, as the verdict rows write it."""
    if r2 < NOT_RECOVERED:
        return "not recovered"
    if r2 < PARTLY:
        return "only in part"
    return "most of the variance"


def recovery_words(r2: float | None, what: str) -> str:
    """How much an R² says was recovered, in a sentence that does not overclaim."""
    if r2 is None:
        return f"{what}: not available"
    return {
        "not recovered": f"the fit does not recover {what}",
        "only in part": f"the fit recovers {what} only in part",
    }.get(recovery(r2), f"the fit recovers most of the variance of {what}")


# --- the rows: a label and, per condition, what its cell shows -------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a section's table: ``label`` (Markdown) and ``cell``, what it shows for one condition."""

    label: str
    cell: Callable[[Reader], Shown]


def metric(label: str, name: str) -> Row:
    """The row of metric ``name`` as metrics.json holds it; ``label`` is prose (subscripts typeset here)."""
    return Row(escape_prose(label), lambda m: m.shown(name))


def reading(label: str, inputs: Sequence[str], read: Callable[..., str]) -> Row:
    """A row of words that follow from the metrics ``inputs``: ``read(*values)``; "n/a", with the
    reason of the first input that is not available, where one is not."""

    def cell(m: Reader) -> Shown:
        for name in inputs:
            shown = m.shown(name)
            if shown.reason:
                return Shown(NOT_AVAILABLE, shown.reason)
        return Shown(read(*(m.value(name) for name in inputs)))

    return Row(escape_prose(label), cell)


def counted(label: str, name: str, readers: Sequence[Reader], before: str = "") -> Row:
    """The row of metric ``name`` whose label starts with the number of values it compares (its ``k``,
    "top-100 singular values"): in the label when every condition compares as many, else in each cell."""
    ks = {k for m in readers if isinstance(k := m.detail(name, "k"), int)}
    if len(ks) == 1:
        return metric(f"{before}{ks.pop()} {label}", name)

    def cell(m: Reader) -> Shown:
        shown, k = m.shown(name), m.detail(name, "k")
        return Shown(f"{shown.text} (k = {k})") if isinstance(k, int) and not shown.reason else shown

    return Row(escape_prose(label), cell)


# --- what the noise levels share: a metric's course over σ and the σ of each reading -------------------------


@dataclass(frozen=True)
class Trend:
    """How a metric goes with σ, as the table writes it: ``course`` is "rises" or "falls" (strictly, over
    every σ), "same" (one text at every σ) or "" (neither: ``best`` are the σ where it is highest)."""

    what: str
    course: str
    first: str
    last: str
    highest: str
    best: list[str]
    first_label: str
    last_label: str


def trend(what: str, name: str, readers: Sequence[Reader]) -> Trend | None:
    """The course of metric ``name`` over σ; None unless every condition has a value and there are two."""
    ordered = sorted(readers, key=lambda m: m.condition.sigma)
    maybe = [m.value(name) for m in ordered]
    values = [v for v in maybe if v is not None]
    if len(ordered) < 2 or len(values) < len(maybe):
        return None
    texts = [m.shown(name).text for m in ordered]  # differences the table does not show are none
    steps = [(a < b, a > b, ta == tb) for a, b, ta, tb in zip(values, values[1:], texts, texts[1:], strict=False)]
    if all(same for _, _, same in steps):
        course = "same"
    elif all(up and not same for up, _, same in steps):
        course = "rises"
    elif all(down and not same for _, down, same in steps):
        course = "falls"
    else:
        course = ""
    top = max(values)
    highest = texts[values.index(top)]
    best = [_label(m) for m, text in zip(ordered, texts, strict=True) if text == highest]
    return Trend(
        escape_prose(what), course, texts[0], texts[-1], highest, best, _label(ordered[0]), _label(ordered[-1])
    )


@dataclass(frozen=True)
class Holding:
    """The noise levels (labels; ``every``: all of them) where the readings ``(row, word)`` hold."""

    labels: list[str]
    every: bool
    readings: list[tuple[str, str]]


def holding(readings: Mapping[str, Row], readers: Sequence[Reader]) -> list[Holding]:
    """Each reading row's words gathered by the noise levels where they hold: "at every σ" first, then in
    the order of the conditions; "n/a" cells say nothing."""
    by_labels: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for key, row in readings.items():
        words: dict[str, list[str]] = {}
        for m in readers:
            shown = row.cell(m)
            if not shown.reason:
                words.setdefault(shown.text, []).append(_label(m))
        for word, labels in words.items():
            by_labels.setdefault(tuple(labels), []).append((key, word))
    every = tuple(_label(m) for m in readers)
    order = {label: i for i, label in enumerate(every)}
    return [
        Holding(list(labels), labels == every, said)
        for labels, said in sorted(by_labels.items(), key=lambda item: (item[0] != every, order[item[0][0]]))
    ]


def _label(m: Reader) -> str:
    return keep_together(escape_markdown(m.condition.label))


# --- the sections ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A section's table rows and what its sentences read: the ``trends`` of some metrics over σ and the
    ``readings``, rows of words, by the name the template words them under."""

    rows: list[Row]
    trends: list[Trend | None]
    readings: dict[str, Row]


def _scale(slope: float) -> str:
    if abs(slope - 1) <= SCALE_TOLERANCE:
        return "on the scale of W"
    return "compressed towards 0" if slope < 1 else "stretched"


def connectivity(readers: Sequence[Reader]) -> Part:
    scale = reading("scale of W*", [names.W_CORRECTED_SLOPE], _scale)
    rows = [
        metric("W* R², upstream's rules", names.W_CORRECTED_R2),
        metric("W* slope, upstream's rules", names.W_CORRECTED_SLOPE),
        scale,
        metric("W* R², edges whose W* is defined", names.W_CORRECTED_R2_IDENTIFIABLE),
        metric("W* R² without edges with |W| ≥ 1", names.W_CORRECTED_R2_SMALL_WEIGHTS),
        metric("neurons mostly below 0 (μ + s ≤ 0)", names.UNIDENTIFIABLE_NEURONS),
        metric("raw Ŵ R²", names.W_RAW_R2),
    ]
    trends = [trend("W* R²", names.W_CORRECTED_R2, readers), trend("the raw Ŵ R²", names.W_RAW_R2, readers)]
    return Part(rows, trends, {"scale": scale})


def _clouds(alone: float) -> str:
    return "separated" if alone >= SEPARATED else "overlap"


def _outside(alone: float) -> str:
    return f"{100 * (1 - alone):.1f} %"


def embeddings(readers: Sequence[Reader]) -> Part:
    # accuracies as the tables and the UMAP figure write them (flygnn.metric_format), never re-rounded
    clouds = reading("type clouds of the embedding", [names.CLUSTERING_ACCURACY_EMBEDDING_ONLY], _clouds)
    rows = [
        metric("upstream's GMM", names.CLUSTERING_ACCURACY),
        metric("on the embedding a alone", names.CLUSTERING_ACCURACY_EMBEDDING_ONLY),
        reading("neurons outside their type's cluster (a alone)", [names.CLUSTERING_ACCURACY_EMBEDDING_ONLY], _outside),
        clouds,
        metric("on the true τ, V_rest and W", names.CLUSTERING_ACCURACY_TRUE_PARAMETERS),
        metric("standardised features, three seeds", names.CLUSTERING_ACCURACY_STANDARDISED),
    ]
    return Part(
        rows,
        [trend("upstream's clustering accuracy", names.CLUSTERING_ACCURACY, readers)],
        {"clouds": clouds},
    )


def functions(readers: Sequence[Reader]) -> Part:
    rows = [
        metric("f_θ: median per-neuron R² (shape)", names.F_THETA_R2_MEDIAN),
        metric("f_θ: pooled identity R² (shape, gain, offset)", names.F_THETA_R2_IDENTITY),
        metric("g_φ(v)² / gain against ReLU(v): median R²", names.G_PHI_R2_MEDIAN),
        metric("neurons whose gain cannot be read", names.G_PHI_UNIDENTIFIABLE_NEURONS),
    ]
    trends = [
        trend("the median R² of f_θ", names.F_THETA_R2_MEDIAN, readers),
        trend("the pooled identity R² of f_θ", names.F_THETA_R2_IDENTITY, readers),
        trend("the median R² of g_φ(v)²", names.G_PHI_R2_MEDIAN, readers),
    ]
    return Part(rows, trends, {})


def _without_zero_range(m: Reader) -> Shown:
    zero = m.shown(names.ZERO_RANGE_NEURONS)
    if zero.reason:
        return Shown(NOT_AVAILABLE, zero.reason)
    return m.shown(names.TAU_R2_EXCLUDING_ZERO_RANGE) if m.value(names.ZERO_RANGE_NEURONS) else Shown(NOTHING_LEFT_OUT)


def biophysics(readers: Sequence[Reader]) -> Part:
    rows = [
        metric("τ R² (upstream)", names.TAU_R2),
        metric("zero-range neurons", names.ZERO_RANGE_NEURONS),
        Row(escape_prose("τ R² without zero-range neurons"), _without_zero_range),
        metric("τ R² per type", names.TAU_R2_PER_TYPE),
        reading("verdict on τ", [names.TAU_R2], recovery),
        metric("V_rest R² (upstream)", names.V_REST_R2),
        metric("V_rest R² per type", names.V_REST_R2_PER_TYPE),
        metric("V_rest R² at the operating point", names.V_REST_OPERATING_R2),
        reading("verdict on V_rest", [names.V_REST_R2], recovery),
    ]
    trends = [trend("τ R²", names.TAU_R2, readers), trend("V_rest R²", names.V_REST_R2, readers)]
    return Part(rows, trends, {})


def _against_null(error: float, null: float) -> str:
    return "below" if error < null else "not below"


def _above(left: float, right: float, *baselines: float) -> str:
    return "above" if min(left, right) > max(baselines) else "not clearly above"


def _slowest_mode(learned: float, true: float) -> str:
    """The learned linearisation's slowest mode against the true one's, from their largest real parts (1/s)."""
    if learned >= 0:
        return "not stable"
    if true >= 0:
        return "true not stable"
    if learned == true:
        return "decays as fast"
    return "decays faster" if learned < true else "decays more slowly"


def spectral(readers: Sequence[Reader]) -> Part:
    """Singular values and vectors of W* read against the permutation null, then the linearised dynamics."""
    error = reading(
        "error against the null",
        [names.SPECTRAL_SINGULAR_VALUES_ERROR, names.SPECTRAL_SINGULAR_VALUES_ERROR_NULL],
        _against_null,
    )
    alignment = reading(
        "alignment against null and random",
        [
            names.SPECTRAL_LEFT_ALIGNMENT,
            names.SPECTRAL_RIGHT_ALIGNMENT,
            names.SPECTRAL_LEFT_ALIGNMENT_NULL,
            names.SPECTRAL_RIGHT_ALIGNMENT_NULL,
            names.SPECTRAL_RANDOM_ALIGNMENT,
        ],
        _above,
    )
    mode = reading(
        "learned slowest mode vs true",
        [names.JACOBIAN_SPECTRAL_ABSCISSA_LEARNED, names.JACOBIAN_SPECTRAL_ABSCISSA_TRUE],
        _slowest_mode,
    )
    rows = [
        counted("singular values: R²", names.SPECTRAL_SINGULAR_VALUES_R2, readers, "top-"),
        metric("permutation null: R²", names.SPECTRAL_SINGULAR_VALUES_R2_NULL),
        counted("singular values: mean relative error", names.SPECTRAL_SINGULAR_VALUES_ERROR, readers, "top-"),
        metric("permutation null: error", names.SPECTRAL_SINGULAR_VALUES_ERROR_NULL),
        error,
        counted("singular vectors: alignment, left", names.SPECTRAL_LEFT_ALIGNMENT, readers, "top-"),
        counted("singular vectors: alignment, right", names.SPECTRAL_RIGHT_ALIGNMENT, readers, "top-"),
        metric("permutation null: left", names.SPECTRAL_LEFT_ALIGNMENT_NULL),
        metric("permutation null: right", names.SPECTRAL_RIGHT_ALIGNMENT_NULL),
        metric("random vectors", names.SPECTRAL_RANDOM_ALIGNMENT),
        alignment,
        Row(
            "Jacobian: neurons with " + keep_together(escape_markdown("μ > 0")),
            lambda m: m.shown(names.JACOBIAN_ACTIVE_NEURONS),
        ),
        metric("left out: μ > 0, no τ̂", names.JACOBIAN_EXCLUDED_NEURONS),
        metric(f"largest real part, learned ({PER_SECOND})", names.JACOBIAN_SPECTRAL_ABSCISSA_LEARNED),
        metric(f"largest real part, true ({PER_SECOND})", names.JACOBIAN_SPECTRAL_ABSCISSA_TRUE),
        mode,
        counted("rightmost eigenvalues: mean relative error", names.JACOBIAN_RIGHTMOST_ERROR, readers),
    ]
    return Part(rows, [], {"error": error, "alignment": alignment, "mode": mode})


SECTIONS: dict[str, Callable[[Sequence[Reader]], Part]] = {
    "connectivity": connectivity,
    "embeddings": embeddings,
    "functions": functions,
    "biophysics": biophysics,
    "spectral": spectral,
}


# --- the part -------------------------------------------------------------------------------------------------


def _separator(columns: Sequence[Sequence[str]]) -> str:
    """The pipe table's line under the header: the label column left-aligned, the values right-aligned.

    Each column gets as many dashes as its widest cell takes in the source, so the line is as long as
    the longest row: a table that fits Pandoc's line width keeps its natural column widths, and a wider
    one wraps with each column's share of the width following its text.
    """
    widths = [max(3, *(display_width(cell) for cell in column)) + 1 for column in columns]
    return (
        "|" + "|".join((":" + "-" * width) if i == 0 else ("-" * width + ":") for i, width in enumerate(widths)) + "|"
    )


def _reasons(rows: Sequence[dict[str, Any]], readers: Sequence[Reader], missing: list[list[str | None]]) -> list[str]:
    """One line per condition and reason of its "n/a" cells, naming the rows ("every row" for all)."""
    lines = []
    for column, m in enumerate(readers):
        by_reason: dict[str, list[str]] = {}
        for row, reasons in zip(rows, missing, strict=True):
            if reason := reasons[column]:
                by_reason.setdefault(reason, []).append(row["label"])
        for reason, labels in by_reason.items():
            which = "every row" if len(labels) == len(rows) else "; ".join(labels)
            lines.append(f"Not available for {_label(m)} ({escape_message(reason)}): {which}.")
    return lines


def findings(section: str, conditions: Sequence[Condition], metrics: Metrics) -> str:
    """The chapter's results at each noise level: its table and what the noise levels share.

    ``metrics``: condition name → the "metrics" mapping of its metrics.json, None when not analysed
    yet. "" for a section without findings (the validation chapter has a table of its own).
    """
    part_of = SECTIONS.get(section)
    if part_of is None:
        return ""
    readers = [Reader(metrics.get(c.name), c) for c in conditions]
    part = part_of(readers)
    rows: list[dict[str, Any]] = []
    missing: list[list[str | None]] = []
    for row in part.rows:
        shown = [row.cell(m) for m in readers]
        rows.append({"label": row.label, "cells": [s.text for s in shown]})
        missing.append([s.reason for s in shown])
    labels = [_label(m) for m in readers]
    columns = [[r["label"] for r in rows], *([r["cells"][i] for r in rows] + [labels[i]] for i in range(len(labels)))]
    return render(
        "findings.qmd.j2",
        section=section,
        labels=labels,
        separator=_separator(columns),
        rows=rows,
        reasons=_reasons(rows, readers, missing),
        trends=[t for t in part.trends if t is not None],
        holding=holding(part.readings, readers),
        not_recovered=f"{NOT_RECOVERED:g}",
        partly=f"{PARTLY:g}",
        scale_tolerance=f"{SCALE_TOLERANCE:g}",
        separated=f"{SEPARATED:g}",
        nothing_left_out=NOTHING_LEFT_OUT,
    )
