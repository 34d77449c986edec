"""Run-to-run spread: known answers for the range rule, whatever the number of runs."""

from __future__ import annotations

import math

import pytest

from flygnn.analysis.replicates import is_replicate_of, spread, summarize


def test_few_runs_spread_is_their_range():
    s = spread([0.9, 0.95, float("nan"), 0.93])
    assert (s.n, s.low, s.high) == (3, 0.9, 0.95)
    assert s.mean == pytest.approx(0.9266666, abs=1e-6) and s.std == pytest.approx(0.0251661, abs=1e-6)
    assert s.contains(0.95) is True and s.contains(0.951) is False and s.contains(float("nan")) is None


def test_many_runs_spread_stays_their_range_not_mean_plus_two_sd():
    # one run far below four alike (a training seed that lands elsewhere): mean ± 2 sd would reach
    # past R² = 1 (here 0.99196 + 2 · 0.01619 = 1.0243); the range stops at the best run
    s = spread([0.999, 0.9992, 0.9995, 0.9991, 0.963])
    assert (s.low, s.high) == (0.963, 0.9995)
    assert s.std == pytest.approx(0.01619, abs=1e-5) and s.mean + 2 * s.std > 1
    assert s.contains(0.9996) is False and s.contains(0.97) is True


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
