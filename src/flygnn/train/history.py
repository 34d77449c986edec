"""The training history: one row per logged window, appended across resumed legs.

``training-history.csv`` beside a bundle: iteration, wall time, the mean of every loss
term over the window, iterations/s, and — on the rows where the run was scored — the
recovery metrics by upstream's rules (:data:`flygnn.metric_names.RECOVERY_METRICS`,
empty on the other rows).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flygnn.atomic import write_text
from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.train.loss import LOSS_COMPONENTS

COLUMNS = ("iteration", "wall_time_s", *LOSS_COMPONENTS, "loss", "iterations_per_s", *RECOVERY_METRICS)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    number = float(value)
    if not math.isfinite(number):
        return "nan"
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else f"{number:.8g}"


def history_text(rows: Sequence[dict[str, Any]]) -> str:
    lines = [",".join(COLUMNS)]
    lines += [",".join(_cell(row.get(column)) for column in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def write_history(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    write_text(path, history_text(rows))
    return Path(path)


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a history CSV (missing columns and empty cells are absent keys); [] when there is none."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as handle:
        for number, record in enumerate(csv.DictReader(handle), start=2):
            row: dict[str, Any] = {}
            for key, text in record.items():
                if key is None or text in (None, ""):
                    continue
                try:
                    row[key] = float(text)
                except ValueError as exc:
                    raise FlygnnError(f"{path}, line {number}: {key} = {text!r} is not a number.") from exc
            if "iteration" in row:
                row["iteration"] = int(row["iteration"])
                rows.append(row)
    return rows


def is_scored(row: dict[str, Any]) -> bool:
    """Whether a history row carries recovery scores."""
    return any(key in row for key in RECOVERY_METRICS)


def scored_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that carry recovery scores."""
    return [row for row in rows if is_scored(row)]


def scores_at(rows: Sequence[dict[str, Any]], iteration: int) -> dict[str, Any] | None:
    """The last scored row at or before ``iteration`` (None when no row was scored by then):
    what the run had reached at that budget."""
    before = [row for row in scored_rows(rows) if int(row["iteration"]) <= iteration]
    return max(before, key=lambda row: int(row["iteration"])) if before else None


def rate_changes(legs: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    """``(iteration, lr factor)`` where a leg's learning-rate factor differs from the leg before.

    ``legs`` as in ``bundle.json``'s ``training.legs``; a leg without ``lr_factor`` (legs of
    older bundles, or the first) ran at factor 1. The start of training is no change.
    """
    changes: list[tuple[int, float]] = []
    previous = 1.0
    for leg in legs:
        factor = float(leg.get("lr_factor", 1.0))
        start = int(leg.get("started_iteration", 0))
        if factor != previous and start > 0:
            changes.append((start, factor))
        previous = factor
    return changes
