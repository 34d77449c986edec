"""One fit, every number: the scores and the per-type table of UpstreamScoring agree with each other
and, on the analytic oracle, with the truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from oracle_networks import activity_for, random_network

from flygnn.analysis import OracleModel, UpstreamScoring, recovery_metrics
from flygnn.analysis.per_type import PER_TYPE_COLUMNS, VOLTAGE_SD, voltage_sd_per_type
from flygnn.metric_names import RECOVERY_METRICS

N, TYPES = 60, ("A", "B", "C", "D", "E")


def oracle_case(tau_factor: np.ndarray | None = None):
    """An oracle of a random 60-neuron network, five types (neuron i is of type i mod 5); the
    model's τ is the truth times ``tau_factor`` (default: the truth itself)."""
    source, target, W, tau, v_rest = random_network(n=N, e=400, seed=2)
    rng = np.random.default_rng(3)
    model_tau = tau if tau_factor is None else tau * tau_factor
    model = OracleModel(
        source, target, W, model_tau, v_rest, message_gain=rng.uniform(0.5, 2, N), update_gain=rng.uniform(0.5, 2, N)
    )
    network = SimpleNamespace(type_names=TYPES, neuron_type=np.arange(N) % 5, source=source, target=target)
    truth = SimpleNamespace(W=W, tau=tau, v_rest=v_rest)
    return model, activity_for(N), truth, network


def test_the_oracle_recovers_every_type_and_leaves_no_residual_to_share():
    model, activity, truth, network = oracle_case()
    scoring = UpstreamScoring(clustering=False).fit(model, activity, truth, network)
    assert tuple(scoring.scores_) == RECOVERY_METRICS
    assert scoring.scores_["tau_R2"] == pytest.approx(1.0, abs=1e-9)
    columns = scoring.per_type_
    assert list(columns) == [*PER_TYPE_COLUMNS, VOLTAGE_SD]
    assert list(columns["type"]) == list(TYPES)
    np.testing.assert_allclose(columns["tau_recovered"], columns["tau_true"], rtol=1e-9)
    np.testing.assert_allclose(columns["V_rest_recovered"], columns["V_rest_true"], atol=1e-9)
    # nothing missed, nothing to share: NaN, not a share of rounding noise
    assert np.all(np.isnan(columns["tau_residual_share"])) or np.nanmax(columns["tau_residual_share"]) < 1e-6
    np.testing.assert_allclose(
        columns[VOLTAGE_SD], voltage_sd_per_type(activity["frames_voltage"], network.neuron_type, len(TYPES))
    )


def test_a_type_whose_tau_is_wrong_carries_most_of_what_tau_r2_misses():
    factor = np.where(np.arange(N) % 5 == 2, 2.0, 1.0)  # type C's τ learned twice too slow
    model, activity, truth, network = oracle_case(factor)
    scoring = UpstreamScoring(clustering=False).fit(model, activity, truth, network)
    shares = scoring.per_type_["tau_residual_share"]
    assert shares.sum() == pytest.approx(1.0)
    assert int(np.argmax(shares)) == 2 and shares[2] > 0.5
    # the scores are those of the same fit that recovery_metrics makes
    assert scoring.scores_ == pytest.approx(recovery_metrics(model, activity, truth))
    assert scoring.scores_["tau_R2"] < 0.99


def test_voltage_sd_is_the_median_over_the_type_of_each_neurons_sd_over_the_frames():
    # two frames, 0 and d: each neuron's SD (unbiased) is |d|/√2
    frames = np.array([[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, -4.0, 0.5]])
    neuron_type = np.array([0, 0, 0, 1, 1])
    np.testing.assert_allclose(voltage_sd_per_type(frames, neuron_type, 3), [2 / np.sqrt(2), 2.25 / np.sqrt(2), np.nan])
    assert np.isnan(voltage_sd_per_type(frames[:1], neuron_type, 2)).all()  # one frame: no spread to read
