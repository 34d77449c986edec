"""#tbl-replicates: the spread of the replicate records and where the published value lies."""

from __future__ import annotations

from replicate_records import record

from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.replicates import replicate_table, replicates_part, seeds_apart

LABELS = {m: m.replace("_", " ") for m in UPSTREAM_METRICS}
PUBLISHED = {"W_corrected_R2": {0.5: 0.9898}, "tau_R2": {0.5: 0.9997}, "V_rest_R2": {0.5: 0.7892}}


def test_published_value_is_placed_against_the_range_of_the_runs():
    rows = [record(1, 0.997, 0.9996), record(2, 0.998, 0.9998), record(3, 0.999, 0.9997)]
    rows.append(record(4, 0.5, 0.5, stimulus="mixed"))  # not a replicate of the natural stimulus
    (group,) = replicate_table(rows, PUBLISHED, LABELS)
    by_metric = {row["label"]: row for row in group["rows"]}
    w = by_metric["W corrected R2"]
    assert (w["n"], w["mean"], w["spread"], w["published"], w["verdict"]) == (
        3,
        "0.99800",
        "0.99700–0.99900",
        "0.98980",
        "below",
    )
    assert by_metric["tau R2"]["verdict"] == "within"
    assert by_metric["clustering accuracy"]["published"] == "—" and by_metric["clustering accuracy"]["verdict"] == ""
    assert group["beyond"] == [
        "W corrected R2 (0.98980) lies below the spread 0.99700–0.99900",
        "V rest R2 (0.78920) lies below the spread 0.90000–0.90000",
    ]


def test_the_part_is_a_captioned_table_or_says_there_are_no_runs():
    text = replicates_part([record(1, 0.997, 0.9996), record(2, 0.998, 0.9998)], PUBLISHED, LABELS)
    lines = text.splitlines()
    header = lines.index("| σ | Metric | Runs | Mean | SD | Spread | Published | Published lies |")
    assert len(lines[header + 2 : header + 2 + len(UPSTREAM_METRICS)]) == len(UPSTREAM_METRICS)
    assert (
        "{#tbl-replicates}" in text and "σ = 0.5: 2 runs, training seeds 1, 2, 1 simulated dataset, 61–62 min" in text
    )
    assert "beyond this recipe's run-to-run spread, the published W corrected R2 (0.98980) lies below" in text
    assert "No replicate runs are recorded yet" in replicates_part([], PUBLISHED, LABELS)


def test_the_runs_sentence_counts_one_run_as_one():
    text = replicates_part([record(1, 0.99, 0.999)], PUBLISHED, LABELS)
    assert "σ = 0.5: 1 run, training seed 1, 1 simulated dataset, 61 min of training" in text
    two = replicates_part([record(1, 0.99, 0.999), record(2, 0.98, 0.998)], PUBLISHED, LABELS)
    assert "σ = 0.5: 2 runs, training seeds 1, 2, 1 simulated dataset, 61–62 min of training each" in two


def test_a_seed_apart_from_the_others_is_named_and_a_top_run_is_not():
    # the σ = 0.5 records: seed 1 far below on two datasets, seed 3 a hair above the rest
    rows = [
        record(0, 0.99917, 0.9997),
        record(1, 0.96295, 0.962),
        record(1, 0.98088, 0.977, simulation_seed=1),
        record(2, 0.99922, 0.9995),
        record(3, 0.99945, 0.9992),
    ]
    assert seeds_apart(rows, "W_corrected_R2", "W R²") == [
        "training seed 1 lies below every other seed on W R²: its 2 runs (on 2 simulated datasets: the seed "
        "sets it, not one dataset) 0.96295–0.98088 against 0.99917–0.99945 for the 3 others"
    ]
    # two runs on one dataset say nothing about datasets
    same_data = [*rows[:2], record(1, 0.97, 0.97), *rows[3:]]
    assert seeds_apart(same_data, "W_corrected_R2", "W R²")[0].startswith(
        "training seed 1 lies below every other seed on W R²: its 2 runs 0.96295–0.97000"
    )
    assert "two groups of runs, not one bell" in replicates_part(rows, PUBLISHED, LABELS)
    assert seeds_apart(rows[:1] + rows[3:], "W_corrected_R2", "W R²") == []
