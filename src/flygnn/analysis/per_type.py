"""Recovery per cell type: the truth is defined per type, so is the book's per-type table.

For each of the cell types, from the upstream-rule estimates (docs/design.md, section 7.8, the ones
behind ``tau_R2``, ``V_rest_R2`` and ``W_corrected_R2``):

- τ and V_rest of the type (the truth is one value per type; its median is taken so
  that a heterogeneous synthetic ground truth still gives one number) and the median
  of the type's τ̂ and V̂_rest;
- the R² (upstream's ``compute_r_squared``) of the type's incoming weights: W* by
  upstream's rules against W over the edges whose target neuron is of that type and
  with |W* − W| ≤ 5, as ``W_corrected_R2`` does over all edges;
- the type's share of the squared residuals behind ``W_corrected_R2`` (edges into the
  type), ``tau_R2`` and ``V_rest_R2``: which types hold a score down;
- the counts a reader needs to judge those numbers: neurons, incoming edges, neurons
  without any incoming edge (at the border of the lattice), neurons whose voltage never
  varied (upstream scores them τ̂ = V̂_rest = 1) and how many of those have no incoming
  edge, and neurons with μ + s ≤ 0, whose outgoing weights are not identifiable
  (upstream: s_g = 1).

``per_type_recovery`` is pure (arrays in, columns out); ``write_per_type`` writes the
columns as ``per-type.csv`` for the report. A replicate run's per-type record adds
:data:`VOLTAGE_SD` (:func:`voltage_sd_per_type`), the voltage range the estimates were read on.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from flygnn.analysis.biophysics import per_type_median
from flygnn.analysis.metrics import W_OUTLIER_THRESHOLD, upstream_fit, upstream_residuals
from flygnn.atomic import write_text

# the notebooks write it as flygnn.analysis.per_type.PER_TYPE_FILE; the results layout defines it
from flygnn.project import PER_TYPE_FILE as PER_TYPE_FILE

# the file's columns, in order; "type" is the cell-type name, the rest numbers
PER_TYPE_COLUMNS = (
    "type",
    "neurons",
    "incoming_edges",
    "no_input_neurons",
    "zero_range_neurons",
    "zero_range_no_input_neurons",
    "unidentifiable_neurons",
    "tau_true",
    "tau_recovered",
    "V_rest_true",
    "V_rest_recovered",
    "W_incoming_R2",
    "W_incoming_edges_scored",
    "W_residual_share",
    "tau_residual_share",
    "V_rest_residual_share",
)
# beside them in a replicate run's per-type record: how far the type's voltage moved over the
# sampled training frames, the range its τ̂ and V̂_rest were read on
VOLTAGE_SD = "voltage_sd"


def per_type_recovery(
    type_names: Sequence[str],
    neuron_type: np.ndarray,
    target: np.ndarray,
    true_tau: np.ndarray,
    true_v_rest: np.ndarray,
    true_W: np.ndarray,
    upstream_tau: np.ndarray,
    upstream_v_rest: np.ndarray,
    upstream_W: np.ndarray,
    zero_range: np.ndarray,
    unidentifiable: np.ndarray,
) -> dict[str, np.ndarray]:
    """The per-type table as columns of :data:`PER_TYPE_COLUMNS`, one row per type.

    type_names: (T,) names; neuron_type: (N,) int type index of each neuron;
    target: (E,) postsynaptic neuron of each edge; true_tau (s), true_v_rest (a.u.),
    upstream_tau, upstream_v_rest: (N,); true_W, upstream_W: (E,) (upstream_W: W* by
    upstream's rules, finite); zero_range, unidentifiable: (N,) bool.
    W_incoming_R2 is NaN for a type with fewer than two scored incoming edges or
    constant true weights on them.
    """
    neuron_type = np.asarray(neuron_type, dtype=np.int64)
    n_types = len(type_names)
    true_W = np.asarray(true_W, dtype=np.float64)
    upstream_W = np.asarray(upstream_W, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    edge_type = neuron_type[target]
    no_input = np.bincount(target, minlength=neuron_type.size) == 0
    zero_range = np.asarray(zero_range, dtype=bool)
    kept = np.abs(upstream_W - true_W) <= W_OUTLIER_THRESHOLD
    r2 = np.full(n_types, np.nan)
    scored = np.zeros(n_types, dtype=np.int64)
    order = np.argsort(edge_type, kind="stable")
    bounds = np.searchsorted(edge_type[order], np.arange(n_types + 1))
    for t in range(n_types):
        edges = order[bounds[t] : bounds[t + 1]]
        edges = edges[kept[edges]]
        scored[t] = edges.size
        if edges.size >= 2:
            r2[t] = upstream_fit(true_W[edges], upstream_W[edges])[0]

    def share(groups: np.ndarray, true: np.ndarray, learned: np.ndarray) -> np.ndarray:
        """Each type's share of Σ residual²; NaN when there is no residual to share (R² = 1
        up to rounding) or no line."""
        learned = np.asarray(learned, dtype=np.float64)
        if learned.size < 2:
            return np.full(n_types, np.nan)
        squares = upstream_residuals(true, learned) ** 2
        total = squares.sum()
        if not (np.isfinite(total) and total > 1e-12 * ((learned - learned.mean()) ** 2).sum()):
            return np.full(n_types, np.nan)
        return np.bincount(groups, weights=squares, minlength=n_types) / total

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(neuron_type[np.asarray(mask, dtype=bool)], minlength=n_types)

    return {
        "type": np.asarray(type_names, dtype=object),
        "neurons": np.bincount(neuron_type, minlength=n_types),
        "incoming_edges": np.bincount(edge_type, minlength=n_types),
        "no_input_neurons": count(no_input),
        "zero_range_neurons": count(zero_range),
        "zero_range_no_input_neurons": count(zero_range & no_input),
        "unidentifiable_neurons": count(unidentifiable),
        "tau_true": per_type_median(np.asarray(true_tau, dtype=np.float64), neuron_type, n_types),
        "tau_recovered": per_type_median(np.asarray(upstream_tau, dtype=np.float64), neuron_type, n_types),
        "V_rest_true": per_type_median(np.asarray(true_v_rest, dtype=np.float64), neuron_type, n_types),
        "V_rest_recovered": per_type_median(np.asarray(upstream_v_rest, dtype=np.float64), neuron_type, n_types),
        "W_incoming_R2": r2,
        "W_incoming_edges_scored": scored,
        "W_residual_share": share(edge_type[kept], true_W[kept], upstream_W[kept]),
        "tau_residual_share": share(neuron_type, true_tau, upstream_tau),
        "V_rest_residual_share": share(neuron_type, true_v_rest, upstream_v_rest),
    }


def voltage_sd_per_type(frames_voltage: np.ndarray, neuron_type: np.ndarray, n_types: int) -> np.ndarray:
    """(T,) the median over each type's neurons of the neuron's voltage standard deviation
    (unbiased) over the sampled frames. frames_voltage: (K, N) voltages (a.u.); neuron_type: (N,)
    type index of each neuron. NaN for a type without neurons, and everywhere when K < 2."""
    frames_voltage = np.asarray(frames_voltage, dtype=np.float64)
    if frames_voltage.shape[0] < 2:
        return np.full(n_types, np.nan)
    return per_type_median(frames_voltage.std(axis=0, ddof=1), np.asarray(neuron_type), n_types)


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    return "nan" if not math.isfinite(value) else f"{value:.8g}"


def per_type_csv(columns: dict[str, np.ndarray], names: Sequence[str] = PER_TYPE_COLUMNS) -> str:
    """The columns ``names`` as CSV text (header ``names``, by default :data:`PER_TYPE_COLUMNS`;
    NaN written as "nan")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*(columns[name] for name in names), strict=False):
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def write_per_type(path: str | Path, columns: dict[str, np.ndarray], names: Sequence[str] = PER_TYPE_COLUMNS) -> Path:
    """Write ``per_type_csv(columns, names)`` to ``path`` atomically."""
    write_text(path, per_type_csv(columns, names))
    return Path(path)
