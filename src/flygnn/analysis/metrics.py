"""Recovery metrics: the upstream-compatible numbers and our additions beside them.

Upstream-compatible (docs/design.md, section 7.8): the names in :data:`flygnn.metric_names.UPSTREAM_METRICS` follow
flyvis-gnn's own rules exactly, fiat choices included, so the summary table compares
like with like — 1000-point slope fits; s_g = 1 for neurons with μ + s ≤ 0, whose
edges are scored; an empty range gives slope 0 and then τ̂ = 1, V̂_rest = 1;
non-finite W* set to 0; R² = 1 − SS_res/SS_tot of the least-squares line learned-on-
true with its slope, W* on the edges with |W* − W| ≤ 5; τ̂ clipped to [0, 1]; every
neuron; clustering by one GMM (100 components, full covariance, random_state 42) on
the unscaled features.

Additions (docs/design.md, section 7.9, under their own names, never instead): the principled variants
(identifiable edges only, zero-range neurons excluded, standardised multi-seed
clustering, operating-point V_rest), identity-line R² (can be negative), unfiltered
W* R² with the numbers of edges left out, per-type τ/V_rest scores and NaN counts.

Controls, where a number alone could mislead: W* scored without the few edges with
|W| ≥ 1 that dominate its R²; the clustering on the embedding alone and on the true
parameters; the singular values and vectors of a permutation null (W shuffled on
the same graph) beside W*'s; and the spectrum of the linearised dynamics.

Every metric is written under its name in the registry (:mod:`flygnn.metric_names`)
and carries the name of its definition (:data:`flygnn.metric_names.DEFINITIONS`), so a
number in the report can always be traced to how it was computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flygnn import metric_names as names
from flygnn.atomic import write_json
from flygnn.metric_names import DEFINITIONS, check_keys, lookup

W_OUTLIER_THRESHOLD = 5.0  # upstream: edges with |W* − W| > 5 are left out of the W* score
# The few edges with |W| ≥ 1 (about 1,900 of 434,112) span most of W's range and so
# dominate SS_tot of an R²; the *_small_weights scores leave them out.
SMALL_WEIGHT_LIMIT = 1.0


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


def counted(key: str, value: int) -> Metric:
    """A count, described by the registry's words for metric ``key`` (what it counts)."""
    return Metric(value, "count", {"description": lookup(key).words})


