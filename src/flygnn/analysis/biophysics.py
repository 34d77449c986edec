"""Time constants and resting potentials read from the learned update function.

The simulator's f is (−v + V_rest + input)/τ: a line in v of slope −1/τ crossing
zero at V_rest. So from the slope s_f(i) and offset b_i of f_θ(v, a_i, 0, 0)

    τ̂_i = −1/s_f(i),        V̂_rest,i = −b_i / s_f(i).

Upstream reads V_rest at msg = 0 in model units, which is not "no input" when g_φ²
has an offset. ``v_rest_operating_`` is the estimate consistent with the operating
point: f linearised at each real frame, solved for dv/dt = 0 with the msg of
all-zero presynaptic voltages (true input Σ W ReLU(0) = 0) and no stimulus, median
over frames. Both are reported; the upstream one under the upstream name.
"""

from __future__ import annotations

import numpy as np

from flygnn.analysis.gauge import GaugeCorrection

UPSTREAM_TAU_CLIP = (0.0, 1.0)  # upstream clips τ̂ to [0, 1] s before scoring


def per_type_median(values: np.ndarray, neuron_type: np.ndarray, n_types: int) -> np.ndarray:
    """(n_types,) median of the finite ``values`` (N,) of each type; NaN for a type with none."""
    out = np.full(n_types, np.nan)
    finite = np.isfinite(values)
    for t in range(n_types):
        members = values[(neuron_type == t) & finite]
        if members.size:
            out[t] = np.median(members)
    return out


class BiophysicalParameters:
    """τ̂ and V̂_rest per neuron (and per type) from a fitted :class:`GaugeCorrection`.

    Attributes after :meth:`fit` (float64):
        tau_: (N,) τ̂ = −1/s_f in seconds (unclipped; NaN where s_f is undefined or 0).
        v_rest_: (N,) V̂_rest = −b/s_f (upstream definition, msg = 0).
        v_rest_operating_: (N,) V̂_rest at the operating point.
        upstream_tau_, upstream_v_rest_: (N,) upstream's rules (docs/design.md, section 7.8): from the upstream
            slopes, τ̂ = 1 and V̂_rest = 1 where s_f = 0, τ̂ clipped to [0, 1] s.
        tau_per_type_, v_rest_per_type_, v_rest_operating_per_type_: (n_types,) medians over
            each type's neurons (only when ``neuron_type`` is given).
    """

    def fit(self, gauge: GaugeCorrection, neuron_type: np.ndarray | None = None, n_types: int | None = None):
        slope = gauge.update_slope_
        with np.errstate(divide="ignore", invalid="ignore"):
            self.tau_ = np.where(slope != 0, -1.0 / np.where(slope != 0, slope, 1.0), np.nan)
            self.v_rest_ = np.where(slope != 0, -gauge.update_offset_ / np.where(slope != 0, slope, 1.0), np.nan)
        slope, offset = gauge.upstream_update_slope_, gauge.upstream_update_offset_
        nonzero = slope != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.upstream_tau_ = np.clip(
                np.where(nonzero, -1.0 / np.where(nonzero, slope, 1.0), 1.0), *UPSTREAM_TAU_CLIP
            )
            self.upstream_v_rest_ = np.where(nonzero, -offset / np.where(nonzero, slope, 1.0), 1.0)
        self.v_rest_operating_ = np.where(np.isfinite(gauge.operating_v_rest_), gauge.operating_v_rest_, np.nan)
        if neuron_type is not None:
            n_types = int(neuron_type.max()) + 1 if n_types is None else n_types
            self.tau_per_type_ = per_type_median(self.tau_, neuron_type, n_types)
            self.v_rest_per_type_ = per_type_median(self.v_rest_, neuron_type, n_types)
            self.v_rest_operating_per_type_ = per_type_median(self.v_rest_operating_, neuron_type, n_types)
        return self
