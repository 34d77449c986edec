"""Known answers of the metric definitions and of recovery_metrics on the oracle."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from flygnn.analysis import Metric, OracleModel, identity_r2, ols_fit, recovery_metrics, weight_metrics, write_metrics
from flygnn.analysis.metrics import biophysics_metrics
from flygnn.errors import FlygnnError

from test_analysis_gauge import activity_for, random_network


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


def test_weight_metrics_filter_outliers_and_count_them():
    rng = np.random.default_rng(1)
    W = rng.normal(0, 1, 1000)
    corrected = W.copy()
    corrected[:10] += 50  # outliers beyond |W* − W| > 5
    corrected[10:13] = np.nan
    m = weight_metrics(W, corrected, learned_W=2 * W)
    assert m["W_corrected_R2"].value == pytest.approx(1.0)
    assert m["W_corrected_slope"].value == pytest.approx(1.0)
    assert m["W_corrected_excluded_edges"].value == 13
    assert m["W_corrected_nonfinite_edges"].value == 3
    assert m["W_corrected_R2_unfiltered"].value < 0.5
    assert m["W_raw_slope"].value == pytest.approx(2.0)
    assert m["W_corrected_R2"].definition == "ols-r2-outliers-removed"


def test_tau_is_clipped_for_the_upstream_score_and_counted():
    tau = np.linspace(0.02, 0.3, 50)
    estimate = tau.copy()
    estimate[0] = 7.0
    m = biophysics_metrics(tau, tau, estimate, tau, neuron_type=np.arange(50) % 5)
    assert m["tau_clipped_neurons"].value == 1
    clipped = estimate.copy()
    clipped[0] = 1.0
    assert m["tau_R2"].value == pytest.approx(np.corrcoef(tau, clipped)[0, 1] ** 2)
    assert m["V_rest_R2"].value == pytest.approx(1.0)
    assert m["V_rest_R2_per_type"].details["types"] == 5


def test_recovery_metrics_of_the_oracle_are_one():
    source, target, W, tau, v_rest = random_network(n=60, e=400, seed=2)
    rng = np.random.default_rng(3)
    model = OracleModel(source, target, W, tau, v_rest, message_gain=rng.uniform(0.5, 2, 60), update_gain=rng.uniform(0.5, 2, 60))
    truth = SimpleNamespace(W=W.astype(np.float32), tau=tau.astype(np.float32), v_rest=v_rest.astype(np.float32))
    metrics = recovery_metrics(model, activity_for(60), truth)
    assert set(metrics) == {"W_corrected_R2", "W_corrected_slope", "tau_R2", "V_rest_R2"}
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
    write_metrics(path, {"a": Metric(0.5, "ols-r2", {"edges": 3}), "b": Metric(float("nan"), "count")}, {"bundle": "abc"})
    document = json.loads(path.read_text())
    assert document["a"] == {"value": 0.5, "definition": "ols-r2", "edges": 3, "inputs": {"bundle": "abc"}}
    assert document["b"]["value"] is None
    assert Metric(np.int64(3), "count").to_json()["value"] == 3  # counts stay integers
    assert isinstance(Metric(np.int64(3), "count").value, int)
    with pytest.raises(KeyError):
        Metric(1.0, "no-such-definition")
