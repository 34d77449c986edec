"""Spectra: of W and W* beside the permutation null (two figures of three panels), and of the
linearised dynamics (two panels).

W, W* and the null (W's weights shuffled on the same graph) are dimensionless; the
eigenvalues of the Jacobian J are rates in 1/s. The numbers written on the figures are
the analysis' (:func:`flygnn.analysis.spectral_metrics`, :func:`flygnn.analysis.dynamics_metrics`).

Each figure is a row of panels about 7 in wide, its smallest text 6.5 pt: the book's PDF
stacks the conditions one per row at most the text width, so the text prints at about
6 pt or more. The limits are the same for every condition (the σ-grid compares them):
from the true W's spectrum, the true τ, or fixed ranges (ranks, |cos| in [0, 1]); a
learned value beyond is drawn at the edge as a triangle and counted.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullLocator

from flygnn.figures.limits import BEYOND_MARKERS, nice_bounds, padded, pin_beyond, share_axes
from flygnn.figures.style import subplots
from flygnn.metric_names import (
    JACOBIAN_RIGHTMOST_ERROR,
    JACOBIAN_SPECTRAL_ABSCISSA_LEARNED,
    JACOBIAN_SPECTRAL_ABSCISSA_TRUE,
    SPECTRAL_SINGULAR_VALUES_ERROR,
    SPECTRAL_SINGULAR_VALUES_ERROR_NULL,
    SPECTRAL_SINGULAR_VALUES_R2,
    SPECTRAL_SINGULAR_VALUES_R2_NULL,
)

TRUE_COLOR, CORRECTED_COLOR, NULL_COLOR = "#1f3b73", "#d62728", "0.6"


def _padded(values: np.ndarray, fraction: float = 0.05) -> tuple[float, float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = fraction * (high - low) if high > low else max(abs(high), 1.0) * 0.05
    return low - pad, high + pad


def _value(metrics: dict, name: str, spec: str = ".4f") -> str:
    """A metric's value as text; "n/a" where the analysis found it undefined."""
    number = metrics[name].value
    return "n/a" if number is None else format(number, spec)


def readable_log_ticks(axis, values: np.ndarray) -> None:
    """Labelled ticks for a log axis over ``values``: within one decade, 4–6 round numbers (matplotlib
    would label only the powers of ten and leave the rest unlabelled); over more, 1-2-5 per decade."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return
    low, high = float(values.min()), float(values.max())
    if high / low < 10:
        ticks = [t for t in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high) if low <= t <= high]
        if len(ticks) < 2:
            ticks = [low, high]
        axis.set_major_locator(FixedLocator(ticks))
    else:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())


FIGSIZE = (7.4, 2.6)  # a row of three panels, printed at most 5.5 in wide: 9 pt text prints at 6.7 pt
SMALL = 6.5  # the smallest text (legends, notes)


def _beyond_note(ax, count: int, where: str = "lower left") -> None:
    if count:
        x, ha = (0.02, "left") if "left" in where else (0.98, "right")
        y, va = (0.02, "bottom") if "lower" in where else (0.98, "top")
        ax.text(x, y, f"{count:,} beyond, at the edge", transform=ax.transAxes, ha=ha, va=va, fontsize=SMALL)


def _clipped_line(ax, x, y, ylim, **style) -> int:
    """A line clipped to ``ylim`` with triangles on the edge where it is beyond; returns the points beyond."""
    y = np.asarray(y, dtype=float)
    low, high = ylim
    ax.plot(x, np.clip(y, low, high), **style)
    count = 0
    for side, mask, edge in (("above", y > high, high), ("below", y < low, low)):
        if mask.any():
            ax.scatter(
                np.asarray(x)[mask],
                np.full(mask.sum(), edge),
                marker=BEYOND_MARKERS[side],
                color=style.get("color"),
                s=10,
                linewidths=0,
                clip_on=False,
                zorder=4,
            )
            count += int(mask.sum())
    return count


def eigenvalue_limits(true: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(Re limits, Im limits) of a complex-plane panel: the true eigenvalues' extent, widened by a
    quarter of its span (room for learned ones a little off), Im symmetric about 0 (eigenvalues of a real
    matrix come in conjugate pairs)."""
    true = np.asarray(true)
    imag = float(np.max(np.abs(true.imag))) if true.size else 1.0
    # rounded out to a coarse grid: the "true" spectrum is W's on the edges where W* is defined,
    # which differ a little between noise levels, and the σ-grid's panels must still agree
    real = nice_bounds(*padded(float(true.real.min()), float(true.real.max()), 0.25))
    return real, nice_bounds(*padded(-imag, imag, 0.25))


