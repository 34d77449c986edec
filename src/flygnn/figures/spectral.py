"""The 2×3 spectral figure: eigenvalues, singular values and singular-vector alignment of W and W*."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from flygnn.analysis.metrics import ols_fit

TRUE_COLOR, CORRECTED_COLOR = "#1f3b73", "#d62728"


def spectral_figure(spectral, title: str) -> Figure:
    """(a) eigenvalues in the complex plane, (b) singular values matched by rank, (c) singular
    spectra on a log scale, (d, e) |cos| alignment of left / right singular vectors, (f) best
    alignment per vector against the random baseline.

    ``spectral`` is a fitted :class:`flygnn.analysis.spectral.SpectralAnalysis`.
    """
    fig, axes = plt.subplots(2, 3, figsize=(12.0, 7.6))
    k_e, k_s = spectral.eigenvalues_true_.size, spectral.singular_values_true_.size

    ax = axes[0, 0]
    for values, color, name in ((spectral.eigenvalues_true_, TRUE_COLOR, "W"), (spectral.eigenvalues_corrected_, CORRECTED_COLOR, "W*")):
        ax.scatter(values.real, values.imag, s=9, color=color, alpha=0.7, linewidths=0, label=name)
    ax.axhline(0, color="0.8", lw=0.5, zorder=0)
    ax.axvline(0, color="0.8", lw=0.5, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title(f"(a) {k_e} largest-magnitude eigenvalues")
    ax.legend(frameon=False, loc="upper right")

    ax = axes[0, 1]
    s_true, s_corr = spectral.singular_values_true_, spectral.singular_values_corrected_
    ax.scatter(s_true, s_corr, s=10, color=CORRECTED_COLOR, linewidths=0)
    both = np.concatenate([s_true, s_corr])
    ax.plot([both.min(), both.max()], [both.min(), both.max()], color="0.3", ls="--", lw=0.8)
    r2, slope = ols_fit(s_true, s_corr)
    ax.text(0.03, 0.97, f"R² = {r2:.4f}\nslope = {slope:.4f}", transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xlabel("singular value of W")
    ax.set_ylabel("singular value of W* (same rank)")
    ax.set_title(f"(b) top-{k_s} singular values by rank")

    ax = axes[0, 2]
    ranks = np.arange(1, k_s + 1)
    ax.semilogy(ranks, s_true, color=TRUE_COLOR, lw=1.2, label="W")
    ax.semilogy(ranks, s_corr, color=CORRECTED_COLOR, lw=1.2, ls="--", label="W*")
    ax.set_xlabel("rank")
    ax.set_ylabel("singular value")
    ax.set_title("(c) singular spectra")
    ax.legend(frameon=False)

    for ax, matrix, side in ((axes[1, 0], spectral.left_alignment_, "left"), (axes[1, 1], spectral.right_alignment_, "right")):
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis", origin="upper", interpolation="nearest")
        ax.set_xlabel("singular vector of W* (rank)")
        ax.set_ylabel("singular vector of W (rank)")
        ax.set_title(f"(d) |cos| of {side} singular vectors" if side == "left" else f"(e) |cos| of {side} singular vectors")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)

    ax = axes[1, 2]
    ax.plot(ranks, spectral.best_left_alignment_, color=TRUE_COLOR, lw=1.0, marker=".", ms=3, label="left")
    # left and right are often close: dashed and on top so both stay visible
    ax.plot(ranks, spectral.best_right_alignment_, color=CORRECTED_COLOR, lw=0.9, ls="--", marker="x", ms=2.5, label="right")
    ax.axhline(spectral.random_best_, color="0.4", ls="--", lw=0.8, label=f"random, best of {k_s} ({spectral.random_best_:.3f})")
    ax.axhline(spectral.random_mean_, color="0.6", ls=":", lw=0.8, label=f"random, mean ({spectral.random_mean_:.3f})")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("rank of the singular vector of W")
    ax.set_ylabel("best |cos| with any of W*'s")
    ax.set_title("(f) best alignment per vector")
    ax.legend(frameon=False, fontsize=7, loc="upper right")

    note = f" — {spectral.dropped_edges_:,} edges with undefined W* left out of both matrices" if spectral.dropped_edges_ else ""
    fig.suptitle(f"{title}: spectra of W and W*{note}")
    fig.tight_layout()
    return fig
