"""Figures of replicate runs: every metric against σ (the noise sweep) and against the stimulus.

They receive the spreads computed by :mod:`flygnn.analysis.replicates` and the published
values, never files. Every run is drawn as a dot, the spread as a bar (min–max for fewer
than five runs, mean ± 2 sd from five on), the published value as a black star.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from flygnn.analysis.replicates import Spread
from flygnn.figures.style import subplots, typeset_symbols

PUBLISHED_STYLE = {"marker": "*", "color": "black", "markersize": 9, "linestyle": "none", "zorder": 5}
# where σ = 0 sits on the logarithmic σ axis: this factor below the smallest positive σ
ZERO_OFFSET = 10**0.8
# one metric's panel (inches); three to a row, a row printed at the text width takes ~1.7 in
PANEL_SIZE = (3.0, 2.0)


@dataclass(frozen=True)
class MetricPoints:
    """One metric's runs at one σ (or one stimulus): every run's value and their spread; ``keys``
    (optional, one per value) pair runs across stimuli: the same key is the same seeds."""

    values: Sequence[float]
    spread: Spread
    keys: Sequence[str] = ()


def zero_position(sigmas: Sequence[float]) -> float:
    """The x at which σ = 0 is drawn on a log axis (apart from the positive σ, marked by a break)."""
    positive = [s for s in sigmas if s > 0]
    return (min(positive) if positive else 1.0) / ZERO_OFFSET


def _draw_spread(ax, x: float, points: MetricPoints, color, jitter: float = 0.0) -> None:
    values = np.asarray([v for v in points.values if math.isfinite(v)], float)
    if len(values):
        offsets = np.linspace(-jitter, jitter, len(values)) if len(values) > 1 else np.zeros(1)
        ax.plot(x * (1 + offsets) if jitter else np.full(len(values), x), values, "o", ms=3.5, color=color, alpha=0.55)
    s = points.spread
    if s.n:
        ax.errorbar(
            [x], [s.mean], yerr=[[s.mean - s.low], [s.high - s.mean]], fmt="_", ms=12, color=color, capsize=3, lw=1.2
        )


def plot_sigma_sweep(
    metrics: Sequence[tuple[str, str]],
    points: Mapping[float, Mapping[str, MetricPoints]],
    published: Mapping[str, Mapping[float, float]],
    color="tab:blue",
) -> Figure:
    """One panel per metric (``metrics``: (name, axis label)), x = σ on a log axis with σ = 0 drawn apart.

    points: σ → metric → the runs at that σ; published: metric → σ → the study's value.
    """
    sigmas = sorted(points)
    # the axis spans the runs and the published points: a sweep that has reached only some σ
    # still shows the study's values beside it
    shown = sorted(set(sigmas) | {s for name, _ in metrics for s in published.get(name, {})})
    x0 = zero_position(shown)
    n = len(metrics)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = subplots(
        nrows, ncols, figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows), layout="constrained", squeeze=False
    )
    for ax, (name, label) in zip(axes.flat, metrics, strict=False):
        for sigma in sigmas:
            if name in points[sigma]:
                _draw_spread(ax, sigma if sigma > 0 else x0, points[sigma][name], color, jitter=0.06)
        marks = sorted(published.get(name, {}).items())
        if marks:
            ax.plot([s if s > 0 else x0 for s, _ in marks], [v for _, v in marks], **PUBLISHED_STYLE)
        ax.set_xscale("log")
        ticks = [x0] + [s for s in shown if s > 0]
        ax.set_xticks(ticks, ["0"] + [f"{s:g}" for s in shown if s > 0], rotation=60 if len(ticks) > 4 else 0)
        ax.minorticks_off()
        ax.set_xlim(x0 / 1.8, max(ticks) * 1.8)
        if any(s > 0 for s in shown):
            # a break between σ = 0 and the positive σ: the log axis has no 0
            ax.axvline(x0 * ZERO_OFFSET**0.5, color="0.6", lw=0.8, ls=(0, (2, 2)))
        ax.set_title(typeset_symbols(label))
        ax.set_xlabel("σ")
    handles = [
        axes.flat[0].plot([], [], "o", ms=3.5, color=color, alpha=0.55)[0],
        axes.flat[0].errorbar([], [], yerr=[], fmt="_", color=color, capsize=3)[0],
        axes.flat[0].plot([], [], **PUBLISHED_STYLE)[0],
    ]
    _legend(fig, list(axes.flat)[n:], handles, ["one run", "range of the runs (tick: mean)", "published"])
    return fig


def _legend(fig: Figure, spare: Sequence[Any], handles: Sequence[Any], labels: Sequence[str]) -> None:
    """The legend in the first panel the metrics leave empty (the grid's last row), else in a row
    below the panels; the other spare panels are hidden. A legend in the empty slot costs the
    printed page no height."""
    for ax in spare:
        ax.set_visible(False)
    if spare:
        spare[0].set_visible(True)
        spare[0].axis("off")
        spare[0].legend(handles, labels, loc="center", frameon=False)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncol=len(handles))


def plot_stimulus_ablation(
    metrics: Sequence[tuple[str, str]],
    points: Mapping[float, Mapping[str, Mapping[str, MetricPoints]]],
    published: Mapping[str, Mapping[float, float]],
    colors: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per metric; per σ (groups along x) one column per stimulus, a thin grey line
    joining the runs with the same seeds (:attr:`MetricPoints.keys`) on two stimuli.

    points: σ → stimulus → metric → runs.
    """
    sigmas = sorted(points)
    # the default stimulus first, the alternatives after it
    stimuli = sorted(
        {stimulus for by_stimulus in points.values() for stimulus in by_stimulus}, key=lambda s: (s != "natural", s)
    )
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    colors = dict(colors or {s: palette[k % len(palette)] for k, s in enumerate(stimuli)})
    n = len(metrics)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = subplots(
        nrows, ncols, figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows), layout="constrained", squeeze=False
    )
    width = 0.7 / max(len(stimuli), 1)
    for ax, (name, label) in zip(axes.flat, metrics, strict=False):
        for g, sigma in enumerate(sigmas):
            placed: dict[str, list[tuple[float, float]]] = {}
            for k, stimulus in enumerate(stimuli):
                runs = points[sigma].get(stimulus, {}).get(name)
                if runs is not None:
                    x = g + (k - (len(stimuli) - 1) / 2) * width
                    _draw_spread(ax, x, runs, colors[stimulus])
                    for key, value in zip(runs.keys, runs.values, strict=False):
                        if math.isfinite(value):
                            placed.setdefault(key, []).append((x, value))
            for pair in placed.values():
                if len(pair) > 1:
                    ax.plot(*zip(*pair, strict=True), "-", color="0.6", lw=0.7, zorder=1)
            mark = published.get(name, {}).get(sigma)
            if mark is not None:
                ax.plot([g], [mark], **PUBLISHED_STYLE)
        ax.set_xticks(range(len(sigmas)), [f"σ = {s:g}" for s in sigmas])
        ax.set_xlim(-0.6, len(sigmas) - 0.4)
        ax.set_title(typeset_symbols(label))
    handles = [axes.flat[0].plot([], [], "o", color=colors[s])[0] for s in stimuli]
    handles.append(axes.flat[0].plot([], [], "-", color="0.6", lw=0.7)[0])
    handles.append(axes.flat[0].plot([], [], **PUBLISHED_STYLE)[0])
    _legend(fig, list(axes.flat)[n:], handles, [*stimuli, "same seeds", "published"])
    return fig
