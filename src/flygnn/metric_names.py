"""The metric registry: every key of ``metrics.json``, defined once, with its kind, unit and meaning.

The analysis (:mod:`flygnn.analysis.metrics`) writes its numbers under the names
defined here, and every reader — the book (:mod:`flygnn.report`), the figures, the
training's progress lines — names them through the same constants, so a misspelt
name fails where it is written (an import or lint error) instead of reading "n/a"
in the book. A name that arrives as data (``metrics.json``, ``data/published.yaml``)
is checked with :func:`lookup` / :func:`check_keys`, whose error names the key and
the registered names closest to it.

Each entry says what kind of number it is (:data:`KINDS`), its unit, and in one line
what it means in words; :data:`DEFINITIONS` holds the exact rules behind the
definition names that ``metrics.json`` records beside each value (``"definition":
"upstream-W-r2"``), so a number in the book can always be traced to how it was
computed.

``RECOVERY_METRICS`` are the four numbers a model is scored by while it trains (the
score columns of ``training-history.csv`` and ``recovery`` in bundle.json);
``UPSTREAM_METRICS`` adds the clustering accuracy and makes the rows of the summary
table, so they are the metrics ``data/published.yaml`` may name. They carry upstream's
(flyvis-gnn's) names; the others are ours.

The training (:mod:`flygnn.train`) and the analysis are sibling stages and neither
imports the other, so the names live here, below both. Plain data and no imports
beyond the error type, so any layer may use them at no cost.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from flygnn.errors import FlygnnError

# what kind of number a metric is; the kind decides its unit and how the book writes it
R2 = "R²"
SLOPE = "slope"
COUNT = "count"
FRACTION = "fraction"
INDEX = "index"  # a score of agreement between two partitions (ARI, NMI)
SPREAD = "standard deviation"
RELATIVE_ERROR = "relative error"
COSINE = "cosine"
RATE = "rate"
CORRELATION = "correlation"  # Pearson r between two sets of values
ANGLE = "angle"
KINDS = (R2, SLOPE, COUNT, FRACTION, INDEX, SPREAD, RELATIVE_ERROR, COSINE, RATE, CORRELATION, ANGLE)
DIMENSIONLESS = "dimensionless"
UNITS = {COUNT: "count", RATE: "1/s", ANGLE: "degrees"}  # every other kind is dimensionless


class UnknownMetricError(FlygnnError):
    """A metric name that is not in the registry (a typo, or a metric nobody registered)."""


@dataclass(frozen=True)
class MetricInfo:
    """One registered metric: its key in metrics.json, kind, unit and what it means in words."""

    key: str
    kind: str
    words: str

    @property
    def unit(self) -> str:
        return UNITS.get(self.kind, DIMENSIONLESS)


_REGISTRY: dict[str, MetricInfo] = {}
METRICS: Mapping[str, MetricInfo] = MappingProxyType(_REGISTRY)
"""Every registered metric, key → :class:`MetricInfo`, grouped by the section that computes it."""


def _register(key: str, kind: str, words: str) -> str:
    if key in _REGISTRY:
        raise ValueError(f"metric {key!r} is registered twice")
    if kind not in KINDS:
        raise ValueError(f"metric {key!r}: kind {kind!r} is not one of {KINDS}")
    _REGISTRY[key] = MetricInfo(key, kind, words)
    return key


def _unknown(key: object) -> str:
    close = [repr(name) for name in difflib.get_close_matches(str(key), list(_REGISTRY), n=3, cutoff=0.6)]
    listed = ", ".join(close[:-1]) + " or " + close[-1] if len(close) > 1 else "".join(close)
    hint = f" (did you mean {listed}?)" if close else ""
    return f"unknown metric {key!r}{hint}"


def lookup(key: str) -> MetricInfo:
    """The registered metric ``key``; :class:`UnknownMetricError` naming the closest names if there is none."""
    try:
        return _REGISTRY[key]
    except (KeyError, TypeError):
        raise UnknownMetricError(f"{_unknown(key)}: every metric is registered in flygnn.metric_names.") from None


def check_keys(keys: Iterable[str], where: str, fix: str) -> None:
    """Raise :class:`UnknownMetricError` for the first of ``keys`` that is not registered: "<where>:
    unknown metric 'x' (did you mean …?); <fix>"."""
    for key in keys:
        if key not in _REGISTRY:
            raise UnknownMetricError(f"{where}: {_unknown(key)}; {fix}")


