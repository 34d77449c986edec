"""The training-loss figure: what it draws, and iteration tick labels that never run into each other."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib import pyplot as plt

from flygnn.figures.style import apply_style
from flygnn.figures.training import iteration_text, plot_training_loss, visible_tick_labels


def synthetic_history(last_iteration: int, rows: int = 400, seed: int = 0) -> list[dict[str, float]]:
    """Loss terms and a noisy speed every ``last_iteration / rows`` iterations, as training logs them."""
    rng = np.random.default_rng(seed)
    iterations = np.linspace(max(last_iteration / rows, 1), last_iteration, rows).round()
    return [
        {
            "iteration": float(i),
            "loss": 1e4 / (1 + i / 500),
            "prediction": 8e3 / (1 + i / 500),
            "monotonicity": float(rng.uniform(0.1, 10)),
            "anchor": 20.0,
            "g_phi_L1": 0.0,
            "iterations_per_s": float(rng.uniform(0.7, 4.8)),
        }
        for i in iterations
    ]


@pytest.fixture(autouse=True)
def style():
    apply_style()
    yield
    plt.close("all")


@pytest.mark.parametrize(
    "value, text", [(0, "0"), (500, "500"), (1500, "1.5k"), (20000, "20k"), (22500, "22.5k"), (1_200_000, "1.2M")]
)
def test_iteration_text(value, text):
    assert iteration_text(value) == text


def test_the_figure_draws_every_nonzero_loss_term_and_the_speed():
    history = synthetic_history(22_500)
    fig = plot_training_loss(history, "σ = 0.5")
    ax_loss, ax_speed = fig.axes
    assert sorted(line.get_label() for line in ax_loss.get_lines()) == sorted(
        ["total", "prediction ‖ŷ − y‖", "g_φ monotonicity", "g_φ anchor"]
    ), "a term that is zero throughout (g_phi_L1) is left out"
    np.testing.assert_allclose(ax_speed.get_lines()[0].get_ydata(), [row["iterations_per_s"] for row in history])
    assert ax_speed.get_ylim()[0] == 0


def test_the_figure_marks_where_the_learning_rate_changed():
    history = synthetic_history(103_600)
    fig = plot_training_loss(history, "σ = 0.5", rate_changes=[(14_500, 0.3), (69_200, 0.1)])
    ax_loss = fig.axes[0]
    dotted = [line for line in ax_loss.get_lines() if line.get_linestyle() == ":"]
    assert sorted(line.get_xdata()[0] for line in dotted) == [14_500, 69_200]
    assert sorted(text.get_text() for text in ax_loss.texts) == ["lr ×0.1", "lr ×0.3"]
    assert not plot_training_loss(history).axes[0].texts  # no change, no mark


def test_labels_of_close_rate_changes_stand_one_above_the_other():
    # σ = 0.05's legs: 0.3 at 29,150 and back to 1 at 35,600 of 192,400 iterations ran into each other
    fig = plot_training_loss(synthetic_history(192_400), rate_changes=[(29_150, 0.3), (35_600, 1.0), (54_700, 0.5)])
    offsets = {text.get_text(): text.xyann[1] for text in fig.axes[0].texts}
    assert offsets["lr ×1"] < offsets["lr ×0.3"] == offsets["lr ×0.5"]
    fig.canvas.draw()
    boxes = {text.get_text(): text.get_window_extent() for text in fig.axes[0].texts}
    assert not boxes["lr ×0.3"].overlaps(boxes["lr ×1"]) and not boxes["lr ×1"].overlaps(boxes["lr ×0.5"])


# 22,500 and 31,100 iterations are where the committed σ = 0.5 and σ = 0 bundles stood when
# the speed panel's labels ran into each other; the rest spans short runs to a paper schedule.
@pytest.mark.parametrize("last_iteration", [40, 900, 9_999, 22_500, 29_150, 31_100, 123_457, 200_000, 2_500_000])
def test_iteration_tick_labels_never_overlap(last_iteration):
    fig = plot_training_loss(synthetic_history(last_iteration), "title")
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = visible_tick_labels(ax)
        assert len(labels) >= 2, [label.get_text() for label in labels]
        assert all(label.get_text() for label in labels)
        boxes = [label.get_window_extent(renderer) for label in labels]
        for (a, first), (b, second) in itertools.combinations(zip(labels, boxes, strict=False), 2):
            assert not first.overlaps(second), (
                f"{a.get_text()!r} overlaps {b.get_text()!r} at {last_iteration:,} iterations"
            )
