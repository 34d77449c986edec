"""Figures of the book drawn across conditions: recovery during training and metrics against σ.

They receive numbers (read from the bundles' training histories, the metrics files and
``data/published.yaml`` by :mod:`flygnn.report.book_figures`) and never read files.
One colour per condition throughout; the published value is the same colour, dashed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from flygnn.figures.style import subplots, typeset_symbols
from flygnn.figures.training import fit_iteration_ticks, label_iterations, mark_rate_changes


@dataclass(frozen=True)
class RecoverySeries:
    """One condition's recovery scores during training (one entry per scored row).

    iteration: (n,) iterations; wall_time_s: (n,) training seconds at those rows;
    values: metric name → (n,) score (NaN where not scored); rate_changes: ``(iteration,
    factor)`` where a training leg changed the learning-rate factor.
    """

    label: str
    iteration: np.ndarray
    wall_time_s: np.ndarray
    values: Mapping[str, np.ndarray] = field(default_factory=dict)
    rate_changes: Sequence[tuple[float, float]] = ()


def condition_colors(n: int) -> list:
    """One colour per condition, in σ order (dark for low σ, light for high)."""
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def _time_axis(seconds: float) -> tuple[float, str]:
    if seconds >= 2 * 3600:
        return 3600.0, "training wall time (h)"
    if seconds >= 120:
        return 60.0, "training wall time (min)"
    return 1.0, "training wall time (s)"


R2_TICKS = (0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999)
R2_LINEAR_WITHIN = (0.05, 0.95)  # an R² row with every value (and published line) inside stays linear
_ODDS_FROM = 0.05  # below this R² (down to 0 and negative values) the log-odds scale continues linearly
_ODDS_EDGE = math.log10(_ODDS_FROM / (1.0 - _ODDS_FROM))  # the scale's value at the joint
_ODDS_SLOPE = 1.0 / (_ODDS_FROM * (1.0 - _ODDS_FROM) * math.log(10.0))  # its derivative there


def _log_odds(r2):
    """R² → log10(R² / (1 − R²)): 0.1 → −0.95, 0.5 → 0, 0.9 → 0.95, 0.99 → 2, 0.999 → 3, …

    Spreads both ends: 0.983 and 0.989 (σ = 0.05) stay apart, and so do 0.045 and 0.088
    (σ = 0's V_rest). Below 0.05 it goes on as a straight line with the same slope, so 0 and
    negative R² (a fit worse than the mean) have a place on the axis without stretching it
    (log-odds itself runs off to −∞ at 0).
    """
    r = np.clip(np.asarray(r2, dtype=float), None, 1.0 - 1e-12)
    inside = np.log10(np.clip(r, _ODDS_FROM, None) / (1.0 - np.clip(r, _ODDS_FROM, None)))
    return np.where(r >= _ODDS_FROM, inside, _ODDS_EDGE + _ODDS_SLOPE * (r - _ODDS_FROM))


def _from_log_odds(y):
    y = np.asarray(y, dtype=float)
    odds = 10.0 ** np.clip(y, _ODDS_EDGE, 300.0)
    return np.where(y >= _ODDS_EDGE, odds / (1.0 + odds), _ODDS_FROM + (y - _ODDS_EDGE) / _ODDS_SLOPE)


def use_r2_scale(ax) -> None:
    """Put an R² axis on the log-odds scale (:func:`_log_odds`), labelled in R² (0.1, 0.5, 0.9, 0.99, …)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_yscale("function", functions=(_log_odds, _from_log_odds))
    low, high = ax.get_ylim()
    ticks = [t for t in R2_TICKS if low <= t <= high] or [low, high]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def recovery_curves_figure(
    series: Sequence[RecoverySeries | None],
    labels: Sequence[str],
    metrics: Mapping[str, str],
    published: Mapping[str, Sequence[float | None]],
) -> Figure:
    """Rows: the metrics (name → axis label); left column against iterations, right against wall time.

    Rows of an R² (name ending ``_R2``) with a value or published line outside
    :data:`R2_LINEAR_WITHIN` use the log-odds scale (:func:`use_r2_scale`), so 0.983 and 0.989
    stay apart next to a σ = 0 curve at 0.45, and σ = 0's 0.045 against its published 0.088
    is not squashed onto the axis; other rows are linear.
    ``series`` and ``labels``: one entry per condition (``None``: no scored history; the
    condition is named in the figure's note); ``published``: metric → value per condition
    (None: not published), drawn as a dashed line in the condition's colour.
    """
    colors = condition_colors(len(labels))
    rows = len(metrics)
    fig, axes = subplots(rows, 2, figsize=(8.6, 2.0 * rows + 0.9), squeeze=False, sharex="col")
    longest = max(
        (float(np.nanmax(s.wall_time_s)) for s in series if s is not None and s.wall_time_s.size), default=0.0
    )
    unit, time_label = _time_axis(longest)
    for row, (metric, axis_label) in enumerate(metrics.items()):
        for column, ax in enumerate(axes[row]):
            for s, color, reference in zip(series, colors, published.get(metric, [None] * len(labels)), strict=False):
                if reference is not None and math.isfinite(reference):
                    ax.axhline(reference, color=color, linestyle="--", linewidth=1.0, alpha=0.9)
                if s is None:
                    continue
                x = s.iteration if column == 0 else s.wall_time_s / unit
                y = np.asarray(s.values.get(metric, np.full(x.shape, np.nan)), dtype=float)
                finite = np.isfinite(y)
                ax.plot(x[finite], y[finite], color=color, marker="o", markersize=2.5, linewidth=1.3)
            if column == 0:
                ax.set_ylabel(typeset_symbols(axis_label))
            ax.grid(True, linewidth=0.3, alpha=0.5)
        if metric.endswith("_R2"):
            _r2_limits(axes[row])
    lowered = False
    for s, color in zip(series, colors, strict=False):  # after the limits: _r2_limits reads every line's values
        if s is None or not s.rate_changes:
            continue
        lowered = True
        at = np.array([iteration for iteration, _ in s.rate_changes], dtype=float)
        factors = [factor for _, factor in s.rate_changes]
        finite = np.isfinite(s.wall_time_s)
        times = np.interp(at, s.iteration[finite], s.wall_time_s[finite] / unit) if finite.any() else at * np.nan
        for row_axes in axes:
            mark_rate_changes(row_axes[0], list(zip(at, factors, strict=False)), color=color)
            mark_rate_changes(
                row_axes[1], [(t, f) for t, f in zip(times, factors, strict=False) if np.isfinite(t)], color=color
            )
    axes[-1][0].set_xlabel("training iteration")
    axes[-1][1].set_xlabel(time_label)
    iterations_axis = axes[-1][0]  # shared by the column: one formatter and locator serve every row
    label_iterations(iterations_axis)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker="o", markersize=3, linewidth=1.3) for c in colors]
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1.0))
    names = [*labels, "published (dashed, the condition's colour)"]
    if lowered:
        handles.append(Line2D([], [], color="black", linestyle=":", linewidth=1.0))
        names.append("learning-rate change (dotted)")
    fig.legend(handles, names, loc="upper center", ncol=min(len(names), 4), frameon=False, bbox_to_anchor=(0.5, 1.0))
    missing = [label for label, s in zip(labels, series, strict=False) if s is None]
    if missing:
        note = "no recovery scores during training: " + ", ".join(missing)
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=8, color="dimgray")
    fig.tight_layout(rect=(0, 0.03 if missing else 0, 1, 1 - 0.45 / (2.0 * rows + 0.9)))
    fit_iteration_ticks(iterations_axis)  # after the layout: the widths are final
    return fig


