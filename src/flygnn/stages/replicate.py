"""Replicate runs: one fixed recipe, trained again with other seeds, stimuli or noise levels.

One committed bundle per σ is one training run, an anecdote. A replicate run simulates a
dataset (its own simulation seed and stimulus), trains the recipe on it (its own training
seed), scores the model by upstream's rules (the same code as the book's Table 1) and
writes one CSV row with the command that reproduces it (:mod:`flygnn.replicate_runs`
defines the run, its record and the plan), and beside it the run's per-type record, read
from the same fit as the scores. No model is committed: the records and the command are
the result. :func:`add_per_type_records` writes the per-type record of a run finished
before it existed, from its cached bundle, without training.

    data/cache/replicates/datasets/<dataset>.zarr     the simulated datasets (not committed)
    data/cache/replicates/<run>/                      the run's bundle and training state
    data/replicates/unfinished/<run>/                 the state of a stopped run (committed)

Running the same command again resumes an interrupted run from its last state, and scores
a finished one without training it again. A run stopped before its end (SIGUSR1 or
SIGTERM) also copies its state to ``data/replicates/unfinished/<run>/``: committed, it
lets the run go on on another machine (a run takes longer than a working session; the
dataset is simulated again from its seeds, the same bytes). The copy is removed once the
run's record is written. A run holds a lock while it works
(``data/cache/replicates/<run>.lock``), so that two processes working down the plan side
by side (one per core) never take the same run.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flygnn.atomic import remove_tree
from flygnn.bundle import META_FILE
from flygnn.errors import FlygnnError
from flygnn.locks import LockHeld, exclusive_lock
from flygnn.metric_names import RECOVERY_METRICS, UPSTREAM_METRICS
from flygnn.project import ProjectLayout
from flygnn.replicate_runs import (
    CACHE_FOLDER,
    RECORD_COLUMNS,
    Recipe,
    ReplicateRun,
    format_score,
    history_path,
    per_type_path,
    per_type_record_columns,
    project_root,
    read_record,
    record_path,
    unfinished_path,
)

logger = logging.getLogger(__name__)


def simulate_replicate_dataset(run: ReplicateRun, recipe: Recipe, layout: ProjectLayout, progress: bool = True) -> Path:
    """The run's dataset, simulated once and shared by every run with the same simulation seed and stimulus."""
    from flygnn.connectome import load_network
    from flygnn.groundtruth import load_ground_truth
    from flygnn.simulate import preset, simulate_dataset
    from flygnn.stimulus import StimulusSpec

    path = project_root(layout) / CACHE_FOLDER / "datasets" / f"{run.dataset_name(recipe.simulation)}.zarr"
    if path.exists():
        return path
    settings = preset(recipe.simulation)
    network = load_network(settings["extent"])
    simulate_dataset(
        path,
        network,
        load_ground_truth(network),
        sigma=run.sigma,
        train_frames=settings["train_frames"],
        test_frames=settings["test_frames"],
        stimulus_spec=StimulusSpec.from_dict({"kind": run.stimulus, "seed": run.simulation_seed}),
        # the condition's name seeds the noise stream: seed 0 at a published σ is that condition's dataset
        condition=run.condition.name,
        preset_name=recipe.simulation,
        seed=run.simulation_seed,
        progress=progress,
    )
    return path


def run_replicate(
    run: ReplicateRun,
    *,
    layout: ProjectLayout | None = None,
    threads: int | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    recipes: str | Path | None = None,
) -> dict[str, Any] | None:
    """Simulate (once), train (resuming an interrupted run) and score one replicate; write its record.

    Returns the record (a dict of :data:`RECORD_COLUMNS`), or None when ``stop`` ended the
    training before the recipe's iterations (the state is saved; the same call resumes it).
    Raises :class:`flygnn.locks.LockHeld` when another process works on the run.
    """
    layout = layout or ProjectLayout.find()
    recipe = run.resolved_recipe(recipes)
    with exclusive_lock(_lock_path(layout, run), f"replicate run {run.name}"):
        dataset_lock = project_root(layout) / CACHE_FOLDER / "datasets" / f"{run.dataset_name(recipe.simulation)}.lock"
        # two runs on one dataset: the second waits for the first's simulation and then shares it
        with exclusive_lock(dataset_lock, f"the simulation of {dataset_lock.stem}", wait=True):
            dataset = simulate_replicate_dataset(run, recipe, layout, progress)
        return _train_and_score(run, recipe, dataset, layout, threads, progress, stop)


