"""benchmarks/check_upstream_scores.py: its independent scorer gives the analysis' four numbers, on
cases where a wrong rule would not, and its command line compares, disagrees and fails in one line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from oracle_networks import activity_for, random_network

from flygnn.analysis import GaugeCorrection, OracleModel
from flygnn.analysis.scoring import recovery_metrics
from flygnn.metric_names import RECOVERY_METRICS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "check_upstream_scores.py"
ZERO_RANGE = "ignore:.*never changed voltage:UserWarning"  # the analysis warns about the zero-range neuron


def load_script():
    spec = importlib.util.spec_from_file_location("check_upstream_scores", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = load_script()

N = 60
SILENT = np.array([0, 3, 7])  # μ + s ≤ 0: upstream's s_g = 1, their edges scored
FLAT = 5  # s = 0: slope 0, τ̂ = 1, V̂_rest = 1, W* of its incoming edges non-finite -> 0
OUTLIERS = np.arange(12)  # Ŵ × 50: |W* − W| > 5, left out of the W scores


def perturbed_oracle():
    """An oracle with gauge gains whose τ is off (some beyond the clip at 1 s, one negative), with
    silent, zero-range and outlier cases, on 8 frames (an even count: the median is a mean of two)."""
    source, target, W, tau, v_rest = random_network(n=N, e=400, seed=2)
    rng = np.random.default_rng(3)
    model_tau = tau * rng.uniform(0.6, 1.6, N)
    model_tau[[10, 11]] = 1.5  # τ̂ clipped to 1
    model_tau[12] = -0.2  # positive slope: τ̂ clipped to 0
    model_v_rest = v_rest + rng.normal(0, 0.1, N)
    model = OracleModel(
        source,
        target,
        W,
        model_tau,
        model_v_rest,
        message_gain=rng.uniform(0.5, 2, N),
        update_gain=rng.uniform(0.5, 2, N),
    )
    with torch.no_grad():
        model.W[OUTLIERS] *= 50
    activity = activity_for(N)
    activity["voltage_mean"][SILENT] = -0.5
    activity["voltage_std"][SILENT] = 0.1
    activity["voltage_mean"][FLAT], activity["voltage_std"][FLAT] = 0.4, 0.0
    return model, activity, SimpleNamespace(W=W, tau=tau, v_rest=v_rest)


def random_gnn(network, truth):
    """An untrained GNN on the 443-neuron network (float32 MLPs, the real model's code path)."""
    from flygnn.model import FlyVisGNN

    torch.manual_seed(0)
    model = FlyVisGNN.from_network(network, embedding_dim=2).eval()
    rng = np.random.default_rng(4)
    n = network.n_neurons
    mean = rng.uniform(-0.2, 1.0, n).astype(np.float32)
    std = rng.uniform(0.05, 0.3, n).astype(np.float32)
    mean[:3], std[:3] = -0.4, 0.1  # silent
    mean[3], std[3] = 0.5, 0.0  # zero range
    frames = (mean + std * rng.normal(size=(10, n))).astype(np.float32)
    stimulus = np.zeros_like(frames)
    stimulus[:, network.input_indices] = rng.uniform(0, 1, (10, network.n_inputs))
    activity = {"voltage_mean": mean, "voltage_std": std, "frames_voltage": frames, "frames_stimulus": stimulus}
    return model, activity


@pytest.mark.filterwarnings(ZERO_RANGE)
def test_the_independent_scores_are_the_analysis_scores_on_a_perturbed_oracle():
    model, activity, truth = perturbed_oracle()
    ours = checker.upstream_recovery_scores(model, activity, truth)
    analysis = recovery_metrics(model, activity, truth)
    assert tuple(ours) == RECOVERY_METRICS
    for name in RECOVERY_METRICS:
        assert ours[name] == pytest.approx(analysis[name], abs=1e-6), name
    assert max(abs(1 - value) for value in ours.values()) > 0.05  # not a case any scorer gets right


@pytest.mark.filterwarnings(ZERO_RANGE)
def test_the_oracle_case_tells_the_fiat_rules_apart():
    """Each rule changes W_corrected_R2 or tau_R2 here by far more than the 1e-6 tested above."""
    model, activity, truth = perturbed_oracle()
    gauge = GaugeCorrection().fit(model, activity)
    right = recovery_metrics(model, activity, truth)
    source, target, W = model.source.numpy(), model.target.numpy(), truth.W

    def w_r2(corrected, keep):
        return checker.ols_r2_and_slope(W[keep], corrected[keep])[0]

    def corrected(message_slope):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (
                -gauge.learned_W_
                / gauge.upstream_update_slope_[target]
                * gauge.msg_sensitivity_[target]
                * message_slope[source]
            )

    star = gauge.upstream_corrected_W_
    assert abs(w_r2(star, np.ones(W.size, bool)) - right["W_corrected_R2"]) > 1e-3  # no |W* − W| ≤ 5 filter
    raw = corrected(gauge.upstream_message_slope_)
    assert (~np.isfinite(raw)).any()
    left_out = np.isfinite(raw) & (np.abs(raw - W) <= 5)
    assert abs(w_r2(raw, left_out) - right["W_corrected_R2"]) > 1e-3  # non-finite W* left out, not zeroed
    fitted = np.where(gauge.unidentifiable_, 0.0, gauge.upstream_message_slope_)  # ReLU's slope below 0
    without_fallback = np.where(np.isfinite(corrected(fitted)), corrected(fitted), 0.0)
    kept = np.abs(without_fallback - W) <= 5
    assert abs(w_r2(without_fallback, kept) - right["W_corrected_R2"]) > 1e-3  # no s_g = 1
    slope = gauge.upstream_update_slope_
    with np.errstate(divide="ignore"):
        unclipped = np.where(slope != 0, -1 / slope, 1.0)
    assert abs(checker.ols_r2_and_slope(truth.tau, unclipped)[0] - right["tau_R2"]) > 1e-3  # no clip to [0, 1]


@pytest.mark.filterwarnings(ZERO_RANGE)
def test_the_independent_scores_are_the_analysis_scores_on_an_untrained_gnn(tiny_network, synthetic_truth):
    model, activity = random_gnn(tiny_network, synthetic_truth)
    ours = checker.upstream_recovery_scores(model, activity, synthetic_truth)
    analysis = recovery_metrics(model, activity, synthetic_truth)
    for name in RECOVERY_METRICS:
        assert ours[name] == pytest.approx(analysis[name], abs=1e-6), name


def test_a_missing_bundle_is_one_line_of_error(tmp_path, capsys):
    assert checker.main(["--bundle", str(tmp_path / "no-such-bundle")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: no bundle at") and err.count("\n") == 1


@pytest.mark.filterwarnings(ZERO_RANGE)
def test_the_command_line_agrees_with_the_analysis_and_flags_a_wrong_metrics_file(
    tmp_path, capsys, tiny_network, synthetic_truth
):
    from flygnn.bundle import bundle_fingerprint, save_bundle

    model, activity = random_gnn(tiny_network, synthetic_truth)
    meta = {
        "condition": "sigma-0p05",
        "sigma": 0.05,
        "groundtruth": {
            "source": synthetic_truth.source,
            "synthetic": True,
            "fingerprint": synthetic_truth.fingerprint(),
        },
    }
    bundle = save_bundle(tmp_path / "sigma-0p05", model, meta, activity)
    missing = tmp_path / "results" / "metrics.json"
    args = ["--bundle", str(bundle), "--synthetic-groundtruth", "0", "--metrics", str(missing)]
    assert checker.main(args) == 0  # a missing metrics.json: scored in this process instead
    out = capsys.readouterr().out
    assert "recovery_metrics" in out and "does not exist" in out and "agree" in out

    scores = recovery_metrics(model, activity, synthetic_truth)
    scores["tau_R2"] += 1e-4
    fingerprint = bundle_fingerprint(bundle)
    missing.parent.mkdir()
    missing.write_text(  # as flygnn analyze writes it: the bundle at the top level and in every entry
        json.dumps(
            {
                "inputs": {"bundle": {"path": "data/bundles/sigma-0p05", "sha256": fingerprint}},
                "metrics": {
                    name: {"value": value, "inputs": {"bundle": fingerprint}} for name, value in scores.items()
                },
            }
        )
    )
    assert checker.main(args) == 1
    assert "DISAGREE: tau_R2" in capsys.readouterr().out

    other = {name: {"value": value, "inputs": {"bundle": "0123456789abcdef"}} for name, value in scores.items()}
    missing.write_text(json.dumps({"metrics": other}))
    assert checker.main(args) == 2  # the metrics of another model: a usage error, not a disagreement
    assert capsys.readouterr().err.count("\n") == 1

    assert checker.main(["--bundle", str(bundle)]) == 2  # the shipped flyvis truth is not this bundle's
    assert "ground truth" in capsys.readouterr().err
