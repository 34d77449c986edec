"""Deviations from the study's training, read from a bundle's record: known answers."""

from __future__ import annotations

from flygnn.report.deviations import configuration_summary, rate_schedule, training_deviations
from flygnn.train.config import load_training_config

STUDY = load_training_config("paper", 0.05).to_dict()


def leg(start, end, factor=None, note="resumed", **extra):
    entry = {"started_iteration": start, "ended_iteration": end, "note": note, **extra}
    if factor is not None:
        entry["lr_factor"] = factor
    return entry


def test_the_study_itself_deviates_in_nothing():
    training = {"config": STUDY, "iterations": STUDY["iterations"], "training_frames": 64000, "legs": [leg(0, 112000)]}
    assert training_deviations(training, STUDY, 64000) == []


def test_every_kind_of_deviation_is_named_with_the_study_value():
    config = load_training_config("cpu", 0.05, {"batch_size": 2}).to_dict()
    config["anchor"] = 0.0
    legs = [
        leg(0, 100, note="trained before resumable states were kept; Adam's moments and the sampler were not saved"),
        leg(100, 200, note="warm start from the weights of bundle b at iteration 100 (fresh Adam moments)"),
        leg(200, 300, factor=1.0),
        leg(300, 400, factor=0.3, frame_seed=7),
    ]
    training = {"config": config, "iterations": 400, "training_frames": 32000, "legs": legs}
    assert training_deviations(training, STUDY, 64000) == [
        "32,000 training frames (study: 64,000)",
        "batch B = 2 (study: 4)",
        "400 iterations (study: 112,000)",
        "learning rates × 1.5 of the study's (the cpu preset)",
        "anchor weight μ₁ 0 (study: 0.9)",
        "learning-rate factor by iteration: ×1 over 0–300, ×0.3 over 300–400 (study: ×1 throughout)",
        "training restarted from the weights with fresh Adam moments and a new frame sampler at iteration 100 "
        "(study: one uninterrupted run)",
        "training frames drawn from new streams (frame seeds 7) in some legs",
    ]


def test_rate_schedule_merges_legs_at_one_factor():
    assert rate_schedule([leg(0, 5), leg(5, 9, 1.0), leg(9, 12, 0.1), leg(12, 20, 0.1)]) == [(0, 9, 1.0), (9, 20, 0.1)]


def test_configuration_summaries_tell_the_sigmas_apart():
    assert configuration_summary(load_training_config("paper", 0.0).to_dict()) == (
        "d = 4, μ₀ = 1500, no anchor, no L1, initial Ŵ scale 1"
    )
    assert configuration_summary(STUDY).startswith(
        r"d = 2, μ₀ = 750, anchor μ₁ = 0.9, L1 on $g_\phi$ 0.28, $f_\theta$ 0.05"
    )
