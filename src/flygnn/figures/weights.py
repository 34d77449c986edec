"""Learned against true synaptic weights, raw (Ŵ) and gauge-corrected (W*).

Every edge that is scored is drawn, as a density: hexagons coloured by the number of
edges in them on a log scale, so the dense core (about 98 % of the edges have |W| <
0.5) is as readable as the few large weights. The right panel enlarges that core. The
edges that are not scored (upstream's |W* − W| > 5 filter, or non-finite values) are
counted on the figure.

Both axes span the true W's range (the core: |W| < 0.5), the same for every condition,
so the identity is the diagonal and the σ-grid's panels compare; a learned weight beyond
is drawn at the edge as a triangle (:func:`flygnn.figures.limits.pin_beyond`) and counted. The scores and the rule that picks the scored edges are the analysis'
(:func:`flygnn.analysis.weight_metrics`, :func:`flygnn.analysis.metrics.scored_edges`).
W is dimensionless (it scales a presynaptic voltage into a postsynaptic input).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from flygnn.analysis.metrics import W_OUTLIER_THRESHOLD, scored_edges
from flygnn.figures.limits import padded, pin_beyond, share_axes
from flygnn.figures.style import subplots
from flygnn.metric_names import (
    W_CORRECTED_OUTLIER_EDGES,
    W_CORRECTED_R2,
    W_CORRECTED_R2_IDENTIFIABLE,
    W_CORRECTED_R2_IDENTITY,
    W_CORRECTED_R2_SMALL_WEIGHTS,
    W_CORRECTED_SLOPE,
    W_CORRECTED_UNDEFINED_EDGES,
    W_RAW_R2,
    W_RAW_SLOPE,
)

CORE_LIMIT = 0.5  # |W| below this: the dense core, enlarged in the right panel
FIT_COLOR, IDENTITY_COLOR, BEYOND_COLOR = "#d62728", "0.25", "#e66101"


def _density_panel(
    ax,
    true: np.ndarray,
    learned: np.ndarray,
    limits: tuple[float, float],
    fit: tuple[float, float] | None,
    identity: bool,
    gridsize: int,
):
    """Hexagonal bins of (true, learned) within ``limits`` (both axes) with log-scaled counts, the learned
    values beyond at the edge, the fit line (slope, intercept) and the identity; returns (mappable, beyond)."""
    x_limits = y_limits = limits
    outside = pin_beyond(ax, true, learned, x_limits, y_limits, s=9, color=BEYOND_COLOR, linewidths=0)
    density = ax.hexbin(
        true[~outside],
        learned[~outside],
        gridsize=gridsize,
        extent=(*x_limits, *y_limits),
        norm=LogNorm(),
        mincnt=1,
        cmap="viridis",
        linewidths=0,
        rasterized=True,
    )
    xs = np.array(x_limits)
    if fit is not None:
        slope, intercept = fit
        ax.plot(xs, slope * xs + intercept, color=FIT_COLOR, lw=0.9, label=f"least-squares fit (slope {slope:.3f})")
    if identity:
        ax.plot(xs, xs, color=IDENTITY_COLOR, lw=0.8, ls="--", label="identity")
    ax.set_xlim(*x_limits)
    ax.set_ylim(*y_limits)
    ax.legend(loc="lower right", frameon=False)
    return density, int(outside.sum())


def _stats_text(ax, lines: list[str]) -> None:
    ax.text(
        0.02,
        0.98,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        fontsize=6.5,
        bbox={"fc": "white", "ec": "0.8", "alpha": 0.9},
    )


def _density_figure(
    true: np.ndarray,
    learned: np.ndarray,
    truth_range: tuple[float, float],
    slope: float | None,
    identity: bool,
    y_label: str,
    title: str,
):
    """Two panels: every edge shown, and the core |W| < 0.5 enlarged; returns (fig, axes, edges beyond
    the axes per panel). ``truth_range``: (min, max) of the true W over all edges, the limits of the first
    panel."""
    fig, axes = subplots(1, 2, figsize=(7.2, 2.6))
    fit = None
    if slope is not None and np.isfinite(slope) and true.size:
        # the least-squares line passes through the means of the points it was fitted to (all shown)
        fit = (slope, float(np.mean(learned) - slope * np.mean(true)))
    core = np.abs(true) < CORE_LIMIT
    panels = [
        (axes[0], np.ones(true.size, bool), padded(*truth_range, 0.03), "all", "all edges shown"),
        (
            axes[1],
            core,
            padded(-CORE_LIMIT, CORE_LIMIT, 0.03),
            "core",
            f"the core |W| < {CORE_LIMIT:g} ({core.mean():.1%} of the edges shown)",
        ),
    ]
    outside = []
    for ax, selected, limits, name, panel_title in panels:
        if not selected.any():
            ax.set_visible(False)
            outside.append(0)
            continue
        density, pinned = _density_panel(ax, true[selected], learned[selected], limits, fit, identity, gridsize=70)
        outside.append(pinned)
        share_axes(ax, name)
        fig.colorbar(density, ax=ax, fraction=0.046, pad=0.03, label="edges per hexagon")
        ax.set_title(panel_title, fontsize=8)
        ax.set_xlabel("true W (dimensionless)")
        ax.set_ylabel(y_label)
    if outside[1]:
        _stats_text(axes[1], [f"{outside[1]:,} beyond the axes (▲▼◀▶)"])
    fig.suptitle(title)
    return fig, axes, outside


def _value(metrics: dict, name: str) -> str:
    number = metrics[name].value
    return "n/a" if number is None else f"{number:.4f}"


def _truth_range(true_W: np.ndarray) -> tuple[float, float]:
    finite = true_W[np.isfinite(true_W)]
    return (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)


def raw_weights_figure(true_W: np.ndarray, learned_W: np.ndarray, metrics: dict) -> Figure:
    """Ŵ against W over all edges (non-finite Ŵ counted, not drawn), with the scores of ``metrics``
    (the result of :func:`flygnn.analysis.weight_metrics`). Ŵ is drawn on W's own scale: the raw
    weights' gauge shows as a slope off the diagonal."""
    true_W = np.asarray(true_W, float)
    learned_W = np.asarray(learned_W, float)
    finite = np.isfinite(learned_W) & np.isfinite(true_W)
    fig, axes, outside = _density_figure(
        true_W[finite],
        learned_W[finite],
        _truth_range(true_W),
        metrics[W_RAW_SLOPE].value,
        False,
        "learned Ŵ (model units)",
        "raw weights",
    )
    lines = [
        f"R² = {_value(metrics, W_RAW_R2)}",
        f"slope = {_value(metrics, W_RAW_SLOPE)}",
        f"edges shown: {finite.sum():,} of {true_W.size:,}",
    ]
    if outside[0]:
        lines.append(f"{outside[0]:,} beyond the axes (▲▼◀▶)")
    if (~finite).any():
        lines.append(f"non-finite Ŵ: {(~finite).sum():,}")
    _stats_text(axes[0], lines)
    fig.tight_layout()
    return fig


