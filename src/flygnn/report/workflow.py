"""Drive the project's Snakemake workflow (``Snakefile``) from ``flygnn report``.

Snakemake is the one mechanism that decides what is out of date: a new or changed
bundle (or analysis notebook) re-runs the ``analyze`` rule of its condition only,
and nothing changed means no notebook runs. ``flygnn report`` restricts the run to
the rules ``analyze`` and ``chapters`` (``--allowed-rules``), so it never simulates
or trains: bundles are its inputs. The full pipeline (simulate → train → analyze →
chapters → book) is ``snakemake --cores N`` in the project folder.

Before Snakemake starts, the runner checks every input (bundles, notebooks, kernel, ground
truth) and says which conditions are current; the stamps Snakemake compares are set from
that answer, so ``flygnn analyze`` and ``flygnn report`` agree on what is up to date.
Snakemake's and the kernels' output goes to ``results/report.log``; the terminal shows one
line per notebook and per condition and a summary.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout
from flygnn.report.runner import AnalysisRunner, ConditionPlan, Progress, check_kernel, parse_progress

REPORT_RULES = ("analyze", "chapters")
# lines of Snakemake's output quoted in an error that no condition explains
ERROR_TAIL_LINES = 12

Log = Callable[[str], None]


def workflow_config(layout: ProjectLayout, flyvis_model: str = "") -> dict[str, str]:
    """The Snakefile's settings for this layout (paths relative to the project when inside it)."""
    config = {
        "conditions": layout.relative(layout.conditions_file),
        "bundles": layout.relative(layout.bundles),
        "results": layout.relative(layout.results),
        "notebooks": layout.relative(layout.notebooks),
    }
    if flyvis_model:
        config["flyvis_model"] = str(Path(flyvis_model).resolve())
    return config


def snakemake_command(
    layout: ProjectLayout,
    targets: Sequence[str],
    cores: int = 1,
    *,
    allowed_rules: Sequence[str] | None = REPORT_RULES,
    forcerun: Sequence[str] = (),
    keep_going: bool = True,
    dry_run: bool = False,
    flyvis_model: str = "",
) -> list[str]:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(layout.snakefile), "--directory", str(layout.root)]
    command += ["--cores", str(cores)]
    command += ["--config", *(f"{key}={value}" for key, value in workflow_config(layout, flyvis_model).items())]
    if allowed_rules:
        command += ["--allowed-rules", *allowed_rules]
    # the stamps' times carry the runner's answer (update_report sets them); Snakemake's
    # other triggers (rule code, params) would re-run analyses the runner knows are current
    command += ["--rerun-triggers", "mtime", "--rerun-incomplete"]
    if forcerun:
        command += ["--forcerun", *forcerun]
    if keep_going:
        command.append("--keep-going")
    if dry_run:
        command.append("--dry-run")
    command += ["--", *targets]
    return command


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
    log_file: str = ""

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


def check_inputs(
    layout: ProjectLayout, conditions: Sequence[Condition], force: bool = False, flyvis_model: str = ""
) -> tuple[AnalysisRunner, list[ConditionPlan]]:
    """Everything the workflow needs, checked in about a second; one FlygnnError listing every problem.

    Returns the runner and its plan (which conditions are current), which the stamps are set from.
    """
    if not layout.snakefile.is_file():
        raise FlygnnError(f"{layout.snakefile} not found: the workflow file belongs at the project root.")
    check_kernel()
    runner = AnalysisRunner(layout, flyvis_model=flyvis_model, log=lambda message: None)
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
    return runner, plans


def _run_logged(
    command: list[str], layout: ProjectLayout, conditions: Sequence[Condition], log: Log
) -> tuple[int, list[Progress]]:
    """Run Snakemake with its output in the log file; show only the runner's progress lines."""
    names = {c.name for c in conditions}
    events: list[Progress] = []
    layout.report_log.parent.mkdir(parents=True, exist_ok=True)
    # the jobs' Python output reaches the pipe line by line, not at their end
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(layout.report_log, "w", encoding="utf-8") as record:
        record.write(f"$ {shlex.join(command)}\n")
        record.flush()
        with subprocess.Popen(
            command,
            cwd=layout.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                record.write(line)
                record.flush()
                event = parse_progress(line)
                if event is not None and event.condition in names:
                    events.append(event)
                    log(line.rstrip())
    return process.returncode, events


def _failed_since(layout: ProjectLayout, conditions: Sequence[Condition], started: str) -> list[str]:
    """Conditions whose analysis failed during this run, with the runner's message."""
    failures = []
    for condition in conditions:
        path = layout.result_dir(condition.name) / "failed" / "manifest.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if str(record.get("finished", "")) >= started:
            message = (record.get("error") or {}).get("message", "failed")
            failures.append(f"{condition.name}: {message}")
    return failures


def _log_tail(layout: ProjectLayout) -> str:
    try:
        lines = [line for line in layout.report_log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in lines[-ERROR_TAIL_LINES:])


def update_report(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    cores: int = 1,
    force: bool = False,
    flyvis_model: str = "",
    log: Log = print,
) -> ReportUpdate:
    """Bring analyses and generated chapters up to date through Snakemake.

    Inputs are checked first (one error naming every problem, before any notebook
    runs). A failing analysis does not stop the other conditions, but the generated
    chapters are only rewritten when every condition has current results. Raises
    FlygnnError naming the conditions that block the book.
    """
    t0 = time.perf_counter()
    runner, plans = check_inputs(layout, conditions, force=force, flyvis_model=flyvis_model)
    for plan in plans:
        if plan.runs:
            layout.analysis_stamp(plan.condition.name).unlink(missing_ok=True)
        else:
            runner.refresh_stamp(plan.condition.name)
    pending = [plan.condition.name for plan in plans if plan.runs]
    shown_log = layout.relative(layout.report_log)
    if pending:
        log(f"analysing {_plural(len(pending), 'condition')} ({', '.join(pending)}); full output in {shown_log}")
    # the chapter parts are cheap and read files Snakemake does not track (chapters/*.qmd,
    # the generator itself): always regenerate them
    book_record = layout.book_record
    command = snakemake_command(
        layout, [layout.relative(book_record)], cores, forcerun=["chapters"], flyvis_model=flyvis_model
    )
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    wall_start = time.time()
    returncode, events = _run_logged(command, layout, conditions, log)
    update = ReportUpdate(
        conditions=len(conditions),
        analysed=[e.condition for e in events if e.section is None and e.status == "done"],
        notebooks=sum(1 for e in events if e.section is not None and e.status == "ok"),
        seconds=time.perf_counter() - t0,
        log_file=shown_log,
    )
    if returncode != 0:
        failures = _failed_since(layout, conditions, started)
        if failures:
            blocked = {f.split(":", 1)[0] for f in failures}
            others = [c.name for c in conditions if c.name not in blocked]
            done = f"The other conditions ({', '.join(others)}) are analysed; the" if others else "The"
            raise FlygnnError(
                "the report was not updated:\n"
                + "\n".join(f"- {f}" for f in failures)
                + f"\n{done} generated chapters and the published book were left as they were."
                + f"\nfull log: {shown_log}"
            )
        raise FlygnnError(
            f"the report was not updated: snakemake exited with status {returncode}. The end of its "
            f"output:\n{_log_tail(layout)}\nThe generated chapters and the published book were left as "
            f"they were.\nfull log: {shown_log}"
        )
    try:
        if book_record.stat().st_mtime >= wall_start - 1:
            update.chapters_changed = list(json.loads(book_record.read_text()).get("changed", []))
    except (OSError, ValueError):
        pass
    return update
