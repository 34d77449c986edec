"""Ground truth from the pretrained flyvis model, its safety checks, and the synthetic option."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import flygnn
from flygnn import groundtruth
from flygnn.errors import FlygnnError
from flygnn.groundtruth import (
    CHECKPOINT,
    DEFAULT_MODEL,
    describe_model_dir,
    find_flyvis_model,
    load_ground_truth,
    shipped_model_dir,
)
from flygnn.project import MARKERS

SHIPPED_SOURCE = "flyvis flow/0000/000 (shipped with flygnn)"
CHECKSUM_ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| (?P<size>\d+) \| `(?P<sha256>[0-9a-f]{64})` \|$")


def _no_downloaded_models(monkeypatch, tmp_path) -> None:
    """Neither the environment variable nor a `flyvis download-pretrained` results folder."""
    monkeypatch.delenv("FLYGNN_FLYVIS_MODEL", raising=False)
    monkeypatch.setenv("FLYVIS_ROOT_DIR", str(tmp_path / "flyvis-root"))


def test_default_is_the_copy_shipped_in_the_package(monkeypatch, tmp_path):
    _no_downloaded_models(monkeypatch, tmp_path)
    model = find_flyvis_model()
    assert model == shipped_model_dir()
    assert model.resolve().is_relative_to(Path(flygnn.__file__).resolve().parent)
    assert (model / CHECKPOINT).is_file() and (model / "_meta.yaml").is_file()
    # the environment variable and an explicit path still take precedence
    monkeypatch.setenv("FLYGNN_FLYVIS_MODEL", str(tmp_path / "other"))
    assert find_flyvis_model() == tmp_path / "other"
    assert find_flyvis_model(tmp_path / "explicit") == tmp_path / "explicit"


def test_shipped_files_match_the_checksums_in_its_readme():
    model = shipped_model_dir()
    rows = [CHECKSUM_ROW.match(line) for line in (model / "README.md").read_text().splitlines()]
    listed = {row["file"]: (int(row["size"]), row["sha256"]) for row in rows if row}
    shipped = {
        path.relative_to(model).as_posix(): path
        for path in model.rglob("*")
        if path.is_file() and path.name not in ("README.md", "LICENSE")
    }
    assert (
        sorted(listed)
        == sorted(shipped)
        == sorted(["_meta.yaml", "best_chkpt", "chkpts/chkpt_00000", "validation/loss.h5", "validation_loss.h5"])
    )
    for name, path in shipped.items():
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == listed[name], f"{name} differs from its README checksum"
    licence = (model / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Lappalainen" in licence


def test_source_is_a_name_never_an_absolute_path(small_network, flyvis_model_dir, tmp_path, monkeypatch):
    with monkeypatch.context() as uncached:
        uncached.setattr(groundtruth, "_cache_path", lambda network, model_dir: None)
        first = load_ground_truth(small_network, flyvis_model_dir)  # mapped from the checkpoint
    again = load_ground_truth(small_network, flyvis_model_dir)  # from the cache
    assert first.source == again.source == SHIPPED_SOURCE
    assert first.fingerprint() == again.fingerprint()

    # a copy outside any project: named by flyvis' ensemble/model folders, wherever the cwd is
    copy = tmp_path / "results" / "flow" / "0000" / "000"
    shutil.copytree(flyvis_model_dir, copy)
    outside = load_ground_truth(small_network, copy)
    assert outside.source == "flyvis network …/flow/0000/000"
    assert outside.fingerprint() == first.fingerprint()
    monkeypatch.chdir(tmp_path)
    assert load_ground_truth(small_network, copy).source == outside.source

    # a copy inside a project: named from the project root, not from the cwd
    project = tmp_path / "study"
    for marker in MARKERS:
        (project / marker).parent.mkdir(parents=True, exist_ok=True)
        (project / marker).write_text("")
    inside = project / "networks" / "flow" / "0000" / "000"
    shutil.copytree(flyvis_model_dir, inside)
    for cwd in (tmp_path, project, project / "networks", inside):
        monkeypatch.chdir(cwd)
        assert describe_model_dir(inside) == "networks/flow/0000/000", cwd
    for source in (first.source, outside.source):
        assert not Path(source).is_absolute() and str(tmp_path) not in source


def test_truncated_ground_truth_cache_is_recomputed(tiny_network, flyvis_model_dir, tmp_path, monkeypatch, caplog):
    cached = tmp_path / "groundtruth.npz"
    monkeypatch.setattr(groundtruth, "_cache_path", lambda network, model_dir: cached)
    mapped = []
    mapping = groundtruth._map_flyvis_parameters
    monkeypatch.setattr(groundtruth, "_map_flyvis_parameters", lambda *a: mapped.append(1) or mapping(*a))
    first = load_ground_truth(tiny_network, flyvis_model_dir)
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) // 2])
    with caplog.at_level("WARNING", logger="flygnn"):
        again = load_ground_truth(tiny_network, flyvis_model_dir)
    assert len(mapped) == 2 and again.fingerprint() == first.fingerprint()
    assert cached.stat().st_size == len(whole)
    assert load_ground_truth(tiny_network, flyvis_model_dir).fingerprint() == first.fingerprint()
    assert len(mapped) == 2  # the rewritten cache is read
    assert any(cached.name in r.getMessage() for r in caplog.records)


def test_downloaded_model_is_found_and_named_when_nothing_is_shipped(monkeypatch, tmp_path, flyvis_model_dir):
    _no_downloaded_models(monkeypatch, tmp_path)
    monkeypatch.setattr(groundtruth, "shipped_model_dir", lambda: tmp_path / "not-shipped")
    downloaded = tmp_path / "flyvis-root" / "results" / DEFAULT_MODEL
    shutil.copytree(flyvis_model_dir, downloaded)
    assert find_flyvis_model() == downloaded
    assert describe_model_dir(downloaded) == "flyvis flow/0000/000 (flyvis download-pretrained)"


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
    keys = np.stack(
        [network.neuron_type[network.source], network.neuron_type[network.target], network.edge_du, network.edge_dv], 1
    )
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
    _no_downloaded_models(monkeypatch, tmp_path)
    monkeypatch.setattr(groundtruth, "shipped_model_dir", lambda: tmp_path / "not-shipped")
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
