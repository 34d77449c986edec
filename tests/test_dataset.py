"""Datasets: round trip through zarr, refusal of incomplete or foreign datasets."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from flygnn.dataset import open_dataset
from flygnn.errors import FlygnnError
from flygnn.groundtruth import load_ground_truth
from flygnn.simulate import Simulator, noise_rng, simulate_dataset
from flygnn.stimulus import StimulusSpec


@pytest.fixture(scope="module")
def truth(tiny_network):
    return load_ground_truth(tiny_network, synthetic=True)


@pytest.fixture(scope="module")
def dataset(tiny_network, truth, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "toy.zarr"
    return simulate_dataset(
        path,
        tiny_network,
        truth,
        sigma=0.05,
        train_frames=130,
        test_frames=40,
        condition="toy",
        preset_name="test",
        seed=4,
        progress=False,
    )


def test_round_trip_keeps_arrays_attributes_and_ground_truth(dataset, tiny_network, truth):
    assert dataset.frames("train") == 130 and dataset.frames("test") == 40
    assert dataset.sigma == 0.05 and dataset.dt == 0.02
    assert dataset.attrs["stimulus"]["kind"] == "natural" and dataset.attrs["seed"] == 4
    assert dataset.attrs["groundtruth"]["synthetic"] is True
    dataset.check_network(tiny_network)
    np.testing.assert_array_equal(dataset.neuron_type, tiny_network.neuron_type)
    np.testing.assert_array_equal(dataset.root["edges/source"][:], tiny_network.source)
    restored = dataset.ground_truth()
    assert restored.fingerprint() == truth.fingerprint() and restored.synthetic
    train = dataset.load_split("train")
    assert train["voltage"].shape == (130, tiny_network.n_neurons) and train["voltage"].dtype == np.float32
    np.testing.assert_allclose(dataset.voltage_mean, train["voltage"].mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dataset.voltage_std, train["voltage"].std(0), rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(dataset.read("train", "target", np.array([3, 7])), train["target"][[3, 7]])


def test_recorded_frames_follow_the_simulator_exactly(dataset, tiny_network, truth):
    """Replaying the dataset's stimulus through the simulator reproduces its voltages and targets."""
    train = dataset.load_split("train")
    simulator = Simulator(tiny_network, truth, sigma=0.05)
    # the clean target is the derivative at the recorded state and input
    for t in (0, 57, 129):
        np.testing.assert_allclose(
            train["target"][t], simulator.derivative(train["voltage"][t], train["stimulus"][t]), rtol=1e-4, atol=1e-4
        )
    # the train split starts at the grey steady state; input only on R1–R8
    np.testing.assert_allclose(train["voltage"][0], simulator.steady_state(), rtol=1e-5, atol=1e-6)
    others = np.setdiff1d(np.arange(tiny_network.n_neurons), tiny_network.input_indices)
    assert not train["stimulus"][:, others].any()
    assert train["stimulus"][:, tiny_network.input_indices].std() > 0
    # the noise stream is the condition's own
    assert noise_rng(4, "toy").standard_normal() == noise_rng(4, "toy").standard_normal()


def test_same_seed_gives_the_same_dataset(dataset, tiny_network, truth, tmp_path):
    again = simulate_dataset(
        tmp_path / "again.zarr",
        tiny_network,
        truth,
        sigma=0.05,
        train_frames=130,
        test_frames=40,
        condition="toy",
        preset_name="test",
        seed=4,
        progress=False,
    )
    np.testing.assert_array_equal(again.read("train", "voltage"), dataset.read("train", "voltage"))
    assert again.fingerprint() == dataset.fingerprint()


def test_finished_dataset_is_not_overwritten_unless_asked(dataset, tiny_network, truth):
    with pytest.raises(FlygnnError, match="already exists"):
        simulate_dataset(dataset.path, tiny_network, truth, sigma=0.5, train_frames=10, test_frames=10, progress=False)
    assert open_dataset(dataset.path).sigma == 0.05


def test_interrupted_simulation_leaves_nothing(tiny_network, truth, tmp_path, monkeypatch):
    import flygnn.simulate as simulate_module

    calls = {"n": 0}
    original = simulate_module.Simulator.run

    def failing_run(self, *args, **kwargs):
        for chunk in original(self, *args, **kwargs):
            calls["n"] += 1
            yield chunk
            raise KeyboardInterrupt

    monkeypatch.setattr(simulate_module.Simulator, "run", failing_run)
    with pytest.raises(KeyboardInterrupt):
        simulate_dataset(
            tmp_path / "x.zarr", tiny_network, truth, sigma=0.0, train_frames=1200, test_frames=10, progress=False
        )
    assert calls["n"] == 1
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor its temporary directory


def test_missing_incomplete_and_truncated_datasets_are_refused(dataset, tmp_path):
    with pytest.raises(FlygnnError, match="not found"):
        open_dataset(tmp_path / "missing.zarr")
    import shutil

    broken = tmp_path / "broken.zarr"
    shutil.copytree(dataset.path, broken)
    root = zarr.open_group(str(broken), mode="r+")
    root.attrs["complete"] = False
    with pytest.raises(FlygnnError, match="incomplete"):
        open_dataset(broken)
    root.attrs["complete"] = True
    root.attrs["splits"] = {"train": 500, "test": 40}
    with pytest.raises(FlygnnError, match="truncated"):
        open_dataset(broken)


def test_dataset_of_another_network_is_named(dataset, small_network):
    with pytest.raises(FlygnnError, match="another network"):
        dataset.check_network(small_network)


def test_full_field_flashes_option(tiny_network, truth, tmp_path):
    data = simulate_dataset(
        tmp_path / "flash.zarr",
        tiny_network,
        truth,
        sigma=0.0,
        train_frames=60,
        test_frames=20,
        stimulus_spec=StimulusSpec.from_dict({"kind": "flashes", "seed": 1}),
        progress=False,
    )
    stimulus = data.read("train", "stimulus")[:, tiny_network.input_indices]
    # full field: every photoreceptor sees the same luminance at each frame
    assert np.allclose(stimulus, stimulus[:, :1])
