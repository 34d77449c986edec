"""The loss components of a training run against iterations (log scale).

The iteration axes are labelled 0, 10k, 20k, … (M for millions), and each keeps only as
many ticks as fit its drawn width: the speed panel is a quarter of the figure, where
five-digit labels at the default spacing ran into one another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from flygnn.figures.style import subplots

COMPONENT_LABELS = {
    "loss": "total",
    "prediction": "prediction ‖ŷ − y‖",
    "monotonicity": "g_φ monotonicity",
    "anchor": "g_φ anchor",
    "g_phi_L1": "g_φ weights L1",
    "f_theta_weights": "f_θ weights L1 + L2",
    "W_L1": "Ŵ L1",
}


def plot_training_loss(
    history: Sequence[dict[str, Any]],
    title: str | None = None,
    rate_changes: Sequence[tuple[int, float]] = (),
) -> Figure:
    """Left: every loss component (mean per logged window) on a log axis; right: speed.

    ``history`` rows hold ``iteration``, the components of ``COMPONENT_LABELS`` and
    ``iterations_per_s``; components that are zero throughout (coefficient 0) are left out.
    ``rate_changes``: ``(iteration, factor)`` where a training leg changed the learning-rate
    factor (:func:`flygnn.train.history.rate_changes`), drawn as dotted lines labelled "lr ×0.3".
    """
    iterations = np.array([row["iteration"] for row in history], dtype=float)
    fig, (ax_loss, ax_speed) = subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 1]})
    for key, label in COMPONENT_LABELS.items():
        values = np.array([row.get(key, np.nan) for row in history], dtype=float)
        if not np.any(np.isfinite(values) & (values > 0)):
            continue
        style = {"color": "black", "linewidth": 1.6} if key == "loss" else {"linewidth": 1.0}
        ax_loss.plot(iterations, np.where(values > 0, values, np.nan), label=label, **style)
    ax_loss.set_yscale("log")
    mark_rate_changes(ax_loss, rate_changes, label=True)
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss term (mean per log window)")
    ax_loss.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=4, frameon=False)
    speed = np.array([row.get("iterations_per_s", np.nan) for row in history], dtype=float)
    ax_speed.plot(iterations, speed, color="tab:gray", linewidth=1.0)
    ax_speed.set_xlabel("iteration")
    ax_speed.set_ylabel("iterations / s")
    if np.any(np.isfinite(speed)):
        ax_speed.set_ylim(0, np.nanmax(speed) * 1.1)
    if title:
        fig.suptitle(title)
    for ax in (ax_loss, ax_speed):
        label_iterations(ax)
    fig.tight_layout()
    for ax in (ax_loss, ax_speed):  # after the layout: the widths are final
        fit_iteration_ticks(ax)
    return fig


def mark_rate_changes(
    ax: Axes, changes: Sequence[tuple[float, float]], color: str = "dimgray", label: bool = False
) -> None:
    """Dotted vertical lines where the learning-rate factor changed; ``label``: "lr ×0.3" at the top,
    a line lower than its neighbour where two changes are too close for their labels to stand side by side."""
    low, high = ax.get_xlim()
    previous, level = None, 0
    for position, factor in sorted(changes):
        ax.axvline(position, color=color, linestyle=":", linewidth=1.0, alpha=0.8, zorder=0)
        if not label:
            continue
        fraction = (position - low) / (high - low) if high > low else 0.0
        level = 1 - level if previous is not None and fraction - previous < LABEL_WIDTH else 0
        previous = fraction
        ax.annotate(
            f"lr ×{factor:g}",
            (position, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2 - 9 * level),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=7,
            color=color,
        )


LABEL_WIDTH = 0.08  # of the axis width: "lr ×0.03" at 7 pt on the loss panel, with a margin


MAX_ITERATION_TICKS = 6
MIN_LABEL_GAP = 0.8  # space between neighbouring tick labels, in units of the label's height


def iteration_text(value: float, position: int | None = None) -> str:
    """An iteration count as a tick label: 500, 1.5k, 20k, 1.2M."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:g}M"
    if size >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _iteration_locator(bins: int) -> MaxNLocator:
    return MaxNLocator(nbins=bins, steps=[1, 2, 5, 10], integer=True)


def label_iterations(ax: Axes) -> None:
    """Iteration tick labels (:func:`iteration_text`) on ``ax``'s x axis; after the figure's layout,
    :func:`fit_iteration_ticks` thins them until they keep a gap."""
    ax.xaxis.set_major_formatter(FuncFormatter(iteration_text))
    ax.xaxis.set_major_locator(_iteration_locator(MAX_ITERATION_TICKS))


def visible_tick_labels(ax: Axes) -> list:
    """The x tick labels drawn inside the axis' view (the locator may place ticks outside it)."""
    low, high = sorted(ax.get_xlim())
    return [
        label
        for location, label in zip(ax.xaxis.get_majorticklocs(), ax.xaxis.get_majorticklabels(), strict=False)
        if low <= location <= high and label.get_visible() and label.get_text()
    ]


def _labels_crowd(ax: Axes, renderer) -> bool:
    boxes = sorted((label.get_window_extent(renderer) for label in visible_tick_labels(ax)), key=lambda b: b.x0)
    return any(right.x0 - left.x1 < MIN_LABEL_GAP * left.height for left, right in zip(boxes, boxes[1:], strict=False))


def fit_iteration_ticks(ax: Axes) -> None:
    """Fewer ticks on ``ax``'s x axis until neighbouring labels keep a gap (at the drawn size)."""
    # an Agg canvas (figures here are drawn on one, see figures.style.subplots); the base class has no renderer
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for bins in range(MAX_ITERATION_TICKS, 0, -1):
        ax.xaxis.set_major_locator(_iteration_locator(bins))
        if not _labels_crowd(ax, renderer):
            return
