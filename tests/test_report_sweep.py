"""#fig-sigma-sweep: the sweep's records grouped by σ, the figure or the sentence that says none ran."""

from __future__ import annotations

import pytest

from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.sweep import _shape, sweep_findings, sweep_part, sweep_points


def record(sigma: float, seed: int, value: float, recipe: str = "sweep", stimulus: str = "natural") -> dict:
    return {
        "recipe": recipe, "stimulus": stimulus, "sigma": sigma, "train_seed": seed, "configuration": 0.05,
        **{metric: value for metric in UPSTREAM_METRICS},
    }  # fmt: skip


def test_sweep_points_group_the_sweeps_natural_runs_by_sigma_in_order():
    rows = [record(0.5, 1, 0.99), record(0.0, 1, 0.5), record(0.0, 2, 0.6)]
    rows += [record(0.05, 1, 0.1, recipe="fast"), record(0.1, 1, 0.2, stimulus="mixed")]
    points = sweep_points(rows)
    assert list(points) == [0.0, 0.5]
    assert points[0.0]["tau_R2"] == [0.5, 0.6] and points[0.5]["W_corrected_R2"] == [0.99]


def test_the_part_shows_the_figure_or_says_how_many_runs_the_plan_lists():
    rows = [record(s, k, 0.9) for s in (0.0, 0.01, 0.5) for k in (1, 2)]
    text = sweep_part(rows, "../results/book-figures/sigma-sweep.png", planned=16, configuration="0.05")
    assert "{#fig-sigma-sweep}" in text and "6 runs, training seeds\n1, 2) at σ = 0, 0.01, 0.5" in text
    assert "σ = 0.05's\npublished configuration" in text
    empty = sweep_part([record(0.05, 1, 0.9, recipe="fast")], "x.png", planned=16, configuration="0.05")
    assert "#fig-sigma-sweep" not in empty and "`data/replicates/plan.yaml` lists 16" in empty


def _at(sigma: float, seed: int, recipe: str = "sweep", **values: float) -> dict:
    """A record whose metrics are all 0.9 but ``values``; a ``fast`` one trained with its own σ's configuration."""
    row = record(sigma, seed, 0.9, recipe=recipe)
    if recipe == "fast":
        row["configuration"] = sigma
    return row | values


def test_a_change_along_sigma_is_weighed_against_the_widest_range_of_the_seeds():
    # one sweep run per σ: W R² rises by 0.35 in steps beyond 0.1; τ R² dips by 0.02 at σ = 0.1; the fast recipe's
    # seeds span 0.1 (W) and 0.05 (τ) at σ = 0.5 and less at σ = 0.05
    rows = [
        _at(0.01, 1, W_corrected_R2=0.6),
        _at(0.1, 1, W_corrected_R2=0.8, tau_R2=0.88),
        _at(1.0, 1, W_corrected_R2=0.95),
    ]
    rows += [_at(0.5, 1, "fast", W_corrected_R2=0.9, tau_R2=0.95), _at(0.5, 2, "fast", W_corrected_R2=1.0, tau_R2=1.0)]
    rows += [_at(0.05, 1, "fast", W_corrected_R2=0.90), _at(0.05, 2, "fast", W_corrected_R2=0.95)]
    findings = {f["label"]: f for f in sweep_findings(rows, {"W_corrected_R2": "W", "tau_R2": "τ"})}
    w, tau = findings["W"], findings["τ"]
    assert w["shape"] == "rises with σ" and (w["scores"], w["at"]) == ("0.600, 0.800, 0.950", "0.01, 0.1, 1")
    assert w["change"] == "0.35" and w["beyond"] is True
    assert (w["yardstick"].width, w["yardstick"].recipe, w["yardstick"].sigma, w["yardstick"].n) == (
        pytest.approx(0.1), "fast", 0.5, 2,
    )  # fmt: skip
    # the dip of 0.02 is within the seeds' 0.05: no shape is claimed for it
    assert tau["shape"] == "varies along σ" and tau["beyond"] is False
    assert findings["V_rest_R2"]["beyond"] is False  # unchanged along σ, and no seed range: 0 ≤ 0
    text = sweep_part(rows, "x.png", planned=16, configuration="0.05", labels={"W_corrected_R2": "W"})
    assert "- **W** rises with σ (0.600, 0.800, 0.950 at σ = 0.01, 0.1, 1): Δ = 0.35, beyond the seed range 0.1" in text
    assert "within the seed range 0.05 (`fast`, σ = 0.5, n = 2)." in text and "one run per σ so far" in text


