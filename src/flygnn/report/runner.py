"""Run the analysis notebooks of one condition with papermill.

For one condition the runner executes ``analysis/<section>.ipynb`` for every section
of :data:`flygnn.sections.SECTIONS`, in order, into a staging folder beside
``results/<condition>/`` and swaps it into place only when every notebook
succeeded and saved its figures. The executed notebooks therefore always describe
the figures and metrics next to them.

Layout written (``results/<condition>/``)::

    notebooks/<section>.ipynb   executed (kernel cwd = this folder, output_dir = ".")
    figures/<family>.png|.pdf   saved by the notebooks
    metrics/<section>.json      saved by the notebooks
    cache/                      derived quantities shared by the sections (the notebooks
                                key them by the bundle's fingerprint; carried over
                                from the previous run)
    metrics.json                merged here (format flygnn-metrics/1)
    manifest.json               status, parameters, input fingerprints, timings
    .analyzed                   the workflow's stamp (see ``refresh_stamp``)
    failed/                     only after a failed run: the failing executed
                                notebook and its manifest; the good results of the
                                previous run above are left as they were, and the
                                folder goes as soon as they are current again

Whether a condition is up to date is decided here, from fingerprints (``plan``):
``flygnn analyze`` skips it, and ``flygnn report`` sets the stamps Snakemake compares
from the same answer, so the two never disagree. Inputs that would fail every notebook
(a missing bundle, a missing ground truth) are found before any kernel starts.

Notebook parameters are paths *relative to the kernel's working directory*
(``bundle = "../../data/bundles/sigma-0"``): they hold both in the staging folder
and after the rename, and published notebooks carry no local absolute paths.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from flygnn import __version__
from flygnn.atomic import atomic_directory, write_json
from flygnn.bundle import BUNDLE_FILES, META_FILE, bundle_fingerprint, file_sha256, portable_path, read_meta
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.notebook.parameters import NotebookParameters
from flygnn.project import ANALYSIS_STAMP, ProjectLayout
from flygnn.sections import SECTIONS, Section, book_figure_stems

MANIFEST_FORMAT = "flygnn-manifest/1"
METRICS_FORMAT = "flygnn-metrics/1"
DEFAULT_KERNEL = "python3"
# the kernel's own log (its "running over TCP without encryption" warning for every
# notebook, the interrupt jupyter_client sends before shutting it down) is noise here:
# errors in a cell reach the executed notebook, a dead kernel the failure message
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)
# libraries whose versions shape the analysis; recorded in every manifest
RECORDED_PACKAGES = (
    "flygnn",
    "numpy",
    "scipy",
    "torch",
    "scikit-learn",
    "umap-learn",
    "matplotlib",
    "papermill",
    "ipykernel",
    "flyvis",
)

Log = Callable[[str], None]

# The lines that say what happened, one per notebook and one per condition, each with its
# time. `flygnn report` shows only these from its workflow's output (parse_progress) and
# keeps the rest in its log file.
PROGRESS = re.compile(
    r"^\[(?P<condition>[^\]\s]+)\] (?:\d+/\d+ (?P<section>\S+): (?P<status>ok|FAILED) \([\d.]+ s\)"
    r"|(?P<done>done) in [\d.]+ s\b.*)$"
)


@dataclass(frozen=True)
class Progress:
    """A parsed progress line: ``section`` is None for the line about the whole condition."""

    condition: str
    section: str | None
    status: str  # ok, FAILED, or done (the condition)


def parse_progress(line: str) -> Progress | None:
    match = PROGRESS.match(line.rstrip("\n"))
    if match is None:
        return None
    if match["done"]:
        return Progress(match["condition"], None, "done")
    return Progress(match["condition"], match["section"], match["status"])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_bundle_meta(condition: Condition, bundle_dir: Path, layout: ProjectLayout | None = None) -> dict[str, Any]:
    """Check that ``bundle_dir`` is a complete bundle of ``condition``; return bundle.json.

    Raises FlygnnError naming the condition, the folder and what to do.
    """
    shown = layout.relative(bundle_dir) if layout else str(bundle_dir)
    if not bundle_dir.is_dir():
        raise FlygnnError(
            f"condition {condition.name}: no checkpoint bundle at {shown}/. Train one "
            f"(`snakemake --cores 2 {shown}/{META_FILE}`, or `flygnn train`), import upstream "
            f"files (`flygnn import-upstream`), or remove {condition.name} from the conditions file."
        )
    try:
        meta = read_meta(bundle_dir, shown)
    except FlygnnError as exc:
        raise FlygnnError(f"condition {condition.name}: {exc}") from exc
    sigma = meta["sigma"]
    if not isinstance(sigma, (int, float)) or not condition.matches(sigma):
        raise FlygnnError(
            f"condition {condition.name} has σ = {condition.sigma:g} but the bundle at {shown}/ was "
            f"trained at σ = {sigma!r}. Put the right bundle there or fix the conditions file."
        )
    return meta


def check_kernel(kernel_name: str = DEFAULT_KERNEL) -> str:
    """Make sure the Jupyter kernel ``kernel_name`` runs *this* Python interpreter.

    jupyter_client replaces an ``argv[0]`` of ``python``/``python3`` with the
    current interpreter; a kernelspec pointing at another interpreter would run the
    notebooks without flygnn (or with another version of it).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        if kernel_name != DEFAULT_KERNEL:
            raise FlygnnError(
                f"no Jupyter kernel named {kernel_name!r}; list them with `jupyter kernelspec list` "
                f"or register this environment: `{sys.executable} -m ipykernel install --user --name {kernel_name}`."
            ) from None
        from ipykernel.kernelspec import install

        install(kernel_name=kernel_name, prefix=sys.prefix)
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    executable = spec.argv[0] if spec.argv else ""
    aliases = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if executable in aliases:
        return kernel_name
    try:
        if os.path.samefile(executable, sys.executable):
            return kernel_name
    except OSError:
        pass
    raise FlygnnError(
        f"the Jupyter kernel {kernel_name!r} runs {executable}, not this interpreter ({sys.executable}) "
        f"where flygnn is installed. Pass --kernel NAME for a kernel of this environment, or register "
        f"one: `{sys.executable} -m ipykernel install --user --name flygnn` and use --kernel flygnn."
    )


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _dataset_fingerprint(path: Path) -> str:
    """The dataset's own fingerprint; FlygnnError when it cannot be read."""
    from flygnn.dataset import open_dataset

    try:
        return open_dataset(path).fingerprint()
    except Exception as exc:  # a dataset problem must not hide behind the analysis
        raise FlygnnError(f"dataset {path} cannot be read: {exc}") from exc


