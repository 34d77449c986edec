"""Figures of the held-out and the functional validation: what is drawn, the shared limits, the marks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flygnn.analysis.functional import FunctionalValidation
from flygnn.analysis.heldout import HeldOutValidation
from flygnn.analysis.oracle import OracleModel
from flygnn.figures.functional import plot_direction_selectivity
from flygnn.figures.heldout import CLIP_MARKER, ERROR_LIMITS, plot_rollout, rollout_error_limits
from flygnn.figures.limits import shared_limits
from flygnn.figures.style import save_figure
from flygnn.sections import DIRECTION_SELECTIVITY, ROLLOUT


class Sluggish(torch.nn.Module):
    """The true dynamics with every τ ``slowness`` times longer: a wrong model with finite answers."""

    def __init__(self, network, truth, slowness: float = 4.0):
        super().__init__()
        self.inner = OracleModel(
            network.source, network.target, truth.W, slowness * np.asarray(truth.tau), truth.v_rest
        )

    def forward(self, v, I):  # noqa: N803 - the model's argument names
        return self.inner(v, I)


@pytest.fixture(scope="module")
def heldout(dataset, tiny_network):
    return HeldOutValidation(rollout_steps=19).fit(
        Sluggish(tiny_network, dataset.ground_truth()), dataset, tiny_network
    )


@pytest.fixture(scope="module")
def functional(tiny_network, synthetic_truth):
    return FunctionalValidation(speeds=(25.0,), settle_steps=20, flash_seconds=0.2).fit(
        Sluggish(tiny_network, synthetic_truth), tiny_network, synthetic_truth, 0.02
    )


def test_rollout_figure_draws_each_type_and_the_error(heldout, tmp_path):
    fig = plot_rollout(heldout)
    titles = [ax.get_title() for ax in fig.axes]
    assert [t for t in titles if t] == list(heldout.trace_types)
    error_ax = fig.axes[-1]
    assert error_ax.get_ylabel() == "error\n÷ std(true)"
    assert error_ax.get_yscale() == "log"
    fig.canvas.draw()  # the legend sits above the error curves, not on them
    legend = error_ax.get_legend().get_window_extent()
    assert legend.y0 >= error_ax.get_window_extent().y1 - 1
    assert error_ax.get_ylim() == pytest.approx(rollout_error_limits([heldout]))
    paths = save_figure(fig, tmp_path, "rollout")
    assert all(path.stat().st_size > 0 for path in paths)


def test_rollout_figure_shares_limits_and_marks_what_lies_beyond(heldout):
    high = 0.5 * float(np.nanmax(heldout.rollout_error_))
    fig = plot_rollout(heldout, error_limits=(1e-3, high), voltage_limits=(-0.1, 0.1))
    error_ax = fig.axes[-1]
    assert error_ax.get_ylim() == pytest.approx((1e-3, high))
    marks = [line for line in error_ax.lines if line.get_marker() == CLIP_MARKER["marker"]]
    assert marks and max(np.max(line.get_ydata()) for line in marks) == pytest.approx(high)
    for ax in fig.axes[: len(heldout.trace_types)]:
        assert ax.get_ylim() == pytest.approx((-0.1, 0.1))


def test_error_limits_cover_every_result(heldout):
    low, high = rollout_error_limits([heldout])
    errors = np.concatenate([heldout.rollout_error_[1:], heldout.rollout_error_median_[1:], heldout.noise_error_[1:]])
    assert low == pytest.approx(max(errors[errors > 0].min() / 1.5, high * 1e-5))
    assert high >= errors.max()
    assert rollout_error_limits([heldout, heldout]) == (low, high)


def test_direction_selectivity_figure_has_fixed_ranges_and_labels(functional, tmp_path):
    fig = plot_direction_selectivity(functional)
    dsi_on, dsi_off, fri, polar = fig.axes
    assert dsi_on.get_xlim() == pytest.approx((-0.03, 1.03)) and dsi_on.get_ylim() == dsi_on.get_xlim()
    assert fri.get_xlim() == pytest.approx((-1.06, 1.06))
    assert {t.get_text() for t in dsi_on.texts} == {"T4a", "T4b", "T4c", "T4d"}
    assert {t.get_text() for t in dsi_off.texts} == {"T5a", "T5b", "T5c", "T5d"}
    assert "r = " in dsi_on.get_title() and "sign" in fri.get_title()
    assert polar.name == "polar"
    save_figure(fig, tmp_path, "direction-selectivity")
    assert (tmp_path / "direction-selectivity.pdf").stat().st_size > 0


def test_two_models_validation_figures_share_their_axes(heldout, functional, dataset, tiny_network, synthetic_truth):
    """As the notebooks draw them (fixed error limits, voltage limits from the true traces), two different
    learned networks of the same truth give the same axes: the σ-grid compares."""
    other = HeldOutValidation(rollout_steps=19).fit(
        Sluggish(tiny_network, dataset.ground_truth(), 1.5), dataset, tiny_network
    )
    assert not np.allclose(other.traces_learned_, heldout.traces_learned_)
    rollouts = [
        shared_limits(plot_rollout(r, error_limits=ERROR_LIMITS, voltage_limits="truth")) for r in (heldout, other)
    ]
    assert set(rollouts[0]) == {"error"} | {f"voltage-{name}" for name in heldout.trace_types}
    assert rollouts[0] == rollouts[1]
    assert rollouts[0]["error"]["ylim"] == pytest.approx(ERROR_LIMITS)
    second = FunctionalValidation(speeds=(25.0,), settle_steps=20, flash_seconds=0.2).fit(
        Sluggish(tiny_network, synthetic_truth, 1.5), tiny_network, synthetic_truth, 0.02
    )
    selectivity = [shared_limits(plot_direction_selectivity(r)) for r in (functional, second)]
    assert set(selectivity[0]) == {"dsi-on", "dsi-off", "fri"}
    assert selectivity[0] == selectivity[1]
    assert ROLLOUT.shared_axes and DIRECTION_SELECTIVITY.shared_axes


def test_rollout_truth_limits_hold_the_true_trace_and_reject_other_words(heldout):
    fig = plot_rollout(heldout, voltage_limits="truth")
    for ax, name in zip(fig.axes, heldout.trace_types, strict=False):
        low, high = ax.get_ylim()
        true = heldout.traces_true_[:, heldout.type_names_.index(name)]  # one column per cell type
        assert low < true.min() and true.max() < high
    with pytest.raises(ValueError, match="voltage_limits"):
        plot_rollout(heldout, voltage_limits="learned")


def test_a_noise_reference_below_the_axis_is_named_not_marked(heldout):
    import copy

    quiet = copy.copy(heldout)
    quiet.noise_error_ = np.full_like(heldout.noise_error_, 1e-6)  # σ = 0: float32 rounding only
    error_ax = plot_rollout(quiet, error_limits=ERROR_LIMITS).axes[-1]
    labels = [line.get_label() for line in error_ax.lines]
    assert "true vs recorded: below 1e-03 (no noise)" in labels
    dotted = [line for line in error_ax.lines if line.get_linestyle() == ":"]
    assert all(len(line.get_xdata()) == 0 for line in dotted), "no curve pinned to the bottom edge"
