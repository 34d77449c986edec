"""The command line: JSON output, clear errors instead of tracebacks, smoke simulation."""

from __future__ import annotations

import json

import pytest
from project_fixtures import ROOT, make_project

from flygnn.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_network_json_prints_the_sizes(capsys, small_network):
    status, out, _ = run(capsys, "network", "--extent", "2", "--json")
    assert status == 0
    summary = json.loads(out)
    assert (summary["neurons"], summary["edges"], summary["types"], summary["inputs"]) == (1203, 28904, 65, 152)


def test_groundtruth_json(capsys, small_network, flyvis_model_dir):
    status, out, _ = run(capsys, "groundtruth", "--extent", "2", "--flyvis-model", str(flyvis_model_dir), "--json")
    summary = json.loads(out)
    assert status == 0 and summary["synthetic"] is False
    assert summary["edges_zero"] + summary["edges_positive"] + summary["edges_negative"] == 28904


@pytest.mark.parametrize(
    "argv, message",
    [
        (["network", "--extent", "40"], "extent must be an integer"),
        (["groundtruth", "--extent", "1", "--flyvis-model", "/nonexistent/model"], "does not exist"),
        (["simulate", "--preset", "huge"], "unknown simulation preset"),
        (["simulate", "--preset", "smoke", "--conditions", "sigma-7"], "unknown condition"),
        (["simulate", "--preset", "smoke", "--seed", "-1"], "--seed must be >= 0"),
    ],
)
def test_user_mistakes_get_a_message_not_a_traceback(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(ROOT)
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_negative_sigma_in_conditions_file_is_refused(capsys, tmp_path):
    conditions = tmp_path / "conditions.yaml"
    conditions.write_text("conditions:\n  - name: bad\n    sigma: -0.5\n")
    status, _, err = run(capsys, "simulate", "--preset", "smoke", "--conditions-file", str(conditions))
    assert status == 2 and f"{conditions}, conditions #1.sigma: Input should be greater than or equal to 0" in err


@pytest.mark.parametrize(
    "content, message",
    [
        (bytes(range(256)) * 8, "is not a text file"),
        (
            f"conditions:\n  - name: {'a' * 300}\n    sigma: 0.5\n".encode(),
            "conditions #1.name: String should have at most",
        ),
    ],
    ids=["binary", "300-character-name"],
)
def test_a_bad_conditions_file_gets_one_line_and_leaves_no_folder(capsys, tmp_path, content, message):
    conditions = tmp_path / "conditions.yaml"
    conditions.write_bytes(content)
    out = tmp_path / "out"
    status, _, err = run(
        capsys, "simulate", "--preset", "smoke", "--conditions-file", str(conditions), "--out", str(out)
    )
    assert status == 2 and err.startswith(f"error: {conditions}") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.slow
def test_smoke_simulation_of_all_conditions(capsys, monkeypatch, tmp_path, flyvis_model_dir):
    make_project(tmp_path, conditions=[("sigma-0", 0.0), ("sigma-0p05", 0.05), ("sigma-0p5", 0.5)], bundles=False)
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "simulate", "--preset", "smoke", "--flyvis-model", str(flyvis_model_dir))
    assert status == 0
    from flygnn.dataset import open_dataset

    for name, sigma in (("sigma-0", 0.0), ("sigma-0p05", 0.05), ("sigma-0p5", 0.5)):
        dataset = open_dataset(tmp_path / "data" / "datasets" / "smoke" / f"{name}.zarr")
        assert dataset.sigma == sigma and dataset.attrs["condition"] == name
    # a second run keeps the finished datasets
    status, out, _ = run(capsys, "simulate", "--preset", "smoke", "--flyvis-model", str(flyvis_model_dir))
    assert status == 0 and out.count("exists, kept") == 3


@pytest.mark.parametrize("command", ["network", "groundtruth"])
def test_help_documents_extent_and_the_cache(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--extent EXTENT lattice radius in columns" in text
    assert "~/.cache/flygnn" in text and "FLYGNN_CACHE_DIR" in text


def test_simulate_takes_its_default_paths_from_the_project_in_any_sub_folder(capsys, monkeypatch, tmp_path):
    layout = make_project(tmp_path / "project", bundles=False)
    for name in ("sigma-0", "sigma-0p5"):
        layout.dataset_path("smoke", name).mkdir(parents=True)  # finished: kept, so nothing is simulated
    outputs = []
    for folder in (layout.root, layout.root / "data", layout.chapters):
        monkeypatch.chdir(folder)
        status, out, err = run(capsys, "simulate", "--preset", "smoke")
        assert status == 0, err
        outputs.append(out)
    assert outputs[1] == outputs[2] == outputs[0]
    assert "sigma-0p5: data/datasets/smoke/sigma-0p5.zarr exists, kept" in outputs[0]
    # paths typed by the user are taken from where they are typed
    monkeypatch.chdir(layout.root / "data")
    status, out, err = run(
        capsys, "simulate", "--preset", "smoke", "--out", "datasets", "--conditions-file", "conditions.yaml"
    )
    assert status == 0 and out == outputs[0], err


def test_simulate_outside_a_project_needs_explicit_paths(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "simulate", "--preset", "smoke")
    assert status == 2 and "Traceback" not in err
    assert f"no flygnn project found at or above {tmp_path.resolve()} for the default path data/conditions.yaml" in err
    (tmp_path / "conditions.yaml").write_text("conditions:\n  - name: quiet\n    sigma: 0\n")
    (tmp_path / "out" / "smoke" / "quiet.zarr").mkdir(parents=True)
    status, out, err = run(
        capsys, "simulate", "--preset", "smoke", "--conditions-file", "conditions.yaml", "--out", "out"
    )
    assert status == 0 and "exists, kept" in out, err


@pytest.mark.slow
def test_a_closed_pipe_ends_a_listing_quietly(tmp_path):
    """`flygnn replicate --list | head -1`: no BrokenPipeError traceback when the reader stops."""
    import subprocess
    import sys

    from project_fixtures import make_project

    make_project(tmp_path, bundles=False)
    plan = tmp_path / "data" / "replicates" / "plan.yaml"
    plan.parent.mkdir(parents=True)
    plan.write_text("runs:\n  - {recipe: smoke, sigma: 0.5, train_seed: [" + ", ".join(map(str, range(2000))) + "]}\n")
    result = subprocess.run(
        f"{sys.executable} -m flygnn replicate --list | head -1",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.stdout.startswith("todo") and "Traceback" not in result.stderr, result.stderr
