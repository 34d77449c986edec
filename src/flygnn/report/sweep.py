"""The noise sweep: ``#fig-sigma-sweep``, every metric of the study's table against σ.

The sweep's runs (recipe ``sweep`` in ``src/flygnn/presets/recipes.yaml``) keep one
configuration along σ, so that what changes between two points is the noise and nothing
else; they are their own record (``data/replicates/*.csv``), never columns of the σ-grids.
Python selects and groups the records and compares each metric's change along σ with the
widest run-to-run range measured (:func:`sweep_findings`); the template
``templates/sweep.qmd.j2`` words them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flygnn.analysis.replicates import Spread, spread
from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.replicates import REPLICATE_RECIPE, spreads_by_sigma
from flygnn.report.template import render

SWEEP_RECIPE = "sweep"
SWEEP_FIGURE = "sigma-sweep"


def sweep_runs(rows: Sequence[Mapping[str, Any]], recipe: str = SWEEP_RECIPE) -> dict[float, list[Mapping[str, Any]]]:
    """σ → the sweep's runs on the natural stimulus at that σ, in σ order."""
    by_sigma: dict[float, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["recipe"] == recipe and row["stimulus"] == "natural":
            by_sigma.setdefault(float(row["sigma"]), []).append(row)
    return dict(sorted(by_sigma.items()))


def sweep_points(rows: Sequence[Mapping[str, Any]], recipe: str = SWEEP_RECIPE) -> dict[float, dict[str, list[float]]]:
    """σ → metric → the values of the sweep's runs (what ``#fig-sigma-sweep`` draws)."""
    return {
        sigma: {metric: [float(run[metric]) for run in runs] for metric in UPSTREAM_METRICS}
        for sigma, runs in sweep_runs(rows, recipe).items()
    }


@dataclass(frozen=True)
class Yardstick:
    """The widest run-to-run range (max − min over seeds) of one metric: where it was measured
    (``recipe`` at ``sigma``, from ``n`` runs)."""

    width: float
    recipe: str
    sigma: float
    n: int


def widest_range(groups: Mapping[float, Spread], recipe: str) -> Yardstick | None:
    """The widest range among the σ with two runs or more (None: no such σ)."""
    ranged = [(s.high - s.low, sigma, s.n) for sigma, s in groups.items() if s.n >= 2]
    if not ranged:
        return None
    width, sigma, n = max(ranged)
    return Yardstick(width, recipe, sigma, n)


def _shape(sigmas: Sequence[float], means: Sequence[float], tolerance: float = 0.0) -> str:
    """How the means go along σ, steps no larger than ``tolerance`` (the seed range) counted as
    flat: "rises with σ", "rises to σ = 0.2, then levels", "falls …", "peaks at σ = 0.2",
    "dips at …", or "varies along σ" (no step beyond the tolerance)."""
    steps = [b - a for a, b in zip(means, means[1:], strict=False)]
    moves = [(i, step) for i, step in enumerate(steps) if abs(step) > tolerance]
    if not moves:
        return "varies along σ"
    if all(step > 0 for _, step in moves) or all(step < 0 for _, step in moves):
        verb = "rises" if moves[0][1] > 0 else "falls"
        last = moves[-1][0] + 1  # the σ the last move reaches
        return f"{verb} with σ" if last == len(steps) else f"{verb} to σ = {sigmas[last]:g}, then levels"
    inner = range(1, len(means) - 1)
    top, bottom = max(inner, key=means.__getitem__), min(inner, key=means.__getitem__)
    if means[top] > max(means[0], means[-1]):
        return f"peaks at σ = {sigmas[top]:g}"
    if means[bottom] < min(means[0], means[-1]):
        return f"dips at σ = {sigmas[bottom]:g}"
    return "goes up and down along σ"


def _telling(means: Sequence[float]) -> list[int]:
    """The indices of the means a sentence needs: the first, the last, and the highest and lowest
    between them, in σ order."""
    last = len(means) - 1
    inner = range(1, last)
    picks = {0, last}
    if inner:
        picks |= {max(inner, key=means.__getitem__), min(inner, key=means.__getitem__)}
    return sorted(picks)


def sweep_findings(
    rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str], recipe: str = SWEEP_RECIPE
) -> list[dict[str, Any]]:
    """Per metric, what the sweep's runs say along σ (empty with fewer than two σ).

    Each entry: ``label``; ``shape`` (:func:`_shape` of the means, steps within the yardstick
    counted as flat); ``scores`` and ``at`` (the means to three decimals, "0.808, 0.987", and
    their σ, "0.01, 0.2": the first and the last σ and the extremes between them); ``change``
    (the largest minus the smallest mean); ``yardstick`` (:class:`Yardstick`: the widest range of
    the sweep's own seeds where a σ has two runs, else of the replicate recipe's seeds at its σ,
    else None) and ``beyond`` (whether the change exceeds it; None without one). A change beyond
    the widest range seen at any σ is more than seed luck; within it, these runs cannot tell it
    from seed luck.
    """
    runs = sweep_runs(rows, recipe)
    if len(runs) < 2:
        return []
    replicates = spreads_by_sigma(rows, REPLICATE_RECIPE)
    findings = []
    for metric in UPSTREAM_METRICS:
        groups = {sigma: spread(float(run[metric]) for run in group) for sigma, group in runs.items()}
        groups = {sigma: s for sigma, s in groups.items() if s.n}
        if len(groups) < 2:
            continue
        sigmas, means = list(groups), [s.mean for s in groups.values()]
        yardstick = widest_range(groups, recipe) or widest_range(
            {sigma: by_metric[metric] for sigma, by_metric in replicates.items()}, REPLICATE_RECIPE
        )
        change = max(means) - min(means)
        shown = _telling(means)
        findings.append(
            {
                "label": labels.get(metric, metric),
                "shape": _shape(sigmas, means, yardstick.width if yardstick else 0.0),
                "scores": ", ".join(f"{means[i]:.3f}" for i in shown),
                "at": ", ".join(f"{sigmas[i]:g}" for i in shown),
                "change": f"{change:.2g}",
                "yardstick": yardstick,
                "beyond": None if yardstick is None else change > yardstick.width,
            }
        )
    return findings


def sweep_part(
    rows: Sequence[Mapping[str, Any]],
    figure: str | None,
    planned: int,
    configuration: str,
    labels: Mapping[str, str] | None = None,
    recipe: str = SWEEP_RECIPE,
) -> str:
    """``chapters/_generated/sweep.qmd``: the figure (``figure``: its path) and what it rests on, or
    a sentence saying that no sweep run is recorded yet (``planned``: how many the plan lists);
    below the figure, :func:`sweep_findings` (``labels``: metric → its name in the book)."""
    runs = sweep_runs(rows, recipe)
    return render(
        "sweep.qmd.j2",
        figure=figure if runs else None,
        n_runs=sum(len(r) for r in runs.values()),
        sigmas=[f"{sigma:g}" for sigma in runs],
        seeds=sorted({int(run["train_seed"]) for group in runs.values() for run in group}),
        planned=planned,
        configuration=configuration,
        recipe=recipe,
        findings=sweep_findings(rows, labels or {}, recipe),
        spread_source=(
            "one run per σ so far, so the seed range is the widest of the `fast` recipe's at one σ"
            if all(len(group) == 1 for group in runs.values())
            else "the seed range: the widest of the sweep's own seeds at one σ"
        ),
    )
