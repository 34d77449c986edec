"""The analysis stage: run the analysis notebooks of each condition with papermill.

Entry function: :func:`analyze_conditions` (``flygnn analyze``, ``flygnn report`` and the
Snakefile's analyze rule all call it). For one condition it executes
``analysis/<section>.ipynb`` for every section of :data:`flygnn.sections.SECTIONS`, in
order, into a staging folder beside ``results/<condition>/`` and swaps it into place only
when every notebook succeeded and saved its figures, so the executed notebooks always
describe the figures and metrics next to them. The folder's layout is
:class:`flygnn.project.ResultFolder`; a failed run leaves the previous results as they were
and its failing notebook in ``failed/``, until the next successful run.

Whether a condition is up to date is decided here and only here, from content: the
fingerprints of everything its analysis reads (bundle, dataset, notebooks, flygnn's
version and the library code the notebooks import) and the notebook parameters, against
those recorded in its ``manifest.json``
(``plan``; docs/staleness.md). Inputs that would fail every notebook (a missing bundle, a
missing ground truth) are found before any kernel starts. One analysis of a condition runs
at a time (a lock under ``results/.locks/``); the leftovers of a killed one are removed by
the next.

Progress is reported as :class:`AnalysisEvent` values to a callback and to the
``flygnn.stages.analyze`` logger; results are returned as :class:`ConditionRun` values.

Notebook parameters are paths *relative to the kernel's working directory*
(``bundle = "../../data/bundles/sigma-0"``): they hold both in the staging folder and
after the rename, and published notebooks carry no local absolute paths.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flygnn import __version__
from flygnn.atomic import atomic_directory, leftovers, remove_tree, write_json
from flygnn.bundle import bundle_fingerprint, file_sha256
from flygnn.code_digest import notebook_imports, source_digest
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.locks import exclusive_lock
from flygnn.notebook.cache import unreadable_cache_files
from flygnn.notebook.parameters import NotebookParameters
from flygnn.project import (
    RESULT_CACHE,
    RESULT_FIGURES,
    RESULT_METRICS,
    RESULT_NOTEBOOKS,
    ProjectLayout,
    ResultFolder,
    read_manifest,
)
from flygnn.sections import SECTIONS, Section, book_figure_stems
from flygnn.stages.analysis_inputs import (
    DEFAULT_KERNEL,
    check_flyvis_model,
    check_kernel,
    dataset_fingerprint,
    merge_metrics,
    package_versions,
    read_bundle_meta,
)
from flygnn.stages.analysis_plan import AnalysisEvent, ConditionPlan, ConditionRun, OnEvent, ignore_events
from flygnn.stages.notebook_run import NotebookFailed, execute_notebook, failure_details, record_portable_paths
from flygnn.stages.parallel import run_in_workers

MANIFEST_FORMAT = "flygnn-manifest/1"
METRICS_FORMAT = "flygnn-metrics/1"
# the kernel's own log (its "running over TCP without encryption" warning for every
# notebook, the interrupt jupyter_client sends before shutting it down) is noise here:
# errors in a cell reach the executed notebook, a dead kernel the failure message
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)
# how much of a dead kernel's own output a failure message quotes
KERNEL_TAIL_LINES = 5

logger = logging.getLogger(__name__)


def _kernel_output(log: Path, notebook: str) -> str:
    """What the kernel printed outside the notebook's cells: logged (to the log file of a
    `flygnn report`, never the terminal), the file removed so that it is not published."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace").strip()
        log.unlink()
    except FileNotFoundError:
        return ""
    if text:
        logger.info("the kernel of %s printed, outside its cells:\n%s", notebook, text)
    return text


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class AnalysisRunner:
    """Runs the section notebooks of conditions into ``layout.results``.

    kernel_name: Jupyter kernel for the notebooks (checked to run this interpreter).
    flyvis_model: passed to the notebooks ("" = their default lookup).
    synthetic_groundtruth: None = take it from each bundle's bundle.json.
    sections: the analysis sections, in execution order.
    on_event: called with every :class:`AnalysisEvent` (they are logged too).
    """

    layout: ProjectLayout
    kernel_name: str = DEFAULT_KERNEL
    flyvis_model: str = ""
    synthetic_groundtruth: bool | None = None
    sections: Sequence[Section] = SECTIONS
    progress: bool = False
    on_event: OnEvent = ignore_events

    def emit(self, event: AnalysisEvent) -> None:
        logger.info("%s", event.describe())
        self.on_event(event)

    def templates(self) -> dict[str, Path]:
        templates = {s.name: self.layout.notebooks / f"{s.name}.ipynb" for s in self.sections}
        missing = [self.layout.relative(p) for p in templates.values() if not p.is_file()]
        if missing:
            raise FlygnnError(
                f"analysis notebook(s) {missing} not found; every section of flygnn.sections needs "
                f"one in {self.layout.relative(self.layout.notebooks)}/."
            )
        return templates

    @staticmethod
    def code_digest(templates: dict[str, Path]) -> str:
        """The digest of the library code the notebooks import (flygnn.analysis, flygnn.figures,
        and what those import), so that an edit there redraws the figures at the same version."""
        return source_digest(sorted(set().union(*(notebook_imports(path) for path in templates.values()))))

    def inputs(
        self, meta: dict[str, Any], bundle_dir: Path, templates: dict[str, Path], code: str | None = None
    ) -> dict[str, Any]:
        """Fingerprints of everything the analysis of one condition reads (``code``: the
        :meth:`code_digest` of ``templates`` when already computed)."""
        dataset = self.layout.training_dataset(meta)
        return {
            "bundle": {"path": self.layout.relative(bundle_dir), "sha256": bundle_fingerprint(bundle_dir)},
            "dataset": (
                {"path": self.layout.relative(dataset), "fingerprint": dataset_fingerprint(dataset)}
                if dataset is not None
                else None
            ),
            "notebooks": {name: file_sha256(path) for name, path in templates.items()},
            "flygnn": __version__,
            "code": code if code is not None else self.code_digest(templates),
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
        result = self.layout.result(condition.name)
        manifest = read_manifest(result.path)
        return (
            manifest is not None
            and manifest.get("status") == "ok"
            and manifest.get("inputs") == inputs
            and manifest.get("parameters") == parameters
            and result.metrics.is_file()
            # every figure the book shows (results of an older flygnn may lack some)
            and all(
                result.figure(stem).is_file()
                for section in self.sections
                for family in section.figures
                for stem in book_figure_stems(family)
            )
        )

    def plan(self, conditions: Sequence[Condition], force: bool = False) -> list[ConditionPlan]:
        """Check every condition's inputs and whether its results are current (seconds, no kernel)."""
        templates = self.templates()
        code = self.code_digest(templates)
        plans = []
        for condition in conditions:
            plan = ConditionPlan(condition, force=force)
            bundle_dir = self.layout.bundle_dir(condition.name)
            try:
                plan.meta = read_bundle_meta(condition, bundle_dir, self.layout)
                plan.inputs = self.inputs(plan.meta, bundle_dir, templates, code)
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

    def prepare(self, conditions: Sequence[Condition], force: bool = False) -> tuple[str, list[ConditionPlan]]:
        """The kernel and every condition's plan; FlygnnError when the ground truth is missing."""
        kernel = check_kernel(self.kernel_name)
        plans = self.plan(conditions, force=force)
        self.check_ground_truth(plans)
        return kernel, plans

    def run(self, conditions: Sequence[Condition], force: bool = False) -> list[ConditionRun]:
        """Analyse every condition, one after the other; a failing one is reported and the others go on.

        A ground truth that is needed and missing fails the whole run before any kernel
        starts (every notebook would fail the same way).
        """
        kernel, plans = self.prepare(conditions, force=force)
        return self.run_plans(plans, kernel)

    def run_plans(self, plans: Sequence[ConditionPlan], kernel: str, cores: int = 1) -> list[ConditionRun]:
        """Analyse the planned conditions, up to ``cores`` at a time (each in a worker process)."""
        if cores <= 1 or sum(plan.runs for plan in plans) <= 1:
            return [self.analyze(plan, kernel) for plan in plans]

        def in_worker(plan: ConditionPlan, emit: OnEvent) -> ConditionRun:
            self.on_event = emit  # this runner is the worker's copy; its events go to the parent
            return self.analyze(plan, kernel)

        def died(plan: ConditionPlan, code: int | None) -> ConditionRun:
            return self._failed(plan.condition.name, f"the process analysing it ended with exit status {code}")

        return run_in_workers(plans, in_worker, cores, self.on_event, died)

    def analyze(self, plan: ConditionPlan, kernel: str) -> ConditionRun:
        """One condition: under its lock, remove what a killed run left, then analyse it unless current."""
        name = plan.condition.name
        if plan.problem:
            return self._failed(name, plan.problem)
        result = self.layout.result(name)
        lock = self.layout.lock_file(name)
        try:
            with exclusive_lock(lock, f"the analysis of {name}", self.layout.relative(lock)):
                for leftover in leftovers(result.path):
                    remove_tree(leftover, self.layout.relative(leftover))
                # another run may have finished it while this one was planning
                if not plan.force and self.is_up_to_date(plan.condition, plan.inputs, plan.parameters):
                    shutil.rmtree(result.failed, ignore_errors=True)
                    self.emit(AnalysisEvent(name, "skipped"))
                    return ConditionRun(name, "skipped")
                return self.run_condition(plan, self.templates(), kernel)
        except FlygnnError as exc:
            return self._failed(name, str(exc))

    def _failed(self, name: str, message: str) -> ConditionRun:
        self.emit(AnalysisEvent(name, "failed", detail=message))
        return ConditionRun(name, "failed", message)

    def run_condition(self, plan: ConditionPlan, templates: dict[str, Path], kernel: str) -> ConditionRun:
        condition, meta, inputs, parameters = plan.condition, plan.meta, plan.inputs, plan.parameters
        name = condition.name
        result = self.layout.result(name)
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
            # the interpreter by its name and version, not its path: the manifest is published with
            # the book, and a path names this machine's environment ("/home/…/.venv/bin/python3")
            "kernel": {"name": kernel, "python": f"{platform.python_implementation()} {platform.python_version()}"},
            "versions": package_versions(),
            "bundle": {
                key: meta.get(key)
                for key in ("format", "training", "dataset", "groundtruth", "versions")
                if key in meta
            },
            "notebooks": records,
        }
        with atomic_directory(result.path, overwrite=True) as folder:
            staging = ResultFolder(folder)
            for sub in (RESULT_NOTEBOOKS, RESULT_FIGURES, RESULT_METRICS):
                (folder / sub).mkdir()
            # derived quantities are keyed by the bundle's fingerprint in the notebooks'
            # cache, so the previous run's cache is safe to start from (copied: the
            # previous results stay untouched if this run fails)
            if result.cache.is_dir():
                # less its unreadable files: a truncated cache is computed again, not carried over
                shutil.copytree(result.cache, staging.cache, ignore=unreadable_cache_files)
            else:
                (folder / RESULT_CACHE).mkdir()
            try:
                for number, section in enumerate(self.sections, start=1):
                    records.append(
                        self._run_section(
                            condition, section, number, templates[section.name], staging, parameters, kernel
                        )
                    )
                try:
                    merged = merge_metrics(staging.metrics_dir, self.sections)
                except ValueError as exc:
                    raise NotebookFailed(
                        "metrics", f"the metrics written by the notebooks are invalid: {exc}", {}
                    ) from exc
            except NotebookFailed as failure:
                self._keep_failure(condition, failure, staging, manifest, t0)
                raise FlygnnError(
                    f"condition {name}: {failure.message}\n  the previous results in "
                    f"{self.layout.relative(result.path)}/ were left untouched"
                ) from None
            wall = time.perf_counter() - t0
            metrics = {
                "format": METRICS_FORMAT,
                "condition": name,
                "sigma": condition.sigma,
                "inputs": inputs,
                "metrics": merged,
            }
            write_json(staging.metrics, metrics)
            manifest.update(status="ok", finished=_now(), wall_time_s=round(wall, 3))
            write_json(staging.manifest, manifest)
        detail = f"{self.layout.relative(result.path)}/ ({len(merged)} metrics)"
        self.emit(AnalysisEvent(name, "done", seconds=wall, detail=detail))
        return ConditionRun(name, "ok", wall_time_s=wall, notebooks=len(records))

    def _run_section(
        self,
        condition: Condition,
        section: Section,
        number: int,
        template: Path,
        staging: ResultFolder,
        parameters: dict[str, Any],
        kernel: str,
    ) -> dict[str, Any]:
        total = len(self.sections)
        shown = self.layout.relative(template)

        def event(status: str, seconds: float = 0.0, detail: str = "") -> None:
            self.emit(AnalysisEvent(condition.name, status, section.name, number, total, seconds, detail))

        event("running", detail=shown)
        running = staging.notebooks / f".{section.name}.running.ipynb"
        started, t0 = _now(), time.perf_counter()
        final = staging.notebook(section.name)
        record: dict[str, Any] = {
            "section": section.name,
            "notebook": final.relative_to(staging.path).as_posix(),
            "started": started,
        }
        kernel_log = staging.notebooks / f".{section.name}.kernel.log"
        try:
            execute_notebook(
                template,
                running,
                staging.path,
                kernel_log=kernel_log,
                parameters=parameters,
                kernel_name=kernel,
                language="python",
                progress_bar=self.progress,
                log_output=False,
                extra_arguments=list(KERNEL_ARGUMENTS),
            )
        except Exception as exc:  # papermill, nbclient (dead kernel, timeout), I/O
            details = failure_details(exc)
            seconds = time.perf_counter() - t0
            record.update(status="failed", seconds=round(seconds, 3), **details)
            event("failed", seconds)
            where = (
                f"in cell {details['cell_index']} (In [{details['execution_count']}])"
                if details["cell_index"] is not None
                else "while executing"
            )
            message = f"notebook {shown} failed {where}: {details['error']}"
            if details["source_head"]:
                message += "\n  the cell begins:\n    " + details["source_head"].replace("\n", "\n    ")
            printed = _kernel_output(kernel_log, shown)
            if printed:  # kept with the failure record (results/<condition>/failed/manifest.json)
                record["kernel_output"] = printed
            if printed and details["cell_index"] is None:  # a dead kernel may have said why
                tail = printed.splitlines()[-KERNEL_TAIL_LINES:]
                message += "\n  the kernel's last words:\n    " + "\n    ".join(tail)
            raise NotebookFailed(section.name, message, record) from exc
        _kernel_output(kernel_log, shown)
        published = self.layout.result(condition.name).notebook(section.name)
        record_portable_paths(running, template, published, self.layout.root)
        os.replace(running, final)
        expected = sorted({stem for f in section.figures for stem in book_figure_stems(f)})
        missing = [
            staging.figure(stem).relative_to(staging.path).as_posix()
            for stem in expected
            if not staging.figure(stem).is_file()
        ]
        seconds = time.perf_counter() - t0
        record.update(seconds=round(seconds, 3))
        if missing:
            record.update(status="failed", error=f"figures not saved: {missing}")
            event("failed", seconds)
            raise NotebookFailed(
                section.name,
                f"notebook {shown} finished but did not save {missing} (the figure families of section "
                f"{section.name!r} in flygnn.sections); the book needs them",
                record,
            )
        record.update(status="ok", finished=_now())
        event("ok", seconds)
        return record

    def _keep_failure(
        self, condition: Condition, failure: NotebookFailed, staging: ResultFolder, manifest: dict[str, Any], t0: float
    ) -> None:
        """Keep the failing executed notebook and a manifest in results/<condition>/failed/.

        The previous good results beside it stay untouched, and the failed run
        stays visible until the next successful run replaces the whole folder.
        """
        failed_dir = self.layout.result(condition.name).failed
        shutil.rmtree(failed_dir, ignore_errors=True)
        failed_dir.mkdir(parents=True)
        kept = failed_dir / staging.notebook(failure.section).name
        running = staging.notebooks / f".{failure.section}.running.ipynb"
        for source in (running, staging.notebook(failure.section)):
            if source.is_file():
                shutil.copyfile(source, kept)
                failure.message += f"\n  the executed notebook with the full traceback: {self.layout.relative(kept)}"
                break
        if failure.record and failure.record not in manifest["notebooks"]:
            manifest["notebooks"].append(failure.record)
        manifest.update(
            status="failed",
            finished=_now(),
            wall_time_s=round(time.perf_counter() - t0, 3),
            error={"section": failure.section, "message": failure.message},
        )
        write_json(ResultFolder(failed_dir).manifest, manifest)


