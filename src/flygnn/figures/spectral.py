"""Spectra: of W and W* beside the permutation null (2×3), and of the linearised dynamics (1×2).

W, W* and the null (W's weights shuffled on the same graph) are dimensionless; the
eigenvalues of the Jacobian J are rates in 1/s. The numbers written on the figures are
the analysis' (:func:`flygnn.analysis.spectral_metrics`, :func:`flygnn.analysis.dynamics_metrics`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullLocator

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


def _complex_limits(ax, values: list[np.ndarray]) -> None:
    """Limits of a complex-plane panel from the points drawn (no equal aspect: it would widen one axis)."""
    everything = np.concatenate([np.asarray(v).ravel() for v in values])
    everything = everything[np.isfinite(everything)]
    ax.set_xlim(*_padded(everything.real))
    ax.set_ylim(*_padded(everything.imag))


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


def spectral_figure(spectral, metrics: dict, title: str) -> Figure:
    """(a) eigenvalues in the complex plane, (b) singular values matched by rank, (c) singular
    spectra on a log scale, (d, e) |cos| alignment of left / right singular vectors, (f) best
    alignment per vector against the random baseline; (b), (c) and (f) beside the permutation null.

    ``spectral`` is a fitted :class:`flygnn.analysis.SpectralAnalysis`; ``metrics`` the result
    of :func:`flygnn.analysis.spectral_metrics` for it.
    """
    fig, axes = subplots(2, 3, figsize=(12.6, 7.8))
    k_e, k_s = spectral.eigenvalues_true_.size, spectral.singular_values_true_.size
    null = np.atleast_2d(spectral.null_singular_values_)
    shuffles = null.shape[0]
    null_label = "W shuffled on its graph"

    ax = axes[0, 0]
    for values, color, name in (
        (spectral.eigenvalues_true_, TRUE_COLOR, "W"),
        (spectral.eigenvalues_corrected_, CORRECTED_COLOR, "W*"),
    ):
        ax.scatter(values.real, values.imag, s=9, color=color, alpha=0.7, linewidths=0, label=name)
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    _complex_limits(ax, [spectral.eigenvalues_true_, spectral.eigenvalues_corrected_])
    ax.set_xlabel("Re λ (dimensionless)")
    ax.set_ylabel("Im λ (dimensionless)")
    ax.set_title(f"(a) {k_e} largest-magnitude eigenvalues")
    ax.legend(frameon=False, loc="best", fontsize=7)

    ax = axes[0, 1]
    s_true, s_corr = spectral.singular_values_true_, spectral.singular_values_corrected_
    for p in range(shuffles):
        ax.scatter(s_true, null[p], s=7, color=NULL_COLOR, linewidths=0, label=null_label if p == 0 else None)
    ax.scatter(s_true, s_corr, s=10, color=CORRECTED_COLOR, linewidths=0, label="W*")
    everything = np.concatenate([s_true, s_corr, null.ravel()])
    ax.plot([everything.min(), everything.max()], [everything.min(), everything.max()], color="0.3", ls="--", lw=0.8)
    lines = [
        f"W*: R² = {_value(metrics, SPECTRAL_SINGULAR_VALUES_R2)}, "
        f"mean |Δs|/s = {_value(metrics, SPECTRAL_SINGULAR_VALUES_ERROR, '.3f')}"
    ]
    if shuffles:
        lines.append(
            f"null: R² = {_value(metrics, SPECTRAL_SINGULAR_VALUES_R2_NULL)}, "
            f"mean |Δs|/s = {_value(metrics, SPECTRAL_SINGULAR_VALUES_ERROR_NULL, '.3f')}"
        )
    ax.text(0.03, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=7.5)
    ax.set_xlim(*_padded(s_true))
    ax.set_ylim(*_padded(np.concatenate([s_corr, null.ravel()])))
    ax.set_xlabel("singular value of W (dimensionless)")
    ax.set_ylabel("singular value of the same rank (dimensionless)")
    ax.set_title(f"(b) top-{k_s} singular values by rank")
    ax.legend(frameon=False, loc="lower right", fontsize=7)

    ax = axes[0, 2]
    ranks = np.arange(1, k_s + 1)
    if shuffles:
        ax.fill_between(
            ranks,
            null.min(axis=0),
            null.max(axis=0),
            color=NULL_COLOR,
            alpha=0.35,
            lw=0,
            label=f"{null_label} ({shuffles}×)",
        )
        ax.plot(ranks, null.mean(axis=0), color=NULL_COLOR, lw=0.9)
    ax.plot(ranks, s_true, color=TRUE_COLOR, lw=1.2, label="W")
    ax.plot(ranks, s_corr, color=CORRECTED_COLOR, lw=1.2, ls="--", label="W*")
    ax.set_yscale("log")
    readable_log_ticks(ax.yaxis, everything)
    ax.set_ylim(*np.exp(_padded(np.log(everything[everything > 0]), 0.04)))
    ax.set_xlim(0.5, k_s + 0.5)
    ax.set_xlabel("rank")
    ax.set_ylabel("singular value (dimensionless, log scale)")
    ax.set_title("(c) singular spectra")
    ax.legend(frameon=False, fontsize=7)

    for ax, matrix, label in (
        (axes[1, 0], spectral.left_alignment_, "(d) |cos| of left singular vectors"),
        (axes[1, 1], spectral.right_alignment_, "(e) |cos| of right singular vectors"),
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

    ax = axes[1, 2]
    if shuffles:
        ax.plot(
            ranks,
            spectral.null_best_left_alignment_.mean(axis=0),
            color=NULL_COLOR,
            lw=1.0,
            label=f"null, left (mean of {shuffles})",
        )
        ax.plot(
            ranks,
            spectral.null_best_right_alignment_.mean(axis=0),
            color=NULL_COLOR,
            lw=0.9,
            ls="--",
            label=f"null, right (mean of {shuffles})",
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
    ax.axhline(
        spectral.random_best_,
        color="0.3",
        ls="--",
        lw=0.8,
        label=f"random, best of {k_s} ({spectral.random_best_:.3f})",
    )
    ax.axhline(spectral.random_mean_, color="0.3", ls=":", lw=0.8, label=f"random, mean ({spectral.random_mean_:.3f})")
    ax.set_ylim(0, 1.02)  # |cos| lies in [0, 1]
    ax.set_xlim(0.5, k_s + 0.5)
    ax.set_xlabel("rank of the singular vector of W")
    ax.set_ylabel("best |cos| with any of the other's (dimensionless)")
    ax.set_title("(f) best alignment per vector")
    ax.legend(frameon=False, fontsize=6.5, loc="upper right")

    note = (
        f" — {spectral.dropped_edges_:,} edges with undefined W* left out of every matrix"
        if spectral.dropped_edges_
        else ""
    )
    fig.suptitle(f"{title}: spectra of W, W* and the permutation null{note}")
    fig.tight_layout()
    return fig


def dynamics_figure(dynamics, metrics: dict, title: str) -> Figure:
    """(a) the rightmost eigenvalues of the true and the learned Jacobian in the complex plane,
    (b) their real parts by rank. ``dynamics``: a fitted :class:`flygnn.analysis.LinearisedDynamics`;
    ``metrics``: :func:`flygnn.analysis.dynamics_metrics` of it."""
    true, learned = dynamics.eigenvalues_true_, dynamics.eigenvalues_learned_
    fig, axes = subplots(1, 2, figsize=(10.0, 4.2))

    ax = axes[0]
    ax.scatter(true.real, true.imag, s=12, color=TRUE_COLOR, alpha=0.8, linewidths=0, label="true: τ, W")
    ax.scatter(
        learned.real,
        learned.imag,
        s=12,
        color=CORRECTED_COLOR,
        alpha=0.7,
        linewidths=0,
        marker="D",
        label="learned: τ̂, W*",
    )
    _complex_limits(ax, [true, learned])
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xlabel("Re λ (1/s)")
    ax.set_ylabel("Im λ (1/s)")
    ax.set_title(f"(a) the {true.size} rightmost eigenvalues of J")
    ax.legend(frameon=False, loc="best", fontsize=7)

    ax = axes[1]
    ranks = np.arange(1, true.size + 1)
    ax.plot(ranks, true.real, color=TRUE_COLOR, lw=1.2, label="true")
    ax.plot(np.arange(1, learned.size + 1), learned.real, color=CORRECTED_COLOR, lw=1.2, ls="--", label="learned")
    ax.set_xlim(0.5, max(true.size, learned.size) + 0.5)
    ax.set_ylim(*_padded(np.concatenate([true.real, learned.real])))
    lines = [
        f"largest Re λ: true {_value(metrics, JACOBIAN_SPECTRAL_ABSCISSA_TRUE, '.3g')} 1/s, "
        f"learned {_value(metrics, JACOBIAN_SPECTRAL_ABSCISSA_LEARNED, '.3g')} 1/s",
        f"mean |Δ Re λ| / |Re λ| by rank = {_value(metrics, JACOBIAN_RIGHTMOST_ERROR, '.3f')}",
    ]
    ax.set_xlabel("rank (decreasing real part)")
    ax.set_ylabel("Re λ (1/s)")
    ax.set_title("(b) real parts: the slowest modes first")
    legend = ax.legend(
        frameon=True, framealpha=0.9, edgecolor="0.8", loc="best", fontsize=7, title="\n".join(lines), title_fontsize=7
    )  # "best" keeps the numbers off the curves
    legend._legend_box.align = "left"

    active = int(np.sum(dynamics.active_))
    notes = [f"{active:,} neurons with μ > 0"]
    if dynamics.excluded_neurons_:
        notes.append(f"{dynamics.excluded_neurons_:,} without τ̂ left out")
    if dynamics.dropped_edges_:
        notes.append(f"{dynamics.dropped_edges_:,} edges without W* left out")
    fig.suptitle(f"{title}: J = diag(1/τ)(−I + W·D) at the mean voltage μ — " + ", ".join(notes))
    fig.tight_layout()
    return fig
