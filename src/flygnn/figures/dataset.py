"""Figures a user checks first on a simulated dataset.

- ``plot_stimulus_frames``: what the eye saw, frames drawn on the hexagonal lattice.
- ``plot_activity_traces``: voltage of a few cell types in one column over time.
- ``plot_activity_ranges``: per cell type, where its neurons' voltages live.

Each function returns a matplotlib Figure; save it with ``flygnn.figures.style.save_figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from flygnn.errors import FlygnnError
from flygnn.figures.style import subplots, type_colors
from flygnn.stimulus import lattice_positions

DEFAULT_TRACE_TYPES = ("R1", "R7", "L1", "L2", "L3", "Mi1", "Mi9", "Tm1", "Tm3", "T4a", "T5a", "TmY5a")
MAX_FRAMES_SHOWN = 8
OUTLINE = (0.55, 0.62, 0.75)


def _hexagons(columns_u: np.ndarray, columns_v: np.ndarray) -> np.ndarray:
    """(n_columns, 6, 2) vertices of flat-topped hexagons tiling the lattice (neighbours 1 apart)."""
    centres = lattice_positions(columns_u, columns_v)
    radius = 1 / np.sqrt(3)  # circumradius of a hexagon whose neighbours are 1 apart
    angles = np.radians(np.arange(6) * 60.0)
    corners = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres[:, None, :] + corners[None, :, :]


def plot_stimulus_frames(
    frames: np.ndarray,
    columns_u: np.ndarray,
    columns_v: np.ndarray,
    frame_indices: Sequence[int] | np.ndarray | None = None,
    title: str | None = None,
    dt: float | None = None,
) -> Figure:
    """A row of hex-lattice images, one hexagon per column, greyscale luminance 0 (black) to 1.

    frames: (T, n_columns) luminance; frame_indices: which frames (default: up to 8 evenly
    spaced); dt: seconds per frame, to label frames with their time.
    """
    frames = np.asarray(frames)
    columns_u = np.asarray(columns_u)
    if frames.ndim != 2 or frames.shape[1] != columns_u.shape[0]:
        raise FlygnnError(f"frames must be (T, n_columns={columns_u.shape[0]}), got shape {frames.shape}.")
    if frame_indices is None:
        frame_indices = np.unique(
            np.linspace(0, frames.shape[0] - 1, min(MAX_FRAMES_SHOWN, frames.shape[0])).round().astype(int)
        )
    frame_indices = [int(i) for i in frame_indices]
    bad = [i for i in frame_indices if not 0 <= i < frames.shape[0]]
    if bad or not frame_indices:
        raise FlygnnError(f"frame_indices must be non-empty and within 0..{frames.shape[0] - 1}; got {frame_indices}.")

    polygons = _hexagons(columns_u, columns_v)
    low, high = polygons.reshape(-1, 2).min(axis=0), polygons.reshape(-1, 2).max(axis=0)
    n = len(frame_indices)
    fig, axes = subplots(1, n, figsize=(1.7 * n + 0.8, 2.2), layout="constrained", squeeze=False)
    axes = axes[0]
    for ax, index in zip(axes, frame_indices, strict=False):
        # a faint bluish outline keeps white (ON) columns visible against the white page
        # matplotlib's stubs want a sequence of polygons; an (n, 6, 2) array is one (and its fast path)
        collection = PolyCollection(polygons, array=frames[index], cmap="gray", edgecolors=OUTLINE, linewidths=0.2)  # type: ignore[arg-type]
        collection.set_clim(0.0, 1.0)  # the stimulus contract: luminance in [0, 1]
        ax.add_collection(collection)
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"frame {index}" if dt is None else f"t = {index * dt:.2f} s", fontsize=8)
    fig.colorbar(collection, ax=list(axes), shrink=0.8, label="luminance")
    if title:
        fig.suptitle(title)
    return fig


def _central_neuron(
    indices: np.ndarray, neuron_u: np.ndarray | None, neuron_v: np.ndarray | None, column: tuple[int, ...]
) -> int | None:
    if neuron_u is None or neuron_v is None:
        # columns are u-major over a full hexagon, so the middle one is the central column
        return int(indices[len(indices) // 2])
    match = indices[(neuron_u[indices] == column[0]) & (neuron_v[indices] == column[1])]
    return int(match[0]) if match.size else None


def plot_activity_traces(
    voltage: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    dt: float,
    types: Sequence[str] = DEFAULT_TRACE_TYPES,
    column: tuple[int, int] | None = None,
    neuron_u: np.ndarray | None = None,
    neuron_v: np.ndarray | None = None,
    stimulus: np.ndarray | None = None,
) -> Figure:
    """Voltage over time of one neuron per selected type, stacked, in the type's colour.

    voltage: (T, N) recorded voltages (a.u.); neuron_type: (N,) index into type_names;
    dt: seconds per frame. The neuron shown is the one in ``column`` (u, v) — default the
    central column (0, 0) — found with neuron_u/neuron_v when given, else the middle
    neuron of the type (the central column for flyvis' u-major order). ``stimulus``
    (T,) optional luminance of that column, drawn on top for reference.
    """
    voltage = np.asarray(voltage)
    neuron_type = np.asarray(neuron_type)
    type_names = list(type_names)
    if voltage.ndim != 2 or voltage.shape[1] != neuron_type.shape[0]:
        raise FlygnnError(f"voltage must be (T, N={neuron_type.shape[0]}), got shape {voltage.shape}.")
    if not dt > 0:
        raise FlygnnError(f"dt must be a positive number of seconds, got {dt!r}.")
    unknown = [name for name in types if name not in type_names]
    if unknown or not types:
        raise FlygnnError(f"unknown cell type(s) {unknown} to plot; known: {', '.join(type_names)}.")
    if column is not None and (neuron_u is None or neuron_v is None):
        raise FlygnnError("choosing a column needs neuron_u and neuron_v (the network's hex coordinates).")
    centre = (0, 0) if column is None else tuple(column)

    colors = type_colors(len(type_names))
    time = np.arange(voltage.shape[0]) * dt
    rows = len(types) + (stimulus is not None)
    fig, axes = subplots(rows, 1, figsize=(7.0, 0.75 * rows + 0.8), layout="constrained", sharex=True, squeeze=False)
    axes = axes[:, 0]
    if stimulus is not None:
        stimulus = np.asarray(stimulus)
        if stimulus.shape != (voltage.shape[0],):
            raise FlygnnError(f"stimulus must be (T={voltage.shape[0]},), got shape {stimulus.shape}.")
        axes[0].plot(time, stimulus, color="0.3", lw=0.8)
        axes[0].set_ylabel("lum.", rotation=0, ha="right", va="center")
        axes = axes[1:]
    for ax, name in zip(axes, types, strict=False):
        k = type_names.index(name)
        neuron = _central_neuron(np.flatnonzero(neuron_type == k), neuron_u, neuron_v, centre)
        if neuron is None:
            raise FlygnnError(f"cell type {name} has no neuron in column {centre}.")
        ax.plot(time, voltage[:, neuron], color=colors[k], lw=0.9)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", color=colors[k])
        ax.margins(x=0)
    axes[-1].set_xlabel("time (s)")
    fig.supylabel("voltage (a.u.)", fontsize=9)
    fig.suptitle(f"activity in column (u, v) = {centre}", fontsize=10)
    return fig


def activity_ranges(
    voltage_mean: np.ndarray, voltage_std: np.ndarray, neuron_type: np.ndarray, n_types: int
) -> dict[str, np.ndarray]:
    """Per type (n_types,): ``mean`` of its neurons' mean voltage, ``std`` = root-mean-square of
    their standard deviations, ``low``/``high`` = min/max over its neurons of mean ∓ std.
    NaN for types without neurons."""
    voltage_mean = np.asarray(voltage_mean, dtype=np.float64)
    voltage_std = np.asarray(voltage_std, dtype=np.float64)
    neuron_type = np.asarray(neuron_type)
    if not voltage_mean.shape == voltage_std.shape == neuron_type.shape or voltage_mean.ndim != 1:
        raise FlygnnError(
            f"voltage_mean, voltage_std and neuron_type must be (N,) arrays of one length; got "
            f"{voltage_mean.shape}, {voltage_std.shape}, {neuron_type.shape}."
        )
    out = {key: np.full(n_types, np.nan) for key in ("mean", "std", "low", "high")}
    for k in range(n_types):
        mask = neuron_type == k
        if not mask.any():
            continue
        m, s = voltage_mean[mask], voltage_std[mask]
        out["mean"][k] = m.mean()
        out["std"][k] = np.sqrt(np.mean(s**2))
        out["low"][k] = (m - s).min()
        out["high"][k] = (m + s).max()
    return out


def plot_activity_ranges(
    voltage_mean: np.ndarray,
    voltage_std: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
) -> Figure:
    """Per cell type: mean voltage (dot) ± typical std (thick bar) and the range of mean ± std
    over its neurons (thin line), in the type's colour; types along x in the given order.

    voltage_mean, voltage_std: (N,) per-neuron statistics over the train split (a.u.).
    """
    type_names = list(type_names)
    ranges = activity_ranges(voltage_mean, voltage_std, neuron_type, len(type_names))
    colors = type_colors(len(type_names))
    x = np.arange(len(type_names))
    fig, ax = subplots(figsize=(max(6.0, 0.16 * len(type_names) + 1.2), 3.4), layout="constrained")
    ax.vlines(x, ranges["low"], ranges["high"], colors=colors, lw=0.8)
    ax.vlines(x, ranges["mean"] - ranges["std"], ranges["mean"] + ranges["std"], colors=colors, lw=3.0)
    ax.scatter(x, ranges["mean"], c=colors, s=12, zorder=3, edgecolors="white", linewidths=0.4)
    ax.set_xticks(x, type_names, rotation=90, fontsize=6)
    for label, color in zip(ax.get_xticklabels(), colors, strict=False):
        label.set_color(color)
    ax.set_xlim(-0.7, len(type_names) - 0.3)
    ax.set_xlabel("cell type")
    ax.set_ylabel("voltage (a.u.)")
    ax.grid(axis="y", lw=0.3, alpha=0.5)
    legend = [
        Line2D([], [], color="0.3", marker="o", lw=0, markersize=4, label="mean over neurons"),
        Line2D([], [], color="0.3", lw=3.0, label="± RMS of neuron std"),
        Line2D([], [], color="0.3", lw=0.8, label="range of neuron mean ± std"),
    ]
    ax.legend(handles=legend, loc="best", frameon=False)
    return fig


TRACE_FRAMES = 400  # 8 s of activity: five natural-image sequences


def write_dataset_figures(dataset, network, directory) -> list:
    """The three first-look figures of a dataset, saved as PNG + PDF under ``directory``.

    ``stimulus`` (frames on the lattice), ``activity-traces`` (the first 8 s of the
    train split for a selection of types, central column) and ``activity-ranges``
    (per type, over the whole train split). Reads only the frames it draws.
    """
    from flygnn.figures.style import apply_style, save_figure

    apply_style()

    frames = min(TRACE_FRAMES, dataset.frames("train"))
    voltage = dataset.read("train", "voltage", slice(0, frames))
    stimulus = dataset.read("train", "stimulus", slice(0, frames))
    # every R1 of a column carries the column's luminance
    r1 = np.flatnonzero(network.neuron_type == network.type_names.index("R1"))
    luminance = stimulus[:, r1]
    label = f"{dataset.attrs.get('condition', '')}  σ = {dataset.sigma:g}"
    written = []
    written += save_figure(
        plot_stimulus_frames(
            luminance[:80], network.columns_u, network.columns_v, title=f"stimulus ({label})", dt=dataset.dt
        ),
        directory,
        "stimulus",
    )
    written += save_figure(
        plot_activity_traces(
            voltage,
            network.neuron_type,
            network.type_names,
            dataset.dt,
            neuron_u=network.neuron_u,
            neuron_v=network.neuron_v,
            stimulus=luminance[:, np.flatnonzero((network.columns_u == 0) & (network.columns_v == 0))[0]],
        ),
        directory,
        "activity-traces",
    )
    written += save_figure(
        plot_activity_ranges(dataset.voltage_mean, dataset.voltage_std, network.neuron_type, network.type_names),
        directory,
        "activity-ranges",
    )
    return written
