"""Where a flygnn project keeps its files: the one definition of every default path.

A project is the folder holding ``_quarto.yml`` and ``data/conditions.yaml``. Every
command finds it at or above the working directory and takes its default paths from
it, so ``flygnn train --resume`` in ``data/`` uses the same files as in the project
root, and the CLI, Snakemake and Quarto agree on them. A path the user types stays
relative to the working directory, as typed.

    data/conditions.yaml                          the conditions (σ levels)
    data/datasets/<preset>/<condition>.zarr       simulated datasets (figures: <preset>/figures/<condition>/)
    data/bundles/<condition>/                     checkpoint bundles
    data/cache/training/<preset>/<condition>/     training states while a leg runs (not committed)
    analysis/<section>.ipynb                      the analysis notebook templates
    analysis/<section>.py                         their sources (jupytext; ``notebook.sync``)
    results/<condition>/                          one condition's analysis (``ResultFolder`` below)
    results/book.json, book-render.json           what the chapters and the book were made from
    results/logs/report-<time>.log                one file per `flygnn report` run; report-latest.log
                                                  points at the newest
    results/.locks/<name>.lock                    held while a condition is analysed or the book built
    chapters/_generated/                          the chapter parts written by ``report.chapters``
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flygnn.errors import FlygnnError

MARKERS = ("_quarto.yml", "data/conditions.yaml")
# under results/: which results the generated chapters were made from, and which inputs the
# published book was rendered from (``flygnn report`` skips the render when they are unchanged)
BOOK_RECORD = "book.json"
RENDER_RECORD = "book-render.json"
# under results/: one log file per `flygnn report` run, and a link to the newest
LOGS = "logs"
LATEST_LOG = "report-latest.log"
# under results/: the lock files (fcntl; the kernel releases them when their process ends)
LOCKS = ".locks"
# under results/: the Snakefile's content-addressed stamps (see docs/staleness.md)
WORKFLOW_STAMPS = ".workflow"

# The layout of results/<condition>/, written by flygnn.stages.analyze and read by the book.
RESULT_NOTEBOOKS = "notebooks"  # <section>.ipynb, executed (kernel cwd = the result folder)
RESULT_FIGURES = "figures"  # <family>.png|.pdf saved by the notebooks
RESULT_METRICS = "metrics"  # <section>.json saved by the notebooks
RESULT_CACHE = "cache"  # derived quantities shared by the sections (carried over between runs)
METRICS_FILE = "metrics.json"  # the sections' metrics merged (flygnn-metrics/1)
MANIFEST_FILE = "manifest.json"  # status, parameters, input fingerprints, timings (flygnn-manifest/1)
PER_TYPE_FILE = "per-type.csv"  # written by the biophysics notebook
FAILED = "failed"  # only after a failed run: the failing notebook and its manifest


@dataclass(frozen=True)
class ResultFolder:
    """The files of one condition's analysis, ``results/<condition>/``.

    The analysis writes it into a staging folder beside it (``staging_glob``) and swaps it
    into place whole, keeping the previous one as ``old`` until the swap is done.
    """

    path: Path

    @property
    def condition(self) -> str:
        return self.path.name

    @property
    def notebooks(self) -> Path:
        return self.path / RESULT_NOTEBOOKS

    def notebook(self, section: str) -> Path:
        return self.notebooks / f"{section}.ipynb"

    @property
    def figures(self) -> Path:
        return self.path / RESULT_FIGURES

    def figure(self, stem: str, suffix: str = ".png") -> Path:
        return self.figures / f"{stem}{suffix}"

    @property
    def metrics_dir(self) -> Path:
        return self.path / RESULT_METRICS

    @property
    def cache(self) -> Path:
        return self.path / RESULT_CACHE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST_FILE

    @property
    def per_type(self) -> Path:
        return self.path / PER_TYPE_FILE

    @property
    def failed(self) -> Path:
        return self.path / FAILED

    @property
    def staging_glob(self) -> str:
        """The names of staging folders (flygnn.atomic.atomic_directory) in the parent folder."""
        return f".{self.path.name}.*.tmp"

    @property
    def old(self) -> Path:
        """Where the previous results wait while the new ones are swapped in."""
        return self.path.with_name(f".{self.path.name}.old")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """``folder/manifest.json`` (a result folder or its ``failed/``), or None when absent or unreadable."""
    return read_record(folder / MANIFEST_FILE)


def read_record(path: Path) -> dict[str, Any] | None:
    """A JSON object written by flygnn (manifest, book records), or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


# the paths a command lets the user choose, and where they are by default (under the root)
DEFAULT_PATHS = {
    "conditions_file": "data/conditions.yaml",
    "bundles": "data/bundles",
    "datasets": "data/datasets",
    "training_cache": "data/cache/training",
    "results": "results",
    "notebooks": "analysis",
}


