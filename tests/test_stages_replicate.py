"""Replicate runs: recipes resolve as documented, and `flygnn replicate` writes a row that the
command recorded in it reproduces (the smoke recipe through the real simulate → train → score path)."""

from __future__ import annotations

import csv
import math
import shlex
import shutil
from pathlib import Path

import pytest
from project_fixtures import make_project

from flygnn.cli import build_parser, main
from flygnn.errors import FlygnnError
from flygnn.locks import LockHeld, exclusive_lock
from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.project import ProjectLayout
from flygnn.replicate_runs import (
    CACHE_FOLDER,
    RECORD_COLUMNS,
    ReplicateRun,
    history_path,
    load_plan,
    load_recipe,
    per_type_path,
    per_type_record_columns,
    read_per_type_records,
    read_replicates,
    record_path,
    unfinished_path,
)
from flygnn.stages.replicate import keep_unfinished, next_run, restore_unfinished, run_status
from flygnn.train.config import load_training_config
from flygnn.train.history import read_history
from flygnn.train.state import META_FILE


def test_fast_recipe_resolves_per_sigma():
    at_half = load_recipe("fast", 0.5)
    assert (at_half.batch_size, at_half.iterations, at_half.lr_steps) == (4, 16000, "5000:0.3,10000:0.1,14000:0.03")
    assert (at_half.simulation, at_half.training, at_half.configuration) == ("cpu", "cpu", 0.5)
    assert load_recipe("fast", 0.05).iterations == 30000
    with pytest.raises(FlygnnError, match=r"recipes.yaml, recipes\[fast\]: missing iterations at σ = 0.2"):
        load_recipe("fast", 0.2)
    # the sweep keeps one configuration along σ
    assert {load_recipe("sweep", s).configuration for s in (0.0, 0.2, 1.0)} == {0.05}


def test_recipe_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FlygnnError, match="unknown recipe 'nope'; known: fast"):
        load_recipe("nope", 0.5)
    bad = tmp_path / "recipes.yaml"
    bad.write_text("recipes:\n  r:\n    all: {simulation: cpu, training: cpu, batch_size: 0, iterations: 10}\n")
    with pytest.raises(
        FlygnnError,
        match=r"recipes.yaml, recipes\[r\]\.all\.batch_size: Input should be greater than or equal to 1 \(got 0\)",
    ):
        load_recipe("r", 0.5, bad)
    bad.write_text(
        "recipes:\n  r:\n    all: {simulation: cpu, training: cpu, batch_size: 2, iterations: 10, speed: 3}\n"
    )
    with pytest.raises(FlygnnError, match=r"recipes\[r\]\.all\.speed: unknown key.*allowed: simulation, training"):
        load_recipe("r", 0.5, bad)
    bad.write_text(
        "recipes:\n  r:\n    all: {simulation: cpu, training: cpu, batch_size: 2, iterations: 10}\n"
        "    sigma:\n      - {sigma: 0.5, lr_steps: '5000:0.3,100:0.1'}\n"
    )
    with pytest.raises(FlygnnError, match=r"recipes\[r\]\.sigma #1\.lr_steps: learning-rate step iterations must be"):
        load_recipe("r", 0.5, bad)


def test_recipe_numbers_in_exponent_notation_are_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 2e4 and 5e-2, without a dot, as strings
    path = tmp_path / "recipes.yaml"
    path.write_text(
        "recipes:\n  r:\n    all: {simulation: cpu, training: cpu, configuration: 5e-2, batch_size: 4, iterations: 2e4}\n"
    )
    recipe = load_recipe("r", 0.5, path)
    assert (recipe.configuration, recipe.iterations) == (0.05, 20000)


def test_an_unpublished_configuration_is_refused_with_the_known_ones():
    with pytest.raises(FlygnnError, match=r"no published configuration for σ = 0.2 .* known: 0, 0.05, 0.5"):
        load_training_config("cpu", 0.2, configuration_sigma=0.2)
    swapped = load_training_config("cpu", 0.05, configuration_sigma=0.0)
    assert (swapped.embedding_dim, swapped.anchor, swapped.derived_from) == (4, 0.0, 0.0)


