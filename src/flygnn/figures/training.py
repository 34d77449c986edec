"""The loss components of a training run against iterations (log scale)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from flygnn.figures.style import plt

COMPONENT_LABELS = {
    "loss": "total",
    "prediction": "prediction ‖ŷ − y‖",
    "monotonicity": "g_φ monotonicity",
    "anchor": "g_φ anchor",
    "g_phi_L1": "g_φ weights L1",
    "f_theta_weights": "f_θ weights L1 + L2",
    "W_L1": "Ŵ L1",
}


def plot_training_loss(history: Sequence[dict[str, Any]], title: str | None = None) -> Figure:
    """Left: every loss component (mean per logged window) on a log axis; right: speed.

    ``history`` rows hold ``iteration``, the components of ``COMPONENT_LABELS`` and
    ``iterations_per_s``; components that are zero throughout (coefficient 0) are left out.
    """
    iterations = np.array([row["iteration"] for row in history], dtype=float)
    fig, (ax_loss, ax_speed) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 1]})
    for key, label in COMPONENT_LABELS.items():
        values = np.array([row.get(key, np.nan) for row in history], dtype=float)
        if not np.any(np.isfinite(values) & (values > 0)):
            continue
        style = {"color": "black", "linewidth": 1.6} if key == "loss" else {"linewidth": 1.0}
        ax_loss.plot(iterations, np.where(values > 0, values, np.nan), label=label, **style)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss term (mean per log window)")
    ax_loss.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=4, frameon=False)
    speed = np.array([row.get("iterations_per_s", np.nan) for row in history], dtype=float)
    ax_speed.plot(iterations, speed, color="tab:gray", linewidth=1.0)
    ax_speed.set_xlabel("iteration")
    ax_speed.set_ylabel("iterations / s")
    if np.any(np.isfinite(speed)):
        ax_speed.set_ylim(0, np.nanmax(speed) * 1.1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
