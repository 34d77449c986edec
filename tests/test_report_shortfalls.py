"""Why a gap stays: per shortfall of a committed bundle, what was tried, what it reached, and
whether anything closes it (known answers on made-up histories and records)."""

from __future__ import annotations

from replicate_records import record

from flygnn.conditions import Condition
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.report.budget import TrainingRun
from flygnn.report.shortfalls import find_shortfalls, plateau, shortfalls_part

SIGMA = 0.5
PUBLISHED = {"W_corrected_R2": {SIGMA: 0.9898}, "tau_R2": {SIGMA: 0.9997}}
LABELS = {"W_corrected_R2": "W corrected R²", "tau_R2": "τ R²"}


def history(values: dict[int, float]) -> list[dict[str, float]]:
    """Scored rows (every recovery metric, so the rows count as scored) with W R² as given."""
    return [{"iteration": i, **dict.fromkeys(RECOVERY_METRICS, 0.9999), "W_corrected_R2": w} for i, w in values.items()]


def run(label: str, values: dict[int, float], batch_size: int = 2) -> TrainingRun:
    return TrainingRun(label, SIGMA, {"config": {"batch_size": batch_size}}, history(values))


def test_the_bundles_own_pace_is_extrapolated_to_the_published_value():
    bundle = run("sigma-0p5", {0: 0.90, 70_000: 0.9700, 100_000: 0.9750})
    item = plateau("W_corrected_R2", bundle, 0.9898)
    # 0.0050 in 30,000 iterations; 0.0148 to go: 88,800 → 89,000 at two significant figures
    assert item.text == (
        "over its last 30,000 iterations (70,000 to 100,000) the committed bundle's score moved +0.0050 "
        "(0.9700 to 0.9750); at that pace the remaining 0.0148 would take about 89,000 more iterations"
    )
    assert not item.reaches
    flat = plateau("W_corrected_R2", run("b", {0: 0.97, 40_000: 0.97}), 0.9898)
    assert flat.text.endswith("moved +0.0000 (0.9700 to 0.9700): no progress to extrapolate")
    assert plateau("W_corrected_R2", run("b", {10_000: 0.97}), 0.9898) is None, "history shorter than the window"


def test_a_shortfall_lists_every_try_and_says_which_reaches():
    condition = Condition.of_sigma(SIGMA)
    metrics = {condition.name: {"W_corrected_R2": 0.975, "tau_R2": 0.9997}}
    rows = [
        record(1, 0.96, 0.99),
        record(2, 0.97, 0.99),
        record(3, 0.992, 0.99, stimulus="mixed"),
    ]
    (short,) = find_shortfalls(
        [condition],
        metrics,
        PUBLISHED,
        LABELS,
        {condition.name: run("sigma-0p5", {0: 0.9, 70_000: 0.974, 100_000: 0.975})},
        [run("archived: paper-sigma-0p5", {50_000: 0.98}, batch_size=4)],
        rows,
    )
    assert (short.label, short.sigma, short.ours, short.published) == ("W corrected R²", "σ = 0.5", "0.9750", "0.9898")
    assert [item.what for item in short.evidence] == [
        "more of the same training",
        "another schedule",
        "another seed",
        "another stimulus",
    ]
    assert short.reached_by == ["another stimulus"]
    text = shortfalls_part([short])
    assert "the archived run paper-sigma-0p5 (B = 4, 50,000 iterations) ended at 0.9800." in text
    assert "other training seeds (2 runs) reached 0.96000–0.97000." in text
    assert "(1 run) reached 0.99200 (reaches the published value)." in text
    assert "Another stimulus reaches the\npublished 0.9898: that is the way to close this gap." in text
    # τ R² matches the published value: no shortfall, no paragraph
    assert "τ R² at" not in text


def test_without_a_shortfall_the_part_says_so():
    condition = Condition.of_sigma(SIGMA)
    found = find_shortfalls([condition], {condition.name: {"W_corrected_R2": 0.99}}, PUBLISHED, LABELS, {}, [], [])
    assert found == []
    assert "No committed bundle falls short" in shortfalls_part(found)


def test_nothing_that_reaches_the_value_says_the_gap_stays():
    condition = Condition.of_sigma(SIGMA)
    (short,) = find_shortfalls(
        [condition], {condition.name: {"W_corrected_R2": 0.97}}, PUBLISHED, LABELS, {}, [], [record(1, 0.96, 0.99)]
    )
    assert short.reached_by == []
    assert "None of these reaches the published 0.9898" in shortfalls_part([short])


def test_an_excess_is_flagged_with_each_explanation_tested():
    from flygnn.report.shortfalls import excesses_part, find_excesses

    condition = Condition.of_sigma(SIGMA)
    published = {"V_rest_R2": {SIGMA: 0.79}, "W_corrected_R2": {SIGMA: 0.9898}}
    labels = {"V_rest_R2": "V_rest R²", "W_corrected_R2": "W corrected R²"}
    metrics = {condition.name: {"V_rest_R2": 0.96, "W_corrected_R2": 0.999}}  # W: above, but by < 0.05
    rows = [dict.fromkeys(RECOVERY_METRICS, 0.5) | {"iteration": i, "V_rest_R2": v} for i, v in
            {0: 0.1, 10_000: 0.80, 100_000: 0.95, 130_000: 0.96}.items()]  # fmt: skip
    bundle = TrainingRun("sigma-0p5", SIGMA, {"config": {"batch_size": 2}}, rows)
    replicates = [
        record(1, 0.99, 0.99, V_rest_R2=0.14),
        record(2, 0.99, 0.99, V_rest_R2=0.94),
        record(1, 0.99, 0.99, stimulus="mixed", V_rest_R2=0.88),
    ]
    (excess,) = find_excesses(
        [condition], metrics, published, labels, {condition.name: bundle}, {SIGMA: 128_000}, replicates
    )
    assert (excess.budget_iteration, excess.at_budget, excess.first_passed) == (100_000, 0.95, 10_000)
    assert excess.training_ruled_out
    text = excesses_part([excess])
    assert "**V_rest R² at σ = 0.5: 0.9600 against 0.7900 (+0.1700).**" in text
    assert "at 100,000 iterations, the last score before the study's 128,000, ours was at 0.9500" in text
    assert "first passed the published value at iteration 10,000, so the excess is not a longer training" in text
    assert "reached 0.14000–0.94000, some above the published value and some below" in text
    assert "procedural mix reached 0.88000; it also lies above the published value" in text
    # a short history that never passed it: training length stays open
    short = TrainingRun("b", SIGMA, {"config": {"batch_size": 2}}, rows[:2])
    (open_case,) = find_excesses([condition], metrics, published, labels, {condition.name: short}, {SIGMA: 128_000}, [])
    assert open_case.at_budget == 0.80 and not open_case.training_ruled_out
    assert "ours stopped at 10,000 iterations, fewer than the study's 128,000, at 0.8000" in excesses_part([open_case])
    assert "No committed bundle exceeds" in excesses_part([])
