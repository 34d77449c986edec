"""Gauge correction: from the learned Ŵ to weights comparable with the true W.

Only products are identifiable. A gain in g_φ trades with Ŵ, a gain in f_θ's
sensitivity to msg trades with Ŵ, and W enters the dynamics divided by τ. With

    s_g(j)         slope of g_φ(v, a_j)² over [max(μ_j − 2s_j, 0), μ_j + 2s_j]
    s_f(i), b_i    slope and offset of f_θ(v, a_i, msg = 0, I = 0) over [μ_i − 2s_i, μ_i + 2s_i]
    ∂f/∂msg|_i     autograd derivative at real training frames, median over frames

the corrected weights are **W*_e = −Ŵ_e / s_f(i) · ∂f/∂msg|_i · s_g(j)**, and a
model that learned the simulator exactly (up to its gauge) gives W* = W.

Neurons whose voltage is mostly below 0 (μ_j + s_j ≤ 0) never drive ReLU(v), so
their message gain cannot be read: they are flagged ``unidentifiable_`` and their
outgoing W* is NaN (counted, never replaced by a guess). A neuron whose voltage
never varied (s = 0) has no range to fit a slope on: flagged ``zero_range_``.

Upstream (flyvis-gnn) fills these cases by fiat instead, and the metrics that carry
upstream's names must follow it exactly (docs/design.md, section 7.8), so the ``upstream_*``
attributes hold upstream's version beside ours: s_g = 1 for μ_j + s_j ≤ 0 (and
their edges are scored), a slope of exactly 0 for an empty range (s_f = 0 turns into
τ̂ = 1 and V̂_rest = 1 downstream), and non-finite W* set to 0. Both are read from the
same 1000-point fits that upstream uses.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from flygnn.analysis.functions import DEFAULT_CHUNK, grid, line_fit, message_curves, natural_range, update_curves
from flygnn.analysis.threads import fixed_threads
from flygnn.errors import FlygnnError

UPSTREAM_POINTS = 1000  # points per neuron in upstream's slope fits (flyvis-gnn metrics.py)


def check_model(model) -> tuple[int, int]:
    """(N, E) of a message-passing model; FlygnnError naming what is missing or inconsistent."""
    missing = [
        name for name in ("W", "a", "source", "target", "message", "aggregate", "update") if not hasattr(model, name)
    ]
    if missing:
        raise FlygnnError(
            f"{type(model).__name__} lacks {missing}; the analysis needs a model with W, a, source, target "
            "and message(v, a) / aggregate(m) / update(v, a, msg, I) (see flygnn.model)."
        )
    n, e = int(model.a.shape[0]), int(model.W.shape[0])
    if tuple(model.source.shape) != (e,) or tuple(model.target.shape) != (e,):
        raise FlygnnError(
            f"model has {e} weights but source/target of shapes {tuple(model.source.shape)}, {tuple(model.target.shape)}."
        )
    return n, e


def check_activity(activity: dict[str, np.ndarray], n_neurons: int) -> dict[str, np.ndarray]:
    """Validate the bundle's activity statistics against a model of ``n_neurons`` neurons.

    Shapes are the bundle's contract (:func:`flygnn.bundle.check_activity`); here they must
    also be finite with a non-negative std. Returns float64 copies.
    """
    from flygnn.bundle import check_activity as check_shapes

    out = check_shapes(activity, n_neurons, "activity statistics", dtype=np.float64)
    for key, value in out.items():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            raise FlygnnError(f"activity {key} has {bad} NaN/infinite values; rebuild the bundle from a valid dataset.")
    if (out["voltage_std"] < 0).any():
        raise FlygnnError("activity voltage_std has negative entries; it must be a standard deviation.")
    return out


class GaugeCorrection:
    """Read the gauge (MLP slopes) of a message-passing model and correct its weights.

    Args:
        n_points: grid points per neuron for the slope fits (the fit is exact for linear functions).
        chunk: frames/points per batch.

    Attributes after :meth:`fit` (N neurons, E edges, float64):
        message_range_, update_range_: (N, 2) the natural ranges the slopes were read on.
        message_slope_: (N,) s_g, NaN where unidentifiable or zero range.
        update_slope_, update_offset_: (N,) s_f and b (f at v = 0) with msg = 0, I = 0.
        msg_sensitivity_: (N,) ∂f/∂msg, median over the K frames.
        stimulus_sensitivity_: (N,) ∂f/∂I, median over the K frames.
        no_input_msg_: (N,) msg when every presynaptic voltage is 0 (the true input ReLU(0) = 0).
        operating_v_rest_: (N,) the resting potential read at the operating point (see
            :class:`flygnn.analysis.biophysics.BiophysicalParameters`).
        unidentifiable_: (N,) bool, μ + s ≤ 0.
        zero_range_: (N,) bool, s = 0.
        learned_W_: (E,) Ŵ; nonfinite_learned_W_: number of NaN/inf entries in Ŵ.
        corrected_W_: (E,) W*, NaN where any factor is undefined.
        upstream_message_slope_: (N,) s_g by upstream's rules: 1 where μ + s ≤ 0, 0 on an empty range.
        upstream_update_slope_, upstream_update_offset_: (N,) s_f and b, exactly 0 on an empty range.
        upstream_corrected_W_: (E,) W* from the upstream slopes, non-finite values set to 0.
    """

    def __init__(self, n_points: int = UPSTREAM_POINTS, chunk: int = DEFAULT_CHUNK) -> None:
        self.n_points = n_points
        self.chunk = chunk

    def fit(self, model, activity: dict[str, np.ndarray]) -> GaugeCorrection:
        with fixed_threads():  # the slopes are cached and scored: the same bits on any machine
            return self._fit(model, activity)

    def _fit(self, model, activity: dict[str, np.ndarray]) -> GaugeCorrection:
        n, _ = check_model(model)
        activity = check_activity(activity, n)
        mean, std = activity["voltage_mean"], activity["voltage_std"]
        source = model.source.cpu().numpy()
        target = model.target.cpu().numpy()

        self.zero_range_ = std == 0
        self.unidentifiable_ = mean + std <= 0
        if self.zero_range_.any():
            warnings.warn(
                f"{int(self.zero_range_.sum())} neuron(s) never changed voltage over the training frames "
                f"(std = 0; first: {np.flatnonzero(self.zero_range_)[:10].tolist()}); their slopes, τ̂, V̂_rest "
                "and the W* of their edges are undefined: the metrics under upstream's names score them with "
                "update slope 0 (τ̂ = 1, V̂_rest = 1) as upstream does, the principled variants leave them out.",
                stacklevel=3,  # the caller of fit
            )

        # Message gain s_g over the rectified natural range.
        low, high = natural_range(mean, std, rectified=True)
        high = np.where(self.unidentifiable_, low, high)  # empty range -> NaN slope below
        self.message_range_ = np.stack([low, high], axis=1)
        voltages = grid(low, high, self.n_points)
        message_slope, _ = line_fit(voltages, message_curves(model, voltages, self.chunk))
        self.message_slope_ = np.where(self.unidentifiable_ | self.zero_range_, np.nan, message_slope)
        self.upstream_message_slope_ = np.where(self.unidentifiable_, 1.0, np.where(high > low, message_slope, 0.0))

        # Update slope s_f and offset b at msg = 0, I = 0 over the full natural range.
        low, high = natural_range(mean, std)
        self.update_range_ = np.stack([low, high], axis=1)
        voltages = grid(low, high, self.n_points)
        self.update_slope_, self.update_offset_ = line_fit(voltages, update_curves(model, voltages, chunk=self.chunk))
        empty = ~(high > low)  # upstream: a degenerate fit gives slope 0 and offset 0
        self.upstream_update_slope_ = np.where(empty, 0.0, self.update_slope_)
        self.upstream_update_offset_ = np.where(empty, 0.0, self.update_offset_)

        self.no_input_msg_ = self._no_input_msg(model, n)
        self._frame_pass(model, activity["frames_voltage"], activity["frames_stimulus"])

        learned = model.W.detach().cpu().double().numpy()
        self.learned_W_ = learned
        self.nonfinite_learned_W_ = int(learned.size - np.count_nonzero(np.isfinite(learned)))
        if self.nonfinite_learned_W_:
            warnings.warn(
                f"{self.nonfinite_learned_W_} of {learned.size} learned weights are NaN or infinite; "
                "their W* is NaN and they are counted (not zeroed) in the metrics.",
                stacklevel=3,  # the caller of fit
            )
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self.corrected_W_ = (
                -learned / self.update_slope_[target] * self.msg_sensitivity_[target] * self.message_slope_[source]
            )
            self.corrected_W_[~np.isfinite(self.corrected_W_)] = np.nan
            upstream = (
                -learned
                / self.upstream_update_slope_[target]
                * self.msg_sensitivity_[target]
                * self.upstream_message_slope_[source]
            )
        self.upstream_corrected_W_ = np.where(np.isfinite(upstream), upstream, 0.0)
        return self

    @staticmethod
    def _no_input_msg(model, n: int) -> np.ndarray:
        with torch.no_grad():
            zeros = torch.zeros((1, n), dtype=model.W.dtype)
            return model.aggregate(model.message(zeros, model.a))[0].double().numpy()

    def _frame_pass(self, model, frames_voltage: np.ndarray, frames_stimulus: np.ndarray) -> None:
        """∂f/∂msg and ∂f/∂I at each real frame (medians), and the operating-point V_rest."""
        k, n = frames_voltage.shape
        d_msg = np.empty((k, n))
        d_stimulus = np.empty((k, n))
        rest = np.empty((k, n))
        for start in range(0, k, self.chunk):
            part = slice(start, start + self.chunk)
            v = torch.as_tensor(frames_voltage[part], dtype=model.W.dtype)
            stimulus = torch.as_tensor(frames_stimulus[part], dtype=model.W.dtype)
            with torch.no_grad():
                msg = model.aggregate(model.message(v, model.a))
            msg.requires_grad_(True)
            stimulus.requires_grad_(True)
            with torch.enable_grad():
                f = model.update(v, model.a, msg, stimulus)
                grads = torch.autograd.grad(f.sum(), (msg, stimulus), allow_unused=True)
            g_msg, g_stim = (torch.zeros_like(f) if g is None else g for g in grads)
            d_msg[part] = g_msg.double().numpy()
            d_stimulus[part] = g_stim.double().numpy()
            # Linearise f at this frame and solve for the v where dv/dt = 0 with no
            # synaptic input (msg at its no-input value) and no stimulus.
            f_value = f.detach().double().numpy()
            msg_value = msg.detach().double().numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                rest[part] = (
                    frames_voltage[part]
                    - (
                        f_value
                        - d_msg[part] * (msg_value - self.no_input_msg_)
                        - d_stimulus[part] * frames_stimulus[part]
                    )
                    / self.update_slope_
                )
        # The true median (mean of the two middle values for even K), not torch's lower median.
        self.msg_sensitivity_ = np.median(d_msg, axis=0)
        self.stimulus_sensitivity_ = np.median(d_stimulus, axis=0)
        self.operating_v_rest_ = np.median(rest, axis=0)
