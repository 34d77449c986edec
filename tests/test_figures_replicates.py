"""Replicate figures: every run and spread drawn where its σ is, σ = 0 apart on the log axis."""

from __future__ import annotations

import numpy as np

from flygnn.analysis.replicates import spread
from flygnn.figures.replicates import MetricPoints, plot_sigma_sweep, plot_stimulus_ablation, zero_position

METRICS = [("tau_R2", "τ R²"), ("V_rest_R2", "V_rest R²")]


def points(values):
    return MetricPoints(values, spread(values))


def test_sweep_draws_zero_apart_and_every_run():
    data = {s: {"tau_R2": points([0.5 + s, 0.52 + s]), "V_rest_R2": points([0.1])} for s in (0.0, 0.05, 0.5)}
    fig = plot_sigma_sweep(METRICS, data, {"tau_R2": {0.0: 0.5277, 0.5: 0.9997}})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.05", "0.5"]
    x0 = zero_position([0.0, 0.05, 0.5])
    assert x0 < 0.05 and np.isclose(ax.get_xticks()[0], x0)
    drawn = np.concatenate([line.get_ydata() for line in ax.lines if line.get_marker() == "o"])
    assert set(np.round(drawn, 6)) >= {0.5, 0.52, 0.55, 0.57, 1.0, 1.02}
    stars = [line for line in ax.lines if line.get_marker() == "*" and len(line.get_xdata())]
    assert [list(np.round(line.get_ydata(), 4)) for line in stars] == [[0.5277, 0.9997]]


def test_sweep_axis_spans_the_published_points_beyond_the_runs():
    """One sweep run at σ = 0.01: the study's σ = 0.05 and 0.5 values stay on the axis."""
    fig = plot_sigma_sweep(
        METRICS[:1], {0.01: {"tau_R2": points([0.9])}}, {"tau_R2": {0.0: 0.53, 0.05: 0.99, 0.5: 1.0}}
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.01", "0.05", "0.5"]
    low, high = ax.get_xlim()
    stars = next(line for line in ax.lines if line.get_marker() == "*" and len(line.get_xdata()))
    assert all(low < x < high for x in stars.get_xdata())


def test_ablation_puts_the_default_stimulus_first():
    data = {0.05: {"mixed": {"tau_R2": points([0.9])}, "natural": {"tau_R2": points([0.8])}}}
    fig = plot_stimulus_ablation(METRICS[:1], data, {})
    ax = fig.axes[0]
    runs = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata())]
    # natural left of mixed within the σ group
    assert [float(line.get_ydata()[0]) for line in sorted(runs, key=lambda line: line.get_xdata()[0])] == [0.8, 0.9]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["σ = 0.05"]


def test_ablation_joins_the_runs_with_the_same_seeds():
    def runs(values, keys):
        return MetricPoints(values, spread(values), keys)

    data = {
        0.5: {"natural": {"tau_R2": runs([0.96, 0.999], ["1/0", "2/0"])}, "mixed": {"tau_R2": runs([0.98], ["1/0"])}}
    }
    fig = plot_stimulus_ablation(METRICS[:1], data, {})
    joins = [line for line in fig.axes[0].lines if line.get_linestyle() == "-" and len(line.get_xdata()) == 2]
    assert [list(line.get_ydata()) for line in joins] == [[0.96, 0.98]]


def test_the_legend_takes_the_empty_panel_when_there_is_one():
    five = [*METRICS, ("W_corrected_R2", "W R²"), ("W_corrected_slope", "slope"), ("clustering_accuracy", "c")]
    data = {0.5: {name: points([0.9]) for name, _ in five}}
    fig = plot_sigma_sweep(five, data, {})
    assert not fig.legends, "no row below the panels"
    spare = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(spare) == 1 and not spare[0].axison and spare[0] is fig.axes[5]
    # a full grid keeps the legend below it
    assert plot_sigma_sweep(METRICS, {0.5: {n: points([0.9]) for n, _ in METRICS}}, {}).legends
