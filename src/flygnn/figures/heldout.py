"""The held-out rollout: the learned network run on its own beside the true one.

Draws a fitted :class:`flygnn.analysis.heldout.HeldOutValidation`; nothing is recomputed.
Voltages are flyvis' arbitrary model units (a.u.). The error is drawn on a logarithmic axis:
the learned network's error and the noise reference can lie decades apart. For a σ-grid pass
the same ``error_limits`` (:func:`rollout_error_limits` of all the results) and ``voltage_limits``
to every panel, so the panels compare; a value beyond a limit is drawn at the edge and
marked, never dropped. A notebook, which sees one condition only, passes the fixed
:data:`ERROR_LIMITS` and ``voltage_limits="truth"``: every condition's rollout starts from the
same noise-free state on the same stimulus, so limits from the true traces are the same at
every σ (the panels are marked with :func:`flygnn.figures.limits.share_axes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from flygnn.figures.limits import padded, share_axes
from flygnn.figures.style import subplots, type_colors

# the error axis of every σ's figure: five decades, from well below a good model's error to well above
# the noise reference at σ = 1 (a normalised error of 1 is an error the size of the trace's own std)
ERROR_LIMITS = (1e-3, 1e2)
# a trace panel's voltage axis with voltage_limits="truth": the true trace's range widened by this share
TRUTH_PADDING = 0.25
CLIP_MARKER = {"marker": "^", "linestyle": "", "markersize": 3, "color": "crimson"}


def rollout_error_limits(results: Sequence) -> tuple[float, float]:
    """The (low, high) limits of the logarithmic error axis shared by several results: from the
    smallest to the largest finite positive error after the start (learned or noise reference),
    at most five decades, widened by a factor 1.5 at both ends."""
    curves = ("rollout_error_", "rollout_error_median_", "noise_error_")
    values = np.concatenate([getattr(result, curve)[1:] for result in results for curve in curves])
    positive = values[np.isfinite(values) & (values > 0)]
    if not positive.size:
        return 1e-3, 1.0
    high = 1.5 * float(positive.max())
    return max(float(positive.min()) / 1.5, high * 1e-5), high


def _clipped(ax, x: np.ndarray, y: np.ndarray, low: float, high: float, **line) -> None:
    """Plot y clipped to [low, high] and mark the clipped points (and non-finite ones, at the top)."""
    beyond = ~np.isfinite(y) | (y > high) | (y < low)
    shown = np.clip(np.where(np.isfinite(y), y, high), low, high)
    ax.plot(x, shown, **line)
    if beyond.any():
        ax.plot(x[beyond], shown[beyond], **CLIP_MARKER)


def plot_rollout(
    result,
    types: Sequence[str] | None = None,
    error_limits: tuple[float, float] | None = None,
    voltage_limits: tuple[float, float] | str | None = None,
    ncols: int | None = None,
) -> Figure:
    """Voltage traces of the central-column neuron of a few types (learned, true noise-free,
    recorded) and the normalised rollout error against time.

    result: a fitted HeldOutValidation; types: default its ``trace_types``; error_limits: the
    error panel's (low, high) (default from this result); voltage_limits: one (low, high)
    for every trace panel, "truth" (each panel the range of its true noise-free trace, widened
    by :data:`TRUTH_PADDING`) or None (each panel autoscaled to everything it draws). Panels with
    given limits are marked as shared (:func:`flygnn.figures.limits.share_axes`). ``ncols``: trace
    panels per row (default all in one row, so that the figure is wide and low: the book prints
    three of them stacked on a page).
    """
    if isinstance(voltage_limits, str) and voltage_limits != "truth":
        raise ValueError(f'voltage_limits must be (low, high), "truth" or None; got {voltage_limits!r}')
    types = list(result.trace_types if types is None else types)
    names = list(result.type_names_)
    unknown = [name for name in types if name not in names]
    if unknown:
        raise ValueError(f"unknown cell type(s) {unknown}; known: {', '.join(names)}")
    colors = type_colors(len(names))
    time = result.time_
    ncols = len(types) if ncols is None else ncols
    rows = -(-len(types) // ncols)
    fig, axes = subplots(
        rows + 1,
        ncols,
        figsize=(1.5 * ncols, 1.1 * rows + 1.5),
        layout="constrained",
        gridspec_kw={"height_ratios": [1.0] * rows + [1.3]},
        squeeze=False,
    )
    for ax in axes[-1, 1:]:
        ax.remove()
    for position, name in enumerate(types):
        ax = axes[position // ncols, position % ncols]
        k = names.index(name)
        ax.plot(time, result.traces_recorded_[:, k], color="0.75", lw=0.7, label="recorded")
        ax.plot(time, result.traces_true_[:, k], color="black", lw=1.0, label="true, noise-free")
        learned = result.traces_learned_[:, k]
        limits = voltage_limits
        if isinstance(limits, str):  # "truth", the only string allowed (checked above)
            true = result.traces_true_[:, k]
            limits = padded(np.nanmin(true), np.nanmax(true), TRUTH_PADDING)
        if limits is None:
            ax.plot(time, learned, color=colors[k], lw=1.0, ls="--", label="learned")
        else:
            # the recording (a reference, not an estimate) may leave the panel where the noise takes it
            low, high = limits
            _clipped(ax, time, learned, low, high, color=colors[k], lw=1.0, ls="--", label="learned")
            ax.set_ylim(low, high)
            share_axes(ax, f"voltage-{name}")
        ax.set_title(name, fontsize=8, color=colors[k])
        ax.margins(x=0)
        ax.tick_params(labelsize=7)
    for position in range(len(types), rows * ncols):
        axes[position // ncols, position % ncols].set_axis_off()
    # above the panels: inside one it hides the traces it explains
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=3, fontsize=7, frameon=False)
    # two short lines each: one long label per row would run into the other row's
    axes[rows // 2, 0].set_ylabel("voltage\n(a.u.)", fontsize=8)

    ax = fig.add_subplot(axes[-1, 0].get_gridspec()[-1, :])
    axes[-1, 0].remove()
    low, high = error_limits if error_limits is not None else rollout_error_limits([result])
    # from step 1: at step 0 both start from the same recorded state, an error of exactly 0
    _clipped(ax, time[1:], result.rollout_error_[1:], low, high, color="tab:blue", lw=1.2, label="learned vs true, RMS")
    _clipped(
        ax, time[1:], result.rollout_error_median_[1:], low, high, color="tab:blue", lw=1.0, ls="--",
        label="learned vs true, median neuron",
    )  # fmt: skip
    noise = result.noise_error_[1:]
    if np.isfinite(noise).any() and np.nanmax(noise) < low:
        # no noise (σ = 0): the recording differs from the truth by float32 rounding, far below the axis;
        # a row of edge markers would read as an error, so the legend says where the curve is instead
        ax.plot([], [], color="0.5", lw=1.0, ls=":", label=f"true vs recorded: below {low:.0e} (no noise)")
    else:
        _clipped(ax, time[1:], noise, low, high, color="0.5", lw=1.0, ls=":", label="true vs recorded (noise)")
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    if error_limits is not None:
        share_axes(ax, "error")
    ax.set_xlim(time[0], time[-1])
    ax.set_xlabel("time from the test split's first frame (s)", fontsize=8)
    ax.set_ylabel("error\n÷ std(true)", fontsize=8)
    ax.tick_params(labelsize=7)
    # in a row above the panel: inside it the legend covers the curves it names
    ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, borderaxespad=0.2)
    if result.diverged_at_ is not None:
        ax.axvline(time[result.diverged_at_], color="crimson", lw=0.8)
        ax.text(time[result.diverged_at_], high, " diverged", color="crimson", fontsize=7, va="top")
    return fig