def test_the_recorded_command_parses_back_to_the_same_run():
    run = ReplicateRun("fast", 0.05, train_seed=3, simulation_seed=1, stimulus="edges", configuration=0.0)
    assert run.name == "fast-sigma-0p05-edges-sim1-train3-config-0"
    args = build_parser().parse_args(shlex.split(run.command())[1:])
    again = ReplicateRun(
        args.recipe, args.sigma, args.train_seed, args.simulation_seed, args.stimulus, args.configuration
    )
    assert again == run
    with pytest.raises(FlygnnError, match="--train-seed must be an integer >= 0"):
        ReplicateRun("fast", 0.5, train_seed=-1)


@pytest.mark.slow
def test_replicate_writes_one_reproducible_row(tmp_path, monkeypatch, capsys):
    layout = make_project(tmp_path, bundles=False)
    monkeypatch.chdir(tmp_path)
    argv = ["replicate", "--recipe", "smoke", "--sigma", "0.5", "--train-seed", "1", "--no-progress"]
    assert main(argv) == 0
    run = ReplicateRun("smoke", 0.5, train_seed=1)
    path = record_path(ProjectLayout.at(tmp_path), run)
    with path.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert tuple(row) == RECORD_COLUMNS
    assert row["command"] == run.command() and row["iterations"] == "60" and row["recipe"] == "smoke"
    assert all(math.isfinite(float(row[name])) for name in UPSTREAM_METRICS)
    history = read_history(history_path(ProjectLayout.at(tmp_path), run))
    assert history[-1]["iteration"] == 60 and "W_corrected_R2" in history[-1]
    # the per-type record beside it, from the same fit: one row per cell type
    per_type = read_per_type_records(layout.root / "data" / "replicates" / "per-type")[run.name]
    assert len(per_type) == 65 and all(math.isfinite(row["voltage_sd"]) for row in per_type)
    # the same command again scores the finished run without training it: the same scores
    assert main(argv) == 0
    (again,) = read_replicates(layout.root / "data" / "replicates")
    assert {k: again[k] for k in UPSTREAM_METRICS} == {k: float(row[k]) for k in UPSTREAM_METRICS}
    assert "60 iterations" in capsys.readouterr().out


@pytest.mark.slow
def test_a_run_at_an_unpublished_sigma_trains_with_the_configuration_it_names(tmp_path, monkeypatch):
    """The sweep's path: σ = 0.01 has no published configuration, σ = 0.05's is named."""
    layout = make_project(tmp_path, bundles=False)
    monkeypatch.chdir(tmp_path)
    argv = ["replicate", "--recipe", "smoke", "--sigma", "0.01", "--configuration", "0.05", "--train-seed", "1"]
    assert main([*argv, "--no-progress"]) == 0
    (row,) = read_replicates(layout.root / "data" / "replicates")
    assert (row["sigma"], row["configuration"], row["condition"]) == (0.01, 0.05, "sigma-0p01")
    assert row["command"] == ReplicateRun("smoke", 0.01, train_seed=1, configuration=0.05).command()
    assert all(math.isfinite(float(row[name])) for name in UPSTREAM_METRICS)


def test_a_plan_expands_lists_and_refuses_unknown_keys(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "runs:\n  - {recipe: fast, sigma: [0.05, 0.5], train_seed: [1, 2]}\n  - {recipe: sweep, sigma: 0.1}\n"
    )
    runs = load_plan(plan)
    assert [(r.recipe, r.sigma, r.train_seed) for r in runs] == [
        ("fast", 0.05, 1), ("fast", 0.05, 2), ("fast", 0.5, 1), ("fast", 0.5, 2), ("sweep", 0.1, 0)
    ]  # fmt: skip
    plan.write_text("runs:\n  - {recipe: fast, sigma: 0.5, seed: 1}\n")
    with pytest.raises(FlygnnError, match=r"plan.yaml, run #1: unknown key\(s\) \['seed'\]"):
        load_plan(plan)


def test_the_committed_plan_names_known_recipes_only():
    runs = load_plan(Path(__file__).resolve().parents[1] / "data" / "replicates" / "plan.yaml")
    assert len(runs) == len(set(runs)) >= 20
    for run in runs:
        run.resolved_recipe()  # raises for an unknown recipe or a σ the recipe does not cover


