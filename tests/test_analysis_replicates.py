"""Run-to-run spread: known answers for the range (n < 5) and mean ± 2 sd (n ≥ 5) rules."""

from __future__ import annotations

import math

import pytest

from flygnn.analysis.replicates import is_replicate_of, spread, summarize


def test_few_runs_spread_is_their_range():
    s = spread([0.9, 0.95, float("nan"), 0.93])
    assert (s.n, s.low, s.high, s.by_range) == (3, 0.9, 0.95, True)
    assert s.mean == pytest.approx(0.9266666, abs=1e-6) and s.std == pytest.approx(0.0251661, abs=1e-6)
    assert s.contains(0.95) is True and s.contains(0.951) is False and s.contains(float("nan")) is None


def test_five_runs_spread_is_mean_plus_minus_two_sd():
    s = spread([1.0, 2.0, 3.0, 4.0, 5.0])  # mean 3, sample sd sqrt(2.5)
    assert not s.by_range
    assert (s.low, s.high) == pytest.approx((3 - 2 * math.sqrt(2.5), 3 + 2 * math.sqrt(2.5)))
    assert s.contains(6.1) is True and s.contains(6.2) is False


def test_no_run_no_spread():
    s = spread([])
    assert s.n == 0 and math.isnan(s.mean) and s.contains(0.5) is None


def test_summarize_groups_by_sigma_in_order():
    rows = [
        {"sigma": 0.5, "tau_R2": 0.9, "recipe": "fast", "stimulus": "natural", "configuration": 0.5},
        {"sigma": 0.05, "tau_R2": 0.8, "recipe": "fast", "stimulus": "natural", "configuration": 0.05},
        {"sigma": 0.5, "tau_R2": 0.7, "recipe": "fast", "stimulus": "mixed", "configuration": 0.5},
    ]
    groups = summarize(rows, ["tau_R2"])
    assert [g["sigma"] for g in groups] == [0.05, 0.5]
    assert groups[1]["spreads"]["tau_R2"].n == 2 and groups[1]["spreads"]["tau_R2"].low == 0.7
    assert [is_replicate_of(r, "fast") for r in rows] == [True, True, False]
    assert not is_replicate_of({**rows[0], "configuration": 0.0}, "fast")
