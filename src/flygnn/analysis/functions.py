"""The learned functions f_θ and g_φ² per neuron over its natural range.

A neuron's *natural range* is μ ± 2s of its voltage over the training frames:
where the model saw data, and so where its functions mean something. All
evaluations here are batched over a (P, N) grid (P points per neuron, each
neuron with its own embedding a_i) without autograd.
"""

from __future__ import annotations

import numpy as np
import torch

from flygnn.analysis.threads import fixed_threads
from flygnn.errors import FlygnnError

# Frames/points per batch: (chunk, N) inputs through 80-unit MLPs stay well under 1 GB.
DEFAULT_CHUNK = 16


def natural_range(mean: np.ndarray, std: np.ndarray, rectified: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron interval [μ − 2s, μ + 2s]; with ``rectified`` the lower end is max(μ − 2s, 0).

    mean, std: (N,) voltage statistics over the training frames. Returns (low, high), (N,) each.
    The rectified range is where g² = ReLU(v) has slope 1, the range over which the
    message function's gain is read.
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    low, high = mean - 2 * std, mean + 2 * std
    if rectified:
        low = np.maximum(low, 0.0)
    return low, high


def grid(low: np.ndarray, high: np.ndarray, n_points: int) -> np.ndarray:
    """(n_points, N) voltages evenly spaced from low to high per neuron (float64)."""
    t = np.linspace(0.0, 1.0, n_points)[:, None]
    return low[None, :] + t * (high - low)[None, :]


def _tensor(model, x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x) if x.flags.writeable else np.array(x), dtype=model.W.dtype)


def message_curves(model, voltages: np.ndarray, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """g_φ(v, a_j)² of every neuron at ``voltages`` (P, N) -> (P, N) float64."""
    out = np.empty(voltages.shape, dtype=np.float64)
    with torch.no_grad():
        for start in range(0, voltages.shape[0], chunk):
            v = _tensor(model, voltages[start : start + chunk])
            out[start : start + chunk] = model.message(v, model.a).double().numpy()
    return out


def update_curves(
    model,
    voltages: np.ndarray,
    msg: np.ndarray | float = 0.0,
    stimulus: np.ndarray | float = 0.0,
    chunk: int = DEFAULT_CHUNK,
) -> np.ndarray:
    """f_θ(v, a_i, msg, I) of every neuron at ``voltages`` (P, N) -> (P, N) float64.

    ``msg`` and ``stimulus`` broadcast against (P, N): a scalar, an (N,) per-neuron
    value held fixed along the curve, or a full (P, N) array.
    """
    msg = np.broadcast_to(np.asarray(msg, dtype=np.float64), voltages.shape)
    stimulus = np.broadcast_to(np.asarray(stimulus, dtype=np.float64), voltages.shape)
    out = np.empty(voltages.shape, dtype=np.float64)
    with torch.no_grad():
        for start in range(0, voltages.shape[0], chunk):
            part = slice(start, start + chunk)
            v, m, i = (_tensor(model, x[part]) for x in (voltages, msg, stimulus))
            out[part] = model.update(v, model.a, m, i).double().numpy()
    return out


def line_fit(voltages: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron least-squares line values ≈ slope · v + offset over the P points of each column.

    voltages, values: (P, N). Returns (slope, offset), (N,) each; the offset is the
    line's value at v = 0. A column whose voltages do not vary gives NaN.
    """
    x_mean = voltages.mean(axis=0)
    y_mean = values.mean(axis=0)
    dx = voltages - x_mean
    sxx = (dx * dx).sum(axis=0)
    sxy = (dx * (values - y_mean)).sum(axis=0)
    varies = np.ptp(voltages, axis=0) > 0  # exact: sxx of a constant column can round to > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(varies, sxy / np.where(varies, sxx, 1.0), np.nan)
    return slope, y_mean - slope * x_mean


class FunctionCurves:
    """f_θ(v, a_i, 0, 0) and g_φ(v, a_i)² per neuron over μ ± 2s, beside the true functions.

    Args:
        n_points: points per neuron along its natural range.

    Attributes after :meth:`fit`:
        voltages_: (P, N) the grid, μ_i − 2s_i … μ_i + 2s_i.
        update_: (P, N) learned f_θ at msg = 0, I = 0 (dv/dt, 1/s).
        message_: (P, N) learned g_φ².
        true_update_: (P, N) (V_rest − v)/τ, when ``tau``/``v_rest`` were given.
        true_message_: (P, N) ReLU(v).
    """

    def __init__(self, n_points: int = 48) -> None:
        self.n_points = n_points

    def fit(
        self,
        model,
        voltage_mean: np.ndarray,
        voltage_std: np.ndarray,
        tau: np.ndarray | None = None,
        v_rest: np.ndarray | None = None,
    ) -> FunctionCurves:
        n = model.a.shape[0]
        if np.shape(voltage_mean) != (n,) or np.shape(voltage_std) != (n,):
            raise FlygnnError(
                f"voltage statistics have shapes {np.shape(voltage_mean)}, {np.shape(voltage_std)}; "
                f"the model has {n} neurons."
            )
        low, high = natural_range(voltage_mean, voltage_std)
        self.voltages_ = grid(low, high, self.n_points)
        with fixed_threads():  # scored in metrics.json: the same bits on any machine
            self.update_ = update_curves(model, self.voltages_)
            self.message_ = message_curves(model, self.voltages_)
        self.true_message_ = np.maximum(self.voltages_, 0.0)
        if tau is not None and v_rest is not None:
            self.true_update_ = (np.asarray(v_rest, float)[None] - self.voltages_) / np.asarray(tau, float)[None]
        else:
            self.true_update_ = None
        return self
