"""Why a committed bundle stays short of the study: ``chapters/_generated/shortfalls.qmd``.

For every metric and noise level where a committed bundle falls short of the published value
(the verdict of ``#tbl-key-findings``), the evidence this project has on what would close the
gap, each piece with its number:

- more of the same training: how far the bundle's own score moved over its last
  :data:`PLATEAU_WINDOW` iterations, and how many more iterations that pace would need;
- the study's schedule: where the archived runs at that σ (``data/records/``) ended;
- another seed: the range of the replicate runs of the fast recipe;
- another stimulus, another configuration: the replicate runs on the procedural mix and with
  another σ's configuration.

Which of them reached the published value decides the closing sentence: keep training with
that, or the gap stays and the book says so.

The other side, ``chapters/_generated/excesses.qmd``: every value where a committed bundle
*exceeds* the study by more than :data:`EXCESS_FLAG` (V_rest R² at σ > 0), with the tests of
the explanations the book offers: training length (the bundle's score at the study's number
of iterations, and where it first passed the published value), luck (the replicate runs'
spread) and the stimulus (the runs on the procedural mix); the scorer is tested once for all
in ``#sec-scorer-check``. Python gathers the numbers, the templates
``templates/shortfalls.qmd.j2`` and ``templates/excesses.qmd.j2`` word them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flygnn.analysis.replicates import is_replicate_of, spread
from flygnn.conditions import Condition
from flygnn.metric_format import format_value
from flygnn.report.budget import TrainingRun
from flygnn.report.findings import Reader
from flygnn.report.key_findings import SHORT, verdict
from flygnn.report.replicates import REPLICATE_RECIPE, score_text, spread_text
from flygnn.report.template import render
from flygnn.train.history import scored_rows, scores_at

# how far back the bundle's own history is read for "more of the same training"
PLATEAU_WINDOW = 30_000
# an excess over the published value this large is flagged and its explanations tested
# (ten times the key findings' "matches" tolerance)
EXCESS_FLAG = 0.05


@dataclass(frozen=True)
class Evidence:
    """One way of closing a gap and what it reached: ``text`` (the sentence's body, with numbers),
    ``reaches`` (whether its best value matches or beats the published one)."""

    what: str
    text: str
    reaches: bool


@dataclass(frozen=True)
class Shortfall:
    label: str  # the metric, as the summary table names it
    sigma: str  # "σ = 0.05"
    ours: str
    published: str
    evidence: tuple[Evidence, ...]

    @property
    def reached_by(self) -> list[str]:
        return [item.what for item in self.evidence if item.reaches]


def _scored(history: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The scored rows of a training history that hold a finite value of ``metric``."""
    return [row for row in scored_rows(history) if math.isfinite(float(row.get(metric, math.nan)))]


def _reaches(metric: str, value: float, published: float) -> bool:
    return verdict(metric, value, published) != SHORT


def plateau(metric: str, run: TrainingRun, published: float, window: int = PLATEAU_WINDOW) -> Evidence | None:
    """How the bundle's own score moved over its last ``window`` iterations (None without a
    scored history that long), and the iterations that pace would need to reach ``published``."""
    rows = _scored(run.history, metric)
    if not rows:
        return None
    end = rows[-1]
    start = scores_at(rows, int(end["iteration"]) - window)
    if start is None:
        return None
    first, last = float(start[metric]), float(end[metric])
    steps = int(end["iteration"]) - int(start["iteration"])
    text = (
        f"over its last {steps:,} iterations ({int(start['iteration']):,} to {int(end['iteration']):,}) the "
        f"committed bundle's score moved {last - first:+.4f} ({first:.4f} to {last:.4f})"
    )
    gap = published - last
    if last > first and gap > 0 and not metric.endswith("slope"):
        needed = float(f"{gap / (last - first) * steps:.2g}")  # two significant figures: an extrapolation
        text += f"; at that pace the remaining {gap:.4f} would take about {needed:,.0f} more iterations"
    elif last <= first:
        text += ": no progress to extrapolate"
    return Evidence("more of the same training", text, _reaches(metric, last, published))


def archived(metric: str, runs: Sequence[TrainingRun], published: float) -> Evidence | None:
    """Where the archived runs at this σ (the study's schedule, another preset) ended."""
    ends = []
    for run in runs:
        rows = _scored(run.history, metric)
        if rows:
            ends.append((run, int(rows[-1]["iteration"]), float(rows[-1][metric])))
    if not ends:
        return None
    parts = [
        f"{run.label.removeprefix('archived: ')} (B = {run.batch_size}, {iteration:,} iterations) ended at {value:.4f}"
        for run, iteration, value in ends
    ]
    return Evidence(
        "another schedule",
        "the archived run" + ("s " if len(parts) > 1 else " ") + "; ".join(parts),
        any(_reaches(metric, value, published) for _, _, value in ends),
    )


def _runs_evidence(what: str, intro: str, metric: str, rows: Sequence[Mapping[str, Any]], published: float):
    values = [float(row[metric]) for row in rows if math.isfinite(float(row[metric]))]
    if not values:
        return None
    reached = spread_text(spread(values)) if len(values) > 1 else score_text(values[0])
    return Evidence(
        what,
        f"{intro} ({len(values)} run{'s' if len(values) != 1 else ''}) reached {reached}",
        any(_reaches(metric, value, published) for value in values),
    )


def replicate_evidence(
    metric: str, sigma: float, rows: Sequence[Mapping[str, Any]], published: float, recipe: str = REPLICATE_RECIPE
) -> list[Evidence]:
    """The replicate runs at ``sigma``: other seeds, the other stimulus, another configuration."""
    at_sigma = [row for row in rows if math.isclose(float(row["sigma"]), sigma, abs_tol=1e-9)]
    found = [
        _runs_evidence(
            "another seed",
            f"the `{recipe}` recipe's replicate runs with other training seeds",
            metric,
            [row for row in at_sigma if is_replicate_of(row, recipe)],
            published,
        ),
        _runs_evidence(
            "another stimulus",
            "the same recipe on the procedural mix of flashes, gratings and edges",
            metric,
            [row for row in at_sigma if is_replicate_of(row, recipe, stimulus="mixed")],
            published,
        ),
    ]
    others = sorted(
        {
            float(row["configuration"])
            for row in at_sigma
            if row["recipe"] == recipe and not math.isclose(float(row["configuration"]), sigma, abs_tol=1e-9)
        }
    )
    for configuration in others:
        found.append(
            _runs_evidence(
                "another configuration",
                f"the same recipe with σ = {configuration:g}'s configuration",
                metric,
                [
                    row
                    for row in at_sigma
                    if row["recipe"] == recipe
                    and row["stimulus"] == "natural"
                    and math.isclose(float(row["configuration"]), configuration, abs_tol=1e-9)
                ],
                published,
            )
        )
    return [item for item in found if item is not None]


def find_shortfalls(
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: Mapping[str, Mapping[float, float]],
    labels: Mapping[str, str],
    bundles: Mapping[str, TrainingRun | None],
    archived_runs: Sequence[TrainingRun],
    replicate_rows: Sequence[Mapping[str, Any]],
) -> list[Shortfall]:
    """Every (condition, metric) whose committed value falls short of the published one, with the
    evidence on closing it. ``metrics``: condition → its metrics.json; ``published``: metric → σ →
    value; ``bundles``: condition → its bundle's training record."""
    found = []
    for condition in conditions:
        reader = Reader(metrics.get(condition.name), condition)
        for metric, by_sigma in published.items():
            target = next((v for s, v in by_sigma.items() if condition.matches(s)), None)
            ours = reader.value(metric)
            if target is None or ours is None or verdict(metric, ours, target) != SHORT:
                continue
            evidence: list[Evidence | None] = []
            bundle = bundles.get(condition.name)
            if bundle is not None:
                evidence.append(plateau(metric, bundle, target))
            at_sigma = [run for run in archived_runs if condition.matches(run.sigma)]
            evidence.append(archived(metric, at_sigma, target))
            evidence.extend(replicate_evidence(metric, condition.sigma, replicate_rows, target))
            found.append(
                Shortfall(
                    label=labels.get(metric, metric),
                    sigma=f"σ = {condition.sigma:g}",
                    ours=format_value(float(ours)),
                    published=format_value(target),
                    evidence=tuple(item for item in evidence if item is not None),
                )
            )
    return found


@dataclass(frozen=True)
class Excess:
    """A value where ours exceeds the study by more than :data:`EXCESS_FLAG`, and the tests of its
    explanations: ``budget_iteration`` / ``at_budget`` (ours at the study's number of iterations,
    or at the end of our history when it stopped before that; None without a history),
    ``first_passed`` (the first scored iteration at or above the published value), ``seeds`` /
    ``mixed`` (the replicate runs' values on the natural movies / the procedural mix)."""

    label: str
    sigma: str
    ours: float
    published: float
    study_iterations: int | None
    budget_iteration: int | None
    at_budget: float | None
    first_passed: int | None
    seeds: tuple[float, ...]
    mixed: tuple[float, ...]
    stopped_early: bool = False  # our history ends before the study's number of iterations

    @property
    def training_ruled_out(self) -> bool:
        """Ours already exceeded the published value by the study's own number of iterations."""
        return self.at_budget is not None and self.at_budget - self.published > EXCESS_FLAG

    def values(self, which: str) -> str:
        values = getattr(self, which)
        return spread_text(spread(values)) if len(values) > 1 else score_text(values[0])

    @property
    def seeds_reading(self) -> str:
        above = [v for v in self.seeds if v >= self.published]
        if not self.seeds or len(self.seeds) < 2:
            return ""
        if len(above) == len(self.seeds):
            return "all above the published value: the excess holds whatever the seed"
        if not above:
            return "all below the published value: these runs do not show the excess"
        return "some above the published value and some below: one run can land on either side"

    @property
    def mixed_reading(self) -> str:
        if not self.mixed:
            return ""
        best = max(self.mixed)
        if best - self.published > EXCESS_FLAG:
            where = f"the best of them, {score_text(best)}," if len(self.mixed) > 1 else "it"
            return f"; {where} also lies above the published value, so the excess does not need our natural movies"
        if best < self.published:
            return ", below the published value: the excess does not show on this stimulus"
        return ", near the published value"


def find_excesses(
    conditions: Sequence[Condition],
    metrics: Mapping[str, Mapping[str, Any] | None],
    published: Mapping[str, Mapping[float, float]],
    labels: Mapping[str, str],
    bundles: Mapping[str, TrainingRun | None],
    study_iterations: Mapping[float, int],
    replicate_rows: Sequence[Mapping[str, Any]],
    recipe: str = REPLICATE_RECIPE,
) -> list[Excess]:
    """Every R² where a committed bundle exceeds the published value by more than :data:`EXCESS_FLAG`,
    largest first. ``study_iterations``: σ → the study's number of iterations there."""
    found = []
    for condition in conditions:
        reader = Reader(metrics.get(condition.name), condition)
        at_sigma = [r for r in replicate_rows if math.isclose(float(r["sigma"]), condition.sigma, abs_tol=1e-9)]
        bundle = bundles.get(condition.name)
        iterations = next((n for s, n in study_iterations.items() if condition.matches(s)), None)
        for metric, by_sigma in published.items():
            target = next((v for s, v in by_sigma.items() if condition.matches(s)), None)
            ours = reader.value(metric)
            if target is None or ours is None or metric.endswith("slope") or ours - target <= EXCESS_FLAG:
                continue
            history = _scored(bundle.history if bundle else [], metric)
            at = scores_at(history, iterations) if iterations is not None else (history[-1] if history else None)
            passed = next((int(r["iteration"]) for r in history if float(r[metric]) >= target), None)

            def runs(stimulus: str, metric: str = metric, at_sigma: list = at_sigma) -> tuple[float, ...]:
                return tuple(
                    float(r[metric])
                    for r in at_sigma
                    if is_replicate_of(r, recipe, stimulus=stimulus) and math.isfinite(float(r[metric]))
                )

            found.append(
                Excess(
                    label=labels.get(metric, metric),
                    sigma=f"σ = {condition.sigma:g}",
                    ours=float(ours),
                    published=float(target),
                    study_iterations=iterations,
                    budget_iteration=int(at["iteration"]) if at is not None else None,
                    at_budget=float(at[metric]) if at is not None else None,
                    first_passed=passed,
                    seeds=runs("natural"),
                    mixed=runs("mixed"),
                    stopped_early=bool(history)
                    and iterations is not None
                    and int(history[-1]["iteration"]) < iterations,
                )
            )
    return sorted(found, key=lambda e: e.ours - e.published, reverse=True)


def excesses_part(excesses: Sequence[Excess], recipe: str = REPLICATE_RECIPE) -> str:
    """``chapters/_generated/excesses.qmd``."""
    return render("excesses.qmd.j2", excesses=excesses, flag=f"{EXCESS_FLAG:g}", recipe=recipe)


def shortfalls_part(shortfalls: Sequence[Shortfall]) -> str:
    """``chapters/_generated/shortfalls.qmd``."""
    return render("shortfalls.qmd.j2", shortfalls=shortfalls, window=f"{PLATEAU_WINDOW:,}", score=score_text)


def _project_inputs(layout, conditions, published):
    """What both project parts read: the bundles' training records, the published values
    (metric → σ → value), the metric labels and the replicate records."""
    from flygnn.replicate_runs import REPLICATES_FOLDER, read_replicates

    bundles = {c.name: TrainingRun.from_folder(layout.bundle_dir(c.name), c.name) for c in conditions}
    values = {row.metric: row.published for row in published.rows if row.published}
    labels = published.labels
    return bundles, values, labels, read_replicates(layout.project_root / REPLICATES_FOLDER)


def project_shortfalls_part(layout, conditions, metrics, published) -> str:
    """:func:`shortfalls_part` for a project: its bundles, archived records and replicate records."""
    from flygnn.report.budget import archived_runs

    bundles, values, labels, rows = _project_inputs(layout, conditions, published)
    found = find_shortfalls(conditions, metrics, values, labels, bundles, archived_runs(layout), rows)
    return shortfalls_part(found)


def project_excesses_part(layout, conditions, metrics, published) -> str:
    """:func:`excesses_part` for a project: its bundles' histories and replicate records."""
    from flygnn.report.study import study_schedule

    bundles, values, labels, rows = _project_inputs(layout, conditions, published)
    study = {c.sigma: int(schedule["iterations"]) for c in conditions if (schedule := study_schedule(c.sigma))}
    return excesses_part(find_excesses(conditions, metrics, values, labels, bundles, study, rows))
