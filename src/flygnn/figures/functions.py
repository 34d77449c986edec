"""The learned functions f_θ and g_φ² per neuron over its natural range, beside the truth.

flyvis voltages are in arbitrary model units (a.u.), so dv/dt is in a.u./s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from flygnn.figures.style import add_type_legend, subplots, type_colors


def _curves(ax, voltages: np.ndarray, values: np.ndarray, neuron_type: np.ndarray, n_types: int) -> int:
    """One line per neuron (columns of (P, N) arrays), coloured by type; returns how many were drawn."""
    finite = np.isfinite(values).all(axis=0) & np.isfinite(voltages).all(axis=0)
    columns = np.flatnonzero(finite)
    columns = columns[np.random.default_rng(0).permutation(columns.size)]
    segments = np.stack([voltages[:, columns].T, values[:, columns].T], axis=-1)
    colors = np.array(type_colors(n_types))[neuron_type[columns]]
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.5, alpha=0.35, rasterized=True))
    if columns.size:
        ax.set_xlim(np.min(segments[..., 0]), np.max(segments[..., 0]))
        low, high = np.min(segments[..., 1]), np.max(segments[..., 1])
        pad = 0.03 * (high - low) if high > low else 1.0
        ax.set_ylim(low - pad, high + pad)
    return int(columns.size)


def _pair_figure(
    voltages: np.ndarray,
    learned: np.ndarray,
    true: np.ndarray | None,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    title: str,
    learned_label: str,
    true_label: str,
    share_y: bool,
    left_out: str = "with non-finite values",
) -> Figure:
    n_panels = 2 if true is not None else 1
    fig, axes = subplots(1, n_panels, figsize=(4.2 * n_panels, 3.8), squeeze=False, sharey=share_y)
    drawn = _curves(axes[0, 0], voltages, learned, neuron_type, len(type_names))
    total = voltages.shape[1]
    note = f"\n{total - drawn:,} {left_out} left out" if drawn < total else ""
    axes[0, 0].set_title(f"learned ({drawn:,} of {total:,} neurons){note}")
    axes[0, 0].set_ylabel(learned_label)
    if true is not None:
        _curves(axes[0, 1], voltages, true, neuron_type, len(type_names))
        axes[0, 1].set_title("true")
        axes[0, 1].set_ylabel(true_label)
        if share_y:  # one y range for both panels, from both data sets
            low = min(np.nanmin(learned), np.nanmin(true))
            high = max(np.nanmax(learned), np.nanmax(true))
            pad = 0.03 * (high - low) if high > low else 1.0
            axes[0, 0].set_ylim(low - pad, high + pad)
    for ax in axes.flat:
        ax.set_xlabel("voltage v (a.u.; natural range μ ± 2s of each neuron)")
    fig.suptitle(title)
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=9)
    return fig


def update_function_figure(
    voltages: np.ndarray,
    learned: np.ndarray,
    true: np.ndarray | None,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    title: str,
) -> Figure:
    """f_θ(v, a_i, msg = 0, I = 0) per neuron beside (V_rest − v)/τ; (P, N) arrays, same units (dv/dt, a.u./s)."""
    return _pair_figure(
        voltages,
        learned,
        true,
        neuron_type,
        type_names,
        f"{title}: update function f_θ",
        "f_θ(v, a_i, 0, 0)  (dv/dt, a.u./s)",
        "(V_rest − v)/τ  (a.u./s)",
        share_y=True,
    )


def message_function_figure(
    voltages: np.ndarray,
    learned: np.ndarray,
    message_slope: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    title: str,
) -> Figure:
    """g_φ(v, a_j)² / s_g(j) per neuron beside ReLU(v).

    The learned g_φ² is divided by its own slope s_g over the rectified natural range,
    the gain that trades with Ŵ, so every curve has slope 1 there; what remains is its
    shape. Neurons whose gain is unidentifiable (s_g NaN: μ + s ≤ 0, or no voltage range)
    are left out and counted in the panel title.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = learned / message_slope[None, :]
    return _pair_figure(
        voltages,
        normalised,
        np.maximum(voltages, 0.0),
        neuron_type,
        type_names,
        f"{title}: message function g_φ², normalised to slope 1",
        "g_φ(v, a_j)² / s_g(j)  (a.u.)",
        "ReLU(v)  (a.u.)",
        share_y=True,
        left_out="without an identifiable gain s_g (μ + s ≤ 0 or no range)",
    )
