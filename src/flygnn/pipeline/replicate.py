"""Replicate runs: one fixed recipe, trained again with other seeds, stimuli or noise levels.

One committed bundle per σ is one training run, an anecdote. A replicate run simulates a
dataset (its own simulation seed and stimulus), trains the recipe on it (its own training
seed), scores the model by upstream's rules (the same code as the book's Table 1) and
writes one CSV row to ``data/replicates/<run>.csv`` with the command that reproduces it.
No model is committed: the record and the command are the result.

    data/replicates/<run>.csv                         one row per finished run (committed)
    data/replicates/histories/<run>.csv               its training history: losses, and scores every 1,000 iterations
    data/replicates/plan.yaml                         the runs wanted, in order (`--next` runs the first not done)
    data/cache/replicates/datasets/<dataset>.zarr     the simulated datasets (not committed)
    data/cache/replicates/<run>/                      the run's bundle and training state

Running the same command again resumes an interrupted run from its last state, and scores
a finished one without training it again. Recipes are data: ``presets/recipes.yaml``.
A run holds a lock while it works (``data/cache/replicates/<run>.lock``), so that two
processes working down the plan side by side (one per core) never take the same run.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import itertools
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from flygnn.conditions import Condition, same_sigma
from flygnn.errors import FlygnnError
from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.project import ProjectLayout

RECIPE_KEYS = ("simulation", "training", "configuration", "batch_size", "iterations", "lr_steps")
# the columns of a replicate record, in order; the five scores carry upstream's names
RECORD_COLUMNS = (
    "run",
    "condition",
    "sigma",
    "train_seed",
    "simulation_seed",
    "stimulus",
    "configuration",
    "recipe",
    "iterations",
    "training_minutes",
    "threads",
    *UPSTREAM_METRICS,
    "dataset_fingerprint",
    "code_version",
    "finished",
    "command",
)
REPLICATES_FOLDER = "data/replicates"
PLAN_FILE = "plan.yaml"
HISTORIES_FOLDER = "histories"
CACHE_FOLDER = "data/cache/replicates"
PLAN_KEYS = ("recipe", "sigma", "train_seed", "simulation_seed", "stimulus", "configuration")


def recipes_file() -> Path:
    return Path(str(resources.files("flygnn") / "presets" / "recipes.yaml"))


@dataclass(frozen=True)
class Recipe:
    """A recipe's settings at one σ (``configuration``: the σ whose published configuration it trains with)."""

    name: str
    simulation: str
    training: str
    configuration: float
    batch_size: int
    iterations: int
    lr_steps: str = ""


