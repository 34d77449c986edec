"""#tbl-key-findings: a verdict per row of the study's table and σ, with the run-to-run spread."""

from __future__ import annotations

import pytest

from flygnn.analysis.replicates import spread
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.metric_names import CLUSTERING_ACCURACY, TAU_R2, V_REST_R2, W_CORRECTED_R2, W_CORRECTED_SLOPE
from flygnn.report.key_findings import (
    EXCEEDS,
    MATCH_TOLERANCE,
    MATCHES,
    SHORT,
    key_findings_part,
    key_findings_table,
    spread_position,
    verdict,
)
from flygnn.report.summary import PublishedRow, PublishedTable

CONDITIONS = [Condition("sigma-0p05", 0.05, "σ = 0.05"), Condition("sigma-0p5", 0.5, "σ = 0.5")]
PUBLISHED = PublishedTable(
    source="the study",
    rows=(
        PublishedRow(W_CORRECTED_R2, "W corrected R²", {0.05: 0.9852, 0.5: 0.9898}),
        PublishedRow(W_CORRECTED_SLOPE, "W corrected slope", {0.05: 0.9830, 0.5: 0.9941}),
        PublishedRow(TAU_R2, "τ R²", {0.5: 0.9997}),
        PublishedRow(CLUSTERING_ACCURACY, "Clustering accuracy", {}),
    ),
)


def metrics(**values: float) -> dict:
    return {name: {"value": value, "definition": "test"} for name, value in values.items()}


def record(seed: int, w: float, slope: float = 0.99, tau: float = 0.9990, sigma: float = 0.5, **extra) -> dict:
    row = {
        "sigma": sigma, "recipe": "fast", "stimulus": "natural", "configuration": sigma, "train_seed": seed,
        "simulation_seed": 0, "training_minutes": 60.0,
        W_CORRECTED_R2: w, W_CORRECTED_SLOPE: slope, TAU_R2: tau, V_REST_R2: 0.9, CLUSTERING_ACCURACY: 0.88,
    }  # fmt: skip
    row.update(extra)
    return row


@pytest.mark.parametrize(
    "metric, ours, published, expected",
    [
        (W_CORRECTED_R2, 0.9852, 0.9852, MATCHES),
        (W_CORRECTED_R2, 0.9902, 0.9852, MATCHES),  # exactly the tolerance above: 0.005 in decimals
        (W_CORRECTED_R2, 0.9802, 0.9852, MATCHES),  # and below
        (W_CORRECTED_R2, 0.99021, 0.9852, EXCEEDS),
        (W_CORRECTED_R2, 0.9786, 0.9852, SHORT),
        (CLUSTERING_ACCURACY, 0.95, 0.91, EXCEEDS),
        (TAU_R2, -0.2, 0.5277, SHORT),
        # a slope is better the closer it is to 1, from either side
        (W_CORRECTED_SLOPE, 0.9947, 0.9830, EXCEEDS),
        (W_CORRECTED_SLOPE, 1.0100, 0.9830, EXCEEDS),
        (W_CORRECTED_SLOPE, 1.0300, 0.9830, SHORT),
        (W_CORRECTED_SLOPE, 0.9700, 0.9830, SHORT),
        (W_CORRECTED_SLOPE, 0.9880, 0.9830, MATCHES),
        # as far from 1 on the other side: neither is better
        (W_CORRECTED_SLOPE, 1.0170, 0.9830, MATCHES),
        (W_CORRECTED_SLOPE, 1.0220, 0.9830, MATCHES),  # 0.0050 further from 1: the tolerance
        (W_CORRECTED_SLOPE, 1.0221, 0.9830, SHORT),
        (W_CORRECTED_R2, None, 0.9852, None),
        (W_CORRECTED_R2, 0.9852, None, None),
    ],
)
def test_verdict_known_answers(metric, ours, published, expected):
    assert verdict(metric, ours, published) == expected
    assert MATCH_TOLERANCE == 0.005


def test_verdict_of_an_unregistered_metric_is_an_error():
    with pytest.raises(FlygnnError, match="unknown metric 'W_corrected_r2'"):
        verdict("W_corrected_r2", 0.9, 0.9)


def test_the_published_value_is_placed_against_two_runs_or_more():
    two = spread([0.97, 0.99])
    assert spread_position(two, 0.98) == "within"
    assert spread_position(two, 0.99) == "within", "the ends of the range belong to it"
    assert spread_position(two, 0.9898) == "within"
    assert spread_position(two, 0.995) == "above"
    assert spread_position(two, 0.95) == "below"
    assert spread_position(spread([0.97]), 0.97) is None, "one run has no spread"
    assert spread_position(None, 0.97) is None
    assert spread_position(two, None) is None