def spectral_figure(spectral, metrics: dict) -> Figure:
    """(a) eigenvalues in the complex plane, (b) singular values matched by rank, (c) singular spectra
    on a log scale; (b) and (c) beside the permutation null. Limits from W's spectrum alone.

    ``spectral`` is a fitted :class:`flygnn.analysis.SpectralAnalysis`; ``metrics`` the result
    of :func:`flygnn.analysis.spectral_metrics` for it.
    """
    fig, axes = subplots(1, 3, figsize=FIGSIZE)
    k_e, k_s = spectral.eigenvalues_true_.size, spectral.singular_values_true_.size
    null = np.atleast_2d(spectral.null_singular_values_)
    shuffles = null.shape[0]
    null_label = "W shuffled on its graph"

    ax = axes[0]
    xlim, ylim = eigenvalue_limits(spectral.eigenvalues_true_)
    pinned = 0
    for values, color, name in (
        (spectral.eigenvalues_true_, TRUE_COLOR, "W"),
        (spectral.eigenvalues_corrected_, CORRECTED_COLOR, "W*"),
    ):
        outside = pin_beyond(ax, values.real, values.imag, xlim, ylim, s=12, color=color, linewidths=0)
        ax.scatter(values.real[~outside], values.imag[~outside], s=5, color=color, alpha=0.7, linewidths=0, label=name)
        pinned += int(outside.sum())
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    _beyond_note(ax, pinned)
    ax.set_xlabel("Re λ (dimensionless)")
    ax.set_ylabel("Im λ (dimensionless)")
    ax.set_title(f"(a) {k_e} largest |λ|")
    ax.legend(frameon=False, loc="upper right", fontsize=SMALL, handletextpad=0.1)
    share_axes(ax, "eigenvalues")

    ax = axes[1]
    s_true, s_corr = spectral.singular_values_true_, spectral.singular_values_corrected_
    # W's own (the identity is the diagonal), on the coarse grid shared by every noise level
    limits = nice_bounds(*padded(float(s_true.min()), float(s_true.max()), 0.15))
    pinned = 0
    for p in range(shuffles):
        outside = pin_beyond(ax, s_true, null[p], limits, limits, s=10, color=NULL_COLOR, linewidths=0)
        ax.scatter(
            s_true[~outside],
            null[p][~outside],
            s=5,
            color=NULL_COLOR,
            linewidths=0,
            label=null_label if p == 0 else None,
        )
        pinned += int(outside.sum())
    outside = pin_beyond(ax, s_true, s_corr, limits, limits, s=12, color=CORRECTED_COLOR, linewidths=0)
    ax.scatter(s_true[~outside], s_corr[~outside], s=6, color=CORRECTED_COLOR, linewidths=0, label="W*")
    pinned += int(outside.sum())
    ax.plot(limits, limits, color="0.3", ls="--", lw=0.8)
    lines = [
        f"W*: R² = {_value(metrics, SPECTRAL_SINGULAR_VALUES_R2)}",
        f"  mean |Δs|/s = {_value(metrics, SPECTRAL_SINGULAR_VALUES_ERROR, '.3f')}",
    ]
    if shuffles:
        lines += [
            f"null: R² = {_value(metrics, SPECTRAL_SINGULAR_VALUES_R2_NULL)}",
            f"  mean |Δs|/s = {_value(metrics, SPECTRAL_SINGULAR_VALUES_ERROR_NULL, '.3f')}",
        ]
    if pinned:
        lines.append(f"{pinned:,} beyond, at the edge")
    ax.text(0.03, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=SMALL)
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    ax.set_xlabel("singular value of W (dimensionless)")
    ax.set_ylabel("same rank (dimensionless)")
    ax.set_title(f"(b) top-{k_s} singular values")
    ax.legend(frameon=False, loc="lower right", fontsize=SMALL, handletextpad=0.1)
    share_axes(ax, "singular-values")

    ax = axes[2]
    ranks = np.arange(1, k_s + 1)
    positive = s_true[s_true > 0]
    log_limits = nice_bounds(float(positive.min()) / 2, float(positive.max()) * 2) if positive.size else (0.1, 10.0)
    pinned = 0
    if shuffles:
        ax.fill_between(
            ranks,
            np.clip(null.min(axis=0), *log_limits),
            np.clip(null.max(axis=0), *log_limits),
            color=NULL_COLOR,
            alpha=0.35,
            lw=0,
            label=f"null ({shuffles}×)",
        )
        pinned += _clipped_line(ax, ranks, null.mean(axis=0), log_limits, color=NULL_COLOR, lw=0.9)
    ax.plot(ranks, s_true, color=TRUE_COLOR, lw=1.2, label="W")
    pinned += _clipped_line(ax, ranks, s_corr, log_limits, color=CORRECTED_COLOR, lw=1.2, ls="--", label="W*")
    ax.set_yscale("log")
    readable_log_ticks(ax.yaxis, np.asarray(log_limits))
    ax.set_ylim(*log_limits)
    ax.set_xlim(0.5, k_s + 0.5)
    _beyond_note(ax, pinned)
    ax.set_xlabel("rank")
    ax.set_ylabel("singular value (dimensionless)")
    ax.set_title("(c) singular spectra")
    ax.legend(frameon=False, fontsize=SMALL, loc="best", handletextpad=0.3)
    share_axes(ax, "singular-spectra")

    if spectral.dropped_edges_:
        fig.suptitle(f"{spectral.dropped_edges_:,} edges with undefined W* left out of every matrix", fontsize=8)
    fig.tight_layout(w_pad=1.2)
    return fig


