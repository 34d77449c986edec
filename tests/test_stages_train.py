"""Training one condition end to end: bundle with its state and history, resume in a fresh clone, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from project_fixtures import make_project

from flygnn.bundle import HISTORY_FILE, LOSS_FIGURE, META_FILE, MODEL_FILE, STATE_FOLDER
from flygnn.cli import build_parser
from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.stages.train import train_condition
from flygnn.train import read_history

# end-to-end: papermill, subprocesses or training (README: the quick loop skips them)
pytestmark = pytest.mark.slow


def train(dataset, out, checkpoint_dir, iterations, **kwargs):
    overrides = {"iterations": iterations, "activity_frames": 16, "log_every": 10, "score_every": 20}
    return train_condition(
        "sigma-0p05",
        "smoke",
        dataset=dataset.path,
        out=out,
        checkpoint_dir=checkpoint_dir,
        overrides=overrides,
        progress=False,
        **kwargs,
    )


def test_bundle_carries_its_state_history_and_upstream_recovery(dataset, tiny_network, synthetic_truth, tmp_path):
    from flygnn.bundle import load_bundle, portable_path

    out = train(dataset, tmp_path / "bundles" / "sigma-0p05", tmp_path / "ckpt", 30)
    bundle = load_bundle(out, tiny_network)
    meta = bundle.meta
    assert meta["condition"] == "sigma-0p05" and meta["sigma"] == 0.05
    assert meta["training"]["iterations"] == 30 and meta["training"]["preset"] == "smoke"
    assert meta["dataset"] == {"path": portable_path(dataset.path), "fingerprint": dataset.fingerprint()}
    assert not meta["dataset"]["path"].startswith("/")  # no absolute path of this machine in a bundle
    import dataclasses

    from flygnn.bundle import groundtruth_record

    absolute = dataclasses.replace(synthetic_truth, source="/somewhere/on/this/machine/flow/0000/000")
    assert groundtruth_record(absolute)["source"] == ".../flow/0000/000"
    assert meta["groundtruth"]["synthetic"] is True
    assert [leg["ended_iteration"] for leg in meta["training"]["legs"]] == [30]
    history = read_history(out / HISTORY_FILE)
    scored = [row for row in history if "W_corrected_R2" in row]
    assert [row["iteration"] for row in scored] == [0, 20, 30]
    assert {k: scored[-1][k] for k in meta["recovery"]} == pytest.approx(meta["recovery"])
    assert set(meta["recovery"]) == set(RECOVERY_METRICS)
    assert (out / STATE_FOLDER / "state.safetensors").is_file() and (out / LOSS_FIGURE).is_file()
    assert bundle.activity["frames_voltage"].shape == (16, tiny_network.n_neurons)
    voltage = dataset.read("train", "voltage").astype(np.float64)
    np.testing.assert_allclose(bundle.activity["voltage_std"], voltage.std(0, ddof=1), rtol=1e-4, atol=1e-6)


def test_resume_in_a_fresh_clone_continues_exactly(dataset, tmp_path):
    """Legs of 20 + 20 iterations from the committed state equal one run of 40, history appended."""
    torch.set_num_threads(1)
    whole = train(dataset, tmp_path / "whole", tmp_path / "ckpt-whole", 40)
    leg = train(dataset, tmp_path / "leg", tmp_path / "ckpt-leg", 20)
    shutil.rmtree(tmp_path / "ckpt-leg")  # a fresh clone has only what was committed: the bundle
    train(dataset, leg, tmp_path / "ckpt-leg", 40, resume=True)
    from safetensors.torch import load_file

    a, b = load_file(str(whole / MODEL_FILE)), load_file(str(leg / MODEL_FILE))
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows_whole, rows_leg = read_history(whole / HISTORY_FILE), read_history(leg / HISTORY_FILE)
    assert [r["iteration"] for r in rows_leg] == [r["iteration"] for r in rows_whole]
    assert [r.get("loss") for r in rows_leg] == [r.get("loss") for r in rows_whole]
    assert [r.get("W_corrected_R2") for r in rows_leg] == [r.get("W_corrected_R2") for r in rows_whole]
    legs = json.loads((leg / META_FILE).read_text())["training"]["legs"]
    assert [(x["started_iteration"], x["ended_iteration"]) for x in legs] == [(0, 20), (20, 40)]


def test_resume_takes_the_newer_of_the_running_and_the_committed_state(dataset, tmp_path):
    out = train(dataset, tmp_path / "b", tmp_path / "ckpt", 20)
    # a newer running state (as left by Ctrl-C at iteration 30) wins over the bundle's
    (tmp_path / "ckpt").mkdir(exist_ok=True)
    state_json = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert state_json["iteration"] == 20
    train(dataset, out, tmp_path / "ckpt", 30, resume=True)
    train(dataset, out, tmp_path / "ckpt", 40, resume=True)
    assert json.loads((out / META_FILE).read_text())["training"]["iterations"] == 40


def test_refusals_name_what_to_do(dataset, tmp_path):
    out = train(dataset, tmp_path / "b", tmp_path / "ckpt", 20)
    with pytest.raises(FlygnnError, match="already exists; pass --overwrite"):
        train(dataset, out, tmp_path / "other-ckpt", 20)
    with pytest.raises(FlygnnError, match="state of an earlier run exists.*--resume.*--fresh"):
        train(dataset, tmp_path / "new", tmp_path / "ckpt", 20)
    with pytest.raises(FlygnnError, match="nothing to resume"):
        train(dataset, tmp_path / "none", tmp_path / "none-ckpt", 20, resume=True)
    with pytest.raises(FlygnnError, match="already at iteration 20 ≥ --iterations 20"):
        train(dataset, out, tmp_path / "ckpt", 20, resume=True)
    with pytest.raises(FlygnnError, match="batch_size: 2 -> 3"):
        train_condition(
            "sigma-0p05",
            "smoke",
            dataset=dataset.path,
            out=out,
            checkpoint_dir=tmp_path / "ckpt",
            resume=True,
            overrides={"iterations": 40, "batch_size": 3},
            progress=False,
        )
    # a state of another preset: the refusal names the preset to resume with
    with pytest.raises(
        FlygnnError,
        match=r"missing.zarr not found\. The state was trained with --preset smoke: "
        r"resume it with that preset \(`flygnn simulate --preset smoke",
    ):
        train_condition(
            "sigma-0p05",
            "cpu",
            dataset=tmp_path / "missing.zarr",
            out=out,
            checkpoint_dir=tmp_path / "ckpt",
            resume=True,
            progress=False,
        )
    with pytest.raises(
        FlygnnError,
        match=r"trained with other settings \(hidden: 32 -> 80;.*\); resume with the same ones\. "
        r"The state was trained with --preset smoke",
    ):
        train_condition(
            "sigma-0p05",
            "cpu",
            dataset=dataset.path,
            out=out,
            checkpoint_dir=tmp_path / "ckpt",
            resume=True,
            progress=False,
        )
    with pytest.raises(FlygnnError, match="not found; simulate it first"):
        train_condition("sigma-0p05", "smoke", dataset=tmp_path / "missing.zarr", out=tmp_path / "x", progress=False)
    with pytest.raises(FlygnnError, match="simulated at σ = 0.05 but condition sigma-0p5 has σ = 0.5"):
        train_condition("sigma-0p5", "smoke", dataset=dataset.path, out=tmp_path / "x", progress=False)


def test_a_bundle_without_state_cannot_be_resumed_and_warm_start_is_gone(dataset, tmp_path, capsys):
    # every committed bundle carries its state (data/bundles*/*/training-state): the warm start
    # for bundles trained before states were kept has nothing left to serve
    out = train(dataset, tmp_path / "b", tmp_path / "ckpt", 20)
    shutil.rmtree(out / STATE_FOLDER)
    shutil.rmtree(tmp_path / "ckpt")
    with pytest.raises(FlygnnError, match=r"nothing to resume: .* Start without --resume\.$"):
        train(dataset, out, tmp_path / "ckpt", 40, resume=True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--condition", "sigma-0p05", "--warm-start"])
    assert "unrecognized arguments: --warm-start" in capsys.readouterr().err


def test_cli_training_and_its_errors(dataset, tmp_path, capsys):
    from flygnn.cli import main

    args = [
        "train",
        "--condition",
        "sigma-0p05",
        "--preset",
        "smoke",
        "--dataset",
        str(dataset.path),
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        "--no-progress",
    ]
    assert main([*args, "--out", str(tmp_path / "bundle"), "--iterations", "20", "--score-every", "0"]) == 0
    assert (tmp_path / "bundle" / MODEL_FILE).is_file()
    assert main([*args, "--out", str(tmp_path / "x"), "--device", "tpu"]) == 2
    assert "device 'tpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--out", str(tmp_path / "x"), "--resume", "--fresh"])
    assert main([*args, "--out", str(tmp_path / "x"), "--time-limit", "0"]) == 2
    assert "--time-limit must be > 0" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "x"), "--lr-steps", "10:0.3,5:0.1"]) == 2
    assert "must be > 0 and increasing" in capsys.readouterr().err
    # learning-rate steps within one run, recorded as legs; resuming without them is pointed out
    out, args = tmp_path / "stepped", [*args[:-2], str(tmp_path / "ckpt-stepped"), "--no-progress"]
    assert main([*args, "--out", str(out), "--iterations", "20", "--score-every", "0", "--lr-steps", "10:0.3"]) == 0
    meta = json.loads((out / META_FILE).read_text())["training"]
    assert [(leg["started_iteration"], leg["lr_factor"]) for leg in meta["legs"]] == [(0, 1.0), (10, 0.3)]
    assert meta["config"]["lr_steps"] == [[10, 0.3]]
    capsys.readouterr()
    assert main([*args, "--out", str(out), "--iterations", "30", "--score-every", "0", "--resume"]) == 0
    assert "ran at learning-rate factor 0.3; this one starts at 1" in capsys.readouterr().err
    assert main(["bundle-info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    legs = [(leg["from_iteration"], leg["to_iteration"], leg["lr_factor"]) for leg in info["legs"]]
    assert legs == [(0, 10, 1.0), (10, 20, 0.3), (20, 30, 1.0)]
    assert info["resumable_state_iteration"] == 30


def test_a_run_that_will_not_fit_in_memory_says_so_before_loading(dataset, tmp_path, capsys, monkeypatch):
    from flygnn.stages import train as pipeline_train

    monkeypatch.setattr(pipeline_train, "available_memory", lambda: 10**9)
    train(dataset, tmp_path / "b", tmp_path / "ckpt", 10)
    err = capsys.readouterr().err
    assert "warning: this run needs about 2.1 GB of memory" in err and "1.0 GB are available now" in err
    monkeypatch.setattr(pipeline_train, "available_memory", lambda: 10**12)
    train(dataset, tmp_path / "c", tmp_path / "ckpt-c", 10)
    assert "warning" not in capsys.readouterr().err


def test_available_memory_reads_the_system():
    from flygnn.stages.train import available_memory

    available = available_memory()
    assert available is None or 0 < available < 1 << 50


def test_cli_training_uses_the_project_files_from_any_sub_folder(dataset, tmp_path, capsys, monkeypatch):
    from flygnn.cli import main

    layout = make_project(tmp_path / "project", conditions=[("sigma-0p05", 0.05)], bundles=False)
    shutil.copytree(dataset.path, layout.dataset_path("smoke", "sigma-0p05"))
    (layout.root / "src").mkdir()
    args = ["train", "--condition", "sigma-0p05", "--preset", "smoke", "--no-progress", "--score-every", "0"]
    monkeypatch.chdir(layout.root / "src")
    assert main([*args, "--iterations", "10"]) == 0, capsys.readouterr().err
    bundle = layout.bundle_dir("sigma-0p05")
    meta = json.loads((bundle / META_FILE).read_text())
    assert meta["dataset"]["path"] == "data/datasets/smoke/sigma-0p05.zarr", "recorded relative to the project"
    assert (layout.training_cache_dir("smoke", "sigma-0p05") / "state.json").is_file()
    monkeypatch.chdir(layout.root / "data")
    assert main([*args, "--resume", "--iterations", "20"]) == 0, capsys.readouterr().err
    legs = json.loads((bundle / META_FILE).read_text())["training"]["legs"]
    assert [(leg["started_iteration"], leg["ended_iteration"]) for leg in legs] == [(0, 10), (10, 20)]
    assert "resumed from data/cache/training/smoke/sigma-0p05 at iteration 10" in legs[1]["note"]
    monkeypatch.chdir(layout.root)
    assert main([*args, "--resume", "--iterations", "20"]) == 2, "the root sees the same state"
    assert "is already at iteration 20" in capsys.readouterr().err


def test_cli_training_outside_a_project_needs_explicit_paths(dataset, tmp_path, capsys, monkeypatch):
    from flygnn.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--condition", "sigma-0p05", "--preset", "smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no flygnn project found at or above" in err and "Traceback" not in err


def test_a_warning_of_the_periodic_scoring_is_shown_once_per_message():
    import warnings

    from flygnn.stages.train import warn_each_message_once

    @warn_each_message_once
    def score(n):
        with warnings.catch_warnings():  # what resets Python's own once-per-place memory
            warnings.simplefilter("ignore", DeprecationWarning)
        warnings.warn("34 neuron(s) never changed voltage", UserWarning, stacklevel=1)
        if n == 2:
            warnings.warn("something new", UserWarning, stacklevel=1)
        return n

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        assert [score(n) for n in range(4)] == [0, 1, 2, 3]
    assert [str(w.message) for w in caught] == ["34 neuron(s) never changed voltage", "something new"]