# --- connectivity: the weights W* after the gauge correction, and the raw Ŵ -------------------------
W_CORRECTED_R2 = _register(
    "W_corrected_R2",
    R2,
    "R² of the gauge-corrected weights W* against the true W, by upstream's rules (edges with |W* − W| ≤ 5)",
)
W_CORRECTED_SLOPE = _register(
    "W_corrected_slope", SLOPE, "slope of W* against W by upstream's rules: 1 when W* has the scale of W"
)
W_CORRECTED_R2_IDENTIFIABLE = _register(
    "W_corrected_R2_identifiable", R2, "R² of W* against W over the edges whose W* is defined (no guessed gain)"
)
W_CORRECTED_SLOPE_IDENTIFIABLE = _register(
    "W_corrected_slope_identifiable", SLOPE, "slope of W* against W over the edges whose W* is defined"
)
W_CORRECTED_R2_UNFILTERED = _register(
    "W_corrected_R2_unfiltered", R2, "R² of W* against W by upstream's rules over every edge, outliers included"
)
W_CORRECTED_SLOPE_UNFILTERED = _register(
    "W_corrected_slope_unfiltered", SLOPE, "slope of W* against W over every edge, outliers included"
)
W_CORRECTED_R2_IDENTITY = _register(
    "W_corrected_R2_identity",
    R2,
    "how close W* lies to the identity line W* = W (not a fitted line; negative when worse than the mean of W)",
)
W_CORRECTED_R2_SMALL_WEIGHTS = _register(
    "W_corrected_R2_small_weights",
    R2,
    "R² of W* against W by upstream's rules without the few edges with |W| ≥ 1, which dominate the R²",
)
W_CORRECTED_SLOPE_SMALL_WEIGHTS = _register(
    "W_corrected_slope_small_weights", SLOPE, "slope of W* against W without the few edges with |W| ≥ 1"
)
W_CORRECTED_OUTLIER_EDGES = _register(
    "W_corrected_outlier_edges", COUNT, "edges with |W* − W| > 5 (upstream rules), left out of W_corrected_R2"
)
W_CORRECTED_UNDEFINED_EDGES = _register(
    "W_corrected_undefined_edges",
    COUNT,
    "edges whose W* is undefined (source with μ + s ≤ 0, a neuron without voltage range, or non-finite Ŵ): "
    "scored with upstream's s_g = 1 / zero fill in W_corrected_R2, left out of W_corrected_R2_identifiable",
)
W_RAW_R2 = _register("W_raw_R2", R2, "R² of the learned weights Ŵ against W, before the gauge correction")
W_RAW_SLOPE = _register("W_raw_slope", SLOPE, "slope of the learned weights Ŵ against W, before the gauge correction")
W_RAW_NONFINITE_EDGES = _register("W_raw_nonfinite_edges", COUNT, "learned weights Ŵ that are NaN/inf (not zeroed)")
UNIDENTIFIABLE_NEURONS = _register(
    "unidentifiable_neurons",
    COUNT,
    "neurons with μ + s ≤ 0 (never drive ReLU): message gain not identifiable; "
    "upstream's rules set s_g = 1 and score their outgoing edges",
)