def _r2_limits(row) -> None:
    """Both panels of an R² row on the log-odds scale, with the same limits: from a whole
    decade of odds below the lowest value drawn up to a quarter decade or more above the highest."""
    values = np.concatenate(
        [np.asarray(line.get_ydata(), dtype=float) for ax in row for line in ax.get_lines()] or [np.zeros(0)]
    )
    values = values[np.isfinite(values) & (values < 1.0)]
    inside_low, inside_high = R2_LINEAR_WITHIN
    if not values.size or (values.min() >= inside_low and values.max() <= inside_high):
        return  # nothing close to 0 or 1: the linear axis shows it best
    lowest = float(_log_odds(values.min()))
    # a whole decade of odds below the lowest value, or a quarter decade on the linear part below 0.05
    low = float(_from_log_odds(math.floor(lowest) if values.min() >= _ODDS_FROM else lowest - 0.25))
    high = float(_from_log_odds(max(math.ceil(float(_log_odds(values.max())) + 0.25), 1.0)))
    for ax in row:
        ax.set_ylim(low, high)
        use_r2_scale(ax)


def metrics_vs_sigma_figure(
    labels: Sequence[str],
    metrics: Mapping[str, str],
    ours: Mapping[str, Sequence[float | None]],
    published: Mapping[str, Sequence[float | None]],
) -> Figure:
    """One panel per metric (name → title): ours (filled, solid) and published (open, dashed)
    at each condition, conditions equally spaced in σ order (σ = 0 has no place on a log
    axis). A missing value is a gap marked "n/a"."""
    n = len(metrics)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    fig, axes = subplots(rows, columns, figsize=(2.9 * columns, 2.5 * rows + 0.5), squeeze=False)
    x = np.arange(len(labels), dtype=float)
    for ax, (metric, title) in zip(axes.flat, metrics.items(), strict=False):
        title = typeset_symbols(title)
        mine = np.array([np.nan if v is None else float(v) for v in ours.get(metric, [None] * len(labels))])
        theirs = np.array([np.nan if v is None else float(v) for v in published.get(metric, [None] * len(labels))])
        ax.plot(x, mine, color="tab:blue", marker="o", linewidth=1.5, label="ours")
        ax.plot(
            x,
            theirs,
            color="black",
            marker="s",
            markerfacecolor="white",
            linestyle="--",
            linewidth=1.0,
            label="published",
        )
        values = np.concatenate([mine[np.isfinite(mine)], theirs[np.isfinite(theirs)]])
        low = float(values.min()) if values.size else 0.0
        for position, value in zip(x, mine, strict=False):
            if not np.isfinite(value):
                ax.annotate(
                    "n/a",
                    (position, low),
                    textcoords="offset points",
                    xytext=(0, 4),
                    ha="center",
                    color="tab:blue",
                    fontsize=8,
                )
        ax.set_title(title)
        ax.set_xticks(x, labels)
        ax.set_xlim(-0.4, len(labels) - 0.6)
        ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
        if not values.size:
            ax.text(0.5, 0.5, "no value", transform=ax.transAxes, ha="center", va="center", color="dimgray")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.5 * rows + 0.5)))
    return fig


def message_figure(text: str) -> Figure:
    """A small figure that says why there is nothing to draw (keeps the book's figure and its id)."""
    fig, ax = subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="dimgray")
    return fig