def test_table_cells_carry_verdict_and_spread_and_links():
    ours = {
        "sigma-0p05": metrics(W_corrected_R2=0.9786, W_corrected_slope=0.9947, tau_R2=0.98),
        "sigma-0p5": metrics(W_corrected_R2=0.9987, W_corrected_slope=0.9981, tau_R2=0.9997),
    }
    rows = [record(1, 0.997, tau=0.9990), record(2, 0.999, tau=0.9995), record(3, 0.5, stimulus="mixed")]
    rows.append(record(4, 0.9, sigma=0.05))  # one run at σ = 0.05: no spread there
    columns, table = key_findings_table(CONDITIONS, ours, PUBLISHED, _spreads(rows))
    assert [c.name for c in columns] == ["sigma-0p05", "sigma-0p5"]
    assert [row.label for row in table] == ["W corrected R²", "W corrected slope", "τ R²"], "no row without values"
    w, slope, tau = table
    assert [(c.ours, c.published, c.verdict, c.spread, c.runs) for c in w.cells] == [
        ("0.9786", "0.9852", SHORT, None, 1),
        ("0.9987", "0.9898", EXCEEDS, "below", 2),  # the mixed-stimulus run is not a replicate
    ]
    assert [c.verdict for c in slope.cells] == [EXCEEDS, MATCHES]
    assert (tau.cells[0].published, tau.cells[0].verdict, tau.cells[0].ours) == (None, None, "0.9800")
    assert (tau.cells[1].verdict, tau.cells[1].spread) == (MATCHES, "above")
    assert w.evidence == ("fig-weights-corrected", "tbl-summary", "tbl-replicates")
    assert tau.evidence == ("fig-tau", "tbl-summary", "tbl-replicates")


def _spreads(rows):
    from flygnn.report.replicates import spreads_by_sigma

    return spreads_by_sigma(rows)


def test_the_part_words_the_verdicts_and_links_their_evidence():
    ours = {
        "sigma-0p05": metrics(W_corrected_R2=0.9786, W_corrected_slope=0.9947),
        "sigma-0p5": metrics(W_corrected_R2=0.9987, W_corrected_slope=0.9981, tau_R2=0.9997),
    }
    text = key_findings_part(CONDITIONS, ours, PUBLISHED, [record(1, 0.997, 0.99), record(2, 0.999, 0.999)])
    lines = text.splitlines()
    header = lines.index("| Metric | σ\u00a0=\u00a00.05 | σ\u00a0=\u00a00.5 | Evidence |")
    assert lines[header + 2] == (
        "| W corrected R² | 0.9786 vs 0.9852 — **short**, no replicates yet "
        "| 0.9987 vs 0.9898 — **exceeds**, published below all 2 short runs "
        "| @fig-weights-corrected, @tbl-summary, @tbl-replicates |"
    )
    assert lines[header + 4] == (
        "| τ R² | n/a — not published | 0.9997 vs 0.9997 — **matches**, published above all 2 short runs "
        "| @fig-tau, @tbl-summary, @tbl-replicates |"
    )
    assert "{#tbl-key-findings}" in text and "neither is better by\nmore than 0.005" in text
    prose = " ".join(lines[:header])
    assert "Of the 5 values the study publishes for these noise levels, our committed bundles match 2 (to within " \
        "0.005), exceed 2 and fall short of 1; each number" in prose  # fmt: skip
    assert "The shortfall: W corrected R² at σ\u00a0=\u00a00.05 (0.9786 against 0.9852)." in prose
    assert (
        "At σ\u00a0=\u00a00.5, 2 replicate runs of the `fast` recipe put the published W corrected slope within their "
        "run-to-run spread, τ R² above it and W corrected R² below it (@tbl-replicates" in prose
    )
    assert "At σ\u00a0=\u00a00.05 no replicate runs exist yet" in prose
    assert "Clustering accuracy has no published value, so no verdict." in text


def test_a_shortfall_says_where_the_published_value_lies_against_the_spread():
    ours = {"sigma-0p05": None, "sigma-0p5": metrics(W_corrected_R2=0.96, W_corrected_slope=0.95, tau_R2=0.9997)}
    runs = [record(1, 0.97, 0.96), record(2, 0.99, 0.98)]
    text = key_findings_part(CONDITIONS, ours, PUBLISHED, runs).replace("\n", " ")
    assert "W corrected R² at σ\u00a0=\u00a00.5 (0.9600 against 0.9898; the published value lies within the " in text
    assert "W corrected slope at σ\u00a0=\u00a00.5 (0.9500 against 0.9941; the published value lies above the " in text
    assert "(2 of ours are not available yet, @tbl-summary says why)" in text
    assert "n/a vs 0.9852 — not analysed yet" in text


def test_a_missing_or_undefined_value_reads_why_never_blank():
    ours = {
        "sigma-0p05": {W_CORRECTED_R2: {"value": None, "reason": "no edges"}},
        "sigma-0p5": {W_CORRECTED_R2: {"value": "text"}, W_CORRECTED_SLOPE: {"value": float("nan")}},
    }
    text = key_findings_part(CONDITIONS, ours, PUBLISHED, [])
    assert "| W corrected R² | n/a vs 0.9852 — undefined | n/a vs 0.9898 — unreadable |" in text
    assert "n/a vs 0.9830 — not computed | n/a vs 0.9941 — undefined |" in text
    assert "None of our 5 values is available yet" in text
    assert "@tbl-replicates" not in text, "no verdict quotes a spread (and a project without records has no such table)"


def test_placeholder_before_any_analysis():
    text = key_findings_part(
        CONDITIONS, {c.name: None for c in CONDITIONS}, PUBLISHED, [record(1, 0.9), record(2, 0.99)]
    )
    assert "No condition has been analysed yet" in text
    assert text.count("— not analysed yet") == 5 and "{#tbl-key-findings}" in text
    assert "| @fig-weights-corrected, @tbl-summary |" in text