# --- biophysics: time constants τ and resting potentials V_rest ---------------------------------------
TAU_R2 = _register(
    "tau_R2", R2, "R² of the recovered time constants τ̂ against the true τ, every neuron, by upstream's rules"
)
TAU_SLOPE = _register("tau_slope", SLOPE, "slope of τ̂ (clipped to [0, 1] s) against the true τ")
V_REST_R2 = _register(
    "V_rest_R2", R2, "R² of the recovered resting potentials V̂_rest against the true V_rest, by upstream's rules"
)
V_REST_SLOPE = _register("V_rest_slope", SLOPE, "slope of V̂_rest against the true V_rest")
TAU_R2_EXCLUDING_ZERO_RANGE = _register(
    "tau_R2_excluding_zero_range", R2, "R² of τ̂ against τ without the neurons whose voltage never varied"
)
V_REST_R2_EXCLUDING_ZERO_RANGE = _register(
    "V_rest_R2_excluding_zero_range", R2, "R² of V̂_rest against V_rest without the neurons whose voltage never varied"
)
TAU_R2_IDENTITY = _register(
    "tau_R2_identity",
    R2,
    "how close τ̂ (unclipped) lies to the identity line τ̂ = τ (negative when worse than the mean)",
)
V_REST_R2_IDENTITY = _register(
    "V_rest_R2_identity",
    R2,
    "how close V̂_rest lies to the identity line V̂_rest = V_rest (negative when worse than the mean)",
)
TAU_CLIPPED_NEURONS = _register(
    "tau_clipped_neurons", COUNT, "neurons whose τ̂ lies outside [0, 1] s and is clipped in tau_R2"
)
ZERO_RANGE_NEURONS = _register(
    "zero_range_neurons",
    COUNT,
    "neurons whose voltage never varied (s = 0): τ̂ = V̂_rest = 1 in tau_R2 and V_rest_R2",
)
V_REST_OPERATING_R2 = _register(
    "V_rest_operating_R2", R2, "R² of V_rest read at the operating point (no input at all) against the true V_rest"
)
V_REST_OPERATING_SLOPE = _register(
    "V_rest_operating_slope", SLOPE, "slope of V_rest read at the operating point against the true V_rest"
)
TAU_R2_PER_TYPE = _register("tau_R2_per_type", R2, "R² over the cell types of the median τ̂ of each type against its τ")
V_REST_R2_PER_TYPE = _register(
    "V_rest_R2_per_type", R2, "R² over the cell types of the median V̂_rest of each type against its V_rest"
)
V_REST_OPERATING_R2_PER_TYPE = _register(
    "V_rest_operating_R2_per_type",
    R2,
    "R² over the cell types of the median operating-point V_rest of each type against its V_rest",
)

# --- learned functions: the update f_θ and the message g_φ ------------------------------------------------
F_THETA_R2_IDENTITY = _register(
    "f_theta_R2_identity",
    R2,
    "how close the learned update f_θ lies to the true (V_rest − v)/τ, all neurons and voltages at once: "
    "shape, gain and offset together",
)
F_THETA_R2_MEDIAN = _register(
    "f_theta_R2_median", R2, "median over neurons of the R² of f_θ's curve against the true one: its shape alone"
)
G_PHI_R2_MEDIAN = _register(
    "g_phi_R2_median", R2, "median over neurons of the R² of the message curve g_φ² against ReLU(v): its shape alone"
)
G_PHI_UNIDENTIFIABLE_NEURONS = _register(
    "g_phi_unidentifiable_neurons",
    COUNT,
    "neurons whose message gain s_g is undefined (left out of the normalised g_φ² figure)",
)

# --- embeddings: how well the cell types can be read from what was learned ------------------------------
CLUSTERING_ACCURACY = _register(
    "clustering_accuracy",
    FRACTION,
    "share of neurons in the cluster matched one-to-one to their cell type, upstream's GMM on the learned features",
)
CLUSTERING_ACCURACY_STANDARDISED = _register(
    "clustering_accuracy_standardised",
    FRACTION,
    "clustering accuracy on standardised features, mean over GMM seeds",
)
CLUSTERING_ACCURACY_STANDARDISED_STD = _register(
    "clustering_accuracy_standardised_std", SPREAD, "spread over GMM seeds of clustering_accuracy_standardised"
)
CLUSTERING_ARI = _register(
    "clustering_ARI", INDEX, "adjusted Rand index of the clusters against the cell types: 0 by chance, 1 when equal"
)
CLUSTERING_NMI = _register(
    "clustering_NMI", INDEX, "normalised mutual information of the clusters and the cell types: 0 unrelated, 1 equal"
)
CLUSTERING_PURITY = _register(
    "clustering_purity", FRACTION, "share of neurons whose cluster's most common cell type is their own"
)
CLUSTERING_IMPUTED_FEATURES = _register(
    "clustering_imputed_features",
    COUNT,
    "non-finite feature entries replaced by their column median (standardised clustering)",
)
CLUSTERING_ACCURACY_EMBEDDING_ONLY = _register(
    "clustering_accuracy_embedding_only",
    FRACTION,
    "clustering accuracy of upstream's GMM on the learned embedding a alone: what the type code separates",
)
CLUSTERING_ACCURACY_TRUE_PARAMETERS = _register(
    "clustering_accuracy_true_parameters",
    FRACTION,
    "clustering accuracy of upstream's GMM on the true parameters: what perfect recovery would give",
)

