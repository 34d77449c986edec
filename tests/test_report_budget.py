"""#tbl-matched-budget: each run's last score at or before the study's iterations and frames."""

from __future__ import annotations

from flygnn.report.budget import TrainingRun, budget_groups, matched_budget_part

STUDY = {0.05: {"iterations": 100, "batch_size": 4}}
PUBLISHED = {"W_corrected_R2": {0.05: 0.98}}


def history(last: int, step: int = 50) -> list[dict]:
    return [{"iteration": i, "W_corrected_R2": i / 1000, "tau_R2": 0.5} for i in range(step, last + 1, step)]


def test_points_at_the_study_budget_in_steps_and_frames():
    small_batch = TrainingRun("ours", 0.05, {"iterations": 260, "config": {"batch_size": 2}}, history(260, 30))
    (group,) = budget_groups([small_batch], STUDY, PUBLISHED)
    points = group["runs"][0]["points"]
    # 100 steps: last score at 90; 400 frames / B 2 = 200 steps: last score at 180; end at 240 (last scored)
    assert [(p["name"], p["iterations"], p["frames"], p["scores"][0]) for p in points] == [
        ("study's iterations", "90", "180", "0.0900"),
        ("study's frames", "180", "360", "0.1800"),
        ("end", "240", "480", "0.2400"),
    ]
    assert group["published"][0] == "0.9800" and group["study"]["frames"] == "400"


def test_a_run_that_stopped_early_says_what_it_fell_short_of():
    short = TrainingRun("short", 0.05, {"iterations": 80, "config": {"batch_size": 4}}, history(80, 40))
    other_sigma = TrainingRun("elsewhere", 0.5, {"iterations": 80, "config": {"batch_size": 4}}, history(80))
    (group,) = budget_groups([short, other_sigma], STUDY, PUBLISHED)
    assert [p["name"] for p in group["runs"][0]["points"]] == ["end, short of the study's iterations"]
    text = matched_budget_part([short], STUDY, PUBLISHED)
    assert (
        "{#tbl-matched-budget}" in text
        and "| σ = 0.05 | short | 4 | end, short of the study's iterations | 80 | 320 |" in text
    )


def test_no_comparable_run_is_a_sentence_not_an_empty_table():
    text = matched_budget_part([], STUDY, PUBLISHED)
    assert "nothing to compare" in text and "@tbl-matched-budget" not in text
