"""Known answers of the metric definitions, upstream's rules, and recovery_metrics on the oracle."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from oracle_networks import activity_for, random_network

from flygnn.analysis import (
    BiophysicalParameters,
    GaugeCorrection,
    Metric,
    OracleModel,
    identity_r2,
    ols_fit,
    recovery_metrics,
    weight_metrics,
    write_metrics,
)
from flygnn.analysis.metrics import biophysics_metrics, upstream_fit
from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS


def test_ols_fit_known_answers():
    x = np.arange(10.0)
    assert ols_fit(x, 2 * x + 1) == pytest.approx((1.0, 2.0))
    rng = np.random.default_rng(0)
    y = x + rng.normal(0, 1, 10)
    r2, slope = ols_fit(x, y)
    assert r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)
    assert slope == pytest.approx(np.polyfit(x, y, 1)[0])
    # NaN pairs are left out, not zeroed
    assert ols_fit(np.r_[x, 5.0], np.r_[2 * x + 1, np.nan]) == pytest.approx((1.0, 2.0))
    assert np.isnan(ols_fit(np.ones(5), np.arange(5.0))[0])


def test_identity_r2_can_be_negative_while_ols_r2_is_one():
    x = np.arange(10.0)
    assert identity_r2(x, x) == pytest.approx(1.0)
    assert identity_r2(x, 3 * x) < 0
    assert ols_fit(x, 3 * x)[0] == pytest.approx(1.0)


def test_upstream_fit_is_upstreams_compute_r_squared():
    x = np.arange(10.0)
    rng = np.random.default_rng(0)
    y = 0.5 * x + rng.normal(0, 1, 10)
    r2, slope = upstream_fit(x, y)
    fit = np.polyfit(x, y, 1)
    residual = y - np.polyval(fit, x)
    assert r2 == pytest.approx(1 - (residual @ residual) / ((y - y.mean()) @ (y - y.mean())))
    assert slope == pytest.approx(fit[0])
    assert upstream_fit(x, np.full(10, 3.0)) == (0.0, 0.0)  # constant learned values: R² = 0, not NaN


def gauge_of(true_W, upstream_W, ours=None):
    """A stand-in for a fitted GaugeCorrection with given corrected weights."""
    ours = upstream_W if ours is None else ours
    return SimpleNamespace(upstream_corrected_W_=upstream_W, corrected_W_=ours, learned_W_=2 * true_W)


def test_weight_metrics_filter_outliers_and_count_them():
    rng = np.random.default_rng(1)
    W = rng.normal(0, 1, 1000)
    upstream = W.copy()
    upstream[:10] += 50  # outliers beyond |W* − W| > 5
    ours = upstream.copy()
    ours[10:13] = np.nan  # undefined for us; upstream's rules filled these in (here: exactly W)
    m = weight_metrics(W, gauge_of(W, upstream, ours))
    assert m["W_corrected_R2"].value == pytest.approx(1.0)
    assert m["W_corrected_slope"].value == pytest.approx(1.0)
    assert m["W_corrected_R2"].details["edges"] == 990
    assert m["W_corrected_outlier_edges"].value == 10
    assert m["W_corrected_undefined_edges"].value == 3
    assert m["W_corrected_R2_identifiable"].details["edges"] == 987
    assert m["W_corrected_R2_unfiltered"].value < 0.5
    assert m["W_raw_slope"].value == pytest.approx(2.0)
    assert m["W_corrected_R2"].definition == "upstream-W-r2"


def unidentifiable_and_zero_range_oracle():
    """12 neurons, 60 edges; neuron 0 never drives ReLU (μ + s ≤ 0), neuron 1 never varies (s = 0).

    Message gains c = 2 everywhere and update gains k = 1.5: W* = Ŵ k s_g = W s_g / c, so
    upstream's s_g = 1 for neuron 0 gives W*/W = 1/2 on its outgoing edges; neuron 1's empty
    range gives s_g = 0 (its outgoing W* = 0) and s_f = 0 (its incoming W* = −Ŵ/0 → 0, τ̂ = 1,
    V̂_rest = 1); every other edge and neuron is recovered exactly.
    """
    n = 12
    source, target, W, tau, v_rest = random_network(n=n, e=60, seed=5)
    source[:3], target[3:6] = 0, 1  # make sure both special neurons have edges
    target[6:9], source[9:12] = 0, 1
    mean = np.linspace(0.2, 0.9, n)
    std = np.full(n, 0.1)
    mean[0], std[0] = -0.5, 0.2  # μ + s = −0.3 ≤ 0
    mean[1], std[1] = 0.4, 0.0  # zero range
    activity = activity_for(n, mean=mean, std=std)
    model = OracleModel(source, target, W, tau, v_rest, message_gain=np.full(n, 2.0), update_gain=np.full(n, 1.5))
    expected_W = W.copy()
    expected_W[source == 0] = W[source == 0] / 2
    expected_W[(source == 1) | (target == 1)] = 0.0
    expected_tau, expected_v_rest = np.clip(tau.copy(), 0, 1), v_rest.copy()
    expected_tau[1] = expected_v_rest[1] = 1.0
    return model, activity, SimpleNamespace(W=W, tau=tau, v_rest=v_rest), expected_W, expected_tau, expected_v_rest


def test_upstream_rules_score_unidentifiable_and_zero_range_neurons_by_fiat():
    model, activity, truth, expected_W, expected_tau, expected_v_rest = unidentifiable_and_zero_range_oracle()
    with pytest.warns(UserWarning, match=r"1 neuron\(s\) never changed voltage .* score them with update slope 0"):
        gauge = GaugeCorrection().fit(model, activity)
    assert gauge.unidentifiable_.tolist()[:2] == [True, False] and gauge.zero_range_.tolist()[:2] == [False, True]
    assert gauge.upstream_message_slope_[0] == 1.0 and gauge.upstream_message_slope_[1] == 0.0
    assert gauge.upstream_update_slope_[1] == 0.0 and gauge.upstream_update_offset_[1] == 0.0
    np.testing.assert_allclose(gauge.upstream_corrected_W_, expected_W, atol=1e-10)
    bio = BiophysicalParameters().fit(gauge)
    np.testing.assert_allclose(bio.upstream_tau_, expected_tau, atol=1e-10)
    np.testing.assert_allclose(bio.upstream_v_rest_, expected_v_rest, atol=1e-10)
    with pytest.warns(UserWarning, match="never changed voltage"):
        scores = recovery_metrics(model, activity, truth)
    assert (scores["W_corrected_R2"], scores["W_corrected_slope"]) == pytest.approx(upstream_fit(truth.W, expected_W))
    assert scores["W_corrected_R2"] < 0.99  # the fiat changes the number ...
    assert scores["tau_R2"] == pytest.approx(upstream_fit(truth.tau, expected_tau)[0])
    assert scores["V_rest_R2"] == pytest.approx(upstream_fit(truth.v_rest, expected_v_rest)[0])
    # ... which the principled variants leave out: every defined W*, τ̂ and V̂_rest is exact
    metrics = weight_metrics(truth.W, gauge) | biophysics_metrics(truth.tau, truth.v_rest, bio, gauge.zero_range_)
    assert metrics["W_corrected_R2_identifiable"].value == pytest.approx(1.0, abs=1e-12)
    undefined = (model.source.numpy() == 0) | (model.source.numpy() == 1) | (model.target.numpy() == 1)
    assert metrics["W_corrected_undefined_edges"].value == int(undefined.sum())
    assert metrics["tau_R2_excluding_zero_range"].value == pytest.approx(1.0, abs=1e-12)
    assert metrics["V_rest_R2_excluding_zero_range"].value == pytest.approx(1.0, abs=1e-12)
    assert metrics["zero_range_neurons"].value == 1


def test_tau_is_clipped_for_the_upstream_score_and_counted():
    tau = np.linspace(0.02, 0.3, 50)
    estimate = tau.copy()
    estimate[0] = 7.0
    bio = SimpleNamespace(
        tau_=estimate, v_rest_=tau, v_rest_operating_=tau, upstream_tau_=np.clip(estimate, 0, 1), upstream_v_rest_=tau
    )
    m = biophysics_metrics(tau, tau, bio, np.zeros(50, bool), neuron_type=np.arange(50) % 5)
    assert m["tau_clipped_neurons"].value == 1
    clipped = estimate.copy()
    clipped[0] = 1.0
    assert m["tau_R2"].value == pytest.approx(np.corrcoef(tau, clipped)[0, 1] ** 2)
    assert m["V_rest_R2"].value == pytest.approx(1.0)
    assert m["V_rest_R2_per_type"].details["types"] == 5


def test_recovery_metrics_of_the_oracle_are_one():
    source, target, W, tau, v_rest = random_network(n=60, e=400, seed=2)
    rng = np.random.default_rng(3)
    model = OracleModel(
        source, target, W, tau, v_rest, message_gain=rng.uniform(0.5, 2, 60), update_gain=rng.uniform(0.5, 2, 60)
    )
    truth = SimpleNamespace(W=W.astype(np.float32), tau=tau.astype(np.float32), v_rest=v_rest.astype(np.float32))
    metrics = recovery_metrics(model, activity_for(60), truth)
    assert tuple(metrics) == RECOVERY_METRICS
    assert all(isinstance(v, float) for v in metrics.values())
    for value in metrics.values():
        assert value == pytest.approx(1.0, abs=1e-6)


def test_recovery_metrics_see_a_wrong_model():
    source, target, W, tau, v_rest = random_network(n=60, e=400, seed=2)
    rng = np.random.default_rng(4)
    wrong = OracleModel(source, target, W + rng.normal(0, 1, W.size), tau * rng.uniform(0.5, 2, 60), v_rest)
    truth = SimpleNamespace(W=W, tau=tau, v_rest=v_rest)
    metrics = recovery_metrics(wrong, activity_for(60), truth)
    assert metrics["W_corrected_R2"] < 0.8
    assert metrics["tau_R2"] < 0.9


def test_recovery_metrics_refuse_ground_truth_of_another_network():
    source, target, W, tau, v_rest = random_network(n=60, e=400)
    model = OracleModel(source, target, W, tau, v_rest)
    truth = SimpleNamespace(W=W[:-1], tau=tau, v_rest=v_rest)
    with pytest.raises(FlygnnError, match="different networks"):
        recovery_metrics(model, activity_for(60), truth)


def test_metrics_file_carries_value_and_definition(tmp_path):
    path = tmp_path / "metrics" / "x.json"
    write_metrics(
        path,
        {"W_raw_R2": Metric(0.5, "ols-r2", {"edges": 3}), "W_raw_nonfinite_edges": Metric(float("nan"), "count")},
        {"bundle": "abc"},
    )
    document = json.loads(path.read_text())
    assert document["W_raw_R2"] == {"value": 0.5, "definition": "ols-r2", "edges": 3, "inputs": {"bundle": "abc"}}
    assert document["W_raw_nonfinite_edges"]["value"] is None
    assert Metric(np.int64(3), "count").to_json()["value"] == 3  # counts stay integers
    assert isinstance(Metric(np.int64(3), "count").value, int)
    with pytest.raises(KeyError):
        Metric(1.0, "no-such-definition")


def test_small_weight_scores_leave_out_large_weights_by_upstream_rules():
    """Large weights recovered exactly, small ones noisy: the full R² hides what the small-weight R² shows."""
    rng = np.random.default_rng(2)
    W = np.r_[rng.normal(0, 0.2, 990), rng.choice([-4.0, 4.0], 10)]
    upstream = W + np.r_[rng.normal(0, 0.2, 990), np.zeros(10)]
    upstream[0] = W[0] + 50  # an outlier: left out of both, as in W_corrected_R2
    m = weight_metrics(W, gauge_of(W, upstream))
    small = (np.abs(W) < 1) & (np.abs(upstream - W) <= 5)
    assert m["W_corrected_R2_small_weights"].value == pytest.approx(upstream_fit(W[small], upstream[small])[0])
    assert m["W_corrected_slope_small_weights"].value == pytest.approx(upstream_fit(W[small], upstream[small])[1])
    assert m["W_corrected_R2_small_weights"].details["edges"] == 989
    assert m["W_corrected_R2_small_weights"].details["large_weight_edges_left_out"] == 10
    assert m["W_corrected_R2"].value > 0.8 > 0.6 > m["W_corrected_R2_small_weights"].value
    assert m["W_corrected_R2_small_weights"].definition == "upstream-W-r2-small-weights"