# --- spectra of W* and W, beside a permutation null; the linearised dynamics ------------------------------
SPECTRAL_SINGULAR_VALUES_R2 = _register(
    "spectral_singular_values_R2", R2, "R² of the top singular values of W* against those of W, matched by rank"
)
SPECTRAL_SINGULAR_VALUES_R2_NULL = _register(
    "spectral_singular_values_R2_null",
    R2,
    "the same R² for W's weights shuffled among the same edges: what the graph alone gives",
)
SPECTRAL_SINGULAR_VALUES_ERROR = _register(
    "spectral_singular_values_error",
    RELATIVE_ERROR,
    "mean relative error of the top singular values of W* against those of W, matched by rank",
)
SPECTRAL_SINGULAR_VALUES_ERROR_NULL = _register(
    "spectral_singular_values_error_null",
    RELATIVE_ERROR,
    "the same error for W's weights shuffled among the same edges",
)
SPECTRAL_LEFT_ALIGNMENT = _register(
    "spectral_left_alignment", COSINE, "mean best |cosine| of W's top left singular vectors with those of W*"
)
SPECTRAL_RIGHT_ALIGNMENT = _register(
    "spectral_right_alignment", COSINE, "mean best |cosine| of W's top right singular vectors with those of W*"
)
SPECTRAL_LEFT_ALIGNMENT_NULL = _register(
    "spectral_left_alignment_null", COSINE, "the same left-vector alignment for W's weights shuffled among its edges"
)
SPECTRAL_RIGHT_ALIGNMENT_NULL = _register(
    "spectral_right_alignment_null", COSINE, "the same right-vector alignment for W's weights shuffled among its edges"
)
SPECTRAL_RANDOM_ALIGNMENT = _register(
    "spectral_random_alignment", COSINE, "the best |cosine| expected of random unit vectors in as many dimensions"
)
SPECTRAL_DROPPED_EDGES = _register(
    "spectral_dropped_edges", COUNT, "edges with undefined (NaN) W*, left out of every N×N matrix"
)
JACOBIAN_SPECTRAL_ABSCISSA_TRUE = _register(
    "jacobian_spectral_abscissa_true",
    RATE,
    "largest real part of the eigenvalues of the true linearised dynamics: below 0 when locally stable",
)
JACOBIAN_SPECTRAL_ABSCISSA_LEARNED = _register(
    "jacobian_spectral_abscissa_learned",
    RATE,
    "largest real part of the eigenvalues of the learned linearised dynamics: below 0 when locally stable",
)
JACOBIAN_RIGHTMOST_ERROR = _register(
    "jacobian_rightmost_error",
    RELATIVE_ERROR,
    "mean relative error of the real parts of the slowest learned modes against the true ones, matched by rank",
)
JACOBIAN_ACTIVE_NEURONS = _register("jacobian_active_neurons", COUNT, "neurons in the Jacobians: μ > 0 and τ̂ defined")
JACOBIAN_EXCLUDED_NEURONS = _register(
    "jacobian_excluded_neurons", COUNT, "neurons with μ > 0 left out of both Jacobians: τ̂ undefined or 0"
)
JACOBIAN_DROPPED_EDGES = _register(
    "jacobian_dropped_edges", COUNT, "edges between Jacobian neurons left out of both: W* undefined"
)