def _sum_of_products(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b of two (n,) float64 arrays, with the same bits on any number of threads.

    Not ``a @ b``: BLAS splits a long dot product across its threads, so the rounding,
    and with it the last digits in metrics.json, followed the machine's thread count.
    numpy's pairwise summation adds in an order fixed by n alone.
    """
    return float(np.sum(a * b))


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
    line = _least_squares_line(*_finite_pairs(true, learned))
    if line is None:
        return float("nan"), float("nan")
    dx, dy, sxx, sxy, slope = line
    syy = _sum_of_products(dy, dy)
    if syy == 0:
        return float("nan"), slope
    return sxy * sxy / (sxx * syy), slope


def _least_squares_line(x: np.ndarray, y: np.ndarray):
    """(dx, dy, Σdx², Σdx·dy, slope) of the line y = slope · x + c, centred; None when fewer
    than 2 points or x is constant (no slope)."""
    if x.size < 2:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    sxx, sxy = _sum_of_products(dx, dx), _sum_of_products(dx, dy)
    if sxx == 0:
        return None
    return dx, dy, sxx, sxy, sxy / sxx


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


def upstream_fit(true: np.ndarray, learned: np.ndarray) -> tuple[float, float]:
    """(R², slope) exactly as flyvis-gnn's ``compute_r_squared``: least-squares line
    learned = slope · true + c, R² = 1 − SS_res/SS_tot with SS_tot of the learned values,
    and R² = 0 when the learned values are constant. Every pair counts (upstream has
    already replaced what it would not score); NaN only when ``true`` is constant.
    """
    line = _least_squares_line(np.asarray(true, dtype=np.float64), np.asarray(learned, dtype=np.float64))
    if line is None:
        return float("nan"), float("nan")
    dx, dy, _, _, slope = line
    ss_tot = _sum_of_products(dy, dy)
    if ss_tot == 0:
        return 0.0, slope
    residual = dy - slope * dx
    return 1.0 - _sum_of_products(residual, residual) / ss_tot, slope


def upstream_residuals(true: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """The residuals of :func:`upstream_fit`'s line, learned − (slope · true + c), one per pair:
    their squares sum to the SS_res behind upstream's R². NaN everywhere when ``true`` is constant."""
    learned = np.asarray(learned, dtype=np.float64)
    line = _least_squares_line(np.asarray(true, dtype=np.float64), learned)
    if line is None:
        return np.full(learned.shape, np.nan)
    dx, dy, _, _, slope = line
    return dy - slope * dx


def scored_edges(true_W: np.ndarray, corrected_W: np.ndarray) -> np.ndarray:
    """(E,) bool: the edges upstream's rules score, |W* − W| ≤ :data:`W_OUTLIER_THRESHOLD` (the rest
    are left out of ``W_corrected_R2`` as outliers). ``corrected_W``: W* by upstream's rules."""
    return (
        np.abs(np.asarray(corrected_W, dtype=np.float64) - np.asarray(true_W, dtype=np.float64)) <= W_OUTLIER_THRESHOLD
    )


def weight_metrics(true_W: np.ndarray, gauge) -> dict[str, Metric]:
    """Scores of the corrected weights of a fitted :class:`GaugeCorrection` (and its raw Ŵ) against W (E,).

    ``W_corrected_R2``/``_slope`` follow upstream's rules (``upstream_corrected_W_``);
    ``_identifiable`` scores our W* (``corrected_W_``) on the edges where it is defined.
    """
    true_W = np.asarray(true_W, dtype=np.float64)
    upstream = np.asarray(gauge.upstream_corrected_W_, dtype=np.float64)
    ours = np.asarray(gauge.corrected_W_, dtype=np.float64)
    learned = np.asarray(gauge.learned_W_, dtype=np.float64)
    n_edges = true_W.size
    kept = scored_edges(true_W, upstream)
    r2, slope = upstream_fit(true_W[kept], upstream[kept])
    r2_all, slope_all = upstream_fit(true_W, upstream)
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(ours) & (np.abs(ours - true_W) <= W_OUTLIER_THRESHOLD)
    r2_ours, slope_ours = ols_fit(true_W[defined], ours[defined])
    undefined = nonfinite(ours)
    raw_r2, raw_slope = ols_fit(true_W, learned)
    small = np.abs(true_W) < SMALL_WEIGHT_LIMIT
    kept_small = kept & small
    r2_small, slope_small = upstream_fit(true_W[kept_small], upstream[kept_small])
    small_details = {
        "edges": int(kept_small.sum()),
        "large_weight_edges_left_out": int((~small).sum()),
        "limit": SMALL_WEIGHT_LIMIT,
    }
    return {
        names.W_CORRECTED_R2: Metric(r2, "upstream-W-r2", {"edges": int(kept.sum()), "edges_total": n_edges}),
        names.W_CORRECTED_SLOPE: Metric(slope, "upstream-W-slope", {"edges": int(kept.sum())}),
        names.W_CORRECTED_R2_IDENTIFIABLE: Metric(r2_ours, "ols-r2-identifiable", {"edges": int(defined.sum())}),
        names.W_CORRECTED_SLOPE_IDENTIFIABLE: Metric(
            slope_ours, "ols-slope-identifiable", {"edges": int(defined.sum())}
        ),
        names.W_CORRECTED_R2_UNFILTERED: Metric(r2_all, "upstream-r2", {"edges": n_edges, "filter": "none"}),
        names.W_CORRECTED_SLOPE_UNFILTERED: Metric(slope_all, "upstream-slope", {"edges": n_edges, "filter": "none"}),
        names.W_CORRECTED_R2_IDENTITY: Metric(
            identity_r2(true_W[kept], upstream[kept]), "identity-r2", {"edges": int(kept.sum())}
        ),
        names.W_CORRECTED_R2_SMALL_WEIGHTS: Metric(r2_small, "upstream-W-r2-small-weights", dict(small_details)),
        names.W_CORRECTED_SLOPE_SMALL_WEIGHTS: Metric(
            slope_small, "upstream-W-slope-small-weights", dict(small_details)
        ),
        names.W_CORRECTED_OUTLIER_EDGES: counted(names.W_CORRECTED_OUTLIER_EDGES, int(n_edges - kept.sum())),
        names.W_CORRECTED_UNDEFINED_EDGES: counted(names.W_CORRECTED_UNDEFINED_EDGES, undefined),
        names.W_RAW_R2: Metric(raw_r2, "ols-r2", {"edges": n_edges - nonfinite(learned)}),
        names.W_RAW_SLOPE: Metric(raw_slope, "ols-slope", {"edges": n_edges - nonfinite(learned)}),
        names.W_RAW_NONFINITE_EDGES: counted(names.W_RAW_NONFINITE_EDGES, nonfinite(learned)),
    }


def biophysics_metrics(
    true_tau: np.ndarray, true_v_rest: np.ndarray, bio, zero_range: np.ndarray, neuron_type: np.ndarray | None = None
) -> dict[str, Metric]:
    """Scores of a fitted :class:`BiophysicalParameters` against the truth (N,), per neuron and (given types) per type.

    ``tau_R2``/``V_rest_R2`` follow upstream's rules (``upstream_tau_``/``upstream_v_rest_``,
    every neuron); ``_excluding_zero_range`` leaves out the neurons whose voltage never
    varied (``zero_range`` (N,) bool), where upstream scores its fill value 1.
    """
    from flygnn.analysis.biophysics import UPSTREAM_TAU_CLIP, per_type_median

    true_tau = np.asarray(true_tau, dtype=np.float64)
    true_v_rest = np.asarray(true_v_rest, dtype=np.float64)
    tau, v_rest, operating = bio.tau_, bio.v_rest_, bio.v_rest_operating_
    n = true_tau.size
    varied = ~np.asarray(zero_range, dtype=bool)
    tau_r2, tau_slope = upstream_fit(true_tau, bio.upstream_tau_)
    v_r2, v_slope = upstream_fit(true_v_rest, bio.upstream_v_rest_)
    clipped = np.clip(tau, *UPSTREAM_TAU_CLIP)
    out = {
        names.TAU_R2: Metric(tau_r2, "upstream-tau-r2", {"neurons": n}),
        names.TAU_SLOPE: Metric(tau_slope, "upstream-slope", {"neurons": n, "clipped": True}),
        names.V_REST_R2: Metric(v_r2, "upstream-V-rest-r2", {"neurons": n}),
        names.V_REST_SLOPE: Metric(v_slope, "upstream-slope", {"neurons": n}),
        names.TAU_R2_EXCLUDING_ZERO_RANGE: Metric(
            ols_fit(true_tau[varied], clipped[varied])[0],
            "ols-r2-excluding-zero-range",
            {"neurons": int(np.isfinite(tau[varied]).sum())},
        ),
        names.V_REST_R2_EXCLUDING_ZERO_RANGE: Metric(
            ols_fit(true_v_rest[varied], v_rest[varied])[0],
            "ols-r2-excluding-zero-range",
            {"neurons": int(np.isfinite(v_rest[varied]).sum())},
        ),
        names.TAU_R2_IDENTITY: Metric(
            identity_r2(true_tau, tau), "identity-r2", {"neurons": n - nonfinite(tau), "clipped": False}
        ),
        names.V_REST_R2_IDENTITY: Metric(
            identity_r2(true_v_rest, v_rest), "identity-r2", {"neurons": n - nonfinite(v_rest)}
        ),
        names.TAU_CLIPPED_NEURONS: counted(
            names.TAU_CLIPPED_NEURONS,
            int(np.count_nonzero((tau < UPSTREAM_TAU_CLIP[0]) | (tau > UPSTREAM_TAU_CLIP[1]))),
        ),
        names.ZERO_RANGE_NEURONS: counted(names.ZERO_RANGE_NEURONS, int(n - varied.sum())),
        names.V_REST_OPERATING_R2: Metric(
            ols_fit(true_v_rest, operating)[0], "ols-r2", {"neurons": n - nonfinite(operating)}
        ),
        names.V_REST_OPERATING_SLOPE: Metric(
            ols_fit(true_v_rest, operating)[1], "ols-slope", {"neurons": n - nonfinite(operating)}
        ),
    }
    if neuron_type is not None:
        n_types = int(neuron_type.max()) + 1
        true_tau_type = per_type_median(true_tau, neuron_type, n_types)
        true_v_type = per_type_median(true_v_rest, neuron_type, n_types)
        for name, truth, estimate in (
            (names.TAU_R2_PER_TYPE, true_tau_type, tau),
            (names.V_REST_R2_PER_TYPE, true_v_type, v_rest),
            (names.V_REST_OPERATING_R2_PER_TYPE, true_v_type, operating),
        ):
            out[name] = Metric(
                ols_fit(truth, per_type_median(estimate, neuron_type, n_types))[0],
                "ols-r2-per-type",
                {"types": n_types},
            )
    return out


def gauge_metrics(gauge) -> dict[str, Metric]:
    """Counts of neurons whose message gain could not be read (flagged; upstream sets s_g = 1)."""
    return {
        names.UNIDENTIFIABLE_NEURONS: counted(names.UNIDENTIFIABLE_NEURONS, int(gauge.unidentifiable_.sum())),
    }


def function_metrics(curves, message_slope: np.ndarray) -> dict[str, Metric]:
    """Agreement of the learned f_θ and g_φ² curves (a fitted FunctionCurves) with the true functions."""
    out = {}
    if curves.true_update_ is not None:
        finite = np.isfinite(curves.update_) & np.isfinite(curves.true_update_)
        out[names.F_THETA_R2_IDENTITY] = Metric(
            identity_r2(curves.true_update_[finite], curves.update_[finite]),
            "identity-r2-pooled",
            {"points": int(finite.sum())},
        )
        out[names.F_THETA_R2_MEDIAN] = Metric(
            _median_r2(curves.true_update_, curves.update_), "ols-r2-median-per-neuron"
        )
    out[names.G_PHI_R2_MEDIAN] = Metric(_median_r2(curves.true_message_, curves.message_), "ols-r2-median-per-neuron")
    out[names.G_PHI_UNIDENTIFIABLE_NEURONS] = counted(
        names.G_PHI_UNIDENTIFIABLE_NEURONS, int(np.count_nonzero(~np.isfinite(message_slope)))
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


def clustering_metrics(upstream_accuracy: float, scores: dict[str, np.ndarray], imputed: int = 0) -> dict[str, Metric]:
    """Upstream's clustering accuracy (one GMM, raw features) and our standardised multi-seed scores beside it."""
    seeds = len(scores["accuracy"])
    out = {
        names.CLUSTERING_ACCURACY: Metric(upstream_accuracy, "upstream-clustering-accuracy", {"seed": 42}),
        names.CLUSTERING_ACCURACY_STANDARDISED: Metric(
            np.mean(scores["accuracy"]),
            "hungarian-accuracy-standardised",
            {"seeds": seeds, "per_seed": [float(x) for x in scores["accuracy"]]},
        ),
        names.CLUSTERING_ACCURACY_STANDARDISED_STD: Metric(
            np.std(scores["accuracy"]), "hungarian-accuracy-std", {"seeds": seeds}
        ),
        names.CLUSTERING_ARI: Metric(np.mean(scores["ari"]), "adjusted-rand-index", {"seeds": seeds}),
        names.CLUSTERING_NMI: Metric(np.mean(scores["nmi"]), "normalized-mutual-information", {"seeds": seeds}),
        names.CLUSTERING_PURITY: Metric(np.mean(scores["purity"]), "majority-purity", {"seeds": seeds}),
        names.CLUSTERING_IMPUTED_FEATURES: counted(names.CLUSTERING_IMPUTED_FEATURES, imputed),
    }
    return out


def clustering_control_metrics(embedding_accuracy: float, true_parameters_accuracy: float) -> dict[str, Metric]:
    """The controls beside ``clustering_accuracy``: the same upstream GMM on the embedding alone and on the truth."""
    return {
        names.CLUSTERING_ACCURACY_EMBEDDING_ONLY: Metric(
            embedding_accuracy, "upstream-clustering-accuracy-embedding", {"seed": 42}
        ),
        names.CLUSTERING_ACCURACY_TRUE_PARAMETERS: Metric(
            true_parameters_accuracy, "upstream-clustering-accuracy-true-parameters", {"seed": 42}
        ),
    }


def singular_value_error(true: np.ndarray, other: np.ndarray) -> float:
    """Mean over ranks of |other_r − true_r| / true_r of two (k,) sequences matched by rank (true_r > 0)."""
    true = np.asarray(true, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(np.abs(np.asarray(other, dtype=np.float64) - true) / true))


def spectral_metrics(spectral) -> dict[str, Metric]:
    """Agreement of the spectra of W* and W (a fitted SpectralAnalysis), beside its permutation null."""
    true, corrected = spectral.singular_values_true_, spectral.singular_values_corrected_
    k = int(true.size)
    null = np.atleast_2d(spectral.null_singular_values_)
    shuffles = int(null.shape[0])
    baseline = {"k": k, "random_best": float(spectral.random_best_)}
    null_details = {"k": k, "shuffles": shuffles}

    def over_shuffles(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    return {
        names.SPECTRAL_SINGULAR_VALUES_R2: Metric(ols_fit(true, corrected)[0], "ols-r2-singular-values", {"k": k}),
        names.SPECTRAL_SINGULAR_VALUES_R2_NULL: Metric(
            over_shuffles([ols_fit(true, s)[0] for s in null]), "ols-r2-singular-values-null", dict(null_details)
        ),
        names.SPECTRAL_SINGULAR_VALUES_ERROR: Metric(
            singular_value_error(true, corrected), "singular-value-relative-error", {"k": k}
        ),
        names.SPECTRAL_SINGULAR_VALUES_ERROR_NULL: Metric(
            over_shuffles([singular_value_error(true, s) for s in null]),
            "singular-value-relative-error-null",
            dict(null_details),
        ),
        names.SPECTRAL_LEFT_ALIGNMENT: Metric(
            np.mean(spectral.best_left_alignment_), "singular-vector-alignment", dict(baseline)
        ),
        names.SPECTRAL_RIGHT_ALIGNMENT: Metric(
            np.mean(spectral.best_right_alignment_), "singular-vector-alignment", dict(baseline)
        ),
        names.SPECTRAL_LEFT_ALIGNMENT_NULL: Metric(
            np.mean(spectral.null_best_left_alignment_) if shuffles else None,
            "singular-vector-alignment-null",
            dict(null_details),
        ),
        names.SPECTRAL_RIGHT_ALIGNMENT_NULL: Metric(
            np.mean(spectral.null_best_right_alignment_) if shuffles else None,
            "singular-vector-alignment-null",
            dict(null_details),
        ),
        names.SPECTRAL_RANDOM_ALIGNMENT: Metric(spectral.random_best_, "random-alignment-baseline", {"k": k}),
        names.SPECTRAL_DROPPED_EDGES: counted(names.SPECTRAL_DROPPED_EDGES, int(spectral.dropped_edges_)),
    }


def dynamics_metrics(dynamics) -> dict[str, Metric]:
    """Stability and rightmost spectrum of the learned against the true Jacobian (a fitted LinearisedDynamics)."""
    true, learned = dynamics.eigenvalues_true_, dynamics.eigenvalues_learned_
    k = int(min(true.size, learned.size))
    unit = lookup(names.JACOBIAN_SPECTRAL_ABSCISSA_TRUE).unit  # the true and the learned one share it: 1/s
    return {
        names.JACOBIAN_SPECTRAL_ABSCISSA_TRUE: Metric(
            np.max(true.real), "jacobian-spectral-abscissa", {"unit": unit, "matrix": "true"}
        ),
        names.JACOBIAN_SPECTRAL_ABSCISSA_LEARNED: Metric(
            np.max(learned.real), "jacobian-spectral-abscissa", {"unit": unit, "matrix": "learned"}
        ),
        names.JACOBIAN_RIGHTMOST_ERROR: Metric(
            singular_value_error(np.abs(true.real[:k]), np.abs(learned.real[:k])) if k else None,
            "jacobian-rightmost-relative-error",
            {"k": k},
        ),
        names.JACOBIAN_ACTIVE_NEURONS: counted(names.JACOBIAN_ACTIVE_NEURONS, int(np.sum(dynamics.active_))),
        names.JACOBIAN_EXCLUDED_NEURONS: counted(names.JACOBIAN_EXCLUDED_NEURONS, int(dynamics.excluded_neurons_)),
        names.JACOBIAN_DROPPED_EDGES: counted(names.JACOBIAN_DROPPED_EDGES, int(dynamics.dropped_edges_)),
    }


def write_metrics(path: str | Path, metrics: dict[str, Metric], inputs: dict[str, str] | None = None) -> None:
    """Write ``{"<metric>": {"value", "definition", ...}}`` atomically, registered names only (the book reads
    no other); ``inputs`` (fingerprints) go in every entry."""
    check_keys(metrics, str(path), "register it in flygnn.metric_names (kind and words) before writing it")
    document = {}
    for name, metric in metrics.items():
        entry = metric.to_json()
        if inputs:
            entry["inputs"] = dict(inputs)
        document[name] = entry
    write_json(path, document)
