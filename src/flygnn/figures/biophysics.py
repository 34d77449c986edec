"""Recovered τ and V_rest against the truth, per neuron and per cell type.

Every panel of both figures has the same limits, from the truth alone: the true range on
x and, on y, the true range widened by half its span on each side (τ not below 0, where
upstream's rule clips τ̂). They are the same for every condition, so the σ-grid's panels
compare. An estimate beyond them (a near-zero slope s_f gives a huge τ̂) is drawn at the
edge as a triangle and counted. The per-neuron panel draws the values its R² scores —
upstream's rules, so the neurons whose voltage never varied are there at upstream's fill
value τ̂ = V̂_rest = 1, drawn hollow and counted; they are most of the τ R² shortfall at
σ = 0. The scores written on the panels are the analysis'
(:func:`flygnn.analysis.biophysics_metrics`), never recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from flygnn.analysis.biophysics import per_type_median
from flygnn.analysis.metrics import Metric
from flygnn.figures.limits import padded, pin_beyond, share_axes
from flygnn.figures.style import add_type_legend, subplots, type_colors
from flygnn.metric_names import lookup


def parameter_limits(true: np.ndarray, floor: float | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x low, x high), (y low, y high)) of every panel, from the true values (N,) alone.

    y holds the true range and half its span on either side, not below ``floor`` (τ: 0 s).
    """
    true = np.asarray(true, float)
    low, high = float(np.nanmin(true)), float(np.nanmax(true))
    span = high - low if high > low else max(abs(high), 0.1)
    y_low, y_high = low - span / 2, high + span / 2
    if floor is not None:
        y_low = max(y_low, floor)
    return padded(low, high, 0.05), padded(y_low, y_high, 0.03)


def _panel(ax, true, estimate, colors, limits, size, error=None, filled=None) -> tuple[int, int, int]:
    """Scatter of (true, estimate) within ``limits``, the rest at the edge; ``filled`` (bool) points drawn
    hollow. Returns (inside the axes, beyond the axes and not filled, filled)."""
    (x_low, x_high), (y_low, y_high) = limits
    filled = np.zeros(true.shape, bool) if filled is None else np.asarray(filled, bool)
    outside = pin_beyond(ax, true, estimate, limits[0], limits[1], c=colors, s=size * 3, linewidths=0)
    finite = np.isfinite(estimate) & np.isfinite(true)
    inside = finite & ~outside
    plain, hollow = inside & ~filled, inside & filled
    ax.scatter(true[plain], estimate[plain], c=colors[plain], s=size, linewidths=0, alpha=0.8, rasterized=True)
    if hollow.any():
        ax.scatter(
            true[hollow], estimate[hollow], s=size * 4, facecolors="none", edgecolors=colors[hollow], linewidths=0.6
        )
    if error is not None:
        for k in np.flatnonzero(inside):
            ax.plot([true[k]] * 2, np.clip(error[k], y_low, y_high), color=colors[k], lw=0.6, alpha=0.8)
    # drawn over the pinned triangles of the filled neurons: hollow, so they read as "filled in by the rule"
    pinned_filled = outside & filled
    if pinned_filled.any():
        ax.scatter(
            true[pinned_filled],
            np.clip(estimate[pinned_filled], y_low, y_high),
            marker="^" if np.all(estimate[pinned_filled] > y_high) else "o",
            s=size * 6,
            facecolors="white",
            edgecolors="k",
            linewidths=0.6,
            clip_on=False,
            zorder=5,
        )
    ax.axline((x_low, x_low), slope=1.0, color="0.3", ls="--", lw=0.8)  # identity; does not move the limits
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    return int((inside & ~filled).sum()), int((outside & ~filled).sum()), int((filled & finite).sum())


