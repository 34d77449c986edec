"""Recovery metrics: the upstream-compatible numbers and our additions beside them.

Upstream-compatible (DESIGN 7.8, under upstream's names): R² = 1 − SS_res/SS_tot of
the least-squares line learned-on-true (the squared correlation) with its slope;
W* scored on edges with |W* − W| ≤ 5; τ̂ clipped to [0, 1]; one point per neuron.

Additions (DESIGN 7.9, reported beside, never instead): identity-line R² (can be
negative), unfiltered W* R² with the number of edges excluded, per-type τ/V_rest
scores, NaN counts, and the operating-point V_rest.

Every metric carries the name of its definition (:data:`DEFINITIONS`) so a number
in the report can always be traced to how it was computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.atomic import write_json

W_OUTLIER_THRESHOLD = 5.0  # upstream: edges with |W* − W| > 5 are left out of the W* score
TAU_CLIP = (0.0, 1.0)  # upstream clips τ̂ to [0, 1] s before scoring

DEFINITIONS: dict[str, str] = {
    "ols-r2": "R² = 1 − SS_res/SS_tot of the least-squares line learned-on-true (= squared Pearson "
    "correlation), finite pairs only; upstream flyvis-gnn definition.",
    "ols-slope": "slope of the least-squares line learned-on-true, finite pairs only.",
    "ols-r2-outliers-removed": "ols-r2 over the edges with finite W* and |W* − W| ≤ 5 (upstream filter).",
    "ols-slope-outliers-removed": "ols-slope over the edges with finite W* and |W* − W| ≤ 5 (upstream filter).",
    "ols-r2-tau-clipped": "ols-r2 per neuron with τ̂ clipped to [0, 1] s (upstream).",
    "identity-r2": "1 − Σ(learned − true)²/Σ(true − mean(true))²: agreement with the identity line; "
    "negative when worse than predicting the mean.",
    "ols-r2-per-type": "ols-r2 over the cell types (65 points): per-type median of the estimate against "
    "the per-type truth.",
    "count": "number of items (see the entry's description).",
    "fraction": "fraction of items (see the entry's description).",
    "hungarian-accuracy": "fraction of neurons whose GMM cluster is matched to their type by the "
    "one-to-one Hungarian assignment of clusters to types (upstream definition); mean over GMM seeds.",
    "hungarian-accuracy-std": "standard deviation of hungarian-accuracy over GMM seeds.",
    "adjusted-rand-index": "adjusted Rand index of clusters against types (sklearn); mean over GMM seeds.",
    "normalized-mutual-information": "normalised mutual information of clusters and types (sklearn, "
    "arithmetic mean); mean over GMM seeds.",
    "majority-purity": "fraction of neurons whose cluster's majority type is their type; mean over GMM seeds.",
    "singular-vector-alignment": "mean over the top-k singular vectors of W of the best |cosine| with any "
    "of the top-k singular vectors of W*.",
    "random-alignment-baseline": "expected best |cosine| of a unit vector with k random unit vectors in "
    "N dimensions.",
    "identity-r2-pooled": "identity-r2 over all (neuron, voltage) points of the curves at once.",
    "ols-r2-median-per-neuron": "median over neurons of the ols-r2 of one neuron's curve against the true "
    "function over its natural range (shape agreement, free of the gauge's gain and offset).",
    "ols-r2-singular-values": "ols-r2 of the top-k singular values of W* against those of W, matched by rank.",
}


@dataclass
class Metric:
    """One number with the name of its definition and optional details (counts, inputs)."""

    value: float | None
    definition: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.definition not in DEFINITIONS:
            raise KeyError(f"unknown metric definition {self.definition!r}")
        if isinstance(self.value, (int, np.integer)) and not isinstance(self.value, bool):
            self.value = int(self.value)  # counts stay integers
        elif self.value is not None:
            self.value = float(self.value)
            if not np.isfinite(self.value):
                self.value = None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "definition": self.definition, **self.details}


def _finite_pairs(true: np.ndarray, learned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(true, dtype=np.float64)
    learned = np.asarray(learned, dtype=np.float64)
    keep = np.isfinite(true) & np.isfinite(learned)
    return true[keep], learned[keep]


def ols_fit(true: np.ndarray, learned: np.ndarray) -> tuple[float, float]:
    """(R², slope) of the least-squares line learned = slope · true + c over finite pairs.

    R² = 1 − SS_res/SS_tot = squared correlation. NaN when fewer than 2 pairs or
    either side is constant.
    """
    x, y = _finite_pairs(true, learned)
    if x.size < 2:
        return float("nan"), float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy, sxy = float(dx @ dx), float(dy @ dy), float(dx @ dy)
    if sxx == 0:
        return float("nan"), float("nan")
    slope = sxy / sxx
    if syy == 0:
        return float("nan"), slope
    return sxy * sxy / (sxx * syy), slope


def identity_r2(true: np.ndarray, learned: np.ndarray) -> float:
    """1 − Σ(learned − true)²/Σ(true − mean)² over finite pairs (can be negative)."""
    x, y = _finite_pairs(true, learned)
    if x.size < 2:
        return float("nan")
    total = float(((x - x.mean()) ** 2).sum())
    if total == 0:
        return float("nan")
    return 1.0 - float(((y - x) ** 2).sum()) / total


def nonfinite(values: np.ndarray) -> int:
    values = np.asarray(values)
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def weight_metrics(true_W: np.ndarray, corrected_W: np.ndarray, learned_W: np.ndarray | None = None) -> dict[str, Metric]:
    """Scores of W* (and the raw Ŵ) against W, (E,) each."""
    true_W = np.asarray(true_W, dtype=np.float64)
    corrected_W = np.asarray(corrected_W, dtype=np.float64)
    n_edges = true_W.size
    with np.errstate(invalid="ignore"):
        kept = np.isfinite(corrected_W) & (np.abs(corrected_W - true_W) <= W_OUTLIER_THRESHOLD)
    r2, slope = ols_fit(true_W[kept], corrected_W[kept])
    r2_all, slope_all = ols_fit(true_W, corrected_W)
    n_nan = nonfinite(corrected_W)
    out = {
        "W_corrected_R2": Metric(r2, "ols-r2-outliers-removed", {"edges": int(kept.sum()), "edges_total": n_edges}),
        "W_corrected_slope": Metric(slope, "ols-slope-outliers-removed", {"edges": int(kept.sum())}),
        "W_corrected_R2_unfiltered": Metric(r2_all, "ols-r2", {"edges": n_edges - n_nan}),
        "W_corrected_slope_unfiltered": Metric(slope_all, "ols-slope", {"edges": n_edges - n_nan}),
        "W_corrected_R2_identity": Metric(identity_r2(true_W[kept], corrected_W[kept]), "identity-r2", {"edges": int(kept.sum())}),
        "W_corrected_excluded_edges": Metric(
            n_edges - int(kept.sum()),
            "count",
            {"description": "edges left out of W_corrected_R2: |W* − W| > 5 or W* not finite"},
        ),
        "W_corrected_nonfinite_edges": Metric(
            n_nan, "count", {"description": "edges whose W* is NaN/inf (undefined slope or non-finite Ŵ)"}
        ),
    }
    if learned_W is not None:
        learned_W = np.asarray(learned_W, dtype=np.float64)
        raw_r2, raw_slope = ols_fit(true_W, learned_W)
        out["W_raw_R2"] = Metric(raw_r2, "ols-r2", {"edges": n_edges - nonfinite(learned_W)})
        out["W_raw_slope"] = Metric(raw_slope, "ols-slope", {"edges": n_edges - nonfinite(learned_W)})
        out["W_raw_nonfinite_edges"] = Metric(
            nonfinite(learned_W), "count", {"description": "learned weights Ŵ that are NaN/inf (not zeroed)"}
        )
    return out


def biophysics_metrics(
    true_tau: np.ndarray,
    true_v_rest: np.ndarray,
    tau: np.ndarray,
    v_rest: np.ndarray,
    v_rest_operating: np.ndarray | None = None,
    neuron_type: np.ndarray | None = None,
) -> dict[str, Metric]:
    """Scores of τ̂ and V̂_rest (N,) against the truth (N,), per neuron and (given types) per type."""
    from flygnn.analysis.biophysics import per_type_median

    true_tau = np.asarray(true_tau, dtype=np.float64)
    true_v_rest = np.asarray(true_v_rest, dtype=np.float64)
    n = true_tau.size
    clipped = np.clip(tau, *TAU_CLIP)
    tau_r2, tau_slope = ols_fit(true_tau, clipped)
    v_r2, v_slope = ols_fit(true_v_rest, v_rest)
    out = {
        "tau_R2": Metric(tau_r2, "ols-r2-tau-clipped", {"neurons": n - nonfinite(tau)}),
        "tau_slope": Metric(tau_slope, "ols-slope", {"neurons": n - nonfinite(tau), "clipped": True}),
        "V_rest_R2": Metric(v_r2, "ols-r2", {"neurons": n - nonfinite(v_rest)}),
        "V_rest_slope": Metric(v_slope, "ols-slope", {"neurons": n - nonfinite(v_rest)}),
        "tau_R2_identity": Metric(identity_r2(true_tau, tau), "identity-r2", {"neurons": n - nonfinite(tau), "clipped": False}),
        "V_rest_R2_identity": Metric(identity_r2(true_v_rest, v_rest), "identity-r2", {"neurons": n - nonfinite(v_rest)}),
        "tau_clipped_neurons": Metric(
            int(np.count_nonzero((tau < TAU_CLIP[0]) | (tau > TAU_CLIP[1]))),
            "count",
            {"description": "neurons whose τ̂ lies outside [0, 1] s and was clipped for tau_R2"},
        ),
        "tau_nonfinite_neurons": Metric(nonfinite(tau), "count", {"description": "neurons whose τ̂ is NaN/inf"}),
        "V_rest_nonfinite_neurons": Metric(nonfinite(v_rest), "count", {"description": "neurons whose V̂_rest is NaN/inf"}),
    }
    if v_rest_operating is not None:
        r2, slope = ols_fit(true_v_rest, v_rest_operating)
        out["V_rest_operating_R2"] = Metric(r2, "ols-r2", {"neurons": n - nonfinite(v_rest_operating)})
        out["V_rest_operating_slope"] = Metric(slope, "ols-slope", {"neurons": n - nonfinite(v_rest_operating)})
    if neuron_type is not None:
        n_types = int(neuron_type.max()) + 1
        true_tau_type = per_type_median(true_tau, neuron_type, n_types)
        true_v_type = per_type_median(true_v_rest, neuron_type, n_types)
        out["tau_R2_per_type"] = Metric(
            ols_fit(true_tau_type, per_type_median(tau, neuron_type, n_types))[0], "ols-r2-per-type", {"types": n_types}
        )
        out["V_rest_R2_per_type"] = Metric(
            ols_fit(true_v_type, per_type_median(v_rest, neuron_type, n_types))[0], "ols-r2-per-type", {"types": n_types}
        )
        if v_rest_operating is not None:
            out["V_rest_operating_R2_per_type"] = Metric(
                ols_fit(true_v_type, per_type_median(v_rest_operating, neuron_type, n_types))[0],
                "ols-r2-per-type",
                {"types": n_types},
            )
    return out


def gauge_metrics(gauge) -> dict[str, Metric]:
    """Counts of neurons whose gauge could not be read (flagged, never set to 1)."""
    return {
        "unidentifiable_neurons": Metric(
            int(gauge.unidentifiable_.sum()),
            "count",
            {"description": "neurons with μ + s ≤ 0 (never drive ReLU): message gain not identifiable, outgoing W* NaN"},
        ),
        "zero_range_neurons": Metric(
            int(gauge.zero_range_.sum()), "count", {"description": "neurons whose voltage never varied (s = 0)"}
        ),
    }


def function_metrics(curves, message_slope: np.ndarray) -> dict[str, Metric]:
    """Agreement of the learned f_θ and g_φ² curves (a fitted FunctionCurves) with the true functions."""
    out = {}
    if curves.true_update_ is not None:
        finite = np.isfinite(curves.update_) & np.isfinite(curves.true_update_)
        out["f_theta_R2_identity"] = Metric(
            identity_r2(curves.true_update_[finite], curves.update_[finite]), "identity-r2-pooled", {"points": int(finite.sum())}
        )
        out["f_theta_R2_median"] = Metric(_median_r2(curves.true_update_, curves.update_), "ols-r2-median-per-neuron")
    out["g_phi_R2_median"] = Metric(_median_r2(curves.true_message_, curves.message_), "ols-r2-median-per-neuron")
    out["g_phi_unidentifiable_neurons"] = Metric(
        int(np.count_nonzero(~np.isfinite(message_slope))),
        "count",
        {"description": "neurons whose message gain s_g is undefined (left out of the normalised g_φ² figure)"},
    )
    return out


def _median_r2(true: np.ndarray, learned: np.ndarray) -> float:
    """Median over columns (neurons) of the squared correlation of (P, N) curves; constant columns skipped."""
    dt = true - true.mean(axis=0)
    dl = learned - learned.mean(axis=0)
    stt, sll, stl = (dt * dt).sum(axis=0), (dl * dl).sum(axis=0), (dt * dl).sum(axis=0)
    valid = (stt > 0) & (sll > 0) & np.isfinite(stl)
    if not valid.any():
        return float("nan")
    return float(np.median(stl[valid] ** 2 / (stt[valid] * sll[valid])))


def clustering_metrics(scores: dict[str, np.ndarray], imputed: int = 0) -> dict[str, Metric]:
    """Upstream clustering accuracy (mean over GMM seeds) and the robustness additions beside it."""
    seeds = len(scores["accuracy"])
    out = {
        "clustering_accuracy": Metric(np.mean(scores["accuracy"]), "hungarian-accuracy", {"seeds": seeds}),
        "clustering_accuracy_std": Metric(np.std(scores["accuracy"]), "hungarian-accuracy-std", {"seeds": seeds}),
        "clustering_ARI": Metric(np.mean(scores["ari"]), "adjusted-rand-index", {"seeds": seeds}),
        "clustering_NMI": Metric(np.mean(scores["nmi"]), "normalized-mutual-information", {"seeds": seeds}),
        "clustering_purity": Metric(np.mean(scores["purity"]), "majority-purity", {"seeds": seeds}),
        "clustering_imputed_features": Metric(
            imputed, "count", {"description": "non-finite feature entries replaced by their column median"}
        ),
    }
    out["clustering_accuracy"].details["per_seed"] = [float(x) for x in scores["accuracy"]]
    return out


def spectral_metrics(spectral) -> dict[str, Metric]:
    """Agreement of the spectra of W* and W (a fitted SpectralAnalysis)."""
    k = int(spectral.singular_values_true_.size)
    baseline = {"k": k, "random_best": float(spectral.random_best_)}
    return {
        "spectral_singular_values_R2": Metric(
            ols_fit(spectral.singular_values_true_, spectral.singular_values_corrected_)[0], "ols-r2-singular-values", {"k": k}
        ),
        "spectral_left_alignment": Metric(np.mean(spectral.best_left_alignment_), "singular-vector-alignment", dict(baseline)),
        "spectral_right_alignment": Metric(np.mean(spectral.best_right_alignment_), "singular-vector-alignment", dict(baseline)),
        "spectral_random_alignment": Metric(spectral.random_best_, "random-alignment-baseline", {"k": k}),
        "spectral_dropped_edges": Metric(
            int(spectral.dropped_edges_), "count", {"description": "edges with undefined (NaN) W*, left out of both N×N matrices"}
        ),
    }


def recovery_metrics(model, activity: dict[str, np.ndarray], ground_truth) -> dict[str, float]:
    """The four upstream-compatible recovery numbers of a model, as plain floats.

    model: any message-passing model (``message``/``aggregate``/``update``, ``W``, ``a``).
    activity: voltage_mean, voltage_std (N,), frames_voltage, frames_stimulus (K, N).
    ground_truth: has ``W`` (E,), ``tau`` (N,), ``v_rest`` (N,).
    Returns {"W_corrected_R2", "W_corrected_slope", "tau_R2", "V_rest_R2"}; NaN where undefined.
    """
    from flygnn.analysis.biophysics import BiophysicalParameters
    from flygnn.analysis.gauge import GaugeCorrection, check_model

    _check_ground_truth(ground_truth, *check_model(model))
    gauge = GaugeCorrection().fit(model, activity)
    bio = BiophysicalParameters().fit(gauge)
    metrics = weight_metrics(ground_truth.W, gauge.corrected_W_)
    metrics.update(biophysics_metrics(ground_truth.tau, ground_truth.v_rest, bio.tau_, bio.v_rest_))
    names = ("W_corrected_R2", "W_corrected_slope", "tau_R2", "V_rest_R2")
    return {name: (float("nan") if metrics[name].value is None else metrics[name].value) for name in names}


def _check_ground_truth(ground_truth, n: int, e: int) -> None:
    from flygnn.errors import FlygnnError

    shapes = {name: np.shape(getattr(ground_truth, name)) for name in ("W", "tau", "v_rest")}
    if shapes != {"W": (e,), "tau": (n,), "v_rest": (n,)}:
        raise FlygnnError(
            f"ground truth shapes {shapes} do not match the model ({n} neurons, {e} edges); "
            "the model and the ground truth belong to different networks."
        )


def write_metrics(path: str | Path, metrics: dict[str, Metric], inputs: dict[str, str] | None = None) -> None:
    """Write ``{"<metric>": {"value", "definition", ...}}`` atomically; ``inputs`` (fingerprints) go in every entry."""
    document = {}
    for name, metric in metrics.items():
        entry = metric.to_json()
        if inputs:
            entry["inputs"] = dict(inputs)
        document[name] = entry
    write_json(path, document)
