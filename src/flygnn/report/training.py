"""What the book says about how each bundle was trained, read from the bundles.

Per condition: the ``training`` record of ``bundle.json`` (preset, configuration,
iterations, wall time, training frames), the training history
(``training-history.csv``, read with :func:`flygnn.train.history.read_history`)
and the bundle's ``training-loss.png``. Nothing here fails on a
bundle that lacks a file: the record says what is missing and why, and the book
prints that instead of a curve.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flygnn.bundle import HISTORY_FILE, LOSS_FIGURE, META_FILE
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout

# the share of the logged training at the end over which "still falling" is judged
TREND_FRACTION = 0.2
# iterations at the end of training over which the change of the recovery scores is reported
RECOVERY_WINDOW = 30_000


@dataclass(frozen=True)
class LossTrend:
    """Mean loss over the last ``TREND_FRACTION`` of the logged iterations against the
    same number of rows before it: ``change`` = last/before − 1 (negative: still falling).

    After a learning-rate change both windows lie after it (shorter if need be): a lower
    rate lowers the loss at once (less gradient noise), which is not training progress."""

    before: float
    last: float
    first_iteration: int  # first iteration of the "before" window
    split_iteration: int  # first iteration of the "last" window
    last_iteration: int
    rate_since: int | None = None  # the iteration of the last learning-rate change, when the windows follow one

    @property
    def change(self) -> float:
        return self.last / self.before - 1.0


@dataclass(frozen=True)
class RecoveryTrend:
    """The recovery scores at the last scored iteration against those ``window`` iterations
    before it (or at the first scored row, when the history is shorter: ``whole``)."""

    first_iteration: int
    last_iteration: int
    before: dict[str, float]  # metric → score at first_iteration (finite scores only)
    last: dict[str, float]  # metric → score at last_iteration
    whole: bool  # the history is shorter than the window: first_iteration is its first score

    def change(self, metric: str) -> float:
        return self.last[metric] - self.before[metric]


@dataclass(frozen=True)
class TrainingRecord:
    """One condition's training as the book reports it."""

    condition: Condition
    training: dict[str, Any] = field(default_factory=dict)  # bundle.json "training" ({} when unreadable)
    history: list[dict[str, Any]] = field(default_factory=list)  # rows of the history ([] when none)
    history_file: str | None = None  # the file the rows came from, relative to the project
    loss_figure: Path | None = None  # the bundle's training-loss.png, when it has one
    problem: str | None = None  # why bundle.json could not be read

    @property
    def scored(self) -> list[dict[str, Any]]:
        """History rows with recovery scores (upstream's rules), in order."""
        from flygnn.train.history import scored_rows

        return scored_rows(self.history)

    @property
    def no_curves_reason(self) -> str | None:
        """Why this condition has no recovery curves (None when it has them)."""
        if self.scored:
            return None
        if self.history_file is None:
            return f"its bundle has no training history ({HISTORY_FILE})"
        return f"{self.history_file} has no row with recovery scores"

    def setting(self, name: str) -> Any:
        """A training setting: the record's own key, else its ``config``'s."""
        if name in self.training:
            return self.training[name]
        return (self.training.get("config") or {}).get(name)

    def rate_changes(self) -> list[tuple[int, float]]:
        """``(iteration, lr factor)`` of every learning-rate change between legs."""
        from flygnn.train.history import rate_changes

        legs = self.training.get("legs")
        return rate_changes([leg for leg in legs if isinstance(leg, dict)]) if isinstance(legs, list) else []

    def loss_trend(self) -> LossTrend | None:
        changes = self.rate_changes()
        return loss_trend(self.history, since=changes[-1][0] if changes else None)

    def recovery_trend(self) -> RecoveryTrend | None:
        return recovery_trend(self.history)


def loss_trend(
    rows: Sequence[dict[str, Any]], fraction: float = TREND_FRACTION, since: int | None = None
) -> LossTrend | None:
    """The loss at the end of training against just before it (see :class:`LossTrend`);
    ``since``: the iteration of the last learning-rate change (both windows after it).
    None with fewer than 4 logged losses (after ``since``)."""
    points = [(int(r["iteration"]), float(r["loss"])) for r in rows if math.isfinite(float(r.get("loss", math.nan)))]
    window = max(2, round(len(points) * fraction))
    if since is not None:
        # a row logged at the change averages iterations before it: only later rows count
        points = [point for point in points if point[0] > since]
        window = min(window, len(points) // 2)
    if window < 2 or len(points) < 2 * window:
        return None
    before, last = points[-2 * window : -window], points[-window:]
    mean_before = sum(v for _, v in before) / len(before)
    mean_last = sum(v for _, v in last) / len(last)
    if mean_before <= 0:
        return None
    return LossTrend(mean_before, mean_last, before[0][0], last[0][0], last[-1][0], since)


def recovery_trend(rows: Sequence[dict[str, Any]], window: int = RECOVERY_WINDOW) -> RecoveryTrend | None:
    """How the recovery scores changed over the last ``window`` iterations of the history:
    the last scored row against the last one at least ``window`` iterations before it (the
    first scored row when none is). None with fewer than two scored rows."""
    from flygnn.metric_names import RECOVERY_METRICS
    from flygnn.train.history import scored_rows

    scored = scored_rows(rows)
    if len(scored) < 2:
        return None
    end = scored[-1]
    earlier = [row for row in scored[:-1] if row["iteration"] <= end["iteration"] - window]
    start = earlier[-1] if earlier else scored[0]

    def finite(row: dict[str, Any]) -> dict[str, float]:
        return {m: float(row[m]) for m in RECOVERY_METRICS if m in row and math.isfinite(float(row[m]))}

    before, last = finite(start), finite(end)
    common = [m for m in RECOVERY_METRICS if m in before and m in last]
    if not common:
        return None
    return RecoveryTrend(
        int(start["iteration"]),
        int(end["iteration"]),
        {m: before[m] for m in common},
        {m: last[m] for m in common},
        whole=not earlier,
    )


def load_training(layout: ProjectLayout, conditions: Sequence[Condition]) -> list[TrainingRecord]:
    """The training record of every condition's bundle; never raises on a missing or bad file."""
    from flygnn.train.history import read_history

    records = []
    for condition in conditions:
        folder = layout.bundle_dir(condition.name)
        training: dict[str, Any] = {}
        problem: str | None = None
        try:
            document = json.loads((folder / META_FILE).read_text())
            training = document.get("training") or {}
            if not isinstance(training, dict):
                training, problem = {}, f"{META_FILE} has no readable 'training' record"
        except (OSError, json.JSONDecodeError, AttributeError) as exc:
            problem = f"{META_FILE} could not be read ({exc.__class__.__name__})"
        history, history_file = [], None
        for path in [folder / HISTORY_FILE]:
            if path.is_file():
                history_file = layout.relative(path)
                try:
                    history = read_history(path)
                except FlygnnError as exc:
                    problem = f"{history_file} is unreadable: {exc}"
                    history = []
                break
        figure = folder / LOSS_FIGURE
        records.append(
            TrainingRecord(condition, training, history, history_file, figure if figure.is_file() else None, problem)
        )
    return records