# --- held-out validation (flygnn.analysis.heldout): the test split, never trained on ---
HELDOUT_DVDT_R2 = _register(
    "heldout_dvdt_R2", R2, "one-step dv/dt prediction on the test split against the recorded clean dv/dt, pooled"
)
HELDOUT_DVDT_R2_MEDIAN_TYPE = _register(
    "heldout_dvdt_R2_median_type", R2, "one-step dv/dt prediction on the test split: median over cell types"
)
HELDOUT_NORMALISED_LOSS = _register(
    "heldout_normalised_loss", RELATIVE_ERROR, "test-split MSE of dv/dt per neuron over its variance, averaged"
)
HELDOUT_ZERO_VARIANCE_NEURONS = _register(
    "heldout_zero_variance_neurons", COUNT, "neurons whose test-split target does not vary (left out of both)"
)
ROLLOUT_ERROR_MEAN = _register(
    "rollout_error_mean",
    RELATIVE_ERROR,
    "learned against true noise-free rollout: RMS error over neurons in "
    "units of each neuron's voltage std, mean over steps",
)
ROLLOUT_ERROR_MEDIAN = _register(
    "rollout_error_median", RELATIVE_ERROR, "the same rollout error for the median neuron, mean over steps"
)
ROLLOUT_ERROR_FINAL = _register("rollout_error_final", RELATIVE_ERROR, "the rollout's RMS error at its last step")
ROLLOUT_NOISE_ERROR_MEAN = _register(
    "rollout_noise_error_mean", RELATIVE_ERROR, "how far the noise alone moves the recording from the noise-free truth"
)
ROLLOUT_DIVERGED_STEP = _register(
    "rollout_diverged_step", COUNT, "first rollout step with a non-finite learned voltage (none: null)"
)
# --- functional validation (flygnn.analysis.functional): flyvis' indices, learned against true ---
FUNCTIONAL_DSI_ON_R = _register(
    "functional_DSI_ON_r", CORRELATION, "direction selectivity (ON edges), learned against true, across cell types"
)
FUNCTIONAL_DSI_OFF_R = _register(
    "functional_DSI_OFF_r", CORRELATION, "direction selectivity (OFF edges), learned against true, across cell types"
)
FUNCTIONAL_FRI_R = _register(
    "functional_FRI_r", CORRELATION, "flash response index (ON/OFF preference), learned against true, across types"
)
FUNCTIONAL_FRI_SIGN_AGREEMENT = _register(
    "functional_FRI_sign_agreement", FRACTION, "cell types whose ON/OFF preference is the true network's"
)
FUNCTIONAL_T4_DIRECTION_ERROR = _register(
    "functional_T4_direction_error", ANGLE, "preferred direction of T4a–d, learned against true: mean error"
)
FUNCTIONAL_T5_DIRECTION_ERROR = _register(
    "functional_T5_direction_error", ANGLE, "preferred direction of T5a–d, learned against true: mean error"
)

# written by the validations of a model on data it never saw (not by the oracle-checked sections)
HELDOUT_METRICS = (
    HELDOUT_DVDT_R2,
    HELDOUT_DVDT_R2_MEDIAN_TYPE,
    HELDOUT_NORMALISED_LOSS,
    HELDOUT_ZERO_VARIANCE_NEURONS,
    ROLLOUT_ERROR_MEAN,
    ROLLOUT_ERROR_MEDIAN,
    ROLLOUT_ERROR_FINAL,
    ROLLOUT_NOISE_ERROR_MEAN,
    ROLLOUT_DIVERGED_STEP,
)
FUNCTIONAL_METRICS = (
    FUNCTIONAL_DSI_ON_R,
    FUNCTIONAL_DSI_OFF_R,
    FUNCTIONAL_FRI_R,
    FUNCTIONAL_FRI_SIGN_AGREEMENT,
    FUNCTIONAL_T4_DIRECTION_ERROR,
    FUNCTIONAL_T5_DIRECTION_ERROR,
)
RECOVERY_METRICS = (W_CORRECTED_R2, W_CORRECTED_SLOPE, TAU_R2, V_REST_R2)
UPSTREAM_METRICS = (*RECOVERY_METRICS, CLUSTERING_ACCURACY)