def check_flyvis_model(flyvis_model: str, needed_by: Sequence[str]) -> None:
    """Fail before any notebook starts when the ground-truth network cannot be found.

    flyvis_model: the folder given with --flyvis-model ("" = the usual lookup); always
    checked when given. needed_by: the conditions whose analysis reads it (their bundles
    were trained against the pretrained network and no dataset supplies it). Only looks
    for the files: loading the checkpoint (torch) is left to the notebooks.
    """
    if not flyvis_model and not needed_by:
        return
    from flygnn.groundtruth import CHECKPOINT, find_flyvis_model

    if flyvis_model:
        where = f"--flyvis-model {flyvis_model}"
    elif os.environ.get("FLYGNN_FLYVIS_MODEL"):
        where = f"$FLYGNN_FLYVIS_MODEL ({os.environ['FLYGNN_FLYVIS_MODEL']})"
    else:
        where = "the default lookup"
    try:
        model = find_flyvis_model(flyvis_model or None)
    except FlygnnError as exc:
        # find_flyvis_model names the places it looked at; its advice is for the simulator
        looked = re.search(r"\(looked at: (.*?)\)\. ", str(exc))
        problem = "no pretrained flyvis network was found" + (f" (looked at: {looked[1]})" if looked else "")
    else:
        if not model.is_dir():
            problem = f"{where} does not exist"
        elif not ((model / CHECKPOINT).is_file() or any(model.glob("chkpts/chkpt_*"))):
            problem = f"{where} is not a flyvis network directory (no {CHECKPOINT.as_posix()} in it)"
        else:
            return
    if not needed_by:
        raise FlygnnError(
            f"{problem}. Pass a flyvis network directory (such as .../results/flow/0000/000) or leave "
            "--flyvis-model out."
        )
    raise FlygnnError(
        f"the ground truth is not available: {problem}. The analysis of {', '.join(needed_by)} compares "
        "with the pretrained flyvis network the bundles were trained against (bundle.json: groundtruth). "
        "Point --flyvis-model DIR or $FLYGNN_FLYVIS_MODEL at a flyvis network directory such as "
        ".../results/flow/0000/000 (`flyvis download-pretrained` fetches it)."
    )


