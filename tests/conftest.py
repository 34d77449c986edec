"""Session fixtures: small flyvis networks and the shipped pretrained ground-truth model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def flyvis_model_dir() -> Path:
    """The pretrained flyvis network flow/0000/000 shipped with the package (read only)."""
    from flygnn.groundtruth import CHECKPOINT, shipped_model_dir

    model = shipped_model_dir()
    assert (model / CHECKPOINT).is_file(), f"the shipped ground truth {model} is incomplete; reinstall flygnn"
    return model


@pytest.fixture(scope="session")
def small_network():
    """The flyvis network at extent 2: 1,203 neurons, 28,904 edges, 65 types."""
    from flygnn.connectome import load_network

    return load_network(extent=2)


@pytest.fixture(scope="session")
def tiny_network():
    """The flyvis network at extent 1: 443 neurons, 8,174 edges, 65 types."""
    from flygnn.connectome import load_network

    return load_network(extent=1)


@pytest.fixture(scope="session")
def synthetic_truth(tiny_network):
    """A synthetic ground truth for the tiny network (no flyvis model involved)."""
    from flygnn.groundtruth import load_ground_truth

    return load_ground_truth(tiny_network, synthetic=True, seed=0)


@pytest.fixture(scope="session")
def dataset(tiny_network, synthetic_truth, tmp_path_factory):
    """A σ = 0.05 smoke dataset of the tiny network: 240 training and 20 test frames."""
    from flygnn.simulate import simulate_dataset

    path = tmp_path_factory.mktemp("datasets") / "sigma-0p05.zarr"
    return simulate_dataset(
        path,
        tiny_network,
        synthetic_truth,
        sigma=0.05,
        train_frames=240,
        test_frames=20,
        condition="sigma-0p05",
        preset_name="smoke",
        progress=False,
    )


@pytest.fixture(scope="session")
def frames(dataset, tiny_network):
    """The dataset's training split in memory."""
    from flygnn.train import TrainingFrames

    return TrainingFrames.from_dataset(dataset, tiny_network.input_indices, chunk=100)
