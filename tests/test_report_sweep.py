"""#fig-sigma-sweep: the sweep's records grouped by σ, the figure or the sentence that says none ran."""

from __future__ import annotations

from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.sweep import sweep_part, sweep_points


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
