"""Ground truth from the pretrained flyvis model, its safety checks, and the synthetic option."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from flygnn.errors import FlygnnError
from flygnn.groundtruth import find_flyvis_model, load_ground_truth


@pytest.mark.slow
def test_pretrained_weights_at_extent_8_have_the_known_statistics(flyvis_model_dir):
    from flygnn.connectome import load_network

    truth = load_ground_truth(load_network(8), flyvis_model_dir)
    summary = truth.summary()
    assert summary["W_min"] == pytest.approx(-1.503, abs=5e-4)
    assert summary["W_max"] == pytest.approx(4.173, abs=5e-4)
    assert (summary["edges_zero"], summary["edges_positive"], summary["edges_negative"]) == (16_985, 265_972, 151_155)
    assert summary["tau_min"] == pytest.approx(0.0194, abs=1e-4)
    assert summary["tau_max"] == pytest.approx(0.316, abs=1e-3)
    assert summary["v_rest_min"] == pytest.approx(0.007, abs=1e-3)
    assert summary["v_rest_max"] == pytest.approx(0.795, abs=1e-3)
    assert not truth.synthetic


def test_parameters_are_shared_within_types_and_pairs(small_network, flyvis_model_dir):
    truth = load_ground_truth(small_network, flyvis_model_dir)
    network = small_network
    for values in (truth.tau, truth.v_rest):
        for t in range(network.n_types):
            assert np.unique(values[network.neuron_type == t]).size == 1
    # one (pair, du, dv) group shares one weight
    keys = np.stack([network.neuron_type[network.source], network.neuron_type[network.target], network.edge_du, network.edge_dv], 1)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    for g in np.unique(group)[:200]:
        assert np.unique(truth.W[group == g]).size == 1
    # the sign of every nonzero weight is the connectome's
    nonzero = truth.W != 0
    np.testing.assert_array_equal(np.sign(truth.W[nonzero]), network.flyvis_sign[nonzero])


def test_missing_model_directory_says_what_to_do(small_network, tmp_path):
    with pytest.raises(FlygnnError, match="does not exist"):
        load_ground_truth(small_network, tmp_path / "nope")
    with pytest.raises(FlygnnError, match="not a flyvis network directory"):
        load_ground_truth(small_network, tmp_path)


def test_no_model_anywhere_names_the_options(monkeypatch, tmp_path):
    monkeypatch.delenv("FLYGNN_FLYVIS_MODEL", raising=False)
    monkeypatch.setenv("FLYVIS_ROOT_DIR", str(tmp_path))
    with pytest.raises(FlygnnError, match="flyvis download-pretrained.*--synthetic-groundtruth"):
        find_flyvis_model()


def test_corrupt_checkpoint_is_refused(small_network, flyvis_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(flyvis_model_dir, model)
    checkpoint = model / "chkpts" / "chkpt_00000"
    checkpoint.chmod(0o644)
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(FlygnnError, match="cannot read the flyvis checkpoint"):
        load_ground_truth(small_network, model)


def test_checkpoint_that_runs_code_on_load_is_refused(small_network, tmp_path):
    import os
    import pickle

    import torch

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / "model" / "chkpts").mkdir(parents=True)
    torch.save({"network": Exploit()}, tmp_path / "model" / "chkpts" / "chkpt_00000", pickle_module=pickle)
    with pytest.raises(FlygnnError, match="cannot read the flyvis checkpoint"):
        load_ground_truth(small_network, tmp_path / "model")
    assert not marker.exists()


def test_synthetic_ground_truth_is_labelled_and_heterogeneous(small_network):
    truth = load_ground_truth(small_network, synthetic=True, seed=3)
    assert truth.synthetic and "synthetic" in truth.source
    per_type_tau = np.array([truth.tau[small_network.neuron_type == t][0] for t in range(small_network.n_types)])
    assert np.unique(per_type_tau).size == small_network.n_types
    assert 0.02 <= truth.tau.min() and truth.tau.max() <= 0.3
    assert load_ground_truth(small_network, synthetic=True, seed=3).fingerprint() == truth.fingerprint()
