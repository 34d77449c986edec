"""Known-answer tests of the gauge correction on the analytic oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle_networks import activity_for, random_network

from flygnn.analysis import BiophysicalParameters, GaugeCorrection, OracleModel, ols_fit
from flygnn.errors import FlygnnError


def test_exact_oracle_gives_true_weights_tau_and_v_rest():
    source, target, W, tau, v_rest = random_network()
    activity = activity_for(len(tau))
    assert ((activity["voltage_mean"] - 2 * activity["voltage_std"]) < 0).any()  # clip at 0 is exercised
    model = OracleModel(source, target, W, tau, v_rest)
    gauge = GaugeCorrection().fit(model, activity)
    assert not gauge.unidentifiable_.any()
    np.testing.assert_allclose(gauge.message_slope_, 1.0, atol=1e-12)
    np.testing.assert_allclose(gauge.corrected_W_, W, atol=1e-10)
    bio = BiophysicalParameters().fit(gauge)
    np.testing.assert_allclose(bio.tau_, tau, rtol=1e-10)
    np.testing.assert_allclose(bio.v_rest_, v_rest, atol=1e-10)
    np.testing.assert_allclose(bio.v_rest_operating_, v_rest, atol=1e-10)


def test_gains_moved_between_g_w_and_f_are_undone():
    source, target, W, tau, v_rest = random_network(seed=3)
    n = len(tau)
    rng = np.random.default_rng(7)
    model = OracleModel(
        source, target, W, tau, v_rest, message_gain=rng.uniform(0.2, 5, n), update_gain=rng.uniform(0.2, 5, n)
    )
    raw_r2, _ = ols_fit(W, model.W.numpy())
    assert raw_r2 < 0.9  # the raw weights are smeared by the gains
    assert not np.allclose(model.W.numpy(), W, atol=1e-3)
    gauge = GaugeCorrection().fit(model, activity_for(n))
    np.testing.assert_allclose(gauge.corrected_W_, W, atol=1e-10)
    bio = BiophysicalParameters().fit(gauge)
    np.testing.assert_allclose(bio.tau_, tau, rtol=1e-10)
    np.testing.assert_allclose(bio.v_rest_operating_, v_rest, atol=1e-10)


def test_oracle_in_float32_is_close():
    source, target, W, tau, v_rest = random_network(seed=4)
    model = OracleModel(source, target, W, tau, v_rest, dtype=torch.float32)
    gauge = GaugeCorrection().fit(model, activity_for(len(tau)))
    np.testing.assert_allclose(gauge.corrected_W_, W, rtol=1e-4, atol=1e-4)


def test_unidentifiable_neurons_are_flagged_not_set_to_one():
    source, target, W, tau, v_rest = random_network(seed=5)
    n = len(tau)
    activity = activity_for(n)
    silent = np.array([0, 3, 7])
    activity["voltage_mean"][silent] = -0.5
    activity["voltage_std"][silent] = 0.1  # μ + s = -0.4 ≤ 0
    gauge = GaugeCorrection().fit(OracleModel(source, target, W, tau, v_rest), activity)
    assert np.flatnonzero(gauge.unidentifiable_).tolist() == silent.tolist()
    assert np.isnan(gauge.message_slope_[silent]).all()
    from_silent = np.isin(source, silent)
    assert from_silent.any()
    assert np.isnan(gauge.corrected_W_[from_silent]).all()
    np.testing.assert_allclose(gauge.corrected_W_[~from_silent], W[~from_silent], atol=1e-10)


def test_zero_activity_range_warns_and_flags():
    source, target, W, tau, v_rest = random_network(seed=6)
    activity = activity_for(len(tau))
    activity["voltage_std"][5] = 0.0
    with pytest.warns(UserWarning, match="never changed voltage"):
        gauge = GaugeCorrection().fit(OracleModel(source, target, W, tau, v_rest), activity)
    assert gauge.zero_range_[5] and gauge.zero_range_.sum() == 1
    assert np.isnan(gauge.update_slope_[5]) and np.isnan(gauge.message_slope_[5])
    touching = (source == 5) | (target == 5)
    assert np.isnan(gauge.corrected_W_[touching]).all()
    assert np.isfinite(gauge.corrected_W_[~touching]).all()


def test_nonfinite_learned_weights_are_counted_not_zeroed():
    source, target, W, tau, v_rest = random_network(seed=8)
    model = OracleModel(source, target, W, tau, v_rest)
    with torch.no_grad():
        model.W[[2, 9]] = torch.tensor([float("nan"), float("inf")], dtype=model.W.dtype)
    with pytest.warns(UserWarning, match="2 of 240 learned weights"):
        gauge = GaugeCorrection().fit(model, activity_for(len(tau)))
    assert gauge.nonfinite_learned_W_ == 2
    assert np.isnan(gauge.corrected_W_[[2, 9]]).all()
    assert np.count_nonzero(np.isnan(gauge.corrected_W_)) == 2


class MsgDependentSensitivity(OracleModel):
    """f's msg sensitivity varies with v: ∂f/∂msg = (1 + v)/τ, so the median over frames matters."""

    def update(self, v, a, msg, I):
        return (-v + self.v_rest + (1 + v) * msg + I) / self.tau


def test_msg_sensitivity_is_the_true_median_over_frames():
    source, target, W, tau, v_rest = random_network(n=6, e=20, seed=9)
    activity = activity_for(6, k=4)
    gauge = GaugeCorrection(chunk=3).fit(MsgDependentSensitivity(source, target, W, tau, v_rest), activity)
    v = activity["frames_voltage"]
    expected = np.sort((1 + v) / tau, axis=0)
    np.testing.assert_allclose(gauge.msg_sensitivity_, (expected[1] + expected[2]) / 2, rtol=1e-12)


def test_activity_of_another_network_is_refused():
    source, target, W, tau, v_rest = random_network()
    model = OracleModel(source, target, W, tau, v_rest)
    with pytest.raises(FlygnnError, match="another network"):
        GaugeCorrection().fit(model, activity_for(len(tau) + 1))
    activity = activity_for(len(tau))
    activity["frames_voltage"][0, 0] = np.nan
    with pytest.raises(FlygnnError, match="NaN"):
        GaugeCorrection().fit(model, activity)
    del activity["frames_stimulus"]
    with pytest.raises(FlygnnError, match="frames_stimulus"):
        GaugeCorrection().fit(model, activity)


def test_object_without_the_model_methods_is_refused():
    with pytest.raises(FlygnnError, match="message"):
        GaugeCorrection().fit(object(), activity_for(4))