def analyze_conditions(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    *,
    force: bool = False,
    cores: int = 1,
    kernel_name: str = DEFAULT_KERNEL,
    flyvis_model: str = "",
    synthetic_groundtruth: bool | None = None,
    progress: bool = False,
    on_event: OnEvent = ignore_events,
) -> list[ConditionRun]:
    """The analysis stage: bring every condition's results up to date (``force``: re-run them).

    Inputs are checked first (a missing ground truth fails before any kernel starts); a
    condition that fails is reported in its :class:`ConditionRun` and the others go on.
    """
    runner = AnalysisRunner(layout, kernel_name, flyvis_model, synthetic_groundtruth, progress=progress)
    runner.on_event = on_event
    kernel, plans = runner.prepare(conditions, force=force)
    return runner.run_plans(plans, kernel, cores)


def analysis_keys(layout: ProjectLayout, conditions: Sequence[Condition], flyvis_model: str = "") -> dict[str, str]:
    """Each condition's :attr:`ConditionPlan.key`, without starting a kernel or raising (the
    Snakefile names its stamps by them)."""
    runner = AnalysisRunner(layout, flyvis_model=flyvis_model)
    try:
        return {plan.condition.name: plan.key for plan in runner.plan(conditions)}
    except FlygnnError:  # no notebooks: nothing can be analysed yet
        return {condition.name: "pending" for condition in conditions}
