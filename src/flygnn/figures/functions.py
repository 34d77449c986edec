"""The learned functions f_θ and g_φ² per neuron over its natural range, beside the truth.

flyvis voltages are in arbitrary model units (a.u.), so dv/dt is in a.u./s.

The limits come from the truth, never from the learned curves, so that the σ-grid's
panels compare: x is the voltage window that holds every neuron's natural range μ ± 2s,
rounded outwards to a coarse grid (:func:`flygnn.figures.limits.nice_bounds`: the
natural ranges widen a little with σ, the rounded window does not move), and y is the
range the true function takes over that window — for f_θ the simulator's (V_rest − v)/τ
of every neuron, for g_φ² the ReLU. A linear axis, not a symlog: the curves are compared
by slope, which a symlog bends. A learned curve that leaves the window runs along the
edge, is marked there with a triangle and counted in the panel title.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from flygnn.figures.limits import BEYOND_MARKERS, nice_bounds, padded, share_axes
from flygnn.figures.style import add_type_legend, subplots, type_colors


def voltage_window(voltages: np.ndarray) -> tuple[float, float]:
    """The x limits: every finite voltage (P, N) inside, rounded outwards on the coarse grid."""
    finite = voltages[np.isfinite(voltages)]
    return nice_bounds(float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)


def linear_range(voltages: np.ndarray, true: np.ndarray, window: tuple[float, float]) -> tuple[float, float]:
    """(min, max) over all neurons of true functions that are lines in v (f: slope −1/τ), over ``window``.

    Each neuron's line is extended from its first and last point to the window's ends."""
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (true[-1] - true[0]) / (voltages[-1] - voltages[0])
    slope = np.where(np.isfinite(slope), slope, 0.0)
    ends = [true[0] + slope * (edge - voltages[0]) for edge in window]
    values = np.concatenate([e[np.isfinite(e)] for e in ends])
    return (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)


def _curves(
    ax, voltages: np.ndarray, values: np.ndarray, neuron_type: np.ndarray, n_types: int, ylim: tuple[float, float]
) -> tuple[int, int]:
    """One line per neuron (columns of (P, N) arrays), coloured by type, clipped to ``ylim`` with a triangle
    at the edge where a curve leaves it most; returns (curves drawn, curves leaving the axes)."""
    finite = np.isfinite(values).all(axis=0) & np.isfinite(voltages).all(axis=0)
    columns = np.flatnonzero(finite)
    columns = columns[np.random.default_rng(0).permutation(columns.size)]
    x, y = voltages[:, columns].T, values[:, columns].T
    low, high = ylim
    segments = np.stack([x, np.clip(y, low, high)], axis=-1)
    colors = np.array(type_colors(n_types))[neuron_type[columns]]
    # matplotlib's stubs want a sequence of lines; an (n, T, 2) array is one (and its fast path)
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.5, alpha=0.35, rasterized=True))  # type: ignore[arg-type]
    leaving = np.zeros(columns.size, bool)
    for side, excess, edge in (("above", y - high, high), ("below", low - y, low)):
        out = (excess > 0).any(axis=1)
        if out.any():
            at = np.argmax(excess[out], axis=1)  # where the curve is furthest beyond
            ax.scatter(
                x[out][np.arange(out.sum()), at],
                np.full(out.sum(), edge),
                marker=BEYOND_MARKERS[side],
                c=colors[out],
                s=12,
                linewidths=0,
                clip_on=False,
                zorder=4,
            )
        leaving |= out
    return int(columns.size), int(leaving.sum())


def _pair_figure(
    voltages: np.ndarray,
    learned: np.ndarray,
    true: np.ndarray,
    ylim: tuple[float, float],
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    title: str,
    learned_label: str,
    true_label: str,
    left_out: str = "with non-finite values",
) -> Figure:
    fig, axes = subplots(1, 2, figsize=(6.2, 2.6), squeeze=False)
    xlim = voltage_window(voltages)
    drawn, leaving = _curves(axes[0, 0], voltages, learned, neuron_type, len(type_names), ylim)
    total = voltages.shape[1]
    notes = [f"{total - drawn:,} {left_out} left out"] if drawn < total else []
    if leaving:
        notes.append(f"{leaving:,} leave the axes (▲▼ at the edge)")
    axes[0, 0].set_title("\n".join([f"learned ({drawn:,} of {total:,} neurons)", *notes]), fontsize=8)
    axes[0, 0].set_ylabel(learned_label)
    _curves(axes[0, 1], voltages, true, neuron_type, len(type_names), ylim)
    axes[0, 1].set_title("true", fontsize=8)
    axes[0, 1].set_ylabel(true_label)
    for ax, name in zip(axes.flat, ("learned", "true"), strict=True):
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_xlabel("voltage v (a.u.; μ ± 2s of each neuron)")
        share_axes(ax, name)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=9)
    return fig


def update_function_figure(
    voltages: np.ndarray,
    learned: np.ndarray,
    true: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
) -> Figure:
    """f_θ(v, a_i, msg = 0, I = 0) per neuron beside (V_rest − v)/τ; (P, N) arrays, same units (dv/dt, a.u./s).

    y spans the true lines over the voltage window (:func:`linear_range`)."""
    ylim = padded(*linear_range(voltages, true, voltage_window(voltages)), 0.03)
    return _pair_figure(
        voltages,
        learned,
        true,
        ylim,
        neuron_type,
        type_names,
        "update function f_θ",
        "f_θ(v, a_i, 0, 0)  (dv/dt, a.u./s)",
        "(V_rest − v)/τ  (a.u./s)",
    )


def message_function_figure(
    voltages: np.ndarray,
    learned: np.ndarray,
    message_slope: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
) -> Figure:
    """g_φ(v, a_j)² / s_g(j) per neuron beside ReLU(v).

    The learned g_φ² is divided by its own slope s_g over the rectified natural range,
    the gain that trades with Ŵ, so every curve has slope 1 there; what remains is its
    shape. Neurons whose gain is unidentifiable (s_g NaN: μ + s ≤ 0, or no voltage range)
    are left out and counted in the panel title. y spans ReLU over the voltage window.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = learned / message_slope[None, :]
    window = voltage_window(voltages)
    return _pair_figure(
        voltages,
        normalised,
        np.maximum(voltages, 0.0),
        padded(0.0, max(window[1], 0.1), 0.04),
        neuron_type,
        type_names,
        "message function g_φ², normalised to slope 1",
        "g_φ(v, a_j)² / s_g(j)  (a.u.)",
        "ReLU(v)  (a.u.)",
        left_out="without an identifiable gain s_g (μ + s ≤ 0 or no range)",
    )