def test_next_run_prefers_an_interrupted_run_and_skips_locked_and_done_ones(tmp_path):
    layout = make_project(tmp_path, bundles=False)
    runs = [ReplicateRun("fast", 0.5, train_seed=k) for k in (1, 2, 3, 4)]
    record_path(layout, runs[0]).parent.mkdir(parents=True)
    record_path(layout, runs[0]).write_text("done")
    state = layout.root / CACHE_FOLDER / runs[2].name / "state"
    state.mkdir(parents=True)
    (state / META_FILE).write_text('{"iteration": 10}')
    assert [run_status(layout, r) for r in runs] == ["done", "todo", "resumable", "todo"]
    assert next_run(layout, runs) == runs[2]
    with exclusive_lock(layout.root / CACHE_FOLDER / f"{runs[2].name}.lock", runs[2].name):
        assert run_status(layout, runs[2]) == "running"
        assert next_run(layout, runs) == runs[1]
        with pytest.raises(LockHeld, match="is running in another flygnn"):
            with exclusive_lock(layout.root / CACHE_FOLDER / f"{runs[2].name}.lock", runs[2].name):
                pass
    assert next_run(layout, [runs[0]]) is None


def test_the_list_shows_how_far_each_unfinished_run_is(tmp_path, monkeypatch, capsys):
    layout = make_project(tmp_path, bundles=False)
    plan = layout.root / "data" / "replicates" / "plan.yaml"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text("runs:\n  - {recipe: fast, sigma: 0.5, train_seed: [1, 2, 3]}\n")
    runs = load_plan(plan)
    record_path(layout, runs[0]).write_text("done")
    # a committed state at 2,000 and a newer one in the working folder at 4,000: the newer counts
    committed = unfinished_path(layout, runs[1])
    committed.mkdir(parents=True)
    (committed / META_FILE).write_text('{"iteration": 2000}')
    state = layout.root / CACHE_FOLDER / runs[1].name / "state"
    state.mkdir(parents=True)
    (state / META_FILE).write_text('{"iteration": 4000}')
    monkeypatch.chdir(layout.root)
    assert main(["replicate", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["resumable", "4,000/16,000"]
    assert lines[2].split()[0] == "todo" and "--train-seed 3" in lines[2]
    assert lines[-1] == "1 done, 1 resumable, 1 todo"


def test_a_stopped_runs_state_is_kept_for_a_commit_and_restored_on_a_fresh_machine(tmp_path):
    layout = make_project(tmp_path, bundles=False)
    run = ReplicateRun("fast", 0.05, train_seed=2)
    state = layout.root / CACHE_FOLDER / run.name / "state"
    state.mkdir(parents=True)
    (state / META_FILE).write_text('{"iteration": 2350}')
    (state / "state.safetensors").write_bytes(b"tensors")
    kept = keep_unfinished(layout, run, state)
    assert kept == unfinished_path(layout, run) and kept.parent.parent == layout.root / "data" / "replicates"
    assert sorted(p.name for p in kept.iterdir()) == sorted([META_FILE, "state.safetensors"])
    # a fresh machine: no cache; the committed state makes the run resumable and is copied in
    shutil.rmtree(layout.root / CACHE_FOLDER)
    assert run_status(layout, run) == "resumable"
    assert restore_unfinished(layout, run, state) is True
    assert (state / "state.safetensors").read_bytes() == b"tensors"
    # a cache further along than the committed state is kept as it is
    (state / META_FILE).write_text('{"iteration": 4000}')
    assert restore_unfinished(layout, run, state) is False
    assert '"iteration": 4000' in (state / META_FILE).read_text()
    # nothing to keep without a state
    assert keep_unfinished(layout, ReplicateRun("fast", 0.05, train_seed=3), tmp_path / "none") is None


def _cache_run(layout, run: ReplicateRun, dataset, frames, network, *, tampered=None, bundle=True):
    """Put ``run`` into the project as if it had finished here: the dataset in the replicate cache,
    an (untrained) bundle beside it and a record with the bundle's own scores (``tampered``: some
    replaced)."""
    import torch

    from flygnn.analysis import recovery_metrics
    from flygnn.bundle import save_bundle
    from flygnn.model import FlyVisGNN
    from flygnn.replicate_runs import format_score

    root = layout.root / CACHE_FOLDER
    dataset_path = root / "datasets" / f"{run.dataset_name(run.resolved_recipe().simulation)}.zarr"
    if not dataset_path.exists():
        shutil.copytree(dataset.path, dataset_path)
    torch.manual_seed(run.train_seed)
    model = FlyVisGNN.from_network(network, embedding_dim=2, hidden=16)
    activity = frames.activity(16, seed=run.train_seed)
    if bundle:
        meta = {"condition": run.condition.name, "sigma": run.sigma, "training": {"iterations": 60}}
        save_bundle(
            root / run.name / "bundle", model, {**meta, "dataset": {"fingerprint": dataset.fingerprint()}}, activity
        )
    scores = recovery_metrics(model, activity, dataset.ground_truth()) | (tampered or {})
    row = {name: "" for name in RECORD_COLUMNS}
    row.update(run=run.name, sigma="0.05", train_seed=run.train_seed, simulation_seed=0, iterations=60)
    row.update({name: format_score(value) for name, value in scores.items()})
    row.update(dataset_fingerprint=dataset.fingerprint(), command=run.command(), configuration="0.05")
    path = record_path(layout, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RECORD_COLUMNS)
        writer.writeheader()
        writer.writerow(row)


def test_per_type_adds_the_record_of_a_cached_run_and_says_why_it_cannot_for_the_others(
    tmp_path, monkeypatch, capsys, dataset, frames, tiny_network
):
    from flygnn.analysis.per_type import VOLTAGE_SD

    layout = make_project(tmp_path, bundles=False)
    plan = layout.root / "data" / "replicates" / "plan.yaml"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text("runs:\n  - {recipe: smoke, sigma: 0.05, train_seed: [1, 2, 3, 4]}\n")
    cached, elsewhere, unfinished, changed = load_plan(plan)
    _cache_run(layout, cached, dataset, frames, tiny_network)
    _cache_run(layout, elsewhere, dataset, frames, tiny_network, bundle=False)
    _cache_run(layout, changed, dataset, frames, tiny_network, tampered={"tau_R2": 0.5})
    monkeypatch.chdir(tmp_path)
    assert main(["replicate", "--per-type"]) == 1  # finished runs are left without one
    out = capsys.readouterr().out
    assert f"wrote data/replicates/per-type/{cached.name}.csv" in out
    assert (
        f"{elsewhere.name}: no per-type record: no cached bundle here (data/cache/replicates/{elsewhere.name}/bundle): "
        "trained on another machine" in out
    )
    assert f"{changed.name}: no per-type record: the cached bundle scores tau_R2 " in out
    assert "where its record says 0.500000: not the model the record scored" in out
    assert "per-type records: 1 written, 2 could not be written, 0 already there; 1 run of the plan not finished" in out
    assert "Traceback" not in out
    assert not per_type_path(layout, unfinished).exists() and not per_type_path(layout, changed).exists()
    # the record: one row per cell type of the network, the per-type table's columns and voltage_sd
    records = read_per_type_records(layout.root / "data" / "replicates" / "per-type")
    assert list(records) == [cached.name]
    rows = records[cached.name]
    assert [row["type"] for row in rows] == list(tiny_network.type_names)
    assert tuple(rows[0]) == per_type_record_columns()
    assert sum(math.isfinite(row[VOLTAGE_SD]) and row[VOLTAGE_SD] >= 0 for row in rows) == len(rows)
    # a second call finds it there and writes nothing
    text = per_type_path(layout, cached).read_text()
    main(["replicate", "--per-type"])
    assert "0 written, 2 could not be written, 1 already there" in capsys.readouterr().out
    assert per_type_path(layout, cached).read_text() == text


def test_per_type_outside_a_plan_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    make_project(tmp_path, bundles=False)
    monkeypatch.chdir(tmp_path)
    assert main(["replicate", "--per-type", "--plan", "nowhere.yaml"]) != 0
    err = capsys.readouterr().err
    assert "nowhere.yaml" in err and "Traceback" not in err