def alignment_figure(spectral) -> Figure:
    """(d, e) |cos| of the top left / right singular vectors of W and W*, (f) the best alignment per
    vector against the random baseline and the permutation null. Fixed limits: ranks and |cos| in [0, 1].

    ``spectral`` is a fitted :class:`flygnn.analysis.SpectralAnalysis`.
    """
    fig, axes = subplots(1, 3, figsize=FIGSIZE)
    k_s = spectral.singular_values_true_.size
    shuffles = np.atleast_2d(spectral.null_singular_values_).shape[0]
    ranks = np.arange(1, k_s + 1)
    for ax, matrix, label, name in (
        (axes[0], spectral.left_alignment_, "(d) left singular vectors", "left"),
        (axes[1], spectral.right_alignment_, "(e) right singular vectors", "right"),
    ):
        image = ax.imshow(
            matrix,
            vmin=0,
            vmax=1,
            cmap="viridis",
            origin="upper",
            interpolation="nearest",
            extent=(0.5, k_s + 0.5, k_s + 0.5, 0.5),
        )
        ax.set_xlabel("singular vector of W* (rank)")
        ax.set_ylabel("singular vector of W (rank)")
        ax.set_title(label)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="|cos| (dimensionless)")
        share_axes(ax, name)

    ax = axes[2]
    if shuffles:
        ax.plot(ranks, spectral.null_best_left_alignment_.mean(axis=0), color=NULL_COLOR, lw=1.0, label="null, left")
        ax.plot(
            ranks,
            spectral.null_best_right_alignment_.mean(axis=0),
            color=NULL_COLOR,
            lw=0.9,
            ls="--",
            label="null, right",
        )
    ax.plot(ranks, spectral.best_left_alignment_, color=TRUE_COLOR, lw=1.0, marker=".", ms=3, label="W*, left")
    # left and right are often close: dashed and on top so both stay visible
    ax.plot(
        ranks,
        spectral.best_right_alignment_,
        color=CORRECTED_COLOR,
        lw=0.9,
        ls="--",
        marker="x",
        ms=2.5,
        label="W*, right",
    )
    ax.axhline(spectral.random_best_, color="0.3", ls="--", lw=0.8, label=f"random, best ({spectral.random_best_:.3f})")
    ax.axhline(spectral.random_mean_, color="0.3", ls=":", lw=0.8, label=f"random, mean ({spectral.random_mean_:.3f})")
    ax.set_ylim(0, 1.02)  # |cos| lies in [0, 1]
    ax.set_xlim(0.5, k_s + 0.5)
    ax.set_xlabel("rank of the singular vector of W")
    ax.set_ylabel("best |cos| (dimensionless)")
    ax.set_title("(f) best alignment per vector")
    ax.legend(frameon=False, fontsize=SMALL, loc="best", handlelength=1.5, labelspacing=0.2)
    share_axes(ax, "best-alignment")
    fig.tight_layout(w_pad=1.2)
    return fig