def test_the_shape_counts_only_the_steps_beyond_the_seed_range():
    sigmas = [0.01, 0.1, 0.2, 1.0]
    assert _shape(sigmas, [0.4, 0.99, 0.995, 0.99], tolerance=0.05) == "rises to σ = 0.1, then levels"
    assert _shape(sigmas, [0.9, 0.5, 0.3, 0.29], tolerance=0.05) == "falls to σ = 0.2, then levels"
    assert _shape(sigmas, [0.1, 0.2, 0.9, 0.3], tolerance=0.05) == "peaks at σ = 0.2"
    assert _shape(sigmas, [0.9, 0.2, 0.8, 0.95], tolerance=0.05) == "dips at σ = 0.1"
    assert _shape(sigmas, [0.1, 0.9, 0.1, 0.9], tolerance=0.05) == "goes up and down along σ"
    assert _shape(sigmas, [0.1, 0.9, 0.1, 0.9], tolerance=0.9) == "varies along σ"
    assert _shape(sigmas, [0.1, 0.2, 0.3, 0.4]) == "rises with σ"


def test_the_sweeps_own_seeds_set_the_range_once_a_sigma_has_two():
    rows = [_at(0.01, 1, tau_R2=0.5), _at(0.01, 2, tau_R2=0.7), _at(1.0, 1, tau_R2=0.9)]
    rows += [_at(0.5, 1, "fast", tau_R2=0.1), _at(0.5, 2, "fast", tau_R2=0.9)]  # wider, but another recipe
    (tau,) = [f for f in sweep_findings(rows, {}) if f["label"] == "tau_R2"]
    assert (tau["yardstick"].recipe, tau["yardstick"].width) == ("sweep", pytest.approx(0.2))
    assert tau["scores"] == "0.600, 0.900" and tau["beyond"] is True  # 0.9 − 0.6 = 0.3 > 0.2
    assert "the widest of the sweep's own seeds" in sweep_part(rows, "x.png", planned=16, configuration="0.05")


def test_no_findings_with_one_sigma_or_without_any_seed_range():
    assert sweep_findings([_at(0.01, 1), _at(0.01, 2)], {}) == []
    (first, *_) = sweep_findings([_at(0.01, 1, W_corrected_R2=0.5), _at(1.0, 1)], {})
    assert first["yardstick"] is None and first["beyond"] is None
    assert "no seed range measured yet" in sweep_part([_at(0.01, 1), _at(1.0, 1)], "x.png", 16, "0.05")


def test_a_long_sweep_is_told_by_its_ends_and_its_extremes():
    values = {0.0: 0.5, 0.01: 0.6, 0.02: 0.95, 0.05: 0.9, 0.1: 0.7, 0.2: 0.4, 0.5: 0.8, 1.0: 0.85}
    rows = [_at(sigma, 1, tau_R2=value) for sigma, value in values.items()]
    (tau,) = [f for f in sweep_findings(rows, {}) if f["label"] == "tau_R2"]
    assert tau["shape"] == "peaks at σ = 0.02" and tau["change"] == "0.55"  # no yardstick: every step counts
    assert (tau["scores"], tau["at"]) == ("0.500, 0.950, 0.400, 0.850", "0, 0.02, 0.2, 1")