def corrected_weights_figure(true_W: np.ndarray, corrected_W: np.ndarray, metrics: dict) -> Figure:
    """W* by upstream's rules against W on the scored edges (|W* − W| ≤ 5), with the scores computed
    by :func:`flygnn.analysis.weight_metrics` (``metrics``: its result); the left-out edges are counted."""
    true_W = np.asarray(true_W, float)
    corrected_W = np.asarray(corrected_W, float)
    kept = scored_edges(true_W, corrected_W)  # the edges of W_corrected_R2, by the analysis' own rule
    fig, axes, outside = _density_figure(
        true_W[kept],
        corrected_W[kept],
        _truth_range(true_W),
        metrics[W_CORRECTED_SLOPE].value,
        True,
        "corrected W* (dimensionless)",
        "gauge-corrected weights",
    )
    small = metrics[W_CORRECTED_R2_SMALL_WEIGHTS]
    lines = [
        f"R² = {_value(metrics, W_CORRECTED_R2)} (fit), {_value(metrics, W_CORRECTED_R2_IDENTITY)} (identity)",
        f"slope = {_value(metrics, W_CORRECTED_SLOPE)}",
        f"edges shown: {kept.sum():,} of {true_W.size:,}; left out: "
        f"{metrics[W_CORRECTED_OUTLIER_EDGES].value:,} (|W* − W| > {W_OUTLIER_THRESHOLD:g})",
        f"upstream's fill: {metrics[W_CORRECTED_UNDEFINED_EDGES].value:,} undefined W*",
        f"identifiable only: R² = {_value(metrics, W_CORRECTED_R2_IDENTIFIABLE)}",
        f"without {small.details['large_weight_edges_left_out']:,} with |W| ≥ {small.details['limit']:g}: "
        f"R² = {_value(metrics, W_CORRECTED_R2_SMALL_WEIGHTS)}",
    ]
    if outside[0]:
        lines.insert(2, f"{outside[0]:,} beyond the axes (▲▼◀▶)")
    _stats_text(axes[0], lines)
    fig.tight_layout()
    return fig
