"""The analysis of a trained model (docs/design.md, section 7), as scikit-learn-style steps.

Every step works on any model with ``message(v, a)``, ``aggregate(m)`` and
``update(v, a, msg, I)`` (a trained GNN or :class:`OracleModel`) and on plain
arrays. Loading a condition's inputs, caching and saving for the notebooks is the
notebook context's (:mod:`flygnn.notebook.context`), above this package.
"""

from flygnn.analysis.biophysics import BiophysicalParameters, per_type_median
from flygnn.analysis.clustering import (
    TypeClustering,
    clustering_features,
    hungarian_accuracy,
    principal_components,
    true_parameter_features,
    umap_embedding,
)
from flygnn.analysis.functions import FunctionCurves, natural_range
from flygnn.analysis.gauge import GaugeCorrection
from flygnn.analysis.metrics import (
    Metric,
    biophysics_metrics,
    clustering_control_metrics,
    clustering_metrics,
    dynamics_metrics,
    function_metrics,
    gauge_metrics,
    identity_r2,
    ols_fit,
    spectral_metrics,
    weight_metrics,
    write_metrics,
)
from flygnn.analysis.oracle import OracleModel
from flygnn.analysis.scoring import UpstreamScoring, recovery_metrics, upstream_scores
from flygnn.analysis.spectral import (
    LinearisedDynamics,
    SpectralAnalysis,
    jacobian_matrix,
    permuted_weights,
    random_alignment_baseline,
    relu_slope,
    weight_matrix,
)

__all__ = [
    "BiophysicalParameters",
    "FunctionCurves",
    "GaugeCorrection",
    "LinearisedDynamics",
    "Metric",
    "OracleModel",
    "SpectralAnalysis",
    "TypeClustering",
    "UpstreamScoring",
    "biophysics_metrics",
    "clustering_control_metrics",
    "clustering_features",
    "clustering_metrics",
    "dynamics_metrics",
    "function_metrics",
    "hungarian_accuracy",
    "jacobian_matrix",
    "permuted_weights",
    "principal_components",
    "random_alignment_baseline",
    "relu_slope",
    "true_parameter_features",
    "spectral_metrics",
    "upstream_scores",
    "umap_embedding",
    "weight_matrix",
    "gauge_metrics",
    "identity_r2",
    "natural_range",
    "ols_fit",
    "per_type_median",
    "recovery_metrics",
    "weight_metrics",
    "write_metrics",
]
