"""The noise sweep: ``#fig-sigma-sweep``, every metric of the study's table against σ.

The sweep's runs (recipe ``sweep`` in ``src/flygnn/presets/recipes.yaml``) keep one
configuration along σ, so that what changes between two points is the noise and nothing
else; they are their own record (``data/replicates/*.csv``), never columns of the σ-grids.
Python selects and groups the records; the template ``templates/sweep.qmd.j2`` words them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flygnn.metric_names import UPSTREAM_METRICS
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


def sweep_part(
    rows: Sequence[Mapping[str, Any]],
    figure: str | None,
    planned: int,
    configuration: str,
    recipe: str = SWEEP_RECIPE,
) -> str:
    """``chapters/_generated/sweep.qmd``: the figure (``figure``: its path) and what it rests on, or
    a sentence saying that no sweep run is recorded yet (``planned``: how many the plan lists)."""
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
    )
