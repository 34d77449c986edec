"""The command line: JSON output, clear errors instead of tracebacks, smoke simulation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flygnn.cli import main

ROOT = Path(__file__).resolve().parents[1]


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
    assert status == 2 and "sigma must be >= 0" in err


def test_smoke_simulation_of_all_conditions(capsys, monkeypatch, tmp_path, flyvis_model_dir):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "data", tmp_path / "data", ignore=shutil.ignore_patterns("datasets", "bundles", "cache"))
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
