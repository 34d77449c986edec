"""Where the report's inputs and outputs live inside a flygnn project folder.

A project is the folder holding ``_quarto.yml`` and ``data/conditions.yaml``; every
command resolves its default paths from it, so ``flygnn report`` works from any
sub-folder and Snakemake, Quarto and the CLI agree on the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flygnn.errors import FlygnnError

MARKERS = ("_quarto.yml", "data/conditions.yaml")
# results/<condition>/.analyzed: written by the runner with every successful analysis (and
# refreshed when it finds the results current); the Snakefile's analyze rule has it as output
ANALYSIS_STAMP = ".analyzed"
# the full output of the last `flygnn report` (Snakemake, notebook kernels), under results/
REPORT_LOG = "report.log"


@dataclass(frozen=True)
class ProjectLayout:
    """Paths of one project (all absolute).

    ``results/<condition>/`` holds one condition's analysis (see ``runner``);
    ``chapters/_generated/`` the chapter parts written by ``chapters``.
    """

    root: Path
    conditions_file: Path
    bundles: Path
    datasets: Path
    results: Path
    notebooks: Path
    chapters: Path
    quarto_config: Path
    published: Path
    snakefile: Path

    @classmethod
    def at(
        cls,
        root: str | os.PathLike,
        *,
        conditions_file: str | os.PathLike | None = None,
        bundles: str | os.PathLike | None = None,
        datasets: str | os.PathLike | None = None,
        results: str | os.PathLike | None = None,
        notebooks: str | os.PathLike | None = None,
    ) -> ProjectLayout:
        """The standard layout under ``root``; relative overrides are taken from the cwd."""
        root = Path(root).resolve()

        def pick(value: str | os.PathLike | None, default: str) -> Path:
            return Path(value).resolve() if value is not None else root / default

        return cls(
            root=root,
            conditions_file=pick(conditions_file, "data/conditions.yaml"),
            bundles=pick(bundles, "data/bundles"),
            datasets=pick(datasets, "data/datasets"),
            results=pick(results, "results"),
            notebooks=pick(notebooks, "analysis"),
            chapters=root / "chapters",
            quarto_config=root / "_quarto.yml",
            published=root / "data" / "published.yaml",
            snakefile=root / "Snakefile",
        )

    @property
    def generated(self) -> Path:
        """Chapter parts written by the generator (committed so Quarto finds them at load)."""
        return self.chapters / "_generated"

    def bundle_dir(self, condition: str) -> Path:
        return self.bundles / condition

    def result_dir(self, condition: str) -> Path:
        return self.results / condition

    def analysis_stamp(self, condition: str) -> Path:
        """The file Snakemake compares with the bundle and notebooks to decide what is out of date."""
        return self.result_dir(condition) / ANALYSIS_STAMP

    @property
    def report_log(self) -> Path:
        return self.results / REPORT_LOG

    def training_dataset(self, bundle_meta: dict) -> Path | None:
        """The dataset a bundle was trained on (bundle.json ``dataset.path``), if it is here."""
        recorded = (bundle_meta.get("dataset") or {}).get("path")
        if not recorded:
            return None
        path = Path(recorded) if Path(recorded).is_absolute() else self.root / recorded
        return path if path.exists() else None

    def relative(self, path: Path) -> str:
        """``path`` relative to the project root when inside it (for messages)."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def is_project_root(path: Path) -> bool:
    return all((path / marker).is_file() for marker in MARKERS)


def find_project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that is a flygnn project."""
    start = Path(start or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if is_project_root(candidate):
            return candidate
    raise FlygnnError(
        f"no flygnn project found at or above {start} (a project folder holds "
        f"{' and '.join(MARKERS)}). Run the command inside the project checkout."
    )
