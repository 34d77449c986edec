"""The report stage: analyses up to date, the generated chapters, the book rendered.

Entry functions: :func:`update_report` (analyses and chapters; ``flygnn report --no-render``)
and :func:`render_report` (the book, skipped when what it is made from is unchanged);
``flygnn report`` calls both, the Snakefile's chapters and book rules one each.

What is out of date is decided from content only (docs/staleness.md): the analysis stage
compares each condition's input fingerprints with its manifest, the chapter parts are
rewritten only where their text changed, and the render compares the fingerprint of every
file the book is made from with the one recorded in ``results/book-render.json``. No file
time is read, so a fresh clone, a ``git pull`` and a cluster's shared folder behave alike.

Everything runs in this process (notebooks in worker processes when several conditions
are analysed at once): progress is passed as :class:`~flygnn.stages.analysis_plan.AnalysisEvent`
values, results as return values. Each run logs to its own file under ``results/logs/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flygnn import __version__
from flygnn.atomic import write_json
from flygnn.code_digest import source_digest
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.locks import exclusive_lock
from flygnn.project import ProjectLayout, read_record
from flygnn.stages.analysis_inputs import check_kernel
from flygnn.stages.analysis_plan import ConditionPlan, OnEvent, ignore_events
from flygnn.stages.analyze import AnalysisRunner

Log = Callable[[str], None]
logger = logging.getLogger(__name__)


def format_duration(seconds: float) -> str:
    """``7.3 s``, ``7 min 9 s``, ``1 h 2 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


@dataclass
class ReportUpdate:
    """What ``update_report`` did: for the summary line."""

    conditions: int
    analysed: list[str] = field(default_factory=list)
    notebooks: int = 0
    chapters_changed: list[str] | None = None  # None: the chapters were not regenerated
    seconds: float = 0.0

    def summary(self) -> str:
        if self.chapters_changed is None:
            chapters = "chapters not regenerated"
        elif self.chapters_changed:
            chapters = f"chapters regenerated ({_plural(len(self.chapters_changed), 'part')} changed)"
        else:
            chapters = "chapters unchanged"
        took = format_duration(self.seconds)
        if not self.analysed:
            return f"nothing to analyse ({_plural(self.conditions, 'condition')} up to date); {chapters}; {took}"
        return (
            f"analysed {_plural(len(self.analysed), 'condition')} ({_plural(self.notebooks, 'notebook')}) "
            f"in {took}; {chapters}"
        )


@contextlib.contextmanager
def report_run(layout: ProjectLayout) -> Iterator[Path]:
    """Hold the book's lock and log this run to its own file; yields the log file.

    ``results/logs/report-<time>-<pid>.log`` is never reused, so a run that is refused
    (the lock) or a later one never truncates another's log; ``report-latest.log`` links
    to the newest.
    """
    lock = layout.lock_file("report")
    with exclusive_lock(lock, "`flygnn report` for this project", layout.relative(lock)):
        layout.logs.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = layout.logs / f"report-{stamp}-{os.getpid()}.log"
        link = layout.latest_log.with_name(f".{layout.latest_log.name}.{os.getpid()}")
        link.unlink(missing_ok=True)
        link.symlink_to(path.name)
        os.replace(link, layout.latest_log)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        package = logging.getLogger("flygnn")
        level = package.level
        package.addHandler(handler)
        package.setLevel(logging.INFO)
        try:
            yield path
        finally:
            package.removeHandler(handler)
            package.setLevel(level)
            handler.close()


def check_inputs(
    layout: ProjectLayout, conditions: Sequence[Condition], force: bool = False, flyvis_model: str = ""
) -> tuple[AnalysisRunner, str, list[ConditionPlan]]:
    """Everything the analyses need, checked in about a second; one FlygnnError listing every problem.

    Returns the runner, the checked kernel and the plan (which conditions are current).
    """
    runner = AnalysisRunner(layout, flyvis_model=flyvis_model)
    kernel = check_kernel(runner.kernel_name)
    plans = runner.plan(conditions, force=force)
    problems = [plan.problem for plan in plans if plan.problem]
    try:
        runner.check_ground_truth(plans)
    except FlygnnError as exc:
        problems.append(str(exc))
    if problems:
        raise FlygnnError(
            "nothing was analysed, the inputs are not ready:\n"
            + "\n".join(f"- {p}" for p in problems)
            + "\nThe generated chapters and the published book were left as they were."
        )
    return runner, kernel, plans


