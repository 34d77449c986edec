"""Session fixtures: small flyvis networks and the pretrained ground-truth model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED_RELATIVE = Path("data/flyvis_pretrained/flow/0000/000")


def _pretrained_candidates() -> list[Path]:
    candidates = []
    if os.environ.get("FLYGNN_FLYVIS_MODEL"):
        candidates.append(Path(os.environ["FLYGNN_FLYVIS_MODEL"]))
    candidates += [ROOT.parent / "shared" / PRETRAINED_RELATIVE, Path("/work/shared") / PRETRAINED_RELATIVE]
    return candidates


@pytest.fixture(scope="session")
def flyvis_model_dir() -> Path:
    """The pretrained flyvis network flow/0000/000 (read only).

    Found via $FLYGNN_FLYVIS_MODEL or ../shared next to the checkout. Missing in CI
    is a failure; elsewhere the tests that need it are skipped with the reason.
    """
    for candidate in _pretrained_candidates():
        if (candidate / "chkpts" / "chkpt_00000").is_file():
            return candidate
    message = (
        "pretrained flyvis model flow/0000/000 not found; set FLYGNN_FLYVIS_MODEL or run "
        "`flyvis download-pretrained` (looked in: " + ", ".join(map(str, _pretrained_candidates())) + ")"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


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
