"""Scoring a trained model by upstream's rules: one fit, every number read from it.

The gauge correction and the biophysical parameters are fitted once per model; the
upstream-named scores (docs/design.md, section 7.8), upstream's clustering accuracy and the
per-type table (section 7.9, :mod:`flygnn.analysis.per_type`) are all read from that one
fit, so a replicate run's per-type record describes exactly the model its scores describe.
The metric definitions themselves are :mod:`flygnn.analysis.metrics`'.
"""

from __future__ import annotations

import numpy as np

from flygnn.analysis.biophysics import BiophysicalParameters
from flygnn.analysis.gauge import GaugeCorrection, check_model
from flygnn.analysis.metrics import biophysics_metrics, weight_metrics
from flygnn.analysis.per_type import VOLTAGE_SD, per_type_recovery, voltage_sd_per_type
from flygnn.errors import FlygnnError
from flygnn.metric_names import CLUSTERING_ACCURACY, RECOVERY_METRICS


class UpstreamScoring:
    """The upstream-named scores of a model and its per-type table, from one fit.

    Args:
        clustering: also score upstream's ``clustering_accuracy`` (one 100-component GMM,
            the slow part); without it ``scores_`` holds the four recovery numbers only.

    Attributes after :meth:`fit` (N neurons, T cell types):
        gauge_, biophysics_: the fitted :class:`GaugeCorrection` and :class:`BiophysicalParameters`.
        scores_: metric name → float, :data:`flygnn.metric_names.RECOVERY_METRICS` in order, then
            ``clustering_accuracy`` when asked; NaN where undefined.
        per_type_: the columns of :func:`flygnn.analysis.per_type.per_type_recovery` plus
            :data:`flygnn.analysis.per_type.VOLTAGE_SD`, one row per type of the network.
    """

    def __init__(self, clustering: bool = True) -> None:
        self.clustering = clustering

    def fit(self, model, activity: dict[str, np.ndarray], ground_truth, network) -> UpstreamScoring:
        """model: any message-passing model (``message``/``aggregate``/``update``, ``W``, ``a``);
        activity: the bundle's voltage_mean, voltage_std (N,), frames_voltage, frames_stimulus (K, N);
        ground_truth: ``W`` (E,), ``tau`` (N,) in s, ``v_rest`` (N,); network: ``type_names`` (T,),
        ``neuron_type`` (N,), ``source``, ``target`` (E,)."""
        self.scores_, self.gauge_, self.biophysics_ = _fit_recovery(model, activity, ground_truth)
        gauge, bio = self.gauge_, self.biophysics_
        if self.clustering:
            from flygnn.analysis.clustering import TypeClustering, clustering_features

            embedding = model.a.detach().cpu().double().numpy()
            features, _ = clustering_features(
                embedding,
                bio.upstream_tau_,
                bio.upstream_v_rest_,
                gauge.upstream_corrected_W_,
                network.source,
                network.target,
            )
            self.scores_[CLUSTERING_ACCURACY] = TypeClustering.upstream().fit(features, network.neuron_type).accuracy_
        self.per_type_ = per_type_recovery(
            network.type_names,
            network.neuron_type,
            network.target,
            ground_truth.tau,
            ground_truth.v_rest,
            ground_truth.W,
            bio.upstream_tau_,
            bio.upstream_v_rest_,
            gauge.upstream_corrected_W_,
            gauge.zero_range_,
            gauge.unidentifiable_,
        )
        self.per_type_[VOLTAGE_SD] = voltage_sd_per_type(
            activity["frames_voltage"], network.neuron_type, len(network.type_names)
        )
        return self


def recovery_metrics(model, activity: dict[str, np.ndarray], ground_truth) -> dict[str, float]:
    """The four upstream-named recovery numbers of a model (:data:`flygnn.metric_names.RECOVERY_METRICS`), as plain floats.

    model: any message-passing model (``message``/``aggregate``/``update``, ``W``, ``a``).
    activity: voltage_mean, voltage_std (N,), frames_voltage, frames_stimulus (K, N).
    ground_truth: has ``W`` (E,), ``tau`` (N,), ``v_rest`` (N,).
    The same code as the analysis' metrics.json (upstream's rules); NaN where undefined.
    """
    return _fit_recovery(model, activity, ground_truth)[0]


def upstream_scores(model, activity: dict[str, np.ndarray], ground_truth, network) -> dict[str, float]:
    """All five upstream-named numbers (:data:`flygnn.metric_names.UPSTREAM_METRICS`) of a model, as plain floats:
    :func:`recovery_metrics` plus upstream's ``clustering_accuracy`` (one GMM on the unscaled features),
    the same code as the analysis' metrics.json. ``network`` gives ``source``, ``target`` (E,) and
    ``neuron_type`` (N,). :class:`UpstreamScoring` gives the per-type table of the same fit beside them."""
    return UpstreamScoring().fit(model, activity, ground_truth, network).scores_


def _fit_recovery(model, activity: dict[str, np.ndarray], ground_truth):
    """(scores, gauge, biophysics): the four recovery numbers and the fits they were read from."""
    _check_ground_truth(ground_truth, *check_model(model))
    gauge = GaugeCorrection().fit(model, activity)
    bio = BiophysicalParameters().fit(gauge)
    metrics = weight_metrics(ground_truth.W, gauge)
    metrics.update(biophysics_metrics(ground_truth.tau, ground_truth.v_rest, bio, gauge.zero_range_))
    scores = {name: (float("nan") if metrics[name].value is None else metrics[name].value) for name in RECOVERY_METRICS}
    return scores, gauge, bio


def _check_ground_truth(ground_truth, n: int, e: int) -> None:
    shapes = {name: np.shape(getattr(ground_truth, name)) for name in ("W", "tau", "v_rest")}
    if shapes != {"W": (e,), "tau": (n,), "v_rest": (n,)}:
        raise FlygnnError(
            f"ground truth shapes {shapes} do not match the model ({n} neurons, {e} edges); "
            "the model and the ground truth belong to different networks."
        )