@dataclass
class ConditionPlan:
    """What ``run`` would do with one condition, found without starting a kernel.

    ``problem`` says why it cannot be analysed (bundle missing, incomplete, another σ);
    ``current`` that its results were made from these inputs with these parameters.
    """

    condition: Condition
    problem: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    current: bool = False
    force: bool = False

    @property
    def runs(self) -> bool:
        return not self.problem and (self.force or not self.current)

    @property
    def needs_flyvis_model(self) -> bool:
        """The notebooks will read the ground truth from the flyvis network (no dataset, not synthetic)."""
        return self.runs and not self.parameters["synthetic_groundtruth"] and not self.parameters["dataset"]


@dataclass
class ConditionRun:
    """What happened to one condition: ``status`` is ok, skipped or failed."""

    condition: str
    status: str
    message: str = ""
    wall_time_s: float = 0.0


class NotebookFailed(Exception):
    """One section's notebook failed; ``message`` says where and why."""

    def __init__(self, section: str, message: str, record: dict[str, Any]):
        super().__init__(message)
        self.section = section
        self.message = message
        self.record = record


def _failure_details(exc: BaseException) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        source_lines = [line for line in (exc.source or "").splitlines() if line.strip()]
        return {
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
            "source_head": "\n".join(source_lines[:3]),
            "error": f"{exc.ename}: {exc.evalue}",
        }
    return {"cell_index": None, "execution_count": None, "source_head": "", "error": f"{type(exc).__name__}: {exc}"}


def read_manifest(result_dir: Path) -> dict[str, Any] | None:
    path = result_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def validate_metrics_fragment(path: Path, section: str) -> dict[str, dict[str, Any]]:
    """Read ``metrics/<section>.json``: metric name → {"value": float|null, "definition": str, ...}."""
    try:
        fragment = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc})") from exc
    if not isinstance(fragment, dict):
        raise ValueError(f"{path.name} must map metric names to entries")
    for name, entry in fragment.items():
        if not isinstance(entry, dict) or "value" not in entry or "definition" not in entry:
            raise ValueError(f"{path.name}: metric {name!r} needs 'value' and 'definition'")
        value = entry["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{path.name}: metric {name!r} value must be a number or null, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path.name}: metric {name!r} is {value}; write null for undefined values")
        if not isinstance(entry["definition"], str):
            raise ValueError(f"{path.name}: metric {name!r} definition must be a string")
    return fragment


def merge_metrics(metrics_dir: Path, sections: Sequence[Section]) -> dict[str, dict[str, Any]]:
    """All sections' metrics in one mapping; each entry gains ``section``.

    A section without a metrics file contributes nothing; a name defined by two
    sections is an error (the summary table could not tell which one to show).
    """
    merged: dict[str, dict[str, Any]] = {}
    for section in sections:
        path = metrics_dir / f"{section.name}.json"
        if not path.is_file():
            continue
        for name, entry in validate_metrics_fragment(path, section.name).items():
            if name in merged:
                raise ValueError(
                    f"metric {name!r} is written by both the {merged[name]['section']} and the "
                    f"{section.name} notebook; give one of them another name"
                )
            merged[name] = {**entry, "section": section.name}
    return merged