# The rules behind the definition names metrics.json records beside each value ("definition"):
# how a number was computed, to the last choice, so the book can quote it.
DEFINITIONS: dict[str, str] = {
    "upstream-r2": "R² = 1 − SS_res/SS_tot of the least-squares line learned-on-true, SS_tot of the learned "
    "values (= squared Pearson correlation; 0 when the learned values are constant): flyvis-gnn's "
    "compute_r_squared.",
    "upstream-slope": "slope of the least-squares line learned-on-true (flyvis-gnn's compute_r_squared).",
    "upstream-W-r2": "upstream-r2 of W* against W by upstream's rules: 1000-point slope fits, s_g = 1 for "
    "neurons with μ + s ≤ 0 (their edges scored), slope 0 on an empty range, non-finite W* set to 0, "
    "edges with |W* − W| ≤ 5.",
    "upstream-W-slope": "upstream-slope of W* against W on the edges and by the rules of upstream-W-r2.",
    "upstream-tau-r2": "upstream-r2 over all neurons of τ̂ = −1/s_f (τ̂ = 1 where s_f = 0, e.g. a neuron whose "
    "voltage never varied), clipped to [0, 1] s: flyvis-gnn's derive_tau.",
    "upstream-V-rest-r2": "upstream-r2 over all neurons of V̂_rest = −b/s_f at msg = 0, I = 0 (V̂_rest = 1 "
    "where s_f = 0): flyvis-gnn's derive_vrest.",
    "upstream-clustering-accuracy": "Hungarian one-to-one accuracy of one GaussianMixture(100 components, full "
    "covariance, random_state 42, otherwise defaults) fitted on the unscaled features [a, τ̂, V̂_rest, "
    "mean/std of incoming and outgoing W*] by upstream's rules.",
    "ols-r2": "R² of the least-squares line learned-on-true (= squared Pearson correlation), finite pairs only.",
    "ols-slope": "slope of the least-squares line learned-on-true, finite pairs only.",
    "ols-r2-identifiable": "ols-r2 of W* against W over the edges whose W* is defined (source neuron with "
    "μ + s > 0, both end neurons with a voltage range) and |W* − W| ≤ 5: upstream's s_g = 1 guess left out.",
    "ols-slope-identifiable": "ols-slope over the edges of ols-r2-identifiable.",
    "ols-r2-excluding-zero-range": "ols-r2 over the neurons whose voltage varied over the training frames "
    "(s > 0), τ̂ clipped to [0, 1] s like upstream: upstream's τ̂ = 1, V̂_rest = 1 for the others left out.",
    "identity-r2": "1 − Σ(learned − true)²/Σ(true − mean(true))²: agreement with the identity line; "
    "negative when worse than predicting the mean.",
    "ols-r2-per-type": "ols-r2 over the cell types (65 points): per-type median of the estimate against "
    "the per-type truth.",
    "count": "number of items (see the entry's description).",
    "fraction": "fraction of items (see the entry's description).",
    "hungarian-accuracy-standardised": "Hungarian one-to-one accuracy of a GMM (100 components) on z-scored "
    "features [a, τ̂, V̂_rest, mean/std of incoming and outgoing identifiable W*]; mean over GMM seeds.",
    "hungarian-accuracy-std": "standard deviation over GMM seeds of hungarian-accuracy-standardised.",
    "adjusted-rand-index": "adjusted Rand index of clusters against types (sklearn); mean over GMM seeds.",
    "normalized-mutual-information": "normalised mutual information of clusters and types (sklearn, "
    "arithmetic mean); mean over GMM seeds.",
    "majority-purity": "fraction of neurons whose cluster's majority type is their type; mean over GMM seeds.",
    "singular-vector-alignment": "mean over the top-k singular vectors of W of the best |cosine| with any "
    "of the top-k singular vectors of W*.",
    "random-alignment-baseline": "expected best |cosine| of a unit vector with k random unit vectors in N dimensions.",
    "identity-r2-pooled": "identity-r2 over all (neuron, voltage) points of the curves at once.",
    "ols-r2-median-per-neuron": "median over neurons of the ols-r2 of one neuron's curve against the true "
    "function over its natural range (shape agreement, free of the gauge's gain and offset).",
    "ols-r2-singular-values": "ols-r2 of the top-k singular values of W* against those of W, matched by rank.",
    "upstream-W-r2-small-weights": "upstream-W-r2 over the edges with |W| < 1 only, upstream's rules otherwise: "
    "the few edges with |W| ≥ 1 span most of W's range and dominate the R²; this scores the rest.",
    "upstream-W-slope-small-weights": "upstream-W-slope over the edges of upstream-W-r2-small-weights.",
    "upstream-clustering-accuracy-embedding": "upstream-clustering-accuracy with the learned embedding a as the "
    "only features (the same GMM, unscaled): what the type code alone separates, without τ̂, V̂_rest and W*.",
    "upstream-clustering-accuracy-true-parameters": "upstream-clustering-accuracy on the true parameters: the "
    "features [τ, V_rest, mean/std of incoming and outgoing W] of the ground truth, no embedding, the same GMM. "
    "The reference for what perfectly recovered parameters would give with this clustering (an empirical "
    "ceiling, not a proven bound).",
    "singular-value-relative-error": "mean over ranks r = 1..k of |s_r(W*) − s_r(W)| / s_r(W): the top-k "
    "singular values matched by rank.",
    "singular-value-relative-error-null": "singular-value-relative-error of the permutation null (W's weights "
    "shuffled among the same edges: same graph, same weights, assignment lost) instead of W*; mean over shuffles.",
    "ols-r2-singular-values-null": "ols-r2-singular-values of the permutation null (W's weights shuffled among the "
    "same edges) instead of W*; mean over shuffles: what rank matching gives from the graph and the weight "
    "distribution alone.",
    "singular-vector-alignment-null": "singular-vector-alignment of the permutation null (W's weights shuffled "
    "among the same edges) instead of W*; mean over shuffles.",
    "jacobian-spectral-abscissa": "largest real part (1/s) of the eigenvalues of the Jacobian J = diag(1/τ)(−I + W·D) "
    "of dv/dt = (−v + V_rest + W ReLU(v) + I)/τ at the operating point, D = diag(ReLU'(μ)), μ = mean training "
    "voltage, on the neurons with μ > 0 (each other neuron adds exactly −1/τ_i). Negative: locally stable. "
    "Learned: τ̂ = −1/s_f and W*, on the neurons and edges where both are defined (the same for the true J).",
    "jacobian-rightmost-relative-error": "mean over ranks r = 1..k of |Re λ_r(learned J) − Re λ_r(true J)| / "
    "|Re λ_r(true J)|, the k rightmost eigenvalues (largest real part) of each matched by rank (see "
    "jacobian-spectral-abscissa). Not an R²: the true values can all be equal (one τ shared by many neurons "
    "outside recurrent loops), which leaves an R² undefined.",
    # held-out and functional validation (flygnn.analysis.heldout, flygnn.analysis.functional)
    "heldout-r2-pooled": "1 − Σ(dv̂/dt − dv/dt)²/Σ(dv/dt − mean)² over every (frame, neuron) of the test split: "
    "the model's one-step prediction at the recorded state against the recorded clean dv/dt.",
    "heldout-r2-median-type": "median over cell types of the per-type median over its neurons of the one-step R² "
    "(1 − SSE/SS_tot per neuron over the test split's frames); neurons whose target does not vary left out.",
    "normalised-mse": "mean over neurons of MSE(dv̂/dt, dv/dt)/Var(dv/dt) on the test split (= mean of 1 − R² per "
    "neuron): 0 is perfect, 1 is no better than each neuron's mean; comparable across σ. Neurons whose target "
    "does not vary (std < 1e-3 × the median neuron's: float32 rounding would dominate) left out.",
    "rollout-normalised-error-mean": "mean over steps 1..K of the RMS over neurons of (v_learned − v_true)/s_i, both "
    "integrated noise-free (v ← v + dt·dv/dt) from the test split's first state on its input; s_i = std of the "
    "true trace, at least 0.1 × its median over neurons.",
    "rollout-median-error-mean": "mean over steps 1..K of the median over neurons of |v_learned − v_true|/s_i (see "
    "rollout-normalised-error-mean): the typical neuron, where the RMS is led by the worst.",
    "rollout-normalised-error-final": "the RMS over neurons of (v_learned − v_true)/s_i at the last step K of the "
    "rollout (see rollout-normalised-error-mean).",
    "rollout-noise-error-mean": "rollout-normalised-error-mean of the true noise-free rollout against the recorded "
    "(noisy) voltages: how far the noise alone moves the recording; 0 at σ = 0.",
    "pearson-r-dsi": "Pearson correlation across cell types (central-column neuron) of the learned against the "
    "true network's direction selectivity index for moving edges of one polarity (flyvis' definition).",
    "pearson-r-fri": "Pearson correlation across cell types (central-column neuron) of the learned against the "
    "true network's flash response index (flyvis' definition).",
    "fri-sign-agreement": "fraction of cell types whose flash response index has the same sign in the learned "
    "and the true network (ON- vs OFF-preferring).",
    "preferred-direction-error": "mean over the subtypes of the absolute angle (degrees, 0–180) between the "
    "learned and the true network's preferred direction (flyvis' vector sum over angles and speeds).",
}
