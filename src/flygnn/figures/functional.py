"""Direction selectivity and ON/OFF preference of the learned network against the true one.

Draws a fitted :class:`flygnn.analysis.functional.FunctionalValidation`; nothing is
recomputed but the positions of the points. The indices have fixed ranges (DSI in [0, 1],
FRI in [−1, 1]), so the axes are those ranges in every figure and a σ-grid of them
compares as drawn.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from flygnn.analysis.functional import DIRECTION_SUBTYPES, OFF, ON
from flygnn.figures.limits import share_axes
from flygnn.figures.style import type_colors
from flygnn.metric_names import (
    FUNCTIONAL_DSI_OFF_R,
    FUNCTIONAL_DSI_ON_R,
    FUNCTIONAL_FRI_R,
    FUNCTIONAL_FRI_SIGN_AGREEMENT,
)


def _scatter(
    ax, panel: str, true: np.ndarray, learned: np.ndarray, names, highlight: list[str], limits, colors
) -> None:
    low, high = limits
    ax.plot(limits, limits, color="0.6", lw=0.8, zorder=0)
    shown_true = np.clip(true, low, high)
    shown_learned = np.clip(np.where(np.isfinite(learned), learned, high), low, high)
    beyond = ~np.isfinite(learned) | (learned < low) | (learned > high)
    others = [k for k, name in enumerate(names) if name not in highlight]
    ax.scatter(shown_true[others], shown_learned[others], s=9, color="0.55", lw=0, label="other types")
    if beyond[others].any():
        marked = [k for k in others if beyond[k]]
        ax.scatter(shown_true[marked], shown_learned[marked], s=22, marker="^", facecolor="none", edgecolor="crimson")
    for name in highlight:
        k = names.index(name)
        ax.scatter(shown_true[k], shown_learned[k], s=22, color=colors[k], edgecolor="black", lw=0.4, zorder=3)
        ax.annotate(name, (shown_true[k], shown_learned[k]), fontsize=6.5, xytext=(3, 2), textcoords="offset points")
    pad = 0.03 * (high - low)
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    share_axes(ax, panel)
    ax.set_xlabel("true network")
    ax.set_ylabel("learned network")


def _metric(result, name: str) -> str:
    value = result.metrics[name].value
    return "n/a" if value is None else f"{value:.2f}"


def plot_direction_selectivity(result) -> Figure:
    """DSI for ON and OFF edges and FRI, learned against true per cell type (central column),
    T4a–d highlighted on ON edges and T5a–d on OFF edges, and the preferred directions of those
    subtypes (true solid, learned dashed; length = DSI)."""
    names = list(result.type_names_)
    colors = type_colors(len(names))
    t4 = [n for n, p in DIRECTION_SUBTYPES.items() if p == ON and n in names]
    t5 = [n for n, p in DIRECTION_SUBTYPES.items() if p == OFF and n in names]
    fig = Figure(figsize=(7.0, 2.3), layout="constrained")
    FigureCanvasAgg(fig)  # a bare figure, as figures.style.subplots makes (one panel is polar)
    axes = [fig.add_subplot(1, 4, k + 1) for k in range(3)]
    polar = fig.add_subplot(1, 4, 4, projection="polar")

    _scatter(axes[0], "dsi-on", result.dsi_true_[ON], result.dsi_learned_[ON], names, t4, (0.0, 1.0), colors)
    axes[0].set_title(f"DSI, ON edges (r = {_metric(result, FUNCTIONAL_DSI_ON_R)})", fontsize=8)
    _scatter(axes[1], "dsi-off", result.dsi_true_[OFF], result.dsi_learned_[OFF], names, t5, (0.0, 1.0), colors)
    axes[1].set_title(f"DSI, OFF edges (r = {_metric(result, FUNCTIONAL_DSI_OFF_R)})", fontsize=8)
    _scatter(axes[2], "fri", result.fri_true_, result.fri_learned_, names, [], (-1.0, 1.0), colors)
    axes[2].axhline(0, color="0.85", lw=0.6, zorder=0)
    axes[2].axvline(0, color="0.85", lw=0.6, zorder=0)
    axes[2].set_title(
        f"FRI (r = {_metric(result, FUNCTIONAL_FRI_R)}, sign {_metric(result, FUNCTIONAL_FRI_SIGN_AGREEMENT)})",
        fontsize=8,
    )

    for name, polarity in DIRECTION_SUBTYPES.items():
        if name not in names:
            continue
        k = names.index(name)
        for angles, dsi, style, label in (
            (result.preferred_direction_true_, result.dsi_true_, "-", name),
            (result.preferred_direction_learned_, result.dsi_learned_, "--", None),
        ):
            length = dsi[polarity, k]
            if np.isfinite(length) and np.isfinite(angles[polarity, k]):
                polar.plot(
                    [angles[polarity, k]] * 2, [0, min(length, 1.0)], color=colors[k], ls=style, lw=1.2, label=label
                )
    polar.set_ylim(0, 1)
    polar.set_yticks([0.5, 1.0])
    polar.tick_params(labelsize=6)
    polar.set_title("preferred direction\n(true —, learned --)", fontsize=8)
    if polar.get_legend_handles_labels()[0]:
        polar.legend(fontsize=5.5, frameon=False, loc="center left", bbox_to_anchor=(1.05, 0.5), handlelength=1.2)
    return fig
