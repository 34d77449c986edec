"""What a replicate run is: its recipe, its name and command, its record and the plan of runs.

The contract between ``flygnn replicate`` (:mod:`flygnn.stages.replicate`, which runs them)
and the book (:mod:`flygnn.report.replicates`, which reads their records):

    data/replicates/<run>.csv                         one row per finished run (committed)
    data/replicates/histories/<run>.csv               its training history: losses, and scores every 1,000 iterations
    data/replicates/per-type/<run>.csv                its per-type record: one row per cell type, from the fit its scores came from
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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from flygnn.conditions import Condition, same_sigma
from flygnn.errors import FlygnnError
from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.project import ProjectLayout
from flygnn.schema import Integer, Number, Strict, read_yaml, validated

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
# the training state of a run stopped before its recipe's end, kept under REPLICATES_FOLDER so that a
# commit carries it to the next machine: a run takes longer than a working session
UNFINISHED_FOLDER = "unfinished"
PER_TYPE_FOLDER = "per-type"
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


def _lr_steps(text: str | None) -> str | None:
    from flygnn.train import parse_lr_steps

    if text:
        try:
            parse_lr_steps(text)
        except FlygnnError as exc:
            raise ValueError(str(exc).rstrip(".")) from None
    return text


class RecipeSettings(Strict):
    simulation: str | None = Field(None, description="a simulation preset of simulation.yaml (paper, cpu, smoke)")
    training: str | None = Field(None, description="a training preset of training.yaml (paper, cpu, smoke)")
    configuration: Annotated[Number, Field(ge=0)] | None = Field(
        None, description="the σ whose published configuration it trains with, a number >= 0"
    )
    batch_size: Annotated[Integer, Field(ge=1)] | None = Field(None, description="frames per iteration, >= 1")
    iterations: Annotated[Integer, Field(ge=1)] | None = Field(None, description="an integer >= 1")
    lr_steps: Annotated[str, AfterValidator(_lr_steps)] | None = Field(
        None, description="learning-rate steps 'ITERATION:FACTOR,...' (e.g. '5000:0.3,10000:0.1')"
    )


class RecipeSigmaSettings(RecipeSettings):
    sigma: Annotated[Number, Field(ge=0)] = Field(description="the σ these settings are for, a number >= 0")


class RecipeEntry(Strict):
    description: str = ""
    all: RecipeSettings | None = None
    sigma: list[RecipeSigmaSettings] | None = None


class RecipesFile(Strict):
    """a mapping with 'recipes:', each with 'all:' settings and per-σ 'sigma:' entries"""

    format: Literal[1] = Field(1, description="1")
    recipes: dict[str, RecipeEntry] = Field(description="a mapping from recipe name to its settings")


def load_recipe(name: str, sigma: float, path: str | Path | None = None) -> Recipe:
    """The recipe ``name`` resolved for ``sigma`` (``all``, then the σ's own entry); errors name the file and field."""
    path = Path(path or recipes_file())
    recipes = validated(RecipesFile, read_yaml(path, "pass the path of a recipes file."), path).recipes
    if name not in recipes:
        raise FlygnnError(f"unknown recipe {name!r}; known: {', '.join(recipes) or 'none'} (from {path}).")
    entry = recipes[name]
    settings: dict[str, Any] = entry.all.model_dump(exclude_none=True) if entry.all else {}
    for own in entry.sigma or []:
        if same_sigma(own.sigma, sigma):
            settings.update(own.model_dump(exclude_none=True, exclude={"sigma"}))
    missing = [k for k in ("simulation", "training", "batch_size", "iterations") if k not in settings]
    if missing:
        raise FlygnnError(
            f"{path}, recipes[{name}]: missing {', '.join(missing)} at σ = {sigma:g}; give them under 'all:' "
            "or in the σ's own entry."
        )
    return Recipe(
        name=name,
        simulation=settings["simulation"],
        training=settings["training"],
        configuration=float(settings.get("configuration", sigma)),
        batch_size=settings["batch_size"],
        iterations=settings["iterations"],
        lr_steps=settings.get("lr_steps", ""),
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


def unfinished_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return project_root(layout) / REPLICATES_FOLDER / UNFINISHED_FOLDER / run.name


def per_type_path(layout: ProjectLayout, run: ReplicateRun) -> Path:
    return project_root(layout) / REPLICATES_FOLDER / PER_TYPE_FOLDER / f"{run.name}.csv"


def per_type_record_columns() -> tuple[str, ...]:
    """The columns of a per-type record: the per-type table's
    (:data:`flygnn.analysis.per_type.PER_TYPE_COLUMNS`) and ``voltage_sd``."""
    from flygnn.analysis.per_type import PER_TYPE_COLUMNS, VOLTAGE_SD

    return (*PER_TYPE_COLUMNS, VOLTAGE_SD)


def project_root(layout: ProjectLayout) -> Path:
    if layout.root is None:
        raise FlygnnError("replicate runs write their records into a project: run `flygnn replicate` inside one.")
    return layout.root


def format_score(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6f}"


def read_replicates(folder: str | Path) -> list[dict[str, Any]]:
    """Every record under ``folder`` (``data/replicates``), numbers as floats/ints; an unreadable file is an error naming it."""
    return [row for path in sorted(Path(folder).glob("*.csv")) for row in read_record(path)]


def read_record(path: str | Path) -> list[dict[str, Any]]:
    """The rows of one record file (one row per run), numbers as floats/ints; not a record: an error naming it."""
    rows = []
    with Path(path).open(newline="") as handle:
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


def read_per_type_records(folder: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Run name → the rows of its per-type record under ``folder`` (``data/replicates/per-type``),
    one per cell type: "type" a name, the rest floats (NaN where the file says "nan"). No folder:
    no records. An unreadable file is an error naming it."""
    columns = per_type_record_columns()
    records = {}
    for path in sorted(Path(folder).glob("*.csv")):
        try:
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in columns if c not in (reader.fieldnames or [])]
                if missing:
                    raise FlygnnError(
                        f"{path}: not a per-type record (missing column(s) {missing}); "
                        "`flygnn replicate --per-type` writes them."
                    )
                records[path.stem] = [
                    {key: (row[key] if key == "type" else float(row[key])) for key in columns} for row in reader
                ]
        except (OSError, ValueError, csv.Error) as exc:
            raise FlygnnError(f"{path}: unreadable per-type record ({exc.__class__.__name__}: {exc}).") from None
    return records


def load_plan(path: str | Path) -> list[ReplicateRun]:
    """The runs of a plan file, in order. An entry's list values expand into one run per value
    (several lists: every combination), so ``{recipe: fast, sigma: 0.5, train_seed: [1, 2, 3]}``
    is three runs."""
    path = Path(path)
    document = read_yaml(path, "write a replicate plan there (see data/replicates/plan.yaml) or name a run.")
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