def load_recipe(name: str, sigma: float, path: str | Path | None = None) -> Recipe:
    """The recipe ``name`` resolved for ``sigma`` (``all``, then the σ's own entry); errors name the file and field."""
    path = Path(path or recipes_file())
    document = yaml.safe_load(path.read_text())
    recipes = document.get("recipes") if isinstance(document, dict) else None
    if not isinstance(recipes, dict) or name not in recipes:
        known = ", ".join(recipes) if isinstance(recipes, dict) else "none"
        raise FlygnnError(f"unknown recipe {name!r}; known: {known} (from {path}).")
    entry = recipes[name]
    settings: dict[str, Any] = dict(entry.get("all") or {})
    for own in entry.get("sigma") or []:
        if same_sigma(float(own["sigma"]), sigma):
            settings.update({k: v for k, v in own.items() if k != "sigma"})
    unknown = sorted(set(settings) - set(RECIPE_KEYS))
    if unknown:
        raise FlygnnError(f"{path}, recipe {name}: unknown key(s) {unknown}; known: {', '.join(RECIPE_KEYS)}.")
    missing = [k for k in ("simulation", "training", "batch_size", "iterations") if k not in settings]
    if missing:
        raise FlygnnError(f"{path}, recipe {name} at σ = {sigma:g}: missing {', '.join(missing)}.")
    for key in ("batch_size", "iterations"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FlygnnError(f"{path}, recipe {name}: {key} must be a positive integer, got {value!r}.")
    configuration = settings.get("configuration", sigma)
    return Recipe(
        name=name,
        simulation=str(settings["simulation"]),
        training=str(settings["training"]),
        configuration=float(configuration),
        batch_size=settings["batch_size"],
        iterations=settings["iterations"],
        lr_steps=str(settings.get("lr_steps") or ""),
    )


def _slug(value: float) -> str:
    return Condition.of_sigma(value).name.removeprefix("sigma-")


@dataclass(frozen=True)
class ReplicateRun:
    """One replicate: a recipe at one σ with its seeds and stimulus.

    ``configuration`` overrides the recipe's (None: the recipe's, by default the run's own σ).
    """

    recipe: str
    sigma: float
    train_seed: int = 0
    simulation_seed: int = 0
    stimulus: str = "natural"
    configuration: float | None = None

    def __post_init__(self) -> None:
        for name in ("train_seed", "simulation_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FlygnnError(f"--{name.replace('_', '-')} must be an integer >= 0, got {value!r}.")
        Condition.of_sigma(self.sigma)

    @property
    def condition(self) -> Condition:
        return Condition.of_sigma(self.sigma)

    @property
    def name(self) -> str:
        """File-name safe and unique per run: ``fast-sigma-0p5-natural-sim0-train1``."""
        name = f"{self.recipe}-{self.condition.name}-{self.stimulus}-sim{self.simulation_seed}-train{self.train_seed}"
        if self.configuration is not None:
            name += f"-config-{_slug(self.configuration)}"
        return name

    def dataset_name(self, simulation_preset: str) -> str:
        return f"{simulation_preset}-{self.condition.name}-{self.stimulus}-seed{self.simulation_seed}"

    def command(self) -> str:
        """The command that reproduces this run's row."""
        words = [
            "flygnn replicate",
            f"--recipe {self.recipe}",
            f"--sigma {self.sigma:g}",
            f"--train-seed {self.train_seed}",
            f"--simulation-seed {self.simulation_seed}",
            f"--stimulus {self.stimulus}",
        ]
        if self.configuration is not None:
            words.append(f"--configuration {self.configuration:g}")
        return " ".join(words)

    def resolved_recipe(self, path: str | Path | None = None) -> Recipe:
        recipe = load_recipe(self.recipe, self.sigma, path)
        if self.configuration is not None:
            recipe = Recipe(**{**recipe.__dict__, "configuration": float(self.configuration)})
        return recipe


def record_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return _root(layout) / REPLICATES_FOLDER / f"{run.name}.csv"


def history_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return _root(layout) / REPLICATES_FOLDER / HISTORIES_FOLDER / f"{run.name}.csv"


def _root(layout: ProjectLayout) -> Path:
    if layout.root is None:
        raise FlygnnError("replicate runs write their records into a project: run `flygnn replicate` inside one.")
    return layout.root


def simulate_replicate_dataset(run: ReplicateRun, recipe: Recipe, layout: ProjectLayout, progress: bool = True) -> Path:
    """The run's dataset, simulated once and shared by every run with the same simulation seed and stimulus."""
    from flygnn.connectome import load_network
    from flygnn.groundtruth import load_ground_truth
    from flygnn.simulate import preset, simulate_dataset
    from flygnn.stimulus import StimulusSpec

    path = _root(layout) / CACHE_FOLDER / "datasets" / f"{run.dataset_name(recipe.simulation)}.zarr"
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
    Raises :class:`RunLocked` when another process works on the run.
    """
    layout = layout or ProjectLayout.find()
    recipe = run.resolved_recipe(recipes)
    with run_lock(_lock_path(layout, run)):
        dataset_lock = _root(layout) / CACHE_FOLDER / "datasets" / f"{run.dataset_name(recipe.simulation)}.lock"
        with run_lock(dataset_lock):
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
    from flygnn.analysis import upstream_scores
    from flygnn.atomic import write_text
    from flygnn.bundle import HISTORY_FILE, META_FILE, STATE_FOLDER, load_bundle
    from flygnn.connectome import load_network
    from flygnn.dataset import open_dataset
    from flygnn.pipeline.train import train_condition
    from flygnn.train.state import peek_iteration

    work = _root(layout) / CACHE_FOLDER / run.name
    bundle, state = work / "bundle", work / "state"
    trained = peek_iteration(bundle / STATE_FOLDER) if (bundle / META_FILE).is_file() else None
    if trained is None or trained < recipe.iterations:
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
        return None
    ds = open_dataset(dataset)
    network = load_network(extent=int(ds.attrs["extent"]))
    loaded = load_bundle(bundle, network)
    scores = upstream_scores(loaded.model, loaded.activity, ds.ground_truth(), network)
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
        **{name: _format_score(scores[name]) for name in UPSTREAM_METRICS},
        "dataset_fingerprint": meta.get("dataset", {}).get("fingerprint", ""),
        "code_version": __version__,
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": run.command(),
    }
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RECORD_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow(record)
    # the history first: a record without its curve would be a row the book cannot draw
    history = (bundle / HISTORY_FILE).read_text()
    write_text(history_path(layout, run), history)
    write_text(record_path(layout, run), buffer.getvalue())
    return record


def _parse_steps(text: str):
    from flygnn.train import parse_lr_steps

    return parse_lr_steps(text) if text else None


def _format_score(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6f}"


def read_replicates(folder: str | Path) -> list[dict[str, Any]]:
    """Every record under ``folder`` (``data/replicates``), numbers as floats/ints; an unreadable file is an error naming it."""
    rows = []
    for path in sorted(Path(folder).glob("*.csv")):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(RECORD_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise FlygnnError(f"{path}: not a replicate record (missing column(s) {sorted(missing)}).")
            for row in reader:
                parsed: dict[str, Any] = dict(row)
                for key in ("sigma", "configuration", "training_minutes", *UPSTREAM_METRICS):
                    parsed[key] = float(row[key]) if row[key] not in ("", None) else math.nan
                for key in ("train_seed", "simulation_seed", "iterations"):
                    parsed[key] = int(row[key])
                rows.append(parsed)
    return rows


class RunLocked(FlygnnError):
    """Another process is working on this run (or on the dataset it needs)."""


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created as needed) or raise :class:`RunLocked` at once.

    The lock is the kernel's (``flock``): it goes with the process, so a killed run leaves
    no stale lock behind, only a resumable state.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held for the duration of the context
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(f"{path.stem} is being worked on by another process (lock {path}).") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def load_plan(path: str | Path) -> list[ReplicateRun]:
    """The runs of a plan file, in order. An entry's list values expand into one run per value
    (several lists: every combination), so ``{recipe: fast, sigma: 0.5, train_seed: [1, 2, 3]}``
    is three runs."""
    path = Path(path)
    if not path.is_file():
        raise FlygnnError(f"no replicate plan at {path}; write one (see data/replicates/plan.yaml) or name a run.")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FlygnnError(f"{path} is not valid YAML: {exc}") from None
    entries = document.get("runs") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FlygnnError(f"{path} must hold a list under 'runs:'.")
    runs: list[ReplicateRun] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}, run #{number}"
        if not isinstance(entry, dict) or "recipe" not in entry or "sigma" not in entry:
            raise FlygnnError(f"{where}: expected a mapping with at least recipe and sigma.")
        unknown = sorted(set(entry) - set(PLAN_KEYS))
        if unknown:
            raise FlygnnError(f"{where}: unknown key(s) {unknown}; known: {', '.join(PLAN_KEYS)}.")
        keys = list(entry)
        values = [entry[k] if isinstance(entry[k], list) else [entry[k]] for k in keys]
        for combination in itertools.product(*values):
            try:
                runs.append(ReplicateRun(**dict(zip(keys, combination, strict=True))))
            except TypeError as exc:
                raise FlygnnError(f"{where}: {exc}") from None
    return runs


def run_status(layout: ProjectLayout, run: ReplicateRun) -> str:
    """ "done" (its record exists), "running" (locked), "resumable" (a state without a record) or "todo"."""
    from flygnn.bundle import META_FILE
    from flygnn.train.state import peek_iteration

    if record_path(layout, run).is_file():
        return "done"
    work = _root(layout) / CACHE_FOLDER / run.name
    try:
        with run_lock(_lock_path(layout, run)):
            pass
    except RunLocked:
        return "running"
    if peek_iteration(work / "state") is not None or (work / "bundle" / META_FILE).is_file():
        return "resumable"
    return "todo"


def next_run(layout: ProjectLayout, runs: list[ReplicateRun]) -> ReplicateRun | None:
    """The run to work on next: the first resumable one, else the first still to do (None: nothing left)."""
    status = {run: run_status(layout, run) for run in runs}
    for wanted in ("resumable", "todo"):
        for run in runs:
            if status[run] == wanted:
                return run
    return None


def _lock_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return _root(layout) / CACHE_FOLDER / f"{run.name}.lock"