def dynamics_limits(true_tau: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(Re limits, Im limits) of the Jacobian's eigenvalues (1/s), from the true τ alone.

    The slowest uncoupled rate −1/τ_max is where the rightmost eigenvalues sit when the coupling
    leaves them; Re spans twice it down to the left and a quarter of it to the right of 0 (the
    stability boundary, so an unstable mode shows), Im ±1/τ_max."""
    rate = 1.0 / float(np.nanmax(true_tau))
    return (-2.0 * rate, 0.25 * rate), (-rate, rate)


def dynamics_figure(dynamics, metrics: dict, true_tau: np.ndarray) -> Figure:
    """(a) the rightmost eigenvalues of the true and the learned Jacobian in the complex plane,
    (b) their real parts by rank. ``dynamics``: a fitted :class:`flygnn.analysis.LinearisedDynamics`;
    ``metrics``: :func:`flygnn.analysis.dynamics_metrics` of it; ``true_tau``: (N,) the true τ (s),
    which sets the limits (:func:`dynamics_limits`)."""
    true, learned = dynamics.eigenvalues_true_, dynamics.eigenvalues_learned_
    # low enough that its text prints legibly in the appendix's shorter σ-grid (sections.SPECTRAL_DYNAMICS)
    fig, axes = subplots(1, 2, figsize=(6.6, 2.2))
    re_limits, im_limits = dynamics_limits(true_tau)

    ax = axes[0]
    pinned = 0
    for values, color, marker, label in (
        (true, TRUE_COLOR, "o", "true: τ, W"),
        (learned, CORRECTED_COLOR, "D", "learned: τ̂, W*"),
    ):
        outside = pin_beyond(ax, values.real, values.imag, re_limits, im_limits, s=14, color=color, linewidths=0)
        ax.scatter(
            values.real[~outside],
            values.imag[~outside],
            s=10,
            color=color,
            alpha=0.75,
            linewidths=0,
            marker=marker,
            label=label,
        )
        pinned += int(outside.sum())
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.6", lw=0.6, ls=":", zorder=0)  # the stability boundary
    ax.set_xlim(*re_limits)
    ax.set_ylim(*im_limits)
    _beyond_note(ax, pinned)
    ax.set_xlabel("Re λ (1/s)")
    ax.set_ylabel("Im λ (1/s)")
    ax.set_title(f"(a) the {true.size} rightmost eigenvalues of J")
    ax.legend(frameon=False, loc="upper left", fontsize=SMALL)
    share_axes(ax, "eigenvalues")

    ax = axes[1]
    ranks = np.arange(1, true.size + 1)
    pinned = _clipped_line(ax, ranks, true.real, re_limits, color=TRUE_COLOR, lw=1.2, label="true")
    pinned += _clipped_line(
        ax,
        np.arange(1, learned.size + 1),
        learned.real,
        re_limits,
        color=CORRECTED_COLOR,
        lw=1.2,
        ls="--",
        label="learned",
    )
    ax.axhline(0, color="0.6", lw=0.6, ls=":", zorder=0)
    ax.set_xlim(0.5, max(true.size, learned.size) + 0.5)
    ax.set_ylim(*re_limits)
    ax.set_xlabel("rank (decreasing real part)")
    ax.set_ylabel("Re λ (1/s)")
    ax.set_title("(b) real parts, slowest first")
    # two entries only, where they cover the fewest points: the numbers go to the figure's title,
    # as a legend title they covered the flat runs of the curves
    ax.legend(frameon=True, framealpha=0.9, edgecolor="0.8", loc="best", fontsize=SMALL)
    share_axes(ax, "real-parts")

    active = int(np.sum(dynamics.active_))
    notes = [f"{active:,} neurons with μ > 0"]
    if dynamics.excluded_neurons_:
        notes.append(f"{dynamics.excluded_neurons_:,} without τ̂ left out")
    if dynamics.dropped_edges_:
        notes.append(f"{dynamics.dropped_edges_:,} edges without W* left out")
    numbers = (
        f"largest Re λ: true {_value(metrics, JACOBIAN_SPECTRAL_ABSCISSA_TRUE, '.3g')} 1/s, "
        f"learned {_value(metrics, JACOBIAN_SPECTRAL_ABSCISSA_LEARNED, '.3g')} 1/s; "
        f"mean |Δ Re λ| / |Re λ| by rank = {_value(metrics, JACOBIAN_RIGHTMOST_ERROR, '.3f')}"
    )
    if pinned:
        numbers += f"; {pinned:,} real parts beyond the axis, drawn at its edge"
    fig.suptitle("J = diag(1/τ)(−I + W·D) at the mean voltage μ: " + ", ".join(notes) + "\n" + numbers, fontsize=8)
    fig.tight_layout()
    return fig
