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
