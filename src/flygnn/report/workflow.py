"""Drive the project's Snakemake workflow (``Snakefile``) from ``flygnn report``.

Snakemake is the one mechanism that decides what is out of date: a new or changed
bundle (or analysis notebook) re-runs the ``analyze`` rule of its condition only,
and nothing changed means no notebook runs. ``flygnn report`` restricts the run to
the rules ``analyze`` and ``chapters`` (``--allowed-rules``), so it never simulates
or trains: bundles are its inputs. The full pipeline (simulate → train → analyze →
chapters → book) is ``snakemake --cores N`` in the project folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.report.project import ProjectLayout
from flygnn.report.runner import BUNDLE_FILES

REPORT_RULES = ("analyze", "chapters")
BOOK_RECORD = "book.json"
# the analyze rule's output (Snakefile STAMP), touched after a successful analysis
ANALYSIS_STAMP = ".analyzed"

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
    if forcerun:
        command += ["--forcerun", *forcerun]
    if keep_going:
        command.append("--keep-going")
    if dry_run:
        command.append("--dry-run")
    command += ["--", *targets]
    return command


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


def update_report(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    cores: int = 1,
    force: bool = False,
    flyvis_model: str = "",
    log: Log = print,
) -> None:
    """Bring analyses and generated chapters up to date through Snakemake.

    Conditions with a bundle are analysed even when another one lacks its bundle or
    fails; the generated chapters are only rewritten when every condition has
    current results. Raises FlygnnError naming the conditions that block the book.
    """
    if not layout.snakefile.is_file():
        raise FlygnnError(f"{layout.snakefile} not found: the workflow file belongs at the project root.")
    missing = [c for c in conditions if not all((layout.bundle_dir(c.name) / f).is_file() for f in BUNDLE_FILES)]
    present = [c for c in conditions if c not in missing]
    targets = [f"{layout.relative(layout.result_dir(c.name))}/{ANALYSIS_STAMP}" for c in present]
    if not missing:
        targets.append(f"{layout.relative(layout.results)}/{BOOK_RECORD}")
    # the chapter parts are cheap and read files Snakemake does not track (chapters/*.qmd,
    # the generator itself): always regenerate them. Forcing a rule adds its job to the
    # DAG, so only when the book is a target.
    forcerun = (["chapters"] if not missing else []) + (["analyze"] if force else [])
    command = snakemake_command(layout, targets, cores, forcerun=forcerun, flyvis_model=flyvis_model)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    log(f"workflow: snakemake --cores {cores} (rules {', '.join(REPORT_RULES)}) for {len(present)} condition(s)")
    completed = subprocess.run(command, cwd=layout.root) if targets else None
    problems = [
        f"{c.name}: no complete bundle at {layout.relative(layout.bundle_dir(c.name))}/ "
        f"(needs {', '.join(BUNDLE_FILES)}); train it (`snakemake --cores 2 "
        f"{layout.relative(layout.bundle_dir(c.name))}/bundle.json`) or import one (`flygnn import-upstream`)"
        for c in missing
    ]
    attributed = True  # every problem names its condition
    if completed is not None and completed.returncode != 0:
        failures = _failed_since(layout, present, started)
        attributed = bool(failures)
        problems += failures or [
            f"snakemake exited with status {completed.returncode}; its messages above name the failing rule"
        ]
    if problems:
        blocked = {p.split(":", 1)[0] for p in problems}
        others = [c.name for c in present if c.name not in blocked] if attributed else []
        done = f"The other conditions ({', '.join(others)}) are analysed; the" if others else "The"
        raise FlygnnError(
            "the report was not updated:\n"
            + "\n".join(f"- {p}" for p in problems)
            + f"\n{done} generated chapters and the published book were left as they were."
        )
    log(f"workflow: up to date in {time.perf_counter() - t0:.1f} s")


def book_record_path(layout: ProjectLayout) -> Path:
    return layout.results / BOOK_RECORD
