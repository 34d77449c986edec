"""Like for like in training budget: each run's scores at the study's number of iterations
and of training frames, beside its end and the published values (``#tbl-matched-budget``).

A run is a committed bundle (``data/bundles/<condition>/``) or an archived run's record
(``data/records/<run>/``: its ``bundle.json`` and ``training-history.csv`` without the
model). Scores come from the runs' training histories (upstream's rules, scored during
training); the words from ``templates/matched-budget.qmd.j2``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flygnn.bundle import HISTORY_FILE, META_FILE
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.report.summary import value_at
from flygnn.train.history import read_history, scores_at

RECORDS_FOLDER = "data/records"


@dataclass(frozen=True)
class TrainingRun:
    """One run's training as recorded: a label, σ, its ``bundle.json`` training entry and history rows."""

    label: str
    sigma: float
    training: Mapping[str, Any]
    history: Sequence[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_folder(cls, folder: Path, label: str) -> TrainingRun | None:
        """The run in a bundle or record folder (None when it has no readable bundle.json)."""
        try:
            meta = json.loads((folder / META_FILE).read_text())
            return cls(label, float(meta["sigma"]), meta["training"], read_history(folder / HISTORY_FILE))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def batch_size(self) -> int:
        return int(self.training.get("config", {}).get("batch_size", 0))

    @property
    def iterations(self) -> int:
        return int(self.training.get("iterations", 0))


def _score(value: Any) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.4f}"


def _point(run: TrainingRun, name: str, iteration: int) -> dict[str, Any]:
    row = scores_at(run.history, iteration)
    reached = int(row["iteration"]) if row else None
    return {
        "name": name,
        "iterations": "n/a" if reached is None else f"{reached:,}",
        "frames": "n/a" if reached is None else f"{reached * run.batch_size:,}",
        "scores": [_score(row.get(metric)) if row else "n/a" for metric in RECOVERY_METRICS],
    }


def budget_groups(
    runs: Sequence[TrainingRun],
    study: Mapping[float, Mapping[str, Any]],
    published: Mapping[str, Mapping[float, float]],
) -> list[dict[str, Any]]:
    """Per σ with a study schedule (``study``: σ → {"iterations", "batch_size"}), the runs at that σ
    at the study's iterations, at its frames and at their end."""
    groups = []
    for sigma, schedule in sorted(study.items()):
        at_sigma = [run for run in runs if math.isclose(run.sigma, sigma, abs_tol=1e-9) and run.batch_size]
        if not at_sigma:
            continue
        study_iterations, study_batch = int(schedule["iterations"]), int(schedule["batch_size"])
        study_frames = study_iterations * study_batch
        rendered = []
        for number, run in enumerate(at_sigma):
            # the study's budget in steps, and in frames when our batch differs: where the run got that far
            marks = [("study's iterations", study_iterations)]
            if run.batch_size != study_batch:
                marks.append(("study's frames", study_frames // run.batch_size))
            marks.sort(key=lambda mark: mark[1])
            points = [_point(run, name, iteration) for name, iteration in marks if iteration < run.iterations]
            missed = [name.removeprefix("study's ") for name, iteration in marks if iteration > run.iterations]
            end = "end" + (f", short of the study's {' and '.join(missed)}" if missed else "")
            points.append(_point(run, end, run.iterations))
            rendered.append({"label": run.label, "batch_size": run.batch_size, "points": points, "first": number == 0})
        groups.append(
            {
                "label": f"σ = {sigma:g}",
                "runs": rendered,
                "study": {
                    "batch_size": study_batch,
                    "iterations": f"{study_iterations:,}",
                    "frames": f"{study_frames:,}",
                },
                "published": [_score(value_at(published.get(metric, {}), sigma)) for metric in RECOVERY_METRICS],
            }
        )
    return groups


def matched_budget_part(
    runs: Sequence[TrainingRun],
    study: Mapping[float, Mapping[str, Any]],
    published: Mapping[str, Mapping[float, float]],
) -> str:
    """``chapters/_generated/matched-budget.qmd``."""
    from flygnn.report.template import render

    return render("matched-budget.qmd.j2", groups=budget_groups(runs, study, published))


def archived_runs(layout) -> list[TrainingRun]:
    """The archived runs under ``data/records/`` (labelled "archived: <folder>"), readable ones only."""
    records = layout.root / RECORDS_FOLDER
    folders = sorted(p for p in records.iterdir() if p.is_dir()) if records.is_dir() else []
    runs = [TrainingRun.from_folder(folder, f"archived: {folder.name}") for folder in folders]
    return [run for run in runs if run is not None]


def project_matched_budget_part(layout, conditions, published) -> str:
    """:func:`matched_budget_part` for a project: the conditions' bundles and the archived records."""
    from flygnn.report.study import study_schedule

    runs = [TrainingRun.from_folder(layout.bundle_dir(c.name), f"this report ({c.name})") for c in conditions]
    runs.extend(archived_runs(layout))
    study = {c.sigma: schedule for c in conditions if (schedule := study_schedule(c.sigma)) is not None}
    values = {row.metric: row.published for row in published.rows}
    return matched_budget_part([run for run in runs if run is not None], study, values)