@dataclass(frozen=True)
class ProjectLayout:
    """Paths of one project (all absolute).

    ``root`` is None outside a project (``find(required=False)``): then only the paths the
    user chose exist, and asking for a default one raises the no-project error.
    """

    root: Path | None
    chosen: Mapping[str, Path] = field(default_factory=dict, hash=False)  # keys of DEFAULT_PATHS
    searched_from: Path | None = None

    @classmethod
    def at(
        cls,
        root: str | os.PathLike | None,
        *,
        conditions_file: str | os.PathLike | None = None,
        bundles: str | os.PathLike | None = None,
        datasets: str | os.PathLike | None = None,
        training_cache: str | os.PathLike | None = None,
        results: str | os.PathLike | None = None,
        notebooks: str | os.PathLike | None = None,
        searched_from: str | os.PathLike | None = None,
    ) -> ProjectLayout:
        """The standard layout under ``root``; the paths given instead are taken from the cwd."""
        given = {
            "conditions_file": conditions_file,
            "bundles": bundles,
            "datasets": datasets,
            "training_cache": training_cache,
            "results": results,
            "notebooks": notebooks,
        }
        return cls(
            root=Path(root).resolve() if root is not None else None,
            chosen={name: Path(value).resolve() for name, value in given.items() if value is not None},
            searched_from=Path(searched_from).resolve() if searched_from is not None else None,
        )

    @classmethod
    def find(cls, start: str | os.PathLike | None = None, *, required: bool = True, **chosen: Any) -> ProjectLayout:
        """The layout of the project at or above ``start`` (default: the cwd), with the paths in
        ``chosen`` (the keyword arguments of ``at``; None means the default) in place of the defaults.

        Without a project this raises, unless ``required`` is False: commands given every path
        they need explicitly also run outside a project.
        """
        start = Path(start or Path.cwd()).resolve()
        root = _search(start)
        if root is None and required:
            raise _no_project(start)
        return cls.at(root, searched_from=start, **chosen)

    @property
    def project_root(self) -> Path:
        """``root``, for what only a project has: the no-project error outside one."""
        if self.root is None:
            raise _no_project(self.searched_from or Path.cwd())
        return self.root

    def _default(self, relative: str) -> Path:
        if self.root is None:
            raise _no_project(self.searched_from or Path.cwd(), relative)
        return self.root / relative

    def _path(self, name: str) -> Path:
        return self.chosen[name] if name in self.chosen else self._default(DEFAULT_PATHS[name])

    @property
    def conditions_file(self) -> Path:
        return self._path("conditions_file")

    @property
    def bundles(self) -> Path:
        return self._path("bundles")

    @property
    def datasets(self) -> Path:
        return self._path("datasets")

    @property
    def training_cache(self) -> Path:
        return self._path("training_cache")

    @property
    def results(self) -> Path:
        return self._path("results")

    @property
    def notebooks(self) -> Path:
        return self._path("notebooks")

    @property
    def chapters(self) -> Path:
        return self._default("chapters")

    @property
    def generated(self) -> Path:
        """Chapter parts written by the generator (committed so Quarto finds them at load)."""
        return self.chapters / "_generated"

    @property
    def quarto_config(self) -> Path:
        return self._default("_quarto.yml")

    @property
    def published(self) -> Path:
        return self._default("data/published.yaml")

    @property
    def snakefile(self) -> Path:
        return self._default("Snakefile")

    def dataset_path(self, preset: str, condition: str) -> Path:
        """Where ``flygnn simulate`` writes a condition's dataset and ``flygnn train`` reads it."""
        return self.datasets / preset / f"{condition}.zarr"

    def dataset_figures(self, preset: str, condition: str) -> Path:
        return self.datasets / preset / "figures" / condition

    def bundle_dir(self, condition: str) -> Path:
        return self.bundles / condition

    def training_cache_dir(self, preset: str, condition: str) -> Path:
        """Training states while a leg runs (git-ignored; the bundle keeps the final one)."""
        return self.training_cache / preset / condition

    def result_dir(self, condition: str) -> Path:
        return self.results / condition

    def result(self, condition: str) -> ResultFolder:
        return ResultFolder(self.result_dir(condition))

    @property
    def logs(self) -> Path:
        return self.results / LOGS

    @property
    def latest_log(self) -> Path:
        return self.logs / LATEST_LOG

    def lock_file(self, name: str) -> Path:
        """``results/.locks/<name>.lock``: a condition's name, or ``report`` for the book."""
        return self.results / LOCKS / f"{name}.lock"

    @property
    def workflow_stamps(self) -> Path:
        return self.results / WORKFLOW_STAMPS

    @property
    def book_record(self) -> Path:
        return self.results / BOOK_RECORD

    @property
    def render_record(self) -> Path:
        return self.results / RENDER_RECORD

    def training_dataset(self, bundle_meta: dict) -> Path | None:
        """The dataset a bundle was trained on (bundle.json ``dataset.path``), if it is here."""
        recorded = (bundle_meta.get("dataset") or {}).get("path")
        if not recorded:
            return None
        path = Path(recorded) if Path(recorded).is_absolute() else self._default(recorded)
        return path if path.exists() else None

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the project root when inside it (for messages and records)."""
        inside = relative_to(path, self.root) if self.root is not None else None
        return inside if inside is not None else str(path)


def relative_to(path: str | os.PathLike, base: Path) -> str | None:
    """``path`` (relative ones from the cwd) relative to the folder ``base``, or None when outside it.

    A path through a symbolic link inside ``base`` (e.g. ``data/datasets`` linked to a larger
    disk) counts as inside: it is compared as written before it is compared resolved.
    """
    for candidate in (Path(os.path.abspath(path)), Path(path).resolve()):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def is_project_root(path: Path) -> bool:
    return all((path / marker).is_file() for marker in MARKERS)


def _search(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if is_project_root(candidate):
            return candidate
    return None


def _no_project(start: Path, needed: str | None = None) -> FlygnnError:
    why = f" for the default path {needed}" if needed else ""
    alternative = " or give that path explicitly" if needed else ""
    return FlygnnError(
        f"no flygnn project found at or above {start}{why} (a project folder holds "
        f"{' and '.join(MARKERS)}). Run the command inside the project checkout{alternative}."
    )


def enclosing_project_root(path: str | os.PathLike) -> Path | None:
    """The nearest flygnn project at or above ``path`` (resolved), or None."""
    return _search(Path(path).resolve())


def find_project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that is a flygnn project."""
    start = Path(start or Path.cwd()).resolve()
    root = _search(start)
    if root is None:
        raise _no_project(start)
    return root
