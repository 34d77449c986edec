"""Learned against true synaptic weights, raw (Ŵ) and gauge-corrected (W*).

Every edge that is scored is drawn; the edges that are not (upstream's |W* − W| > 5
filter, or non-finite values) are counted on the figure, and the axis limits come
from the points shown, so nothing is hidden silently.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from flygnn.analysis.metrics import W_OUTLIER_THRESHOLD, ols_fit


def _scatter_panel(ax, true: np.ndarray, learned: np.ndarray, identity: bool) -> None:
    # Dense clouds (434,112 edges) need small translucent points; a few thousand can be bolder.
    alpha = float(np.clip(3000.0 / max(true.size, 1), 0.08, 0.8))
    size = 1.0 if true.size > 50_000 else 4.0
    ax.scatter(true, learned, s=size, alpha=alpha, color="#1f3b73", linewidths=0, rasterized=True)
    r2, slope = ols_fit(true, learned)
    intercept = float(np.mean(learned) - slope * np.mean(true)) if np.isfinite(slope) else np.nan
    low, high = float(np.min(true)), float(np.max(true))
    xs = np.array([low, high])
    if np.isfinite(slope):
        ax.plot(xs, slope * xs + intercept, color="#d62728", lw=0.8, label=f"least-squares fit (slope {slope:.3f})")
    if identity:
        ax.plot(xs, xs, color="0.3", lw=0.8, ls="--", label="identity")
    ax.legend(loc="lower right", frameon=False)


def _stats_text(ax, lines: list[str]) -> None:
    ax.text(
        0.02, 0.98, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=8,
        bbox={"fc": "white", "ec": "0.8", "alpha": 0.9},
    )


def raw_weights_figure(true_W: np.ndarray, learned_W: np.ndarray, title: str) -> Figure:
    """Ŵ against W over all edges (non-finite Ŵ counted, not drawn)."""
    true_W = np.asarray(true_W, float)
    learned_W = np.asarray(learned_W, float)
    finite = np.isfinite(learned_W) & np.isfinite(true_W)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    _scatter_panel(ax, true_W[finite], learned_W[finite], identity=False)
    r2, slope = ols_fit(true_W, learned_W)
    lines = [f"R² = {r2:.4f}", f"slope = {slope:.4f}", f"edges shown: {finite.sum():,} of {true_W.size:,}"]
    if (~finite).any():
        lines.append(f"non-finite Ŵ: {(~finite).sum():,}")
    _stats_text(ax, lines)
    ax.set_xlabel("true W")
    ax.set_ylabel("learned Ŵ (model units)")
    ax.set_title(f"{title}: raw weights")
    fig.tight_layout()
    return fig


def corrected_weights_figure(true_W: np.ndarray, corrected_W: np.ndarray, metrics: dict, title: str) -> Figure:
    """W* by upstream's rules against W on the scored edges (|W* − W| ≤ 5), with the scores computed
    by :func:`flygnn.analysis.weight_metrics` (``metrics``: its result); the left-out edges are counted."""
    true_W = np.asarray(true_W, float)
    corrected_W = np.asarray(corrected_W, float)
    kept = np.abs(corrected_W - true_W) <= W_OUTLIER_THRESHOLD
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    _scatter_panel(ax, true_W[kept], corrected_W[kept], identity=True)

    def value(name: str) -> str:
        number = metrics[name].value
        return "n/a" if number is None else f"{number:.4f}"

    lines = [
        f"R² = {value('W_corrected_R2')} (fit), {value('W_corrected_R2_identity')} (identity)",
        f"slope = {value('W_corrected_slope')}",
        f"edges shown: {kept.sum():,} of {true_W.size:,}",
        f"left out: {metrics['W_corrected_outlier_edges'].value:,} with |W* − W| > {W_OUTLIER_THRESHOLD:g}",
        f"scored with upstream's fill: {metrics['W_corrected_undefined_edges'].value:,} undefined W*",
        f"identifiable edges only: R² = {value('W_corrected_R2_identifiable')}",
    ]
    _stats_text(ax, lines)
    ax.set_xlabel("true W")
    ax.set_ylabel("corrected W* (upstream rules)")
    ax.set_title(f"{title}: gauge-corrected weights")
    fig.tight_layout()
    return fig