def _train_and_score(
    run: ReplicateRun,
    recipe: Recipe,
    dataset: Path,
    layout: ProjectLayout,
    threads: int | None,
    progress: bool,
    stop: threading.Event | None,
) -> dict[str, Any] | None:
    import json

    import torch

    from flygnn import __version__
    from flygnn.analysis import UpstreamScoring
    from flygnn.atomic import write_text
    from flygnn.bundle import HISTORY_FILE, STATE_FOLDER, load_bundle
    from flygnn.connectome import load_network
    from flygnn.dataset import open_dataset
    from flygnn.stages.train import train_condition
    from flygnn.train.state import peek_iteration

    work = project_root(layout) / CACHE_FOLDER / run.name
    bundle, state = work / "bundle", work / "state"
    trained = peek_iteration(bundle / STATE_FOLDER) if (bundle / META_FILE).is_file() else None
    if trained is None or trained < recipe.iterations:
        restore_unfinished(layout, run, state)
        resume = peek_iteration(state) is not None or trained is not None
        train_condition(
            run.condition,
            recipe.training,
            dataset=dataset,
            out=bundle,
            checkpoint_dir=state,
            resume=resume,
            overwrite=True,
            overrides={
                "seed": run.train_seed,
                "batch_size": recipe.batch_size,
                "iterations": recipe.iterations,
                "lr_steps": _parse_steps(recipe.lr_steps),
            },
            progress=progress,
            stop=stop,
            configuration_sigma=recipe.configuration,
        )
    meta = json.loads((bundle / META_FILE).read_text())
    training = meta["training"]
    if int(training["iterations"]) < recipe.iterations:
        keep_unfinished(layout, run, state)
        return None
    ds = open_dataset(dataset)
    network = load_network(extent=int(ds.attrs["extent"]))
    loaded = load_bundle(bundle, network)
    scoring = UpstreamScoring().fit(loaded.model, loaded.activity, ds.ground_truth(), network)
    scores = scoring.scores_
    threads_used = sorted({leg.get("threads") for leg in training.get("legs", []) if leg.get("threads")})
    record = {
        "run": run.name,
        "condition": run.condition.name,
        "sigma": f"{run.sigma:g}",
        "train_seed": run.train_seed,
        "simulation_seed": run.simulation_seed,
        "stimulus": run.stimulus,
        "configuration": f"{recipe.configuration:g}",
        "recipe": recipe.name,
        "iterations": int(training["iterations"]),
        "training_minutes": round(float(training["wall_time_s"]) / 60.0, 1),
        "threads": "/".join(str(t) for t in threads_used) or str(threads or torch.get_num_threads()),
        **{name: format_score(scores[name]) for name in UPSTREAM_METRICS},
        "dataset_fingerprint": meta.get("dataset", {}).get("fingerprint", ""),
        "code_version": __version__,
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": run.command(),
    }
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RECORD_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow(record)
    # the history and the per-type record first: the record makes the run "done", and a done
    # run without its curve or its per-type rows would be one the book cannot draw or break down
    history = (bundle / HISTORY_FILE).read_text()
    write_text(history_path(layout, run), history)
    _write_per_type(layout, run, scoring.per_type_)
    write_text(record_path(layout, run), buffer.getvalue())
    unfinished = unfinished_path(layout, run)
    if unfinished.exists():
        remove_tree(unfinished)
    return record