@dataclass
class AnalysisRunner:
    """Runs the section notebooks of conditions into ``layout.results``.

    kernel_name: Jupyter kernel for the notebooks (checked to run this interpreter).
    flyvis_model: passed to the notebooks ("" = their default lookup).
    synthetic_groundtruth: None = take it from each bundle's bundle.json.
    sections: the analysis sections, in execution order.
    """

    layout: ProjectLayout
    kernel_name: str = DEFAULT_KERNEL
    flyvis_model: str = ""
    synthetic_groundtruth: bool | None = None
    sections: Sequence[Section] = SECTIONS
    progress: bool = False
    log: Log = print

    def templates(self) -> dict[str, Path]:
        templates = {s.name: self.layout.notebooks / f"{s.name}.ipynb" for s in self.sections}
        missing = [self.layout.relative(p) for p in templates.values() if not p.is_file()]
        if missing:
            raise FlygnnError(
                f"analysis notebook(s) {missing} not found; every section of flygnn.sections needs "
                f"one in {self.layout.relative(self.layout.notebooks)}/."
            )
        return templates

    def inputs(self, meta: dict[str, Any], bundle_dir: Path, templates: dict[str, Path]) -> dict[str, Any]:
        """Fingerprints of everything the analysis of one condition reads."""
        dataset = self.layout.training_dataset(meta)
        return {
            "bundle": {"path": self.layout.relative(bundle_dir), "sha256": bundle_fingerprint(bundle_dir)},
            "dataset": (
                {"path": self.layout.relative(dataset), "fingerprint": _dataset_fingerprint(dataset)}
                if dataset is not None
                else None
            ),
            "notebooks": {name: file_sha256(path) for name, path in templates.items()},
            "flygnn": __version__,
        }

    def parameters(self, condition: Condition, meta: dict[str, Any], cwd: Path) -> dict[str, Any]:
        """The papermill parameters (:class:`~flygnn.notebook.parameters.NotebookParameters`), paths
        relative to the kernel's cwd."""
        dataset = self.layout.training_dataset(meta)
        synthetic = self.synthetic_groundtruth
        if synthetic is None:
            synthetic = bool((meta.get("groundtruth") or {}).get("synthetic", False))
        return NotebookParameters(
            condition=condition.name,
            sigma=condition.sigma,
            bundle=os.path.relpath(self.layout.bundle_dir(condition.name), cwd),
            output_dir=".",
            dataset=os.path.relpath(dataset, cwd) if dataset is not None else "",
            flyvis_model=str(Path(self.flyvis_model).resolve()) if self.flyvis_model else "",
            synthetic_groundtruth=synthetic,
        ).as_dict()

    def is_up_to_date(self, condition: Condition, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
        result_dir = self.layout.result_dir(condition.name)
        manifest = read_manifest(result_dir)
        return (
            manifest is not None
            and manifest.get("status") == "ok"
            and manifest.get("inputs") == inputs
            and manifest.get("parameters") == parameters
            and (result_dir / "metrics.json").is_file()
            # every figure the book shows (results of an older flygnn may lack some)
            and all(
                (result_dir / "figures" / f"{stem}.png").is_file()
                for section in self.sections
                for family in section.figures
                for stem in book_figure_stems(family)
            )
        )

    def plan(self, conditions: Sequence[Condition], force: bool = False) -> list[ConditionPlan]:
        """Check every condition's inputs and whether its results are current (seconds, no kernel)."""
        templates = self.templates()
        plans = []
        for condition in conditions:
            plan = ConditionPlan(condition, force=force)
            bundle_dir = self.layout.bundle_dir(condition.name)
            try:
                plan.meta = read_bundle_meta(condition, bundle_dir, self.layout)
                plan.inputs = self.inputs(plan.meta, bundle_dir, templates)
            except FlygnnError as exc:
                plan.problem = str(exc)
            else:
                # the staging folder is a sibling of result_dir, so the relative paths match
                plan.parameters = self.parameters(condition, plan.meta, self.layout.result_dir(condition.name))
                plan.current = self.is_up_to_date(condition, plan.inputs, plan.parameters)
            plans.append(plan)
        return plans

    def check_ground_truth(self, plans: Sequence[ConditionPlan]) -> None:
        check_flyvis_model(self.flyvis_model, [p.condition.name for p in plans if p.needs_flyvis_model])

    def refresh_stamp(self, condition: str) -> None:
        """Mark current results as such: the stamp newer than the inputs, no stale failure record."""
        stamp = self.layout.analysis_stamp(condition)
        inputs = [self.layout.bundle_dir(condition) / name for name in BUNDLE_FILES]
        inputs += [self.layout.notebooks / f"{s.name}.ipynb" for s in self.sections]
        newest = max((p.stat().st_mtime for p in inputs if p.is_file()), default=0.0)
        if not stamp.is_file() or stamp.stat().st_mtime <= newest:
            stamp.touch()
            os.utime(stamp, (max(time.time(), newest + 1),) * 2)
        shutil.rmtree(self.layout.result_dir(condition) / "failed", ignore_errors=True)

    def run(self, conditions: Sequence[Condition], force: bool = False) -> list[ConditionRun]:
        """Analyse every condition; a failing one is reported and the others go on.

        A ground truth that is needed and missing fails the whole run before any kernel
        starts (every notebook would fail the same way).
        """
        kernel = check_kernel(self.kernel_name)
        templates = self.templates()
        plans = self.plan(conditions, force=force)
        self.check_ground_truth(plans)
        runs = []
        for plan in plans:
            name = plan.condition.name
            if plan.problem:
                self.log(f"[{name}] FAILED: {plan.problem}")
                runs.append(ConditionRun(name, "failed", plan.problem))
            elif not plan.runs:
                self.refresh_stamp(name)
                self.log(f"[{name}] up to date (bundle and notebooks unchanged); --force re-runs it")
                runs.append(ConditionRun(name, "skipped"))
            else:
                try:
                    runs.append(self.run_condition(plan, templates, kernel))
                except FlygnnError as exc:
                    self.log(f"[{name}] FAILED: {exc}")
                    runs.append(ConditionRun(name, "failed", str(exc)))
        return runs

    def run_condition(self, plan: ConditionPlan, templates: dict[str, Path], kernel: str) -> ConditionRun:
        condition, meta, inputs, parameters = plan.condition, plan.meta, plan.inputs, plan.parameters
        name = condition.name
        result_dir = self.layout.result_dir(name)
        started, t0 = _now(), time.perf_counter()
        records: list[dict[str, Any]] = []
        manifest = {
            "format": MANIFEST_FORMAT,
            "condition": name,
            "sigma": condition.sigma,
            "status": "running",
            "started": started,
            "parameters": parameters,
            "inputs": inputs,
            "kernel": {"name": kernel, "python": portable_path(sys.executable, self.layout.root)},
            "versions": package_versions(),
            "bundle": {
                key: meta.get(key)
                for key in ("format", "training", "dataset", "groundtruth", "versions")
                if key in meta
            },
            "notebooks": records,
        }
        with atomic_directory(result_dir, overwrite=True) as staging:
            for sub in ("notebooks", "figures", "metrics"):
                (staging / sub).mkdir()
            # derived quantities are keyed by the bundle's fingerprint in the notebooks'
            # cache, so the previous run's cache is safe to start from (copied: the
            # previous results stay untouched if this run fails)
            if (result_dir / "cache").is_dir():
                shutil.copytree(result_dir / "cache", staging / "cache")
            else:
                (staging / "cache").mkdir()
            try:
                for number, section in enumerate(self.sections, start=1):
                    records.append(
                        self._run_section(
                            condition, section, number, templates[section.name], staging, parameters, kernel
                        )
                    )
                try:
                    merged = merge_metrics(staging / "metrics", self.sections)
                except ValueError as exc:
                    raise NotebookFailed(
                        "metrics", f"the metrics written by the notebooks are invalid: {exc}", {}
                    ) from exc
            except NotebookFailed as failure:
                self._keep_failure(condition, failure, staging, manifest, t0)
                raise FlygnnError(
                    f"condition {name}: {failure.message}\n  the previous results in "
                    f"{self.layout.relative(result_dir)}/ were left untouched"
                ) from None
            wall = time.perf_counter() - t0
            metrics = {
                "format": METRICS_FORMAT,
                "condition": name,
                "sigma": condition.sigma,
                "inputs": inputs,
                "metrics": merged,
            }
            write_json(staging / "metrics.json", metrics)
            manifest.update(status="ok", finished=_now(), wall_time_s=round(wall, 3))
            write_json(staging / "manifest.json", manifest)
            # written last, so it is newer than every input read above
            (staging / ANALYSIS_STAMP).write_text(manifest["finished"] + "\n")
        self.log(f"[{name}] done in {wall:.1f} s: {self.layout.relative(result_dir)}/ ({len(merged)} metrics)")
        return ConditionRun(name, "ok", wall_time_s=wall)

    def _run_section(
        self,
        condition: Condition,
        section: Section,
        number: int,
        template: Path,
        staging: Path,
        parameters: dict[str, Any],
        kernel: str,
    ) -> dict[str, Any]:
        import papermill

        total = len(self.sections)
        shown = self.layout.relative(template)
        self.log(f"[{condition.name}] {number}/{total} {section.name}: executing {shown}")
        running = staging / "notebooks" / f".{section.name}.running.ipynb"
        started, t0 = _now(), time.perf_counter()
        record = {"section": section.name, "notebook": f"notebooks/{section.name}.ipynb", "started": started}
        try:
            papermill.execute_notebook(
                str(template),
                str(running),
                parameters=parameters,
                kernel_name=kernel,
                language="python",
                cwd=str(staging),
                progress_bar=self.progress,
                log_output=False,
                extra_arguments=list(KERNEL_ARGUMENTS),
            )
        except Exception as exc:  # papermill, nbclient (dead kernel, timeout), I/O
            details = _failure_details(exc)
            seconds = time.perf_counter() - t0
            record.update(status="failed", seconds=round(seconds, 3), **details)
            self.log(f"[{condition.name}] {number}/{total} {section.name}: FAILED ({seconds:.1f} s)")
            where = (
                f"cell {details['cell_index']} (In [{details['execution_count']}])"
                if details["cell_index"] is not None
                else "while executing"
            )
            message = f"notebook {shown} failed in {where}: {details['error']}"
            if details["source_head"]:
                message += "\n  the cell begins:\n    " + details["source_head"].replace("\n", "\n    ")
            raise NotebookFailed(section.name, message, record) from exc
        final = staging / "notebooks" / f"{section.name}.ipynb"
        self._record_portable_paths(
            running, template, self.layout.result_dir(condition.name) / "notebooks" / final.name
        )
        os.replace(running, final)
        expected = sorted({stem for f in section.figures for stem in book_figure_stems(f)})
        missing = [f"figures/{stem}.png" for stem in expected if not (staging / "figures" / f"{stem}.png").is_file()]
        seconds = time.perf_counter() - t0
        record.update(seconds=round(seconds, 3))
        if missing:
            record.update(status="failed", error=f"figures not saved: {missing}")
            self.log(f"[{condition.name}] {number}/{total} {section.name}: FAILED ({seconds:.1f} s)")
            raise NotebookFailed(
                section.name,
                f"notebook {shown} finished but did not save {missing} (the figure families of section "
                f"{section.name!r} in flygnn.sections); the book needs them",
                record,
            )
        record.update(status="ok", finished=_now())
        self.log(f"[{condition.name}] {number}/{total} {section.name}: ok ({seconds:.1f} s)")
        return record

    def _record_portable_paths(self, notebook: Path, template: Path, published: Path) -> None:
        """Papermill records the absolute paths it read and wrote (here a staging folder that is
        gone a moment later); the executed notebook is published with the book, so it names
        them relative to the project instead."""
        import nbformat

        executed = nbformat.read(notebook, as_version=4)
        recorded = executed.metadata.get("papermill", {})
        recorded["input_path"] = portable_path(template, self.layout.root)
        recorded["output_path"] = portable_path(published, self.layout.root)
        nbformat.write(executed, notebook)

    def _keep_failure(
        self, condition: Condition, failure: NotebookFailed, staging: Path, manifest: dict[str, Any], t0: float
    ) -> None:
        """Keep the failing executed notebook and a manifest in results/<condition>/failed/.

        The previous good results beside it stay untouched, and the failed run
        stays visible until the next successful run replaces the whole folder.
        """
        failed_dir = self.layout.result_dir(condition.name) / "failed"
        shutil.rmtree(failed_dir, ignore_errors=True)
        failed_dir.mkdir(parents=True)
        running = staging / "notebooks" / f".{failure.section}.running.ipynb"
        done = staging / "notebooks" / f"{failure.section}.ipynb"
        for source in (running, done):
            if source.is_file():
                shutil.copyfile(source, failed_dir / f"{failure.section}.ipynb")
                failure.message += (
                    f"\n  the executed notebook with the full traceback: "
                    f"{self.layout.relative(failed_dir / (failure.section + '.ipynb'))}"
                )
                break
        if failure.record and failure.record not in manifest["notebooks"]:
            manifest["notebooks"].append(failure.record)
        manifest.update(
            status="failed",
            finished=_now(),
            wall_time_s=round(time.perf_counter() - t0, 3),
            error={"section": failure.section, "message": failure.message},
        )
        write_json(failed_dir / "manifest.json", manifest)