def parameter_figure(
    true: np.ndarray,
    scored: np.ndarray,
    estimate: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    symbol: str,
    unit: str,
    metrics: Mapping[str, Metric],
    name: str,
    filled: np.ndarray | None = None,
    floor: float | None = None,
    extra: tuple[str, np.ndarray, str] | None = None,
) -> Figure:
    """True against recovered parameter, per neuron and per type (median ± interquartile range).

    ``scored``: (N,) the per-neuron values ``<name>_R2`` and ``<name>_slope`` score (upstream's
    rules: τ̂ clipped to [0, 1] s, 1 where the voltage never varied), drawn in the first panel;
    ``filled``: (N,) bool, the neurons whose value is upstream's fill (drawn hollow, counted).
    ``estimate``: (N,) the values whose type medians ``<name>_R2_per_type`` scores (ours,
    unclipped), drawn per type. ``metrics``: :func:`flygnn.analysis.biophysics_metrics` (with
    types). ``floor``: the lowest y limit (τ: 0 s). ``extra``: (title, (N,) estimate, metric
    name) shown per type in a third panel with ``<metric name>_R2_per_type`` (the operating-point V_rest).
    """
    true = np.asarray(true, float)
    scored = np.asarray(scored, float)
    estimate = np.asarray(estimate, float)
    n_types = len(type_names)
    palette = np.array(type_colors(n_types))
    unit_text = f" ({unit})" if unit else ""
    n_panels = 3 if extra is not None else 2
    fig, axes = subplots(1, n_panels, figsize=(2.7 * n_panels, 2.6))
    limits = parameter_limits(true, floor)

    shown, pinned, n_filled = _panel(axes[0], true, scored, palette[neuron_type], limits, size=3, filled=filled)
    nan = int((~np.isfinite(scored)).sum())
    lines = [
        f"R² = {_value(metrics, f'{name}_R2')} (upstream's rules)",
        f"slope = {_value(metrics, f'{name}_slope')}",
        f"neurons: {shown:,} drawn as they are",
    ]
    if pinned:
        lines.append(f"{pinned:,} beyond, at the edge (▲▼)")
    if n_filled:
        lines.append(f"{n_filled:,} never varied: {symbol} = 1 by rule (○, △)")
    if nan:
        lines.append(f"{nan:,} undefined (NaN)")
    _text(axes[0], lines)
    axes[0].set_title("per neuron")
    axes[0].set_xlabel(f"true {symbol}{unit_text}")
    axes[0].set_ylabel(f"recovered {symbol}{unit_text}")
    share_axes(axes[0], "per-neuron")

    panels = [("per type", estimate, name)] + ([extra] if extra else [])
    for ax, (panel_title, values, metric) in zip(axes[1:], panels, strict=False):
        _type_panel(
            ax,
            true,
            np.asarray(values, float),
            neuron_type,
            n_types,
            palette,
            limits,
            symbol,
            unit_text,
            _value(metrics, f"{metric}_R2_per_type"),
        )
        ax.set_title(panel_title if panel_title == "per type" else f"{panel_title}, per type")
        share_axes(ax, panel_title.replace(" ", "-"))
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=11)
    return fig


def _value(metrics: Mapping[str, Metric], name: str) -> str:
    lookup(name)  # the names are composed ("tau" + "_R2"): a wrong one is named with the registered ones close to it
    number = metrics[name].value
    return "n/a" if number is None else f"{number:.4f}"


def _type_panel(ax, true, values, neuron_type, n_types, palette, limits, symbol, unit_text, r2: str) -> None:
    true_type = per_type_median(true, neuron_type, n_types)
    median = per_type_median(values, neuron_type, n_types)
    quartiles = np.full((n_types, 2), np.nan)
    for t in range(n_types):
        members = values[(neuron_type == t) & np.isfinite(values)]
        if members.size:
            quartiles[t] = np.percentile(members, [25, 75])
    shown, pinned, _ = _panel(ax, true_type, median, palette, limits, size=14, error=quartiles)
    lines = [f"R² = {r2}", f"types: {shown} inside the axes"]
    if pinned:
        lines.append(f"{pinned} beyond, at the edge (▲▼)")
    _text(ax, lines)
    ax.set_xlabel(f"true {symbol}{unit_text}")
    ax.set_ylabel(f"recovered {symbol}, type median{unit_text}")


def _text(ax, lines: list[str]) -> None:
    ax.text(
        0.03,
        0.97,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        fontsize=6.5,
        bbox={"fc": "white", "ec": "0.8", "alpha": 0.9},
    )