def restore_unfinished(layout: ProjectLayout, run: ReplicateRun, state: Path) -> bool:
    """Copy a committed unfinished state into the run's cache when it is further along than
    the cache's own (a fresh machine has none). Returns whether it was copied."""
    from flygnn.atomic import atomic_directory
    from flygnn.train.state import peek_iteration

    kept = unfinished_path(layout, run)
    committed = peek_iteration(kept)
    if committed is None or committed <= (peek_iteration(state) or -1):
        return False
    with atomic_directory(state, overwrite=True) as tmp:
        for file in kept.iterdir():
            shutil.copy2(file, tmp / file.name)
    logger.info("%s: resuming from the committed state at iteration %d (%s)", run.name, committed, kept)
    return True


def keep_unfinished(layout: ProjectLayout, run: ReplicateRun, state: Path) -> Path | None:
    """Copy the state of a run stopped before its end to ``data/replicates/unfinished/<run>/``
    (atomically; None when there is no state to keep)."""
    from flygnn.atomic import atomic_directory
    from flygnn.train.state import peek_iteration

    if peek_iteration(state) is None:
        return None
    kept = unfinished_path(layout, run)
    with atomic_directory(kept, overwrite=True) as tmp:
        for file in state.iterdir():
            if file.is_file():
                shutil.copy2(file, tmp / file.name)
    return kept


def _write_per_type(layout: ProjectLayout, run: ReplicateRun, columns) -> Path:
    from flygnn.analysis.per_type import write_per_type

    return write_per_type(per_type_path(layout, run), columns, per_type_record_columns())


@dataclass(frozen=True)
class PerTypeOutcome:
    """What :func:`add_per_type_records` found for one run: ``state`` is "written" (``path``),
    "failed" (``reason`` says why and what to do), "present" (it had one) or "unfinished" (no
    record yet: its per-type record comes with its scores)."""

    run: ReplicateRun
    state: str
    path: Path | None = None
    reason: str = ""


def add_per_type_records(
    layout: ProjectLayout, runs: list[ReplicateRun], recipes: str | Path | None = None
) -> list[PerTypeOutcome]:
    """Write the per-type record of every run in ``runs`` that has a record but none, from its cached
    bundle and dataset, without training. The bundle must be the model its record scored: the same
    iterations and dataset, and the same four recovery scores (to the record's six decimals)."""
    outcomes = []
    for run in runs:
        if not record_path(layout, run).is_file():
            outcomes.append(PerTypeOutcome(run, "unfinished"))
        elif per_type_path(layout, run).is_file():
            outcomes.append(PerTypeOutcome(run, "present", per_type_path(layout, run)))
        else:
            try:
                with exclusive_lock(_lock_path(layout, run), f"replicate run {run.name}"):
                    outcomes.append(_per_type_from_cache(layout, run, recipes))
            except LockHeld:
                reason = "another flygnn works on this run right now; try again when it is done"
                outcomes.append(PerTypeOutcome(run, "failed", reason=reason))
            except FlygnnError as exc:
                outcomes.append(PerTypeOutcome(run, "failed", reason=str(exc)))
    return outcomes


# a recomputed score may differ from its record by the record's rounding (six decimals)
SCORE_TOLERANCE = 1e-5


