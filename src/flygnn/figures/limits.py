"""Axis limits that a σ-grid shares, and the points drawn beyond them.

Each condition's notebook runs alone, so a figure that autoscaled to its own data would
not compare with its neighbours in the book's σ-grid. The figure functions instead take
their limits from what every condition has in common — the ground truth (true W, τ,
V_rest, the simulator's functions) or a fixed natural range (|cos| and R² in [0, 1], ranks)
— never from the learned values. A learned value beyond the limits is drawn at the edge
as a triangle pointing outwards and counted on the panel: never dropped, never a reason
to widen the axes.

A panel whose limits are shared is named (:func:`share_axes`); :func:`shared_limits` reads
the names and limits back from a drawn figure and :func:`write_limits` saves them beside
the figure (``figures/<stem>.limits.json``), so a test can check that the conditions'
figures agree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from flygnn.atomic import atomic_path

SHARED_AXES_GID = "flygnn-shared-axes:"
LIMITS_SUFFIX = ".limits.json"
# triangles pointing out of the panel, at the edge a value lies beyond
BEYOND_MARKERS = {"above": "^", "below": "v", "right": ">", "left": "<"}
BEYOND_NOTE = "beyond the axes, drawn at the edge (▲▼◀▶)"


def share_axes(ax, name: str) -> None:
    """Mark ``ax`` as a panel whose limits every condition's figure shares, under ``name``."""
    ax.set_gid(SHARED_AXES_GID + name)


def shared_limits(fig: Figure) -> dict[str, dict[str, object]]:
    """{panel name: {"xlim", "ylim", "xscale", "yscale"}} of the visible panels marked by :func:`share_axes`."""
    out: dict[str, dict[str, object]] = {}
    for ax in fig.axes:
        gid = ax.get_gid() or ""
        if ax.get_visible() and gid.startswith(SHARED_AXES_GID):
            out[gid[len(SHARED_AXES_GID) :]] = {
                "xlim": [float(v) for v in ax.get_xlim()],
                "ylim": [float(v) for v in ax.get_ylim()],
                "xscale": ax.get_xscale(),
                "yscale": ax.get_yscale(),
            }
    return out


def write_limits(fig: Figure, directory: str | Path, stem: str) -> Path | None:
    """Write :func:`shared_limits` of ``fig`` to ``directory/<stem>.limits.json`` (atomically); None when
    the figure has no shared panel."""
    limits = shared_limits(fig)
    if not limits:
        return None
    path = Path(directory) / f"{stem}{LIMITS_SUFFIX}"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(limits, indent=1, sort_keys=True) + "\n")
    return path


def padded(low: float, high: float, fraction: float = 0.04) -> tuple[float, float]:
    """[low, high] widened by ``fraction`` of its span on each side (a zero span by 0.1)."""
    low, high = float(low), float(high)
    pad = fraction * (high - low) if high > low else 0.1
    return low - pad, high + pad


GRID_STEPS = (1.0, 2.0, 2.5, 5.0, 7.5)


def _grid(value: float) -> list[float]:
    """Grid values (:data:`GRID_STEPS` × 10^k) of the decade of ``value`` > 0 and the next."""
    decade = 10.0 ** math.floor(math.log10(value))
    return [step * decade for step in GRID_STEPS] + [10.0 * decade]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5, 7.5 × 10^k at or above ``value`` (0 for ``value`` ≤ 0).

    A coarse grid on purpose: limits derived from a condition's data (the natural voltage
    range differs a little with σ) land on the same value for every condition."""
    if value <= 0:
        return 0.0
    return min(g for g in _grid(value) if g >= value * (1 - 1e-12))


def _nice_floor(value: float) -> float:
    """The largest grid value at or below ``value`` (0 for ``value`` ≤ 0)."""
    if value <= 0:
        return 0.0
    return max(g for g in _grid(value) if g <= value * (1 + 1e-12))


def _round_up(value: float) -> float:
    return nice_ceiling(value) if value > 0 else -_nice_floor(-value)


def nice_bounds(low: float, high: float) -> tuple[float, float]:
    """[low, high] rounded outwards to the grid of :func:`nice_ceiling` (each bound on its own side of 0)."""
    return -_round_up(-float(low)), _round_up(float(high))


def beyond(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """(above, below) masks of the finite ``values`` outside [low, high]."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        return finite & (values > high), finite & (values < low)


def pin_beyond(
    ax, x: np.ndarray, y: np.ndarray, xlim: tuple[float, float], ylim: tuple[float, float], **style
) -> np.ndarray:
    """Draw the points of (x, y) outside ``xlim`` × ``ylim`` at the edge they lie beyond, as triangles
    pointing outwards (above/below before right/left); returns the (n,) mask of those points.

    ``style`` goes to ``ax.scatter`` (``c``/``color``, ``s``); a per-point ``c`` is indexed with the mask.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    above, below = beyond(y, *ylim)
    right, left = beyond(x, *xlim)
    outside = np.zeros(x.shape, bool)
    for side, mask in (("above", above), ("below", below), ("right", right & ~(above | below)), ("left", left)):
        mask = mask & ~outside
        if not mask.any():
            continue
        outside |= mask
        px, py = np.clip(x[mask], *xlim), np.clip(y[mask], *ylim)
        options = dict(style)
        if "c" in options and np.ndim(options["c"]) and len(options["c"]) == len(x):
            options["c"] = np.asarray(options["c"])[mask]
        # clip_on=False: a triangle on the edge is drawn whole, half outside the axes
        ax.scatter(px, py, marker=BEYOND_MARKERS[side], clip_on=False, zorder=4, **options)
    return outside
