"""The resumable training state and the history: round trip, and every damaged file refused."""

from __future__ import annotations

import dataclasses
import json
import os
import stat

import numpy as np
import pytest
import torch

from flygnn.errors import FlygnnError
from flygnn.train import Trainer, TrainingState, load_training_config, rate_changes, read_history, write_history
from flygnn.train.state import META_FILE, TENSORS_FILE, peek_iteration


def smoke_config(**changes):
    return dataclasses.replace(load_training_config("smoke", 0.05, {"iterations": 20, "log_every": 10}), **changes)


@pytest.fixture(scope="module")
def state(frames, tiny_network) -> TrainingState:
    saved = []
    Trainer(smoke_config(), tiny_network, progress=False, save_state=saved.append, dataset_fingerprint="d1").fit(frames)
    return saved[-1]


def test_round_trip_keeps_every_tensor_adam_moment_and_the_sampler(state, tmp_path):
    state.save(tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted([TENSORS_FILE, META_FILE])
    loaded = TrainingState.load(tmp_path / "s")
    assert loaded.iteration == 20 and peek_iteration(tmp_path / "s") == 20
    for name, tensor in state.parameters.items():
        assert torch.equal(loaded.parameters[name], tensor), name
    assert set(loaded.moments) == set(state.moments) == {n for n in state.parameters}
    for name, (m, v) in state.moments.items():
        assert torch.equal(loaded.moments[name][0], m) and torch.equal(loaded.moments[name][1], v)
    assert loaded.steps == state.steps and set(loaded.steps.values()) == {20.0}
    a, b = np.random.default_rng(), np.random.default_rng()
    a.bit_generator.state, b.bit_generator.state = state.rng_state, loaded.rng_state
    assert a.integers(0, 1 << 62, 5).tolist() == b.integers(0, 1 << 62, 5).tolist()
    assert (loaded.config, loaded.dataset_fingerprint, loaded.xnorm) == (state.config, "d1", state.xnorm)
    # nothing but safetensors and JSON
    assert json.loads((tmp_path / "s" / META_FILE).read_text())["format"] == "flygnn-training-state/1"


def test_a_truncated_or_modified_state_is_refused(state, tmp_path):
    state.save(tmp_path / "s")
    data = (tmp_path / "s" / TENSORS_FILE).read_bytes()
    (tmp_path / "s" / TENSORS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(FlygnnError, match="does not match its checksum"):
        TrainingState.load(tmp_path / "s")
    state.save(tmp_path / "t")
    (tmp_path / "t" / META_FILE).write_text('{"format": "flygnn-training-state/1", "iter')
    with pytest.raises(FlygnnError, match="damaged"):
        TrainingState.load(tmp_path / "t")
    with pytest.raises(FlygnnError, match="incomplete"):
        TrainingState.load(tmp_path / "nowhere")


def test_state_files_get_the_mode_of_the_json_beside_them(state, tmp_path):
    previous = os.umask(0o027)
    try:
        folder = state.save(tmp_path / "state")
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes == {META_FILE: 0o640, TENSORS_FILE: 0o640}


def test_a_state_with_nan_is_refused_and_never_written(state, tmp_path):
    from safetensors.torch import load_file, save_file

    bad = dataclasses.replace(
        state, parameters={**state.parameters, "W": torch.full_like(state.parameters["W"], np.nan)}
    )
    state.save(tmp_path / "s")
    before = (tmp_path / "s" / TENSORS_FILE).read_bytes()
    with pytest.raises(FlygnnError, match="NaN"):
        bad.save(tmp_path / "s")
    assert (tmp_path / "s" / TENSORS_FILE).read_bytes() == before  # the previous state is kept
    # a NaN written by someone else (checksum updated to match) is refused on load
    tensors = load_file(str(tmp_path / "s" / TENSORS_FILE))
    tensors["model.W"][0] = float("nan")
    save_file(tensors, str(tmp_path / "s" / TENSORS_FILE))
    meta = json.loads((tmp_path / "s" / META_FILE).read_text())
    import hashlib

    meta["tensors_sha256"] = hashlib.sha256((tmp_path / "s" / TENSORS_FILE).read_bytes()).hexdigest()
    (tmp_path / "s" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(FlygnnError, match="NaN or infinity"):
        TrainingState.load(tmp_path / "s")


def test_an_interrupted_save_leaves_the_previous_state(state, tmp_path, monkeypatch):
    import flygnn.train.state as module

    state.save(tmp_path / "s")
    newer = dataclasses.replace(state, iteration=40)

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "write_json", fail)
    with pytest.raises(KeyboardInterrupt):
        newer.save(tmp_path / "s")
    assert peek_iteration(tmp_path / "s") == 20
    assert TrainingState.load(tmp_path / "s").iteration == 20
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no temporary folder left


def test_another_network_dataset_or_configuration_is_named(state, small_network, tiny_network):
    config = smoke_config()
    state.check_compatible(config, tiny_network.fingerprint(), "d1", "s")
    with pytest.raises(FlygnnError, match="another network"):
        state.check_compatible(config, small_network.fingerprint(), "d1", "s")
    with pytest.raises(FlygnnError, match=r"another dataset \(fingerprint d1, now d2\)"):
        state.check_compatible(config, tiny_network.fingerprint(), "d2", "s")
    with pytest.raises(FlygnnError, match=r"W_L1: .* -> 9\.0; lr_W: .* -> 1\.0"):
        state.check_compatible(dataclasses.replace(config, lr_W=1.0, W_L1=9.0), tiny_network.fingerprint(), "d1", "s")


def test_history_round_trip_with_empty_score_cells(tmp_path):
    rows = [
        {"iteration": 0, "wall_time_s": 0.0, "W_corrected_R2": 0.5},
        {"iteration": 50, "wall_time_s": 1.25, "loss": 3.0, "prediction": 2.5, "iterations_per_s": 40.0},
        {"iteration": 100, "wall_time_s": 2.5, "loss": 2.0, "W_corrected_R2": 0.75, "tau_R2": float("nan")},
    ]
    write_history(rows, tmp_path / "h.csv")
    back = read_history(tmp_path / "h.csv")
    assert [r["iteration"] for r in back] == [0, 50, 100]
    assert back[1] == rows[1] and "W_corrected_R2" not in back[1]
    assert back[2]["W_corrected_R2"] == 0.75 and np.isnan(back[2]["tau_R2"])
    assert read_history(tmp_path / "none.csv") == []
    (tmp_path / "bad.csv").write_text("iteration,loss\n10,abc\n")
    with pytest.raises(FlygnnError, match="line 2: loss = 'abc'"):
        read_history(tmp_path / "bad.csv")


def test_rate_changes_are_the_legs_that_changed_the_factor():
    # the σ = 0.5 bundle's legs: two without a factor (before --lr-factor existed: factor 1),
    # four at 0.3 (one change), then 0.1 and 0.03; a leg back at 1 is a change too
    legs = [
        {"started_iteration": 0, "ended_iteration": 8000},
        {"started_iteration": 8000, "ended_iteration": 14500},
        {"started_iteration": 14500, "ended_iteration": 22500, "lr_factor": 0.3},
        {"started_iteration": 22500, "ended_iteration": 23050, "lr_factor": 0.3},
        {"started_iteration": 23050, "ended_iteration": 69200, "lr_factor": 0.3},
        {"started_iteration": 69200, "ended_iteration": 90850, "lr_factor": 0.1},
        {"started_iteration": 90850, "ended_iteration": 103600, "lr_factor": 0.03},
        {"started_iteration": 103600, "ended_iteration": 110000, "lr_factor": 1.0},
    ]
    assert rate_changes(legs) == [(14500, 0.3), (69200, 0.1), (90850, 0.03), (103600, 1.0)]
    assert rate_changes([{"started_iteration": 0, "lr_factor": 0.5}]) == []  # the start is no change
    assert rate_changes([]) == []
