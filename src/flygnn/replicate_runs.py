"""What a replicate run is: its recipe, its name and command, its record and the plan of runs.

The contract between ``flygnn replicate`` (:mod:`flygnn.stages.replicate`, which runs them)
and the book (:mod:`flygnn.report.replicates`, which reads their records):

    data/replicates/<run>.csv                         one row per finished run (committed)
    data/replicates/histories/<run>.csv               its training history: losses, and scores every 1,000 iterations
    data/replicates/plan.yaml                         the runs wanted, in order
    src/flygnn/presets/recipes.yaml                   the recipes (data, not code)
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
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
    return project_root(layout) / REPLICATES_FOLDER / f"{run.name}.csv"


def history_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return project_root(layout) / REPLICATES_FOLDER / HISTORIES_FOLDER / f"{run.name}.csv"


def project_root(layout: ProjectLayout) -> Path:
    if layout.root is None:
        raise FlygnnError("replicate runs write their records into a project: run `flygnn replicate` inside one.")
    return layout.root


def format_score(value: float) -> str:
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