def _digest(layout: ProjectLayout, files: Sequence[Path]) -> str:
    digest = hashlib.sha256(f"flygnn {__version__}\n".encode())
    for path in files:
        digest.update(f"{layout.relative(path)}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"absent")
    return digest.hexdigest()


def _report_code_digest() -> str:
    """The sha256 of the code that writes the chapters and draws the book's own figures
    (every module of flygnn.report and flygnn.figures, the flygnn modules they import, and
    the chapter templates), so that a changed template, table writer, figure or the analysis
    code it calls regenerates the parts even at the same version number."""
    import flygnn.figures
    import flygnn.report

    modules, templates = [], []
    for module in (flygnn.report, flygnn.figures):
        package = Path(inspect.getfile(module)).parent
        for path in sorted(p for p in package.rglob("*") if p.is_file()):
            if path.suffix == ".py":
                parts = path.relative_to(package).with_suffix("").parts
                modules.append(".".join([module.__name__, *parts[: -1 if parts[-1] == "__init__" else None]]))
            elif path.suffix == ".j2":
                templates.append(path)
    return source_digest(modules, templates)


def chapters_fingerprint(layout: ProjectLayout, conditions: Sequence[Condition]) -> str:
    """The sha256 of every file the generated chapter parts are made from, and of the parts
    themselves (a part edited or deleted by hand is written again): the conditions,
    ``data/published.yaml``, ``_quarto.yml``, everything under ``chapters/``, each condition's
    records and the files of its bundle the book reads (training history, loss figure), the
    replicate records and their recipes (``#tbl-replicates``, the key findings), the archived
    training records (``#tbl-matched-budget``) and the code that writes the parts and draws the
    book's figures (flygnn.report, flygnn.figures)."""
    from flygnn.replicate_runs import REPLICATES_FOLDER, UNFINISHED_FOLDER, recipes_file
    from flygnn.report.budget import RECORDS_FOLDER

    files = [layout.conditions_file, layout.published, layout.quarto_config, recipes_file()]
    files += sorted(p for p in layout.chapters.rglob("*") if p.is_file())
    unfinished = (
        layout.project_root / REPLICATES_FOLDER / UNFINISHED_FOLDER
    )  # training state: the book reads none of it
    for folder in (layout.project_root / REPLICATES_FOLDER, layout.project_root / RECORDS_FOLDER):
        if folder.is_dir():
            files += sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_relative_to(unfinished))
    for condition in conditions:
        result = layout.result(condition.name)
        files += [result.manifest, result.metrics, result.per_type]
        bundle = layout.bundle_dir(condition.name)
        files += sorted(p for p in bundle.iterdir() if p.is_file()) if bundle.is_dir() else []
    return hashlib.sha256(f"{_digest(layout, files)} {_report_code_digest()}".encode()).hexdigest()


def update_chapters(
    layout: ProjectLayout, conditions: Sequence[Condition], force: bool = False, log: Log = print
) -> list[str]:
    """Write ``chapters/_generated/`` from the results (only parts whose text changed) and
    ``results/book.json``, unless that records the present fingerprint; returns the changed parts."""
    from flygnn.report.book_check import missing_includes
    from flygnn.report.chapters import build_chapters, write_book_record

    record = read_record(layout.book_record) or {}
    current = record.get("inputs") == chapters_fingerprint(layout, conditions)
    # a part deleted by hand (or by a build of older code) is written again, whatever the record says
    if not force and current and not missing_includes(layout):
        return []
    changed = build_chapters(layout, conditions, log)
    write_book_record(layout, conditions, changed)
    # computed after the write: the generated parts are among the inputs
    write_json(
        layout.book_record,
        {**(read_record(layout.book_record) or {}), "inputs": chapters_fingerprint(layout, conditions)},
    )
    return [layout.relative(path) for path in changed]


