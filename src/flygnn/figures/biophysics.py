"""Recovered τ and V_rest against the truth, per neuron and per cell type.

Estimates far outside the truth's range (a near-zero slope s_f gives a huge τ̂) would
squash the plot; instead of fixed limits that hide them, the view holds every
estimate within one truth-range of the truth, and every point beyond it is drawn on
the border as a triangle and counted. The scores written on the panels are the
analysis' (:func:`flygnn.analysis.biophysics_metrics`), never recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from flygnn.analysis.biophysics import per_type_median
from flygnn.analysis.metrics import Metric
from flygnn.figures.style import add_type_legend, subplots, type_colors
from flygnn.metric_names import lookup


def _view(true: np.ndarray, estimate: np.ndarray) -> tuple[float, float]:
    """All estimates, unless some lie more than one truth-range beyond the truth: those are pinned."""
    true_low, true_high = float(np.min(true)), float(np.max(true))
    span = true_high - true_low if true_high > true_low else max(abs(true_high), 0.1)
    finite = estimate[np.isfinite(estimate)]
    low, high = true_low, true_high
    if finite.size:
        low = min(low, max(float(finite.min()), true_low - span))
        high = max(high, min(float(finite.max()), true_high + span))
    pad = 0.04 * (high - low)
    return low - pad, high + pad


def _panel(ax, true, estimate, colors, low, high, size, error=None) -> tuple[int, int]:
    """Scatter with points beyond [low, high] pinned to the border; returns (shown, pinned)."""
    finite = np.isfinite(estimate)
    inside = finite & (estimate >= low) & (estimate <= high)
    ax.scatter(true[inside], estimate[inside], c=colors[inside], s=size, linewidths=0, alpha=0.8, rasterized=True)
    if error is not None:
        for k in np.flatnonzero(inside):
            ax.plot([true[k]] * 2, error[k], color=colors[k], lw=0.6, alpha=0.8)
    above, below = finite & (estimate > high), finite & (estimate < low)
    ax.scatter(
        true[above], np.full(above.sum(), high), marker="^", c=colors[above], s=size * 3, linewidths=0, clip_on=False
    )
    ax.scatter(
        true[below], np.full(below.sum(), low), marker="v", c=colors[below], s=size * 3, linewidths=0, clip_on=False
    )
    ax.axline((low, low), slope=1.0, color="0.3", ls="--", lw=0.8)  # identity; does not move the limits
    ax.set_ylim(low, high)
    x_low, x_high = float(np.min(true)), float(np.max(true))
    pad = 0.05 * (x_high - x_low) if x_high > x_low else 0.1
    ax.set_xlim(x_low - pad, x_high + pad)
    return int(inside.sum()), int((above | below).sum())


def parameter_figure(
    true: np.ndarray,
    estimate: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    title: str,
    symbol: str,
    unit: str,
    metrics: Mapping[str, Metric],
    name: str,
    extra: tuple[str, np.ndarray, str] | None = None,
) -> Figure:
    """True against estimated parameter (N,), per neuron and per type (median ± interquartile range).

    ``metrics``: the result of :func:`flygnn.analysis.biophysics_metrics` (with types);
    the panels show ``<name>_R2`` and ``<name>_slope`` (upstream's rules, per neuron) and
    ``<name>_R2_per_type``. The points are the estimates as they are (unclipped).
    ``extra``: (title, (N,) estimate, metric name) shown per type in a third panel with
    ``<metric name>_R2_per_type`` (the operating-point V_rest).
    """
    true = np.asarray(true, float)
    estimate = np.asarray(estimate, float)
    n_types = len(type_names)
    palette = np.array(type_colors(n_types))
    unit_text = f" ({unit})" if unit else ""
    n_panels = 3 if extra is not None else 2
    fig, axes = subplots(1, n_panels, figsize=(4.0 * n_panels, 4.0))

    low, high = _view(true, estimate)
    shown, pinned = _panel(axes[0], true, estimate, palette[neuron_type], low, high, size=3)
    nan = int((~np.isfinite(estimate)).sum())
    lines = [
        f"R² = {_value(metrics, f'{name}_R2')} (upstream's rules)",
        f"slope = {_value(metrics, f'{name}_slope')}",
        f"neurons: {shown:,} shown",
    ]
    if pinned:
        lines.append(f"{pinned:,} beyond the view (▲▼)")
    if nan:
        lines.append(f"{nan:,} undefined (NaN)")
    _text(axes[0], lines)
    axes[0].set_title("per neuron")
    axes[0].set_xlabel(f"true {symbol}{unit_text}")
    axes[0].set_ylabel(f"recovered {symbol}{unit_text}")

    panels = [("per type", estimate, name)] + ([extra] if extra else [])
    for ax, (panel_title, values, metric) in zip(axes[1:], panels, strict=False):
        _type_panel(
            ax, true, values, neuron_type, n_types, palette, symbol, unit_text, _value(metrics, f"{metric}_R2_per_type")
        )
        ax.set_title(panel_title if panel_title == "per type" else f"{panel_title}, per type")
    fig.suptitle(f"{title}: {symbol}")
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=11)
    return fig


def _value(metrics: Mapping[str, Metric], name: str) -> str:
    lookup(name)  # the names are composed ("tau" + "_R2"): a wrong one is named with the registered ones close to it
    number = metrics[name].value
    return "n/a" if number is None else f"{number:.4f}"


def _type_panel(ax, true, values, neuron_type, n_types, palette, symbol, unit_text, r2: str) -> None:
    true_type = per_type_median(true, neuron_type, n_types)
    median = per_type_median(values, neuron_type, n_types)
    quartiles = np.full((n_types, 2), np.nan)
    for t in range(n_types):
        members = values[(neuron_type == t) & np.isfinite(values)]
        if members.size:
            quartiles[t] = np.percentile(members, [25, 75])
    low, high = _view(true_type, median)
    shown, pinned = _panel(ax, true_type, median, palette, low, high, size=14, error=quartiles)
    lines = [f"R² = {r2}", f"types: {shown} shown"]
    if pinned:
        lines.append(f"{pinned} beyond the view (▲▼)")
    _text(ax, lines)
    ax.set_xlabel(f"true {symbol}{unit_text}")
    ax.set_ylabel(f"recovered {symbol}, median of type{unit_text}")


def _text(ax, lines: list[str]) -> None:
    ax.text(
        0.03,
        0.97,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        fontsize=7.5,
        bbox={"fc": "white", "ec": "0.8", "alpha": 0.9},
    )
