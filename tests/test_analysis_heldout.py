"""Held-out validation on the test split: one-step R², normalised loss and the free rollout.

Known answers first: the oracle (the simulator's own equations) has R² = 1 and loss 0 on
any dataset, and at σ = 0 its rollout *is* the recorded simulation; a model that always
predicts 0 has an R² and a loss computed here directly from the arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flygnn.analysis.heldout import HeldOutValidation
from flygnn.analysis.oracle import OracleModel
from flygnn.errors import FlygnnError
from flygnn.metric_names import HELDOUT_METRICS


@pytest.fixture(scope="module", params=["raw", "clamped"])
def noise_free(request, tiny_network, synthetic_truth, tmp_path_factory):
    """A σ = 0 dataset of the tiny network: 60 test frames."""
    from flygnn.simulate import simulate_dataset

    path = tmp_path_factory.mktemp("heldout") / f"sigma-0-{request.param}.zarr"
    return simulate_dataset(
        path, tiny_network, synthetic_truth, sigma=0.0, train_frames=10, test_frames=60, tau_mode=request.param,
        condition="sigma-0", progress=False,
    )  # fmt: skip


def oracle_of(dataset, network, **gains):
    truth = dataset.ground_truth()
    tau = np.asarray(truth.tau, float)
    if dataset.attrs["tau_mode"] == "clamped":
        tau = np.maximum(tau, dataset.dt)
    return OracleModel(network.source, network.target, truth.W, tau, truth.v_rest, **gains)


class ZeroModel(torch.nn.Module):
    """Predicts dv/dt = 0 everywhere: the rollout stands still."""

    def forward(self, v, I):  # noqa: N803 - the model's argument names
        return torch.zeros_like(v)


def test_oracle_scores_perfectly_and_its_rollout_is_the_simulation(noise_free, tiny_network):
    result = HeldOutValidation(rollout_steps=59, batch_frames=16).fit(
        oracle_of(noise_free, tiny_network), noise_free, tiny_network
    )
    assert result.r2_pooled_ == pytest.approx(1.0, abs=1e-9)
    # the recorded target is float32: a neuron's 1 − R² is its rounding, ~1e-7 of its variance
    assert result.normalised_loss_ == pytest.approx(0.0, abs=1e-6)
    assert np.nanmin(result.r2_per_neuron_) > 1 - 1e-3  # the least varying neurons round the most
    assert np.nanmedian(result.r2_per_neuron_) > 1 - 1e-9
    # at σ = 0 the recording is the noise-free simulation (by the float32 simulator)
    recorded = noise_free.read("test", "voltage", slice(0, 60))
    np.testing.assert_allclose(result.traces_true_, recorded[:, result.trace_neurons_], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(result.traces_learned_, result.traces_true_)
    np.testing.assert_array_equal(result.rollout_error_, 0.0)
    np.testing.assert_array_equal(result.rollout_error_median_, 0.0)
    assert result.noise_error_.max() < 1e-3
    assert result.diverged_at_ is None
    metrics = result.metrics
    assert tuple(metrics) == HELDOUT_METRICS  # every one registered, in the registry's order
    assert metrics["heldout_dvdt_R2"].value == pytest.approx(1.0, abs=1e-9)
    assert metrics["rollout_error_mean"].value == 0.0
    assert metrics["rollout_diverged_step"].value is None


def test_gauge_transformed_oracle_has_the_same_rollout(noise_free, tiny_network):
    rng = np.random.default_rng(0)
    n = tiny_network.n_neurons
    gauged = oracle_of(
        noise_free, tiny_network, message_gain=rng.uniform(0.5, 2, n), update_gain=rng.uniform(0.5, 2, n)
    )
    result = HeldOutValidation(rollout_steps=40).fit(gauged, noise_free, tiny_network)
    assert result.r2_pooled_ == pytest.approx(1.0, abs=1e-9)
    assert result.rollout_error_.max() < 1e-8


def test_noise_moves_the_recording_not_the_oracle(dataset, tiny_network):
    """σ = 0.05: the oracle still predicts the clean target exactly and its rollout matches the
    noise-free truth; only the recorded voltages depart (the noise reference)."""
    result = HeldOutValidation(rollout_steps=19).fit(oracle_of(dataset, tiny_network), dataset, tiny_network)
    assert result.r2_pooled_ == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(result.rollout_error_, 0.0)
    assert result.noise_error_[-1] > 0.1
    np.testing.assert_allclose(result.rollout_error_recorded_, result.noise_error_)


def test_zero_model_known_answers(noise_free, tiny_network):
    result = HeldOutValidation(rollout_steps=30, batch_frames=7).fit(ZeroModel(), noise_free, tiny_network)
    target = noise_free.read("test", "target").astype(np.float64)
    total = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    std = target.std(axis=0)
    varies = std > 1e-3 * np.median(std)  # heldout.STILL_FRACTION
    r2 = 1 - (target**2).sum(axis=0)[varies] / total[varies]
    np.testing.assert_allclose(result.r2_per_neuron_[varies], r2, rtol=1e-9)
    assert result.normalised_loss_ == pytest.approx(np.mean(1 - r2), rel=1e-9)
    assert result.zero_variance_neurons_ == int((~varies).sum())
    assert result.r2_pooled_ == pytest.approx(1 - (target**2).sum() / ((target - target.mean()) ** 2).sum(), rel=1e-9)
    # the rollout stands still at the first recorded state
    recorded = noise_free.read("test", "voltage", slice(0, 1))[0]
    np.testing.assert_array_equal(result.traces_learned_, np.tile(recorded[result.trace_neurons_], (31, 1)))
    assert result.rollout_error_[0] == 0.0 and result.rollout_error_[-1] > 0
    names = list(result.type_names_)
    k = names.index("T4a")
    assert result.per_type_table()["heldout_dvdt_R2"][k] == pytest.approx(
        np.median(result.r2_per_neuron_[noise_free.neuron_type == k])
    )


def test_a_wrong_model_scores_below_the_oracle(noise_free, tiny_network):
    truth = noise_free.ground_truth()
    slow = OracleModel(tiny_network.source, tiny_network.target, truth.W, 3 * np.asarray(truth.tau), truth.v_rest)
    result = HeldOutValidation(rollout_steps=59).fit(slow, noise_free, tiny_network)
    assert result.r2_pooled_ < 0.99
    assert result.normalised_loss_ > 0.01
    assert result.rollout_error_[-1] > 0.05


def test_batching_does_not_change_the_numbers(noise_free, tiny_network):
    model = ZeroModel()
    one = HeldOutValidation(rollout_steps=5, batch_frames=1).fit(model, noise_free, tiny_network)
    many = HeldOutValidation(rollout_steps=5, batch_frames=1000).fit(model, noise_free, tiny_network)
    np.testing.assert_allclose(one.r2_per_neuron_, many.r2_per_neuron_, rtol=1e-12)
    assert one.r2_pooled_ == pytest.approx(many.r2_pooled_, rel=1e-12)


def test_diverging_rollout_is_reported(noise_free, tiny_network):
    class Exploding(torch.nn.Module):
        def forward(self, v, I):  # noqa: N803
            return 1e30 * (v + 1.0)

    result = HeldOutValidation(rollout_steps=20).fit(Exploding(), noise_free, tiny_network)
    assert result.diverged_at_ is not None and 1 <= result.diverged_at_ <= 20
    assert result.metrics["rollout_error_final"].value is None  # non-finite: no number, not a fake one
    assert result.metrics["rollout_diverged_step"].value == result.diverged_at_


def test_user_errors_name_the_fix(noise_free, tiny_network):
    with pytest.raises(FlygnnError, match="rollout_steps must be an integer from 1 to 59"):
        HeldOutValidation(rollout_steps=60).fit(ZeroModel(), noise_free, tiny_network)
    with pytest.raises(FlygnnError, match="unknown cell type"):
        HeldOutValidation(rollout_steps=10, trace_types=("T4z",)).fit(ZeroModel(), noise_free, tiny_network)