def update_report(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    cores: int = 1,
    force: bool = False,
    flyvis_model: str = "",
    on_event: OnEvent = ignore_events,
    log: Log = print,
) -> ReportUpdate:
    """Bring the analyses (what changed, ``cores`` conditions at a time) and the chapters up to date.

    Inputs are checked first (one error naming every problem, before any notebook runs).
    A failing analysis does not stop the other conditions, but the chapters are only
    rewritten when every condition has current results. Raises FlygnnError naming the
    conditions that block the book.
    """
    t0 = time.perf_counter()
    runner, kernel, plans = check_inputs(layout, conditions, force=force, flyvis_model=flyvis_model)
    runner.on_event = on_event
    pending = [plan.condition.name for plan in plans if plan.runs]
    if pending:
        log(
            f"analysing {_plural(len(pending), 'condition')} ({', '.join(pending)}), {min(cores, len(pending))} at a time"
        )
    runs = runner.run_plans(plans, kernel, cores)
    update = ReportUpdate(
        conditions=len(conditions),
        analysed=[run.condition for run in runs if run.status == "ok"],
        notebooks=sum(run.notebooks for run in runs),
    )
    failures = [run for run in runs if run.status == "failed"]
    if failures:
        others = [run.condition for run in runs if run.status != "failed"]
        done = f"The other conditions ({', '.join(others)}) are analysed; the" if others else "The"
        raise FlygnnError(
            "the report was not updated:\n"
            + "\n".join(f"- {run.condition}: {run.message}" for run in failures)
            + f"\n{done} generated chapters and the published book were left as they were."
        )
    update.chapters_changed = update_chapters(layout, conditions, force=force, log=log)
    update.seconds = time.perf_counter() - t0
    return update


def book_fingerprint(layout: ProjectLayout, conditions: Sequence[Condition]) -> str:
    """The sha256 of every file the book is made from: the Quarto project's sources (``_quarto.yml``,
    ``index.qmd``, ``chapters/`` with the generated parts), each condition's records (a manifest
    is rewritten by every analysis, so it stands for the figures and notebooks made with it),
    the files under ``results/`` the book links, the book's own figures (``results/book-figures/``:
    one redrawn with the same chapter text is a new book) and flygnn's version (the post-render step)."""
    from flygnn.report.book_figures import FOLDER as BOOK_FIGURES
    from flygnn.report.per_type import ASSETS
    from flygnn.report.study import DOWNLOADS

    files = [layout.quarto_config, layout.project_root / "index.qmd"]
    files += sorted(p for p in layout.chapters.rglob("*") if p.is_file())
    for condition in conditions:
        result = layout.result(condition.name)
        files += [result.manifest, result.metrics, result.per_type]
    for folder in (layout.results / DOWNLOADS, layout.results / ASSETS, layout.results / BOOK_FIGURES):
        files += sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    return _digest(layout, files)


def render_report(
    layout: ProjectLayout, conditions: Sequence[Condition], force: bool = False, log: Log = print
) -> bool:
    """Render the book unless it was rendered from these very files; True when it rendered."""
    from flygnn.report.book_check import load_quarto_config
    from flygnn.report.quarto import render_book

    fingerprint = book_fingerprint(layout, conditions)
    record = read_record(layout.render_record) or {}
    output = layout.project_root / str(load_quarto_config(layout)["project"].get("output-dir") or "_book")
    if not force and record.get("inputs") == fingerprint and output.is_dir():
        log(f"book unchanged since its last render: {layout.relative(output)}/")
        return False
    render_book(layout, conditions, log=log)
    # render_book wrote when and with which Quarto; the fingerprint says from what
    write_json(layout.render_record, {**(read_record(layout.render_record) or {}), "inputs": fingerprint})
    return True