def _per_type_from_cache(layout: ProjectLayout, run: ReplicateRun, recipes: str | Path | None) -> PerTypeOutcome:
    import json

    from flygnn.analysis import UpstreamScoring
    from flygnn.bundle import load_bundle
    from flygnn.connectome import load_network
    from flygnn.dataset import open_dataset

    def failed(reason: str) -> PerTypeOutcome:
        return PerTypeOutcome(run, "failed", reason=reason)

    root = project_root(layout)
    bundle = root / CACHE_FOLDER / run.name / "bundle"
    if not (bundle / META_FILE).is_file():
        return failed(
            f"no cached bundle here ({layout.relative(bundle)}): trained on another machine, or its cache "
            "was cleared; run `flygnn replicate --per-type` where its bundle is, or retrain it with the command "
            "in its record (hours; the new scores replace the record's)"
        )
    recipe = run.resolved_recipe(recipes)
    dataset = root / CACHE_FOLDER / "datasets" / f"{run.dataset_name(recipe.simulation)}.zarr"
    if not dataset.exists():
        return failed(
            f"its dataset {layout.relative(dataset)} is gone; `{run.command()}` simulates it again and "
            "scores the cached bundle without training it, writing both records"
        )
    (record,) = read_record(record_path(layout, run))
    meta = json.loads((bundle / META_FILE).read_text())
    iterations = int(meta.get("training", {}).get("iterations", -1))
    fingerprint = meta.get("dataset", {}).get("fingerprint", "")
    if iterations != record["iterations"] or fingerprint != record["dataset_fingerprint"]:
        return failed(
            f"the cached bundle ({iterations} iterations on dataset {fingerprint or '?'}) is not the model its "
            f"record scored ({record['iterations']} iterations on dataset {record['dataset_fingerprint'] or '?'}); "
            f"`{run.command()}` scores the cached bundle again (finishing its training first if need be) and "
            "writes both records"
        )
    ds = open_dataset(dataset)
    network = load_network(extent=int(ds.attrs["extent"]))
    loaded = load_bundle(bundle, network)
    scoring = UpstreamScoring(clustering=False).fit(loaded.model, loaded.activity, ds.ground_truth(), network)
    differ = [name for name in RECOVERY_METRICS if not _same_score(scoring.scores_[name], record[name])]
    if differ:
        name = differ[0]
        return failed(
            f"the cached bundle scores {name} {format_score(scoring.scores_[name]) or 'n/a'} where its record "
            f"says {format_score(record[name]) or 'n/a'}: not the model the record scored, or the scoring code "
            f"changed since; `{run.command()}` scores the cached bundle again and writes both records"
        )
    return PerTypeOutcome(run, "written", _write_per_type(layout, run, scoring.per_type_))


def _same_score(value: float, recorded: float) -> bool:
    if not (math.isfinite(value) and math.isfinite(recorded)):
        return math.isfinite(value) == math.isfinite(recorded)
    return abs(value - recorded) <= SCORE_TOLERANCE


def _parse_steps(text: str):
    from flygnn.train import parse_lr_steps

    return parse_lr_steps(text) if text else None


def run_status(layout: ProjectLayout, run: ReplicateRun) -> str:
    """ "done" (its record exists), "running" (locked), "resumable" (a state without a record) or "todo"."""
    from flygnn.train.state import peek_iteration

    if record_path(layout, run).is_file():
        return "done"
    work = project_root(layout) / CACHE_FOLDER / run.name
    try:
        with exclusive_lock(_lock_path(layout, run), f"replicate run {run.name}"):
            pass
    except LockHeld:
        return "running"
    if (
        peek_iteration(work / "state") is not None
        or (work / "bundle" / META_FILE).is_file()
        or peek_iteration(unfinished_path(layout, run)) is not None
    ):
        return "resumable"
    return "todo"


def run_progress(layout: ProjectLayout, run: ReplicateRun) -> int | None:
    """The iteration of the newest saved state of a run without a record (its working folder's or
    the committed one under ``data/replicates/unfinished/``); None when it has none."""
    from flygnn.train.state import peek_iteration

    if record_path(layout, run).is_file():
        return None
    work = project_root(layout) / CACHE_FOLDER / run.name
    found = [peek_iteration(work / "state"), peek_iteration(unfinished_path(layout, run))]
    return max((i for i in found if i is not None), default=None)


def next_run(layout: ProjectLayout, runs: list[ReplicateRun]) -> ReplicateRun | None:
    """The run to work on next: the first resumable one, else the first still to do (None: nothing left)."""
    status = {run: run_status(layout, run) for run in runs}
    for wanted in ("resumable", "todo"):
        for run in runs:
            if status[run] == wanted:
                return run
    return None


def _lock_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return project_root(layout) / CACHE_FOLDER / f"{run.name}.lock"
